package main

// What the example measures and checks about the nodes' chains: the facts
// its narration states.

import (
	"context"
	"fmt"
	"math/big"
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
	var tip blockchain.Tip
	err := waitFor(ctx, nodes, timeout, func() bool {
		t, ok := commonTip(nodes)
		tip = t
		return ok
	})
	if err != nil {
		return tip, fmt.Errorf("the nodes did not agree on a tip: %w", err)
	}
	return tip, nil
}

// stopMining switches the miners off and waits until the nodes agree on a
// tip. Two blocks found at once leave the nodes split between two tips of
// equal work, and only a further block breaks the tie; so all miners but one
// stop first, and that one breaks any tie while no new one can arise. Once
// the nodes agree, it stops too.
func stopMining(ctx context.Context, nodes []*blockchain.Node, timeout time.Duration) (blockchain.Tip, error) {
	for _, n := range nodes[1:] {
		n.SetMining(false)
	}
	if _, err := agreement(ctx, nodes, timeout); err != nil {
		return blockchain.Tip{}, err
	}
	nodes[0].SetMining(false)
	return agreement(ctx, nodes, timeout)
}

// blockWork returns the work of one block: the chain's target is fixed.
func blockWork(params blockchain.Params) *big.Int {
	t, _ := blockchain.TargetFromCompact(params.InitialTarget.Compact())
	return t.Work()
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
}

func measure(sideA, sideB []*blockchain.Node) fork {
	f := fork{bestA: heaviest(sideA), bestB: heaviest(sideB)}
	f.a, f.b = f.bestA.Tip(), f.bestB.Tip()
	f.at = lastCommon(f.bestA.Chain(), f.a.Hash, f.bestB.Chain(), f.b.Hash)
	f.ownA, f.ownB = f.a.Height-f.at, f.b.Height-f.at
	return f
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

// branchRoots returns the blocks at height on the main chains of nodes:
// where their side's branch starts.
func branchRoots(nodes []*blockchain.Node, height uint64) map[blockchain.Hash]bool {
	roots := make(map[blockchain.Hash]bool)
	for _, n := range nodes {
		if h, ok := ancestor(n.Chain(), n.Tip().Hash, height); ok {
			roots[h] = true
		}
	}
	return roots
}

// whyWinner explains, from the work of the two branches at the heal, why
// side winner's branch won. blockWork is the work of one block.
func whyWinner(f fork, winner string, blockWork *big.Int) string {
	wa, wb := f.a.TotalWork, f.b.TotalWork
	if winner == "B" {
		wa, wb = wb, wa
	}
	diff := new(big.Int).Sub(wa, wb)
	loser := other(winner)
	switch {
	case diff.Sign() > 0:
		return fmt.Sprintf("at the heal it had more work than side %s's, whose %d blocks of its own are abandoned", loser, ownOf(f, loser))
	case diff.Sign() == 0:
		return fmt.Sprintf("at the heal both had the same work; side %s found the next block first", winner)
	case diff.CmpAbs(blockWork) <= 0:
		return fmt.Sprintf("at the heal it was one block's work behind, but side %s found the next blocks first", winner)
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
