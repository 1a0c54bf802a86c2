package blockchain

import (
	"crypto/ed25519"
	"fmt"
	"runtime"
	"testing"
)

// Validation benchmarks:
//
//	go test -run XXX -bench 'ValidateBlock|ConnectChain' -benchmem
//
// Bar (checked by .ci/bars): ValidateBlock/workers=N reaches at least 0.8 × N ×
// the txs/s of ValidateBlock/ed25519.Verify, a plain single-core loop over
// the same signatures in the same run.

// bigBlock returns a chain and a mined block of n transfers that is valid
// on its tip: 100 senders, funded in genesis, sending n/100 each.
func bigBlock(b *testing.B, n int, workers int) (*Chain, *Block, *gen) {
	b.Helper()
	const senders = 100
	g := newGen(b, senders)
	c, err := NewChain(g.params, ChainOptions{VerifyWorkers: workers})
	if err != nil {
		b.Fatal(err)
	}
	txs := make([]Transaction, 0, n)
	for i := range n {
		s := i % senders
		txs = append(txs, g.pay(s, (s+1)%senders, 10, 1, uint64(i/senders)))
	}
	blk := g.next(g.genesis, txs)
	if err := c.CheckBlock(blk, g.now); err != nil {
		b.Fatal(err)
	}
	return c, blk, g
}

func BenchmarkValidateBlock(b *testing.B) {
	const n = 1000
	b.Run("ed25519.Verify", func(b *testing.B) {
		c, blk, _ := bigBlock(b, n, 1)
		msgs := make([][]byte, n)
		for i, tx := range blk.Transactions[1:] {
			msgs[i] = tx.SigningMessage(c.ChainID())
		}
		b.ResetTimer()
		for b.Loop() {
			for i, tx := range blk.Transactions[1:] {
				if !ed25519.Verify(tx.From[:], msgs[i], tx.Signature[:]) {
					b.Fatal("bad signature")
				}
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "txs/s")
	})
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			if workers > runtime.GOMAXPROCS(0) {
				b.Skipf("%d workers on %d cores", workers, runtime.GOMAXPROCS(0))
			}
			c, blk, g := bigBlock(b, n, workers)
			b.ResetTimer()
			for b.Loop() {
				if err := c.CheckBlock(blk, g.now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "txs/s")
		})
	}
}

// smallChain returns n mined blocks on the genesis of g, each with a
// coinbase and one transfer.
func smallChain(tb testing.TB, g *gen, n int) []*Block {
	tb.Helper()
	return g.branch(g.genesis, n, func(i int) []Transaction {
		return []Transaction{g.pay(i%len(g.people), (i+1)%len(g.people), 1, 1, uint64(i/len(g.people)))}
	})
}

func BenchmarkConnectChain(b *testing.B) {
	const n = 2000
	g := newGen(b, 10)
	blocks := smallChain(b, g, n)
	b.ResetTimer()
	for b.Loop() {
		c := g.chain()
		for _, blk := range blocks {
			if _, err := c.AddBlock(blk, g.now); err != nil {
				b.Fatal(err)
			}
		}
		if c.Height() != n {
			b.Fatal("chain incomplete")
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "blocks/s")
}
