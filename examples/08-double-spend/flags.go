package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/nakachain/blockchain/examples/internal/demo"
)

// config holds the flags.
type config struct {
	shares       []float64 // Mallory's shares of the hash power
	zFrom, zTo   int       // the confirmations the merchant waits for
	trials       int       // races per (q, z)
	seed         uint64
	giveUp, bits int
	svg          string
}

// Limits of the flags: enough for any sensible run, and small enough that
// a race always ends (Mallory gives up, so a losing race is short) and a
// block takes microseconds.
const (
	maxZ      = 60
	maxTrials = 1_000_000
	maxGiveUp = 50
	minBits   = 6
	maxBits   = 14
)

// parseFlags parses args. It returns a nil config for -help or an error.
func parseFlags(w io.Writer, args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("08-double-spend", flag.ContinueOnError)
	qs := fs.String("q", "0.1,0.2,0.3", "Mallory's shares of the hash power, comma-separated, each 0 to 0.5")
	zs := fs.String("z", "0-6", fmt.Sprintf("confirmations the merchant waits for: a range such as 0-6, or one number (0 to %d)", maxZ))
	fs.IntVar(&c.trials, "trials", 1000, "races for each share and each z")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the nonces each miner starts from: the same seed, the same races")
	fs.IntVar(&c.giveUp, "giveup", 6, fmt.Sprintf("Mallory gives up when she is this many blocks behind (1 to %d)", maxGiveUp))
	fs.IntVar(&c.bits, "bits", 8, fmt.Sprintf("proof-of-work difficulty in leading zero bits (%d to %d)", minBits, maxBits))
	fs.StringVar(&c.svg, "svg", "", "also draw the chart as an SVG file with this name")
	if ok, err := demo.ParseFlags(fs, w, args); !ok {
		return nil, err
	}
	var err error
	if c.shares, err = parseShares(*qs); err != nil {
		return nil, demo.Usagef("-q: %w", err)
	}
	if c.zFrom, c.zTo, err = parseRange(*zs); err != nil {
		return nil, demo.Usagef("-z: %w", err)
	}
	switch {
	case c.trials < 1 || c.trials > maxTrials:
		return nil, demo.Usagef("-trials must be between 1 and %d, not %d", maxTrials, c.trials)
	case c.giveUp < 1 || c.giveUp > maxGiveUp:
		return nil, demo.Usagef("-giveup must be between 1 and %d, not %d", maxGiveUp, c.giveUp)
	case c.bits < minBits || c.bits > maxBits:
		return nil, demo.Usagef("-bits must be between %d and %d, not %d", minBits, maxBits, c.bits)
	}
	return &c, nil
}

// parseShares reads "0.1,0.2,0.3": distinct shares from 0 to 0.5, sorted.
// Above ½ the honest side loses every race it cannot end by Mallory giving
// up, and the paper's question is moot.
func parseShares(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		q, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		if !(q >= 0 && q <= 0.5) {
			return nil, fmt.Errorf("share %v is not between 0 and 0.5", q)
		}
		if slices.Contains(out, q) {
			return nil, fmt.Errorf("share %v is listed twice", q)
		}
		out = append(out, q)
	}
	slices.Sort(out)
	return out, nil
}

// parseRange reads "0-6" or "3".
func parseRange(s string) (from, to int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if from, err = strconv.Atoi(strings.TrimSpace(a)); err != nil {
		return 0, 0, fmt.Errorf("%q is not a number or a range such as 0-6", s)
	}
	to = from
	if isRange {
		if to, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
			return 0, 0, fmt.Errorf("%q is not a range such as 0-6", s)
		}
	}
	if from < 0 || to > maxZ || from > to {
		return 0, 0, fmt.Errorf("%q: want 0 ≤ from ≤ to ≤ %d", s, maxZ)
	}
	return from, to, nil
}
