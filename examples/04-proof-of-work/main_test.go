package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nakachain/blockchain/examples/internal/demotest"

	"github.com/nakachain/blockchain"
)

func runOutput(t *testing.T, args ...string) string {
	t.Helper()
	return demotest.Output(t, run, args...)
}

// row is one line of a mining table.
type row struct {
	height, bits int
	nonce        string
	hash         string // the first 16 hex digits
	hashes       uint64
	took         time.Duration
	rate         float64 // hashes per second
}

var rowRE = regexp.MustCompile(`^\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-f]{16})\s+([\d,]+)\s+(\S+)\s+([\d.]+) (H|kH|MH|GH)/s$`)

// table parses the mining table that follows the line containing marker.
func table(t *testing.T, out, marker string) []row {
	t.Helper()
	i := strings.Index(out, marker)
	if i < 0 {
		t.Fatalf("output lacks %q:\n%s", marker, out)
	}
	lines := strings.Split(out[i:], "\n")
	k := 1
	for k < len(lines) && !strings.HasPrefix(lines[k], "  height bits") {
		k++
	}
	var rows []row
	for _, l := range lines[k+1:] {
		m := rowRE.FindStringSubmatch(l)
		if m == nil {
			break
		}
		var r row
		r.height, _ = strconv.Atoi(m[1])
		r.bits, _ = strconv.Atoi(m[2])
		r.nonce, r.hash = m[3], m[4]
		r.hashes = parseCount(t, m[5])
		var err error
		if r.took, err = time.ParseDuration(m[6]); err != nil {
			t.Fatalf("row %q: %v", l, err)
		}
		r.rate, _ = strconv.ParseFloat(m[7], 64)
		r.rate *= map[string]float64{"H": 1, "kH": 1e3, "MH": 1e6, "GH": 1e9}[m[8]]
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatalf("no mining table after %q:\n%s", marker, out)
	}
	return rows
}

func parseCount(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("count %q: %v", s, err)
	}
	return n
}

// leadingZeroBits counts the zero bits a hex prefix starts with.
func leadingZeroBits(t *testing.T, hexPrefix string) int {
	t.Helper()
	b, err := hex.DecodeString(hexPrefix)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range b {
		n += bits.LeadingZeros8(x)
		if x != 0 {
			break
		}
	}
	return n
}

// checkRows checks the facts of a mining table: heights in order from
// first, the scheduled difficulty, enough zero bits, work and a positive
// rate.
func checkRows(t *testing.T, what string, rows []row, first int, wantBits []int) {
	t.Helper()
	if len(rows) != len(wantBits) {
		t.Fatalf("%s: %d rows, want %d", what, len(rows), len(wantBits))
	}
	for i, r := range rows {
		if r.height != first+i || r.bits != wantBits[i] {
			t.Errorf("%s: row %d is height %d with %d bits, want height %d with %d", what, i, r.height, r.bits, first+i, wantBits[i])
		}
		if z := leadingZeroBits(t, r.hash); z < r.bits {
			t.Errorf("%s: block %d hash %s… has %d leading zero bits, needs %d", what, r.height, r.hash, z, r.bits)
		}
		if r.hashes == 0 || r.took <= 0 || r.rate <= 0 {
			t.Errorf("%s: block %d: %d hashes in %v at %v H/s, want all positive", what, r.height, r.hashes, r.took, r.rate)
		}
	}
}

// number returns the count printed right after prefix.
func number(t *testing.T, out, prefix string) uint64 {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(prefix) + `\s+([\d,]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no count after %q:\n%s", prefix, out)
	}
	return parseCount(t, m[1])
}

func TestMiningAndRewriting(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		bits   []int
		tamper int
	}{
		{[]string{"-from", "4", "-to", "12", "-step", "4", "-workers", "2"}, []int{4, 8, 12}, 1},
		{[]string{"-from", "3", "-to", "12", "-step", "2", "-workers", "1", "-tamper", "2"}, []int{3, 5, 7, 9, 11}, 2},
	} {
		out := runOutput(t, tc.args...)
		honest := table(t, out, "Mining ")
		checkRows(t, "honest chain", honest, 0, tc.bits)
		if !strings.Contains(out, "The whole chain (work, targets, Merkle roots, links): ok") {
			t.Errorf("%q: the honest chain is not reported valid", tc.args)
		}
		if !regexp.MustCompile(`Checking the proof of work of all \d+ blocks took \S+: one hash each`).MatchString(out) {
			t.Errorf("%q: no timing of the check", tc.args)
		}

		// Swapping the transfer breaks the Merkle root and nothing else;
		// recomputing the root breaks the next block's link (and, unless
		// the new hash is lucky, the block's own proof of work).
		swapped := problemsAfter(t, out, "Check after swapping the transfer:")
		if len(swapped) != 1 || !strings.HasPrefix(swapped[0], "block "+strconv.Itoa(tc.tamper)+": blockchain: ErrBadMerkleRoot") {
			t.Errorf("%q: after the swap: %q, want only block %d's Merkle root", tc.args, swapped, tc.tamper)
		}
		recomputed := strings.Join(problemsAfter(t, out, "Check after recomputing the Merkle root:"), "\n")
		if !strings.Contains(recomputed, "block "+strconv.Itoa(tc.tamper+1)+": broken hash link to block "+strconv.Itoa(tc.tamper)) {
			t.Errorf("%q: no broken link reported after recomputing the root:\n%s", tc.args, recomputed)
		}
		if strings.Contains(out, "By luck") == strings.Contains(recomputed, "ErrBadProofOfWork") {
			t.Errorf("%q: the story and the check disagree about block %d's proof of work:\n%s", tc.args, tc.tamper, out)
		}

		// Mallory re-mines the altered block and every block after it.
		attack := table(t, out, "Mallory re-mines blocks")
		checkRows(t, "Mallory's chain", attack, tc.tamper, tc.bits[tc.tamper:])
		if !strings.Contains(out, "Check of Mallory's chain: ok") {
			t.Errorf("%q: Mallory's re-mined chain is not reported valid", tc.args)
		}
		var honestWork, attackWork uint64
		for _, r := range honest[tc.tamper:] {
			honestWork += r.hashes
		}
		for _, r := range attack {
			attackWork += r.hashes
		}
		if got := number(t, out, "honest miners spent"); got != honestWork {
			t.Errorf("%q: honest work printed %d, rows add up to %d", tc.args, got, honestWork)
		}
		if got := number(t, out, "Mallory re-mined with"); got != attackWork {
			t.Errorf("%q: Mallory's work printed %d, rows add up to %d", tc.args, got, attackWork)
		}
		var expected uint64
		for _, b := range tc.bits[tc.tamper:] {
			expected += 1 << b
		}
		if got := number(t, out, "demand: about"); got < expected || got > expected+expected/50 {
			t.Errorf("%q: expected work printed %d, want about %d", tc.args, got, expected)
		}
	}
}

// problemsAfter returns the problem lines printed after the check line
// starting with marker, which must report FAILED.
func problemsAfter(t *testing.T, out, marker string) []string {
	t.Helper()
	i := strings.Index(out, marker+" FAILED\n")
	if i < 0 {
		t.Fatalf("no failed %q in:\n%s", marker, out)
	}
	var problems []string
	for _, l := range strings.Split(out[i:], "\n")[1:] {
		if !strings.HasPrefix(l, "    ") {
			break
		}
		problems = append(problems, strings.TrimSpace(l))
	}
	return problems
}

func TestOneWorkerIsReproducible(t *testing.T) {
	args := []string{"-from", "4", "-to", "10", "-step", "3", "-workers", "1"}
	a, b := table(t, runOutput(t, args...), "Mining "), table(t, runOutput(t, args...), "Mining ")
	for i := range a {
		if a[i].nonce != b[i].nonce || a[i].hash != b[i].hash || a[i].hashes != b[i].hashes {
			t.Errorf("block %d: nonce %s hash %s after %d hashes, then %s %s after %d", i, a[i].nonce, a[i].hash, a[i].hashes, b[i].nonce, b[i].hash, b[i].hashes)
		}
		// One worker tries nonces 0, 1, 2, ... and stops at the first hit.
		if want := strconv.FormatUint(a[i].hashes-1, 10); a[i].nonce != want {
			t.Errorf("block %d: nonce %s after %d hashes, want %s", i, a[i].nonce, a[i].hashes, want)
		}
	}
}

func TestVerifyChainDemandsTheScheduledWork(t *testing.T) {
	sched := schedule{from: 4, step: 2, n: 2}
	chain := []blockchain.Block{newBlock(0, blockchain.Hash{}, 4, time.Unix(1, 0), nil)}
	if _, err := mineBlock(context.Background(), &chain[0], 1); err != nil {
		t.Fatal(err)
	}
	// A forger mines block 1 at an easier target than the chain demands.
	chain = append(chain, newBlock(1, chain[0].Hash(), 1, time.Unix(2, 0), nil))
	if _, err := mineBlock(context.Background(), &chain[1], 1); err != nil {
		t.Fatal(err)
	}
	problems := verifyChain(chain, sched)
	if len(problems) != 1 || !errors.Is(problems[0], blockchain.ErrBadTarget) {
		t.Fatalf("easy block: %v, want one ErrBadTarget", problems)
	}
	chain[1] = newBlock(1, chain[0].Hash(), 6, time.Unix(2, 0), nil)
	if _, err := mineBlock(context.Background(), &chain[1], 1); err != nil {
		t.Fatal(err)
	}
	if problems := verifyChain(chain, sched); len(problems) != 0 {
		t.Fatalf("valid chain: %v", problems)
	}
	chain[1].Header.Nonce++ // almost surely breaks the work; check honestly
	if err := chain[1].Header.CheckProofOfWork(); err != nil {
		if problems := verifyChain(chain, sched); len(problems) != 1 || !errors.Is(problems[0], blockchain.ErrBadProofOfWork) {
			t.Fatalf("bad nonce: %v, want one ErrBadProofOfWork", problems)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := run(ctx, &out, []string{"-from", "40", "-to", "48", "-step", "4"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run with a cancelled context: %v", err)
	}
}

func TestHelpers(t *testing.T) {
	for d, want := range map[time.Duration]string{
		999 * time.Nanosecond:     "999ns",
		1234567 * time.Nanosecond: "1.23ms",
		98765 * time.Microsecond:  "98.8ms",
	} {
		if got := round(d).String(); got != want {
			t.Errorf("round(%v) = %s, want %s", d, got, want)
		}
	}
	if got := rate(stats{hashes: 3_000_000, took: time.Second}); got != "3.0 MH/s" {
		t.Errorf("rate = %q", got)
	}
}

func TestBadFlags(t *testing.T) {
	demotest.CheckUsage(t, run, []string{"from", "to", "step", "workers", "tamper"},
		[]string{"-from", "0"},
		[]string{"-from", "10", "-to", "8"},
		[]string{"-to", "65"},
		[]string{"-from", "8", "-to", "10", "-step", "2"}, // two blocks: too few
		[]string{"-step", "0"},
		[]string{"-tamper", "6"},
	)
}
