package blockchain

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRejectionsChangeNothing feeds a chain invalid blocks and a mempool
// invalid transactions, one per rule. Each is refused with its own code,
// and the chain's tip, balances, nonces, confirmed transactions and the
// mempool are exactly as before.
func TestRejectionsChangeNothing(t *testing.T) {
	g := newGen(t, 5, func(p *Params) {
		p.MaxBlockSize = HeaderSize + 1 + 10*TxSize // a coinbase and 9 transfers
		p.MaxBlockTxs = 20
	})
	c := g.chain()
	pool := NewMempool(c, MempoolOptions{MinRelayFee: 2})
	confirmed := g.pay(0, 1, 100, 1, 0)
	b1 := g.next(g.genesis, []Transaction{confirmed})
	b2 := g.next(b1, nil)
	pool.Update(g.add(c, b1, b2))
	pending := g.pay(2, 3, 600_000, 5, 0)
	if err := pool.Add(pending); err != nil {
		t.Fatal(err)
	}
	tip := b2
	otherChain := g.chainID
	otherChain[0] ^= 0xff
	overspendBlock := g.next(tip, []Transaction{g.pay(3, 1, testFund, 1, 0)})

	blockCases := []struct {
		name  string
		block func() *Block
		code  ErrorCode
		// checkCode, if set, is what CheckBlock reports instead (it only
		// judges blocks on the tip, so a block elsewhere is ErrUnknownParent).
		checkCode ErrorCode
	}{
		{name: "bad proof of work", code: ErrBadProofOfWork, block: func() *Block {
			b := g.next(tip, nil)
			breakPoW(b)
			return b
		}},
		{name: "header version 2", code: ErrBadVersion, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Header.Version = 2 })
		}},
		{name: "easier target than the chain expects", code: ErrBadTarget, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Header.Bits = TargetFromBits(4).Compact() })
		}},
		{name: "harder target than the chain expects", code: ErrBadTarget, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Header.Bits = TargetFromBits(9).Compact() })
		}},
		{name: "target bits not a valid number", code: ErrBadTarget, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Header.Bits = 0x04923456 })
		}},
		{name: "unknown parent (the chain keeps no orphans)", code: ErrUnknownParent, block: func() *Block {
			return g.next(g.next(tip, nil), nil)
		}},
		{name: "height not parent plus one", code: ErrBadHeight, block: func() *Block {
			return g.next(tip, nil, func(b *Block) {
				b.Header.Height++
				b.Transactions[0].Nonce++
				fixRoot(b)
			})
		}},
		{name: "time not after median time past", code: ErrTimeTooOld, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Header.Time = b1.Header.Time })
		}},
		{name: "time too far in the future", code: ErrTimeTooNew, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Header.Time = g.now.UnixNano() + int64(g.params.MaxFutureDrift) + 1 })
		}},
		{name: "Merkle root does not match", code: ErrBadMerkleRoot, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Header.MerkleRoot[0] ^= 1 })
		}},
		{name: "no transactions at all", code: ErrNoCoinbase, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Transactions = nil; fixRoot(b) })
		}},
		{name: "first transaction not a coinbase", code: ErrNoCoinbase, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Transactions[0] = g.pay(1, 2, 5, 1, 0); fixRoot(b) })
		}},
		{name: "two coinbases", code: ErrExtraCoinbase, block: func() *Block {
			return g.next(tip, nil, func(b *Block) {
				b.Transactions = append(b.Transactions, NewCoinbase(g.miner, 1, b.Header.Height))
				b.Transactions[1].To[0] ^= 1 // not a duplicate of the first
				fixRoot(b)
			})
		}},
		{name: "coinbase overpays by one unit", code: ErrCoinbaseOverpays, block: func() *Block {
			return g.next(tip, []Transaction{g.pay(1, 2, 5, 3, 0)}, func(b *Block) { b.Transactions[0].Amount++; fixRoot(b) })
		}},
		{name: "coinbase carries the wrong height", code: ErrBadCoinbase, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Transactions[0].Nonce = 7; fixRoot(b) })
		}},
		{name: "coinbase pays a fee", code: ErrBadCoinbase, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Transactions[0].Fee = 1; fixRoot(b) })
		}},
		{name: "coinbase has a signature", code: ErrBadCoinbase, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Transactions[0].Signature[0] = 1; fixRoot(b) })
		}},
		{name: "coinbase pays more than MaxMoney", code: ErrOverflow, block: func() *Block {
			return g.next(tip, nil, func(b *Block) { b.Transactions[0].Amount = MaxMoney + 1; fixRoot(b) })
		}},
		{name: "fee below the chain's minimum", code: ErrFeeTooLow, block: func() *Block {
			return g.next(tip, []Transaction{g.pay(1, 2, 5, 0, 0)})
		}},
		{name: "bad signature", code: ErrBadSignature, block: func() *Block {
			tx := g.pay(1, 2, 5, 1, 0)
			tx.Signature[3] ^= 1
			return g.next(tip, []Transaction{tx})
		}},
		{name: "signed for another chain", code: ErrBadSignature, block: func() *Block {
			return g.next(tip, []Transaction{g.people[1].SignTransfer(otherChain, g.people[2].Address(), 5, 1, 0)})
		}},
		{name: "nonce gap", code: ErrNonceTooHigh, block: func() *Block {
			return g.next(tip, []Transaction{g.pay(0, 1, 5, 1, 2)})
		}},
		{name: "nonce reuse (replay of a used nonce)", code: ErrNonceTooLow, block: func() *Block {
			return g.next(tip, []Transaction{g.pay(0, 2, 100, 1, 0)})
		}},
		{name: "two transactions with one nonce", code: ErrNonceTooLow, block: func() *Block {
			return g.next(tip, []Transaction{g.pay(0, 1, 5, 1, 1), g.pay(0, 2, 5, 1, 1)})
		}},
		{name: "overspend", code: ErrInsufficientFunds, block: func() *Block { return overspendBlock }},
		{name: "overspend across two transactions", code: ErrInsufficientFunds, block: func() *Block {
			return g.next(tip, []Transaction{g.pay(4, 1, testFund/2, 1, 0), g.pay(4, 1, testFund/2, 1, 1)})
		}},
		{name: "amount plus fee overflows", code: ErrOverflow, block: func() *Block {
			return g.next(tip, []Transaction{g.pay(4, 1, math.MaxUint64, 1, 0)}, func(b *Block) {
				b.Transactions[0].Amount = g.params.Reward(b.Header.Height)
				fixRoot(b)
			})
		}},
		{name: "same transaction twice", code: ErrDuplicateTx, block: func() *Block {
			tx := g.pay(1, 2, 5, 1, 0)
			return g.next(tip, []Transaction{tx, tx})
		}},
		{name: "transaction already on the chain (its nonce is used)", code: ErrNonceTooLow, block: func() *Block {
			return g.next(tip, []Transaction{confirmed})
		}},
		{name: "block too large", code: ErrBlockTooLarge, block: func() *Block {
			return g.next(tip, payments(g, 10))
		}},
		{name: "too many transactions", code: ErrTooManyTxs, block: func() *Block {
			return g.next(tip, payments(g, 20))
		}},
		{name: "child of an invalid block", code: ErrInvalidAncestor, checkCode: ErrUnknownParent, block: func() *Block {
			if _, err := c.AddBlock(overspendBlock, g.now); !errors.Is(err, ErrInsufficientFunds) {
				t.Fatalf("overspend block: %v", err)
			}
			return g.next(overspendBlock, nil)
		}},
		{name: "height 0 but not genesis", code: ErrBadGenesis, checkCode: ErrUnknownParent, block: func() *Block {
			return g.next(tip, nil, func(b *Block) {
				b.Header.Height = 0
				b.Header.PrevHash = Hash{}
				b.Transactions[0].Nonce = 0
				fixRoot(b)
			})
		}},
	}

	codes := map[ErrorCode]bool{}
	for _, tc := range blockCases {
		b := tc.block()
		before := digest(c, pool)
		want := tc.checkCode
		if want == 0 {
			want = tc.code
		}
		if err := c.CheckBlock(b, g.now); !errors.Is(err, want) {
			t.Errorf("%s: CheckBlock = %v, want %v", tc.name, err, want)
		}
		res, err := c.AddBlock(b, g.now)
		pool.Update(res)
		var re *RuleError
		switch {
		case !errors.Is(err, tc.code) || !errors.As(err, &re):
			t.Errorf("%s: AddBlock = %v, want %v", tc.name, err, tc.code)
		default:
			codes[re.Code] = true
			t.Logf("%-40s %v", tc.name, err)
		}
		if after := digest(c, pool); after != before {
			t.Errorf("%s: chain or mempool changed", tc.name)
		}
	}

	txCases := []struct {
		name string
		tx   Transaction
		code ErrorCode
	}{
		{"bad signature", func() Transaction { tx := g.pay(1, 2, 5, 2, 0); tx.Amount++; return tx }(), ErrBadSignature},
		{"signed for another chain", g.people[1].SignTransfer(otherChain, g.people[2].Address(), 5, 2, 0), ErrBadSignature},
		{"nonce already used", g.pay(0, 3, 5, 2, 0), ErrNonceTooLow},
		{"nonce too far ahead", g.pay(0, 3, 5, 2, 1000), ErrNonceTooHigh},
		{"overspend", g.pay(1, 2, testFund+100, 2, 0), ErrInsufficientFunds},
		{"overspend counting pending", g.pay(2, 1, 400_000, 2, 1), ErrInsufficientFunds},
		{"amount plus fee overflows", g.pay(1, 2, math.MaxUint64, 2, 0), ErrOverflow},
		{"fee below the chain's minimum", g.pay(1, 2, 5, 0, 0), ErrFeeTooLow},
		{"fee below the node's relay minimum", g.pay(1, 2, 5, 1, 0), ErrFeeTooLow},
		{"already pending", pending, ErrKnownTx},
		{"same nonce as a pending one", g.pay(2, 4, 5, 9, 0), ErrMempoolConflict},
		{"already confirmed", confirmed, ErrTxOnChain},
		{"coinbase", NewCoinbase(g.miner, 5, 9), ErrBadCoinbase},
	}
	for _, tc := range txCases {
		before := digest(c, pool)
		err := pool.Add(tc.tx)
		var re *RuleError
		if !errors.Is(err, tc.code) || !errors.As(err, &re) {
			t.Errorf("tx %s: Add = %v, want %v", tc.name, err, tc.code)
		} else {
			codes[re.Code] = true
			t.Logf("tx %-37s %v", tc.name, err)
		}
		if after := digest(c, pool); after != before {
			t.Errorf("tx %s: chain or mempool changed", tc.name)
		}
	}
	if n := len(blockCases) + len(txCases); n < 25 || len(codes) < 25 {
		t.Errorf("%d cases with %d distinct codes; want at least 25 of each", n, len(codes))
	}

	// The chain is not stuck: a valid block with the pending payment extends it.
	tmpl := pool.NewBlockTemplate(g.miner, g.now)
	g.mine(tmpl)
	res := g.add(c, tmpl)
	pool.Update(res)
	if res.Status != StatusMainChain || pool.Len() != 0 {
		t.Fatalf("valid block after rejections: %v, pool %d", res.Status, pool.Len())
	}
	if info, ok := c.Transaction(pending.ID()); !ok || info.Height != 3 || info.Confirmations != 1 {
		t.Fatalf("pending payment: %+v %v", info, ok)
	}
}

// payments returns n distinct (not necessarily valid) transfers.
func payments(g *gen, n int) []Transaction {
	var txs []Transaction
	for i := range n {
		txs = append(txs, g.pay(i%len(g.people), (i+1)%len(g.people), 1, 1, uint64(i)))
	}
	return txs
}

func TestReorgToHeavierBranch(t *testing.T) {
	g := newGen(t, 4)
	c := g.chain()
	pool := NewMempool(c, MempoolOptions{})

	paidBob := g.pay(0, 1, 100, 1, 0)   // double spend: losing branch
	paidCarol := g.pay(0, 2, 100, 1, 0) // double spend: winning branch
	onlyLosing := g.pay(2, 3, 50, 1, 0) // no conflict: must come back
	onlyWinning := g.pay(3, 0, 7, 2, 0) // only on the winning branch
	main := g.branch(g.genesis, 5, func(i int) []Transaction {
		switch i {
		case 0:
			return []Transaction{paidBob}
		case 1:
			return []Transaction{onlyLosing}
		}
		return nil
	})
	for _, b := range main {
		pool.Update(g.add(c, b))
	}
	if got := c.Balance(g.people[1].Address()); got != testFund+100 {
		t.Fatalf("Bob has %d before the reorg", got)
	}

	g.step = int64(time.Second) + 1 // a different branch, not the same blocks
	side := g.branch(g.genesis, 10, func(i int) []Transaction {
		switch i {
		case 0:
			return []Transaction{paidCarol}
		case 3:
			return []Transaction{onlyWinning}
		}
		return nil
	})
	for i, b := range side[:5] {
		res := g.add(c, b)
		if res.Status != StatusSideChain {
			t.Fatalf("side block %d: %v, want side-chain (equal work: first seen wins)", i, res.Status)
		}
	}
	res := g.add(c, side[5])
	pool.Update(res)
	if res.Status != StatusReorg || len(res.Disconnected) != 5 || len(res.Connected) != 6 {
		t.Fatalf("reorg: %v, %d disconnected, %d connected", res.Status, len(res.Disconnected), len(res.Connected))
	}
	if res.Disconnected[0].Hash() != main[4].Hash() || res.Connected[0].Hash() != side[0].Hash() {
		t.Fatal("reorg lists blocks in the wrong order")
	}
	for _, b := range side[6:] {
		pool.Update(g.add(c, b))
	}
	if tip := c.Tip(); tip.Hash != side[9].Hash() || tip.Height != 10 {
		t.Fatalf("tip %s at %d", tip.Hash.Short(12), tip.Height)
	}

	// Balances equal those of a chain that only ever saw the winning branch.
	direct := g.chain()
	g.add(direct, side...)
	if diff := cmp.Diff(direct.Accounts(), c.Accounts()); diff != "" {
		t.Fatalf("accounts after reorg differ from the direct chain (-direct +reorged):\n%s", diff)
	}
	if digest(direct, nil) != digest(c, nil) {
		t.Fatal("state digest differs from the direct chain")
	}

	// The losing branch's unconflicted payment is back in the mempool; the
	// double spend it confirmed is gone from the chain and the mempool.
	if !pool.Has(onlyLosing.ID()) {
		t.Fatal("payment only in the losing branch is not back in the mempool")
	}
	if pool.Has(paidBob.ID()) {
		t.Fatal("double spend from the losing branch is in the mempool")
	}
	if _, ok := c.Transaction(paidBob.ID()); ok {
		t.Fatal("double spend from the losing branch is still confirmed")
	}
	if info, ok := c.Transaction(paidCarol.ID()); !ok || info.Confirmations != 10 {
		t.Fatalf("winning payment: %+v %v", info, ok)
	}
	// And it confirms again, once.
	tmpl := pool.NewBlockTemplate(g.miner, g.now)
	g.mine(tmpl)
	pool.Update(g.add(c, tmpl))
	if info, ok := c.Transaction(onlyLosing.ID()); !ok || info.Height != 11 || pool.Len() != 0 {
		t.Fatalf("re-confirmation: %+v %v, pool %d", info, ok, pool.Len())
	}
}

// grow mines n blocks on parent with the target c expects, adding each to
// c, with step nanoseconds between blocks.
func (g *gen) grow(c *Chain, parent *Block, n int, step int64) []*Block {
	g.t.Helper()
	var out []*Block
	for range n {
		bits, ok := c.NextBits(parent.Hash())
		if !ok {
			g.t.Fatal("parent unknown")
		}
		b := g.next(parent, nil, func(b *Block) {
			b.Header.Bits = bits
			b.Header.Time = parent.Header.Time + step
		})
		g.add(c, b)
		out = append(out, b)
		parent = b
	}
	return out
}

func TestLongerBranchWithLessWorkLoses(t *testing.T) {
	g := newGen(t, 1, func(p *Params) {
		p.RetargetInterval = 4
		p.InitialTarget = TargetFromBits(10)
		p.PowLimit = TargetFromBits(6)
	})
	c := g.chain()
	main := g.grow(c, g.genesis, 11, int64(time.Second)/10) // fast: targets get harder
	scratch := g.chain()
	side := g.grow(scratch, g.genesis, 20, 10*int64(time.Second)) // slow: targets get easier
	mainWork, sideWork := c.Tip().TotalWork, scratch.Tip().TotalWork
	if len(side) <= len(main) || sideWork.Cmp(mainWork) >= 0 {
		t.Fatalf("setup: side %d blocks work %v, main %d blocks work %v", len(side), sideWork, len(main), mainWork)
	}
	for _, b := range side {
		if res := g.add(c, b); res.Status != StatusSideChain {
			t.Fatalf("side block %d: %v", b.Header.Height, res.Status)
		}
	}
	if tip := c.Tip(); tip.Hash != main[len(main)-1].Hash() {
		t.Fatalf("the longer, lighter branch won: tip at height %d", tip.Height)
	}
	t.Logf("main: %d blocks, work %v; side: %d blocks, work %v", len(main), mainWork, len(side), sideWork)
}

func TestEqualWorkFirstSeenWins(t *testing.T) {
	g := newGen(t, 1)
	a := g.branch(g.genesis, 3, nil)
	g.step++
	b := g.branch(g.genesis, 3, nil)
	for _, order := range [][][]*Block{{a, b}, {b, a}} {
		c := g.chain()
		g.add(c, order[0]...)
		g.add(c, order[1]...)
		if c.Tip().Hash != order[0][2].Hash() {
			t.Fatal("equal work: the branch seen second won")
		}
	}
}

func TestInvalidBlockDeepInHeavierBranch(t *testing.T) {
	g := newGen(t, 2)
	c := g.chain()
	pool := NewMempool(c, MempoolOptions{})
	main := g.branch(g.genesis, 5, nil)
	g.add(c, main...)
	if err := pool.Add(g.pay(1, 0, 10, 1, 0)); err != nil {
		t.Fatal(err)
	}
	before := digest(c, pool)

	g.step++
	side := g.branch(g.genesis, 10, func(i int) []Transaction {
		if i == 2 {
			return []Transaction{g.pay(0, 1, 2*testFund, 1, 0)} // overspend, valid header
		}
		return nil
	})
	for i, b := range side {
		res, err := c.AddBlock(b, g.now)
		pool.Update(res)
		switch {
		case i < 5 && (err != nil || res.Status != StatusSideChain):
			t.Fatalf("side %d: %v %v", i, res.Status, err)
		case i == 5 && !errors.Is(err, ErrInsufficientFunds):
			t.Fatalf("side %d (makes the branch heavier): err = %v, want the overspend's ErrInsufficientFunds", i, err)
		case i > 5 && !errors.Is(err, ErrInvalidAncestor):
			t.Fatalf("side %d: err = %v, want ErrInvalidAncestor", i, err)
		}
		if res.TipChanged() {
			t.Fatalf("side %d moved the tip", i)
		}
	}
	if digest(c, pool) != before || c.Tip().Hash != main[4].Hash() {
		t.Fatal("an invalid heavier branch changed the chain")
	}
	if !c.HasBlock(side[1].Hash()) || c.HasBlock(side[2].Hash()) || c.HasBlock(side[9].Hash()) {
		t.Fatal("valid prefix should stay known; the bad block and its descendants should not")
	}
}

func TestInvalidBlockFallsBackToHeaviestValidPrefix(t *testing.T) {
	g := newGen(t, 2)
	c := g.chain()
	main := g.branch(g.genesis, 2, nil)
	g.add(c, main...)
	g.step++
	side := g.branch(g.genesis, 6, func(i int) []Transaction {
		if i == 4 {
			return []Transaction{g.pay(0, 1, 2*testFund, 1, 0)}
		}
		return nil
	})
	for _, b := range side[:4] { // 4 valid blocks: heavier than main's 2
		g.add(c, b)
	}
	if c.Tip().Hash != side[3].Hash() {
		t.Fatal("heavier valid side branch did not win")
	}
	for _, b := range side[4:] {
		if _, err := c.AddBlock(b, g.now); err == nil {
			t.Fatalf("side block %d accepted", b.Header.Height)
		}
	}
	if c.Tip().Hash != side[3].Hash() {
		t.Fatal("tip left the heaviest valid block")
	}
}

// With headers first, bodies may come in any order: the chain keeps them
// until the branch is complete, then connects it at once. A body whose
// header's parent is unknown is refused and changes nothing.
func TestBodiesConnectInAnyOrderAfterHeaders(t *testing.T) {
	g := newGen(t, 1)
	c := g.chain()
	blocks := g.branch(g.genesis, 10, func(i int) []Transaction {
		return []Transaction{g.pay(0, 0, 1, 1, uint64(i))}
	})
	before := digest(c, nil)
	if _, err := c.AddBlock(blocks[5], g.now); !errors.Is(err, ErrUnknownParent) {
		t.Fatalf("block without a known parent: %v, want ErrUnknownParent", err)
	}
	if digest(c, nil) != before || c.HasHeader(blocks[5].Hash()) {
		t.Fatal("a block with an unknown parent changed the chain")
	}
	headers := make([]Header, len(blocks))
	for i, b := range blocks {
		headers[i] = b.Header
	}
	hr, err := c.AddHeaders(headers, g.now)
	if err != nil || hr.New != 10 || hr.Last != blocks[9].Hash() {
		t.Fatalf("AddHeaders: %+v %v", hr, err)
	}
	if best := c.BestHeader(); best.Hash != blocks[9].Hash() || c.Tip().Height != 0 {
		t.Fatal("headers moved the tip, or the best header is not the last")
	}
	if missing := c.MissingBodies(blocks[9].Hash(), 100, 100); len(missing) != 10 || missing[0] != blocks[0].Hash() {
		t.Fatalf("MissingBodies: %d, first %v", len(missing), missing[0].Short(8))
	}
	for i := 9; i >= 1; i-- {
		res, err := c.AddBlock(blocks[i], g.now)
		if err != nil || res.Status != StatusSideChain || !c.HasBlock(blocks[i].Hash()) {
			t.Fatalf("block %d: %v %v", i+1, res.Status, err)
		}
	}
	if s := c.Stats(); s.LooseBodies != 9 || c.Tip().Height != 0 {
		t.Fatalf("%d loose bodies, tip at %d; want 9 and 0", s.LooseBodies, c.Tip().Height)
	}
	res := g.add(c, blocks[0])
	if res.Status != StatusMainChain || len(res.Connected) != 10 {
		t.Fatalf("%v, %d connected", res.Status, len(res.Connected))
	}
	if c.Tip().Hash != blocks[9].Hash() || c.Stats().LooseBodies != 0 {
		t.Fatal("the branch did not connect")
	}
	if acct := c.Account(g.people[0].Address()); acct.Nonce != 10 || acct.Balance != testFund-10 {
		t.Fatalf("account %+v", acct)
	}
}

// Bodies waiting for their branch are held within a byte budget, oldest
// dropped first; a dropped body's header stays, the chain asks for it again
// (MissingBodies), and the branch connects once it is back.
func TestLooseBodiesAreBounded(t *testing.T) {
	g := newGen(t, 1)
	blocks := g.branch(g.genesis, 20, nil)
	budget := 5 * blocks[0].Size()
	c, err := NewChain(g.params, ChainOptions{LooseBodyBudget: budget})
	if err != nil {
		t.Fatal(err)
	}
	var headers []Header
	for _, b := range blocks {
		headers = append(headers, b.Header)
	}
	if _, err := c.AddHeaders(headers, g.now); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks[1:] {
		if _, err := c.AddBlock(b, g.now); err != nil {
			t.Fatal(err)
		}
		if s := c.Stats(); s.LooseBytes > budget || s.LooseBodies > 5 {
			t.Fatalf("%d loose bodies in %d bytes, budget %d", s.LooseBodies, s.LooseBytes, budget)
		}
	}
	// The newest five remain.
	for i := 1; i < len(blocks); i++ {
		if want := i >= len(blocks)-5; c.HasBlock(blocks[i].Hash()) != want {
			t.Fatalf("block %d held = %v, want %v", i+1, !want, want)
		}
	}
	g.add(c, blocks[0])
	missing := c.MissingBodies(blocks[19].Hash(), 100, 100)
	if c.Tip().Hash != blocks[0].Hash() || len(missing) != 14 || missing[0] != blocks[1].Hash() {
		t.Fatalf("tip at %d, %d missing", c.Tip().Height, len(missing))
	}
	res, err := c.AddBlocks(blocks[1:15], g.now)
	if err != nil || c.Tip().Hash != blocks[19].Hash() || len(res.Connected) != 19 {
		t.Fatalf("after the dropped bodies came back: tip at %d, %d connected, %v", c.Tip().Height, len(res.Connected), err)
	}
}

func TestQueries(t *testing.T) {
	g := newGen(t, 3)
	c := g.chain()
	var txs []Transaction
	blocks := g.branch(g.genesis, 30, func(i int) []Transaction {
		tx := g.pay(i%3, (i+1)%3, uint64(10+i), 1, uint64(i/3))
		txs = append(txs, tx)
		return []Transaction{tx}
	})
	g.add(c, blocks...)
	for i, tx := range txs {
		info, ok := c.Transaction(tx.ID())
		if !ok || info.Height != uint64(i+1) || info.Index != 1 || info.Confirmations != uint64(30-i) || info.Tx != tx {
			t.Fatalf("tx %d: %+v", i, info)
		}
		proof, hdr, ok := c.TxProof(tx.ID())
		if !ok || hdr.Hash() != blocks[i].Hash() || !VerifyMerkleProof(hdr.MerkleRoot, tx.ID(), proof) {
			t.Fatalf("tx %d: proof does not verify", i)
		}
	}
	if _, ok := c.Transaction(Hash{9}); ok {
		t.Fatal("unknown transaction found")
	}
	for h := range uint64(31) {
		b, ok := c.BlockByHeight(h)
		if !ok || b.Header.Height != h {
			t.Fatalf("height %d", h)
		}
		if byHash, ok := c.BlockByHash(b.Hash()); !ok || byHash.Hash() != b.Hash() {
			t.Fatalf("by hash at %d", h)
		}
	}
	// Copies: changing a returned block changes nothing in the chain.
	b, _ := c.BlockByHeight(5)
	b.Transactions[1].Amount = 1
	if again, _ := c.BlockByHeight(5); again.Transactions[1].Amount == 1 {
		t.Fatal("BlockByHeight returned the chain's own block")
	}

	loc := c.Locator()
	if loc[0] != blocks[29].Hash() || loc[len(loc)-1] != g.chainID || len(loc) > 16 {
		t.Fatalf("locator of %d hashes", len(loc))
	}
	// A peer at height 12 sends its locator and gets blocks 13, 14, ...
	peer := g.chain()
	g.add(peer, blocks[:12]...)
	after := c.HeadersAfter(peer.Locator(), Hash{}, 5)
	if len(after) != 5 || after[0].Height != 13 {
		t.Fatalf("HeadersAfter: %d headers from %d", len(after), after[0].Height)
	}
	if got := c.HeadersAfter([]Hash{{7}}, Hash{}, 2); len(got) != 2 || got[0].Height != 1 {
		t.Fatal("unknown locator should start after genesis")
	}
	// The stop hash ends the answer early, and it is included.
	if got := c.HeadersAfter(peer.Locator(), blocks[14].Hash(), 100); len(got) != 3 || got[2].Hash() != blocks[14].Hash() {
		t.Fatalf("%d headers up to the stop hash, want 3", len(got))
	}
}

// A refused block leaves no body behind: the chain remembers only its hash
// (a bounded number of them), and still refuses its descendants at once.
func TestRefusedBlocksAreNotStored(t *testing.T) {
	g := newGen(t, 1, func(p *Params) { p.PowLimit = TargetFromBits(4) })
	c := g.chain()
	size := func() int { c.mu.RLock(); defer c.mu.RUnlock(); return len(c.index) }
	before := size()

	// A target easier than the chain's limit costs nothing to mine.
	cheap := g.next(g.genesis, nil, func(b *Block) { b.Header.Bits = TargetFromBits(2).Compact() })
	if _, err := c.AddBlock(cheap, g.now); !errors.Is(err, ErrBadTarget) {
		t.Fatalf("target above PowLimit: %v", err)
	}
	// A block refused against its parent, and then its child.
	bad := g.next(g.genesis, nil, func(b *Block) { b.Header.Time = g.genesis.Header.Time })
	if _, err := c.AddBlock(bad, g.now); !errors.Is(err, ErrTimeTooOld) {
		t.Fatalf("time too old: %v", err)
	}
	if _, err := c.AddBlock(bad, g.now); !errors.Is(err, ErrTimeTooOld) {
		t.Fatalf("the same block again: %v", err)
	}
	if _, err := c.AddBlock(g.next(bad, nil), g.now); !errors.Is(err, ErrInvalidAncestor) {
		t.Fatalf("child of a refused block: %v", err)
	}
	if n := size(); n != before {
		t.Fatalf("refused blocks grew the tree from %d to %d nodes", before, n)
	}
	// A block that fails only when connected stays in the tree (to refuse
	// its descendants) but without its transactions.
	overspend := g.next(g.genesis, []Transaction{g.pay(0, 0, 2*testFund, 1, 0)})
	if _, err := c.AddBlock(overspend, g.now); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatal(err)
	}
	c.mu.RLock()
	n := c.index[overspend.Hash()]
	c.mu.RUnlock()
	if n == nil || n.body != nil || n.has(nodeHasBody) || n.invalid != ErrInsufficientFunds {
		t.Fatal("a block found invalid when connected keeps its body")
	}

	var ic invalidCache
	key := func(i int) Hash { return Hash{byte(i), byte(i >> 8)} }
	for i := range maxInvalidHashes + 10 {
		ic.add(key(i), ErrBadHeight)
	}
	if len(ic.codes) != maxInvalidHashes || ic.has(key(0)) || !ic.has(key(maxInvalidHashes+9)) {
		t.Fatalf("invalid cache holds %d hashes, limit %d, oldest first out", len(ic.codes), maxInvalidHashes)
	}
}

// The address index follows the main chain through a reorganization and
// is rebuilt by a replay of the store.
func TestAddressHistoryAcrossReorgAndReplay(t *testing.T) {
	g := newGen(t, 3)
	store := &MemStore{}
	c, err := NewChain(g.params, ChainOptions{IndexAddresses: true, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := g.people[0].Address(), g.people[1].Address()
	toBob := g.pay(0, 1, 10, 1, 0)
	self := g.pay(0, 0, 5, 1, 1)
	a := g.branch(g.genesis, 2, func(i int) []Transaction { return [][]Transaction{{toBob}, {self}}[i] })
	g.add(c, a...)
	hist, total, err := c.AddressHistory(alice, 0, 10)
	if err != nil || total != 3 || hist[0].Tx.ID() != self.ID() || hist[1].Tx.ID() != toBob.ID() || hist[2].Height != 0 {
		t.Fatalf("alice's history: %d entries, %v", total, err)
	}
	if hist, total, _ := c.AddressHistory(bob, 0, 1); total != 2 || len(hist) != 1 || hist[0].Tx.ID() != toBob.ID() {
		t.Fatalf("bob's history: %d entries, first %v", total, hist)
	}
	// A heavier branch without the payment to Bob takes over.
	g.step++
	toCarol := g.pay(0, 2, 7, 1, 0)
	b := g.branch(g.genesis, 3, func(i int) []Transaction { return [][]Transaction{{toCarol}, nil, nil}[i] })
	if res := g.add(c, b...); res.Status != StatusReorg {
		t.Fatalf("%v", res.Status)
	}
	want := func(c *Chain) {
		t.Helper()
		if _, total, _ := c.AddressHistory(bob, 0, 10); total != 1 {
			t.Fatalf("bob's history after the reorg has %d entries, want his allocation only", total)
		}
		hist, total, _ := c.AddressHistory(alice, 0, 10)
		if total != 2 || hist[0].Tx.ID() != toCarol.ID() || hist[0].Confirmations != 3 {
			t.Fatalf("alice's history after the reorg: %d entries", total)
		}
		if hist, _, _ := c.AddressHistory(g.miner, 1, 10); len(hist) != 2 || hist[0].Height != 2 {
			t.Fatalf("the miner's coinbases, skipping the newest: %v", hist)
		}
	}
	want(c)
	again, err := NewChain(g.params, ChainOptions{IndexAddresses: true, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	want(again)
	if _, _, err := g.chain().AddressHistory(alice, 0, 1); !errors.Is(err, ErrNotIndexed) {
		t.Fatalf("a chain without the index: %v", err)
	}
}
