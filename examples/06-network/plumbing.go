package main

// The plumbing: goroutines started and stopped, waits on the nodes, and
// the nodes' names.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

// background runs f in a goroutine and returns a function that cancels f's
// context, waits for f to return and returns its error. It may be called
// more than once.
func background(ctx context.Context, f func(context.Context) error) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
}

// pause waits for d, or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errTimeout is returned by waitFor when the condition did not come true.
var errTimeout = errors.New("timed out")

// waitFor waits until cond holds, looking again whenever a node reports an
// event, and at least every 50 ms. It gives up after timeout.
func waitFor(ctx context.Context, nodes []*blockchain.Node, timeout time.Duration, cond func() bool) error {
	changed := make(chan struct{}, 1)
	for _, n := range nodes {
		events, unsubscribe := n.Subscribe()
		defer unsubscribe()
		go func() {
			for range events { // until unsubscribe closes the channel
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}()
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%w after %v", errTimeout, timeout)
		}
	}
	return nil
}

// quiet reports, each time it is called, whether the nodes' miners have
// tried no hash since a call at least 100 ms before: a miner switched off
// may still be handing over a block it found just before.
func quiet(nodes []*blockchain.Node) func() bool {
	var last uint64
	var since time.Time
	return func() bool {
		var hashes uint64
		for _, n := range nodes {
			hashes += n.Hashes()
		}
		if hashes != last || since.IsZero() {
			last, since = hashes, time.Now()
			return false
		}
		return time.Since(since) >= 100*time.Millisecond
	}
}

// newID returns a node ID of 4 hex digits that none of nodes has.
func newID(rng *rand.Rand, nodes []*blockchain.Node) blockchain.PeerID {
	for {
		id := blockchain.PeerID(fmt.Sprintf("%04x", rng.IntN(1<<16)))
		taken := false
		for _, n := range nodes {
			taken = taken || n.ID() == id
		}
		if !taken {
			return id
		}
	}
}

// minerName is the name, in the book, of the address node id's miner pays.
func minerName(id blockchain.PeerID) string { return "miner of " + string(id) }

func ids(nodes []*blockchain.Node) []blockchain.PeerID {
	out := make([]blockchain.PeerID, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID()
	}
	return out
}

// idList is "7301, 1a2b and 3c4d".
func idList(nodes []*blockchain.Node) string {
	var s []string
	for _, n := range nodes {
		s = append(s, string(n.ID()))
	}
	return demo.List(s)
}
