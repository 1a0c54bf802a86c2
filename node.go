package blockchain

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// NodeConfig configures a [Node]. ID, Chain and Network are required;
// every other field has a working zero value. Worker counts follow one
// rule throughout the package: 0 means one per core.
type NodeConfig struct {
	// ID is the node's name on the network (and in its logs).
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
	// MiningWorkers is how many goroutines mine; 0 means one per core.
	MiningWorkers int
	// HashRate, if positive, limits the miner to about this many hashes
	// a second. A simulation gives each miner its share of the network's
	// hash power this way, whatever the machine's speed.
	HashRate float64
	// MinBlockInterval paces the miner, so that a network at a trivial
	// target (TestParams: 256 hashes a block) cannot flood itself with
	// blocks. After the tip changes the miner waits a random time, between
	// half and one and a half MinBlockInterval, before it mines on the new
	// tip. 0 means the chain's TargetBlockTime when its difficulty is fixed
	// (RetargetInterval 0) and no pause when the difficulty adjusts itself;
	// negative means no pause. It is the node's choice, not consensus.
	MinBlockInterval time.Duration

	// TickInterval is how often the node checks its requests and peers;
	// 0 means 200ms.
	TickInterval time.Duration
	// SyncInterval is how often the node asks a peer for headers after
	// its tip, even with nothing announced, so that a lost announcement
	// (or a healed partition) never leaves it behind; 0 means 2s.
	SyncInterval time.Duration
	// TemplateRefresh is how often the miner rebuilds its block to take
	// in new transactions; 0 means two seconds.
	TemplateRefresh time.Duration
	// RequestTimeout is how long the node waits for headers, blocks or
	// transactions it asked a peer for before it asks again, elsewhere if
	// it can; 0 means five seconds. It runs on elapsed time, not on Now.
	RequestTimeout time.Duration
	// HandshakeTimeout is how long a new peer has to complete the version
	// handshake; 0 means ten seconds.
	HandshakeTimeout time.Duration
	// BanTime is how long a peer that broke the protocol (malformed data,
	// invalid proof-of-work or blocks, another chain) is kept away, where
	// the transport can ban; 0 means ten minutes.
	BanTime time.Duration
	// ServeRate bounds, in bytes a second, what the node sends one peer in
	// answer to its requests (headers and blocks), so serving one peer
	// never starves the node's loop or its other peers; 0 means 32 MiB/s.
	ServeRate int
	// TargetOutbound is how many peers the node dials by itself from the
	// addresses it learns, on a transport that dials (TCP); 0 means 8.
	TargetOutbound int

	// Now is the node's clock, for block times and validation; nil means
	// time.Now. Request timers do not use it.
	Now func() time.Time
	// Seed seeds the node's randomness (its handshake nonce, the miner's
	// pace, peer choices); 0 means a random seed.
	Seed uint64
	// Logger receives the node's logs; nil means none.
	Logger *slog.Logger
}

// Node runs the protocol around a [Chain], as a thin loop around the core:
// it shakes hands with peers, syncs headers first and then bodies from
// several peers, gossips transactions and blocks, serves its peers within
// a budget, learns and dials addresses, and mines on its tip. Its query and
// control methods are safe to call while it runs.
type Node struct {
	cfg    NodeConfig
	chain  *Chain
	pool   *Mempool
	log    *slog.Logger
	now    func() time.Time
	start  time.Time
	nonce  uint64 // handshake nonce
	seed   uint64
	paceIn time.Duration

	running  atomic.Bool
	conn     atomic.Pointer[connBox]
	loopDone atomic.Pointer[chan struct{}] // closed when the loop has ended

	mining    atomic.Bool
	miner     atomic.Pointer[Address]
	wakeMiner chan struct{}
	mined     chan *minedBlock
	hashes    atomic.Uint64
	found     atomic.Uint64

	mineMu     sync.Mutex
	mineCancel context.CancelFunc
	mineBusy   bool       // the miner is on an attempt or handing a block over; guarded by mineMu
	mineIdle   *sync.Cond // signalled when mineBusy turns false
	pacer      *hashPacer // nil: mine at full speed

	subMu  sync.Mutex
	subs   map[int]*subscriber
	nextID int

	sendMu sync.Mutex // serializes Send's choice of nonce

	infoMu   sync.RWMutex
	peerInfo []PeerInfo // the ready peers, for Peers

	// Loop-owned state: touched only by the Run goroutine.
	loop *nodeLoop
}

type connBox struct{ Conn }

// subscriber is one Subscribe channel and the events it missed.
type subscriber struct {
	ch     chan Event
	missed uint64
}

// minedBlock hands a block the miner found to the loop, which adds it and
// fills in the result before closing done.
type minedBlock struct {
	block *Block
	res   AddResult
	err   error
	done  chan struct{}
}

// Defaults of NodeConfig.
const (
	defaultTick             = 200 * time.Millisecond
	defaultSyncInterval     = 2 * time.Second
	defaultTemplateRefresh  = 2 * time.Second
	defaultRequestTimeout   = 5 * time.Second
	defaultHandshakeTimeout = 10 * time.Second
	defaultBanTime          = 10 * time.Minute
	defaultServeRate        = 32 << 20
	defaultTargetOutbound   = 8
	subscriberBuffer        = 256
)

// ErrBadConfig is returned (wrapped) by [NewNode] for an unusable config.
var ErrBadConfig = errors.New("blockchain: invalid node config")

// NewNode returns a node that is ready to Run.
func NewNode(cfg NodeConfig) (*Node, error) {
	switch {
	case cfg.ID == "":
		return nil, fmt.Errorf("%w: empty ID", ErrBadConfig)
	case cfg.Chain == nil:
		return nil, fmt.Errorf("%w: no Chain", ErrBadConfig)
	case cfg.Network == nil:
		return nil, fmt.Errorf("%w: no Network", ErrBadConfig)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.TickInterval, defaultTick)
	def(&cfg.SyncInterval, defaultSyncInterval)
	def(&cfg.TemplateRefresh, defaultTemplateRefresh)
	def(&cfg.RequestTimeout, defaultRequestTimeout)
	def(&cfg.HandshakeTimeout, defaultHandshakeTimeout)
	def(&cfg.BanTime, defaultBanTime)
	if cfg.MiningWorkers <= 0 {
		cfg.MiningWorkers = runtime.GOMAXPROCS(0)
	}
	if cfg.ServeRate <= 0 {
		cfg.ServeRate = defaultServeRate
	}
	if cfg.TargetOutbound <= 0 {
		cfg.TargetOutbound = defaultTargetOutbound
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	seed := cfg.Seed
	for seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	params := cfg.Chain.Params()
	pace := cfg.MinBlockInterval
	if pace == 0 && params.RetargetInterval == 0 {
		pace = params.TargetBlockTime
	}
	n := &Node{
		cfg:       cfg,
		chain:     cfg.Chain,
		pool:      NewMempool(cfg.Chain, cfg.Mempool),
		log:       log.With("node", string(cfg.ID)),
		now:       cfg.Now,
		start:     time.Now(),
		seed:      seed,
		nonce:     handshakeNonce(seed, cfg.ID),
		paceIn:    max(pace, 0),
		wakeMiner: make(chan struct{}, 1),
		mined:     make(chan *minedBlock),
		subs:      make(map[int]*subscriber),
	}
	n.mineIdle = sync.NewCond(&n.mineMu)
	if cfg.HashRate > 0 {
		n.pacer = newHashPacer(cfg.HashRate)
	}
	miner := cfg.Miner
	n.miner.Store(&miner)
	n.mining.Store(cfg.Mining)
	return n, nil
}

// handshakeNonce derives the node's handshake nonce from its seed and ID,
// so two nodes given the same seed still tell each other apart.
func handshakeNonce(seed uint64, id PeerID) uint64 {
	h := sha256.Sum256(append(binary.BigEndian.AppendUint64(nil, seed), id...))
	return binary.BigEndian.Uint64(h[:8])
}

// elapsed is the node's monotonic clock, for request timers: it keeps
// running whatever NodeConfig.Now does.
func (n *Node) elapsed() time.Duration { return time.Since(n.start) }

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

// PeerInfo describes a peer the node has completed the handshake with.
type PeerInfo struct {
	// ID is the peer's ID on the network (its address, over TCP).
	ID PeerID `json:"id"`
	// ListenAddr is where the peer says it accepts connections.
	ListenAddr string `json:"listen_addr,omitempty"`
	// Height is the height of the best block the node knows the peer has.
	Height uint64 `json:"height"`
	// Since is when the handshake completed, by the node's clock.
	Since time.Time `json:"since"`
}

// Peers returns the peers the node has completed the handshake with,
// sorted by ID; none when it is not running.
func (n *Node) Peers() []PeerInfo {
	n.infoMu.RLock()
	defer n.infoMu.RUnlock()
	return slices.Clone(n.peerInfo)
}

// Hashes returns how many hashes the node's miner has tried.
func (n *Node) Hashes() uint64 { return n.hashes.Load() }

// BlocksMined returns how many blocks the node's miner has found.
func (n *Node) BlocksMined() uint64 { return n.found.Load() }

// Status is a snapshot of a node, for programs that show it.
type Status struct {
	Tip Tip `json:"tip"`
	// BestHeader is the end of the best header chain: ahead of Tip while
	// the node downloads bodies.
	BestHeader  Tip    `json:"best_header"`
	Peers       int    `json:"peers"`
	Mempool     int    `json:"mempool"`
	Mining      bool   `json:"mining"`
	Hashes      uint64 `json:"hashes"`
	BlocksMined uint64 `json:"blocks_mined"`
}

// Status returns a snapshot of the node.
func (n *Node) Status() Status {
	n.infoMu.RLock()
	peers := len(n.peerInfo)
	n.infoMu.RUnlock()
	return Status{
		Tip: n.chain.Tip(), BestHeader: n.chain.BestHeader(), Peers: peers,
		Mempool: n.pool.Len(), Mining: n.Mining(), Hashes: n.Hashes(), BlocksMined: n.BlocksMined(),
	}
}

// SetMining starts or stops the miner. It takes effect at once, also while
// a block is being mined. SetMining(false) returns once the miner is idle:
// a block it found just before has been handed to the chain (and
// announced), and no other will come until mining is turned on again.
func (n *Node) SetMining(on bool) {
	n.mining.Store(on)
	if on {
		select {
		case n.wakeMiner <- struct{}{}:
		default:
		}
		return
	}
	n.restartMining()
	n.mineMu.Lock()
	for n.mineBusy {
		n.mineIdle.Wait()
	}
	n.mineMu.Unlock()
}

// Mining reports whether the miner is on.
func (n *Node) Mining() bool { return n.mining.Load() }

// Miner returns the address the node's blocks pay.
func (n *Node) Miner() Address { return *n.miner.Load() }

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
	n.broadcast(InvMsg{Items: []InvItem{{Type: InvTx, Hash: tx.ID()}}})
	n.emit(Event{Type: EventTx, Tx: &tx})
	return nil
}

// Send pays amount from w to to with fee: it signs a transfer with w's next
// nonce at this node (counting w's pending transactions) and submits it.
// It returns the transaction, whose ID [Node.WaitConfirmed] can wait for.
// Concurrent calls are serialized, so one wallet's payments get
// consecutive nonces. The nonce comes from this node's view: a wallet that
// pays through two nodes at once may be given the same nonce twice (the
// second is refused), so pay through one.
func (n *Node) Send(w *Wallet, to Address, amount, fee uint64) (Transaction, error) {
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	tx := w.SignTransfer(n.chain.ChainID(), to, amount, fee, n.NextNonce(w.Address()))
	if err := n.SubmitTransaction(tx); err != nil {
		return Transaction{}, err
	}
	return tx, nil
}

// WaitConfirmed waits until the transaction id is confirmed on the node's
// main chain with at least confirmations blocks (1: in the tip block), and
// returns where. A reorganization may take a confirmation back; it waits
// on. It returns the context's error, wrapped, if ctx ends first.
func (n *Node) WaitConfirmed(ctx context.Context, id Hash, confirmations uint64) (TxInfo, error) {
	events, stop := n.Subscribe()
	defer stop()
	poll := time.NewTicker(time.Second) // in case events were missed
	defer poll.Stop()
	for {
		if info, ok := n.chain.Transaction(id); ok && info.Confirmations >= max(confirmations, 1) {
			return info, nil
		}
		select {
		case <-ctx.Done():
			return TxInfo{}, fmt.Errorf("waiting for transaction %s: %w", id.Short(12), ctx.Err())
		case <-events:
		case <-poll.C:
		}
	}
}

// EventType says what changed.
type EventType int

// Event types.
const (
	// EventTip: the main chain's tip moved. Connected and Disconnected
	// hold the blocks that joined and left the main chain.
	EventTip EventType = iota + 1
	// EventTx: a transaction entered the mempool (Tx).
	EventTx
	// EventPeerConnected: a peer completed the handshake (Peer).
	EventPeerConnected
	// EventPeerDisconnected: a peer left (Peer).
	EventPeerDisconnected
)

// String returns the event type's name.
func (t EventType) String() string {
	switch t {
	case EventTip:
		return "tip"
	case EventTx:
		return "tx"
	case EventPeerConnected:
		return "peer-connected"
	case EventPeerDisconnected:
		return "peer-disconnected"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event reports a change at a node, for programs that draw or serve it.
// Its blocks and transaction are the subscriber's to read, not to change.
type Event struct {
	Type EventType
	Time time.Time // by the node's clock
	Tip  Tip       // the tip after the change
	// Connected lists the blocks that joined the main chain, lowest
	// first; Disconnected those that left it, old tip first (EventTip). A
	// non-empty Disconnected is a reorganization.
	Connected, Disconnected []*Block
	Tx                      *Transaction // EventTx
	Peer                    PeerID       // EventPeerConnected, EventPeerDisconnected
	Mempool                 int          // pending transactions after the change
	// Missed counts the events this subscriber missed, because it fell
	// behind, between the previous event it received and this one: a
	// program that mirrors the node's state re-reads it when Missed > 0.
	Missed uint64
}

// Subscribe returns a channel of the node's events and a function that
// ends the subscription (and closes the channel). A subscriber that falls
// more than 256 events behind misses events, and the next event it gets
// says how many (Event.Missed): it can always re-read the current state
// with the query methods.
func (n *Node) Subscribe() (<-chan Event, func()) {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	id := n.nextID
	n.nextID++
	ch := make(chan Event, subscriberBuffer)
	n.subs[id] = &subscriber{ch: ch}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			n.subMu.Lock()
			defer n.subMu.Unlock()
			if s, ok := n.subs[id]; ok {
				delete(n.subs, id)
				close(s.ch)
			}
		})
	}
}

func (n *Node) emit(e Event) {
	e.Time = n.now()
	if e.Tip.Hash.IsZero() {
		e.Tip = n.chain.Tip()
	}
	e.Mempool = n.pool.Len()
	n.subMu.Lock()
	defer n.subMu.Unlock()
	for _, s := range n.subs {
		e.Missed = s.missed
		select {
		case s.ch <- e:
			s.missed = 0
		default: // a slow subscriber misses this one, and is told so next time
			s.missed++
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
		return fmt.Errorf("node %s: join: %w", n.cfg.ID, err)
	}
	n.conn.Store(&connBox{conn})
	n.loop = newNodeLoop(n)
	n.log.Info("node started", "height", n.chain.Height())

	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	n.loopDone.Store(&done)
	var wg sync.WaitGroup
	wg.Go(func() { n.mineLoop(ctx) })
	closed := n.loop.run(ctx, conn)
	close(done)
	n.loopDone.Store(nil)
	cancel()
	wg.Wait()
	n.conn.Store(nil)
	conn.Close()
	n.setPeerInfo(nil)
	n.log.Info("node stopped", "height", n.chain.Height())
	if closed {
		return fmt.Errorf("node %s: the network closed the connection: %w", n.cfg.ID, ErrClosed)
	}
	return nil
}

func (n *Node) setPeerInfo(ps []PeerInfo) {
	slices.SortFunc(ps, func(a, b PeerInfo) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	n.infoMu.Lock()
	n.peerInfo = ps
	n.infoMu.Unlock()
}

// send encodes and sends m to one peer. It returns the encoded size.
func (n *Node) send(to PeerID, m Message) int {
	c := n.conn.Load()
	if c == nil {
		return 0
	}
	data, err := EncodeMessage(m)
	if err == nil {
		err = c.Send(to, data)
	}
	if err != nil {
		n.log.Debug("send failed", "to", string(to), "err", err)
	}
	return len(data)
}

// broadcast sends m to every peer that completed the handshake (all peers
// when called from outside the loop: the transport's list).
func (n *Node) broadcast(m Message) {
	c := n.conn.Load()
	if c == nil {
		return
	}
	data, err := EncodeMessage(m)
	if err != nil {
		n.log.Error("encode failed", "err", err)
		return
	}
	n.infoMu.RLock()
	peers := make([]PeerID, len(n.peerInfo))
	for i, p := range n.peerInfo {
		peers[i] = p.ID
	}
	n.infoMu.RUnlock()
	for _, p := range peers {
		_ = c.Send(p, data)
	}
}

// MineBlock mines one block on the current tip with the pending
// transactions, at the node's hash rate (not paced), and adds it to the
// chain (and, while the node runs, announces it). It works whether the
// background miner is on or off, and whether or not the node runs. It
// returns the block and what adding it did: another block may have taken
// the tip meanwhile.
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
		if d := n.loopDone.Load(); d != nil {
			// The loop adds it and announces it.
			m := &minedBlock{block: b, done: make(chan struct{})}
			select {
			case n.mined <- m:
				<-m.done
				return b, m.res, m.err
			case <-*d: // the node stopped meanwhile: add it here
			case <-ctx.Done():
				return nil, AddResult{}, ctx.Err()
			}
		}
		res, err := n.chain.AddBlock(b, n.now())
		if res.TipChanged() {
			n.pool.Update(res)
			n.restartMining()
			n.emit(Event{Type: EventTip, Connected: res.Connected, Disconnected: res.Disconnected})
		}
		return b, res, err
	}
}
