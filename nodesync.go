package blockchain

import (
	"cmp"
	"context"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"time"
)

// Limits on what a peer can make a node hold or do. They bound the node's
// memory per peer and in all; the package documentation states them.
const (
	// maxLowWorkHeaders bounds, per peer, the headers held aside while a
	// branch is too light to matter yet (a deep fork that needs several
	// batches to overtake the tip): about 1.7 MB per peer.
	maxLowWorkHeaders = 16 * 1024
	// lowWorkMargin: a branch whose headers end within this many blocks'
	// work (at the tip's target) of the tip's work could soon exceed it,
	// so its headers go to the chain; lighter ones are held aside.
	lowWorkMargin = 8
	// maxServeQueue bounds the requests queued for one peer while its
	// serving budget is spent; further requests are dropped (it asks
	// again).
	maxServeQueue = 64
	// maxTxRequests bounds the transactions asked for and not received.
	maxTxRequests = 4096
	// maxPeerTxRequests bounds those asked of one peer.
	maxPeerTxRequests = 1024
	// maxRejected bounds the transaction IDs remembered as refused.
	maxRejected = 4096
	// maxFuture bounds the blocks and header batches put aside because
	// their time was too far ahead of the node's clock.
	maxFuture = 32
	// maxAddrsPerPeer bounds the addresses one peer may give per
	// connection.
	maxAddrsPerPeer = 1000
	// maxPendingBlocks bounds the blocks received and not yet handed to
	// the chain.
	maxPendingBlocks = 256
	// announceHeaders is how many of the newest headers a tip
	// announcement carries.
	announceHeaders = 8
	// reannounceEvery is how many sync intervals pass between
	// announcements of the node's pending transactions.
	reannounceEvery = 5
	// selfBan keeps an address that leads back to the node from being
	// dialed again.
	selfBan = 24 * time.Hour
	// addrBookSize and addrGroupSize bound the address book.
	addrBookSize, addrGroupSize = 2048, 64
)

// nodeLoop is the state of a running node's loop: everything here is
// touched only by the Run goroutine.
type nodeLoop struct {
	n   *Node
	rng *rand.Rand

	peers     map[PeerID]*peer
	txReqs    map[Hash]request
	blockReqs map[Hash]request
	rejected  map[Hash]struct{}
	pending   []pendingBlock
	future    []futureItem
	book      *addrBook
	selfAddrs map[PeerID]bool // addresses that lead back to this node
	// peersChanged: a peer's height moved; Peers is refreshed at the next
	// tick.
	peersChanged bool
	// headerPeer is the peer a long header chain is being downloaded
	// from, batch after batch ("" if none): one at a time, as Bitcoin Core
	// does, so that several peers ahead do not each send the same chain.
	headerPeer PeerID
	dirty      bool // headers or blocks changed: look for blocks to fetch
	avgBlock   float64
	lastSync   time.Duration
	syncTurn   int
	syncTicks  int
}

// peer is what the loop knows of one peer.
type peer struct {
	id          PeerID
	since       time.Duration // when it connected (monotonic)
	versionAt   time.Duration // when we last sent it our version
	version     *VersionMsg
	gotAck      bool
	ready       bool
	readyAt     time.Time
	best        Hash // the best block we know it has
	bestWork    *big.Int
	bestH       uint64
	headersBy   time.Duration // a GetHeaders to it is outstanding until then; 0 if none
	headerFails int           // its GetHeaders that went unanswered in a row
	lowWork     []Header      // headers held aside (see maxLowWorkHeaders)
	blocks      int           // block requests outstanding
	txs         int           // transaction requests outstanding
	serve       tokenBucket
	queue       []Message // requests waiting for the serving budget
	gaveAddrs   bool
	addrsIn     int
	gone        bool // dropped: ignore what else it sent
}

// request is an item asked of a peer.
type request struct {
	peer  PeerID
	until time.Duration
}

type pendingBlock struct {
	block *Block
	from  PeerID
}

// futureItem is a header batch or block whose time was too far ahead.
type futureItem struct {
	headers []Header
	block   *Block
	from    PeerID
	at      int64 // the earliest Unix nanosecond it can pass
}

func newNodeLoop(n *Node) *nodeLoop {
	rng := rand.New(rand.NewPCG(n.seed, 2))
	return &nodeLoop{
		n:         n,
		rng:       rng,
		peers:     make(map[PeerID]*peer),
		txReqs:    make(map[Hash]request),
		blockReqs: make(map[Hash]request),
		rejected:  make(map[Hash]struct{}),
		selfAddrs: make(map[PeerID]bool),
		book:      newAddrBook(addrBookSize, addrGroupSize, rand.New(rand.NewPCG(n.seed, 3))),
		avgBlock:  1024,
	}
}

// run handles packets, mined blocks and ticks until ctx is done or the
// connection closes (then it reports true).
func (l *nodeLoop) run(ctx context.Context, conn Conn) (closed bool) {
	n := l.n
	tick := time.NewTicker(n.cfg.TickInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case p, ok := <-conn.Receive():
			if !ok {
				return true
			}
			l.handle(p)
			// Take what else has arrived, so blocks that came together are
			// connected together (their signatures checked on all cores).
		drain:
			for range 4 * maxPendingBlocks {
				select {
				case p, ok := <-conn.Receive():
					if !ok {
						l.flushBlocks()
						return true
					}
					l.handle(p)
				default:
					break drain
				}
			}
			l.afterPackets()
		case m := <-n.mined:
			n.log.Debug("mined block", "height", m.block.Header.Height, "hash", m.block.Hash().Short(12))
			m.res, m.err = l.addBlocks([]*Block{m.block})
			close(m.done)
		case <-tick.C:
			l.onTick()
		}
	}
}

// afterPackets does the work a batch of packets may have made necessary.
func (l *nodeLoop) afterPackets() {
	l.flushBlocks()
	l.serveQueued()
	if l.dirty {
		l.requestBlocks()
	}
}

func (l *nodeLoop) handle(p Packet) {
	switch p.Event {
	case PeerConnected:
		l.onConnect(p.From)
	case PeerDisconnected:
		l.onDisconnect(p.From)
	default:
		l.onMessage(p)
	}
}

func (l *nodeLoop) onConnect(id PeerID) {
	n := l.n
	if old := l.peers[id]; old != nil {
		l.onDisconnect(id)
	}
	p := &peer{id: id, since: n.elapsed(), serve: newTokenBucket(n.cfg.ServeRate, MaxMessageSize)}
	l.peers[id] = p
	if l.selfAddrs[id] {
		l.drop(p, selfBan, "self-connection", nil)
		return
	}
	l.sendVersion(p)
}

// sendVersion sends p our side of the handshake.
func (l *nodeLoop) sendVersion(p *peer) {
	n := l.n
	p.versionAt = n.elapsed()
	tip := n.chain.Tip()
	v := VersionMsg{
		Version: ProtocolVersion, ChainID: n.chain.ChainID(), Nonce: n.nonce,
		Height: tip.Height, Tip: tip.Hash, TotalWork: tip.TotalWork,
	}
	if d := l.dialer(); d != nil {
		v.ListenAddr = d.LocalAddr()
	}
	n.send(p.id, v)
}

func (l *nodeLoop) onDisconnect(id PeerID) {
	p := l.peers[id]
	if p == nil {
		return
	}
	delete(l.peers, id)
	if l.headerPeer == id {
		l.headerPeer = ""
	}
	for h, r := range l.blockReqs {
		if r.peer == id {
			delete(l.blockReqs, h)
			l.dirty = true
		}
	}
	for h, r := range l.txReqs {
		if r.peer == id {
			delete(l.txReqs, h)
		}
	}
	if p.ready {
		l.publishPeers()
		l.n.emit(Event{Type: EventPeerDisconnected, Peer: id})
	}
}

// readyPeers returns the peers that completed the handshake and are not
// being dropped, sorted by ID (so choices among them are reproducible).
func (l *nodeLoop) readyPeers() []*peer {
	ready := make([]*peer, 0, len(l.peers))
	for _, p := range l.peers {
		if p.ready && !p.gone {
			ready = append(ready, p)
		}
	}
	slices.SortFunc(ready, func(a, b *peer) int { return cmp.Compare(a.id, b.id) })
	return ready
}

func (l *nodeLoop) publishPeers() {
	var ps []PeerInfo
	for _, p := range l.peers {
		if p.ready {
			ps = append(ps, PeerInfo{ID: p.id, ListenAddr: p.version.ListenAddr, Height: p.bestH, Since: p.readyAt})
		}
	}
	l.n.setPeerInfo(ps)
}

func (l *nodeLoop) dialer() Dialer {
	if c := l.n.conn.Load(); c != nil {
		if d, ok := c.Conn.(Dialer); ok {
			return d
		}
	}
	return nil
}

// punish cuts off a peer that provably broke the protocol, and keeps it
// away for BanTime where the transport can. Slowness, a notfound or an
// unknown parent never lead here.
func (l *nodeLoop) punish(p *peer, why string, err error) {
	l.drop(p, l.n.cfg.BanTime, why, err)
}

func (l *nodeLoop) drop(p *peer, ban time.Duration, why string, err error) {
	if p.gone {
		return
	}
	p.gone = true
	n := l.n
	args := []any{"peer", string(p.id), "reason", why}
	if err != nil {
		args = append(args, "err", err)
	}
	if ban > 0 {
		n.log.Warn("dropping peer", args...)
	} else {
		n.log.Debug("dropping peer", args...)
	}
	if c := n.conn.Load(); c != nil {
		if d, ok := c.Conn.(Dropper); ok {
			_ = d.Drop(p.id, ban)
		}
	}
}

func (l *nodeLoop) onMessage(pk Packet) {
	p := l.peers[pk.From]
	if p == nil || p.gone {
		return // gone already, or a transport that broke its contract
	}
	msg, err := DecodeMessage(pk.Data)
	if err != nil {
		l.punish(p, "malformed message", err)
		return
	}
	if !p.ready {
		switch m := msg.(type) {
		case VersionMsg:
			l.onVersion(p, m)
			return
		case VerAckMsg:
			p.gotAck = true
			l.maybeReady(p)
			return
		}
		if p.version == nil {
			// Nothing flows before the handshake. (On a link that loses
			// or reorders, this may be an honest peer whose version has
			// not arrived yet: ignored, not punished.)
			return
		}
		// The peer has our version and sends on, so it had our answer:
		// its VerAck was lost or overtaken.
		p.gotAck = true
		l.maybeReady(p)
	}
	switch m := msg.(type) {
	case VersionMsg:
		if m.Nonce != p.version.Nonce {
			l.punish(p, "a second, different version message", nil)
		}
		// A copy (lossy links duplicate, and a peer that missed our
		// VerAck sends its Version again): answer it again.
		l.n.send(p.id, VerAckMsg{})
	case VerAckMsg:
	case GetHeadersMsg, GetDataMsg, GetProofMsg:
		if len(p.queue) < maxServeQueue {
			p.queue = append(p.queue, m)
		}
	case HeadersMsg:
		l.onHeaders(p, m.Headers)
	case InvMsg:
		l.onInv(p, m.Items)
	case NotFoundMsg:
		l.onNotFound(p, m.Items)
	case TxMsg:
		l.onTx(p, m.Tx)
	case BlockMsg:
		l.onBlock(p, &m.Block)
	case GetAddrMsg:
		l.onGetAddr(p)
	case AddrMsg:
		l.onAddr(p, m.Addrs)
	}
}

func (l *nodeLoop) onVersion(p *peer, v VersionMsg) {
	n := l.n
	switch {
	case p.version != nil && p.version.Nonce == v.Nonce:
		n.send(p.id, VerAckMsg{}) // a copy: it may have missed our VerAck
		return
	case p.version != nil:
		l.punish(p, "a second, different version message", nil)
		return
	case v.ChainID != n.chain.ChainID():
		n.log.Warn("refusing a peer on another chain", "peer", string(p.id), "their_chain", v.ChainID.Short(16), "ours", n.chain.ChainID().Short(16))
		l.punish(p, "another chain", nil)
		return
	case v.Version != ProtocolVersion:
		n.log.Warn("refusing a peer with another protocol version", "peer", string(p.id), "their_version", v.Version, "ours", ProtocolVersion)
		l.punish(p, "another protocol version", nil)
		return
	case v.Nonce == n.nonce:
		n.log.Info("connected to itself; that address is not dialed again", "peer", string(p.id), "addr", v.ListenAddr)
		l.drop(p, selfBan, "self-connection", nil)
		// p may be the end that was dialed: the end that dialed is named
		// by the address it dialed, our own, which the version states.
		if v.ListenAddr != "" {
			l.selfAddrs[PeerID(v.ListenAddr)] = true
			if q := l.peers[PeerID(v.ListenAddr)]; q != nil {
				l.drop(q, selfBan, "self-connection", nil)
			}
		}
		return
	}
	for _, q := range l.peers {
		if q != p && q.version != nil && q.version.Nonce == v.Nonce && !q.gone {
			// Two connections to one node (each dialed the other): both
			// ends keep the one the node with the lower nonce dialed, so
			// they never drop both. A connection we dialed is named by
			// the address we dialed, which is the peer's listen address.
			weDialedP := p.id == PeerID(v.ListenAddr)
			if weDialedP == (n.nonce < v.Nonce) {
				l.drop(q, 0, "second connection to the same node", nil)
				break
			}
			l.drop(p, 0, "second connection to the same node", nil)
			return
		}
	}
	p.version = &v
	p.best, p.bestH = v.Tip, v.Height
	p.bestWork = v.TotalWork
	n.send(p.id, VerAckMsg{})
	if v.ListenAddr != "" {
		l.book.add(v.ListenAddr, string(p.id))
	}
	l.maybeReady(p)
}

func (l *nodeLoop) maybeReady(p *peer) {
	if p.ready || p.version == nil || !p.gotAck {
		return
	}
	n := l.n
	p.ready = true
	p.readyAt = n.now()
	n.log.Debug("peer ready", "peer", string(p.id), "height", p.bestH)
	if p.version.ListenAddr != "" {
		l.book.connected(p.version.ListenAddr)
	}
	l.publishPeers()
	n.emit(Event{Type: EventPeerConnected, Peer: p.id})
	if l.dialer() != nil {
		n.send(p.id, GetAddrMsg{})
	}
	// What is pending here may have been submitted before this peer came:
	// tell it now, not at the next periodic announcement.
	if ids := n.pool.IDs(); len(ids) > 0 {
		items := make([]InvItem, 0, min(len(ids), MaxInvItems))
		for _, id := range ids[:min(len(ids), MaxInvItems)] {
			items = append(items, InvItem{Type: InvTx, Hash: id})
		}
		n.send(p.id, InvMsg{Items: items})
	}
	if best := n.chain.BestHeader(); l.headerPeer == "" && p.bestWork != nil && p.bestWork.Cmp(best.TotalWork) > 0 {
		l.headerPeer = p.id
		l.askHeaders(p)
	}
}

// askHeaders asks p for the headers after the node's best header, unless
// a request to it is outstanding.
func (l *nodeLoop) askHeaders(p *peer) {
	n := l.n
	if p.headersBy != 0 && n.elapsed() < p.headersBy {
		return
	}
	p.headersBy = n.elapsed() + n.cfg.RequestTimeout
	loc := n.chain.LocatorFrom(n.chain.BestHeader().Hash)
	if len(p.lowWork) > 0 {
		loc = append([]Hash{p.lowWork[len(p.lowWork)-1].Hash()}, loc...)
		loc = loc[:min(len(loc), MaxLocatorHashes)]
	}
	n.send(p.id, GetHeadersMsg{Locator: loc})
}

// onHeaders takes headers a peer sent: an answer to GetHeaders or an
// announcement. Headers whose branch cannot soon beat the tip are held
// aside per peer (bounded) until the branch can, so a peer cannot make the
// node store headers that are nearly free to make.
func (l *nodeLoop) onHeaders(p *peer, hs []Header) {
	n := l.n
	full := len(hs) == MaxHeadersPerMsg
	p.headersBy, p.headerFails = 0, 0
	if !full && l.headerPeer == p.id {
		l.headerPeer = "" // caught up with it
	}
	if len(hs) == 0 {
		p.lowWork = nil // its chain ends here: what was held aside is lighter than ours
		return
	}
	for i := 1; i < len(hs); i++ {
		if hs[i].PrevHash != hs[i-1].Hash() {
			l.punish(p, "headers not in a chain", nil)
			return
		}
	}
	// Where does the batch attach: the chain, or what is held aside?
	base := p.lowWork
	if len(base) > 0 && hs[0].PrevHash != base[len(base)-1].Hash() {
		base = nil
	}
	var forkWork *big.Int
	if len(base) > 0 {
		forkWork, _ = n.chain.WorkOf(base[0].PrevHash)
	} else {
		forkWork, _ = n.chain.WorkOf(hs[0].PrevHash)
	}
	if forkWork == nil {
		// It does not connect: ask for the headers between.
		p.lowWork = nil
		l.askHeaders(p)
		return
	}
	all := append(slices.Clone(base), hs...)
	end := new(big.Int).Set(forkWork)
	for i := range all {
		t, err := all[i].Target()
		if err != nil {
			l.punish(p, "invalid header", err)
			return
		}
		end.Add(end, t.Work())
	}
	tip := n.chain.Tip()
	tipTarget, _ := tip.Header.Target()
	margin := new(big.Int).Mul(tipTarget.Work(), big.NewInt(lowWorkMargin))
	if new(big.Int).Add(end, margin).Cmp(tip.TotalWork) < 0 {
		if !full {
			p.lowWork = nil // a lighter branch that ends here: nothing to fetch
			return
		}
		if len(all) > maxLowWorkHeaders {
			n.log.Info("peer's branch too light to follow further", "peer", string(p.id), "headers", len(all))
			p.lowWork = nil
			return
		}
		p.lowWork = all
		l.continueHeaders(p)
		return
	}
	p.lowWork = nil
	l.addHeaders(p, all)
	if full {
		l.continueHeaders(p)
	}
}

// continueHeaders asks p for the next batch after a full one, unless
// another peer is already the one the chain of headers comes from.
func (l *nodeLoop) continueHeaders(p *peer) {
	if hp := l.peers[l.headerPeer]; hp != nil && hp != p && !hp.gone && hp.headersBy != 0 {
		return
	}
	l.headerPeer = p.id
	l.askHeaders(p)
}

// addHeaders hands headers to the chain and acts on the outcome.
func (l *nodeLoop) addHeaders(p *peer, hs []Header) {
	n := l.n
	res, err := n.chain.AddHeaders(hs, n.now())
	if !res.Last.IsZero() {
		l.peerHas(p, res.Last)
		l.dirty = true
	}
	if err == nil {
		return
	}
	var re *RuleError
	switch {
	case errors.Is(err, ErrTimeTooNew):
		i := slices.IndexFunc(hs, func(h Header) bool { return !n.chain.HasHeader(h.Hash()) })
		l.putAside(futureItem{headers: slices.Clone(hs[max(i, 0):]), from: p.id, at: hs[max(i, 0)].Time - int64(n.chain.params.MaxFutureDrift)})
	case errors.As(err, &re):
		l.punish(p, "invalid header", err)
	}
}

// peerHas records that p has block h (and so its ancestors).
func (l *nodeLoop) peerHas(p *peer, h Hash) {
	w, ok := l.n.chain.WorkOf(h)
	if !ok {
		return
	}
	if p.bestWork == nil || w.Cmp(p.bestWork) >= 0 || !l.n.chain.HasHeader(p.best) {
		p.best, p.bestWork = h, w
		if hdr, ok := l.n.chain.HeaderByHash(h); ok && hdr.Height != p.bestH {
			p.bestH = hdr.Height
			l.peersChanged = true
		}
	}
}

func (l *nodeLoop) putAside(it futureItem) {
	if len(l.future) >= maxFuture {
		l.future = l.future[1:]
	}
	l.future = append(l.future, it)
}

// window is how many blocks ahead of the tip the node fetches at once: as
// many as half the chain's loose-body budget holds at the blocks' average
// size, between 16 and 1,024.
func (l *nodeLoop) window() int {
	w := float64(l.n.chain.opts.LooseBodyBudget) / 2 / max(l.avgBlock, 256)
	return int(min(max(w, 16), 1024))
}

// perPeer is how many block requests one peer may have outstanding.
func (l *nodeLoop) perPeer() int {
	return int(min(max(float64(4<<20)/max(l.avgBlock, 256), 4), 256))
}

// requestBlocks asks peers for the bodies the node needs: toward its best
// header, and toward every peer's best block that has more work than its
// tip (so that a best header whose branch no reachable peer has, as across
// a partition, never stops the node from following a lighter branch that
// still beats its tip). Each body comes from a peer that has it, the one
// with the fewest requests outstanding, within the moving window; expired
// requests go to another peer.
func (l *nodeLoop) requestBlocks() {
	l.dirty = false
	n := l.n
	now := n.elapsed()
	for h, r := range l.blockReqs {
		if now >= r.until {
			delete(l.blockReqs, h)
			if p := l.peers[r.peer]; p != nil {
				p.blocks--
			}
			n.log.Debug("block request timed out", "hash", h.Short(12), "peer", string(r.peer))
		}
	}
	tipWork := n.chain.Tip().TotalWork
	ready := l.readyPeers()
	if len(ready) == 0 {
		return
	}
	targets := []Hash{n.chain.BestHeader().Hash}
	for _, p := range ready {
		if p.bestWork != nil && p.bestWork.Cmp(tipWork) > 0 && !slices.Contains(targets, p.best) {
			targets = append(targets, p.best)
		}
	}
	asks := make(map[*peer][]InvItem)
	limit := l.perPeer()
	for _, target := range targets {
		if w, ok := n.chain.WorkOf(target); !ok || w.Cmp(tipWork) <= 0 {
			continue
		}
		missing := n.chain.missingBodies(target, l.window(), l.window())
		if len(missing) == 0 {
			continue
		}
		// Which peers have the blocks: each up to the height its best
		// block shares with the target.
		tops := make(map[*peer]uint64, len(ready))
		for _, p := range ready {
			if top, ok := n.chain.sharedHeight(p.best, target); ok {
				tops[p] = top
			}
		}
		for _, m := range missing {
			if _, ok := l.blockReqs[m.hash]; ok {
				continue
			}
			var pick *peer
			for _, p := range ready {
				if top, ok := tops[p]; ok && top >= m.height && p.blocks < limit && (pick == nil || p.blocks < pick.blocks) {
					pick = p
				}
			}
			if pick == nil {
				continue
			}
			pick.blocks++
			l.blockReqs[m.hash] = request{peer: pick.id, until: now + n.cfg.RequestTimeout}
			asks[pick] = append(asks[pick], InvItem{Type: InvBlock, Hash: m.hash})
		}
	}
	for p, items := range asks {
		for len(items) > 0 {
			k := min(len(items), MaxInvItems)
			n.send(p.id, GetDataMsg{Items: items[:k]})
			items = items[k:]
		}
	}
}

// onBlock takes a block a peer sent. A block the node asked for goes to
// the chain; so does an unasked one whose branch would beat the tip (a new
// block announced by its body). Any other is dropped unchecked: no
// signature is spent on a light branch nobody asked for, and a block whose
// parent is unknown only leads to a headers request.
func (l *nodeLoop) onBlock(p *peer, b *Block) {
	n := l.n
	hash := b.Hash()
	if r, ok := l.blockReqs[hash]; ok && r.peer == p.id {
		delete(l.blockReqs, hash)
		p.blocks--
		defer l.peerHas(p, hash)
	} else {
		parentWork, known := n.chain.WorkOf(b.Header.PrevHash)
		if !known {
			l.askHeaders(p)
			return
		}
		t, err := b.Header.Target()
		if err != nil {
			l.punish(p, "invalid block", err)
			return
		}
		if parentWork.Add(parentWork, t.Work()).Cmp(n.chain.Tip().TotalWork) <= 0 {
			return
		}
	}
	l.avgBlock = 0.9*l.avgBlock + 0.1*float64(b.Size())
	l.pending = append(l.pending, pendingBlock{block: b, from: p.id})
	if len(l.pending) >= maxPendingBlocks {
		l.flushBlocks()
	}
}

// onNotFound frees the requests a peer cannot answer, to ask elsewhere.
func (l *nodeLoop) onNotFound(p *peer, items []InvItem) {
	for _, it := range items {
		switch it.Type {
		case InvBlock:
			if r, ok := l.blockReqs[it.Hash]; ok && r.peer == p.id {
				delete(l.blockReqs, it.Hash)
				p.blocks--
				l.dirty = true
			}
		case InvTx:
			l.txReceived(it.Hash)
		}
	}
}

// flushBlocks hands the blocks received to the chain in one batch, lowest
// first, so a branch's signatures are checked together on every core.
func (l *nodeLoop) flushBlocks() {
	if len(l.pending) == 0 {
		return
	}
	pending := l.pending
	l.pending = nil
	slices.SortStableFunc(pending, func(a, b pendingBlock) int { return cmp.Compare(a.block.Header.Height, b.block.Header.Height) })
	blocks := make([]*Block, len(pending))
	at := make(map[Hash]int, len(pending)) // a block's position in pending
	for i, pb := range pending {
		blocks[i] = pb.block
		at[pb.block.Hash()] = i
	}
	for start := 0; start < len(blocks); {
		res, err := l.addBlocks(blocks[start:])
		if err == nil {
			return
		}
		i, inBatch := at[res.Refused]
		var sender *peer
		if inBatch {
			sender = l.peers[pending[i].from]
		}
		var re *RuleError
		switch {
		case errors.Is(err, ErrTimeTooNew) && inBatch:
			l.putAside(futureItem{block: blocks[i], from: pending[i].from, at: blocks[i].Header.Time - int64(l.n.chain.params.MaxFutureDrift)})
		case errors.Is(err, ErrUnknownParent) && sender != nil:
			l.askHeaders(sender)
		case errors.Is(err, ErrInvalidAncestor):
			// Built on a block already refused: the sender may just follow
			// a bad branch it did not make.
		case errors.As(err, &re) && sender != nil:
			l.punish(sender, "invalid block", err)
		case !errors.As(err, &re):
			l.n.log.Error("adding blocks failed", "err", err)
		}
		if !inBatch || i < start {
			return // the failure was an earlier block's, on the same branch
		}
		start = i + 1
	}
}

// addBlocks adds blocks to the chain and acts on what changed.
func (l *nodeLoop) addBlocks(blocks []*Block) (AddResult, error) {
	n := l.n
	res, err := n.chain.AddBlocks(blocks, n.now())
	if res.Status != StatusDuplicate {
		l.dirty = true
	}
	if res.TipChanged() {
		n.pool.Update(res)
		l.tipChanged(res)
	}
	return res, err
}

// tipChanged announces a new tip: the newest headers to every peer that
// does not have them, the transactions a reorganization put back in the
// mempool, and an event.
func (l *nodeLoop) tipChanged(res AddResult) {
	n := l.n
	n.restartMining()
	tip := n.chain.Tip()
	if len(res.Disconnected) > 0 {
		n.log.Info("reorganized", "height", tip.Height, "tip", tip.Hash.Short(12),
			"disconnected", len(res.Disconnected), "connected", len(res.Connected))
	} else {
		n.log.Debug("new tip", "height", tip.Height, "tip", tip.Hash.Short(12))
	}
	var hs []Header
	for _, b := range res.Connected[max(0, len(res.Connected)-announceHeaders):] {
		hs = append(hs, b.Header)
	}
	for _, p := range l.peers {
		if p.ready && !p.gone && p.best != tip.Hash && !n.chain.IsAncestor(tip.Hash, p.best) {
			n.send(p.id, HeadersMsg{Headers: hs})
		}
	}
	l.reannounce(res.Disconnected)
	n.emit(Event{Type: EventTip, Tip: tip, Connected: res.Connected, Disconnected: res.Disconnected})
}

// reannounce tells peers about the transactions a reorganization returned
// to the mempool: peers that followed the other branch may never have seen
// them.
func (l *nodeLoop) reannounce(disconnected []*Block) {
	var items []InvItem
	for _, b := range disconnected {
		for _, tx := range b.Transactions[1:] {
			if id := tx.ID(); l.n.pool.Has(id) && len(items) < MaxInvItems {
				items = append(items, InvItem{Type: InvTx, Hash: id})
			}
		}
	}
	if len(items) > 0 {
		l.n.broadcast(InvMsg{Items: items})
	}
}

// serveQueued answers queued requests as far as each peer's budget allows.
func (l *nodeLoop) serveQueued() {
	now := l.n.elapsed()
	for _, p := range l.peers {
		for len(p.queue) > 0 && !p.gone && p.serve.available(now) {
			req := p.queue[0]
			rest, cost := l.serveOne(p, req)
			p.serve.spend(now, cost)
			if rest != nil {
				p.queue[0] = rest
			} else {
				p.queue = p.queue[1:]
			}
		}
	}
}

// serveOne answers req, or as much of a GetData as fits one message's
// worth of budget, returning what is left and the bytes sent.
func (l *nodeLoop) serveOne(p *peer, req Message) (rest Message, cost int) {
	n := l.n
	switch m := req.(type) {
	case GetHeadersMsg:
		hs := n.chain.HeadersAfter(m.Locator, m.Stop, MaxHeadersPerMsg)
		return nil, n.send(p.id, HeadersMsg{Headers: hs})
	case GetProofMsg:
		info, ok := n.chain.Transaction(m.TxID)
		proof, _, ok2 := n.chain.TxProof(m.TxID)
		if !ok || !ok2 {
			return nil, n.send(p.id, NotFoundMsg{Items: []InvItem{{Type: InvTx, Hash: m.TxID}}})
		}
		return nil, n.send(p.id, ProofMsg{Tx: info.Tx, BlockHash: info.BlockHash, Proof: proof})
	case GetDataMsg:
		var missing []InvItem
		seen := make(map[Hash]bool, len(m.Items))
		for i, it := range m.Items {
			if cost >= MaxMessageSize {
				return GetDataMsg{Items: m.Items[i:]}, cost
			}
			if seen[it.Hash] {
				continue
			}
			seen[it.Hash] = true
			switch it.Type {
			case InvBlock:
				if b := n.chain.blockRef(it.Hash); b != nil {
					cost += n.send(p.id, BlockMsg{Block: *b})
				} else {
					missing = append(missing, it)
				}
			case InvTx:
				if tx, ok := n.pool.Get(it.Hash); ok {
					cost += n.send(p.id, TxMsg{Tx: tx})
				} else {
					missing = append(missing, it)
				}
			}
		}
		if len(missing) > 0 {
			cost += n.send(p.id, NotFoundMsg{Items: missing})
		}
	}
	return nil, cost
}

func (l *nodeLoop) onInv(p *peer, items []InvItem) {
	n := l.n
	var want []InvItem
	deadline := n.elapsed() + n.cfg.RequestTimeout
	for _, it := range items {
		if it.Type != InvTx {
			continue // blocks are announced by their headers
		}
		if r, ok := l.txReqs[it.Hash]; ok && n.elapsed() < r.until {
			continue
		}
		if _, bad := l.rejected[it.Hash]; bad || n.pool.Has(it.Hash) {
			continue
		}
		if _, ok := n.chain.Transaction(it.Hash); ok {
			continue
		}
		if len(l.txReqs) >= maxTxRequests || p.txs >= maxPeerTxRequests {
			break
		}
		l.txReceived(it.Hash) // an expired request: asked again, maybe elsewhere
		l.txReqs[it.Hash] = request{peer: p.id, until: deadline}
		p.txs++
		want = append(want, it)
	}
	if len(want) > 0 {
		n.send(p.id, GetDataMsg{Items: want})
	}
}

// txReceived forgets the request for a transaction that arrived.
func (l *nodeLoop) txReceived(h Hash) {
	if r, ok := l.txReqs[h]; ok {
		delete(l.txReqs, h)
		if p := l.peers[r.peer]; p != nil && p.txs > 0 {
			p.txs--
		}
	}
}

func (l *nodeLoop) onTx(p *peer, tx Transaction) {
	n := l.n
	id := tx.ID()
	l.txReceived(id)
	err := n.pool.Add(tx)
	if err == nil {
		n.broadcast(InvMsg{Items: []InvItem{{Type: InvTx, Hash: id}}})
		n.emit(Event{Type: EventTx, Tx: &tx})
		return
	}
	switch {
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrOverflow), errors.Is(err, ErrBadCoinbase):
		l.punish(p, "invalid transaction", err) // never valid: provably wrong
		fallthrough
	case errors.Is(err, ErrTxOnChain), errors.Is(err, ErrNonceTooLow):
		// Refused for good. Other refusals (funds not yet arrived, a
		// nonce gap, a full pool) may pass later: fetch it again then.
		if len(l.rejected) >= maxRejected {
			clear(l.rejected)
		}
		l.rejected[id] = struct{}{}
	}
}

func (l *nodeLoop) onGetAddr(p *peer) {
	if p.gaveAddrs {
		return // once per connection: no scraping the book
	}
	p.gaveAddrs = true
	addrs := l.book.sample(MaxAddrsPerMsg)
	l.n.send(p.id, AddrMsg{Addrs: addrs})
}

func (l *nodeLoop) onAddr(p *peer, addrs []string) {
	for _, a := range addrs {
		if p.addrsIn >= maxAddrsPerPeer {
			return
		}
		p.addrsIn++
		l.book.add(a, string(p.id))
	}
}

// onTick runs the timers: handshake deadlines, expired requests, periodic
// header sync, put-aside blocks whose time has come, dialing, and
// announcing pending transactions.
func (l *nodeLoop) onTick() {
	n := l.n
	now := n.elapsed()
	for _, p := range l.peers {
		switch {
		case p.ready || p.gone:
		case now-p.since > n.cfg.HandshakeTimeout:
			l.drop(p, 0, "no handshake in time", nil)
		case now-p.versionAt >= n.cfg.RequestTimeout/4:
			// Still waiting: on a lossy link our version or their
			// answer may be lost. Say it again (copies are harmless).
			l.sendVersion(p)
		}
		if p.headersBy != 0 && now >= p.headersBy {
			p.headersBy = 0 // lost: asked again, of this peer or another
			p.headerFails++
			if l.headerPeer == p.id {
				l.headerPeer = ""
			}
		}
	}
	for h, r := range l.txReqs {
		if now >= r.until {
			l.txReceived(h)
		}
	}
	l.retryFuture()
	if l.peersChanged {
		l.peersChanged = false
		l.publishPeers()
	}
	if now-l.lastSync >= n.cfg.SyncInterval {
		l.lastSync = now
		l.syncRound()
	}
	l.dialMore()
	l.serveQueued()
	l.requestBlocks()
}

// syncRound asks for headers, unless a chain of them is coming from a
// peer: a peer known to be ahead, or else one peer in turn, so that a lost
// announcement or a healed partition is noticed without any particular
// message arriving.
func (l *nodeLoop) syncRound() {
	n := l.n
	best := n.chain.BestHeader()
	ready := l.readyPeers()
	if len(ready) == 0 {
		return
	}
	if l.syncTicks++; l.syncTicks%reannounceEvery == 0 {
		l.announcePending()
	}
	if hp := l.peers[l.headerPeer]; hp == nil || hp.gone || hp.headersBy == 0 {
		l.headerPeer = ""
	}
	if l.headerPeer != "" {
		return // a chain of headers is coming
	}
	// A peer known to be ahead, the one that failed least (so a peer that
	// never answers cannot keep the sync to itself); or else one peer in
	// turn.
	var ahead *peer
	for _, p := range ready {
		if p.bestWork != nil && p.bestWork.Cmp(best.TotalWork) > 0 && (ahead == nil || p.headerFails < ahead.headerFails) {
			ahead = p
		}
	}
	if ahead != nil {
		l.headerPeer = ahead.id
		l.askHeaders(ahead)
	} else {
		l.syncTurn++
		l.askHeaders(ready[l.syncTurn%len(ready)])
	}
}

// retryFuture hands put-aside headers and blocks back to the chain once
// the node's clock allows them.
func (l *nodeLoop) retryFuture() {
	now := l.n.now().UnixNano()
	keep := l.future[:0]
	var due []futureItem
	for _, it := range l.future {
		if it.at <= now {
			due = append(due, it)
		} else {
			keep = append(keep, it)
		}
	}
	l.future = keep
	for _, it := range due {
		p := l.peers[it.from]
		if it.block != nil {
			l.pending = append(l.pending, pendingBlock{block: it.block, from: it.from})
		} else if p != nil {
			l.addHeaders(p, it.headers)
		}
	}
	l.flushBlocks()
}

// dialMore connects to addresses from the book while the transport has
// fewer outbound peers than the target.
func (l *nodeLoop) dialMore() {
	d := l.dialer()
	if d == nil || d.Outbound() >= l.n.cfg.TargetOutbound || l.book.len() == 0 {
		return
	}
	connected := map[string]bool{d.LocalAddr(): true}
	for _, p := range l.peers {
		connected[string(p.id)] = true
		if p.version != nil {
			connected[p.version.ListenAddr] = true
		}
	}
	if a, ok := l.book.pick(l.n.elapsed(), func(a string) bool { return connected[a] }); ok {
		if err := d.Connect(a); err != nil {
			l.n.log.Debug("dial failed", "addr", a, "err", err)
		}
	}
}

// announcePending tells peers what is in the mempool: a transaction whose
// first announcement was lost, or that reached only a node that does not
// mine, still reaches the miners.
func (l *nodeLoop) announcePending() {
	ids := l.n.pool.IDs()
	if len(ids) > MaxInvItems {
		ids = ids[:MaxInvItems]
	}
	if len(ids) == 0 {
		return
	}
	items := make([]InvItem, len(ids))
	for i, id := range ids {
		items[i] = InvItem{Type: InvTx, Hash: id}
	}
	l.n.broadcast(InvMsg{Items: items})
}

// tokenBucket budgets bytes per second: tokens accrue at rate up to burst,
// and a reply may overdraw them, to be repaid before the next one.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Duration
}

func newTokenBucket(rate, burst int) tokenBucket {
	return tokenBucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst)}
}

func (b *tokenBucket) refill(now time.Duration) {
	if now > b.last {
		b.tokens = min(b.burst, b.tokens+(now-b.last).Seconds()*b.rate)
	}
	b.last = now
}

func (b *tokenBucket) available(now time.Duration) bool {
	b.refill(now)
	return b.tokens > 0
}

func (b *tokenBucket) spend(now time.Duration, n int) {
	b.refill(now)
	b.tokens -= float64(n)
}
