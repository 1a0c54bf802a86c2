package demo

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

func TestBook(t *testing.T) {
	b := NewBook("alice", "bob")
	b.Add("carol", "alice")
	if got := b.Names(); len(got) != 3 || got[0] != "alice" || got[1] != "bob" || got[2] != "carol" {
		t.Fatalf("Names() = %q", got)
	}
	// The seed is the documented one, so every stage gives alice the same keys.
	want := blockchain.WalletFromSeed(sha256.Sum256([]byte("nakachain example wallet: alice")))
	if b.Address("alice") != want.Address() || WalletFor("alice").PublicKey() != want.PublicKey() {
		t.Fatal("alice's wallet does not come from her documented seed")
	}
	if b.Address("alice") == b.Address("bob") {
		t.Fatal("alice and bob share an address")
	}
	for _, n := range b.Names() {
		if got := b.NameOf(b.Address(n)); got != n {
			t.Errorf("NameOf(%s's address) = %q", n, got)
		}
		if got := b.NameOfKey(b.Wallet(n).PublicKey()); got != n {
			t.Errorf("NameOfKey(%s's key) = %q", n, got)
		}
	}
	stranger := WalletFor("mallory").Address()
	if got := b.NameOf(stranger); got != stranger.String() {
		t.Errorf("NameOf(a stranger) = %q, want the address", got)
	}
	allocs := b.Allocations(100)
	if len(allocs) != 3 || allocs[1].To != b.Address("bob") || allocs[1].Amount != 100 {
		t.Errorf("Allocations(100) = %v", allocs)
	}
	defer func() {
		if recover() == nil {
			t.Error("Wallet of an unknown name did not panic")
		}
	}()
	b.Wallet("mallory")
}

func TestCommas(t *testing.T) {
	huge, _ := new(big.Int).SetString("123456789012345678901", 10)
	for _, tc := range []struct {
		n    any
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {uint64(1234567), "1,234,567"},
		{-5, "-5"}, {-123, "-123"}, {-1234, "-1,234"}, {-123456, "-123,456"},
		{huge, "123,456,789,012,345,678,901"},
	} {
		if got := Commas(tc.n); got != tc.want {
			t.Errorf("Commas(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestFixedClock(t *testing.T) {
	start := time.Unix(100, 0)
	clock := FixedClock(start, time.Minute)
	for i := range 3 {
		if got, want := clock(), start.Add(time.Duration(i)*time.Minute); !got.Equal(want) {
			t.Fatalf("reading %d: %v, want %v", i, got, want)
		}
	}
}

// mainHelper is the environment variable that makes this test binary run
// demo.Main instead of the tests, for TestMainExitStatus.
const mainHelper = "DEMO_MAIN_HELPER"

// TestMain lets the test binary stand in for an example's main: with
// DEMO_MAIN_HELPER set it runs Main on a small run function.
func TestMain(m *testing.M) {
	if os.Getenv(mainHelper) == "" {
		os.Exit(m.Run())
	}
	Main("helper", func(_ context.Context, w io.Writer, args []string) error {
		fs := flag.NewFlagSet("helper", flag.ContinueOnError)
		n := fs.Int("n", 1, "a number from 1 to 9")
		if ok, err := ParseFlags(fs, w, args); !ok {
			return err
		}
		switch {
		case *n < 1 || *n > 9:
			return Usagef("-n must be between 1 and 9, not %d", *n)
		case *n == 7:
			return fmt.Errorf("seven failed:\n%w", errors.New("on two lines"))
		}
		fmt.Fprintln(w, "n is", *n)
		return nil
	})
	os.Exit(0)
}

// TestMainExitStatus runs Main in a child process: status 0 and the story
// on stdout, 0 and the usage for -help, 2 and one line on stderr for a usage
// error, 1 and one line for any other failure.
func TestMainExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		status         int
		stdout, stderr string
	}{
		{nil, 0, "n is 1\n", ""},
		{[]string{"-n", "3"}, 0, "n is 3\n", ""},
		{[]string{"-help"}, 0, "Usage of helper:\n  -n int\n    \ta number from 1 to 9 (default 1)\n", ""},
		{[]string{"-nosuchflag"}, 2, "", "helper: flag provided but not defined: -nosuchflag (-help lists the flags)\n"},
		{[]string{"-n", "x"}, 2, "", `helper: invalid value "x" for flag -n: parse error (-help lists the flags)` + "\n"},
		{[]string{"-n", "10"}, 2, "", "helper: -n must be between 1 and 9, not 10 (-help lists the flags)\n"},
		{[]string{"stray"}, 2, "", `helper: unexpected argument "stray": every setting is a flag (-help lists the flags)` + "\n"},
		{[]string{"-n", "7"}, 1, "", "helper: seven failed: on two lines\n"},
	} {
		cmd := exec.Command(os.Args[0], tc.args...)
		cmd.Env = append(os.Environ(), mainHelper+"=1")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		status := 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if status != tc.status || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want %d, %q, %q",
				tc.args, status, stdout.String(), stderr.String(), tc.status, tc.stdout, tc.stderr)
		}
	}
}

func TestReport(t *testing.T) {
	var b strings.Builder
	if got := Report(&b, "x", nil); got != 0 || b.Len() != 0 {
		t.Errorf("no error: status %d, printed %q", got, b.String())
	}
	wrapped := fmt.Errorf("while parsing: %w", Usagef("bad %s", "flag"))
	if !IsUsage(wrapped) || IsUsage(errors.New("other")) || IsUsage(nil) {
		t.Error("IsUsage does not see through wrapping, or sees a usage error where there is none")
	}
	if got := Report(&b, "x", wrapped); got != 2 || b.String() != "x: while parsing: bad flag (-help lists the flags)\n" {
		t.Errorf("usage error: status %d, printed %q", got, b.String())
	}
}

func TestParseFlags(t *testing.T) {
	newFS := func() (*flag.FlagSet, *bool) {
		fs := flag.NewFlagSet("t", flag.ExitOnError) // ParseFlags never exits
		return fs, fs.Bool("v", false, "verbose")
	}
	var out strings.Builder
	fs, v := newFS()
	if ok, err := ParseFlags(fs, &out, []string{"-v"}); !ok || err != nil || !*v || out.Len() != 0 {
		t.Errorf("-v: ok=%v err=%v v=%v printed %q", ok, err, *v, out.String())
	}
	fs, _ = newFS()
	if ok, err := ParseFlags(fs, &out, []string{"-h"}); ok || err != nil || !strings.Contains(out.String(), "verbose") {
		t.Errorf("-h: ok=%v err=%v printed %q", ok, err, out.String())
	}
	for _, args := range [][]string{{"-x"}, {"-v=maybe"}, {"-v", "extra"}} {
		out.Reset()
		fs, _ = newFS()
		ok, err := ParseFlags(fs, &out, args)
		if ok || !IsUsage(err) || out.Len() != 0 {
			t.Errorf("%q: ok=%v err=%v printed %q, want a usage error and nothing printed", args, ok, err, out.String())
		}
	}
}

func TestWords(t *testing.T) {
	for in, want := range map[string]string{"": "", "a": "a", "a b": "a and b", "a b c": "a, b and c"} {
		if got := List(strings.Fields(in)); got != want {
			t.Errorf("List(%q) = %q, want %q", in, got, want)
		}
	}
	if a, b, c := Plural(1, "block"), Plural(2, "block"), Plural(1000, "race"); a != "1 block" || b != "2 blocks" || c != "1,000 races" {
		t.Errorf("Plural: %q %q %q", a, b, c)
	}
	if a, b := Outcome(nil), Outcome(errors.New("bad")); a != "ok" || b != "FAILED: bad" {
		t.Errorf("Outcome: %q %q", a, b)
	}
}
