package main

import (
	"crypto/sha256"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/nakachain/blockchain/examples/internal/demotest"

	"github.com/nakachain/blockchain"
)

func runOutput(t *testing.T, args ...string) string {
	t.Helper()
	return demotest.Output(t, run, args...)
}

// lineWith returns the one line of out that contains s.
func lineWith(t *testing.T, out, s string) string {
	t.Helper()
	var found []string
	for line := range strings.Lines(out) {
		if strings.Contains(line, s) {
			found = append(found, strings.TrimSpace(line))
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d lines contain %q, want 1:\n%s", len(found), s, out)
	}
	return found[0]
}

func TestPrintedFacts(t *testing.T) {
	out := runOutput(t, "-amount", "25")

	if l := lineWith(t, out, "Bob checks it"); !strings.HasSuffix(l, "verify: ok") {
		t.Errorf("the signed transfer does not verify: %q", l)
	}

	// Every tampered transfer is reported as failing with ErrBadSignature.
	i, j := strings.Index(out, "Mallory intercepts"), strings.Index(out, "Every change breaks")
	if i < 0 || j < i {
		t.Fatalf("no tampering section in:\n%s", out)
	}
	forged := regexp.MustCompile(`(?m)^  (.+?):\s+verify: (.*)$`).FindAllStringSubmatch(out[i:j], -1)
	var failed []string
	for _, m := range forged {
		if !strings.Contains(m[2], "ErrBadSignature") {
			t.Errorf("tampered transfer %q: verify printed %q, want ErrBadSignature", m[1], m[2])
		}
		failed = append(failed, m[1])
	}
	want := []string{"amount 25 -> 2500", "recipient bob -> mallory", "fee 1 -> 0", "nonce 0 -> 1", "one bit of the signature", "sent to another chain"}
	if strings.Join(failed, "|") != strings.Join(want, "|") {
		t.Errorf("tampered transfers reported: %q, want %q", failed, want)
	}

	if l := lineWith(t, out, "from mallory to mallory"); !strings.HasSuffix(l, "verify: ok") {
		t.Errorf("Mallory's own transfer does not verify: %q", l)
	}
	copyLine := lineWith(t, out, "An exact copy")
	if !strings.HasSuffix(copyLine, "verify: ok") {
		t.Errorf("the copy does not verify: %q", copyLine)
	}
	if !strings.HasSuffix(lineWith(t, out, "paying the same 25 to Carol"), "verify: ok") {
		t.Error("the second spend does not verify")
	}
	// The copy has the original's ID: nothing tells them apart.
	id := regexp.MustCompile(`(?m)^  id\s+([0-9a-f]{16}) `).FindStringSubmatch(out)
	if id == nil || !strings.Contains(copyLine, "id "+id[1][:12]) {
		t.Errorf("the copy's ID differs from the original's (%v): %q", id, copyLine)
	}
	for _, s := range []string{"Say Alice owns only 26", "double-spending problem", "someone must still keep the history"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
}

func TestTampersBreakTheSignature(t *testing.T) {
	// The same facts, checked against the library directly rather than
	// through the printed text.
	b := newBook("alice", "bob", "mallory")
	chainID := blockchain.Hash(sha256.Sum256([]byte("test chain")))
	tx := b.Wallet("alice").SignTransfer(chainID, b.Wallet("bob").Address(), 7, 1, 0)
	if err := tx.Verify(chainID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tampers(7, b.Wallet("mallory").Address()) {
		forged := tx
		tc.change(&forged)
		if forged == tx {
			t.Errorf("%s: changed nothing", tc.what)
		}
		if err := forged.Verify(chainID); !errors.Is(err, blockchain.ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", tc.what, err)
		}
	}
	if err := tx.Verify(chainID); err != nil {
		t.Fatalf("tampering changed the original: %v", err)
	}
}

func TestDeterministic(t *testing.T) {
	a, b := runOutput(t), runOutput(t)
	if a != b {
		t.Fatalf("two runs differ:\n%s\n---\n%s", a, b)
	}
	if c := runOutput(t, "-chain", "another"); c == a {
		t.Fatal("a different chain ID printed the same signatures")
	}
}

func TestBadFlags(t *testing.T) {
	demotest.CheckUsage(t, run, []string{"amount", "chain"},
		[]string{"-amount", "0"},
		[]string{"-amount", "x"},
	)
}
