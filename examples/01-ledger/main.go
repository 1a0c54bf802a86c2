// Command 01-ledger shows money as it works before Bitcoin: a trusted third
// party, here a bank, keeps the only ledger of who paid whom.
//
// Alice pays Bob and the bank writes the transfer down. Then the bank
// quietly changes that entry (the amount, or the recipient) and prints the
// ledger again. The entries carry no signatures and nobody else keeps a
// copy, so nothing Alice or Bob holds can show that the entry was altered.
// That is the problem the next stages solve one step at a time.
//
// Run it from the repository root:
//
//	go run ./examples/01-ledger
//	go run ./examples/01-ledger -tamper recipient -amount 45
//
// Wallets come from fixed seeds, so every run prints the same addresses.
package main

import (
	"context"
	"errors"
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
	fs := flag.NewFlagSet("01-ledger", flag.ContinueOnError)
	fs.SetOutput(w)
	amount := fs.Uint64("amount", 30, "base units Alice pays Bob")
	tamper := fs.String("tamper", "amount", `what the bank alters: "amount" or "recipient"`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *tamper != "amount" && *tamper != "recipient" {
		return fmt.Errorf(`-tamper must be "amount" or "recipient", not %q`, *tamper)
	}
	if *amount < 2 || *amount > 100 {
		return fmt.Errorf("-amount must be between 2 and Alice's 100, not %d", *amount)
	}

	fmt.Fprintln(w, "Stage 1: a ledger kept by a trusted third party")
	fmt.Fprintln(w)

	// Everybody gets a wallet. Here a wallet is only a name tag: its address
	// says where money goes. Signatures come in stage 2.
	people := newBook("alice", "bob", "carol", "bank")
	alice, bob, carol, bank := people.Wallet("alice"), people.Wallet("bob"), people.Wallet("carol"), people.Wallet("bank")
	fmt.Fprintln(w, "Wallets, derived from fixed seeds so every run prints the same addresses:")
	for _, name := range people.Names() {
		fmt.Fprintf(w, "  %-6s %s\n", name, people.Wallet(name).Address())
	}
	fmt.Fprintln(w)

	opening := map[blockchain.Address]uint64{alice.Address(): 100, bob.Address(): 20}
	fmt.Fprintln(w, "Opening balances, as the bank's books say:")
	people.printBalances(w, opening, nil)
	fmt.Fprintln(w)

	// The ledger is a plain list of transfers: who, to whom, how much.
	// Nobody signs anything; the customers simply ask the bank.
	fmt.Fprintf(w, "Alice asks the bank to pay Bob %d. Bob then pays Carol 5.\n", *amount)
	ledger := []blockchain.Transaction{
		{From: alice.PublicKey(), To: bob.Address(), Amount: *amount, Nonce: 0},
		{From: bob.PublicKey(), To: carol.Address(), Amount: 5, Nonce: 0},
	}
	fmt.Fprintln(w, "The bank's ledger:")
	people.printLedger(w, ledger)
	people.printBalances(w, opening, ledger)
	fmt.Fprintln(w)

	// Later, the bank edits entry #0. It needs nobody's permission.
	before := slices.Clone(ledger)
	original := ledger[0]
	switch *tamper {
	case "amount":
		ledger[0].Amount = (*amount + 9) / 10 // a tenth, rounded up
		fmt.Fprintf(w, "Later the bank quietly edits entry #0: the amount %d becomes %d.\n", original.Amount, ledger[0].Amount)
	case "recipient":
		ledger[0].To = bank.Address()
		fmt.Fprintln(w, "Later the bank quietly edits entry #0: the money now goes to the bank, not to Bob.")
	}
	fmt.Fprintln(w, "The bank's ledger now:")
	people.printLedger(w, ledger)
	people.printBalances(w, opening, ledger)
	fmt.Fprintln(w)

	// What could anyone check the new entry against? Only the ledger itself.
	fmt.Fprintln(w, "Can anyone tell that entry #0 was changed?")
	fmt.Fprintln(w, "  The only check a customer can run is an audit of the ledger the bank shows:")
	fmt.Fprintln(w, "  no account overdrawn, no money created or lost.")
	fmt.Fprintf(w, "    audit of the ledger before the edit: %s\n", result(audit(opening, before)))
	fmt.Fprintf(w, "    audit of the ledger after the edit:  %s\n", result(audit(opening, ledger)))
	fmt.Fprintln(w, "  No entry carries Alice's signature, so none proves what she asked for,")
	fmt.Fprintln(w, "  and nobody but the bank keeps a copy to compare with.")
	fmt.Fprintln(w, "Result: the ledger was altered and nobody can detect this.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Open problem: we must trust the bank. It alone says who owns what,")
	fmt.Fprintln(w, "and it can rewrite that at will. Stage 2 lets owners sign their transfers.")
	return nil
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

// audit is every check an outsider can make of an unsigned ledger: applied
// in order to the opening balances, no transfer overdraws its sender, and
// the total amount of money stays the same.
func audit(opening map[blockchain.Address]uint64, ledger []blockchain.Transaction) error {
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

// result prints the outcome of a check.
func result(err error) string {
	if err != nil {
		return "FAILED: " + err.Error()
	}
	return "ok"
}
