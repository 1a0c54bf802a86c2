package main

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
	"github.com/nakachain/blockchain/examples/internal/demotest"
)

func runOutput(t *testing.T, args ...string) string {
	t.Helper()
	return demotest.Output(t, run, args...)
}

// row is one printed row of the table of rates.
type row struct {
	q                              float64
	z, reversed, trials            int
	rate, lo, hi                   float64
	race, paperExact, paperPoisson float64
	printed                        string
}

var rowRE = regexp.MustCompile(`^  (\d\.\d\d) +(\d+) +(\d+)/(\d+) +(\d\.\d{4}) +\[(\d\.\d{4}), (\d\.\d{4})\] +(\d\.\d{6}) +(\d\.\d{6}) +(\d\.\d{6}) +(\S+)$`)

func parseRows(t *testing.T, out string) []row {
	t.Helper()
	f := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	n := func(s string) int {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var rows []row
	for line := range strings.Lines(out) {
		m := rowRE.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
		if m == nil {
			continue
		}
		rows = append(rows, row{
			q: f(m[1]), z: n(m[2]), reversed: n(m[3]), trials: n(m[4]),
			rate: f(m[5]), lo: f(m[6]), hi: f(m[7]),
			race: f(m[8]), paperExact: f(m[9]), paperPoisson: f(m[10]), printed: m[11],
		})
	}
	return rows
}

// accepts reports whether k successes in n trials are within the 99%
// binomial interval of probability p (the score test, as the Wilson
// interval inverts it): |k − n·p| ≤ z99·√(n·p·(1−p)).
func accepts(k, n int, p float64) bool {
	return math.Abs(float64(k)-float64(n)*p) <= z99*math.Sqrt(float64(n)*p*(1-p))
}

// The races measure the race the example runs, not the paper's counting:
// for q = 0.3 and z = 1, 2, 3, every count lies within the 99% binomial
// interval of RaceSuccess, and outside those of both of the paper's
// values, so the test would fail if the example counted as the paper does
// (a level branch winning, or no giving up to speak of). The printed facts
// are checked too, and the SVG parsed. 800 races a cell (300 under -race)
// are plenty: the paper's values are about twice the race's here.
func TestRatesMatchTheRaceTheExampleRuns(t *testing.T) {
	trials := 800
	if raceEnabled {
		trials = 300
	}
	svg := filepath.Join(t.TempDir(), "race.svg")
	out := runOutput(t, "-q", "0.3", "-z", "1-3", "-trials", strconv.Itoa(trials), "-seed", "1", "-svg", svg)

	rows := parseRows(t, out)
	if len(rows) != 3 {
		t.Fatalf("%d rows in the table, want 3 (z = 1, 2, 3):\n%s", len(rows), out)
	}
	for i, r := range rows {
		if r.q != 0.3 || r.z != i+1 || r.trials != trials {
			t.Fatalf("row %d: q=%v z=%d trials=%d, want q=0.3 z=%d trials=%d", i, r.q, r.z, r.trials, i+1, trials)
		}
		// At 8 bits, q = 0.3 is each block's odds to within 1e-10: the
		// printed exact probability is RaceSuccess at the nominal share.
		race := blockchain.RaceSuccess(0.3, r.z, 6)
		if math.Abs(r.race-race) > 1e-6 {
			t.Errorf("z=%d: printed race probability %v, RaceSuccess gives %v", r.z, r.race, race)
		}
		if exact, poisson := blockchain.AttackerSuccessExact(0.3, r.z), blockchain.AttackerSuccess(0.3, r.z); math.Abs(r.paperExact-exact) > 1e-6 || math.Abs(r.paperPoisson-poisson) > 1e-6 {
			t.Errorf("z=%d: paper columns %v, %v; want %v, %v", r.z, r.paperExact, r.paperPoisson, exact, poisson)
		}
		if got := float64(r.reversed) / float64(trials); math.Abs(got-r.rate) > 0.00005 {
			t.Errorf("z=%d: rate %v printed for %d/%d", r.z, r.rate, r.reversed, trials)
		}
		if lo, hi := wilson(r.reversed, trials); math.Abs(lo-r.lo) > 0.00005 || math.Abs(hi-r.hi) > 0.00005 {
			t.Errorf("z=%d: interval [%v, %v] printed, want [%.4f, %.4f]", r.z, r.lo, r.hi, lo, hi)
		}
		if !accepts(r.reversed, trials, race) {
			t.Errorf("z=%d: %d of %d races reversed the payment, outside the 99%% interval of the race's probability %.4f",
				r.z, r.reversed, trials, race)
		}
		if !(r.lo <= race && race <= r.hi) {
			t.Errorf("z=%d: the race's probability %.4f is outside the printed interval [%v, %v]", r.z, race, r.lo, r.hi)
		}
		for name, p := range map[string]float64{"exact": r.paperExact, "Poisson": r.paperPoisson} {
			if accepts(r.reversed, trials, p) {
				t.Errorf("z=%d: %d of %d would also fit the paper's %s %.4f: the test could not tell the counts apart",
					r.z, r.reversed, trials, name, p)
			}
		}
		if r.printed != "-" {
			t.Errorf("z=%d: the paper prints no value for q=0.3 here, the table shows %s", r.z, r.printed)
		}
	}

	// The story's facts: one race told, the smallest safe wait, the chart.
	for _, want := range []string{
		"One race, block by block: q = 0.30",
		"to the merchant's node: reorg",
		"the payment is reversed",
		"The smallest wait z that brings the race under 0.1%",
		"A q=0.30: the rates measured",
		"is also in " + svg,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	safe := regexp.MustCompile(`(?m)^  0\.30 +(\d+) +(\d\.\d{6}) +(\d+)/(\d+) .*  24, 32$`).FindStringSubmatch(out)
	if safe == nil {
		t.Fatalf("no safe wait for q=0.30 (paper: 24, exact 32):\n%s", out)
	}
	if z, _ := strconv.Atoi(safe[1]); blockchain.RaceSuccess(0.3, z, 6) >= 0.001 || blockchain.RaceSuccess(0.3, z-1, 6) < 0.001 {
		t.Errorf("safe wait z=%d for q=0.30 is not the first under 0.1%%", z)
	}
	checkSVG(t, svg, 1)
}

// checkSVG parses the file as XML and checks its drawing: an svg root, a
// solid and a dashed line per share, and a dot per measured rate.
func checkSVG(t *testing.T, path string, shares int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	count := map[string]int{}
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
				if se.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("root namespace %q", se.Name.Space)
				}
			}
			count[se.Name.Local]++
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	if count["polyline"] != 2*shares {
		t.Errorf("%d polylines, want %d (the race and the paper for each share)", count["polyline"], 2*shares)
	}
	if count["circle"] < 3*shares {
		t.Errorf("%d circles, want at least %d", count["circle"], 3*shares)
	}
}

// The same seed runs the same races; another seed, others.
func TestTheSeedFixesTheRaces(t *testing.T) {
	args := []string{"-q", "0.2", "-z", "0-1", "-trials", "40"}
	a := runOutput(t, append(args, "-seed", "5")...)
	b := runOutput(t, append(args, "-seed", "5")...)
	c := runOutput(t, append(args, "-seed", "6")...)
	if a != b {
		t.Error("two runs with seed 5 differ")
	}
	if a == c {
		t.Error("seeds 5 and 6 print the same")
	}
}

// Each block's odds under the slot rules: the share to within 10⁻⁴, and 1%
// of it, at 8 bits; the same for either side; and what real hashing
// measures.
func TestPerBlockOdds(t *testing.T) {
	eps := nonceOdds(blockchain.TargetFromBits(8))
	for _, q := range []float64{0, 0.01, 0.1, 0.25, 0.3, 0.45, 0.5} {
		got := newSplit(q).perBlock(eps)
		if math.Abs(got-q) > 1e-4 || math.Abs(got-q) > 0.01*q {
			t.Errorf("q=%v: the next block is Mallory's with probability %v", q, got)
		}
		if other := newSplit(1 - q).perBlock(eps); math.Abs(got+other-1) > 1e-12 {
			t.Errorf("q=%v: %v, and %v for share 1−q: the rules favor a side", q, got, other)
		}
	}
	if got := newSplit(0).perBlock(eps); got != 0 {
		t.Errorf("q=0: %v, want 0", got)
	}

	// Real hashing: blocks won by each side over many slots' races.
	const blocks = 4000
	s := newSplit(0.3)
	rng := rand.New(rand.NewPCG(1, 2))
	honest := &miner{rng: rng, block: &blockchain.Block{Header: blockchain.Header{Height: 1, Nonce: rng.Uint64()}}}
	mallory := &miner{rng: rng, block: &blockchain.Block{Header: blockchain.Header{Height: 2, Nonce: rng.Uint64()}}}
	target := blockchain.TargetFromBits(8)
	won := 0
	for range blocks {
		winner, _, _ := raceSlot(s, honest, mallory, target)
		if winner == malloryNext {
			won++
			mallory.block.Header.Nonce++ // past the winning nonce
		} else {
			honest.block.Header.Nonce++
		}
	}
	if p := s.perBlock(nonceOdds(target)); !accepts(won, blocks, p) {
		t.Errorf("Mallory won %d of %d blocks, outside the 99%% interval of %v", won, blocks, p)
	}
}

func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 100, 0, 0.0622}, {50, 100, 0.3753, 0.6247}, {100, 100, 0.9378, 1},
	} {
		lo, hi := wilson(tc.k, tc.n)
		if math.Abs(lo-tc.lo) > 1e-4 || math.Abs(hi-tc.hi) > 1e-4 {
			t.Errorf("wilson(%d, %d) = [%.4f, %.4f], want [%v, %v]", tc.k, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestBadFlags(t *testing.T) {
	demotest.CheckUsage(t, run, []string{"q", "z", "trials", "seed", "giveup", "bits", "svg"},
		[]string{"-q", "0.6"}, []string{"-q", "x"}, []string{"-q", "0.1,0.1"}, []string{"-q", "-0.1"}, []string{"-q", "NaN"},
		[]string{"-z", "7-3"}, []string{"-z", "-1"}, []string{"-z", "0-99"}, []string{"-z", "a-b"},
		[]string{"-trials", "0"}, []string{"-giveup", "0"}, []string{"-bits", "30"},
	)
	// A chart that cannot be written is an error, after the story.
	err := run(context.Background(), io.Discard, []string{"-q", "0", "-z", "0", "-trials", "1",
		"-svg", filepath.Join(t.TempDir(), "no-such-dir", "race.svg")})
	if !errors.Is(err, os.ErrNotExist) || demo.IsUsage(err) {
		t.Errorf("unwritable -svg: %v, want an error wrapping os.ErrNotExist, not a usage error (exit status 1, not 2)", err)
	}
}
