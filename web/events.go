package web

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
)

// Live updates: GET /api/events is a stream of Server-Sent Events.
//
// One subscription to the node feeds the server (runHub). Each node event
// becomes one or more SSE events, encoded once and kept in a ring of the
// most recent Config.EventBuffer. A client's stream holds no queue of its
// own: it remembers the sequence number of the last event it wrote, and
// when the hub signals news (a channel of capacity one, signalled without
// ever blocking) it copies what is newer from the ring and writes it. So
// a slow client costs nothing but its own connection, never delays the
// hub or another client, and one that falls more than the ring behind is
// sent a "reset" event and carries on from the newest: it reloads its
// state. Every write has a deadline, so a client that stops reading is
// dropped.
//
// Event IDs are "EPOCH-SEQ", EPOCH random per server: a client that
// reconnects with Last-Event-ID (EventSource does so by itself) gets every
// event after it that the ring still holds, or "reset" if the ID is older
// than the ring or from another run of the server.
//
// Event names and data (JSON):
//
//	tip                 {tip, connected, disconnected, reorg, mempool}: the main chain moved
//	reorg               {fork_height, connected, disconnected}: blocks left the main chain (sent before its tip)
//	confirmed           {block_hash, height, time, txs, truncated}: a block's transactions joined the main chain
//	tx                  a transaction, as GET /api/tx: it entered the mempool
//	peer-connected      {id, peers}
//	peer-disconnected   {id, peers}
//	mining              {mining, miner}: the miner was switched through the API
//	wallets             {wallet}: a wallet was created, unlocked or locked
//	names               {name}: the address book changed
//	reset               {reason}: events were missed; reload the state

// Limits of the event stream.
const (
	eventWriteWait   = 10 * time.Second // a write to a client that takes longer drops it
	eventBatch       = 64               // events copied from the ring at a time
	eventMaxBlocks   = 50               // blocks listed in one tip or reorg event
	eventMaxTxs      = 200              // transactions listed in one confirmed event
	eventRetryMillis = 2000             // the reconnection delay EventSource is told
)

// hub keeps the recent events and signals the streams.
type hub struct {
	epoch      string
	maxClients int

	mu      sync.Mutex
	ring    [][]byte // ring[seq%len(ring)] is event seq, an SSE frame
	next    uint64   // the next event's sequence number; the first is 1
	clients map[*streamClient]struct{}
}

type streamClient struct {
	notify chan struct{} // capacity 1: "there is news"
}

func newHub(size, maxClients int) *hub {
	var e [4]byte
	_, _ = rand.Read(e[:])
	return &hub{
		epoch: hex.EncodeToString(e[:]), maxClients: maxClients,
		ring: make([][]byte, size), next: 1, clients: make(map[*streamClient]struct{}),
	}
}

// oldestLocked is the sequence number of the oldest event held.
func (h *hub) oldestLocked() uint64 {
	if n := uint64(len(h.ring)); h.next > n {
		return h.next - n
	}
	return 1
}

func (h *hub) id(seq uint64) string { return h.epoch + "-" + strconv.FormatUint(seq, 10) }

// publish adds an event and signals every stream.
func (h *hub) publish(event string, data any) {
	payload, err := json.Marshal(data)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seq := h.next
	h.next++
	frame := make([]byte, 0, len(payload)+len(event)+40)
	frame = append(frame, "id: "+h.id(seq)+"\nevent: "+event+"\ndata: "...)
	frame = append(append(frame, payload...), "\n\n"...)
	h.ring[seq%uint64(len(h.ring))] = frame
	for c := range h.clients {
		select {
		case c.notify <- struct{}{}:
		default: // already signalled
		}
	}
}

// join registers a stream, unless there are too many.
func (h *hub) join() (*streamClient, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) >= h.maxClients {
		return nil, false
	}
	c := &streamClient{notify: make(chan struct{}, 1)}
	h.clients[c] = struct{}{}
	return c, true
}

func (h *hub) leave(c *streamClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// streams returns how many streams are open.
func (h *hub) streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// resume returns the sequence number after which a stream that last saw
// lastID starts, and whether it missed events it cannot get (an ID older
// than the ring, from another run, or malformed). A stream without an ID
// starts after the newest event.
func (h *hub) resume(lastID string) (cursor uint64, reset bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	newest := h.next - 1
	if lastID == "" {
		return newest, false
	}
	epoch, seqText, ok := strings.Cut(lastID, "-")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if !ok || err != nil || epoch != h.epoch || seq > newest || seq+1 < h.oldestLocked() {
		return newest, true
	}
	return seq, false
}

// since returns up to max frames after cursor and the new cursor. lost is
// true if events after cursor have left the ring: the frames then start at
// the oldest held, and the stream should tell its client to reset.
func (h *hub) since(cursor uint64, max int) (frames [][]byte, next uint64, lost bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if oldest := h.oldestLocked(); cursor+1 < oldest {
		// Fell behind the ring: skip to the newest.
		return nil, h.next - 1, true
	}
	for seq := cursor + 1; seq < h.next && len(frames) < max; seq++ {
		frames = append(frames, h.ring[seq%uint64(len(h.ring))])
		cursor = seq
	}
	return frames, cursor, false
}

// resetFrame tells a client it missed events; its ID is the cursor's, so a
// reconnection resumes from there.
func (h *hub) resetFrame(cursor uint64, reason string) []byte {
	data, _ := json.Marshal(map[string]string{"reason": reason})
	return []byte("id: " + h.id(cursor) + "\nevent: reset\ndata: " + string(data) + "\n\n")
}

// getEvents serves the event stream.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	c, ok := s.hub.join()
	if !ok {
		writeError(w, http.StatusServiceUnavailable, codeBusy, "too many event streams")
		return
	}
	defer s.hub.leave(c)
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	cursor, reset := s.hub.resume(last)
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(eventWriteWait))
		_, err := w.Write(b)
		return err == nil
	}
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(eventWriteWait))
		return rc.Flush() == nil
	}
	hello := "retry: " + strconv.Itoa(eventRetryMillis) + "\n: connected\n\n"
	if !write([]byte(hello)) {
		return
	}
	if reset && !write(s.hub.resetFrame(cursor, "the events after "+strconv.Quote(truncate(last, 40))+" are no longer held")) {
		return
	}
	if !flush() {
		return
	}
	ping := time.NewTicker(s.cfg.EventPing)
	defer ping.Stop()
	for {
		frames, next, lost := s.hub.since(cursor, eventBatch)
		cursor = next
		if lost && !write(s.hub.resetFrame(cursor, "this stream fell behind")) {
			return
		}
		for _, f := range frames {
			if !write(f) {
				return
			}
		}
		if lost || len(frames) > 0 {
			if !flush() {
				return
			}
			continue
		}
		select {
		case <-c.notify:
		case <-ping.C:
			if !write([]byte(": ping\n\n")) || !flush() {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// publishLocal publishes an event the server itself causes.
func (s *Server) publishLocal(event string, data any) { s.hub.publish(event, data) }

// runHub turns the node's events into stream events, samples the hash
// rate every second, and goes through the wallet's pending payments at
// every new tip.
func (s *Server) runHub(events <-chan blockchain.Event) {
	defer close(s.hubDone)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	s.rates.sample(time.Now(), s.node.Hashes())
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			s.onNodeEvent(ev)
		case now := <-tick.C:
			s.rates.sample(now, s.node.Hashes())
		case <-s.closing:
			return
		}
	}
}

// blockRef names a block in events.
type blockRef struct {
	Hash    blockchain.Hash `json:"hash"`
	Height  uint64          `json:"height"`
	Time    int64           `json:"time"`
	TxCount int             `json:"tx_count"`
}

func blockRefs(blocks []*blockchain.Block) []blockRef {
	out := []blockRef{}
	for _, b := range blocks[max(0, len(blocks)-eventMaxBlocks):] {
		out = append(out, blockRef{Hash: b.Hash(), Height: b.Header.Height, Time: b.Header.Time, TxCount: len(b.Transactions)})
	}
	return out
}

// Event payloads.
type (
	tipEvent struct {
		Tip          tipJSON    `json:"tip"`
		Connected    []blockRef `json:"connected"`
		Disconnected []blockRef `json:"disconnected"`
		Reorg        bool       `json:"reorg"`
		Mempool      int        `json:"mempool"`
	}
	reorgEvent struct {
		ForkHeight   uint64     `json:"fork_height"`
		Connected    []blockRef `json:"connected"`
		Disconnected []blockRef `json:"disconnected"`
	}
	confirmedEvent struct {
		BlockHash blockchain.Hash `json:"block_hash"`
		Height    uint64          `json:"height"`
		Time      int64           `json:"time"`
		Txs       []txJSON        `json:"txs"`
		Truncated bool            `json:"truncated"`
	}
	txEvent struct {
		txJSON
		Mempool int `json:"mempool"`
	}
	peerEvent struct {
		ID    string `json:"id"`
		Peers int    `json:"peers"`
	}
)

// onNodeEvent publishes what one node event means.
func (s *Server) onNodeEvent(ev blockchain.Event) {
	switch ev.Type {
	case blockchain.EventTip:
		rate := s.rates.current(time.Now(), s.node.Hashes())
		for _, b := range ev.Connected {
			s.rates.recordBlock(b.Hash(), rate)
		}
		if len(ev.Disconnected) > 0 {
			fork := ev.Disconnected[len(ev.Disconnected)-1].Header.Height - 1
			s.hub.publish("reorg", reorgEvent{ForkHeight: fork, Connected: blockRefs(ev.Connected), Disconnected: blockRefs(ev.Disconnected)})
		}
		confs := uint64(len(ev.Connected))
		for _, b := range ev.Connected {
			hash := b.Hash()
			ce := confirmedEvent{BlockHash: hash, Height: b.Header.Height, Time: b.Header.Time, Txs: []txJSON{}}
			for i, tx := range b.Transactions {
				if len(ce.Txs) == eventMaxTxs {
					ce.Truncated = true
					break
				}
				ce.Txs = append(ce.Txs, confirmedTx(tx, hash, b.Header.Height, b.Header.Time, i, confs))
			}
			confs--
			s.hub.publish("confirmed", ce)
		}
		s.hub.publish("tip", tipEvent{
			Tip: tipOf(ev.Tip), Connected: blockRefs(ev.Connected), Disconnected: blockRefs(ev.Disconnected),
			Reorg: len(ev.Disconnected) > 0, Mempool: ev.Mempool,
		})
		s.resubmitPending()
	case blockchain.EventTx:
		if ev.Tx != nil {
			s.hub.publish("tx", txEvent{txJSON: pendingTx(*ev.Tx), Mempool: ev.Mempool})
		}
	case blockchain.EventPeerConnected, blockchain.EventPeerDisconnected:
		s.hub.publish(ev.Type.String(), peerEvent{ID: string(ev.Peer), Peers: len(s.node.Peers())})
	}
}

// rateMeter measures the node's hash rate from its hash counter.
type rateMeter struct {
	mu      sync.Mutex
	samples []rateSample // the last rateSamples, oldest first
	blocks  map[blockchain.Hash]float64
	order   []blockchain.Hash // blocks' keys, oldest first
}

type rateSample struct {
	t      time.Time
	hashes uint64
}

const (
	rateSamples = 12               // one a second
	rateWindow  = 10 * time.Second // the hash rate is measured over this
	rateBlocks  = 1000             // blocks whose rate is kept for the charts
)

func newRateMeter() *rateMeter { return &rateMeter{blocks: make(map[blockchain.Hash]float64)} }

func (m *rateMeter) sample(t time.Time, hashes uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = append(m.samples, rateSample{t, hashes})
	if len(m.samples) > rateSamples {
		m.samples = append(m.samples[:0], m.samples[len(m.samples)-rateSamples:]...)
	}
}

// current returns the hashes a second between the oldest sample within the
// window and (now, hashes).
func (m *rateMeter) current(now time.Time, hashes uint64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, smp := range m.samples {
		dt := now.Sub(smp.t)
		if dt > rateWindow {
			continue
		}
		if dt < 500*time.Millisecond || hashes < smp.hashes {
			return 0
		}
		return float64(hashes-smp.hashes) / dt.Seconds()
	}
	return 0
}

func (m *rateMeter) recordBlock(h blockchain.Hash, rate float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blocks[h]; !ok {
		m.order = append(m.order, h)
	}
	m.blocks[h] = rate
	if len(m.order) > rateBlocks {
		delete(m.blocks, m.order[0])
		m.order = m.order[1:]
	}
}

func (m *rateMeter) atBlock(h blockchain.Hash) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.blocks[h]
	return r, ok
}
