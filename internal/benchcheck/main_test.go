package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkMine/workers=1-2         	 100	  52.1 ns/op	  19000000 hashes/s	       0 allocs/op
BenchmarkMine/workers=1-2         	 100	  52.1 ns/op	  21000000 hashes/s	       0 allocs/op
BenchmarkMine/workers=1-2         	 100	  52.1 ns/op	  20000000 hashes/s	       0 allocs/op
BenchmarkHeaderSum256-2           	 100	  110 ns/op	   9000000 hashes/s
BenchmarkLocator/height=1000-2    	2000	       800 ns/op
BenchmarkLocator/height=100000-2  	2000	      1600 ns/op
PASS
`

func TestCheck(t *testing.T) {
	f, err := parseBench(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.get("Mine/workers=1", "hashes/s"); got != 20_000_000 {
		t.Fatalf("median %v, want 20000000", got)
	}
	for _, tc := range []struct {
		rules string
		fail  bool
	}{
		{"hashes/s Mine/workers=1 HeaderSum256 >= 2.2", false},
		{"hashes/s Mine/workers=1 HeaderSum256 >= 2.3", true},
		{"ns/op Locator/height=100000 Locator/height=1000 <= 3", false},
		{"ns/op Locator/height=100000 Locator/height=1000 <= 1.5", true},
		{"allocs/op Mine/workers=1 1 <= 0", false},
		{"blocks/s Sync Connect >= 0.5 # not run", false},
	} {
		var out strings.Builder
		failed, err := check(&out, tc.rules, f, false)
		if err != nil || failed != tc.fail {
			t.Errorf("%q: failed=%v err=%v, want failed=%v\n%s", tc.rules, failed, err, tc.fail, out.String())
		}
	}
	if failed, _ := check(&strings.Builder{}, "blocks/s Sync Connect >= 0.5", f, true); !failed {
		t.Error("-strict: a rule that did not run passed")
	}
	if _, err := check(&strings.Builder{}, "ns/op A B == 1", f, false); err == nil {
		t.Error("a bad operator was accepted")
	}
}
