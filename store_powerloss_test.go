package blockchain

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// powerLoss is a scenario for the power-loss tests: blocks appended in
// batches to a file store on a strict memory file system, which a crash
// interrupts.
type powerLoss struct {
	g      *gen
	blocks []*Block
	// wrap turns the memory file system into the one the store uses:
	// itself, or a broken variant.
	wrap func(fileSystem) fileSystem
}

const (
	powerLossDir     = "/data/blocks"
	powerLossSegSize = 1500 // two or three records a segment: many segments
)

func (p *powerLoss) open(fsys fileSystem) (*FileStore, error) {
	return openFileStore(p.wrap(fsys), powerLossDir, FileStoreOptions{SegmentSize: powerLossSegSize})
}

// run opens a store on m and appends the blocks in batches until they are
// all stored or an append fails (the crash). After each append that
// returns nil, it calls acked with the number of blocks acknowledged so
// far. It returns that number.
func (p *powerLoss) run(m *memFS, acked func(n int)) int {
	s, err := p.open(m)
	if err != nil {
		return 0
	}
	sizes := []int{1, 2, 3, 1, 4, 2, 5}
	n := 0
	for k := 0; n < len(p.blocks); k++ {
		batch := p.blocks[n:min(n+sizes[k%len(sizes)], len(p.blocks))]
		if _, err := s.Append(batch); err != nil {
			return n
		}
		n += len(batch)
		if acked != nil {
			acked(n)
		}
	}
	return n
}

// check opens the store left on disk by a crash (img) after acked blocks
// had been acknowledged. It returns why the outcome is wrong: the store
// does not open, an acknowledged block is missing, or what it holds is not
// a prefix of the blocks in order. With a correct store it then checks
// that a chain rebuilds on it, and that it takes the missing blocks and
// reopens with all of them.
func (p *powerLoss) check(t *testing.T, img *memFS, acked int, deep bool) string {
	t.Helper()
	s, err := p.open(img)
	if err != nil {
		return fmt.Sprintf("store does not open: %v", err)
	}
	n := 0
	err = s.Replay(func(loc uint64, b *Block) error {
		if n >= len(p.blocks) || b.Hash() != p.blocks[n].Hash() {
			return fmt.Errorf("replayed block %d is not block %d", n, n)
		}
		n++
		return nil
	})
	switch {
	case err != nil:
		return fmt.Sprintf("replay: %v", err)
	case n < acked:
		return fmt.Sprintf("%d blocks survive, %d were acknowledged", n, acked)
	case s.Len() != n:
		return fmt.Sprintf("Len %d, replayed %d", s.Len(), n)
	}
	if !deep {
		return ""
	}
	c, err := NewChain(p.g.params, ChainOptions{Store: s})
	if err != nil {
		return fmt.Sprintf("chain on the store: %v", err)
	}
	if c.Height() != uint64(n) {
		return fmt.Sprintf("chain height %d on %d stored blocks", c.Height(), n)
	}
	if _, err := s.Append(p.blocks[n:]); err != nil {
		return fmt.Sprintf("appending after recovery: %v", err)
	}
	s.Close()
	s, err = p.open(img)
	if err != nil {
		return fmt.Sprintf("second reopen: %v", err)
	}
	if s.Len() != len(p.blocks) {
		return fmt.Sprintf("second reopen holds %d blocks, want %d", s.Len(), len(p.blocks))
	}
	s.Close()
	return ""
}

// sweep runs the scenario with a crash at every mutating file-system
// operation, and with a snapshot of the disk after every acknowledged
// append, each in strict mode (only synced data survives) and in random
// mode (a seeded random part of the unsynced data survives too). In random
// mode it also crashes the recovery itself, at each of its first
// operations, and checks the store after that second crash. It returns the
// failures found.
func (p *powerLoss) sweep(t *testing.T, deep bool) []string {
	t.Helper()
	var failures []string
	fail := func(format string, args ...any) {
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	// Crash images taken after each acknowledged append.
	m := newMemFS()
	p.run(m, func(acked int) {
		for _, strict := range []bool{true, false} {
			img := m.crashImage(strict, rand.New(rand.NewPCG(uint64(acked), 1)))
			if why := p.check(t, img, acked, deep); why != "" {
				fail("after append %d (strict %v): %s", acked, strict, why)
			}
		}
	})
	total := m.opCount()
	if total < 50 {
		t.Fatalf("the scenario makes only %d file-system operations", total)
	}
	t.Logf("%d file-system operations in the scenario", total)
	// Crashes at every operation, writes cut short at random.
	for crashAt := 1; crashAt <= total; crashAt++ {
		for _, strict := range []bool{true, false} {
			seed := uint64(crashAt)
			m := newMemFS()
			m.scheduleCrash(crashAt, seed)
			acked := p.run(m, nil)
			rng := rand.New(rand.NewPCG(seed, 2))
			img := m.crashImage(strict, rng)
			if why := p.check(t, img.crashImage(true, nil), acked, deep); why != "" {
				fail("crash at operation %d of %d (strict %v), %d blocks acknowledged: %s", crashAt, total, strict, acked, why)
				continue
			}
			if strict || !deep {
				continue
			}
			for again := 1; again <= 4; again++ {
				m2 := img.crashImage(true, nil) // a copy
				m2.scheduleCrash(again, seed+uint64(again))
				p.open(m2)
				img2 := m2.crashImage(false, rng)
				if why := p.check(t, img2, acked, deep); why != "" {
					fail("crash at operation %d, then at operation %d of the recovery: %s", crashAt, again, why)
				}
			}
		}
	}
	return failures
}

// TestStorePowerLoss crashes a file store at every file-system operation of
// a workload of batched appends across many segments, and after every
// append: every block whose Append returned nil survives, the store
// opens, holds a prefix of the blocks in order, rebuilds the chain, and
// takes the lost blocks again.
func TestStorePowerLoss(t *testing.T) {
	g, blocks := storeBlocks(t, 40, oneToThree)
	p := &powerLoss{g: g, blocks: blocks, wrap: func(f fileSystem) fileSystem { return f }}
	for _, f := range p.sweep(t, true) {
		t.Error(f)
	}
}

// TestStorePowerLossCatchesMissingSync runs the same sweep against stores
// that skip their file syncs, or their directory syncs (all of them, or
// those after opening: the directory syncs of new segments): the sweep
// must find lost blocks, or it would prove nothing about the real store.
func TestStorePowerLossCatchesMissingSync(t *testing.T) {
	g, blocks := storeBlocks(t, 40, oneToThree)
	for _, c := range []struct {
		name string
		fs   brokenFS
	}{
		{"no file sync", brokenFS{noFileSync: true}},
		{"no directory sync", brokenFS{noDirSync: true}},
		{"no directory sync when a segment rolls over", brokenFS{noDirSync: true, dirSyncsKept: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &powerLoss{g: g, blocks: blocks, wrap: func(f fileSystem) fileSystem {
				b := c.fs
				b.fileSystem = f
				b.dirSyncs = new(int)
				return &b
			}}
			failures := p.sweep(t, false)
			if len(failures) == 0 {
				t.Fatal("the power-loss sweep found no lost block in a store that skips syncs")
			}
			t.Logf("%d failures found, as it should; the first: %s", len(failures), failures[0])
		})
	}
}
