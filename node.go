package blockchain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// NodeConfig configures a [Node]. Chain and Network are required; every
// other field has a working zero value.
type NodeConfig struct {
	// ID is the node's name on the network.
	ID PeerID
	// Chain is the node's chain; the node adds blocks to it.
	Chain *Chain
	// Network is the transport the node joins when it runs.
	Network Network
	// Mempool limits the node's pending transactions.
	Mempool MempoolOptions

	// Miner is the address the node's coinbases pay.
	Miner Address
	// Mining starts the miner with the node; SetMining changes it later.
	Mining bool
	// MiningWorkers is how many goroutines mine; fewer than 1 means 1.
	MiningWorkers int
	// HashRate, if positive, limits the miner to about this many hashes
	// a second. A simulation gives each miner its share of the network's
	// hash power this way, whatever the machine's speed.
	HashRate float64

	// StatusInterval is how often the node tells its peers its tip;
	// 0 means one second.
	StatusInterval time.Duration
	// TemplateRefresh is how often the miner rebuilds its block to take
	// in new transactions; 0 means two seconds.
	TemplateRefresh time.Duration
	// RequestTimeout is how long the node waits for data it asked a peer
	// for before it may ask again; 0 means five seconds.
	RequestTimeout time.Duration

	// Now is the node's clock, for block times and validation; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives the node's logs; nil means none.
	Logger *slog.Logger
}

// Node runs the protocol around a [Chain] (DESIGN: the thin loop around the
// core): it mines on its tip, gossips transactions and blocks, tells peers
// its tip and syncs from them when behind, and fetches the missing
// ancestors of orphans from the peer that sent them. Its query and control
// methods are safe to call while it runs.
type Node struct {
	cfg   NodeConfig
	chain *Chain
	pool  *Mempool
	log   *slog.Logger
	now   func() time.Time

	running atomic.Bool
	conn    atomic.Pointer[connBox]

	mining    atomic.Bool
	miner     atomic.Pointer[Address]
	wakeMiner chan struct{}
	mined     chan minedBlock
	hashes    atomic.Uint64
	found     atomic.Uint64

	mineMu     sync.Mutex
	mineCancel context.CancelFunc
	pacer      *hashPacer // nil: mine at full speed

	subMu  sync.Mutex
	subs   map[int]chan Event
	nextID int

	// Loop-owned state: touched only by the Run goroutine.
	peers    map[PeerID]*peerState
	inflight map[Hash]request  // data asked for, from whom and until when
	rejected map[Hash]struct{} // transactions refused for good, not to fetch again
	ticks    int               // status ticks so far
}

type connBox struct{ Conn }

type minedBlock struct {
	block *Block
	done  chan struct{} // closed once the loop has processed the block
}

type peerState struct {
	syncUntil    time.Time // a block request to it is outstanding until then
	lastBatch    Hash      // the last block of its last BlocksMsg
	inflight     int       // items requested from it and not yet answered
	misbehaviour int
}

// request is an item asked of a peer.
type request struct {
	peer  PeerID
	until time.Time
}

// Limits on the node's bookkeeping and behaviour.
const (
	maxInflight        = 4096 // transactions asked for and not yet received
	maxInflightPerPeer = 1024 // items asked of one peer
	maxRejected        = 4096
	reannounceTicks    = 10 // status ticks between announcements of pending transactions
	blocksReplyBudget  = MaxMessageSize / 2
	dropThreshold      = 10 // invalid messages before a peer is dropped
	subscriberBuffer   = 64
)

// NewNode returns a node that is ready to Run.
func NewNode(cfg NodeConfig) (*Node, error) {
	if cfg.Chain == nil || cfg.Network == nil {
		return nil, errors.New("blockchain: NodeConfig needs a Chain and a Network")
	}
	if cfg.MiningWorkers < 1 {
		cfg.MiningWorkers = 1
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = time.Second
	}
	if cfg.TemplateRefresh <= 0 {
		cfg.TemplateRefresh = 2 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg:       cfg,
		chain:     cfg.Chain,
		pool:      NewMempool(cfg.Chain, cfg.Mempool),
		log:       log.With("node", string(cfg.ID)),
		now:       cfg.Now,
		wakeMiner: make(chan struct{}, 1),
		mined:     make(chan minedBlock),
		subs:      make(map[int]chan Event),
	}
	if cfg.HashRate > 0 {
		n.pacer = newHashPacer(cfg.HashRate)
	}
	miner := cfg.Miner
	n.miner.Store(&miner)
	n.mining.Store(cfg.Mining)
	return n, nil
}

// ID returns the node's network ID.
func (n *Node) ID() PeerID { return n.cfg.ID }

// Chain returns the node's chain, for queries.
func (n *Node) Chain() *Chain { return n.chain }

// Mempool returns the node's pending transactions.
func (n *Node) Mempool() *Mempool { return n.pool }

// Tip returns the end of the node's main chain.
func (n *Node) Tip() Tip { return n.chain.Tip() }

// Balance returns an address's confirmed balance.
func (n *Node) Balance(a Address) uint64 { return n.chain.Balance(a) }

// NextNonce returns the nonce a's next transaction should carry, counting
// its transactions pending at this node.
func (n *Node) NextNonce(a Address) uint64 { return n.pool.NextNonce(a) }

// Peers returns the peers the node can reach, or nil when it is not running.
func (n *Node) Peers() []PeerID {
	if c := n.conn.Load(); c != nil {
		return c.Peers()
	}
	return nil
}

// Hashes returns how many hashes the node's miner has tried.
func (n *Node) Hashes() uint64 { return n.hashes.Load() }

// BlocksMined returns how many blocks the node's miner has found.
func (n *Node) BlocksMined() uint64 { return n.found.Load() }

// SetMining starts or stops the miner. It takes effect at once, also while
// a block is being mined.
func (n *Node) SetMining(on bool) {
	n.mining.Store(on)
	if on {
		select {
		case n.wakeMiner <- struct{}{}:
		default:
		}
	} else {
		n.restartMining()
	}
}

// Mining reports whether the miner is on.
func (n *Node) Mining() bool { return n.mining.Load() }

// SetMiner changes the address the node's next blocks pay.
func (n *Node) SetMiner(a Address) {
	n.miner.Store(&a)
	n.restartMining()
}

// SubmitTransaction adds tx to the node's mempool and announces it to the
// node's peers. A refused transaction returns its [*RuleError].
func (n *Node) SubmitTransaction(tx Transaction) error {
	if err := n.pool.Add(tx); err != nil {
		return err
	}
	n.broadcast(InvMsg{Items: []InvItem{{Type: InvTx, Hash: tx.ID()}}}, "")
	n.emit(Event{Type: EventMempool, Tip: n.chain.Tip(), Mempool: n.pool.Len()})
	return nil
}

// EventType says what changed.
type EventType int

// Event types.
const (
	// EventTip: the main chain's tip moved.
	EventTip EventType = iota + 1
	// EventMempool: the pending transactions changed.
	EventMempool
)

// Event reports a change at a node, for programs that draw or serve it.
type Event struct {
	Type EventType
	Tip  Tip // the tip after the change
	// Connected and Disconnected count the blocks that joined and left
	// the main chain (EventTip); Disconnected > 0 is a reorganization.
	Connected, Disconnected int
	Mempool                 int // pending transactions after the change
}

// Subscribe returns a channel of the node's events and a function that
// ends the subscription (and closes the channel). A subscriber that falls
// more than 64 events behind misses events: it can always re-read the
// current state with the query methods.
func (n *Node) Subscribe() (<-chan Event, func()) {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	id := n.nextID
	n.nextID++
	ch := make(chan Event, subscriberBuffer)
	n.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			n.subMu.Lock()
			defer n.subMu.Unlock()
			if c, ok := n.subs[id]; ok {
				delete(n.subs, id)
				close(c)
			}
		})
	}
}

func (n *Node) emit(e Event) {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	for _, ch := range n.subs {
		select {
		case ch <- e:
		default: // a slow subscriber misses this one
		}
	}
}

// ErrNodeRunning is returned by Run on a node that is already running.
var ErrNodeRunning = errors.New("blockchain: node is already running")

// Run joins the network and runs the node until ctx is done. It returns
// nil after ctx is cancelled, or an error wrapping ErrClosed if the network
// closed the node's connection first; either way it has stopped every
// goroutine it started and left the network.
func (n *Node) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return ErrNodeRunning
	}
	defer n.running.Store(false)
	conn, err := n.cfg.Network.Join(n.cfg.ID)
	if err != nil {
		return fmt.Errorf("blockchain: node %s: join: %w", n.cfg.ID, err)
	}
	n.conn.Store(&connBox{conn})
	n.peers = make(map[PeerID]*peerState)
	n.inflight = make(map[Hash]request)
	n.rejected = make(map[Hash]struct{})
	n.log.Info("node started", "height", n.chain.Height())

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { n.mineLoop(ctx) })
	closed := n.loop(ctx, conn)
	cancel()
	wg.Wait()
	n.conn.Store(nil)
	conn.Close()
	n.log.Info("node stopped", "height", n.chain.Height())
	if closed {
		return fmt.Errorf("blockchain: node %s: the network closed the connection: %w", n.cfg.ID, ErrClosed)
	}
	return nil
}

// loop handles messages, mined blocks and ticks until ctx is done or the
// connection closes (then it reports true).
func (n *Node) loop(ctx context.Context, conn Conn) (closed bool) {
	status := time.NewTicker(n.cfg.StatusInterval)
	defer status.Stop()
	n.broadcast(n.statusMsg(), "")
	for {
		select {
		case <-ctx.Done():
			return false
		case p, ok := <-conn.Receive():
			if !ok {
				return true
			}
			if p.Event != PeerMessage {
				continue
			}
			n.handle(p)
		case m := <-n.mined:
			n.found.Add(1)
			n.log.Debug("mined block", "height", m.block.Header.Height, "hash", m.block.Hash().Short(12))
			_, _ = n.processBlock(m.block, "") // our own block: valid unless the tip moved
			close(m.done)
		case <-status.C:
			n.broadcast(n.statusMsg(), "")
			n.expire()
			if n.ticks++; n.ticks%reannounceTicks == 0 {
				n.announcePending()
			}
		}
	}
}

func (n *Node) statusMsg() StatusMsg {
	t := n.chain.Tip()
	return StatusMsg{Height: t.Height, Tip: t.Hash, TotalWork: t.TotalWork}
}

// send encodes and sends m to one peer.
func (n *Node) send(to PeerID, m Message) {
	c := n.conn.Load()
	if c == nil {
		return
	}
	data, err := EncodeMessage(m)
	if err == nil {
		err = c.Send(to, data)
	}
	if err != nil {
		n.log.Debug("send failed", "to", string(to), "err", err)
	}
}

// broadcast sends m to every peer but except.
func (n *Node) broadcast(m Message, except PeerID) {
	c := n.conn.Load()
	if c == nil {
		return
	}
	data, err := EncodeMessage(m)
	if err != nil {
		n.log.Error("encode failed", "err", err)
		return
	}
	if except == "" {
		err = c.Broadcast(data)
	} else {
		for _, p := range c.Peers() {
			if p != except {
				err = errors.Join(err, c.Send(p, data))
			}
		}
	}
	if err != nil {
		n.log.Debug("broadcast incomplete", "err", err)
	}
}

func (n *Node) peer(id PeerID) *peerState {
	ps, ok := n.peers[id]
	if !ok {
		ps = &peerState{}
		n.peers[id] = ps
	}
	return ps
}

// misbehave counts invalid data from a peer and drops the peer when the
// transport allows and the count is reached.
func (n *Node) misbehave(from PeerID, err error) {
	ps := n.peer(from)
	ps.misbehaviour++
	n.log.Warn("invalid data from peer", "peer", string(from), "err", err, "count", ps.misbehaviour)
	if ps.misbehaviour < dropThreshold {
		return
	}
	if c := n.conn.Load(); c != nil {
		if d, ok := c.Conn.(Dropper); ok {
			n.log.Warn("dropping peer", "peer", string(from))
			_ = d.Drop(from, 0)
			delete(n.peers, from)
		}
	}
}

func (n *Node) handle(p Packet) {
	msg, err := DecodeMessage(p.Data)
	if err != nil {
		n.misbehave(p.From, err)
		return
	}
	switch m := msg.(type) {
	case StatusMsg:
		n.onStatus(p.From, m)
	case InvMsg:
		n.onInv(p.From, m.Items)
	case GetDataMsg:
		n.onGetData(p.From, m.Items)
	case TxMsg:
		n.onTx(p.From, m.Tx)
	case BlockMsg:
		n.received(m.Block.Hash())
		_, _ = n.processBlock(&m.Block, p.From) // errors count against the sender
	case GetBlocksMsg:
		n.onGetBlocks(p.From, m.Locator)
	case BlocksMsg:
		n.onBlocks(p.From, m.Blocks)
	}
}

func (n *Node) onStatus(from PeerID, m StatusMsg) {
	switch ours := n.chain.Tip().TotalWork; m.TotalWork.Cmp(ours) {
	case 1:
		if !n.chain.HasBlock(m.Tip) {
			n.requestBlocks(from, n.chain.Locator())
		}
	case -1:
		// The peer is behind: tell it now rather than at our next tick,
		// so a node that just joined starts syncing at once.
		n.send(from, n.statusMsg())
	}
}

// requestBlocks asks from for the blocks after locator, unless a request
// to it is still outstanding.
func (n *Node) requestBlocks(from PeerID, locator []Hash) {
	ps := n.peer(from)
	if n.now().Before(ps.syncUntil) {
		return
	}
	ps.syncUntil = n.now().Add(n.cfg.RequestTimeout)
	n.send(from, GetBlocksMsg{Locator: locator})
}

func (n *Node) onGetBlocks(from PeerID, locator []Hash) {
	var reply BlocksMsg
	for _, b := range n.chain.BlocksAfter(locator, MaxBlocksPerMsg, blocksReplyBudget) {
		reply.Blocks = append(reply.Blocks, *b)
	}
	n.send(from, reply)
}

func (n *Node) onBlocks(from PeerID, blocks []Block) {
	ps := n.peer(from)
	ps.syncUntil = time.Time{}
	if len(blocks) == 0 {
		return // the peer has nothing after our locator: in sync
	}
	for i := range blocks {
		_, _ = n.processBlock(&blocks[i], from) // errors count against the sender
	}
	// Ask for more, continuing from the last block received: it may be on
	// a branch that is not (yet) our main chain, whose locator would fetch
	// the same batch again. That holds even for a batch we already had
	// (a branch known from before a partition): each request starts after
	// the last batch, so sync moves on until the peer has no more. A peer
	// that sends the same batch twice is not asked again.
	last := blocks[len(blocks)-1].Hash()
	if last == ps.lastBatch {
		return
	}
	ps.lastBatch = last
	if loc := n.chain.LocatorFrom(last); loc != nil {
		n.requestBlocks(from, loc)
	}
}

func (n *Node) onInv(from PeerID, items []InvItem) {
	ps := n.peer(from)
	var want []InvItem
	deadline := n.now().Add(n.cfg.RequestTimeout)
	for _, it := range items {
		if r, ok := n.inflight[it.Hash]; ok && n.now().Before(r.until) {
			continue
		}
		switch it.Type {
		case InvBlock:
			if n.chain.HasBlock(it.Hash) {
				continue
			}
		case InvTx:
			if _, bad := n.rejected[it.Hash]; bad || n.pool.Has(it.Hash) {
				continue
			}
			if _, ok := n.chain.Transaction(it.Hash); ok {
				continue
			}
			// Blocks are always fetched; transactions only while the
			// table of requests has room.
			if len(n.inflight) >= maxInflight {
				n.expire()
				if len(n.inflight) >= maxInflight {
					continue
				}
			}
		}
		if ps.inflight >= maxInflightPerPeer {
			break // this peer has enough of our attention
		}
		n.received(it.Hash) // an expired request: asked again, maybe elsewhere
		n.inflight[it.Hash] = request{peer: from, until: deadline}
		ps.inflight++
		want = append(want, it)
	}
	if len(want) > 0 {
		n.send(from, GetDataMsg{Items: want})
	}
}

// received forgets the request for an item that arrived.
func (n *Node) received(h Hash) {
	if r, ok := n.inflight[h]; ok {
		delete(n.inflight, h)
		if ps, ok := n.peers[r.peer]; ok && ps.inflight > 0 {
			ps.inflight--
		}
	}
}

// onGetData sends what a peer asked for, each item once and blocks only up
// to a byte budget per request, so a small request cannot make the node
// queue gigabytes.
func (n *Node) onGetData(from PeerID, items []InvItem) {
	sent := make(map[Hash]bool, len(items))
	budget := blocksReplyBudget
	for _, it := range items {
		if sent[it.Hash] {
			continue
		}
		sent[it.Hash] = true
		switch it.Type {
		case InvBlock:
			if budget <= 0 {
				continue
			}
			if b, ok := n.chain.BlockByHash(it.Hash); ok {
				budget -= b.Size()
				n.send(from, BlockMsg{Block: *b})
			}
		case InvTx:
			if tx, ok := n.pool.Get(it.Hash); ok {
				n.send(from, TxMsg{Tx: tx})
			}
		}
	}
}

func (n *Node) onTx(from PeerID, tx Transaction) {
	id := tx.ID()
	n.received(id)
	err := n.pool.Add(tx)
	if err == nil {
		n.broadcast(InvMsg{Items: []InvItem{{Type: InvTx, Hash: id}}}, from)
		n.emit(Event{Type: EventMempool, Tip: n.chain.Tip(), Mempool: n.pool.Len()})
		return
	}
	switch {
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrOverflow), errors.Is(err, ErrBadCoinbase):
		n.misbehave(from, err) // never valid: the sender should know
		fallthrough
	case errors.Is(err, ErrTxOnChain), errors.Is(err, ErrNonceTooLow):
		// Refused for good. Other refusals (funds not yet arrived, a
		// nonce gap, a full pool) may pass later: fetch it again then.
		if len(n.rejected) >= maxRejected {
			clear(n.rejected)
		}
		n.rejected[id] = struct{}{}
	}
}

// announcePending tells peers, every few ticks, what is in the mempool: a
// transaction whose first announcement was lost, or that reached only a
// node that does not mine, still reaches the miners.
func (n *Node) announcePending() {
	ids := n.pool.IDs()
	if len(ids) > MaxInvItems {
		ids = ids[:MaxInvItems]
	}
	if len(ids) == 0 {
		return
	}
	items := make([]InvItem, len(ids))
	for i, id := range ids {
		items[i] = InvItem{Type: InvTx, Hash: id}
	}
	n.broadcast(InvMsg{Items: items}, "")
}

// processBlock adds b to the chain and acts on the result: it updates the
// mempool, asks the sender for an orphan's ancestors, and announces a new
// tip. With from == "" (a block mined here) it touches no loop-owned state,
// so any goroutine may call it.
func (n *Node) processBlock(b *Block, from PeerID) (AddResult, error) {
	res, err := n.chain.AddBlock(b, n.now())
	if err != nil {
		var re *RuleError
		if from != "" && errors.As(err, &re) && re.Code != ErrTimeTooNew && re.Code != ErrUnknownParent {
			n.misbehave(from, err)
		}
	}
	if errors.Is(err, ErrUnknownParent) && from != "" {
		n.requestBlocks(from, n.chain.Locator())
	}
	if res.TipChanged() { // even a failed branch may move the tip (to a valid prefix)
		n.pool.Update(res)
		n.tipChanged(res, from)
	}
	return res, err
}

// accepted reports whether processBlock took in a new block.
func accepted(res AddResult, err error) bool {
	return err == nil && res.Status != StatusDuplicate
}

// reannounce tells peers about the transactions a reorganization returned
// to the mempool: peers that followed the other branch may never have seen
// them.
func (n *Node) reannounce(disconnected []*Block) {
	var items []InvItem
	for _, b := range disconnected {
		for _, tx := range b.Transactions[1:] {
			if id := tx.ID(); n.pool.Has(id) && len(items) < MaxInvItems {
				items = append(items, InvItem{Type: InvTx, Hash: id})
			}
		}
	}
	if len(items) > 0 {
		n.broadcast(InvMsg{Items: items}, "")
	}
}

func (n *Node) tipChanged(res AddResult, from PeerID) {
	n.restartMining()
	tip := n.chain.Tip()
	if len(res.Disconnected) > 0 {
		n.log.Info("reorganized", "height", tip.Height, "tip", tip.Hash.Short(12),
			"disconnected", len(res.Disconnected), "connected", len(res.Connected))
	} else {
		n.log.Debug("new tip", "height", tip.Height, "tip", tip.Hash.Short(12))
	}
	n.broadcast(InvMsg{Items: []InvItem{{Type: InvBlock, Hash: tip.Hash}}}, from)
	n.reannounce(res.Disconnected)
	n.emit(Event{Type: EventTip, Tip: tip, Connected: len(res.Connected), Disconnected: len(res.Disconnected), Mempool: n.pool.Len()})
}

// expire forgets requests that timed out, so the data can be asked again.
func (n *Node) expire() {
	now := n.now()
	for h, r := range n.inflight {
		if !now.Before(r.until) {
			n.received(h)
		}
	}
}

// restartMining abandons the block being mined, so the miner starts over
// on the current tip (or stops, if mining was turned off).
func (n *Node) restartMining() {
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	if n.mineCancel != nil {
		n.mineCancel()
	}
}

func (n *Node) mineLoop(ctx context.Context) {
	var last Header // the previous template
	for ctx.Err() == nil {
		if !n.mining.Load() {
			select {
			case <-ctx.Done():
				return
			case <-n.wakeMiner:
			}
			continue
		}
		// Register the cancel before reading the tip: a tip change after
		// this point cancels the attempt, one before it is in the template.
		mctx, cancel := context.WithTimeout(ctx, n.cfg.TemplateRefresh)
		n.mineMu.Lock()
		if !n.mining.Load() { // SetMining(false) since the check above
			n.mineMu.Unlock()
			cancel()
			continue
		}
		n.mineCancel = cancel
		n.mineMu.Unlock()
		b := n.pool.NewBlockTemplate(*n.miner.Load(), n.now())
		// A new template on the same parent with no later time (a slow or
		// frozen clock) would search the same nonces again: move it on.
		if b.Header.PrevHash == last.PrevHash && b.Header.Time <= last.Time {
			b.Header.Time = last.Time + 1
		}
		last = b.Header
		err := n.mine(mctx, &b.Header)
		cancel()
		if err != nil {
			continue // cancelled, refreshed or exhausted: build anew
		}
		done := make(chan struct{})
		select {
		case n.mined <- minedBlock{block: b, done: done}:
			<-done // build the next template on this block
		case <-ctx.Done():
			return
		}
	}
}

// mine runs Mine, throttled to cfg.HashRate if set.
func (n *Node) mine(ctx context.Context, h *Header) error {
	if n.pacer == nil {
		hashes, err := Mine(ctx, h, n.cfg.MiningWorkers)
		n.hashes.Add(hashes)
		return err
	}
	// Mine in slices of about 10 ms of work, each paid for in advance
	// from the pacer's budget.
	chunk := n.pacer.burst
	for lo := uint64(0); ; lo += chunk {
		if err := n.pacer.take(ctx, chunk); err != nil {
			return err
		}
		hashes, err := mineRange(ctx, h, lo, lo+chunk-1, n.cfg.MiningWorkers)
		n.hashes.Add(hashes)
		if !errors.Is(err, ErrNonceSpaceExhausted) {
			return err // found (nil), cancelled, or a bad target
		}
	}
}

// hashPacer limits mining to a rate with a token bucket: hashes may be
// spent as they accrue, rate per second, with at most burst saved up, so
// a miner that was idle does not then race.
type hashPacer struct {
	rate  float64
	burst uint64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newHashPacer(rate float64) *hashPacer {
	burst := max(uint64(1), uint64(rate/100))
	return &hashPacer{rate: rate, burst: burst, tokens: float64(burst)}
}

// take spends n hashes, first waiting as long as the budget is in debt.
func (p *hashPacer) take(ctx context.Context, n uint64) error {
	p.mu.Lock()
	now := time.Now()
	if !p.last.IsZero() {
		p.tokens = min(float64(p.burst), p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	p.tokens -= float64(n)
	debt := -p.tokens
	p.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(debt / p.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		p.mu.Lock()
		p.tokens += float64(n) // not spent: give it back
		p.mu.Unlock()
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// MineBlock mines one block on the current tip with the pending
// transactions, at the node's hash rate, and adds it to the chain (and,
// while the node runs, announces it). It works whether the background miner
// is on or off, and whether or not the node runs. It returns the block and
// what adding it did: another block may have taken the tip meanwhile.
func (n *Node) MineBlock(ctx context.Context) (*Block, AddResult, error) {
	for {
		b := n.pool.NewBlockTemplate(*n.miner.Load(), n.now())
		err := n.mine(ctx, &b.Header)
		if errors.Is(err, ErrNonceSpaceExhausted) {
			continue // the next template has a new time
		}
		if err != nil {
			return nil, AddResult{}, err
		}
		n.found.Add(1)
		res, err := n.processBlock(b, "")
		return b, res, err
	}
}
