// Command nakachain is the operator's program: it runs a node of the
// nakachain network, keeps its wallets, and talks to a running node through
// its web API.
//
// # Commands
//
//	nakachain node [flags]                    run a node: keep the chain, talk to peers, mine;
//	                                          with -web ADDR, serve the web wallet and its API
//	nakachain wallet new -name NAME           create an encrypted key file
//	nakachain wallet address -name NAME       print a wallet's address
//	nakachain wallet unlock -name NAME        unlock a wallet of the node for a while (-for)
//	nakachain wallet lock -name NAME          lock a wallet of the node
//	nakachain status                          the node's tip, sync, peers, mempool and miner
//	nakachain balance ADDR|NAME               an address's balance, confirmed and pending
//	nakachain send -to NAME|ADDR -amount COINS [-fee COINS] [-from WALLET]
//	                                          pay from an unlocked wallet of the node
//	nakachain tx ID                           a transaction and its confirmations
//	nakachain block HASH|HEIGHT               a block
//	nakachain mine on|off [-to NAME|ADDR]     switch the node's miner
//	nakachain help [COMMAND]                  explain a command and every flag, with its default
//
// Every command explains its flags with -help (or --help). A bad flag or
// argument gets one line on standard error and exit status 2; a command
// that fails prints one line, after its name ("nakachain send: …"), and
// exits with status 1; a node stopped by SIGINT, SIGTERM or its -for
// duration exits with status 0.
//
// # The data directory
//
// A node keeps everything in one directory, -datadir (default
// ./nakachain-data, relative to the working directory):
//
//	DATADIR/chain.json            which chain the directory holds: its ID and consensus params
//	DATADIR/blocks/               the block store (blockchain.FileStore), locked while a node runs
//	DATADIR/wallets/NAME.key      a wallet's encrypted key file (mode 0600)
//	DATADIR/wallets/NAME.addr     the wallet's address, in clear
//	DATADIR/api-token             the web API's token (mode 0600), made by the first node -web
//	DATADIR/web-url               the web API's address, while a node -web runs
//	DATADIR/addressbook.json      the web wallet's names for addresses
//	DATADIR/pending.json          the web wallet's payments not yet six blocks deep
//
// The first node run in a directory records its chain (-network main,
// -network test, or -params FILE) in chain.json; later runs use that chain
// when none is named, and refuse to start when another is.
//
// # Wallets
//
// A key file holds a wallet's secret seed encrypted under a passphrase
// (argon2id and XChaCha20-Poly1305, see blockchain.Wallet.EncryptKey). An
// address is derived from the key, so reading it from the key file would
// need the passphrase: "wallet new" therefore writes the address in clear
// beside the key, in NAME.addr, and "wallet address" prints it without
// asking for anything. The address is not a secret. Anyone who can write
// to the directory can change that file, so "wallet address -verify", and
// a node given -miner-key, decrypt the key and check that it matches.
//
// These are the files of the web package's wallet directory: a node run
// with -web serves the wallets "wallet new" made (also those made while it
// runs), and "wallet address" reads those made in the page. A wallet's
// name is 1 to 32 letters, digits, '-' or '_', starting with a letter or
// digit, as the web wallet has it.
//
// Passphrases are read without echo from the terminal, or, for scripts,
// from the first line of a file (-passphrase-file) or from an environment
// variable (-passphrase-env NAME).
//
// # The web wallet and the client commands
//
// "node -web 127.0.0.1:8080" serves the node's page and JSON API (package
// web) beside it, and logs the page's address with the API token in its
// fragment (#token=…) once; on a terminal it also prints it plainly. The
// API's address goes to DATADIR/web-url while the node runs. With -web the
// chain indexes addresses for their histories, which costs about 16 bytes
// of memory per transaction per address it involves.
//
// The client commands (status, balance, send, tx, block, mine, wallet
// unlock and lock) are that API's HTTP clients. They find the API through
// -datadir (DATADIR/web-url, and DATADIR/api-token for the token), or at
// -api URL with -token or -token-file. Reads need no token; paying,
// unlocking, locking and mining do, sent as "Authorization: Bearer TOKEN".
// They print text, amounts in coins, or with -json the API's answer as it
// came. A refusal of the API prints its code and message in one line, such
// as "nakachain send: refused: ErrInsufficientFunds: … (HTTP 422)", and
// exits with status 1.
//
// # Logs
//
// A node logs with log/slog to standard error, as text (key=value) or as
// one JSON object a line (-log-format json). After every block it stores
// it logs "block stored" with the block's height and hash: the line is
// written only after the chain returned, which is after the store's fsync,
// so a block that was reported stored survives a crash. On a terminal, with
// text logs, the node also shows one status line, redrawn in place (height,
// tip, peers, mempool, hash rate, sync progress), and logs stored blocks at
// debug level only; elsewhere it logs one line an event.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{
		stdin:   os.Stdin,
		stdout:  os.Stdout,
		stderr:  os.Stderr,
		getenv:  os.Getenv,
		stdinFd: -1,
		// After the first signal, a second one ends the program at once.
		stopSignals: stop,
	}
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		e.stdinFd = fd
	}
	if fd := int(os.Stderr.Fd()); term.IsTerminal(fd) {
		e.stderrFd = fd
		e.stderrTerminal = true
	}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// env is what a command may use of the process: its standard streams,
// environment and terminal. Tests run commands with their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// stdinFd is standard input's file descriptor when it is a terminal
	// (passphrases are read from it without echo), and -1 otherwise.
	stdinFd int
	// stderrTerminal reports whether standard error is a terminal, whose
	// descriptor is stderrFd: a node then shows a status line.
	stderrTerminal bool
	stderrFd       int
	// stopSignals, if set, restores the default handling of SIGINT and
	// SIGTERM: a node calls it once it has begun to stop.
	stopSignals func()
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// run runs the command that args name and returns the exit status. Errors
// are printed on e.stderr in one line.
func run(ctx context.Context, e *env, args []string) int {
	err := dispatch(ctx, e, commands(), "nakachain", args)
	var uerr *usageError
	var cerr *commandError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintln(e.stderr, uerr.Error())
		return exitUsage
	case errors.As(err, &cerr):
		fmt.Fprintln(e.stderr, cerr.Error())
		return exitFailure
	default:
		fmt.Fprintf(e.stderr, "nakachain: %v\n", err)
		return exitFailure
	}
}
