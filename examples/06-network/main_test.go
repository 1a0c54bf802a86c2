package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
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

// checkGoroutines fails the test unless the goroutine count comes back to
// baseline: the run must leave nothing running.
func checkGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left running, %d before the run:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond) // polling, bounded by the deadline
	}
}

// flat joins the wrapped lines of the story's paragraphs, so that a fact
// reads as one line.
func flat(out string) string {
	return regexp.MustCompile(`\n {0,4}(\S)`).ReplaceAllString(out, " $1")
}

func num(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return n
}

// fact returns the submatches of the one match of re in the flattened
// output.
func fact(t *testing.T, out string, re string) []string {
	t.Helper()
	all := regexp.MustCompile(re).FindAllStringSubmatch(flat(out), -1)
	if len(all) != 1 {
		t.Fatalf("%d facts match %q, want 1:\n%s", len(all), re, out)
	}
	return all[0]
}

// snapshot is one printed frame: each node's line after its ID, and on
// which side of a cut it is (0 before the cut line, 1 after).
type snapshot struct {
	phase string
	ids   []string
	lines []string
	side  []int
}

var (
	headerRE = regexp.MustCompile(`^-- [\d.]+s, (.*) --$`)
	nodeRE   = regexp.MustCompile(`^  \(node ([0-9a-f]{4})\) ((?:\[[0-9a-f]{7}\]--)*\[[0-9a-f]{7}\]  h=\d+ work=[\d,]+)$`)
)

// snapshots parses every frame the run printed.
func snapshots(t *testing.T, out string) []snapshot {
	t.Helper()
	var snaps []snapshot
	var cur *snapshot
	side := 0
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(line, "\n")
		if m := headerRE.FindStringSubmatch(line); m != nil {
			snaps = append(snaps, snapshot{phase: m[1]})
			cur, side = &snaps[len(snaps)-1], 0
			continue
		}
		if cur == nil {
			continue
		}
		switch m := nodeRE.FindStringSubmatch(line); {
		case m != nil:
			cur.ids = append(cur.ids, m[1])
			cur.lines = append(cur.lines, m[2])
			cur.side = append(cur.side, side)
		case strings.Contains(line, "links cut"):
			side = 1
		case strings.HasPrefix(line, "  payments:") || strings.HasPrefix(line, "  messages:"):
		default:
			cur = nil
		}
	}
	return snaps
}

// lastBefore returns the last snapshot printed before the first line of out
// that contains marker.
func lastBefore(t *testing.T, out, marker string) snapshot {
	t.Helper()
	i := strings.Index(out, marker)
	if i < 0 {
		t.Fatalf("output lacks %q:\n%s", marker, out)
	}
	snaps := snapshots(t, out[:i])
	if len(snaps) == 0 {
		t.Fatalf("no snapshot before %q:\n%s", marker, out)
	}
	return snaps[len(snaps)-1]
}

func TestPartitionAndHeal(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		nodes, sideA int
	}{
		{[]string{"-connected", "1s", "-partitioned", "1500ms", "-healed", "1s", "-bits", "14"}, 7, 4},
		{[]string{"-connected", "500ms", "-partitioned", "1s", "-healed", "500ms", "-bits", "13", "-hashrate", "15000",
			"-nodes", "5", "-side-a", "2", "-people", "3", "-seed", "42"}, 5, 2},
	} {
		baseline := runtime.NumGoroutine()
		out := runOutput(t, tc.args...)
		checkGoroutines(t, baseline)
		checkStory(t, tc.args, out, tc.nodes, tc.sideA)
		if t.Failed() {
			t.Fatalf("%q printed:\n%s", tc.args, out)
		}
	}
}

func checkStory(t *testing.T, args []string, out string, nodes, sideA int) {
	// Phase 1: everyone agrees.
	fact(t, out, fmt.Sprintf(`=> All %d nodes agree: tip [0-9a-f]{16} at height \d+\.`, nodes))

	// Phase 2: the sides' tips differ, each side mined at least 2 blocks of
	// its own, and no node of one side shows the chain of a node of the other.
	m := fact(t, out, `=> The two sides' tips differ: side A's tip ([0-9a-f]{16}) at height (\d+) \((\d+) blocks of its own\), `+
		`side B's tip ([0-9a-f]{16}) at height (\d+) \((\d+) blocks of its own\)\. They last agreed at height (\d+)\.`)
	tipA, tipB := m[1], m[4]
	hA, ownA, hB, ownB, agreed := num(t, m[2]), num(t, m[3]), num(t, m[5]), num(t, m[6]), num(t, m[7])
	if tipA == tipB || ownA < 2 || ownB < 2 || hA != agreed+ownA || hB != agreed+ownB {
		t.Errorf("%q: the partition fact does not hold together: %q", args, m[0])
	}
	split := lastBefore(t, out, "=> The two sides' tips differ")
	if len(split.ids) != nodes {
		t.Fatalf("%q: the partition snapshot shows %d nodes, want %d", args, len(split.ids), nodes)
	}
	for i := range split.ids {
		if want := 0; i >= sideA {
			want = 1
			if split.side[i] != want {
				t.Errorf("%q: node %s is not shown on side B", args, split.ids[i])
			}
		} else if split.side[i] != want {
			t.Errorf("%q: node %s is not shown on side A", args, split.ids[i])
		}
		for j := sideA; j < nodes && i < sideA; j++ {
			if split.lines[i] == split.lines[j] {
				t.Errorf("%q: during the partition node %s (side A) and node %s (side B) show the same chain %s", args, split.ids[i], split.ids[j], split.lines[i])
			}
		}
	}

	// Phase 3: all nodes report one tip, on the branch that had more work at
	// the heal (either, if the two had the same), and the losing branch's
	// payments are confirmed again.
	m = fact(t, out, `Side A's branch has work ([\d,]+) \(height \d+\), side B's ([\d,]+) \(height \d+\)\.`)
	workA, workB := num(t, m[1]), num(t, m[2])
	m = fact(t, out, fmt.Sprintf(`=> All %d nodes report the same tip ([0-9a-f]{16}) at height (\d+), on side ([AB])'s branch: ([^.]*)\.`, nodes))
	winner := m[3]
	switch {
	case workA > workB && winner != "A", workB > workA && winner != "B":
		t.Errorf("%q: side A had work %d and side B %d at the heal, yet side %s's branch won", args, workA, workB, winner)
	case strings.Contains(m[4], "less work"):
		t.Errorf("%q: the winner had less work: %q", args, m[0])
	}
	loser := map[string]string{"A": "B", "B": "A"}[winner]
	m = fact(t, out, `=> (\d+) payments were confirmed only on side ([AB])'s abandoned branch; (\d+) of them are now confirmed again on the common chain\.`)
	if m[2] != loser || m[1] != m[3] {
		t.Errorf("%q: %q, want side %s's payments all confirmed again", args, m[0], loser)
	}

	// The end: the last snapshot shows every node on the same chain, the one
	// the summary names.
	snaps := snapshots(t, out)
	final := snaps[len(snaps)-1]
	if final.phase != "mining stopped" || len(final.lines) != nodes {
		t.Fatalf("%q: the last snapshot is %q with %d nodes", args, final.phase, len(final.lines))
	}
	for i, l := range final.lines {
		if l != final.lines[0] {
			t.Errorf("%q: at the end node %s shows %s, node %s shows %s", args, final.ids[i], l, final.ids[0], final.lines[0])
		}
	}
	m = fact(t, out, fmt.Sprintf(`Summary: the %d nodes stopped cleanly, all on tip ([0-9a-f]{16}) at height (\d+)\.`, nodes))
	if want := fmt.Sprintf("[%s]  h=%s ", m[1][:hashDigits], m[2]); !strings.Contains(final.lines[0], want) {
		t.Errorf("%q: the summary's tip %s at height %s is not the one the nodes show: %s", args, m[1], m[2], final.lines[0])
	}
	fact(t, out, `Payments: \d+ sent, each confirmed exactly once on every node's chain`)
	fact(t, out, `; the balances add up to that\.`)
}

// TestCancel stops a run in phase 2 by cancelling its context as soon as
// the story announces that phase: the run must return the context's error
// and leave nothing running. The story's own words say when, so the test
// holds however slow the machine.
func TestCancel(t *testing.T) {
	baseline := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelAt{marker: "Phase 2: cut the links", cancel: cancel}
	err := run(ctx, out, []string{"-connected", "100ms", "-partitioned", "10m", "-timeout", "10m"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run stopped by its context returned %v:\n%s", err, out.String())
	}
	checkGoroutines(t, baseline)
	if !strings.Contains(out.String(), "Phase 2: cut the links") {
		t.Fatalf("the run did not reach phase 2:\n%s", out.String())
	}
}

// cancelAt is a writer that cancels a context once what was written to it
// contains marker. The view writes under its lock, so no two writes race.
type cancelAt struct {
	bytes.Buffer
	marker string
	cancel func()
}

func (c *cancelAt) Write(p []byte) (int, error) {
	n, err := c.Buffer.Write(p)
	if strings.Contains(c.String(), c.marker) {
		c.cancel()
	}
	return n, err
}

// TestLiveView draws the live frame into a buffer: a frame, then a line of
// the story, which erases the frame, prints, and draws it again below.
func TestLiveView(t *testing.T) {
	net := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{})
	defer net.Close()
	var nodes []*blockchain.Node
	params := blockchain.TestParams()
	for _, id := range []blockchain.PeerID{"0001", "0002"} {
		chain, err := blockchain.NewChain(params, blockchain.ChainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n, err := blockchain.NewNode(blockchain.NodeConfig{ID: id, Chain: chain, Network: net})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	var out bytes.Buffer
	v := newView(&out, true)
	v.watch(nodes, newPayer(nil, []string{"alice", "bob"}, nodes[:1], nodes[1:], 1), net)
	v.setPhase("test", 1)
	v.snapshot()
	frame := out.String()
	lines := strings.Split(strings.TrimSuffix(frame, "\n"), "\n")
	g := params.Genesis().Hash().Short(hashDigits)
	want := []string{
		`^-- \d\.\ds, test --$`,
		`^  \(node 0001\) \[` + g + `\]  h=0 work=\d`,
		`^  ~+ links cut ~+$`,
		`^  \(node 0002\) \[` + g + `\]  h=0 work=\d`,
		`^  payments: 0 sent, 0 confirmed`,
		`^  messages: 0 delivered, 0 cut$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("frame of %d lines, want %d:\n%q", len(lines), len(want), frame)
	}
	for i, l := range lines {
		l, ok := strings.CutPrefix(l, clearLine)
		if !ok || !regexp.MustCompile(want[i]).MatchString(l) {
			t.Errorf("frame line %d is %q, want %s after %q", i, lines[i], want[i], clearLine)
		}
	}
	// The next frame may show a later time; compare without the header.
	rest := func(frame string) string { _, r, _ := strings.Cut(frame, "\n"); return r }
	v.say("Hello")
	before, after, ok := strings.Cut(out.String()[len(frame):], "Hello\n")
	if !ok || before != fmt.Sprintf(cursorUp, len(want))+"\r"+clearDown || rest(after) != rest(frame) {
		t.Fatalf("after say:\n%q\nwant the frame erased, Hello, and the frame again", out.String()[len(frame):])
	}
	v.stop()
	n := out.Len()
	v.say("Bye")
	if got := out.String()[n:]; got != "Bye\n" {
		t.Fatalf("after stop, say printed %q, want only the line: the last frame stays", got)
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"one two three four", 9, []string{"one two", "three", "four"}},
		{"=> one two three", 9, []string{"=> one", "   two", "   three"}},
		{"  a bb cc dd", 8, []string{"  a bb", "    cc", "    dd"}},
		{"unbreakablewordhere x", 5, []string{"unbreakablewordhere", "x"}},
	} {
		if got := wrap(tc.text, tc.width); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.text, tc.width, got, tc.want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	demotest.CheckUsage(t, run, []string{"nodes", "people", "bits", "hashrate", "side-a", "connected",
		"partitioned", "healed", "latency", "jitter", "timeout", "seed", "plain"},
		[]string{"-nodes", "1"},
		[]string{"-nodes", "17"},
		[]string{"-people", "1"},
		[]string{"-bits", "7"},
		[]string{"-hashrate", "0"},
		[]string{"-side-a", "0"},
		[]string{"-side-a", "7"},
		[]string{"-connected", "-1s"},
		[]string{"-timeout", "0s"},
	)
}
