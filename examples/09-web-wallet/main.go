// Command 09-web-wallet runs three nodes in one process, alice's, bob's and
// carol's, each with its web page: a dashboard, the node's wallet, an
// explorer that checks Merkle proofs in the browser, and charts. Open two
// of the pages side by side, pay bob from alice's page by his name, and
// watch the payment appear as pending on both pages and then confirm,
// live.
//
// Each person's wallet is funded in the genesis block and kept on their own
// node, in an encrypted key file whose passphrase is the person's name
// (these example wallets come from published seeds: never for coins of
// value). Every node's address book names all three, so a payment can go
// "to bob". Alice's node mines from the start; switch mining on or off on
// any page.
//
// The nodes talk over TCP on loopback (blockchain.TCPNetwork), each on its
// own port, as three separate programs would: the pages show real peers,
// and a node stopped and started again (with -dir) reconnects.
//
// Run it from the repository root and open the printed addresses (they
// carry each page's API token after the #, which stays in the browser):
//
//	go run ./examples/09-web-wallet
//	go run ./examples/09-web-wallet -ports 9001,9002,9003 -dir /tmp/nakachain-09
//	go run ./examples/09-web-wallet -for 30s
//
// The pages listen on 127.0.0.1 only. The program runs until interrupted,
// or for the -for duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
	"github.com/nakachain/blockchain/web"
)

func main() { demo.Main("09-web-wallet", run) }

// The three people, one node each.
var people = []string{"alice", "bob", "carol"}

// opening is what each person starts with, in base units.
const opening = 1_000 * blockchain.Coin

// config is the command line.
type config struct {
	host      string
	ports     []int
	dir       string
	runFor    time.Duration
	bits      int
	blockTime time.Duration
	miner     string
}

func parseFlags(w io.Writer, args []string) (*config, error) {
	fs := flag.NewFlagSet("09-web-wallet", flag.ContinueOnError)
	fs.SetOutput(w)
	host := fs.String("host", "127.0.0.1", "address the pages listen on (the API is plain HTTP: keep it on loopback)")
	ports := fs.String("ports", "8081,8082,8083", "the three pages' ports, alice's, bob's and carol's (0: any free port)")
	dir := fs.String("dir", "", "data directory, kept across runs (default: a temporary one, removed at the end)")
	runFor := fs.Duration("for", 0, "stop after this long (default: run until interrupted)")
	bits := fs.Int("bits", 16, "proof-of-work difficulty in leading zero bits (8 to 24)")
	blockTime := fs.Duration("block-time", 5*time.Second, "target time between blocks (each miner paces itself to it)")
	miner := fs.String("mine", "alice", "whose node mines from the start (alice, bob, carol, or none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	cfg := &config{host: *host, dir: *dir, runFor: *runFor, bits: *bits, blockTime: *blockTime, miner: *miner}
	for _, p := range strings.Split(*ports, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("-ports: %q is not a port", p)
		}
		cfg.ports = append(cfg.ports, n)
	}
	switch {
	case len(cfg.ports) != len(people):
		return nil, fmt.Errorf("-ports needs %d ports, got %d", len(people), len(cfg.ports))
	case cfg.bits < 8 || cfg.bits > 24:
		return nil, fmt.Errorf("-bits must be between 8 and 24, not %d", cfg.bits)
	case cfg.blockTime < 100*time.Millisecond:
		return nil, fmt.Errorf("-block-time must be at least 100ms, not %v", cfg.blockTime)
	case cfg.runFor < 0:
		return nil, fmt.Errorf("-for must not be negative")
	case cfg.miner != "none" && !contains(people, cfg.miner):
		return nil, fmt.Errorf("-mine must be alice, bob, carol or none, not %q", cfg.miner)
	}
	return cfg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// peer is one person's node, its network endpoint and its web server.
type peer struct {
	name  string
	store *blockchain.FileStore
	net   *blockchain.TCPNetwork
	node  *blockchain.Node
	srv   *web.Server
}

// run starts the three nodes and their pages, prints the pages' addresses,
// and runs until ctx ends or the -for time is up.
func run(ctx context.Context, w io.Writer, args []string) error {
	cfg, err := parseFlags(w, args)
	if cfg == nil {
		return err
	}
	if cfg.runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.runFor)
		defer cancel()
	}
	dir := cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "nakachain-09-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}

	// The chain: the test parameters at our difficulty and block time,
	// with the three people's coins in the genesis block.
	book := demo.NewBook(people...)
	params := blockchain.TestParams()
	params.Name = "web-wallet"
	params.InitialTarget = blockchain.TargetFromBits(cfg.bits)
	params.TargetBlockTime = cfg.blockTime
	params.Allocations = book.Allocations(opening)

	peers := make([]*peer, len(people))
	defer func() {
		for _, p := range peers {
			if p != nil {
				p.close()
			}
		}
	}()
	var dial []string
	for i, name := range people {
		addr := net.JoinHostPort(cfg.host, strconv.Itoa(cfg.ports[i]))
		p, err := newPeer(name, filepath.Join(dir, name), addr, params, book, dial, cfg.miner == name)
		if err != nil {
			return fmt.Errorf("%s's node: %w", name, err)
		}
		peers[i] = p
		dial = append(dial, p.net.Addr())
	}

	fmt.Fprintln(w, "Stage 9: a web wallet on three nodes")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Three nodes talk over TCP on loopback. Each keeps its person's wallet (%s coins in the genesis block),\n",
		blockchain.FormatCoins(opening))
	fmt.Fprintln(w, "encrypted under the person's name as passphrase, and an address book naming all three.")
	if cfg.miner != "none" {
		fmt.Fprintf(w, "%s's node mines a block about every %v; switch mining on any page.\n", cfg.miner, cfg.blockTime)
	}
	fmt.Fprintln(w)

	var wg sync.WaitGroup
	errs := make(chan error, 2*len(peers))
	for _, p := range peers {
		ln, err := p.srv.Listen()
		if err != nil {
			return fmt.Errorf("%s's page: %w", p.name, err)
		}
		fmt.Fprintf(w, "%-6s %s  (wallet %q, passphrase %q)\n", p.name+":", p.srv.URL(), p.name, p.name)
		wg.Go(func() { errs <- p.srv.Serve(ctx, ln) })
		wg.Go(func() { errs <- p.node.Run(ctx) })
	}
	fmt.Fprintln(w)
	if cfg.runFor > 0 {
		fmt.Fprintf(w, "Running for %v.\n", cfg.runFor)
	} else {
		fmt.Fprintln(w, "Running until interrupted (Ctrl-C).")
	}
	<-ctx.Done()
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	fmt.Fprintln(w, "Stopped.")
	return errors.Join(all...)
}

// newPeer makes name's node in dir: its block store, its TCP endpoint
// dialing the nodes made before it, its chain and node, and its web server
// with its wallet and the address book.
func newPeer(name, dir, addr string, params blockchain.Params, book *demo.Book, dial []string, mining bool) (*peer, error) {
	p := &peer{name: name}
	var err error
	if p.store, err = blockchain.OpenFileStore(filepath.Join(dir, "blocks"), blockchain.FileStoreOptions{}); err != nil {
		return nil, err
	}
	chain, err := blockchain.NewChain(params, blockchain.ChainOptions{Store: p.store, IndexAddresses: true})
	if err != nil {
		p.close()
		return nil, err
	}
	p.net, err = blockchain.NewTCPNetwork(blockchain.TCPConfig{Listen: "127.0.0.1:0", Peers: dial})
	if err != nil {
		p.close()
		return nil, err
	}
	p.node, err = blockchain.NewNode(blockchain.NodeConfig{
		ID: blockchain.PeerID(name), Chain: chain, Network: p.net,
		Miner: book.Address(name), Mining: mining, MiningWorkers: 1,
		SyncInterval: time.Second,
	})
	if err != nil {
		p.close()
		return nil, err
	}
	p.srv, err = web.New(web.Config{Node: p.node, DataDir: dir, Addr: addr, Miner: book.Address(name)})
	if err != nil {
		p.close()
		return nil, err
	}
	// The person's wallet, once: a later run with -dir finds it there.
	if _, err := os.Stat(filepath.Join(dir, "wallets", name+".key")); errors.Is(err, os.ErrNotExist) {
		if err := p.srv.AddWallet(name, book.Wallet(name), []byte(name)); err != nil {
			p.close()
			return nil, err
		}
	}
	for _, n := range book.Names() {
		if err := p.srv.AddName(n, book.Address(n)); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

func (p *peer) close() {
	if p.srv != nil {
		p.srv.Close()
	}
	if p.net != nil {
		p.net.Close()
	}
	if p.store != nil {
		p.store.Close()
	}
}
