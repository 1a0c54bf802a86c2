// Command 06-network shows the network of the Bitcoin paper (section 5) at
// work: nodes that nobody is in charge of agree on one history, and when the
// network is cut in two and heals, they agree again, on the branch with the
// most work. Run it from the repository root with go run ./examples/06-network.
//
// Seven nodes (blockchain.Node) run on a simulated network
// (blockchain.MemNetwork), every pair linked, each message delayed by a few
// milliseconds. Each node keeps its own copy of the chain and mines with its
// own share of the hash power (a throttled hash rate, so that block times do
// not depend on the machine), paying the rewards to its own address. Five
// people pay each other at random, each through the node their wallet uses
// (Node.Send). The nodes pass transactions and blocks on to each other, and
// each follows the valid chain with the most work. The story has three
// phases:
//
//  1. Connected: the nodes agree on one chain.
//  2. Cut the links (MemNetwork.Partition): the network splits in two, 4
//     nodes and 3. Each side goes on mining a branch of its own and confirms
//     its own people's payments.
//  3. Heal (MemNetwork.Heal): the miners pause, so that the two branches
//     stand still, and the links come back. The nodes learn of the other
//     branch, and all of them follow the one with more work. The other
//     branch's blocks are abandoned, and their payments go back to the
//     mempools, to be confirmed again on the winning chain once the miners
//     carry on.
//
// This file tells the story and makes the library's calls; flags.go reads
// the command line, view.go draws the nodes' chains, facts.go measures and
// checks what the story states, payments.go makes the people's payments and
// plumbing.go starts, waits for and stops what runs.
//
// On a terminal the nodes' chains are redrawn in place as they grow; piped or
// redirected, the program prints a snapshot every second instead.
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
	"fmt"
	"io"
	"math/rand/v2"
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
	s, err := setUp(w, cfg)
	if err != nil {
		return err
	}
	defer s.net.Close()
	s.introduce()
	s.start(ctx)
	defer s.stop()
	if err := s.connected(ctx); err != nil {
		return fmt.Errorf("phase 1: %w", err)
	}
	if err := s.cut(ctx); err != nil {
		return fmt.Errorf("phase 2: %w", err)
	}
	if err := s.heal(ctx); err != nil {
		return fmt.Errorf("phase 3: %w", err)
	}
	tip, sent, err := s.finish(ctx)
	if err != nil {
		return err
	}
	return s.summarize(tip, sent)
}

// story is what the phases share.
type story struct {
	cfg          *config
	v            *view
	params       blockchain.Params
	names        []string   // the people who pay
	people       *demo.Book // their wallets, and the miners'
	net          *blockchain.MemNetwork
	nodes        []*blockchain.Node
	sideA, sideB []*blockchain.Node // the two sides of the cut
	pay          *payer

	stopNodes, stopPaying, stopView func() error
}

// setUp makes the chain's rules, the network and the nodes. The rules are
// the same for every node: the test parameters with our difficulty and
// reward, and everyone's starting balance in the genesis block. The same
// rules make the same genesis block, so every node starts from the same
// chain. On the network every node is linked to every other, each message
// delayed by the latency plus a random jitter.
func setUp(w io.Writer, cfg *config) (*story, error) {
	s := &story{cfg: cfg, v: newView(w, !cfg.plain && isTerminal(w)), names: allNames[:cfg.people]}
	s.people = demo.NewBook(s.names...)
	s.params = blockchain.TestParams()
	s.params.InitialTarget = blockchain.TargetFromBits(cfg.bits)
	s.params.BlockReward = reward
	s.params.Allocations = s.people.Allocations(opening)
	s.net = blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
		Seed: cfg.seed,
		Link: blockchain.LinkConfig{Latency: cfg.latency, Jitter: cfg.jitter},
	})
	if err := s.addNodes(); err != nil {
		s.net.Close()
		return nil, err
	}
	s.sideA, s.sideB = s.nodes[:cfg.sideA], s.nodes[cfg.sideA:]
	s.pay = newPayer(s.people, s.names, s.sideA, s.sideB, cfg.seed)
	s.v.watch(s.nodes, s.pay, s.net)
	return s, nil
}

// addNodes makes the nodes. Each has its own chain, starting at genesis,
// its own address for the rewards, and its share of the hash power. Each
// asks a peer for headers twice a second, so a healed link is noticed soon,
// and refreshes the block it mines twice a second, to take in new payments.
func (s *story) addNodes() error {
	ids, seeds := rand.New(rand.NewPCG(s.cfg.seed, 6)), rand.New(rand.NewPCG(s.cfg.seed, 8))
	for range s.cfg.nodes {
		id := newID(ids, s.nodes)
		chain, err := blockchain.NewChain(s.params, blockchain.ChainOptions{})
		if err != nil {
			return err
		}
		s.people.Add(minerName(id))
		node, err := blockchain.NewNode(blockchain.NodeConfig{
			ID:               id,
			Chain:            chain,
			Network:          s.net,
			Miner:            s.people.Address(minerName(id)),
			Mining:           true,
			HashRate:         s.cfg.hashRate,
			MinBlockInterval: -1, // the hash rate paces them
			TickInterval:     100 * time.Millisecond,
			SyncInterval:     500 * time.Millisecond,
			TemplateRefresh:  500 * time.Millisecond,
			RequestTimeout:   time.Second,
			Seed:             seeds.Uint64(),
		})
		if err != nil {
			return err
		}
		s.nodes = append(s.nodes, node)
	}
	return nil
}

// introduce tells who is on the network and how fast they mine.
func (s *story) introduce() {
	cfg, total := s.cfg, s.cfg.hashRate*float64(s.cfg.nodes)
	s.v.say("Stage 6: nodes agree on one chain over a network")
	s.v.say("")
	s.v.say("%d nodes (%s) on a network that delays each message by %v plus up to %v. "+
		"Each node mines at %s hashes/s and a block needs %s on average (%d bits), "+
		"so with %s hashes/s in all they find one about every %.2fs.",
		cfg.nodes, idList(s.nodes), cfg.latency, cfg.jitter,
		demo.Commas(int(cfg.hashRate)), demo.Commas(1<<cfg.bits), cfg.bits,
		demo.Commas(int(total)), float64(int(1)<<cfg.bits)/total)
	s.v.say("%s start with %s each and pay each other at random, every 100 to 200 ms, each through the node their wallet uses.",
		demo.List(s.names), demo.Commas(opening))
	s.v.say("Below, each node's line shows its last blocks, tip last, by the first 7 hex digits of their hashes, " +
		"then the tip's height h and the chain's total work: nodes whose lines end alike agree.")
}

// start runs the nodes (Node.Run), the people's payments and the view, each
// in the background until stop.
func (s *story) start(ctx context.Context) {
	s.stopNodes = background(ctx, func(ctx context.Context) error { return runNodes(ctx, s.nodes) })
	s.stopPaying = background(ctx, s.pay.run)
	s.stopView = background(ctx, s.v.run)
}

func (s *story) stop() {
	s.stopView()
	s.stopPaying()
	s.stopNodes()
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

// connected is phase 1: the nodes, all linked, build one chain together.
func (s *story) connected(ctx context.Context) error {
	s.v.setPhase("phase 1: connected", 0)
	s.v.say("")
	s.v.say("Phase 1: connected. Each block reaches every node within milliseconds, and every " +
		"node mines on the tip with the most work: they build one chain together.")
	if err := pause(ctx, s.cfg.connected); err != nil {
		return err
	}
	tip, err := agreement(ctx, s.nodes, s.cfg.timeout)
	if err != nil {
		return err
	}
	s.v.snapshot()
	s.v.say("=> All %d nodes agree: tip %s at height %d.", len(s.nodes), tip.Hash.Short(16), tip.Height)
	return nil
}

// cut is phase 2: the network splits in two sides that no longer hear each
// other. Messages between the sides vanish, and each side mines a branch
// of its own, with the payments of the people whose node is on that side.
func (s *story) cut(ctx context.Context) error {
	s.net.Partition(ids(s.sideA), ids(s.sideB))
	s.v.setPhase("phase 2: links cut", len(s.sideA))
	s.v.say("")
	s.v.say("Phase 2: cut the links. The network splits in two sides that no longer hear each other: "+
		"side A, nodes %s, and side B, nodes %s. Side A's nodes serve the wallets of %s; side B's, those of %s. "+
		"Each side mines a branch of its own and confirms its own people's payments.",
		idList(s.sideA), idList(s.sideB), demo.List(s.pay.on(s.sideA)), demo.List(s.pay.on(s.sideB)))
	if err := pause(ctx, s.cfg.partitioned); err != nil {
		return err
	}
	split, err := ownBranches(ctx, s.sideA, s.sideB, s.cfg.timeout)
	if err != nil {
		return fmt.Errorf("side A mined %d blocks of its own and side B %d, not 2 each, or a side's nodes do not agree (%s; raise -hashrate or lower -bits): %w",
			split.ownA, split.ownB, tips(s.nodes), err)
	}
	s.v.snapshot()
	s.v.say("=> The two sides' tips differ: side A's tip %s at height %d (%d blocks of its own), "+
		"side B's tip %s at height %d (%d blocks of its own). They last agreed at height %d.",
		split.a.Hash.Short(16), split.a.Height, split.ownA, split.b.Hash.Short(16), split.b.Height, split.ownB, split.at)
	return nil
}

// heal is phase 3. The miners pause, so that the two branches stand still,
// and the links come back: every node learns of the other branch and
// follows the one with more work. Then the miners carry on, and confirm
// again the payments of the abandoned branch, which went back to the
// mempools.
func (s *story) heal(ctx context.Context) error {
	healedAt := time.Now()
	split, err := s.pauseMiners(ctx)
	if err != nil {
		return err
	}
	onlyA, onlyB := confirmedOnlyOn(s.pay, split.bestA, split.bestB), confirmedOnlyOn(s.pay, split.bestB, split.bestA)
	s.net.Heal()
	s.v.setPhase("phase 3: healed, miners paused", 0)
	s.v.say("")
	s.v.say("Phase 3: heal. The miners pause, and the links come back. Side A's branch has work %s (height %d), side B's %s (height %d). "+
		"Every node follows the branch with more work; the other branch's blocks are abandoned "+
		"and their payments go back to the mempools. Then the miners carry on.",
		demo.Commas(split.a.TotalWork), split.a.Height, demo.Commas(split.b.TotalWork), split.b.Height)
	winner, err := s.followMostWork(ctx, split)
	if err != nil {
		return err
	}
	lost := map[string][]blockchain.Transaction{"A": onlyB, "B": onlyA}[winner]
	again := s.reconfirm(ctx, lost)
	s.v.say("=> %d payments were confirmed only on side %s's abandoned branch; %d of them are now confirmed again on the common chain.",
		len(lost), other(winner), again)
	return pause(ctx, s.cfg.healed-time.Since(healedAt))
}

// pauseMiners switches every miner off, side by side, and returns the two
// branches once they stand still.
func (s *story) pauseMiners(ctx context.Context) (fork, error) {
	for _, side := range [][]*blockchain.Node{s.sideA, s.sideB} {
		if _, err := stopMining(ctx, side, s.cfg.timeout); err != nil {
			return fork{}, err
		}
	}
	return measure(s.sideA, s.sideB), nil
}

// followMostWork waits, the miners paused, until every node follows the
// branch with more work, and switches the miners on again. If the branches
// have the same work, each node keeps the one it has, and the next block
// decides. It returns the side whose branch won.
func (s *story) followMostWork(ctx context.Context, split fork) (string, error) {
	tied := split.a.TotalWork.Cmp(split.b.TotalWork) == 0
	if tied {
		s.setMining(true)
	}
	tip, err := agreement(ctx, s.nodes, s.cfg.timeout)
	if err != nil {
		return "", err
	}
	s.v.snapshot()
	s.setMining(true)
	s.v.setPhase("phase 3: healed", 0)
	winner := split.winner(s.nodes[0].Chain(), tip.Hash)
	if winner == "" {
		return "", fmt.Errorf("the nodes agree on tip %s, which is on neither side's branch", tip.Hash.Short(16))
	}
	s.v.say("=> All %d nodes report the same tip %s at height %d, on side %s's branch: %s.",
		len(s.nodes), tip.Hash.Short(16), tip.Height, winner, whyWinner(split, winner))
	return winner, nil
}

// reconfirm gives the nodes time to confirm the abandoned branch's payments
// again, and returns how many are confirmed on every node. It waits for
// two confirmations, so that a fork of one block cannot undo them while
// they are counted.
func (s *story) reconfirm(ctx context.Context, lost []blockchain.Transaction) int {
	_ = waitConfirmed(ctx, s.nodes, lost, 2, s.cfg.timeout) // if they are not, the count shows it
	return confirmedOnAll(s.nodes, lost)
}

// finish stops the payments, lets the nodes mine until every payment is
// confirmed everywhere, then stops the miners and, once the nodes agree,
// the nodes. It returns the tip they stopped on and the payments.
func (s *story) finish(ctx context.Context) (blockchain.Tip, []blockchain.Transaction, error) {
	s.stopPaying()
	sent, _ := s.pay.payments()
	s.v.say("")
	s.v.say("The payments stop. The nodes mine until all %d are confirmed, then stop mining.", len(sent))
	if err := waitConfirmed(ctx, s.nodes, sent, 2, s.cfg.timeout); err != nil {
		return blockchain.Tip{}, nil, fmt.Errorf("%d of %d payments confirmed on every node: %w", confirmedOnAll(s.nodes, sent), len(sent), err)
	}
	tip, err := stopMining(ctx, s.nodes, s.cfg.timeout)
	if err != nil {
		return tip, nil, err
	}
	s.v.setPhase("mining stopped", 0)
	s.v.snapshot()
	s.stopView()
	s.v.stop()
	return tip, sent, s.stopNodes()
}

// summarize checks and states the end: every node on one tip, every payment
// on every node's chain exactly once, and the balances adding up.
func (s *story) summarize(tip blockchain.Tip, sent []blockchain.Transaction) error {
	if err := checkEnd(s.nodes, tip, sent, s.params); err != nil {
		return err
	}
	_, refused := s.pay.payments()
	refusals := ""
	if refused > 0 {
		refusals = fmt.Sprintf(" (the nodes refused %d more)", refused)
	}
	found, perNode := blocksLine(s.nodes, s.people)
	genesis := opening * uint64(len(s.names))
	s.v.say("")
	s.v.say("Summary: the %d nodes stopped cleanly, all on tip %s at height %d.", len(s.nodes), tip.Hash.Short(16), tip.Height)
	s.v.say("  Payments: %d sent, each confirmed exactly once on every node's chain%s.", len(sent), refusals)
	s.v.say("  Coins: %s in genesis + %d rewards of %s = %s; the balances add up to that.",
		demo.Commas(genesis), tip.Height, demo.Commas(reward), demo.Commas(genesis+tip.Height*reward))
	s.v.say("  Blocks: %d found, %d on the chain, %d abandoned (forks, and the losing branch). On the chain/found per node: %s.",
		found, tip.Height, found-tip.Height, perNode)
	s.v.say("  Balances: %s.", balancesLine(s.nodes[0], s.people, s.names))
	s.v.say("")
	s.v.say("No node was in charge, and none had to be trusted: each checked every block " +
		"and followed the chain with the most work. A minority of the hash power could " +
		"rewrite history only by outpacing the rest, and section 11 of the paper shows " +
		"how fast that chance falls with every block a payment waits.")
	return nil
}

// setMining switches every node's miner on or off (Node.SetMining).
func (s *story) setMining(on bool) {
	for _, n := range s.nodes {
		n.SetMining(on)
	}
}

// stopMining switches the miners of nodes off and waits until the nodes
// agree on a tip that will stay. Two blocks found at once leave the nodes
// split between two tips of equal work, and only a further block breaks
// the tie; so all miners but one stop first, and that one breaks any tie
// while no new one can arise. Once the nodes agree, it stops too.
func stopMining(ctx context.Context, nodes []*blockchain.Node, timeout time.Duration) (blockchain.Tip, error) {
	for _, n := range nodes[1:] {
		n.SetMining(false)
	}
	if _, err := agreement(ctx, nodes, timeout); err != nil {
		return blockchain.Tip{}, err
	}
	nodes[0].SetMining(false)
	return settled(ctx, nodes, timeout)
}

// waitConfirmed waits until every one of txs has at least confirmations
// blocks on every node (Node.WaitConfirmed), for up to timeout.
func waitConfirmed(ctx context.Context, nodes []*blockchain.Node, txs []blockchain.Transaction, confirmations uint64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, n := range nodes {
		for _, tx := range txs {
			if _, err := n.WaitConfirmed(ctx, tx.ID(), confirmations); err != nil {
				return err
			}
		}
	}
	return nil
}
