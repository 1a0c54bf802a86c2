// Command benchcheck checks benchmark figures against bars: ratios of two
// benchmarks measured in the same run, since machines are noisy and only
// ratios carry over from one to another.
//
//	go test -run '^$' -bench . -count 3 . | go run ./internal/benchcheck RULES
//
// Each line of the rules file (blank lines and # comments aside) is
//
//	METRIC NUMERATOR DENOMINATOR OP BAR [LABEL]
//
// where METRIC is a unit the benchmarks report ("ns/op", "blocks/s",
// "hashes/s", "allocs/op", ...), NUMERATOR and DENOMINATOR are benchmark
// names without the "Benchmark" prefix and the -GOMAXPROCS suffix
// ("Mine/workers=1"), OP is >= or <=, and BAR a number. A DENOMINATOR of
// "1" compares the numerator's figure itself. With several runs of a
// benchmark (-count), the median of each is used. A rule whose benchmarks
// did not run (skipped, or not selected) is reported and not counted as a
// failure unless -strict is given. The exit status is 1 if any bar fails.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	strict := flag.Bool("strict", false, "fail rules whose benchmarks did not run")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go test -bench ... | benchcheck [-strict] RULES")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	rules, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcheck:", err)
		os.Exit(2)
	}
	figures, err := parseBench(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcheck:", err)
		os.Exit(2)
	}
	failed, err := check(os.Stdout, string(rules), figures, *strict)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcheck:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// figures maps a benchmark name and a unit to every value reported.
type figures map[string]map[string][]float64

// parseBench reads `go test -bench` output, echoing nothing.
func parseBench(r io.Reader) (figures, error) {
	f := figures{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(fields[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if f[name] == nil {
			f[name] = map[string][]float64{}
		}
		// fields[1] is the iteration count; then value unit pairs.
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			f[name][fields[i+1]] = append(f[name][fields[i+1]], v)
		}
	}
	return f, sc.Err()
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (f figures) get(name, unit string) (float64, bool) {
	vs := f[name][unit]
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

// check applies each rule and prints a line for it.
func check(w io.Writer, rules string, f figures, strict bool) (failed bool, err error) {
	for n, line := range strings.Split(rules, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 5 {
			return false, fmt.Errorf("rules line %d: want METRIC NUMERATOR DENOMINATOR OP BAR", n+1)
		}
		unit, num, den, op := fields[0], fields[1], fields[2], fields[3]
		bar, err := strconv.ParseFloat(fields[4], 64)
		if err != nil || (op != ">=" && op != "<=") {
			return false, fmt.Errorf("rules line %d: bad operator or bar", n+1)
		}
		label := num + " / " + den
		if den == "1" {
			label = num
		}
		label += " (" + unit + ")"
		a, okA := f.get(num, unit)
		b, okB := 1.0, true
		if den != "1" {
			b, okB = f.get(den, unit)
		}
		if !okA || !okB || b == 0 {
			status := "not run"
			if strict {
				status, failed = "FAIL (not run)", true
			}
			fmt.Fprintf(w, "%-64s %10s %s %-8g %s\n", label, "-", op, bar, status)
			continue
		}
		got := a / b
		ok := got >= bar
		if op == "<=" {
			ok = got <= bar
		}
		status := "ok"
		if !ok {
			status, failed = "FAIL", true
		}
		fmt.Fprintf(w, "%-64s %10.3f %s %-8g %s\n", label, got, op, bar, status)
	}
	return failed, nil
}
