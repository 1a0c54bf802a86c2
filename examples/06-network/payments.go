package main

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

// payer makes people pay each other at random: every 100 to 200 ms one of
// them signs a payment of a random amount to another and submits it to a
// random node they can reach. Each person counts their own payments, which
// gives the nonce of the next one, as a wallet does.
type payer struct {
	book    *demo.Book
	chainID blockchain.Hash
	nodes   []*blockchain.Node

	mu      sync.Mutex
	rng     *rand.Rand
	people  []*person
	sent    []blockchain.Transaction
	refused int
}

type person struct {
	name  string
	nonce uint64             // the nonce of their next payment
	reach []*blockchain.Node // the nodes they can reach
}

func newPayer(book *demo.Book, names []string, nodes []*blockchain.Node, chainID blockchain.Hash, seed uint64) *payer {
	p := &payer{book: book, chainID: chainID, nodes: nodes, rng: rand.New(rand.NewPCG(seed, 7))}
	for _, n := range names {
		p.people = append(p.people, &person{name: n, reach: nodes})
	}
	return p
}

// run pays until ctx is done, then returns nil.
func (p *payer) run(ctx context.Context) error {
	for {
		p.mu.Lock()
		wait := 100*time.Millisecond + time.Duration(p.rng.Int64N(int64(100*time.Millisecond)))
		p.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		p.pay()
	}
}

// pay makes one random payment.
func (p *payer) pay() {
	p.mu.Lock()
	defer p.mu.Unlock()
	from := p.people[p.rng.IntN(len(p.people))]
	to := p.people[p.rng.IntN(len(p.people)-1)]
	if to == from {
		to = p.people[len(p.people)-1]
	}
	node := from.reach[p.rng.IntN(len(from.reach))]
	tx := p.book.Wallet(from.name).SignTransfer(p.chainID, p.book.Address(to.name), 100+p.rng.Uint64N(4901), 1+p.rng.Uint64N(20), from.nonce)
	if err := node.SubmitTransaction(tx); err != nil {
		p.refused++ // the nonce stays unused; the next payment takes it
		return
	}
	from.nonce++
	p.sent = append(p.sent, tx)
}

// confine lets each person reach only the nodes of one side: person i those
// of sides[i%len(sides)]. No sides lets everybody reach every node again.
// It returns the names on each side.
func (p *payer) confine(sides ...[]*blockchain.Node) [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([][]string, len(sides))
	for i, who := range p.people {
		who.reach = p.nodes
		if len(sides) > 0 {
			who.reach = sides[i%len(sides)]
			names[i%len(sides)] = append(names[i%len(sides)], who.name)
		}
	}
	return names
}

// payments returns the payments made so far and how many the nodes refused.
func (p *payer) payments() ([]blockchain.Transaction, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]blockchain.Transaction(nil), p.sent...), p.refused
}
