package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runInProcess runs the command line in this process, with no terminal
// and the given environment, and returns the exit status and output.
func runInProcess(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{
		stdin:   strings.NewReader(""),
		stdout:  &out,
		stderr:  &errOut,
		getenv:  func(k string) string { return vars[k] },
		stdinFd: -1,
	}
	code = run(context.Background(), e, args)
	return code, out.String(), errOut.String()
}

func TestBadCommandLines(t *testing.T) {
	dir := t.TempDir()
	params := filepath.Join(dir, "params.json")
	if err := os.WriteFile(params, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string // in the one line
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"wallet", "frobnicate"}, `nakachain wallet: unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"node", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"node", "extra"}, `unexpected argument "extra"`},
		{[]string{"node", "-miner", "nk1notanaddress"}, `invalid value "nk1notanaddress" for flag -miner: not a valid address`},
		{[]string{"node", "-miner", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}, "not a valid address"},
		{[]string{"node", "-peer", "example"}, `"example" is not host:port`},
		{[]string{"node", "-peer", "127.0.0.1:1,127.0.0.1:99999"}, `port "99999" is not a number`},
		{[]string{"node", "-peer", ":8333"}, `":8333" has no host`},
		{[]string{"node", "-seed", "127.0.0.1"}, `"127.0.0.1" is not host:port`},
		{[]string{"node", "-listen", "localhost"}, `"localhost" is not host:port`},
		{[]string{"node", "-advertise", "1.2.3.4:0"}, `port "0" is not a number from 1`},
		{[]string{"node", "-mine"}, "-mine needs -miner ADDRESS or -miner-key NAME"},
		{[]string{"node", "-miner", "nk1tzj8tetc7zz7suztx6m60wka6rzqmlj5hj5r6t", "-miner-key", "alice"}, "not both"},
		{[]string{"node", "-miner-key", "a b"}, `-miner-key: wallet name "a b"`},
		{[]string{"node", "-network", "moon"}, `-network "moon": use main or test`},
		{[]string{"node", "-network", "test", "-params", params}, "give -network or -params, not both"},
		{[]string{"node", "-log-format", "xml"}, `-log-format "xml": use text or json`},
		{[]string{"node", "-log-level", "loud"}, `invalid value "loud" for flag -log-level`},
		{[]string{"node", "-workers", "many"}, `invalid value "many" for flag -workers`},
		{[]string{"node", "-workers", "-1"}, "-workers must be 0 or more"},
		{[]string{"node", "-hashrate", "NaN"}, "-hashrate must be from 0"},
		{[]string{"node", "-for", "soon"}, `invalid value "soon" for flag -for`},
		{[]string{"node", "-passphrase-file", "f", "-passphrase-env", "P"}, "not both"},
		{[]string{"wallet", "new"}, "-name is required"},
		{[]string{"wallet", "new", "-name", "../evil"}, `wallet name "../evil"`},
		{[]string{"wallet", "new", "-name", ".hidden"}, `wallet name ".hidden"`},
		{[]string{"wallet", "new", "-name", "alice", "-dir", dir}, "no passphrase: standard input is not a terminal"},
		{[]string{"wallet", "address"}, "-name is required"},
		{[]string{"wallet", "address", "-name", "a b"}, `wallet name "a b"`},
		{[]string{"wallet", "new", "-name", "a.b"}, `wallet name "a.b": a wallet name is 1 to 32 letters`},
		{[]string{"wallet", "new", "-name", strings.Repeat("a", 33)}, "a wallet name is 1 to 32 letters"},
		{[]string{"node", "-web", "localhost"}, `"localhost" is not host:port`},
		{[]string{"node", "-web-host", "example.org"}, "-web-host needs -web ADDR"},
		{[]string{"node", "-web", "127.0.0.1:0", "-web-host", "example.org:80"}, "give the name without a port"},
		{[]string{"status", "extra"}, `unexpected argument "extra"`},
		{[]string{"status", "-api", "ftp://127.0.0.1"}, "use http:// or https://"},
		{[]string{"status", "-timeout", "0s"}, "-timeout must be more than 0"},
		{[]string{"balance"}, "missing ADDR|NAME"},
		{[]string{"balance", "alice", "bob"}, `unexpected argument "bob"`},
		{[]string{"balance", "nk1tzj8tetc7zz7suztx6m60wka6rzqmlj5hj5r6x"}, "is not a valid address"},
		{[]string{"balance", "a\tb"}, "neither an address"},
		{[]string{"tx", "abc"}, `"abc" is not a transaction ID`},
		{[]string{"block", "tip"}, `"tip" is neither a block hash`},
		{[]string{"send", "-amount", "1"}, "-to is required"},
		{[]string{"send", "-to", "bob"}, "-amount is required"},
		{[]string{"send", "-to", "bob", "-amount", "1.123456789"}, `-amount "1.123456789": not an amount`},
		{[]string{"send", "-to", "bob", "-amount", "-1"}, "not an amount"},
		{[]string{"send", "-to", "bob", "-amount", "1", "-fee", "free"}, `-fee "free": not an amount`},
		{[]string{"send", "-to", "bob", "-amount", "1", "-from", "a b"}, `-from: wallet name "a b"`},
		{[]string{"send", "-to", "nk1qqqqqqqqqqqqqqqqqqqqqqqqqq", "-amount", "1"}, "-to: \"nk1qqq"},
		{[]string{"send", "-to", "bob", "-amount", "1", "-token", "t", "-token-file", "f"}, "give -token or -token-file, not both"},
		{[]string{"mine"}, "missing on|off"},
		{[]string{"mine", "maybe"}, `"maybe": say on or off`},
		{[]string{"mine", "on", "-to", "a\nb"}, "neither an address"},
		{[]string{"wallet", "unlock"}, "-name is required"},
		{[]string{"wallet", "unlock", "-name", "alice", "-for", "25h"}, "-for must be from 0 to 24h0m0s"},
		{[]string{"wallet", "unlock", "-name", "alice", "-passphrase-file", "f", "-passphrase-env", "P"}, "not both"},
		{[]string{"wallet", "lock"}, "-name is required"},
		{[]string{"wallet", "lock", "-name", "../x"}, `wallet name "../x"`},
	} {
		code, stdout, stderr := runInProcess(t, nil, tc.args...)
		if code != exitUsage {
			t.Errorf("nakachain %q: exit status %d, want %d; stderr:\n%s", tc.args, code, exitUsage, stderr)
			continue
		}
		if stdout != "" {
			t.Errorf("nakachain %q wrote to stdout:\n%s", tc.args, stdout)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
			t.Errorf("nakachain %q: stderr is not one line:\n%s", tc.args, stderr)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("nakachain %q: stderr %q lacks %q", tc.args, stderr, tc.want)
		}
		if !strings.HasPrefix(stderr, "nakachain") {
			t.Errorf("nakachain %q: stderr %q does not start with the command's name", tc.args, stderr)
		}
	}
}

func TestNoCommand(t *testing.T) {
	code, _, stderr := runInProcess(t, nil)
	if code != exitUsage || !strings.Contains(stderr, "no command given") || !strings.Contains(stderr, "wallet new") {
		t.Errorf("nakachain with no command: status %d, stderr:\n%s", code, stderr)
	}
}

// TestHelp checks that every command's help names every flag with its
// default, on stdout, with status 0, whichever way it is asked for.
func TestHelp(t *testing.T) {
	flagRE := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	for _, args := range [][]string{
		{"node", "-help"}, {"node", "--help"}, {"node", "-h"}, {"help", "node"},
		{"wallet", "new", "-help"}, {"help", "wallet", "new"},
		{"wallet", "address", "--help"}, {"help", "wallet", "address"},
		{"wallet", "unlock", "-help"}, {"help", "wallet", "lock"},
		{"status", "-help"}, {"balance", "--help"}, {"help", "send"}, {"tx", "-h"}, {"block", "-help"}, {"mine", "-help"},
	} {
		code, stdout, stderr := runInProcess(t, nil, args...)
		if code != exitOK || stderr != "" {
			t.Errorf("nakachain %q: status %d, stderr %q", args, code, stderr)
			continue
		}
		flags := flagRE.FindAllStringSubmatch(stdout, -1)
		if len(flags) < 3 {
			t.Errorf("nakachain %q lists %d flags:\n%s", args, len(flags), stdout)
		}
		if got := strings.Count(stdout, "(default: "); got != len(flags) {
			t.Errorf("nakachain %q: %d flags but %d defaults:\n%s", args, len(flags), got, stdout)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if len([]rune(line)) > 80 {
				t.Errorf("nakachain %q: line longer than 80 columns: %q", args, line)
			}
		}
	}
	for _, want := range []string{"-datadir DIR", "./nakachain-data", "-listen ADDR", "127.0.0.1:8333", "-seed ADDR",
		"-peer ADDR", "-mine", "-miner ADDRESS", "-miner-key NAME|FILE", "-passphrase-file FILE", "-passphrase-env NAME",
		"-network NAME", "-params FILE", "-log-level LEVEL", "-log-format FORMAT", "-workers N", "-hashrate H", "-for DURATION",
		"-web ADDR", "-web-host NAME", "about 16"} {
		if _, stdout, _ := runInProcess(t, nil, "node", "-help"); !strings.Contains(stdout, want) {
			t.Errorf("node -help lacks %q", want)
		}
	}
	for _, want := range []string{"-to NAME|ADDR", "-amount COINS", "-fee COINS", "-from WALLET", "-datadir DIR",
		"-api URL", "-token TOKEN", "-token-file FILE", "-json", "-timeout DURATION", "(default: 30s)"} {
		if _, stdout, _ := runInProcess(t, nil, "send", "-help"); !strings.Contains(stdout, want) {
			t.Errorf("send -help lacks %q", want)
		}
	}
	if _, stdout, _ := runInProcess(t, nil, "status", "-help"); strings.Contains(stdout, "-token") {
		t.Errorf("status -help offers a token it does not need:\n%s", stdout)
	}
	for _, args := range [][]string{{"help"}, {"-help"}, {"--help"}, {"wallet", "help"}, {"help", "wallet"}} {
		code, stdout, _ := runInProcess(t, nil, args...)
		if code != exitOK || !strings.Contains(stdout, "Commands:") {
			t.Errorf("nakachain %q: status %d, stdout:\n%s", args, code, stdout)
		}
	}
}

// TestExitStatusOfTheProgram checks the statuses the built program exits
// with, as a script sees them.
func TestExitStatusOfTheProgram(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"node", "-peer", "nohost"}, exitUsage},
		{[]string{"node", "-miner", "nk1qqqq"}, exitUsage},
		{[]string{"node", "-help"}, exitOK},
		{[]string{"wallet", "address", "-name", "nobody", "-dir", t.TempDir()}, exitFailure},
	} {
		code, _, stderr := runBinary(t, nil, tc.args...)
		if code != tc.code {
			t.Errorf("nakachain %q: exit status %d, want %d; stderr:\n%s", tc.args, code, tc.code, stderr)
		}
	}
}
