package blockchain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LightConfig configures a [LightClient]. ID, Params and Network are
// required; the rest has working zero values.
type LightConfig struct {
	// ID is the client's name on the network.
	ID PeerID
	// Params are the chain's: the client follows the chain of this ID.
	Params Params
	// Network is the transport the client joins when it runs.
	Network Network
	// SyncInterval is how often the client asks a peer for new headers;
	// 0 means one second.
	SyncInterval time.Duration
	// RequestTimeout is how long it waits for a peer's answer before it
	// asks another; 0 means five seconds.
	RequestTimeout time.Duration
	// Now is the client's clock, for the headers' future-drift rule; nil
	// means time.Now.
	Now func() time.Time
	// Seed seeds the handshake nonce; 0 means random.
	Seed uint64
	// Logger receives the client's logs; nil means none.
	Logger *slog.Logger
}

// LightClient checks payments the way section 8 of the paper describes
// ("simplified payment verification"): it keeps only the chain of block
// headers, about a hundred bytes a block, checking each header's
// proof-of-work, target and time as a full node does, and for a payment it
// asks a node for the transaction with its Merkle branch. If the branch
// links the transaction's ID to the Merkle root of a header on its best
// header chain, the payment is in that block, and the headers built on it
// since are its confirmations. It cannot check balances or nonces, so it
// trusts that the chain with the most work holds only valid blocks, as the
// paper says a light client must.
//
// It speaks the nodes' protocol, states no chain of its own in the
// handshake (so nodes never ask it for blocks) and serves nothing.
type LightClient struct {
	cfg   LightConfig
	chain *Chain // headers only
	log   *slog.Logger
	nonce uint64

	running atomic.Bool
	conn    atomic.Pointer[connBox]

	mu      sync.Mutex
	ready   []PeerID // peers that completed the handshake
	waiters map[Hash][]chan lightAnswer
	changed chan struct{} // closed and replaced when the header chain grows
}

// lightAnswer is a peer's answer to a proof request: a proof, or none.
type lightAnswer struct {
	from  PeerID
	proof *ProofMsg
}

// NewLightClient returns a client that is ready to Run.
func NewLightClient(cfg LightConfig) (*LightClient, error) {
	switch {
	case cfg.ID == "":
		return nil, fmt.Errorf("%w: empty ID", ErrBadConfig)
	case cfg.Network == nil:
		return nil, fmt.Errorf("%w: no Network", ErrBadConfig)
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	chain, err := NewChain(cfg.Params, ChainOptions{})
	if err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	return &LightClient{
		cfg: cfg, chain: chain, log: log.With("light", string(cfg.ID)), nonce: handshakeNonce(seed, cfg.ID),
		waiters: make(map[Hash][]chan lightAnswer), changed: make(chan struct{}),
	}, nil
}

// Tip returns the end of the client's best header chain.
func (c *LightClient) Tip() Tip { return c.chain.BestHeader() }

// Peers returns the peers that completed the handshake.
func (c *LightClient) Peers() []PeerID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ready)
}

// Payment is a transaction a [LightClient] has verified.
type Payment struct {
	Tx        Transaction `json:"tx"`
	BlockHash Hash        `json:"block_hash"`
	Height    uint64      `json:"height"`
	// Confirmations counts the block and the headers built on it, on the
	// client's best header chain when it was checked.
	Confirmations uint64      `json:"confirmations"`
	Proof         MerkleProof `json:"proof"`
}

// ErrBadProof is returned (wrapped) by [LightClient.CheckProof] for a proof
// that does not link the transaction to the header chain.
var ErrBadProof = errors.New("blockchain: Merkle proof does not check out")

// CheckProof checks a proof against the client's header chain: the
// transaction's ID, its Merkle branch up to the root of the named header,
// and that header on the best header chain. It returns the payment with
// its confirmations, or an error wrapping ErrBadProof (the proof is wrong)
// or ErrUnknownParent (the block is not on the client's chain: it may be
// behind).
func (c *LightClient) CheckProof(txID Hash, pm ProofMsg) (Payment, error) {
	if pm.Tx.ID() != txID {
		return Payment{}, fmt.Errorf("%w: the transaction's ID is %s, not %s", ErrBadProof, pm.Tx.ID().Short(12), txID.Short(12))
	}
	hdr, ok := c.chain.HeaderByHash(pm.BlockHash)
	best := c.chain.BestHeader()
	if !ok || !c.chain.IsAncestor(pm.BlockHash, best.Hash) {
		return Payment{}, ruleErr(ErrUnknownParent, "block %s is not on the light client's header chain", pm.BlockHash.Short(16))
	}
	if !VerifyMerkleProof(hdr.MerkleRoot, txID, pm.Proof) {
		return Payment{}, fmt.Errorf("%w: transaction %s and the Merkle root of block %s", ErrBadProof, txID.Short(12), pm.BlockHash.Short(16))
	}
	return Payment{Tx: pm.Tx, BlockHash: pm.BlockHash, Height: hdr.Height,
		Confirmations: best.Height - hdr.Height + 1, Proof: pm.Proof}, nil
}

// VerifyPayment waits until a peer proves that the transaction txID is in
// a block of the client's best header chain with at least confirmations
// headers on it (1: in the newest), and returns the payment. It asks its
// peers in turn; a peer that sends a proof that does not check out is
// dropped. It returns ctx's error, wrapped, if ctx ends first.
func (c *LightClient) VerifyPayment(ctx context.Context, txID Hash, confirmations uint64) (Payment, error) {
	answers := make(chan lightAnswer, 8)
	c.mu.Lock()
	c.waiters[txID] = append(c.waiters[txID], answers)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waiters[txID] = slices.DeleteFunc(c.waiters[txID], func(ch chan lightAnswer) bool { return ch == answers })
		if len(c.waiters[txID]) == 0 {
			delete(c.waiters, txID)
		}
		c.mu.Unlock()
	}()
	var held *Payment // a proof already checked, waiting for confirmations
	for turn := 0; ; turn++ {
		c.mu.Lock()
		changed := c.changed
		peers := slices.Clone(c.ready)
		c.mu.Unlock()
		if held != nil {
			if p, err := c.CheckProof(txID, ProofMsg{Tx: held.Tx, BlockHash: held.BlockHash, Proof: held.Proof}); err == nil {
				if p.Confirmations >= max(confirmations, 1) {
					return p, nil
				}
			} else {
				held = nil // its block left the best chain: ask again
			}
		}
		if held == nil && len(peers) > 0 {
			c.send(peers[turn%len(peers)], GetProofMsg{TxID: txID})
		}
		timeout := time.NewTimer(c.cfg.RequestTimeout)
		select {
		case <-ctx.Done():
			timeout.Stop()
			return Payment{}, fmt.Errorf("verifying payment %s: %w", txID.Short(12), ctx.Err())
		case <-changed:
		case <-timeout.C:
		case a := <-answers:
			if a.proof == nil {
				break // not confirmed there (yet)
			}
			p, err := c.CheckProof(txID, *a.proof)
			switch {
			case errors.Is(err, ErrBadProof):
				c.log.Warn("dropping peer: a proof that does not check out", "peer", string(a.from), "err", err)
				c.drop(a.from)
			case err == nil:
				held = &p
			}
		}
		timeout.Stop()
	}
}

// Run joins the network and follows the header chain until ctx is done.
func (c *LightClient) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrNodeRunning
	}
	defer c.running.Store(false)
	conn, err := c.cfg.Network.Join(c.cfg.ID)
	if err != nil {
		return fmt.Errorf("light client %s: join: %w", c.cfg.ID, err)
	}
	c.conn.Store(&connBox{conn})
	defer func() {
		c.conn.Store(nil)
		conn.Close()
		c.mu.Lock()
		c.ready = nil
		c.mu.Unlock()
	}()
	peers := make(map[PeerID]*lightPeer)
	tick := time.NewTicker(c.cfg.SyncInterval)
	defer tick.Stop()
	turn := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case p, ok := <-conn.Receive():
			if !ok {
				return fmt.Errorf("light client %s: the network closed the connection: %w", c.cfg.ID, ErrClosed)
			}
			c.handle(peers, p)
		case <-tick.C:
			var ids []PeerID
			for id, p := range peers {
				if p.ready {
					ids = append(ids, id)
				}
			}
			if len(ids) > 0 {
				slices.Sort(ids)
				turn++
				c.askHeaders(ids[turn%len(ids)])
			}
		}
	}
}

type lightPeer struct {
	version *VersionMsg
	gotAck  bool
	ready   bool
}

func (c *LightClient) handle(peers map[PeerID]*lightPeer, pk Packet) {
	switch pk.Event {
	case PeerConnected:
		peers[pk.From] = &lightPeer{}
		c.send(pk.From, VersionMsg{Version: ProtocolVersion, ChainID: c.chain.ChainID(), Nonce: c.nonce, TotalWork: new(big.Int)})
		return
	case PeerDisconnected:
		delete(peers, pk.From)
		c.publish(peers)
		return
	}
	p := peers[pk.From]
	if p == nil {
		return
	}
	msg, err := DecodeMessage(pk.Data)
	if err != nil {
		c.drop(pk.From)
		return
	}
	switch m := msg.(type) {
	case VersionMsg:
		if m.ChainID != c.chain.ChainID() || m.Version != ProtocolVersion || m.Nonce == c.nonce {
			c.log.Warn("refusing a peer", "peer", string(pk.From), "their_chain", m.ChainID.Short(16))
			c.drop(pk.From)
			return
		}
		p.version = &m
		c.send(pk.From, VerAckMsg{})
	case VerAckMsg:
		p.gotAck = true
	case HeadersMsg:
		if p.ready {
			c.onHeaders(pk.From, m.Headers)
		}
	case ProofMsg:
		c.answer(m.Tx.ID(), lightAnswer{from: pk.From, proof: &m})
	case NotFoundMsg:
		for _, it := range m.Items {
			c.answer(it.Hash, lightAnswer{from: pk.From})
		}
	case GetHeadersMsg:
		c.send(pk.From, HeadersMsg{}) // a light client serves no chain
	case GetAddrMsg:
		c.send(pk.From, AddrMsg{})
	}
	if !p.ready && p.version != nil && p.gotAck {
		p.ready = true
		c.publish(peers)
		c.askHeaders(pk.From)
	}
}

func (c *LightClient) publish(peers map[PeerID]*lightPeer) {
	var ids []PeerID
	for id, p := range peers {
		if p.ready {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	c.mu.Lock()
	c.ready = ids
	c.mu.Unlock()
}

func (c *LightClient) askHeaders(to PeerID) {
	c.send(to, GetHeadersMsg{Locator: c.chain.LocatorFrom(c.chain.BestHeader().Hash)})
}

// onHeaders adds the headers a peer sent; a full batch means more follow.
func (c *LightClient) onHeaders(from PeerID, hs []Header) {
	if len(hs) == 0 {
		return
	}
	res, err := c.chain.AddHeaders(hs, c.cfg.Now())
	var re *RuleError
	switch {
	case errors.Is(err, ErrUnknownParent):
		c.askHeaders(from) // an announcement we cannot attach: ask what lies between
		return
	case errors.As(err, &re) && re.Code != ErrTimeTooNew:
		c.log.Warn("dropping peer: invalid header", "peer", string(from), "err", err)
		c.drop(from)
		return
	}
	if res.New > 0 {
		c.mu.Lock()
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
	if len(hs) == MaxHeadersPerMsg {
		c.askHeaders(from)
	}
}

func (c *LightClient) answer(txID Hash, a lightAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.waiters[txID] {
		select {
		case ch <- a:
		default:
		}
	}
}

func (c *LightClient) send(to PeerID, m Message) {
	if box := c.conn.Load(); box != nil {
		if data, err := EncodeMessage(m); err == nil {
			_ = box.Send(to, data)
		}
	}
}

func (c *LightClient) drop(peer PeerID) {
	if box := c.conn.Load(); box != nil {
		if d, ok := box.Conn.(Dropper); ok {
			_ = d.Drop(peer, defaultBanTime)
		}
	}
}
