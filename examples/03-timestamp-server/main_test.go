package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nakachain/blockchain/examples/internal/demo"
	"github.com/nakachain/blockchain/examples/internal/demotest"

	"github.com/nakachain/blockchain"
)

func runOutput(t *testing.T, args ...string) string {
	t.Helper()
	return demotest.Output(t, run, args...)
}

// checkAfter returns the result of the first chain check printed after the
// line containing marker: "ok", or the problem lines.
func checkAfter(t *testing.T, out, marker string) []string {
	t.Helper()
	i := strings.Index(out, marker)
	if i < 0 {
		t.Fatalf("output lacks %q:\n%s", marker, out)
	}
	lines := strings.Split(out[i:], "\n")
	for k, l := range lines {
		switch l {
		case "  check: ok":
			return []string{"ok"}
		case "  check: FAILED":
			var problems []string
			for _, p := range lines[k+1:] {
				if !strings.HasPrefix(p, "    ") {
					break
				}
				problems = append(problems, strings.TrimSpace(p))
			}
			return problems
		}
	}
	t.Fatalf("no check after %q:\n%s", marker, out)
	return nil
}

func TestTamperingIsCaught(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		tamper int
	}{
		{nil, 1},
		{[]string{"-blocks", "6", "-txs", "3", "-tamper", "3"}, 3},
		{[]string{"-blocks", "3", "-txs", "1"}, 1},
	} {
		out := runOutput(t, tc.args...)
		if got := checkAfter(t, out, "Anyone can check"); len(got) != 1 || got[0] != "ok" {
			t.Errorf("%q: the honest chain does not verify: %q", tc.args, got)
		}
		if !strings.Contains(out, "server: FAILED: refused: transfer number 0") || !strings.Contains(out, "a double spend") {
			t.Errorf("%q: the server does not refuse the double spend:\n%s", tc.args, out)
		}

		// Swapping a transfer breaks only that block's Merkle root.
		got := checkAfter(t, out, "swaps it in")
		if want := fmt.Sprintf("block %d: blockchain: ErrBadMerkleRoot: the header", tc.tamper); len(got) != 1 || !strings.HasPrefix(got[0], want) {
			t.Errorf("%q: after the swap the check reports %q, want one line starting %q", tc.args, got, want)
		}

		// Fixing the root breaks the server's signature and the next link.
		got = checkAfter(t, out, "recomputes block")
		want := []string{
			fmt.Sprintf("block %d: server signature does not match", tc.tamper),
			fmt.Sprintf("block %d: broken hash link to block %d", tc.tamper+1, tc.tamper),
		}
		if len(got) != len(want) {
			t.Fatalf("%q: after recomputing the root the check reports %q, want lines starting %q", tc.args, got, want)
		}
		for k := range want {
			if !strings.HasPrefix(got[k], want[k]) {
				t.Errorf("%q: problem %d is %q, want it to start %q", tc.args, k, got[k], want[k])
			}
		}

		// The server itself can make the rewrite verify.
		if got := checkAfter(t, out, "But the server can"); len(got) != 1 || got[0] != "ok" {
			t.Errorf("%q: the re-signed chain does not verify: %q", tc.args, got)
		}
		if !strings.Contains(out, "mallory pays mallory 30") || !strings.Contains(out, "still a trusted party") {
			t.Errorf("%q: the rewritten history or the open problem is missing:\n%s", tc.args, out)
		}
	}
}

func TestVerifyChainNamesEachCheck(t *testing.T) {
	people := newBook("alice", "bob", "carol", "mallory")
	srv := newServer(sha256.Sum256([]byte("test server")), demo.FixedClock(time.Unix(0, 0), time.Second))
	chainID := srv.startChain([]blockchain.Transaction{blockchain.NewCoinbase(people.Wallet("alice").Address(), 100, 0)})
	for h := 1; h <= 3; h++ {
		if err := srv.publish(people.transfers(chainID, h, 2)); err != nil {
			t.Fatal(err)
		}
	}
	key := srv.publicKey()
	if p := verifyChain(srv.chain, key, chainID); len(p) != 0 {
		t.Fatalf("honest chain: %v", p)
	}
	for h, b := range srv.chain {
		if got, want := b.Header.Timestamp(), time.Unix(int64(h), 0); !got.Equal(want) {
			t.Errorf("block %d time %v, want %v from the fixed clock", h, got, want)
		}
	}

	is := func(problems []error, want ...error) {
		t.Helper()
		if len(problems) != len(want) {
			t.Fatalf("problems %v, want %v", problems, want)
		}
		for i := range want {
			if !errors.Is(problems[i], want[i]) {
				t.Errorf("problem %d: %v, want %v", i, problems[i], want[i])
			}
		}
	}

	c := cloneChain(srv.chain)
	c[1].Transactions[0].Amount++
	is(verifyChain(c, key, chainID), blockchain.ErrBadSignature, blockchain.ErrBadMerkleRoot)
	if srv.chain[1].Transactions[0] == c[1].Transactions[0] {
		t.Fatal("cloneChain shares transactions with the original")
	}

	c = cloneChain(srv.chain)
	c[2].Header.Time++
	is(verifyChain(c, key, chainID), errBadServerSig, errBrokenLink)

	c = cloneChain(srv.chain)
	c[3].Sig[0] ^= 1
	is(verifyChain(c, key, chainID), errBadServerSig)

	other := newServer(sha256.Sum256([]byte("another server")), nil)
	is(verifyChain(srv.chain[:1], other.publicKey(), chainID), errBadServerSig)

	srv.resign(c, 1)
	is(verifyChain(c, key, chainID))
}

func TestServerRefusesReplays(t *testing.T) {
	people := newBook("alice", "bob")
	srv := newServer(sha256.Sum256([]byte("test server")), demo.FixedClock(time.Unix(0, 0), time.Second))
	chainID := srv.startChain(nil)
	tx := people.Wallet("alice").SignTransfer(chainID, people.Wallet("bob").Address(), 5, 0, 0)
	if err := srv.publish([]blockchain.Transaction{tx}); err != nil {
		t.Fatal(err)
	}
	if err := srv.publish([]blockchain.Transaction{tx}); err == nil {
		t.Fatal("the server published the same transfer twice")
	}
	if err := srv.publish([]blockchain.Transaction{people.Wallet("alice").SignTransfer(chainID, people.Wallet("bob").Address(), 5, 0, 2)}); err == nil {
		t.Fatal("the server published a transfer that skips a number")
	}
	if len(srv.chain) != 2 {
		t.Fatalf("refused transfers changed the chain: %d blocks", len(srv.chain))
	}
}

func TestDeterministic(t *testing.T) {
	if a, b := runOutput(t), runOutput(t); a != b {
		t.Fatalf("two runs differ:\n%s\n---\n%s", a, b)
	}
	if out := runOutput(t); !strings.Contains(out, "block 3  2009-01-03 18:45:05") {
		t.Fatalf("block 3 is not stamped ten minutes after block 2:\n%s", out)
	}
}

func TestBadFlags(t *testing.T) {
	demotest.CheckUsage(t, run, []string{"blocks", "txs", "tamper"},
		[]string{"-blocks", "2"},
		[]string{"-txs", "0"},
		[]string{"-tamper", "0"},
		[]string{"-blocks", "4", "-tamper", "3"},
	)
}
