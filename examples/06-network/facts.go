package main

// What the example measures and checks about the nodes' chains: the facts
// its narration states.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

// commonTip returns the tip all nodes report, if they report the same.
func commonTip(nodes []*blockchain.Node) (blockchain.Tip, bool) {
	tip := nodes[0].Tip()
	for _, n := range nodes[1:] {
		if n.Tip().Hash != tip.Hash {
			return tip, false
		}
	}
	return tip, true
}

// agreement waits until all nodes report the same tip, and returns it.
func agreement(ctx context.Context, nodes []*blockchain.Node, timeout time.Duration) (blockchain.Tip, error) {
	return agreementAnd(ctx, nodes, timeout, func() bool { return true })
}

// settled waits until the nodes, whose miners are off, agree on a tip and
// no block is on its way from a miner: the tip they agree on will stay.
func settled(ctx context.Context, nodes []*blockchain.Node, timeout time.Duration) (blockchain.Tip, error) {
	return agreementAnd(ctx, nodes, timeout, quiet(nodes))
}

// agreementAnd waits until all nodes report the same tip and also holds,
// and returns the tip.
func agreementAnd(ctx context.Context, nodes []*blockchain.Node, timeout time.Duration, also func() bool) (blockchain.Tip, error) {
	var tip blockchain.Tip
	err := waitFor(ctx, nodes, timeout, func() bool {
		t, ok := commonTip(nodes)
		tip = t
		return ok && also()
	})
	if err != nil {
		return tip, fmt.Errorf("the nodes did not agree on a tip (%s): %w", tips(nodes), err)
	}
	return tip, nil
}

// tips describes each node's tip and peers, for an error: "7301 h=12
// [0001a3f] 6 peers, 1a2b h=11 [00007c2] 6 peers".
func tips(nodes []*blockchain.Node) string {
	var s []string
	for _, n := range nodes {
		st := n.Status()
		s = append(s, fmt.Sprintf("%s h=%d [%s] %d peers", n.ID(), st.Tip.Height, st.Tip.Hash.Short(hashDigits), st.Peers))
	}
	return strings.Join(s, ", ")
}

// heaviest returns the node whose chain has the most work (the first of
// equals).
func heaviest(nodes []*blockchain.Node) *blockchain.Node {
	best, work := nodes[0], nodes[0].Tip().TotalWork
	for _, n := range nodes[1:] {
		if w := n.Tip().TotalWork; w.Cmp(work) > 0 {
			best, work = n, w
		}
	}
	return best
}

// fork describes the two sides' branches during the partition.
type fork struct {
	bestA, bestB *blockchain.Node // each side's node with the most work
	a, b         blockchain.Tip   // their tips
	at           uint64           // the last height both branches share
	ownA, ownB   uint64           // the blocks each branch has above it
	rootA, rootB blockchain.Hash  // each branch's first block of its own
}

func measure(sideA, sideB []*blockchain.Node) fork {
	f := fork{bestA: heaviest(sideA), bestB: heaviest(sideB)}
	f.a, f.b = f.bestA.Tip(), f.bestB.Tip()
	f.at = lastCommon(f.bestA.Chain(), f.a.Hash, f.bestB.Chain(), f.b.Hash)
	f.ownA, f.ownB = f.a.Height-f.at, f.b.Height-f.at
	f.rootA, _ = ancestor(f.bestA.Chain(), f.a.Hash, f.at+1)
	f.rootB, _ = ancestor(f.bestB.Chain(), f.b.Hash, f.at+1)
	return f
}

// ownBranches waits until each side has mined at least two blocks of its
// own and the nodes of each side agree on their side's tip, and returns
// the fork. It gives up after timeout, returning the fork as it stands.
func ownBranches(ctx context.Context, sideA, sideB []*blockchain.Node, timeout time.Duration) (fork, error) {
	var f fork
	err := waitFor(ctx, append(slices.Clone(sideA), sideB...), timeout, func() bool {
		_, agreeA := commonTip(sideA)
		_, agreeB := commonTip(sideB)
		f = measure(sideA, sideB)
		return agreeA && agreeB && f.ownA >= 2 && f.ownB >= 2
	})
	return f, err
}

// winner returns the side whose branch the tip is on: "A", "B", or "" for
// neither.
func (f fork) winner(c *blockchain.Chain, tip blockchain.Hash) string {
	switch root, _ := ancestor(c, tip, f.at+1); root {
	case f.rootA:
		return "A"
	case f.rootB:
		return "B"
	}
	return ""
}

// lastCommon returns the height of the last block that the branch ending
// at ha in ca and the one ending at hb in cb share. It follows the blocks'
// own links, so it sees each branch as it was even if a node moves on.
func lastCommon(ca *blockchain.Chain, ha blockchain.Hash, cb *blockchain.Chain, hb blockchain.Hash) uint64 {
	a, okA := ca.BlockByHash(ha)
	b, okB := cb.BlockByHash(hb)
	for okA && okB && a.Hash() != b.Hash() {
		if a.Header.Height >= b.Header.Height {
			a, okA = ca.BlockByHash(a.Header.PrevHash)
		} else {
			b, okB = cb.BlockByHash(b.Header.PrevHash)
		}
	}
	if !okA || !okB {
		return 0
	}
	return a.Header.Height
}

// ancestor returns the hash of the block at height on the branch that ends
// at tip.
func ancestor(c *blockchain.Chain, tip blockchain.Hash, height uint64) (blockchain.Hash, bool) {
	for {
		b, ok := c.BlockByHash(tip)
		switch {
		case !ok || b.Header.Height < height:
			return blockchain.Hash{}, false
		case b.Header.Height == height:
			return tip, true
		}
		tip = b.Header.PrevHash
	}
}

// whyWinner explains, from the work of the two branches at the heal, why
// side winner's branch won.
func whyWinner(f fork, winner string) string {
	wa, wb := f.a.TotalWork, f.b.TotalWork
	if winner == "B" {
		wa, wb = wb, wa
	}
	loser := other(winner)
	switch wa.Cmp(wb) {
	case 1:
		return fmt.Sprintf("at the heal it had more work than side %s's, whose %d blocks of its own are abandoned", loser, ownOf(f, loser))
	case 0:
		return fmt.Sprintf("at the heal both had the same work, each node kept the branch it had, and side %s found the next block first", winner)
	default:
		return fmt.Sprintf("though at the heal it had less work than side %s's", loser)
	}
}

func ownOf(f fork, side string) uint64 {
	if side == "A" {
		return f.ownA
	}
	return f.ownB
}

func other(side string) string {
	if side == "A" {
		return "B"
	}
	return "A"
}

// confirmedOnlyOn returns the payments confirmed on a's main chain but not
// on b's.
func confirmedOnlyOn(pay *payer, a, b *blockchain.Node) []blockchain.Transaction {
	sent, _ := pay.payments()
	var only []blockchain.Transaction
	for _, tx := range sent {
		_, onA := a.Chain().Transaction(tx.ID())
		_, onB := b.Chain().Transaction(tx.ID())
		if onA && !onB {
			only = append(only, tx)
		}
	}
	return only
}

// confirmedOnAll counts the payments confirmed on every node's main chain.
func confirmedOnAll(nodes []*blockchain.Node, txs []blockchain.Transaction) int {
	count := 0
	for _, tx := range txs {
		all := true
		for _, n := range nodes {
			if _, ok := n.Chain().Transaction(tx.ID()); !ok {
				all = false
				break
			}
		}
		if all {
			count++
		}
	}
	return count
}

// checkLedger checks n's main chain: every payment in sent on it exactly
// once, and the balances summing to what the genesis block and the rewards
// created.
func checkLedger(n *blockchain.Node, sent []blockchain.Transaction, params blockchain.Params) error {
	c := n.Chain()
	count := make(map[blockchain.Hash]int)
	height := c.Height()
	for h := range height + 1 {
		b, ok := c.BlockByHeight(h)
		if !ok {
			return fmt.Errorf("node %s: no block at height %d", n.ID(), h)
		}
		for _, id := range b.TxIDs() {
			count[id]++
		}
	}
	for _, tx := range sent {
		if k := count[tx.ID()]; k != 1 {
			return fmt.Errorf("node %s: payment %s confirmed %d times", n.ID(), tx.ID().Short(12), k)
		}
	}
	var issued, total uint64
	for _, a := range params.Allocations {
		issued += a.Amount
	}
	for h := uint64(1); h <= height; h++ {
		issued += params.Reward(h)
	}
	for _, acct := range c.Accounts() {
		total += acct.Balance
	}
	if total != issued {
		return fmt.Errorf("node %s: balances sum to %d, but %d coins were issued", n.ID(), total, issued)
	}
	return nil
}

// blocksFound returns, per node, how many blocks its miner found and how
// many of them are on the (common) main chain.
func blocksFound(nodes []*blockchain.Node, people *demo.Book) (found, onChain map[blockchain.PeerID]uint64) {
	found, onChain = make(map[blockchain.PeerID]uint64), make(map[blockchain.PeerID]uint64)
	for _, n := range nodes {
		found[n.ID()] = n.BlocksMined()
	}
	c := nodes[0].Chain()
	for h := uint64(1); h <= c.Height(); h++ {
		b, _ := c.BlockByHeight(h)
		for _, n := range nodes {
			if b.Transactions[0].To == people.Address(minerName(n.ID())) {
				onChain[n.ID()]++
			}
		}
	}
	return found, onChain
}

// checkEnd checks how the run ended: every node on the tip tip, and on
// every node's chain each payment in sent exactly once and the balances
// adding up.
func checkEnd(nodes []*blockchain.Node, tip blockchain.Tip, sent []blockchain.Transaction, params blockchain.Params) error {
	if t, ok := commonTip(nodes); !ok || t.Hash != tip.Hash {
		return fmt.Errorf("the nodes stopped on different tips")
	}
	for _, n := range nodes {
		if err := checkLedger(n, sent, params); err != nil {
			return err
		}
	}
	return nil
}

// blocksLine counts the blocks the nodes found, and says, per node, how
// many of its blocks are on the chain of how many it found: "7301 3/4,
// 1a2b 2/2".
func blocksLine(nodes []*blockchain.Node, people *demo.Book) (total uint64, line string) {
	found, onChain := blocksFound(nodes, people)
	var perNode []string
	for _, n := range nodes {
		perNode = append(perNode, fmt.Sprintf("%s %d/%d", n.ID(), onChain[n.ID()], found[n.ID()]))
		total += found[n.ID()]
	}
	return total, strings.Join(perNode, ", ")
}

// balancesLine lists the balances of names on n's chain: "alice 1,000,
// bob 2,000".
func balancesLine(n *blockchain.Node, people *demo.Book, names []string) string {
	var balances []string
	for _, name := range names {
		balances = append(balances, name+" "+demo.Commas(n.Balance(people.Address(name))))
	}
	return strings.Join(balances, ", ")
}
