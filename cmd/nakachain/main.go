// Command nakachain is the operator's program: it runs a node of the
// nakachain network and keeps its wallets.
//
// # Commands
//
//	nakachain node [flags]                 run a node: keep the chain, talk to peers, mine
//	nakachain wallet new -name NAME        create an encrypted key file
//	nakachain wallet address -name NAME    print a wallet's address
//	nakachain help [COMMAND]               explain a command and every flag, with its default
//
// Every command explains its flags with -help (or --help). A bad flag or
// argument gets one line on standard error and exit status 2; a command
// that fails exits with status 1; a node stopped by SIGINT, SIGTERM or its
// -for duration exits with status 0.
//
// # The data directory
//
// A node keeps everything in one directory, -datadir (default
// ./nakachain-data, relative to the working directory):
//
//	DATADIR/chain.json            which chain the directory holds: its ID and consensus params
//	DATADIR/blocks/               the block store (blockchain.FileStore), locked while a node runs
//	DATADIR/wallets/NAME.key      a wallet's encrypted key file (mode 0600)
//	DATADIR/wallets/NAME.address  the wallet's address, in clear
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
// beside the key, in NAME.address, and "wallet address" prints it without
// asking for anything. The address is not a secret. Anyone who can write
// to the directory can change that file, so "wallet address -verify", and
// a node given -miner-key, decrypt the key and check that it matches.
//
// Passphrases are read without echo from the terminal, or, for scripts,
// from the first line of a file (-passphrase-file) or from an environment
// variable (-passphrase-env NAME).
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
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintln(e.stderr, uerr.Error())
		return exitUsage
	default:
		fmt.Fprintf(e.stderr, "nakachain: %v\n", err)
		return exitFailure
	}
}
