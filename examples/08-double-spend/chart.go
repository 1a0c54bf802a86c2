package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// chart is what both drawings show: for each share, the measured rates and
// the exact race probability, against z, on a logarithmic scale from 1
// down to the smallest decade needed.
type chart struct {
	rows       [][]cell // one row of cells per share, z ascending
	zFrom, zTo int
	decades    int // the scale runs from 1 down to 10^−decades
}

// maxDecades bounds the scale: rates below 10^−6 cannot be measured here.
const maxDecades = 6

func newChart(rows [][]cell, zFrom, zTo int) chart {
	low := 1.0
	for _, row := range rows {
		for _, c := range row {
			if r := c.race(); r > 0 {
				low = min(low, r)
			}
			if r := c.rate(); r > 0 {
				low = min(low, r)
			}
		}
	}
	d := int(math.Ceil(-math.Log10(low) - 1e-9))
	return chart{rows: rows, zFrom: zFrom, zTo: zTo, decades: min(max(d, 1), maxDecades)}
}

// depth maps a probability to 0 (it is 1) .. 1 (10^−decades or less).
func (ch chart) depth(p float64) float64 {
	if p <= 0 {
		return 1
	}
	return min(max(-math.Log10(p)/float64(ch.decades), 0), 1)
}

// raceAt is the exact race probability at a real z, interpolated between
// whole z on the logarithmic scale, as a depth.
func (ch chart) raceAt(row []cell, z float64) float64 {
	i := min(int(z)-ch.zFrom, len(row)-1)
	if i == len(row)-1 {
		return ch.depth(row[i].race())
	}
	f := z - float64(row[i].z)
	return (1-f)*ch.depth(row[i].race()) + f*ch.depth(row[i+1].race())
}

// Terminal drawing: rows per decade and the width given to the z axis.
const (
	termRowsPerDecade = 3
	termWidth         = 64
)

// marks are the shares' letters: upper case for a measured rate, lower
// case at the bottom for a rate of zero.
const marks = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// drawText draws the chart with characters: '·' traces the exact race
// probability, a letter marks each measured rate.
func (ch chart) drawText(w io.Writer) {
	nz := ch.zTo - ch.zFrom
	colW := 1
	if nz > 0 {
		colW = min(max(termWidth/nz, 1), 8)
	}
	width := nz*colW + 1
	height := ch.decades*termRowsPerDecade + 1
	grid := make([][]rune, height)
	for y := range grid {
		grid[y] = []rune(strings.Repeat(" ", width))
	}
	rowOf := func(depth float64) int { return int(math.Round(depth * float64(height-1))) }
	for _, row := range ch.rows {
		for x := range width {
			z := float64(ch.zFrom) + float64(x)/float64(colW)
			if d := ch.raceAt(row, z); d < 1 {
				grid[rowOf(d)][x] = '·'
			}
		}
	}
	for i, row := range ch.rows {
		for _, c := range row {
			x := (c.z - ch.zFrom) * colW
			if c.reversed == 0 {
				grid[height-1][x] = rune(strings.ToLower(marks)[i%len(marks)])
			} else {
				grid[rowOf(ch.depth(c.rate()))][x] = rune(marks[i%len(marks)])
			}
		}
	}
	for y, line := range grid {
		label := ""
		if y%termRowsPerDecade == 0 {
			label = probLabel(y / termRowsPerDecade)
		}
		fmt.Fprintf(w, "  %6s |%s\n", label, strings.TrimRight(string(line), " "))
	}
	fmt.Fprintf(w, "  %6s +%s\n", "", strings.Repeat("-", width))
	var ticks strings.Builder
	step := max(1, (4+colW-1)/colW) // a label at least every 4 characters
	for z := ch.zFrom; z <= ch.zTo; z += step {
		pos := (z - ch.zFrom) * colW
		for ticks.Len() < pos {
			ticks.WriteByte(' ')
		}
		fmt.Fprint(&ticks, z)
	}
	fmt.Fprintf(w, "  %6s  %s   z\n", "", ticks.String())
	var legend []string
	for i, row := range ch.rows {
		legend = append(legend, fmt.Sprintf("%c q=%.2f", marks[i%len(marks)], row[0].s.q))
	}
	fmt.Fprintf(w, "  %s: the rates measured; · the exact race probability.\n", strings.Join(legend, ", "))
	fmt.Fprintf(w, "  A lower-case letter on the bottom line: no race reversed the payment.\n")
}

// probLabel writes 10^−d: 1, 0.1, 0.01, 1e-3...
func probLabel(d int) string {
	if d <= 2 {
		return strings.TrimSuffix(fmt.Sprintf("%.*f", d, math.Pow(10, -float64(d))), ".")
	}
	return fmt.Sprintf("1e-%d", d)
}
