package web

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

func TestWalletFlow(t *testing.T) {
	e := newEnv(t)
	tok := e.srv.Token()
	create := map[string]string{"name": "savings", "passphrase": "correct horse"}
	want(t, "create without the token", e.request("POST", "/api/wallets", create, ""), 401, codeNoToken)
	want(t, "create with a wrong token", e.request("POST", "/api/wallets", create, strings.Repeat("0", 64)), 401, codeBadToken)
	r := e.request("POST", "/api/wallets", create, tok)
	want(t, "create", r, 201, "")
	var w walletJSON
	r.json(t, &w)
	if w.Name != "savings" || !w.Unlocked || !strings.HasPrefix(w.Address, "nk1") || w.Account == nil || w.Account.Confirmed.Balance != 0 {
		t.Fatalf("created: %+v", w)
	}
	addr, _ := blockchain.ParseAddress(w.Address)
	// The key file is encrypted and private; the address file is public.
	key := filepath.Join(e.dataDir, "wallets", "savings.key")
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st.Mode(), err)
	}
	if wal, err := blockchain.LoadKeyFile(key, []byte("correct horse")); err != nil || wal.Address() != addr {
		t.Fatalf("key file does not open to the wallet: %v", err)
	}
	want(t, "again", e.post("/api/wallets", create), 409, codeExists)
	for _, bad := range []map[string]string{
		{"name": "../evil", "passphrase": "x"}, {"name": "", "passphrase": "x"}, {"name": "ok", "passphrase": ""},
		{"name": strings.Repeat("a", 33), "passphrase": "x"}, {"name": "a b", "passphrase": "x"},
	} {
		want(t, "create "+bad["name"], e.post("/api/wallets", bad), 400, codeBadName)
	}
	want(t, "an unknown field", e.post("/api/wallets", map[string]string{"name": "x", "passphrase": "y", "seed": "z"}), 400, codeBadRequest)
	want(t, "malformed JSON", e.post("/api/wallets", `{"name": "x"`), 400, codeBadRequest)

	// Fund it by mining to it, through the API.
	want(t, "mine without the token", e.request("POST", "/api/mine", map[string]any{"blocks": 2, "to": "savings"}, ""), 401, codeNoToken)
	r = e.post("/api/mine", map[string]any{"blocks": 2, "to": "savings"})
	want(t, "mine", r, 200, "")
	var mined []minedJSON
	r.json(t, &mined)
	if len(mined) != 2 || mined[1].Height != 2 || mined[1].Status != "main-chain" {
		t.Fatalf("mined %+v", mined)
	}
	want(t, "mine too many", e.post("/api/mine", map[string]any{"blocks": 101}), 400, codeBadRequest)
	want(t, "mine to nobody", e.post("/api/mine", map[string]any{"to": "nobody"}), 404, codeNotFound)
	e.getJSON("/api/wallets/savings", &w)
	if w.Account.Confirmed.Balance != 2*e.params.BlockReward {
		t.Fatalf("balance after mining: %d", w.Account.Confirmed.Balance)
	}

	// Pay a name in the address book, and an address.
	want(t, "name", e.post("/api/names", map[string]string{"name": "Bob", "address": e.bob.Address().String()}), 201, "")
	send := map[string]any{"to": "Bob", "amount_coins": "12.5", "fee_coins": "0.0001"}
	want(t, "send without the token", e.request("POST", "/api/wallets/savings/send", send, ""), 401, codeNoToken)
	r = e.post("/api/wallets/savings/send", send)
	want(t, "send to a name", r, 200, "")
	var tx txJSON
	r.json(t, &tx)
	if tx.To != e.bob.Address().String() || tx.Amount != 1_250_000_000 || tx.Fee != 10_000 || tx.Nonce != 0 || !tx.Status.InMempool {
		t.Fatalf("sent %+v", tx)
	}
	r = e.post("/api/wallets/savings/send", map[string]any{"to": e.carol.Address().String(), "amount": 7})
	want(t, "send to an address, the minimum fee", r, 200, "")
	r.json(t, &tx)
	if tx.Fee != e.params.MinTxFee || tx.Nonce != 1 {
		t.Errorf("second payment %+v", tx)
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"more than the balance", map[string]any{"to": "Bob", "amount_coins": "1000"}, 422, "ErrInsufficientFunds"},
		{"no fee", map[string]any{"to": "Bob", "amount": 1, "fee": 0}, 422, "ErrFeeTooLow"},
		{"an unknown name", map[string]any{"to": "Zed", "amount": 1}, 404, codeNotFound},
		{"a mistyped address", map[string]any{"to": e.bob.Address().String()[:40] + "x", "amount": 1}, 400, codeInvalidAddress},
		{"two amounts", map[string]any{"to": "Bob", "amount": 1, "amount_coins": "1"}, 400, codeBadAmount},
		{"no amount", map[string]any{"to": "Bob"}, 400, codeBadAmount},
		{"a bad amount", map[string]any{"to": "Bob", "amount_coins": "1.123456789"}, 400, codeBadAmount},
		{"a negative amount", map[string]any{"to": "Bob", "amount": -1}, 400, codeBadRequest},
	} {
		want(t, tc.name, e.post("/api/wallets/savings/send", tc.body), tc.status, tc.code)
	}
	want(t, "send from no wallet", e.post("/api/wallets/nope/send", map[string]any{"to": "Bob", "amount": 1}), 404, codeNotFound)

	// Locked, it cannot send; a wrong passphrase does not unlock it.
	want(t, "lock without the token", e.request("POST", "/api/wallets/savings/lock", nil, ""), 401, codeNoToken)
	want(t, "lock", e.post("/api/wallets/savings/lock", nil), 200, "")
	want(t, "send locked", e.post("/api/wallets/savings/send", map[string]any{"to": "Bob", "amount": 1}), 423, codeLocked)
	want(t, "unlock without the token", e.request("POST", "/api/wallets/savings/unlock", map[string]string{"passphrase": "correct horse"}, ""), 401, codeNoToken)
	want(t, "wrong passphrase", e.post("/api/wallets/savings/unlock", map[string]string{"passphrase": "wrong"}), 403, codeWrongPass)
	want(t, "unlock no wallet", e.post("/api/wallets/nope/unlock", map[string]string{"passphrase": "x"}), 404, codeNotFound)
	r = e.post("/api/wallets/savings/unlock", map[string]any{"passphrase": "correct horse", "seconds": 1})
	want(t, "unlock for a second", r, 200, "")
	r.json(t, &w)
	if !w.Unlocked || time.Until(time.Unix(0, w.UnlockedUntil)) > time.Second {
		t.Errorf("unlocked %+v", w)
	}
	want(t, "send unlocked", e.post("/api/wallets/savings/send", map[string]any{"to": "Bob", "amount": 1}), 200, "")
	waitFor(t, 5*time.Second, "the wallet to lock itself", func() bool {
		_, err := e.srv.wallets.wallet("savings")
		return err != nil
	})
	want(t, "send after the time ran out", e.post("/api/wallets/savings/send", map[string]any{"to": "Bob", "amount": 1}), 423, codeLocked)

	var list []walletJSON
	e.getJSON("/api/wallets", &list)
	if len(list) != 1 || list[0].Name != "savings" || list[0].Unlocked || list[0].Account.Pending.TxCount != 3 {
		t.Errorf("list %+v", list)
	}
}

func TestMiningSwitch(t *testing.T) {
	e := newEnv(t)
	want(t, "no token", e.request("POST", "/api/mining", map[string]any{"on": true}, ""), 401, codeNoToken)
	r := e.post("/api/mining", map[string]any{"on": true, "to": e.carol.Address().String()})
	want(t, "on", r, 200, "")
	var m miningJSON
	r.json(t, &m)
	if !m.Mining || m.Miner != e.carol.Address().String() || !e.node.Mining() {
		t.Errorf("mining %+v", m)
	}
	want(t, "off", e.post("/api/mining", map[string]any{"on": false}), 200, "")
	var st statusJSON
	e.getJSON("/api/status", &st)
	if st.Mining || st.Miner != e.carol.Address().String() {
		t.Errorf("status after: mining %v miner %s", st.Mining, st.Miner)
	}
	want(t, "to nobody", e.post("/api/mining", map[string]any{"on": true, "to": "nobody"}), 404, codeNotFound)
}

func TestAddressBook(t *testing.T) {
	e := newEnv(t)
	markup := `<img src=x onerror="alert(1)">&amp;<script>alert(2)</script>`
	body := map[string]string{"name": markup, "address": e.bob.Address().String()}
	want(t, "no token", e.request("POST", "/api/names", body, ""), 401, codeNoToken)
	r := e.post("/api/names", body)
	want(t, "markup", r, 201, "")
	var got []bookEntry
	e.getJSON("/api/names", &got)
	if len(got) != 1 || got[0].Name != markup || got[0].Address != e.bob.Address() {
		t.Fatalf("names %+v", got)
	}
	// Stored as data: the file holds the name as a JSON string.
	data, err := os.ReadFile(filepath.Join(e.dataDir, "addressbook.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f bookFile
	if err := json.Unmarshal(data, &f); err != nil || f.Names[0].Name != markup {
		t.Fatalf("file %s: %v", data, err)
	}
	if st, _ := os.Stat(filepath.Join(e.dataDir, "addressbook.json")); st.Mode().Perm() != 0o600 {
		t.Errorf("address book mode %v", st.Mode())
	}
	// The name resolves, in search and in a payment, and names the address.
	var a addressJSON
	e.getJSON("/api/address/"+e.bob.Address().String(), &a)
	if a.Name != markup {
		t.Errorf("address name %q", a.Name)
	}
	want(t, "same again", e.post("/api/names", body), 201, "")
	want(t, "taken", e.post("/api/names", map[string]string{"name": markup, "address": e.carol.Address().String()}), 409, codeExists)
	for _, bad := range []string{"", " padded", "tab\there", strings.Repeat("é", 65), e.carol.Address().String(), "\x00"} {
		want(t, "bad name "+bad, e.post("/api/names", map[string]string{"name": bad, "address": e.carol.Address().String()}), 400, codeBadName)
	}
	want(t, "bad address", e.post("/api/names", map[string]string{"name": "x", "address": "nk1nope"}), 400, codeInvalidAddress)
	// Deleting needs the token; the name is path-escaped.
	path := "/api/names/" + urlPathEscape(markup)
	want(t, "delete without the token", e.request("DELETE", path, nil, ""), 401, codeNoToken)
	want(t, "delete", e.request("DELETE", path, nil, e.srv.Token()), 200, "")
	want(t, "delete again", e.request("DELETE", path, nil, e.srv.Token()), 404, codeNotFound)
	// Reopened, the book is as it was left.
	if err := e.srv.AddName("carol", e.carol.Address()); err != nil {
		t.Fatal(err)
	}
	b, err := openAddressBook(filepath.Join(e.dataDir, "addressbook.json"))
	if err != nil {
		t.Fatal(err)
	}
	if es := b.entries(); len(es) != 1 || es[0].Name != "carol" {
		t.Errorf("reopened: %+v", es)
	}
}

// TestPendingSurvivesRestart sends from the node's wallet, stops, and
// starts a new node (whose mempool is empty) on the same data directory:
// the payment is submitted again, and dropped once deeply confirmed.
func TestPendingSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	w := person("dave")
	if err := e.srv.AddWallet("dave", w, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	e.submit(e.pay(e.alice, w.Address(), 100*blockchain.Coin, 1))
	blocks := e.mine(1)
	want(t, "unlock", e.post("/api/wallets/dave/unlock", map[string]string{"passphrase": "pw"}), 200, "")
	r := e.post("/api/wallets/dave/send", map[string]any{"to": e.bob.Address().String(), "amount_coins": "1"})
	want(t, "send", r, 200, "")
	var tx txJSON
	r.json(t, &tx)
	if st, err := os.Stat(filepath.Join(e.dataDir, "pending.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("pending.json: %v", err)
	}
	e.ts.Close()
	e.srv.Close()

	// The same chain (block 1 fed again), a fresh mempool, the same data dir.
	chain, err := blockchain.NewChain(e.params, blockchain.ChainOptions{IndexAddresses: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.AddBlock(blocks[0], e.params.GenesisTime.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	node, err := blockchain.NewNode(blockchain.NodeConfig{ID: "again", Chain: chain, Network: e.net, MiningWorkers: 1,
		Now: fixedClock(e.params.GenesisTime.Add(2 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Node: node, DataDir: e.dataDir, KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.Token() != e.srv.Token() {
		t.Error("the token changed across the restart")
	}
	if !node.Mempool().Has(tx.TxID) {
		t.Fatal("the pending payment was not submitted again")
	}
	if e, ok := srv.wallets.get("dave"); !ok || e.addr != w.Address() || e.unlocked != nil {
		t.Errorf("wallet after restart: %+v", e)
	}
	for i := range keepConfirmations {
		if _, _, err := node.MineBlock(t.Context()); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if info, ok := chain.Transaction(tx.TxID); !ok || info.Confirmations != 1 {
				t.Fatal("not confirmed")
			}
		}
	}
	waitFor(t, 5*time.Second, "the confirmed payment to leave pending.json", func() bool { return len(srv.pending.list()) == 0 })
}

// TestPendingReplaced drops a pending payment whose nonce another confirmed
// transaction used.
func TestPendingReplaced(t *testing.T) {
	e := newEnv(t)
	other := e.alice.SignTransfer(e.params.ChainID(), e.carol.Address(), 1, 1, 0)
	mine := e.alice.SignTransfer(e.params.ChainID(), e.bob.Address(), 1, 1, 0)
	raw, _ := mine.MarshalBinary()
	if err := e.srv.pending.add(pendingEntry{Wallet: "alice", TxID: mine.ID(), Hex: hexString(raw)}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.pending.add(pendingEntry{Wallet: "x", TxID: blockchain.Hash{1}, Hex: "zz"}); err != nil {
		t.Fatal(err)
	}
	e.node.Mempool().Add(other)
	e.mine(1)
	waitFor(t, 5*time.Second, "both to be dropped", func() bool { return len(e.srv.pending.list()) == 0 })
}

func TestToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, tokenFile)
	tok, err := loadToken(path)
	if err != nil || len(tok) != 64 {
		t.Fatalf("token %q: %v", tok, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	again, err := loadToken(path)
	if err != nil || again != tok {
		t.Errorf("reread %q %v", again, err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadToken(path); err == nil {
		t.Error("a malformed token file was accepted")
	}
	if _, err := New(Config{DataDir: dir}); err == nil {
		t.Error("New without a node")
	}
}

// A wallet whose files appear while the server runs (made offline by
// `nakachain wallet new`) is found when it is first asked for.
func TestKeystoreFindsWalletsMadeMeanwhile(t *testing.T) {
	dir := t.TempDir()
	ks, err := openKeystore(dir, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ks.get("late"); ok {
		t.Fatal("a wallet that does not exist was found")
	}
	w, err := blockchain.NewWallet(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.save("late", w, []byte("pass")); err != nil { // as the offline command writes it
		t.Fatal(err)
	}
	if e, ok := ks.get("late"); !ok || e.addr != w.Address() {
		t.Fatalf("the wallet made meanwhile: %+v %v", e, ok)
	}
	if got, err := ks.unlock(t.Context(), "late", []byte("pass"), time.Minute); err != nil || got.unlocked == nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := CheckWalletName("no.dots"); err == nil {
		t.Fatal("a name with a dot passed")
	}
}
