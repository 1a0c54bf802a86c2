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

// payment is one printed payment line.
type payment struct {
	from, to           string
	amount, fee, nonce uint64
}

// block is one printed block.
type block struct {
	height   uint64
	hash     string
	time     time.Time
	nonce    uint64
	tries    uint64
	miner    string
	coinbase uint64
	reward   uint64
	fees     uint64
	payments []payment
}

var (
	paymentRE  = regexp.MustCompile(`^  (\w+) pays (\w+) ([\d,]+) \(fee (\d+), nonce (\d+)\)(: pending)?$`)
	blockRE    = regexp.MustCompile(`^The node mines block (\d+): hash ([0-9a-f]{16}), time ([\d-]+ [\d:]+), nonce ([\d,]+) \(found after ([\d,]+) tries\)$`)
	coinbaseRE = regexp.MustCompile(`^  coinbase: (\w+) gets ([\d,]+) = reward ([\d,]+) \+ fees ([\d,]+)$`)
	balanceRE  = regexp.MustCompile(`^Balances at height (\d+): (.*) \(total ([\d,]+) = genesis ([\d,]+) \+ (\d+) rewards? of ([\d,]+)\)$`)
	refusedRE  = regexp.MustCompile(`^    refused: blockchain: (Err\w+): `)
)

func num(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return n
}

func parsePayment(t *testing.T, m []string) payment {
	return payment{m[1], m[2], num(t, m[3]), num(t, m[4]), num(t, m[5])}
}

// story is what a run printed, parsed.
type story struct {
	submitted []payment
	blocks    []block
	balances  []map[string]uint64 // after each balance line, by name
	heights   []uint64            // the height of each balance line
	refusals  []string            // error codes, in order
}

func parse(t *testing.T, out string) story {
	t.Helper()
	var s story
	var cur *block
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(line, "\n")
		if m := blockRE.FindStringSubmatch(line); m != nil {
			tm, err := time.Parse(time.DateTime, m[3])
			if err != nil {
				t.Fatal(err)
			}
			s.blocks = append(s.blocks, block{height: num(t, m[1]), hash: m[2], time: tm, nonce: num(t, m[4]), tries: num(t, m[5])})
			cur = &s.blocks[len(s.blocks)-1]
			continue
		}
		if m := coinbaseRE.FindStringSubmatch(line); m != nil && cur != nil {
			cur.miner, cur.coinbase, cur.reward, cur.fees = m[1], num(t, m[2]), num(t, m[3]), num(t, m[4])
			continue
		}
		if m := paymentRE.FindStringSubmatch(line); m != nil {
			p := parsePayment(t, m)
			if m[6] != "" {
				s.submitted = append(s.submitted, p)
			} else if cur != nil {
				cur.payments = append(cur.payments, p)
			} else {
				t.Fatalf("payment outside a block: %q", line)
			}
			continue
		}
		cur = nil
		if m := balanceRE.FindStringSubmatch(line); m != nil {
			bal := make(map[string]uint64)
			var total uint64
			for _, part := range strings.Split(m[2], ", ") {
				name, amount, _ := strings.Cut(part, " ")
				bal[name] = num(t, amount)
				total += bal[name]
			}
			h := num(t, m[1])
			if total != num(t, m[3]) || num(t, m[5]) != h || total != num(t, m[4])+h*num(t, m[6]) {
				t.Errorf("balances do not add up: %q", line)
			}
			s.balances = append(s.balances, bal)
			s.heights = append(s.heights, h)
		}
		if m := refusedRE.FindStringSubmatch(line); m != nil {
			s.refusals = append(s.refusals, m[1])
		}
	}
	return s
}

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

func TestStory(t *testing.T) {
	for _, tc := range []struct {
		args               []string
		people, pay, nblks int
		bits               int
	}{
		{[]string{"-bits", "16", "-blocks", "3", "-payments", "4"}, 3, 4, 3, 16},
		{[]string{"-bits", "17", "-blocks", "2", "-payments", "7", "-people", "5", "-seed", "9"}, 5, 7, 2, 17},
	} {
		out := runOutput(t, tc.args...)
		s := parse(t, out)
		checkStory(t, tc.args, s, tc.people, tc.pay, tc.nblks, tc.bits)
		if t.Failed() {
			t.Fatalf("output:\n%s", out)
		}
	}
}

func checkStory(t *testing.T, args []string, s story, people, pay, nblks, wantBits int) {
	genesis := blockchain.TestParams().GenesisTime
	// The rounds' payments, then alice's first spend of the double spend.
	if len(s.submitted) != pay*nblks+1 {
		t.Errorf("%q: %d payments submitted, want %d", args, len(s.submitted), pay*nblks+1)
	}
	if len(s.blocks) < nblks+1 {
		t.Fatalf("%q: %d blocks mined, want at least %d", args, len(s.blocks), nblks+1)
	}

	// Replay the printed blocks from the genesis balances and check every
	// printed balance line against the result.
	bal := map[string]uint64{}
	for _, name := range allNames[:people] {
		bal[name] = opening
	}
	confirmed := map[payment]int{}
	balanceLine := 1 // the first line is the genesis balances
	if len(s.balances) == 0 || s.heights[0] != 0 {
		t.Fatalf("%q: no genesis balances", args)
	}
	for name, b := range s.balances[0] {
		if b != bal[name] {
			t.Errorf("%q: genesis balance of %s is %d, want %d", args, name, b, bal[name])
		}
	}
	for i, b := range s.blocks {
		if b.height != uint64(i+1) {
			t.Errorf("%q: block %d printed as height %d", args, i+1, b.height)
		}
		if z := leadingZeroBits(t, b.hash); z < wantBits {
			t.Errorf("%q: block %d hash %s… has %d zero bits, needs %d", args, b.height, b.hash, z, wantBits)
		}
		if want := genesis.Add(time.Duration(b.height) * blockInterval).UTC(); !b.time.Equal(want) {
			t.Errorf("%q: block %d stamped %v, want %v", args, b.height, b.time, want)
		}
		if b.tries != b.nonce+1 {
			t.Errorf("%q: block %d: nonce %d after %d tries", args, b.height, b.nonce, b.tries)
		}
		var fees uint64
		for _, p := range b.payments {
			fees += p.fee
			if bal[p.from] < p.amount+p.fee {
				t.Errorf("%q: block %d: %s overspends", args, b.height, p.from)
			}
			bal[p.from] -= p.amount + p.fee
			bal[p.to] += p.amount
			confirmed[p]++
		}
		if b.miner != "miner" || b.reward != reward || b.fees != fees || b.coinbase != reward+fees {
			t.Errorf("%q: block %d: coinbase pays %s %d = %d + %d, want miner %d + %d", args, b.height, b.miner, b.coinbase, b.reward, b.fees, reward, fees)
		}
		bal["miner"] += b.coinbase
		// Balance lines follow the blocks they come after.
		for balanceLine < len(s.heights) && s.heights[balanceLine] == b.height {
			for name, got := range s.balances[balanceLine] {
				if got != bal[name] {
					t.Errorf("%q: at height %d %s has %d, the blocks say %d", args, b.height, name, got, bal[name])
				}
			}
			balanceLine++
		}
	}
	if balanceLine != len(s.balances) {
		t.Errorf("%q: balance lines at heights %v do not follow the blocks", args, s.heights)
	}
	for _, p := range s.submitted {
		if confirmed[p] != 1 {
			t.Errorf("%q: payment %+v confirmed %d times, want once", args, p, confirmed[p])
		}
	}
	if len(confirmed) != len(s.submitted) {
		t.Errorf("%q: blocks hold %d payments, %d were submitted", args, len(confirmed), len(s.submitted))
	}
	want := []string{"ErrInsufficientFunds", "ErrTxOnChain", "ErrNonceTooLow", "ErrMempoolConflict", "ErrNonceTooLow"}
	if strings.Join(s.refusals, " ") != strings.Join(want, " ") {
		t.Errorf("%q: refusals %v, want %v", args, s.refusals, want)
	}
}

// TestReproducible checks that two runs print the same thing, hashes
// included: the clock is simulated and the miner tries nonces in order.
func TestReproducible(t *testing.T) {
	args := []string{"-blocks", "2", "-bits", "18"}
	first, second := runOutput(t, args...), runOutput(t, args...)
	if s := parse(t, first); len(s.blocks) != 2+1 {
		t.Fatalf("%d blocks mined, want 3 (two rounds and the double spend's)", len(s.blocks))
	}
	if first != second {
		t.Fatalf("two runs differ:\n%s\n---\n%s", first, second)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, new(bytes.Buffer), []string{"-bits", "24"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("run with a cancelled context: %v", err)
	}
}

func TestBadFlags(t *testing.T) {
	demotest.CheckUsage(t, run, []string{"people", "payments", "blocks", "bits", "seed"},
		[]string{"-people", "2"},
		[]string{"-people", "9"},
		[]string{"-payments", "-1"},
		[]string{"-blocks", "0"},
		[]string{"-bits", "7"},
		[]string{"-bits", "25"},
	)
}
