package web

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

func TestStatus(t *testing.T) {
	e := newEnv(t)
	blocks := e.mine(3)
	var st statusJSON
	e.getJSON("/api/status", &st)
	tip := blocks[2]
	if st.Tip.Height != 3 || st.Tip.Hash != tip.Hash() || st.BestHeader.Hash != tip.Hash() {
		t.Errorf("tip %+v best %+v, want height 3 %s", st.Tip, st.BestHeader, tip.Hash().Short(12))
	}
	if work, ok := new(big.Int).SetString(st.Tip.TotalWork, 10); !ok || work.Sign() <= 0 {
		t.Errorf("total work %q", st.Tip.TotalWork)
	}
	if !st.Sync.Synced || st.Sync.Progress != 1 || st.Peers != 0 || st.Mempool != 0 || st.Mining || !st.Indexed {
		t.Errorf("status %+v", st)
	}
	if st.Miner != e.miner.Address().String() || st.Hashes == 0 || st.BlocksMined != 3 || st.NodeID != "test" {
		t.Errorf("miner %s hashes %d mined %d id %s", st.Miner, st.Hashes, st.BlocksMined, st.NodeID)
	}
	if st.ChainID != e.params.ChainID().String() || st.Network != "test" || st.TargetBlockTime != 1000 {
		t.Errorf("chain %s network %s target %d", st.ChainID, st.Network, st.TargetBlockTime)
	}
}

func TestHashRate(t *testing.T) {
	m := newRateMeter()
	t0 := time.Unix(1000, 0)
	if r := m.current(t0, 0); r != 0 {
		t.Errorf("rate without samples = %v", r)
	}
	m.sample(t0, 0)
	m.sample(t0.Add(time.Second), 500)
	if r := m.current(t0.Add(2*time.Second), 2000); r != 1000 {
		t.Errorf("rate = %v, want 1000 over the two seconds", r)
	}
	if r := m.current(t0.Add(time.Minute), 5000); r != 0 {
		t.Errorf("rate with only stale samples = %v, want 0", r)
	}
	for i := range rateBlocks + 10 {
		m.recordBlock(blockchain.Hash{byte(i), byte(i >> 8)}, float64(i))
	}
	if _, ok := m.atBlock(blockchain.Hash{0, 0}); ok || len(m.blocks) != rateBlocks {
		t.Errorf("kept %d block rates, want the last %d", len(m.blocks), rateBlocks)
	}
}

func TestBlocksPages(t *testing.T) {
	e := newEnv(t)
	e.mine(30)
	var page []blockJSON
	e.getJSON("/api/blocks", &page)
	if len(page) != 25 || page[0].Height != 30 || page[24].Height != 6 {
		t.Fatalf("first page: %d blocks from %d", len(page), page[0].Height)
	}
	for i, b := range page {
		if b.Height != uint64(30-i) || !b.InBestChain || b.Confirmations != uint64(i+1) || b.TxCount != 1 {
			t.Fatalf("block %d: %+v", i, b)
		}
	}
	page = nil
	e.getJSON("/api/blocks?start_height=5", &page)
	if len(page) != 6 || page[0].Height != 5 || page[5].Height != 0 || page[5].Miner != "" {
		t.Fatalf("last page: %+v", page)
	}
	e.getJSON("/api/blocks?start_height=99999", &page)
	if page[0].Height != 30 {
		t.Errorf("a start above the tip starts at the tip, got %d", page[0].Height)
	}
	want(t, "bad start", e.get("/api/blocks?start_height=-1"), 400, codeBadRequest)
}

func TestBlock(t *testing.T) {
	e := newEnv(t)
	// 30 payments in one block: its transactions take two pages.
	for i := range 30 {
		e.submit(e.pay(e.alice, e.bob.Address(), uint64(i+1), 2))
	}
	b := e.mine(1)[0]
	e.mine(1)
	var got blockJSON
	e.getJSON("/api/block/"+b.Hash().String(), &got)
	if got.ID != b.Hash() || got.Height != 1 || got.TxCount != 31 || got.Confirmations != 2 || got.NextBlockHash == nil ||
		got.Fees != 60 || got.Reward != e.params.BlockReward+60 || got.Miner != e.miner.Address().String() ||
		got.ZeroBits != 8 || got.Difficulty != 256 || got.Size != b.Size() || got.PreviousBlockHash != b.Header.PrevHash {
		t.Errorf("block: %+v", got)
	}
	var byHeight blockJSON
	e.getJSON("/api/block-height/1", &byHeight)
	if byHeight.ID != b.Hash() {
		t.Errorf("block-height/1 = %s", byHeight.ID)
	}
	var txs []txJSON
	e.getJSON("/api/block/"+b.Hash().String()+"/txs", &txs)
	if len(txs) != 25 || !txs[0].Coinbase || txs[1].Amount != 1 || *txs[24].Status.Index != 24 || txs[3].Status.Confirmations != 2 {
		t.Fatalf("first page of txs: %d, %+v", len(txs), txs[0])
	}
	e.getJSON("/api/block/"+b.Hash().String()+"/txs/25", &txs)
	if len(txs) != 6 || txs[5].Amount != 30 || *txs[5].Status.Index != 30 {
		t.Fatalf("second page of txs: %d", len(txs))
	}
	unknown := blockchain.Hash{1}.String()
	want(t, "unknown block", e.get("/api/block/"+unknown), 404, codeNotFound)
	want(t, "unknown block's txs", e.get("/api/block/"+unknown+"/txs"), 404, codeNotFound)
	want(t, "txs past the end", e.get("/api/block/"+b.Hash().String()+"/txs/31"), 404, codeNotFound)
	want(t, "bad start", e.get("/api/block/"+b.Hash().String()+"/txs/x"), 400, codeBadRequest)
	want(t, "bad hash", e.get("/api/block/xyz"), 400, codeInvalidHash)
	want(t, "height above the tip", e.get("/api/block-height/3"), 404, codeNotFound)
	want(t, "bad height", e.get("/api/block-height/one"), 400, codeBadRequest)
	want(t, "unknown endpoint", e.get("/api/nothing"), 404, codeNotFound)
}

func TestTx(t *testing.T) {
	e := newEnv(t)
	tx := e.pay(e.alice, e.bob.Address(), 5*blockchain.Coin, 10)
	e.submit(tx)
	var got txJSON
	e.getJSON("/api/tx/"+tx.ID().String(), &got)
	if got.TxID != tx.ID() || got.Status == nil || got.Status.Confirmed || !got.Status.InMempool || got.MerkleProof != nil ||
		got.AmountCoins != "5" || got.FromAddress != e.alice.Address().String() || got.To != e.bob.Address().String() {
		t.Fatalf("pending tx: %+v", got)
	}
	raw, _ := tx.MarshalBinary()
	if got.Hex != hex.EncodeToString(raw) {
		t.Errorf("hex %s", got.Hex)
	}
	// Confirmed among others, with a proof that checks.
	e.submit(e.pay(e.carol, e.bob.Address(), 1, 1), e.pay(e.bob, e.carol.Address(), 1, 1))
	b := e.mine(1)[0]
	e.mine(2)
	e.getJSON("/api/tx/"+tx.ID().String(), &got)
	st := got.Status
	if !st.Confirmed || st.InMempool || *st.BlockHash != b.Hash() || *st.BlockHeight != 1 || st.Confirmations != 3 || st.BlockTime != b.Header.Time {
		t.Fatalf("confirmed status: %+v", st)
	}
	p := got.MerkleProof
	if p == nil || p.MerkleRoot != b.Header.MerkleRoot || p.BlockHash != b.Hash() || p.Size != 4 || p.Leaf != tx.ID() {
		t.Fatalf("proof: %+v", p)
	}
	if !blockchain.VerifyMerkleProof(p.MerkleRoot, tx.ID(), blockchain.MerkleProof{Index: p.Index, Size: p.Size, Path: p.Path}) {
		t.Error("the proof does not verify")
	}
	// The coinbase alone in its block: an empty path, as [] not null.
	cb := b.Transactions[0].ID()
	r := e.get("/api/tx/" + e.mine(1)[0].Transactions[0].ID().String())
	if r.status != 200 || !strings.Contains(string(r.body), `"path":[]`) {
		t.Errorf("lone coinbase: %s", r.body)
	}
	got = txJSON{}
	e.getJSON("/api/tx/"+cb.String(), &got)
	if !got.Coinbase || got.From != "" || got.Signature != "" {
		t.Errorf("coinbase: %+v", got)
	}
	want(t, "unknown tx", e.get("/api/tx/"+blockchain.Hash{7}.String()), 404, codeNotFound)
	want(t, "bad id", e.get("/api/tx/123"), 400, codeInvalidHash)
}

func TestPostTx(t *testing.T) {
	e := newEnv(t)
	hexOf := func(tx blockchain.Transaction) string {
		raw, _ := tx.MarshalBinary()
		return hex.EncodeToString(raw)
	}
	chainID := e.params.ChainID()
	tx0 := e.alice.SignTransfer(chainID, e.bob.Address(), 100, 5, 0)
	tx1 := e.alice.SignTransfer(chainID, e.bob.Address(), 100, 5, 1)
	tx2 := e.alice.SignTransfer(chainID, e.bob.Address(), 100, 5, 2)
	// Three forms: hex, {"hex"}, fields.
	r := e.request("POST", "/api/tx", hexOf(tx0)+"\n", "")
	want(t, "hex body", r, 200, "")
	var got txJSON
	r.json(t, &got)
	if got.TxID != tx0.ID() || !got.Status.InMempool {
		t.Errorf("answer %+v", got)
	}
	want(t, "hex in JSON", e.request("POST", "/api/tx", map[string]string{"hex": hexOf(tx1)}, ""), 200, "")
	want(t, "JSON fields", e.request("POST", "/api/tx", tx2, ""), 200, "")
	if n := e.node.Mempool().Len(); n != 3 {
		t.Fatalf("mempool holds %d, want 3", n)
	}
	e.mine(1)

	bad := e.alice.SignTransfer(chainID, e.bob.Address(), 100, 5, 3)
	bad.Amount++ // the signature no longer covers it
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"a confirmed transaction", hexOf(tx0), 409, "ErrTxOnChain"},
		{"a used nonce", e.alice.SignTransfer(chainID, e.carol.Address(), 1, 5, 0), 409, "ErrNonceTooLow"},
		{"a nonce far ahead", e.alice.SignTransfer(chainID, e.carol.Address(), 1, 5, 500), 409, "ErrNonceTooHigh"},
		{"more than the balance", e.alice.SignTransfer(chainID, e.carol.Address(), 2*fund, 5, 3), 422, "ErrInsufficientFunds"},
		{"a bad signature", bad, 422, "ErrBadSignature"},
		{"no fee", e.alice.SignTransfer(chainID, e.carol.Address(), 1, 0, 3), 422, "ErrFeeTooLow"},
		{"another chain's", e.alice.SignTransfer(blockchain.Hash{9}, e.carol.Address(), 1, 5, 3), 422, "ErrBadSignature"},
		{"a coinbase", blockchain.NewCoinbase(e.carol.Address(), 1, 1), 422, "ErrBadCoinbase"},
		{"hex of the wrong length", "00ff", 400, "ErrMalformed"},
		{"not hex", "zz", 400, "ErrMalformed"},
		{"a wrong version", "02" + hexOf(tx2)[2:], 400, "ErrBadVersion"},
		{"empty", "", 400, codeBadRequest},
		{"malformed JSON", `{"hex": `, 400, codeBadRequest},
		{"an unknown field", `{"hex": "00", "extra": 1}`, 400, codeBadRequest},
		{"two values", `{"hex": "00"} {}`, 400, codeBadRequest},
		{"fields missing", `{"amount": 5}`, 400, codeBadRequest},
		{"a bad address", `{"from": "` + e.alice.PublicKey().String() + `", "to": "nk1qqq", "signature": "00"}`, 400, codeBadRequest},
	} {
		r := e.request("POST", "/api/tx", tc.body, "")
		want(t, tc.name, r, tc.status, tc.code)
	}
	// The pool's conflicts: the same transaction twice, another with its nonce.
	tx3 := e.alice.SignTransfer(chainID, e.bob.Address(), 1, 5, 3)
	want(t, "new", e.request("POST", "/api/tx", tx3, ""), 200, "")
	want(t, "again", e.request("POST", "/api/tx", tx3, ""), 409, "ErrKnownTx")
	want(t, "same nonce", e.request("POST", "/api/tx", e.alice.SignTransfer(chainID, e.bob.Address(), 2, 5, 3), ""), 409, "ErrMempoolConflict")
	// Too large.
	big := make([]byte, 20<<10)
	for i := range big {
		big[i] = '0'
	}
	want(t, "too large", e.request("POST", "/api/tx", big, ""), 413, codeTooLarge)
}

func TestAddress(t *testing.T) {
	e := newEnv(t)
	e.submit(e.pay(e.alice, e.bob.Address(), 10*blockchain.Coin, 100))
	e.mine(1)
	e.submit(e.pay(e.alice, e.bob.Address(), 1*blockchain.Coin, 100), e.pay(e.bob, e.carol.Address(), 2*blockchain.Coin, 50))
	var bob addressJSON
	e.getJSON("/api/address/"+e.bob.Address().String(), &bob)
	if bob.Confirmed.Balance != fund+10*blockchain.Coin || bob.Confirmed.BalanceCoins != "1010" || bob.Confirmed.Nonce != 0 ||
		bob.Confirmed.TxCount == nil || *bob.Confirmed.TxCount != 2 || bob.NextNonce != 1 {
		t.Errorf("bob confirmed: %+v", bob.Confirmed)
	}
	if bob.Pending.TxCount != 2 || bob.Pending.Received != blockchain.Coin || bob.Pending.Sent != 2*blockchain.Coin+50 ||
		bob.Available != fund+9*blockchain.Coin-50 {
		t.Errorf("bob pending: %+v available %d", bob.Pending, bob.Available)
	}
	var nobody addressJSON
	e.getJSON("/api/address/"+person("nobody").Address().String(), &nobody)
	if nobody.Confirmed.Balance != 0 || *nobody.Confirmed.TxCount != 0 || nobody.Pending.TxCount != 0 {
		t.Errorf("nobody: %+v", nobody)
	}
	addr := e.bob.Address().String()
	typo := addr[:10] + string("qpzry"[(strings.Index("qpzry", addr[10:11])+1)%5]) + addr[11:]
	want(t, "a mistyped address", e.get("/api/address/"+typo), 400, codeInvalidAddress)
	want(t, "not an address", e.get("/api/address/bob"), 400, codeInvalidAddress)
	want(t, "history of a mistyped address", e.get("/api/address/"+typo+"/txs"), 400, codeInvalidAddress)
}

func TestAddressHistoryPages(t *testing.T) {
	e := newEnv(t)
	// 12 blocks of 3 payments from alice to bob: 36 confirmed, then 2 pending.
	var ids []blockchain.Hash
	for range 12 {
		for range 3 {
			tx := e.pay(e.alice, e.bob.Address(), 1, 1)
			ids = append(ids, tx.ID())
			e.submit(tx)
		}
		e.mine(1)
	}
	p1, p2 := e.pay(e.alice, e.bob.Address(), 7, 1), e.pay(e.carol, e.bob.Address(), 8, 1)
	e.submit(p1, p2)
	path := "/api/address/" + e.bob.Address().String() + "/txs"
	var h historyJSON
	e.getJSON(path+"?limit=10", &h)
	// bob's genesis allocation counts too: 37 confirmed.
	if h.Total != 37 || len(h.Txs) != 10 || len(h.Pending) != 2 || h.NextSkip == nil || *h.NextSkip != 10 {
		t.Fatalf("first page: total %d, %d txs, %d pending, next %v", h.Total, len(h.Txs), len(h.Pending), h.NextSkip)
	}
	if h.Pending[0].TxID != p2.ID() || h.Pending[1].TxID != p1.ID() {
		t.Errorf("pending not newest first")
	}
	seen := map[blockchain.Hash]bool{}
	skip := 0
	lastHeight := uint64(1 << 62)
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("too many pages")
		}
		h = historyJSON{}
		e.getJSON(path+"?limit=10&skip="+strconv.Itoa(skip), &h)
		if skip > 0 && len(h.Pending) != 0 {
			t.Errorf("pending on page skip=%d", skip)
		}
		for _, tx := range h.Txs {
			if *tx.Status.BlockHeight > lastHeight {
				t.Errorf("history not newest first at %s", tx.TxID.Short(8))
			}
			lastHeight = *tx.Status.BlockHeight
			seen[tx.TxID] = true
		}
		if h.NextSkip == nil {
			break
		}
		skip = *h.NextSkip
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("payment %s missing from the pages", id.Short(8))
		}
	}
	if len(seen) != 37 {
		t.Errorf("%d transactions over the pages, want 37", len(seen))
	}
	want(t, "limit 0", e.get(path+"?limit=0"), 400, codeBadRequest)
	want(t, "limit too high", e.get(path+"?limit=101"), 400, codeBadRequest)
	want(t, "bad skip", e.get(path+"?skip=x"), 400, codeBadRequest)
}

// TestAddressHistoryReorg feeds the node's chain two branches: bob is paid
// on the first, carol instead on the second, heavier one; the reorg moves
// the payment out of bob's history and into carol's.
func TestAddressHistoryReorg(t *testing.T) {
	e := newEnv(t)
	chain := e.node.Chain()
	genesis, _ := chain.BlockByHeight(0)
	now := e.params.GenesisTime.Add(time.Hour)
	add := func(b *blockchain.Block) blockchain.AddResult {
		t.Helper()
		res, err := chain.AddBlock(b, now)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	toBob := e.alice.SignTransfer(e.params.ChainID(), e.bob.Address(), 3*blockchain.Coin, 10, 0)
	toCarol := e.alice.SignTransfer(e.params.ChainID(), e.carol.Address(), 4*blockchain.Coin, 10, 0)
	miner := e.miner.Address()
	a1 := nextBlock(t, e.params, genesis, miner, time.Second, toBob)
	a2 := nextBlock(t, e.params, a1, miner, time.Second)
	add(a1)
	add(a2)
	history := func(who *blockchain.Wallet) historyJSON {
		var h historyJSON
		e.getJSON("/api/address/"+who.Address().String()+"/txs", &h)
		return h
	}
	if h := history(e.bob); h.Total != 2 || h.Txs[0].TxID != toBob.ID() || *h.Txs[0].Status.BlockHash != a1.Hash() || h.Txs[0].Status.Confirmations != 2 {
		t.Fatalf("bob before the reorg: %+v", h)
	}
	b1 := nextBlock(t, e.params, genesis, miner, 2*time.Second, toCarol)
	b2 := nextBlock(t, e.params, b1, miner, 2*time.Second)
	b3 := nextBlock(t, e.params, b2, miner, 2*time.Second)
	add(b1)
	add(b2)
	if res := add(b3); res.Status != blockchain.StatusReorg {
		t.Fatalf("b3: %v", res.Status)
	}
	if h := history(e.bob); h.Total != 1 || h.Txs[0].Status.BlockHeight == nil || *h.Txs[0].Status.BlockHeight != 0 {
		t.Errorf("bob after the reorg: %d transactions, want only his genesis allocation", h.Total)
	}
	h := history(e.carol)
	if h.Total != 2 || h.Txs[0].TxID != toCarol.ID() || *h.Txs[0].Status.BlockHash != b1.Hash() || h.Txs[0].Status.Confirmations != 3 {
		t.Errorf("carol after the reorg: %+v", h)
	}
	var txa txJSON
	want(t, "the abandoned payment", e.get("/api/tx/"+toBob.ID().String()), 404, codeNotFound)
	e.getJSON("/api/tx/"+toCarol.ID().String(), &txa)
	if !txa.Status.Confirmed || *txa.Status.BlockHeight != 1 {
		t.Errorf("carol's payment: %+v", txa.Status)
	}
	// The abandoned block is still served, off the main chain.
	var side blockJSON
	e.getJSON("/api/block/"+a1.Hash().String(), &side)
	if side.InBestChain || side.Confirmations != 0 || side.NextBlockHash != nil {
		t.Errorf("side block: %+v", side)
	}
	var alice addressJSON
	e.getJSON("/api/address/"+e.alice.Address().String(), &alice)
	if alice.Confirmed.Balance != fund-4*blockchain.Coin-10 || alice.Confirmed.Nonce != 1 {
		t.Errorf("alice after the reorg: %+v", alice.Confirmed)
	}
}

func TestNotIndexed(t *testing.T) {
	e := newEnv(t, withoutIndex())
	want(t, "history", e.get("/api/address/"+e.bob.Address().String()+"/txs"), 501, codeNotIndexed)
	var a addressJSON
	e.getJSON("/api/address/"+e.bob.Address().String(), &a)
	if a.Confirmed.TxCount != nil || a.Confirmed.Balance != fund {
		t.Errorf("address without the index: %+v", a.Confirmed)
	}
	var st statusJSON
	e.getJSON("/api/status", &st)
	if st.Indexed {
		t.Error("status says indexed")
	}
}

func TestMempool(t *testing.T) {
	e := newEnv(t)
	var m mempoolJSON
	e.getJSON("/api/mempool", &m)
	if m.Count != 0 || len(m.Txs) != 0 {
		t.Fatalf("empty pool: %+v", m)
	}
	var txs []blockchain.Transaction
	for i := range 5 {
		tx := e.pay(e.alice, e.bob.Address(), 1, uint64(i+1))
		txs = append(txs, tx)
		e.submit(tx)
	}
	e.getJSON("/api/mempool?limit=3", &m)
	if m.Count != 5 || m.TotalFee != 15 || len(m.Txs) != 3 || m.Txs[0].TxID != txs[4].ID() {
		t.Errorf("pool: %+v", m)
	}
	want(t, "limit too high", e.get("/api/mempool?limit=5000"), 400, codeBadRequest)
}

func TestPeers(t *testing.T) {
	net := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{Seed: 2})
	defer net.Close()
	p := testParams()
	var nodes []*blockchain.Node
	for _, id := range []blockchain.PeerID{"a", "b"} {
		c, err := blockchain.NewChain(p, blockchain.ChainOptions{IndexAddresses: true})
		if err != nil {
			t.Fatal(err)
		}
		n, err := blockchain.NewNode(blockchain.NodeConfig{ID: id, Chain: c, Network: net, TickInterval: 20 * time.Millisecond, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	srv, err := New(Config{Node: nodes[0], DataDir: t.TempDir(), KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	stream := openStream(t, ts.URL, "")
	defer stream.close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, n := range nodes {
		go func() { _ = n.Run(ctx); done <- struct{}{} }()
	}
	defer func() { cancel(); <-done; <-done }()
	ev := stream.next(t, "peer-connected", 10*time.Second)
	if ev.data["id"] != "b" || ev.data["peers"] != float64(1) {
		t.Errorf("peer event: %v", ev.data)
	}
	res, err := ts.Client().Get(ts.URL + "/api/peers")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var peers []peerJSON
	if err := json.NewDecoder(res.Body).Decode(&peers); err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 || peers[0].ID != "b" || peers[0].Since == 0 {
		t.Errorf("peers: %+v", peers)
	}
}

func TestCharts(t *testing.T) {
	e := newEnv(t)
	e.mine(4)
	var c chartsJSON
	e.getJSON("/api/charts?blocks=3", &c)
	if len(c.Blocks) != 3 || c.Blocks[0].Height != 2 || c.Blocks[2].Height != 4 || c.TargetBlockTimeMS != 1000 {
		t.Fatalf("charts: %+v", c)
	}
	for _, p := range c.Blocks {
		if p.IntervalMS == nil || *p.IntervalMS <= 0 || p.ZeroBits != 8 || p.Difficulty != 256 {
			t.Errorf("point %+v", p)
		}
	}
	e.getJSON("/api/charts", &c)
	if len(c.Blocks) != 5 || c.Blocks[0].IntervalMS != nil {
		t.Errorf("all blocks: %d, genesis interval %v", len(c.Blocks), c.Blocks[0].IntervalMS)
	}
	want(t, "too many", e.get("/api/charts?blocks=501"), 400, codeBadRequest)
	want(t, "none", e.get("/api/charts?blocks=0"), 400, codeBadRequest)
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	tx := e.pay(e.alice, e.bob.Address(), 1, 1)
	e.submit(tx)
	pending := e.pay(e.alice, e.bob.Address(), 1, 1)
	b := e.mine(1)[0]
	e.submit(pending)
	if err := e.srv.AddName("Bob <b>", e.bob.Address()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ q, kind, id string }{
		{b.Hash().String(), "block", b.Hash().String()},
		{"1", "block", b.Hash().String()},
		{"0", "block", e.params.ChainID().String()},
		{tx.ID().String(), "tx", tx.ID().String()},
		{pending.ID().String(), "tx", pending.ID().String()},
		{e.carol.Address().String(), "address", e.carol.Address().String()},
		{"Bob <b>", "address", e.bob.Address().String()},
		{"bob <B>", "address", e.bob.Address().String()},
	} {
		var got searchJSON
		e.getJSON("/api/search?q="+url.QueryEscape(tc.q), &got)
		if got.Kind != tc.kind || got.ID != tc.id {
			t.Errorf("search %q = %+v, want %s %s", tc.q, got, tc.kind, tc.id)
		}
	}
	want(t, "nothing", e.get("/api/search?q=nobody"), 404, codeNotFound)
	want(t, "a height above the tip", e.get("/api/search?q=7"), 404, codeNotFound)
	want(t, "too long", e.get("/api/search?q="+fmt.Sprintf("%0300d", 1)), 400, codeBadRequest)
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, path string }{
		{"DELETE", "/api/status"}, {"PUT", "/api/tx"}, {"POST", "/api/blocks"},
	} {
		r := e.request(tc.method, tc.path, nil, e.srv.Token())
		if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d", tc.method, tc.path, r.status)
		}
	}
}
