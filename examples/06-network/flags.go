package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nakachain/blockchain/examples/internal/demo"
)

// config holds the flags.
type config struct {
	nodes, people, bits, sideA     int
	hashRate                       float64
	connected, partitioned, healed time.Duration
	latency, jitter, timeout       time.Duration
	seed                           uint64
	plain                          bool
}

// parseFlags parses args. It returns a nil config for -help or an error.
func parseFlags(w io.Writer, args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("06-network", flag.ContinueOnError)
	fs.IntVar(&c.nodes, "nodes", 7, "nodes on the network (2 to 16)")
	fs.IntVar(&c.people, "people", 5, fmt.Sprintf("people paying each other (2 to %d)", len(allNames)))
	fs.IntVar(&c.bits, "bits", 15, "proof-of-work difficulty in leading zero bits (8 to 24)")
	fs.Float64Var(&c.hashRate, "hashrate", 20_000, "hashes per second of each node's miner")
	fs.IntVar(&c.sideA, "side-a", 4, "nodes on side A of the cut; the others are side B")
	fs.DurationVar(&c.connected, "connected", 4*time.Second, "how long phase 1 (connected) lasts")
	fs.DurationVar(&c.partitioned, "partitioned", 5*time.Second, "how long phase 2 (links cut) lasts at least")
	fs.DurationVar(&c.healed, "healed", 4*time.Second, "how long phase 3 (healed) lasts at least")
	fs.DurationVar(&c.latency, "latency", 3*time.Millisecond, "delay of every message")
	fs.DurationVar(&c.jitter, "jitter", 4*time.Millisecond, "extra random delay of each message, up to this")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "longest wait for the nodes to agree, or a side to mine")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the node IDs, the network's delays and the payments")
	fs.BoolVar(&c.plain, "plain", false, "print snapshots even on a terminal, instead of redrawing")
	if ok, err := demo.ParseFlags(fs, w, args); !ok {
		return nil, err
	}
	switch {
	case c.nodes < 2 || c.nodes > 16:
		return nil, demo.Usagef("-nodes must be between 2 and 16, not %d", c.nodes)
	case c.people < 2 || c.people > len(allNames):
		return nil, demo.Usagef("-people must be between 2 and %d, not %d", len(allNames), c.people)
	case c.bits < 8 || c.bits > 24:
		return nil, demo.Usagef("-bits must be between 8 and 24, not %d", c.bits)
	case !(c.hashRate >= 100 && c.hashRate <= 1e8):
		return nil, demo.Usagef("-hashrate must be between 100 and 100,000,000, not %v", c.hashRate)
	case c.sideA < 1 || c.sideA >= c.nodes:
		return nil, demo.Usagef("-side-a must be between 1 and %d (-nodes minus 1), not %d", c.nodes-1, c.sideA)
	case c.connected < 0 || c.partitioned < 0 || c.healed < 0 || c.latency < 0 || c.jitter < 0:
		return nil, demo.Usagef("durations must not be negative")
	case c.timeout <= 0:
		return nil, demo.Usagef("-timeout must be positive, not %v", c.timeout)
	}
	return &c, nil
}
