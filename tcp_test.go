package blockchain_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
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

// tcpPair returns an endpoint listening on loopback and one that keeps
// connected to it, with their names for each other, once both have
// received PeerConnected.
func tcpPair(t *testing.T, server, client blockchain.TCPConfig) (srv, cli blockchain.Conn, cliID, srvID blockchain.PeerID) {
	t.Helper()
	server.Listen = "127.0.0.1:0"
	sn := newTCP(t, server)
	srv = tcpJoin(t, sn, "server")
	client.Peers = append(client.Peers, sn.Addr())
	cli = tcpJoin(t, newTCP(t, client), "client")
	srvID = tcpAwait(t, cli, "PeerConnected", is(blockchain.PeerConnected, blockchain.PeerID(sn.Addr())), nil).From
	cliID = tcpAwait(t, srv, "PeerConnected", is(blockchain.PeerConnected, ""), nil).From
	return srv, cli, cliID, srvID
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
