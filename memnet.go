package blockchain

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// LinkConfig describes how one link between two nodes behaves, in both
// directions. The zero value is a perfect link: instant, lossless, in order.
//
// A link without Jitter or Reorder is first-in first-out, like a TCP
// connection: its messages arrive in the order they were sent even when
// their timers fire out of order. Jitter or Reorder lets later messages
// overtake earlier ones.
type LinkConfig struct {
	// Latency is the base one-way delay of every message.
	Latency time.Duration
	// Jitter adds to each message an extra delay drawn uniformly from
	// [0, Jitter).
	Jitter time.Duration
	// Loss is the probability that a message is dropped.
	Loss float64
	// Duplicate is the probability that a message that was not lost is
	// delivered twice. The copy draws its own delay, so it may arrive
	// first.
	Duplicate float64
	// Reorder is the probability that a message is held back so that the
	// ones sent after it overtake it. A held message waits an extra
	// Latency+Jitter, or 1ms on a link where both are zero.
	Reorder float64
}

// MemNetworkConfig configures a [MemNetwork]. The zero value is a full mesh
// of perfect links with seed 0.
type MemNetworkConfig struct {
	// Seed seeds the math/rand/v2 source behind every random choice (loss,
	// duplication, jitter, reordering): the same seed and the same sequence
	// of sends reproduce a run's decisions.
	Seed uint64
	// Link is the default for every link, until SetLink overrides it.
	Link LinkConfig
	// Sparse chooses the topology. False means a full mesh: every pair of
	// joined nodes is linked. True means only the pairs linked with
	// SetLink.
	Sparse bool
	// QueueSize is the capacity of each endpoint's inbox; 0 means 4096. A
	// message arriving at a full inbox is dropped and counted, never
	// waited for.
	QueueSize int
	// AfterFunc is the clock behind delays, with the contract of
	// time.AfterFunc: call f once, in its own goroutine or from a test's
	// manual clock, after d, unless stop is called first and reports true.
	// Nil means time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

// MemNetworkStats counts what a [MemNetwork] did with the messages it was
// given. While no message is in flight, Sent + Duplicated = Delivered +
// Lost + Cut + Overflowed; messages still in flight when the network closes
// are discarded uncounted.
type MemNetworkStats struct {
	// Sent counts messages accepted by Send, one per peer for Broadcast.
	Sent uint64
	// Delivered counts copies put in an inbox.
	Delivered uint64
	// Lost counts messages dropped by the links' Loss probability.
	Lost uint64
	// Duplicated counts the extra copies made by the links' Duplicate
	// probability.
	Duplicated uint64
	// Cut counts copies dropped because the sender and the receiver were
	// in different groups of a partition, their link was removed while the
	// copy was in flight, or the receiver closed.
	Cut uint64
	// Overflowed counts copies dropped because the receiver's inbox was
	// full.
	Overflowed uint64
}

// MemNetwork is an in-process [Network] with real faults: latency, jitter,
// loss, duplication, reordering, partitions and full inboxes, all drawn
// from one seeded source so a run can be replayed. Tests and demos run many
// nodes on one, and a test can inject its own clock to step through
// delays without sleeping.
//
// Links are symmetric. A partition does not change the topology that
// [Conn.Peers] reports: like a cut cable that TCP has not noticed yet,
// messages across it just vanish. A message with no delay is delivered
// inside Send; a delayed one by a timer. A MemNetwork is safe for
// concurrent use; Close stops every pending timer, so no goroutine
// outlives it.
type MemNetwork struct {
	afterFunc   func(time.Duration, func()) func() bool
	queueSize   int
	sparse      bool
	defaultLink LinkConfig

	mu      sync.Mutex
	rng     *rand.Rand
	closed  bool
	conns   map[PeerID]*memConn
	links   map[linkKey]LinkConfig
	groups  map[PeerID][]int // partition: each node's groups; nil when healed
	pending map[*flight]struct{}
	fifo    map[route][]*flight // per direction, FIFO copies in send order
	stats   MemNetworkStats
}

// linkKey names an undirected link; a < b.
type linkKey struct{ a, b PeerID }

func keyOf(a, b PeerID) linkKey {
	if b < a {
		a, b = b, a
	}
	return linkKey{a, b}
}

// route is one direction of a link, to one endpoint instance.
type route struct {
	from PeerID
	to   *memConn
}

// flight is a copy of a message waiting for its timer. Its fields are
// guarded by the network's mutex.
type flight struct {
	route
	data []byte
	fifo bool        // must not overtake earlier FIFO copies on its route
	done bool        // delivered or cut, possibly ahead of its timer
	stop func() bool // nil until the timer is scheduled
}

// NewMemNetwork returns an empty network configured by cfg.
func NewMemNetwork(cfg MemNetworkConfig) *MemNetwork {
	n := &MemNetwork{
		afterFunc:   cfg.AfterFunc,
		queueSize:   cfg.QueueSize,
		sparse:      cfg.Sparse,
		defaultLink: cfg.Link,
		rng:         rand.New(rand.NewPCG(cfg.Seed, cfg.Seed)),
		conns:       make(map[PeerID]*memConn),
		links:       make(map[linkKey]LinkConfig),
		pending:     make(map[*flight]struct{}),
		fifo:        make(map[route][]*flight),
	}
	if n.afterFunc == nil {
		n.afterFunc = func(d time.Duration, f func()) func() bool {
			return time.AfterFunc(d, f).Stop
		}
	}
	if n.queueSize <= 0 {
		n.queueSize = 4096
	}
	return n
}

var _ Network = (*MemNetwork)(nil)

// Join registers id and returns its endpoint. It fails with
// ErrDuplicatePeerID while id is joined, and with ErrClosed after Close. In
// a full mesh, Join links id to every joined node it has no link with,
// so a link removed by RemoveLink or Drop comes back when either end
// rejoins, as a restarted node reconnects; links set with SetLink survive
// their nodes' restarts.
func (n *MemNetwork) Join(id PeerID) (Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("join %q: %w", id, ErrClosed)
	}
	if _, ok := n.conns[id]; ok {
		return nil, fmt.Errorf("%w: %q", ErrDuplicatePeerID, id)
	}
	if !n.sparse {
		for other := range n.conns {
			if _, ok := n.links[keyOf(id, other)]; !ok {
				n.links[keyOf(id, other)] = n.defaultLink
			}
		}
	}
	c := &memConn{net: n, id: id, inbox: make(chan Packet, n.queueSize)}
	n.conns[id] = c
	return c, nil
}

// SetLink links a and b with cfg, creating the link or replacing its
// settings in both directions. Copies already in flight keep the delay they
// were given; a and b need not be joined yet, and a == b is ignored.
func (n *MemNetwork) SetLink(a, b PeerID, cfg LinkConfig) {
	if a == b {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[keyOf(a, b)] = cfg
}

// RemoveLink removes the link between a and b, if any. They stop listing
// each other as peers, and copies in flight between them are cut.
func (n *MemNetwork) RemoveLink(a, b PeerID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.links, keyOf(a, b))
}

// Partition splits the network into groups: afterwards a message is
// delivered only if its sender and receiver share a group, so a node in no
// group is cut off and one listed in two groups bridges them. The check is
// made both when a message is sent and when it arrives, so a partition also
// cuts the messages in flight. Each call replaces the previous partition.
func (n *MemNetwork) Partition(groups ...[]PeerID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = make(map[PeerID][]int)
	for i, g := range groups {
		for _, id := range g {
			if gs := n.groups[id]; len(gs) == 0 || gs[len(gs)-1] != i {
				n.groups[id] = append(gs, i)
			}
		}
	}
}

// Heal removes the partition. Messages cut while it stood stay lost; the
// protocol above is expected to recover from the loss.
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = nil
}

// Stats returns the network's counters so far. They are cumulative and
// never reset.
func (n *MemNetwork) Stats() MemNetworkStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Close closes every endpoint, whose Receive channels are then closed, and
// stops every pending timer, discarding the messages in flight. Afterwards
// Join and every endpoint's Send fail with ErrClosed; Close always returns
// nil and may be called again.
func (n *MemNetwork) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	for _, c := range n.conns {
		c.closed = true
		close(c.inbox)
	}
	clear(n.conns)
	var stops []func() bool
	for f := range n.pending {
		if f.stop != nil {
			stops = append(stops, f.stop)
		}
	}
	clear(n.pending)
	clear(n.fifo)
	n.mu.Unlock()
	// Outside the lock: a manual clock may hold its own lock while firing
	// a timer, which then takes ours.
	for _, stop := range stops {
		stop()
	}
	return nil
}

// peers returns the joined endpoints linked to id, sorted. n.mu is held.
func (n *MemNetwork) peers(id PeerID) []PeerID {
	var ps []PeerID
	for other := range n.conns {
		if _, ok := n.links[keyOf(id, other)]; ok && other != id {
			ps = append(ps, other)
		}
	}
	slices.Sort(ps)
	return ps
}

// reachable reports whether the partition lets a message from a reach b.
// n.mu is held.
func (n *MemNetwork) reachable(a, b PeerID) bool {
	if n.groups == nil {
		return true
	}
	for _, g := range n.groups[a] {
		if slices.Contains(n.groups[b], g) {
			return true
		}
	}
	return false
}

// send is Conn.Send for endpoint c.
func (n *MemNetwork) send(c *memConn, to PeerID, data []byte) error {
	n.mu.Lock()
	if c.closed {
		n.mu.Unlock()
		return fmt.Errorf("%q: send: %w", c.id, ErrClosed)
	}
	if len(data) > MaxMessageSize {
		n.mu.Unlock()
		return fmt.Errorf("%q: send: %w: %d bytes", c.id, ErrMessageTooLarge, len(data))
	}
	dst, joined := n.conns[to]
	link, linked := n.links[keyOf(c.id, to)]
	if !joined || !linked || to == c.id {
		n.mu.Unlock()
		return fmt.Errorf("%q: send: %w %q", c.id, ErrUnknownPeer, to)
	}
	n.stats.Sent++
	if !n.reachable(c.id, to) {
		n.stats.Cut++
		n.mu.Unlock()
		return nil
	}
	if link.Loss > 0 && n.rng.Float64() < link.Loss {
		n.stats.Lost++
		n.mu.Unlock()
		return nil
	}
	copies := 1
	if link.Duplicate > 0 && n.rng.Float64() < link.Duplicate {
		n.stats.Duplicated++
		copies = 2
	}
	r := route{c.id, dst}
	type timer struct {
		f *flight
		d time.Duration
	}
	var timers [2]timer
	scheduled := 0
	for range copies {
		d, fifo := n.delay(link)
		f := &flight{route: r, data: bytes.Clone(data), fifo: fifo}
		if d == 0 {
			n.flush(r, nil) // nothing sent earlier may be overtaken
			n.land(f)
			continue
		}
		n.pending[f] = struct{}{}
		if fifo {
			n.fifo[r] = append(n.fifo[r], f)
		}
		timers[scheduled] = timer{f, d}
		scheduled++
	}
	n.mu.Unlock()

	// Schedule outside the lock: an injected clock may call back at once.
	for _, tm := range timers[:scheduled] {
		f := tm.f
		stop := n.afterFunc(tm.d, func() { n.arrive(f) })
		n.mu.Lock()
		_, keep := n.pending[f]
		if keep {
			f.stop = stop
		}
		n.mu.Unlock()
		if !keep { // fired already, or discarded by Close meanwhile
			stop()
		}
	}
	return nil
}

// delay draws the delay of one copy on link, and reports whether the copy
// is first-in first-out. n.mu is held.
func (n *MemNetwork) delay(link LinkConfig) (d time.Duration, fifo bool) {
	latency, jitter := max(link.Latency, 0), max(link.Jitter, 0)
	d, fifo = latency, true
	if jitter > 0 {
		d += time.Duration(n.rng.Int64N(int64(jitter)))
		fifo = false
	}
	if link.Reorder > 0 && n.rng.Float64() < link.Reorder {
		hold := latency + jitter
		if hold <= 0 {
			hold = time.Millisecond
		}
		d += hold
		fifo = false
	}
	return d, fifo
}

// arrive is a copy's timer firing.
func (n *MemNetwork) arrive(f *flight) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.pending[f]; !ok {
		return // the network or the receiver closed first
	}
	delete(n.pending, f)
	switch {
	case f.done:
	case f.fifo:
		n.flush(f.route, f)
	default:
		n.land(f)
	}
}

// flush lands, in send order, the FIFO copies queued on r up to and
// including last, or all of them if last is nil. n.mu is held.
func (n *MemNetwork) flush(r route, last *flight) {
	q := n.fifo[r]
	i := 0
	for i < len(q) {
		f := q[i]
		i++
		n.land(f)
		if f == last {
			break
		}
	}
	if i == len(q) {
		delete(n.fifo, r)
	} else {
		n.fifo[r] = q[i:]
	}
}

// land delivers f to its receiver's inbox, unless the partition, the
// topology or a closed receiver cuts it, or the inbox is full. n.mu is
// held.
func (n *MemNetwork) land(f *flight) {
	f.done = true
	_, linked := n.links[keyOf(f.from, f.to.id)]
	if f.to.closed || !linked || !n.reachable(f.from, f.to.id) {
		n.stats.Cut++
		return
	}
	select {
	case f.to.inbox <- Packet{From: f.from, Data: f.data}:
		n.stats.Delivered++
	default:
		n.stats.Overflowed++
	}
}

// memConn is an endpoint on a MemNetwork. Its closed flag is guarded by the
// network's mutex, which every delivery holds, so no delivery can race
// with the closing of inbox.
type memConn struct {
	net    *MemNetwork
	id     PeerID
	inbox  chan Packet
	closed bool
}

var _ Dropper = (*memConn)(nil)

// ID returns the ID the endpoint joined under.
func (c *memConn) ID() PeerID { return c.id }

// Peers returns the joined endpoints linked to this one, sorted; a
// partition does not hide them.
func (c *memConn) Peers() []PeerID {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	if c.closed {
		return nil
	}
	return c.net.peers(c.id)
}

// Send copies data and hands it to the link to peer to.
func (c *memConn) Send(to PeerID, data []byte) error {
	return c.net.send(c, to, data)
}

// Broadcast sends data to every peer, skipping those that left meanwhile.
func (c *memConn) Broadcast(data []byte) error {
	c.net.mu.Lock()
	closed := c.closed
	peers := c.net.peers(c.id)
	c.net.mu.Unlock()
	if closed {
		return fmt.Errorf("%q: broadcast: %w", c.id, ErrClosed)
	}
	if len(data) > MaxMessageSize {
		return fmt.Errorf("%q: broadcast: %w: %d bytes", c.id, ErrMessageTooLarge, len(data))
	}
	for _, p := range peers {
		// A peer that left since the snapshot is skipped.
		if err := c.net.send(c, p, data); errors.Is(err, ErrClosed) {
			return fmt.Errorf("%q: broadcast: %w", c.id, ErrClosed)
		}
	}
	return nil
}

// Receive returns the endpoint's inbox, closed by Close.
func (c *memConn) Receive() <-chan Packet { return c.inbox }

// Close leaves the network: the endpoint's inbox is closed and the copies
// in flight to it are cut and their timers stopped.
func (c *memConn) Close() error {
	n := c.net
	n.mu.Lock()
	if c.closed {
		n.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.inbox)
	if n.conns[c.id] == c {
		delete(n.conns, c.id)
	}
	var stops []func() bool
	for f := range n.pending {
		if f.to == c {
			delete(n.pending, f)
			if !f.done {
				f.done = true
				n.stats.Cut++
			}
			if f.stop != nil {
				stops = append(stops, f.stop)
			}
		}
	}
	for r := range n.fifo {
		if r.to == c {
			delete(n.fifo, r)
		}
	}
	n.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	return nil
}

// Drop removes the link between this endpoint and peer, as a node does with
// a peer that sent invalid data; copies in flight on it are cut. It fails
// with ErrUnknownPeer if they are not linked, and ErrClosed after Close.
func (c *memConn) Drop(peer PeerID, ban time.Duration) error {
	n := c.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%q: drop: %w", c.id, ErrClosed)
	}
	k := keyOf(c.id, peer)
	if _, ok := n.links[k]; !ok || peer == c.id {
		return fmt.Errorf("%q: drop: %w %q", c.id, ErrUnknownPeer, peer)
	}
	delete(n.links, k)
	return nil
}
