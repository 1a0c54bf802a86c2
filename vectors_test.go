package blockchain

// Test vectors for other implementations of the protocol, in
// testdata/vectors. TestVectors does two things with them:
//
//   - it builds every file again with the library and compares it byte for
//     byte with the committed one (go test -run TestVectors -update
//     rewrites them instead), so the files always show what the code does;
//   - it verifies the committed files with refChain, a small implementation
//     of PROTOCOL.md that calls no function of this package (it borrows
//     only the Hash type as a 32-byte array): its constants and byte
//     layouts come from the page's checked tables, its algorithms are the
//     page's prose, and its cryptography is crypto/sha256 and
//     crypto/ed25519. If the page left out anything the vectors depend on,
//     this second check could not pass.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var updateVectors = flag.Bool("update", false, "rewrite testdata/vectors from the library instead of comparing")

const vectorDir = "testdata/vectors"

// The JSON form of a vector file. 64-bit integers are decimal strings,
// so that no reader loses precision; byte strings are lowercase hex.
type (
	vecFile struct {
		Description       string          `json:"description"`
		Params            json.RawMessage `json:"params"`
		ParamsDigestInput string          `json:"params_digest_input"`
		ParamsDigest      string          `json:"params_digest"`
		ChainID           string          `json:"chain_id"`
		Now               string          `json:"now"`
		Wallets           []vecWallet     `json:"wallets"`
		Blocks            []vecBlock      `json:"blocks"`
		NextBits          string          `json:"next_bits"`
		MerkleProofs      []vecProof      `json:"merkle_proofs"`
		Final             vecFinal        `json:"final_state"`
		InvalidBlocks     []vecInvalid    `json:"invalid_blocks"`
	}
	vecWallet struct {
		Name        string `json:"name"`
		Seed        string `json:"seed"`
		PublicKey   string `json:"public_key"`
		Address     string `json:"address"`
		AddressText string `json:"address_text"`
	}
	vecBlock struct {
		Height         uint64       `json:"height"`
		Hash           string       `json:"hash"`
		Block          string       `json:"block"`
		MerkleRoot     string       `json:"merkle_root"`
		Time           string       `json:"time"`
		Bits           string       `json:"bits"`
		Target         string       `json:"target"`
		Retarget       *vecRetarget `json:"retarget,omitempty"`
		Work           string       `json:"work"`
		ChainWork      string       `json:"chain_work"`
		MedianTimePast string       `json:"median_time_past"`
		Reward         string       `json:"reward"`
		Fees           string       `json:"fees"`
		Transactions   []vecTx      `json:"transactions"`
	}
	vecRetarget struct {
		FromHeight uint64 `json:"from_height"`
		Actual     string `json:"actual"`
		Expected   string `json:"expected"`
	}
	vecTx struct {
		Bytes          string `json:"bytes"`
		ID             string `json:"id"`
		SigningMessage string `json:"signing_message,omitempty"`
	}
	vecProof struct {
		Height uint64      `json:"height"`
		Leaf   string      `json:"leaf"`
		Root   string      `json:"root"`
		Proof  MerkleProof `json:"proof"`
	}
	vecFinal struct {
		Tip       string       `json:"tip"`
		Height    uint64       `json:"height"`
		ChainWork string       `json:"chain_work"`
		Accounts  []vecAccount `json:"accounts"`
	}
	vecAccount struct {
		Address     string `json:"address"`
		AddressText string `json:"address_text"`
		Balance     string `json:"balance"`
		Nonce       string `json:"nonce"`
	}
	vecInvalid struct {
		Description string `json:"description"`
		Block       string `json:"block"`
		Error       string `json:"error"`
	}
)

func TestVectors(t *testing.T) {
	s := loadSpec(t)
	for name, gen := range map[string]func(*testing.T) []byte{
		"chain-fixed.json":    genFixedVectors,
		"chain-retarget.json": genRetargetVectors,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(vectorDir, name)
			data := gen(t)
			if *updateVectors {
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			committed, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestVectors -update to create it)", err)
			}
			if !bytes.Equal(committed, data) {
				t.Errorf("%s differs from what the library builds now at line %d (go test -run TestVectors -update rewrites it)", path, firstDiffLine(committed, data))
			}
			verifyVectors(t, s, committed)
		})
	}
}

func firstDiffLine(a, b []byte) int {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(al), len(bl)) {
		if !bytes.Equal(al[i], bl[i]) {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

// ---- Generating the vectors with the library ----

// vecGen builds a vector file: a chain grown block by block with the
// library, and invalid blocks on its tip.
type vecGen struct {
	t       *testing.T
	p       Params
	chain   *Chain
	chainID Hash
	names   []string
	wallets map[string]*Wallet
	blocks  []*Block
	now     time.Time
	invalid []vecInvalid
}

func vecWalletFor(name string) *Wallet {
	return WalletFromSeed(sha256.Sum256([]byte("nakachain test vectors/" + name)))
}

func newVecGen(t *testing.T, p Params, names []string, funds map[string]uint64) *vecGen {
	g := &vecGen{t: t, names: names, wallets: make(map[string]*Wallet)}
	for _, n := range names {
		g.wallets[n] = vecWalletFor(n)
		if f := funds[n]; f > 0 {
			p.Allocations = append(p.Allocations, Allocation{To: g.wallets[n].Address(), Amount: f})
		}
	}
	g.p = p
	g.chain = g.newChain()
	g.chainID = g.chain.ChainID()
	g.blocks = []*Block{p.Genesis()}
	g.now = p.GenesisTime.Add(24 * time.Hour)
	return g
}

func (g *vecGen) newChain() *Chain {
	c, err := NewChain(g.p, ChainOptions{VerifyWorkers: 1})
	if err != nil {
		g.t.Fatal(err)
	}
	return c
}

func (g *vecGen) addr(name string) Address { return g.wallets[name].Address() }

func (g *vecGen) pay(from, to string, amount, fee, nonce uint64) Transaction {
	return g.wallets[from].SignTransfer(g.chainID, g.addr(to), amount, fee, nonce)
}

func (g *vecGen) tip() *Block { return g.blocks[len(g.blocks)-1] }

// build returns a mined block on the tip, dt after it, with a coinbase
// paying the reward and fees to miner, then txs; muts run before mining.
func (g *vecGen) build(dt time.Duration, miner string, txs []Transaction, muts ...func(*Block)) *Block {
	parent := g.tip()
	h := parent.Header.Height + 1
	bits, _ := g.chain.NextBits(parent.Hash())
	var fees uint64
	for _, tx := range txs {
		fees += tx.Fee
	}
	b := &Block{Header: Header{
		Version: HeaderVersion, Height: h, PrevHash: parent.Hash(),
		Time: parent.Header.Time + int64(dt), Bits: bits,
	}}
	b.Transactions = append([]Transaction{NewCoinbase(g.addr(miner), g.p.Reward(h)+fees, h)}, txs...)
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	for _, m := range muts {
		m(b)
	}
	if _, err := b.Header.Target(); err == nil {
		if _, err := Mine(context.Background(), &b.Header, 1); err != nil {
			g.t.Fatal(err)
		}
	}
	return b
}

// add builds a block and adds it to the chain, which must accept it.
func (g *vecGen) add(dt time.Duration, miner string, txs []Transaction, muts ...func(*Block)) {
	b := g.build(dt, miner, txs, muts...)
	res, err := g.chain.AddBlock(b, g.now)
	if err != nil || res.Status != StatusMainChain {
		g.t.Fatalf("block %d: %v %v", b.Header.Height, res.Status, err)
	}
	g.blocks = append(g.blocks, b)
}

// bad records an invalid block, given as bytes, after checking that the
// library refuses it with want on a fresh copy of the chain.
func (g *vecGen) bad(desc string, want ErrorCode, data []byte) {
	var b Block
	err := b.UnmarshalBinary(data)
	if err == nil {
		c := g.newChain()
		if _, err := c.AddBlocks(g.blocks[1:], g.now); err != nil {
			g.t.Fatal(err)
		}
		_, err = c.AddBlock(&b, g.now)
		if err == nil {
			err = errors.New("accepted")
		}
	}
	var re *RuleError
	if !errors.As(err, &re) || re.Code != want {
		g.t.Fatalf("invalid block %q: %v, want %v", desc, err, want)
	}
	g.invalid = append(g.invalid, vecInvalid{Description: desc, Block: hex.EncodeToString(data), Error: want.String()})
}

// badBlock records an invalid block built on the tip.
func (g *vecGen) badBlock(desc string, want ErrorCode, txs []Transaction, muts ...func(*Block)) {
	enc, _ := g.build(time.Second, "miner", txs, muts...).MarshalBinary()
	g.bad(desc, want, enc)
}

func dec(v uint64) string { return strconv.FormatUint(v, 10) }

// file assembles the vector file from the chain.
func (g *vecGen) file(desc string, proofs [][2]int) []byte {
	params, err := g.p.MarshalJSON()
	if err != nil {
		g.t.Fatal(err)
	}
	f := vecFile{
		Description: desc,
		Params:      params,
		ChainID:     g.chainID.String(),
		Now:         strconv.FormatInt(g.now.UnixNano(), 10),
	}
	// The digest input, as the code hashes it, is not exported: rebuild
	// it from the page's layout and check it against the code's digest.
	in := specParamsDigest(g.t, loadSpec(g.t), g.p)
	if Hash(sha256.Sum256(in)) != g.p.digest() {
		g.t.Fatal("params digest input does not hash to the digest")
	}
	f.ParamsDigestInput, f.ParamsDigest = hex.EncodeToString(in), g.p.digest().String()
	for _, n := range g.names {
		w := g.wallets[n]
		seed, a := w.Seed(), w.Address()
		f.Wallets = append(f.Wallets, vecWallet{n, hex.EncodeToString(seed[:]), w.PublicKey().String(), hex.EncodeToString(a[:]), a.String()})
	}
	for _, b := range g.blocks {
		hash := b.Hash()
		enc, _ := b.MarshalBinary()
		tg, _ := b.Header.Target()
		work, _ := g.chain.WorkOf(hash)
		mtp, _ := g.chain.MedianTimePast(hash)
		vb := vecBlock{
			Height: b.Header.Height, Hash: hash.String(), Block: hex.EncodeToString(enc),
			MerkleRoot: b.Header.MerkleRoot.String(), Time: strconv.FormatInt(b.Header.Time, 10),
			Bits: fmt.Sprintf("0x%08x", b.Header.Bits), Target: tg.String(), Work: tg.Work().String(), ChainWork: work.String(),
			MedianTimePast: strconv.FormatInt(mtp, 10), Reward: "0", Fees: "0",
		}
		if h := b.Header.Height; h > 0 {
			parent := g.blocks[h-1]
			if want, _ := g.chain.NextBits(parent.Hash()); want != b.Header.Bits {
				g.t.Fatalf("block %d carries %#08x, the chain expects %#08x", h, b.Header.Bits, want)
			}
			var fees uint64
			for _, tx := range b.Transactions[1:] {
				fees += tx.Fee
			}
			vb.Reward, vb.Fees = dec(g.p.Reward(h)), dec(fees)
			if n := g.p.RetargetInterval; n > 0 && h%n == 0 {
				from := uint64(0)
				if h > n {
					from = h - n - 1
				}
				vb.Retarget = &vecRetarget{
					FromHeight: from,
					Actual:     strconv.FormatInt(parent.Header.Time-g.blocks[from].Header.Time, 10),
					Expected:   strconv.FormatInt(int64(parent.Header.Height-from)*int64(g.p.TargetBlockTime), 10),
				}
			}
		}
		for _, tx := range b.Transactions {
			txb, _ := tx.MarshalBinary()
			vt := vecTx{Bytes: hex.EncodeToString(txb), ID: tx.ID().String()}
			if !tx.IsCoinbase() {
				vt.SigningMessage = hex.EncodeToString(tx.SigningMessage(g.chainID))
			}
			vb.Transactions = append(vb.Transactions, vt)
		}
		f.Blocks = append(f.Blocks, vb)
	}
	tip := g.chain.Tip()
	next, _ := g.chain.NextBits(tip.Hash)
	f.NextBits = fmt.Sprintf("0x%08x", next)
	for _, pr := range proofs {
		b := g.blocks[pr[0]]
		id := b.Transactions[pr[1]].ID()
		p, _, ok := g.chain.TxProof(id)
		if !ok {
			g.t.Fatalf("no proof for block %d tx %d", pr[0], pr[1])
		}
		f.MerkleProofs = append(f.MerkleProofs, vecProof{Height: uint64(pr[0]), Leaf: id.String(), Root: b.Header.MerkleRoot.String(), Proof: p})
	}
	f.Final = vecFinal{Tip: tip.Hash.String(), Height: tip.Height, ChainWork: tip.TotalWork.String()}
	accts := g.chain.Accounts()
	addrs := make([]Address, 0, len(accts))
	for a := range accts {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(x, y Address) int { return bytes.Compare(x[:], y[:]) })
	for _, a := range addrs {
		f.Final.Accounts = append(f.Final.Accounts, vecAccount{hex.EncodeToString(a[:]), a.String(), dec(accts[a].Balance), dec(accts[a].Nonce)})
	}
	f.InvalidBlocks = g.invalid
	out, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		g.t.Fatal(err)
	}
	return append(out, '\n')
}

// genFixedVectors: a chain with a fixed target, a fast halving schedule,
// tight block limits and transfers that exercise the state rules; then
// invalid blocks for every rule a block can break alone.
func genFixedVectors(t *testing.T) []byte {
	p := TestParams()
	p.Name = "vectors-fixed"
	p.BlockReward = 5000
	p.HalvingInterval = 2
	p.MinTxFee = 10
	p.MaxBlockTxs = 6
	p.MaxBlockSize = HeaderSize + 1 + 5*TxSize
	g := newVecGen(t, p, []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "miner"},
		map[string]uint64{"alice": 1_000_000, "bob": 500_000, "carol": 250_000})
	s := time.Second
	// 1: a coinbase alone.
	g.add(s, "dave", nil)
	// 2: two transfers of one sender in order; a payment to a new address.
	g.add(s, "miner", []Transaction{g.pay("alice", "bob", 1000, 10, 0), g.pay("alice", "carol", 2000, 20, 1), g.pay("bob", "erin", 500, 10, 0)})
	// 3: carol empties her account (it stays, with nonce 1); erin spends
	// what she received; three transactions: the Merkle tree carries one.
	g.add(s, "miner", []Transaction{g.pay("carol", "alice", 251_990, 10, 0), g.pay("erin", "alice", 400, 10, 0)})
	// 4: frank spends, in the same block, what alice sent him; dave spends
	// his coinbase of block 1; the coinbase pays one unit less than allowed.
	g.add(s, "miner", []Transaction{g.pay("alice", "frank", 5000, 10, 2), g.pay("frank", "bob", 1000, 10, 0), g.pay("dave", "alice", 100, 15, 0)},
		func(b *Block) { b.Transactions[0].Amount--; b.Header.MerkleRoot = b.ComputeMerkleRoot() })
	// 5: stamped before its parent but after the median time past; a
	// transfer to oneself costs only the fee.
	g.add(-s/2, "miner", []Transaction{g.pay("alice", "alice", 100, 10, 3)})
	// 6: exactly MaxBlockSize bytes.
	g.add(s, "erin", []Transaction{g.pay("bob", "carol", 10, 10, 1), g.pay("bob", "carol", 20, 10, 2), g.pay("frank", "alice", 100, 10, 1), g.pay("erin", "frank", 50, 10, 1)})

	tip := g.tip()
	h := tip.Header.Height + 1
	ok, _ := g.build(s, "miner", []Transaction{g.pay("alice", "bob", 1, 10, 4)}).MarshalBinary()
	g.bad("one byte short", ErrMalformed, ok[:len(ok)-1])
	g.bad("a trailing byte", ErrMalformed, append(slices.Clone(ok), 0))
	g.bad("transaction count as a non-minimal varint (0x82 0x00 for 2)", ErrMalformed, slices.Concat(ok[:HeaderSize], []byte{0x82, 0x00}, ok[HeaderSize+1:]))
	g.bad("transaction count 3 with 2 transactions", ErrMalformed, slices.Concat(ok[:HeaderSize], []byte{3}, ok[HeaderSize+1:]))
	g.bad("a transaction with version 2", ErrBadVersion, func() []byte {
		b := slices.Clone(ok)
		b[HeaderSize+1+TxSize] = 2
		return b
	}())
	txs := []Transaction{g.pay("alice", "bob", 1, 10, 4)}
	g.badBlock("header version 2", ErrBadVersion, txs, func(b *Block) { b.Header.Version = 2 })
	g.bad("hash above the target", ErrBadProofOfWork, func() []byte {
		b := g.build(s, "miner", txs)
		breakPoW(b)
		enc, _ := b.MarshalBinary()
		return enc
	}())
	g.badBlock("bits with the sign bit set (0x2080ffff)", ErrBadTarget, txs, func(b *Block) { b.Header.Bits = 0x2080ffff })
	g.badBlock("bits easier than PowLimit (0x2100ffff)", ErrBadTarget, txs, func(b *Block) { b.Header.Bits = 0x2100ffff })
	g.badBlock("bits valid but not the expected bits (PowLimit's, 0x207fffff)", ErrBadTarget, txs, func(b *Block) { b.Header.Bits = 0x207fffff })
	g.badBlock("unknown parent", ErrUnknownParent, txs, func(b *Block) { b.Header.PrevHash = sum256([]byte("nowhere")) })
	g.badBlock("height 0 on an unknown parent: another chain's genesis", ErrBadGenesis, nil, func(b *Block) {
		b.Header.Height, b.Header.PrevHash = 0, sum256([]byte("other params"))
		b.Transactions[0].Nonce = 0
		b.Header.MerkleRoot = b.ComputeMerkleRoot()
	})
	g.badBlock("height two above the parent", ErrBadHeight, nil, func(b *Block) {
		b.Header.Height = h + 1
		b.Transactions[0] = NewCoinbase(g.addr("miner"), g.p.Reward(h+1), h+1)
		b.Header.MerkleRoot = b.ComputeMerkleRoot()
	})
	mtp, _ := g.chain.MedianTimePast(tip.Hash())
	g.badBlock("time equal to the median time past", ErrTimeTooOld, txs, func(b *Block) { b.Header.Time = mtp })
	g.badBlock("time one nanosecond beyond now + MaxFutureDrift", ErrTimeTooNew, txs, func(b *Block) {
		b.Header.Time = g.now.UnixNano() + int64(g.p.MaxFutureDrift) + 1
	})
	g.badBlock("Merkle root of other transactions", ErrBadMerkleRoot, txs, func(b *Block) { b.Header.MerkleRoot = sum256([]byte("root")) })
	var many []Transaction
	for i := range uint64(6) {
		many = append(many, g.pay("alice", "bob", 1, 10, 4+i))
	}
	g.badBlock("7 transactions, above MaxBlockTxs", ErrTooManyTxs, many)
	g.badBlock("6 transactions, 943 bytes, above MaxBlockSize", ErrBlockTooLarge, many[:5])
	g.badBlock("no transactions", ErrNoCoinbase, nil, func(b *Block) { b.Transactions = nil; b.Header.MerkleRoot = b.ComputeMerkleRoot() })
	g.badBlock("first transaction not a coinbase", ErrNoCoinbase, txs, func(b *Block) { b.Transactions = b.Transactions[1:]; b.Header.MerkleRoot = b.ComputeMerkleRoot() })
	fix := func(f func(*Block)) func(*Block) {
		return func(b *Block) { f(b); b.Header.MerkleRoot = b.ComputeMerkleRoot() }
	}
	g.badBlock("coinbase nonce not the height", ErrBadCoinbase, txs, fix(func(b *Block) { b.Transactions[0].Nonce++ }))
	g.badBlock("coinbase with a fee", ErrBadCoinbase, txs, fix(func(b *Block) { b.Transactions[0].Fee = 1; b.Transactions[0].Amount-- }))
	g.badBlock("coinbase with a signature", ErrBadCoinbase, txs, fix(func(b *Block) { b.Transactions[0].Signature[0] = 1 }))
	g.badBlock("a second coinbase", ErrExtraCoinbase, txs, fix(func(b *Block) {
		b.Transactions = append(b.Transactions, NewCoinbase(g.addr("miner"), 0, h))
	}))
	g.badBlock("the same transfer twice", ErrDuplicateTx, []Transaction{txs[0], txs[0]})
	g.badBlock("amount plus fee above MaxMoney", ErrOverflow, []Transaction{g.pay("alice", "bob", MaxMoney-9, 10, 4)})
	g.badBlock("fee one below MinTxFee", ErrFeeTooLow, []Transaction{g.pay("alice", "bob", 1, 9, 4)})
	g.badBlock("signed for another chain", ErrBadSignature, []Transaction{g.wallets["alice"].SignTransfer(sum256([]byte("other chain")), g.addr("bob"), 1, 10, 4)})
	g.badBlock("signature with S + L in place of S (malleated)", ErrBadSignature, []Transaction{func() Transaction {
		tx := txs[0]
		s := new(big.Int).SetBytes(reversed(tx.Signature[32:]))
		l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
		s.Add(s, l)
		copy(tx.Signature[32:], reversed(s.FillBytes(make([]byte, 32))))
		return tx
	}()})
	g.badBlock("the second transfer signed for a higher amount than it pays", ErrBadSignature, []Transaction{txs[0], func() Transaction {
		tx := g.pay("bob", "alice", 2, 10, 3)
		tx.Amount = 1
		return tx
	}()})
	g.badBlock("a transfer replayed from block 2", ErrNonceTooLow, []Transaction{g.blocks[2].Transactions[1]})
	g.badBlock("nonce one ahead", ErrNonceTooHigh, []Transaction{g.pay("alice", "bob", 1, 10, 5)})
	carol := g.chain.Account(g.addr("carol"))
	g.badBlock("spends one unit more than the balance", ErrInsufficientFunds, []Transaction{g.pay("carol", "bob", carol.Balance-9, 10, carol.Nonce)})
	own, _ := g.build(s, "grace", []Transaction{g.pay("grace", "bob", 1, 10, 0)}).MarshalBinary()
	g.bad("grace spends the coinbase of the same block, her first coins", ErrInsufficientFunds, own)
	g.badBlock("coinbase one unit above reward plus fees", ErrCoinbaseOverpays, txs, fix(func(b *Block) { b.Transactions[0].Amount++ }))
	return g.file("A chain with a fixed target (RetargetInterval 0), a reward halving every 2 blocks, MinTxFee 10, "+
		"MaxBlockTxs 6 and MaxBlockSize 802 (five transactions), three funded wallets and transfers between them; "+
		"invalid blocks are each judged alone as a child of the final tip.",
		[][2]int{{2, 0}, {2, 3}, {3, 2}, {4, 1}, {6, 4}})
}

func reversed(b []byte) []byte {
	out := slices.Clone(b)
	slices.Reverse(out)
	return out
}

// genRetargetVectors: a chain retargeted every 4 blocks through both
// clamps, the PowLimit cap and a block stamped exactly MaxTimewarp
// before its parent.
func genRetargetVectors(t *testing.T) []byte {
	p := TestParams()
	p.Name = "vectors-retarget"
	p.RetargetInterval = 4
	p.InitialTarget = TargetFromBits(8)
	p.PowLimit = TargetFromBits(4)
	p.BlockReward = 5000
	p.HalvingInterval = 0
	g := newVecGen(t, p, []string{"alice", "bob", "miner"}, map[string]uint64{"alice": 1_000_000})
	steps := []time.Duration{
		// 1-3: half the time (first period: 3 gaps from genesis).
		500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond,
		// 4-7: three times too slow.
		3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second,
		// 8-11, 12-15: far too slow: clamped to 4, then capped at PowLimit.
		100 * time.Second, 100 * time.Second, 100 * time.Second, 100 * time.Second,
		100 * time.Second, 100 * time.Second, 100 * time.Second, 100 * time.Second,
		// 16-19: far too fast: clamped to a quarter.
		10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond,
		// 20: exactly MaxTimewarp before its parent, yet after the median
		// time past; 21-23: a jump ahead at the end, so that the next
		// block's timewarp bound lies above the median time past.
		-10 * time.Second, time.Second, time.Second, 60 * time.Second,
	}
	nonce := uint64(0)
	for i, dt := range steps {
		var txs []Transaction
		if i%5 == 1 {
			txs = []Transaction{g.pay("alice", "bob", 1000*uint64(i), 1, nonce)}
			nonce++
		}
		g.add(dt, "miner", txs)
	}
	tip := g.tip()
	txs := []Transaction{g.pay("alice", "bob", 7, 1, nonce)}
	g.badBlock("first block of a period stamped MaxTimewarp + 1ns before its parent", ErrTimeTooOld, txs, func(b *Block) {
		b.Header.Time = tip.Header.Time - int64(g.p.MaxTimewarp) - 1
	})
	g.badBlock("first block of a period keeping the previous period's bits", ErrBadTarget, txs, func(b *Block) { b.Header.Bits = tip.Header.Bits })
	return g.file("A chain with RetargetInterval 4, TargetBlockTime 1s, InitialTarget TargetFromBits(8) and PowLimit TargetFromBits(4): "+
		"periods that take half the time, three times, far more (clamped, then capped at PowLimit) and far less (clamped) than expected, "+
		"and block 20 stamped exactly MaxTimewarp before its parent; invalid blocks are each judged alone as a child of the final tip.",
		[][2]int{{2, 1}, {12, 1}})
}

// ---- Verifying the vectors from PROTOCOL.md alone ----

// refSpec is what refChain takes from the page.
type refSpec struct {
	s                          *spec
	headerSize, txSize         int
	headerVersion, txVersion   uint64
	hdr, tx                    map[string]layoutField
	leafPrefix, nodePrefix     byte
	addressDomain, hrp         string
	charset                    string
	bech32mConst               uint32
	paramsDomain               string
	digest                     []layoutField
	maxMoney, rewardHorizon    uint64
	maxHalvings, allocBase     uint64
	medianBlocks               int
	clamp                      int64
	jsonKey                    map[string]string // params field → JSON key
	errorCodes                 map[string]bool
	addressSize, signatureSize int
}

func newRefSpec(t *testing.T, s *spec) *refSpec {
	r := &refSpec{
		s:             s,
		headerSize:    int(s.uintConst(t, "HeaderSize")),
		txSize:        int(s.uintConst(t, "TxSize")),
		headerVersion: s.uintConst(t, "HeaderVersion"),
		txVersion:     s.uintConst(t, "TxVersion"),
		leafPrefix:    byte(s.uintConst(t, "MerkleLeafPrefix")),
		nodePrefix:    byte(s.uintConst(t, "MerkleNodePrefix")),
		addressDomain: s.stringConst(t, "AddressDomain"),
		hrp:           s.stringConst(t, "AddressHRP"),
		charset:       s.stringConst(t, "Bech32Charset"),
		bech32mConst:  uint32(s.uintConst(t, "Bech32mConst")),
		paramsDomain:  s.stringConst(t, "ParamsDomain"),
		maxMoney:      s.uintConst(t, "MaxMoney"),
		rewardHorizon: s.uintConst(t, "RewardHorizon"),
		maxHalvings:   s.uintConst(t, "MaxHalvings"),
		allocBase:     s.uintConst(t, "AllocationNonceBase"),
		medianBlocks:  int(s.uintConst(t, "MedianTimeBlocks")),
		clamp:         int64(s.uintConst(t, "RetargetClamp")),
		addressSize:   int(s.uintConst(t, "AddressSize")),
		signatureSize: int(s.uintConst(t, "SignatureSize")),
		hdr:           make(map[string]layoutField),
		tx:            make(map[string]layoutField),
		jsonKey:       make(map[string]string),
		errorCodes:    make(map[string]bool),
	}
	for _, f := range s.layout(t, "header-layout", r.headerSize, "Offset", "Size", "Field", "Encoding") {
		r.hdr[f.name] = f
	}
	for _, f := range s.layout(t, "tx-layout", r.txSize, "Offset", "Size", "Field", "Encoding") {
		r.tx[f.name] = f
	}
	r.digest = s.layout(t, "params-digest-layout", int(s.uintConst(t, "ParamsDigestInputSize")), "Offset", "Size", "Content")
	for _, row := range s.table(t, "params", "Field", "JSON key", "JSON form", "DefaultParams", "TestParams").rows {
		r.jsonKey[row[0]] = row[1]
	}
	for _, row := range s.table(t, "error-codes", "Code", "Number", "Kind", "Meaning").rows {
		r.errorCodes[row[0]] = true
	}
	return r
}

// refParams are a chain's parameters as refChain reads them.
type refParams struct {
	genesisTime                                              int64
	allocTo                                                  [][]byte
	allocAmount                                              []uint64
	initialTarget, powLimit                                  *big.Int
	targetBlockTime, maxTimewarp, maxFutureDrift             int64
	retargetInterval, blockReward, halvingInterval, minTxFee uint64
	maxBlockSize, maxBlockTxs                                uint64
	fields                                                   map[string]uint64 // the u64 fields of the digest, by name
}

// refHeader is a decoded header.
type refHeader struct {
	version, bits              uint64
	height, nonce              uint64
	time                       int64
	prevHash, merkleRoot, hash [32]byte
}

type refTx struct {
	raw                []byte
	from, to, sig      []byte
	amount, fee, nonce uint64
	version            uint64
	id                 [32]byte
}

type refNode struct {
	hdr       refHeader
	parent    *refNode
	chainWork *big.Int
}

type refAccount struct{ balance, nonce uint64 }

// refChain validates blocks by PROTOCOL.md.
type refChain struct {
	t        *testing.T
	r        *refSpec
	p        refParams
	chainID  [32]byte
	nodes    map[[32]byte]*refNode
	tip      *refNode
	accounts map[string]refAccount // by address bytes
}

func (r *refSpec) field(b []byte, layout map[string]layoutField, name string) []byte {
	f, ok := layout[name]
	if !ok {
		panic("no field " + name)
	}
	return b[f.off : f.off+f.size]
}

func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func (r *refSpec) decodeHeader(b []byte) refHeader {
	var h refHeader
	h.version = beUint(r.field(b, r.hdr, "version"))
	h.height = beUint(r.field(b, r.hdr, "height"))
	copy(h.prevHash[:], r.field(b, r.hdr, "prev_hash"))
	copy(h.merkleRoot[:], r.field(b, r.hdr, "merkle_root"))
	h.time = int64(beUint(r.field(b, r.hdr, "time")))
	h.bits = beUint(r.field(b, r.hdr, "bits"))
	h.nonce = beUint(r.field(b, r.hdr, "nonce"))
	h.hash = sha256.Sum256(b)
	return h
}

func (r *refSpec) decodeTx(b []byte) refTx {
	return refTx{
		raw:     b,
		version: beUint(r.field(b, r.tx, "version")),
		from:    r.field(b, r.tx, "from"),
		to:      r.field(b, r.tx, "to"),
		amount:  beUint(r.field(b, r.tx, "amount")),
		fee:     beUint(r.field(b, r.tx, "fee")),
		nonce:   beUint(r.field(b, r.tx, "nonce")),
		sig:     r.field(b, r.tx, "signature"),
		id:      sha256.Sum256(b),
	}
}

// decodeBlock is section 5.3; it returns an error code name on failure.
func (r *refSpec) decodeBlock(b []byte) (refHeader, []refTx, string) {
	if len(b) < r.headerSize+1 {
		return refHeader{}, nil, "ErrMalformed"
	}
	h := r.decodeHeader(b[:r.headerSize])
	n, k := binary.Uvarint(b[r.headerSize:])
	if k <= 0 || k != len(binary.AppendUvarint(nil, n)) {
		return refHeader{}, nil, "ErrMalformed"
	}
	rest := b[r.headerSize+k:]
	if uint64(len(rest)) != n*uint64(r.txSize) || n > uint64(len(rest)) {
		return refHeader{}, nil, "ErrMalformed"
	}
	var txs []refTx
	for i := range int(n) {
		tx := r.decodeTx(rest[i*r.txSize : (i+1)*r.txSize])
		if tx.version != r.txVersion {
			return refHeader{}, nil, "ErrBadVersion"
		}
		txs = append(txs, tx)
	}
	return h, txs, ""
}

func isZero(b []byte) bool { return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) }

func (r *refSpec) address(pub []byte) []byte {
	h := sha256.Sum256(append([]byte(r.addressDomain), pub...))
	return h[:r.addressSize]
}

// bech32Decode is section 3.3's decoding of an address.
func (r *refSpec) bech32Decode(s string) ([]byte, bool) {
	if len(s) > 90 || strings.ToLower(s) != s {
		return nil, false
	}
	sep := strings.LastIndexByte(s, '1')
	if sep < 1 || sep+7 > len(s) || s[:sep] != r.hrp {
		return nil, false
	}
	var values []byte
	for i := sep + 1; i < len(s); i++ {
		v := strings.IndexByte(r.charset, s[i])
		if v < 0 {
			return nil, false
		}
		values = append(values, byte(v))
	}
	// Regroup 5 → 8 bits without padding, then re-encode to check the
	// checksum (the encoder computes it from scratch).
	var out []byte
	acc, bits := 0, 0
	for _, v := range values[:len(values)-6] {
		acc = (acc<<5 | int(v)) & 0xfff
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if bits >= 5 || acc&(1<<bits-1) != 0 || len(out) != r.addressSize {
		return nil, false
	}
	if refBech32Encode(r.charset, r.bech32mConst, r.hrp, out) != s {
		return nil, false
	}
	return out, true
}

// parseParams reads a params object by the keys of the page's table.
func (r *refSpec) parseParams(t *testing.T, data []byte) refParams {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	get := func(field string, v any) {
		raw, ok := obj[r.jsonKey[field]]
		if !ok && field == "Allocations" {
			return
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("params %s (%s): %v", field, r.jsonKey[field], err)
		}
	}
	var p refParams
	p.fields = make(map[string]uint64)
	var gt, it, pl, tbt, mtw, mfd string
	get("GenesisTime", &gt)
	tm, err := time.Parse(time.RFC3339Nano, gt)
	if err != nil {
		t.Fatal(err)
	}
	p.genesisTime = tm.UnixNano()
	var allocs []struct {
		To     string `json:"to"`
		Amount uint64 `json:"amount"`
	}
	get("Allocations", &allocs)
	for _, a := range allocs {
		to, ok := r.bech32Decode(a.To)
		if !ok {
			t.Fatalf("allocation to %q: not an address", a.To)
		}
		p.allocTo, p.allocAmount = append(p.allocTo, to), append(p.allocAmount, a.Amount)
	}
	target := func(s string) *big.Int {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("target %q", s)
		}
		return new(big.Int).SetBytes(b)
	}
	get("InitialTarget", &it)
	get("PowLimit", &pl)
	p.initialTarget, p.powLimit = target(it), target(pl)
	dur := func(field string, s string) int64 {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		p.fields[field] = uint64(d)
		return int64(d)
	}
	get("TargetBlockTime", &tbt)
	get("MaxTimewarp", &mtw)
	get("MaxFutureDrift", &mfd)
	p.targetBlockTime, p.maxTimewarp, p.maxFutureDrift = dur("TargetBlockTime", tbt), dur("MaxTimewarp", mtw), dur("MaxFutureDrift", mfd)
	for field, dst := range map[string]*uint64{
		"RetargetInterval": &p.retargetInterval, "BlockReward": &p.blockReward, "HalvingInterval": &p.halvingInterval,
		"MinTxFee": &p.minTxFee, "MaxBlockSize": &p.maxBlockSize, "MaxBlockTxs": &p.maxBlockTxs,
	} {
		get(field, dst)
		p.fields[field] = *dst
	}
	return p
}

// digestInput is section 7.4, driven by the page's layout.
func (r *refSpec) digestInput(t *testing.T, p refParams) []byte {
	b := []byte(r.paramsDomain)
	for _, row := range r.digest[1:] {
		switch field := strings.Trim(strings.Fields(row.name)[0], "`,"); field {
		case "InitialTarget":
			b = binary.BigEndian.AppendUint32(b, refCompact(p.initialTarget))
		case "PowLimit":
			b = append(b, p.powLimit.FillBytes(make([]byte, 32))...)
		default:
			v, ok := p.fields[field]
			if !ok {
				t.Fatalf("params digest: no field %s", field)
			}
			b = binary.BigEndian.AppendUint64(b, v)
		}
	}
	return b
}

func (r *refSpec) encodeTx(from, to []byte, amount, fee, nonce uint64, sig []byte) []byte {
	b := make([]byte, r.txSize)
	put := func(name string, v []byte) { copy(r.field(b, r.tx, name), v) }
	put("version", be(r.txVersion, 1))
	put("from", from)
	put("to", to)
	put("amount", be(amount, 8))
	put("fee", be(fee, 8))
	put("nonce", be(nonce, 8))
	put("signature", sig)
	return b
}

// genesis is section 8.
func (r *refSpec) genesis(t *testing.T, p refParams) []byte {
	var ids []Hash
	var txs [][]byte
	for i := range p.allocTo {
		tx := r.encodeTx(make([]byte, 32), p.allocTo[i], p.allocAmount[i], 0, r.allocBase+uint64(i), make([]byte, r.signatureSize))
		txs = append(txs, tx)
		ids = append(ids, sha256.Sum256(tx))
	}
	h := make([]byte, r.headerSize)
	put := func(name string, v []byte) { copy(r.field(h, r.hdr, name), v) }
	put("version", be(r.headerVersion, 4))
	put("height", be(0, 8))
	put("prev_hash", sha256Sum(r.digestInput(t, p)))
	root := refMerkleRoot(r.leafPrefix, r.nodePrefix, ids)
	put("merkle_root", root[:])
	put("time", be(uint64(p.genesisTime), 8))
	put("bits", be(uint64(refCompact(p.initialTarget)), 4))
	put("nonce", be(0, 8))
	return slices.Concat(h, binary.AppendUvarint(nil, uint64(len(txs))), slices.Concat(txs...))
}

func sha256Sum(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

func work(target *big.Int) *big.Int {
	w := new(big.Int).Lsh(big.NewInt(1), 256)
	return w.Quo(w, new(big.Int).Add(target, big.NewInt(1)))
}

// ancestor returns n's ancestor at height h.
func (n *refNode) ancestor(h uint64) *refNode {
	for n.hdr.height > h {
		n = n.parent
	}
	return n
}

// expectedBits is section 9; it also returns the retarget's span.
func (c *refChain) expectedBits(parent *refNode) (bits uint64, from *refNode, actual, expected int64) {
	h, n := parent.hdr.height+1, c.p.retargetInterval
	if n == 0 || h%n != 0 {
		return parent.hdr.bits, nil, 0, 0
	}
	from = parent.ancestor(0)
	if h > n {
		from = parent.ancestor(h - n - 1)
	}
	actual = parent.hdr.time - from.hdr.time
	expected = int64(parent.hdr.height-from.hdr.height) * c.p.targetBlockTime
	bits = uint64(refRetarget(uint32(parent.hdr.bits), actual, parent.hdr.height-from.hdr.height, c.p.targetBlockTime, c.p.powLimit, c.r.clamp))
	return bits, from, actual, expected
}

// mtp is section 10.1.
func (c *refChain) mtp(n *refNode) int64 {
	var times []int64
	for ; n != nil && len(times) < c.r.medianBlocks; n = n.parent {
		times = append(times, n.hdr.time)
	}
	slices.Reverse(times)
	return refMedian(times, c.r.medianBlocks)
}

// reward is section 11.1.
func (c *refChain) reward(h uint64) uint64 {
	return refReward(c.p.blockReward, c.p.halvingInterval, h, c.r.rewardHorizon, c.r.maxHalvings)
}

// judge applies section 12 to an encoded block received at now. It
// returns the error code name ("" if valid) and, for a valid block, its
// node and the state after it; nothing in c changes.
func (c *refChain) judge(data []byte, now int64) (string, *refNode, map[string]refAccount) {
	h, txs, bad := c.r.decodeBlock(data)
	if bad != "" {
		return bad, nil, nil
	}
	// 1-4: the header alone.
	if h.version != c.r.headerVersion {
		return "ErrBadVersion", nil, nil
	}
	target, ok := refDecodeCompact(uint32(h.bits))
	if !ok || target.Cmp(c.p.powLimit) > 0 {
		return "ErrBadTarget", nil, nil
	}
	if new(big.Int).SetBytes(h.hash[:]).Cmp(target) > 0 {
		return "ErrBadProofOfWork", nil, nil
	}
	// 5-7: the parent (no block is known invalid here).
	parent := c.nodes[h.prevHash]
	switch {
	case parent == nil && h.height == 0:
		return "ErrBadGenesis", nil, nil
	case parent == nil:
		return "ErrUnknownParent", nil, nil
	}
	// 8-12: the header against its parent.
	if h.height != parent.hdr.height+1 {
		return "ErrBadHeight", nil, nil
	}
	if want, _, _, _ := c.expectedBits(parent); h.bits != want {
		return "ErrBadTarget", nil, nil
	}
	if h.time <= c.mtp(parent) {
		return "ErrTimeTooOld", nil, nil
	}
	if n := c.p.retargetInterval; n > 0 && h.height%n == 0 && h.time < parent.hdr.time-c.p.maxTimewarp {
		return "ErrTimeTooOld", nil, nil
	}
	if now <= math.MaxInt64-c.p.maxFutureDrift && h.time > now+c.p.maxFutureDrift {
		return "ErrTimeTooNew", nil, nil
	}
	// 13-18: the body.
	if uint64(len(txs)) > c.p.maxBlockTxs {
		return "ErrTooManyTxs", nil, nil
	}
	if uint64(len(data)) > c.p.maxBlockSize {
		return "ErrBlockTooLarge", nil, nil
	}
	ids := make([]Hash, len(txs))
	for i, tx := range txs {
		ids[i] = tx.id
	}
	if refMerkleRoot(c.r.leafPrefix, c.r.nodePrefix, ids) != h.merkleRoot {
		return "ErrBadMerkleRoot", nil, nil
	}
	if len(txs) == 0 || !isZero(txs[0].from) {
		return "ErrNoCoinbase", nil, nil
	}
	if cb := txs[0]; cb.nonce != h.height || cb.fee != 0 || !isZero(cb.sig) {
		return "ErrBadCoinbase", nil, nil
	}
	seen := make(map[[32]byte]bool)
	for i, tx := range txs {
		switch {
		case i > 0 && isZero(tx.from):
			return "ErrExtraCoinbase", nil, nil
		case seen[tx.id]:
			return "ErrDuplicateTx", nil, nil
		case tx.amount > c.r.maxMoney || tx.fee > c.r.maxMoney || tx.amount+tx.fee > c.r.maxMoney:
			return "ErrOverflow", nil, nil
		case i > 0 && tx.fee < c.p.minTxFee:
			return "ErrFeeTooLow", nil, nil
		}
		seen[tx.id] = true
	}
	// 19: signatures.
	for _, tx := range txs[1:] {
		if !ed25519.Verify(tx.from, specSigningMessage(c.t, c.r.s, tx.raw, c.chainID), tx.sig) {
			return "ErrBadSignature", nil, nil
		}
	}
	// 20-21: the state after the parent, which must be the tip here.
	if parent != c.tip {
		c.t.Fatalf("vector block on a parent that is not the tip: refChain keeps only the tip's state")
	}
	accts := make(map[string]refAccount, len(c.accounts))
	for a, v := range c.accounts {
		accts[a] = v
	}
	var fees uint64
	for _, tx := range txs[1:] {
		from := string(c.r.address(tx.from))
		a := accts[from]
		switch {
		case tx.nonce < a.nonce:
			return "ErrNonceTooLow", nil, nil
		case tx.nonce > a.nonce:
			return "ErrNonceTooHigh", nil, nil
		case tx.nonce == math.MaxUint64:
			return "ErrOverflow", nil, nil
		case a.balance < tx.amount+tx.fee:
			return "ErrInsufficientFunds", nil, nil
		}
		accts[from] = refAccount{a.balance - tx.amount - tx.fee, a.nonce + 1}
		to := accts[string(tx.to)]
		to.balance += tx.amount
		accts[string(tx.to)] = to
		fees += tx.fee
	}
	if txs[0].amount > c.reward(h.height)+fees {
		return "ErrCoinbaseOverpays", nil, nil
	}
	to := accts[string(txs[0].to)]
	to.balance += txs[0].amount
	accts[string(txs[0].to)] = to
	node := &refNode{hdr: h, parent: parent, chainWork: new(big.Int).Add(parent.chainWork, work(target))}
	return "", node, accts
}

// verifyVectors checks a vector file with refChain.
func verifyVectors(t *testing.T, s *spec, data []byte) {
	r := newRefSpec(t, s)
	var f vecFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	hexOf := func(b []byte) string { return hex.EncodeToString(b) }
	c := &refChain{t: t, r: r, p: r.parseParams(t, f.Params), nodes: make(map[[32]byte]*refNode), accounts: make(map[string]refAccount)}

	// Params digest, genesis, chain ID.
	in := r.digestInput(t, c.p)
	if hexOf(in) != f.ParamsDigestInput || hexOf(sha256Sum(in)) != f.ParamsDigest {
		t.Errorf("params digest: the page gives %x", sha256Sum(in))
	}
	g := r.genesis(t, c.p)
	if hexOf(g) != f.Blocks[0].Block {
		t.Fatalf("genesis: the page gives\n%x\nthe vectors say\n%s", g, f.Blocks[0].Block)
	}
	gh, gtxs, _ := r.decodeBlock(g)
	c.chainID = gh.hash
	if hexOf(c.chainID[:]) != f.ChainID {
		t.Fatalf("chain ID: the page gives %x, the vectors say %s", c.chainID, f.ChainID)
	}
	genesisTarget, _ := refDecodeCompact(uint32(gh.bits))
	c.tip = &refNode{hdr: gh, chainWork: work(genesisTarget)}
	c.nodes[gh.hash] = c.tip
	for _, tx := range gtxs {
		a := c.accounts[string(tx.to)]
		a.balance += tx.amount
		c.accounts[string(tx.to)] = a
	}

	// Wallets.
	for _, w := range f.Wallets {
		seed, _ := hex.DecodeString(w.Seed)
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		addr := r.address(pub)
		if hexOf(pub) != w.PublicKey || hexOf(addr) != w.Address || refBech32Encode(r.charset, r.bech32mConst, r.hrp, addr) != w.AddressText {
			t.Errorf("wallet %s: the page gives key %x, address %x", w.Name, pub, addr)
		}
		if back, ok := r.bech32Decode(w.AddressText); !ok || !bytes.Equal(back, addr) {
			t.Errorf("wallet %s: %s does not decode", w.Name, w.AddressText)
		}
	}

	now, err := strconv.ParseInt(f.Now, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// Every block, genesis included, field by field.
	for i, vb := range f.Blocks {
		raw, err := hex.DecodeString(vb.Block)
		if err != nil {
			t.Fatal(err)
		}
		node, txs := c.tip, gtxs
		var fees uint64
		var retarget *vecRetarget
		if i > 0 {
			parent := c.tip
			_, from, actual, expected := c.expectedBits(parent)
			if from != nil {
				retarget = &vecRetarget{FromHeight: from.hdr.height, Actual: strconv.FormatInt(actual, 10), Expected: strconv.FormatInt(expected, 10)}
			}
			code, n, accts := c.judge(raw, now)
			if code != "" {
				t.Fatalf("block %d: the page's rules refuse it: %s", i, code)
			}
			var bad string
			_, txs, bad = r.decodeBlock(raw)
			if bad != "" {
				t.Fatal(bad)
			}
			for _, tx := range txs[1:] {
				fees += tx.fee
			}
			node, c.tip, c.accounts = n, n, accts
			c.nodes[n.hdr.hash] = n
		}
		h := node.hdr
		target, _ := refDecodeCompact(uint32(h.bits))
		reward := "0"
		if i > 0 {
			reward = strconv.FormatUint(c.reward(h.height), 10)
		}
		got := vecBlock{
			Height: h.height, Hash: hexOf(h.hash[:]), Block: vb.Block,
			MerkleRoot: hexOf(h.merkleRoot[:]), Time: strconv.FormatInt(h.time, 10), Bits: fmt.Sprintf("0x%08x", h.bits),
			Target: hexOf(target.FillBytes(make([]byte, 32))), Retarget: retarget, Work: work(target).String(),
			ChainWork: node.chainWork.String(), MedianTimePast: strconv.FormatInt(c.mtp(node), 10),
			Reward: reward, Fees: strconv.FormatUint(fees, 10),
		}
		for _, tx := range txs {
			vt := vecTx{Bytes: hexOf(tx.raw), ID: hexOf(tx.id[:])}
			if !isZero(tx.from) {
				vt.SigningMessage = hexOf(specSigningMessage(t, s, tx.raw, c.chainID))
			}
			got.Transactions = append(got.Transactions, vt)
		}
		if gj, wj := mustJSON(t, got), mustJSON(t, vb); gj != wj {
			t.Errorf("block %d: the page gives\n%s\nthe vectors say\n%s", i, gj, wj)
		}
	}
	if next, _, _, _ := c.expectedBits(c.tip); fmt.Sprintf("0x%08x", next) != f.NextBits {
		t.Errorf("next bits: the page gives %#08x, the vectors say %s", next, f.NextBits)
	}

	// Merkle proofs, read without the package's types.
	var proofs struct {
		MerkleProofs []struct {
			Height     uint64
			Leaf, Root string
			Proof      struct {
				Index, Size uint64
				Path        []string
			}
		} `json:"merkle_proofs"`
	}
	if err := json.Unmarshal(data, &proofs); err != nil {
		t.Fatal(err)
	}
	for _, p := range proofs.MerkleProofs {
		root, leaf := mustHash(t, p.Root), mustHash(t, p.Leaf)
		var path []Hash
		for _, h := range p.Proof.Path {
			path = append(path, mustHash(t, h))
		}
		if hexOf(c.tip.ancestor(p.Height).hdr.merkleRoot[:]) != p.Root {
			t.Errorf("proof at height %d: root is not the block's", p.Height)
		}
		if !refVerifyMerkleProof(r.leafPrefix, r.nodePrefix, root, leaf, p.Proof.Index, p.Proof.Size, path) {
			t.Errorf("proof of %s at height %d does not verify by the page", p.Leaf, p.Height)
		}
		if len(path) > 0 && refVerifyMerkleProof(r.leafPrefix, r.nodePrefix, root, leaf, p.Proof.Index, p.Proof.Size, path[1:]) {
			t.Errorf("a shortened proof verifies")
		}
	}
	if len(proofs.MerkleProofs) == 0 {
		t.Error("no Merkle proofs")
	}

	// Final state: every account that is not (0, 0), in address order.
	final := vecFinal{Tip: hexOf(c.tip.hdr.hash[:]), Height: c.tip.hdr.height, ChainWork: c.tip.chainWork.String()}
	for _, a := range slices.Sorted(func(yield func(string) bool) {
		for a := range c.accounts {
			if !yield(a) {
				return
			}
		}
	}) {
		acct := c.accounts[a]
		if acct == (refAccount{}) {
			continue
		}
		final.Accounts = append(final.Accounts, vecAccount{hexOf([]byte(a)), refBech32Encode(r.charset, r.bech32mConst, r.hrp, []byte(a)),
			strconv.FormatUint(acct.balance, 10), strconv.FormatUint(acct.nonce, 10)})
	}
	if gj, wj := mustJSON(t, final), mustJSON(t, f.Final); gj != wj {
		t.Errorf("final state: the page gives\n%s\nthe vectors say\n%s", gj, wj)
	}

	// Invalid blocks, each judged alone on the tip.
	for _, inv := range f.InvalidBlocks {
		raw, err := hex.DecodeString(inv.Block)
		if err != nil {
			t.Fatal(err)
		}
		if !r.errorCodes[inv.Error] {
			t.Errorf("%s: error %s is not in the page's table", inv.Description, inv.Error)
		}
		if code, _, _ := c.judge(raw, now); code != inv.Error {
			t.Errorf("%s: the page's rules give %q, the vectors say %s", inv.Description, code, inv.Error)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustHash(t *testing.T, s string) Hash {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad hash %q", s)
	}
	return Hash(b)
}
