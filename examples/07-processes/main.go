// Command 07-processes runs nodes the way an operator does: each node is
// its own operating-system process, the nakachain program, talking TCP to
// the others and keeping its chain on disk, so that a node killed at any
// moment comes back with everything it had stored.
//
// Stage 6 simulated a network inside one program. Here the example builds
// the real program (go build ./cmd/nakachain) and starts three copies of
// it, each with its own data directory and port on 127.0.0.1. It builds
// the program rather than re-running itself in a "node mode" because that
// is what you would run: every command line it prints can be typed as it
// stands, in the directory it names, and the nodes it starts are the
// program an operator runs, not the example's own code.
//
// The story has five phases:
//
//  1. Three nodes start. Node 1 does not mine; nodes 2 and 3 mine, and
//     know only node 1's address (-seed): node 1 tells them of each other.
//  2. Alice pays bob through node 1. There is no client API yet, so the
//     example runs a node of its own (a blockchain.Node on a memory store,
//     connected to node 1 only), and alice's wallet submits the payment
//     there; gossip carries it to the miners, and a block carries it back.
//  3. The three processes agree: each one's log names the same tip, the
//     tip our own node follows, and so the same balances.
//  4. Node 3 is killed with SIGKILL while it mines: no chance to save
//     anything. The example opens its data directory itself and finds
//     every block node 3 had reported stored.
//  5. Node 3 restarts from its data directory, at the tip it had stored,
//     fetches the blocks it missed from its peers, and agrees again.
//
// The nodes log JSON lines (-log-format json), which the example reads to
// follow them: "listening", "chain opened", "block stored" (after the
// block is on disk), "peer connected". Run it from the repository root:
//
//	go run ./examples/07-processes
//	go run ./examples/07-processes -down 5s -dir /tmp/stage7 -keep
//
// Block times are real and mining is a race, so the heights and hashes
// differ from run to run; what the story checks does not.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

func main() { demo.Main("07-processes", run) }

// The chain's money, in base units: what alice and bob start with, what
// each block may pay its miner, and the payment.
const (
	opening = 1_000_000
	reward  = 5_000
	amount  = 250_000
	fee     = 10
)

// config holds the flags.
type config struct {
	dir     string
	keep    bool
	down    time.Duration
	pace    time.Duration
	timeout time.Duration
}

// parseFlags parses args. It returns a nil config for -help or an error.
func parseFlags(w io.Writer, args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("07-processes", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&c.dir, "dir", "", "put the program and the nodes' data directories here (default: a new temporary directory)")
	fs.BoolVar(&c.keep, "keep", false, "keep the directory at the end (a temporary one is removed)")
	fs.DurationVar(&c.down, "down", 3*time.Second, "how long node 3 stays dead")
	fs.DurationVar(&c.pace, "pace", 700*time.Millisecond, "the miners' -min-block-interval: each waits 0.5 to 1.5 times this after a new tip")
	fs.DurationVar(&c.timeout, "timeout", 20*time.Second, "the longest wait for any one thing (a start, a payment, agreement)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q: every setting is a flag", fs.Arg(0))
	case c.down < 0 || c.down > time.Minute:
		return nil, fmt.Errorf("-down must be between 0 and 1m, not %v", c.down)
	case c.pace < 10*time.Millisecond || c.pace > 10*time.Second:
		return nil, fmt.Errorf("-pace must be between 10ms and 10s, not %v", c.pace)
	case c.timeout <= 0:
		return nil, fmt.Errorf("-timeout must be positive, not %v", c.timeout)
	}
	return &c, nil
}

// run tells the story, writing to w. args are the command-line flags.
func run(ctx context.Context, w io.Writer, args []string) (err error) {
	cfg, err := parseFlags(w, args)
	if cfg == nil {
		return err
	}
	started := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fmt.Fprintln(w, "Stage 7: nodes as processes, with their chains on disk")
	fmt.Fprintln(w)
	demo.Para(w, "Each node is now a process of its own, the nakachain program that an operator runs: "+
		"three of them on 127.0.0.1, talking TCP, each keeping its chain in its own data directory. "+
		"A process can be killed at any moment; a node must come back with every block it had stored.")

	dir := cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "nakachain-stage7-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if cfg.dir == "" && !cfg.keep {
		defer os.RemoveAll(dir)
	}
	t0 := time.Now()
	bin, err := build(ctx, dir)
	if err != nil {
		return err
	}
	demo.Para(w, "The program, built into %s in %.1fs:", dir, time.Since(t0).Seconds())
	fmt.Fprintln(w, "  $ go build -o nakachain ./cmd/nakachain")
	fmt.Fprintln(w)

	// The chain's rules: the test network's, with alice's and bob's coins
	// in the genesis block, in a params file every node is given.
	people := demo.NewBook("alice", "bob")
	params := blockchain.TestParams()
	params.Name = "stage7"
	params.BlockReward = reward
	params.Allocations = people.Allocations(opening)
	people.Add("node 2's miner", "node 3's miner")
	data, err := json.MarshalIndent(params, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "params.json"), data, 0o644); err != nil {
		return err
	}
	demo.Para(w, "The rules, in params.json: the test network's (8-bit proof-of-work), a reward of %s a block, "+
		"and %s each for alice and bob in the genesis block. Chain ID: %s.",
		demo.Commas(reward), demo.Commas(opening), params.ChainID().Short(16))

	f := &fleet{dir: dir, bin: bin}
	defer f.close() // on every way out: no node outlives the example
	s := &story{w: w, cfg: cfg, fleet: f, people: people, params: params}
	for _, phase := range []func(context.Context) error{s.start, s.pay, s.agree, s.crash, s.restart, s.stop} {
		if err := phase(ctx); err != nil {
			return err
		}
	}
	demo.Para(w, "The story took %.1fs. Every node is its own process and its own judge: it checks what its "+
		"peers send, keeps what it stored through a crash, and fetches what it missed when it comes back.",
		time.Since(started).Seconds())
	return nil
}

// story holds what the phases share.
type story struct {
	w      io.Writer
	cfg    *config
	fleet  *fleet
	people *demo.Book
	params blockchain.Params

	nodes   [3]*proc
	args    [3][]string
	seed    string           // node 1's address
	ours    *blockchain.Node // our own node, in this program
	payment blockchain.TxInfo
	killed  block // node 3's last reported block
}

// nodeArgs returns the command line of node i (0-based).
func (s *story) nodeArgs(i int) []string {
	args := []string{"node", "-datadir", fmt.Sprintf("node%d", i+1), "-params", "params.json",
		"-listen", "127.0.0.1:0", "-log-format", "json"}
	if i > 0 {
		miner := s.people.Address(fmt.Sprintf("node %d's miner", i+1))
		args = append(args, "-seed", s.seed, "-mine", "-miner", miner.String(),
			"-min-block-interval", s.cfg.pace.String())
	}
	return args
}

func (s *story) startNode(i int) (*proc, error) {
	s.args[i] = s.nodeArgs(i)
	printCommand(s.w, s.args[i])
	return s.fleet.start(fmt.Sprintf("node %d", i+1), s.args[i]...)
}

// printCommand prints "nakachain ARGS" as a shell command, each flag with
// its value, continued with backslashes to fit 76 columns.
func printCommand(w io.Writer, args []string) {
	line := "  $ nakachain"
	for i := 0; i < len(args); i++ {
		word := args[i]
		if strings.HasPrefix(word, "-") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			word += " " + args[i]
		}
		if len(line)+1+len(word) > 74 {
			fmt.Fprintln(w, line+" \\")
			line = "        "
		} else {
			line += " "
		}
		line += word
	}
	fmt.Fprintln(w, line)
}

// start is phase 1: three nodes start and find each other.
func (s *story) start(ctx context.Context) error {
	demo.Para(s.w, "Phase 1: three nodes start, in the directory above. Node 1 only relays; nodes 2 and 3 mine, "+
		"each paying its own address, and know only node 1's address (-seed).")
	for i := range s.nodes {
		p, err := s.startNode(i)
		if err != nil {
			return err
		}
		s.nodes[i] = p
		l, err := p.first(ctx, s.cfg.timeout, "listening")
		if err != nil {
			return err
		}
		if i == 0 {
			s.seed = l.str("addr")
		} else if _, err := p.first(ctx, s.cfg.timeout, "peer connected"); err != nil {
			return err // wait for node 1 to know it before the next one asks
		}
	}
	err := s.nodes[2].waitFor(ctx, s.cfg.timeout, "2 peers", func([]logLine) bool { return s.nodes[2].peers() >= 2 })
	if err != nil {
		return err
	}
	fmt.Fprintln(s.w)
	demo.Para(s.w, "=> Node 1 listens on %s (port 0 asked for a free one; its \"listening\" log line says which). "+
		"Node 3 asked node 1 for addresses, learned node 2's and connected to it: it has %d peers.",
		s.seed, s.nodes[2].peers())
	return nil
}

// pay is phase 2: alice pays bob through node 1.
func (s *story) pay(ctx context.Context) error {
	ours, err := startOurNode(ctx, s.params, s.seed, s.fleet)
	if err != nil {
		return err
	}
	s.ours = ours
	alice, bob := s.people.Wallet("alice"), s.people.Address("bob")
	demo.Para(s.w, "Phase 2: alice pays bob %s, with a fee of %d, through node 1. There is no client API yet, so this "+
		"program runs a node of its own, on a memory store, connected to node 1 only; alice's wallet signs the "+
		"payment and submits it there. Gossip carries it to node 1 and on to the miners.", demo.Commas(amount), fee)
	// Pay once our node has met node 1 and caught up with it: a payment
	// submitted before is announced to node 1 only when the node next
	// repeats its announcements, ten seconds later.
	err = waitUntil(ctx, s.cfg.timeout, "our node to sync with node 1", func() bool {
		return len(ours.Peers()) > 0 && ours.Tip().Height >= s.nodes[0].tip().height
	})
	if err != nil {
		return err
	}
	tx, err := ours.Send(alice, bob, amount, fee)
	if err != nil {
		return fmt.Errorf("alice's payment: %w", err)
	}
	ctx2, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	if s.payment, err = ours.WaitConfirmed(ctx2, tx.ID(), 1); err != nil {
		return err
	}
	b, ok := ours.Chain().BlockByHash(s.payment.BlockHash)
	if !ok {
		return fmt.Errorf("the payment's block %s is not on our chain", s.payment.BlockHash.Short(16))
	}
	demo.Para(s.w, "=> The payment %s is in block %d %s, mined by %s.", tx.ID().Short(12), s.payment.Height,
		s.payment.BlockHash.Short(16), s.people.NameOf(b.Transactions[0].To))
	return nil
}

// agree is phase 3: the three processes name the same tip.
func (s *story) agree(ctx context.Context) error {
	demo.Para(s.w, "Phase 3: do the processes agree? Each one's tip is the last block its log reports stored. "+
		"They mine on, so we look until all name the same one.")
	// Let both miners win a block first, so that the balances show both.
	err := waitUntil(ctx, s.cfg.timeout, "a block from each miner", func() bool {
		chain := s.ours.Chain()
		return chain.Balance(s.people.Address("node 2's miner")) > 0 && chain.Balance(s.people.Address("node 3's miner")) > 0
	})
	if err != nil {
		return err
	}
	tip, err := s.agreement(ctx)
	if err != nil {
		return err
	}
	if line, ok := s.nodes[0].storedLine(tip.hash); ok {
		demo.Para(s.w, "Node 1's log line for that block, as it wrote it on its standard error:")
		printJSONLine(s.w, line)
	}
	s.balances(tip)
	return nil
}

// printJSONLine prints a JSON log line indented, broken after commas
// (between fields: the node's values hold none) to fit 76 columns.
func printJSONLine(w io.Writer, line string) {
	out := "  "
	for i, field := range strings.SplitAfter(line, ",") {
		if i > 0 && len(out)+len(field) > 76 {
			fmt.Fprintln(w, out)
			out = "   "
		}
		out += field
	}
	fmt.Fprintln(w, out)
	fmt.Fprintln(w)
}

// waitUntil waits until cond holds, looking every 20 ms, at most timeout.
func waitUntil(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// agreement waits until the three nodes and ours have the same tip, and
// prints it.
func (s *story) agreement(ctx context.Context) (block, error) {
	tip, err := waitAgree(ctx, s.cfg.timeout, s.nodes[:], s.ours)
	if err != nil {
		return block{}, err
	}
	for i := range s.nodes {
		fmt.Fprintf(s.w, "  node %d   height %-4d tip %s\n", i+1, tip.height, tip.hash.Short(16))
	}
	fmt.Fprintf(s.w, "  our node height %-4d tip %s\n", tip.height, tip.hash.Short(16))
	demo.Para(s.w, "=> All 3 nodes and ours agree: tip %d %s.", tip.height, tip.hash.Short(16))
	return tip, nil
}

// balances prints the balances at our node's tip, which is the tip the
// processes agree on.
func (s *story) balances(tip block) {
	chain := s.ours.Chain()
	var parts []string
	total := uint64(0)
	for _, name := range s.people.Names() {
		b := chain.Balance(s.people.Address(name))
		total += b
		parts = append(parts, fmt.Sprintf("%s %s", name, demo.Commas(b)))
	}
	demo.Para(s.w, "=> At that tip every node has the same balances, since balances follow from the chain: %s. "+
		"Total %s = %s in the genesis block + %s of %s (the fee moved from alice to a miner).",
		strings.Join(parts, ", "), demo.Commas(total), demo.Commas(2*opening), plural(tip.height, "reward"), demo.Commas(reward))
}

// crash is phase 4: node 3 is killed with SIGKILL while it mines.
func (s *story) crash(ctx context.Context) error {
	demo.Para(s.w, "Phase 4: node 3 is killed with SIGKILL while it mines: no signal handler runs, nothing is flushed.")
	n3 := s.nodes[2]
	n3.kill()
	last, ok := n3.lastStored()
	if !ok {
		return errors.New("node 3 reported no block stored before it was killed")
	}
	s.killed = last
	// Open node 3's data directory as the restarted process will: the
	// store, then the chain replayed from it.
	store, err := blockchain.OpenFileStore(filepath.Join(s.fleet.dir, "node3", "blocks"), blockchain.FileStoreOptions{})
	if err != nil {
		return fmt.Errorf("opening node 3's store: %w", err)
	}
	chain, err := blockchain.NewChain(s.params, blockchain.ChainOptions{Store: store})
	if err == nil {
		err = store.Close()
	}
	if err != nil {
		return fmt.Errorf("node 3's chain: %w", err)
	}
	disk := chain.Tip()
	if !chain.HasBlock(last.hash) || !chain.IsAncestor(last.hash, disk.Hash) {
		return fmt.Errorf("node 3 reported block %d %s stored, but its data directory lacks it", last.height, last.hash.Short(16))
	}
	demo.Para(s.w, "=> Node 3's last \"block stored\" line named block %d %s. We open its data directory ourselves, "+
		"as the restarted node will: its chain ends at block %d %s, which holds every block node 3 reported "+
		"stored (a node reports a block only after the store's fsync).",
		last.height, last.hash.Short(16), disk.Height, disk.Hash.Short(16))
	if err := pause(ctx, s.cfg.down); err != nil {
		return err
	}
	demo.Para(s.w, "=> Node 3 stays dead for %v. Node 2 mines on alone: node 1 is at height %d, node 2 at %d.",
		s.cfg.down, s.nodes[0].tip().height, s.nodes[1].tip().height)
	return nil
}

// restart is phase 5: node 3 comes back from its data directory.
func (s *story) restart(ctx context.Context) error {
	demo.Para(s.w, "Phase 5: node 3 restarts, with the same command, from its data directory.")
	p, err := s.startNode(2)
	if err != nil {
		return err
	}
	s.nodes[2] = p
	opened, err := p.first(ctx, s.cfg.timeout, "chain opened")
	if err != nil {
		return err
	}
	at := opened.block()
	startedAt := time.Now()
	if at.height < s.killed.height || !s.ours.Chain().IsAncestor(s.killed.hash, at.hash) && at.hash != s.killed.hash {
		return fmt.Errorf("node 3 reopened at block %d %s, not at or after its last reported block %d %s",
			at.height, at.hash.Short(16), s.killed.height, s.killed.hash.Short(16))
	}
	behind := s.nodes[0].tip().height - min(at.height, s.nodes[0].tip().height)
	demo.Para(s.w, "=> Node 3 opened its chain at block %d %s: the tip it had stored, %s behind node 1.",
		at.height, at.hash.Short(16), plural(behind, "block"))
	tip, err := s.agreement(ctx)
	if err != nil {
		return err
	}
	demo.Para(s.w, "=> Node 3 caught up in %v: it stored %s from its peers and agrees on tip %d %s.",
		time.Since(startedAt).Round(time.Millisecond), plural(uint64(len(storedLines(p.log()))), "block"), tip.height, tip.hash.Short(16))
	s.balances(tip)
	if _, ok := s.ours.Chain().Transaction(s.payment.Tx.ID()); !ok {
		return errors.New("alice's payment left the chain")
	}
	return nil
}

// stop stops every process with SIGTERM and our node.
func (s *story) stop(ctx context.Context) error {
	for i, p := range s.nodes {
		if err := p.stop(s.cfg.timeout); err != nil {
			return err
		}
		if _, err := p.first(ctx, time.Second, "shutdown complete"); err != nil {
			return fmt.Errorf("node %d: %w", i+1, err)
		}
	}
	demo.Para(s.w, "The end: each process stops on SIGTERM and logs \"shutdown complete\" once its store is closed.")
	return nil
}

// storedLines returns the "block stored" lines of a log.
func storedLines(lines []logLine) []logLine {
	var out []logLine
	for _, l := range lines {
		if l.msg() == "block stored" {
			out = append(out, l)
		}
	}
	return out
}

// plural is "1 block", "2 blocks".
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return demo.Commas(n) + " " + noun + "s"
}

// pause waits for d, or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
