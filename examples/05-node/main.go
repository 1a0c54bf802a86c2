// Command 05-node shows one node keeping the chain (blockchain.Node): it
// collects payments, mines them into blocks that pay it the reward and the
// fees, and refuses an overspend, a replay and a double spend, each with
// the error that names the rule. Run it from the repository root with
// go run ./examples/05-node.
//
// Stage 4 showed that rewriting a block means redoing its work. Now a node
// does the bookkeeping the earlier stages did by hand. People pay through
// it (Node.Send signs a transfer with the payer's next nonce and submits
// it); the node checks each payment against the chain (signature, balance,
// nonce) and keeps it in its mempool. Asked to mine (Node.MineBlock), it
// builds a block from the mempool, with a coinbase paying the node's miner
// address the block reward plus the fees, searches for the proof-of-work
// nonce and adds the block to its chain. After each block the example
// prints the block and everyone's balances, so you can watch the transfers,
// the reward and the fees land. Then it tries what a cheat would, and the
// node refuses each attempt with its error.
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
	"slices"
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
	cfg, err := parseFlags(w, args)
	if cfg == nil {
		return err // a bad flag, or -help
	}
	fmt.Fprintln(w, "Stage 5: one node keeps the chain")
	fmt.Fprintln(w)
	s, err := newStage(w, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	first, err := s.payAndMine(ctx, cfg)
	if err != nil {
		return err
	}
	if err := s.refuseCheats(first); err != nil {
		return err
	}
	if err := s.doubleSpend(ctx); err != nil {
		return err
	}
	fmt.Fprintln(w, "The node confirmed every valid payment once and refused every cheat, and")
	fmt.Fprintln(w, "anyone can check its chain. But it is one node: whoever runs it decides")
	fmt.Fprintln(w, "which payments to include, and if it stops, the chain stops. Stage 6 runs")
	fmt.Fprintln(w, "many nodes that agree on one chain with nobody in charge.")
	return nil
}

// config holds the flags.
type config struct {
	people, payments, blocks, bits int
	seed                           uint64
}

// parseFlags parses args. It returns a nil config for -help or an error.
func parseFlags(w io.Writer, args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("05-node", flag.ContinueOnError)
	fs.IntVar(&c.people, "people", 3, fmt.Sprintf("people with coins in the genesis block (3 to %d)", len(allNames)))
	fs.IntVar(&c.payments, "payments", 3, "payments submitted before each block (0 to 50)")
	fs.IntVar(&c.blocks, "blocks", 3, "blocks to mine before the refusals (1 to 20)")
	fs.IntVar(&c.bits, "bits", 20, "proof-of-work difficulty in leading zero bits (8 to 24)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the random payments")
	if ok, err := demo.ParseFlags(fs, w, args); !ok {
		return nil, err
	}
	switch {
	case c.people < 3 || c.people > len(allNames):
		return nil, demo.Usagef("-people must be between 3 and %d, not %d", len(allNames), c.people)
	case c.payments < 0 || c.payments > 50:
		return nil, demo.Usagef("-payments must be between 0 and 50, not %d", c.payments)
	case c.blocks < 1 || c.blocks > 20:
		return nil, demo.Usagef("-blocks must be between 1 and 20, not %d", c.blocks)
	case c.bits < 8 || c.bits > 24:
		return nil, demo.Usagef("-bits must be between 8 and 24, not %d", c.bits)
	}
	return &c, nil
}

// stage is what the story's steps share: where they print, who is who, and
// the node.
type stage struct {
	w      io.Writer
	people *demo.Book
	node   *blockchain.Node
	close  func()
}

// newStage makes the chain and the node. The chain's rules are the test
// parameters with our difficulty, reward and starting balances; the genesis
// block holds the balances, and its hash is the chain ID every payment is
// signed for.
func newStage(w io.Writer, cfg *config) (*stage, error) {
	people := demo.NewBook(allNames[:cfg.people]...)
	params := blockchain.TestParams()
	params.InitialTarget = blockchain.TargetFromBits(cfg.bits)
	params.BlockReward = reward
	params.Allocations = people.Allocations(opening)
	people.Add("miner") // the node's reward address; added after the allocations
	chain, err := blockchain.NewChain(params, blockchain.ChainOptions{})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "The genesis block gives %s %s each. Chain ID (genesis hash): %s\n",
		demo.List(allNames[:cfg.people]), demo.Commas(opening), chain.ChainID().Short(16))
	fmt.Fprintf(w, "Every block must meet a %d-bit target: about %s hashes on average.\n",
		cfg.bits, demo.Commas(uint64(1)<<cfg.bits))
	fmt.Fprintf(w, "Its coinbase may pay the miner %s new coins plus the fees of its payments.\n", demo.Commas(reward))
	fmt.Fprintln(w)
	node, closeNet, err := newNode(chain, people.Address("miner"))
	if err != nil {
		return nil, err
	}
	s := &stage{w: w, people: people, node: node, close: closeNet}
	s.printBalances()
	return s, nil
}

// newNode makes the node. It is alone on a network of its own, so it need
// not run: it is asked to mine one block at a time (Node.MineBlock). Its
// miner pays miner and uses one worker (nonces 0, 1, 2... in order). Its
// clock is simulated: it always reads ten minutes after the last block, so
// block times, and with them block hashes, are the same on every run.
func newNode(chain *blockchain.Chain, miner blockchain.Address) (*blockchain.Node, func(), error) {
	net := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{})
	node, err := blockchain.NewNode(blockchain.NodeConfig{
		ID:            "node",
		Chain:         chain,
		Network:       net,
		Miner:         miner,
		MiningWorkers: 1,
		Now:           func() time.Time { return chain.Tip().Header.Timestamp().Add(blockInterval) },
	})
	if err != nil {
		net.Close()
		return nil, nil, err
	}
	return node, func() { net.Close() }, nil
}

// payAndMine runs the rounds: random payments, then a block. Each payer
// pays through the node (Node.Send), which gives the payment her next
// nonce, counting her pending payments; the node checks each payment and
// keeps it pending until a block holds it. It returns the first payment,
// which the cheats replay.
func (s *stage) payAndMine(ctx context.Context, cfg *config) (first blockchain.Transaction, err error) {
	rng := rand.New(rand.NewPCG(cfg.seed, 5))
	payers := allNames[:cfg.people]
	for range cfg.blocks {
		fmt.Fprintf(s.w, "%s submitted to the node:\n", demo.Plural(cfg.payments, "payment"))
		var round []blockchain.Transaction
		for range cfg.payments {
			from, to := pickTwo(rng, payers)
			tx, err := s.node.Send(s.people.Wallet(from), s.people.Address(to), 100+rng.Uint64N(4901), 1+rng.Uint64N(20))
			if err != nil {
				return first, fmt.Errorf("a payment from %s to %s refused: %w", from, to, err)
			}
			fmt.Fprintf(s.w, "  %s: pending\n", s.describe(tx))
			round = append(round, tx)
		}
		if len(round) > 0 && first == (blockchain.Transaction{}) {
			first = round[0]
		}
		if err := s.mine(ctx, round); err != nil {
			return first, err
		}
	}
	return first, nil
}

// refuseCheats submits what a cheat would, and checks that the node
// refuses each with the right code, errors.Is(err,
// blockchain.ErrInsufficientFunds) and so on: an overspend, an exact copy
// of a confirmed payment, and that payment signed again with its used
// nonce.
func (s *stage) refuseCheats(first blockchain.Transaction) error {
	fmt.Fprintln(s.w, "The node refuses what would break the rules, and says which rule:")
	carol := s.people.Wallet("carol")
	have := s.node.Balance(carol.Address())
	fmt.Fprintf(s.w, "  carol, who has %s, pays bob all of it plus a fee of 1:\n", demo.Commas(have))
	_, err := s.node.Send(carol, s.people.Address("bob"), have, 1)
	if err := s.expectRefusal(err, blockchain.ErrInsufficientFunds); err != nil {
		return err
	}
	if first != (blockchain.Transaction{}) {
		info, _ := s.node.Chain().Transaction(first.ID())
		fmt.Fprintf(s.w, "  someone submits an exact copy of the first payment, from block %d: %s:\n", info.Height, s.describe(first))
		if err := s.expectRefusal(s.node.SubmitTransaction(first), blockchain.ErrTxOnChain); err != nil {
			return err
		}
		again, payer := first, s.people.NameOfKey(first.From)
		again.Fee++
		s.people.Wallet(payer).Sign(&again, s.node.Chain().ChainID())
		fmt.Fprintf(s.w, "  %s signs that payment again with fee %d: a new transaction, but its nonce %d is used:\n",
			payer, again.Fee, again.Nonce)
		if err := s.expectRefusal(s.node.SubmitTransaction(again), blockchain.ErrNonceTooLow); err != nil {
			return err
		}
	}
	fmt.Fprintln(s.w)
	return nil
}

// doubleSpend has alice sign two payments with the same nonce. The node
// keeps the first and refuses the second; once the first is in a block, the
// second can never be valid.
func (s *stage) doubleSpend(ctx context.Context) error {
	alice, chainID := s.people.Wallet("alice"), s.node.Chain().ChainID()
	nonce := s.node.NextNonce(alice.Address())
	toBob := alice.SignTransfer(chainID, s.people.Address("bob"), 1_000, 10, nonce)
	toCarol := alice.SignTransfer(chainID, s.people.Address("carol"), 1_000, 10, nonce)
	fmt.Fprintf(s.w, "A double spend: alice signs two payments with the same nonce %d.\n", nonce)
	if err := s.node.SubmitTransaction(toBob); err != nil {
		return fmt.Errorf("payment %s refused: %w", s.describe(toBob), err)
	}
	fmt.Fprintf(s.w, "  %s: pending\n", s.describe(toBob))
	fmt.Fprintf(s.w, "  %s, while the first is pending:\n", s.describe(toCarol))
	if err := s.expectRefusal(s.node.SubmitTransaction(toCarol), blockchain.ErrMempoolConflict); err != nil {
		return err
	}
	if err := s.mine(ctx, []blockchain.Transaction{toBob}); err != nil {
		return err
	}
	fmt.Fprintln(s.w, "alice tries the second payment again, now that the first is confirmed:")
	if err := s.expectRefusal(s.node.SubmitTransaction(toCarol), blockchain.ErrNonceTooLow); err != nil {
		return err
	}
	fmt.Fprintln(s.w)
	return nil
}

// mine has the node mine one block, which must hold every payment in txs,
// and prints the blocks that joined the chain and the balances after them.
func (s *stage) mine(ctx context.Context, txs []blockchain.Transaction) error {
	b, res, err := s.node.MineBlock(ctx)
	if err != nil {
		return fmt.Errorf("mining: %w", err)
	}
	ids := b.TxIDs()
	for _, tx := range txs {
		if !slices.Contains(ids, tx.ID()) {
			return fmt.Errorf("block %d does not hold the pending payment %s", b.Header.Height, s.describe(tx))
		}
	}
	for _, c := range res.Connected {
		s.printBlock(c)
	}
	s.printBalances()
	return nil
}

// expectRefusal checks that err, the node's answer to a cheat, carries
// code, and prints it.
func (s *stage) expectRefusal(err error, code blockchain.ErrorCode) error {
	if !errors.Is(err, code) {
		return fmt.Errorf("got error %v, want %v", err, code)
	}
	fmt.Fprintf(s.w, "    refused: %v\n", err)
	return nil
}

// pickTwo returns two different names from names, at random.
func pickTwo(rng *rand.Rand, names []string) (from, to string) {
	from, to = names[rng.IntN(len(names))], names[rng.IntN(len(names))]
	for to == from {
		to = names[rng.IntN(len(names))]
	}
	return from, to
}

// printBlock prints a block: its header's facts, the coinbase, the payments.
func (s *stage) printBlock(b *blockchain.Block) {
	h := b.Header
	fmt.Fprintf(s.w, "The node mines block %d: hash %s, time %s, nonce %s (found after %s tries)\n",
		h.Height, b.Hash().Short(16), h.Timestamp().UTC().Format(time.DateTime), demo.Commas(h.Nonce), demo.Commas(h.Nonce+1))
	var fees uint64
	for _, tx := range b.Transactions[1:] {
		fees += tx.Fee
	}
	cb := b.Transactions[0]
	fmt.Fprintf(s.w, "  coinbase: %s gets %s = reward %s + fees %s\n",
		s.people.NameOf(cb.To), demo.Commas(cb.Amount), demo.Commas(cb.Amount-fees), demo.Commas(fees))
	for _, tx := range b.Transactions[1:] {
		fmt.Fprintf(s.w, "  %s\n", s.describe(tx))
	}
}

// printBalances prints everyone's balance at the tip and their sum, which
// is what the genesis block and the block rewards created: payments and
// fees only move coins.
func (s *stage) printBalances() {
	height, accounts := s.node.Tip().Height, s.node.Chain().Accounts()
	var parts []string
	var total uint64
	for _, name := range s.people.Names() {
		bal := accounts[s.people.Address(name)].Balance
		total += bal
		parts = append(parts, name+" "+demo.Commas(bal))
	}
	fmt.Fprintf(s.w, "Balances at height %d: %s (total %s = genesis %s + %s of %s)\n",
		height, strings.Join(parts, ", "), demo.Commas(total),
		demo.Commas(opening*uint64(len(s.people.Names())-1)), demo.Plural(int(height), "reward"), demo.Commas(reward))
	fmt.Fprintln(s.w)
}

// describe is one line for a payment.
func (s *stage) describe(tx blockchain.Transaction) string {
	return fmt.Sprintf("%s pays %s %s (fee %d, nonce %d)",
		s.people.NameOfKey(tx.From), s.people.NameOf(tx.To), demo.Commas(tx.Amount), tx.Fee, tx.Nonce)
}
