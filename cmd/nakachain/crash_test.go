package main

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

// TestCrashKeepsStoredBlocks kills a mining node with SIGKILL at random
// moments, 20 times, and checks after each kill, by opening the data
// directory's store itself, that every block the process had reported
// stored is on the chain, below or at its tip, and that the tip is the
// one before or a descendant of it; and that the next process starts from
// exactly that tip.
func TestCrashKeepsStoredBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills 20 processes")
	}
	bin := nakachainBinary(t)
	datadir := filepath.Join(t.TempDir(), "data")
	miner := blockchain.WalletFromSeed([32]byte{1}).Address()
	params := blockchain.TestParams()
	const kills = 20
	rng := rand.New(rand.NewPCG(20, 11)) // the kill moments: the same every run
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	var reported []storedBlock // every block any process reported stored
	last := params.Genesis()
	lastTip := storedBlock{0, last.Hash()}
	for i := range kills {
		p := startProc(t, "node", bin, "node", "-datadir", datadir, "-network", "test", "-listen", "",
			"-mine", "-miner", miner.String(), "-workers", "1", "-min-block-interval", "10ms",
			"-log-format", "json")
		// Kill it at a random moment: during its start, or while it mines
		// and stores blocks.
		delay := time.Duration(rng.IntN(400)) * time.Millisecond
		select {
		case <-time.After(delay):
		case <-p.done:
			t.Fatalf("run %d: the node exited by itself:\n%s", i, p.tail(20))
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		p.kill()
		lines, _ := p.snapshot()
		for _, l := range lines {
			if l.msg() == "chain opened" {
				if got := (storedBlock{l.uint("height"), l.hash("hash")}); got != lastTip {
					t.Fatalf("run %d started at tip %d %s, want the tip the store held after the last kill, %d %s",
						i, got.height, got.hash.Short(12), lastTip.height, lastTip.hash.Short(12))
				}
			}
		}
		reported = append(reported, stored(lines)...)
		tip := checkStore(t, datadir, params, reported, lastTip)
		t.Logf("run %d: killed after %v; %d blocks reported stored in all; tip %d %s",
			i, delay, len(reported), tip.height, tip.hash.Short(12))
		lastTip = tip
	}
	if len(reported) < kills {
		t.Errorf("only %d blocks were reported stored in %d runs: the test did not exercise the store", len(reported), kills)
	}
}

// checkStore opens the store in datadir as a node would and checks that
// each reported block is on its chain, at or below the tip, and that the
// tip is prev or a descendant of it. It returns the tip.
func checkStore(t *testing.T, datadir string, params blockchain.Params, reported []storedBlock, prev storedBlock) storedBlock {
	t.Helper()
	store, err := blockchain.OpenFileStore(blocksDir(datadir), blockchain.FileStoreOptions{})
	if err != nil {
		t.Fatalf("opening the store after a kill: %v", err)
	}
	defer store.Close()
	chain, err := blockchain.NewChain(params, blockchain.ChainOptions{Store: store})
	if err != nil {
		t.Fatalf("replaying the store after a kill: %v", err)
	}
	tip := chain.Tip()
	if !chain.IsAncestor(prev.hash, tip.Hash) {
		t.Fatalf("the tip after the kill, %d %s, does not descend from the tip before, %d %s",
			tip.Height, tip.Hash.Short(12), prev.height, prev.hash.Short(12))
	}
	for _, b := range reported {
		if !chain.HasBlock(b.hash) || !chain.IsAncestor(b.hash, tip.Hash) {
			t.Fatalf("block %d %s was reported stored but is not on the chain after the kill (tip %d %s)",
				b.height, b.hash.Short(12), tip.Height, tip.Hash.Short(12))
		}
		if hdr, _ := chain.HeaderByHash(b.hash); hdr.Height != b.height {
			t.Fatalf("block %s was reported at height %d, but it is at %d", b.hash.Short(12), b.height, hdr.Height)
		}
	}
	return storedBlock{tip.Height, tip.Hash}
}

// TestSignalStopsCleanly stops a mining node with SIGINT, then with
// SIGTERM: each time it exits with status 0 after "shutdown complete",
// whose tip is the last block it reported stored and the tip its store
// holds.
func TestSignalStopsCleanly(t *testing.T) {
	bin := nakachainBinary(t)
	datadir := filepath.Join(t.TempDir(), "data")
	miner := blockchain.WalletFromSeed([32]byte{2}).Address()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prev := storedBlock{0, blockchain.TestParams().Genesis().Hash()}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		p := startProc(t, "node", bin, "node", "-datadir", datadir, "-network", "test", "-listen", "127.0.0.1:0",
			"-mine", "-miner", miner.String(), "-workers", "1", "-min-block-interval", "20ms", "-log-format", "json")
		err := p.waitFor(ctx, 10*time.Second, "3 blocks", func(lines []logLine) bool { return len(stored(lines)) >= 3 })
		if err != nil {
			t.Fatal(err)
		}
		if err := p.signal(sig, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if p.waitErr != nil {
			t.Fatalf("after %v: %v\n%s", sig, p.waitErr, p.tail(10))
		}
		lines, _ := p.snapshot()
		last := lines[len(lines)-1]
		blocks := stored(lines)
		if last.msg() != "shutdown complete" || last.hash("hash") != blocks[len(blocks)-1].hash {
			t.Fatalf("after %v the last line is %v, want \"shutdown complete\" at the last block stored, %s",
				sig, last, blocks[len(blocks)-1].hash.Short(12))
		}
		tip := checkStore(t, datadir, blockchain.TestParams(), blocks, prev)
		if tip.hash != last.hash("hash") {
			t.Fatalf("after %v the store's tip is %s, not the tip of \"shutdown complete\"", sig, tip.hash.Short(12))
		}
		prev = tip
	}
}
