// Command 02-signatures shows what digital signatures fix, and what they
// leave open: nobody but the owner can sign a transfer of her coins, yet
// two signed spends of the same coins both look valid to whoever sees only
// one. Run it from the repository root with go run ./examples/02-signatures.
//
// In stage 1 the bank could rewrite any transfer. Now the owner of the money
// signs each transfer with her wallet's private key, and anyone can check the
// signature with her public key (blockchain.Wallet.SignTransfer,
// blockchain.Transaction.Verify). Changing any field of a signed transfer
// (amount, recipient, fee, nonce, or the chain it is meant for) makes the
// signature fail, and only the owner can sign a new one. But an exact copy
// verifies just as well as the original, and so do two different transfers
// of the same coins: the double-spending problem, which needs a public
// history (stage 3).
//
//	go run ./examples/02-signatures
//	go run ./examples/02-signatures -amount 70 -chain "my test chain"
//
// Wallets come from fixed seeds and Ed25519 signatures are deterministic,
// so every run prints the same keys, signatures and IDs.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

func main() { demo.Main("02-signatures", run) }

// run tells the story, writing to w. args are the command-line flags.
func run(_ context.Context, w io.Writer, args []string) error {
	cfg, err := parseFlags(w, args)
	if cfg == nil {
		return err // a bad flag, or -help
	}
	fmt.Fprintln(w, "Stage 2: transfers signed by their owners")
	fmt.Fprintln(w)
	people := newBook("alice", "bob", "carol", "mallory")
	showKeys(w, people)
	chainID, otherChain := chainIDs(w, cfg.chain)
	tx := aliceSigns(w, people, chainID, cfg.amount)
	malloryTampers(w, people, tx, chainID, otherChain)
	mallorySignsHerOwn(w, people, chainID, cfg.amount)
	doubleSpend(w, people, tx, chainID, cfg.amount)
	fmt.Fprintln(w, "Open problem: someone must still keep the history of transfers, in order,")
	fmt.Fprintln(w, "for everyone to see. Stage 3 has a timestamp server do it.")
	return nil
}

// config holds the flags.
type config struct {
	amount uint64
	chain  string
}

// parseFlags parses args. It returns a nil config for -help or an error.
func parseFlags(w io.Writer, args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("02-signatures", flag.ContinueOnError)
	fs.Uint64Var(&c.amount, "amount", 30, "base units Alice pays Bob")
	fs.StringVar(&c.chain, "chain", "nakachain example chain", "text whose SHA-256 stands in for the chain ID")
	if ok, err := demo.ParseFlags(fs, w, args); !ok {
		return nil, err
	}
	if c.amount == 0 || c.amount > 1e12 {
		return nil, demo.Usagef("-amount must be between 1 and 10^12, not %d", c.amount)
	}
	return &c, nil
}

// showKeys prints everyone's wallet. A wallet is now a key pair: the
// private key signs, the public key (carried in every transfer) lets anyone
// check.
func showKeys(w io.Writer, people book) {
	fmt.Fprintln(w, "Wallets, derived from fixed seeds (address, then public key):")
	for _, name := range people.Names() {
		wal := people.Wallet(name)
		fmt.Fprintf(w, "  %-7s %s  key %s…\n", name, wal.Address(), wal.PublicKey().String()[:16])
	}
	fmt.Fprintln(w)
}

// chainIDs returns the ID of the chain the transfers are meant for, and of
// another one. A signature covers a chain ID, so a transfer meant for one
// chain is worthless on every other. A real chain's ID is the hash of its
// first block; there is no chain yet, so a hash of some text stands in.
func chainIDs(w io.Writer, name string) (chainID, other blockchain.Hash) {
	chainID = sha256.Sum256([]byte(name))
	other = sha256.Sum256([]byte(name + " (a different chain)"))
	fmt.Fprintf(w, "Chain ID: SHA-256(%q) = %s\n", name, chainID.Short(16))
	fmt.Fprintln(w, "It names the chain these transfers are meant for; on a real chain it is the")
	fmt.Fprintln(w, "hash of the chain's first block.")
	fmt.Fprintln(w)
	return chainID, other
}

// aliceSigns has Alice sign a transfer to Bob, and Bob check it.
func aliceSigns(w io.Writer, people book, chainID blockchain.Hash, amount uint64) blockchain.Transaction {
	fmt.Fprintf(w, "Alice signs a transfer to Bob of %d, fee 1, as her transfer number 0 (nonce 0):\n", amount)
	tx := people.Wallet("alice").SignTransfer(chainID, people.Address("bob"), amount, 1, 0)
	people.printTx(w, tx)
	fmt.Fprintf(w, "Bob checks it with the public key it carries: verify: %s\n", demo.Outcome(tx.Verify(chainID)))
	fmt.Fprintln(w)
	return tx
}

// malloryTampers changes one field of Alice's transfer at a time, keeping
// Alice's signature, and sends the original to another chain. Every check
// fails.
func malloryTampers(w io.Writer, people book, tx blockchain.Transaction, chainID, otherChain blockchain.Hash) {
	fmt.Fprintln(w, "Mallory intercepts the transfer and changes one thing at a time:")
	for _, t := range tampers(tx.Amount, people.Address("mallory")) {
		forged := tx
		t.change(&forged)
		fmt.Fprintf(w, "  %-26s verify: %s\n", t.what+":", demo.Outcome(forged.Verify(chainID)))
	}
	fmt.Fprintf(w, "  %-26s verify: %s\n", "sent to another chain:", demo.Outcome(tx.Verify(otherChain)))
	fmt.Fprintln(w, "Every change breaks Alice's signature: the check fails with ErrBadSignature.")
	fmt.Fprintln(w)
}

// mallorySignsHerOwn shows what Mallory can sign: transfers of her own coins.
func mallorySignsHerOwn(w io.Writer, people book, chainID blockchain.Hash, amount uint64) {
	own := people.Wallet("mallory").SignTransfer(chainID, people.Address("mallory"), amount, 1, 0)
	fmt.Fprintln(w, "Mallory can sign a transfer to herself, but it carries her own key and spends her own coins:")
	fmt.Fprintf(w, "  from %s to %s, amount %d: verify: %s\n",
		people.NameOfKey(own.From), people.NameOf(own.To), own.Amount, demo.Outcome(own.Verify(chainID)))
	fmt.Fprintln(w, "Only Alice can move Alice's coins.")
	fmt.Fprintln(w)
}

// doubleSpend shows what a signature cannot: a copy, and a second spend of
// the same coins, verify like the original. A signature proves who wrote a
// transfer, not that it is the only one.
func doubleSpend(w io.Writer, people book, tx blockchain.Transaction, chainID blockchain.Hash, amount uint64) {
	fmt.Fprintln(w, "But a signature says nothing about what happened before or after.")
	copied := tx
	fmt.Fprintf(w, "  An exact copy of Alice's transfer: id %s, verify: %s\n", copied.ID().Short(12), demo.Outcome(copied.Verify(chainID)))
	toCarol := people.Wallet("alice").SignTransfer(chainID, people.Address("carol"), amount, 1, 0)
	fmt.Fprintf(w, "  Alice also signs nonce 0 again, paying the same %d to Carol: id %s, verify: %s\n",
		amount, toCarol.ID().Short(12), demo.Outcome(toCarol.Verify(chainID)))
	fmt.Fprintf(w, "Say Alice owns only %d: enough for one payment and its fee. Bob can be shown\n", amount+1)
	fmt.Fprintln(w, "his transfer twice, and Carol holds another spend of the same coins. Every")
	fmt.Fprintln(w, "signature is genuine, yet without a public history no payee can tell which")
	fmt.Fprintln(w, "spend came first, or whether the coins were already spent elsewhere. This is")
	fmt.Fprintln(w, "the double-spending problem. (The nonce numbers Alice's transfers, but only")
	fmt.Fprintln(w, "someone who sees all of them can tell that number 0 was used twice.)")
	fmt.Fprintln(w)
}

// tamper is one change an attacker makes to a signed transfer.
type tamper struct {
	what   string
	change func(tx *blockchain.Transaction)
}

// tampers lists the changes Mallory tries on a transfer of amount.
func tampers(amount uint64, mallory blockchain.Address) []tamper {
	return []tamper{
		{fmt.Sprintf("amount %d -> %d", amount, amount*100), func(tx *blockchain.Transaction) { tx.Amount = amount * 100 }},
		{"recipient bob -> mallory", func(tx *blockchain.Transaction) { tx.To = mallory }},
		{"fee 1 -> 0", func(tx *blockchain.Transaction) { tx.Fee = 0 }},
		{"nonce 0 -> 1", func(tx *blockchain.Transaction) { tx.Nonce = 1 }},
		{"one bit of the signature", func(tx *blockchain.Transaction) { tx.Signature[0] ^= 1 }},
	}
}

// book names the example's wallets, so that output shows "alice" rather
// than a key. Each name's wallet comes from a seed derived from the name
// (see examples/internal/demo), so every run, and every stage, gives each
// person the same keys.
type book struct{ *demo.Book }

func newBook(names ...string) book { return book{demo.NewBook(names...)} }

func (b book) printTx(w io.Writer, tx blockchain.Transaction) {
	fmt.Fprintf(w, "  from       %s (key %s…)\n", b.NameOfKey(tx.From), tx.From.String()[:16])
	fmt.Fprintf(w, "  to         %s (%s)\n", b.NameOf(tx.To), tx.To)
	fmt.Fprintf(w, "  amount     %d\n", tx.Amount)
	fmt.Fprintf(w, "  fee        %d\n", tx.Fee)
	fmt.Fprintf(w, "  nonce      %d\n", tx.Nonce)
	fmt.Fprintf(w, "  signature  %s…\n", tx.Signature.String()[:32])
	fmt.Fprintf(w, "  id         %s (SHA-256 of the transfer, signature included)\n", tx.ID().Short(16))
}
