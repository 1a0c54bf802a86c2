package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
	"golang.org/x/term"
)

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[2K"

// statusLine owns the last line of a terminal: it shows a status there,
// and the log, written through it, scrolls above it.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	width func() int
	line  string // the status shown, "" if none
}

func newStatusLine(w io.Writer, width func() int) *statusLine {
	return &statusLine{w: w, width: width}
}

// terminalWidth returns a function that reads the terminal's width, 80 if
// it cannot.
func terminalWidth(fd int) func() int {
	return func() int {
		if w, _, err := term.GetSize(fd); err == nil && w > 0 {
			return w
		}
		return 80
	}
}

// Write writes a log record above the status line.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		io.WriteString(s.w, clearLine)
	}
	n, err := s.w.Write(p)
	if s.line != "" {
		io.WriteString(s.w, s.line)
	}
	return n, err
}

// set shows text as the status, cut to the terminal's width so that it
// never wraps.
func (s *statusLine) set(text string) {
	if w, r := s.width()-1, []rune(text); len(r) > w && w > 0 {
		text = string(r[:w])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = text
	io.WriteString(s.w, clearLine+text)
}

// clear erases the status line for good.
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		io.WriteString(s.w, clearLine)
		s.line = ""
	}
}

// statusView turns a node's status into a line, measuring rates between
// calls.
type statusView struct {
	hashesAt time.Time
	hashes   uint64
	hashRate float64
	samples  []heightSample // tip heights over the last 10 s, for the sync rate
}

type heightSample struct {
	at     time.Time
	height uint64
}

// render returns the status line: tip, peers, mempool, mining and sync.
func (v *statusView) render(now time.Time, s blockchain.Status) string {
	if !v.hashesAt.IsZero() {
		if dt := now.Sub(v.hashesAt).Seconds(); dt >= 0.2 {
			v.hashRate = float64(s.Hashes-v.hashes) / dt
			v.hashesAt, v.hashes = now, s.Hashes
		}
	} else {
		v.hashesAt, v.hashes = now, s.Hashes
	}
	v.samples = append(v.samples, heightSample{now, s.Tip.Height})
	for len(v.samples) > 2 && now.Sub(v.samples[0].at) > 10*time.Second {
		v.samples = v.samples[1:]
	}

	parts := []string{
		fmt.Sprintf("height %s", commas(s.Tip.Height)),
		fmt.Sprintf("tip %s", s.Tip.Hash.Short(12)),
		fmt.Sprintf("peers %d", s.Peers),
		fmt.Sprintf("mempool %d", s.Mempool),
	}
	if s.Mining {
		parts = append(parts, "mining "+hashRate(v.hashRate))
	} else {
		parts = append(parts, "not mining")
	}
	if best := s.BestHeader.Height; best > s.Tip.Height {
		rate := 0.0
		if first := v.samples[0]; now.Sub(first.at) > 0 && s.Tip.Height >= first.height {
			rate = float64(s.Tip.Height-first.height) / now.Sub(first.at).Seconds()
		}
		parts = append(parts, fmt.Sprintf("syncing %.1f%% (%s of %s blocks, %.0f blocks/s)",
			100*float64(s.Tip.Height)/float64(best), commas(s.Tip.Height), commas(best), rate))
	} else if s.Peers > 0 {
		parts = append(parts, "synced")
	} else {
		parts = append(parts, "no peers")
	}
	return strings.Join(parts, " · ")
}

// hashRate writes hashes a second with a unit.
func hashRate(r float64) string {
	switch {
	case r >= 1e9:
		return fmt.Sprintf("%.2f GH/s", r/1e9)
	case r >= 1e6:
		return fmt.Sprintf("%.2f MH/s", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1f kH/s", r/1e3)
	}
	return fmt.Sprintf("%.0f H/s", r)
}

// commas writes n with thousands separators.
func commas(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
