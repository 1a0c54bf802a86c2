// Command 05-node shows one node keeping the chain: it collects payments,
// mines them into blocks, pays itself the reward and the fees, and refuses
// what would break the rules, each time with an error that says which rule.
//
// Stage 4 showed that rewriting a block means redoing its work. Now a
// blockchain.Node does the bookkeeping the earlier stages did by hand. People
// submit signed payments (SubmitTransaction); the node checks each one against
// the chain (signature, balance, nonce) and keeps it in its mempool; its
// miner builds a block from the mempool, with a coinbase paying the node's
// miner address the block reward plus the fees, and searches for the
// proof-of-work nonce. After each block the example prints the block and
// everyone's balances, so you can watch the transfers, the reward and the
// fees land.
//
// Then it tries what a cheat would: an overspend, a replay of a confirmed
// payment, the same payment re-signed with a used nonce, and a double spend
// (two payments with the same nonce). The node refuses each with its error.
//
// Run it from the repository root:
//
//	go run ./examples/05-node
//	go run ./examples/05-node -people 5 -payments 6 -blocks 4 -bits 22
//
// Wallets come from fixed seeds, the payments from a seeded random source,
// the node's clock is simulated (each block is stamped ten minutes after its
// parent) and its miner, with one worker, tries nonces 0, 1, 2... in order,
// so every run prints the same blocks and hashes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

func main() { demo.Main("05-node", run) }

// The chain's money, in base units: what each person starts with and what
// each block may pay its miner.
const (
	opening = 100_000
	reward  = 5_000
)

// blockInterval is how far apart the simulated clock puts blocks.
const blockInterval = 10 * time.Minute

var allNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}

// run tells the story, writing to w. args are the command-line flags.
func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("05-node", flag.ContinueOnError)
	fs.SetOutput(w)
	npeople := fs.Int("people", 3, fmt.Sprintf("people with coins in the genesis block (3 to %d)", len(allNames)))
	npay := fs.Int("payments", 3, "payments submitted before each block (0 to 50)")
	nblocks := fs.Int("blocks", 3, "blocks to mine before the refusals (1 to 20)")
	bits := fs.Int("bits", 20, "proof-of-work difficulty in leading zero bits (8 to 24)")
	seed := fs.Uint64("seed", 1, "seed of the random payments")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case *npeople < 3 || *npeople > len(allNames):
		return fmt.Errorf("-people must be between 3 and %d, not %d", len(allNames), *npeople)
	case *npay < 0 || *npay > 50:
		return fmt.Errorf("-payments must be between 0 and 50, not %d", *npay)
	case *nblocks < 1 || *nblocks > 20:
		return fmt.Errorf("-blocks must be between 1 and 20, not %d", *nblocks)
	case *bits < 8 || *bits > 24:
		return fmt.Errorf("-bits must be between 8 and 24, not %d", *bits)
	}

	fmt.Fprintln(w, "Stage 5: one node keeps the chain")
	fmt.Fprintln(w)

	// The chain's rules: the test parameters with our difficulty, reward and
	// starting balances. The genesis block holds the balances; its hash is
	// the chain ID every payment is signed for.
	people := demo.NewBook(allNames[:*npeople]...)
	params := blockchain.TestParams()
	params.InitialTarget = blockchain.TargetFromBits(*bits)
	params.BlockReward = reward
	params.Allocations = people.Allocations(opening)
	people.Add("miner") // the node's reward address; added after the allocations
	chain, err := blockchain.NewChain(params, blockchain.ChainOptions{})
	if err != nil {
		return err
	}
	chainID := chain.ChainID()
	fmt.Fprintf(w, "The genesis block gives %s %s each. Chain ID (genesis hash): %s\n",
		list(allNames[:*npeople]), demo.Commas(opening), chainID.Short(16))
	fmt.Fprintf(w, "Every block must meet a %d-bit target: about %s hashes on average.\n",
		*bits, demo.Commas(uint64(1)<<*bits))
	fmt.Fprintf(w, "Its coinbase may pay the miner %s new coins plus the fees of its payments.\n", demo.Commas(reward))
	fmt.Fprintln(w)

	// The node. It is alone on a network of its own, so it need not run:
	// it is asked to mine one block at a time (Node.MineBlock). Its miner
	// pays the address "miner" and uses one worker (nonces 0, 1, 2... in
	// order). Its clock is simulated: it always reads ten minutes after the
	// last block, so block times, and with them block hashes, are the same
	// on every run.
	net := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{})
	defer net.Close()
	node, err := blockchain.NewNode(blockchain.NodeConfig{
		ID:            "node",
		Chain:         chain,
		Network:       net,
		Miner:         people.Address("miner"),
		MiningWorkers: 1,
		Now:           func() time.Time { return chain.Tip().Header.Timestamp().Add(blockInterval) },
	})
	if err != nil {
		return err
	}
	printBlocks(w, people, node, 0)

	// Rounds of payments. Each payer asks the node for her next nonce
	// (confirmed payments plus pending ones), signs, and submits. The node
	// checks each payment and keeps it pending until a block holds it.
	rng := rand.New(rand.NewPCG(*seed, 5))
	payers := allNames[:*npeople]
	var first blockchain.Transaction // the first payment, replayed later
	shown := uint64(0)               // the last block printed
	for range *nblocks {
		fmt.Fprintf(w, "%s submitted to the node:\n", plural(*npay, "payment"))
		var round []blockchain.Transaction
		for range *npay {
			from := payers[rng.IntN(len(payers))]
			to := payers[rng.IntN(len(payers))]
			for to == from {
				to = payers[rng.IntN(len(payers))]
			}
			payer := people.Wallet(from)
			tx := payer.SignTransfer(chainID, people.Address(to), 100+rng.Uint64N(4901), 1+rng.Uint64N(20), node.NextNonce(payer.Address()))
			if err := node.SubmitTransaction(tx); err != nil {
				return fmt.Errorf("payment %s refused: %w", describe(people, tx), err)
			}
			if first == (blockchain.Transaction{}) {
				first = tx
			}
			round = append(round, tx)
			fmt.Fprintf(w, "  %s: pending\n", describe(people, tx))
		}
		if err := mine(ctx, node, round); err != nil {
			return err
		}
		shown = printBlocks(w, people, node, shown)
	}

	// Now the cheats. Each refusal must carry the right code, or the
	// example fails: errors.Is(err, blockchain.ErrInsufficientFunds) and so on.
	fmt.Fprintln(w, "The node refuses what would break the rules, and says which rule:")
	alice, bob, carol := people.Wallet("alice"), people.Wallet("bob"), people.Wallet("carol")

	have := node.Balance(carol.Address())
	overspend := carol.SignTransfer(chainID, bob.Address(), have, 1, node.NextNonce(carol.Address()))
	fmt.Fprintf(w, "  carol, who has %s, pays bob all of it plus a fee of 1:\n", demo.Commas(have))
	if err := refuse(w, node, overspend, blockchain.ErrInsufficientFunds); err != nil {
		return err
	}
	if *npay > 0 {
		info, _ := node.Chain().Transaction(first.ID())
		fmt.Fprintf(w, "  someone submits an exact copy of the first payment, from block %d: %s:\n", info.Height, describe(people, first))
		if err := refuse(w, node, first, blockchain.ErrTxOnChain); err != nil {
			return err
		}
		again := first
		again.Fee++
		people.Wallet(people.NameOfKey(first.From)).Sign(&again, chainID)
		fmt.Fprintf(w, "  %s signs that payment again with fee %d: a new transaction, but its nonce %d is used:\n",
			people.NameOfKey(first.From), again.Fee, again.Nonce)
		if err := refuse(w, node, again, blockchain.ErrNonceTooLow); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)

	// A double spend: two payments with the same nonce. The node keeps the
	// first and refuses the second; once the first is in a block, the second
	// can never be valid.
	nonce := node.NextNonce(alice.Address())
	toBob := alice.SignTransfer(chainID, bob.Address(), 1_000, 10, nonce)
	toCarol := alice.SignTransfer(chainID, carol.Address(), 1_000, 10, nonce)
	fmt.Fprintf(w, "A double spend: alice signs two payments with the same nonce %d.\n", nonce)
	if err := node.SubmitTransaction(toBob); err != nil {
		return fmt.Errorf("payment %s refused: %w", describe(people, toBob), err)
	}
	fmt.Fprintf(w, "  %s: pending\n", describe(people, toBob))
	fmt.Fprintf(w, "  %s, while the first is pending:\n", describe(people, toCarol))
	if err := refuse(w, node, toCarol, blockchain.ErrMempoolConflict); err != nil {
		return err
	}
	if err := mine(ctx, node, []blockchain.Transaction{toBob}); err != nil {
		return err
	}
	printBlocks(w, people, node, shown)
	fmt.Fprintln(w, "alice tries the second payment again, now that the first is confirmed:")
	if err := refuse(w, node, toCarol, blockchain.ErrNonceTooLow); err != nil {
		return err
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "The node confirmed every valid payment once and refused every cheat, and")
	fmt.Fprintln(w, "anyone can check its chain. But it is one node: whoever runs it decides")
	fmt.Fprintln(w, "which payments to include, and if it stops, the chain stops. Stage 6 runs")
	fmt.Fprintln(w, "many nodes that agree on one chain with nobody in charge.")
	return nil
}

// mine has the node mine one block, which must hold every payment in txs.
func mine(ctx context.Context, node *blockchain.Node, txs []blockchain.Transaction) error {
	b, _, err := node.MineBlock(ctx)
	if err != nil {
		return fmt.Errorf("mining: %w", err)
	}
	if !confirmed(node, txs) {
		return fmt.Errorf("block %d does not hold the pending payments", b.Header.Height)
	}
	return nil
}

// confirmed reports whether the node's chain holds every one of txs.
func confirmed(node *blockchain.Node, txs []blockchain.Transaction) bool {
	for _, tx := range txs {
		if _, ok := node.Chain().Transaction(tx.ID()); !ok {
			return false
		}
	}
	return true
}

// printBlocks prints the main chain's blocks after height shown, and then
// everyone's balances. It returns the height printed up to.
func printBlocks(w io.Writer, people *demo.Book, node *blockchain.Node, shown uint64) uint64 {
	height, accounts := state(node)
	for h := shown + 1; h <= height; h++ {
		if b, ok := node.Chain().BlockByHeight(h); ok {
			printBlock(w, people, b)
		}
	}
	printBalances(w, people, height, accounts)
	fmt.Fprintln(w)
	return height
}

// printBlock prints a block: its header's facts, the coinbase, the payments.
func printBlock(w io.Writer, people *demo.Book, b *blockchain.Block) {
	h := b.Header
	fmt.Fprintf(w, "The node mines block %d: hash %s, time %s, nonce %s (found after %s tries)\n",
		h.Height, b.Hash().Short(16), h.Timestamp().UTC().Format(time.DateTime), demo.Commas(h.Nonce), demo.Commas(h.Nonce+1))
	var fees uint64
	for _, tx := range b.Transactions[1:] {
		fees += tx.Fee
	}
	cb := b.Transactions[0]
	fmt.Fprintf(w, "  coinbase: %s gets %s = reward %s + fees %s\n",
		people.NameOf(cb.To), demo.Commas(cb.Amount), demo.Commas(cb.Amount-fees), demo.Commas(fees))
	for _, tx := range b.Transactions[1:] {
		fmt.Fprintf(w, "  %s\n", describe(people, tx))
	}
}

// printBalances prints everyone's balance at height and their sum, which is
// what the genesis block and the block rewards created: payments and fees
// only move coins.
func printBalances(w io.Writer, people *demo.Book, height uint64, accounts map[blockchain.Address]blockchain.Account) {
	var parts []string
	var total uint64
	for _, name := range people.Names() {
		bal := accounts[people.Address(name)].Balance
		total += bal
		parts = append(parts, name+" "+demo.Commas(bal))
	}
	fmt.Fprintf(w, "Balances at height %d: %s (total %s = genesis %s + %s of %s)\n",
		height, strings.Join(parts, ", "), demo.Commas(total),
		demo.Commas(opening*uint64(len(people.Names())-1)), plural(int(height), "reward"), demo.Commas(reward))
}

// state returns the node's height and every account at that height.
func state(node *blockchain.Node) (uint64, map[blockchain.Address]blockchain.Account) {
	return node.Tip().Height, node.Chain().Accounts()
}

// refuse submits tx, which the node must refuse with code, and prints the
// node's error.
func refuse(w io.Writer, node *blockchain.Node, tx blockchain.Transaction, code blockchain.ErrorCode) error {
	err := node.SubmitTransaction(tx)
	if !errors.Is(err, code) {
		return fmt.Errorf("transaction %s: got error %v, want %v", tx.ID().Short(12), err, code)
	}
	fmt.Fprintf(w, "    refused: %v\n", err)
	return nil
}

// describe is one line for a payment.
func describe(people *demo.Book, tx blockchain.Transaction) string {
	return fmt.Sprintf("%s pays %s %s (fee %d, nonce %d)",
		people.NameOfKey(tx.From), people.NameOf(tx.To), demo.Commas(tx.Amount), tx.Fee, tx.Nonce)
}

// list joins names as "a, b and c".
func list(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// plural is "1 payment", "2 payments".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
