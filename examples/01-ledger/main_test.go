package main

import (
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

// section returns the lines of out from the first line containing start up
// to (not including) the next blank line.
func section(t *testing.T, out, start string) string {
	t.Helper()
	i := strings.Index(out, start)
	if i < 0 {
		t.Fatalf("output has no %q:\n%s", start, out)
	}
	s := out[i:]
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	return s
}

var entryRE = regexp.MustCompile(`(?m)^  0\s+(\w+)\s+(\w+)\s+(\d+)$`)

// entry0 returns the first ledger row in s as from, to, amount.
func entry0(t *testing.T, s string) [3]string {
	t.Helper()
	m := entryRE.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no entry #0 in:\n%s", s)
	}
	return [3]string{m[1], m[2], m[3]}
}

func TestTamperedLedgerIsUndetectable(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		before      [3]string
		after       [3]string
		balanceLine string
	}{
		{nil, [3]string{"alice", "bob", "30"}, [3]string{"alice", "bob", "3"}, "balances: alice 97 bob 18 carol 5 bank 0"},
		{[]string{"-amount", "45", "-tamper", "recipient"}, [3]string{"alice", "bob", "45"}, [3]string{"alice", "bank", "45"}, "balances: alice 55 bob 15 carol 5 bank 45"},
	} {
		out := runOutput(t, tc.args...)
		before := section(t, out, "The bank's ledger:")
		after := section(t, out, "The bank's ledger now:")
		if got := entry0(t, before); got != tc.before {
			t.Errorf("%q: entry #0 before the edit = %v, want %v", tc.args, got, tc.before)
		}
		if got := entry0(t, after); got != tc.after {
			t.Errorf("%q: entry #0 after the edit = %v, want %v", tc.args, got, tc.after)
		}
		if !strings.Contains(after, tc.balanceLine) {
			t.Errorf("%q: balances after the edit are not %q:\n%s", tc.args, tc.balanceLine, after)
		}
		for _, want := range []string{
			"audit of the ledger before the edit: ok",
			"audit of the ledger after the edit:  ok",
			"nobody can detect this",
			"we must trust the bank",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: output lacks %q:\n%s", tc.args, want, out)
			}
		}
	}
}

func TestAuditCatchesOnlyInconsistency(t *testing.T) {
	// The audit is a real check: it fails on a ledger that is inconsistent
	// on its face, which is why passing it proves nothing about honesty.
	b := newBook("alice", "bob")
	alice, bob := b.Wallet("alice"), b.Wallet("bob")
	opening := map[blockchain.Address]uint64{alice.Address(): 10}
	ok := []blockchain.Transaction{{From: alice.PublicKey(), To: bob.Address(), Amount: 10}}
	if err := checkLedger(opening, ok); err != nil {
		t.Fatalf("consistent ledger: %v", err)
	}
	overdraw := []blockchain.Transaction{{From: alice.PublicKey(), To: bob.Address(), Amount: 11}}
	if err := checkLedger(opening, overdraw); err == nil {
		t.Fatal("overdrawing ledger passed the audit")
	}
}

func TestDeterministic(t *testing.T) {
	if a, b := runOutput(t), runOutput(t); a != b {
		t.Fatalf("two runs differ:\n%s\n---\n%s", a, b)
	}
	if !strings.Contains(runOutput(t), newBook("alice").Wallet("alice").Address().String()) {
		t.Fatal("Alice's address is not printed")
	}
}

func TestBadFlags(t *testing.T) {
	demotest.CheckUsage(t, run, []string{"amount", "tamper"},
		[]string{"-tamper", "date"},
		[]string{"-amount", "0"},
		[]string{"-amount", "101"},
		[]string{"-amount", "x"},
	)
}
