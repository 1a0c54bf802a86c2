package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one of nakachain's commands, or a group of them ("wallet").
// Adding a command is adding an entry to the table commands returns.
type command struct {
	name    string // the word that selects it
	summary string // one line, for the list of commands
	// run runs the command with the arguments after its name; path is
	// its full name ("nakachain wallet new"), for messages. A group has
	// no run function, only subcommands.
	run  func(ctx context.Context, e *env, path string, args []string) error
	subs []command
}

// commands returns nakachain's command table.
func commands() []command {
	return []command{
		{name: "node", summary: "run a node: the chain, peers, mining, the web wallet (-web)", run: runNodeCommand},
		{name: "wallet", summary: "create and show wallets (encrypted key files), unlock and lock them", subs: []command{
			{name: "new", summary: "create a wallet: an encrypted key file and its address", run: runWalletNew},
			{name: "address", summary: "print a wallet's address", run: runWalletAddress},
			{name: "unlock", summary: "unlock a wallet of the node for a while, so it can pay (API)", run: runWalletUnlock},
			{name: "lock", summary: "lock a wallet of the node (API)", run: runWalletLock},
		}},
		// The client commands: they use the API of a node run with -web.
		{name: "status", summary: "show the node's tip, sync, peers, mempool and miner (API)", run: runStatus},
		{name: "balance", summary: "show the balance of an address or a name (API)", run: runBalance},
		{name: "send", summary: "pay from an unlocked wallet of the node (API)", run: runSend},
		{name: "tx", summary: "show a transaction and its confirmations (API)", run: runTx},
		{name: "block", summary: "show a block by hash or height (API)", run: runBlock},
		{name: "mine", summary: "switch the node's miner on or off (API)", run: runMine},
	}
}

// dispatch finds the command args name among cmds and runs it. path is
// the name of the group cmds belong to.
func dispatch(ctx context.Context, e *env, cmds []command, path string, args []string) error {
	if len(args) == 0 {
		printCommands(e.stderr, path, cmds)
		return usageErrorf("%s: no command given (see %s help)", path, path)
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		printCommands(e.stdout, path, cmds)
		return nil
	case "help":
		return help(e, cmds, path, rest)
	}
	c, ok := find(cmds, name)
	if !ok {
		return usageErrorf("%s: unknown command %q (see %s help)", path, name, path)
	}
	if c.run == nil {
		return dispatch(ctx, e, c.subs, path+" "+c.name, rest)
	}
	path += " " + c.name
	err := c.run(ctx, e, path, rest)
	var uerr *usageError
	if err == nil || errors.Is(err, flag.ErrHelp) || errors.As(err, &uerr) {
		return err
	}
	return &commandError{path: path, err: err}
}

// commandError is a command's failure, which run prints in one line
// after the command's name: "nakachain send: refused: …".
type commandError struct {
	path string
	err  error
}

func (e *commandError) Error() string { return e.path + ": " + e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// help prints the help of the command that args name, or the list of
// commands.
func help(e *env, cmds []command, path string, args []string) error {
	for len(args) > 0 {
		c, ok := find(cmds, args[0])
		if !ok {
			return usageErrorf("%s help: unknown command %q", path, args[0])
		}
		path += " " + c.name
		if c.run != nil {
			// A command's own -help prints its flags.
			return c.run(context.Background(), e, path, []string{"-help"})
		}
		cmds, args = c.subs, args[1:]
	}
	printCommands(e.stdout, path, cmds)
	return nil
}

func find(cmds []command, name string) (command, bool) {
	for _, c := range cmds {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// printCommands lists cmds and their subcommands.
func printCommands(w io.Writer, path string, cmds []command) {
	fmt.Fprintf(w, "Usage: %s COMMAND [flags]\n\nCommands:\n", path)
	var lines [][2]string
	var walk func(prefix string, cmds []command)
	walk = func(prefix string, cmds []command) {
		for _, c := range cmds {
			if c.run != nil {
				lines = append(lines, [2]string{prefix + c.name, c.summary})
			}
			walk(prefix+c.name+" ", c.subs)
		}
	}
	walk("", cmds)
	width := 0
	for _, l := range lines {
		width = max(width, len(l[0]))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
	}
	fmt.Fprintf(w, "\nRun '%s help COMMAND' (or '%s COMMAND -help') for a command's flags and their defaults.\n",
		path, strings.TrimSpace(path))
}
