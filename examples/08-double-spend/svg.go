package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
)

// The SVG's size and the plot area inside it, in pixels.
const (
	svgW, svgH               = 830, 500
	plotL, plotR             = 80, 600
	plotT, plotB             = 50, 440
	svgFont                  = `font-family="sans-serif" font-size="12"`
	svgFontSmall             = `font-family="sans-serif" font-size="11"`
	svgFontTitle             = `font-family="sans-serif" font-size="14"`
	svgLegendX, svgLegendRow = 618, 20
)

// shareColor is the color of the i-th share.
func shareColor(i int) string {
	palette := [...]string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}
	return palette[i%len(palette)]
}

// writeSVG draws the chart into the file path: for each share, the exact
// race probability as a solid line, the paper's (Poisson) as a dashed one,
// and each measured rate as a dot with its 99% interval.
func writeSVG(path string, ch chart, title string) error {
	var b bytes.Buffer
	ch.drawSVG(&b, title)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the chart: %w", err)
	}
	return nil
}

func (ch chart) x(z float64) float64 {
	if ch.zTo == ch.zFrom {
		return (plotL + plotR) / 2
	}
	return plotL + (z-float64(ch.zFrom))/float64(ch.zTo-ch.zFrom)*(plotR-plotL)
}

func (ch chart) y(depth float64) float64 { return plotT + depth*(plotB-plotT) }

func (ch chart) drawSVG(w io.Writer, title string) {
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">
<title>%s</title>
<rect width="100%%" height="100%%" fill="white"/>
`, svgW, svgH, svgW, svgH, escape(title))
	fmt.Fprintf(w, `<text x="%d" y="28" %s>%s</text>
`, plotL, svgFontTitle, escape(title))

	// Axes: a line per decade, labelled; z below.
	for d := 0; d <= ch.decades; d++ {
		y := ch.y(float64(d) / float64(ch.decades))
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>
<text x="%d" y="%.1f" %s text-anchor="end">%s</text>
`, plotL, y, plotR, y, plotL-8, y+4, svgFont, probLabel(d))
	}
	for z := ch.zFrom; z <= ch.zTo; z++ {
		x := ch.x(float64(z))
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999"/>
`, x, plotB, x, plotB+5)
		if step := max(1, (ch.zTo-ch.zFrom)/15); (z-ch.zFrom)%step == 0 {
			fmt.Fprintf(w, `<text x="%.1f" y="%d" %s text-anchor="middle">%d</text>
`, x, plotB+20, svgFont, z)
		}
	}
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>
<text x="%d" y="%d" %s text-anchor="middle">z: confirmations the merchant waits for</text>
<text transform="translate(22 %d) rotate(-90)" %s text-anchor="middle">probability that the payment is reversed</text>
`, plotL, plotT, plotR-plotL, plotB-plotT, (plotL+plotR)/2, plotB+40, svgFont, (plotT+plotB)/2, svgFont)

	// The curves and the measurements, one color per share.
	for i, row := range ch.rows {
		color := shareColor(i)
		var race, paper []string
		for _, c := range row {
			x := ch.x(float64(c.z))
			race = append(race, fmt.Sprintf("%.1f,%.1f", x, ch.y(ch.depth(c.race()))))
			paper = append(paper, fmt.Sprintf("%.1f,%.1f", x, ch.y(ch.depth(c.paperPoisson()))))
		}
		fmt.Fprintf(w, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>
<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"/>
`, strings.Join(race, " "), color, strings.Join(paper, " "), color)
		for _, c := range row {
			lo, hi := c.interval()
			x := ch.x(float64(c.z))
			fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>
`, x, ch.y(ch.depth(hi)), x, ch.y(ch.depth(lo)), color)
			fill := color
			if c.reversed == 0 {
				fill = "white" // none measured: at the bottom, hollow
			}
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="%s"/>
`, x, ch.y(ch.depth(c.rate())), fill, color)
		}
	}

	// The legend.
	y := plotT + 10
	for i, row := range ch.rows {
		color := shareColor(i)
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="14" height="10" fill="%s"/>
<text x="%d" y="%d" %s>q = %.2f</text>
`, svgLegendX, y-9, color, svgLegendX+20, y, svgFont, row[0].s.q)
		y += svgLegendRow
	}
	y += svgLegendRow / 2
	for _, item := range []struct{ dash, label string }{
		{"", "exact race (RaceSuccess)"},
		{`stroke-dasharray="6 4"`, "paper (AttackerSuccess)"},
	} {
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" stroke-width="2" %s/>
<text x="%d" y="%d" %s>%s</text>
`, svgLegendX, y-4, svgLegendX+14, y-4, item.dash, svgLegendX+20, y, svgFontSmall, item.label)
		y += svgLegendRow
	}
	fmt.Fprintf(w, `<circle cx="%d" cy="%d" r="4" fill="#333"/>
<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>
<text x="%d" y="%d" %s>measured, 99%% interval</text>
<circle cx="%d" cy="%d" r="4" fill="white" stroke="#333"/>
<text x="%d" y="%d" %s>none reversed</text>
</svg>
`, svgLegendX+7, y-4, svgLegendX+7, y-12, svgLegendX+7, y+4, svgLegendX+20, y, svgFontSmall,
		svgLegendX+7, y+svgLegendRow-4, svgLegendX+20, y+svgLegendRow, svgFontSmall)
}

// escape returns s with XML's special characters escaped.
func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // writes to a strings.Builder: cannot fail
	return b.String()
}
