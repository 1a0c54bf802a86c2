package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

// payer makes people pay each other at random: every 100 to 200 ms one of
// them pays another a random amount, with a random fee, through the node
// their wallet uses (Node.Send signs the payment with their next nonce,
// counting their pending payments at that node, and passes it on to the
// node's peers). Each person keeps to one node, as a light wallet does: two
// nodes could disagree about the next nonce while a payment is on its way
// between them, and a wallet that asked both could spend one nonce twice.
type payer struct {
	book   *demo.Book
	people []person

	mu      sync.Mutex
	rng     *rand.Rand
	sent    []blockchain.Transaction
	refused int
}

type person struct {
	name string
	node *blockchain.Node // the node their wallet pays through
}

// newPayer gives each person a node: the first a node of side A, the second
// one of side B, and so on, so that both sides of the coming cut have
// people who pay.
func newPayer(book *demo.Book, names []string, sideA, sideB []*blockchain.Node, seed uint64) *payer {
	p := &payer{book: book, rng: rand.New(rand.NewPCG(seed, 7))}
	sides := [][]*blockchain.Node{sideA, sideB}
	for i, name := range names {
		side := sides[i%2]
		p.people = append(p.people, person{name: name, node: side[i/2%len(side)]})
	}
	return p
}

// on returns the names of the people whose node is one of nodes.
func (p *payer) on(nodes []*blockchain.Node) []string {
	var names []string
	for _, who := range p.people {
		if slices.Contains(nodes, who.node) {
			names = append(names, who.name)
		}
	}
	return names
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
	from := p.rng.IntN(len(p.people))
	to := p.rng.IntN(len(p.people) - 1)
	if to == from {
		to = len(p.people) - 1
	}
	payer, payee := p.people[from], p.people[to]
	tx, err := payer.node.Send(p.book.Wallet(payer.name), p.book.Address(payee.name), 100+p.rng.Uint64N(4901), 1+p.rng.Uint64N(20))
	if err != nil {
		p.refused++
		return
	}
	p.sent = append(p.sent, tx)
}

// payments returns the payments made so far and how many the nodes refused.
func (p *payer) payments() ([]blockchain.Transaction, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent), p.refused
}
