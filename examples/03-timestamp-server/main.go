// Command 03-timestamp-server shows a public history kept by a timestamp
// server (section 3 of the Bitcoin paper): blocks chained by hash, signed by
// the server, make tampering and double spends visible, but the server can
// still re-sign a rewritten history. Run it from the repository root with
// go run ./examples/03-timestamp-server.
//
// Stage 2 left the double-spending problem: a payee cannot tell whether
// coins were already spent. Here a server collects signed transfers into
// blocks and publishes them. Each block header holds the hash of the
// previous block (so the blocks form a chain), the Merkle root of its
// transfers (blockchain.Block.ComputeMerkleRoot: the header commits to every
// one of them) and the time. The server signs each block's hash with its own
// Ed25519 key. Anyone can check the whole history, and a spend the history
// already holds is refused.
//
// Then Mallory rewrites a transfer in an old block, and the checks say
// exactly what broke: the Merkle root, or, once she recomputes it, the
// server's signature and the hash link to the next block. Only the server
// could make a rewritten history verify again, and nothing stops it from
// doing so: it is still a trusted party.
//
//	go run ./examples/03-timestamp-server
//	go run ./examples/03-timestamp-server -blocks 6 -txs 3 -tamper 2
//
// Wallets and the server's key come from fixed seeds and block times from a
// fixed clock, so every run prints the same chain.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

func main() { demo.Main("03-timestamp-server", run) }

// run tells the story, writing to w. args are the command-line flags.
func run(_ context.Context, w io.Writer, args []string) error {
	cfg, err := parseFlags(w, args)
	if cfg == nil {
		return err // a bad flag, or -help
	}
	fmt.Fprintln(w, "Stage 3: a timestamp server keeps the history")
	fmt.Fprintln(w)
	people := newBook("alice", "bob", "carol", "mallory")
	srv := startServer(w, people)
	if err := publishHistory(w, people, srv, cfg); err != nil {
		return err
	}
	refuseDoubleSpend(w, people, srv)
	forged := malloryRewrites(w, people, srv, cfg.tamperAt)
	serverResigns(w, people, srv, forged, cfg.tamperAt)
	fmt.Fprintln(w, "Open problem: the timestamp server is still a trusted party. Anyone can")
	fmt.Fprintln(w, "check its history, but it can re-sign a rewritten one at will. Stage 4")
	fmt.Fprintln(w, "replaces its signature with proof of work that anyone can supply.")
	return nil
}

// config holds the flags.
type config struct {
	blocks, txs, tamperAt int
}

// parseFlags parses args. It returns a nil config for -help or an error.
func parseFlags(w io.Writer, args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("03-timestamp-server", flag.ContinueOnError)
	fs.IntVar(&c.blocks, "blocks", 4, "blocks in the chain, genesis included (at least 3)")
	fs.IntVar(&c.txs, "txs", 2, "transfers per block after genesis (1 to 100)")
	fs.IntVar(&c.tamperAt, "tamper", 1, "height of the block Mallory rewrites (1 to blocks-2)")
	if ok, err := demo.ParseFlags(fs, w, args); !ok {
		return nil, err
	}
	switch {
	case c.blocks < 3 || c.blocks > 1000:
		return nil, demo.Usagef("-blocks must be between 3 and 1000, not %d", c.blocks)
	case c.txs < 1 || c.txs > 100:
		return nil, demo.Usagef("-txs must be between 1 and 100, not %d", c.txs)
	case c.tamperAt < 1 || c.tamperAt > c.blocks-2:
		return nil, demo.Usagef("-tamper must be between 1 and %d (a block with one after it), not %d", c.blocks-2, c.tamperAt)
	}
	return &c, nil
}

// startServer starts the server and its chain. The server's key is a plain
// Ed25519 key pair; its public key is known to everyone. Block times come
// from a clock that ticks ten minutes per block, so the output is the same
// on every run. Block 0, the genesis block, records everyone's starting
// coins; its hash names the chain: every transfer is signed for it (the
// chain ID of stage 2).
func startServer(w io.Writer, people *book) *server {
	srv := newServer(sha256.Sum256([]byte("nakachain example timestamp server")),
		demo.FixedClock(time.Date(2009, 1, 3, 18, 15, 5, 0, time.UTC), 10*time.Minute))
	fmt.Fprintf(w, "The server's public key: %x…\n", srv.publicKey()[:8])
	var opening []blockchain.Transaction
	for _, name := range people.Names() {
		opening = append(opening, blockchain.NewCoinbase(people.Address(name), 100, 0))
	}
	chainID := srv.startChain(opening)
	fmt.Fprintf(w, "Genesis block: everyone starts with 100. Chain ID (genesis hash): %s\n", chainID.Short(16))
	return srv
}

// publishHistory has the server publish blocks of the transfers it
// receives, and checks them as anyone can. Mallory pays Bob 30 for a
// bicycle in block tamperAt; the other transfers are filler.
func publishHistory(w io.Writer, people *book, srv *server, cfg *config) error {
	payMallory := people.Wallet("mallory").SignTransfer(srv.chainID, people.Address("bob"), 30, 1, 0)
	for height := 1; height < cfg.blocks; height++ {
		var txs []blockchain.Transaction
		if height == cfg.tamperAt {
			txs = append(txs, payMallory)
		}
		txs = append(txs, people.transfers(srv.chainID, height, cfg.txs-len(txs))...)
		if err := srv.publish(txs); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "The server publishes %d blocks:\n", cfg.blocks)
	people.printChain(w, srv.chain)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Anyone can check the published history: each block's transfer signatures,")
	fmt.Fprintln(w, "its Merkle root, the server's signature on its hash, and its link to the")
	fmt.Fprintln(w, "block before.")
	printCheck(w, "  check:", verifyChain(srv.chain, srv.publicKey(), srv.chainID))
	fmt.Fprintln(w)
	return nil
}

// refuseDoubleSpend settles stage 2's double spend: the server has seen
// Mallory's transfer number 0 and refuses a second one.
func refuseDoubleSpend(w io.Writer, people *book, srv *server) {
	fmt.Fprintln(w, "Mallory signs her transfer number 0 again, paying the same 30 to Carol:")
	again := people.Wallet("mallory").SignTransfer(srv.chainID, people.Address("carol"), 30, 1, 0)
	fmt.Fprintf(w, "  signature: %s\n", demo.Outcome(again.Verify(srv.chainID)))
	fmt.Fprintf(w, "  server: %s\n", demo.Outcome(srv.publish([]blockchain.Transaction{again})))
	fmt.Fprintln(w, "Bob can see his payment in the history, so the second spend is caught.")
	fmt.Fprintln(w)
}

// malloryRewrites has Mallory swap her payment to Bob, in a copy of the
// chain, for a transfer of the same coins to herself (a genuine signature:
// her own), then recompute the Merkle root. It returns her forged chain.
func malloryRewrites(w io.Writer, people *book, srv *server, t int) []signedBlock {
	fmt.Fprintf(w, "After the bicycle is handed over, Mallory rewrites block %d so that her 30\n", t)
	fmt.Fprintln(w, "went to herself instead of to Bob. She signs that transfer herself, so its")
	fmt.Fprintln(w, "signature is genuine, and swaps it in.")
	forged := cloneChain(srv.chain)
	forged[t].Transactions[0] = people.Wallet("mallory").SignTransfer(srv.chainID, people.Address("mallory"), 30, 1, 0)
	printCheck(w, "  check:", verifyChain(forged, srv.publicKey(), srv.chainID))
	fmt.Fprintln(w)

	fmt.Fprintf(w, "Mallory recomputes block %d's Merkle root to match:\n", t)
	forged[t].Header.MerkleRoot = forged[t].ComputeMerkleRoot()
	printCheck(w, "  check:", verifyChain(forged, srv.publicKey(), srv.chainID))
	fmt.Fprintln(w, "The header changed, so its hash changed: the server's signature no longer")
	fmt.Fprintln(w, "matches it, and the next block still points at the old hash. Without the")
	fmt.Fprintln(w, "server's private key Mallory cannot repair either.")
	fmt.Fprintln(w)
	return forged
}

// serverResigns has the server, bribed, make the forged chain verify.
func serverResigns(w io.Writer, people *book, srv *server, forged []signedBlock, t int) {
	fmt.Fprintln(w, "But the server can. Bribed by Mallory, it re-signs the rewritten block and")
	fmt.Fprintln(w, "every block after it, fixing each link on the way:")
	srv.resign(forged, t)
	people.printChain(w, forged[t:])
	printCheck(w, "  check:", verifyChain(forged, srv.publicKey(), srv.chainID))
	fmt.Fprintln(w, "The rewritten history verifies exactly like the real one.")
	fmt.Fprintln(w)
}

// signedBlock is a block as the server publishes it: the block and the
// server's signature over the block's hash.
type signedBlock struct {
	blockchain.Block
	Sig [ed25519.SignatureSize]byte
}

// server is a trusted timestamp server. It keeps the chain, refuses a
// transfer whose sender already used its number, and signs every block.
type server struct {
	key     ed25519.PrivateKey
	clock   func() time.Time
	chain   []signedBlock
	chainID blockchain.Hash
	next    map[blockchain.PublicKey]uint64 // each sender's next transfer number
}

func newServer(seed [ed25519.SeedSize]byte, clock func() time.Time) *server {
	return &server{
		key:   ed25519.NewKeyFromSeed(seed[:]),
		clock: clock,
		next:  make(map[blockchain.PublicKey]uint64),
	}
}

func (s *server) publicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// startChain publishes the genesis block and returns its hash, the chain ID.
func (s *server) startChain(opening []blockchain.Transaction) blockchain.Hash {
	s.chain = []signedBlock{s.seal(0, blockchain.Hash{}, opening)}
	s.chainID = s.chain[0].Hash()
	return s.chainID
}

// publish checks txs against the history and appends a block holding them.
func (s *server) publish(txs []blockchain.Transaction) error {
	next := make(map[blockchain.PublicKey]uint64)
	for _, tx := range txs {
		if err := tx.Verify(s.chainID); err != nil {
			return err
		}
		n, ok := next[tx.From]
		if !ok {
			n = s.next[tx.From]
		}
		switch {
		case tx.Nonce < n:
			return fmt.Errorf("refused: transfer number %d from key %s… is already in the history: a double spend",
				tx.Nonce, tx.From.String()[:16])
		case tx.Nonce > n:
			return fmt.Errorf("refused: key %s… skips from transfer number %d to %d", tx.From.String()[:16], n, tx.Nonce)
		}
		next[tx.From] = n + 1
	}
	prev := s.chain[len(s.chain)-1]
	s.chain = append(s.chain, s.seal(prev.Header.Height+1, prev.Hash(), txs))
	for k, n := range next {
		s.next[k] = n
	}
	return nil
}

// seal builds the block at height after prev, stamps it with the clock's
// time and signs it.
func (s *server) seal(height uint64, prev blockchain.Hash, txs []blockchain.Transaction) signedBlock {
	b := blockchain.Block{
		Header: blockchain.Header{
			Version:  blockchain.HeaderVersion,
			Height:   height,
			PrevHash: prev,
			Time:     s.clock().UnixNano(),
		},
		Transactions: txs,
	}
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	return s.sign(b)
}

func (s *server) sign(b blockchain.Block) signedBlock {
	h := b.Hash()
	return signedBlock{Block: b, Sig: [ed25519.SignatureSize]byte(ed25519.Sign(s.key, h[:]))}
}

// resign rewrites chain from height from on as the server could: it
// recomputes each Merkle root, relinks each block to the one before, and
// signs every block again.
func (s *server) resign(chain []signedBlock, from int) {
	for i := from; i < len(chain); i++ {
		b := chain[i].Block
		b.Header.MerkleRoot = b.ComputeMerkleRoot()
		b.Header.PrevHash = chain[i-1].Hash()
		chain[i] = s.sign(b)
	}
}

// Errors for the checks that have no rule code in the library: a blockchain
// has no server signature, and there a broken link means an unknown parent.
var (
	errBadServerSig = errors.New("server signature does not match block hash")
	errBrokenLink   = errors.New("broken hash link")
)

// verifyChain checks everything a reader of the published history can
// check and returns every problem it finds, in order; none means the chain
// verifies. Transfers in the genesis block are starting balances, not signed
// transfers.
func verifyChain(chain []signedBlock, serverKey ed25519.PublicKey, chainID blockchain.Hash) []error {
	var problems []error
	for i, b := range chain {
		if i > 0 {
			for j, tx := range b.Transactions {
				if err := tx.Verify(chainID); err != nil {
					problems = append(problems, fmt.Errorf("block %d, transfer %d: %w", i, j, err))
				}
			}
		}
		if err := b.CheckMerkleRoot(); err != nil {
			problems = append(problems, fmt.Errorf("block %d: %w", i, err))
		}
		if h := b.Hash(); !ed25519.Verify(serverKey, h[:], b.Sig[:]) {
			problems = append(problems, fmt.Errorf("block %d: %w %s", i, errBadServerSig, h.Short(16)))
		}
		switch {
		case b.Header.Height != uint64(i):
			problems = append(problems, fmt.Errorf("block %d: %w: it claims height %d", i, errBrokenLink, b.Header.Height))
		case i == 0 && !b.Header.PrevHash.IsZero():
			problems = append(problems, fmt.Errorf("block 0: %w: the first block links to %s", errBrokenLink, b.Header.PrevHash.Short(16)))
		case i > 0 && b.Header.PrevHash != chain[i-1].Hash():
			problems = append(problems, fmt.Errorf("block %d: %w to block %d: it records previous hash %s, but block %d hashes to %s",
				i, errBrokenLink, i-1, b.Header.PrevHash.Short(16), i-1, chain[i-1].Hash().Short(16)))
		}
	}
	return problems
}

// printCheck prints the outcome of verifyChain.
func printCheck(w io.Writer, prefix string, problems []error) {
	if len(problems) == 0 {
		fmt.Fprintln(w, prefix, "ok")
		return
	}
	fmt.Fprintln(w, prefix, "FAILED")
	for _, p := range problems {
		fmt.Fprintln(w, "    "+p.Error())
	}
}

// cloneChain returns a deep copy of chain, to tamper with.
func cloneChain(chain []signedBlock) []signedBlock {
	c := slices.Clone(chain)
	for i := range c {
		c[i].Transactions = slices.Clone(c[i].Transactions)
	}
	return c
}

// book names the example's wallets, so that output shows "alice" rather
// than a key, and counts each person's transfers for their nonces. Each
// name's wallet comes from a seed derived from the name (see
// examples/internal/demo), so every run, and every stage, gives each person
// the same keys.
type book struct {
	*demo.Book
	sent map[string]uint64 // transfers each has made, for their nonces
}

func newBook(names ...string) *book {
	return &book{Book: demo.NewBook(names...), sent: make(map[string]uint64)}
}

// transfers returns n small, signed filler transfers for the block at
// height, passed around between alice, bob and carol.
func (b *book) transfers(chainID blockchain.Hash, height, n int) []blockchain.Transaction {
	ring := []string{"alice", "bob", "carol"}
	txs := make([]blockchain.Transaction, n)
	for j := range txs {
		from, to := ring[(height+j)%3], ring[(height+j+1)%3]
		txs[j] = b.Wallet(from).SignTransfer(chainID, b.Wallet(to).Address(), uint64(1+(7*height+3*j)%10), 0, b.sent[from])
		b.sent[from]++
	}
	return txs
}

func (b *book) printChain(w io.Writer, chain []signedBlock) {
	for _, sb := range chain {
		h := sb.Header
		fmt.Fprintf(w, "  block %d  %s  prev %s  merkle %s  hash %s  signed %x…\n",
			h.Height, h.Timestamp().UTC().Format(time.DateTime), h.PrevHash.Short(8), h.MerkleRoot.Short(8), sb.Hash().Short(8), sb.Sig[:4])
		for _, tx := range sb.Transactions {
			if tx.IsCoinbase() {
				fmt.Fprintf(w, "      %-7s gets %d\n", b.NameOf(tx.To), tx.Amount)
			} else {
				fmt.Fprintf(w, "      %-7s pays %-7s %d (transfer %d)\n", b.NameOfKey(tx.From), b.NameOf(tx.To), tx.Amount, tx.Nonce)
			}
		}
	}
}
