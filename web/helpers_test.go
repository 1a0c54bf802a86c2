package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

// fund is what each test person starts with, in base units.
const fund = 1_000 * blockchain.Coin

// testKDF makes key files cheap to write and open in tests.
var testKDF = blockchain.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// person returns the test wallet of name, from a fixed seed.
func person(name string) *blockchain.Wallet {
	return blockchain.WalletFromSeed(sha256.Sum256([]byte("web test wallet: " + name)))
}

// env is a node that does not run (no peers; blocks are mined on demand
// with MineBlock or fed to its chain), its server, and an httptest server
// on loopback serving it.
type env struct {
	t       *testing.T
	params  blockchain.Params
	alice   *blockchain.Wallet
	bob     *blockchain.Wallet
	carol   *blockchain.Wallet
	miner   *blockchain.Wallet
	net     *blockchain.MemNetwork
	node    *blockchain.Node
	srv     *Server
	ts      *httptest.Server
	dataDir string
}

// envOption changes the setup before the node and server are made.
type envOption func(*envSetup)

type envSetup struct {
	chainOpts blockchain.ChainOptions
	cfg       Config
}

func withoutIndex() envOption { return func(s *envSetup) { s.chainOpts.IndexAddresses = false } }
func withConfig(f func(*Config)) envOption {
	return func(s *envSetup) { f(&s.cfg) }
}

// fixedClock returns a clock that starts at start and moves a second at
// each reading: block times, and so hashes, are the same on every run.
func fixedClock(start time.Time) func() time.Time {
	var mu sync.Mutex
	t := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func testParams() blockchain.Params {
	p := blockchain.TestParams()
	for _, n := range []string{"alice", "bob", "carol"} {
		p.Allocations = append(p.Allocations, blockchain.Allocation{To: person(n).Address(), Amount: fund})
	}
	return p
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, params: testParams(), alice: person("alice"), bob: person("bob"), carol: person("carol"), miner: person("miner")}
	setup := envSetup{chainOpts: blockchain.ChainOptions{IndexAddresses: true, VerifyWorkers: 1}}
	for _, o := range opts {
		o(&setup)
	}
	chain, err := blockchain.NewChain(e.params, setup.chainOpts)
	if err != nil {
		t.Fatal(err)
	}
	e.net = blockchain.NewMemNetwork(blockchain.MemNetworkConfig{Seed: 1})
	t.Cleanup(func() { e.net.Close() })
	e.node, err = blockchain.NewNode(blockchain.NodeConfig{
		ID: "test", Chain: chain, Network: e.net, Miner: e.miner.Address(), MiningWorkers: 1,
		Now: fixedClock(e.params.GenesisTime.Add(time.Hour)), Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.dataDir = t.TempDir()
	cfg := setup.cfg
	cfg.Node, cfg.DataDir, cfg.KDF, cfg.Miner = e.node, e.dataDir, testKDF, e.miner.Address()
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.ts.Close()
		e.srv.Close()
	})
	return e
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test if it does not decode.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// apiErr decodes an error body.
func (r response) apiErr(t *testing.T) apiError {
	t.Helper()
	var e apiError
	r.json(t, &e)
	return e
}

// request sends method path with body (a string as is, anything else as
// JSON) and the token, if not empty, and reads the answer.
func (e *env) request(method, path string, body any, token string, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

func (e *env) get(path string) response { e.t.Helper(); return e.request("GET", path, nil, "") }

// getJSON GETs path, wants 200 and decodes the body into v.
func (e *env) getJSON(path string, v any) {
	e.t.Helper()
	r := e.get(path)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	r.json(e.t, v)
}

// post POSTs with the server's token.
func (e *env) post(path string, body any) response {
	e.t.Helper()
	return e.request("POST", path, body, e.srv.Token())
}

// want fails the test unless r has the status and, if code is not empty,
// the error code.
func want(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	if code != "" {
		if got := r.apiErr(t); got.Code != code || got.Error == "" {
			t.Fatalf("%s: error %+v, want code %s and a message", what, got, code)
		}
	}
}

// mine mines n blocks on the node's tip with its pending transactions.
func (e *env) mine(n int) []*blockchain.Block {
	e.t.Helper()
	var out []*blockchain.Block
	for range n {
		b, res, err := e.node.MineBlock(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if res.Status != blockchain.StatusMainChain {
			e.t.Fatalf("mined block %s: %v", b.Hash().Short(12), res.Status)
		}
		out = append(out, b)
	}
	return out
}

// pay signs a transfer from w with the node's next nonce for it.
func (e *env) pay(w *blockchain.Wallet, to blockchain.Address, amount, fee uint64) blockchain.Transaction {
	return w.SignTransfer(e.params.ChainID(), to, amount, fee, e.node.NextNonce(w.Address()))
}

// submit submits txs to the node.
func (e *env) submit(txs ...blockchain.Transaction) {
	e.t.Helper()
	for _, tx := range txs {
		if err := e.node.SubmitTransaction(tx); err != nil {
			e.t.Fatal(err)
		}
	}
}

// nextBlock mines a block on parent with a coinbase paying miner and txs,
// stamped dt after its parent: a generator for branches the node did not
// mine itself.
func nextBlock(t *testing.T, p blockchain.Params, parent *blockchain.Block, miner blockchain.Address, dt time.Duration, txs ...blockchain.Transaction) *blockchain.Block {
	t.Helper()
	h := parent.Header.Height + 1
	var fees uint64
	for _, tx := range txs {
		fees += tx.Fee
	}
	b := &blockchain.Block{Header: blockchain.Header{
		Version: blockchain.HeaderVersion, Height: h, PrevHash: parent.Hash(),
		Time: parent.Header.Time + int64(dt), Bits: parent.Header.Bits,
	}}
	b.Transactions = append([]blockchain.Transaction{blockchain.NewCoinbase(miner, p.Reward(h)+fees, h)}, txs...)
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	if _, err := blockchain.Mine(context.Background(), &b.Header, 1); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkGoroutines waits for the goroutine count to come back to at most
// baseline, and fails with every stack if it does not.
func checkGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
