package blockchain

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"sync"
	"time"
)

// Chain is a node's view of the block chain: a tree of every valid block it
// has seen, the best tip (the valid branch with the most cumulative work,
// first seen among equals), the account state at that tip, and the blocks
// waiting for a missing parent.
//
// Chain is the consensus core. It never starts goroutines that outlive a
// call, opens sockets or reads the clock: blocks come in, results come
// out, and the caller passes the time. A Chain is safe for concurrent use.
type Chain struct {
	mu      sync.RWMutex
	params  Params
	opts    ChainOptions
	chainID Hash

	index   map[Hash]*blockNode // every block in the tree, invalid ones included
	main    []*blockNode        // main[h] is the main chain's block at height h
	best    *blockNode          // the best candidate tip: most work, not invalid
	state   *state              // accounts and confirmed transactions at the tip
	orphans *orphanPool
	invalid invalidCache // refused blocks that are not in the tree
	seq     uint64       // arrival counter: first seen wins ties
}

// ChainOptions are a [Chain]'s local settings; none of them is consensus.
// The zero value is ready to use.
type ChainOptions struct {
	// VerifyWorkers is how many goroutines check a block's signatures;
	// fewer than 1 means runtime.GOMAXPROCS(0).
	VerifyWorkers int
}

// blockNode is one block in the tree.
type blockNode struct {
	hash     Hash
	header   Header
	block    *Block
	ids      []Hash // transaction IDs
	parent   *blockNode
	children []*blockNode
	height   uint64
	work     *big.Int  // cumulative work from genesis to here
	seq      uint64    // arrival order
	invalid  ErrorCode // non-zero once the block or an ancestor failed
	undo     []change  // while on the main chain: how to disconnect it
}

// ancestor returns n's ancestor at height h (n itself if h == n.height).
func (n *blockNode) ancestor(h uint64) *blockNode {
	for n != nil && n.height > h {
		n = n.parent
	}
	return n
}

// NewChain returns a chain holding only the genesis block of params.
func NewChain(params Params, opts ChainOptions) (*Chain, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	params.Allocations = slices.Clone(params.Allocations)
	genesis := params.Genesis()
	c := &Chain{
		params:  params,
		opts:    opts,
		chainID: genesis.Hash(),
		index:   make(map[Hash]*blockNode),
		state:   newState(),
		orphans: newOrphanPool(params.MaxOrphans),
	}
	g := c.newNode(genesis, genesis.Hash(), genesis.TxIDs(), nil)
	for i := range genesis.Transactions {
		a := &genesis.Transactions[i]
		acct := c.state.account(a.To)
		acct.Balance += a.Amount // Validate checked the sum for overflow
		c.state.setAccount(a.To, acct)
		c.state.setTx(g.ids[i], txLoc{block: g, index: i}, true)
	}
	g.undo = c.state.since(0)
	c.state.commit()
	c.main = []*blockNode{g}
	c.best = g
	return c, nil
}

func (c *Chain) newNode(b *Block, hash Hash, ids []Hash, parent *blockNode) *blockNode {
	t, _ := b.Header.Target() // validated before a node is made
	n := &blockNode{
		hash: hash, header: b.Header, block: b, ids: ids, parent: parent,
		height: b.Header.Height, work: t.Work(), seq: c.seq,
	}
	c.seq++
	if parent != nil {
		n.work.Add(n.work, parent.work)
		parent.children = append(parent.children, n)
	}
	c.index[hash] = n
	return n
}

// Params returns the chain's consensus parameters.
func (c *Chain) Params() Params {
	p := c.params
	p.Allocations = slices.Clone(p.Allocations)
	return p
}

// ChainID returns the genesis hash, which transactions sign over.
func (c *Chain) ChainID() Hash { return c.chainID }

// AddStatus says what adding a block did.
type AddStatus int

// What [Chain.AddBlock] can report.
const (
	// StatusMainChain: the block (and perhaps orphans it unlocked) extended
	// the main chain.
	StatusMainChain AddStatus = iota + 1
	// StatusSideChain: the block is valid so far and stored, but its branch
	// has no more work than the main chain.
	StatusSideChain
	// StatusReorg: the block made another branch the heaviest; the main
	// chain switched to it.
	StatusReorg
	// StatusOrphan: the block's parent is unknown; it is kept until the
	// parent arrives.
	StatusOrphan
	// StatusDuplicate: the block was already known.
	StatusDuplicate
)

// String returns the status name.
func (s AddStatus) String() string {
	switch s {
	case StatusMainChain:
		return "main-chain"
	case StatusSideChain:
		return "side-chain"
	case StatusReorg:
		return "reorg"
	case StatusOrphan:
		return "orphan"
	case StatusDuplicate:
		return "duplicate"
	}
	return fmt.Sprintf("AddStatus(%d)", int(s))
}

// AddResult reports the effect of [Chain.AddBlock].
type AddResult struct {
	Status AddStatus
	Hash   Hash // the added block's hash
	// Disconnected lists the blocks that left the main chain, old tip
	// first. Their transactions may belong back in a mempool.
	Disconnected []*Block
	// Connected lists the blocks that joined the main chain, lowest first.
	Connected []*Block
	// Orphans is how many blocks from the orphan pool were accepted
	// because this one was their missing ancestor.
	Orphans int
}

// TipChanged reports whether the main chain's tip moved.
func (r AddResult) TipChanged() bool { return len(r.Connected) > 0 || len(r.Disconnected) > 0 }

// AddBlock validates b and adds it to the tree, then moves the main chain to
// the heaviest valid branch. now is the validating node's clock, for the
// rule that a block may be at most Params.MaxFutureDrift ahead of it.
//
// If b's parent is unknown, b is checked as far as possible alone and kept
// as an orphan (bounded: the oldest is evicted first); it is connected when
// the parent arrives, and so are orphans waiting on b.
//
// Any invalid block is refused with a [*RuleError] and changes nothing: not
// the tip, the balances, nor the confirmed transactions. The chain only
// remembers the refused hash (a bounded number of them), so that the same
// block or its descendants are refused at once. When a heavier branch turns
// out to hold an invalid block, the switch is undone as a whole, that block
// and its descendants are marked invalid, and the chain settles on the
// heaviest valid branch it knows. AddBlock keeps its own copy of b.
//
// The checks that need no chain state, signatures included, run before
// the chain is locked, so queries and the mempool are not held up by them.
func (c *Chain) AddBlock(b *Block, now time.Time) (AddResult, error) {
	hash := b.Hash()
	res := AddResult{Hash: hash}
	c.mu.RLock()
	status, err := c.seen(hash)
	c.mu.RUnlock()
	if status != 0 || err != nil {
		res.Status = status
		return res, err
	}
	cb, mutable, rerr := c.checkAlone(b, hash)

	c.mu.Lock()
	defer c.mu.Unlock()
	if rerr != nil {
		if !mutable {
			c.invalid.add(hash, rerr.Code)
		}
		return res, rerr
	}
	if status, err := c.seen(hash); status != 0 || err != nil { // added meanwhile
		res.Status = status
		return res, err
	}
	oldTip := c.tip()
	node, err := c.accept(cb, now.UnixNano())
	if err != nil {
		return res, err
	}
	if node == nil {
		res.Status = StatusOrphan
		return res, nil
	}
	res.Orphans = c.acceptOrphans(hash, now.UnixNano())

	connected, disconnected, err := c.activateBestChain(node)
	for _, n := range connected {
		res.Connected = append(res.Connected, cloneBlock(n.block))
	}
	for _, n := range disconnected {
		res.Disconnected = append(res.Disconnected, cloneBlock(n.block))
	}
	switch {
	case len(disconnected) > 0:
		res.Status = StatusReorg
	case c.tip() != oldTip:
		res.Status = StatusMainChain
	default:
		res.Status = StatusSideChain
	}
	return res, err
}

// seen reports a block the chain already knows: StatusDuplicate for a
// valid or orphan block, the remembered error for an invalid one.
func (c *Chain) seen(hash Hash) (AddStatus, error) {
	if n, ok := c.index[hash]; ok && n.invalid == 0 {
		return StatusDuplicate, nil
	} else if ok {
		return 0, ruleErr(n.invalid, "block %s was already found invalid", hash.Short(16))
	}
	if code, ok := c.invalid.codes[hash]; ok {
		return 0, ruleErr(code, "block %s was already found invalid", hash.Short(16))
	}
	if c.orphans.has(hash) {
		return StatusDuplicate, nil
	}
	return 0, nil
}

func cloneBlock(b *Block) *Block {
	return &Block{Header: b.Header, Transactions: slices.Clone(b.Transactions)}
}

// checkedBlock is a copy of a block that passed the checks that need no
// chain: sanity and signatures.
type checkedBlock struct {
	block *Block
	hash  Hash
	ids   []Hash
}

// checkAlone copies b and applies the rules that need no chain state. A
// failure flagged mutable may come from a corrupted copy of a valid block
// and must not be held against its hash.
func (c *Chain) checkAlone(b *Block, hash Hash) (cb *checkedBlock, mutable bool, err *RuleError) {
	b = cloneBlock(b)
	ids, err, mutable := checkBlockSanity(&c.params, b)
	if err == nil {
		err = verifySignatures(b.Transactions, c.chainID, c.opts.VerifyWorkers)
	}
	if err != nil {
		return nil, mutable, err
	}
	return &checkedBlock{block: b, hash: hash, ids: ids}, false, nil
}

// accept checks cb against its parent and inserts it into the tree. It
// returns nil, nil if cb became an orphan. Refusals are remembered: from
// here on a block's content is the one its hash commits to, so a failure
// is a property of the hash. A time too far ahead is the exception: the
// same block may be valid later.
func (c *Chain) accept(cb *checkedBlock, now int64) (*blockNode, error) {
	b, hash := cb.block, cb.hash
	parent, ok := c.index[b.Header.PrevHash]
	var rerr *RuleError
	switch {
	case !ok && c.invalid.has(b.Header.PrevHash):
		rerr = ruleErr(ErrInvalidAncestor, "block %s builds on invalid block %s", hash.Short(16), b.Header.PrevHash.Short(16))
	case !ok && b.Header.Height == 0:
		rerr = ruleErr(ErrBadGenesis, "block %s claims height 0 but is not this chain's genesis", hash.Short(16))
	case !ok:
		c.orphans.add(cb)
		return nil, nil
	case parent.invalid != 0:
		rerr = ruleErr(ErrInvalidAncestor, "block %s builds on invalid block %s", hash.Short(16), parent.hash.Short(16))
	default:
		rerr = c.checkContext(&b.Header, parent, now)
	}
	if rerr != nil {
		if rerr.Code != ErrTimeTooNew {
			c.invalid.add(hash, rerr.Code)
		}
		return nil, rerr
	}
	n := c.newNode(b, hash, cb.ids, parent)
	if c.better(n, c.best) {
		c.best = n
	}
	return n, nil
}

// checkContext applies the rules that need the parent: height, expected
// target, median time past and the future-drift limit.
func (c *Chain) checkContext(h *Header, parent *blockNode, now int64) *RuleError {
	if h.Height != parent.height+1 {
		return ruleErr(ErrBadHeight, "height %d on a parent at height %d", h.Height, parent.height)
	}
	if want := nextBits(&c.params, parent); h.Bits != want {
		return ruleErr(ErrBadTarget, "target bits %#08x at height %d, want %#08x", h.Bits, h.Height, want)
	}
	if mtp := medianTimePast(parent); h.Time <= mtp {
		return ruleErr(ErrTimeTooOld, "time %s is not after the median of the last %d blocks, %s",
			time.Unix(0, h.Time).UTC().Format(time.RFC3339Nano), medianTimeBlocks, time.Unix(0, mtp).UTC().Format(time.RFC3339Nano))
	}
	if limit := now + c.params.MaxFutureDrift; h.Time > limit {
		return ruleErr(ErrTimeTooNew, "time %s is more than %v ahead of the node's clock",
			time.Unix(0, h.Time).UTC().Format(time.RFC3339Nano), time.Duration(c.params.MaxFutureDrift))
	}
	return nil
}

// acceptOrphans accepts, breadth-first, the orphans whose missing ancestor
// was hash. Invalid ones are dropped. It returns how many were accepted.
func (c *Chain) acceptOrphans(hash Hash, now int64) int {
	accepted := 0
	queue := []Hash{hash}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		for _, cb := range c.orphans.takeChildren(parent) {
			if _, known := c.index[cb.hash]; known {
				continue
			}
			if n, err := c.accept(cb, now); err == nil && n != nil {
				accepted++
				queue = append(queue, cb.hash)
			}
		}
	}
	return accepted
}

// better reports whether a beats b as the tip: more work, or, for equal
// work, seen first.
func (c *Chain) better(a, b *blockNode) bool {
	if d := a.work.Cmp(b.work); d != 0 {
		return d > 0
	}
	return a.seq < b.seq
}

func (c *Chain) tip() *blockNode { return c.main[len(c.main)-1] }

func (c *Chain) onMain(n *blockNode) bool {
	return n.height < uint64(len(c.main)) && c.main[n.height] == n
}

// activateBestChain moves the main chain to the best candidate. If a block
// of that branch fails, the branch is abandoned, its bad part marked
// invalid, and the next best candidate tried; the current tip is always a
// candidate, so this ends. It returns the error of a failure that made
// added (the block being added) invalid.
func (c *Chain) activateBestChain(added *blockNode) (connected, disconnected []*blockNode, err error) {
	for c.best != c.tip() {
		conn, disc, bad, rerr := c.reorganize(c.best)
		if rerr == nil {
			return conn, disc, nil
		}
		c.markInvalid(bad, rerr.Code)
		if added.invalid != 0 && err == nil {
			err = rerr
		}
		c.best = c.findBest()
	}
	return nil, nil, err
}

// reorganize makes target the tip: it disconnects the main chain back to
// the fork point and connects target's branch, all or nothing. On failure
// the state is exactly as before and the failing block is returned.
func (c *Chain) reorganize(target *blockNode) (connected, disconnected []*blockNode, bad *blockNode, err *RuleError) {
	fork := target
	for !c.onMain(fork) {
		fork = fork.parent
	}
	start := c.state.mark()
	for n := c.tip(); n != fork; n = n.parent {
		c.state.undoJournaled(n.undo)
		disconnected = append(disconnected, n)
	}
	for n := target; n != fork; n = n.parent {
		connected = append(connected, n)
	}
	slices.Reverse(connected)
	undos := make([][]change, len(connected))
	for i, n := range connected {
		m := c.state.mark()
		if err := c.connect(n); err != nil {
			c.state.revertTo(start)
			return nil, nil, n, err
		}
		undos[i] = c.state.since(m)
	}
	c.state.commit()
	for _, n := range disconnected {
		n.undo = nil
	}
	for i, n := range connected {
		n.undo = undos[i]
	}
	c.main = append(c.main[:fork.height+1], connected...)
	return connected, disconnected, nil, nil
}

// connect applies n's transactions to the state: every rule that needs
// balances, nonces or the confirmed transactions. On error the caller
// reverts the state.
func (c *Chain) connect(n *blockNode) *RuleError {
	b := n.block
	var fees uint64
	for i := 1; i < len(b.Transactions); i++ {
		tx := &b.Transactions[i]
		id := n.ids[i]
		if loc, ok := c.state.txs[id]; ok {
			return ruleErr(ErrTxOnChain, "transaction %d (%s) was confirmed in block %d", i, id.Short(12), loc.block.height)
		}
		from := tx.From.Address()
		acct := c.state.account(from)
		switch {
		case tx.Nonce < acct.Nonce:
			return ruleErr(ErrNonceTooLow, "transaction %d from %s: nonce %d already used (next is %d)", i, from, tx.Nonce, acct.Nonce)
		case tx.Nonce > acct.Nonce:
			return ruleErr(ErrNonceTooHigh, "transaction %d from %s: nonce %d skips ahead of %d", i, from, tx.Nonce, acct.Nonce)
		case tx.Nonce == math.MaxUint64:
			return ruleErr(ErrOverflow, "transaction %d from %s: nonce space used up", i, from)
		}
		cost := tx.Amount + tx.Fee // checkBlockSanity ruled out overflow
		if acct.Balance < cost {
			return ruleErr(ErrInsufficientFunds, "transaction %d from %s: spends %d, balance %d", i, from, cost, acct.Balance)
		}
		acct.Balance -= cost
		acct.Nonce++
		c.state.setAccount(from, acct)
		if err := c.credit(tx.To, tx.Amount); err != nil {
			return ruleErr(ErrOverflow, "transaction %d: %v", i, err)
		}
		var over bool
		if fees, over = addOverflows(fees, tx.Fee); over {
			return ruleErr(ErrOverflow, "block fees exceed 2^64-1")
		}
		c.state.setTx(id, txLoc{block: n, index: i, height: n.height}, true)
	}
	cb := &b.Transactions[0]
	limit, over := addOverflows(c.params.Reward(n.height), fees)
	if over {
		return ruleErr(ErrOverflow, "reward plus fees exceed 2^64-1")
	}
	if cb.Amount > limit {
		return ruleErr(ErrCoinbaseOverpays, "coinbase pays %d, reward plus fees is %d", cb.Amount, limit)
	}
	if err := c.credit(cb.To, cb.Amount); err != nil {
		return ruleErr(ErrOverflow, "coinbase: %v", err)
	}
	c.state.setTx(n.ids[0], txLoc{block: n, index: 0, height: n.height}, true)
	return nil
}

func (c *Chain) credit(to Address, amount uint64) error {
	acct := c.state.account(to)
	var over bool
	if acct.Balance, over = addOverflows(acct.Balance, amount); over {
		return fmt.Errorf("balance of %s would exceed 2^64-1", to)
	}
	c.state.setAccount(to, acct)
	return nil
}

// markInvalid marks n and all its descendants invalid.
func (c *Chain) markInvalid(n *blockNode, code ErrorCode) {
	stack := []*blockNode{n}
	for len(stack) > 0 {
		m := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if m.invalid == 0 {
			m.invalid = code
			if m != n {
				m.invalid = ErrInvalidAncestor
			}
		}
		// Keep the node, so descendants are refused at once, but not its
		// transactions: an invalid block is never connected again.
		m.block, m.ids, m.undo = nil, nil, nil
		stack = append(stack, m.children...)
	}
}

// findBest scans the tree for the best tip that is not invalid.
func (c *Chain) findBest() *blockNode {
	best := c.tip()
	for _, n := range c.index {
		if n.invalid == 0 && c.better(n, best) {
			best = n
		}
	}
	return best
}

// CheckBlock reports whether b would be valid as the next block on the
// current tip, at time now, without adding it or changing anything. A miner
// can check a template before spending work on it.
func (c *Chain) CheckBlock(b *Block, now time.Time) error {
	cb, _, rerr := c.checkAlone(b, b.Hash())
	if rerr != nil {
		return rerr
	}
	c.mu.Lock() // the state is borrowed and reverted, so exclusive
	defer c.mu.Unlock()
	tip := c.tip()
	if b.Header.PrevHash != tip.hash {
		return ruleErr(ErrUnknownParent, "block builds on %s, the tip is %s", b.Header.PrevHash.Short(16), tip.hash.Short(16))
	}
	if err := c.checkContext(&b.Header, tip, now.UnixNano()); err != nil {
		return err
	}
	n := &blockNode{header: cb.block.Header, block: cb.block, ids: cb.ids, parent: tip, height: b.Header.Height}
	m := c.state.mark()
	defer c.state.revertTo(m)
	if err := c.connect(n); err != nil {
		return err
	}
	return nil
}

// Tip describes the end of the main chain.
type Tip struct {
	Hash      Hash     `json:"hash"`
	Height    uint64   `json:"height"`
	Header    Header   `json:"header"`
	TotalWork *big.Int `json:"total_work"` // expected hashes to redo the whole chain
}

// Tip returns the main chain's last block.
func (c *Chain) Tip() Tip {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tip()
	return Tip{Hash: t.hash, Height: t.height, Header: t.header, TotalWork: new(big.Int).Set(t.work)}
}

// Height returns the main chain's height (0 when only genesis is known).
func (c *Chain) Height() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tip().height
}

// BlockByHash returns a copy of any valid block the chain knows, on the main
// chain or a side branch; orphans and invalid blocks are not included.
func (c *Chain) BlockByHash(h Hash) (*Block, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	if !ok || n.invalid != 0 {
		return nil, false
	}
	return cloneBlock(n.block), true
}

// BlockByHeight returns a copy of the main chain's block at height.
func (c *Chain) BlockByHeight(height uint64) (*Block, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if height >= uint64(len(c.main)) {
		return nil, false
	}
	return cloneBlock(c.main[height].block), true
}

// HasBlock reports whether the block is in the tree and not invalid.
func (c *Chain) HasBlock(h Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	return ok && n.invalid == 0
}

// IsOrphan reports whether the block is waiting in the orphan pool.
func (c *Chain) IsOrphan(h Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.orphans.has(h)
}

// OrphanRoot returns the hash a node should ask its peers for to connect
// the orphan h: the missing parent of the oldest orphan on h's branch. For
// a block that is not an orphan it returns h itself.
func (c *Chain) OrphanRoot(h Hash) Hash {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for {
		o, ok := c.orphans.blocks[h]
		if !ok {
			return h
		}
		h = o.block.Header.PrevHash
	}
}

// Orphans returns how many blocks wait for a missing parent.
func (c *Chain) Orphans() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.orphans.blocks)
}

// Account returns the balance and next nonce of an address at the tip.
func (c *Chain) Account(a Address) Account {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.state.account(a)
}

// Balance returns the address's balance at the tip, in base units.
func (c *Chain) Balance(a Address) uint64 { return c.Account(a).Balance }

// Accounts returns a copy of every non-empty account at the tip.
func (c *Chain) Accounts() map[Address]Account {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[Address]Account, len(c.state.accounts))
	for a, acct := range c.state.accounts {
		out[a] = acct
	}
	return out
}

// TxInfo locates a confirmed transaction.
type TxInfo struct {
	Tx            Transaction `json:"tx"`
	BlockHash     Hash        `json:"block_hash"`
	Height        uint64      `json:"height"`
	Index         int         `json:"index"`         // position in the block; 0 is the coinbase
	Confirmations uint64      `json:"confirmations"` // 1 in the tip block, +1 per block after
}

// Transaction finds a transaction confirmed on the main chain.
func (c *Chain) Transaction(id Hash) (TxInfo, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	loc, ok := c.state.txs[id]
	if !ok {
		return TxInfo{}, false
	}
	return TxInfo{
		Tx:            loc.block.block.Transactions[loc.index],
		BlockHash:     loc.block.hash,
		Height:        loc.block.height,
		Index:         loc.index,
		Confirmations: c.tip().height - loc.block.height + 1,
	}, true
}

// TxProof returns the Merkle proof that a confirmed transaction is in its
// block, with that block's header: what a light client needs (paper §8).
// Check it with VerifyMerkleProof(header.MerkleRoot, id, proof).
func (c *Chain) TxProof(id Hash) (MerkleProof, Header, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	loc, ok := c.state.txs[id]
	if !ok {
		return MerkleProof{}, Header{}, false
	}
	p, err := NewMerkleProof(loc.block.ids, loc.index)
	if err != nil {
		return MerkleProof{}, Header{}, false
	}
	return p, loc.block.header, true
}

// NextBits returns the compact target a block built on parent must carry.
func (c *Chain) NextBits(parent Hash) (uint32, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[parent]
	if !ok || n.invalid != 0 {
		return 0, false
	}
	return nextBits(&c.params, n), true
}

// MedianTimePast returns the median time of the block and its ten
// ancestors, Unix nanoseconds: a child must be later.
func (c *Chain) MedianTimePast(h Hash) (int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	if !ok {
		return 0, false
	}
	return medianTimePast(n), true
}

// Locator returns a block locator for the main chain: the hashes of the
// tip, the nine blocks before it, then blocks ever further apart (2, 4,
// 8... back), and always genesis. A peer finds the last one it shares, the
// fork point, in a few dozen hashes even for a long chain.
func (c *Chain) Locator() []Hash {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return locatorFrom(c.tip())
}

// LocatorFrom returns a block locator that starts at the known block h and
// follows its ancestors, whether or not h is on the main chain: during sync
// it asks a peer for what follows the last block received. It returns nil
// for an unknown block.
func (c *Chain) LocatorFrom(h Hash) []Hash {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	if !ok {
		return nil
	}
	return locatorFrom(n)
}

func locatorFrom(n *blockNode) []Hash {
	var loc []Hash
	step := uint64(1)
	for n != nil {
		loc = append(loc, n.hash)
		if len(loc) >= 10 {
			step *= 2
		}
		if n.height == 0 {
			break
		}
		n = n.ancestor(n.height - min(step, n.height))
	}
	return loc
}

// BlocksAfter returns copies of the main-chain blocks that follow the first
// locator hash found on the main chain (genesis if none is): what a peer
// that sent this locator is missing. It returns at most maxBlocks blocks
// and stops before their encodings exceed maxBytes, but always returns at
// least one block if there is one.
func (c *Chain) BlocksAfter(locator []Hash, maxBlocks, maxBytes int) []*Block {
	c.mu.RLock()
	defer c.mu.RUnlock()
	start := uint64(1)
	for _, h := range locator {
		if n, ok := c.index[h]; ok && c.onMain(n) {
			start = n.height + 1
			break
		}
	}
	var out []*Block
	size := 0
	for h := start; h < uint64(len(c.main)) && len(out) < maxBlocks; h++ {
		b := c.main[h].block
		if size += b.Size(); size > maxBytes && len(out) > 0 {
			break
		}
		out = append(out, cloneBlock(b))
	}
	return out
}

// orphanPool keeps blocks whose parent is unknown, oldest evicted first.
// Its blocks have passed the checks that need no chain.
type orphanPool struct {
	limit    int
	blocks   map[Hash]*checkedBlock
	byParent map[Hash][]Hash
	order    []Hash // arrival order; may hold hashes already removed
}

func newOrphanPool(limit int) *orphanPool {
	return &orphanPool{limit: limit, blocks: make(map[Hash]*checkedBlock), byParent: make(map[Hash][]Hash)}
}

func (p *orphanPool) has(h Hash) bool { _, ok := p.blocks[h]; return ok }

func (p *orphanPool) add(cb *checkedBlock) {
	h := cb.hash
	if p.limit <= 0 || p.has(h) {
		return
	}
	for len(p.blocks) >= p.limit && len(p.order) > 0 {
		oldest := p.order[0]
		p.order = p.order[1:]
		p.remove(oldest)
	}
	p.blocks[h] = cb
	parent := cb.block.Header.PrevHash
	p.byParent[parent] = append(p.byParent[parent], h)
	p.order = append(p.order, h)
	if len(p.order) > 4*p.limit { // drop hashes of orphans already taken
		p.order = slices.DeleteFunc(p.order, func(h Hash) bool { return !p.has(h) })
	}
}

func (p *orphanPool) remove(h Hash) {
	cb, ok := p.blocks[h]
	if !ok {
		return
	}
	delete(p.blocks, h)
	parent := cb.block.Header.PrevHash
	siblings := slices.DeleteFunc(p.byParent[parent], func(x Hash) bool { return x == h })
	if len(siblings) == 0 {
		delete(p.byParent, parent)
	} else {
		p.byParent[parent] = siblings
	}
}

// takeChildren removes and returns the orphans whose parent is h.
func (p *orphanPool) takeChildren(h Hash) []*checkedBlock {
	var out []*checkedBlock
	for _, ch := range slices.Clone(p.byParent[h]) {
		if cb, ok := p.blocks[ch]; ok {
			out = append(out, cb)
			p.remove(ch)
		}
	}
	return out
}

// maxInvalidHashes bounds the refused block hashes a chain remembers.
const maxInvalidHashes = 4096

// invalidCache remembers refused block hashes, without their blocks,
// forgetting the oldest first.
type invalidCache struct {
	codes map[Hash]ErrorCode
	order []Hash
}

func (ic *invalidCache) has(h Hash) bool { _, ok := ic.codes[h]; return ok }

func (ic *invalidCache) add(h Hash, code ErrorCode) {
	if ic.codes == nil {
		ic.codes = make(map[Hash]ErrorCode)
	}
	if ic.has(h) {
		return
	}
	if len(ic.order) >= maxInvalidHashes {
		delete(ic.codes, ic.order[0])
		ic.order = ic.order[1:]
	}
	ic.codes[h] = code
	ic.order = append(ic.order, h)
}
