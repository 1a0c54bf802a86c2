package blockchain

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMempoolOrdersByFeeAndNonce(t *testing.T) {
	g := newGen(t, 4)
	c := g.chain()
	pool := NewMempool(c, MempoolOptions{})
	add := func(tx Transaction) {
		t.Helper()
		if err := pool.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	low, high, mid := g.pay(0, 3, 10, 1, 0), g.pay(1, 3, 10, 50, 0), g.pay(2, 3, 10, 20, 0)
	second := g.pay(2, 3, 10, 99, 1) // high fee, but must follow its nonce 0
	gapped := g.pay(0, 3, 10, 70, 2) // nonce 1 missing: held back
	for _, tx := range []Transaction{low, high, mid, second, gapped} {
		add(tx)
	}
	tmpl := pool.NewBlockTemplate(g.miner, g.now)
	want := []Hash{high.ID(), mid.ID(), second.ID(), low.ID()}
	if got := tmpl.TxIDs()[1:]; !cmp.Equal(got, want) {
		t.Fatalf("template order wrong:\n got %v\nwant %v", got, want)
	}
	if cb := tmpl.Transactions[0]; cb.Amount != g.params.Reward(1)+1+50+20+99 || cb.To != g.miner {
		t.Fatalf("coinbase %+v", cb)
	}
	g.mine(tmpl)
	if err := c.CheckBlock(tmpl, g.now); err != nil {
		t.Fatalf("template invalid: %v", err)
	}
	if n := pool.NextNonce(g.people[0].Address()); n != 1 {
		t.Fatalf("next nonce %d, want 1", n)
	}
	pool.Update(g.add(c, tmpl))
	if pool.Len() != 1 || !pool.Has(gapped.ID()) {
		t.Fatalf("after mining: %d pending", pool.Len())
	}
	add(g.pay(0, 3, 10, 1, 1)) // fills the gap
	tmpl = pool.NewBlockTemplate(g.miner, g.now)
	if len(tmpl.Transactions) != 3 {
		t.Fatalf("gap filled: %d transactions", len(tmpl.Transactions))
	}
}

func TestMempoolBoundsAndTemplateLimits(t *testing.T) {
	g := newGen(t, 5, func(p *Params) { p.MaxBlockTxs = 3 })
	c := g.chain()
	pool := NewMempool(c, MempoolOptions{MaxTxs: 4, MaxPerSender: 2})
	for i := range 4 {
		if err := pool.Add(g.pay(i, 4, 1, uint64(i+1), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pool.Add(g.pay(4, 0, 1, 1, 0)); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("full pool: %v", err)
	}
	tmpl := pool.NewBlockTemplate(g.miner, g.now)
	if len(tmpl.Transactions) != 3 {
		t.Fatalf("template has %d transactions, limit 3", len(tmpl.Transactions))
	}
	g.mine(tmpl)
	if err := c.CheckBlock(tmpl, g.now); err != nil {
		t.Fatal(err)
	}
	pool2 := NewMempool(c, MempoolOptions{MaxPerSender: 2})
	for n := range uint64(2) {
		if err := pool2.Add(g.pay(0, 1, 1, 1, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pool2.Add(g.pay(0, 1, 1, 1, 2)); !errors.Is(err, ErrNonceTooHigh) {
		t.Fatalf("third pending from one sender: %v", err)
	}
}

func TestTemplateTimeAfterMedianTimePast(t *testing.T) {
	g := newGen(t, 1)
	c := g.chain()
	blocks := g.branch(g.genesis, 3, nil)
	g.add(c, blocks...)
	pool := NewMempool(c, MempoolOptions{})
	// A clock behind the chain still gives a valid time.
	tmpl := pool.NewBlockTemplate(g.miner, g.params.GenesisTime)
	mtp, _ := c.MedianTimePast(blocks[2].Hash())
	if tmpl.Header.Time != mtp+1 {
		t.Fatalf("template time %d, want %d", tmpl.Header.Time, mtp+1)
	}
	g.mine(tmpl)
	g.add(c, tmpl)
}

// A fee near 2^64 (finding of the consensus review) once made reward plus
// fees overflow: the mempool took the transaction, every template held it,
// and consensus refused every such block, so the node could not mine. Now
// no such fee can be built: no params allow a balance near it, and amounts
// above MaxMoney are refused. The largest fee that can exist is mined like
// any other.
func TestHugeFeeCannotStallMining(t *testing.T) {
	p := TestParams()
	p.Allocations = []Allocation{{Amount: math.MaxUint64 - 1}}
	if err := p.Validate(); !errors.Is(err, ErrBadParams) {
		t.Fatalf("params allowing a balance near 2^64: %v, want ErrBadParams", err)
	}
	whale := testWallet(60)
	var all uint64
	g := newGen(t, 1, func(p *Params) {
		all = MaxMoney - testFund - p.scheduledRewards().Uint64() // the most any balance can hold
		p.Allocations = append(p.Allocations, Allocation{To: whale.Address(), Amount: all})
	})
	c := g.chain()
	pool := NewMempool(c, MempoolOptions{})
	if err := pool.Add(whale.SignTransfer(g.chainID, g.people[0].Address(), 0, math.MaxUint64-1, 0)); !errors.Is(err, ErrOverflow) {
		t.Fatalf("fee near 2^64: %v, want ErrOverflow", err)
	}
	huge := whale.SignTransfer(g.chainID, g.people[0].Address(), 0, all, 0) // all it has, as a fee
	if err := pool.Add(huge); err != nil {
		t.Fatal(err)
	}
	if err := pool.Add(g.pay(0, 0, 1, 5, 0)); err != nil {
		t.Fatal(err)
	}
	tmpl := pool.NewBlockTemplate(g.miner, g.now)
	g.mine(tmpl)
	if err := c.CheckBlock(tmpl, g.now); err != nil {
		t.Fatalf("the template with the largest possible fee is invalid: %v", err)
	}
	pool.Update(g.add(c, tmpl))
	if pool.Len() != 0 || c.Balance(g.miner) != g.params.Reward(1)+all+5 {
		t.Fatalf("after mining: %d pending, miner has %d", pool.Len(), c.Balance(g.miner))
	}
}

// Junk in the mempool (finding of the consensus review): zero-fee transfers
// from keys that were never funded filled the pool for free and locked a
// paying transaction out. Now every transaction pays at least the chain's
// minimum fee (so a never-funded key cannot pay at all, in the pool or in
// a block), and a full pool keeps what pays most: filling it costs fees,
// and a payment that pays more gets in.
func TestMempoolFullOfJunkStillTakesAPayment(t *testing.T) {
	g := newGen(t, 3)
	c := g.chain()
	const size = 100
	pool := NewMempool(c, MempoolOptions{MaxTxs: size})

	never := testWallet(70) // a key that was never funded
	if err := pool.Add(never.SignTransfer(g.chainID, never.Address(), 0, 0, 0)); !errors.Is(err, ErrFeeTooLow) {
		t.Fatalf("free junk: %v, want ErrFeeTooLow", err)
	}
	if err := pool.Add(never.SignTransfer(g.chainID, never.Address(), 0, 1, 0)); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("junk from an unfunded key: %v, want ErrInsufficientFunds", err)
	}
	for fee, want := range map[uint64]ErrorCode{0: ErrFeeTooLow, 1: ErrInsufficientFunds} {
		b := g.next(g.genesis, []Transaction{never.SignTransfer(g.chainID, never.Address(), 0, fee, 0)})
		if _, err := c.AddBlock(b, g.now); !errors.Is(err, want) {
			t.Fatalf("a miner's own junk with fee %d: %v, want %v", fee, err, want)
		}
	}

	// A funded attacker fills the pool at the minimum fee.
	var cost uint64
	for i := range size {
		tx := g.pay(i%2, 2, 0, 1, uint64(i/2))
		if err := pool.Add(tx); err != nil {
			t.Fatalf("junk %d: %v", i, err)
		}
		cost += tx.Fee
	}
	if cost < size*g.params.MinTxFee || cost == 0 {
		t.Fatalf("filling the pool cost %d", cost)
	}
	if err := pool.Add(g.pay(2, 0, 1000, 1, 0)); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("a payment that does not outbid the junk: %v, want ErrMempoolFull", err)
	}
	payment := g.pay(2, 0, 1000, 2, 0)
	if err := pool.Add(payment); err != nil {
		t.Fatalf("a payment outbidding the junk: %v", err)
	}
	if pool.Len() != size || !pool.Has(payment.ID()) {
		t.Fatalf("%d pending; payment in: %v", pool.Len(), pool.Has(payment.ID()))
	}
	// Eviction took a sender's last nonce: no sender is left with a gap.
	for i := range 2 {
		next := c.Account(g.people[i].Address()).Nonce
		if pending := pool.NextNonce(g.people[i].Address()) - next; pending != uint64(len(pendingFrom(pool, g.people[i].Address()))) {
			t.Fatalf("sender %d has a gap in its pending nonces", i)
		}
	}
	tmpl := pool.NewBlockTemplate(g.miner, g.now)
	if tmpl.Transactions[1].ID() != payment.ID() {
		t.Fatal("the payment is not first in the template")
	}
}

func pendingFrom(m *Mempool, a Address) []Transaction {
	var out []Transaction
	for _, tx := range m.Transactions() {
		if tx.From.Address() == a {
			out = append(out, tx)
		}
	}
	return out
}
