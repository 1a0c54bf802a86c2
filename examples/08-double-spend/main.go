// Command 08-double-spend runs the attack of section 11 of the Bitcoin
// paper for real, many times over, and compares how often it succeeds with
// what the formulas say. Run it from the repository root with
// go run ./examples/08-double-spend.
//
// Mallory holds a share q of the hash power. She pays a merchant, and at the
// same moment starts mining, in secret, a branch from the block before the
// payment's, in which the same coins (the same sender nonce) go back to
// herself. The merchant ships once the payment has z confirmations. From
// then on Mallory publishes her branch as soon as it has more work than the
// public chain, which makes every node drop the payment; and she gives up
// when she is -giveup blocks behind.
//
// Every block is really mined: both sides try real nonces, each as many per
// slot of simulated time as its share of the hash power, so who finds the
// next block is decided by hashing, not by a random draw. Every fork is
// decided by the merchant's node (blockchain.Chain.AddBlock), and a race
// counts as a success only if the merchant's chain no longer holds the
// payment.
//
// The measured rates stand beside the exact probability of this race
// (blockchain.RaceSuccess) and the paper's counting, exact
// (blockchain.AttackerSuccessExact) and with its Poisson shortcut
// (blockchain.AttackerSuccess), and the paper's own printed table. A chart
// shows them in the terminal, and with -svg in an SVG file.
//
//	go run ./examples/08-double-spend
//	go run ./examples/08-double-spend -q 0.1,0.3 -z 0-8 -trials 3000 -svg race.svg
//	go run ./examples/08-double-spend -q 0.45 -z 0-12 -giveup 20
//
// The seed fixes the nonce each miner starts from on each block, and so
// every race: the same flags print the same numbers on every run.
package main

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/nakachain/blockchain/examples/internal/demo"
)

func main() { demo.Main("08-double-spend", run) }

// The money, in base units: Mallory's coins in the genesis block, the
// price of the goods, and the fee each transfer pays (the test chain's
// minimum).
const (
	opening = 100_000
	price   = 60_000
	fee     = 1
)

// risk is the merchant's bar: a wait is safe when the race's probability is
// below it, as in the paper's second table.
const risk = 0.001

// run tells the story, writing to w. args are the command-line flags.
func run(ctx context.Context, w io.Writer, args []string) error {
	cfg, err := parseFlags(w, args)
	if cfg == nil {
		return err // a bad flag, or -help
	}
	fmt.Fprintln(w, "Stage 8: a double spend, raced for real")
	fmt.Fprintln(w)
	demo.Para(w, "Mallory, who holds a share q of the hash power, pays a merchant %s for goods. "+
		"At the same moment she starts mining, in secret, a branch from the block before the "+
		"payment's, in which the same coins, with the same nonce, go back to herself. The "+
		"merchant ships once the payment has z confirmations (z = 1: the payment is in the tip "+
		"block; z = 0: he ships at once). The honest miners have then found z blocks since Mallory "+
		"started: the z of the paper's formula. If Mallory's branch then has more work than the public "+
		"chain she publishes it, every node follows it, and the payment is gone: she has the goods "+
		"and the coins.", demo.Commas(price))
	demo.Para(w, "The paper (section 11) counts an attacker who draws level as having caught up, and "+
		"lets her try forever. Nodes here follow the first branch seen among branches of equal work, "+
		"so a level branch changes nothing: Mallory must get one block ahead, and from d blocks "+
		"behind she needs d+1 blocks more than the honest miners, not d. And she gives up once "+
		"she is %d blocks behind, forfeiting her rare comebacks. Both lower her chances; "+
		"blockchain.RaceSuccess is the exact probability of this race.", cfg.giveUp)

	// The rules, and how the two sides share the hashing.
	world, err := newWorld(cfg.bits, cfg.giveUp)
	if err != nil {
		return err
	}
	eps := nonceOdds(world.target)
	explainSlots(w, cfg, eps)

	// One race, told block by block.
	if err := sampleRace(ctx, w, world, cfg); err != nil {
		return err
	}

	// Many races for each share and each wait.
	demo.Para(w, "Now %s for each share q and each wait z. A race counts as a success when the "+
		"merchant's chain no longer holds the payment. Beside the rate measured, with its 99%% "+
		"interval: the exact probability of this race, the paper's counting made exact (the "+
		"attacker's blocks counted as a negative binomial, blockchain.AttackerSuccessExact), the "+
		"paper's Poisson shortcut (blockchain.AttackerSuccess), and the paper's printed table "+
		"where it has a value.", demo.Plural(cfg.trials, "race"))
	rows, err := runGrid(ctx, w, world, cfg, eps)
	if err != nil {
		return err
	}
	if err := safeWaits(ctx, w, world, cfg, eps, rows); err != nil {
		return err
	}

	// The chart.
	ch := newChart(rows, cfg.zFrom, cfg.zTo)
	fmt.Fprintln(w, "The rates measured and the exact race probability, against z (log scale):")
	fmt.Fprintln(w)
	ch.drawText(w)
	fmt.Fprintln(w)
	if cfg.svg != "" {
		title := fmt.Sprintf("Double spend: %s per point, giving up %d behind, %d-bit blocks, seed %d",
			demo.Plural(cfg.trials, "race"), cfg.giveUp, cfg.bits, cfg.seed)
		if err := writeSVG(cfg.svg, ch, title); err != nil {
			return err
		}
		fmt.Fprintf(w, "The chart, with the paper's values dashed, is also in %s.\n\n", cfg.svg)
	}
	race, exact, poisson, cells := agreement(rows)
	demo.Para(w, "In %d of the %d cells the exact probability of the race lies within the 99%% interval "+
		"of the rate measured; the paper's counting, exact, in %d, and with its Poisson shortcut in %d. "+
		"The rules decide the odds, and a merchant can compute them for the rules his node follows. "+
		"Either way they fall exponentially with every block he waits, as the paper showed: an "+
		"attacker with less than half the hash power must be lucky early, or not at all.",
		race, cells, exact, poisson)
	return nil
}

// explainSlots tells how each side's share of the hash power is enforced
// over real nonces, and what that makes of each block's odds.
func explainSlots(w io.Writer, cfg *config, eps float64) {
	demo.Para(w, "Every block below is mined at a fixed target of %d leading zero bits: each nonce "+
		"meets it with probability %.6f, one in %s. Time runs in slots; in each slot the whole "+
		"network tries %s nonces, the honest miners round(p·%s) of them and Mallory "+
		"round(q·%s), evenly spread, each side's i-th nonce at the middle of its i-th "+
		"share of the slot. The first nonce to meet the target wins the block (of two at the "+
		"same instant, the lower hash), and the next block starts a new slot. So Mallory finds "+
		"each next block with very nearly her share as probability; exactly, with these:",
		cfg.bits, eps, demo.Commas(int(math.Round(1/eps))), demo.Commas(slotNonces),
		demo.Commas(slotNonces), demo.Commas(slotNonces))
	fmt.Fprintf(w, "  %4s  %13s  %16s  %s\n", "q", "honest nonces", "Mallory's nonces", "Mallory finds a block with probability")
	for _, q := range cfg.shares {
		s := newSplit(q)
		fmt.Fprintf(w, "  %4.2f  %13s  %16s  %.7f\n", q, demo.Commas(s.honest), demo.Commas(s.mallory), s.perBlock(eps))
	}
	fmt.Fprintln(w)
	demo.Para(w, "The exact race probability below is computed for those odds, so it describes "+
		"exactly the races run here.")
}

// sampleRace tells one race block by block: the first that Mallory wins,
// with the largest share asked for and a wait of 2 blocks (or the nearest
// asked for), among up to sampleTries races; if she wins none, the last.
func sampleRace(ctx context.Context, w io.Writer, world *world, cfg *config) error {
	const sampleTries = 1000
	q := cfg.shares[len(cfg.shares)-1]
	z := min(max(2, cfg.zFrom), cfg.zTo)
	s := newSplit(q)
	tries := sampleTries
	if s.mallory == 0 {
		tries = 1 // she cannot win
	}
	t, won := 0, false
	for ; t < tries && !won; t++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		out, err := world.race(s, z, raceRand(cfg.seed, q, z, -1-t), nil)
		if err != nil {
			return err
		}
		won = out.reversed
	}
	fmt.Fprintf(w, "One race, block by block: q = %.2f, the merchant waits for %s,\n", q, demo.Plural(z, "confirmation"))
	if won {
		fmt.Fprintf(w, "Mallory gives up %d behind. It is the first such race she wins (race %d);\n", cfg.giveUp, t)
	} else {
		fmt.Fprintf(w, "Mallory gives up %d behind. She won none of %s; the last one:\n", cfg.giveUp, demo.Plural(t, "race"))
	}
	fmt.Fprintf(w, "her secret blocks are primed: 1', 2'...\n")
	out, err := world.race(s, z, raceRand(cfg.seed, q, z, -t), func(format string, args ...any) {
		fmt.Fprintf(w, "  "+format+"\n", args...)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  (%s mined, %s nonces tried)\n\n", demo.Plural(out.blocks, "block"), demo.Commas(out.hashes))
	return nil
}

// runGrid runs the races of every share and every z, printing each row as
// it is done. It returns the cells, one row per share.
func runGrid(ctx context.Context, w io.Writer, world *world, cfg *config, eps float64) ([][]cell, error) {
	printHeader(w)
	var rows [][]cell
	var blocks int
	var hashes uint64
	for _, q := range cfg.shares {
		var row []cell
		for z := cfg.zFrom; z <= cfg.zTo; z++ {
			c, err := world.runCell(ctx, newSplit(q), eps, z, cfg.trials, cfg.seed)
			if err != nil {
				return nil, err
			}
			printRow(w, c)
			row = append(row, c)
			blocks += c.blocks
			hashes += c.hashes
		}
		rows = append(rows, row)
	}
	fmt.Fprintf(w, "  (%s blocks mined and %s nonces tried in all)\n\n", demo.Commas(blocks), demo.Commas(hashes))
	return rows, nil
}
