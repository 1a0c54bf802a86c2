package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// binary builds the nakachain program once per test binary, into a
// directory TestMain removes.
type binary struct {
	dir  string
	once sync.Once
	path string
	err  error
}

func (b *binary) build() (string, error) {
	b.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("the go command, to build nakachain: %w", err)
			return
		}
		out := filepath.Join(b.dir, "nakachain")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, ".")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.err = fmt.Errorf("go build: %w\n%s", err, stderr.String())
			return
		}
		b.path = out
	})
	return b.path, b.err
}

// testBinary is set by TestMain before any test runs, and only read after.
var testBinary *binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nakachain-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testBinary = &binary{dir: dir}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// nakachainBinary returns the path of the built program, building it on
// first use.
func nakachainBinary(t testing.TB) string {
	t.Helper()
	path, err := testBinary.build()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// runBinary runs the program to completion with args and extra
// environment variables, and returns its exit status and output.
func runBinary(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nakachainBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("running nakachain %q: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}
