package blockchain

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// restartMining abandons the block being mined, so the miner starts over
// on the current tip (or stops, if mining was turned off).
func (n *Node) restartMining() {
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	if n.mineCancel != nil {
		n.mineCancel()
	}
}

// mineLoop mines while mining is on: a template on the tip, refreshed every
// TemplateRefresh, abandoned when the tip moves. With a pace
// (MinBlockInterval), it first waits a random time, between half and one
// and a half of it, after the tip changed.
func (n *Node) mineLoop(ctx context.Context) {
	var last Header // the previous template
	rng := rand.New(rand.NewPCG(n.seed, 4))
	var pacedFor Hash           // the tip the miner waits on
	var paceUntil time.Duration // until then (monotonic)
	defer n.markMineIdle()
	for ctx.Err() == nil {
		n.markMineIdle() // the last attempt, and any handover, are over
		if !n.mining.Load() {
			select {
			case <-ctx.Done():
				return
			case <-n.wakeMiner:
			}
			continue
		}
		// Register the cancel before reading the tip: a tip change after
		// this point cancels the attempt, one before it is in the template.
		mctx, cancel := context.WithTimeout(ctx, n.cfg.TemplateRefresh)
		n.mineMu.Lock()
		if !n.mining.Load() { // SetMining(false) since the check above
			n.mineMu.Unlock()
			cancel()
			continue
		}
		n.mineCancel = cancel
		n.mineBusy = true
		n.mineMu.Unlock()
		if tip := n.chain.Tip().Hash; n.paceIn > 0 && tip != pacedFor {
			pacedFor = tip
			paceUntil = n.elapsed() + n.paceIn/2 + time.Duration(rng.Int64N(int64(n.paceIn)+1))
		}
		if wait := paceUntil - n.elapsed(); n.paceIn > 0 && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-mctx.Done(): // the tip moved, mining stopped, or a refresh: look again
				t.Stop()
				cancel()
				continue
			case <-t.C:
			}
		}
		b := n.pool.NewBlockTemplate(*n.miner.Load(), n.now())
		// A new template on the same parent with no later time (a slow or
		// frozen clock) would search the same nonces again: move it on.
		if b.Header.PrevHash == last.PrevHash && b.Header.Time <= last.Time {
			b.Header.Time = last.Time + 1
		}
		last = b.Header
		err := n.mine(mctx, &b.Header)
		cancel()
		if err != nil {
			continue // cancelled, refreshed or exhausted: build anew
		}
		n.found.Add(1)
		m := &minedBlock{block: b, done: make(chan struct{})}
		select {
		case n.mined <- m:
			<-m.done // build the next template on this block
		case <-ctx.Done():
			return
		}
	}
}

// markMineIdle records that the miner is between attempts, for SetMining.
func (n *Node) markMineIdle() {
	n.mineMu.Lock()
	if n.mineBusy {
		n.mineBusy = false
		n.mineIdle.Broadcast()
	}
	n.mineMu.Unlock()
}

// mine runs Mine, throttled to cfg.HashRate if set.
func (n *Node) mine(ctx context.Context, h *Header) error {
	if n.pacer == nil {
		hashes, err := Mine(ctx, h, n.cfg.MiningWorkers)
		n.hashes.Add(hashes)
		return err
	}
	// Mine in slices of about 10 ms of work, each paid for in advance
	// from the pacer's budget.
	chunk := n.pacer.burst
	for lo := uint64(0); ; lo += chunk {
		if err := n.pacer.take(ctx, chunk); err != nil {
			return err
		}
		hashes, err := mineRange(ctx, h, lo, lo+chunk-1, n.cfg.MiningWorkers)
		n.hashes.Add(hashes)
		if !errors.Is(err, ErrNonceSpaceExhausted) {
			return err // found (nil), cancelled, or a bad target
		}
	}
}

// hashPacer limits mining to a rate with a token bucket: hashes may be
// spent as they accrue, rate per second, with at most burst saved up, so
// a miner that was idle does not then race.
type hashPacer struct {
	rate  float64
	burst uint64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newHashPacer(rate float64) *hashPacer {
	burst := max(uint64(1), uint64(rate/100))
	return &hashPacer{rate: rate, burst: burst, tokens: float64(burst)}
}

// take spends n hashes, first waiting as long as the budget is in debt.
func (p *hashPacer) take(ctx context.Context, n uint64) error {
	p.mu.Lock()
	now := time.Now()
	if !p.last.IsZero() {
		p.tokens = min(float64(p.burst), p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	p.tokens -= float64(n)
	debt := -p.tokens
	p.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(debt / p.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		p.mu.Lock()
		p.tokens += float64(n) // not spent: give it back
		p.mu.Unlock()
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
