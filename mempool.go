package blockchain

import (
	"bytes"
	"cmp"
	"container/heap"
	"math"
	"slices"
	"sync"
	"time"
)

// MempoolOptions are a [Mempool]'s limits: local policy, not consensus.
// The zero value gives the defaults.
type MempoolOptions struct {
	// MaxTxs bounds the pool; when full, new transactions are refused with
	// ErrMempoolFull. 0 means 10,000.
	MaxTxs int
	// MaxPerSender bounds one sender's pending transactions, and so how
	// far ahead of its next nonce a transaction may be. 0 means 64.
	MaxPerSender int
	// MinFee is the lowest fee accepted, in base units.
	MinFee uint64
}

// Mempool holds valid transactions waiting for a block, and builds block
// templates from them, highest fee first. It checks every transaction
// against the tip of its [Chain]: signature, fee, the sender's balance
// (covering all its pending transactions) and nonce. A transaction may run
// ahead of the sender's next nonce (up to MaxPerSender), because gossip can
// deliver nonce 5 before nonce 4; it is mined once the gap is filled.
//
// After every [Chain.AddBlock] that moved the tip, call [Mempool.Update]
// with the result: it drops what the new blocks confirmed or invalidated
// and takes back the transactions of disconnected blocks that are still
// valid. A Mempool is safe for concurrent use.
type Mempool struct {
	mu       sync.Mutex
	chain    *Chain
	opts     MempoolOptions
	txs      map[Hash]*poolTx
	bySender map[Address]map[uint64]*poolTx
	seq      uint64
}

type poolTx struct {
	tx   Transaction
	id   Hash
	from Address
	seq  uint64 // arrival order, breaks fee ties
}

// NewMempool returns an empty pool for chain.
func NewMempool(chain *Chain, opts MempoolOptions) *Mempool {
	if opts.MaxTxs <= 0 {
		opts.MaxTxs = 10_000
	}
	if opts.MaxPerSender <= 0 {
		opts.MaxPerSender = 64
	}
	return &Mempool{
		chain:    chain,
		opts:     opts,
		txs:      make(map[Hash]*poolTx),
		bySender: make(map[Address]map[uint64]*poolTx),
	}
}

// Add checks tx and adds it to the pool. A refused transaction returns a
// [*RuleError] and changes nothing.
func (m *Mempool) Add(tx Transaction) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chain.mu.RLock()
	defer m.chain.mu.RUnlock()
	return m.add(tx, tx.ID(), true)
}

// add checks and inserts tx. Both locks are held.
func (m *Mempool) add(tx Transaction, id Hash, verify bool) error {
	if _, ok := m.txs[id]; ok {
		return ruleErr(ErrKnownTx, "transaction %s is already pending", id.Short(12))
	}
	if tx.IsCoinbase() {
		return ruleErr(ErrBadCoinbase, "a coinbase cannot be submitted; miners create it")
	}
	if _, ok := m.chain.state.txs[id]; ok {
		return ruleErr(ErrTxOnChain, "transaction %s is already confirmed", id.Short(12))
	}
	cost, over := addOverflows(tx.Amount, tx.Fee)
	if over {
		return ruleErr(ErrOverflow, "amount + fee exceeds 2^64-1")
	}
	if tx.Fee < m.opts.MinFee {
		return ruleErr(ErrFeeTooLow, "fee %d below this node's minimum %d", tx.Fee, m.opts.MinFee)
	}
	from := tx.From.Address()
	acct := m.chain.state.account(from)
	pending := m.bySender[from]
	switch {
	case tx.Nonce < acct.Nonce:
		return ruleErr(ErrNonceTooLow, "nonce %d of %s already used (next is %d)", tx.Nonce, from, acct.Nonce)
	case tx.Nonce-acct.Nonce >= uint64(m.opts.MaxPerSender) || tx.Nonce == math.MaxUint64:
		return ruleErr(ErrNonceTooHigh, "nonce %d of %s is too far ahead of %d", tx.Nonce, from, acct.Nonce)
	}
	if _, ok := pending[tx.Nonce]; ok {
		return ruleErr(ErrMempoolConflict, "another transaction from %s with nonce %d is pending", from, tx.Nonce)
	}
	if len(pending) >= m.opts.MaxPerSender {
		return ruleErr(ErrNonceTooHigh, "%s already has %d pending transactions", from, len(pending))
	}
	spent := cost
	for _, p := range pending {
		if spent, over = addOverflows(spent, p.tx.Amount+p.tx.Fee); over {
			break
		}
	}
	if over || spent > acct.Balance {
		return ruleErr(ErrInsufficientFunds, "%s has %d, its pending transactions with this one spend %d", from, acct.Balance, spent)
	}
	if len(m.txs) >= m.opts.MaxTxs {
		return ruleErr(ErrMempoolFull, "%d transactions pending", len(m.txs))
	}
	if verify {
		if err := tx.Verify(m.chain.chainID); err != nil {
			return err
		}
	}
	p := &poolTx{tx: tx, id: id, from: from, seq: m.seq}
	m.seq++
	m.txs[id] = p
	if pending == nil {
		pending = make(map[uint64]*poolTx)
		m.bySender[from] = pending
	}
	pending[tx.Nonce] = p
	return nil
}

func (m *Mempool) remove(p *poolTx) {
	delete(m.txs, p.id)
	pending := m.bySender[p.from]
	delete(pending, p.tx.Nonce)
	if len(pending) == 0 {
		delete(m.bySender, p.from)
	}
}

// Update brings the pool in line with the chain after AddBlock: the
// transactions of res.Connected leave the pool, those of res.Disconnected
// come back if still valid, and anything the new tip makes invalid (a used
// nonce, a balance no longer enough) is dropped.
func (m *Mempool) Update(res AddResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chain.mu.RLock()
	defer m.chain.mu.RUnlock()
	for _, b := range res.Connected {
		for i := range b.Transactions {
			if p, ok := m.txs[b.Transactions[i].ID()]; ok {
				m.remove(p)
			}
		}
	}
	for _, b := range res.Disconnected {
		for _, tx := range b.Transactions[1:] {
			// Signatures were checked when the block was accepted.
			_ = m.add(tx, tx.ID(), false)
		}
	}
	m.revalidate()
}

// revalidate drops, per sender, used nonces and every transaction from the
// first one the balance no longer covers. Both locks are held.
func (m *Mempool) revalidate() {
	for from, pending := range m.bySender {
		acct := m.chain.state.account(from)
		nonces := make([]uint64, 0, len(pending))
		for n := range pending {
			nonces = append(nonces, n)
		}
		slices.Sort(nonces)
		var spent uint64
		broke := false
		for _, n := range nonces {
			p := pending[n]
			_, onChain := m.chain.state.txs[p.id]
			keep := !broke && n >= acct.Nonce && !onChain
			if keep {
				var over bool
				spent, over = addOverflows(spent, p.tx.Amount+p.tx.Fee)
				keep = !over && spent <= acct.Balance
				broke = !keep
			}
			if !keep {
				m.remove(p)
			}
		}
	}
}

// Len returns the number of pending transactions.
func (m *Mempool) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.txs)
}

// Has reports whether the transaction is pending.
func (m *Mempool) Has(id Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.txs[id]
	return ok
}

// Get returns a pending transaction.
func (m *Mempool) Get(id Hash) (Transaction, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.txs[id]
	if !ok {
		return Transaction{}, false
	}
	return p.tx, true
}

// Transactions returns the pending transactions in arrival order.
func (m *Mempool) Transactions() []Transaction {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := make([]*poolTx, 0, len(m.txs))
	for _, p := range m.txs {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *poolTx) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Transaction, len(ps))
	for i, p := range ps {
		out[i] = p.tx
	}
	return out
}

// IDs returns the IDs of the pending transactions, sorted.
func (m *Mempool) IDs() []Hash {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]Hash, 0, len(m.txs))
	for id := range m.txs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// NextNonce returns the nonce a's next transaction should carry: after its
// confirmed ones and the pending ones that follow them without a gap.
func (m *Mempool) NextNonce(a Address) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chain.mu.RLock()
	defer m.chain.mu.RUnlock()
	n := m.chain.state.account(a).Nonce
	for pending := m.bySender[a]; pending[n] != nil; n++ {
	}
	return n
}

// NewBlockTemplate returns a block on the chain's tip, ready to mine: a
// coinbase paying miner the reward plus fees, then the pending
// transactions with the highest fees that fit, each sender's in nonce
// order. Its time is now, or just after the median time past if the clock
// is behind it; its target is the one the chain expects.
func (m *Mempool) NewBlockTemplate(miner Address, now time.Time) *Block {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.chain
	c.mu.RLock()
	defer c.mu.RUnlock()

	tip := c.tip()
	height := tip.height + 1
	b := &Block{Header: Header{
		Version:  HeaderVersion,
		Height:   height,
		PrevHash: tip.hash,
		Time:     max(now.UnixNano(), medianTimePast(tip)+1),
		Bits:     nextBits(&c.params, tip),
	}}
	maxTxs := min(c.params.MaxBlockTxs, (c.params.MaxBlockSize-HeaderSize-binaryMaxVarintLen)/TxSize) - 1

	// Each sender offers its next executable transaction; the heap picks
	// the highest fee, then the earliest arrival.
	h := &senderHeap{}
	next := make(map[Address]uint64)
	for from, pending := range m.bySender {
		n := c.state.account(from).Nonce
		if p := pending[n]; p != nil {
			heap.Push(h, p)
			next[from] = n
		}
	}
	b.Transactions = append(b.Transactions, Transaction{}) // coinbase, filled below
	var fees uint64
	for h.Len() > 0 && len(b.Transactions)-1 < maxTxs {
		p := heap.Pop(h).(*poolTx)
		sum, over := addOverflows(fees, p.tx.Fee)
		if over {
			continue // cannot happen with real balances; skip the sender
		}
		fees = sum
		b.Transactions = append(b.Transactions, p.tx)
		next[p.from]++
		if q := m.bySender[p.from][next[p.from]]; q != nil {
			heap.Push(h, q)
		}
	}
	reward, over := addOverflows(c.params.Reward(height), fees)
	if over {
		reward = math.MaxUint64 // a coinbase may pay less than it could
	}
	b.Transactions[0] = NewCoinbase(miner, reward, height)
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	return b
}

const binaryMaxVarintLen = 10

type senderHeap []*poolTx

func (h senderHeap) Len() int { return len(h) }
func (h senderHeap) Less(i, j int) bool {
	if h[i].tx.Fee != h[j].tx.Fee {
		return h[i].tx.Fee > h[j].tx.Fee
	}
	return h[i].seq < h[j].seq
}
func (h senderHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *senderHeap) Push(x any)   { *h = append(*h, x.(*poolTx)) }
func (h *senderHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}
