package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

// proc is a nakachain process started by a test, logging JSON to its
// standard error, which proc reads line by line.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd

	mu      sync.Mutex
	lines   []logLine
	raw     []string      // every line, for failure messages
	changed chan struct{} // closed and replaced at each new line and at exit
	exited  bool
	waitErr error
	done    chan struct{} // closed once the process has exited and its log is read
}

// logLine is one JSON log line.
type logLine map[string]any

func (l logLine) msg() string { s, _ := l["msg"].(string); return s }

func (l logLine) str(key string) string { s, _ := l[key].(string); return s }

func (l logLine) uint(key string) uint64 {
	f, _ := l[key].(float64)
	return uint64(f)
}

func (l logLine) hash(key string) blockchain.Hash {
	h, _ := blockchain.ParseHash(l.str(key))
	return h
}

// startProc starts argv (the program, or a wrapper such as "ip netns
// exec") and reads its log. The test's cleanup kills it if it still runs.
func startProc(t testing.TB, name string, argv ...string) *proc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	setProcAttr(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, changed: make(chan struct{}), done: make(chan struct{})}
	go p.read(bufio.NewScanner(stderr))
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s's log (last 40 lines):\n%s", name, p.tail(40))
		}
	})
	return p
}

func (p *proc) read(sc *bufio.Scanner) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		text := sc.Text()
		var l logLine
		if json.Unmarshal([]byte(text), &l) != nil {
			l = logLine{"msg": "(not JSON)", "text": text}
		}
		p.mu.Lock()
		p.lines = append(p.lines, l)
		p.raw = append(p.raw, text)
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exited, p.waitErr = true, err
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	close(p.done)
}

// tail returns the last n lines of the log.
func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.raw[max(0, len(p.raw)-n):], "\n")
}

// snapshot returns the log lines so far and whether the process exited.
func (p *proc) snapshot() ([]logLine, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines, p.exited
}

var errExited = errors.New("the process exited")

// waitFor waits until cond holds for the log so far, for at most timeout.
// It fails with errExited if the process exits first.
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
			return fmt.Errorf("%s: waiting for %s: %w", p.name, what, errExited)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w", p.name, what, ctx.Err())
		}
	}
}

// line waits for the first line with msg and returns it.
func (p *proc) line(ctx context.Context, timeout time.Duration, msg string) (logLine, error) {
	var found logLine
	err := p.waitFor(ctx, timeout, fmt.Sprintf("%q", msg), func(lines []logLine) bool {
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

// storedBlock is a block a process reported stored.
type storedBlock struct {
	height uint64
	hash   blockchain.Hash
}

// stored returns the blocks the process reported stored, in order.
func stored(lines []logLine) []storedBlock {
	var out []storedBlock
	for _, l := range lines {
		if l.msg() == "block stored" {
			out = append(out, storedBlock{l.uint("height"), l.hash("hash")})
		}
	}
	return out
}

// tipOf returns the process's tip by its log: the last block it stored,
// or the tip it opened the chain at.
func tipOf(lines []logLine) (storedBlock, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		if m := lines[i].msg(); m == "block stored" || m == "chain opened" {
			return storedBlock{lines[i].uint("height"), lines[i].hash("hash")}, true
		}
	}
	return storedBlock{}, false
}

// peersOf returns the process's peer count by its last peer line.
func peersOf(lines []logLine) int {
	for i := len(lines) - 1; i >= 0; i-- {
		if m := lines[i].msg(); m == "peer connected" || m == "peer disconnected" {
			return int(lines[i].uint("peers"))
		}
	}
	return 0
}

// signal sends sig and waits for the process to exit.
func (p *proc) signal(sig syscall.Signal, timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %v of %v", p.name, timeout, sig)
	}
}

// kill kills the process with SIGKILL and waits for it.
func (p *proc) kill() {
	if err := p.signal(syscall.SIGKILL, 10*time.Second); err != nil {
		p.t.Errorf("killing %s: %v", p.name, err)
	}
}

// stop stops the process with SIGTERM, waits for it, and checks that it
// exited with status 0.
func (p *proc) stop(timeout time.Duration) error {
	if err := p.signal(syscall.SIGTERM, timeout); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w", p.name, p.waitErr)
	}
	return nil
}
