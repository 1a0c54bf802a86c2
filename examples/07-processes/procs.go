package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nakachain/blockchain"
)

// build compiles the nakachain program into dir and returns its path.
func build(ctx context.Context, dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command, to build the nakachain program: %w", err)
	}
	bin := filepath.Join(dir, "nakachain")
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/nakachain/blockchain/cmd/nakachain")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, stderr.String())
	}
	return bin, nil
}

// fleet starts the node processes, all in one directory, and makes sure
// none outlives the example: close kills whatever still runs.
type fleet struct {
	dir, bin string

	mu      sync.Mutex
	procs   []*proc
	closers []func() // for what runs in this program
}

// onClose has close call fn.
func (f *fleet) onClose(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closers = append(f.closers, fn)
}

// start runs "nakachain ARGS" in the fleet's directory.
func (f *fleet) start(name string, args ...string) (*proc, error) {
	cmd := exec.Command(f.bin, args...)
	cmd.Dir = f.dir
	setProcAttr(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, changed: make(chan struct{}), done: make(chan struct{})}
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	go p.read(stderr)
	return p, nil
}

// close kills every process still running and waits for it, and stops
// what runs in this program.
func (f *fleet) close() {
	f.mu.Lock()
	procs, closers := f.procs, f.closers
	f.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	for _, fn := range closers {
		fn()
	}
}

// proc is one node process. It logs JSON lines to its standard error,
// which proc reads and keeps.
type proc struct {
	name string
	cmd  *exec.Cmd

	mu      sync.Mutex
	lines   []logLine
	raw     []string      // the lines as written
	changed chan struct{} // closed and replaced at each line and at exit
	exited  bool
	waitErr error
	done    chan struct{} // closed when it has exited and its log is read
}

// logLine is one line of a node's JSON log.
type logLine map[string]any

func (l logLine) msg() string { s, _ := l["msg"].(string); return s }

func (l logLine) str(key string) string { s, _ := l[key].(string); return s }

func (l logLine) num(key string) uint64 { f, _ := l[key].(float64); return uint64(f) }

// block is a block as a log line names it.
type block struct {
	height uint64
	hash   blockchain.Hash
}

func (l logLine) block() block {
	h, _ := blockchain.ParseHash(l.str("hash"))
	return block{l.num("height"), h}
}

func (p *proc) read(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			l = logLine{"msg": "", "text": sc.Text()} // not from the logger: a crash message
		}
		p.mu.Lock()
		p.lines = append(p.lines, l)
		p.raw = append(p.raw, sc.Text())
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exited, p.waitErr = true, err
	close(p.changed)
	p.mu.Unlock()
	close(p.done)
}

// log returns the lines logged so far.
func (p *proc) log() []logLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines
}

// waitFor waits until cond holds for the log, at most timeout.
func (p *proc) waitFor(ctx context.Context, timeout time.Duration, what string, cond func([]logLine) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		p.mu.Lock()
		lines, exited, changed := p.lines, p.exited, p.changed
		p.mu.Unlock()
		if cond(lines) {
			return nil
		}
		if exited {
			return fmt.Errorf("%s exited while we waited for %s: %s", p.name, what, p.lastWords())
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w", p.name, what, ctx.Err())
		}
	}
}

// lastWords returns the last lines of the log, for an error message.
func (p *proc) lastWords() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s []string
	for _, l := range p.lines[max(0, len(p.lines)-3):] {
		b, _ := json.Marshal(l)
		s = append(s, string(b))
	}
	return strings.Join(s, " ")
}

// first waits for the first line with msg.
func (p *proc) first(ctx context.Context, timeout time.Duration, msg string) (logLine, error) {
	var found logLine
	err := p.waitFor(ctx, timeout, fmt.Sprintf("%q in its log", msg), func(lines []logLine) bool {
		for _, l := range lines {
			if l.msg() == msg {
				found = l
				return true
			}
		}
		return false
	})
	return found, err
}

// tip returns the node's tip by its log: the last block it reported
// stored, or the tip it opened its chain at.
func (p *proc) tip() block {
	lines := p.log()
	for i := len(lines) - 1; i >= 0; i-- {
		if m := lines[i].msg(); m == "block stored" || m == "chain opened" {
			return lines[i].block()
		}
	}
	return block{}
}

// storedLine returns the line, as written, that reports block h stored.
func (p *proc) storedLine(h blockchain.Hash) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, l := range p.lines {
		if l.msg() == "block stored" && l.block().hash == h {
			return p.raw[i], true
		}
	}
	return "", false
}

// lastStored returns the last block the node reported stored.
func (p *proc) lastStored() (block, bool) {
	lines := p.log()
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i].msg() == "block stored" {
			return lines[i].block(), true
		}
	}
	return block{}, false
}

// peers returns the node's peer count by its last peer line.
func (p *proc) peers() int {
	lines := p.log()
	for i := len(lines) - 1; i >= 0; i-- {
		if m := lines[i].msg(); m == "peer connected" || m == "peer disconnected" {
			return int(lines[i].num("peers"))
		}
	}
	return 0
}

// kill kills the process with SIGKILL, as a crash or a power cut would
// end it, and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL) // fails only if it has exited
	select {
	case <-p.done:
	case <-time.After(10 * time.Second): // never, for a killed child
	}
}

// stop asks the process to stop with SIGTERM, waits at most timeout, and
// returns an error unless it stopped cleanly.
func (p *proc) stop(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM", p.name, timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w", p.name, p.waitErr)
	}
	return nil
}
