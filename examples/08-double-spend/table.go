package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/nakachain/blockchain"
)

// printHeader prints the table's column names.
func printHeader(w io.Writer) {
	fmt.Fprintf(w, "  %4s %3s  %10s  %6s  %-16s  %8s  %8s  %8s  %9s\n",
		"q", "z", "reversed", "rate", "99% interval", "race", "paper", "paper", "paper's")
	fmt.Fprintf(w, "  %4s %3s  %10s  %6s  %-16s  %8s  %8s  %8s  %9s\n",
		"", "", "", "", "", "exact", "exact", "Poisson", "table")
}

// printRow prints one cell: what the races measured, then what each way
// of counting predicts.
func printRow(w io.Writer, c cell) {
	lo, hi := c.interval()
	printed, ok := paperPrinted(c.s.q, c.z)
	if !ok {
		printed = "-"
	}
	fmt.Fprintf(w, "  %4.2f %3d  %10s  %6.4f  [%.4f, %.4f]  %8.6f  %8.6f  %8.6f  %9s\n",
		c.s.q, c.z, fmt.Sprintf("%d/%d", c.reversed, c.trials), c.rate(), lo, hi,
		c.race(), c.paperExact(), c.paperPoisson(), printed)
}

// safeWaits prints, for each share, the smallest wait whose exact race
// probability is below risk, and what the races measured there (running
// them if the grid did not).
func safeWaits(ctx context.Context, w io.Writer, world *world, cfg *config, eps float64, rows [][]cell) error {
	fmt.Fprintf(w, "The smallest wait z that brings the race under %.1f%%, what the races measured there,\n", risk*100)
	fmt.Fprintf(w, "and the wait the paper's counting asks for:\n")
	fmt.Fprintf(w, "  %4s %3s  %8s  %10s  %6s  %-16s  %s\n", "q", "z", "race", "reversed", "rate", "99% interval", "paper's z")
	fmt.Fprintf(w, "  %4s %3s  %8s  %10s  %6s  %-16s  %s\n", "", "", "exact", "", "", "", "Poisson, exact")
	for i, q := range cfg.shares {
		s := newSplit(q)
		perBlock := s.perBlock(eps)
		z := firstBelow(func(z int) float64 { return blockchain.RaceSuccess(perBlock, z, cfg.giveUp) })
		if z < 0 {
			fmt.Fprintf(w, "  %4.2f  none up to %d blocks\n", q, maxZ)
			continue
		}
		var c cell
		if j := slices.IndexFunc(rows[i], func(c cell) bool { return c.z == z }); j >= 0 {
			c = rows[i][j]
		} else {
			var err error
			if c, err = world.runCell(ctx, s, eps, z, cfg.trials, cfg.seed); err != nil {
				return err
			}
		}
		lo, hi := c.interval()
		fmt.Fprintf(w, "  %4.2f %3d  %8.6f  %10s  %6.4f  [%.4f, %.4f]  %s, %s\n",
			q, z, c.race(), fmt.Sprintf("%d/%d", c.reversed, c.trials), c.rate(), lo, hi,
			waitString(blockchain.ConfirmationsNeeded(q, risk)), waitString(paperExactWait(q)))
	}
	fmt.Fprintln(w)
	return nil
}

// firstBelow returns the smallest z up to maxZ with f(z) < risk, or -1.
func firstBelow(f func(z int) float64) int {
	for z := 0; z <= maxZ; z++ {
		if f(z) < risk {
			return z
		}
	}
	return -1
}

// paperExactWait is ConfirmationsNeeded for the paper's counting made
// exact: the smallest z with AttackerSuccessExact(q, z) < risk, found by
// doubling z and then bisecting, as the probability falls with z; -1 if
// none up to 2^20.
func paperExactWait(q float64) int {
	safe := func(z int) bool { return blockchain.AttackerSuccessExact(q, z) < risk }
	if q >= 0.5 {
		return -1
	}
	if safe(0) {
		return 0
	}
	hi := 1
	for ; !safe(hi); hi *= 2 {
		if hi >= 1<<20 {
			return -1
		}
	}
	lo := hi / 2 // not safe
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; safe(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// waitString is z, or "no wait" for -1.
func waitString(z int) string {
	if z < 0 {
		return "no wait"
	}
	return fmt.Sprint(z)
}

// agreement counts the cells whose 99% interval holds the exact race
// probability, the paper's exact value and its Poisson value.
func agreement(rows [][]cell) (race, exact, poisson, cells int) {
	count := func(p, lo, hi float64) int {
		if lo <= p && p <= hi {
			return 1
		}
		return 0
	}
	for _, row := range rows {
		for _, c := range row {
			lo, hi := c.interval()
			race += count(c.race(), lo, hi)
			exact += count(c.paperExact(), lo, hi)
			poisson += count(c.paperPoisson(), lo, hi)
			cells++
		}
	}
	return race, exact, poisson, cells
}

// paperPrinted returns the value the paper prints in section 11 for an
// attacker with share q, z blocks behind, if it prints one: its first
// table, for q = 0.1 and q = 0.3, to seven decimals.
func paperPrinted(q float64, z int) (string, bool) {
	switch {
	case q == 0.1 && z >= 0 && z <= 10:
		return [...]string{
			"1.0000000", "0.2045873", "0.0509779", "0.0131722", "0.0034552", "0.0009137",
			"0.0002428", "0.0000647", "0.0000173", "0.0000046", "0.0000012",
		}[z], true
	case q == 0.3 && z >= 0 && z <= 50 && z%5 == 0:
		return [...]string{
			"1.0000000", "0.1773523", "0.0416605", "0.0101008", "0.0024804", "0.0006132",
			"0.0001522", "0.0000379", "0.0000095", "0.0000024", "0.0000006",
		}[z/5], true
	}
	return "", false
}
