package blockchain

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	// QueueSize is the capacity of each endpoint's inbox, in packets
	// (connection events included); 0 means 4096. A message arriving at a
	// full inbox is dropped and counted, never waited for. A connection
	// event is never dropped: when the inbox is full it waits, with the
	// messages that arrive after it, in a backlog that a goroutine feeds to
	// Receive in order.
	QueueSize int
	// AfterFunc is the clock behind delays and bans, with the contract of
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
	// in different groups of a partition, or because their link was
	// removed (RemoveLink, Drop) or either end closed while the copy was in
	// flight.
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
// Links are symmetric. Two joined endpoints are peers while a link joins
// them, and each receives a [PeerConnected] event when that starts (Join,
// SetLink) and a [PeerDisconnected] event when it ends (RemoveLink, Drop,
// the other's Close); copies in flight between them are cut then, so no
// message follows the disconnection. A partition does not change the
// topology that [Conn.Peers] reports and sends no events: like a cut cable
// that TCP has not noticed yet, messages across it just vanish.
//
// A message with no delay is delivered inside Send, and an event inside
// the call that caused it, unless the receiver's inbox is full (see
// [MemNetworkConfig].QueueSize); a delayed message is delivered by a
// timer. A MemNetwork is safe for concurrent use; Close stops every
// pending timer and backlog goroutine, so no goroutine outlives it.
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
	bans    map[linkKey]*memBan
	pending map[*flight]struct{}
	fifo    map[route][]*flight // per direction, FIFO copies in send order
	stats   MemNetworkStats
}

// memBan is a ban on relinking a pair, lifted by its timer.
type memBan struct {
	stop func() bool // nil until the timer is scheduled
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
		bans:        make(map[linkKey]*memBan),
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

var (
	_ Network   = (*MemNetwork)(nil)
	_ io.Closer = (*MemNetwork)(nil)
)

// ErrBanned reports a link refused because an endpoint dropped the pair
// with a ban that has not expired (see [MemNetwork.SetLink]).
var ErrBanned = errors.New("blockchain: peer banned")

// Join registers id and returns its endpoint. It fails with
// ErrDuplicatePeerID while id is joined, and with ErrClosed after Close. In
// a full mesh, Join links id to every joined node it has no link with,
// unless a ban stands between them, so a link removed by RemoveLink or
// Drop comes back when either end rejoins, as a restarted node
// reconnects; links set with SetLink survive their nodes' restarts.
//
// The new endpoint receives a PeerConnected event for each of its peers,
// in ID order, and each of them one for id, before any message can pass.
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
			k := keyOf(id, other)
			if _, ok := n.links[k]; !ok && n.bans[k] == nil {
				n.links[k] = n.defaultLink
			}
		}
	}
	c := &memConn{net: n, id: id, inbox: make(chan Packet, n.queueSize), done: make(chan struct{})}
	for _, p := range n.peers(id) {
		n.connected(c, n.conns[p])
	}
	n.conns[id] = c
	return c, nil
}

// SetLink links a and b with cfg, creating the link or replacing its
// settings in both directions. Copies already in flight keep the delay they
// were given; a and b need not be joined yet, and a == b is ignored. A new
// link between joined endpoints sends each a PeerConnected event.
//
// While a ban set by [Dropper].Drop on the pair stands, SetLink fails with
// ErrBanned and changes nothing; the ban expires after its duration on the
// network's clock, but the link does not come back by itself.
func (n *MemNetwork) SetLink(a, b PeerID, cfg LinkConfig) error {
	if a == b {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	k := keyOf(a, b)
	if n.bans[k] != nil {
		return fmt.Errorf("set link %q-%q: %w", a, b, ErrBanned)
	}
	_, existed := n.links[k]
	n.links[k] = cfg
	if ca, cb := n.conns[a], n.conns[b]; !existed && ca != nil && cb != nil {
		n.connected(ca, cb)
	}
	return nil
}

// RemoveLink removes the link between a and b, if any. They stop listing
// each other as peers, each receives a PeerDisconnected event if both are
// joined, and copies in flight between them are cut.
func (n *MemNetwork) RemoveLink(a, b PeerID) {
	n.mu.Lock()
	k := keyOf(a, b)
	if _, ok := n.links[k]; !ok {
		n.mu.Unlock()
		return
	}
	delete(n.links, k)
	var stops []func() bool
	if ca, cb := n.conns[a], n.conns[b]; ca != nil && cb != nil {
		stops = n.disconnected(ca, cb)
	}
	n.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
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

// Close closes every endpoint, whose Receive channels are then closed
// without disconnection events, and stops every pending timer, discarding
// the messages in flight and lifting the bans. Afterwards Join and every
// endpoint's Send fail with ErrClosed; Close always returns nil and may be
// called again.
func (n *MemNetwork) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	var conns []*memConn
	for _, c := range n.conns {
		c.shut()
		conns = append(conns, c)
	}
	clear(n.conns)
	var stops []func() bool
	for f := range n.pending {
		if f.stop != nil {
			stops = append(stops, f.stop)
		}
	}
	for _, b := range n.bans {
		if b.stop != nil {
			stops = append(stops, b.stop)
		}
	}
	clear(n.bans)
	clear(n.pending)
	clear(n.fifo)
	n.mu.Unlock()
	// Outside the lock: a manual clock may hold its own lock while firing
	// a timer, which then takes ours.
	for _, stop := range stops {
		stop()
	}
	for _, c := range conns {
		c.finish()
	}
	return nil
}

// connected makes a and b peers in each other's eyes: each gets a
// PeerConnected event. n.mu is held.
func (n *MemNetwork) connected(a, b *memConn) {
	n.enqueue(a, Packet{From: b.id, Event: PeerConnected})
	n.enqueue(b, Packet{From: a.id, Event: PeerConnected})
}

// disconnected ends the peering of a and b, whose link is gone: the copies
// in flight between them are cut and each gets a PeerDisconnected event.
// It returns the timers to stop once n.mu is released. n.mu is held.
func (n *MemNetwork) disconnected(a, b *memConn) []func() bool {
	stops := n.cut(func(f *flight) bool {
		return f.to == a && f.from == b.id || f.to == b && f.from == a.id
	})
	delete(n.fifo, route{b.id, a})
	delete(n.fifo, route{a.id, b})
	n.enqueue(a, Packet{From: b.id, Event: PeerDisconnected})
	n.enqueue(b, Packet{From: a.id, Event: PeerDisconnected})
	return stops
}

// cut discards the pending copies that match, counting those not yet
// delivered as Cut, and returns their timers to stop once n.mu is
// released. The caller removes their routes' FIFO queues. n.mu is held.
func (n *MemNetwork) cut(match func(*flight) bool) []func() bool {
	var stops []func() bool
	for f := range n.pending {
		if !match(f) {
			continue
		}
		delete(n.pending, f)
		if !f.done {
			f.done = true
			n.stats.Cut++
		}
		if f.stop != nil {
			stops = append(stops, f.stop)
		}
	}
	return stops
}

// enqueue puts p in c's inbox, or in its backlog behind the packets
// already waiting there, and reports false if p is a message that finds
// the inbox full: a message is dropped then, an event never. c is open and
// n.mu is held, which keeps c's inbox open; nothing here blocks.
func (n *MemNetwork) enqueue(c *memConn, p Packet) bool {
	if p.Event == PeerMessage && len(c.inbox)+len(c.backlog) >= n.queueSize {
		return false
	}
	if len(c.backlog) == 0 {
		select {
		case c.inbox <- p:
			return true
		default:
		}
	}
	c.backlog = append(c.backlog, p)
	if !c.pumping {
		c.pumping = true
		c.pump.Add(1)
		go n.drain(c)
	}
	return true
}

// drain moves c's backlog into its inbox, in order, waiting for the
// receiver; it ends when the backlog is empty or c closes.
func (n *MemNetwork) drain(c *memConn) {
	defer c.pump.Done()
	for {
		n.mu.Lock()
		if c.closed || len(c.backlog) == 0 {
			c.pumping = false
			n.mu.Unlock()
			return
		}
		p := c.backlog[0] // stays queued until delivered, so enqueue keeps order
		n.mu.Unlock()
		select {
		case c.inbox <- p:
		case <-c.done:
			return
		}
		n.mu.Lock()
		if c.closed { // shut while p was being delivered: the backlog is gone
			c.pumping = false
			n.mu.Unlock()
			return
		}
		c.backlog[0] = Packet{}
		if c.backlog = c.backlog[1:]; len(c.backlog) == 0 {
			c.backlog = nil
		}
		n.mu.Unlock()
	}
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
	if n.enqueue(f.to, Packet{From: f.from, Data: f.data}) {
		n.stats.Delivered++
	} else {
		n.stats.Overflowed++
	}
}

// memConn is an endpoint on a MemNetwork. Its closed flag, backlog and
// pumping flag are guarded by the network's mutex, which every delivery
// holds, so no delivery can race with the closing of inbox.
type memConn struct {
	net   *MemNetwork
	id    PeerID
	inbox chan Packet
	done  chan struct{}  // closed by shut: stops the drain goroutine
	pump  sync.WaitGroup // the drain goroutine, while it runs

	closed  bool
	backlog []Packet // packets waiting for room in inbox, oldest first
	pumping bool     // a drain goroutine is running
}

var _ Dropper = (*memConn)(nil)

// shut marks c closed, so nothing is delivered to it any more, and stops
// its drain goroutine. n.mu is held; finish completes the closing.
func (c *memConn) shut() {
	c.closed = true
	c.backlog = nil
	close(c.done)
}

// finish waits for c's drain goroutine and closes the inbox. It runs once
// per endpoint, after shut and with n.mu released.
func (c *memConn) finish() {
	c.pump.Wait()
	close(c.inbox)
}

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

// Close leaves the network: the endpoint's inbox is closed, its peers
// receive a PeerDisconnected event, and the copies in flight to and from it
// are cut and their timers stopped.
func (c *memConn) Close() error {
	n := c.net
	n.mu.Lock()
	if c.closed {
		n.mu.Unlock()
		return nil
	}
	peers := n.peers(c.id)
	c.shut()
	delete(n.conns, c.id) // c is the one joined: it was open
	stops := n.cut(func(f *flight) bool { return f.to == c || f.from == c.id })
	for r := range n.fifo {
		if r.to == c || r.from == c.id {
			delete(n.fifo, r)
		}
	}
	for _, p := range peers {
		n.enqueue(n.conns[p], Packet{From: c.id, Event: PeerDisconnected})
	}
	n.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	c.finish()
	return nil
}

// Drop removes the link between this endpoint and peer, as a node does with
// a peer that sent invalid data: each receives a PeerDisconnected event and
// copies in flight between them are cut. With a positive ban, the pair
// cannot be linked again, by SetLink or by a rejoin in a full mesh, until
// ban has passed on the network's clock; the link does not come back by
// itself when the ban expires. Drop fails with ErrUnknownPeer if peer is
// not a peer, and ErrClosed after Close.
func (c *memConn) Drop(peer PeerID, ban time.Duration) error {
	n := c.net
	n.mu.Lock()
	if c.closed {
		n.mu.Unlock()
		return fmt.Errorf("%q: drop: %w", c.id, ErrClosed)
	}
	k := keyOf(c.id, peer)
	other := n.conns[peer]
	if _, ok := n.links[k]; !ok || peer == c.id || other == nil {
		n.mu.Unlock()
		return fmt.Errorf("%q: drop: %w %q", c.id, ErrUnknownPeer, peer)
	}
	delete(n.links, k)
	stops := n.disconnected(c, other)
	var b *memBan
	if ban > 0 {
		if old := n.bans[k]; old != nil && old.stop != nil {
			stops = append(stops, old.stop)
		}
		b = &memBan{}
		n.bans[k] = b
	}
	n.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	if b == nil {
		return nil
	}
	// Schedule outside the lock: an injected clock may call back at once.
	stop := n.afterFunc(ban, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.bans[k] == b {
			delete(n.bans, k)
		}
	})
	n.mu.Lock()
	keep := n.bans[k] == b
	if keep {
		b.stop = stop
	}
	n.mu.Unlock()
	if !keep { // expired already, replaced, or lifted by Close meanwhile
		stop()
	}
	return nil
}
