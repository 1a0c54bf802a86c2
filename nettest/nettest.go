// Package nettest checks that a [blockchain.Network] behaves as a node
// expects of its transport, in the manner of golang.org/x/net/nettest and
// hashicorp/raft's transport tests. Run [TestTransport] from a test of your
// transport:
//
//	func TestTransport(t *testing.T) {
//		nettest.TestTransport(t, func(t *testing.T) blockchain.Network {
//			return mytransport.New(...)
//		}, nettest.Options{})
//	}
//
// A conforming transport satisfies this contract:
//
//   - Join refuses an ID that is joined (ErrDuplicatePeerID) and accepts it
//     again once its endpoint has closed.
//   - Peers eventually lists every other joined endpoint, never the
//     endpoint itself; peers may connect asynchronously.
//   - Send and Broadcast copy the data: the caller may reuse its buffer as
//     soon as they return. A packet arrives intact with its sender in From.
//   - Broadcast reaches every peer once, and not the sender.
//   - Messages from one endpoint to another arrive in the order sent, unless
//     the transport declares itself unordered (see [Options]).
//   - A message of exactly [blockchain.MaxMessageSize] bytes is carried; a
//     larger one is refused with ErrMessageTooLarge. A zero-length message
//     is a message.
//   - Send to a peer that is not joined fails with ErrUnknownPeer.
//   - After Close, the Receive channel is closed, Send and Broadcast fail
//     with ErrClosed, and the other endpoints eventually stop listing the
//     closed one.
//   - Every method is safe for concurrent use.
//   - Closing every endpoint, and the network itself if it is an
//     [io.Closer], releases every goroutine the transport started.
//
// Errors are matched with errors.Is, so a transport may wrap them. The suite
// waits for asynchronous effects by polling with a deadline of 10 seconds,
// never by sleeping a fixed time.
package nettest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

// timeout bounds every wait: for peers to connect, for a delivery, for
// goroutines to exit.
const timeout = 10 * time.Second

// Options describe what the suite may expect of a transport. The zero value
// asks for everything.
type Options struct {
	// Unordered skips the check that messages between one pair arrive in
	// the order sent, for transports, or simulated links with jitter, that
	// may reorder them.
	Unordered bool
}

// TestTransport runs the conformance suite, one subtest per property, each
// on a fresh network from newNetwork. The network must not lose or
// duplicate messages (latency and, with opts.Unordered, reordering are
// fine), and must accept the plain IDs the suite joins ("alice", "bob", "n0"...). If it implements
// [io.Closer], the suite closes it when each subtest ends.
func TestTransport(t *testing.T, newNetwork func(t *testing.T) blockchain.Network, opts Options) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, func(*testing.T) blockchain.Network)
	}{
		{"SendReceive", testSendReceive},
		{"Broadcast", testBroadcast},
		{"Order", func(t *testing.T, nn func(*testing.T) blockchain.Network) {
			if opts.Unordered {
				t.Skip("the transport may reorder messages (Options.Unordered)")
			}
			testOrder(t, nn)
		}},
		{"MaxMessageSize", testMaxMessageSize},
		{"DuplicateJoin", testDuplicateJoin},
		{"UnknownPeer", testUnknownPeer},
		{"Close", testClose},
		{"ConcurrentSend", testConcurrentSend},
		{"CloseReleasesGoroutines", testCloseReleasesGoroutines},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newNetwork) })
	}
}

// setup returns a fresh network, closed when t ends if it is an io.Closer.
func setup(t *testing.T, newNetwork func(*testing.T) blockchain.Network) blockchain.Network {
	t.Helper()
	n := newNetwork(t)
	if n == nil {
		t.Fatal("newNetwork returned nil")
	}
	if c, ok := n.(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	return n
}

// join joins id, checks the endpoint's ID and closes it when t ends.
func join(t *testing.T, n blockchain.Network, id blockchain.PeerID) blockchain.Conn {
	t.Helper()
	c, err := n.Join(id)
	if err != nil {
		t.Fatalf("Join(%q): %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	if got := c.ID(); got != id {
		t.Errorf("Join(%q).ID() = %q", id, got)
	}
	return c
}

// joinAll joins ids and waits until every endpoint lists all the others.
func joinAll(t *testing.T, n blockchain.Network, ids ...blockchain.PeerID) []blockchain.Conn {
	t.Helper()
	conns := make([]blockchain.Conn, len(ids))
	for i, id := range ids {
		conns[i] = join(t, n, id)
	}
	for _, c := range conns {
		eventually(t, fmt.Sprintf("%s to list its peers %v", c.ID(), ids), func() bool {
			peers := c.Peers()
			if slices.Contains(peers, c.ID()) {
				t.Fatalf("%s.Peers() = %v lists itself", c.ID(), peers)
			}
			for _, id := range ids {
				if id != c.ID() && !slices.Contains(peers, id) {
					return false
				}
			}
			return true
		})
	}
	return conns
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

// recv returns c's next packet, failing t if none comes before the timeout
// or the channel is closed.
func recv(t *testing.T, c blockchain.Conn) blockchain.Packet {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var p blockchain.Packet
	select {
	case packet, ok := <-c.Receive():
		if !ok {
			t.Fatalf("%s: Receive channel closed", c.ID())
		}
		p = packet
	case <-timer.C:
		t.Fatalf("%s: no packet after %v", c.ID(), timeout)
	}
	return p
}

// expect receives one packet on c and checks its sender and bytes.
func expect(t *testing.T, c blockchain.Conn, from blockchain.PeerID, data []byte) {
	t.Helper()
	p := recv(t, c)
	if p.From != from || !bytes.Equal(p.Data, data) {
		t.Fatalf("%s received %d bytes from %q, want %d bytes from %q (equal: %t)",
			c.ID(), len(p.Data), p.From, len(data), from, bytes.Equal(p.Data, data))
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

func testSendReceive(t *testing.T, newNetwork func(*testing.T) blockchain.Network) {
	n := setup(t, newNetwork)
	cs := joinAll(t, n, "alice", "bob")
	alice, bob := cs[0], cs[1]

	buf := allBytes()
	want := bytes.Clone(buf)
	if err := alice.Send(bob.ID(), buf); err != nil {
		t.Fatalf("Send: %v", err)
	}
	for i := range buf { // the caller may reuse its buffer at once
		buf[i] = 0xEE
	}
	expect(t, bob, alice.ID(), want)

	if err := bob.Send(alice.ID(), []byte("reply")); err != nil {
		t.Fatalf("Send back: %v", err)
	}
	expect(t, alice, bob.ID(), []byte("reply"))

	if err := bob.Send(alice.ID(), nil); err != nil {
		t.Fatalf("Send of an empty message: %v", err)
	}
	expect(t, alice, bob.ID(), nil)
}

func testBroadcast(t *testing.T, newNetwork func(*testing.T) blockchain.Network) {
	n := setup(t, newNetwork)
	cs := joinAll(t, n, "n0", "n1", "n2", "n3")
	sender := cs[0]

	buf := []byte("block 42")
	want := bytes.Clone(buf)
	if err := sender.Broadcast(buf); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	copy(buf, "XXXXXXXX")
	for _, c := range cs[1:] {
		expect(t, c, sender.ID(), want)
	}

	// The sender must not hear its own broadcast. Absence cannot be
	// observed directly: a peer's message marks a point in time instead,
	// and nothing from the sender itself may come before it.
	if err := cs[1].Send(sender.ID(), []byte("marker")); err != nil {
		t.Fatalf("Send marker: %v", err)
	}
	p := recv(t, sender)
	if p.From == sender.ID() || bytes.Equal(p.Data, want) {
		t.Fatalf("the broadcaster received its own broadcast (From %q)", p.From)
	}
	if p.From != cs[1].ID() || string(p.Data) != "marker" {
		t.Fatalf("unexpected packet from %q: %q", p.From, p.Data)
	}
}

func testOrder(t *testing.T, newNetwork func(*testing.T) blockchain.Network) {
	n := setup(t, newNetwork)
	cs := joinAll(t, n, "alice", "bob")
	alice, bob := cs[0], cs[1]

	const count = 1000
	errc := make(chan error, 1)
	go func() { // receive concurrently, so a small inbox does not drop
		var msg [4]byte
		for i := range count {
			binary.BigEndian.PutUint32(msg[:], uint32(i))
			if err := alice.Send(bob.ID(), msg[:]); err != nil {
				errc <- fmt.Errorf("Send #%d: %w", i, err)
				return
			}
		}
		errc <- nil
	}()
	for i := range count {
		p := recv(t, bob)
		if len(p.Data) != 4 || p.From != alice.ID() {
			t.Fatalf("packet %d: %d bytes from %q", i, len(p.Data), p.From)
		}
		if got := binary.BigEndian.Uint32(p.Data); got != uint32(i) {
			t.Fatalf("packet %d carries message #%d: order not preserved", i, got)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func testMaxMessageSize(t *testing.T, newNetwork func(*testing.T) blockchain.Network) {
	n := setup(t, newNetwork)
	cs := joinAll(t, n, "alice", "bob")
	alice, bob := cs[0], cs[1]

	big := make([]byte, blockchain.MaxMessageSize+1)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := alice.Send(bob.ID(), big); !errors.Is(err, blockchain.ErrMessageTooLarge) {
		t.Errorf("Send of MaxMessageSize+1 bytes: err = %v, want ErrMessageTooLarge", err)
	}
	if err := alice.Broadcast(big); !errors.Is(err, blockchain.ErrMessageTooLarge) {
		t.Errorf("Broadcast of MaxMessageSize+1 bytes: err = %v, want ErrMessageTooLarge", err)
	}
	exact := big[:blockchain.MaxMessageSize]
	if err := alice.Send(bob.ID(), exact); err != nil {
		t.Fatalf("Send of MaxMessageSize bytes: %v", err)
	}
	expect(t, bob, alice.ID(), exact)
}

func testDuplicateJoin(t *testing.T, newNetwork func(*testing.T) blockchain.Network) {
	n := setup(t, newNetwork)
	first := join(t, n, "alice")
	if c, err := n.Join("alice"); !errors.Is(err, blockchain.ErrDuplicatePeerID) {
		if err == nil {
			c.Close()
		}
		t.Fatalf("second Join(alice): err = %v, want ErrDuplicatePeerID", err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Once the endpoint has closed, the ID is free again.
	eventually(t, "Join(alice) to succeed after Close", func() bool {
		c, err := n.Join("alice")
		switch {
		case err == nil:
			t.Cleanup(func() { c.Close() })
			return true
		case errors.Is(err, blockchain.ErrDuplicatePeerID):
			return false
		}
		t.Fatalf("Join(alice) after Close: %v", err)
		return false
	})
}

func testUnknownPeer(t *testing.T, newNetwork func(*testing.T) blockchain.Network) {
	n := setup(t, newNetwork)
	cs := joinAll(t, n, "alice", "bob")
	err := cs[0].Send("nobody", []byte("hello?"))
	if !errors.Is(err, blockchain.ErrUnknownPeer) {
		t.Errorf("Send to a peer that never joined: err = %v, want ErrUnknownPeer", err)
	}
}

func testClose(t *testing.T, newNetwork func(*testing.T) blockchain.Network) {
	n := setup(t, newNetwork)
	cs := joinAll(t, n, "alice", "bob")
	alice, bob := cs[0], cs[1]

	if err := alice.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
drain:
	for {
		select {
		case _, ok := <-alice.Receive():
			if !ok {
				break drain
			}
		case <-timer.C:
			t.Fatalf("Receive channel still open %v after Close", timeout)
		}
	}
	if err := alice.Send(bob.ID(), []byte("x")); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Send after Close: err = %v, want ErrClosed", err)
	}
	if err := alice.Broadcast([]byte("x")); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Broadcast after Close: err = %v, want ErrClosed", err)
	}
	eventually(t, "bob to stop listing alice", func() bool {
		return !slices.Contains(bob.Peers(), alice.ID())
	})
	if err := bob.Send(alice.ID(), []byte("x")); !errors.Is(err, blockchain.ErrUnknownPeer) {
		t.Errorf("Send to a closed peer no longer listed: err = %v, want ErrUnknownPeer", err)
	}
	alice.Close() // a second Close must not panic; its error is the transport's choice
}

func testConcurrentSend(t *testing.T, newNetwork func(*testing.T) blockchain.Network) {
	n := setup(t, newNetwork)
	cs := joinAll(t, n, "alice", "bob", "carol")
	alice, bob, carol := cs[0], cs[1], cs[2]

	const goroutines, perGoroutine = 8, 100
	var wg sync.WaitGroup
	errc := make(chan error, 2*goroutines)
	for _, from := range []blockchain.Conn{alice, carol} {
		for g := range goroutines {
			wg.Go(func() {
				for i := range perGoroutine {
					msg := fmt.Appendf(nil, "%s/%d/%d", from.ID(), g, i)
					if err := from.Send(bob.ID(), msg); err != nil {
						errc <- fmt.Errorf("%s: Send: %w", from.ID(), err)
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
				alice.Peers()
				bob.Peers()
				carol.ID()
			}
		}
	})
	defer func() { close(done); readers.Wait() }()

	seen := make(map[string]bool)
	for range 2 * goroutines * perGoroutine {
		p := recv(t, bob)
		key := string(p.Data)
		if !bytes.HasPrefix(p.Data, []byte(p.From+"/")) {
			t.Fatalf("packet %q claims to come from %q", key, p.From)
		}
		if seen[key] {
			t.Fatalf("packet %q received twice", key)
		}
		seen[key] = true
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func testCloseReleasesGoroutines(t *testing.T, newNetwork func(*testing.T) blockchain.Network) {
	base := runtime.NumGoroutine()
	n := newNetwork(t)
	if n == nil {
		t.Fatal("newNetwork returned nil")
	}
	closer, _ := n.(io.Closer)
	if closer != nil {
		t.Cleanup(func() { closer.Close() })
	}
	cs := joinAll(t, n, "n0", "n1", "n2")
	for _, c := range cs {
		if err := c.Broadcast([]byte("hello from " + c.ID())); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
	}
	for _, c := range cs {
		for range len(cs) - 1 {
			recv(t, c)
		}
	}
	for _, c := range cs {
		if err := c.Close(); err != nil {
			t.Errorf("%s: Close: %v", c.ID(), err)
		}
	}
	if closer != nil {
		if err := closer.Close(); err != nil {
			t.Errorf("network Close: %v", err)
		}
	}

	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines %v after closing, %d before the network:\n%s",
				runtime.NumGoroutine(), timeout, base, buf)
		}
		time.Sleep(time.Millisecond)
	}
}
