// Command 06-network shows the network of the Bitcoin paper (section 5) at
// work: nodes that nobody is in charge of agree on one history, and when the
// network is cut in two and heals, they agree again, on the branch with the
// most work.
//
// Seven nodes run on a simulated network (blockchain.MemNetwork), every pair
// linked, each message delayed by a few milliseconds. Each node keeps its own
// copy of the chain and mines with its own share of the hash power (a
// throttled hash rate, so that block times do not depend on the machine),
// paying the rewards to its own address. Five people pay each other at
// random through whichever node they reach. The nodes pass transactions and
// blocks on to each other, and each follows the valid chain with the most
// work.
//
// The story has three phases:
//
//  1. Connected: the nodes agree on one chain.
//  2. Cut the links: the network splits in two, 4 nodes and 3. Each side goes
//     on mining a branch of its own and confirms its own people's payments.
//  3. Heal: the links come back. The nodes learn of the other branch, and all
//     of them follow the one with more work. The other branch's blocks are
//     abandoned, and their payments go back to the mempools to be confirmed
//     again on the winning chain.
//
// On a terminal the nodes' chains are redrawn in place as they grow; piped or
// redirected, the program prints a snapshot every second instead.
//
// Run it from the repository root:
//
//	go run ./examples/06-network
//	go run ./examples/06-network -nodes 9 -side-a 5 -partitioned 10s
//	go run ./examples/06-network -plain | less
//
// The seed fixes the node IDs, the network's delays and the payments, but
// not the run: which node finds which block depends on real timing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

func main() { demo.Main("06-network", run) }

// The chain's money, in base units: what each person starts with and what
// each block may pay its miner.
const (
	opening = 1_000_000
	reward  = 5_000
)

var allNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}

// run tells the story, writing to w. args are the command-line flags.
func run(ctx context.Context, w io.Writer, args []string) error {
	cfg, err := parseFlags(w, args)
	if cfg == nil {
		return err // a bad flag, or -help
	}
	v := newView(w, !cfg.plain && isTerminal(w))
	v.say("Stage 6: nodes agree on one chain over a network")
	v.say("")

	// The chain's rules, the same for every node: the test parameters with
	// our difficulty and reward, and everyone's starting balance in the
	// genesis block. The same rules make the same genesis block, so every
	// node starts from the same chain.
	names := allNames[:cfg.people]
	people := demo.NewBook(names...)
	params := blockchain.TestParams()
	params.InitialTarget = blockchain.TargetFromBits(cfg.bits)
	params.BlockReward = reward
	params.Allocations = people.Allocations(opening)

	// The network: every node linked to every other, each message delayed
	// by the latency plus a random jitter.
	net := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
		Seed: cfg.seed,
		Link: blockchain.LinkConfig{Latency: cfg.latency, Jitter: cfg.jitter},
	})
	defer net.Close()

	// The nodes. Each has its own chain, starting at genesis, its own
	// address for the rewards, and its share of the hash power. They tell
	// each other their tips four times a second, so a healed link is
	// noticed soon, and refresh the block they mine twice a second, to take
	// in new payments.
	rng := rand.New(rand.NewPCG(cfg.seed, 6))
	nodes := make([]*blockchain.Node, cfg.nodes)
	for i := range nodes {
		id := newID(rng, nodes[:i])
		chain, err := blockchain.NewChain(params, blockchain.ChainOptions{})
		if err != nil {
			return err
		}
		people.Add(minerName(id))
		nodes[i], err = blockchain.NewNode(blockchain.NodeConfig{
			ID:               id,
			Chain:            chain,
			Network:          net,
			Miner:            people.Address(minerName(id)),
			Mining:           true,
			HashRate:         cfg.hashRate,
			MinBlockInterval: -1, // the hash rate paces them
			TickInterval:     100 * time.Millisecond,
			SyncInterval:     500 * time.Millisecond,
			TemplateRefresh:  500 * time.Millisecond,
			RequestTimeout:   time.Second,
		})
		if err != nil {
			return err
		}
	}
	total := cfg.hashRate * float64(cfg.nodes)
	v.say("%d nodes (%s) on a network that delays each message by %v plus up to %v. "+
		"Each node mines at %s hashes/s and a block needs %s on average (%d bits), "+
		"so with %s hashes/s in all they find one about every %.2fs.",
		cfg.nodes, idList(nodes), cfg.latency, cfg.jitter,
		demo.Commas(int(cfg.hashRate)), demo.Commas(1<<cfg.bits), cfg.bits,
		demo.Commas(int(total)), float64(int(1)<<cfg.bits)/total)
	v.say("%s start with %s each and pay each other at random, every 100 to 200 ms, through random nodes.",
		list(names), demo.Commas(opening))
	v.say("Below, each node's line shows its last blocks, tip last, by the first 7 hex digits of their hashes, " +
		"then the tip's height h and the chain's total work: nodes whose lines end alike agree.")

	// Start everything: the nodes, the people's payments, the view.
	stopNodes := start(ctx, func(ctx context.Context) error { return runNodes(ctx, nodes) })
	defer stopNodes()
	pay := newPayer(people, names, nodes, params.ChainID(), cfg.seed)
	stopPaying := start(ctx, pay.run)
	defer stopPaying()
	v.watch(nodes, pay, net)
	stopView := start(ctx, v.run)
	defer stopView()

	// Phase 1: connected.
	v.setPhase("phase 1: connected", 0)
	v.say("")
	v.say("Phase 1: connected. Each block reaches every node within milliseconds, and every " +
		"node mines on the tip with the most work: they build one chain together.")
	if err := pause(ctx, cfg.connected); err != nil {
		return err
	}
	tip, err := agreement(ctx, nodes, cfg.timeout)
	if err != nil {
		return fmt.Errorf("phase 1: %w", err)
	}
	v.snapshot()
	v.say("=> All %d nodes agree: tip %s at height %d.", len(nodes), tip.Hash.Short(16), tip.Height)

	// Phase 2: cut the links. Messages between the sides vanish, and the
	// people, too, can reach only the nodes on their side.
	sideA, sideB := nodes[:cfg.sideA], nodes[cfg.sideA:]
	net.Partition(ids(sideA), ids(sideB))
	reach := pay.confine(sideA, sideB)
	v.setPhase("phase 2: links cut", cfg.sideA)
	v.say("")
	v.say("Phase 2: cut the links. The network splits in two sides that no longer hear each other: "+
		"side A, nodes %s, and side B, nodes %s. %s can reach only side A; %s only side B. "+
		"Each side mines a branch of its own and confirms its own people's payments.",
		idList(sideA), idList(sideB), list(reach[0]), list(reach[1]))
	cutAt := time.Now()
	var split fork
	err = waitFor(ctx, nodes, cfg.partitioned+cfg.timeout, func() bool {
		split = measure(sideA, sideB)
		return time.Since(cutAt) >= cfg.partitioned && split.ownA >= 2 && split.ownB >= 2
	})
	if err != nil {
		return fmt.Errorf("phase 2: side A mined %d blocks of its own and side B %d, not 2 each (raise -hashrate or lower -bits): %w", split.ownA, split.ownB, err)
	}
	v.snapshot()
	v.say("=> The two sides' tips differ: side A's tip %s at height %d (%d blocks of its own), "+
		"side B's tip %s at height %d (%d blocks of its own). They last agreed at height %d.",
		split.a.Hash.Short(16), split.a.Height, split.ownA, split.b.Hash.Short(16), split.b.Height, split.ownB, split.at)

	// Phase 3: heal. Note what each side's branch holds, then let the
	// nodes hear each other again.
	split = measure(sideA, sideB)
	onlyA, onlyB := confirmedOnlyOn(pay, split.bestA, split.bestB), confirmedOnlyOn(pay, split.bestB, split.bestA)
	rootsA, rootsB := branchRoots(sideA, split.at+1), branchRoots(sideB, split.at+1)
	net.Heal()
	pay.confine()
	healedAt := time.Now()
	v.setPhase("phase 3: healed", 0)
	v.say("")
	v.say("Phase 3: heal. The links come back. Side A's branch has work %s (height %d), side B's %s (height %d). "+
		"Every node follows the branch with more work; the other branch's blocks are abandoned "+
		"and their payments go back to the mempools.",
		demo.Commas(split.a.TotalWork), split.a.Height, demo.Commas(split.b.TotalWork), split.b.Height)
	tip, err = agreement(ctx, nodes, cfg.timeout)
	if err != nil {
		return fmt.Errorf("phase 3: %w", err)
	}
	winner, lost := "A", onlyB
	root, _ := ancestor(nodes[0].Chain(), tip.Hash, split.at+1)
	switch {
	case rootsB[root]:
		winner, lost = "B", onlyA
	case !rootsA[root]:
		return fmt.Errorf("phase 3: the nodes agree on tip %s, which is on neither side's branch", tip.Hash.Short(16))
	}
	v.snapshot()
	v.say("=> All %d nodes report the same tip %s at height %d, on side %s's branch: %s.",
		len(nodes), tip.Hash.Short(16), tip.Height, winner, whyWinner(split, winner, blockWork(params)))
	// The abandoned blocks' payments are back in mempools; give the nodes
	// time to confirm them again (if they do not, the count shows it).
	_ = waitFor(ctx, nodes, cfg.timeout, func() bool { return confirmedOnAll(nodes, lost) == len(lost) })
	if ctx.Err() != nil {
		return ctx.Err()
	}
	v.say("=> %d payments were confirmed only on side %s's abandoned branch; %d of them are now confirmed again on the common chain.",
		len(lost), other(winner), confirmedOnAll(nodes, lost))
	if err := pause(ctx, cfg.healed-time.Since(healedAt)); err != nil {
		return err
	}

	// The end: no more payments. The nodes mine until every payment is
	// confirmed everywhere, then stop mining and, once they agree, stop.
	stopPaying()
	sent, refused := pay.payments()
	v.say("")
	v.say("The payments stop. The nodes mine until all %d are confirmed, then stop mining.", len(sent))
	err = waitFor(ctx, nodes, cfg.timeout, func() bool { return confirmedOnAll(nodes, sent) == len(sent) })
	if err != nil {
		return fmt.Errorf("%d of %d payments confirmed on every node: %w", confirmedOnAll(nodes, sent), len(sent), err)
	}
	tip, err = stopMining(ctx, nodes, cfg.timeout)
	if err != nil {
		return err
	}
	v.setPhase("mining stopped", 0)
	v.snapshot()
	stopView()
	v.stop()
	if err := stopNodes(); err != nil {
		return err
	}

	// The summary, checked: every node on one tip, every payment on every
	// node's chain exactly once, and the balances adding up.
	if t, ok := commonTip(nodes); !ok || t.Hash != tip.Hash {
		return errors.New("the nodes stopped on different tips")
	}
	for _, n := range nodes {
		if err := checkLedger(n, sent, params); err != nil {
			return err
		}
	}
	found, onChain := blocksFound(nodes, people)
	v.say("")
	v.say("Summary: the %d nodes stopped cleanly, all on tip %s at height %d.", len(nodes), tip.Hash.Short(16), tip.Height)
	refusals := ""
	if refused > 0 {
		refusals = fmt.Sprintf(" (the nodes refused %d more)", refused)
	}
	v.say("  Payments: %d sent, each confirmed exactly once on every node's chain%s.", len(sent), refusals)
	issued := opening*uint64(len(names)) + tip.Height*reward
	v.say("  Coins: %s in genesis + %d rewards of %s = %s; the balances add up to that.",
		demo.Commas(opening*uint64(len(names))), tip.Height, demo.Commas(reward), demo.Commas(issued))
	var perNode []string
	totalFound := uint64(0)
	for _, n := range nodes {
		perNode = append(perNode, fmt.Sprintf("%s %d/%d", n.ID(), onChain[n.ID()], found[n.ID()]))
		totalFound += found[n.ID()]
	}
	v.say("  Blocks: %d found, %d on the chain, %d abandoned (forks, and the losing branch). On the chain/found per node: %s.",
		totalFound, tip.Height, totalFound-tip.Height, strings.Join(perNode, ", "))
	var balances []string
	for _, name := range names {
		balances = append(balances, name+" "+demo.Commas(nodes[0].Balance(people.Address(name))))
	}
	v.say("  Balances: %s.", strings.Join(balances, ", "))
	v.say("")
	v.say("No node was in charge, and none had to be trusted: each checked every block " +
		"and followed the chain with the most work. A minority of the hash power could " +
		"rewrite history only by outpacing the rest, and section 11 of the paper shows " +
		"how fast that chance falls with every block a payment waits.")
	return nil
}

// config holds the flags.
type config struct {
	nodes, people, bits, sideA     int
	hashRate                       float64
	connected, partitioned, healed time.Duration
	latency, jitter, timeout       time.Duration
	seed                           uint64
	plain                          bool
}

// parseFlags parses args. It returns a nil config for -help or an error.
func parseFlags(w io.Writer, args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("06-network", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.IntVar(&c.nodes, "nodes", 7, "nodes on the network (2 to 16)")
	fs.IntVar(&c.people, "people", 5, fmt.Sprintf("people paying each other (2 to %d)", len(allNames)))
	fs.IntVar(&c.bits, "bits", 15, "proof-of-work difficulty in leading zero bits (8 to 24)")
	fs.Float64Var(&c.hashRate, "hashrate", 20_000, "hashes per second of each node's miner")
	fs.IntVar(&c.sideA, "side-a", 4, "nodes on side A of the cut; the others are side B")
	fs.DurationVar(&c.connected, "connected", 4*time.Second, "how long phase 1 (connected) lasts")
	fs.DurationVar(&c.partitioned, "partitioned", 5*time.Second, "how long phase 2 (links cut) lasts at least")
	fs.DurationVar(&c.healed, "healed", 4*time.Second, "how long phase 3 (healed) lasts at least")
	fs.DurationVar(&c.latency, "latency", 3*time.Millisecond, "delay of every message")
	fs.DurationVar(&c.jitter, "jitter", 4*time.Millisecond, "extra random delay of each message, up to this")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "longest wait for the nodes to agree, or a side to mine")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the node IDs, the network's delays and the payments")
	fs.BoolVar(&c.plain, "plain", false, "print snapshots even on a terminal, instead of redrawing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	switch {
	case c.nodes < 2 || c.nodes > 16:
		return nil, fmt.Errorf("-nodes must be between 2 and 16, not %d", c.nodes)
	case c.people < 2 || c.people > len(allNames):
		return nil, fmt.Errorf("-people must be between 2 and %d, not %d", len(allNames), c.people)
	case c.bits < 8 || c.bits > 24:
		return nil, fmt.Errorf("-bits must be between 8 and 24, not %d", c.bits)
	case !(c.hashRate >= 100 && c.hashRate <= 1e8):
		return nil, fmt.Errorf("-hashrate must be between 100 and 100,000,000, not %v", c.hashRate)
	case c.sideA < 1 || c.sideA >= c.nodes:
		return nil, fmt.Errorf("-side-a must be between 1 and %d (-nodes minus 1), not %d", c.nodes-1, c.sideA)
	case c.connected < 0 || c.partitioned < 0 || c.healed < 0 || c.latency < 0 || c.jitter < 0:
		return nil, errors.New("durations must not be negative")
	case c.timeout <= 0:
		return nil, fmt.Errorf("-timeout must be positive, not %v", c.timeout)
	}
	return &c, nil
}

// newID returns a node ID of 4 hex digits that none of nodes has.
func newID(rng *rand.Rand, nodes []*blockchain.Node) blockchain.PeerID {
	for {
		id := blockchain.PeerID(fmt.Sprintf("%04x", rng.IntN(1<<16)))
		taken := false
		for _, n := range nodes {
			taken = taken || n.ID() == id
		}
		if !taken {
			return id
		}
	}
}

// minerName is the name, in the book, of the address node id's miner pays.
func minerName(id blockchain.PeerID) string { return "miner of " + string(id) }

// start runs f in a goroutine and returns a function that cancels f's
// context, waits for f to return and returns its error. It may be called
// more than once.
func start(ctx context.Context, f func(context.Context) error) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
}

// runNodes runs every node until ctx is done, and returns when all have
// stopped.
func runNodes(ctx context.Context, nodes []*blockchain.Node) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pause waits for d, or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errTimeout is returned by waitFor when the condition did not come true.
var errTimeout = errors.New("timed out")

// waitFor waits until cond holds, looking again whenever a node reports an
// event, and at least every 50 ms. It gives up after timeout.
func waitFor(ctx context.Context, nodes []*blockchain.Node, timeout time.Duration, cond func() bool) error {
	changed := make(chan struct{}, 1)
	for _, n := range nodes {
		events, unsubscribe := n.Subscribe()
		defer unsubscribe()
		go func() {
			for range events { // until unsubscribe closes the channel
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}()
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%w after %v", errTimeout, timeout)
		}
	}
	return nil
}

func ids(nodes []*blockchain.Node) []blockchain.PeerID {
	out := make([]blockchain.PeerID, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID()
	}
	return out
}

// idList is "7301, 1a2b and 3c4d".
func idList(nodes []*blockchain.Node) string {
	var s []string
	for _, n := range nodes {
		s = append(s, string(n.ID()))
	}
	return list(s)
}

// list joins names as "a, b and c".
func list(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
