package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

// hashDigits is how many hex digits of a block hash the view shows: the
// leading zeros that proof-of-work demands, and enough after them to tell
// blocks apart.
const hashDigits = 7

// view shows what the nodes hold: a header with the time and the phase, one
// line per node with the last blocks of its main chain, then the payments
// and the messages so far. On a terminal it redraws that frame in
// place, ten times a second, below the story's narration; anywhere else
// (a pipe, a file, a test) it prints the frame as a snapshot once a second
// and whenever asked.
//
// A node's line looks like
//
//	(node 7301) [0001a]--[00007]--[0000c]--[00013]  h=12 work=425,984
//
// with the first hashDigits hex digits of each block hash, its tip last, then the
// tip's height and the chain's total work. Nodes whose lines end alike
// agree.
type view struct {
	nodes []*blockchain.Node
	pay   *payer
	net   *blockchain.MemNetwork
	live  bool
	start time.Time

	mu    sync.Mutex
	w     io.Writer
	phase string
	cut   int // during a partition, how many nodes (listed first) are on side A
	drawn int // lines of the live frame now on the screen
}

// Escape sequences of ANSI terminals.
const (
	cursorUp  = "\x1b[%dA" // move up n lines
	clearLine = "\x1b[2K"  // erase the line the cursor is on
	clearDown = "\x1b[J"   // erase from the cursor to the end of the screen
)

// blocksShown is how many blocks each node's line shows.
const blocksShown = 4

// isTerminal reports whether w is a terminal, where the view can redraw.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newView(w io.Writer, live bool) *view {
	return &view{w: w, live: live, start: time.Now()}
}

// watch sets what the frame shows.
func (v *view) watch(nodes []*blockchain.Node, pay *payer, net *blockchain.MemNetwork) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.nodes, v.pay, v.net = nodes, pay, net
}

// say prints a paragraph of the story, above the live frame, wrapped to
// fit 80 columns.
func (v *view) say(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.erase()
	for _, l := range wrap(fmt.Sprintf(format, args...), 80) {
		fmt.Fprintln(v.w, l)
	}
	if v.live {
		v.draw()
	}
}

// wrap breaks text into lines of at most width columns, at spaces. The
// lines after the first are indented like the first, and by 3 more after a
// leading "=> " or 2 more after leading spaces.
func wrap(text string, width int) []string {
	words := strings.Fields(text)
	if len(words) == 0 {
		return []string{""}
	}
	lead := text[:len(text)-len(strings.TrimLeft(text, " "))]
	indent := lead
	switch {
	case words[0] == "=>":
		indent += "   "
	case lead != "":
		indent += "  "
	}
	lines := []string{lead + words[0]}
	for _, word := range words[1:] {
		last := &lines[len(lines)-1]
		if len(*last)+1+len(word) > width {
			lines = append(lines, indent+word)
		} else {
			*last += " " + word
		}
	}
	return lines
}

// setPhase names the phase the frame shows; cut > 0 marks a partition after
// the first cut nodes.
func (v *view) setPhase(phase string, cut int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.phase, v.cut = phase, cut
}

// snapshot shows the frame now: a fresh snapshot, or a redraw.
func (v *view) snapshot() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.erase()
	v.draw()
}

// run refreshes the frame until ctx is done, ten times a second on a
// terminal and once a second otherwise; then it returns nil.
func (v *view) run(ctx context.Context) error {
	every := time.Second
	if v.live {
		every = 100 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			v.snapshot()
		}
	}
}

// stop ends the frames. The last live frame stays on the screen, and what
// is printed next goes below it.
func (v *view) stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.nodes, v.drawn = nil, 0
}

// erase removes the live frame from the screen. v.mu is held.
func (v *view) erase() {
	if v.live && v.drawn > 0 {
		fmt.Fprintf(v.w, cursorUp+"\r"+clearDown, v.drawn)
		v.drawn = 0
	}
}

// draw prints the frame. v.mu is held.
func (v *view) draw() {
	if v.nodes == nil {
		return
	}
	header := fmt.Sprintf("-- %.1fs, %s --", time.Since(v.start).Seconds(), v.phase)
	lines := append([]string{header}, v.frame()...)
	for _, l := range lines {
		if v.live {
			l = clearLine + l
		}
		fmt.Fprintln(v.w, l)
	}
	if v.live {
		v.drawn = len(lines)
	}
}

// frame returns the lines that show the nodes and the payments. v.mu is held.
func (v *view) frame() []string {
	var lines []string
	for i, n := range v.nodes {
		if v.cut > 0 && i == v.cut {
			lines = append(lines, "  ~~~~~~~~~~~~~~~~~~~~~~~~~ links cut ~~~~~~~~~~~~~~~~~~~~~~~~~")
		}
		lines = append(lines, "  "+nodeLine(n))
	}
	sent, refused := v.pay.payments()
	confirmed := 0
	best := heaviest(v.nodes)
	for _, tx := range sent {
		if _, ok := best.Chain().Transaction(tx.ID()); ok {
			confirmed++
		}
	}
	status := fmt.Sprintf("  payments: %d sent, %d confirmed on the heaviest chain", len(sent), confirmed)
	if refused > 0 {
		status += fmt.Sprintf(", %d refused", refused)
	}
	st := v.net.Stats()
	return append(lines, status, fmt.Sprintf("  messages: %s delivered, %s cut", demo.Commas(st.Delivered), demo.Commas(st.Cut)))
}

// nodeLine is one node's line of the frame.
func nodeLine(n *blockchain.Node) string {
	tip := n.Tip()
	// Walk back from the tip by the blocks' own links, so the hashes come
	// from one branch even if the node switches branches meanwhile.
	var hashes []string
	h := tip.Hash
	for range blocksShown {
		b, ok := n.Chain().BlockByHash(h)
		if !ok {
			break
		}
		hashes = append([]string{"[" + h.Short(hashDigits) + "]"}, hashes...)
		if b.Header.Height == 0 {
			break
		}
		h = b.Header.PrevHash
	}
	return fmt.Sprintf("(node %s) %s  h=%d work=%s", n.ID(), strings.Join(hashes, "--"), tip.Height, demo.Commas(tip.TotalWork))
}
