//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

// The hosts test's network: a bridge in this namespace, one namespace a
// host joined to it by a veth pair, addresses in a /24 of 198.18.0.0/15,
// the range reserved for network tests.
const (
	hostCount = 5
	hostPort  = "8333"
)

// TestHostsOverBridge runs five nodes, each in its own network namespace
// on one bridge, as five hosts would run them. Each knows only the first
// host's address (-seed): they find each other by address exchange. A
// payment made through the test's own node confirms on every host; one
// host's link goes down while the others mine, and once it is back up it
// converges on the common tip.
//
// It needs root (network namespaces): as another user it is skipped,
// unless NAKACHAIN_REQUIRE_NETNS=1, which makes a skip a failure. As root,
// a missing ip command or a namespace that cannot be made is a failure.
func TestHostsOverBridge(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("NAKACHAIN_REQUIRE_NETNS") == "1" {
			t.Fatal("NAKACHAIN_REQUIRE_NETNS=1, but the test does not run as root: network namespaces need root")
		}
		t.Skip("needs root to put each node in a network namespace (run as root; NAKACHAIN_REQUIRE_NETNS=1 makes this skip a failure)")
	}
	if testing.Short() {
		t.Skip("runs five node processes for about half a minute")
	}
	ipTool, err := exec.LookPath("ip")
	if err != nil {
		t.Fatalf("the ip command (Debian's iproute2) is needed to make network namespaces: %v", err)
	}
	bin := nakachainBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	net := newTestNet(ctx, t, ipTool)

	// The chain: the test network's rules with the payer's coins in the
	// genesis block, given to every host as a params file.
	payer := blockchain.WalletFromSeed([32]byte{'p', 'a', 'y'})
	payee := blockchain.WalletFromSeed([32]byte{'p', 'a', 'y', 'e', 'e'}).Address()
	params := blockchain.TestParams()
	params.Name = "hosts"
	params.Allocations = []blockchain.Allocation{{To: payer.Address(), Amount: 1_000_000}}
	paramsFile := filepath.Join(t.TempDir(), "params.json")
	data, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paramsFile, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// The hosts, one after the other, each with the first as its seed.
	// Every host but the first mines, each to its own address.
	hosts := make([]*proc, hostCount)
	seed := net.hostAddr(0) + ":" + hostPort
	for i := range hosts {
		args := []string{ipTool, "netns", "exec", net.ns(i), bin, "node",
			"-datadir", filepath.Join(net.dir, fmt.Sprintf("host%d", i+1)), "-params", paramsFile,
			"-listen", net.hostAddr(i) + ":" + hostPort, "-log-format", "json"}
		if i > 0 {
			miner := blockchain.WalletFromSeed([32]byte{byte(i)}).Address()
			args = append(args, "-seed", seed, "-mine", "-miner", miner.String())
		}
		hosts[i] = startProc(t, fmt.Sprintf("host %d (%s)", i+1, net.hostAddr(i)), args...)
		want := "listening"
		if i > 0 {
			// Wait for the seed, so that it can tell later hosts of this
			// one (nodes ask a peer for addresses once, when they meet).
			want = "peer connected"
		}
		if _, err := hosts[i].line(ctx, 15*time.Second, want); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range hosts {
		err := h.waitFor(ctx, 30*time.Second, "2 peers", func(lines []logLine) bool { return peersOf(lines) >= 2 })
		if err != nil {
			t.Fatalf("host %d found too few peers: %v", i+1, err)
		}
	}
	t.Logf("every host has at least 2 peers, found from the one seed address %s", seed)

	// The test's own node joins over the bridge, through the seed.
	own := startOwnNode(ctx, t, params, net.bridgeAddr()+":0", seed)
	tx, err := own.Send(payer, payee, 12_345, 1)
	if err != nil {
		t.Fatalf("paying through the test's node: %v", err)
	}
	info, err := own.WaitConfirmed(ctx, tx.ID(), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the payment %s is in block %d %s", tx.ID().Short(12), info.Height, info.BlockHash.Short(12))
	for i, h := range hosts {
		err := h.waitFor(ctx, 20*time.Second, "the payment's block on its chain", func(lines []logLine) bool {
			tip, _ := tipOf(lines)
			return storedHas(lines, info.BlockHash) && own.Chain().IsAncestor(info.BlockHash, tip.hash)
		})
		if err != nil {
			t.Fatalf("host %d: %v", i+1, err)
		}
	}
	if got := own.Balance(payee); got != 12_345 {
		t.Errorf("the payee's balance is %d, want 12,345", got)
	}

	// Cut the last host off while the others mine; then bring it back.
	cut := hostCount - 1
	lines, _ := hosts[cut].snapshot()
	cutTip, _ := tipOf(lines)
	net.ip(ctx, "link", "set", net.veth(cut), "down")
	t.Logf("host %d's link is down at its tip %d %s", cut+1, cutTip.height, cutTip.hash.Short(12))
	cutAt := time.Now()
	err = hosts[0].waitFor(ctx, 30*time.Second, "5 blocks more", func(lines []logLine) bool {
		tip, _ := tipOf(lines)
		return tip.height >= cutTip.height+5 && time.Since(cutAt) >= 4*time.Second
	})
	if err != nil {
		t.Fatal(err)
	}
	net.ip(ctx, "link", "set", net.veth(cut), "up")
	lines, _ = hosts[0].snapshot()
	upTip, _ := tipOf(lines)
	alone, _ := hosts[cut].snapshot()
	aloneTip, _ := tipOf(alone)
	t.Logf("host %d's link is up again after %v: host 1 is at %d %s, host %d, mining alone, at %d %s",
		cut+1, time.Since(cutAt).Round(time.Millisecond), upTip.height, upTip.hash.Short(12),
		cut+1, aloneTip.height, aloneTip.hash.Short(12))
	common, err := agree(ctx, hosts, own, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if common.height < upTip.height || !own.Chain().IsAncestor(info.BlockHash, common.hash) {
		t.Errorf("the common tip %d %s is below the tip before the link came back (%d), or lacks the payment",
			common.height, common.hash.Short(12), upTip.height)
	}
	t.Logf("all %d hosts and the test's node agree on tip %d %s", hostCount, common.height, common.hash.Short(12))
	for i, h := range hosts {
		lines, _ := h.snapshot()
		for _, l := range lines {
			if l.msg() == "reorganization" {
				t.Logf("host %d reorganized: %d blocks from %d %s to %d %s", i+1, l.uint("disconnected"),
					l.uint("old_height"), l.hash("old_tip").Short(8), l.uint("new_height"), l.hash("new_tip").Short(8))
			}
		}
	}

	// Every host stops cleanly on SIGTERM.
	for i, h := range hosts {
		if err := h.stop(20 * time.Second); err != nil {
			t.Errorf("host %d: %v", i+1, err)
		}
		if _, err := h.line(ctx, time.Second, "shutdown complete"); err != nil {
			t.Errorf("host %d: %v", i+1, err)
		}
	}
}

// storedHas reports whether the log reports block h stored.
func storedHas(lines []logLine, h blockchain.Hash) bool {
	for _, b := range stored(lines) {
		if b.hash == h {
			return true
		}
	}
	return false
}

// agree waits until every host's log and the test's node report the same
// tip, and returns it.
func agree(ctx context.Context, hosts []*proc, own *blockchain.Node, timeout time.Duration) (storedBlock, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		tip := own.Tip()
		want := storedBlock{tip.Height, tip.Hash}
		var tips []string
		same := true
		for _, h := range hosts {
			lines, _ := h.snapshot()
			t, _ := tipOf(lines)
			same = same && t == want
			tips = append(tips, fmt.Sprintf("%d %s", t.height, t.hash.Short(8)))
		}
		if same {
			return want, nil
		}
		select {
		case <-ctx.Done():
			return storedBlock{}, fmt.Errorf("the hosts do not agree with the test's node (%d %s): %s: %w",
				want.height, want.hash.Short(8), strings.Join(tips, ", "), ctx.Err())
		case <-tick.C:
		}
	}
}

// startOwnNode runs a node in the test process, on a memory store,
// listening on listen and dialing seed. The test's cleanup stops it.
func startOwnNode(ctx context.Context, t *testing.T, params blockchain.Params, listen, seed string) *blockchain.Node {
	t.Helper()
	chain, err := blockchain.NewChain(params, blockchain.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	tcp, err := blockchain.NewTCPNetwork(blockchain.TCPConfig{Listen: listen, Peers: []string{seed}, Logger: log})
	if err != nil {
		t.Fatalf("the test's node: %v", err)
	}
	node, err := blockchain.NewNode(blockchain.NodeConfig{ID: blockchain.PeerID(tcp.Addr()), Chain: chain, Network: tcp, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the test's node: %v", err)
		}
		tcp.Close()
		if t.Failed() {
			logMu.Lock()
			t.Logf("the test's node's log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	return node
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// testNet is the bridge, namespaces and veth pairs of one run, named with
// a random tag so that runs never collide, and removed by the test's
// cleanup.
type testNet struct {
	t      *testing.T
	ipTool string
	tag    string
	subnet string // "198.18.N", a /24 no interface here uses
	dir    string
}

func newTestNet(ctx context.Context, t *testing.T, ipTool string) *testNet {
	t.Helper()
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	n := &testNet{t: t, ipTool: ipTool, tag: hex.EncodeToString(b[:2]), dir: t.TempDir()}
	used, err := exec.CommandContext(ctx, ipTool, "-4", "addr", "show").Output()
	if err != nil {
		t.Fatalf("ip -4 addr show: %v", err)
	}
	for i := range 256 {
		third := (int(b[2]) + i) % 254
		cand := fmt.Sprintf("198.18.%d", third+1)
		if !bytes.Contains(used, []byte(cand+".")) {
			n.subnet = cand
			break
		}
	}
	if n.subnet == "" {
		t.Fatal("every /24 of 198.18.0.0/16 is in use here")
	}
	br := n.bridge()
	n.ip(ctx, "link", "add", br, "type", "bridge")
	t.Cleanup(func() { n.ipCleanup("link", "del", br) })
	n.ip(ctx, "addr", "add", n.bridgeAddr()+"/24", "dev", br)
	n.ip(ctx, "link", "set", br, "up")
	for i := range hostCount {
		ns, veth, peer := n.ns(i), n.veth(i), "nk"+n.tag+"p"+fmt.Sprint(i+1)
		n.ip(ctx, "netns", "add", ns)
		t.Cleanup(func() { n.ipCleanup("netns", "del", ns) })
		n.ip(ctx, "link", "add", veth, "type", "veth", "peer", "name", peer)
		t.Cleanup(func() { n.ipCleanup("link", "del", veth) })
		n.ip(ctx, "link", "set", peer, "netns", ns)
		n.ip(ctx, "-n", ns, "link", "set", peer, "name", "eth0")
		n.ip(ctx, "-n", ns, "addr", "add", n.hostAddr(i)+"/24", "dev", "eth0")
		n.ip(ctx, "-n", ns, "link", "set", "eth0", "up")
		n.ip(ctx, "-n", ns, "link", "set", "lo", "up")
		n.ip(ctx, "link", "set", veth, "master", br)
		n.ip(ctx, "link", "set", veth, "up")
	}
	t.Logf("hosts %s.2 to %s.%d in namespaces nk%sh1 to nk%sh%d, on bridge %s (%s)",
		n.subnet, n.subnet, hostCount+1, n.tag, n.tag, hostCount, br, n.bridgeAddr())
	return n
}

func (n *testNet) bridge() string        { return "nk" + n.tag + "br" }
func (n *testNet) bridgeAddr() string    { return n.subnet + ".1" }
func (n *testNet) ns(i int) string       { return fmt.Sprintf("nk%sh%d", n.tag, i+1) }
func (n *testNet) veth(i int) string     { return fmt.Sprintf("nk%sv%d", n.tag, i+1) }
func (n *testNet) hostAddr(i int) string { return fmt.Sprintf("%s.%d", n.subnet, i+2) }

// ip runs the ip command and fails the test if it fails.
func (n *testNet) ip(ctx context.Context, args ...string) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.ipTool, args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// ipCleanup runs the ip command to remove something; what is gone
// already (a veth goes with its namespace) is no error.
func (n *testNet) ipCleanup(args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.ipTool, args...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && (bytes.Contains(out, []byte("Cannot find device")) || bytes.Contains(out, []byte("No such file")))) {
		n.t.Errorf("cleanup: ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}
