// Command 04-proof-of-work shows proof-of-work (section 4 of the Bitcoin
// paper): the timestamp server's signature is replaced by work that anyone
// can do and anyone can check with one hash, so rewriting an old block
// means redoing its work and the work of every block after it. Run it from
// the repository root with go run ./examples/04-proof-of-work.
//
// In stage 3 a trusted server signed each block, and the server could
// re-sign a rewritten history. Now a block is valid only if its hash, read
// as a number, is at most a target (blockchain.Header.CheckProofOfWork): the
// hash must start with a number of zero bits. The only way to find such a
// block is to try nonce after nonce (blockchain.Mine), about 2^bits hashes
// on average. The example mines one block per difficulty, from -from bits
// up to -to bits, and prints the work each took. Then Mallory rewrites a
// transfer in an old block, finds the checks broken, re-mines that block and
// every block after it, and the example counts the hashes it cost her.
//
//	go run ./examples/04-proof-of-work
//	go run ./examples/04-proof-of-work -from 16 -to 28 -step 4
//	go run ./examples/04-proof-of-work -workers 1   # same nonces on every run
//
// Every extra bit doubles the expected work: a 28-bit block takes about 2^28,
// some 270 million, hashes, seconds to minutes depending on the machine.
// Press Ctrl-C to stop early.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"runtime"
	"slices"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

func main() { demo.Main("04-proof-of-work", run) }

// reward is what a block's miner pays itself (section 6: the incentive),
// and fee what every transfer adds to it.
const (
	reward = 50
	fee    = 1
)

// run tells the story, writing to w. args are the command-line flags.
func run(ctx context.Context, w io.Writer, args []string) error {
	cfg, err := parseFlags(w, args)
	if cfg == nil {
		return err // a bad flag, or -help
	}
	fmt.Fprintln(w, "Stage 4: proof of work replaces the server's signature")
	fmt.Fprintln(w)
	people := newBook("alice", "bob", "carol", "mallory", "miner")
	honest, err := mineHonestChain(ctx, w, cfg, people)
	if err != nil {
		return err
	}
	if err := checkWork(w, cfg, honest); err != nil {
		return err
	}
	forged := malloryRewrites(w, cfg, people, honest)
	attack, err := malloryRemines(ctx, w, cfg, forged)
	if err != nil {
		return err
	}
	compareWork(w, cfg, honest, attack)
	return nil
}

// config holds the flags.
type config struct {
	sched             schedule
	workers, tamperAt int
}

// parseFlags parses args. It returns a nil config for -help or an error.
func parseFlags(w io.Writer, args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("04-proof-of-work", flag.ContinueOnError)
	from := fs.Int("from", 8, "difficulty of the first block, in leading zero bits")
	to := fs.Int("to", 20, "difficulty of the last block, in leading zero bits")
	step := fs.Int("step", 2, "bits added from one block to the next")
	fs.IntVar(&c.workers, "workers", 0, "mining goroutines (0 means one per CPU)")
	fs.IntVar(&c.tamperAt, "tamper", 1, "height of the block Mallory rewrites")
	if ok, err := demo.ParseFlags(fs, w, args); !ok {
		return nil, err
	}
	if *from < 1 || *to < *from || *to > 64 || *step < 1 {
		return nil, demo.Usagef("need 1 <= -from <= -to <= 64 and -step >= 1, not -from %d -to %d -step %d", *from, *to, *step)
	}
	c.sched = schedule{from: *from, step: *step, n: (*to-*from) / *step + 1}
	switch n := c.sched.n; {
	case n < 3:
		return nil, demo.Usagef("-from %d -to %d -step %d makes %d blocks; the story needs at least 3", *from, *to, *step, n)
	case c.tamperAt < 1 || c.tamperAt > n-2:
		return nil, demo.Usagef("-tamper must be between 1 and %d (a block with one after it), not %d", n-2, c.tamperAt)
	}
	if c.workers < 1 {
		c.workers = runtime.GOMAXPROCS(0)
	}
	return &c, nil
}

// mined is a chain and what mining each of its blocks cost.
type mined struct {
	blocks []blockchain.Block
	cost   []stats
}

// mineHonestChain mines the chain, one block per difficulty of the
// schedule, and prints each block's work. The genesis block holds the
// starting balances and is mined like any other; its hash is the chain ID
// every transfer is signed for. Each later block first pays its miner the
// reward plus the fees of its two transfers, then carries the transfers.
// Mallory pays Bob 30 for a bicycle in block -tamper.
func mineHonestChain(ctx context.Context, w io.Writer, cfg *config, people *book) (*mined, error) {
	explainTargets(w, cfg)
	clock := demo.FixedClock(time.Date(2009, 1, 3, 18, 15, 5, 0, time.UTC), 10*time.Minute)
	var opening []blockchain.Transaction
	for _, name := range []string{"alice", "bob", "carol", "mallory"} {
		opening = append(opening, blockchain.NewCoinbase(people.Address(name), 100, 0))
	}
	printHeading(w)
	c := &mined{}
	var prev, chainID blockchain.Hash
	for height := range cfg.sched.n {
		txs := opening
		if height > 0 {
			txs = people.blockTransfers(chainID, height, height == cfg.tamperAt)
		}
		b := newBlock(uint64(height), prev, cfg.sched.bits(height), clock(), txs)
		s, err := mineBlock(ctx, &b, cfg.workers)
		if err != nil {
			return nil, err
		}
		c.blocks, c.cost = append(c.blocks, b), append(c.cost, s)
		printRow(w, b, s)
		prev, chainID = b.Hash(), c.blocks[0].Hash()
	}
	total := sum(c.cost)
	fmt.Fprintf(w, "Mining took %s hashes and %s in all.\n", demo.Commas(total.hashes), round(total.took))
	fmt.Fprintln(w)
	return c, nil
}

// explainTargets says what the mining below does. A block is valid when its
// hash meets the target in its header. Here the target tightens by -step
// bits per block, to show the cost of each extra bit. (A real chain
// retargets so that blocks keep coming every ten minutes or so, whatever the
// miners' speed.)
func explainTargets(w io.Writer, cfg *config) {
	fmt.Fprintf(w, "Mining %d blocks from %d to %d bits of difficulty with %d workers.\n",
		cfg.sched.n, cfg.sched.from, cfg.sched.bits(cfg.sched.n-1), cfg.workers)
	fmt.Fprintln(w, "A hash meets b bits when it starts with b zero bits: one try in 2^b succeeds.")
	if cfg.workers > 1 {
		fmt.Fprintln(w, "Worker k of n tries nonces k, k+n, k+2n...: whichever finds one first wins,")
		fmt.Fprintln(w, "and hashes tried counts every worker's.")
	}
	fmt.Fprintln(w)
}

// checkWork checks the proof of work of every block: one hash each,
// however hard the block was to find.
func checkWork(w io.Writer, cfg *config, honest *mined) error {
	start := time.Now()
	for _, b := range honest.blocks {
		if err := b.Header.CheckProofOfWork(); err != nil {
			return err
		}
	}
	took := time.Since(start)
	last := len(honest.blocks) - 1
	fmt.Fprintf(w, "Checking the proof of work of all %d blocks took %s: one hash each.\n", len(honest.blocks), round(took))
	fmt.Fprintf(w, "The last block alone took %s hashes and %s to mine.\n", demo.Commas(honest.cost[last].hashes), round(honest.cost[last].took))
	printCheck(w, "The whole chain (work, targets, Merkle roots, links):", verifyChain(honest.blocks, cfg.sched))
	fmt.Fprintln(w)
	return nil
}

// malloryRewrites has Mallory rewrite her payment to Bob, as in stage 3,
// in a copy of the chain, and recompute the Merkle root. It returns her
// forged chain, whose checks fail.
func malloryRewrites(w io.Writer, cfg *config, people *book, honest *mined) []blockchain.Block {
	t, chainID := cfg.tamperAt, honest.blocks[0].Hash()
	fmt.Fprintf(w, "Mallory rewrites block %d so that her 30 went to herself instead of to Bob.\n", t)
	forged := cloneChain(honest.blocks)
	forged[t].Transactions[1] = people.Wallet("mallory").SignTransfer(chainID, people.Address("mallory"), 30, fee, 0)
	printCheck(w, "Check after swapping the transfer:", verifyChain(forged, cfg.sched))
	forged[t].Header.MerkleRoot = forged[t].ComputeMerkleRoot()
	problems := verifyChain(forged, cfg.sched)
	printCheck(w, "Check after recomputing the Merkle root:", problems)
	if len(problems) > 0 && errors.Is(problems[0], blockchain.ErrBadProofOfWork) {
		fmt.Fprintf(w, "The new header has a new hash, which misses block %d's target, and block %d\n", t, t+1)
		fmt.Fprintln(w, "still links to the old hash.")
	} else {
		fmt.Fprintf(w, "By luck (one chance in 2^%d) the new hash still meets block %d's target,\n", cfg.sched.bits(t), t)
		fmt.Fprintf(w, "but block %d still links to the old hash.\n", t+1)
	}
	fmt.Fprintf(w, "There is no key to steal this time: Mallory has to redo the work of block %d\n", t)
	fmt.Fprintln(w, "and of every block after it, since each must link to the one she re-mined.")
	fmt.Fprintln(w)
	return forged
}

// malloryRemines re-mines the forged block and every block after it, each
// linked to the one before, and checks her chain.
func malloryRemines(ctx context.Context, w io.Writer, cfg *config, forged []blockchain.Block) ([]stats, error) {
	t := cfg.tamperAt
	fmt.Fprintf(w, "Mallory re-mines blocks %d to %d:\n", t, len(forged)-1)
	printHeading(w)
	attack := make([]stats, 0, len(forged)-t)
	for i := t; i < len(forged); i++ {
		forged[i].Header.PrevHash = forged[i-1].Hash()
		forged[i].Header.MerkleRoot = forged[i].ComputeMerkleRoot()
		s, err := mineBlock(ctx, &forged[i], cfg.workers)
		if err != nil {
			return nil, err
		}
		attack = append(attack, s)
		printRow(w, forged[i], s)
	}
	printCheck(w, "Check of Mallory's chain:", verifyChain(forged, cfg.sched))
	fmt.Fprintln(w)
	return attack, nil
}

// compareWork sets what Mallory spent beside what the honest miners spent
// and what the targets demand.
func compareWork(w io.Writer, cfg *config, honest *mined, attack []stats) {
	t, last := cfg.tamperAt, len(honest.blocks)-1
	expected := new(big.Int)
	for _, b := range honest.blocks[t:] {
		tg, _ := b.Header.Target()
		expected.Add(expected, tg.Work())
	}
	fmt.Fprintf(w, "The work blocks %d to %d demand: about %s hashes on average.\n", t, last, demo.Commas(expected))
	fmt.Fprintf(w, "  honest miners spent %14s hashes\n", demo.Commas(sum(honest.cost[t:]).hashes))
	fmt.Fprintf(w, "  Mallory re-mined with %12s hashes\n", demo.Commas(sum(attack).hashes))
	fmt.Fprintln(w, "Rewriting history costs as much work as writing it did (each count is luck")
	fmt.Fprintln(w, "around the same average), and the deeper the block, the more blocks must be")
	fmt.Fprintln(w, "redone. Meanwhile the honest miners keep adding blocks; section 11 of the")
	fmt.Fprintln(w, "paper shows that her chance of ever catching up falls exponentially with the")
	fmt.Fprintln(w, "number of blocks she is behind.")
}

// schedule is the difficulty of each block: from bits at height 0, then
// step more per block.
type schedule struct{ from, step, n int }

func (s schedule) bits(height int) int { return s.from + height*s.step }

// newBlock returns an unmined block at height after prev, with a target
// of bits leading zero bits.
func newBlock(height uint64, prev blockchain.Hash, bits int, t time.Time, txs []blockchain.Transaction) blockchain.Block {
	b := blockchain.Block{
		Header: blockchain.Header{
			Version:  blockchain.HeaderVersion,
			Height:   height,
			PrevHash: prev,
			Time:     t.UnixNano(),
			Bits:     blockchain.TargetFromBits(bits).Compact(),
		},
		Transactions: txs,
	}
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	return b
}

// stats is the cost of mining one or more blocks.
type stats struct {
	hashes uint64
	took   time.Duration
}

func sum(s []stats) stats {
	var t stats
	for _, x := range s {
		t.hashes += x.hashes
		t.took += x.took
	}
	return t
}

// mineBlock finds a nonce for b with the library's miner.
func mineBlock(ctx context.Context, b *blockchain.Block, workers int) (stats, error) {
	start := time.Now()
	n, err := blockchain.Mine(ctx, &b.Header, workers)
	s := stats{hashes: n, took: max(time.Since(start), time.Nanosecond)}
	if err != nil {
		return s, fmt.Errorf("mining block %d: %w", b.Header.Height, err)
	}
	return s, nil
}

// verifyChain returns every problem it finds in chain, in order; none means
// the chain is valid. Besides each block's proof of work it checks that the
// block asks for as much work as the schedule demands: otherwise a forger
// would simply mine at an easy target.
func verifyChain(chain []blockchain.Block, sched schedule) []error {
	var problems []error
	for i, b := range chain {
		if err := b.CheckMerkleRoot(); err != nil {
			problems = append(problems, fmt.Errorf("block %d: %w", i, err))
		}
		if want := blockchain.TargetFromBits(sched.bits(i)).Compact(); b.Header.Bits != want {
			problems = append(problems, fmt.Errorf("block %d: %w: bits %#08x, the chain demands %#08x", i, blockchain.ErrBadTarget, b.Header.Bits, want))
		}
		if err := b.Header.CheckProofOfWork(); err != nil {
			problems = append(problems, fmt.Errorf("block %d: %w", i, err))
		}
		switch {
		case b.Header.Height != uint64(i):
			problems = append(problems, fmt.Errorf("block %d: %w: it claims height %d", i, blockchain.ErrBadHeight, b.Header.Height))
		case i == 0 && !b.Header.PrevHash.IsZero():
			problems = append(problems, fmt.Errorf("block 0: %w: the first block links to %s", errBrokenLink, b.Header.PrevHash.Short(16)))
		case i > 0 && b.Header.PrevHash != chain[i-1].Hash():
			problems = append(problems, fmt.Errorf("block %d: %w to block %d: it records previous hash %s, but block %d hashes to %s",
				i, errBrokenLink, i-1, b.Header.PrevHash.Short(16), i-1, chain[i-1].Hash().Short(16)))
		}
	}
	return problems
}

// errBrokenLink reports a block whose previous-block hash is not the hash of
// the block before it.
var errBrokenLink = errors.New("broken hash link")

// printCheck prints the outcome of verifyChain.
func printCheck(w io.Writer, what string, problems []error) {
	if len(problems) == 0 {
		fmt.Fprintln(w, what, "ok")
		return
	}
	fmt.Fprintln(w, what, "FAILED")
	for _, p := range problems {
		fmt.Fprintln(w, "    "+p.Error())
	}
}

func printHeading(w io.Writer) {
	fmt.Fprintf(w, "  %6s %4s %20s %-16s %14s %10s %11s\n", "height", "bits", "nonce", "hash", "hashes tried", "time", "rate")
}

func printRow(w io.Writer, b blockchain.Block, s stats) {
	tg, _ := b.Header.Target()
	bits := tg.ZeroBits() // the b of "starts with b zero bits"
	fmt.Fprintf(w, "  %6d %4d %20d %-16s %14s %10s %11s\n",
		b.Header.Height, bits, b.Header.Nonce, b.Hash().Short(16), demo.Commas(s.hashes), round(s.took), rate(s))
}

// rate formats hashes per second with a unit that keeps it readable.
func rate(s stats) string {
	r := float64(s.hashes) / s.took.Seconds()
	for _, unit := range []string{"H/s", "kH/s", "MH/s"} {
		if r < 1000 {
			return fmt.Sprintf("%.1f %s", r, unit)
		}
		r /= 1000
	}
	return fmt.Sprintf("%.1f GH/s", r)
}

// round keeps three significant digits of d.
func round(d time.Duration) time.Duration {
	r := time.Duration(1)
	for d >= 1000*r {
		r *= 10
	}
	return d.Round(r)
}

// cloneChain returns a deep copy of chain, to tamper with.
func cloneChain(chain []blockchain.Block) []blockchain.Block {
	c := slices.Clone(chain)
	for i := range c {
		c[i].Transactions = slices.Clone(c[i].Transactions)
	}
	return c
}

// book names the example's wallets and counts each person's transfers for
// their nonces. Each name's wallet comes from a seed derived from the name
// (see examples/internal/demo), so every run, and every stage, gives each
// person the same keys.
type book struct {
	*demo.Book
	sent map[string]uint64 // transfers each has made, for their nonces
}

func newBook(names ...string) *book {
	return &book{Book: demo.NewBook(names...), sent: make(map[string]uint64)}
}

// blockTransfers returns the two transfers of the block at height: Mallory's
// payment to Bob for the bicycle (if bicycle) or a filler, then a filler.
func (b *book) blockTransfers(chainID blockchain.Hash, height int, bicycle bool) []blockchain.Transaction {
	txs := []blockchain.Transaction{blockchain.NewCoinbase(b.Address("miner"), reward+2*fee, uint64(height))}
	if bicycle {
		txs = append(txs, b.Wallet("mallory").SignTransfer(chainID, b.Address("bob"), 30, fee, 0))
	} else {
		txs = append(txs, b.transfer(chainID, height))
	}
	return append(txs, b.transfer(chainID, height+1))
}

// transfer returns a small signed filler transfer, passed
// around between alice, bob and carol.
func (b *book) transfer(chainID blockchain.Hash, k int) blockchain.Transaction {
	ring := []string{"alice", "bob", "carol"}
	from, to := ring[k%3], ring[(k+1)%3]
	tx := b.Wallet(from).SignTransfer(chainID, b.Wallet(to).Address(), uint64(1+(7*k)%10), fee, b.sent[from])
	b.sent[from]++
	return tx
}
