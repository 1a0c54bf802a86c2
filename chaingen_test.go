package blockchain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"testing"
	"time"
)

// gen builds blocks in a line each, valid unless told otherwise, in the
// manner of btcd's fullblocktests: tests name a parent, the transactions and
// any mutation, and get a mined block back. It holds no chain: the blocks
// it makes can be fed to any number of chains, in any order.
type gen struct {
	t       testing.TB
	params  Params
	chainID Hash
	people  []*Wallet // funded in genesis with fund each
	genesis *Block
	miner   Address
	step    int64 // nanoseconds between a block and its parent
	now     time.Time
}

const testFund = 1_000_000

// newGen returns a generator for a chain whose genesis gives each of n
// people testFund base units. mods adjust the parameters first.
func newGen(t testing.TB, n int, mods ...func(*Params)) *gen {
	t.Helper()
	p := TestParams()
	g := &gen{t: t, step: int64(time.Second)}
	for i := range n {
		w := testWallet(i)
		g.people = append(g.people, w)
		p.Allocations = append(p.Allocations, Allocation{To: w.Address(), Amount: testFund})
	}
	for _, m := range mods {
		m(&p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	g.params = p
	g.genesis = p.Genesis()
	g.chainID = g.genesis.Hash()
	g.miner = testWallet(100).Address()
	g.now = p.GenesisTime.Add(30 * 24 * time.Hour)
	return g
}

// chain returns a new chain at genesis.
func (g *gen) chain() *Chain {
	g.t.Helper()
	c, err := NewChain(g.params, ChainOptions{})
	if err != nil {
		g.t.Fatal(err)
	}
	return c
}

// pay returns a transaction from person i to person j.
func (g *gen) pay(i, j int, amount, fee, nonce uint64) Transaction {
	return g.people[i].SignTransfer(g.chainID, g.people[j].Address(), amount, fee, nonce)
}

// next returns a mined block on parent holding a coinbase (reward plus
// fees, to g.miner) and txs. Each mutation runs after the block is
// assembled and its Merkle root set, before mining; call fixRoot in a
// mutation that changes transactions and wants the root to follow.
func (g *gen) next(parent *Block, txs []Transaction, muts ...func(*Block)) *Block {
	g.t.Helper()
	h := parent.Header.Height + 1
	var fees uint64
	for _, tx := range txs {
		fees += tx.Fee
	}
	b := &Block{Header: Header{
		Version:  HeaderVersion,
		Height:   h,
		PrevHash: parent.Hash(),
		Time:     parent.Header.Time + g.step,
		Bits:     parent.Header.Bits,
	}}
	b.Transactions = append([]Transaction{NewCoinbase(g.miner, g.params.Reward(h)+fees, h)}, txs...)
	fixRoot(b)
	for _, m := range muts {
		m(b)
	}
	g.mine(b)
	return b
}

func fixRoot(b *Block) { b.Header.MerkleRoot = b.ComputeMerkleRoot() }

func (g *gen) mine(b *Block) {
	g.t.Helper()
	if _, err := b.Header.Target(); err != nil {
		return // an invalid target cannot be mined; the test wants that
	}
	if _, err := Mine(context.Background(), &b.Header, 1); err != nil {
		g.t.Fatal(err)
	}
}

// breakPoW changes the nonce until the hash misses the target.
func breakPoW(b *Block) {
	t, _ := b.Header.Target()
	for b.Header.Nonce++; b.Hash().MeetsTarget(t); b.Header.Nonce++ {
	}
}

// branch returns n blocks on parent; txs(i) gives the i-th block's
// transactions (nil for none).
func (g *gen) branch(parent *Block, n int, txs func(i int) []Transaction) []*Block {
	g.t.Helper()
	out := make([]*Block, 0, n)
	for i := range n {
		var t []Transaction
		if txs != nil {
			t = txs(i)
		}
		parent = g.next(parent, t)
		out = append(out, parent)
	}
	return out
}

// add adds blocks in order and fails the test on any error.
func (g *gen) add(c *Chain, blocks ...*Block) AddResult {
	g.t.Helper()
	var res AddResult
	for _, b := range blocks {
		var err error
		if res, err = c.AddBlock(b, g.now); err != nil {
			g.t.Fatalf("block %d (%s): %v", b.Header.Height, b.Hash().Short(12), err)
		}
	}
	return res
}

// digest fingerprints everything a rejected block or transaction must
// leave alone: tip, balances, nonces, confirmed transactions, mempool.
func digest(c *Chain, m *Mempool) Hash {
	c.mu.RLock()
	d := sha256.New()
	tip := c.tip()
	d.Write(tip.hash[:])
	sd := c.state.digest()
	d.Write(sd[:])
	var buf []byte
	for _, p := range slices.Sorted(maps.Keys(c.state.txs)) {
		buf = binary.BigEndian.AppendUint64(buf, p)
		buf = binary.BigEndian.AppendUint64(buf, c.state.txs[p])
	}
	for _, id := range slices.SortedFunc(maps.Keys(c.state.txsOverflow), func(a, b Hash) int { return bytes.Compare(a[:], b[:]) }) {
		buf = append(buf, id[:]...)
		buf = binary.BigEndian.AppendUint64(buf, c.state.txsOverflow[id])
	}
	c.mu.RUnlock()
	d.Write(buf)
	if m != nil {
		for _, id := range m.IDs() {
			d.Write(id[:])
		}
	}
	var h Hash
	d.Sum(h[:0])
	return h
}
