// Package demotest holds what the example programs' tests share.
package demotest

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// Output runs an example's run function with args and returns what it
// printed, failing the test (with the output so far) if it returns an error.
func Output(t testing.TB, run func(ctx context.Context, w io.Writer, args []string) error, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), &out, args); err != nil {
		t.Fatalf("run(%q): %v\n%s", args, err, out.String())
	}
	return out.String()
}
