package blockchain

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// Growth benchmarks: what a chain's costs do as the chain and the mempool
// grow. Each compares a small and a large case in the same run; .ci/bars
// checks the ratios:
//
//	go test -run '^$' -bench 'Locator|RefuseInvalidHeavier|BlockHandling|ConnectBatch|AddBlockGrowth' -benchtime 2000x .
//
// Long chains are built once per benchmark at a trivial target (two hashes
// a block), so building 100,000 blocks takes seconds. They run only with
// -bench, never in the default test run.

// growthParams is a chain where mining costs nothing.
func growthParams(p *Params) {
	p.InitialTarget = TargetFromBits(1)
	p.PowLimit = TargetFromBits(1)
}

// longChain returns a chain of n empty blocks on g's genesis and its tip.
func longChain(b *testing.B, g *gen, n int) (*Chain, *Block) {
	b.Helper()
	c := g.chain()
	parent := g.genesis
	batch := make([]*Block, 0, 1000)
	for range n {
		parent = g.next(parent, nil)
		if batch = append(batch, parent); len(batch) == cap(batch) {
			if _, err := c.AddBlocks(batch, g.now); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := c.AddBlocks(batch, g.now); err != nil {
		b.Fatal(err)
	}
	if c.Height() != uint64(n) {
		b.Fatalf("chain at %d, want %d", c.Height(), n)
	}
	return c, parent
}

var growthSizes = []int{1_000, 100_000}

// BenchmarkLocator: a block locator at height 100,000 costs at most 3× one
// at 1,000 (it is a few dozen lookups by height).
func BenchmarkLocator(b *testing.B) {
	for _, n := range growthSizes {
		b.Run(fmt.Sprintf("height=%d", n), func(b *testing.B) {
			g := newGen(b, 1, growthParams)
			c, _ := longChain(b, g, n)
			b.ResetTimer()
			for b.Loop() {
				if loc := c.Locator(); len(loc) == 0 {
					b.Fatal("empty locator")
				}
			}
		})
	}
}

// BenchmarkRefuseInvalidHeavier: refusing a block that makes a branch
// heavier than the tip but fails when connected (an overspend) costs at
// most 3× as much on a 100,000-block chain as on a 1,000-block one: the
// best tip is found among a few candidates, not by scanning the tree.
func BenchmarkRefuseInvalidHeavier(b *testing.B) {
	for _, n := range growthSizes {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			g := newGen(b, 1, growthParams)
			c, tip := longChain(b, g, n)
			overspend := g.pay(0, 0, 2*testFund, 1, 0)
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				bad := g.next(tip, []Transaction{overspend}, func(blk *Block) {
					blk.Transactions[0].Amount = uint64(i) // a new block each time
					fixRoot(blk)
				})
				b.StartTimer()
				if _, err := c.AddBlock(bad, g.now); err == nil {
					b.Fatal("overspend accepted")
				}
			}
			if c.Tip().Hash != tip.Hash() {
				b.Fatal("the tip moved")
			}
		})
	}
}

// BenchmarkBlockHandling: a node's work per block (AddBlock, then
// Mempool.Update) with 10,000 unrelated pending transactions is at least
// 0.8× as fast as with an empty pool: Update touches only the senders the
// block touched.
func BenchmarkBlockHandling(b *testing.B) {
	const (
		miners  = 30  // the block's senders
		poolers = 157 // the pool's senders, 64 pending each
	)
	for _, pending := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			g := newGen(b, miners+poolers+1, growthParams)
			c := g.chain()
			pool := NewMempool(c, MempoolOptions{MaxTxs: 20_000})
			sink := miners + poolers // receives every payment: in no one's pool
			for i := range pending {
				if err := pool.Add(g.pay(miners+i%poolers, sink, 1, 1, uint64(i/poolers))); err != nil {
					b.Fatal(err)
				}
			}
			blocks := make([]*Block, b.N)
			parent := g.genesis
			for i := range blocks {
				var txs []Transaction
				for k := range 3 {
					s := (3*i + k) % miners
					txs = append(txs, g.pay(s, sink, 1, 1, uint64((3*i+k)/miners)))
				}
				parent = g.next(parent, txs)
				blocks[i] = parent
			}
			b.ResetTimer()
			for _, blk := range blocks {
				res, err := c.AddBlock(blk, g.now)
				if err != nil {
					b.Fatal(err)
				}
				pool.Update(res)
			}
			b.StopTimer()
			if pool.Len() != pending {
				b.Fatalf("%d pending after the blocks, want %d", pool.Len(), pending)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

// BenchmarkConnectBatch: connecting a batch of 3-transaction blocks
// (AddBlocks, as sync and replay do) on 2 workers is at least 1.6× as fast
// as on 1: signatures are checked across blocks, not one block at a time.
func BenchmarkConnectBatch(b *testing.B) {
	const n = 300
	g := newGen(b, 30, growthParams)
	parent := g.genesis
	blocks := make([]*Block, n)
	for i := range blocks {
		var txs []Transaction
		for k := range 3 {
			s := (3*i + k) % len(g.people)
			txs = append(txs, g.pay(s, (s+1)%len(g.people), 1, 1, uint64((3*i+k)/len(g.people))))
		}
		parent = g.next(parent, txs)
		blocks[i] = parent
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			if workers > runtime.GOMAXPROCS(0) {
				b.Skipf("%d workers on %d cores", workers, runtime.GOMAXPROCS(0))
			}
			for b.Loop() {
				c, err := NewChain(g.params, ChainOptions{VerifyWorkers: workers})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.AddBlocks(blocks, g.now); err != nil || c.Height() != n {
					b.Fatalf("height %d: %v", c.Height(), err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

// BenchmarkAddBlockGrowth: adding a block to a 100,000-block chain takes at
// most 1.2× as long as adding one to a 1,000-block chain.
func BenchmarkAddBlockGrowth(b *testing.B) {
	for _, n := range growthSizes {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			g := newGen(b, 1, growthParams)
			c, tip := longChain(b, g, n)
			blocks := make([]*Block, b.N)
			for i := range blocks {
				tip = g.next(tip, nil)
				blocks[i] = tip
			}
			b.ResetTimer()
			for _, blk := range blocks {
				if _, err := c.AddBlock(blk, g.now); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

// BenchmarkDeepReorg: the chain keeps no undo data (a block's effect is
// inverted from its body), so a reorganization of depth d reads d bodies
// back from the store and disconnects them, then connects the new branch
// (checking its signatures). It reports the whole reorganization's time per
// block of depth, with the memory store and with the file store (bodies on
// disk, normally in the page cache): the difference is what reading bodies
// back costs.
func BenchmarkDeepReorg(b *testing.B) {
	const depth = 1000
	g := newGen(b, 10, growthParams)
	side := smallChain(b, g, depth)
	g.step++
	heavy := smallChain(b, g, depth+1)
	for _, kind := range []string{"mem", "file"} {
		b.Run("store="+kind, func(b *testing.B) {
			var total time.Duration
			b.StopTimer()
			for range b.N {
				var store Store = &MemStore{}
				if kind == "file" {
					fs, err := OpenFileStore(b.TempDir(), FileStoreOptions{})
					if err != nil {
						b.Fatal(err)
					}
					store = fs
				}
				c, err := NewChain(g.params, ChainOptions{Store: store})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.AddBlocks(side, g.now); err != nil {
					b.Fatal(err)
				}
				if _, err := c.AddBlocks(heavy[:depth], g.now); err != nil { // equal work: no reorg yet
					b.Fatal(err)
				}
				start := time.Now()
				res, err := c.AddBlock(heavy[depth], g.now)
				total += time.Since(start)
				if err != nil || len(res.Disconnected) != depth {
					b.Fatalf("%v: %d disconnected", err, len(res.Disconnected))
				}
				store.Close()
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N*depth), "µs/block-of-depth")
		})
	}
}
