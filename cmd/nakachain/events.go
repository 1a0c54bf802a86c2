package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
)

// watcher logs what happens at a node (stored blocks, reorganizations,
// peers) and keeps its status line up to date.
type watcher struct {
	node   *blockchain.Node
	log    *slog.Logger
	status *statusLine // nil when not on a terminal
	// blockLevel is the level of the "block stored" lines: debug under a
	// status line, which shows the tip anyway.
	blockLevel slog.Level

	mu   sync.Mutex // serializes tipChanged
	last blockchain.Tip
	view statusView
}

func newWatcher(n *blockchain.Node, log *slog.Logger, status *statusLine, tip blockchain.Tip) *watcher {
	w := &watcher{node: n, log: log, status: status, last: tip, blockLevel: slog.LevelInfo}
	if status != nil {
		w.blockLevel = slog.LevelDebug
	}
	return w
}

// watch handles events until the channel is closed.
func (w *watcher) watch(events <-chan blockchain.Event) {
	for ev := range events {
		switch ev.Type {
		case blockchain.EventTip:
			w.tipChanged(ev.Connected)
		case blockchain.EventPeerConnected:
			listen := ""
			for _, p := range w.node.Peers() {
				if p.ID == ev.Peer {
					listen = p.ListenAddr
				}
			}
			w.log.Info("peer connected", "peer", string(ev.Peer), "listen", listen, "peers", len(w.node.Peers()))
		case blockchain.EventPeerDisconnected:
			w.log.Info("peer disconnected", "peer", string(ev.Peer), "peers", len(w.node.Peers()))
		}
		if w.status != nil && ev.Type != blockchain.EventTx {
			w.draw()
		}
	}
}

// tipChanged logs every block that joined the main chain since the last
// tip it logged, and the reorganization if the tip moved to another
// branch. It reads the chain, not only the event, so a block whose event
// a busy subscriber missed is logged all the same. Every block on the
// main chain has been stored: the chain stores blocks before it makes
// them part of its main chain. connected, the event's blocks, spares
// reading their bodies back.
func (w *watcher) tipChanged(connected []*blockchain.Block) {
	w.mu.Lock()
	defer w.mu.Unlock()
	chain := w.node.Chain()
	tip := chain.Tip()
	if tip.Hash == w.last.Hash {
		return
	}
	// Walk back from the new tip to the branch of the last tip logged.
	type entry struct {
		hash   blockchain.Hash
		header blockchain.Header
	}
	var path []entry
	hash, header := tip.Hash, tip.Header
	for header.Height > 0 && !(header.Height <= w.last.Height && chain.IsAncestor(hash, w.last.Hash)) {
		path = append(path, entry{hash, header})
		prev, ok := chain.HeaderByHash(header.PrevHash)
		if !ok {
			w.log.Error("a main-chain block's parent is unknown", "hash", hash)
			break
		}
		hash, header = header.PrevHash, prev
	}
	if depth := w.last.Height - min(w.last.Height, header.Height); depth > 0 {
		w.log.Info("reorganization", "fork_height", header.Height, "fork", hash,
			"old_height", w.last.Height, "old_tip", w.last.Hash, "disconnected", depth,
			"new_height", tip.Height, "new_tip", tip.Hash)
	}
	txs := make(map[blockchain.Hash]int, len(connected))
	for _, b := range connected {
		txs[b.Hash()] = len(b.Transactions)
	}
	slices.Reverse(path)
	ctx := context.Background()
	if w.log.Enabled(ctx, w.blockLevel) {
		for _, e := range path {
			n, ok := txs[e.hash]
			if !ok {
				if b, found := chain.BlockByHash(e.hash); found {
					n = len(b.Transactions)
				}
			}
			w.log.Log(ctx, w.blockLevel, "block stored", "height", e.header.Height, "hash", e.hash,
				"txs", n, "block_time", time.Unix(0, e.header.Time).UTC())
		}
	}
	w.last = tip
}

// redraw redraws the status line twice a second until ctx is done.
func (w *watcher) redraw(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		w.draw()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *watcher) draw() {
	w.mu.Lock()
	text := w.view.render(time.Now(), w.node.Status())
	w.mu.Unlock()
	w.status.set(text)
}
