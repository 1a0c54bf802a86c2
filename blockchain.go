package blockchain

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"slices"
	"sync"
	"time"
)

// Chain is a node's view of the block chain: a tree of the headers it has
// accepted, the bodies it holds, the best tip (the valid branch with the
// most cumulative work, first complete among equals), and the account state
// at that tip.
//
// Headers come first ([Chain.AddHeaders]): each is checked against its
// parent (proof-of-work at the expected target, height, time rules) before
// any body is asked for, as Bitcoin Core has synced since 0.10. Bodies
// follow ([Chain.AddBlock], [Chain.AddBlocks]) in any order. A body gets only
// the cheap checks (sizes, Merkle root, coinbase shape, amounts) until its
// branch has the most work; then the chain connects it, checking
// signatures, nonces and balances, all of a branch's signatures at once on
// every core. Bodies of branches with less work, or whose ancestors' bodies
// are missing, are held in memory within ChainOptions.LooseBodyBudget
// bytes, oldest dropped first (their headers stay, and a node fetches a
// dropped body again if its branch ever leads).
//
// Connected blocks go to a [Store] (memory by default) before the chain
// reports them, and are read back from it when needed: the chain's memory
// holds headers, the index and the account state. No undo data is kept:
// a block's effect on the accounts is inverted from its body.
//
// Chain is the consensus core. It never starts goroutines that outlive a
// call, opens sockets or reads the clock: blocks come in, results come
// out, and the caller passes the time. A Chain is safe for concurrent use.
type Chain struct {
	mu      sync.RWMutex
	params  Params
	opts    ChainOptions
	chainID Hash
	store   Store
	log     *slog.Logger

	index      map[Hash]*blockNode // every header in the tree, invalid ones included
	main       []*blockNode        // main[h] is the main chain's block at height h
	bestHeader *blockNode          // the valid header with the most work
	candidates map[*blockNode]bool // linked, valid blocks with at least the tip's work
	leaves     map[*blockNode]bool // valid headers without valid children
	loose      []*blockNode        // bodies held in memory, not stored, oldest first (may hold stale entries)
	looseN     int                 // how many entries of loose are live
	looseBytes int                 // their total size
	state      *state              // accounts and confirmed transactions at the tip
	invalid    invalidCache        // refused headers that are not in the tree
	seq        uint64              // arrival counter: first seen wins ties
	// checkedIDs holds the transaction IDs of the bodies checked in the
	// current AddBlocks or replay step, so that connecting them does not
	// hash every transaction again. It is emptied before the step ends.
	checkedIDs map[*blockNode][]Hash
	sigChecks  uint64 // signatures verified, for Stats
}

// ChainOptions are a [Chain]'s local settings; none of them is consensus.
// The zero value is ready to use.
type ChainOptions struct {
	// VerifyWorkers is how many goroutines check signatures; 0 means one
	// per core (runtime.GOMAXPROCS(0)), like every worker count in this
	// package.
	VerifyWorkers int
	// Store keeps the connected blocks; nil means a new [MemStore]. A store
	// that already holds blocks is replayed by [NewChain]: the chain
	// reopens at the tip it had.
	Store Store
	// LooseBodyBudget bounds, in bytes, the bodies the chain holds in
	// memory that are not connected: side branches with less work, and
	// blocks whose ancestors' bodies have not arrived. 0 means 64 MiB.
	LooseBodyBudget int
	// Logger receives the chain's rare logs (a replayed block refused);
	// nil means none.
	Logger *slog.Logger
	// IndexAddresses keeps, for every address, the list of main-chain
	// transactions that paid it or sent from it, for
	// [Chain.AddressHistory] (an explorer's address page). It is kept in
	// step with every connect and reorganization and rebuilt by the
	// replay of the store, at about 16 bytes per transaction per address
	// involved.
	IndexAddresses bool
}

// DefaultLooseBodyBudget is the default ChainOptions.LooseBodyBudget.
const DefaultLooseBodyBudget = 64 << 20

// verifyChunkTxs is how many signatures the chain checks in one parallel
// pass when it connects a branch: enough to keep every core busy, few
// enough that a bad block late in a long branch is found without checking
// the whole branch first.
const verifyChunkTxs = 4096

// NewChain returns a chain for params. With an empty store (or none) it
// holds only the genesis block; with a store that holds blocks it replays
// them: headers, bodies and state are rebuilt, without checking signatures
// again (the chain stored them only after checking them).
func NewChain(params Params, opts ChainOptions) (*Chain, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	params.Allocations = slices.Clone(params.Allocations)
	if opts.Store == nil {
		opts.Store = &MemStore{}
	}
	if opts.LooseBodyBudget <= 0 {
		opts.LooseBodyBudget = DefaultLooseBodyBudget
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	genesis := params.Genesis()
	c := &Chain{
		params:     params,
		opts:       opts,
		chainID:    genesis.Hash(),
		store:      opts.Store,
		log:        log,
		index:      make(map[Hash]*blockNode),
		candidates: make(map[*blockNode]bool),
		leaves:     make(map[*blockNode]bool),
		checkedIDs: make(map[*blockNode][]Hash),
		state:      newState(),
	}
	if opts.IndexAddresses {
		c.state.byAddr = make(map[Address][]txRef)
	}
	g := c.newNode(&genesis.Header, c.chainID, nil)
	g.body = genesis
	g.flags = nodeHasBody | nodeLinked | nodeSigsOK
	ids := genesis.TxIDs()
	for i := range genesis.Transactions {
		a := &genesis.Transactions[i]
		acct := c.state.account(a.To)
		acct.Balance += a.Amount // Validate bounded the sum by MaxMoney
		c.state.setAccount(a.To, acct)
		c.state.indexTx(ids[i], 0)
		c.state.indexAddrs(txRef{0, uint32(i)}, a.To)
	}
	c.state.commit()
	c.main = []*blockNode{g}
	if err := c.replay(); err != nil {
		return nil, err
	}
	return c, nil
}

// newNode inserts a header into the tree.
func (c *Chain) newNode(h *Header, hash Hash, parent *blockNode) *blockNode {
	t, _ := h.Target() // checked before a node is made
	n := &blockNode{hash: hash, header: *h, parent: parent, work: workOf(t), seq: c.seq}
	c.seq++
	if parent != nil {
		n.work = n.work.add(parent.work)
		n.skip = parent.ancestor(skipHeight(n.height()))
		n.sibling, parent.child = parent.child, n
		delete(c.leaves, parent)
	}
	c.index[hash] = n
	c.leaves[n] = true
	if c.bestHeader == nil || c.better(n, c.bestHeader) {
		c.bestHeader = n
	}
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

// AddStatus says what adding blocks did.
type AddStatus int

// What [Chain.AddBlock] and [Chain.AddBlocks] can report.
const (
	// StatusMainChain: the main chain grew: the block (and any blocks it
	// completed) joined it.
	StatusMainChain AddStatus = iota + 1
	// StatusSideChain: the block passed the checks that need no state and
	// is kept, but the main chain did not move: its branch has less work,
	// or waits for an ancestor's body.
	StatusSideChain
	// StatusReorg: another branch became the heaviest and the main chain
	// switched to it.
	StatusReorg
	// StatusDuplicate: nothing new: every block was already known.
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
	case StatusDuplicate:
		return "duplicate"
	}
	return fmt.Sprintf("AddStatus(%d)", int(s))
}

// AddResult reports the effect of [Chain.AddBlock] or [Chain.AddBlocks].
type AddResult struct {
	Status AddStatus
	Hash   Hash // the (last) added block's hash
	// Refused is the hash of the block the returned error is about: the
	// refused block, or the block of the batch's branch found invalid when
	// connected. Zero without an error.
	Refused Hash
	// Disconnected lists the blocks that left the main chain, old tip
	// first. Their transactions may belong back in a mempool.
	Disconnected []*Block
	// Connected lists the blocks that joined the main chain, lowest first.
	Connected []*Block
}

// TipChanged reports whether the main chain's tip moved.
func (r AddResult) TipChanged() bool { return len(r.Connected) > 0 || len(r.Disconnected) > 0 }

// AddBlock adds one block; see [Chain.AddBlocks].
func (c *Chain) AddBlock(b *Block, now time.Time) (AddResult, error) {
	return c.AddBlocks([]*Block{b}, now)
}

// AddBlocks adds blocks, in order, then moves the main chain to the
// heaviest valid branch. now is the validating node's clock, for the rule
// that a block may be at most Params.MaxFutureDrift ahead of it.
//
// Each block's header is accepted as by [Chain.AddHeaders] if it is new, and
// its body checked without the state. A block whose parent is unknown is
// refused with [ErrUnknownParent] (the chain keeps no orphans: add the
// headers first, or the parent); a time too far ahead with
// [ErrTimeTooNew]. Neither is held against the block: it may pass later.
// AddBlocks stops at the first refused block and reports what the blocks
// before it did.
//
// Blocks that complete the heaviest branch are connected: every signature
// of the branch is checked in parallel across blocks, then every
// transaction applied in order. If a block of that branch is invalid, the
// switch is undone as a whole, that block and its descendants are marked
// invalid, and the chain settles on the heaviest valid branch it knows;
// the error is returned if one of the added blocks was among the invalid.
//
// Any refused block changes nothing but the chain's memory of refused
// hashes: not the tip, the balances, nor the confirmed transactions.
// AddBlocks keeps its own copies of the blocks.
func (c *Chain) AddBlocks(blocks []*Block, now time.Time) (AddResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var (
		res      AddResult
		added    []*blockNode
		firstErr error
	)
	for _, b := range blocks {
		hash := b.Hash()
		res.Hash = hash
		n, rerr := c.acceptHeader(&b.Header, hash, now.UnixNano())
		if rerr != nil {
			firstErr, res.Refused = rerr, hash
			break
		}
		if n.has(nodeHasBody) {
			continue
		}
		cp := cloneBlock(b)
		ids, rerr, mutable := checkBodySanity(&c.params, cp)
		if rerr != nil {
			if !mutable { // the header commits to this body: the block is bad
				c.markInvalid(n, rerr.Code)
			}
			firstErr, res.Refused = rerr, hash
			break
		}
		c.checkedIDs[n] = ids
		c.attachBody(n, cp)
		added = append(added, n)
	}
	oldTip := c.tip()
	connected, disconnected, failures, ioErr := c.activateBestChain()
	clear(c.checkedIDs)
	c.trimLoose() // after connecting, so a body that completes a branch is not dropped first
	for _, n := range connected {
		b, _ := c.body(n) // held in memory or stored just now
		res.Connected = append(res.Connected, cloneBlock(b))
	}
	for _, n := range disconnected {
		if b, err := c.body(n); err == nil {
			res.Disconnected = append(res.Disconnected, cloneBlock(b))
		}
	}
	c.releaseStored(connected)
	switch {
	case len(disconnected) > 0:
		res.Status = StatusReorg
	case c.tip() != oldTip:
		res.Status = StatusMainChain
	case len(added) == 0:
		res.Status = StatusDuplicate
	default:
		res.Status = StatusSideChain
	}
	if ioErr != nil {
		return res, ioErr
	}
	for _, f := range failures {
		for _, n := range added {
			if n.invalid != 0 && isAncestor(f.node, n) {
				res.Refused = f.node.hash
				return res, f.err
			}
		}
	}
	return res, firstErr
}

// HeadersResult reports the effect of [Chain.AddHeaders].
type HeadersResult struct {
	// New counts the headers the chain did not know before.
	New int
	// Last is the hash of the last header of the batch that the chain now
	// holds (new or known), zero if none: a sync continues from there.
	Last Hash
}

// AddHeaders accepts block headers, in order, without their bodies: each
// must have a known parent, the height after it, the target the chain
// expects there, a hash meeting it, a time after the median time past and
// not too far ahead of now (and, at a retarget, not too far before its
// parent). It stops at the first header refused and returns its
// [*RuleError]; the headers before it stay. Accepting headers never moves
// the main chain: bodies do.
func (c *Chain) AddHeaders(headers []Header, now time.Time) (HeadersResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var res HeadersResult
	for i := range headers {
		h := &headers[i]
		hash := h.Hash()
		_, known := c.index[hash]
		if _, err := c.acceptHeader(h, hash, now.UnixNano()); err != nil {
			return res, err
		}
		if !known {
			res.New++
		}
		res.Last = hash
	}
	return res, nil
}

// acceptHeader returns the node of a valid header, inserting it if new.
// Refusals that are a property of the header are remembered.
func (c *Chain) acceptHeader(h *Header, hash Hash, now int64) (*blockNode, *RuleError) {
	if n, ok := c.index[hash]; ok {
		if n.invalid != 0 {
			return nil, ruleErr(n.invalid, "block %s was already found invalid", hash.Short(16))
		}
		return n, nil
	}
	if code, ok := c.invalid.codes[hash]; ok {
		return nil, ruleErr(code, "block %s was already found invalid", hash.Short(16))
	}
	refuse := func(err *RuleError) (*blockNode, *RuleError) {
		c.invalid.add(hash, err.Code)
		return nil, err
	}
	if err := checkHeaderSanity(&c.params, h); err != nil {
		return refuse(err)
	}
	parent, ok := c.index[h.PrevHash]
	switch {
	case !ok && c.invalid.has(h.PrevHash):
		return refuse(ruleErr(ErrInvalidAncestor, "block %s builds on invalid block %s", hash.Short(16), h.PrevHash.Short(16)))
	case !ok && h.Height == 0:
		return refuse(ruleErr(ErrBadGenesis, "block %s claims height 0 but is not this chain's genesis", hash.Short(16)))
	case !ok:
		return nil, ruleErr(ErrUnknownParent, "block %s at height %d builds on unknown block %s", hash.Short(16), h.Height, h.PrevHash.Short(16))
	case parent.invalid != 0:
		return refuse(ruleErr(ErrInvalidAncestor, "block %s builds on invalid block %s", hash.Short(16), parent.hash.Short(16)))
	}
	if err := c.checkContext(h, parent, now); err != nil {
		if err.Code == ErrTimeTooNew {
			return nil, err // may be valid later
		}
		return refuse(err)
	}
	return c.newNode(h, hash, parent), nil
}

// checkContext applies the rules that need the parent: height, expected
// target, median time past, the timewarp bound and the future-drift limit.
func (c *Chain) checkContext(h *Header, parent *blockNode, now int64) *RuleError {
	p := &c.params
	if h.Height != parent.height()+1 {
		return ruleErr(ErrBadHeight, "height %d on a parent at height %d", h.Height, parent.height())
	}
	if want := nextBits(p, parent); h.Bits != want {
		return ruleErr(ErrBadTarget, "target bits %#08x at height %d, want %#08x", h.Bits, h.Height, want)
	}
	if mtp := medianTimePast(parent); h.Time <= mtp {
		return ruleErr(ErrTimeTooOld, "time %s is not after the median of the last %d blocks, %s",
			fmtTime(h.Time), medianTimeBlocks, fmtTime(mtp))
	}
	if p.RetargetInterval > 0 && h.Height%p.RetargetInterval == 0 && h.Time < parent.header.Time-int64(p.MaxTimewarp) {
		return ruleErr(ErrTimeTooOld, "time %s of the first block of a retarget interval is more than %v before its parent's, %s",
			fmtTime(h.Time), p.MaxTimewarp, fmtTime(parent.header.Time))
	}
	if now <= math.MaxInt64-int64(p.MaxFutureDrift) && h.Time > now+int64(p.MaxFutureDrift) {
		return ruleErr(ErrTimeTooNew, "time %s is more than %v ahead of the node's clock",
			fmtTime(h.Time), p.MaxFutureDrift)
	}
	return nil
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// attachBody gives n its body, held in memory until the block is stored,
// and links n (and waiting descendants) if its parent is linked.
func (c *Chain) attachBody(n *blockNode, b *Block) {
	n.body = b
	n.flags |= nodeHasBody
	c.loose = append(c.loose, n)
	c.looseN++
	c.looseBytes += b.Size()
	if n.parent != nil && n.parent.has(nodeLinked) {
		c.link(n)
	}
}

// isLoose reports whether n's body is held in memory and not stored.
func (n *blockNode) isLoose() bool { return n.body != nil && !n.has(nodeStored) }

// setStored records that n's body is in the store at loc.
func (c *Chain) setStored(n *blockNode, loc uint64) {
	if n.isLoose() {
		c.looseN--
		c.looseBytes -= n.body.Size()
	}
	n.loc = loc
	n.flags |= nodeStored | nodeHasBody
}

// link marks n, and every descendant whose body is already here, as
// linked: their branches can now be connected.
func (c *Chain) link(n *blockNode) {
	tip := c.tip()
	queue := []*blockNode{n}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		m.flags |= nodeLinked
		m.seq = c.seq
		c.seq++
		if m.work.cmp(tip.work) >= 0 {
			c.candidates[m] = true
		}
		m.children(func(ch *blockNode) {
			if ch.has(nodeHasBody) && !ch.has(nodeLinked) && ch.invalid == 0 {
				queue = append(queue, ch)
			}
		})
	}
}

// unlink clears the linked flag of n and its descendants, whose branches
// can no longer be connected (n's body was dropped).
func (c *Chain) unlink(n *blockNode) {
	stack := []*blockNode{n}
	for len(stack) > 0 {
		m := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !m.has(nodeLinked) {
			continue
		}
		m.flags &^= nodeLinked
		delete(c.candidates, m)
		m.children(func(ch *blockNode) { stack = append(stack, ch) })
	}
}

// trimLoose drops the oldest loose bodies until they fit the budget. A
// dropped body's header stays; its branch is unlinked until the body comes
// again.
func (c *Chain) trimLoose() {
	i := 0
	for c.looseBytes > c.opts.LooseBodyBudget && i < len(c.loose) {
		n := c.loose[i]
		i++
		if n.isLoose() { // else stored or dropped meanwhile
			c.dropBody(n)
		}
	}
	c.loose = c.loose[i:]
	if len(c.loose) > 2*c.looseN+64 {
		c.loose = slices.DeleteFunc(c.loose, func(n *blockNode) bool { return !n.isLoose() })
	}
}

// dropBody forgets a loose body.
func (c *Chain) dropBody(n *blockNode) {
	c.looseN--
	c.looseBytes -= n.body.Size()
	n.body = nil
	n.flags &^= nodeHasBody
	c.unlink(n)
}

// releaseStored drops the in-memory copies of bodies now in the store.
func (c *Chain) releaseStored(nodes []*blockNode) {
	for _, n := range nodes {
		if n.has(nodeStored) && n.parent != nil {
			n.body = nil
		}
	}
}

// body returns n's body, from memory or the store.
func (c *Chain) body(n *blockNode) (*Block, error) {
	if n.body != nil {
		return n.body, nil
	}
	if !n.has(nodeStored) {
		return nil, fmt.Errorf("%w: block %s", errNoBody, n.hash.Short(16))
	}
	b, err := c.store.Read(n.loc)
	if err != nil {
		return nil, fmt.Errorf("reading block %s from the store: %w", n.hash.Short(16), err)
	}
	if b.Hash() != n.hash {
		return nil, fmt.Errorf("blockchain: the store returned block %s for %s", b.Hash().Short(16), n.hash.Short(16))
	}
	return b, nil
}

func cloneBlock(b *Block) *Block {
	return &Block{Header: b.Header, Transactions: slices.Clone(b.Transactions)}
}

// better reports whether a beats b as the tip: more work, or, for equal
// work, complete first.
func (c *Chain) better(a, b *blockNode) bool {
	if d := a.work.cmp(b.work); d != 0 {
		return d > 0
	}
	return a.seq < b.seq
}

func (c *Chain) tip() *blockNode { return c.main[len(c.main)-1] }

func (c *Chain) onMain(n *blockNode) bool {
	return n.height() < uint64(len(c.main)) && c.main[n.height()] == n
}

// failure is a block found invalid while connecting.
type failure struct {
	node *blockNode
	err  *RuleError
}

// activateBestChain moves the main chain to the best candidate. If a block
// of that branch fails, the branch is abandoned, its bad part marked
// invalid, and the next best candidate tried; the current tip is always at
// least as good, so this ends. A store error stops it with the state as it
// was before the failed step.
func (c *Chain) activateBestChain() (connected, disconnected []*blockNode, failures []failure, err error) {
	for {
		best := c.bestCandidate()
		if best == nil || best == c.tip() || !c.better(best, c.tip()) {
			c.pruneCandidates()
			return connected, disconnected, failures, nil
		}
		conn, disc, bad, rerr, ioErr := c.reorganize(best)
		if ioErr != nil {
			return connected, disconnected, failures, ioErr
		}
		if rerr != nil {
			c.markInvalid(bad, rerr.Code)
			failures = append(failures, failure{bad, rerr})
			continue
		}
		connected, disconnected = conn, disc
	}
}

// bestCandidate returns the best block whose branch could be connected.
func (c *Chain) bestCandidate() *blockNode {
	var best *blockNode
	for n := range c.candidates {
		if best == nil || c.better(n, best) {
			best = n
		}
	}
	return best
}

// pruneCandidates forgets candidates that can no longer beat the tip.
func (c *Chain) pruneCandidates() {
	tip := c.tip()
	for n := range c.candidates {
		if n != tip && !c.better(n, tip) {
			delete(c.candidates, n)
		}
	}
}

// reorganize makes target the tip: it disconnects the main chain back to
// the fork point and connects target's branch, all or nothing. On a rule
// failure the state is exactly as before and the failing block is
// returned; on a store failure too, with the error.
func (c *Chain) reorganize(target *blockNode) (connected, disconnected []*blockNode, bad *blockNode, rerr *RuleError, err error) {
	fork := lastCommonAncestor(target, c.tip())
	start := c.state.mark()
	fail := func() { c.state.revertTo(start) }
	for n := c.tip(); n != fork; n = n.parent {
		b, err := c.body(n)
		if err == nil {
			err = c.state.disconnect(b, b.TxIDs())
		}
		if err != nil {
			fail()
			return nil, nil, nil, nil, err
		}
		disconnected = append(disconnected, n)
	}
	path := make([]*blockNode, 0, target.height()-fork.height())
	for n := target; n != fork; n = n.parent {
		path = append(path, n)
	}
	slices.Reverse(path)
	bodies := make([]*Block, len(path))
	for i := 0; i < len(path); {
		// A chunk of blocks: check all their unchecked signatures in one
		// parallel pass, then apply them in order.
		j, ntx := i, 0
		var jobs []verifyJob
		for ; j < len(path) && (j == i || ntx < verifyChunkTxs); j++ {
			b, err := c.body(path[j])
			if err != nil {
				fail()
				return nil, nil, nil, nil, err
			}
			bodies[j] = b
			ntx += len(b.Transactions)
			if !path[j].has(nodeSigsOK) {
				for k := 1; k < len(b.Transactions); k++ {
					jobs = append(jobs, verifyJob{tx: &b.Transactions[k], blk: j, idx: k})
				}
			}
		}
		firstBad := j
		pos, sigErr := verifySignatures(jobs, c.chainID, c.opts.VerifyWorkers)
		if sigErr != nil {
			firstBad = jobs[pos].blk
			c.sigChecks += uint64(pos + 1)
		} else {
			c.sigChecks += uint64(len(jobs))
		}
		for k := i; k < j; k++ {
			n := path[k]
			if k < firstBad {
				n.flags |= nodeSigsOK
			}
			if k == firstBad {
				fail()
				return nil, nil, n, sigErr, nil
			}
			if err := c.connect(n, bodies[k], c.checkedIDs[n]); err != nil {
				fail()
				return nil, nil, n, err, nil
			}
		}
		i = j
	}
	if err := c.storeBodies(path); err != nil {
		fail()
		return nil, nil, nil, nil, err
	}
	c.state.commit()
	c.main = append(c.main[:fork.height()+1], path...)
	return path, disconnected, nil, nil, nil
}

// storeBodies appends the bodies of nodes that are not yet stored, in one
// call (one fsync for a file store).
func (c *Chain) storeBodies(nodes []*blockNode) error {
	var todo []*blockNode
	var blocks []*Block
	for _, n := range nodes {
		if !n.has(nodeStored) {
			todo = append(todo, n)
			blocks = append(blocks, n.body)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	locs, err := c.store.Append(blocks)
	if err != nil {
		return fmt.Errorf("blockchain: storing %d blocks: %w", len(blocks), err)
	}
	for i, n := range todo {
		c.setStored(n, locs[i])
	}
	return nil
}

// connect applies n's transactions to the state: every rule that needs
// balances or nonces. Signatures were checked by the caller. On error the
// caller reverts the state.
// ids are the block's transaction IDs, or nil to compute them.
func (c *Chain) connect(n *blockNode, b *Block, ids []Hash) *RuleError {
	if ids == nil {
		ids = b.TxIDs()
	}
	var fees uint64
	for i := 1; i < len(b.Transactions); i++ {
		tx := &b.Transactions[i]
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
		cost := tx.Amount + tx.Fee // at most MaxMoney: checkTxAmounts
		if acct.Balance < cost {
			return ruleErr(ErrInsufficientFunds, "transaction %d from %s: spends %s coins, balance %s",
				i, from, FormatCoins(cost), FormatCoins(acct.Balance))
		}
		acct.Balance -= cost
		acct.Nonce++
		c.state.setAccount(from, acct)
		if err := c.state.credit(tx.To, tx.Amount); err != nil {
			return ruleErr(ErrOverflow, "transaction %d: %v", i, err) // unreachable under MaxMoney
		}
		fees += tx.Fee // the block's fees are part of the money supply: below MaxMoney
		c.state.indexTx(ids[i], n.height())
		c.state.indexAddrs(txRef{n.height(), uint32(i)}, from, tx.To)
	}
	cb := &b.Transactions[0]
	if limit := c.params.Reward(n.height()) + fees; cb.Amount > limit {
		return ruleErr(ErrCoinbaseOverpays, "coinbase pays %s coins, reward plus fees is %s", FormatCoins(cb.Amount), FormatCoins(limit))
	}
	if err := c.state.credit(cb.To, cb.Amount); err != nil {
		return ruleErr(ErrOverflow, "coinbase: %v", err)
	}
	c.state.indexTx(ids[0], n.height())
	c.state.indexAddrs(txRef{n.height(), 0}, cb.To)
	return nil
}

// markInvalid marks n and all its descendants invalid and forgets their
// bodies: an invalid block is never connected again.
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
		if m.isLoose() {
			c.looseN--
			c.looseBytes -= m.body.Size()
		}
		m.body = nil
		m.flags &^= nodeHasBody | nodeLinked
		delete(c.candidates, m)
		delete(c.leaves, m)
		m.children(func(ch *blockNode) { stack = append(stack, ch) })
	}
	if p := n.parent; p != nil && p.invalid == 0 {
		valid := false
		p.children(func(ch *blockNode) { valid = valid || ch.invalid == 0 })
		if !valid {
			c.leaves[p] = true
		}
	}
	if c.bestHeader.invalid != 0 {
		c.bestHeader = c.tip()
		for l := range c.leaves {
			if c.better(l, c.bestHeader) {
				c.bestHeader = l
			}
		}
	}
}

// replay rebuilds the chain from its store: every stored block is taken
// back as validated (its signatures are not checked again), and the main
// chain moves to the heaviest branch, in steps of replayBatch blocks so
// that the journal stays small. A block that does not fit (another chain's
// store, or a bug) is logged and skipped.
func (c *Chain) replay() error {
	const replayBatch = 1024
	var batch []*blockNode
	far := int64(math.MaxInt64 - int64(c.params.MaxFutureDrift))
	err := c.store.Replay(func(loc uint64, b *Block) error {
		hash := b.Hash()
		if hash == c.chainID {
			return nil
		}
		n, rerr := c.acceptHeader(&b.Header, hash, far)
		if rerr == nil && !n.has(nodeHasBody) {
			var ids []Hash
			if ids, rerr, _ = checkBodySanity(&c.params, b); rerr != nil {
				c.markInvalid(n, rerr.Code)
			} else {
				c.checkedIDs[n] = ids
			}
		}
		if rerr != nil {
			c.log.Warn("stored block refused", "hash", hash.Short(16), "height", b.Header.Height, "err", rerr)
			return nil
		}
		if n.has(nodeStored) {
			return nil // stored twice: the first copy serves
		}
		if n.has(nodeHasBody) { // a loose copy: the stored one replaces it
			c.setStored(n, loc)
			n.flags |= nodeSigsOK
			return nil
		}
		n.body = b
		n.flags |= nodeSigsOK
		c.setStored(n, loc)
		if n.parent.has(nodeLinked) {
			c.link(n)
		}
		if batch = append(batch, n); len(batch) >= replayBatch {
			err := c.activateReplayed(batch)
			batch = batch[:0]
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("blockchain: replaying the store: %w", err)
	}
	return c.activateReplayed(batch)
}

// activateReplayed connects what a batch of replayed blocks completed, then
// drops their bodies from memory: they are in the store.
func (c *Chain) activateReplayed(batch []*blockNode) error {
	_, _, failures, err := c.activateBestChain()
	clear(c.checkedIDs)
	for _, f := range failures {
		c.log.Warn("stored block refused", "hash", f.node.hash.Short(16), "height", f.node.height(), "err", f.err)
	}
	c.releaseStored(batch)
	return err
}

// CheckBlock reports whether b would be valid as the next block on the
// current tip, at time now, without adding it or changing anything. A miner
// can check a template before spending work on it; it needs the
// proof-of-work, so mine first.
func (c *Chain) CheckBlock(b *Block, now time.Time) error {
	cp := cloneBlock(b)
	hash := cp.Hash()
	if err := checkHeaderSanity(&c.params, &cp.Header); err != nil {
		return err
	}
	ids, err, _ := checkBodySanity(&c.params, cp)
	if err != nil {
		return err
	}
	jobs := make([]verifyJob, 0, len(cp.Transactions))
	for k := 1; k < len(cp.Transactions); k++ {
		jobs = append(jobs, verifyJob{tx: &cp.Transactions[k], blk: 0, idx: k})
	}
	if _, err := verifySignatures(jobs, c.chainID, c.opts.VerifyWorkers); err != nil {
		return err
	}
	c.mu.Lock() // the state is borrowed and reverted, so exclusive
	defer c.mu.Unlock()
	tip := c.tip()
	if cp.Header.PrevHash != tip.hash {
		return ruleErr(ErrUnknownParent, "block builds on %s, the tip is %s", cp.Header.PrevHash.Short(16), tip.hash.Short(16))
	}
	if err := c.checkContext(&cp.Header, tip, now.UnixNano()); err != nil {
		return err
	}
	n := &blockNode{hash: hash, header: cp.Header, parent: tip}
	m := c.state.mark()
	defer c.state.revertTo(m)
	if err := c.connect(n, cp, ids); err != nil {
		return err
	}
	return nil
}

// Tip describes the end of a chain of blocks.
type Tip struct {
	Hash      Hash     `json:"hash"`
	Height    uint64   `json:"height"`
	Header    Header   `json:"header"`
	TotalWork *big.Int `json:"total_work"` // expected hashes to redo the whole chain
}

func tipOf(n *blockNode) Tip {
	return Tip{Hash: n.hash, Height: n.height(), Header: n.header, TotalWork: n.work.big()}
}

// Tip returns the main chain's last block.
func (c *Chain) Tip() Tip {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return tipOf(c.tip())
}

// BestHeader returns the end of the valid header chain with the most work.
// It is ahead of [Chain.Tip] while bodies are missing: what a node syncs
// towards.
func (c *Chain) BestHeader() Tip {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return tipOf(c.bestHeader)
}

// Height returns the main chain's height (0 when only genesis is known).
func (c *Chain) Height() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tip().height()
}

// ChainStats counts what a chain holds and has done.
type ChainStats struct {
	// Headers counts the headers in the tree, invalid ones included.
	Headers int
	// Height is the main chain's height.
	Height uint64
	// LooseBodies and LooseBytes count the bodies held in memory that are
	// not connected (see ChainOptions.LooseBodyBudget).
	LooseBodies, LooseBytes int
	// SignatureChecks counts the signatures verified while connecting
	// blocks (not those of CheckBlock or the mempool).
	SignatureChecks uint64
}

// Stats returns the chain's counters.
func (c *Chain) Stats() ChainStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return ChainStats{
		Headers: len(c.index), Height: c.tip().height(),
		LooseBodies: c.looseN, LooseBytes: c.looseBytes, SignatureChecks: c.sigChecks,
	}
}

// blockRef returns the chain's own copy of a valid block's body, which
// must not be modified; nil if the body is not held.
func (c *Chain) blockRef(h Hash) *Block {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	if !ok || n.invalid != 0 || !n.has(nodeHasBody) {
		return nil
	}
	b, err := c.body(n)
	if err != nil {
		return nil
	}
	return b
}

// BlockByHash returns a copy of a valid block whose body the chain holds,
// on the main chain or a side branch.
func (c *Chain) BlockByHash(h Hash) (*Block, bool) {
	if b := c.blockRef(h); b != nil {
		return cloneBlock(b), true
	}
	return nil, false
}

// BlockByHeight returns a copy of the main chain's block at height.
func (c *Chain) BlockByHeight(height uint64) (*Block, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if height >= uint64(len(c.main)) {
		return nil, false
	}
	b, err := c.body(c.main[height])
	if err != nil {
		return nil, false
	}
	return cloneBlock(b), true
}

// HeaderByHash returns a valid header the chain holds, with or without its
// body.
func (c *Chain) HeaderByHash(h Hash) (Header, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	if !ok || n.invalid != 0 {
		return Header{}, false
	}
	return n.header, true
}

// HasBlock reports whether the chain holds the block's body and has not
// found it invalid.
func (c *Chain) HasBlock(h Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	return ok && n.invalid == 0 && n.has(nodeHasBody)
}

// HasHeader reports whether the chain holds a valid header for h.
func (c *Chain) HasHeader(h Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	return ok && n.invalid == 0
}

// OnMainChain reports whether h is a block of the main chain.
func (c *Chain) OnMainChain(h Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	return ok && c.onMain(n)
}

// MissingBodies returns the hashes of the blocks whose bodies the chain
// needs to reach the header target: the blocks on target's branch above
// the fork with the main chain, without a body, lowest first. It looks at
// most window blocks above the fork and returns at most max hashes. It
// returns nil for an unknown or invalid target.
func (c *Chain) MissingBodies(target Hash, max, window int) []Hash {
	var out []Hash
	for _, m := range c.missingBodies(target, max, window) {
		out = append(out, m.hash)
	}
	return out
}

type blockID struct {
	hash   Hash
	height uint64
}

func (c *Chain) missingBodies(target Hash, max, window int) []blockID {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.index[target]
	if !ok || t.invalid != 0 || max <= 0 || window <= 0 {
		return nil
	}
	fork := lastCommonAncestor(t, c.tip())
	top := min(t.height(), fork.height()+uint64(window))
	var out []blockID
	for n := t.ancestor(top); n != fork; n = n.parent {
		if !n.has(nodeHasBody) {
			out = append(out, blockID{n.hash, n.height()})
		}
	}
	slices.Reverse(out)
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// sharedHeight returns the height of the last block that a and b (known
// headers) share.
func (c *Chain) sharedHeight(a, b Hash) (uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	na, ok1 := c.index[a]
	nb, ok2 := c.index[b]
	if !ok1 || !ok2 {
		return 0, false
	}
	return lastCommonAncestor(na, nb).height(), true
}

// IsAncestor reports whether the block anc is desc or one of its
// ancestors; false if either is unknown.
func (c *Chain) IsAncestor(anc, desc Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	a, ok1 := c.index[anc]
	d, ok2 := c.index[desc]
	return ok1 && ok2 && isAncestor(a, d)
}

// WorkOf returns the cumulative work of the chain ending at a known
// header, and whether it is known and valid.
func (c *Chain) WorkOf(h Hash) (*big.Int, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	if !ok || n.invalid != 0 {
		return nil, false
	}
	return n.work.big(), true
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

// findTx locates a confirmed transaction: its block, the block's IDs and
// its position. The read lock is held.
func (c *Chain) findTx(id Hash) (*blockNode, *Block, []Hash, int, bool) {
	for _, h := range c.state.txHeights(id) {
		if h >= uint64(len(c.main)) {
			continue
		}
		n := c.main[h]
		b, err := c.body(n)
		if err != nil {
			continue
		}
		ids := b.TxIDs()
		if i := slices.Index(ids, id); i >= 0 {
			return n, b, ids, i, true
		}
	}
	return nil, nil, nil, 0, false
}

// Transaction finds a transaction confirmed on the main chain.
func (c *Chain) Transaction(id Hash) (TxInfo, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, b, _, i, ok := c.findTx(id)
	if !ok {
		return TxInfo{}, false
	}
	return TxInfo{
		Tx:            b.Transactions[i],
		BlockHash:     n.hash,
		Height:        n.height(),
		Index:         i,
		Confirmations: c.tip().height() - n.height() + 1,
	}, true
}

// ErrNotIndexed is returned by [Chain.AddressHistory] on a chain that does
// not index addresses (ChainOptions.IndexAddresses).
var ErrNotIndexed = errors.New("blockchain: the chain does not index addresses")

// AddressHistory returns the main-chain transactions that paid the address
// or sent from it, newest first: skip the newest skip, then at most limit.
// It also returns how many there are in all. It needs
// ChainOptions.IndexAddresses.
func (c *Chain) AddressHistory(a Address, skip, limit int) ([]TxInfo, int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.state.byAddr == nil {
		return nil, 0, ErrNotIndexed
	}
	refs := c.state.byAddr[a]
	total := len(refs)
	var out []TxInfo
	tip := c.tip().height()
	for i := total - 1 - max(skip, 0); i >= 0 && len(out) < limit; i-- {
		r := refs[i]
		n := c.main[r.height]
		b, err := c.body(n)
		if err != nil {
			return out, total, err
		}
		out = append(out, TxInfo{
			Tx: b.Transactions[r.index], BlockHash: n.hash, Height: r.height,
			Index: int(r.index), Confirmations: tip - r.height + 1,
		})
	}
	return out, total, nil
}

// IndexesAddresses reports whether the chain keeps the address index
// (ChainOptions.IndexAddresses) that AddressHistory needs.
func (c *Chain) IndexesAddresses() bool { return c.opts.IndexAddresses }

// HeaderByHeight returns the header of the main chain's block at height.
func (c *Chain) HeaderByHeight(height uint64) (Header, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if height >= uint64(len(c.main)) {
		return Header{}, false
	}
	return c.main[height].header, true
}

// TxProof returns the Merkle proof that a confirmed transaction is in its
// block, with that block's header: what a light client needs (paper §8).
// Check it with VerifyMerkleProof(header.MerkleRoot, id, proof).
func (c *Chain) TxProof(id Hash) (MerkleProof, Header, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, _, ids, i, ok := c.findTx(id)
	if !ok {
		return MerkleProof{}, Header{}, false
	}
	p, err := NewMerkleProof(ids, i)
	if err != nil {
		return MerkleProof{}, Header{}, false
	}
	return p, n.header, true
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
	return locator(c.tip().height(), func(h uint64) Hash { return c.main[h].hash })
}

// LocatorFrom returns a block locator that starts at the known header h
// and follows its ancestors, whether or not h is on the main chain: during
// sync it asks a peer for what follows the last header received. It
// returns nil for an unknown header.
func (c *Chain) LocatorFrom(h Hash) []Hash {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	if !ok {
		return nil
	}
	if c.onMain(n) {
		return locator(n.height(), func(h uint64) Hash { return c.main[h].hash })
	}
	return locator(n.height(), func(h uint64) Hash { return n.ancestor(h).hash })
}

// locator lists hashAt(h) for the heights of a locator from top.
func locator(top uint64, hashAt func(uint64) Hash) []Hash {
	var loc []Hash
	step := uint64(1)
	for h := top; ; h -= min(step, h) {
		loc = append(loc, hashAt(h))
		if h == 0 {
			return loc
		}
		if len(loc) >= 10 {
			step *= 2
		}
	}
}

// HeadersAfter returns the main chain's headers that follow the first
// locator hash found on the main chain (genesis if none is), at most max,
// ending early after the header stop if it is among them: what a peer that
// sent this locator is missing.
func (c *Chain) HeadersAfter(locator []Hash, stop Hash, max int) []Header {
	c.mu.RLock()
	defer c.mu.RUnlock()
	start := c.locate(locator)
	var out []Header
	for h := start; h < uint64(len(c.main)) && len(out) < max; h++ {
		n := c.main[h]
		out = append(out, n.header)
		if n.hash == stop {
			break
		}
	}
	return out
}

// locate returns the height after the first locator hash on the main
// chain, or 1.
func (c *Chain) locate(locator []Hash) uint64 {
	for _, h := range locator {
		if n, ok := c.index[h]; ok && c.onMain(n) {
			return n.height() + 1
		}
	}
	return 1
}

// errNoBody is returned when a body the chain needs is not held.
var errNoBody = errors.New("blockchain: block body not held")

// maxInvalidHashes bounds the refused block hashes a chain remembers
// outside its tree.
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
