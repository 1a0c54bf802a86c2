package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

// TestClientCommands runs a node with -web on loopback and each client
// command against its API, as a person at a shell would: wallets made with
// "wallet new" before the node starts, unlocked with "wallet unlock",
// mined to with "mine on", paid from with "send", looked at with
// "balance", "tx", "block" and "status".
func TestClientCommands(t *testing.T) {
	bin := nakachainBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	dir := t.TempDir()
	datadir := filepath.Join(dir, "data")
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	newWallet := func(name string) string {
		t.Helper()
		code, stdout, stderr := runBinary(t, nil, "wallet", "new", "-name", name, "-datadir", datadir, "-passphrase-file", passFile)
		if code != 0 {
			t.Fatalf("wallet new -name %s: status %d:\n%s", name, code, stderr)
		}
		return strings.TrimSpace(stdout)
	}
	alice, bob := newWallet("alice"), newWallet("bob")

	node := startProc(t, "node", bin, "node", "-datadir", datadir, "-network", "test", "-listen", "",
		"-web", "127.0.0.1:0", "-workers", "1", "-min-block-interval", "10ms", "-log-format", "json")
	web, err := node.line(ctx, 15*time.Second, "web server")
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(datadir, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + web.str("addr") + "/"
	page := web.str("url")
	if !strings.HasPrefix(web.str("addr"), "127.0.0.1:") || page != base+"#token="+strings.TrimSpace(string(token)) {
		t.Fatalf("the web server line gives addr %q and url %q; the token file holds %q", web.str("addr"), page, token)
	}
	if data, err := os.ReadFile(filepath.Join(datadir, "web-url")); err != nil || string(data) != base+"\n" {
		t.Fatalf("DATADIR/web-url holds %q (%v), want %q", data, err, base)
	}

	// client runs a client command against the node's data directory.
	client := func(args ...string) (int, string, string) {
		t.Helper()
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		return runBinary(t, nil, append(args, "-datadir", datadir)...)
	}
	ok := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := client(args...)
		if code != 0 || stderr != "" {
			t.Fatalf("nakachain %q: status %d, stderr:\n%s", args, code, stderr)
		}
		return stdout
	}
	// refused checks a command that fails with status 1 and one line.
	refused := func(want string, args ...string) {
		t.Helper()
		code, stdout, stderr := client(args...)
		if code != exitFailure || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, want) {
			t.Errorf("nakachain %q: status %d, stdout %q, stderr %q; want status 1 and one line with %q",
				args, code, stdout, stderr, want)
		}
	}
	jsonOf := func(args ...string) map[string]any {
		t.Helper()
		var v map[string]any
		out := ok(append(args, "-json")...)
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("nakachain %q -json: %v:\n%s", args, err, out)
		}
		return v
	}
	contains := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}

	// The node's status, as text and as the API's JSON.
	contains(ok("status"), "Network:", "test (chain 27f802053251d481", "Mining:", "off", "Addresses:  indexed")
	if st := jsonOf("status"); st["network"] != "test" || st["indexed"] != true {
		t.Errorf("status -json: %v", st)
	}

	// Unlock alice; a wrong passphrase is refused.
	contains(ok("wallet", "unlock", "-name", "alice", "-passphrase-file", passFile, "-for", "10m"),
		"Wallet alice ("+alice+") is unlocked until")
	wrongFile := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrongFile, []byte("wrong horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refused("nakachain wallet unlock: refused: ErrWrongPassphrase: wrong passphrase (HTTP 403)",
		"wallet", "unlock", "-name", "alice", "-passphrase-file", wrongFile)
	refused(`refused: ErrNotFound: no wallet "dave" (HTTP 404)`, "wallet", "unlock", "-name", "dave", "-passphrase-file", passFile)

	// A wallet made in the page (through the API) is one "wallet address"
	// reads: the two keep their wallets in the same files.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"api/wallets",
		strings.NewReader(`{"name": "carol", "passphrase": "carol's"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var carol struct{ Address string }
	err = json.NewDecoder(resp.Body).Decode(&carol)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/wallets: %s, %v", resp.Status, err)
	}
	if got := strings.TrimSpace(ok("wallet", "address", "-name", "carol")); got != carol.Address {
		t.Errorf("wallet address -name carol: %q, want %q, the address the API made", got, carol.Address)
	}
	contains(ok("wallet", "lock", "-name", "carol"), "Wallet carol ("+carol.Address+") is locked") // made unlocked

	// Mine to alice until she has coins. The node has no miner address of
	// its own, so "mine on" needs -to.
	refused("the node has no address to pay its blocks to", "mine", "on")
	contains(ok("mine", "on", "-to", "alice"), "Mining on, paying "+alice)
	if err := node.waitFor(ctx, 15*time.Second, "a block", func(lines []logLine) bool { return len(stored(lines)) >= 2 }); err != nil {
		t.Fatal(err)
	}
	// The token can come with -api, in the page's address.
	code, stdout, stderr := runBinary(t, nil, "mine", "off", "-api", page)
	if code != 0 || stdout != "Mining off\n" {
		t.Fatalf("mine off -api PAGE: status %d, %q:\n%s", code, stdout, stderr)
	}

	contains(ok("balance", "alice"), "Address:    "+alice+" (wallet alice)", "Balance:", "coins confirmed, nonce 0", "Available:")
	acct := jsonOf("balance", alice)
	confirmed, _ := acct["confirmed"].(map[string]any)
	if bal, _ := confirmed["balance"].(float64); bal < 50*float64(blockchain.Coin) || acct["wallet"] != "alice" {
		t.Fatalf("balance %s -json: %v", alice, acct)
	}

	// Pay bob: from the only unlocked wallet, to a wallet's name.
	out := ok("send", "-to", "bob", "-amount", "1.5", "-fee", "0.0001")
	contains(out, "Sent:", "1.5 coins to "+bob+" (bob)", "From:", "wallet alice ("+alice+"), nonce 0", "Fee:", "0.0001 coins")
	m := regexp.MustCompile(`Transaction:\s+([0-9a-f]{64}), in the mempool`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("send printed no transaction ID:\n%s", out)
	}
	txid := m[1]
	sent := jsonOf("send", "-to", bob, "-amount", "0.5", "-from", "alice")
	if sent["to"] != bob || sent["amount"] != 0.5*float64(blockchain.Coin) || sent["nonce"] != 1.0 {
		t.Errorf("send -json: %v", sent)
	}
	contains(ok("tx", txid), "Transaction:  "+txid, "Status:       pending in the mempool", "From:         "+alice,
		"To:           "+bob, "Amount:       1.5 coins", "Fee:          0.0001 coins")

	// Refusals: a rule, no token, a wrong token.
	refused("nakachain send: refused: ErrInsufficientFunds: ", "send", "-to", "bob", "-amount", "1000000")
	code, stdout, stderr = runBinary(t, nil, "send", "-api", base, "-to", "bob", "-amount", "1", "-from", "alice")
	if code != exitFailure || stdout != "" || strings.Count(stderr, "\n") != 1 ||
		!strings.Contains(stderr, "nakachain send: refused: ErrNoToken: ") || !strings.Contains(stderr, "(HTTP 401)") ||
		!strings.Contains(stderr, "-token-file") {
		t.Errorf("send without the token: status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	refused("refused: ErrBadToken: the API token is wrong (HTTP 401)",
		"send", "-to", "bob", "-amount", "1", "-token", strings.Repeat("0", 64))

	// Mine the payments in.
	ok("mine", "on")
	deadline := time.Now().Add(15 * time.Second)
	for {
		acct := jsonOf("balance", "bob")
		if c, _ := acct["confirmed"].(map[string]any); c["balance"] == 2.0*float64(blockchain.Coin) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's payments were not confirmed within 15s: %v", acct)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ok("mine", "off")
	contains(ok("tx", txid), "Status:       confirmed at height ", "confirmation", "Block:")
	contains(ok("balance", "bob"), "(wallet bob)", "2 coins confirmed")

	// Blocks, by height and by hash.
	b1 := jsonOf("block", "1")
	hash, _ := b1["id"].(string)
	if b1["height"] != 1.0 || len(hash) != 64 || b1["miner"] != alice {
		t.Fatalf("block 1 -json: %v", b1)
	}
	out = ok("block", hash)
	contains(out, "Block:         "+hash, "Height:        1, ", "Miner:         "+alice, "Reward:        50 coins", "Previous:")
	if out != ok("block", "1") {
		t.Error("block HASH and block HEIGHT differ")
	}
	refused("refused: ErrNotFound: no block at height 999999 (HTTP 404)", "block", "999999")

	// Locked, alice can no longer pay.
	contains(ok("wallet", "lock", "-name", "alice"), "Wallet alice ("+alice+") is locked")
	refused("nakachain send: refused: ErrWalletLocked: ", "send", "-to", "bob", "-amount", "1", "-from", "alice")
	refused("the node has no unlocked wallet", "send", "-to", "bob", "-amount", "1")

	// The page's address was logged once; a stopped node takes its
	// web-url along.
	if err := node.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	lines, _ := node.snapshot()
	n := 0
	for _, l := range lines {
		if strings.Contains(l.str("url"), "#token=") || strings.Contains(l.str("text"), "#token=") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the page's address with its token is in %d log lines, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(datadir, "web-url")); !os.IsNotExist(err) {
		t.Errorf("DATADIR/web-url after the node stopped: %v", err)
	}
	refused("web-url is missing", "status")
	code, _, stderr = runBinary(t, nil, "status", "-api", base)
	if code != exitFailure || !strings.Contains(stderr, "cannot reach the node's API at "+strings.TrimSuffix(base, "/")) {
		t.Errorf("status of a stopped node: status %d:\n%s", code, stderr)
	}
}

func TestParseAPIURL(t *testing.T) {
	for _, tc := range []struct {
		in, base, token, err string
	}{
		{in: "127.0.0.1:8080", base: "http://127.0.0.1:8080"},
		{in: "http://127.0.0.1:8080/", base: "http://127.0.0.1:8080"},
		{in: "https://node.example/nk/", base: "https://node.example/nk"},
		{in: "http://127.0.0.1:8080/#token=abc", base: "http://127.0.0.1:8080", token: "abc"},
		{in: "ftp://127.0.0.1", err: "use http:// or https://"},
		{in: "http://", err: "has no host"},
		{in: "http://u:p@127.0.0.1:1/", err: "without a user"},
		{in: "http://127.0.0.1:1/?q=1", err: "without a user or a query"},
	} {
		u, tok, err := parseAPIURL(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseAPIURL(%q): error %v, want one with %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("parseAPIURL(%q): %v", tc.in, err)
		case u.String() != tc.base || tok != tc.token:
			t.Errorf("parseAPIURL(%q) = %q, token %q; want %q, %q", tc.in, u, tok, tc.base, tc.token)
		}
	}
}

func TestParseArgs(t *testing.T) {
	e := &env{stdout: &strings.Builder{}}
	for _, tc := range []struct {
		args []string
		pos  string // the argument, or the error
		json bool
	}{
		{[]string{"alice"}, "alice", false},
		{[]string{"alice", "-json"}, "alice", true},
		{[]string{"-json", "alice"}, "alice", true},
		{[]string{"--", "-bob"}, "-bob", false},
		{[]string{}, "missing ADDR|NAME", false},
		{[]string{"a", "b"}, `unexpected argument "b"`, false},
	} {
		fl := newFlagSet(e, "nakachain balance", "ADDR|NAME", "")
		var js bool
		fl.BoolVar(&js, "json", false, "")
		pos, err := fl.parseArgs(tc.args, "ADDR|NAME")
		switch {
		case err != nil:
			if !strings.Contains(err.Error(), tc.pos) {
				t.Errorf("parseArgs(%q): %v, want %q", tc.args, err, tc.pos)
			}
		case len(pos) != 1 || pos[0] != tc.pos || js != tc.json:
			t.Errorf("parseArgs(%q) = %q, -json %v; want %q, %v", tc.args, pos, js, tc.pos, tc.json)
		}
	}
}

func TestAPIErrorMessage(t *testing.T) {
	e := &apiError{status: 422, code: "ErrFeeTooLow", msg: "blockchain: ErrFeeTooLow: fee 0 is below the minimum 1"}
	if got, want := e.Error(), "refused: ErrFeeTooLow: fee 0 is below the minimum 1 (HTTP 422)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestWebServerConsole runs the web service in this process: on a
// terminal it prints the page's address once, plainly, and it keeps
// DATADIR/web-url only while it serves.
func TestWebServerConsole(t *testing.T) {
	datadir := t.TempDir()
	chain, err := blockchain.NewChain(blockchain.TestParams(), blockchain.ChainOptions{IndexAddresses: true})
	if err != nil {
		t.Fatal(err)
	}
	network := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{})
	defer network.Close()
	miner := blockchain.WalletFromSeed([32]byte{'m'}).Address()
	node, err := blockchain.NewNode(blockchain.NodeConfig{ID: "n", Chain: chain, Network: network, Miner: miner})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var console strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- runWebServer(ctx, node, slog.New(slog.DiscardHandler), &console, webOptions{datadir: datadir, addr: "127.0.0.1:0"})
	}()
	urlFile := filepath.Join(datadir, "web-url")
	var base string
	for base == "" {
		if data, err := os.ReadFile(urlFile); err == nil {
			base = strings.TrimSpace(string(data))
			continue
		}
		select {
		case err := <-done:
			t.Fatalf("the web server returned %v before writing %s", err, urlFile)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The status names the node's miner.
	var out strings.Builder
	e := &env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }, stdinFd: -1}
	if code := run(ctx, e, []string{"status", "-datadir", datadir}); code != 0 || !strings.Contains(out.String(), "blocks would pay "+miner.String()) {
		t.Errorf("status: %d:\n%s", code, out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	token, _ := os.ReadFile(filepath.Join(datadir, "api-token"))
	if want := "Web wallet: " + base + "#token=" + strings.TrimSpace(string(token)) + "\n"; console.String() != want {
		t.Errorf("the console shows %q, want %q", console.String(), want)
	}
	if _, err := os.Stat(urlFile); !os.IsNotExist(err) {
		t.Errorf("%s after the server stopped: %v", urlFile, err)
	}
}
