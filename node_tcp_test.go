package blockchain

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// Nodes over real TCP sockets on loopback: hostile peers, discovery, and
// sync speed.

// tcpNode starts a node on a new TCPNetwork that listens on loopback and
// keeps peers connected; it returns the node and its network.
func tcpNode(t testing.TB, id PeerID, c *Chain, peers []string, mod func(*NodeConfig, *TCPConfig)) (*Node, *TCPNetwork) {
	t.Helper()
	ncfg := NodeConfig{
		ID: id, Chain: c, Seed: uint64(len(id))*1000 + uint64(id[len(id)-1]),
		TickInterval: 20 * time.Millisecond, SyncInterval: 200 * time.Millisecond,
		RequestTimeout: 500 * time.Millisecond, HandshakeTimeout: 3 * time.Second,
	}
	tcfg := TCPConfig{Listen: "127.0.0.1:0", Peers: peers, RedialMin: 50 * time.Millisecond, RedialMax: 500 * time.Millisecond}
	if mod != nil {
		mod(&ncfg, &tcfg)
	}
	net, err := NewTCPNetwork(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	ncfg.Network = net
	n, err := NewNode(ncfg)
	if err != nil {
		t.Fatal(err)
	}
	return n, net
}

// rawTCP is a scripted peer on a real socket: it speaks frames directly.
type rawTCP struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialTCP(t testing.TB, addr string) *rawTCP {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawTCP{t: t, conn: c, r: bufio.NewReader(c)}
}

func (r *rawTCP) sendMsg(m Message) {
	data, err := EncodeMessage(m)
	if err != nil {
		r.t.Fatal(err)
	}
	_ = r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = r.conn.Write(appendFrame(nil, frameData, data))
}

// next returns the next message from the node, skipping pings; nil when
// the connection ends.
func (r *rawTCP) next(timeout time.Duration) Message {
	_ = r.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		kind, payload, err := readFrame(r.r, MaxMessageSize, frameChunk, nil)
		if err != nil {
			return nil
		}
		if kind != frameData {
			continue
		}
		m, err := DecodeMessage(payload)
		if err != nil {
			r.t.Fatalf("the node sent an undecodable message: %v", err)
		}
		return m
	}
}

// handshake answers the node's version with one for chainID.
func (r *rawTCP) handshake(chainID Hash, work *big.Int) {
	r.t.Helper()
	if _, ok := r.next(5 * time.Second).(VersionMsg); !ok {
		r.t.Fatal("the node did not open with its version")
	}
	r.sendMsg(VersionMsg{Version: ProtocolVersion, ChainID: chainID, Nonce: 0xbadbad, TotalWork: work})
	r.sendMsg(VerAckMsg{})
}

// closed reports whether the node closed the connection within timeout.
func (r *rawTCP) closed(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_ = r.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := r.r.ReadByte(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return true
		}
	}
	return false
}

// hostileSetup runs a victim node with a chain of 10 blocks and an honest
// peer connected to it, and checks on return that the honest peer is
// still served: a payment through it reaches the victim.
func hostileSetup(t *testing.T, mod func(*NodeConfig, *TCPConfig)) (g *gen, victim, honest *Node, victimNet *TCPNetwork, check func()) {
	t.Helper()
	g = newGen(t, 2)
	blocks := g.branch(g.genesis, 10, nil)
	vc, hc := g.chain(), g.chain()
	g.add(vc, blocks...)
	g.add(hc, blocks...)
	now := func() time.Time { return g.now }
	victim, victimNet = tcpNode(t, "victim", vc, nil, func(nc *NodeConfig, tc *TCPConfig) {
		nc.Now = now
		if mod != nil {
			mod(nc, tc)
		}
	})
	honest, _ = tcpNode(t, "honest", hc, []string{victimNet.Addr()}, func(nc *NodeConfig, _ *TCPConfig) { nc.Now = now })
	runNodes(t, victim, honest)
	if !waitUntil(victim, 10*time.Second, func() bool { return len(victim.Peers()) == 1 }) {
		t.Fatal("the honest peer did not connect")
	}
	nonce := uint64(0)
	check = func() {
		t.Helper()
		tx := g.pay(0, 1, 1, 1, nonce)
		nonce++
		if err := honest.SubmitTransaction(tx); err != nil {
			t.Fatal(err)
		}
		if !waitUntil(victim, 10*time.Second, func() bool { return victim.Mempool().Has(tx.ID()) }) {
			t.Fatal("the honest peer's payment did not reach the victim")
		}
		if victim.Tip().Height != 10 {
			t.Fatalf("the victim's tip moved to %d", victim.Tip().Height)
		}
	}
	return g, victim, honest, victimNet, check
}

func TestTCPHostilePeers(t *testing.T) {
	t.Run("random bytes", func(t *testing.T) {
		_, _, _, vnet, check := hostileSetup(t, nil)
		evil := dialTCP(t, vnet.Addr())
		junk := make([]byte, 4096)
		_, _ = rand.Read(junk)
		_, _ = evil.conn.Write(junk)
		if !evil.closed(5 * time.Second) {
			t.Fatal("the node kept a peer that sent random bytes")
		}
		check()
	})
	t.Run("length prefixes claiming the most the prefix can hold", func(t *testing.T) {
		_, _, _, vnet, check := hostileSetup(t, nil)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var evils []*rawTCP
		for i := range 40 {
			evil := dialTCP(t, vnet.Addr())
			claim := []byte{0xff, 0xff, 0xff, 0xff, frameData}
			if i%2 == 1 { // within the limit, and then nothing
				claim = appendFrame(nil, frameData, nil)[:0]
				claim = append(claim, 0x00, 0x7f, 0xff, 0xff, frameData, 1, 2, 3)
			}
			_, _ = evil.conn.Write(claim)
			evils = append(evils, evil)
		}
		time.Sleep(500 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("40 connections claiming %d MiB in all: heap grew %d KiB", 20*(1<<32-1)>>20+20*(8<<20)>>20, grew>>10)
		if grew > 8<<20 {
			t.Fatalf("the heap grew by %d bytes for frames that never came", grew)
		}
		if !evils[0].closed(5 * time.Second) {
			t.Fatal("a length above the maximum did not close the connection")
		}
		check()
	})
	t.Run("another chain", func(t *testing.T) {
		var logs capture
		_, _, _, vnet, check := hostileSetup(t, func(nc *NodeConfig, _ *TCPConfig) { nc.Logger = slog.New(&logs) })
		evil := dialTCP(t, vnet.Addr())
		evil.handshake(Hash{0xee}, new(big.Int))
		if !evil.closed(5 * time.Second) {
			t.Fatal("the node kept a peer of another chain")
		}
		if !logs.has(slog.LevelWarn, "another chain") {
			t.Fatal("no log line says why")
		}
		check()
	})
	t.Run("one byte a second", func(t *testing.T) {
		_, _, _, vnet, check := hostileSetup(t, func(_ *NodeConfig, tc *TCPConfig) { tc.ReadTimeout = 2 * time.Second })
		evil := dialTCP(t, vnet.Addr())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			frame := appendFrame(nil, frameData, make([]byte, 100))
			for _, b := range frame {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				if _, err := evil.conn.Write([]byte{b}); err != nil {
					return
				}
			}
		}()
		check()
		if !evil.closed(8 * time.Second) {
			t.Fatal("a peer trickling a frame was not disconnected")
		}
		check()
	})
	t.Run("an invalid block", func(t *testing.T) {
		g, victim, _, vnet, check := hostileSetup(t, nil)
		evil := dialTCP(t, vnet.Addr())
		evil.handshake(g.chainID, victim.Tip().TotalWork)
		tip, _ := victim.Chain().BlockByHeight(10)
		bad := g.pay(0, 1, 1, 1, 0)
		bad.Signature[0] ^= 1
		evil.sendMsg(BlockMsg{Block: *g.next(tip, []Transaction{bad})})
		if !evil.closed(5 * time.Second) {
			t.Fatal("the node kept a peer that sent an invalid block")
		}
		check()
	})
	t.Run("self-connection", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		var logs capture
		_, _, _, vnet, check := hostileSetup(t, func(nc *NodeConfig, tc *TCPConfig) {
			tc.Listen, tc.Peers = addr, []string{addr} // it dials itself
			nc.Logger = slog.New(&logs)
		})
		time.Sleep(2 * time.Second)
		if !logs.has(slog.LevelInfo, "connected to itself") {
			t.Fatal("the node did not notice it dialed itself")
		}
		if dials := vnet.Stats().Dials; dials > 2 {
			t.Fatalf("the node dialed itself %d times", dials)
		}
		check()
	})
}

// A peer that claims more work but never answers a sync request does not
// stop the sync: it completes from an honest peer.
func TestTCPSyncPastAPeerThatNeverAnswers(t *testing.T) {
	g := newGen(t, 1)
	blocks := g.branch(g.genesis, 300, nil)
	sc := g.chain()
	g.add(sc, blocks...)
	now := func() time.Time { return g.now }
	victim, vnet := tcpNode(t, "victim", g.chain(), nil, func(nc *NodeConfig, _ *TCPConfig) { nc.Now = now })
	runNodes(t, victim)
	// The silent peer connects first and claims the most work.
	silent := dialTCP(t, vnet.Addr())
	silent.handshake(g.chainID, new(big.Int).Lsh(big.NewInt(1), 200))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	asked := 0
	var mu sync.Mutex
	go func() {
		for ctx.Err() == nil {
			m := silent.next(time.Second)
			switch m.(type) {
			case GetHeadersMsg, GetDataMsg:
				mu.Lock()
				asked++
				mu.Unlock()
			case nil:
				if ctx.Err() != nil {
					return
				}
			}
		}
	}()
	server, _ := tcpNode(t, "server", sc, []string{vnet.Addr()}, func(nc *NodeConfig, _ *TCPConfig) { nc.Now = now })
	runNodes(t, server)
	if !waitUntil(victim, 20*time.Second, func() bool { return victim.Tip().Height == 300 }) {
		t.Fatalf("victim at %d, want 300", victim.Tip().Height)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked == 0 {
		t.Fatal("the silent peer was never asked: the test proves nothing")
	}
	t.Logf("the silent peer was asked %d times; the sync completed from the honest peer", asked)
}

// Discovery: 8 nodes, each given only the first node's address, connect
// to at least 3 peers each and agree on one tip after payments.
func TestTCPDiscovery(t *testing.T) {
	g := newGen(t, 4)
	first, firstNet := tcpNode(t, "node-0", g.chain(), nil, nil)
	nodes := []*Node{first}
	for i := 1; i < 8; i++ {
		n, _ := tcpNode(t, PeerID(fmt.Sprintf("node-%d", i)), g.chain(), []string{firstNet.Addr()}, func(nc *NodeConfig, _ *TCPConfig) {
			nc.Miner = testWallet(300 + i).Address()
			nc.Mining = i <= 2 // two miners, paced at the test chain's block time
		})
		nodes = append(nodes, n)
	}
	runNodes(t, nodes...)
	if !waitUntil(first, 30*time.Second, func() bool {
		for _, n := range nodes {
			if len(n.Peers()) < 3 {
				return false
			}
		}
		return true
	}) {
		for _, n := range nodes {
			t.Logf("%s: %d peers", n.ID(), len(n.Peers()))
		}
		t.Fatal("discovery did not give every node 3 peers")
	}
	var sent []Transaction
	for i := range 8 {
		// Each person pays through one node (the one whose nonces it
		// knows): 4 people, two payments each, through nodes 4 to 7.
		tx, err := nodes[4+i%4].Send(g.people[i%4], g.people[(i+1)%4].Address(), 10, 2)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, tx)
	}
	for _, tx := range sent {
		if _, err := nodes[7].WaitConfirmed(t.Context(), tx.ID(), 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes[1:3] {
		n.SetMining(false)
	}
	ok := waitUntil(first, 30*time.Second, func() bool {
		return converged(nodes) && confirmedEverywhere(nodes, sent)
	})
	if !ok {
		for _, n := range nodes {
			t.Logf("%s: height %d tip %s peers %d", n.ID(), n.Tip().Height, n.Tip().Hash.Short(8), len(n.Peers()))
		}
		t.Fatal("the 8 nodes do not agree on one tip with every payment")
	}
	for _, n := range nodes {
		t.Logf("%s: %d peers, height %d", n.ID(), len(n.Peers()), n.Tip().Height)
	}
}

// syncTCP runs servers holding the blocks and a newcomer dialing all of
// them over TCP on loopback, and returns how long the newcomer took to
// reach the servers' tip.
func syncTCP(tb testing.TB, g *gen, servers []*Chain) time.Duration {
	tb.Helper()
	now := func() time.Time { return g.now }
	var addrs []string
	var nodes []*Node
	for i, c := range servers {
		n, net := tcpNode(tb, PeerID(fmt.Sprintf("server-%d", i)), c, nil, func(nc *NodeConfig, _ *TCPConfig) { nc.Now = now })
		addrs = append(addrs, net.Addr())
		nodes = append(nodes, n)
	}
	newcomer, _ := tcpNode(tb, "newcomer", g.chain(), addrs, func(nc *NodeConfig, _ *TCPConfig) { nc.Now = now })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, n := range nodes {
		wg.Go(func() { _ = n.Run(ctx) })
	}
	start := time.Now()
	wg.Go(func() { _ = newcomer.Run(ctx) })
	want := servers[0].Tip().Hash
	if !waitUntil(newcomer, 120*time.Second, func() bool { return newcomer.Tip().Hash == want }) {
		tb.Fatalf("newcomer at %d of %d", newcomer.Tip().Height, servers[0].Height())
	}
	return time.Since(start)
}

// BenchmarkSyncTCP: a new node catches up a 2,000-block chain from one peer
// over TCP on loopback; .ci/bars compares its blocks/s with ConnectChain's.
func BenchmarkSyncTCP(b *testing.B) {
	const n = 2000
	g := newGen(b, 10)
	blocks := smallChain(b, g, n)
	server := g.chain()
	if _, err := server.AddBlocks(blocks, g.now); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for b.Loop() {
		total += syncTCP(b, g, []*Chain{server})
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "blocks/s")
}

// BenchmarkSyncPeers: a 10,000-block sync from 3 peers at once is no
// slower than from 1 (bar 0.9): the body requests spread over the peers.
func BenchmarkSyncPeers(b *testing.B) {
	const n = 10_000
	g := newGen(b, 10)
	blocks := smallChain(b, g, n)
	var servers []*Chain
	for range 3 {
		c := g.chain()
		for chunk := range slices.Chunk(blocks, 1000) {
			if _, err := c.AddBlocks(chunk, g.now); err != nil {
				b.Fatal(err)
			}
		}
		servers = append(servers, c)
	}
	for _, peers := range []int{1, 3} {
		b.Run(fmt.Sprintf("peers=%d", peers), func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				total += syncTCP(b, g, servers[:peers])
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "blocks/s")
		})
	}
}
