package main

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/nakachain/blockchain"
)

// cell is one share q and one wait z: the races run and what they came to,
// beside what the formulas say.
type cell struct {
	s        split
	perBlock float64 // Mallory's exact chance of each next block
	z        int
	giveUp   int
	trials   int
	reversed int    // races in which the merchant's chain reversed the payment
	blocks   int    // blocks mined in all
	hashes   uint64 // nonces tried in all
}

// rate is the measured success rate.
func (c cell) rate() float64 { return float64(c.reversed) / float64(c.trials) }

// interval is the 99% Wilson score interval of the rate: the
// probabilities that the count measured would not reject at the 1% level.
func (c cell) interval() (lo, hi float64) { return wilson(c.reversed, c.trials) }

// race is the exact probability of the race the example runs.
func (c cell) race() float64 { return blockchain.RaceSuccess(c.perBlock, c.z, c.giveUp) }

// paperExact and paperPoisson are the paper's counting, with the
// attacker's progress negative binomial or, as the paper has it, Poisson.
func (c cell) paperExact() float64   { return blockchain.AttackerSuccessExact(c.s.q, c.z) }
func (c cell) paperPoisson() float64 { return blockchain.AttackerSuccess(c.s.q, c.z) }

// z99 is the standard normal quantile for a two-sided 99% interval.
const z99 = 2.5758293035489004

// wilson returns the 99% Wilson score interval for k successes in n
// trials.
func wilson(k, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	nf, kf := float64(n), float64(k)
	z2 := z99 * z99
	center := (kf + z2/2) / (nf + z2)
	half := z99 / (nf + z2) * math.Sqrt(kf*(nf-kf)/nf+z2/4)
	return max(0, center-half), min(1, center+half)
}

// runCell runs trials races of share s against a wait of z blocks, on
// every core. Race t draws its random nonces from a source seeded by the
// seed, the share, z and t alone, so the counts are the same on every run
// and with any number of cores.
func (w *world) runCell(ctx context.Context, s split, eps float64, z, trials int, seed uint64) (cell, error) {
	c := cell{s: s, perBlock: s.perBlock(eps), z: z, giveUp: w.giveUp, trials: trials}
	workers := min(runtime.GOMAXPROCS(0), trials)
	results := make([]cell, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			r := &results[k]
			for t := k; t < trials; t += workers {
				if err := ctx.Err(); err != nil {
					errs[k] = err
					return
				}
				out, err := w.race(s, z, raceRand(seed, s.q, z, t), nil)
				if err != nil {
					errs[k] = err
					return
				}
				if out.reversed {
					r.reversed++
				}
				r.blocks += out.blocks
				r.hashes += out.hashes
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	for _, r := range results {
		c.reversed += r.reversed
		c.blocks += r.blocks
		c.hashes += r.hashes
	}
	return c, nil
}

// raceRand returns the random source of race t of share q against a wait
// of z blocks. The story's sample races use negative t.
func raceRand(seed uint64, q float64, z, t int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^math.Float64bits(q), uint64(z)<<32^uint64(int64(t))))
}
