package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
)

const nodeAbout = `
Runs a node: it keeps the chain in DATADIR/blocks, connects to peers over
TCP, learns more peers' addresses from them and connects to those too,
passes transactions and blocks on, follows the valid chain with the most
work, and, with -mine, mines on its tip.

Peers: -peer addresses are dialed at start and redialed whenever their
connection ends. -seed names one node to learn the others from; over TCP a
seed is simply a first peer, kept like a -peer, and the node then dials
addresses it learns until it has -outbound peers it dialed. A node with
neither waits for peers to dial it.

The node listens on loopback (127.0.0.1:8333) unless you name another
address: to be reachable from other hosts, listen on one of this host's
addresses (or 0.0.0.0:8333 with -advertise HOST:PORT).

It logs to standard error (see -log-format): "chain opened" with the tip it
starts from, "listening", one "block stored" line with the height and hash
of every block it stores (written after the store's fsync), "reorganization"
when the tip moves to another branch, "peer connected" and "peer
disconnected" with the number of peers, and "shutdown complete" with the
tip once everything is stored and closed. On a terminal it shows a status
line instead of the "block stored" lines (which stay at debug level).
SIGINT or SIGTERM stops it cleanly; a second one ends it at once.

With -web ADDR the node also serves its web wallet: a page (dashboard,
wallet, explorer, charts) and the JSON API that the client commands
(status, balance, send, tx, block, mine, wallet unlock and lock) use. Its
files are in the data directory: the API token in DATADIR/api-token (made
at the first start, mode 0600), the wallets in DATADIR/wallets, and, while
the node runs, the API's address in DATADIR/web-url, where the client
commands find it. The node logs "web server" once, with the page's address
and the token in its fragment (#token=…, which a browser keeps to itself),
and on a terminal also prints that address plainly. Anyone with the token
can spend from the node's unlocked wallets: keep the log private. The
server speaks plain HTTP: keep it on loopback (it warns otherwise), or
reach it through an SSH tunnel. With -web the chain also indexes addresses,
for their histories: about 16 bytes of memory per transaction per address
it involves, rebuilt at every start.`

// nodeFlags are the node command's flags.
type nodeFlags struct {
	datadir          string
	net              networkFlags
	listen           string
	advertise        string
	peers            []string
	seed             string
	maxInbound       int
	outbound         int
	mine             bool
	miner            addressFlag
	minerKey         string
	pass             passphraseFlags
	workers          int
	hashRate         float64
	minBlockInterval time.Duration
	log              logFlags
	runFor           time.Duration
	web              string
	webHosts         []string
}

func (f *nodeFlags) register(fl *flagSet) {
	fl.StringVar(&f.datadir, "datadir", defaultDataDir,
		"the data `DIR`: the chain in DIR/blocks, the chain's identity in DIR/chain.json, key files in DIR/wallets")
	f.net.register(fl)
	f.listen = "127.0.0.1:8333"
	fl.Var(hostPortFlag{&f.listen, checkListen}, "listen",
		"accept peers on `ADDR` (host:port; port 0 picks a free one, which the \"listening\" log line gives); "+
			"empty: accept none")
	fl.Var(hostPortFlag{&f.advertise, checkHostPort}, "advertise",
		"the `ADDR` other nodes should dial to reach this one, told to every peer; "+
			"none means the address -listen is bound to, unless its host is unspecified (0.0.0.0)")
	fl.Var(listFlag{&f.peers, checkHostPort}, "peer",
		"keep connected to the node at `ADDR` (host:port); repeat the flag or give a comma-separated list")
	fl.Var(hostPortFlag{&f.seed, checkHostPort}, "seed",
		"learn other nodes' addresses from the node at `ADDR` (host:port); over TCP it is a first peer, kept like -peer")
	fl.IntVar(&f.maxInbound, "max-inbound", 32, "accept at most `N` peers that dial this node")
	fl.IntVar(&f.outbound, "outbound", 8, "dial learnt addresses until `N` of the node's peers are ones it dialed")
	fl.BoolVar(&f.mine, "mine", false, "mine blocks on the tip (needs -miner or -miner-key)")
	fl.Var(&f.miner, "miner", "the `ADDRESS` (nk1…) the mined blocks pay")
	fl.StringVar(&f.minerKey, "miner-key", "",
		"pay the mined blocks to the wallet `NAME|FILE`: a wallet's name (its key file DATADIR/wallets/NAME.key) "+
			"or a key file's path (with a / or ending in .key); its passphrase is read (see -passphrase-file), "+
			"and the key must match its address file")
	f.pass.register(fl)
	fl.IntVar(&f.workers, "workers", 0, "mine with `N` goroutines; 0 means one per core")
	fl.Float64Var(&f.hashRate, "hashrate", 0, "limit the miner to about `H` hashes a second; 0 means no limit")
	fl.DurationVar(&f.minBlockInterval, "min-block-interval", 0,
		"after the tip changes, wait between half and one and a half of `DURATION` before mining on it; "+
			"0 means the chain's block time when its difficulty is fixed (the test network) and no wait when it adjusts (main); "+
			"negative means no wait")
	f.log.register(fl)
	fl.DurationVar(&f.runFor, "for", 0, "stop cleanly after `DURATION`, as on SIGTERM; 0 means run until a signal")
	fl.Var(hostPortFlag{&f.web, checkListen}, "web",
		"serve the web wallet and its HTTP API on `ADDR` (host:port, such as 127.0.0.1:8080; port 0 picks a free one); "+
			"empty: no web server; with one, the chain also indexes addresses (see above)")
	fl.Var(listFlag{&f.webHosts, checkHostName}, "web-host",
		"also answer web requests whose Host header is `NAME` (a name this machine is reached by), besides the "+
			"-web host, localhost, 127.0.0.1 and [::1]; repeat the flag or give a comma-separated list")
}

func (f *nodeFlags) check(fl *flagSet) error {
	switch {
	case f.datadir == "":
		return fl.usageErrorf("-datadir must not be empty")
	case f.mine && !f.miner.set && f.minerKey == "":
		return fl.usageErrorf("-mine needs -miner ADDRESS or -miner-key NAME: the address the blocks pay")
	case f.miner.set && f.minerKey != "":
		return fl.usageErrorf("give -miner or -miner-key, not both")
	case f.maxInbound < 0 || f.outbound < 1:
		return fl.usageErrorf("-max-inbound must be 0 or more and -outbound 1 or more")
	case f.workers < 0:
		return fl.usageErrorf("-workers must be 0 or more, not %d", f.workers)
	case !(f.hashRate >= 0) || f.hashRate > 1e15:
		return fl.usageErrorf("-hashrate must be from 0 to 1e15, not %v", f.hashRate)
	case f.runFor < 0:
		return fl.usageErrorf("-for must not be negative")
	case len(f.webHosts) > 0 && f.web == "":
		return fl.usageErrorf("-web-host needs -web ADDR")
	}
	if f.minerKey != "" && !isKeyPath(f.minerKey) {
		if err := checkWalletName(f.minerKey); err != nil {
			return fl.usageErrorf("-miner-key: %v", err)
		}
	}
	for _, check := range []func(*flagSet) error{f.net.check, f.pass.check, f.log.check} {
		if err := check(fl); err != nil {
			return err
		}
	}
	return nil
}

// isKeyPath reports whether a -miner-key value is a file rather than a
// wallet name: it holds a path separator or ends in .key.
func isKeyPath(s string) bool {
	return strings.ContainsRune(s, '/') || strings.ContainsRune(s, filepath.Separator) || strings.HasSuffix(s, keySuffix)
}

// runNodeCommand is "nakachain node".
func runNodeCommand(ctx context.Context, e *env, path string, args []string) error {
	fl := newFlagSet(e, path, "[flags]", nodeAbout)
	var f nodeFlags
	f.register(fl)
	if err := fl.parse(args); err != nil {
		return err
	}
	if err := f.check(fl); err != nil {
		return err
	}
	return runNode(ctx, e, fl, &f)
}

// runNode runs the node until ctx is done or f.runFor has passed, then
// stops it and closes the store.
func runNode(ctx context.Context, e *env, fl *flagSet, f *nodeFlags) (err error) {
	var status *statusLine
	var logOut io.Writer = e.stderr
	if e.stderrTerminal && f.log.format == "text" {
		status = newStatusLine(e.stderr, terminalWidth(e.stderrFd))
		logOut = status
	}
	log := f.log.logger(logOut)

	params, record, err := chooseChain(f.datadir, &f.net)
	if err != nil {
		return err
	}
	miner := f.miner.addr
	if f.minerKey != "" {
		if miner, err = minerKeyAddress(e, fl, f); err != nil {
			return err
		}
	}

	store, err := blockchain.OpenFileStore(blocksDir(f.datadir), blockchain.FileStoreOptions{Logger: log})
	if errors.Is(err, blockchain.ErrStoreLocked) {
		return fmt.Errorf("data directory %s is in use: is another node running on it? (%w)", f.datadir, err)
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the block store: %w", cerr)
		}
	}()
	if record {
		if err := writeChainRecord(f.datadir, params); err != nil {
			return err
		}
	}
	// The web's address histories need the address index, which costs
	// memory (about 16 bytes per transaction per address): only with -web.
	chain, err := blockchain.NewChain(params, blockchain.ChainOptions{Store: store, Logger: log, IndexAddresses: f.web != ""})
	if err != nil {
		return fmt.Errorf("opening the chain in %s: %w", f.datadir, err)
	}
	tip := chain.Tip()
	log.Info("chain opened", "network", params.Name, "chain_id", chain.ChainID().Short(16),
		"height", tip.Height, "hash", tip.Hash, "stored_blocks", store.Len(), "datadir", f.datadir)

	peers := f.peers
	if f.seed != "" {
		peers = append(peers, f.seed)
	}
	tcp, err := blockchain.NewTCPNetwork(blockchain.TCPConfig{
		Listen:      f.listen,
		Advertise:   f.advertise,
		Peers:       peers,
		MaxInbound:  f.maxInbound,
		MaxOutbound: f.outbound + len(peers),
		Logger:      log,
	})
	if err != nil {
		return err
	}
	defer tcp.Close()
	id := blockchain.PeerID("nakachain")
	if addr := tcp.Addr(); addr != "" {
		id = blockchain.PeerID(addr)
		advertise := f.advertise
		if advertise == "" && !strings.HasPrefix(addr, "0.0.0.0:") && !strings.HasPrefix(addr, "[::]:") {
			advertise = addr
		}
		log.Info("listening", "addr", addr, "advertise", advertise)
	}

	node, err := blockchain.NewNode(blockchain.NodeConfig{
		ID:               id,
		Chain:            chain,
		Network:          tcp,
		Miner:            miner,
		Mining:           f.mine,
		MiningWorkers:    f.workers,
		HashRate:         f.hashRate,
		MinBlockInterval: f.minBlockInterval,
		TargetOutbound:   f.outbound,
		Logger:           log,
	})
	if err != nil {
		return err
	}
	if f.mine {
		log.Info("mining", "miner", miner, "workers", f.workers, "hashrate_limit", f.hashRate)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if f.runFor > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.runFor)
		defer cancel()
	}
	// Once the node begins to stop, a second signal ends the program.
	context.AfterFunc(ctx, func() {
		if e.stopSignals != nil {
			e.stopSignals()
		}
	})

	events, unsubscribe := node.Subscribe()
	w := newWatcher(node, log, status, tip)
	var wg sync.WaitGroup
	wg.Go(func() { w.watch(events) })
	if status != nil {
		wg.Go(func() { w.redraw(ctx) })
	}
	// The services run beside the node; one that fails stops it.
	var console io.Writer // plain messages for a person at a terminal
	if e.stderrTerminal {
		console = logOut
	}
	services := f.services(console)
	svcErrs := make(chan error, len(services))
	for _, svc := range services {
		wg.Go(func() {
			if err := svc.run(ctx, node, log.With("service", svc.name)); err != nil && ctx.Err() == nil {
				svcErrs <- fmt.Errorf("%s: %w", svc.name, err)
				cancel()
			}
		})
	}
	runErr := node.Run(ctx)
	cancel()
	unsubscribe() // ends w.watch
	wg.Wait()
	close(svcErrs)
	if err := <-svcErrs; err != nil && runErr == nil {
		runErr = err
	}
	w.tipChanged(nil) // anything the last events did not report
	if status != nil {
		status.clear()
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	if err := tcp.Close(); err != nil {
		log.Warn("closing the network", "err", err)
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("closing the block store: %w", err)
	}
	tip = chain.Tip()
	log.Info("shutdown complete", "height", tip.Height, "hash", tip.Hash)
	return nil
}

// service is something that runs beside the node, such as a web wallet:
// run serves until ctx is done, and an error it returns before stops the
// node.
type service struct {
	name string
	run  func(ctx context.Context, n *blockchain.Node, log *slog.Logger) error
}

// services returns the services the flags ask for: the web server with
// -web. console, if not nil, is the terminal, for what a person should
// read plainly.
func (f *nodeFlags) services(console io.Writer) []service {
	var out []service
	if f.web != "" {
		out = append(out, service{name: "web server", run: func(ctx context.Context, n *blockchain.Node, log *slog.Logger) error {
			return runWebServer(ctx, n, log, console, webOptions{datadir: f.datadir, addr: f.web, hosts: f.webHosts})
		}})
	}
	return out
}

// minerKeyAddress opens the -miner-key key file and returns its address,
// checking it against the wallet's address file if there is one.
func minerKeyAddress(e *env, fl *flagSet, f *nodeFlags) (blockchain.Address, error) {
	keyFile, dir, name := f.minerKey, "", ""
	if !isKeyPath(keyFile) {
		dir, name = walletsDir(f.datadir), f.minerKey
		keyFile = filepath.Join(dir, name+keySuffix)
	} else {
		dir, name = filepath.Dir(keyFile), strings.TrimSuffix(filepath.Base(keyFile), keySuffix)
	}
	if _, err := os.Stat(keyFile); err != nil {
		return blockchain.Address{}, fmt.Errorf("-miner-key: %w", err)
	}
	w, err := openKeyFile(e, fl, &f.pass, keyFile, "the miner's wallet "+name)
	if err != nil {
		return blockchain.Address{}, err
	}
	addr, err := readAddressFile(dir, name)
	switch {
	case err == nil && addr != w.Address():
		return blockchain.Address{}, fmt.Errorf("%s says %s, but the key in %s is %s's: the address file was changed",
			filepath.Join(dir, name+addressSuffix), addr, keyFile, w.Address())
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return blockchain.Address{}, err
	}
	return w.Address(), nil
}
