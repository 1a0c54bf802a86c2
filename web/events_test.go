package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

// sseEvent is one event read from a stream.
type sseEvent struct {
	id, name string
	data     map[string]any
}

// sseStream reads an event stream in a goroutine into a channel.
type sseStream struct {
	events chan sseEvent
	cancel context.CancelFunc
	done   chan struct{}
	status int
}

// openStream opens base/api/events, sending lastID as Last-Event-ID if not
// empty, and reads it until closed.
func openStream(t *testing.T, base, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sseStream{events: make(chan sseEvent, 256), cancel: cancel, done: make(chan struct{}), status: res.StatusCode}
	if ct := res.Header.Get("Content-Type"); res.StatusCode == 200 && ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	go func() {
		defer close(s.done)
		defer close(s.events)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 4<<10), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					select {
					case s.events <- ev:
					default: // the test is not reading: drop
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			}
		}
	}()
	return s
}

// next returns the next event called name, skipping others, failing the
// test after d.
func (s *sseStream) next(t *testing.T, name string, d time.Duration) sseEvent {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("the stream ended while waiting for %q", name)
			}
			if ev.name == name {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %q event within %v", name, d)
		}
	}
}

func (s *sseStream) close() {
	s.cancel()
	<-s.done
}

func TestEventsBlocksAndTxs(t *testing.T) {
	e := newEnv(t)
	st := openStream(t, e.ts.URL, "")
	defer st.close()
	waitFor(t, 5*time.Second, "the stream to join", func() bool { return e.srv.hub.streams() == 1 })
	tx := e.pay(e.alice, e.bob.Address(), 2*blockchain.Coin, 3)
	e.submit(tx)
	ev := st.next(t, "tx", 5*time.Second)
	if ev.data["txid"] != tx.ID().String() || ev.data["amount_coins"] != "2" || ev.data["mempool"] != float64(1) || ev.id == "" {
		t.Errorf("tx event %+v", ev)
	}
	b := e.mine(1)[0]
	conf := st.next(t, "confirmed", 5*time.Second)
	txs := conf.data["txs"].([]any)
	if conf.data["block_hash"] != b.Hash().String() || len(txs) != 2 || txs[1].(map[string]any)["txid"] != tx.ID().String() {
		t.Errorf("confirmed event %+v", conf.data)
	}
	tip := st.next(t, "tip", 5*time.Second)
	if tip.data["tip"].(map[string]any)["hash"] != b.Hash().String() || tip.data["reorg"] != false || tip.data["mempool"] != float64(0) {
		t.Errorf("tip event %+v", tip.data)
	}
	// The server's own events.
	want(t, "mining", e.post("/api/mining", map[string]any{"on": false}), 200, "")
	if ev := st.next(t, "mining", 5*time.Second); ev.data["mining"] != false {
		t.Errorf("mining event %+v", ev.data)
	}
	want(t, "name", e.post("/api/names", map[string]string{"name": "bob", "address": e.bob.Address().String()}), 201, "")
	if ev := st.next(t, "names", 5*time.Second); ev.data["name"] != "bob" {
		t.Errorf("names event %+v", ev.data)
	}
}

// TestEventsReorg feeds the hub the event a reorganization makes.
func TestEventsReorg(t *testing.T) {
	e := newEnv(t)
	st := openStream(t, e.ts.URL, "")
	defer st.close()
	waitFor(t, 5*time.Second, "the stream to join", func() bool { return e.srv.hub.streams() == 1 })
	genesis, _ := e.node.Chain().BlockByHeight(0)
	m := e.miner.Address()
	a1 := nextBlock(t, e.params, genesis, m, time.Second)
	b1 := nextBlock(t, e.params, genesis, m, 2*time.Second, e.alice.SignTransfer(e.params.ChainID(), e.bob.Address(), 1, 1, 0))
	b2 := nextBlock(t, e.params, b1, m, time.Second)
	e.srv.onNodeEvent(blockchain.Event{
		Type: blockchain.EventTip, Tip: blockchain.Tip{Hash: b2.Hash(), Height: 2, Header: b2.Header},
		Connected: []*blockchain.Block{b1, b2}, Disconnected: []*blockchain.Block{a1},
	})
	ro := st.next(t, "reorg", 5*time.Second)
	if ro.data["fork_height"] != float64(0) || len(ro.data["disconnected"].([]any)) != 1 || len(ro.data["connected"].([]any)) != 2 {
		t.Errorf("reorg event %+v", ro.data)
	}
	c1 := st.next(t, "confirmed", 5*time.Second)
	c2 := st.next(t, "confirmed", 5*time.Second)
	tx := c1.data["txs"].([]any)[1].(map[string]any)
	if c1.data["height"] != float64(1) || c2.data["height"] != float64(2) || tx["status"].(map[string]any)["confirmations"] != float64(2) {
		t.Errorf("confirmed events %+v %+v", c1.data, c2.data)
	}
	tip := st.next(t, "tip", 5*time.Second)
	if tip.data["reorg"] != true {
		t.Errorf("tip event %+v", tip.data)
	}
}

func TestEventsResume(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.EventBuffer = 8 }))
	st := openStream(t, e.ts.URL, "")
	waitFor(t, 5*time.Second, "the stream to join", func() bool { return e.srv.hub.streams() == 1 })
	for i := range 3 {
		e.srv.publishLocal("names", map[string]int{"n": i})
	}
	var last sseEvent
	for range 3 {
		last = st.next(t, "names", 5*time.Second)
	}
	st.close()
	waitFor(t, 5*time.Second, "the stream to leave", func() bool { return e.srv.hub.streams() == 0 })
	// Missed while away: two events, then back with Last-Event-ID.
	e.srv.publishLocal("names", map[string]int{"n": 3})
	e.srv.publishLocal("names", map[string]int{"n": 4})
	st = openStream(t, e.ts.URL, last.id)
	got := []float64{st.next(t, "names", 5*time.Second).data["n"].(float64), st.next(t, "names", 5*time.Second).data["n"].(float64)}
	st.close()
	if got[0] != 3 || got[1] != 4 {
		t.Errorf("resumed with %v, want [3 4]", got)
	}
	// An ID older than the ring, one from another run, and garbage: reset.
	for i := range 10 {
		e.srv.publishLocal("names", map[string]int{"n": 5 + i})
	}
	epoch, _, _ := strings.Cut(last.id, "-")
	for _, id := range []string{last.id, "0badbeef-3", epoch + "-999999", "garbage"} {
		st = openStream(t, e.ts.URL, id)
		ev := st.next(t, "reset", 5*time.Second)
		st.close()
		if !strings.HasPrefix(ev.id, epoch+"-") || ev.data["reason"] == "" {
			t.Errorf("reset for %q: %+v", id, ev)
		}
	}
}

func TestHubSlowStreamSkips(t *testing.T) {
	h := newHub(4, 10)
	c, _ := h.join()
	cursor, _ := h.resume("")
	for i := range 10 {
		h.publish("x", i)
	}
	frames, next, lost := h.since(cursor, 64)
	if !lost || len(frames) != 0 || next != 10 {
		t.Errorf("a stream 10 behind a ring of 4: %d frames, next %d, lost %v", len(frames), next, lost)
	}
	h.publish("x", 10)
	frames, next, lost = h.since(next, 64)
	if lost || len(frames) != 1 || next != 11 || !strings.Contains(string(frames[0]), "data: 10\n") {
		t.Errorf("after catching up: %q, %d, %v", frames, next, lost)
	}
	select {
	case <-c.notify:
	default:
		t.Error("no signal")
	}
	for range 10 {
		if _, ok := h.join(); !ok && h.streams() < 10 {
			t.Fatal("refused below the limit")
		}
	}
	if _, ok := h.join(); ok {
		t.Error("an 11th stream joined a hub of 10")
	}
}

func TestEventsTooMany(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.MaxEventClients = 2 }))
	a, b := openStream(t, e.ts.URL, ""), openStream(t, e.ts.URL, "")
	defer a.close()
	defer b.close()
	waitFor(t, 5*time.Second, "two streams", func() bool { return e.srv.hub.streams() == 2 })
	want(t, "a third stream", e.get("/api/events"), 503, codeBusy)
}

// TestEventsDisconnectMidStream opens streams that go away at once, some
// in the middle of a burst of events: each is cleaned up.
func TestEventsDisconnectMidStream(t *testing.T) {
	e := newEnv(t)
	http.DefaultClient.CloseIdleConnections()
	baseline := runtime.NumGoroutine()
	var streams []*sseStream
	for range 20 {
		streams = append(streams, openStream(t, e.ts.URL, ""))
	}
	waitFor(t, 5*time.Second, "20 streams", func() bool { return e.srv.hub.streams() == 20 })
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e.srv.publishLocal("names", map[string]string{"pad": strings.Repeat("x", 2000), "i": fmt.Sprint(i)})
			time.Sleep(time.Millisecond)
		}
	}()
	for i, s := range streams {
		if i%2 == 0 {
			s.next(t, "names", 5*time.Second) // in the middle of the burst
		}
		s.close()
	}
	close(stop)
	waitFor(t, 10*time.Second, "every stream to be cleaned up", func() bool { return e.srv.hub.streams() == 0 })
	http.DefaultClient.CloseIdleConnections()
	checkGoroutines(t, baseline)
}

// TestEventsLoad holds 200 event streams open while other clients make 50
// requests a second in all for 10 seconds and blocks arrive: every stream
// sees the blocks, memory stays bounded, and no goroutine is left.
func TestEventsLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s of load")
	}
	const (
		streams  = 200
		rate     = 50
		duration = 10 * time.Second
	)
	e := newEnv(t)
	e.mine(5)
	var peak atomic.Uint64
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak.Store(before.HeapAlloc)
	baseline := runtime.NumGoroutine()

	var opened []*countingStream
	for range streams {
		opened = append(opened, openCounting(t, e.ts.URL))
	}
	waitFor(t, 20*time.Second, "200 streams", func() bool { return e.srv.hub.streams() == streams })
	withStreams := runtime.NumGoroutine()
	serving := countGoroutines("web.(*Server).getEvents")

	// Readers: 50 requests a second, spread over the endpoints.
	paths := []string{"/api/status", "/api/blocks", "/api/mempool", "/api/address/" + e.bob.Address().String() + "/txs",
		"/api/charts", "/api/peers", "/", "/static/app.js"}
	var reqs, failures atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Go(func() {
				res, err := client.Get(e.ts.URL + paths[i%len(paths)])
				if err != nil {
					failures.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failures.Add(1)
				}
				reqs.Add(1)
			})
		}
	})
	// Blocks and payments every 250 ms; memory sampled meanwhile.
	blocks := 0
	for ctx.Err() == nil {
		e.submit(e.pay(e.alice, e.bob.Address(), 1, 1))
		e.mine(1)
		blocks++
		runtime.GC() // what is live, not what awaits collection
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > peak.Load() {
			peak.Store(ms.HeapAlloc)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	wg.Wait()
	tipHash := e.node.Tip().Hash.String()
	var events int64
	for i, s := range opened {
		// Every stream sees the last tip.
		waitFor(t, 10*time.Second, fmt.Sprintf("stream %d to see the last tip", i), func() bool {
			last, _ := s.lastTip.Load().(string)
			return strings.Contains(last, tipHash)
		})
		events += s.events.Load()
	}
	t.Logf("the streams read %d events in all", events)
	for _, s := range opened {
		s.close()
	}
	waitFor(t, 10*time.Second, "the streams to be cleaned up", func() bool { return e.srv.hub.streams() == 0 })
	tr.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	checkGoroutines(t, baseline)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("%d streams, %d requests (%d failed) in %v, %d blocks; goroutines %d before, %d with the streams "+
		"(%d serving streams; the rest are the HTTP connections and this test's clients), %d after; "+
		"live heap %.1f MiB before, peak %.1f MiB under load, %.1f MiB after",
		streams, reqs.Load(), failures.Load(), duration, blocks, baseline, withStreams, serving, runtime.NumGoroutine(),
		mib(before.HeapAlloc), mib(peak.Load()), mib(after.HeapAlloc))
	if failures.Load() > 0 {
		t.Errorf("%d requests failed", failures.Load())
	}
	if n := reqs.Load(); n < rate*int64(duration/time.Second)*8/10 {
		t.Errorf("only %d requests served", n)
	}
	// The server runs one goroutine per stream (its handler) beside the
	// connection's own; the rest are this test's clients.
	if serving != streams {
		t.Errorf("%d goroutines serve %d streams", serving, streams)
	}
	if per := float64(withStreams-baseline) / streams; per > 5 {
		t.Errorf("%.1f goroutines per stream", per)
	}
	if peak.Load() > before.HeapAlloc+32<<20 {
		t.Errorf("live heap grew from %.1f to %.1f MiB", mib(before.HeapAlloc), mib(peak.Load()))
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// countGoroutines counts the goroutines with fn on their stack.
func countGoroutines(fn string) int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// countingStream reads an event stream keeping only a count and the last
// tip event, so that the test's own memory stays small under load.
type countingStream struct {
	events  atomic.Int64
	lastTip atomic.Value // string: the last tip event's data
	cancel  context.CancelFunc
	done    chan struct{}
}

func openCounting(t *testing.T, base string) *countingStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &countingStream{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 4<<10), 1<<20)
		tip := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "event: tip":
				tip = true
			case strings.HasPrefix(line, "data: ") && tip:
				s.lastTip.Store(line)
			case line == "":
				if tip {
					s.events.Add(1)
				}
				tip = false
			case strings.HasPrefix(line, "event: "):
				s.events.Add(1)
			}
		}
	}()
	return s
}

func (s *countingStream) close() {
	s.cancel()
	<-s.done
}
