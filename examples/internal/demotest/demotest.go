// Package demotest holds what the example programs' tests share.
package demotest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/nakachain/blockchain/examples/internal/demo"
)

// Run is an example's run function.
type Run = func(ctx context.Context, w io.Writer, args []string) error

// Output runs an example's run function with args and returns what it
// printed, failing the test (with the output so far) if it returns an error.
func Output(t testing.TB, run Run, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), &out, args); err != nil {
		t.Fatalf("run(%q): %v\n%s", args, err, out.String())
	}
	return out.String()
}

// CheckUsage checks an example's command line: each of bad, and a stray
// argument, is a usage error (demo.Main exits with status 2 for it) and
// prints nothing, and -help prints the usage, naming every flag in flags,
// and is no error.
func CheckUsage(t *testing.T, run Run, flags []string, bad ...[]string) {
	t.Helper()
	for _, args := range append(bad, []string{"stray"}, []string{"-nosuchflag"}) {
		var out bytes.Buffer
		if err := run(context.Background(), &out, args); !demo.IsUsage(err) || out.Len() > 0 {
			t.Errorf("run(%q) = %v, printing %q; want a usage error and nothing printed", args, err, out.String())
		}
	}
	var out bytes.Buffer
	err := run(context.Background(), &out, []string{"-help"})
	if err != nil || !strings.HasPrefix(out.String(), "Usage of ") {
		t.Errorf("-help: %v, printing %q; want the usage and no error", err, out.String())
	}
	for _, f := range flags {
		if u := out.String(); !strings.Contains(u, "  -"+f+" ") && !strings.Contains(u, "  -"+f+"\n") {
			t.Errorf("-help does not list -%s:\n%s", f, out.String())
		}
	}
}
