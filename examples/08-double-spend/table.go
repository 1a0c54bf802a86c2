package main

import (
	"fmt"
	"io"
	"strings"
)

// printHeader prints the table's column names.
func printHeader(w io.Writer) {
	fmt.Fprintf(w, "  %4s %3s  %10s  %6s  %-16s  %8s  %8s  %8s  %9s\n",
		"q", "z", "reversed", "rate", "99% interval", "race", "paper", "paper", "paper's")
	fmt.Fprintf(w, "  %4s %3s  %10s  %6s  %-16s  %8s  %8s  %8s  %9s\n",
		"", "", "", "", "", "exact", "exact", "Poisson", "table")
}

// printRow prints one cell: what the races measured, then what each way
// of counting predicts.
func printRow(w io.Writer, c cell) {
	lo, hi := c.interval()
	printed, ok := paperPrinted(c.s.q, c.z)
	if !ok {
		printed = "-"
	}
	fmt.Fprintf(w, "  %4.2f %3d  %10s  %6.4f  [%.4f, %.4f]  %8.6f  %8.6f  %8.6f  %9s\n",
		c.s.q, c.z, fmt.Sprintf("%d/%d", c.reversed, c.trials), c.rate(), lo, hi,
		c.race(), c.paperExact(), c.paperPoisson(), printed)
}

// paperPrinted returns the value the paper prints in section 11 for an
// attacker with share q, z blocks behind, if it prints one: its first
// table, for q = 0.1 and q = 0.3, to seven decimals.
func paperPrinted(q float64, z int) (string, bool) {
	switch {
	case q == 0.1 && z >= 0 && z <= 10:
		return [...]string{
			"1.0000000", "0.2045873", "0.0509779", "0.0131722", "0.0034552", "0.0009137",
			"0.0002428", "0.0000647", "0.0000173", "0.0000046", "0.0000012",
		}[z], true
	case q == 0.3 && z >= 0 && z <= 50 && z%5 == 0:
		return [...]string{
			"1.0000000", "0.1773523", "0.0416605", "0.0101008", "0.0024804", "0.0006132",
			"0.0001522", "0.0000379", "0.0000095", "0.0000024", "0.0000006",
		}[z/5], true
	}
	return "", false
}

// para writes text wrapped at 76 columns, then a blank line.
func para(w io.Writer, format string, args ...any) {
	const width = 76
	line := 0
	for i, word := range strings.Fields(fmt.Sprintf(format, args...)) {
		n := len([]rune(word))
		switch {
		case i == 0:
		case line+1+n > width:
			fmt.Fprintln(w)
			line = 0
		default:
			fmt.Fprint(w, " ")
			line++
		}
		fmt.Fprint(w, word)
		line += n
	}
	fmt.Fprint(w, "\n\n")
}
