// Command 01-ledger shows money as it works before Bitcoin: a trusted third
// party, here a bank, keeps the only ledger, and when it quietly changes an
// entry nothing anyone holds can show it. Run it from the repository root
// with go run ./examples/01-ledger.
//
// Alice pays Bob and the bank writes the transfer down. Then the bank
// changes that entry (the amount, or the recipient) and prints the ledger
// again. The entries carry no signatures and nobody else keeps a copy, so
// the only check anyone can run, an audit of the ledger's own sums, passes.
// That is the problem the next stages solve one step at a time.
//
//	go run ./examples/01-ledger
//	go run ./examples/01-ledger -tamper recipient -amount 45
//
// Wallets come from fixed seeds, so every run prints the same addresses.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

func main() { demo.Main("01-ledger", run) }

// run tells the story, writing to w. args are the command-line flags.
func run(_ context.Context, w io.Writer, args []string) error {
	cfg, err := parseFlags(w, args)
	if cfg == nil {
		return err // a bad flag, or -help
	}
	fmt.Fprintln(w, "Stage 1: a ledger kept by a trusted third party")
	fmt.Fprintln(w)
	people := newBook("alice", "bob", "carol", "bank")
	opening := openAccounts(w, people)
	ledger := recordPayments(w, people, opening, cfg.amount)
	before := slices.Clone(ledger)
	bankEdits(w, people, opening, ledger, cfg)
	audit(w, opening, before, ledger)
	fmt.Fprintln(w, "Open problem: we must trust the bank. It alone says who owns what,")
	fmt.Fprintln(w, "and it can rewrite that at will. Stage 2 lets owners sign their transfers.")
	return nil
}

// config holds the flags.
type config struct {
	amount uint64
	tamper string
}

// parseFlags parses args. It returns a nil config for -help or an error.
func parseFlags(w io.Writer, args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("01-ledger", flag.ContinueOnError)
	fs.Uint64Var(&c.amount, "amount", 30, "base units Alice pays Bob")
	fs.StringVar(&c.tamper, "tamper", "amount", `what the bank alters: "amount" or "recipient"`)
	if ok, err := demo.ParseFlags(fs, w, args); !ok {
		return nil, err
	}
	switch {
	case c.tamper != "amount" && c.tamper != "recipient":
		return nil, demo.Usagef(`-tamper must be "amount" or "recipient", not %q`, c.tamper)
	case c.amount < 2 || c.amount > 100:
		return nil, demo.Usagef("-amount must be between 2 and Alice's 100, not %d", c.amount)
	}
	return &c, nil
}

// openAccounts shows everybody's wallet and the bank's opening balances.
// Here a wallet is only a name tag: its address says where money goes.
// Signatures come in stage 2.
func openAccounts(w io.Writer, people book) map[blockchain.Address]uint64 {
	fmt.Fprintln(w, "Wallets, derived from fixed seeds so every run prints the same addresses:")
	for _, name := range people.Names() {
		fmt.Fprintf(w, "  %-6s %s\n", name, people.Address(name))
	}
	fmt.Fprintln(w)
	opening := map[blockchain.Address]uint64{people.Address("alice"): 100, people.Address("bob"): 20}
	fmt.Fprintln(w, "Opening balances, as the bank's books say:")
	people.printBalances(w, opening, nil)
	fmt.Fprintln(w)
	return opening
}

// recordPayments has the bank write down two transfers. The ledger is a
// plain list of transfers: who, to whom, how much. Nobody signs anything;
// the customers simply ask the bank.
func recordPayments(w io.Writer, people book, opening map[blockchain.Address]uint64, amount uint64) []blockchain.Transaction {
	alice, bob := people.Wallet("alice"), people.Wallet("bob")
	fmt.Fprintf(w, "Alice asks the bank to pay Bob %d. Bob then pays Carol 5.\n", amount)
	ledger := []blockchain.Transaction{
		{From: alice.PublicKey(), To: bob.Address(), Amount: amount, Nonce: 0},
		{From: bob.PublicKey(), To: people.Address("carol"), Amount: 5, Nonce: 0},
	}
	fmt.Fprintln(w, "The bank's ledger:")
	people.printLedger(w, ledger)
	people.printBalances(w, opening, ledger)
	fmt.Fprintln(w)
	return ledger
}

// bankEdits has the bank change entry #0 in place. It needs nobody's
// permission.
func bankEdits(w io.Writer, people book, opening map[blockchain.Address]uint64, ledger []blockchain.Transaction, cfg *config) {
	original := ledger[0]
	switch cfg.tamper {
	case "amount":
		ledger[0].Amount = (cfg.amount + 9) / 10 // a tenth, rounded up
		fmt.Fprintf(w, "Later the bank quietly edits entry #0: the amount %d becomes %d.\n", original.Amount, ledger[0].Amount)
	case "recipient":
		ledger[0].To = people.Address("bank")
		fmt.Fprintln(w, "Later the bank quietly edits entry #0: the money now goes to the bank, not to Bob.")
	}
	fmt.Fprintln(w, "The bank's ledger now:")
	people.printLedger(w, ledger)
	people.printBalances(w, opening, ledger)
	fmt.Fprintln(w)
}

// audit runs the only check a customer can: the ledger against itself.
// Both versions pass.
func audit(w io.Writer, opening map[blockchain.Address]uint64, before, after []blockchain.Transaction) {
	fmt.Fprintln(w, "Can anyone tell that entry #0 was changed?")
	fmt.Fprintln(w, "  The only check a customer can run is an audit of the ledger the bank shows:")
	fmt.Fprintln(w, "  no account overdrawn, no money created or lost.")
	fmt.Fprintf(w, "    audit of the ledger before the edit: %s\n", demo.Outcome(checkLedger(opening, before)))
	fmt.Fprintf(w, "    audit of the ledger after the edit:  %s\n", demo.Outcome(checkLedger(opening, after)))
	fmt.Fprintln(w, "  No entry carries Alice's signature, so none proves what she asked for,")
	fmt.Fprintln(w, "  and nobody but the bank keeps a copy to compare with.")
	fmt.Fprintln(w, "Result: the ledger was altered and nobody can detect this.")
	fmt.Fprintln(w)
}

// book names the example's wallets, so that output shows "alice" rather
// than a public key. Each name's wallet comes from a seed derived from the
// name (see examples/internal/demo), so every run, and every stage, gives
// each person the same keys.
type book struct{ *demo.Book }

func newBook(names ...string) book { return book{demo.NewBook(names...)} }

func (b book) printLedger(w io.Writer, ledger []blockchain.Transaction) {
	fmt.Fprintf(w, "  %-2s %-6s %-6s %6s\n", "#", "from", "to", "amount")
	for i, tx := range ledger {
		fmt.Fprintf(w, "  %-2d %-6s %-6s %6d\n", i, b.NameOfKey(tx.From), b.NameOf(tx.To), tx.Amount)
	}
}

// printBalances prints everyone's balance after applying ledger to opening.
func (b book) printBalances(w io.Writer, opening map[blockchain.Address]uint64, ledger []blockchain.Transaction) {
	bal, _ := balances(opening, ledger)
	fmt.Fprint(w, "  balances:")
	for _, n := range b.Names() {
		fmt.Fprintf(w, " %s %d", n, bal[b.Address(n)])
	}
	fmt.Fprintln(w)
}

// balances applies ledger, in order, to the opening balances.
// It stops at the first transfer that overdraws its sender.
func balances(opening map[blockchain.Address]uint64, ledger []blockchain.Transaction) (map[blockchain.Address]uint64, error) {
	bal := maps.Clone(opening)
	for i, tx := range ledger {
		from := tx.From.Address()
		if bal[from] < tx.Amount {
			return bal, fmt.Errorf("entry #%d overdraws %s", i, from)
		}
		bal[from] -= tx.Amount
		bal[tx.To] += tx.Amount
	}
	return bal, nil
}

// checkLedger is every check an outsider can make of an unsigned ledger:
// applied in order to the opening balances, no transfer overdraws its
// sender, and the total amount of money stays the same.
func checkLedger(opening map[blockchain.Address]uint64, ledger []blockchain.Transaction) error {
	bal, err := balances(opening, ledger)
	if err != nil {
		return err
	}
	var before, after uint64
	for _, v := range opening {
		before += v
	}
	for _, v := range bal {
		after += v
	}
	if after != before {
		return fmt.Errorf("the ledger holds %d, not %d", after, before)
	}
	return nil
}
