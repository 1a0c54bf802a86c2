// Package nettest checks that a [blockchain.Network] behaves as a node
// expects of its transport, in the manner of golang.org/x/net/nettest and
// hashicorp/raft's transport tests. Run [TestTransport] from a test of your
// transport, with a [MeshFunc] that sets up endpoints that connect to each
// other:
//
//	func TestTransport(t *testing.T) {
//		nettest.TestTransport(t, nettest.Shared(func(t *testing.T) blockchain.Network {
//			return mytransport.New(...)
//		}), nettest.Options{})
//	}
//
// [Shared] suits a transport whose endpoints all join one Network, as
// MemNetwork's do. A transport with one Network per process, as TCP's, writes
// its own MeshFunc: one Network per endpoint, each told whom to dial, so
// that every pair connects once.
//
// A conforming transport satisfies this contract:
//
//   - Join refuses an ID that is joined (ErrDuplicatePeerID) and accepts it
//     again once its endpoint has closed; the new endpoint connects to the
//     others again.
//   - Each endpoint receives, in its Receive stream, a PeerConnected event
//     for a peer before the peer's first message, and a PeerDisconnected
//     event after its last; a peer is never reported connected twice
//     without a disconnection between, nor disconnected when it was not
//     connected. The PeerIDs an endpoint learns this way are its names for
//     its peers: they need not be the IDs the peers joined under (over TCP
//     they are addresses).
//   - Peers eventually lists every connected peer, and only those.
//   - Send and Broadcast copy the data: the caller may reuse its buffer as
//     soon as they return. A packet arrives intact with its sender in From.
//   - Broadcast reaches every peer once, and not the sender.
//   - Messages from one endpoint to another arrive in the order sent, unless
//     the transport declares itself unordered (see [Options]).
//   - A transport may bound each peer's send queue and drop what does not
//     fit (see [Options].SendQueue); otherwise it loses nothing on the
//     links the MeshFunc sets up.
//   - A message of exactly [blockchain.MaxMessageSize] bytes is carried; a
//     larger one is refused with ErrMessageTooLarge. A zero-length message
//     is a message.
//   - Send to a peer that is not connected fails with ErrUnknownPeer.
//   - After Close, the Receive channel is closed, Send and Broadcast fail
//     with ErrClosed, and each other endpoint receives PeerDisconnected for
//     the closed one and stops listing it.
//   - An endpoint that implements [blockchain.Dropper] and drops a peer
//     makes both receive PeerDisconnected; dropping it again, or an unknown
//     peer, fails with ErrUnknownPeer.
//   - Every method is safe for concurrent use.
//   - Closing every endpoint, and every network that is an [io.Closer],
//     releases every goroutine the transport started.
//
// Errors are matched with errors.Is, so a transport may wrap them. The suite
// waits for asynchronous effects by polling or receiving with a deadline of
// 10 seconds, never by sleeping a fixed time.
package nettest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

// timeout bounds every wait: for peers to connect, for a delivery, for
// goroutines to exit.
const timeout = 10 * time.Second

// Endpoint is one endpoint under test: the network it joined and the Conn
// that joining returned. Endpoints may share a Network.
type Endpoint struct {
	Network blockchain.Network
	Conn    blockchain.Conn
}

// MeshFunc joins one endpoint per ID in ids, in that order, and arranges
// that every pair of them connects once, directly. It returns the
// endpoints without reading from them, possibly before they connect: the
// suite reads the PeerConnected events itself. The suite closes the
// endpoints, and the networks that are io.Closers, when the test ends.
type MeshFunc func(t *testing.T, ids []blockchain.PeerID) []Endpoint

// Shared returns a MeshFunc that joins every endpoint to one network from
// newNetwork, which must connect all its endpoints to each other, as a
// full mesh does.
func Shared(newNetwork func(t *testing.T) blockchain.Network) MeshFunc {
	return func(t *testing.T, ids []blockchain.PeerID) []Endpoint {
		t.Helper()
		n := newNetwork(t)
		if n == nil {
			t.Fatal("newNetwork returned nil")
		}
		eps := make([]Endpoint, len(ids))
		for i, id := range ids {
			c, err := n.Join(id)
			if err != nil {
				t.Fatalf("Join(%q): %v", id, err)
			}
			eps[i] = Endpoint{Network: n, Conn: c}
		}
		return eps
	}
}

// Options describe what the suite may expect of a transport. The zero value
// asks for everything.
type Options struct {
	// Unordered skips the check that messages between one pair arrive in
	// the order sent, for transports, or simulated links with jitter, that
	// may reorder them.
	Unordered bool
	// SendQueue, if positive, declares that Send drops messages when a
	// peer's send queue is full, and that the queue holds at least this
	// many. The suite then keeps at most SendQueue messages from one
	// endpoint to another sent but not yet received. Zero declares that
	// the transport drops nothing.
	SendQueue int
}

// TestTransport runs the conformance suite, one subtest per property, each
// on fresh endpoints from mesh. The links must not lose or duplicate
// messages (latency and, with opts.Unordered, reordering are fine).
func TestTransport(t *testing.T, mesh MeshFunc, opts Options) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, MeshFunc, Options)
	}{
		{"SendReceive", testSendReceive},
		{"Broadcast", testBroadcast},
		{"Order", func(t *testing.T, m MeshFunc, o Options) {
			if o.Unordered {
				t.Skip("the transport may reorder messages (Options.Unordered)")
			}
			testOrder(t, m, o)
		}},
		{"MaxMessageSize", testMaxMessageSize},
		{"Rejoin", testRejoin},
		{"UnknownPeer", testUnknownPeer},
		{"Close", testClose},
		{"Drop", testDrop},
		{"ConcurrentSend", testConcurrentSend},
		{"CloseReleasesGoroutines", testCloseReleasesGoroutines},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, mesh, opts) })
	}
}

// endpoint is an Endpoint with what its Receive stream has told so far.
// Only one goroutine at a time reads it.
type endpoint struct {
	Endpoint
	index     int
	connected map[blockchain.PeerID]bool // peers reported connected
	peers     map[int]blockchain.PeerID  // how this endpoint names endpoint i
}

func (e *endpoint) String() string { return string(e.Conn.ID()) }

// id returns e's name for other.
func (e *endpoint) id(other *endpoint) blockchain.PeerID { return e.peers[other.index] }

// hello is what each endpoint sends a new peer so that the peer can tell
// whom its PeerID names.
const hello = "nettest hello from #"

// start joins n endpoints with mesh and waits until every pair is
// connected. Everything is closed when t ends.
func start(t *testing.T, mesh MeshFunc, n int) []*endpoint {
	t.Helper()
	ids := make([]blockchain.PeerID, n)
	for i := range ids {
		ids[i] = blockchain.PeerID("n" + strconv.Itoa(i))
	}
	eps := mesh(t, ids)
	if len(eps) != n {
		t.Fatalf("mesh returned %d endpoints for %d IDs", len(eps), n)
	}
	es := make([]*endpoint, n)
	closers := make(map[io.Closer]bool)
	for i, ep := range eps {
		if ep.Conn == nil || ep.Network == nil {
			t.Fatalf("mesh returned endpoint %d without its Conn or Network", i)
		}
		if got := ep.Conn.ID(); got != ids[i] {
			t.Errorf("endpoint %d: ID() = %q, want %q", i, got, ids[i])
		}
		es[i] = &endpoint{Endpoint: ep, index: i}
		if c, ok := ep.Network.(io.Closer); ok && !closers[c] {
			closers[c] = true
			t.Cleanup(func() { c.Close() })
		}
	}
	for _, e := range es { // registered last, so run first: endpoints, then networks
		t.Cleanup(func() { e.Conn.Close() })
	}
	settle(t, es, es)
	return es
}

// settle reads the streams of es until each endpoint in es knows a
// connected peer for every other endpoint in all. Every endpoint greets
// each peer it gets a PeerConnected event for with a hello, so the hellos
// tell which endpoint a PeerID names. The event contract is checked on the
// way.
func settle(t *testing.T, all, es []*endpoint) {
	t.Helper()
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Go(func() {
			deadline := time.Now().Add(timeout)
			for !e.knowsAll(all) {
				p, err := e.nextPacket(time.Until(deadline))
				if err != nil {
					t.Errorf("%s: waiting to be connected to all the others: %v", e, err)
					return
				}
				if p.Event == blockchain.PeerMessage && !strings.HasPrefix(string(p.Data), hello) {
					t.Errorf("%s: unexpected message from %q while connecting: %q", e, p.From, p.Data)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, e := range es {
		want := make([]blockchain.PeerID, 0, len(all)-1)
		for _, o := range all {
			if o != e {
				want = append(want, e.id(o))
			}
		}
		slices.Sort(want)
		eventually(t, fmt.Sprintf("%s to list its peers %v", e, want), func() bool {
			got := e.Conn.Peers()
			if slices.Contains(got, e.Conn.ID()) {
				t.Fatalf("%s.Peers() = %v lists itself", e, got)
			}
			slices.Sort(got)
			return slices.Equal(got, want)
		})
	}
}

// knowsAll reports whether e knows a connected peer for every other
// endpoint in all.
func (e *endpoint) knowsAll(all []*endpoint) bool {
	for _, o := range all {
		if o == e {
			continue
		}
		if id, ok := e.peers[o.index]; !ok || !e.connected[id] {
			return false
		}
	}
	return true
}

// nextPacket returns e's next packet within wait, after checking it
// against the event contract and handling the suite's hellos: it answers
// PeerConnected with a hello and learns whom a hello's sender is.
func (e *endpoint) nextPacket(wait time.Duration) (blockchain.Packet, error) {
	if e.connected == nil {
		e.connected = make(map[blockchain.PeerID]bool)
		e.peers = make(map[int]blockchain.PeerID)
	}
	timer := time.NewTimer(max(wait, 0))
	defer timer.Stop()
	var p blockchain.Packet
	select {
	case packet, ok := <-e.Conn.Receive():
		if !ok {
			return p, errors.New("the Receive channel closed")
		}
		p = packet
	case <-timer.C:
		return p, fmt.Errorf("no packet after %v", wait.Round(time.Millisecond))
	}
	switch p.Event {
	case blockchain.PeerConnected:
		if e.connected[p.From] {
			return p, fmt.Errorf("PeerConnected for %q, which is connected already", p.From)
		}
		e.connected[p.From] = true
		msg := hello + strconv.Itoa(e.index)
		if err := e.Conn.Send(p.From, []byte(msg)); err != nil && !errors.Is(err, blockchain.ErrUnknownPeer) {
			// ErrUnknownPeer: the peer left already, and its
			// PeerDisconnected follows.
			return p, fmt.Errorf("sending a hello to %q: %w", p.From, err)
		}
	case blockchain.PeerDisconnected:
		if !e.connected[p.From] {
			return p, fmt.Errorf("PeerDisconnected for %q, which is not connected", p.From)
		}
		delete(e.connected, p.From)
		for i, id := range e.peers {
			if id == p.From {
				delete(e.peers, i)
			}
		}
	case blockchain.PeerMessage:
		if !e.connected[p.From] {
			return p, fmt.Errorf("a message from %q before its PeerConnected", p.From)
		}
		if rest, ok := strings.CutPrefix(string(p.Data), hello); ok {
			i, err := strconv.Atoi(rest)
			if err != nil {
				return p, fmt.Errorf("mangled hello from %q: %q", p.From, p.Data)
			}
			e.peers[i] = p.From
		}
	default:
		return p, fmt.Errorf("packet from %q with unknown event %v", p.From, p.Event)
	}
	return p, nil
}

// next returns e's next packet, failing t if none comes before the timeout
// or it breaks the event contract.
func (e *endpoint) next(t *testing.T) blockchain.Packet {
	t.Helper()
	p, err := e.nextPacket(timeout)
	if err != nil {
		t.Fatalf("%s: %v", e, err)
	}
	return p
}

// recv returns e's next message, failing t on an event: once the suite's
// endpoints are connected, none is expected unless the test causes it.
func (e *endpoint) recv(t *testing.T) blockchain.Packet {
	t.Helper()
	p := e.next(t)
	if p.Event != blockchain.PeerMessage {
		t.Fatalf("%s: unexpected %v event for %q", e, p.Event, p.From)
	}
	return p
}

// expect receives one message on e and checks its sender and bytes.
func (e *endpoint) expect(t *testing.T, from *endpoint, data []byte) {
	t.Helper()
	p := e.recv(t)
	if p.From != e.id(from) || !bytes.Equal(p.Data, data) {
		t.Fatalf("%s received %d bytes from %q, want %d bytes from %s, %q to %s (equal: %t)",
			e, len(p.Data), p.From, len(data), from, e.id(from), e, bytes.Equal(p.Data, data))
	}
}

// expectDisconnected receives packets on e until a PeerDisconnected event
// for other, which must come before the timeout. Messages from other may
// come before it, not after: the event drops what e knows of other.
func (e *endpoint) expectDisconnected(t *testing.T, other *endpoint) {
	t.Helper()
	id := e.id(other)
	for {
		p := e.next(t)
		if p.Event == blockchain.PeerDisconnected && p.From == id {
			return
		}
		if p.Event != blockchain.PeerMessage || p.From != id {
			t.Fatalf("%s: unexpected %v from %q while waiting for %q to disconnect", e, p.Event, p.From, id)
		}
	}
}

// eventually polls cond until it holds, failing t after the timeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := 100 * time.Microsecond; !cond(); wait = min(2*wait, 20*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(wait)
	}
}

// allBytes returns the 256 byte values, to catch transports that mangle
// binary data.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// window limits how many messages one endpoint has sent to another that
// the receiver has not yet taken, for transports that drop what does not
// fit in a send queue. Its zero value, or nil, limits nothing.
type window chan struct{}

func newWindow(opts Options) window {
	if opts.SendQueue <= 0 {
		return nil
	}
	return make(window, opts.SendQueue)
}

// acquire waits for room for one more message, or reports false if quit
// closes first.
func (w window) acquire(quit <-chan struct{}) bool {
	if w == nil {
		return true
	}
	select {
	case w <- struct{}{}:
		return true
	case <-quit:
		return false
	}
}

// release frees the room of a message received.
func (w window) release() {
	if w != nil {
		<-w
	}
}

func testSendReceive(t *testing.T, mesh MeshFunc, _ Options) {
	es := start(t, mesh, 2)
	alice, bob := es[0], es[1]

	buf := allBytes()
	want := bytes.Clone(buf)
	if err := alice.Conn.Send(alice.id(bob), buf); err != nil {
		t.Fatalf("Send: %v", err)
	}
	for i := range buf { // the caller may reuse its buffer at once
		buf[i] = 0xEE
	}
	bob.expect(t, alice, want)

	if err := bob.Conn.Send(bob.id(alice), []byte("reply")); err != nil {
		t.Fatalf("Send back: %v", err)
	}
	alice.expect(t, bob, []byte("reply"))

	if err := bob.Conn.Send(bob.id(alice), nil); err != nil {
		t.Fatalf("Send of an empty message: %v", err)
	}
	alice.expect(t, bob, nil)
}

func testBroadcast(t *testing.T, mesh MeshFunc, _ Options) {
	es := start(t, mesh, 4)
	sender := es[0]

	buf := []byte("block 42")
	want := bytes.Clone(buf)
	if err := sender.Conn.Broadcast(buf); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	copy(buf, "XXXXXXXX")
	for _, e := range es[1:] {
		e.expect(t, sender, want)
	}

	// The sender must not hear its own broadcast. Absence cannot be
	// observed directly: a peer's message marks a point in time instead,
	// and nothing from the sender itself may come before it.
	if err := es[1].Conn.Send(es[1].id(sender), []byte("marker")); err != nil {
		t.Fatalf("Send marker: %v", err)
	}
	p := sender.recv(t)
	if bytes.Equal(p.Data, want) {
		t.Fatalf("the broadcaster received its own broadcast (From %q)", p.From)
	}
	if p.From != sender.id(es[1]) || string(p.Data) != "marker" {
		t.Fatalf("unexpected packet from %q: %q", p.From, p.Data)
	}
}

func testOrder(t *testing.T, mesh MeshFunc, opts Options) {
	es := start(t, mesh, 2)
	alice, bob := es[0], es[1]

	const count = 1000
	win := newWindow(opts)
	quit := make(chan struct{})
	errc := make(chan error, 1)
	go func() { // receive concurrently, so a small inbox does not drop
		var msg [4]byte
		for i := range count {
			if !win.acquire(quit) {
				errc <- nil
				return
			}
			binary.BigEndian.PutUint32(msg[:], uint32(i))
			if err := alice.Conn.Send(alice.id(bob), msg[:]); err != nil {
				errc <- fmt.Errorf("send #%d: %w", i, err)
				return
			}
		}
		errc <- nil
	}()
	defer func() {
		close(quit)
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	for i := range count {
		p := bob.recv(t)
		win.release()
		if len(p.Data) != 4 || p.From != bob.id(alice) {
			t.Fatalf("packet %d: %d bytes from %q", i, len(p.Data), p.From)
		}
		if got := binary.BigEndian.Uint32(p.Data); got != uint32(i) {
			t.Fatalf("packet %d carries message #%d: order not preserved", i, got)
		}
	}
}

func testMaxMessageSize(t *testing.T, mesh MeshFunc, _ Options) {
	es := start(t, mesh, 2)
	alice, bob := es[0], es[1]

	big := make([]byte, blockchain.MaxMessageSize+1)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := alice.Conn.Send(alice.id(bob), big); !errors.Is(err, blockchain.ErrMessageTooLarge) {
		t.Errorf("Send of MaxMessageSize+1 bytes: err = %v, want ErrMessageTooLarge", err)
	}
	if err := alice.Conn.Broadcast(big); !errors.Is(err, blockchain.ErrMessageTooLarge) {
		t.Errorf("Broadcast of MaxMessageSize+1 bytes: err = %v, want ErrMessageTooLarge", err)
	}
	exact := big[:blockchain.MaxMessageSize]
	if err := alice.Conn.Send(alice.id(bob), exact); err != nil {
		t.Fatalf("Send of MaxMessageSize bytes: %v", err)
	}
	bob.expect(t, alice, exact)
}

func testRejoin(t *testing.T, mesh MeshFunc, _ Options) {
	es := start(t, mesh, 3)
	alice := es[0]
	id := alice.Conn.ID()
	if c, err := alice.Network.Join(id); !errors.Is(err, blockchain.ErrDuplicatePeerID) {
		if err == nil {
			c.Close()
		}
		t.Fatalf("second Join(%q): err = %v, want ErrDuplicatePeerID", id, err)
	}
	if err := alice.Conn.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, e := range es[1:] {
		e.expectDisconnected(t, alice)
	}
	// Once the endpoint has closed, the ID is free again, and the new
	// endpoint connects to the others.
	eventually(t, fmt.Sprintf("Join(%q) to succeed after Close", id), func() bool {
		c, err := alice.Network.Join(id)
		switch {
		case err == nil:
			t.Cleanup(func() { c.Close() })
			alice = &endpoint{Endpoint: Endpoint{Network: alice.Network, Conn: c}, index: alice.index}
			return true
		case errors.Is(err, blockchain.ErrDuplicatePeerID):
			return false
		}
		t.Fatalf("Join(%q) after Close: %v", id, err)
		return false
	})
	es[0] = alice
	settle(t, es, es)
	if err := alice.Conn.Send(alice.id(es[1]), []byte("back")); err != nil {
		t.Fatalf("Send after rejoining: %v", err)
	}
	es[1].expect(t, alice, []byte("back"))
}

func testUnknownPeer(t *testing.T, mesh MeshFunc, _ Options) {
	es := start(t, mesh, 2)
	err := es[0].Conn.Send("nobody", []byte("hello?"))
	if !errors.Is(err, blockchain.ErrUnknownPeer) {
		t.Errorf("Send to a peer that never joined: err = %v, want ErrUnknownPeer", err)
	}
}

func testClose(t *testing.T, mesh MeshFunc, _ Options) {
	es := start(t, mesh, 3)
	alice, bob, carol := es[0], es[1], es[2]

	if err := alice.Conn.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
drain:
	for {
		select {
		case _, ok := <-alice.Conn.Receive():
			if !ok {
				break drain
			}
		case <-timer.C:
			t.Fatalf("Receive channel still open %v after Close", timeout)
		}
	}
	if err := alice.Conn.Send(alice.id(bob), []byte("x")); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Send after Close: err = %v, want ErrClosed", err)
	}
	if err := alice.Conn.Broadcast([]byte("x")); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Broadcast after Close: err = %v, want ErrClosed", err)
	}
	for _, e := range []*endpoint{bob, carol} {
		id := e.id(alice)
		e.expectDisconnected(t, alice)
		eventually(t, fmt.Sprintf("%s to stop listing %s", e, id), func() bool {
			return !slices.Contains(e.Conn.Peers(), id)
		})
		if err := e.Conn.Send(id, []byte("x")); !errors.Is(err, blockchain.ErrUnknownPeer) {
			t.Errorf("%s: Send to a closed peer no longer listed: err = %v, want ErrUnknownPeer", e, err)
		}
	}
	// The others still talk.
	if err := carol.Conn.Send(carol.id(bob), []byte("still here")); err != nil {
		t.Fatalf("Send between the others: %v", err)
	}
	bob.expect(t, carol, []byte("still here"))
	alice.Conn.Close() // a second Close must not panic; its error is the transport's choice
}

func testDrop(t *testing.T, mesh MeshFunc, _ Options) {
	es := start(t, mesh, 3)
	alice, bob, carol := es[0], es[1], es[2]
	d, ok := alice.Conn.(blockchain.Dropper)
	if !ok {
		t.Skip("the transport's Conn does not implement Dropper")
	}
	id := alice.id(bob)
	if err := d.Drop(id, 0); err != nil {
		t.Fatalf("Drop(%q): %v", id, err)
	}
	alice.expectDisconnected(t, bob)
	bob.expectDisconnected(t, alice)
	if slices.Contains(alice.Conn.Peers(), id) {
		t.Errorf("%s still lists %q after dropping it", alice, id)
	}
	if err := d.Drop(id, 0); !errors.Is(err, blockchain.ErrUnknownPeer) {
		t.Errorf("second Drop(%q): err = %v, want ErrUnknownPeer", id, err)
	}
	if err := d.Drop("nobody", 0); !errors.Is(err, blockchain.ErrUnknownPeer) {
		t.Errorf("Drop of a peer that never joined: err = %v, want ErrUnknownPeer", err)
	}
	// The others are unaffected.
	if err := alice.Conn.Send(alice.id(carol), []byte("still here")); err != nil {
		t.Fatalf("Send to a peer not dropped: %v", err)
	}
	carol.expect(t, alice, []byte("still here"))
}

func testConcurrentSend(t *testing.T, mesh MeshFunc, opts Options) {
	es := start(t, mesh, 3)
	alice, bob, carol := es[0], es[1], es[2]

	const goroutines, perGoroutine = 8, 100
	windows := map[blockchain.PeerID]window{ // by bob's name for the sender
		bob.id(alice): newWindow(opts),
		bob.id(carol): newWindow(opts),
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 2*goroutines)
	for _, from := range []*endpoint{alice, carol} {
		win := windows[bob.id(from)]
		for g := range goroutines {
			wg.Go(func() {
				for i := range perGoroutine {
					if !win.acquire(quit) {
						return
					}
					msg := fmt.Appendf(nil, "%s/%d/%d", bob.id(from), g, i)
					if err := from.Conn.Send(from.id(bob), msg); err != nil {
						errc <- fmt.Errorf("%s: Send: %w", from, err)
						return
					}
				}
			})
		}
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() { // the other methods run concurrently too
		for {
			select {
			case <-done:
				return
			default:
				alice.Conn.Peers()
				bob.Conn.Peers()
				carol.Conn.ID()
			}
		}
	})
	defer func() {
		close(quit)
		close(done)
		readers.Wait()
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
	}()

	seen := make(map[string]bool)
	for range 2 * goroutines * perGoroutine {
		p := bob.recv(t)
		key := string(p.Data)
		if !bytes.HasPrefix(p.Data, []byte(p.From+"/")) {
			t.Fatalf("packet %q claims to come from %q", key, p.From)
		}
		if seen[key] {
			t.Fatalf("packet %q received twice", key)
		}
		seen[key] = true
		windows[p.From].release()
	}
}

func testCloseReleasesGoroutines(t *testing.T, mesh MeshFunc, _ Options) {
	base := runtime.NumGoroutine()
	es := start(t, mesh, 3)
	for _, e := range es {
		if err := e.Conn.Broadcast([]byte("hello from " + e.Conn.ID())); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
	}
	for _, e := range es {
		for range len(es) - 1 {
			e.recv(t)
		}
	}
	closed := make(map[io.Closer]bool)
	for _, e := range es {
		if err := e.Conn.Close(); err != nil {
			t.Errorf("%s: Close: %v", e, err)
		}
	}
	for _, e := range es {
		if c, ok := e.Network.(io.Closer); ok && !closed[c] {
			closed[c] = true
			if err := c.Close(); err != nil {
				t.Errorf("network Close: %v", err)
			}
		}
	}

	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines %v after closing, %d before the endpoints:\n%s",
				runtime.NumGoroutine(), timeout, base, buf)
		}
		time.Sleep(time.Millisecond)
	}
}
