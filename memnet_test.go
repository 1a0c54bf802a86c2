package blockchain_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

// memnetClock is a manual clock for MemNetworkConfig.AfterFunc: its timers
// fire only when the test says so, in the test's goroutine.
type memnetClock struct {
	mu     sync.Mutex
	now    time.Duration
	timers []*memnetTimer  // pending, in scheduling order
	delays []time.Duration // every delay ever scheduled
}

type memnetTimer struct {
	at time.Duration
	f  func()
}

func (c *memnetClock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &memnetTimer{at: c.now + d, f: f}
	c.timers = append(c.timers, tm)
	c.delays = append(c.delays, d)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, tm)
		if i < 0 {
			return false
		}
		c.timers = slices.Delete(c.timers, i, i+1)
		return true
	}
}

// Advance moves the clock on by d and fires the timers that fall due, the
// earliest first, and returns how many fired.
func (c *memnetClock) Advance(d time.Duration) int {
	c.mu.Lock()
	c.now += d
	var due, rest []*memnetTimer
	for _, tm := range c.timers {
		if tm.at <= c.now {
			due = append(due, tm)
		} else {
			rest = append(rest, tm)
		}
	}
	c.timers = rest
	c.mu.Unlock()
	slices.SortStableFunc(due, func(x, y *memnetTimer) int { return int(x.at - y.at) })
	for _, tm := range due { // outside the lock, as a real clock would
		tm.f()
	}
	return len(due)
}

// FireReverse fires every pending timer, the last scheduled first.
func (c *memnetClock) FireReverse() int {
	c.mu.Lock()
	due := c.timers
	c.timers = nil
	c.mu.Unlock()
	for _, tm := range slices.Backward(due) {
		tm.f()
	}
	return len(due)
}

func (c *memnetClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (c *memnetClock) Delays() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.delays)
}

func memnetJoin(t *testing.T, n *blockchain.MemNetwork, ids ...blockchain.PeerID) []blockchain.Conn {
	t.Helper()
	conns := make([]blockchain.Conn, len(ids))
	for i, id := range ids {
		c, err := n.Join(id)
		if err != nil {
			t.Fatalf("Join(%q): %v", id, err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns
}

func memnetSend(t *testing.T, from blockchain.Conn, to blockchain.PeerID, data []byte) {
	t.Helper()
	if err := from.Send(to, data); err != nil {
		t.Fatalf("%s: Send to %s: %v", from.ID(), to, err)
	}
}

// memnetPackets drains what c holds right now, messages and events,
// without waiting.
func memnetPackets(c blockchain.Conn) []blockchain.Packet {
	var ps []blockchain.Packet
	for {
		select {
		case p, ok := <-c.Receive():
			if !ok {
				return ps
			}
			ps = append(ps, p)
		default:
			return ps
		}
	}
}

// memnetInbox drains what c holds right now, without waiting, and returns
// the messages, skipping connection events.
func memnetInbox(c blockchain.Conn) []blockchain.Packet {
	var ps []blockchain.Packet
	for _, p := range memnetPackets(c) {
		if p.Event == blockchain.PeerMessage {
			ps = append(ps, p)
		}
	}
	return ps
}

func memnetIndex(data []byte) int { return int(binary.BigEndian.Uint32(data)) }

func memnetMsg(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }

// memnetBalanced checks that every message sent is accounted for, once
// nothing is in flight.
func memnetBalanced(t *testing.T, n *blockchain.MemNetwork) blockchain.MemNetworkStats {
	t.Helper()
	s := n.Stats()
	if s.Sent+s.Duplicated != s.Delivered+s.Lost+s.Cut+s.Overflowed {
		t.Errorf("stats do not balance: %+v", s)
	}
	return s
}

func TestMemNetworkLoss(t *testing.T) {
	const count, loss = 10_000, 0.2
	run := func(seed uint64) (blockchain.MemNetworkStats, []bool) {
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
			Seed: seed, Link: blockchain.LinkConfig{Loss: loss}, QueueSize: count,
		})
		defer n.Close()
		cs := memnetJoin(t, n, "alice", "bob")
		for i := range count {
			memnetSend(t, cs[0], "bob", memnetMsg(i))
		}
		// Without delay, delivery happens inside Send: the inbox is complete.
		delivered := make([]bool, count)
		last := -1
		ps := memnetInbox(cs[1])
		for _, p := range ps {
			i := memnetIndex(p.Data)
			if i <= last {
				t.Fatalf("message %d arrived after %d", i, last)
			}
			last, delivered[i] = i, true
		}
		s := memnetBalanced(t, n)
		if uint64(len(ps)) != s.Delivered {
			t.Errorf("received %d messages, Stats().Delivered = %d", len(ps), s.Delivered)
		}
		return s, delivered
	}

	s1, d1 := run(1)
	if s1.Sent != count || s1.Lost+s1.Delivered != count {
		t.Fatalf("stats %+v, want %d sent, each lost or delivered", s1, count)
	}
	// The loss count is binomial: standard deviation sqrt(n p (1-p)) = 40,
	// so 0.4%; the tolerance is five of them.
	if frac := float64(s1.Lost) / count; math.Abs(frac-loss) > 0.02 {
		t.Errorf("lost %.4f of the messages, want %.2f ± 0.02", frac, loss)
	}
	s1again, d1again := run(1)
	if s1again != s1 || !slices.Equal(d1again, d1) {
		t.Errorf("the same seed gave different runs: %+v, then %+v", s1, s1again)
	}
	if _, d2 := run(2); slices.Equal(d2, d1) {
		t.Error("seeds 1 and 2 lost exactly the same messages: the seed is not used")
	}
}

func TestMemNetworkDuplicate(t *testing.T) {
	t.Run("Always", func(t *testing.T) {
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{Link: blockchain.LinkConfig{Duplicate: 1}})
		defer n.Close()
		cs := memnetJoin(t, n, "alice", "bob")
		const count = 100
		for i := range count {
			memnetSend(t, cs[0], "bob", memnetMsg(i))
		}
		ps := memnetInbox(cs[1])
		if len(ps) != 2*count {
			t.Fatalf("received %d packets for %d messages, want two copies each", len(ps), count)
		}
		for i := range count {
			p, q := ps[2*i], ps[2*i+1]
			if memnetIndex(p.Data) != i || memnetIndex(q.Data) != i {
				t.Fatalf("packets %d and %d carry messages %d and %d, want %d twice", 2*i, 2*i+1, memnetIndex(p.Data), memnetIndex(q.Data), i)
			}
			p.Data[0] ^= 0xFF // each copy is the receiver's own
			if memnetIndex(q.Data) != i {
				t.Fatal("the two copies of a message share their bytes")
			}
		}
		if s := memnetBalanced(t, n); s.Sent != count || s.Duplicated != count || s.Delivered != 2*count {
			t.Errorf("stats %+v, want %d sent, duplicated, and twice that delivered", s, count)
		}
	})
	t.Run("Rate", func(t *testing.T) {
		const count, dup = 4000, 0.5
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
			Seed: 7, Link: blockchain.LinkConfig{Duplicate: dup}, QueueSize: 2 * count,
		})
		defer n.Close()
		cs := memnetJoin(t, n, "alice", "bob")
		for i := range count {
			memnetSend(t, cs[0], "bob", memnetMsg(i))
		}
		got := len(memnetInbox(cs[1]))
		s := memnetBalanced(t, n)
		if uint64(got) != count+s.Duplicated {
			t.Errorf("received %d packets, want %d + %d copies", got, count, s.Duplicated)
		}
		// Standard deviation sqrt(4000 × 0.25) ≈ 32, 0.8%: five of them.
		if frac := float64(s.Duplicated) / count; math.Abs(frac-dup) > 0.04 {
			t.Errorf("duplicated %.3f of the messages, want %.2f ± 0.04", frac, dup)
		}
	})
	t.Run("OwnDelay", func(t *testing.T) {
		clock := new(memnetClock)
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
			Seed:      3,
			Link:      blockchain.LinkConfig{Latency: 10 * time.Millisecond, Jitter: 10 * time.Millisecond, Duplicate: 1},
			AfterFunc: clock.AfterFunc,
		})
		defer n.Close()
		cs := memnetJoin(t, n, "alice", "bob")
		memnetSend(t, cs[0], "bob", []byte("twice"))
		if d := clock.Delays(); len(d) != 2 || d[0] == d[1] {
			t.Fatalf("scheduled delays %v, want two different ones", d)
		}
		clock.Advance(time.Hour)
		if ps := memnetInbox(cs[1]); len(ps) != 2 {
			t.Fatalf("received %d copies, want 2", len(ps))
		}
	})
}

func TestMemNetworkDelays(t *testing.T) {
	const latency, jitter = 10 * time.Millisecond, 5 * time.Millisecond
	newNet := func(seed uint64, link blockchain.LinkConfig) (*memnetClock, []blockchain.Conn) {
		clock := new(memnetClock)
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{Seed: seed, Link: link, AfterFunc: clock.AfterFunc})
		t.Cleanup(func() { n.Close() })
		return clock, memnetJoin(t, n, "alice", "bob")
	}
	received := func(c blockchain.Conn) []int {
		var order []int
		for _, p := range memnetInbox(c) {
			order = append(order, memnetIndex(p.Data))
		}
		return order
	}

	t.Run("FIFO", func(t *testing.T) {
		// A link with constant latency keeps order even when its timers
		// fire backwards.
		clock, cs := newNet(1, blockchain.LinkConfig{Latency: latency})
		const count = 50
		for i := range count {
			memnetSend(t, cs[0], "bob", memnetMsg(i))
		}
		if len(memnetInbox(cs[1])) != 0 {
			t.Fatal("a delayed message arrived before its timer fired")
		}
		if fired := clock.FireReverse(); fired != count {
			t.Fatalf("%d timers fired, want %d", fired, count)
		}
		got := received(cs[1])
		if len(got) != count || !slices.IsSorted(got) {
			t.Errorf("received %v, want 0..%d in order", got, count-1)
		}
		for _, d := range clock.Delays() {
			if d != latency {
				t.Fatalf("delay %v, want the latency %v", d, latency)
			}
		}
	})

	t.Run("Jitter", func(t *testing.T) {
		link := blockchain.LinkConfig{Latency: latency, Jitter: jitter}
		clock, cs := newNet(1, link)
		const count = 200
		for i := range count {
			memnetSend(t, cs[0], "bob", memnetMsg(i))
		}
		delays := clock.Delays()
		for _, d := range delays {
			if d < latency || d >= latency+jitter {
				t.Fatalf("delay %v outside [%v, %v)", d, latency, latency+jitter)
			}
		}
		clock.Advance(time.Hour)
		got := received(cs[1])
		if len(got) != count {
			t.Fatalf("received %d messages, want %d", len(got), count)
		}
		if slices.IsSorted(got) {
			t.Error("jitter reordered nothing in 200 messages")
		}
		again, cs2 := newNet(1, link)
		for i := range count {
			memnetSend(t, cs2[0], "bob", memnetMsg(i))
		}
		if !slices.Equal(again.Delays(), delays) {
			t.Error("the same seed drew different delays")
		}
	})

	t.Run("Reorder", func(t *testing.T) {
		clock, cs := newNet(5, blockchain.LinkConfig{Latency: latency, Reorder: 0.3})
		const count = 200
		for i := range count {
			memnetSend(t, cs[0], "bob", memnetMsg(i))
		}
		held := 0
		for _, d := range clock.Delays() {
			switch d {
			case latency:
			case 2 * latency: // held back by an extra Latency+Jitter
				held++
			default:
				t.Fatalf("delay %v, want %v or %v", d, latency, 2*latency)
			}
		}
		if held < count/10 || held > count/2 {
			t.Errorf("%d of %d messages held back, want about 30%%", held, count)
		}
		clock.Advance(latency)
		if got := received(cs[1]); len(got) != count-held || !slices.IsSorted(got) {
			t.Errorf("after the latency: %d messages, want the %d not held, in order", len(got), count-held)
		}
		clock.Advance(latency)
		if got := received(cs[1]); len(got) != held {
			t.Errorf("after twice the latency: %d messages, want the %d held", len(got), held)
		}
	})

	t.Run("ReorderWithoutLatency", func(t *testing.T) {
		clock, cs := newNet(5, blockchain.LinkConfig{Reorder: 1})
		memnetSend(t, cs[0], "bob", []byte("held"))
		if d := clock.Delays(); len(d) != 1 || d[0] != time.Millisecond {
			t.Fatalf("delays %v, want one of 1ms", d)
		}
	})
}

func TestMemNetworkPartition(t *testing.T) {
	clock := new(memnetClock)
	n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
		Link:      blockchain.LinkConfig{Latency: 10 * time.Millisecond},
		AfterFunc: clock.AfterFunc,
	})
	defer n.Close()
	cs := memnetJoin(t, n, "alice", "bob", "carol")
	alice, bob, carol := cs[0], cs[1], cs[2]
	// delivered sends a message, lets the clock run and reports whether it
	// arrived.
	delivered := func(from, to blockchain.Conn) bool {
		t.Helper()
		msg := []byte(fmt.Sprintf("%s to %s", from.ID(), to.ID()))
		memnetSend(t, from, to.ID(), msg)
		clock.Advance(time.Hour)
		ps := memnetInbox(to)
		return len(ps) == 1 && bytes.Equal(ps[0].Data, msg) && ps[0].From == from.ID()
	}

	memnetSend(t, alice, "bob", []byte("in flight"))
	n.Partition([]blockchain.PeerID{"alice"}, []blockchain.PeerID{"bob", "carol"})
	if clock.Advance(time.Hour) != 1 {
		t.Fatal("the message in flight had no timer")
	}
	if ps := memnetInbox(bob); len(ps) != 0 {
		t.Errorf("a message in flight crossed the partition: %q", ps[0].Data)
	}
	if s := n.Stats(); s.Cut != 1 {
		t.Errorf("Stats().Cut = %d, want 1", s.Cut)
	}

	if delivered(alice, bob) || delivered(bob, alice) || delivered(carol, alice) {
		t.Error("a message crossed the partition")
	}
	if !delivered(bob, carol) || !delivered(carol, bob) {
		t.Error("a message within a group was lost")
	}
	if got := alice.Peers(); !slices.Equal(got, []blockchain.PeerID{"bob", "carol"}) {
		t.Errorf("alice.Peers() = %v during the partition, want the topology's [bob carol]", got)
	}

	// A node in no group is cut off; one in two groups bridges them.
	n.Partition([]blockchain.PeerID{"alice", "bob"})
	if !delivered(alice, bob) || delivered(carol, bob) || delivered(alice, carol) {
		t.Error("carol, in no group, is not cut off from exactly everyone")
	}
	n.Partition([]blockchain.PeerID{"alice", "bob"}, []blockchain.PeerID{"bob", "carol"})
	if !delivered(alice, bob) || !delivered(bob, carol) || delivered(alice, carol) || delivered(carol, alice) {
		t.Error("bob does not bridge exactly the two groups")
	}

	n.Heal()
	for _, from := range cs {
		for _, to := range cs {
			if from != to && !delivered(from, to) {
				t.Errorf("%s to %s lost after Heal", from.ID(), to.ID())
			}
		}
	}
	if s := memnetBalanced(t, n); s.Cut != 8 {
		t.Errorf("Stats().Cut = %d, want 8", s.Cut)
	}
}

func TestMemNetworkTopology(t *testing.T) {
	t.Run("Sparse", func(t *testing.T) {
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{Sparse: true})
		defer n.Close()
		n.SetLink("carol", "dave", blockchain.LinkConfig{}) // before they join
		cs := memnetJoin(t, n, "alice", "bob", "carol", "dave")
		alice, bob, carol := cs[0], cs[1], cs[2]
		if got := alice.Peers(); len(got) != 0 {
			t.Errorf("alice.Peers() = %v before any SetLink, want none", got)
		}
		if got := carol.Peers(); !slices.Equal(got, []blockchain.PeerID{"dave"}) {
			t.Errorf("carol.Peers() = %v, want the link set before joining: [dave]", got)
		}
		if err := alice.Send("bob", []byte("x")); !errors.Is(err, blockchain.ErrUnknownPeer) {
			t.Errorf("Send without a link: err = %v, want ErrUnknownPeer", err)
		}

		n.SetLink("alice", "bob", blockchain.LinkConfig{})
		if a, b := alice.Peers(), bob.Peers(); !slices.Equal(a, []blockchain.PeerID{"bob"}) || !slices.Equal(b, []blockchain.PeerID{"alice"}) {
			t.Errorf("after SetLink: alice.Peers() = %v, bob.Peers() = %v, want each other", a, b)
		}
		memnetSend(t, alice, "bob", []byte("hi"))
		memnetSend(t, bob, "alice", []byte("hi"))
		if len(memnetInbox(alice)) != 1 || len(memnetInbox(bob)) != 1 {
			t.Error("a message over a new link was not delivered")
		}
		if err := alice.Send("carol", []byte("x")); !errors.Is(err, blockchain.ErrUnknownPeer) {
			t.Errorf("Send to an unlinked peer: err = %v, want ErrUnknownPeer", err)
		}

		n.SetLink("bob", "alice", blockchain.LinkConfig{Loss: 1}) // overrides, either order
		memnetSend(t, alice, "bob", []byte("lost"))
		if len(memnetInbox(bob)) != 0 || n.Stats().Lost != 1 {
			t.Error("SetLink did not override the link's settings")
		}

		n.RemoveLink("bob", "alice")
		if len(alice.Peers()) != 0 || len(bob.Peers()) != 0 {
			t.Errorf("after RemoveLink: alice.Peers() = %v, bob.Peers() = %v, want none", alice.Peers(), bob.Peers())
		}
		if err := bob.Send("alice", []byte("x")); !errors.Is(err, blockchain.ErrUnknownPeer) {
			t.Errorf("Send after RemoveLink: err = %v, want ErrUnknownPeer", err)
		}
	})

	t.Run("FullMesh", func(t *testing.T) {
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{})
		defer n.Close()
		cs := memnetJoin(t, n, "alice", "bob", "carol")
		if got := cs[0].Peers(); !slices.Equal(got, []blockchain.PeerID{"bob", "carol"}) {
			t.Errorf("alice.Peers() = %v, want [bob carol]", got)
		}
		if err := cs[0].Send("alice", []byte("x")); !errors.Is(err, blockchain.ErrUnknownPeer) {
			t.Errorf("Send to itself: err = %v, want ErrUnknownPeer", err)
		}
		n.RemoveLink("alice", "bob")
		if a, b := cs[0].Peers(), cs[1].Peers(); !slices.Equal(a, []blockchain.PeerID{"carol"}) || !slices.Equal(b, []blockchain.PeerID{"carol"}) {
			t.Errorf("after RemoveLink: alice.Peers() = %v, bob.Peers() = %v, want [carol] each", a, b)
		}
		n.SetLink("alice", "bob", blockchain.LinkConfig{})
		if got := cs[0].Peers(); !slices.Equal(got, []blockchain.PeerID{"bob", "carol"}) {
			t.Errorf("after SetLink: alice.Peers() = %v, want [bob carol]", got)
		}
	})

	t.Run("InFlight", func(t *testing.T) {
		clock := new(memnetClock)
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
			Link:      blockchain.LinkConfig{Latency: time.Second},
			AfterFunc: clock.AfterFunc,
		})
		defer n.Close()
		cs := memnetJoin(t, n, "alice", "bob")
		memnetSend(t, cs[0], "bob", []byte("in flight"))
		n.RemoveLink("alice", "bob")
		clock.Advance(time.Hour)
		if len(memnetInbox(cs[1])) != 0 {
			t.Error("a message in flight arrived over a removed link")
		}
		if s := memnetBalanced(t, n); s.Cut != 1 {
			t.Errorf("Stats().Cut = %d, want 1", s.Cut)
		}
	})
}

func TestMemNetworkOverflow(t *testing.T) {
	const size, count = 4, 10
	n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{QueueSize: size})
	defer n.Close()
	cs := memnetJoin(t, n, "alice", "bob")
	memnetPackets(cs[1])   // the PeerConnected event
	for i := range count { // nobody reads: Send must not block
		memnetSend(t, cs[0], "bob", memnetMsg(i))
	}
	ps := memnetInbox(cs[1])
	if len(ps) != size {
		t.Fatalf("inbox held %d messages, want %d", len(ps), size)
	}
	for i, p := range ps {
		if memnetIndex(p.Data) != i {
			t.Errorf("inbox slot %d holds message %d", i, memnetIndex(p.Data))
		}
	}
	if s := memnetBalanced(t, n); s.Delivered != size || s.Overflowed != count-size {
		t.Errorf("stats %+v, want %d delivered and %d overflowed", s, size, count-size)
	}
	memnetSend(t, cs[0], "bob", []byte("room again"))
	if ps := memnetInbox(cs[1]); len(ps) != 1 {
		t.Errorf("after draining, received %d messages, want 1", len(ps))
	}
}

func TestMemNetworkDrop(t *testing.T) {
	clock := new(memnetClock)
	n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
		Link:      blockchain.LinkConfig{Latency: time.Second},
		AfterFunc: clock.AfterFunc,
	})
	defer n.Close()
	cs := memnetJoin(t, n, "alice", "bob", "carol")
	alice, bob := cs[0], cs[1]
	d, ok := alice.(blockchain.Dropper)
	if !ok {
		t.Fatal("a MemNetwork endpoint does not implement Dropper")
	}

	memnetSend(t, bob, "alice", []byte("invalid block"))
	if err := d.Drop("bob", 0); err != nil {
		t.Fatalf("Drop(bob): %v", err)
	}
	clock.Advance(time.Hour)
	if len(memnetInbox(alice)) != 0 {
		t.Error("a message in flight arrived after Drop")
	}
	if a, b := alice.Peers(), bob.Peers(); !slices.Equal(a, []blockchain.PeerID{"carol"}) || !slices.Equal(b, []blockchain.PeerID{"carol"}) {
		t.Errorf("after Drop: alice.Peers() = %v, bob.Peers() = %v, want [carol] each", a, b)
	}
	if err := bob.Send("alice", []byte("x")); !errors.Is(err, blockchain.ErrUnknownPeer) {
		t.Errorf("bob.Send(alice) after Drop: err = %v, want ErrUnknownPeer", err)
	}
	if err := d.Drop("bob", 0); !errors.Is(err, blockchain.ErrUnknownPeer) {
		t.Errorf("second Drop(bob): err = %v, want ErrUnknownPeer", err)
	}
	if err := d.Drop("alice", 0); !errors.Is(err, blockchain.ErrUnknownPeer) {
		t.Errorf("Drop(self): err = %v, want ErrUnknownPeer", err)
	}

	// In a full mesh, a restarted node reconnects.
	bob.Close()
	bob2 := memnetJoin(t, n, "bob")[0]
	if got := bob2.Peers(); !slices.Equal(got, []blockchain.PeerID{"alice", "carol"}) {
		t.Errorf("rejoined bob.Peers() = %v, want [alice carol]", got)
	}

	alice.Close()
	if err := d.Drop("carol", 0); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Drop after Close: err = %v, want ErrClosed", err)
	}
}

// memnetClosed waits until c's Receive channel is closed.
func memnetClosed(t *testing.T, c blockchain.Conn) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-c.Receive():
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("%s: Receive channel still open after Close", c.ID())
		}
	}
}

// memnetGoroutines waits until the goroutine count is back to base.
func memnetGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMemNetworkClose(t *testing.T) {
	base := runtime.NumGoroutine()
	var stopped atomic.Int64
	n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
		Link: blockchain.LinkConfig{Latency: time.Hour},
		AfterFunc: func(d time.Duration, f func()) func() bool {
			tm := time.AfterFunc(d, f)
			return func() bool {
				ok := tm.Stop()
				if ok {
					stopped.Add(1)
				}
				return ok
			}
		},
	})
	cs := memnetJoin(t, n, "alice", "bob", "carol")
	alice, bob, carol := cs[0], cs[1], cs[2]

	// Closing an endpoint cuts what is in flight to it and stops its timers.
	for i := range 10 {
		memnetSend(t, alice, "carol", memnetMsg(i))
	}
	if err := carol.Close(); err != nil {
		t.Fatalf("carol.Close: %v", err)
	}
	if got := stopped.Load(); got != 10 {
		t.Errorf("closing carol stopped %d timers, want 10", got)
	}
	if s := n.Stats(); s.Cut != 10 {
		t.Errorf("Stats().Cut = %d after closing carol, want 10", s.Cut)
	}

	for i := range 100 {
		memnetSend(t, alice, "bob", memnetMsg(i))
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := stopped.Load(); got != 110 {
		t.Errorf("Close stopped %d timers in all, want 110", got)
	}
	for _, c := range cs {
		memnetClosed(t, c)
	}
	if err := alice.Send("bob", []byte("x")); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Send after Close: err = %v, want ErrClosed", err)
	}
	if err := bob.Broadcast([]byte("x")); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Broadcast after Close: err = %v, want ErrClosed", err)
	}
	if _, err := n.Join("dave"); !errors.Is(err, blockchain.ErrClosed) {
		t.Errorf("Join after Close: err = %v, want ErrClosed", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	memnetGoroutines(t, base)
}

func TestMemNetworkCloseRace(t *testing.T) {
	// Deliveries, instant or by timer, race with closing endpoints and the
	// network; none may panic or leave a goroutine behind.
	for _, latency := range []time.Duration{0, 50 * time.Microsecond} {
		t.Run(fmt.Sprint(latency), func(t *testing.T) {
			base := runtime.NumGoroutine()
			n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
				Seed:      9,
				Link:      blockchain.LinkConfig{Latency: latency, Jitter: latency, Duplicate: 0.1},
				QueueSize: 16,
			})
			cs := memnetJoin(t, n, "a", "b", "c", "d")
			var wg sync.WaitGroup
			quit := make(chan struct{}) // only if the test fails
			for _, c := range cs {
				wg.Go(func() {
					for i := 0; ; i++ {
						err := c.Broadcast(memnetMsg(i))
						if errors.Is(err, blockchain.ErrClosed) {
							return
						}
						if err != nil {
							t.Errorf("Broadcast: %v", err)
							return
						}
						select {
						case <-quit:
							return
						default:
						}
					}
				})
				wg.Go(func() {
					for {
						select {
						case _, ok := <-c.Receive():
							if !ok {
								return
							}
						case <-quit:
							return
						}
					}
				})
			}
			deadline := time.Now().Add(10 * time.Second)
			for n.Stats().Delivered < 100 && time.Now().Before(deadline) {
				runtime.Gosched()
			}
			cs[3].Close()
			n.Close()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				close(quit)
				t.Fatal("Send or Receive did not see the network close")
			}
			memnetGoroutines(t, base)
		})
	}
}

// memnetEvents returns the events of ps as "event from" strings, and
// checks that ps holds nothing else.
func memnetEvents(t *testing.T, ps []blockchain.Packet) []string {
	t.Helper()
	var evs []string
	for _, p := range ps {
		if p.Event == blockchain.PeerMessage {
			t.Fatalf("unexpected message from %s: %q", p.From, p.Data)
		}
		evs = append(evs, fmt.Sprintf("%v %s", p.Event, p.From))
	}
	return evs
}

// memnetExpect receives len(want) packets on c, waiting for each, and
// checks them: "connected x", "disconnected x", or "x: data" for a message.
func memnetExpect(t *testing.T, c blockchain.Conn, want ...string) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	var got []string
	for range want {
		select {
		case p, ok := <-c.Receive():
			if !ok {
				t.Fatalf("%s: Receive closed after %q, want %q", c.ID(), got, want)
			}
			if p.Event == blockchain.PeerMessage {
				got = append(got, fmt.Sprintf("%s: %s", p.From, p.Data))
			} else {
				got = append(got, fmt.Sprintf("%v %s", p.Event, p.From))
			}
		case <-timer.C:
			t.Fatalf("%s: received %q, then nothing; want %q", c.ID(), got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s received %q, want %q", c.ID(), got, want)
	}
}

func TestMemNetworkEvents(t *testing.T) {
	t.Run("FullMesh", func(t *testing.T) {
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{})
		defer n.Close()
		cs := memnetJoin(t, n, "carol", "alice", "bob")
		carol, alice, bob := cs[0], cs[1], cs[2]
		// The newcomer hears of every peer, in ID order; each peer hears
		// of the newcomer.
		for _, tt := range []struct {
			c    blockchain.Conn
			want []string
		}{
			{carol, []string{"connected alice", "connected bob"}},
			{alice, []string{"connected carol", "connected bob"}},
			{bob, []string{"connected alice", "connected carol"}},
		} {
			if got := memnetEvents(t, memnetPackets(tt.c)); !slices.Equal(got, tt.want) {
				t.Errorf("%s: events %q, want %q", tt.c.ID(), got, tt.want)
			}
		}

		// A partition is a cut cable nobody has noticed: no events.
		n.Partition([]blockchain.PeerID{"alice"}, []blockchain.PeerID{"bob", "carol"})
		n.Heal()
		for _, c := range cs {
			if ps := memnetPackets(c); len(ps) != 0 {
				t.Errorf("%s: %d packets after a partition and its healing, want none", c.ID(), len(ps))
			}
		}

		// Close tells the peers; a rejoin connects again.
		bob.Close()
		memnetExpect(t, alice, "disconnected bob")
		memnetExpect(t, carol, "disconnected bob")
		bob = memnetJoin(t, n, "bob")[0]
		memnetExpect(t, bob, "connected alice", "connected carol")
		memnetExpect(t, alice, "connected bob")
		memnetExpect(t, carol, "connected bob")

		// Drop tells both sides; RemoveLink too.
		if err := alice.(blockchain.Dropper).Drop("bob", 0); err != nil {
			t.Fatal(err)
		}
		memnetExpect(t, alice, "disconnected bob")
		memnetExpect(t, bob, "disconnected alice")
		n.RemoveLink("carol", "bob")
		memnetExpect(t, carol, "disconnected bob")
		memnetExpect(t, bob, "disconnected carol")
		n.RemoveLink("carol", "bob") // no link: nothing happens
		if err := n.SetLink("carol", "bob", blockchain.LinkConfig{}); err != nil {
			t.Fatal(err)
		}
		memnetExpect(t, carol, "connected bob")
		memnetExpect(t, bob, "connected carol")
		// New settings for an existing link are no news.
		if err := n.SetLink("bob", "carol", blockchain.LinkConfig{Latency: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []blockchain.Conn{alice, bob, carol} {
			if ps := memnetPackets(c); len(ps) != 0 {
				t.Errorf("%s: %d packets, want none", c.ID(), len(ps))
			}
		}
	})

	t.Run("Sparse", func(t *testing.T) {
		n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{Sparse: true})
		defer n.Close()
		if err := n.SetLink("alice", "bob", blockchain.LinkConfig{}); err != nil { // before either joins
			t.Fatal(err)
		}
		alice := memnetJoin(t, n, "alice")[0]
		if ps := memnetPackets(alice); len(ps) != 0 {
			t.Errorf("alice alone received %d packets", len(ps))
		}
		cs := memnetJoin(t, n, "bob", "carol")
		bob, carol := cs[0], cs[1]
		memnetExpect(t, bob, "connected alice")
		memnetExpect(t, alice, "connected bob")
		if ps := memnetPackets(carol); len(ps) != 0 {
			t.Errorf("carol, linked to nobody, received %d packets", len(ps))
		}
		if err := n.SetLink("carol", "alice", blockchain.LinkConfig{}); err != nil {
			t.Fatal(err)
		}
		memnetExpect(t, carol, "connected alice")
		memnetExpect(t, alice, "connected carol")
		n.RemoveLink("alice", "carol")
		memnetExpect(t, carol, "disconnected alice")
		memnetExpect(t, alice, "disconnected carol")
	})
}

// PeerConnected comes before a peer's first message and PeerDisconnected
// after its last: copies in flight when the peering ends are cut.
func TestMemNetworkEventOrder(t *testing.T) {
	clock := new(memnetClock)
	n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{
		Sparse:    true,
		Link:      blockchain.LinkConfig{Latency: 10 * time.Millisecond},
		AfterFunc: clock.AfterFunc,
	})
	defer n.Close()
	link := blockchain.LinkConfig{Latency: 10 * time.Millisecond}
	cs := memnetJoin(t, n, "alice", "bob")
	alice, bob := cs[0], cs[1]
	if err := n.SetLink("alice", "bob", link); err != nil {
		t.Fatal(err)
	}
	memnetSend(t, alice, "bob", []byte("first"))
	memnetSend(t, bob, "alice", []byte("reply"))
	clock.Advance(time.Second)
	memnetExpect(t, bob, "connected alice", "alice: first")
	memnetExpect(t, alice, "connected bob", "bob: reply")

	// Removed and set again while copies fly both ways: they are cut, not
	// delivered after the disconnection nor on the new link.
	memnetSend(t, alice, "bob", []byte("cut"))
	memnetSend(t, bob, "alice", []byte("cut"))
	n.RemoveLink("alice", "bob")
	if err := n.SetLink("alice", "bob", link); err != nil {
		t.Fatal(err)
	}
	memnetSend(t, alice, "bob", []byte("new link"))
	clock.Advance(time.Second)
	memnetExpect(t, bob, "disconnected alice", "connected alice", "alice: new link")
	memnetExpect(t, alice, "disconnected bob", "connected bob")

	// The same for a sender that closes, and a receiver that drops.
	memnetSend(t, alice, "bob", []byte("cut"))
	alice.Close()
	clock.Advance(time.Second)
	memnetExpect(t, bob, "disconnected alice")
	alice = memnetJoin(t, n, "alice")[0]
	memnetExpect(t, alice, "connected bob")
	memnetExpect(t, bob, "connected alice")
	memnetSend(t, alice, "bob", []byte("cut"))
	if err := bob.(blockchain.Dropper).Drop("alice", 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	memnetExpect(t, bob, "disconnected alice")
	memnetExpect(t, alice, "disconnected bob")
	if ps := memnetPackets(bob); len(ps) != 0 {
		t.Errorf("bob received %d more packets", len(ps))
	}
	if s := memnetBalanced(t, n); s.Cut != 4 {
		t.Errorf("Stats().Cut = %d, want 4", s.Cut)
	}
}

// Events are never dropped: when the inbox is full they wait in a
// backlog, in order with the messages around them, while messages that
// find the inbox full are dropped.
func TestMemNetworkEventsFullInbox(t *testing.T) {
	base := runtime.NumGoroutine()
	const size = 3
	n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{QueueSize: size})
	defer n.Close()
	cs := memnetJoin(t, n, "alice", "bob")
	alice, bob := cs[0], cs[1]
	for i := range 5 { // bob's inbox: connected alice, 0, 1
		memnetSend(t, alice, "bob", []byte(fmt.Sprint(i)))
	}
	carol := memnetJoin(t, n, "carol")[0] // backlog: connected carol
	memnetSend(t, alice, "bob", []byte("dropped"))
	memnetSend(t, carol, "bob", []byte("dropped"))
	alice.Close() // backlog: disconnected alice
	if s := n.Stats(); s.Delivered != 2 || s.Overflowed != 5 {
		t.Errorf("stats %+v, want 2 delivered and 5 overflowed", s)
	}
	memnetExpect(t, bob, "connected alice", "alice: 0", "alice: 1", "connected carol", "disconnected alice")
	memnetGoroutines(t, base) // the backlog is empty: its goroutine ended
	memnetSend(t, carol, "bob", []byte("room again"))
	memnetExpect(t, bob, "carol: room again")

	// A backlog nobody reads ends with the endpoint.
	memnetPackets(carol) // room for carol's events
	for i := range 2 * size {
		memnetSend(t, carol, "bob", []byte(fmt.Sprint(i)))
	}
	n.RemoveLink("bob", "carol")
	if err := n.SetLink("bob", "carol", blockchain.LinkConfig{}); err != nil {
		t.Fatal(err)
	}
	// The backlog's goroutine, started or about to be: both stacks name
	// where it was created.
	if buf := make([]byte, 1<<20); !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "created by github.com/nakachain/blockchain.(*MemNetwork).enqueue") {
		t.Error("no goroutine holds the backlog")
	}
	bob.Close()
	memnetClosed(t, bob)
	memnetGoroutines(t, base)
}

func TestMemNetworkBan(t *testing.T) {
	clock := new(memnetClock)
	n := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{AfterFunc: clock.AfterFunc})
	defer n.Close()
	cs := memnetJoin(t, n, "alice", "bob")
	alice, bob := cs[0], cs[1]
	memnetPackets(alice)
	memnetPackets(bob)
	if err := alice.(blockchain.Dropper).Drop("bob", time.Minute); err != nil {
		t.Fatal(err)
	}
	memnetExpect(t, alice, "disconnected bob")
	memnetExpect(t, bob, "disconnected alice")
	if err := n.SetLink("bob", "alice", blockchain.LinkConfig{}); !errors.Is(err, blockchain.ErrBanned) {
		t.Errorf("SetLink during the ban: err = %v, want ErrBanned", err)
	}
	// A rejoin does not relink a banned pair in a full mesh.
	bob.Close()
	bob = memnetJoin(t, n, "bob")[0]
	if got := bob.Peers(); len(got) != 0 {
		t.Errorf("rejoined bob.Peers() = %v during the ban, want none", got)
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if err := n.SetLink("alice", "bob", blockchain.LinkConfig{}); !errors.Is(err, blockchain.ErrBanned) {
		t.Errorf("SetLink just before the ban expires: err = %v, want ErrBanned", err)
	}
	clock.Advance(time.Nanosecond)
	if got := alice.Peers(); len(got) != 0 {
		t.Errorf("alice.Peers() = %v when the ban expired, want none: the link does not come back by itself", got)
	}
	if err := n.SetLink("alice", "bob", blockchain.LinkConfig{}); err != nil {
		t.Fatalf("SetLink after the ban: %v", err)
	}
	memnetExpect(t, alice, "connected bob")
	memnetExpect(t, bob, "connected alice")

	// Close stops the timers of standing bans.
	if err := bob.(blockchain.Dropper).Drop("alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	if clock.Pending() != 1 {
		t.Fatalf("%d timers pending, want the ban's", clock.Pending())
	}
	n.Close()
	if clock.Pending() != 0 {
		t.Errorf("%d timers pending after Close", clock.Pending())
	}
}
