package blockchain

import (
	"errors"
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
