package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nakachain/blockchain/examples/internal/demotest"
)

// flat joins the wrapped lines of the story's paragraphs, so that a fact
// reads as one line.
func flat(out string) string {
	return regexp.MustCompile(`\n(\S)`).ReplaceAllString(out, " $1")
}

func num(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return n
}

// facts returns the submatches of every match of re in the flattened
// output, failing unless there are want of them.
func facts(t *testing.T, out, re string, want int) [][]string {
	t.Helper()
	all := regexp.MustCompile(re).FindAllStringSubmatch(flat(out), -1)
	if len(all) != want {
		t.Fatalf("%d facts match %q, want %d:\n%s", len(all), re, want, out)
	}
	return all
}

func TestStory(t *testing.T) {
	out := demotest.Output(t, run)
	checkNoChildren(t)

	// The three processes and ours agree, twice: before the crash and
	// after node 3 caught up; the table above each agreement says so too.
	agreed := facts(t, out, `=> All 3 nodes and ours agree: tip (\d+) ([0-9a-f]{16})\.`, 2)
	tables := regexp.MustCompile(`(?m)^  (?:node \d  |our node) height (\d+) +tip ([0-9a-f]{16})$`).FindAllStringSubmatch(out, -1)
	if len(tables) != 8 {
		t.Fatalf("%d tip lines, want 2 tables of 4:\n%s", len(tables), out)
	}
	for i, row := range tables {
		if a := agreed[i/4]; row[1] != a[1] || row[2] != a[2] {
			t.Errorf("tip line %q differs from the agreement %q", row[0], a[0])
		}
	}

	// The killed node kept every block it reported stored, restarted at
	// exactly what its store held, and caught up.
	last := facts(t, out, `Node 3's last "block stored" line named block (\d+) ([0-9a-f]{16})\.`, 1)[0]
	disk := facts(t, out, `its chain ends at block (\d+) ([0-9a-f]{16}), which holds every block`, 1)[0]
	opened := facts(t, out, `Node 3 opened its chain at block (\d+) ([0-9a-f]{16}): the tip it had stored, (\d+) blocks? behind`, 1)[0]
	caught := facts(t, out, `Node 3 caught up in \S+: it stored (\d+) blocks? from its peers and agrees on tip (\d+) ([0-9a-f]{16})\.`, 1)[0]
	if num(t, disk[1]) < num(t, last[1]) {
		t.Errorf("node 3's store ends at height %s, below its last reported block %s", disk[1], last[1])
	}
	if disk[1] != opened[1] || disk[2] != opened[2] {
		t.Errorf("node 3 reopened at %s %s, not at the tip its store held, %s %s", opened[1], opened[2], disk[1], disk[2])
	}
	if caught[2] != agreed[1][1] || caught[3] != agreed[1][2] {
		t.Errorf("node 3 caught up to %s %s, not to the agreed tip %s %s", caught[2], caught[3], agreed[1][1], agreed[1][2])
	}
	if behind, got := num(t, opened[3]), num(t, caught[1]); got < behind {
		t.Errorf("node 3 was %d blocks behind but stored only %d after its restart", behind, got)
	}
	if num(t, agreed[1][1]) <= num(t, agreed[0][1]) {
		t.Errorf("the chain did not grow while node 3 was down: %s, then %s", agreed[0][1], agreed[1][1])
	}

	// The balances: the payment moved, and the coins add up to the
	// genesis allocations and the rewards at the agreed height.
	bal := facts(t, out, `the chain: alice ([\d,]+), bob ([\d,]+), node 2's miner ([\d,]+), node 3's miner ([\d,]+)\. `+
		`Total ([\d,]+) = ([\d,]+) in the genesis block \+ (\d+) rewards? of ([\d,]+)`, 2)
	for i, b := range bal {
		if num(t, b[1]) != opening-amount-fee || num(t, b[2]) != opening+amount {
			t.Errorf("balances %q: alice should have %d and bob %d", b[0], opening-amount-fee, opening+amount)
		}
		sum := num(t, b[1]) + num(t, b[2]) + num(t, b[3]) + num(t, b[4])
		if sum != num(t, b[5]) || sum != 2*opening+num(t, b[7])*reward {
			t.Errorf("balances %q do not add up", b[0])
		}
		if b[7] != agreed[i][1] {
			t.Errorf("balances %q are not at the agreed height %s", b[0], agreed[i][1])
		}
		if num(t, b[3]) == 0 || num(t, b[4]) == 0 {
			t.Errorf("balances %q: both miners should have won a block", b[0])
		}
	}
	facts(t, out, `=> The payment [0-9a-f]{12} is in block \d+ [0-9a-f]{16}, mined by node [23]'s miner\.`, 1)
	facts(t, out, `each process stops on SIGTERM and logs "shutdown complete"`, 1)
}

// TestStoppedMidway cancels the story while the nodes run: it must return
// the context's error and leave no process behind.
func TestStoppedMidway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan struct{})
	defer close(done)
	go func() {
		// Cancel once the nodes run.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for !strings.Contains(out.String(), "Phase 2") {
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
		cancel()
	}()
	err := run(ctx, &out, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run after cancel: %v, want context.Canceled\n%s", err, out.String())
	}
	checkNoChildren(t)
}

// TestFlags checks that bad flags are refused.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-down", "-1s"}, {"-pace", "1ms"}, {"-timeout", "0"}, {"extra"}} {
		if err := run(context.Background(), &bytes.Buffer{}, args); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// checkNoChildren fails the test if this process still has a child: every
// node must have been waited for.
func checkNoChildren(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range tasks {
		if data, _ := os.ReadFile(f); len(bytes.TrimSpace(data)) > 0 {
			t.Errorf("processes left running: %s", data)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and other readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
