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
	// MaxTxs bounds the pool; 0 means 10,000. When it is full, a new
	// transaction gets in only by paying a higher fee than the cheapest
	// pending one, which it evicts (see [Mempool.Add]).
	MaxTxs int
	// MaxPerSender bounds one sender's pending transactions, and so how
	// far ahead of its next nonce a transaction may be. 0 means 64.
	MaxPerSender int
	// MinRelayFee is the lowest fee the pool accepts, in base units. 0
	// means the chain's Params.MinTxFee, or 1 if that is 0: a pool never
	// takes free transactions by default.
	MinRelayFee uint64
}

// Mempool holds valid transactions waiting for a block, and builds block
// templates from them, highest fee first. It checks every transaction
// against the tip of its [Chain]: signature, amounts and fee, the sender's
// balance (covering all its pending transactions) and nonce. A transaction
// may run ahead of the sender's next nonce (up to MaxPerSender), because
// gossip can deliver nonce 5 before nonce 4; it is mined once the gap is
// filled.
//
// Its limits are policy, not consensus: a fee floor above zero
// (MinRelayFee), and a bound on its size. When full, it keeps the
// transactions that pay the most: a newcomer paying more than the cheapest
// pending transaction evicts it, with the same sender's later nonces
// (which could not be mined without it), so no sender is left with a gap.
// Filling the pool therefore costs an attacker fees that any payment can
// outbid. Every transaction has the same size, so a fee is a fee rate.
//
// After every [Chain.AddBlock] that moved the tip, call [Mempool.Update]
// with the result: it drops what the new blocks confirmed or invalidated
// and takes back the transactions of disconnected blocks that are still
// valid, touching only the senders those blocks involve. A Mempool is safe
// for concurrent use.
type Mempool struct {
	mu       sync.Mutex
	chain    *Chain
	opts     MempoolOptions
	txs      map[Hash]*poolTx
	bySender map[Address]map[uint64]*poolTx
	cheap    evictHeap // every pending transaction, cheapest first
	seq      uint64
}

type poolTx struct {
	tx   Transaction
	id   Hash
	from Address
	seq  uint64 // arrival order, breaks fee ties
	pos  int    // index in the eviction heap, -1 when out of it
}

// NewMempool returns an empty pool for chain.
func NewMempool(chain *Chain, opts MempoolOptions) *Mempool {
	if opts.MaxTxs <= 0 {
		opts.MaxTxs = 10_000
	}
	if opts.MaxPerSender <= 0 {
		opts.MaxPerSender = 64
	}
	if opts.MinRelayFee == 0 {
		opts.MinRelayFee = max(1, chain.params.MinTxFee)
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
//
// When the pool is full, tx must pay a higher fee than the cheapest
// pending transaction: that one is evicted with its sender's later nonces,
// and so on until tx fits. If tx does not outbid what it would have to
// evict, or evicting would leave a gap before tx's own nonce, it is refused
// with [ErrMempoolFull].
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
	if err := checkTxAmounts(&m.chain.params, &tx); err != nil {
		return err
	}
	from := tx.From.Address()
	acct := m.chain.state.account(from)
	pending := m.bySender[from]
	switch {
	case tx.Nonce < acct.Nonce:
		if _, _, _, _, ok := m.chain.findTx(id); ok {
			return ruleErr(ErrTxOnChain, "transaction %s is already confirmed", id.Short(12))
		}
		return ruleErr(ErrNonceTooLow, "nonce %d of %s already used (next is %d)", tx.Nonce, from, acct.Nonce)
	case tx.Nonce-acct.Nonce >= uint64(m.opts.MaxPerSender) || tx.Nonce == math.MaxUint64:
		return ruleErr(ErrNonceTooHigh, "nonce %d of %s is too far ahead of %d", tx.Nonce, from, acct.Nonce)
	}
	if tx.Fee < m.opts.MinRelayFee {
		return ruleErr(ErrFeeTooLow, "fee %s coins is below this node's minimum of %s", FormatCoins(tx.Fee), FormatCoins(m.opts.MinRelayFee))
	}
	if _, ok := pending[tx.Nonce]; ok {
		return ruleErr(ErrMempoolConflict, "another transaction from %s with nonce %d is pending", from, tx.Nonce)
	}
	if len(pending) >= m.opts.MaxPerSender {
		return ruleErr(ErrNonceTooHigh, "%s already has %d pending transactions", from, len(pending))
	}
	spent := tx.Amount + tx.Fee
	for _, p := range pending {
		spent += p.tx.Amount + p.tx.Fee // at most 64 × MaxMoney: no overflow
	}
	if spent > acct.Balance {
		return ruleErr(ErrInsufficientFunds, "%s has %s coins, its pending transactions with this one spend %s",
			from, FormatCoins(acct.Balance), FormatCoins(spent))
	}
	victims, err := m.victimsFor(&tx, from)
	if err != nil {
		return err
	}
	if verify {
		if err := tx.Verify(m.chain.chainID); err != nil {
			m.restore(victims)
			return err
		}
	}
	for _, v := range victims {
		m.remove(v)
	}
	p := &poolTx{tx: tx, id: id, from: from, seq: m.seq, pos: -1}
	m.seq++
	m.txs[id] = p
	if pending == nil {
		pending = make(map[uint64]*poolTx)
		m.bySender[from] = pending
	}
	pending[tx.Nonce] = p
	heap.Push(&m.cheap, p)
	return nil
}

// victimsFor returns what must be evicted for tx to fit, already taken out
// of the eviction heap (restore puts them back if tx is refused after all).
func (m *Mempool) victimsFor(tx *Transaction, from Address) ([]*poolTx, error) {
	if len(m.txs) < m.opts.MaxTxs {
		return nil, nil
	}
	var popped []*poolTx
	chosen := make(map[*poolTx]bool)
	for len(m.txs)-len(chosen) >= m.opts.MaxTxs {
		if m.cheap.Len() == 0 {
			break
		}
		p := heap.Pop(&m.cheap).(*poolTx)
		popped = append(popped, p)
		if chosen[p] {
			continue // already evicted as a later nonce of an earlier victim
		}
		if p.tx.Fee >= tx.Fee {
			m.restore(popped)
			return nil, ruleErr(ErrMempoolFull, "%d transactions pending; to get in, pay a fee above %s coins",
				len(m.txs), FormatCoins(p.tx.Fee))
		}
		if p.from == from && p.tx.Nonce < tx.Nonce {
			m.restore(popped)
			return nil, ruleErr(ErrMempoolFull, "%d transactions pending, and this sender's own nonce %d pays the least", len(m.txs), p.tx.Nonce)
		}
		for n, q := range m.bySender[p.from] {
			if n >= p.tx.Nonce {
				chosen[q] = true
			}
		}
	}
	victims := make([]*poolTx, 0, len(chosen))
	for p := range chosen {
		victims = append(victims, p)
	}
	// The popped ones that are not victims go back.
	var back []*poolTx
	for _, p := range popped {
		if !chosen[p] {
			back = append(back, p)
		}
	}
	m.restore(back)
	return victims, nil
}

// restore puts popped transactions back in the eviction heap.
func (m *Mempool) restore(ps []*poolTx) {
	for _, p := range ps {
		if p.pos < 0 {
			heap.Push(&m.cheap, p)
		}
	}
}

func (m *Mempool) remove(p *poolTx) {
	delete(m.txs, p.id)
	pending := m.bySender[p.from]
	delete(pending, p.tx.Nonce)
	if len(pending) == 0 {
		delete(m.bySender, p.from)
	}
	if p.pos >= 0 {
		heap.Remove(&m.cheap, p.pos)
	}
}

// Update brings the pool in line with the chain after AddBlock: the
// transactions of res.Disconnected come back if still valid, and the
// pending transactions of every address the blocks touched are checked
// again: a used nonce (the transactions of res.Connected among them) or a
// balance no longer enough drops a transaction and its sender's later ones. Senders the
// blocks did not touch are not looked at, so the cost follows the blocks,
// not the pool.
func (m *Mempool) Update(res AddResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chain.mu.RLock()
	defer m.chain.mu.RUnlock()
	touched := make(map[Address]bool)
	touch := func(b *Block) {
		for i := range b.Transactions {
			tx := &b.Transactions[i]
			touched[tx.To] = true
			if !tx.IsCoinbase() {
				touched[tx.From.Address()] = true
			}
		}
	}
	// A connected transaction's sender is touched, and revalidating it
	// drops the used nonce: the transaction itself, or one that conflicts.
	for _, b := range res.Connected {
		touch(b)
	}
	for _, b := range res.Disconnected {
		touch(b)
		for _, tx := range b.Transactions[1:] {
			// Signatures were checked when the block was connected.
			_ = m.add(tx, tx.ID(), false)
		}
	}
	for a := range touched {
		if m.bySender[a] != nil {
			m.revalidate(a)
		}
	}
}

// revalidate drops from's used nonces and every transaction from the first
// one its balance no longer covers. Both locks are held.
func (m *Mempool) revalidate(from Address) {
	pending := m.bySender[from]
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
		keep := !broke && n >= acct.Nonce
		if keep {
			spent += p.tx.Amount + p.tx.Fee
			keep = spent <= acct.Balance
			broke = !keep
		}
		if !keep {
			m.remove(p)
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
	return inArrivalOrder(ps)
}

// inArrivalOrder returns the transactions of ps, oldest arrival first.
func inArrivalOrder(ps []*poolTx) []Transaction {
	slices.SortFunc(ps, func(a, b *poolTx) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Transaction, len(ps))
	for i, p := range ps {
		out[i] = p.tx
	}
	return out
}

// Involving returns the pending transactions that send from a or pay a,
// in arrival order.
func (m *Mempool) Involving(a Address) []Transaction {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []*poolTx
	for _, p := range m.txs {
		if p.from == a || p.tx.To == a {
			ps = append(ps, p)
		}
	}
	return inArrivalOrder(ps)
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
// is behind it (and, at a retarget, no earlier than the timewarp bound
// allows); its target is the one the chain expects.
func (m *Mempool) NewBlockTemplate(miner Address, now time.Time) *Block {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.chain
	c.mu.RLock()
	defer c.mu.RUnlock()

	tip := c.tip()
	height := tip.height() + 1
	t := max(now.UnixNano(), medianTimePast(tip)+1)
	if p := &c.params; p.RetargetInterval > 0 && height%p.RetargetInterval == 0 {
		t = max(t, tip.header.Time-int64(p.MaxTimewarp))
	}
	b := &Block{Header: Header{
		Version:  HeaderVersion,
		Height:   height,
		PrevHash: tip.hash,
		Time:     t,
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
		fees += p.tx.Fee // all fees together are part of the money supply: below MaxMoney
		b.Transactions = append(b.Transactions, p.tx)
		next[p.from]++
		if q := m.bySender[p.from][next[p.from]]; q != nil {
			heap.Push(h, q)
		}
	}
	b.Transactions[0] = NewCoinbase(miner, c.params.Reward(height)+fees, height)
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	return b
}

const binaryMaxVarintLen = 10

// senderHeap orders each sender's next transaction for a template: highest
// fee first, then earliest arrival.
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

// evictHeap orders every pending transaction for eviction: lowest fee
// first, then latest arrival. It keeps each transaction's position for
// removal.
type evictHeap []*poolTx

func (h evictHeap) Len() int { return len(h) }
func (h evictHeap) Less(i, j int) bool {
	if h[i].tx.Fee != h[j].tx.Fee {
		return h[i].tx.Fee < h[j].tx.Fee
	}
	return h[i].seq > h[j].seq
}
func (h evictHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *evictHeap) Push(x any) {
	p := x.(*poolTx)
	p.pos = len(*h)
	*h = append(*h, p)
}
func (h *evictHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	p.pos = -1
	return p
}
