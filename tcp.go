package blockchain

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Frames, as the TCPNetwork documentation describes them.
const (
	frameHeaderSize = 5
	frameData       = 0x01
	framePing       = 0x02
	framePong       = 0x03
	pingSize        = 8
	// frameChunk is how much payload buffer a reader allocates ahead of the
	// bytes that arrive.
	frameChunk = 64 << 10
)

// errMalformedFrame reports a frame that breaks the format: a length above
// the maximum, an unknown kind, a ping or pong of the wrong size.
var errMalformedFrame = errors.New("blockchain: malformed frame")

// appendFrame appends to dst the frame of the given kind carrying payload.
func appendFrame(dst []byte, kind byte, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, kind)
	return append(dst, payload...)
}

// readFrame reads one frame from r: its kind and payload. It checks the
// stated length against max before allocating anything, and does not trust
// it afterwards either: the payload's buffer grows in chunks of chunk bytes
// as the bytes arrive, so a length with nothing behind it costs at most one
// chunk; a payload longer than chunk is copied once, when complete, into a
// buffer of its exact size. alloc, if not nil, allocates every buffer, so a
// test can count the bytes.
//
// It returns io.EOF if r ends before the frame starts,
// io.ErrUnexpectedEOF if it ends inside it, an error wrapping
// errMalformedFrame for a frame that breaks the format, and otherwise r's
// error.
func readFrame(r io.Reader, max, chunk int, alloc func(int) []byte) (kind byte, payload []byte, err error) {
	if alloc == nil {
		alloc = func(n int) []byte { return make([]byte, n) }
	}
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	size, kind := binary.BigEndian.Uint32(hdr[:4]), hdr[4]
	if uint64(size) > uint64(max) {
		return 0, nil, fmt.Errorf("%w: length %d above %d", errMalformedFrame, size, max)
	}
	switch kind {
	case frameData:
	case framePing, framePong:
		if size != pingSize {
			return 0, nil, fmt.Errorf("%w: %d-byte ping or pong", errMalformedFrame, size)
		}
	default:
		return 0, nil, fmt.Errorf("%w: unknown kind %#x", errMalformedFrame, kind)
	}
	n := int(size)
	if n <= chunk {
		payload = alloc(n)
		_, err := io.ReadFull(r, payload)
		return kind, payload, unexpectedEOF(err)
	}
	var parts [][]byte
	for got := 0; got < n; {
		part := alloc(min(chunk, n-got))
		m, err := io.ReadFull(r, part)
		if err != nil {
			return 0, nil, unexpectedEOF(err)
		}
		parts = append(parts, part)
		got += m
	}
	payload = alloc(n)
	at := 0
	for _, part := range parts {
		at += copy(payload[at:], part)
	}
	return kind, payload, nil
}

// unexpectedEOF turns io.EOF inside a frame into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// TCPConfig configures a [TCPNetwork]. The zero value listens nowhere and
// dials nobody; every field left zero takes the default its comment gives.
type TCPConfig struct {
	// Listen is the address to accept connections on, "127.0.0.1:0" or
	// ":8333" style; a zero port picks a free one. Empty means accept
	// none.
	Listen string
	// Advertise is the address peers should dial to reach this endpoint,
	// which [Dialer].LocalAddr returns. Empty means the address Listen is
	// bound to, unless its host is unspecified (":8333", "0.0.0.0:8333"):
	// then nothing is advertised.
	Advertise string
	// Peers are addresses to keep connected to: each is dialed at Join and
	// redialed whenever its connection ends, after a delay that doubles
	// from RedialMin up to RedialMax, with jitter, unless the address is
	// banned. Configure each pair of endpoints in one direction only:
	// endpoints that dial each other hold two connections, two peers.
	Peers []string
	// MaxInbound caps the connections accepted at once; more are closed as
	// soon as accepted. Default 32.
	MaxInbound int
	// MaxOutbound caps the connections dialed at once, dials in progress
	// included, for Peers and Connect alike. Default 8.
	MaxOutbound int
	// ReadTimeout is the most a frame may take to arrive once its first
	// byte has: a peer that trickles a frame is disconnected, without a
	// ban. It must leave time for a frame of MaxMessageSize bytes on the
	// slowest link to serve (the default asks for 140 kB/s). Default 60s.
	ReadTimeout time.Duration
	// IdleTimeout is how long a connection may stay without receiving a
	// frame before it is closed. It must exceed PingInterval, the peers'
	// as well as this endpoint's. Default three times PingInterval.
	IdleTimeout time.Duration
	// PingInterval is how long a connection may go without sending before
	// it sends a ping, so that a live peer is never idle. Default 30s.
	PingInterval time.Duration
	// WriteTimeout is the most writing one frame may take; a peer that
	// does not read is disconnected. Default 60s.
	WriteTimeout time.Duration
	// DialTimeout bounds each dial. Default 10s.
	DialTimeout time.Duration
	// SendQueue is how many messages wait to be written to one peer; Send
	// drops a message that does not fit and counts it in
	// TCPStats.Dropped. Default 1024.
	SendQueue int
	// SendQueueBytes bounds the bytes of those messages in the same way.
	// Default, and minimum, 2*MaxMessageSize.
	SendQueueBytes int
	// RedialMin and RedialMax bound the delay before redialing one of
	// Peers: RedialMin at first, doubling after each failure or short
	// connection up to RedialMax; a connection that lasted RedialMax
	// resets it. Each delay is drawn uniformly from [d/2, d). Defaults 1s
	// and 60s.
	RedialMin, RedialMax time.Duration
	// MalformedBan is how long a peer this endpoint dialed is banned after
	// sending a malformed frame. A peer that dialed in is only
	// disconnected: it is known by its address, whose port changes with
	// each connection, and banning its host would also ban every other
	// peer behind it (all of them on loopback, everyone behind a NAT).
	// Default 10 minutes.
	MalformedBan time.Duration
	// Logger receives connection events at Debug and misbehaving peers at
	// Warn. Nil means silent.
	Logger *slog.Logger
	// Dial opens outbound connections, and must give up when ctx is done
	// (at DialTimeout or Close); nil means a net.Dialer's DialContext.
	// Tests inject failures or count dials with it.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Rand is the random source of the redial jitter; nil means a source
	// seeded at random. It need not be safe for concurrent use.
	Rand rand.Source
}

// Errors of a [TCPNetwork] (wrapped).
var (
	// ErrInvalidConfig reports a TCPConfig that NewTCPNetwork cannot use.
	ErrInvalidConfig = errors.New("blockchain: invalid TCP configuration")
	// ErrInvalidPeerAddress reports a network address that is not
	// "host:port".
	ErrInvalidPeerAddress = errors.New("blockchain: invalid peer address")
)

// TCPStats counts what a [TCPNetwork] did, cumulatively, across the
// endpoints it has joined.
type TCPStats struct {
	// Sent counts messages queued by Send and Broadcast, one per peer.
	Sent uint64
	// Dropped counts messages Send dropped because the peer's send queue
	// was full.
	Dropped uint64
	// Received counts messages delivered to Receive.
	Received uint64
	// Dials counts dials begun, and DialFailures those that failed.
	Dials, DialFailures uint64
	// Refused counts inbound connections closed at once: over
	// MaxInbound, from a banned address, or with no endpoint joined.
	Refused uint64
	// Malformed counts connections closed for a malformed frame.
	Malformed uint64
	// TimedOut counts connections closed because a frame took longer than
	// ReadTimeout, the peer was idle for IdleTimeout, or a write took
	// longer than WriteTimeout.
	TimedOut uint64
}

// TCPNetwork is a [Network] over TCP connections: one process's endpoint,
// which listens for peers, dials the configured ones and keeps them
// connected, and dials the addresses a node learns with [Dialer].Connect.
// Join returns its one [Conn], which also implements [Dropper] and
// [Dialer]; PeerIDs are addresses, as [PeerID] describes.
//
// Each connection has a reader goroutine, which delivers PeerConnected,
// then the peer's messages, then PeerDisconnected to Receive, waiting for
// the receiver (so a slow node slows its peers down through TCP instead of
// losing messages), and a writer goroutine, which drains the peer's
// bounded send queue. Closing the Conn closes the listener and every
// connection, discarding what is queued, and ends every goroutine; a later
// Join listens again on the same address. Close closes the network for
// good.
//
// Everything a connection carries, each way, is a sequence of frames:
//
//	offset  size    field
//	0       4       length: the payload's size in bytes, big-endian uint32
//	4       1       kind: 0x01 data, 0x02 ping, 0x03 pong
//	5       length  payload
//
// A data frame's payload is one message, of at most MaxMessageSize bytes
// (empty allowed). A ping's payload is 8 opaque bytes, which the pong
// answering it echoes; an endpoint pings a connection it has written
// nothing to for PingInterval, so a live peer is never idle. Any other
// length or kind makes the frame malformed, and the connection is closed.
// There is no magic number or version: the node's handshake, the same over
// any transport, belongs to the protocol above.
type TCPNetwork struct {
	cfg       TCPConfig // with defaults
	log       *slog.Logger
	bound     string // the listener's address, "" if not listening
	advertise string

	mu     sync.Mutex
	ln     net.Listener // the listener while no endpoint owns it
	closed bool
	conn   *tcpConn
	rng    *rand.Rand
	bans   map[string]time.Time // address → end of its ban
	stats  TCPStats
}

var (
	_ Network   = (*TCPNetwork)(nil)
	_ io.Closer = (*TCPNetwork)(nil)
)

// NewTCPNetwork checks cfg, binds the listener if cfg.Listen is set, and
// returns the network, ready to Join. It fails with ErrInvalidConfig for an
// unusable address or timeout, or with the listener's error.
func NewTCPNetwork(cfg TCPConfig) (*TCPNetwork, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ReadTimeout, 60*time.Second)
	def(&cfg.PingInterval, 30*time.Second)
	def(&cfg.IdleTimeout, 3*cfg.PingInterval)
	def(&cfg.WriteTimeout, 60*time.Second)
	def(&cfg.DialTimeout, 10*time.Second)
	def(&cfg.RedialMin, time.Second)
	def(&cfg.RedialMax, 60*time.Second)
	def(&cfg.MalformedBan, 10*time.Minute)
	defInt(&cfg.MaxInbound, 32)
	defInt(&cfg.MaxOutbound, 8)
	defInt(&cfg.SendQueue, 1024)
	cfg.SendQueueBytes = max(cfg.SendQueueBytes, 2*MaxMessageSize)
	if cfg.IdleTimeout <= cfg.PingInterval {
		return nil, fmt.Errorf("%w: IdleTimeout %v must exceed PingInterval %v", ErrInvalidConfig, cfg.IdleTimeout, cfg.PingInterval)
	}
	cfg.RedialMax = max(cfg.RedialMax, cfg.RedialMin)
	cfg.Peers = slices.Clone(cfg.Peers)
	for _, p := range cfg.Peers {
		if err := checkAddr(p); err != nil {
			return nil, fmt.Errorf("%w: peer: %w", ErrInvalidConfig, err)
		}
	}
	if cfg.Advertise != "" {
		if err := checkAddr(cfg.Advertise); err != nil {
			return nil, fmt.Errorf("%w: Advertise: %w", ErrInvalidConfig, err)
		}
	}
	if cfg.Dial == nil {
		d := &net.Dialer{}
		cfg.Dial = d.DialContext
	}
	src := cfg.Rand
	if src == nil {
		src = rand.NewPCG(rand.Uint64(), rand.Uint64())
	}
	n := &TCPNetwork{
		cfg:       cfg,
		log:       cfg.Logger,
		advertise: cfg.Advertise,
		rng:       rand.New(src),
		bans:      make(map[string]time.Time),
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("blockchain: listen: %w", err)
		}
		n.ln = ln
		n.bound = ln.Addr().String()
		if a, ok := ln.Addr().(*net.TCPAddr); n.advertise == "" && ok && !a.IP.IsUnspecified() {
			n.advertise = n.bound
		}
	}
	return n, nil
}

// checkAddr checks that addr is "host:port" with a host and a port number.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "" {
		err = errors.New("no host")
	}
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidPeerAddress, addr, err)
	}
	return nil
}

// Addr returns the address the listener is bound to, with the port picked
// if Listen asked for port 0, or "" if the network does not listen.
func (n *TCPNetwork) Addr() string { return n.bound }

// Stats returns the network's counters so far.
func (n *TCPNetwork) Stats() TCPStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Join starts the network's endpoint under id, which names it in logs:
// it accepts connections and dials the configured peers. A TCPNetwork has
// one endpoint at a time: Join fails with ErrDuplicatePeerID while one is
// open, whatever its ID, with ErrClosed after Close, and with the
// listener's error if it cannot listen again on its address.
func (n *TCPNetwork) Join(id PeerID) (Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("join %q: %w", id, ErrClosed)
	}
	if n.conn != nil {
		return nil, fmt.Errorf("%w: %q: the TCP network's endpoint is %q", ErrDuplicatePeerID, id, n.conn.id)
	}
	ln := n.ln
	if ln == nil && n.bound != "" {
		var err error
		if ln, err = net.Listen("tcp", n.bound); err != nil {
			return nil, fmt.Errorf("join %q: listen: %w", id, err)
		}
	}
	n.ln = nil // the endpoint closes it
	ctx, cancel := context.WithCancel(context.Background())
	c := &tcpConn{
		net:     n,
		id:      id,
		log:     n.log.With("endpoint", string(id)),
		ln:      ln,
		recv:    make(chan Packet, 64),
		ctx:     ctx,
		cancel:  cancel,
		peers:   make(map[PeerID]*tcpPeer),
		dialing: make(map[string]bool),
	}
	n.conn = c
	if ln != nil {
		c.wg.Add(1)
		go c.accept(ln)
	}
	for _, addr := range n.cfg.Peers {
		c.wg.Add(1)
		go c.keep(addr)
	}
	return c, nil
}

// Close closes the endpoint, if one is joined, and the listener; Join then
// fails with ErrClosed. Close returns nil and may be called again.
func (n *TCPNetwork) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	c, ln := n.conn, n.ln
	n.ln = nil
	n.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	if c != nil {
		c.Close()
	}
	return nil
}

// banned reports whether addr is banned now, forgetting expired bans. n.mu
// is held.
func (n *TCPNetwork) banned(addr string) (until time.Time, ok bool) {
	until, ok = n.bans[addr]
	if ok && !time.Now().Before(until) {
		delete(n.bans, addr)
		return time.Time{}, false
	}
	return until, ok
}

// ban bans addr for d, and forgets expired bans. n.mu is held.
func (n *TCPNetwork) ban(addr string, d time.Duration) {
	now := time.Now()
	for a, until := range n.bans {
		if !now.Before(until) {
			delete(n.bans, a)
		}
	}
	if until := now.Add(d); until.After(n.bans[addr]) {
		n.bans[addr] = until
	}
}

// jitter draws a delay uniformly from [d/2, d). n.mu is not held.
func (n *TCPNetwork) jitter(d time.Duration) time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(n.rng.Int64N(int64(d-half)))
}

// tcpConn is a TCPNetwork's joined endpoint. Its maps and closed flag are
// guarded by the network's mutex.
type tcpConn struct {
	net    *TCPNetwork
	id     PeerID
	log    *slog.Logger
	ln     net.Listener // nil if not listening
	recv   chan Packet
	ctx    context.Context // done at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the endpoint

	closed  bool
	peers   map[PeerID]*tcpPeer // until their reader ends
	dialing map[string]bool     // addresses being dialed
}

var (
	_ Conn    = (*tcpConn)(nil)
	_ Dropper = (*tcpConn)(nil)
	_ Dialer  = (*tcpConn)(nil)
)

// tcpPeer is one connection. It stays in its endpoint's peers map from the
// moment it connects until its reader has delivered PeerDisconnected, so
// that a new connection under the same PeerID cannot overtake that event;
// it is a peer (listed, sendable) only until it is killed.
type tcpPeer struct {
	id       PeerID
	c        net.Conn
	outbound bool
	queue    chan []byte  // messages to write
	queued   atomic.Int64 // their bytes
	pong     chan [pingSize]byte
	dead     chan struct{} // closed by kill
	once     sync.Once
	gone     chan struct{} // closed when the reader has ended
	// writeTimedOut is set by the writer before it kills the connection
	// for a write past its deadline, so the reader can count it.
	writeTimedOut atomic.Bool
}

// kill closes the connection, once, and reports whether this call did.
func (p *tcpPeer) kill() bool {
	killed := false
	p.once.Do(func() {
		killed = true
		close(p.dead)
		p.c.Close()
	})
	return killed
}

func (p *tcpPeer) alive() bool {
	select {
	case <-p.dead:
		return false
	default:
		return true
	}
}

// ID returns the ID the endpoint joined under.
func (c *tcpConn) ID() PeerID { return c.id }

// Peers returns the addresses of the connected peers, sorted.
func (c *tcpConn) Peers() []PeerID {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	var ps []PeerID
	for id, p := range c.peers {
		if p.alive() {
			ps = append(ps, id)
		}
	}
	slices.Sort(ps)
	return ps
}

// Send queues a copy of data for peer to, or drops it if the peer's send
// queue is full.
func (c *tcpConn) Send(to PeerID, data []byte) error {
	if len(data) > MaxMessageSize {
		return fmt.Errorf("%q: send: %w: %d bytes", c.id, ErrMessageTooLarge, len(data))
	}
	msg := bytes.Clone(data)
	n := c.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%q: send: %w", c.id, ErrClosed)
	}
	p := c.peers[to]
	if p == nil || !p.alive() {
		return fmt.Errorf("%q: send: %w %q", c.id, ErrUnknownPeer, to)
	}
	c.enqueue(p, msg)
	return nil
}

// Broadcast queues data for every peer, sharing one copy.
func (c *tcpConn) Broadcast(data []byte) error {
	if len(data) > MaxMessageSize {
		return fmt.Errorf("%q: broadcast: %w: %d bytes", c.id, ErrMessageTooLarge, len(data))
	}
	msg := bytes.Clone(data)
	n := c.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%q: broadcast: %w", c.id, ErrClosed)
	}
	for _, p := range c.peers {
		if p.alive() {
			c.enqueue(p, msg)
		}
	}
	return nil
}

// enqueue puts msg in p's send queue, or drops it if the queue is full.
// n.mu is held.
func (c *tcpConn) enqueue(p *tcpPeer, msg []byte) {
	n := c.net
	size := int64(len(msg))
	if p.queued.Load()+size > int64(n.cfg.SendQueueBytes) {
		n.stats.Dropped++
		return
	}
	select {
	case p.queue <- msg:
		p.queued.Add(size)
		n.stats.Sent++
	default:
		n.stats.Dropped++
	}
}

// Receive returns the channel of messages and connection events, closed
// after Close.
func (c *tcpConn) Receive() <-chan Packet { return c.recv }

// Close closes the listener and every connection, discarding the messages
// still queued, waits for every goroutine of the endpoint to end, and
// closes the Receive channel. The network may then be joined again.
func (c *tcpConn) Close() error {
	n := c.net
	n.mu.Lock()
	if c.closed {
		n.mu.Unlock()
		return nil
	}
	c.closed = true
	c.cancel()
	peers := make([]*tcpPeer, 0, len(c.peers))
	for _, p := range c.peers {
		peers = append(peers, p)
	}
	n.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
	}
	for _, p := range peers {
		p.kill()
	}
	c.wg.Wait()
	close(c.recv)
	n.mu.Lock()
	if n.conn == c {
		n.conn = nil
	}
	n.mu.Unlock()
	c.log.Debug("endpoint closed")
	return nil
}

// Drop closes the connection to peer. With a positive ban, the endpoint
// neither dials peer's address nor accepts a connection from it for that
// long. For a peer that dialed in, the address is its host and ephemeral
// port, which its next connection will not share: dropping it is in effect
// a disconnection (see TCPConfig.MalformedBan for why its host is not
// banned). Dropping an address the endpoint dialed itself, as a node does
// when its handshake detects that it reached itself, stops redialing it
// until the ban expires.
func (c *tcpConn) Drop(peer PeerID, ban time.Duration) error {
	n := c.net
	n.mu.Lock()
	if c.closed {
		n.mu.Unlock()
		return fmt.Errorf("%q: drop: %w", c.id, ErrClosed)
	}
	p := c.peers[peer]
	if p == nil || !p.kill() {
		n.mu.Unlock()
		return fmt.Errorf("%q: drop: %w %q", c.id, ErrUnknownPeer, peer)
	}
	if ban > 0 {
		n.ban(string(peer), ban)
	}
	n.mu.Unlock()
	c.log.Debug("dropped peer", "peer", string(peer), "ban", ban)
	return nil
}

// Connect dials addr in the background, once, unless the endpoint is
// connected to it or dialing it already, it is banned, or the outbound
// limit is reached. An address among the configured Peers is left to its
// redial loop. It fails with ErrInvalidPeerAddress for an address that is
// not "host:port", and ErrClosed after Close.
func (c *tcpConn) Connect(addr string) error {
	if err := checkAddr(addr); err != nil {
		return fmt.Errorf("%q: connect: %w", c.id, err)
	}
	n := c.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%q: connect: %w", c.id, ErrClosed)
	}
	_, banned := n.banned(addr)
	switch {
	case banned, c.peers[PeerID(addr)] != nil, c.dialing[addr], slices.Contains(n.cfg.Peers, addr):
		return nil
	case c.outbound() >= n.cfg.MaxOutbound:
		c.log.Debug("not connecting: outbound limit", "addr", addr)
		return nil
	}
	c.dialing[addr] = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		conn, err := c.dial(addr)
		n.mu.Lock()
		delete(c.dialing, addr)
		if err == nil {
			c.attach(conn, PeerID(addr), true)
		}
		n.mu.Unlock()
	}()
	return nil
}

// LocalAddr returns the advertised address, or "" if there is none.
func (c *tcpConn) LocalAddr() string { return c.net.advertise }

// Outbound reports how many connected peers the endpoint dialed.
func (c *tcpConn) Outbound() int {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	k := 0
	for _, p := range c.peers {
		if p.outbound && p.alive() {
			k++
		}
	}
	return k
}

// outbound counts the outbound slots in use: dials in progress and
// connections not yet ended. n.mu is held.
func (c *tcpConn) outbound() int {
	k := len(c.dialing)
	for _, p := range c.peers {
		if p.outbound {
			k++
		}
	}
	return k
}

// dial opens a connection to addr within the dial timeout.
func (c *tcpConn) dial(addr string) (net.Conn, error) {
	n := c.net
	n.mu.Lock()
	n.stats.Dials++
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, n.cfg.DialTimeout)
	defer cancel()
	conn, err := n.cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		n.mu.Lock()
		n.stats.DialFailures++
		n.mu.Unlock()
		c.log.Debug("dial failed", "addr", addr, "err", err)
		return nil, err
	}
	return conn, nil
}

// sleep waits for d, and reports false if the endpoint closes first.
func (c *tcpConn) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// keep keeps the endpoint connected to the configured peer addr: it dials
// it, waits for the connection to end, and dials again after a backoff,
// while honouring bans and the outbound limit.
func (c *tcpConn) keep(addr string) {
	defer c.wg.Done()
	n := c.net
	backoff := n.cfg.RedialMin
	grow := func() { backoff = min(2*backoff, n.cfg.RedialMax) }
	for {
		n.mu.Lock()
		if c.closed {
			n.mu.Unlock()
			return
		}
		until, banned := n.banned(addr)
		var wait <-chan struct{}
		if p := c.peers[PeerID(addr)]; p != nil {
			wait = p.gone // connected by Connect meanwhile, or still ending
		}
		full := c.outbound() >= n.cfg.MaxOutbound
		if !banned && wait == nil && !full {
			c.dialing[addr] = true
		}
		n.mu.Unlock()

		switch {
		case banned:
			c.log.Debug("not redialing a banned peer", "addr", addr, "until", until)
			if !c.sleep(time.Until(until)) {
				return
			}
			continue
		case wait != nil:
			select {
			case <-wait:
			case <-c.ctx.Done():
				return
			}
			continue
		case full:
			if !c.sleep(n.jitter(backoff)) {
				return
			}
			grow()
			continue
		}

		conn, err := c.dial(addr)
		n.mu.Lock()
		delete(c.dialing, addr)
		var p *tcpPeer
		if err == nil {
			p = c.attach(conn, PeerID(addr), true)
		}
		n.mu.Unlock()
		if p != nil {
			start := time.Now()
			select {
			case <-p.gone:
			case <-c.ctx.Done():
				return
			}
			if time.Since(start) >= n.cfg.RedialMax {
				backoff = n.cfg.RedialMin
			}
		}
		if !c.sleep(n.jitter(backoff)) {
			return
		}
		grow()
	}
}

// accept accepts connections until the listener closes.
func (c *tcpConn) accept(ln net.Listener) {
	defer c.wg.Done()
	n := c.net
	pause := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if err != nil {
			if c.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, or the like: wait and retry.
			c.log.Warn("accept failed", "err", err)
			if !c.sleep(pause) {
				return
			}
			pause = min(2*pause, time.Second)
			continue
		}
		pause = 5 * time.Millisecond
		id := PeerID(conn.RemoteAddr().String())
		n.mu.Lock()
		inbound := 0
		for _, p := range c.peers {
			if !p.outbound {
				inbound++
			}
		}
		_, banned := n.banned(string(id))
		var p *tcpPeer
		if inbound < n.cfg.MaxInbound && !banned {
			p = c.attach(conn, id, false)
		} else {
			n.stats.Refused++
			conn.Close()
		}
		n.mu.Unlock()
		if p == nil {
			c.log.Debug("refused inbound connection", "peer", string(id), "banned", banned)
		}
	}
}

// attach makes conn the peer id and starts its reader and writer, or
// closes conn and returns nil if the endpoint has closed, the address is
// banned, or id is still in use. n.mu is held.
func (c *tcpConn) attach(conn net.Conn, id PeerID, outbound bool) *tcpPeer {
	n := c.net
	_, banned := n.banned(string(id))
	if c.closed || banned || c.peers[id] != nil {
		if !outbound {
			n.stats.Refused++
		}
		conn.Close()
		return nil
	}
	p := &tcpPeer{
		id:       id,
		c:        conn,
		outbound: outbound,
		queue:    make(chan []byte, n.cfg.SendQueue),
		pong:     make(chan [pingSize]byte, 1),
		dead:     make(chan struct{}),
		gone:     make(chan struct{}),
	}
	c.peers[id] = p
	c.wg.Add(2)
	go c.read(p)
	go c.write(p)
	c.log.Debug("connected", "peer", string(id), "outbound", outbound)
	return p
}

// deliver hands pkt to the receiver, waiting for it, and reports false if
// the endpoint closes first or, for a message, if dead closes first.
func (c *tcpConn) deliver(pkt Packet, dead <-chan struct{}) bool {
	select {
	case c.recv <- pkt:
		return true
	case <-dead:
		return false
	case <-c.ctx.Done():
		return false
	}
}

// read is p's reader: it delivers PeerConnected, the peer's messages, and
// PeerDisconnected, then retires p.
func (c *tcpConn) read(p *tcpPeer) {
	defer c.wg.Done()
	n := c.net
	if c.deliver(Packet{From: p.id, Event: PeerConnected}, nil) {
		err := c.readFrames(p)
		p.kill() // after which a writer's reason is visible
		var nerr net.Error
		switch {
		case errors.Is(err, errMalformedFrame):
			n.mu.Lock()
			n.stats.Malformed++
			if p.outbound {
				n.ban(string(p.id), n.cfg.MalformedBan)
			}
			n.mu.Unlock()
			c.log.Warn("malformed frame: disconnected", "peer", string(p.id), "err", err, "banned", p.outbound)
		case errors.As(err, &nerr) && nerr.Timeout(), p.writeTimedOut.Load():
			n.mu.Lock()
			n.stats.TimedOut++
			n.mu.Unlock()
			c.log.Debug("timed out: disconnected", "peer", string(p.id), "err", err, "writing", p.writeTimedOut.Load())
		default:
			c.log.Debug("disconnected", "peer", string(p.id), "err", err)
		}
		c.deliver(Packet{From: p.id, Event: PeerDisconnected}, nil)
	}
	p.kill()
	n.mu.Lock()
	if c.peers[p.id] == p {
		delete(c.peers, p.id)
	}
	n.mu.Unlock()
	close(p.gone)
}

// readFrames reads p's frames until the connection fails or closes, or a
// frame is malformed or late, and returns why it stopped.
func (c *tcpConn) readFrames(p *tcpPeer) error {
	n := c.net
	r := bufio.NewReader(p.c)
	for {
		// Wait for a frame to begin, then for all of it.
		if err := p.c.SetReadDeadline(time.Now().Add(n.cfg.IdleTimeout)); err != nil {
			return err
		}
		if _, err := r.Peek(1); err != nil {
			return err
		}
		if err := p.c.SetReadDeadline(time.Now().Add(n.cfg.ReadTimeout)); err != nil {
			return err
		}
		kind, payload, err := readFrame(r, MaxMessageSize, frameChunk, nil)
		if err != nil {
			return err
		}
		switch kind {
		case frameData:
			if !c.deliver(Packet{From: p.id, Data: payload}, p.dead) {
				return net.ErrClosed
			}
			n.mu.Lock()
			n.stats.Received++
			n.mu.Unlock()
		case framePing:
			select { // one pong waiting is enough
			case p.pong <- [pingSize]byte(payload):
			default:
			}
		case framePong:
		}
	}
}

// write is p's writer: it writes queued messages, pongs, and a ping
// whenever the connection has been quiet for PingInterval.
func (c *tcpConn) write(p *tcpPeer) {
	defer c.wg.Done()
	n := c.net
	ping := time.NewTimer(n.cfg.PingInterval)
	defer ping.Stop()
	var hdr [frameHeaderSize]byte
	var nonce uint64
	for {
		var kind byte
		var payload []byte
		select {
		case <-p.dead:
			return
		case msg := <-p.queue:
			p.queued.Add(-int64(len(msg)))
			kind, payload = frameData, msg
		case echo := <-p.pong:
			kind, payload = framePong, echo[:]
		case <-ping.C:
			nonce++
			kind, payload = framePing, binary.BigEndian.AppendUint64(nil, nonce)
		}
		binary.BigEndian.PutUint32(hdr[:4], uint32(len(payload)))
		hdr[4] = kind
		err := p.c.SetWriteDeadline(time.Now().Add(n.cfg.WriteTimeout))
		if err == nil {
			bufs := net.Buffers{hdr[:], payload}
			_, err = bufs.WriteTo(p.c)
		}
		if err != nil {
			// The reader, which delivers PeerDisconnected, counts the
			// timeout: after the event, the stats show it.
			var nerr net.Error
			if errors.As(err, &nerr) && nerr.Timeout() {
				p.writeTimedOut.Store(true)
			}
			if p.kill() {
				c.log.Debug("write failed: disconnected", "peer", string(p.id), "err", err)
			}
			return
		}
		ping.Reset(n.cfg.PingInterval)
	}
}
