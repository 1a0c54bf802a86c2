package blockchain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testSeed returns a deterministic wallet seed for person i.
func testSeed(i int) [SeedSize]byte {
	var s [SeedSize]byte
	copy(s[:], fmt.Sprintf("nakachain test wallet %d", i))
	return s
}

func testWallet(i int) *Wallet { return WalletFromSeed(testSeed(i)) }

var testChainID = Hash{1, 2, 3}

func TestHashText(t *testing.T) {
	h := sum256([]byte("abc"))
	want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if h.String() != want {
		t.Fatalf("sha256(abc) = %s", h)
	}
	got, err := ParseHash(want)
	if err != nil || got != h {
		t.Fatalf("ParseHash = %v, %v", got, err)
	}
	for _, bad := range []string{"", want[:63], want + "0", "zz" + want[2:]} {
		if _, err := ParseHash(bad); !errors.Is(err, ErrInvalidHash) {
			t.Errorf("ParseHash(%q) err = %v", bad, err)
		}
	}
	b, _ := json.Marshal(h)
	var back Hash
	if err := json.Unmarshal(b, &back); err != nil || back != h {
		t.Fatalf("JSON round trip: %v %v", back, err)
	}
}

func TestMerkleProofsAllSizes(t *testing.T) {
	for size := 1; size <= 33; size++ {
		leaves := make([]Hash, size)
		for i := range leaves {
			leaves[i] = sum256([]byte(fmt.Sprint("leaf", i)))
		}
		root := MerkleRoot(leaves)
		if want := recursiveRoot(leaves); root != want {
			t.Fatalf("size %d: root %s, recursive definition gives %s", size, root.Short(8), want.Short(8))
		}
		for i := range leaves {
			p, err := NewMerkleProof(leaves, i)
			if err != nil {
				t.Fatal(err)
			}
			if !VerifyMerkleProof(root, leaves[i], p) {
				t.Fatalf("size %d index %d: valid proof rejected", size, i)
			}
			// Wrong leaf.
			if VerifyMerkleProof(root, leaves[(i+1)%size], p) && size > 1 {
				t.Fatalf("size %d index %d: wrong leaf accepted", size, i)
			}
			// Wrong index (every other index).
			for j := range size {
				if j == i {
					continue
				}
				q := p
				q.Index = uint64(j)
				if VerifyMerkleProof(root, leaves[i], q) {
					t.Fatalf("size %d: proof for %d accepted at index %d", size, i, j)
				}
			}
			// Wrong root.
			bad := root
			bad[5] ^= 1
			if VerifyMerkleProof(bad, leaves[i], p) {
				t.Fatalf("size %d index %d: wrong root accepted", size, i)
			}
			// Tampered or truncated path. (A wrong Size alone is not always
			// caught: sizes 3 and 4 share leaf 0's path. Size is a claim the
			// path supports, not a commitment.)
			q := p
			if len(p.Path) > 0 {
				q = p
				q.Path = append([]Hash(nil), p.Path...)
				q.Path[len(q.Path)-1][0] ^= 0x80
				if VerifyMerkleProof(root, leaves[i], q) {
					t.Fatalf("size %d index %d: tampered path accepted", size, i)
				}
				q.Path = p.Path[:len(p.Path)-1]
				if VerifyMerkleProof(root, leaves[i], q) {
					t.Fatalf("size %d index %d: truncated path accepted", size, i)
				}
			}
			q = p
			q.Path = append(append([]Hash(nil), p.Path...), root)
			if VerifyMerkleProof(root, leaves[i], q) {
				t.Fatalf("size %d index %d: over-long path accepted", size, i)
			}
		}
	}
	if _, err := NewMerkleProof([]Hash{{}}, 1); !errors.Is(err, ErrBadProofIndex) {
		t.Fatalf("out-of-range index: %v", err)
	}
}

// recursiveRoot is RFC 9162's definition, written independently of MerkleRoot.
func recursiveRoot(d []Hash) Hash {
	if len(d) == 1 {
		return merkleLeaf(d[0])
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	return merkleNode(recursiveRoot(d[:k]), recursiveRoot(d[k:]))
}

func TestMerkleNoDuplicateLastLeafAmbiguity(t *testing.T) {
	a, b, c := Hash{1}, Hash{2}, Hash{3}
	// Bitcoin's tree gives [a b c] and [a b c c] the same root.
	if MerkleRoot([]Hash{a, b, c}) == MerkleRoot([]Hash{a, b, c, c}) {
		t.Fatal("duplicating the last leaf gives the same root")
	}
	// A leaf can never stand for an inner node.
	inner := merkleNode(merkleLeaf(a), merkleLeaf(b))
	if MerkleRoot([]Hash{inner}) == MerkleRoot([]Hash{a, b}) {
		t.Fatal("inner node accepted as a leaf")
	}
}

func TestAddressText(t *testing.T) {
	w := testWallet(1)
	a := w.Address()
	s := a.String()
	if !strings.HasPrefix(s, AddressPrefix+"1") || len(s) != 41 {
		t.Fatalf("address text %q", s)
	}
	got, err := ParseAddress(s)
	if err != nil || got != a {
		t.Fatalf("ParseAddress(%q) = %v, %v", s, got, err)
	}
	if got, err := ParseAddress(strings.ToUpper(s)); err != nil || got != a {
		t.Fatalf("upper case: %v, %v", got, err)
	}
	// Every one-character substitution, in every position, fails.
	const alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	typos := 0
	for i := range s {
		for _, c := range alphabet + "1bio" {
			if byte(c) == s[i] {
				continue
			}
			typo := s[:i] + string(c) + s[i+1:]
			if _, err := ParseAddress(typo); !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("typo %q (position %d) parsed: err=%v", typo, i, err)
			}
			typos++
		}
	}
	// Swapping two adjacent different characters fails too.
	for i := 0; i+1 < len(s); i++ {
		if s[i] == s[i+1] {
			continue
		}
		swap := s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
		if _, err := ParseAddress(swap); err == nil {
			t.Fatalf("transposition %q parsed", swap)
		}
	}
	for _, bad := range []string{"", "nk1", s[:len(s)-1], s + "q", "bc" + s[2:]} {
		if _, err := ParseAddress(bad); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("ParseAddress(%q) err = %v", bad, err)
		}
	}
	t.Logf("%d single-character typos all rejected", typos)
}

func TestWalletDeterministic(t *testing.T) {
	a, b := testWallet(7), WalletFromSeed(testSeed(7))
	if a.PublicKey() != b.PublicKey() || a.Address() != b.Address() || a.Seed() != testSeed(7) {
		t.Fatal("same seed, different wallet")
	}
	if testWallet(8).Address() == a.Address() {
		t.Fatal("different seeds, same address")
	}
	r := rand.New(rand.NewPCG(1, 2))
	w1, err := NewWallet(readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return len(p), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	w2, err := NewWallet(nil)
	if err != nil || w1.Address() == w2.Address() {
		t.Fatalf("random wallets: %v", err)
	}
	if _, err := NewWallet(strings.NewReader("short")); err == nil {
		t.Fatal("short random source accepted")
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

var fastKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func TestKeyFile(t *testing.T) {
	w := testWallet(3)
	pass := []byte("correct horse battery staple")
	data, err := w.EncryptKey(pass, fastKDF, nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecryptKey(data, pass)
	if err != nil || back.Seed() != w.Seed() {
		t.Fatalf("decrypt: %v", err)
	}
	if _, err := DecryptKey(data, []byte("Correct horse battery staple")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	// Flipping any bit of any byte is an error, never a different key.
	for i := range data {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(data)
			bad[i] ^= bit
			got, err := DecryptKey(bad, pass)
			if err == nil {
				t.Fatalf("byte %d bit %#x flipped: decrypted to %s", i, bit, got.Address())
			}
			if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrKeyFileFormat) {
				t.Fatalf("byte %d: unexpected error %v", i, err)
			}
		}
	}
	for _, bad := range [][]byte{nil, data[:len(data)-1], append(bytes.Clone(data), 0)} {
		if _, err := DecryptKey(bad, pass); !errors.Is(err, ErrKeyFileFormat) {
			t.Fatalf("length %d: %v", len(bad), err)
		}
	}

	path := t.TempDir() + "/alice.key"
	if err := w.SaveKeyFile(path, pass, fastKDF); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadKeyFile(path, pass)
	if err != nil || loaded.Address() != w.Address() {
		t.Fatalf("load: %v", err)
	}
	if _, err := LoadKeyFile(path+".missing", pass); err == nil {
		t.Fatal("missing file loaded")
	}
}

func signedTx(t testing.TB) Transaction {
	alice, bob := testWallet(1), testWallet(2)
	return alice.Send(testChainID, bob.Address(), 1500, 25, 3)
}

func TestTransactionRoundTrips(t *testing.T) {
	for _, tx := range []Transaction{signedTx(t), NewCoinbase(testWallet(4).Address(), 5000, 9), {}} {
		bin, err := tx.MarshalBinary()
		if err != nil || len(bin) != TxSize {
			t.Fatalf("binary: %d bytes, %v", len(bin), err)
		}
		var back Transaction
		if err := back.UnmarshalBinary(bin); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tx, back); diff != "" {
			t.Fatalf("binary round trip (-want +got):\n%s", diff)
		}
		js, err := json.Marshal(tx)
		if err != nil {
			t.Fatal(err)
		}
		back = Transaction{}
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if diff := cmp.Diff(tx, back); diff != "" {
			t.Fatalf("JSON round trip of %s (-want +got):\n%s", js, diff)
		}
		if back.ID() != tx.ID() {
			t.Fatal("ID changed")
		}
	}
	var tx Transaction
	bin, _ := signedTx(t).MarshalBinary()
	bin[0] = 2
	if err := tx.UnmarshalBinary(bin); !errors.Is(err, ErrBadVersion) || tx != (Transaction{}) {
		t.Fatalf("version 2: %v, tx changed: %v", err, tx != (Transaction{}))
	}
	if err := tx.UnmarshalBinary(bin[:TxSize-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short: %v", err)
	}
	var re *RuleError
	if err := tx.UnmarshalBinary(nil); !errors.As(err, &re) || re.Code != ErrMalformed {
		t.Fatalf("errors.As RuleError: %v", err)
	}
}

func TestTransactionVerify(t *testing.T) {
	tx := signedTx(t)
	if err := tx.Verify(testChainID); err != nil {
		t.Fatalf("valid transaction: %v", err)
	}
	// Flipping any bit of any field (any byte of the encoding) breaks it.
	bin, _ := tx.MarshalBinary()
	for i := 1; i < TxSize; i++ { // byte 0 is the version: decoding refuses it
		bad := bytes.Clone(bin)
		bad[i] ^= 0x04
		var m Transaction
		if err := m.UnmarshalBinary(bad); err != nil {
			t.Fatal(err)
		}
		if err := m.Verify(testChainID); !errors.Is(err, ErrBadSignature) && !m.IsCoinbase() {
			t.Fatalf("byte %d changed: Verify = %v", i, err)
		}
	}
	for name, mutate := range map[string]func(*Transaction){
		"from":      func(tx *Transaction) { tx.From = testWallet(9).PublicKey() },
		"to":        func(tx *Transaction) { tx.To[19]++ },
		"amount":    func(tx *Transaction) { tx.Amount++ },
		"fee":       func(tx *Transaction) { tx.Fee-- },
		"nonce":     func(tx *Transaction) { tx.Nonce++ },
		"signature": func(tx *Transaction) { tx.Signature[63] ^= 1 },
		"coinbase":  func(tx *Transaction) { tx.From = PublicKey{} },
	} {
		m := tx
		mutate(&m)
		if err := m.Verify(testChainID); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s changed: Verify = %v", name, err)
		}
	}
	// Signed for one chain, invalid on another.
	other := testChainID
	other[31] = 0xff
	if err := tx.Verify(other); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other chain: %v", err)
	}
	if tx.ID() == signedTx(t).ID() && tx.ID() == (Hash{}) {
		t.Fatal("zero ID")
	}
}

func testHeader() Header {
	return Header{
		Version:    HeaderVersion,
		Height:     42,
		PrevHash:   sum256([]byte("prev")),
		MerkleRoot: sum256([]byte("root")),
		Time:       time.Date(2026, 11, 23, 12, 0, 0, 123, time.UTC).UnixNano(),
		Bits:       TargetFromBits(8).Compact(),
		Nonce:      0x0102030405060708,
	}
}

func TestHeaderLayout(t *testing.T) {
	h := testHeader()
	b, _ := h.MarshalBinary()
	if len(b) != HeaderSize {
		t.Fatalf("%d bytes", len(b))
	}
	// The nonce is the last 8 bytes: inside SHA-256's second 64-byte block.
	if !bytes.Equal(b[88:], []byte{1, 2, 3, 4, 5, 6, 7, 8}) || hdrOffNonce < 64 {
		t.Fatalf("nonce not at bytes 88..95: % x", b[88:])
	}
	if !bytes.Equal(b[12:44], h.PrevHash[:]) || !bytes.Equal(b[44:76], h.MerkleRoot[:]) {
		t.Fatal("hash fields misplaced")
	}
	var back Header
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, back); diff != "" {
		t.Fatal(diff)
	}
	js, _ := json.Marshal(h)
	back = Header{}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, back); diff != "" {
		t.Fatalf("JSON %s:\n%s", js, diff)
	}
	if err := back.UnmarshalBinary(b[1:]); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	if h.Timestamp().UnixNano() != h.Time {
		t.Fatal("Timestamp")
	}
}

func testBlock(t testing.TB, ntx int) Block {
	b := Block{Header: testHeader()}
	b.Transactions = append(b.Transactions, NewCoinbase(testWallet(5).Address(), 5000, b.Header.Height))
	alice := testWallet(1)
	for i := range ntx {
		b.Transactions = append(b.Transactions, alice.Send(testChainID, testWallet(2).Address(), uint64(i+1), 1, uint64(i)))
	}
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	return b
}

func TestBlockRoundTrips(t *testing.T) {
	for _, n := range []int{0, 1, 5, 200} {
		b := testBlock(t, n)
		bin, err := b.MarshalBinary()
		if err != nil || len(bin) != b.Size() {
			t.Fatalf("size %d vs %d: %v", len(bin), b.Size(), err)
		}
		var back Block
		if err := back.UnmarshalBinary(bin); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(b, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("binary (-want +got):\n%s", diff)
		}
		js, _ := json.Marshal(b)
		back = Block{}
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(b, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("JSON (-want +got):\n%s", diff)
		}
		if back.Hash() != b.Hash() || back.ComputeMerkleRoot() != b.Header.MerkleRoot {
			t.Fatal("hash or root changed")
		}
	}
	var empty Block
	if err := empty.UnmarshalBinary((&Block{Header: testHeader()}).mustMarshal(t)); err != nil || len(empty.Transactions) != 0 {
		t.Fatalf("no transactions: %v", err)
	}
	good := testBlock(t, 2)
	bin := good.mustMarshal(t)
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"header only":    bin[:HeaderSize],
		"truncated tx":   bin[:len(bin)-1],
		"trailing byte":  append(bytes.Clone(bin), 0),
		"count too big":  setByte(bin, HeaderSize, 4),
		"count too low":  setByte(bin, HeaderSize, 2),
		"overlong count": append(append(bytes.Clone(bin[:HeaderSize]), 0x83, 0x00), bin[HeaderSize+1:]...),
		"tx version":     setByte(bin, HeaderSize+1+TxSize, 9),
	} {
		b := good
		if err := b.UnmarshalBinary(bad); err == nil {
			t.Errorf("%s: decoded", name)
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadVersion) {
			t.Errorf("%s: %v", name, err)
		}
		if diff := cmp.Diff(good, b); diff != "" {
			t.Errorf("%s: block changed on error", name)
		}
	}
}

func setByte(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

func (b *Block) mustMarshal(t testing.TB) []byte {
	bin, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestCompactKnownPairs(t *testing.T) {
	lsh := func(v int64, bytes uint) *big.Int { return new(big.Int).Lsh(big.NewInt(v), 8*bytes) }
	for _, c := range []struct {
		bits uint32
		want *big.Int
	}{
		{0x1d00ffff, lsh(0xffff, 26)}, // Bitcoin's genesis / easiest target
		{0x1b0404cb, lsh(0x0404cb, 24)},
		{0x170331db, lsh(0x0331db, 20)},
		{0x05009234, big.NewInt(0x92340000)},
		{0x04123456, big.NewInt(0x12345600)},
		{0x03123456, big.NewInt(0x123456)},
		{0x02008000, big.NewInt(0x80)},
		{0x01120000, big.NewInt(0x12)},
		{0x207fffff, lsh(0x7fffff, 29)}, // Bitcoin regtest's limit
	} {
		tg, err := TargetFromCompact(c.bits)
		if err != nil {
			t.Errorf("%#08x: %v", c.bits, err)
			continue
		}
		if tg.Big().Cmp(c.want) != 0 {
			t.Errorf("%#08x decodes to %x, want %x", c.bits, tg.Big(), c.want)
		}
		if got := tg.Compact(); got != c.bits {
			t.Errorf("%x encodes to %#08x, want %#08x", c.want, got, c.bits)
		}
		back, err := TargetFromBig(c.want)
		if err != nil || back != tg {
			t.Errorf("TargetFromBig(%x): %v", c.want, err)
		}
	}
	for _, bits := range []uint32{0, 0x01003456, 0x04923456, 0x01fedcba, 0x21010000, 0xff123456, 0x23000001, 0x22000100} {
		if _, err := TargetFromCompact(bits); !errors.Is(err, ErrBadTarget) {
			t.Errorf("%#08x: err = %v, want ErrBadTarget", bits, err)
		}
	}
	// Compact rounds down to three significant bytes, never up.
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		var tg Target
		for i := 1 + r.IntN(31); i < 32; i++ {
			tg[i] = byte(r.Uint32())
		}
		if tg == (Target{}) {
			continue
		}
		back, err := TargetFromCompact(tg.Compact())
		if err != nil {
			t.Fatalf("%s: %v", tg, err)
		}
		if back.Big().Cmp(tg.Big()) > 0 || back.Compact() != tg.Compact() {
			t.Fatalf("%s -> %#08x -> %s", tg, tg.Compact(), back)
		}
	}
}

func TestTargetFromBitsAndWork(t *testing.T) {
	for n := 0; n <= 255; n++ {
		tg := TargetFromBits(n)
		want := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(256-n)), big.NewInt(1))
		if tg.Big().Cmp(want) != 0 {
			t.Fatalf("TargetFromBits(%d) = %s", n, tg)
		}
		// Work of "n leading zero bits" is exactly 2^n.
		if w := tg.Work(); w.Cmp(new(big.Int).Lsh(big.NewInt(1), uint(n))) != 0 {
			t.Fatalf("work of %d bits = %v", n, w)
		}
		var h Hash
		copy(h[:], tg[:])
		if !h.MeetsTarget(tg) || h.LeadingZeroBits() != n {
			t.Fatalf("bits %d: hash equal to target", n)
		}
		if n > 0 {
			h[(n-1)/8] |= 0x80 >> ((n - 1) % 8)
			if h.MeetsTarget(tg) {
				t.Fatalf("bits %d: hash with a one in bit %d accepted", n, n-1)
			}
		}
	}
}

func TestMineFindsNonce(t *testing.T) {
	for _, workers := range []int{1, 2, 3} {
		h := testHeader()
		h.Bits = TargetFromBits(16).Compact()
		hashes, err := Mine(context.Background(), &h, workers)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.CheckProofOfWork(); err != nil {
			t.Fatalf("workers=%d: mined header fails: %v", workers, err)
		}
		if hash := h.Hash(); hash.LeadingZeroBits() < 16 {
			t.Fatalf("hash %s", hash)
		}
		if hashes == 0 {
			t.Fatal("no hashes counted")
		}
		t.Logf("workers=%d: nonce %d after %d hashes, hash %s", workers, h.Nonce, hashes, h.Hash().Short(16))
	}
	h := testHeader()
	h.Nonce = 0
	h.Bits = 0 // invalid target
	if _, err := Mine(context.Background(), &h, 1); !errors.Is(err, ErrBadTarget) {
		t.Fatal(err)
	}
}

func TestMineAgreesWithPlainHashing(t *testing.T) {
	// The midstate search and the plain search find the same first nonce.
	h := testHeader()
	h.Bits = TargetFromBits(10).Compact()
	tmpl := newMiningTemplate(&h)
	if tmpl.mid == nil {
		t.Fatal("midstate unavailable: mining would be slow")
	}
	tg, _ := h.Target()
	var stop atomicBool
	n1, ok1, c1 := tmpl.search(0, 1<<20, 1, tg, &stop.b)
	n2, ok2, c2 := tmpl.searchPlain(0, 1<<20, 1, tg, &stop.b)
	if !ok1 || n1 != n2 || ok1 != ok2 || c1 != c2 {
		t.Fatalf("midstate %d/%v/%d, plain %d/%v/%d", n1, ok1, c1, n2, ok2, c2)
	}
}

func TestMineCancel(t *testing.T) {
	h := testHeader()
	h.Bits = TargetFromBits(60).Compact()
	before := h
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var cancelled time.Time
	go func() {
		_, err := Mine(ctx, &h, 2)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancelled = time.Now()
	cancel()
	err := <-done
	if took := time.Since(cancelled); took > 100*time.Millisecond {
		t.Fatalf("Mine returned %v after cancellation", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if h != before {
		t.Fatal("header changed by a cancelled Mine")
	}
	if _, err := Mine(ctx, &h, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("already cancelled: %v", err)
	}
}

func TestMineNonceSpaceExhausted(t *testing.T) {
	h := testHeader()
	h.Bits = TargetFromBits(40).Compact()
	before := h
	for _, workers := range []int{1, 2, 7} {
		n, err := mineRange(context.Background(), &h, 1000, 1999, workers)
		if !errors.Is(err, ErrNonceSpaceExhausted) {
			t.Fatalf("err = %v", err)
		}
		if n != 1000 {
			t.Fatalf("workers=%d: tried %d nonces of 1000", workers, n)
		}
		if h != before {
			t.Fatal("header changed")
		}
	}
	// More workers than nonces.
	if n, err := mineRange(context.Background(), &h, 5, 6, 4); n != 2 || !errors.Is(err, ErrNonceSpaceExhausted) {
		t.Fatalf("2 nonces, 4 workers: %d %v", n, err)
	}
}

type atomicBool struct{ b atomic.Bool }
