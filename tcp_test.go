package blockchain_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/nettest"
)

// tcpTestSendQueue is the send queue of the endpoints tcpMesh builds: small,
// so the suite's windows are exercised.
const tcpTestSendQueue = 64

// tcpWait bounds every wait of the TCP tests: generous, for a loaded
// machine, but finite.
const tcpWait = 10 * time.Second

// newTCP returns a network configured by cfg, closed when t ends. Unset
// redial delays are short, and the jitter seeded.
func newTCP(t *testing.T, cfg blockchain.TCPConfig) *blockchain.TCPNetwork {
	t.Helper()
	if cfg.RedialMin == 0 {
		cfg.RedialMin, cfg.RedialMax = 20*time.Millisecond, 200*time.Millisecond
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.NewPCG(1, 2)
	}
	n, err := blockchain.NewTCPNetwork(cfg)
	if err != nil {
		t.Fatalf("NewTCPNetwork: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// tcpJoin joins n under id; the endpoint closes when t ends.
func tcpJoin(t *testing.T, n *blockchain.TCPNetwork, id blockchain.PeerID) blockchain.Conn {
	t.Helper()
	c, err := n.Join(id)
	if err != nil {
		t.Fatalf("Join(%q): %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tcpMesh is the suite's MeshFunc for TCP: one network per endpoint on
// 127.0.0.1, each configured to dial those joined before it, so every pair
// connects once.
func tcpMesh(t *testing.T, ids []blockchain.PeerID) []nettest.Endpoint {
	t.Helper()
	eps := make([]nettest.Endpoint, len(ids))
	var addrs []string
	for i, id := range ids {
		n := newTCP(t, blockchain.TCPConfig{
			Listen:    "127.0.0.1:0",
			Peers:     slices.Clone(addrs),
			SendQueue: tcpTestSendQueue,
			Rand:      rand.NewPCG(uint64(i), 0),
		})
		c, err := n.Join(id)
		if err != nil {
			t.Fatalf("Join(%q): %v", id, err)
		}
		eps[i] = nettest.Endpoint{Network: n, Conn: c}
		addrs = append(addrs, n.Addr())
	}
	return eps
}

// tcpNext returns c's next packet, failing t after tcpWait.
func tcpNext(t *testing.T, c blockchain.Conn) blockchain.Packet {
	t.Helper()
	timer := time.NewTimer(tcpWait)
	defer timer.Stop()
	select {
	case p, ok := <-c.Receive():
		if !ok {
			t.Fatalf("%s: Receive channel closed", c.ID())
		}
		return p
	case <-timer.C:
		t.Fatalf("%s: no packet after %v", c.ID(), tcpWait)
	}
	panic("unreachable")
}

// tcpAwait reads c's packets until one satisfies match, failing t after
// tcpWait, and returns it; other packets go to skipped, if not nil.
func tcpAwait(t *testing.T, c blockchain.Conn, what string, match func(blockchain.Packet) bool, skipped func(blockchain.Packet)) blockchain.Packet {
	t.Helper()
	deadline := time.NewTimer(tcpWait)
	defer deadline.Stop()
	for {
		select {
		case p, ok := <-c.Receive():
			if !ok {
				t.Fatalf("%s: Receive channel closed while waiting for %s", c.ID(), what)
			}
			if match(p) {
				return p
			}
			if skipped != nil {
				skipped(p)
			}
		case <-deadline.C:
			t.Fatalf("%s: no %s after %v", c.ID(), what, tcpWait)
		}
	}
}

// is returns a matcher for an event from a peer; "" matches any peer.
func is(event blockchain.PeerEvent, from blockchain.PeerID) func(blockchain.Packet) bool {
	return func(p blockchain.Packet) bool {
		return p.Event == event && (from == "" || p.From == from)
	}
}

// tcpEventually polls cond until it holds, failing t after tcpWait.
func tcpEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(tcpWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", tcpWait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawDial opens a plain TCP connection to addr, closed when t ends: a peer
// that speaks whatever the test writes.
func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, tcpWait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer waits until c's peer has closed the connection, reading and
// discarding what it sends, and reports whether it did within wait.
func closedByPeer(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c)
	var nerr net.Error
	return !(errors.As(err, &nerr) && nerr.Timeout())
}

// reservePort returns a loopback address that nothing listens on, for a
// peer that comes up later; the test is skipped if the port is taken by
// then.
func reservePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// frame returns the bytes of a frame header: length and kind.
func frame(size uint32, kind byte, payload ...byte) []byte {
	b := []byte{byte(size >> 24), byte(size >> 16), byte(size >> 8), byte(size), kind}
	return append(b, payload...)
}

// tcpPair is an endpoint listening on loopback, the server, and one that
// keeps connected to it, the client.
type tcpPair struct {
	sn       *blockchain.TCPNetwork
	srv, cli blockchain.Conn
	cliID    blockchain.PeerID // the server's name for the client
	srvID    blockchain.PeerID // the client's name for the server
}

// newTCPPair returns a server and a client configured by server and client
// (Listen and Peers set here), once both have received PeerConnected.
func newTCPPair(t *testing.T, server, client blockchain.TCPConfig) tcpPair {
	t.Helper()
	server.Listen = "127.0.0.1:0"
	var p tcpPair
	p.sn = newTCP(t, server)
	p.srv = tcpJoin(t, p.sn, "server")
	client.Peers = append(client.Peers, p.sn.Addr())
	p.cli = tcpJoin(t, newTCP(t, client), "client")
	p.srvID = tcpAwait(t, p.cli, "PeerConnected", is(blockchain.PeerConnected, blockchain.PeerID(p.sn.Addr())), nil).From
	p.cliID = tcpAwait(t, p.srv, "PeerConnected", is(blockchain.PeerConnected, ""), nil).From
	return p
}

// honest sends count numbered messages from c to peer at the given
// interval, until stop closes.
func honest(t *testing.T, c blockchain.Conn, peer blockchain.PeerID, count int, every time.Duration, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := range count {
			if err := c.Send(peer, []byte(fmt.Sprint(i))); err != nil {
				t.Errorf("honest Send #%d: %v", i, err)
				return
			}
			select {
			case <-tick.C:
			case <-stop:
				return
			}
		}
	})
	return &wg
}

// checkHonest receives count numbered messages from peer on c, in order,
// while other packets go to other, failing t after tcpWait.
func checkHonest(t *testing.T, c blockchain.Conn, peer blockchain.PeerID, count int, other func(blockchain.Packet)) {
	t.Helper()
	for i := range count {
		p := tcpAwait(t, c, fmt.Sprintf("honest message #%d", i), func(p blockchain.Packet) bool {
			return p.Event == blockchain.PeerMessage && p.From == peer
		}, other)
		if string(p.Data) != fmt.Sprint(i) {
			t.Fatalf("honest message #%d reads %q", i, p.Data)
		}
	}
}

func TestTCPConfig(t *testing.T) {
	for _, cfg := range []blockchain.TCPConfig{
		{Peers: []string{"no port"}},
		{Peers: []string{":8333"}},
		{Peers: []string{"127.0.0.1:99999"}},
		{Advertise: "nowhere"},
		{PingInterval: time.Second, IdleTimeout: time.Second},
	} {
		if _, err := blockchain.NewTCPNetwork(cfg); !errors.Is(err, blockchain.ErrInvalidConfig) {
			t.Errorf("NewTCPNetwork(%+v): err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	if _, err := blockchain.NewTCPNetwork(blockchain.TCPConfig{Peers: []string{"x"}}); !errors.Is(err, blockchain.ErrInvalidPeerAddress) {
		t.Errorf("a peer without a port: err = %v, want ErrInvalidPeerAddress too", err)
	}

	// Listening on loopback advertises the bound address; Advertise
	// overrides it; not listening advertises nothing.
	n := newTCP(t, blockchain.TCPConfig{Listen: "127.0.0.1:0"})
	c := tcpJoin(t, n, "a")
	d, ok := c.(blockchain.Dialer)
	if !ok {
		t.Fatal("a TCP endpoint does not implement Dialer")
	}
	if _, ok := c.(blockchain.Dropper); !ok {
		t.Fatal("a TCP endpoint does not implement Dropper")
	}
	if d.LocalAddr() != n.Addr() || n.Addr() == "" {
		t.Errorf("LocalAddr() = %q, Addr() = %q, want the bound address for both", d.LocalAddr(), n.Addr())
	}
	if _, err := n.Join("b"); !errors.Is(err, blockchain.ErrDuplicatePeerID) {
		t.Errorf("second Join: err = %v, want ErrDuplicatePeerID", err)
	}
	if err := d.Connect("no port"); !errors.Is(err, blockchain.ErrInvalidPeerAddress) {
		t.Errorf("Connect(no port): err = %v, want ErrInvalidPeerAddress", err)
	}
	adv := newTCP(t, blockchain.TCPConfig{Listen: "127.0.0.1:0", Advertise: "node.example:8333"})
	if got := tcpJoin(t, adv, "adv").(blockchain.Dialer).LocalAddr(); got != "node.example:8333" {
		t.Errorf("LocalAddr() = %q with Advertise set, want it", got)
	}
	quiet := newTCP(t, blockchain.TCPConfig{})
	if got := tcpJoin(t, quiet, "quiet").(blockchain.Dialer).LocalAddr(); got != "" || quiet.Addr() != "" {
		t.Errorf("not listening: LocalAddr() = %q, Addr() = %q, want none", got, quiet.Addr())
	}

	n.Close()
	if _, err := n.Join("c"); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Join after Close: err = %v, want ErrClosed", err)
	}
	if err := d.Connect("127.0.0.1:1"); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Connect after Close: err = %v, want ErrClosed", err)
	}
}

// Frame kinds, as the format in tcp.go defines them.
const (
	kindData = 0x01
	kindPing = 0x02
	kindPong = 0x03
)

// eventsOf returns a packet handler that records, in order, the packets'
// events from peer, messages included, and fails t on a packet from
// anyone else.
func eventsOf(t *testing.T, peer *blockchain.PeerID, got *[]blockchain.PeerEvent) func(blockchain.Packet) {
	return func(p blockchain.Packet) {
		if p.From != *peer {
			t.Errorf("unexpected %v from %q", p.Event, p.From)
			return
		}
		*got = append(*got, p.Event)
	}
}

// A peer that dials in and sends garbage is disconnected, and the honest
// peer's messages keep flowing, in order.
func TestTCPGarbagePeer(t *testing.T) {
	p := newTCPPair(t, blockchain.TCPConfig{}, blockchain.TCPConfig{})
	rng := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] |= 0x80 // a length far above MaxMessageSize, whatever the seed
	connected, message, disconnected := blockchain.PeerConnected, blockchain.PeerMessage, blockchain.PeerDisconnected
	for i, tt := range []struct {
		garbage []byte
		events  []blockchain.PeerEvent
	}{
		{random, []blockchain.PeerEvent{connected, disconnected}},
		{frame(3, 0x7F, 'a', 'b', 'c'), []blockchain.PeerEvent{connected, disconnected}},  // unknown kind
		{frame(4, kindPing, 1, 2, 3, 4), []blockchain.PeerEvent{connected, disconnected}}, // a ping carries 8 bytes
		// A good frame, then a bad one.
		{append(frame(1, kindData, 'x'), frame(0xFFFFFFFF, kindData)...), []blockchain.PeerEvent{connected, message, disconnected}},
	} {
		stop := make(chan struct{})
		sender := honest(t, p.cli, p.srvID, 20, 5*time.Millisecond, stop)
		evil := rawDial(t, p.sn.Addr())
		evilID := blockchain.PeerID(evil.LocalAddr().String())
		evil.Write(tt.garbage) // the server may hang up before it has read all
		var events []blockchain.PeerEvent
		checkHonest(t, p.srv, p.cliID, 20, eventsOf(t, &evilID, &events))
		close(stop)
		sender.Wait()
		if !closedByPeer(evil, tcpWait) {
			t.Fatalf("garbage #%d: the server kept the connection", i)
		}
		for len(events) < len(tt.events) {
			eventsOf(t, &evilID, &events)(tcpNext(t, p.srv))
		}
		if !slices.Equal(events, tt.events) {
			t.Fatalf("garbage #%d: packets %v from the evil peer, want %v", i, events, tt.events)
		}
		if s := p.sn.Stats(); s.Malformed != uint64(i+1) {
			t.Errorf("garbage #%d: Stats().Malformed = %d, want %d", i, s.Malformed, i+1)
		}
		if got := p.srv.Peers(); !slices.Equal(got, []blockchain.PeerID{p.cliID}) {
			t.Errorf("garbage #%d: server.Peers() = %v, want only the honest %q", i, got, p.cliID)
		}
	}
}

// A peer this endpoint dialed that sends a malformed frame is banned: not
// redialed, not connected to on request.
func TestTCPMalformedOutboundBanned(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	var wg sync.WaitGroup
	wg.Go(func() { // ends when ln closes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		close(accepted)
		for c := range accepted {
			c.Close()
		}
	})
	addr := blockchain.PeerID(ln.Addr().String())
	a := newTCP(t, blockchain.TCPConfig{Peers: []string{string(addr)}, MalformedBan: time.Hour})
	ac := tcpJoin(t, a, "a")
	var evil net.Conn
	select {
	case evil = <-accepted:
		defer evil.Close()
	case <-time.After(tcpWait):
		t.Fatal("the configured peer was not dialed")
	}
	tcpAwait(t, ac, "PeerConnected", is(blockchain.PeerConnected, addr), nil)
	evil.Write(frame(0xFFFFFFFF, kindData))
	tcpAwait(t, ac, "PeerDisconnected", is(blockchain.PeerDisconnected, addr), nil)
	if s := a.Stats(); s.Malformed != 1 || s.Dials != 1 {
		t.Errorf("stats %+v, want 1 malformed and 1 dial", s)
	}
	if err := ac.(blockchain.Dialer).Connect(string(addr)); err != nil {
		t.Errorf("Connect to a banned address: %v, want nil (refused quietly)", err)
	}
	// Redials would come every 20 to 200ms: wait for several.
	select {
	case c := <-accepted:
		c.Close()
		t.Error("the banned peer was dialed again")
	case <-time.After(time.Second):
	}
	if s := a.Stats(); s.Dials != 1 {
		t.Errorf("%d dials, want 1", s.Dials)
	}
}

// A length prefix is checked before anything is allocated, and a payload
// buffer grows only with the bytes that arrive: claiming 8 MiB and sending
// nothing costs next to nothing.
func TestTCPLengthPrefix(t *testing.T) {
	const readTimeout = time.Second
	sn := newTCP(t, blockchain.TCPConfig{Listen: "127.0.0.1:0", ReadTimeout: readTimeout})
	srv := tcpJoin(t, sn, "server")
	const conns = 8
	for _, tt := range []struct {
		name      string
		size      uint32
		malformed bool
	}{
		{"MaxUint32", 0xFFFFFFFF, true},
		{"AboveMax", blockchain.MaxMessageSize + 1, true},
		{"BelowMaxThenSilence", blockchain.MaxMessageSize - 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := sn.Stats()
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			cs := make([]net.Conn, conns)
			for i := range cs {
				cs[i] = rawDial(t, sn.Addr())
				if _, err := cs[i].Write(frame(tt.size, kindData)); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			for i, c := range cs {
				if !closedByPeer(c, tcpWait) {
					t.Fatalf("connection %d still open after %v", i, tcpWait)
				}
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&m1)
			// Each claim is 8 MiB, 64 MiB in all: what was allocated
			// meanwhile, by anything in the process, must not come near.
			if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 4<<20 {
				t.Errorf("%d connections claiming %d bytes each: %d bytes allocated", conns, tt.size, grew)
			}
			for range 2 * conns {
				tcpNext(t, srv) // their connection events
			}
			s := sn.Stats()
			if tt.malformed && s.Malformed-before.Malformed != conns {
				t.Errorf("%d connections closed as malformed, want %d", s.Malformed-before.Malformed, conns)
			}
			if !tt.malformed {
				if s.TimedOut-before.TimedOut != conns {
					t.Errorf("%d connections timed out, want %d", s.TimedOut-before.TimedOut, conns)
				}
				if elapsed < readTimeout/2 {
					t.Errorf("silent frames dropped after %v, before the frame deadline %v", elapsed, readTimeout)
				}
			}
		})
	}
}

// A peer that sends a frame one byte a second is disconnected once the
// frame deadline passes, without a ban, while an honest peer's messages
// flow.
func TestTCPSlowPeer(t *testing.T) {
	const readTimeout = 2 * time.Second
	p := newTCPPair(t, blockchain.TCPConfig{ReadTimeout: readTimeout}, blockchain.TCPConfig{})
	evil := rawDial(t, p.sn.Addr())
	evilID := blockchain.PeerID(evil.LocalAddr().String())
	stop := make(chan struct{})
	first := make(chan time.Time, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		data := frame(20, kindData, make([]byte, 20)...)
		for i, b := range data {
			if _, err := evil.Write([]byte{b}); err != nil {
				return
			}
			if i == 0 {
				first <- time.Now()
			}
			select {
			case <-time.After(time.Second):
			case <-stop:
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	const count = 100 // over 3 seconds
	sender := honest(t, p.cli, p.srvID, count, 30*time.Millisecond, stop)
	var disconnected time.Time
	var events []blockchain.PeerEvent
	record := eventsOf(t, &evilID, &events)
	other := func(pk blockchain.Packet) {
		record(pk)
		if pk.Event == blockchain.PeerDisconnected {
			disconnected = time.Now()
		}
	}
	checkHonest(t, p.srv, p.cliID, count, other)
	sender.Wait()
	for disconnected.IsZero() {
		other(tcpNext(t, p.srv))
	}
	if elapsed := disconnected.Sub(<-first); elapsed < readTimeout || elapsed > readTimeout+3*time.Second {
		t.Errorf("the slow peer was disconnected %v after its first byte, want just after %v", elapsed, readTimeout)
	}
	if s := p.sn.Stats(); s.TimedOut != 1 || s.Malformed != 0 {
		t.Errorf("stats %+v, want 1 timed out and none malformed", s)
	}
	// No ban: the same host connects again.
	again := rawDial(t, p.sn.Addr())
	tcpAwait(t, p.srv, "the slow peer back", is(blockchain.PeerConnected, blockchain.PeerID(again.LocalAddr().String())), nil)
}

// A configured peer that comes up late is redialed with growing, jittered
// delays, and connected to once it listens.
func TestTCPRedialBackoff(t *testing.T) {
	addr := reservePort(t)
	var mu sync.Mutex
	var attempts []time.Time
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		mu.Lock()
		attempts = append(attempts, time.Now())
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	const lo, hi = 50 * time.Millisecond, 400 * time.Millisecond
	a := newTCP(t, blockchain.TCPConfig{Peers: []string{addr}, RedialMin: lo, RedialMax: hi, Dial: dial, Rand: rand.NewPCG(3, 3)})
	ac := tcpJoin(t, a, "a")
	const failures = 6
	tcpEventually(t, fmt.Sprintf("%d dials", failures), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) >= failures
	})
	b, err := blockchain.NewTCPNetwork(blockchain.TCPConfig{Listen: addr})
	if err != nil {
		t.Skipf("the reserved port was taken meanwhile: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	bc := tcpJoin(t, b, "b")
	tcpAwait(t, ac, "PeerConnected", is(blockchain.PeerConnected, blockchain.PeerID(addr)), nil)
	bID := tcpAwait(t, bc, "PeerConnected", is(blockchain.PeerConnected, ""), nil).From

	mu.Lock()
	got := slices.Clone(attempts[:failures])
	mu.Unlock()
	for i := 1; i < len(got); i++ {
		nominal := min(lo<<(i-1), hi)
		// A delay is drawn from [d/2, d); the dial before it takes time
		// too, and a loaded machine may add much.
		if gap := got[i].Sub(got[i-1]); gap < nominal/2 || gap > nominal+2*time.Second {
			t.Errorf("dial %d came %v after the previous one, want about %v-%v", i, gap, nominal/2, nominal)
		}
	}
	if s := a.Stats(); s.DialFailures < failures-1 {
		t.Errorf("Stats().DialFailures = %d, want at least %d", s.DialFailures, failures-1)
	}
	if err := ac.Send(blockchain.PeerID(addr), []byte("late but here")); err != nil {
		t.Fatal(err)
	}
	if pk := tcpAwait(t, bc, "the message", is(blockchain.PeerMessage, bID), nil); string(pk.Data) != "late but here" {
		t.Errorf("received %q", pk.Data)
	}
}

func TestTCPLimits(t *testing.T) {
	t.Run("Inbound", func(t *testing.T) {
		a := newTCP(t, blockchain.TCPConfig{Listen: "127.0.0.1:0", MaxInbound: 2})
		ac := tcpJoin(t, a, "a")
		aID := blockchain.PeerID(a.Addr())
		for i := range 3 {
			d := tcpJoin(t, newTCP(t, blockchain.TCPConfig{}), blockchain.PeerID(fmt.Sprint("d", i)))
			if err := d.(blockchain.Dialer).Connect(a.Addr()); err != nil {
				t.Fatal(err)
			}
			tcpAwait(t, d, "PeerConnected", is(blockchain.PeerConnected, aID), nil)
			if i < 2 {
				tcpAwait(t, ac, "PeerConnected", is(blockchain.PeerConnected, ""), nil)
				continue
			}
			// Over the limit: accepted by the kernel, closed at once.
			tcpAwait(t, d, "PeerDisconnected", is(blockchain.PeerDisconnected, aID), nil)
		}
		if got := ac.Peers(); len(got) != 2 {
			t.Errorf("Peers() = %v, want 2 inbound", got)
		}
		if s := a.Stats(); s.Refused != 1 {
			t.Errorf("Stats().Refused = %d, want 1", s.Refused)
		}
	})

	t.Run("Outbound", func(t *testing.T) {
		var addrs []string
		for i := range 4 {
			n := newTCP(t, blockchain.TCPConfig{Listen: "127.0.0.1:0"})
			tcpJoin(t, n, blockchain.PeerID(fmt.Sprint("b", i)))
			addrs = append(addrs, n.Addr())
		}
		a := newTCP(t, blockchain.TCPConfig{Peers: addrs[:3], MaxOutbound: 2})
		ac := tcpJoin(t, a, "a")
		d := ac.(blockchain.Dialer)
		var connected []blockchain.PeerID
		for range 2 {
			connected = append(connected, tcpAwait(t, ac, "PeerConnected", is(blockchain.PeerConnected, ""), nil).From)
		}
		if err := d.Connect(addrs[3]); err != nil {
			t.Fatal(err)
		}
		// The third configured peer and the one asked for wait: give them
		// time to be dialed if the limit did not hold.
		time.Sleep(300 * time.Millisecond)
		if got, n := ac.Peers(), d.Outbound(); len(got) != 2 || n != 2 {
			t.Errorf("Peers() = %v, Outbound() = %d, want the 2 allowed", got, n)
		}
		if s := a.Stats(); s.Dials != 2 {
			t.Errorf("Stats().Dials = %d, want 2", s.Dials)
		}
		// A slot freed goes to the configured peer that waits.
		if err := ac.(blockchain.Dropper).Drop(connected[0], time.Hour); err != nil {
			t.Fatal(err)
		}
		tcpAwait(t, ac, "PeerDisconnected", is(blockchain.PeerDisconnected, connected[0]), nil)
		third := tcpAwait(t, ac, "PeerConnected", is(blockchain.PeerConnected, ""), nil).From
		if slices.Contains(connected, third) || third == blockchain.PeerID(addrs[3]) {
			t.Errorf("connected to %q, want the configured peer that waited", third)
		}
		tcpEventually(t, "Outbound() == 2", func() bool { return d.Outbound() == 2 })
	})
}

// Drop with a ban stops the redial loop, as a node does when its handshake
// finds that it dialed itself; without a ban the peer is redialed.
func TestTCPDropBan(t *testing.T) {
	t.Run("NoBan", func(t *testing.T) {
		p := newTCPPair(t, blockchain.TCPConfig{}, blockchain.TCPConfig{})
		if err := p.cli.(blockchain.Dropper).Drop(p.srvID, 0); err != nil {
			t.Fatal(err)
		}
		tcpAwait(t, p.cli, "PeerDisconnected", is(blockchain.PeerDisconnected, p.srvID), nil)
		tcpAwait(t, p.cli, "PeerConnected again", is(blockchain.PeerConnected, p.srvID), nil)
	})

	t.Run("Self", func(t *testing.T) {
		addr := reservePort(t)
		var dials atomic.Int64
		a, err := blockchain.NewTCPNetwork(blockchain.TCPConfig{
			Listen: addr, Peers: []string{addr},
			RedialMin: 20 * time.Millisecond, RedialMax: 100 * time.Millisecond,
			Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
				dials.Add(1)
				var d net.Dialer
				return d.DialContext(ctx, network, address)
			},
		})
		if err != nil {
			t.Skipf("the reserved port was taken meanwhile: %v", err)
		}
		t.Cleanup(func() { a.Close() })
		ac := tcpJoin(t, a, "a")
		// Both ends of the one connection are this endpoint's peers.
		ids := map[blockchain.PeerID]bool{}
		for len(ids) < 2 {
			ids[tcpAwait(t, ac, "PeerConnected", is(blockchain.PeerConnected, ""), nil).From] = true
		}
		if !ids[blockchain.PeerID(addr)] {
			t.Fatalf("connected to %v, want %s among them", ids, addr)
		}
		if err := ac.(blockchain.Dropper).Drop(blockchain.PeerID(addr), time.Hour); err != nil {
			t.Fatal(err)
		}
		for len(ids) > 0 {
			delete(ids, tcpAwait(t, ac, "PeerDisconnected", is(blockchain.PeerDisconnected, ""), nil).From)
		}
		before := dials.Load()
		if err := ac.(blockchain.Dialer).Connect(addr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // many redial delays
		if n := dials.Load(); n != before {
			t.Errorf("%d dials after the ban, want none", n-before)
		}
		if got := ac.Peers(); len(got) != 0 {
			t.Errorf("Peers() = %v after dropping itself, want none", got)
		}
		if err := ac.(blockchain.Dropper).Drop(blockchain.PeerID(addr), 0); !errors.Is(err, blockchain.ErrUnknownPeer) {
			t.Errorf("second Drop: err = %v, want ErrUnknownPeer", err)
		}
	})
}

// Pings keep a quiet connection alive; a peer that sends nothing at all is
// disconnected after the idle timeout. On the wire, a ping is answered by a
// pong with the same 8 bytes.
func TestTCPKeepalive(t *testing.T) {
	keep := blockchain.TCPConfig{PingInterval: 50 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
	p := newTCPPair(t, keep, keep)
	notCli := func(pk blockchain.Packet) {
		if pk.From == p.cliID {
			t.Errorf("server: unexpected %v from the client", pk.Event)
		}
	}
	silent := rawDial(t, p.sn.Addr())
	silentID := blockchain.PeerID(silent.LocalAddr().String())
	tcpAwait(t, p.srv, "PeerConnected", is(blockchain.PeerConnected, silentID), notCli)
	start := time.Now()
	tcpAwait(t, p.srv, "PeerDisconnected", is(blockchain.PeerDisconnected, silentID), notCli)
	if elapsed := time.Since(start); elapsed < keep.IdleTimeout/2 {
		t.Errorf("a silent peer was dropped after %v, want about %v", elapsed, keep.IdleTimeout)
	}

	pinger := rawDial(t, p.sn.Addr())
	pinger.SetDeadline(time.Now().Add(tcpWait))
	var hdr [13]byte
	if _, err := io.ReadFull(pinger, hdr[:]); err != nil {
		t.Fatalf("no ping from an endpoint: %v", err)
	}
	if got := hdr[:5]; !slices.Equal(got, frame(8, kindPing)) {
		t.Fatalf("first frame's header %x, want a ping's %x", got, frame(8, kindPing))
	}
	if _, err := pinger.Write(frame(8, kindPing, []byte("12345678")...)); err != nil {
		t.Fatal(err)
	}
	for { // skip the endpoint's own pings
		if _, err := io.ReadFull(pinger, hdr[:]); err != nil {
			t.Fatalf("no pong: %v", err)
		}
		if hdr[4] == kindPong {
			break
		}
	}
	if want := frame(8, kindPong, []byte("12345678")...); !slices.Equal(hdr[:], want) {
		t.Fatalf("pong %x, want %x", hdr, want)
	}

	// Meanwhile the two endpoints, silent but pinging, stayed connected,
	// longer than the idle timeout the silent peer took.
	if s := p.sn.Stats(); s.TimedOut < 1 {
		t.Errorf("Stats().TimedOut = %d, want the silent peer's at least", s.TimedOut)
	}
	if !slices.Contains(p.srv.Peers(), p.cliID) || !slices.Contains(p.cli.Peers(), p.srvID) {
		t.Error("two pinging endpoints disconnected")
	}
	for _, pk := range memnetPackets(p.cli) {
		t.Errorf("client: unexpected %v from %q", pk.Event, pk.From)
	}
}

// Send never blocks: a peer that does not read fills its send queue, what
// does not fit is dropped, and the write deadline disconnects the peer.
func TestTCPSendQueueFull(t *testing.T) {
	for _, tt := range []struct {
		name      string
		sendQueue int
	}{
		{"Count", 4},
		{"Bytes", 1000}, // 2*MaxMessageSize bytes of 1 MiB messages
	} {
		t.Run(tt.name, func(t *testing.T) {
			sn := newTCP(t, blockchain.TCPConfig{Listen: "127.0.0.1:0", SendQueue: tt.sendQueue, WriteTimeout: 500 * time.Millisecond})
			srv := tcpJoin(t, sn, "server")
			sink := rawDial(t, sn.Addr()) // never reads
			sinkID := blockchain.PeerID(sink.LocalAddr().String())
			tcpAwait(t, srv, "PeerConnected", is(blockchain.PeerConnected, sinkID), nil)
			msg := make([]byte, 1<<20)
			const count = 64
			accepted := 0 // the write deadline may disconnect the sink meanwhile
			for i := range count {
				err := srv.Send(sinkID, msg)
				switch {
				case err == nil:
					accepted++
				case !errors.Is(err, blockchain.ErrUnknownPeer):
					t.Fatalf("Send #%d: %v", i, err)
				}
			}
			if s := sn.Stats(); s.Dropped == 0 || s.Sent+s.Dropped != uint64(accepted) {
				t.Errorf("stats %+v, want some of the %d messages dropped and the rest sent", s, accepted)
			}
			tcpAwait(t, srv, "PeerDisconnected", is(blockchain.PeerDisconnected, sinkID), nil)
			if s := sn.Stats(); s.TimedOut != 1 {
				t.Errorf("Stats().TimedOut = %d, want 1", s.TimedOut)
			}
		})
	}
}

// Closing leaves no goroutine behind, whatever each was doing: reading a
// frame, waiting for the receiver, backing off before a redial, writing.
func TestTCPCloseLeavesNoGoroutine(t *testing.T) {
	base := runtime.NumGoroutine()
	dead := reservePort(t)
	var nets []*blockchain.TCPNetwork
	var conns []blockchain.Conn
	var addrs []string
	for i := range 3 {
		n := newTCP(t, blockchain.TCPConfig{Listen: "127.0.0.1:0", Peers: append(slices.Clone(addrs), dead)})
		c := tcpJoin(t, n, blockchain.PeerID(fmt.Sprint("n", i)))
		nets, conns, addrs = append(nets, n), append(conns, c), append(addrs, n.Addr())
	}
	// n2 dials n0 and n1: wait for its connections, and flood n0, which
	// does not read.
	for range 2 {
		tcpAwait(t, conns[2], "PeerConnected", is(blockchain.PeerConnected, ""), nil)
	}
	for range 500 {
		conns[2].Send(blockchain.PeerID(addrs[0]), []byte("unread"))
	}
	tcpEventually(t, "n0's Receive channel to fill", func() bool { return nets[0].Stats().Received >= 60 })
	// A raw peer half way through a frame.
	half := rawDial(t, addrs[1])
	half.Write(frame(100, kindData, 1, 2, 3))

	tcpEventually(t, "the dead peer to be dialed", func() bool { return nets[0].Stats().DialFailures > 0 })
	for _, c := range conns {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	for _, n := range nets {
		if err := n.Close(); err != nil {
			t.Errorf("network Close: %v", err)
		}
	}
	for _, c := range conns {
		if _, ok := <-c.Receive(); ok {
			for range c.Receive() { // what was delivered before Close
			}
		}
	}
	deadline := time.Now().Add(tcpWait)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two nodes agree on a chain over TCP: blocks mined by one reach the
// other, which connects to it as a configured peer.
func TestTCPNodes(t *testing.T) {
	base := runtime.NumGoroutine()
	params := blockchain.TestParams()
	netA := newTCP(t, blockchain.TCPConfig{Listen: "127.0.0.1:0"})
	netB := newTCP(t, blockchain.TCPConfig{Peers: []string{netA.Addr()}})
	var nodes []*blockchain.Node
	for i, n := range []*blockchain.TCPNetwork{netA, netB} {
		chain, err := blockchain.NewChain(params, blockchain.ChainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node, err := blockchain.NewNode(blockchain.NodeConfig{
			ID:           blockchain.PeerID(fmt.Sprint("node-", i)),
			Chain:        chain,
			Network:      n,
			Miner:        blockchain.WalletFromSeed(seed(fmt.Sprint("miner ", i))).Address(),
			TickInterval: 50 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, node)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, node := range nodes {
		wg.Go(func() {
			if err := node.Run(ctx); err != nil {
				t.Errorf("%s: Run: %v", node.ID(), err)
			}
		})
	}
	a, b := nodes[0], nodes[1]
	for range 3 {
		if _, _, err := a.MineBlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tcpEventually(t, "node-1 to follow node-0's tip", func() bool {
		return b.Tip().Hash == a.Tip().Hash
	})
	if h := b.Tip().Height; h != 3 {
		t.Errorf("node-1 at height %d, want 3", h)
	}
	cancel()
	wg.Wait()
	netA.Close()
	netB.Close()
	deadline := time.Now().Add(tcpWait)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
