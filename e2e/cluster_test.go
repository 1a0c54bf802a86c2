package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/web"
)

// wallet returns the test wallet of name, from a fixed seed.
func wallet(name string) *blockchain.Wallet {
	return blockchain.WalletFromSeed(sha256.Sum256([]byte("e2e wallet: " + name)))
}

// site is one node with its page, in this process.
type site struct {
	name string
	node *blockchain.Node
	srv  *web.Server
	base string // http://127.0.0.1:PORT/
}

// url is the page's address with the token, as the node prints it.
func (s *site) url() string { return s.srv.URL() }

// cluster is two nodes, A and B, on an in-memory network, each serving its
// page on loopback: fast and the same on every run but for timing. The
// chain has TestParams' trivial target; the miners are off until a test
// (or its page) switches them on, and then find a block about every 300 ms.
// Alice has coins on A from the genesis block; bob's wallet is on B, and
// A's address book names him.
type cluster struct {
	params blockchain.Params
	a, b   *site
}

const opening = 100 * blockchain.Coin

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{params: blockchain.TestParams()}
	c.params.Allocations = []blockchain.Allocation{{To: wallet("alice").Address(), Amount: opening}}
	net := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{Seed: 9, Link: blockchain.LinkConfig{Latency: time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	var stops []chan struct{}
	t.Cleanup(func() {
		cancel()
		for _, d := range stops {
			<-d
		}
		net.Close()
	})
	mk := func(name string) *site {
		chain, err := blockchain.NewChain(c.params, blockchain.ChainOptions{IndexAddresses: true})
		if err != nil {
			t.Fatal(err)
		}
		miner := wallet(name + "-miner").Address()
		node, err := blockchain.NewNode(blockchain.NodeConfig{
			ID: blockchain.PeerID(name), Chain: chain, Network: net, Miner: miner, MiningWorkers: 1,
			MinBlockInterval: 300 * time.Millisecond, TickInterval: 50 * time.Millisecond,
			SyncInterval: 300 * time.Millisecond, TemplateRefresh: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := web.New(web.Config{
			Node: node, DataDir: filepath.Join(t.TempDir(), name), Addr: "127.0.0.1:0", Miner: miner,
			KDF: blockchain.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		ln, err := srv.Listen()
		if err != nil {
			t.Fatal(err)
		}
		s := &site{name: name, node: node, srv: srv, base: "http://" + ln.Addr().String() + "/"}
		for _, run := range []func(context.Context) error{node.Run, func(ctx context.Context) error { return srv.Serve(ctx, ln) }} {
			d := make(chan struct{})
			stops = append(stops, d)
			go func() { defer close(d); _ = run(ctx) }()
		}
		return s
	}
	c.a, c.b = mk("node-a"), mk("node-b")
	must(t, c.a.srv.AddWallet("alice", wallet("alice"), []byte("alice's passphrase")))
	must(t, c.b.srv.AddWallet("bob", wallet("bob"), []byte("bob's passphrase")))
	must(t, c.a.srv.AddName("bob", wallet("bob").Address()))
	must(t, c.b.srv.AddName("alice", wallet("alice").Address()))
	deadline := time.Now().Add(10 * time.Second)
	for len(c.a.node.Peers()) == 0 || len(c.b.node.Peers()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the two nodes did not connect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mineBlocks mines n blocks on s now, paying to.
func mineBlocks(t *testing.T, s *site, to blockchain.Address, n int) {
	t.Helper()
	s.node.SetMiner(to)
	for range n {
		if _, _, err := s.node.MineBlock(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// tab is a browser tab on one page.
type tab struct {
	t      *testing.T
	ctx    context.Context
	name   string
	cancel context.CancelFunc
}

// openTab opens url in a new tab of the shared browser, and waits for the
// page to be live (its event stream open).
func openTab(t *testing.T, name, url string) *tab {
	t.Helper()
	needBrowser(t)
	ctx, cancel := chromedp.NewContext(browserCtx)
	tb := &tab{t: t, ctx: ctx, name: name, cancel: cancel}
	t.Cleanup(cancel)
	// The tab lives as long as the context of its first action: no
	// timeout on that one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: new tab: %v", name, err)
	}
	tb.do(chromedp.Navigate(url))
	tb.waitJS(`document.getElementById('live').textContent === 'live'`, "the page to go live")
	tb.exec(`window.__loadedOnce = true`) // gone if the page reloads
	return tb
}

// do runs actions within 30 seconds, failing the test on error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.shot("failed")
		tb.t.Fatalf("%s: %v", tb.name, err)
	}
}

// waitJS polls the expression until it is true, for up to 30 seconds.
func (tb *tab) waitJS(expr, what string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		tb.shot("failed")
		tb.t.Fatalf("%s: waiting for %s: %v", tb.name, what, err)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](tb *tab, expr string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, expr, err)
	}
	return v
}

func (tb *tab) exec(expr string) { tb.t.Helper(); eval[chromedp.Void](tb, expr) }

func (tb *tab) text(id string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`document.getElementById(%q).textContent`, id))
}

// click clicks the element with the CSS selector.
// click clicks the element sel selects. The page redraws parts of itself
// as events arrive: if the element is replaced between being found and
// being clicked ("Could not find node"), it is found again, a few times.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	var err error
	for range 5 {
		ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
		err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil || !strings.Contains(err.Error(), "Could not find node") {
			break
		}
	}
	if err != nil {
		tb.shot("failed")
		tb.t.Fatalf("%s: click %s: %v", tb.name, sel, err)
	}
}

// fill types text into the input with the id, replacing what it held.
func (tb *tab) fill(id, text string) {
	tb.t.Helper()
	tb.exec(fmt.Sprintf(`document.getElementById(%q).value = ''`, id))
	tb.do(chromedp.SendKeys(chromedp.ID(id), text))
}

// notReloaded fails the test if the page was loaded again since openTab:
// what changed on it came from the event stream.
func (tb *tab) notReloaded() {
	tb.t.Helper()
	if !eval[bool](tb, `window.__loadedOnce === true`) {
		tb.t.Errorf("%s: the page was reloaded", tb.name)
	}
}

// shot saves a PNG of the whole page as screenshots/TEST-SUFFIX.png.
func (tb *tab) shot(suffix string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("%s: screenshot: %v", tb.name, err)
		return
	}
	name := strings.ReplaceAll(tb.t.Name(), "/", "-") + "-" + suffix + ".png"
	path := filepath.Join(screenshotDir(tb.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
}

// httpStatus GETs url and returns the status code.
func httpStatus(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// postJSON POSTs body to the site with its token and returns the status.
func postJSON(t *testing.T, s *site, path, body string) int {
	t.Helper()
	req, err := http.NewRequest("POST", s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.srv.Token())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
