package blockchain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// cluster runs nodes on a MemNetwork for a test and stops them all, and
// checks that no goroutine outlives them, when the test ends.
type cluster struct {
	t     *testing.T
	g     *gen
	net   *MemNetwork
	nodes []*Node
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

// clusterOpts sizes a cluster. Throttled miners make block times depend on
// the hash rates and the target, not on the machine or the race detector.
type clusterOpts struct {
	nodes    int
	people   int
	bits     int     // leading zero bits of the fixed target
	hashRate float64 // per node
	link     LinkConfig
	seed     uint64
}

func newCluster(t *testing.T, o clusterOpts) *cluster {
	t.Helper()
	baseline := runtime.NumGoroutine()
	g := newGen(t, o.people, func(p *Params) { p.InitialTarget = TargetFromBits(o.bits) })
	c := &cluster{t: t, g: g, net: NewMemNetwork(MemNetworkConfig{Seed: o.seed, Link: o.link})}
	c.ctx, c.stop = context.WithCancel(context.Background())
	for i := range o.nodes {
		chain := g.chain()
		n, err := NewNode(NodeConfig{
			ID:               PeerID(fmt.Sprintf("node-%d", i)),
			Chain:            chain,
			Network:          c.net,
			Miner:            testWallet(200 + i).Address(),
			Mining:           true,
			HashRate:         o.hashRate,
			MinBlockInterval: -1, // the hash rate paces them
			TickInterval:     50 * time.Millisecond,
			SyncInterval:     300 * time.Millisecond,
			TemplateRefresh:  300 * time.Millisecond,
			RequestTimeout:   time.Second,
			Seed:             o.seed*100 + uint64(i) + 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		c.wg.Go(func() {
			if err := n.Run(c.ctx); err != nil {
				t.Errorf("%s: %v", n.ID(), err)
			}
		})
	}
	t.Cleanup(func() {
		c.stop()
		c.wg.Wait()
		c.net.Close()
		checkGoroutines(t, baseline)
	})
	return c
}

// checkGoroutines fails the test unless the goroutine count returns to
// baseline: nothing the test started may leak.
func checkGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // yield to exiting goroutines; bounded by the deadline
	}
}

// tryWaitFor waits until cond holds, re-checking on every event of any
// node (and at least every 20 ms), and reports whether it did within
// timeout.
func (c *cluster) tryWaitFor(timeout time.Duration, cond func() bool) bool {
	return waitAll(timeout, cond, c.nodes...)
}

// settle stops the mining and brings every node to one tip.
func (c *cluster) settle(timeout time.Duration) {
	c.t.Helper()
	c.setMining(false)
	c.settleGroup(c.nodes, timeout)
}

// settleGroup brings nodes (whose miners are off) to one tip. Two blocks
// of equal work, each node keeping the one it saw first, is a tie that
// nothing breaks, so the first node mines one block alone, on its own tip,
// until all of them follow its chain: the outcome does not depend on
// timing, only the time it takes does.
func (c *cluster) settleGroup(nodes []*Node, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, _, err := nodes[0].MineBlock(ctx)
		cancel()
		if err != nil {
			break
		}
		if c.tryWaitFor(5*time.Second, func() bool { return converged(nodes) }) {
			return
		}
	}
	c.t.Fatalf("no common tip within %v\n%s", timeout, c.describe())
}

// waitFor waits until cond holds, or fails the test after timeout.
func (c *cluster) waitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	if !c.tryWaitFor(timeout, cond) {
		c.t.Fatalf("timed out after %v waiting for %s\n%s", timeout, what, c.describe())
	}
}

func (c *cluster) describe() string {
	var sb strings.Builder
	for _, n := range c.nodes {
		tip := n.Tip()
		best := n.Chain().BestHeader()
		fmt.Fprintf(&sb, "  %s height %d tip %s best header %d mempool %d peers %d\n", n.ID(), tip.Height, tip.Hash.Short(8), best.Height, n.Mempool().Len(), len(n.Peers()))
	}
	st := c.net.Stats()
	fmt.Fprintf(&sb, "  network: %+v\n", st)
	return sb.String()
}

func (c *cluster) setMining(on bool, nodes ...*Node) {
	if len(nodes) == 0 {
		nodes = c.nodes
	}
	for _, n := range nodes {
		n.SetMining(on)
	}
}

// converged reports whether the nodes share one tip.
func converged(nodes []*Node) bool {
	tip := nodes[0].Tip().Hash
	for _, n := range nodes[1:] {
		if n.Tip().Hash != tip {
			return false
		}
	}
	return true
}

// payer makes random payments between the generator's people, tracking
// each sender's nonce.
type payer struct {
	g      *gen
	rng    *rand.Rand
	nonces []uint64
	sent   []Transaction
}

func newPayer(g *gen, seed uint64) *payer {
	return &payer{g: g, rng: rand.New(rand.NewPCG(seed, 1)), nonces: make([]uint64, len(g.people))}
}

// pay submits a random payment from one of senders to a random node.
func (p *payer) pay(t *testing.T, nodes []*Node, senders ...int) Transaction {
	t.Helper()
	if len(senders) == 0 {
		for i := range p.g.people {
			senders = append(senders, i)
		}
	}
	from := senders[p.rng.IntN(len(senders))]
	to := p.rng.IntN(len(p.g.people) - 1)
	if to >= from {
		to++
	}
	tx := p.g.pay(from, to, 1+p.rng.Uint64N(1000), 1+p.rng.Uint64N(10), p.nonces[from])
	if err := nodes[p.rng.IntN(len(nodes))].SubmitTransaction(tx); err != nil {
		t.Fatalf("payment %d: %v", len(p.sent), err)
	}
	p.nonces[from]++
	p.sent = append(p.sent, tx)
	return tx
}

// payAndConfirm makes rounds of 8 random payments, each round followed by a
// block, then waits until every node confirms them all and settles the
// cluster on one tip.
func (c *cluster) payAndConfirm(p *payer, rounds int, timeout time.Duration) {
	c.t.Helper()
	for round := range rounds {
		for range 8 {
			p.pay(c.t, c.nodes)
		}
		h := c.nodes[0].Tip().Height
		c.waitFor(20*time.Second, fmt.Sprintf("a block after payment round %d", round), func() bool {
			return c.nodes[0].Tip().Height > h
		})
	}
	c.waitFor(timeout, "every payment confirmed on every node", func() bool {
		return confirmedEverywhere(c.nodes, p.sent)
	})
	c.settle(60 * time.Second)
}

// confirmedEverywhere reports whether every node's main chain holds txs.
func confirmedEverywhere(nodes []*Node, txs []Transaction) bool {
	for _, n := range nodes {
		for _, tx := range txs {
			if _, ok := n.Chain().Transaction(tx.ID()); !ok {
				return false
			}
		}
	}
	return true
}

// checkLedger checks one node's main chain: every payment confirmed exactly
// once, and the balances summing to what genesis and the rewards issued.
func checkLedger(t *testing.T, g *gen, n *Node, payments []Transaction) {
	t.Helper()
	c := n.Chain()
	count := make(map[Hash]int)
	height := c.Height()
	for h := range height + 1 {
		b, ok := c.BlockByHeight(h)
		if !ok {
			t.Fatalf("%s: no block at %d", n.ID(), h)
		}
		for _, id := range b.TxIDs() {
			count[id]++
		}
	}
	for i, tx := range payments {
		if k := count[tx.ID()]; k != 1 {
			t.Errorf("%s: payment %d confirmed %d times", n.ID(), i, k)
		}
	}
	var issued, total uint64
	for _, a := range g.params.Allocations {
		issued += a.Amount
	}
	for h := uint64(1); h <= height; h++ {
		issued += g.params.Reward(h)
	}
	for _, acct := range c.Accounts() {
		total += acct.Balance
	}
	if total != issued {
		t.Errorf("%s: balances sum to %d, issued %d", n.ID(), total, issued)
	}
}

func TestNodesAgreeOnPayments(t *testing.T) {
	c := newCluster(t, clusterOpts{nodes: 7, people: 5, bits: 14, hashRate: 20_000, seed: 1,
		link: LinkConfig{Latency: time.Millisecond, Jitter: 2 * time.Millisecond}})
	p := newPayer(c.g, 7)
	c.payAndConfirm(p, 4, 60*time.Second)
	for _, n := range c.nodes {
		checkLedger(t, c.g, n, p.sent)
		if n.Mempool().Len() != 0 {
			t.Errorf("%s: %d transactions still pending", n.ID(), n.Mempool().Len())
		}
	}
	t.Logf("height %d after %d payments\n%s", c.nodes[0].Tip().Height, len(p.sent), c.describe())
}

func ids(nodes []*Node) []PeerID {
	var out []PeerID
	for _, n := range nodes {
		out = append(out, n.ID())
	}
	return out
}

func totalWork(n *Node) *big.Int { return n.Tip().TotalWork }

// onMainChain reports whether block h is on n's main chain.
func onMainChain(n *Node, h Hash, height uint64) bool {
	b, ok := n.Chain().BlockByHeight(height)
	return ok && b.Hash() == h
}

func TestPartitionForksThenHeavierSideWins(t *testing.T) {
	c := newCluster(t, clusterOpts{nodes: 7, people: 5, bits: 14, hashRate: 20_000, seed: 2,
		link: LinkConfig{Latency: time.Millisecond, Jitter: 2 * time.Millisecond}})
	c.waitFor(20*time.Second, "a common start at height 2", func() bool {
		return converged(c.nodes) && c.nodes[0].Tip().Height >= 2
	})
	a, b := c.nodes[:4], c.nodes[4:]
	c.net.Partition(ids(a), ids(b))
	t.Logf("cut the links: %v | %v", ids(a), ids(b))

	// Each side pays on its own; person 2 spends the same nonce on both.
	p := newPayer(c.g, 3)
	var paidA, paidB []Transaction
	for range 5 {
		paidA = append(paidA, p.pay(t, a, 0, 1))
		paidB = append(paidB, p.pay(t, b, 3, 4))
	}
	nonce := p.nonces[2]
	spendA, spendB := c.g.pay(2, 0, 100, 5, nonce), c.g.pay(2, 1, 100, 5, nonce)
	if err := a[0].SubmitTransaction(spendA); err != nil {
		t.Fatal(err)
	}
	if err := b[0].SubmitTransaction(spendB); err != nil {
		t.Fatal(err)
	}
	paidA, paidB = append(paidA, spendA), append(paidB, spendB)
	start := a[0].Tip().Height
	c.waitFor(60*time.Second, "both sides confirming their own payments on their own branch", func() bool {
		return confirmedEverywhere(a, paidA) && confirmedEverywhere(b, paidB) &&
			a[0].Tip().Height >= start+3 && b[0].Tip().Height >= start+3
	})
	if a[0].Tip().Hash == b[0].Tip().Hash {
		t.Fatal("the two sides of the partition share a tip")
	}
	if _, ok := a[0].Chain().Transaction(spendB.ID()); ok {
		t.Fatal("side A confirmed a payment made only on side B")
	}

	// Settle each side on one tip (a tie inside a side is broken by one
	// node mining alone), then make side A strictly heavier, and heal with
	// every miner stopped.
	c.setMining(false)
	c.settleGroup(b, 60*time.Second)
	for totalWork(a[0]).Cmp(totalWork(b[0])) <= 0 || !converged(a) {
		c.settleGroup(a, 60*time.Second)
	}
	winner, loser := a[0].Tip(), b[0].Tip()
	if winner.TotalWork.Cmp(loser.TotalWork) <= 0 {
		t.Fatal("setup: side A is not heavier")
	}
	t.Logf("before heal: A height %d work %v, B height %d work %v", winner.Height, winner.TotalWork, loser.Height, loser.TotalWork)

	// Heal with the miners still stopped: every node must move to the
	// heavier side's tip, whatever it had.
	c.net.Heal()
	c.waitFor(30*time.Second, "every node on side A's tip", func() bool {
		for _, n := range c.nodes {
			if n.Tip().Hash != winner.Hash {
				return false
			}
		}
		return true
	})
	for _, n := range b {
		if _, ok := n.Chain().Transaction(spendB.ID()); ok || n.Mempool().Has(spendB.ID()) {
			t.Errorf("%s kept the losing half of the double spend", n.ID())
		}
	}
	// The payments confirmed only on B are pending again, and confirm on
	// the winning chain once mining resumes.
	for _, tx := range paidB[:len(paidB)-1] {
		pending := false
		for _, n := range c.nodes {
			if _, ok := n.Chain().Transaction(tx.ID()); ok {
				t.Fatalf("%s: a payment of side B is confirmed on side A's branch", n.ID())
			}
			pending = pending || n.Mempool().Has(tx.ID())
		}
		if !pending {
			t.Fatal("a payment confirmed only on the losing side is not back in any mempool")
		}
	}
	rest := append(append([]Transaction(nil), paidA...), paidB[:len(paidB)-1]...)
	c.setMining(true)
	c.waitFor(60*time.Second, "every payment confirmed on every node", func() bool {
		return confirmedEverywhere(c.nodes, rest)
	})
	c.settle(60 * time.Second)
	for _, n := range c.nodes {
		checkLedger(t, c.g, n, rest)
		if !onMainChain(n, winner.Hash, winner.Height) {
			t.Errorf("%s left the heavier branch", n.ID())
		}
		if _, ok := n.Chain().Transaction(spendB.ID()); ok {
			t.Errorf("%s confirms the losing half of the double spend", n.ID())
		}
		if n.Mempool().Has(spendB.ID()) {
			t.Errorf("%s still holds the losing half of the double spend", n.ID())
		}
	}
	t.Logf("after heal: height %d\n%s", c.nodes[0].Tip().Height, c.describe())
}

func TestNodesConvergeDespiteLossDuplicationReordering(t *testing.T) {
	c := newCluster(t, clusterOpts{nodes: 7, people: 5, bits: 14, hashRate: 20_000, seed: 3,
		link: LinkConfig{Latency: time.Millisecond, Jitter: 3 * time.Millisecond, Loss: 0.2, Duplicate: 0.2, Reorder: 0.2}})
	p := newPayer(c.g, 11)
	c.payAndConfirm(p, 3, 90*time.Second)
	for _, n := range c.nodes {
		checkLedger(t, c.g, n, p.sent)
	}
	st := c.net.Stats()
	if st.Lost == 0 || st.Duplicated == 0 {
		t.Fatalf("the faults did not happen: %+v", st)
	}
	t.Logf("height %d; network %+v", c.nodes[0].Tip().Height, st)
}

// syncPair runs a node holding blocks and an empty one on a MemNetwork and
// waits until the empty one has caught up.
func syncPair(tb testing.TB, g *gen, blocks []*Block) time.Duration {
	tb.Helper()
	net := NewMemNetwork(MemNetworkConfig{Seed: 4})
	defer net.Close()
	full := g.chain()
	for _, b := range blocks {
		if _, err := full.AddBlock(b, g.now); err != nil {
			tb.Fatal(err)
		}
	}
	empty := g.chain()
	now := func() time.Time { return g.now }
	a, err := NewNode(NodeConfig{ID: "seed", Chain: full, Network: net, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	bn, err := NewNode(NodeConfig{ID: "newcomer", Chain: empty, Network: net, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	events, unsubscribe := bn.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	start := time.Now()
	wg.Go(func() { _ = a.Run(ctx) })
	wg.Go(func() { _ = bn.Run(ctx) })
	want := full.Tip()
	timeout := time.After(120 * time.Second)
	for bn.Tip().Hash != want.Hash {
		select {
		case <-events:
		case <-timeout:
			tb.Fatalf("newcomer at height %d of %d", bn.Tip().Height, want.Height)
		}
	}
	return time.Since(start)
}

func TestLateNodeSyncs2000Blocks(t *testing.T) {
	baseline := runtime.NumGoroutine()
	g := newGen(t, 10)
	blocks := smallChain(t, g, 2000)
	took := syncPair(t, g, blocks)
	t.Logf("synced 2,000 blocks in %v (%.0f blocks/s)", took, 2000/took.Seconds())
	checkGoroutines(t, baseline)
}

// BenchmarkSync: a new node catches up a 2,000-block chain from one peer
// over a MemNetwork; compare its blocks/s with BenchmarkConnectChain's.
func BenchmarkSync(b *testing.B) {
	const n = 2000
	g := newGen(b, 10)
	blocks := smallChain(b, g, n)
	var total time.Duration
	for b.Loop() {
		total += syncPair(b, g, blocks)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "blocks/s")
}

// MineBlock mines exactly one block, running or not; with one worker, an
// injected clock and no throttle, two nodes mine the very same blocks.
func TestMineBlockIsReproducible(t *testing.T) {
	g := newGen(t, 2)
	var hashes [2][]Hash
	for run := range 2 {
		clock := g.now
		node, err := NewNode(NodeConfig{
			ID: "solo", Chain: g.chain(), Network: NewMemNetwork(MemNetworkConfig{}), MiningWorkers: 1,
			Miner: g.miner, Now: func() time.Time { clock = clock.Add(time.Minute); return clock },
		})
		if err != nil {
			t.Fatal(err)
		}
		tx := g.pay(0, 1, 500, 7, 0)
		if err := node.SubmitTransaction(tx); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			b, res, err := node.MineBlock(context.Background())
			if err != nil || res.Status != StatusMainChain || node.Tip().Hash != b.Hash() {
				t.Fatalf("MineBlock: %v %v", res.Status, err)
			}
			hashes[run] = append(hashes[run], b.Hash())
		}
		if info, ok := node.Chain().Transaction(tx.ID()); !ok || info.Height != 1 {
			t.Fatal("the pending payment is not in the first block")
		}
		if node.BlocksMined() != 3 || node.Mempool().Len() != 0 {
			t.Fatalf("mined %d, pending %d", node.BlocksMined(), node.Mempool().Len())
		}
	}
	if !slices.Equal(hashes[0], hashes[1]) {
		t.Fatalf("two runs mined different blocks:\n%v\n%v", hashes[0], hashes[1])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	node, _ := NewNode(NodeConfig{ID: "x", Chain: g.chain(), Network: NewMemNetwork(MemNetworkConfig{}), HashRate: 10})
	if _, _, err := node.MineBlock(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled MineBlock: %v", err)
	}
}

// The throttle holds a miner to its hash rate.
func TestHashRateThrottle(t *testing.T) {
	p := newHashPacer(100_000)
	start := time.Now()
	var spent uint64
	for time.Since(start) < 200*time.Millisecond {
		if err := p.take(context.Background(), p.burst); err != nil {
			t.Fatal(err)
		}
		spent += p.burst
	}
	rate := float64(spent) / time.Since(start).Seconds()
	if rate > 100_000*1.15 || rate < 100_000*0.7 {
		t.Fatalf("paced at %.0f hashes/s, want about 100,000", rate)
	}
}

// A node that already holds a long stretch of a peer's heavier branch as a
// side branch (as after a partition) still syncs past it: batches of blocks
// it already has do not stop the sync.
func TestSyncPastAKnownSideBranch(t *testing.T) {
	baseline := runtime.NumGoroutine()
	g := newGen(t, 1)
	x := g.branch(g.genesis, 600, nil)
	g.step++
	y := g.branch(g.genesis, 700, nil)
	victim, peer := g.chain(), g.chain()
	g.add(victim, x...)
	g.add(victim, y[:550]...) // known, but lighter than x
	g.add(peer, y...)
	if victim.Tip().Hash != x[599].Hash() {
		t.Fatal("setup: the victim should be on x")
	}
	net := NewMemNetwork(MemNetworkConfig{})
	defer net.Close()
	now := func() time.Time { return g.now }
	nv, _ := NewNode(NodeConfig{ID: "victim", Chain: victim, Network: net, Now: now})
	np, _ := NewNode(NodeConfig{ID: "peer", Chain: peer, Network: net, Now: now})
	events, unsubscribe := nv.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = nv.Run(ctx) })
	wg.Go(func() { _ = np.Run(ctx) })
	timeout := time.After(30 * time.Second)
	for victim.Tip().Hash != y[699].Hash() {
		select {
		case <-events:
		case <-timeout:
			t.Fatalf("victim stuck at height %d on %s", victim.Height(), victim.Tip().Hash.Short(8))
		}
	}
	cancel()
	wg.Wait()
	checkGoroutines(t, baseline)
}

// With a clock that does not move, each template refresh must still search
// new nonces, not the same ones again.
func TestMinerWithFrozenClock(t *testing.T) {
	baseline := runtime.NumGoroutine()
	g := newGen(t, 1, func(p *Params) { p.InitialTarget = TargetFromBits(14) })
	net := NewMemNetwork(MemNetworkConfig{})
	defer net.Close()
	frozen := g.now
	node, _ := NewNode(NodeConfig{ID: "m", Chain: g.chain(), Network: net, Now: func() time.Time { return frozen },
		Mining: true, HashRate: 50_000, TemplateRefresh: 10 * time.Millisecond})
	events, unsubscribe := node.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- node.Run(ctx) }()
	timeout := time.After(20 * time.Second)
	for node.Tip().Height < 2 {
		select {
		case <-events:
		case <-timeout:
			t.Fatalf("no blocks after %d hashes with a frozen clock", node.Hashes())
		}
	}
	cancel()
	<-done
	checkGoroutines(t, baseline)
}

// Two nodes on the test chain mining flat out used to flood it: 1,202 and
// 817 blocks in 0.3 s. TestParams promises a block a second, and a node
// paces its miner to that by default (MinBlockInterval).
func TestTestParamsPaceTheMiners(t *testing.T) {
	g := newGen(t, 1)
	mem := NewMemNetwork(MemNetworkConfig{})
	t.Cleanup(func() { mem.Close() })
	var nodes []*Node
	for i := range 2 {
		n, err := NewNode(NodeConfig{ID: PeerID(fmt.Sprint("miner-", i)), Chain: g.chain(), Network: mem,
			Mining: true, Miner: testWallet(400 + i).Address(), Seed: uint64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	stop := runNodes(t, nodes...)
	time.Sleep(3 * time.Second)
	stop()
	found := nodes[0].BlocksMined() + nodes[1].BlocksMined()
	t.Logf("two miners found %d blocks in 3 s; heights %d and %d", found, nodes[0].Tip().Height, nodes[1].Tip().Height)
	if found == 0 || found > 12 {
		t.Fatalf("two paced miners found %d blocks in 3 s; want a few (about one a second each at most)", found)
	}
	if h := nodes[0].Tip().Height; h > 8 {
		t.Fatalf("the chain grew to %d blocks in 3 s", h)
	}
}

// A node needs an ID, a chain and a network, and says which is missing.
func TestNewNodeNeedsIDChainNetwork(t *testing.T) {
	g := newGen(t, 1)
	mem := NewMemNetwork(MemNetworkConfig{})
	defer mem.Close()
	for name, cfg := range map[string]NodeConfig{
		"empty ID": {Chain: g.chain(), Network: mem},
		"chain":    {ID: "x", Network: mem},
		"network":  {ID: "x", Chain: g.chain()},
	} {
		if _, err := NewNode(cfg); !errors.Is(err, ErrBadConfig) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(strings.TrimPrefix(name, "empty "))) {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	n, err := NewNode(NodeConfig{ID: "x", Chain: g.chain(), Network: mem})
	if err != nil {
		t.Fatal(err)
	}
	if n.cfg.MiningWorkers != runtime.GOMAXPROCS(0) {
		t.Fatalf("0 mining workers became %d, want one per core", n.cfg.MiningWorkers)
	}
	// Joining under an ID already taken: the error names the package once.
	taken, err := mem.Join("x")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	err = n.Run(context.Background())
	if !errors.Is(err, ErrDuplicatePeerID) || strings.Count(err.Error(), "blockchain:") != 1 {
		t.Fatalf("second node with the same ID: %v", err)
	}
}

// A subscriber that falls behind misses events, and the next one it gets
// says how many.
func TestSubscriberIsToldWhatItMissed(t *testing.T) {
	g := newGen(t, 1)
	n, err := NewNode(NodeConfig{ID: "x", Chain: g.chain(), Network: NewMemNetwork(MemNetworkConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	events, stop := n.Subscribe()
	defer stop()
	for range subscriberBuffer + 44 {
		n.emit(Event{Type: EventTx})
	}
	for range subscriberBuffer {
		if e := <-events; e.Missed != 0 {
			t.Fatalf("an event delivered in time says %d missed", e.Missed)
		}
	}
	n.emit(Event{Type: EventTx})
	if e := <-events; e.Missed != 44 {
		t.Fatalf("after falling 44 behind: Missed = %d", e.Missed)
	}
	if n.Miner() != (Address{}) {
		t.Fatal("Miner() of a node without one")
	}
}

// SetMining(false) returns once the miner is idle: no block arrives after
// it, however fast the miner finds them.
func TestSetMiningFalseWaitsForTheMiner(t *testing.T) {
	g := newGen(t, 1)
	mem := NewMemNetwork(MemNetworkConfig{})
	t.Cleanup(func() { mem.Close() })
	n, err := NewNode(NodeConfig{ID: "m", Chain: g.chain(), Network: mem, Mining: true, MinBlockInterval: -1,
		Now: func() time.Time { return g.now }})
	if err != nil {
		t.Fatal(err)
	}
	stop := runNodes(t, n)
	defer stop()
	for round := range 20 {
		n.SetMining(true)
		if !waitUntil(n, 10*time.Second, func() bool { return n.BlocksMined() > uint64(round) }) {
			t.Fatal("no block")
		}
		n.SetMining(false)
		found, height := n.BlocksMined(), n.Tip().Height
		time.Sleep(20 * time.Millisecond)
		if n.BlocksMined() != found || n.Tip().Height != height {
			t.Fatalf("round %d: a block came after SetMining(false) returned", round)
		}
	}
}
