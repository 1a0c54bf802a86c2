package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDataDirRemembersItsChain checks that a data directory keeps the
// chain it was first run with: named again or not named, it opens; another
// chain is refused with a clear error.
func TestDataDirRemembersItsChain(t *testing.T) {
	datadir := filepath.Join(t.TempDir(), "data")
	node := func(args ...string) (int, string) {
		t.Helper()
		code, _, stderr := runBinary(t, nil, append([]string{"node", "-datadir", datadir, "-listen", "", "-for", "100ms", "-log-format", "json"}, args...)...)
		return code, stderr
	}
	if code, stderr := node("-network", "test"); code != 0 || !strings.Contains(stderr, `"network":"test"`) {
		t.Fatalf("a new data directory with -network test: status %d:\n%s", code, stderr)
	}
	if code, stderr := node(); code != 0 || !strings.Contains(stderr, `"network":"test"`) {
		t.Errorf("the same directory with no -network: status %d, want the test chain:\n%s", code, stderr)
	}
	code, stderr := node("-network", "main")
	if code != exitFailure || strings.Count(stderr, "\n") != 1 ||
		!strings.Contains(stderr, `holds chain 27f802053251d481 ("test"), not chain 5203690efe73f8cb ("main") of -network main`) {
		t.Errorf("the directory with -network main: status %d, want a one-line refusal:\n%s", code, stderr)
	}
}
