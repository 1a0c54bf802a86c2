package blockchain

import (
	"runtime"
	"testing"
	"time"
)

// File store benchmarks:
//
//	go test -run '^$' -bench 'Reopen|HeapPerBlock' -benchtime 1x .
//
// Bars: BenchmarkReopen's x-connect (blocks/s of reopening a chain from a
// file store, over blocks/s of connecting the same blocks on a fresh
// memory chain) at least 4; BenchmarkHeapPerBlock's B/block at most 1024
// (aim: 500).

// benchStore stores n blocks of 3 transactions each (a coinbase and two
// transfers), mined at a trivial target, in a file store in a temporary
// directory, and returns the generator, the blocks and the directory.
func benchStore(b *testing.B, n int) (*gen, []*Block, string) {
	b.Helper()
	g := newGen(b, 10, func(p *Params) { p.InitialTarget = TargetFromBits(1) })
	blocks := g.branch(g.genesis, n, transfers(g, 0, func(int) int { return 2 }))
	dir := b.TempDir()
	s, err := OpenFileStore(dir, FileStoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		if _, err := s.Append(blocks[i:min(i+1000, n)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return g, blocks, dir
}

// BenchmarkReopen measures reopening a node's chain: opening a file store
// of 10,000 blocks and replaying it into a new chain (NewChain), against
// connecting the same blocks, signatures checked, on a fresh memory chain
// (AddBlock one at a time, as BenchmarkConnectChain does).
func BenchmarkReopen(b *testing.B) {
	const n = 10_000
	g, blocks, dir := benchStore(b, n)
	var replay, connect time.Duration
	runs := 0
	for b.Loop() {
		start := time.Now()
		s, err := OpenFileStore(dir, FileStoreOptions{})
		if err != nil {
			b.Fatal(err)
		}
		c, err := NewChain(g.params, ChainOptions{Store: s})
		if err != nil {
			b.Fatal(err)
		}
		replay += time.Since(start)

		start = time.Now()
		fresh := g.chain()
		for _, blk := range blocks {
			if _, err := fresh.AddBlock(blk, g.now); err != nil {
				b.Fatal(err)
			}
		}
		connect += time.Since(start)

		if c.Height() != n || fresh.Height() != n || c.Tip().Hash != fresh.Tip().Hash {
			b.Fatalf("heights %d and %d, want %d", c.Height(), fresh.Height(), n)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		runs++
	}
	replayRate := float64(n*runs) / replay.Seconds()
	connectRate := float64(n*runs) / connect.Seconds()
	b.ReportMetric(replayRate, "reopen-blocks/s")
	b.ReportMetric(connectRate, "connect-blocks/s")
	b.ReportMetric(replayRate/connectRate, "x-connect")
}

// BenchmarkHeapPerBlock measures the heap a chain reopened on a file store
// of 100,000 blocks (3 transactions each) holds, per block: HeapAlloc
// after a GC, before opening the store and after NewChain replayed it.
func BenchmarkHeapPerBlock(b *testing.B) {
	const n = 100_000
	g, _, dir := benchStore(b, n)
	var perBlock float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := OpenFileStore(dir, FileStoreOptions{})
		if err != nil {
			b.Fatal(err)
		}
		c, err := NewChain(g.params, ChainOptions{Store: s})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if c.Height() != n {
			b.Fatalf("height %d, want %d", c.Height(), n)
		}
		perBlock = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
		runtime.KeepAlive(c)
		runtime.KeepAlive(s)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perBlock, "B/block")
}
