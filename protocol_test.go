package blockchain

// The tests in this file keep PROTOCOL.md honest. The page puts every
// constant, byte layout and worked example in a Markdown table preceded by
// a marker line, <!-- check:NAME -->; loadSpec parses those tables, and
// each test compares one of them with what the code does. Editing a value
// on the page or in the code, but not in both, fails a test here.
//
// vectors_test.go reads the same tables to drive its independent
// implementation of the protocol.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nakachain/blockchain/internal/bech32"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// specFile is the protocol specification, at the repository root (the
// package directory, where tests run).
const specFile = "PROTOCOL.md"

// specTable is one checked table of the page: its column names and its
// rows, each cell trimmed and without the backticks that format it.
type specTable struct {
	name    string
	columns []string
	rows    [][]string
}

// spec is the parsed page.
type spec struct {
	text   string
	tables map[string]*specTable
}

var specMarker = regexp.MustCompile(`^<!-- check:([a-z0-9-]+) -->$`)

// loadSpec reads and parses PROTOCOL.md. It fails the test if a marker is
// not followed by a well-formed table or a table name repeats.
func loadSpec(t testing.TB) *spec {
	t.Helper()
	data, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseSpec(string(data))
	if err != nil {
		t.Fatalf("%s: %v", specFile, err)
	}
	return s
}

func parseSpec(text string) (*spec, error) {
	s := &spec{text: text, tables: make(map[string]*specTable)}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := specMarker.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		name := m[1]
		if _, dup := s.tables[name]; dup {
			return nil, fmt.Errorf("line %d: table %q marked twice", i+1, name)
		}
		if i+2 >= len(lines) || !strings.HasPrefix(lines[i+1], "|") || !regexp.MustCompile(`^\|( *:?-+:? *\|)+$`).MatchString(strings.TrimSpace(lines[i+2])) {
			return nil, fmt.Errorf("line %d: marker %q is not followed by a table with a header and a separator row", i+1, name)
		}
		tb := &specTable{name: name, columns: splitRow(lines[i+1])}
		for j := i + 3; j < len(lines) && strings.HasPrefix(lines[j], "|"); j++ {
			row := splitRow(lines[j])
			if len(row) != len(tb.columns) {
				return nil, fmt.Errorf("line %d: table %q row has %d cells, want %d", j+1, name, len(row), len(tb.columns))
			}
			tb.rows = append(tb.rows, row)
		}
		if len(tb.rows) == 0 {
			return nil, fmt.Errorf("line %d: table %q has no rows", i+1, name)
		}
		s.tables[name] = tb
	}
	return s, nil
}

// splitRow splits a Markdown table row into trimmed cells, removing the
// backticks of a cell that is entirely code.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	cells := strings.Split(line, "|")
	for i, c := range cells {
		c = strings.TrimSpace(c)
		if len(c) >= 2 && c[0] == '`' && c[len(c)-1] == '`' && !strings.Contains(c[1:len(c)-1], "`") {
			c = c[1 : len(c)-1]
		}
		cells[i] = c
	}
	return cells
}

// table returns the named table, failing the test if the page lacks it or
// its columns are not cols.
func (s *spec) table(t testing.TB, name string, cols ...string) *specTable {
	t.Helper()
	tb, ok := s.tables[name]
	if !ok {
		t.Fatalf("%s has no table marked check:%s", specFile, name)
	}
	if !slices.Equal(tb.columns, cols) {
		t.Fatalf("%s table %s has columns %q, want %q", specFile, name, tb.columns, cols)
	}
	return tb
}

// constants returns the constants table as name → raw value.
func (s *spec) constants(t testing.TB) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, r := range s.table(t, "constants", "Name", "Value", "Meaning").rows {
		if _, dup := out[r[0]]; dup {
			t.Fatalf("constant %s listed twice", r[0])
		}
		out[r[0]] = r[1]
	}
	return out
}

// uintConst returns a numeric constant of the page.
func (s *spec) uintConst(t testing.TB, name string) uint64 {
	t.Helper()
	v, ok := s.constants(t)[name]
	if !ok {
		t.Fatalf("%s lists no constant %s", specFile, name)
	}
	n, err := parseSpecUint(v)
	if err != nil {
		t.Fatalf("constant %s: %v", name, err)
	}
	return n
}

// stringConst returns a quoted string constant of the page.
func (s *spec) stringConst(t testing.TB, name string) string {
	t.Helper()
	v, ok := s.constants(t)[name]
	if !ok {
		t.Fatalf("%s lists no constant %s", specFile, name)
	}
	str, err := strconv.Unquote(v)
	if err != nil {
		t.Fatalf("constant %s = %s: not a quoted string", name, v)
	}
	return str
}

// parseSpecUint reads a decimal or 0x-prefixed hex number.
func parseSpecUint(v string) (uint64, error) {
	if h, ok := strings.CutPrefix(v, "0x"); ok {
		return strconv.ParseUint(h, 16, 64)
	}
	return strconv.ParseUint(v, 10, 64)
}

// layoutField is one row of a byte-layout table.
type layoutField struct {
	off, size int
	name      string // the Field (or Content) cell
}

// layout returns a byte-layout table's rows, checking that they tile
// 0..total without gaps or overlaps.
func (s *spec) layout(t testing.TB, name string, total int, cols ...string) []layoutField {
	t.Helper()
	var out []layoutField
	next := 0
	for _, r := range s.table(t, name, cols...).rows {
		off, err1 := strconv.Atoi(r[0])
		size, err2 := strconv.Atoi(r[1])
		if err1 != nil || err2 != nil || size <= 0 {
			t.Fatalf("%s: bad offset or size in row %q", name, r)
		}
		if off != next {
			t.Fatalf("%s: field %q at offset %d, want %d (fields must be contiguous)", name, r[2], off, next)
		}
		next = off + size
		out = append(out, layoutField{off: off, size: size, name: r[2]})
	}
	if next != total {
		t.Fatalf("%s: fields cover %d bytes, want %d", name, next, total)
	}
	return out
}

// parseTargetExpr reads "TargetFromBits(n)" or 64 hex digits.
func parseTargetExpr(v string) (Target, error) {
	if n, ok := strings.CutPrefix(v, "TargetFromBits("); ok {
		k, err := strconv.Atoi(strings.TrimSuffix(n, ")"))
		if err != nil || !strings.HasSuffix(n, ")") {
			return Target{}, fmt.Errorf("bad target %q", v)
		}
		return TargetFromBits(k), nil
	}
	var tg Target
	err := tg.UnmarshalText([]byte(v))
	return tg, err
}

// be returns v as a big-endian integer of size bytes.
func be(v uint64, size int) []byte {
	b := binary.BigEndian.AppendUint64(nil, v)
	return b[8-size:]
}

// distinctBytes returns n bytes start, start+1, ...
func distinctBytes(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// jsonTags returns the JSON names of a struct type's fields.
func jsonTags(typ reflect.Type) []string {
	var out []string
	for f := range typ.Fields() {
		out = append(out, strings.Split(f.Tag.Get("json"), ",")[0])
	}
	return out
}

func TestProtocolConstants(t *testing.T) {
	s := loadSpec(t)
	consts := s.constants(t)
	var txID Hash
	numeric := map[string]uint64{
		"HashSize":              HashSize,
		"PublicKeySize":         uint64(len(PublicKey{})),
		"SignatureSize":         uint64(len(Signature{})),
		"SeedSize":              SeedSize,
		"AddressSize":           AddressSize,
		"HeaderSize":            HeaderSize,
		"HeaderVersion":         HeaderVersion,
		"TxSize":                TxSize,
		"TxVersion":             txVersion,
		"SigningMessageSize":    uint64(len(Transaction{}.SigningMessage(txID))),
		"ParamsDigestInputSize": 0, // checked in TestProtocolParamsDigest
		"MerkleLeafPrefix":      merkleLeafPrefix,
		"MerkleNodePrefix":      merkleNodePrefix,
		"Bech32mConst":          0, // checked below by behaviour
		"Bech32MaxLength":       0, // checked below by behaviour
		"Coin":                  Coin,
		"MaxMoney":              MaxMoney,
		"RewardHorizon":         RewardHorizon,
		"MaxHalvings":           0, // checked below by behaviour
		"AllocationNonceBase":   allocationNonce,
		"MedianTimeBlocks":      medianTimeBlocks,
		"RetargetClamp":         0, // checked below by behaviour
		"MaxBlockSizeLimit":     MaxBlockSizeLimit,
	}
	strs := map[string]string{
		"AddressDomain": addressDomain,
		"TxSignDomain":  txSignDomain,
		"ParamsDomain":  paramsDomain,
		"AddressHRP":    AddressPrefix,
		"Bech32Charset": "", // checked below by behaviour
	}
	want := slices.Sorted(maps.Keys(numeric))
	want = append(want, slices.Collect(maps.Keys(strs))...)
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(consts)); !slices.Equal(got, want) {
		t.Fatalf("the constants table lists %q\nwant %q", got, want)
	}
	for name, v := range numeric {
		got := s.uintConst(t, name)
		if v != 0 && got != v {
			t.Errorf("constant %s: page says %d, code has %d", name, got, v)
		}
	}
	for name, v := range strs {
		got := s.stringConst(t, name)
		if v != "" && got != v {
			t.Errorf("constant %s: page says %q, code has %q", name, got, v)
		}
	}

	// Bech32m: the page's charset and constant, used from scratch, give the
	// code's addresses; the length limit is where encoding stops working.
	charset, check := s.stringConst(t, "Bech32Charset"), uint32(s.uintConst(t, "Bech32mConst"))
	for i := range 50 {
		h := sum256([]byte{byte(i)})
		a := Address(h[:AddressSize])
		if got, want := refBech32Encode(charset, check, s.stringConst(t, "AddressHRP"), a[:]), a.String(); got != want {
			t.Fatalf("address %x: the page's Bech32m gives %s, the code %s", a, got, want)
		}
	}
	maxLen := int(s.uintConst(t, "Bech32MaxLength"))
	if _, err := bech32.Encode("nk", make([]byte, maxLen-len("nk1")-6)); err != nil {
		t.Errorf("a %d-character string does not encode: %v", maxLen, err)
	}
	if _, err := bech32.Encode("nk", make([]byte, maxLen-len("nk1")-5)); err == nil {
		t.Errorf("a %d-character string encodes, but the page says %d is the limit", maxLen+1, maxLen)
	}

	// MaxHalvings: the reward of the biggest schedule reaches 1 just before
	// the limit and 0 at it.
	halvings := s.uintConst(t, "MaxHalvings")
	p := Params{BlockReward: math.MaxUint64, HalvingInterval: 1}
	if p.Reward(halvings-1) != math.MaxUint64>>(halvings-1) || p.Reward(halvings) != 0 {
		t.Errorf("MaxHalvings %d: Reward(%d) = %d, Reward(%d) = %d", halvings, halvings-1, p.Reward(halvings-1), halvings, p.Reward(halvings))
	}

	// RetargetClamp: a far too slow (or fast) period scales the target by
	// exactly the clamp.
	clamp := int64(s.uintConst(t, "RetargetClamp"))
	p = TestParams()
	old, _ := TargetFromCompact(0x1d00ffff)
	for _, c := range []struct {
		actual time.Duration
		scale  func(*big.Int) *big.Int
	}{
		{1000 * time.Second, func(v *big.Int) *big.Int { return v.Mul(v, big.NewInt(clamp)) }},
		{-1000 * time.Second, func(v *big.Int) *big.Int { return v.Quo(v, big.NewInt(clamp)) }},
	} {
		want, _ := TargetFromBig(c.scale(old.Big()))
		if got := retarget(&p, 0x1d00ffff, int64(c.actual), 4); got != want.Compact() {
			t.Errorf("RetargetClamp %d: a span of %v gives bits %#08x, want %#08x", clamp, c.actual, got, want.Compact())
		}
	}

	// MedianTimeBlocks: the median of a long chain of increasing times is
	// the middle of the last MedianTimeBlocks.
	m := s.uintConst(t, "MedianTimeBlocks")
	var n *blockNode
	for i := range int64(40) {
		n = &blockNode{header: Header{Height: uint64(i), Time: i}, parent: n}
	}
	if got, want := medianTimePast(n), int64(40-m+m/2); got != want {
		t.Errorf("MedianTimeBlocks %d: median time past %d, want %d", m, got, want)
	}

	// Genesis allocations carry AllocationNonceBase + i.
	base := s.uintConst(t, "AllocationNonceBase")
	p = TestParams()
	p.Allocations = []Allocation{{Amount: 1}, {Amount: 2}, {Amount: 3}}
	for i, tx := range p.Genesis().Transactions {
		if tx.Nonce != base+uint64(i) {
			t.Errorf("allocation %d has nonce %#x, want %#x", i, tx.Nonce, base+uint64(i))
		}
	}
}

func TestProtocolHeaderLayout(t *testing.T) {
	s := loadSpec(t)
	h := Header{
		Version:    0x01020304,
		Height:     0x1112131415161718,
		PrevHash:   Hash(distinctBytes(0x20, 32)),
		MerkleRoot: Hash(distinctBytes(0x60, 32)),
		Time:       -0x2122232425262728, // negative: two's complement
		Bits:       0x31323334,
		Nonce:      0x4142434445464748,
	}
	values := map[string][]byte{
		"version":     be(uint64(h.Version), 4),
		"height":      be(h.Height, 8),
		"prev_hash":   h.PrevHash[:],
		"merkle_root": h.MerkleRoot[:],
		"time":        be(uint64(h.Time), 8),
		"bits":        be(uint64(h.Bits), 4),
		"nonce":       be(h.Nonce, 8),
	}
	enc, _ := h.MarshalBinary()
	checkLayout(t, s, "header-layout", int(s.uintConst(t, "HeaderSize")), enc, values, jsonTags(reflect.TypeFor[Header]()))
	if got := sha256.Sum256(enc); Hash(got) != h.Hash() {
		t.Error("the block hash is not SHA-256 of the encoded header")
	}
}

func TestProtocolTxLayout(t *testing.T) {
	s := loadSpec(t)
	tx := Transaction{
		From:      PublicKey(distinctBytes(0x20, 32)),
		To:        Address(distinctBytes(0x60, 20)),
		Amount:    0x1112131415161718,
		Fee:       0x2122232425262728,
		Nonce:     0x3132333435363738,
		Signature: Signature(distinctBytes(0x80, 64)),
	}
	values := map[string][]byte{
		"version":   {byte(s.uintConst(t, "TxVersion"))},
		"from":      tx.From[:],
		"to":        tx.To[:],
		"amount":    be(tx.Amount, 8),
		"fee":       be(tx.Fee, 8),
		"nonce":     be(tx.Nonce, 8),
		"signature": tx.Signature[:],
	}
	enc, _ := tx.MarshalBinary()
	names := append([]string{"version"}, jsonTags(reflect.TypeFor[Transaction]())...)
	checkLayout(t, s, "tx-layout", int(s.uintConst(t, "TxSize")), enc, values, names)
	if got := sha256.Sum256(enc); Hash(got) != tx.ID() {
		t.Error("the transaction ID is not SHA-256 of the encoding")
	}
}

// checkLayout compares an encoding with a layout table: each named field
// must sit at its offset, and the table must name exactly fields.
func checkLayout(t *testing.T, s *spec, table string, total int, enc []byte, values map[string][]byte, fields []string) {
	t.Helper()
	if len(enc) != total {
		t.Fatalf("%s: encoding is %d bytes, the page says %d", table, len(enc), total)
	}
	var names []string
	for _, f := range s.layout(t, table, total, "Offset", "Size", "Field", "Encoding") {
		names = append(names, f.name)
		want, ok := values[f.name]
		if !ok {
			t.Errorf("%s: unknown field %q", table, f.name)
			continue
		}
		if f.size != len(want) {
			t.Errorf("%s: field %s is %d bytes on the page, %d in the code", table, f.name, f.size, len(want))
			continue
		}
		if got := enc[f.off : f.off+f.size]; !bytes.Equal(got, want) {
			t.Errorf("%s: field %s at offset %d holds %x, want %x", table, f.name, f.off, got, want)
		}
	}
	slices.Sort(names)
	fields = slices.Sorted(slices.Values(fields))
	if !slices.Equal(names, fields) {
		t.Errorf("%s names fields %q, want %q", table, names, fields)
	}
}

// specSigningMessage builds a transaction's signing message from the
// page's layout: the domain tag, the chain ID, the encoding's first bytes.
func specSigningMessage(t testing.TB, s *spec, txEnc []byte, chainID Hash) []byte {
	t.Helper()
	rows := s.layout(t, "signing-message-layout", int(s.uintConst(t, "SigningMessageSize")), "Offset", "Size", "Content")
	if len(rows) != 3 || !strings.Contains(rows[0].name, "TxSignDomain") || !strings.Contains(rows[1].name, "chain ID") || !strings.Contains(rows[2].name, "bytes 0..") {
		t.Fatalf("signing-message-layout: want the domain, the chain ID and the encoding's first bytes, got %+v", rows)
	}
	domain := s.stringConst(t, "TxSignDomain")
	if rows[0].size != len(domain) || rows[1].size != HashSize {
		t.Fatalf("signing-message-layout: sizes %d and %d, want %d and %d", rows[0].size, rows[1].size, len(domain), HashSize)
	}
	msg := append([]byte(domain), chainID[:]...)
	return append(msg, txEnc[:rows[2].size]...)
}

func TestProtocolSigningMessage(t *testing.T) {
	s := loadSpec(t)
	w := testWallet(7)
	chainID := sum256([]byte("a chain"))
	tx := w.SignTransfer(chainID, testWallet(8).Address(), 12345, 67, 8)
	enc, _ := tx.MarshalBinary()
	msg := specSigningMessage(t, s, enc, chainID)
	if !bytes.Equal(msg, tx.SigningMessage(chainID)) {
		t.Fatalf("signing message\npage: %x\ncode: %x", msg, tx.SigningMessage(chainID))
	}
	if !ed25519.Verify(tx.From[:], msg, tx.Signature[:]) {
		t.Fatal("the signature does not verify over the page's signing message")
	}
	// The message leaves out exactly the signature.
	if got := len(enc) - (len(msg) - len(s.stringConst(t, "TxSignDomain")) - HashSize); got != int(s.uintConst(t, "SignatureSize")) {
		t.Fatalf("the signing message leaves out %d bytes of the encoding", got)
	}
}

func TestProtocolAddress(t *testing.T) {
	s := loadSpec(t)
	domain := s.stringConst(t, "AddressDomain")
	size := int(s.uintConst(t, "AddressSize"))
	for i := range 20 {
		w := testWallet(i)
		pub := w.PublicKey()
		h := sha256.Sum256(append([]byte(domain), pub[:]...))
		if a := w.Address(); !bytes.Equal(a[:], h[:size]) {
			t.Fatalf("wallet %d: address %x, the page's derivation gives %x", i, a, h[:size])
		}
	}
	for _, r := range s.table(t, "address-example", "Seed", "Public key", "Address bytes", "Address text").rows {
		seed, err := hex.DecodeString(r[0])
		if err != nil || len(seed) != SeedSize {
			t.Fatalf("bad seed %q", r[0])
		}
		w := WalletFromSeed([SeedSize]byte(seed))
		a := w.Address()
		if got := w.PublicKey().String(); got != r[1] {
			t.Errorf("seed %s: public key %s, page says %s", r[0], got, r[1])
		}
		if got := hex.EncodeToString(a[:]); got != r[2] {
			t.Errorf("seed %s: address bytes %s, page says %s", r[0], got, r[2])
		}
		if got := a.String(); got != r[3] {
			t.Errorf("seed %s: address %s, page says %s", r[0], got, r[3])
		}
		if back, err := ParseAddress(r[3]); err != nil || back != a {
			t.Errorf("ParseAddress(%s) = %x, %v", r[3], back, err)
		}
	}
}

func TestProtocolUvarint(t *testing.T) {
	s := loadSpec(t)
	for _, r := range s.table(t, "uvarint-examples", "Value", "Encoding").rows {
		n, err := strconv.ParseUint(r[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		want, err := hex.DecodeString(r[1])
		if err != nil {
			t.Fatal(err)
		}
		if n > 400 {
			if got := binary.AppendUvarint(nil, n); !bytes.Equal(got, want) {
				t.Errorf("uvarint(%d) = %x, page says %x", n, got, want)
			}
			continue
		}
		// Small counts: the block encoding itself.
		b := Block{Transactions: make([]Transaction, n)}
		enc, _ := b.MarshalBinary()
		if got := enc[HeaderSize : HeaderSize+len(want)]; !bytes.Equal(got, want) || len(enc) != HeaderSize+len(want)+int(n)*TxSize {
			t.Errorf("a block of %d transactions encodes its count as %x, page says %x", n, got, want)
		}
	}
	// Non-minimal varints are refused.
	for _, count := range [][]byte{{0x80, 0x00}, {0x81, 0x00}} {
		enc := append(make([]byte, HeaderSize), count...)
		enc = append(enc, make([]byte, TxSize*int(count[0]&0x7f))...)
		for i := HeaderSize + len(count); i < len(enc); i += TxSize {
			enc[i] = txVersion
		}
		var b Block
		if err := b.UnmarshalBinary(enc); !errors.Is(err, ErrMalformed) {
			t.Errorf("count %x: %v, want ErrMalformed", count, err)
		}
	}
}

func TestProtocolMerkle(t *testing.T) {
	s := loadSpec(t)
	leafPrefix, nodePrefix := byte(s.uintConst(t, "MerkleLeafPrefix")), byte(s.uintConst(t, "MerkleNodePrefix"))
	for _, r := range s.table(t, "merkle-examples", "Leaves", "Root").rows {
		n, err := strconv.Atoi(r[0])
		if err != nil {
			t.Fatal(err)
		}
		leaves := make([]Hash, n)
		for i := range leaves {
			leaves[i] = Hash(bytes.Repeat([]byte{byte(i)}, HashSize))
		}
		if got := MerkleRoot(leaves).String(); got != r[1] {
			t.Errorf("root of %d leaves: %s, page says %s", n, got, r[1])
		}
	}
	// The page's construction, from scratch, for every size up to 40.
	for n := range 41 {
		leaves := make([]Hash, n)
		for i := range leaves {
			leaves[i] = sum256([]byte{byte(n), byte(i)})
		}
		if got, want := refMerkleRoot(leafPrefix, nodePrefix, leaves), MerkleRoot(leaves); got != want {
			t.Fatalf("%d leaves: the page's Merkle root %s, the code's %s", n, got, want)
		}
		for i := range leaves {
			p, _ := NewMerkleProof(leaves, i)
			if !refVerifyMerkleProof(leafPrefix, nodePrefix, MerkleRoot(leaves), leaves[i], p.Index, p.Size, p.Path) {
				t.Fatalf("%d leaves: the page's proof check refuses the proof of leaf %d", n, i)
			}
		}
	}
}

func TestProtocolCompact(t *testing.T) {
	s := loadSpec(t)
	for _, r := range s.table(t, "compact-examples", "Target", "Bits", "Decoded", "Work").rows {
		tg, err := parseTargetExpr(r[0])
		if err != nil {
			t.Fatal(err)
		}
		bits, err := parseSpecUint(r[1])
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.Compact(); uint64(got) != bits {
			t.Errorf("%s encodes to %#08x, page says %s", r[0], got, r[1])
		}
		if got := refCompact(tg.Big()); uint64(got) != bits {
			t.Errorf("%s: the page's encoding gives %#08x, page says %s", r[0], got, r[1])
		}
		dec, err := TargetFromCompact(uint32(bits))
		if err != nil || dec.String() != r[2] {
			t.Errorf("%s decodes to %s (%v), page says %s", r[1], dec, err, r[2])
		}
		if got := dec.Work().String(); got != r[3] {
			t.Errorf("work of %s is %s, page says %s", r[2], got, r[3])
		}
	}
	for _, r := range s.table(t, "compact-decode", "Bits", "Target").rows {
		bits, err := parseSpecUint(r[0])
		if err != nil {
			t.Fatal(err)
		}
		dec, err := TargetFromCompact(uint32(bits))
		ref, refOK := refDecodeCompact(uint32(bits))
		switch {
		case r[1] == "invalid":
			if !errors.Is(err, ErrBadTarget) || refOK {
				t.Errorf("%s decodes (%s), page says invalid", r[0], dec)
			}
		case err != nil || dec.String() != r[1] || !refOK || ref.Cmp(dec.Big()) != 0:
			t.Errorf("%s decodes to %s (%v), page says %s", r[0], dec, err, r[1])
		}
	}
	// The page's algorithms agree with the code on many values.
	for i := range 3000 {
		h := sum256([]byte{byte(i), byte(i >> 8)})
		v := new(big.Int).SetBytes(h[:])
		v.Rsh(v, uint(i%256))
		if v.Sign() == 0 {
			continue
		}
		tg, _ := TargetFromBig(v)
		if got, want := refCompact(v), tg.Compact(); got != want {
			t.Fatalf("%s: the page's encoding %#08x, the code's %#08x", tg, got, want)
		}
		h = sum256([]byte{1, byte(i), byte(i >> 8)})
		bits := (uint32(h[0])%0x24)<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
		dec, err := TargetFromCompact(bits)
		ref, ok := refDecodeCompact(bits)
		if (err == nil) != ok || ok && ref.Cmp(dec.Big()) != 0 {
			t.Fatalf("%#08x: the page decodes %v (%v), the code %s (%v)", bits, ref, ok, dec, err)
		}
	}
}

// specParamsDigest builds the params digest input from the page's layout.
func specParamsDigest(t testing.TB, s *spec, p Params) []byte {
	t.Helper()
	rows := s.layout(t, "params-digest-layout", int(s.uintConst(t, "ParamsDigestInputSize")), "Offset", "Size", "Content")
	domain := s.stringConst(t, "ParamsDomain")
	if !strings.Contains(rows[0].name, "ParamsDomain") || rows[0].size != len(domain) {
		t.Fatalf("params-digest-layout: first row %+v is not the %d-byte domain", rows[0], len(domain))
	}
	b := []byte(domain)
	seen := make(map[string]bool)
	for _, r := range rows[1:] {
		field := strings.Trim(strings.Fields(r.name)[0], "`,")
		if seen[field] {
			t.Fatalf("params-digest-layout: %s twice", field)
		}
		seen[field] = true
		switch field {
		case "InitialTarget":
			b = append(b, be(uint64(p.InitialTarget.Compact()), r.size)...)
		case "PowLimit":
			if r.size != 32 {
				t.Fatalf("PowLimit is %d bytes on the page", r.size)
			}
			b = append(b, p.PowLimit[:]...)
		default:
			v := reflect.ValueOf(p).FieldByName(field)
			if !v.IsValid() || r.size != 8 {
				t.Fatalf("params-digest-layout: unknown field %q or size %d", field, r.size)
			}
			var u uint64
			if v.CanInt() {
				u = uint64(v.Int())
			} else {
				u = v.Uint()
			}
			b = append(b, be(u, 8)...)
		}
	}
	// Every consensus parameter the genesis block does not hold itself is
	// in the digest.
	for f := range reflect.TypeFor[Params]().Fields() {
		if in := seen[f.Name]; in == slices.Contains([]string{"Name", "GenesisTime", "Allocations"}, f.Name) {
			t.Errorf("params-digest-layout: field %s in the digest = %v", f.Name, in)
		}
	}
	return b
}

func TestProtocolParamsDigest(t *testing.T) {
	s := loadSpec(t)
	distinct := Params{
		InitialTarget: TargetFromBits(9), PowLimit: TargetFromBits(3),
		TargetBlockTime: 11, RetargetInterval: 12, MaxTimewarp: 13, BlockReward: 14,
		HalvingInterval: 15, MinTxFee: 16, MaxFutureDrift: 17, MaxBlockSize: 18, MaxBlockTxs: 19,
	}
	for _, p := range []Params{DefaultParams(), TestParams(), distinct} {
		in := specParamsDigest(t, s, p)
		if got := sha256.Sum256(in); Hash(got) != p.digest() {
			t.Errorf("%s: the page's params digest %x, the code's %s", p.Name, got, p.digest())
		}
		if p.Genesis().Header.PrevHash != p.digest() {
			t.Errorf("%s: genesis PrevHash is not the params digest", p.Name)
		}
	}
	for _, r := range s.table(t, "chain-ids", "Params", "Params digest", "Chain ID").rows {
		var p Params
		switch r[0] {
		case "DefaultParams":
			p = DefaultParams()
		case "TestParams":
			p = TestParams()
		default:
			t.Fatalf("chain-ids: unknown params %q", r[0])
		}
		if got := p.digest().String(); got != r[1] {
			t.Errorf("%s: params digest %s, page says %s", r[0], got, r[1])
		}
		if got := p.ChainID().String(); got != r[2] {
			t.Errorf("%s: chain ID %s, page says %s", r[0], got, r[2])
		}
	}
}

// specParams reads one preset column of the params table.
func specParams(t testing.TB, s *spec, col int) (Params, map[string]any) {
	t.Helper()
	tb := s.table(t, "params", "Field", "JSON key", "JSON form", "DefaultParams", "TestParams")
	var p Params
	js := make(map[string]any)
	pv := reflect.ValueOf(&p).Elem()
	for _, r := range tb.rows {
		field, key, v := r[0], r[1], r[col]
		f := pv.FieldByName(field)
		if !f.IsValid() {
			t.Fatalf("params: no field %s", field)
		}
		switch f.Interface().(type) {
		case string:
			str, err := strconv.Unquote(v)
			if err != nil {
				t.Fatalf("params %s: %q", field, v)
			}
			f.SetString(str)
			js[key] = str
		case time.Time:
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				t.Fatal(err)
			}
			f.Set(reflect.ValueOf(tm))
			js[key] = v
		case []Allocation:
			if v != "[]" {
				t.Fatalf("params %s: %q", field, v)
			}
			js[key] = []any{}
		case Target:
			tg, err := parseTargetExpr(v)
			if err != nil {
				t.Fatal(err)
			}
			f.Set(reflect.ValueOf(tg))
			js[key] = tg.String()
		case time.Duration:
			d, err := time.ParseDuration(v)
			if err != nil || d.String() != v {
				t.Fatalf("params %s: %q is not a Go duration string", field, v)
			}
			f.SetInt(int64(d))
			js[key] = v
		default:
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("params %s: %q", field, v)
			}
			if f.CanInt() {
				f.SetInt(int64(n))
			} else {
				f.SetUint(n)
			}
			js[key] = n
		}
	}
	var fields []string
	for _, r := range tb.rows {
		fields = append(fields, r[0])
	}
	var want []string
	for f := range reflect.TypeFor[Params]().Fields() {
		want = append(want, f.Name)
	}
	if !slices.Equal(fields, want) {
		t.Fatalf("the params table lists %q, want every field in order: %q", fields, want)
	}
	return p, js
}

func TestProtocolParams(t *testing.T) {
	s := loadSpec(t)
	for col, want := range map[int]Params{3: DefaultParams(), 4: TestParams()} {
		got, js := specParams(t, s, col)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s column of the params table differs from the code (-code +page):\n%s", want.Name, diff)
		}
		// The JSON keys: an object built from the page decodes to the
		// same parameters, and the code writes exactly those keys.
		data, _ := json.Marshal(js)
		var back Params
		if err := back.UnmarshalJSON(data); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, back, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("JSON built from the params table's keys decodes differently (-code +page):\n%s", diff)
		}
		want.Allocations = []Allocation{{Amount: 1}} // so that the key is written
		data, _ = want.MarshalJSON()
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			t.Fatal(err)
		}
		if got, want := slices.Sorted(maps.Keys(obj)), slices.Sorted(maps.Keys(js)); !slices.Equal(got, want) {
			t.Errorf("Params JSON keys %q, page says %q", got, want)
		}
	}
	// The worked value of MaxBlockTxs.
	if !strings.Contains(s.text, fmt.Sprintf("`(%d − %d − 8) / %d`", 1<<20, HeaderSize, TxSize)) || DefaultParams().MaxBlockTxs != (1<<20-HeaderSize-8)/TxSize {
		t.Error("the page's formula for DefaultParams' MaxBlockTxs is out of date")
	}
}

func TestProtocolRetarget(t *testing.T) {
	s := loadSpec(t)
	for _, r := range s.table(t, "retarget-examples", "Old bits", "Gaps", "TargetBlockTime", "Actual", "PowLimit", "New bits").rows {
		old, err1 := parseSpecUint(r[0])
		gaps, err2 := strconv.ParseUint(r[1], 10, 64)
		tbt, err3 := time.ParseDuration(r[2])
		actual, err4 := time.ParseDuration(r[3])
		limit, err5 := parseTargetExpr(r[4])
		want, err6 := parseSpecUint(r[5])
		if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
			t.Fatalf("row %q: %v", r, err)
		}
		p := TestParams()
		p.TargetBlockTime, p.PowLimit = tbt, limit
		if got := retarget(&p, uint32(old), int64(actual), gaps); uint64(got) != want {
			t.Errorf("row %q: new bits %#08x, page says %s", r, got, r[5])
		}
		clamp := s.uintConst(t, "RetargetClamp")
		if got := refRetarget(uint32(old), int64(actual), gaps, int64(tbt), limit.Big(), int64(clamp)); uint64(got) != want {
			t.Errorf("row %q: the page's formula gives %#08x, page says %s", r, got, r[5])
		}
	}
}

func TestProtocolReward(t *testing.T) {
	s := loadSpec(t)
	for _, r := range s.table(t, "reward-examples", "BlockReward", "HalvingInterval", "Height", "Reward").rows {
		var v [4]uint64
		for i := range v {
			var err error
			if v[i], err = strconv.ParseUint(r[i], 10, 64); err != nil {
				t.Fatal(err)
			}
		}
		p := Params{BlockReward: v[0], HalvingInterval: v[1]}
		if got := p.Reward(v[2]); got != v[3] {
			t.Errorf("row %q: reward %d, page says %d", r, got, v[3])
		}
		if got := refReward(v[0], v[1], v[2], s.uintConst(t, "RewardHorizon"), s.uintConst(t, "MaxHalvings")); got != v[3] {
			t.Errorf("row %q: the page's formula gives %d", r, got)
		}
	}
}

func TestProtocolMedianTimePast(t *testing.T) {
	s := loadSpec(t)
	m := int(s.uintConst(t, "MedianTimeBlocks"))
	for _, r := range s.table(t, "median-examples", "Times, oldest first (the last is P)", "MTP(P)").rows {
		var n *blockNode
		var times []int64
		for i, f := range strings.Split(r[0], ",") {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			times = append(times, v)
			n = &blockNode{header: Header{Height: uint64(i), Time: v}, parent: n}
		}
		want, err := strconv.ParseInt(r[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := medianTimePast(n); got != want {
			t.Errorf("times %s: median time past %d, page says %d", r[0], got, want)
		}
		if got := refMedian(times, m); got != want {
			t.Errorf("times %s: the page's rule gives %d, page says %d", r[0], got, want)
		}
	}
}

func TestProtocolErrorCodes(t *testing.T) {
	s := loadSpec(t)
	rows := s.table(t, "error-codes", "Code", "Number", "Kind", "Meaning").rows
	if len(rows) != numErrorCodes-1 {
		t.Errorf("the page lists %d error codes, the code has %d", len(rows), numErrorCodes-1)
	}
	for _, r := range rows {
		n, err := strconv.Atoi(r[1])
		if err != nil {
			t.Fatal(err)
		}
		if got := ErrorCode(n).String(); got != r[0] {
			t.Errorf("error code %d is %s, page says %s", n, got, r[0])
		}
		if !slices.Contains([]string{"consensus", "pending", "policy"}, r[2]) {
			t.Errorf("error code %s: unknown kind %q", r[0], r[2])
		}
	}
}

func TestProtocolChainWorkCountsGenesis(t *testing.T) {
	s := loadSpec(t)
	c, err := NewChain(TestParams(), ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := TargetFromCompact(TestParams().InitialTarget.Compact())
	work := c.Tip().TotalWork
	if work.Cmp(g.Work()) != 0 {
		t.Fatalf("chain work of genesis alone is %v, want the work of its target, %v", work, g.Work())
	}
	if want := fmt.Sprintf("`work(decoded initial target)`; for the test parameters, %v.", work); !strings.Contains(s.text, want) {
		t.Errorf("the page does not say %q", want)
	}
}

func TestProtocolKeyFile(t *testing.T) {
	s := loadSpec(t)
	w := testWallet(3)
	pass := []byte("correct horse")
	kdf := KDFParams{Time: 1, MemoryKiB: 64, Threads: 2}
	data, err := w.EncryptKey(pass, kdf, bytes.NewReader(distinctBytes(0x10, 64)))
	if err != nil {
		t.Fatal(err)
	}
	rows := s.table(t, "keyfile-layout", "Offset", "Size", "Field", "Value").rows
	at := make(map[string][]byte)
	next := 0
	for _, r := range rows {
		off, _ := strconv.Atoi(r[0])
		size, _ := strconv.Atoi(r[1])
		if off != next || off+size > len(data) {
			t.Fatalf("keyfile-layout: row %q at %d, want %d, file is %d bytes", r, off, next, len(data))
		}
		next = off + size
		at[r[2]] = data[off:next]
		switch {
		case strings.HasPrefix(r[3], `"`):
			want, _ := strconv.Unquote(r[3])
			if string(data[off:next]) != want {
				t.Errorf("keyfile-layout: %s is %q, page says %q", r[2], data[off:next], want)
			}
		case regexp.MustCompile(`^[0-9]+$`).MatchString(r[3]):
			v, _ := strconv.ParseUint(r[3], 10, 64)
			if got := data[off:next]; !bytes.Equal(got, be(v, size)) {
				t.Errorf("keyfile-layout: %s is %x, page says %d", r[2], got, v)
			}
		}
	}
	if next != len(data) || !strings.Contains(s.text, fmt.Sprintf("in %d bytes.", len(data))) {
		t.Fatalf("key files are %d bytes; the layout covers %d", len(data), next)
	}
	// Decrypt as the page says, with nothing from the package.
	aadLen := len(data) - SeedSize - chacha20poly1305.Overhead
	if !strings.Contains(s.text, fmt.Sprintf("bytes 0..%d as additional data", aadLen-1)) {
		t.Errorf("the page does not give bytes 0..%d as the additional data", aadLen-1)
	}
	for _, f := range []string{"magic", "version", "time", "memory", "threads", "salt", "nonce", "ciphertext"} {
		if at[f] == nil {
			t.Fatalf("keyfile-layout has no field %s", f)
		}
	}
	key := argon2.IDKey(pass, at["salt"], binary.BigEndian.Uint32(at["time"]), binary.BigEndian.Uint32(at["memory"]), at["threads"][0], chacha20poly1305.KeySize)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := aead.Open(nil, at["nonce"], at["ciphertext"], data[:aadLen])
	if err != nil {
		t.Fatalf("the key file does not open as the page describes: %v", err)
	}
	if got := [3]uint64{uint64(binary.BigEndian.Uint32(at["time"])), uint64(binary.BigEndian.Uint32(at["memory"])), uint64(at["threads"][0])}; got != [3]uint64{uint64(kdf.Time), uint64(kdf.MemoryKiB), uint64(kdf.Threads)} {
		t.Errorf("KDF cost read from the page's offsets: %v, written %+v", got, kdf)
	}
	if !bytes.Equal(seed, w.priv.Seed()) {
		t.Fatal("the key file holds another seed")
	}
	d := KDFParams{}.withDefaults()
	if want := fmt.Sprintf("%d passes over\n%d KiB with %d threads by default", d.Time, d.MemoryKiB, d.Threads); !strings.Contains(s.text, want) {
		t.Errorf("the page does not give the KDF defaults as %q", want)
	}
}

// The reference functions below implement the page's algorithms from
// scratch (math/big, crypto/sha256), with nothing from the package, so the
// tests above check the page's prose as well as its tables. vectors_test.go
// uses them too.

// refBech32Encode encodes data as Bech32m, as section 3.3 says.
func refBech32Encode(charset string, check uint32, hrp string, data []byte) string {
	var values []byte
	acc, bits := 0, 0
	for _, b := range data {
		acc = acc<<8 | int(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			values = append(values, byte(acc>>bits&31))
		}
	}
	if bits > 0 {
		values = append(values, byte(acc<<(5-bits)&31))
	}
	polymod := func(vs []byte) uint32 {
		gen := []uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
		chk := uint32(1)
		for _, v := range vs {
			top := chk >> 25
			chk = (chk&0x1ffffff)<<5 ^ uint32(v)
			for i, g := range gen {
				if top>>i&1 == 1 {
					chk ^= g
				}
			}
		}
		return chk
	}
	var in []byte
	for i := range len(hrp) {
		in = append(in, hrp[i]>>5)
	}
	in = append(in, 0)
	for i := range len(hrp) {
		in = append(in, hrp[i]&31)
	}
	in = append(append(in, values...), 0, 0, 0, 0, 0, 0)
	mod := polymod(in) ^ check
	out := hrp + "1"
	for _, v := range values {
		out += string(charset[v])
	}
	for i := range 6 {
		out += string(charset[mod>>(5*(5-i))&31])
	}
	return out
}

// refMerkleRoot is section 5.4's tree: prefixed leaves, prefixed nodes,
// the odd node carried up.
func refMerkleRoot(leafPrefix, nodePrefix byte, ids []Hash) Hash {
	if len(ids) == 0 {
		return sha256.Sum256(nil)
	}
	level := make([][32]byte, len(ids))
	for i, id := range ids {
		level[i] = sha256.Sum256(append([]byte{leafPrefix}, id[:]...))
	}
	for len(level) > 1 {
		var next [][32]byte
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			next = append(next, sha256.Sum256(slices.Concat([]byte{nodePrefix}, level[i][:], level[i+1][:])))
		}
		level = next
	}
	return level[0]
}

// refVerifyMerkleProof is section 5.4's proof check.
func refVerifyMerkleProof(leafPrefix, nodePrefix byte, root, leaf Hash, index, size uint64, path []Hash) bool {
	if size == 0 || index >= size {
		return false
	}
	h := sha256.Sum256(append([]byte{leafPrefix}, leaf[:]...))
	for i, n := index, size; n > 1; i, n = i/2, (n+1)/2 {
		if i%2 == 1 || i+1 < n {
			if len(path) == 0 {
				return false
			}
			if i%2 == 1 {
				h = sha256.Sum256(slices.Concat([]byte{nodePrefix}, path[0][:], h[:]))
			} else {
				h = sha256.Sum256(slices.Concat([]byte{nodePrefix}, h[:], path[0][:]))
			}
			path = path[1:]
		}
	}
	return len(path) == 0 && h == root
}

// refDecodeCompact is section 6.2's decoding; ok is false for an invalid
// value.
func refDecodeCompact(bits uint32) (*big.Int, bool) {
	size := bits >> 24
	m := bits & 0x007fffff
	if bits&0x00800000 != 0 && m != 0 {
		return nil, false
	}
	var v *big.Int
	if size <= 3 {
		v = big.NewInt(int64(m >> (8 * (3 - size))))
	} else {
		v = new(big.Int).Lsh(big.NewInt(int64(m)), 8*uint(size-3))
	}
	if v.Sign() == 0 || v.BitLen() > 256 {
		return nil, false
	}
	return v, true
}

// refCompact is section 6.2's encoding of a non-zero target.
func refCompact(v *big.Int) uint32 {
	size := uint32((v.BitLen() + 7) / 8)
	var m uint32
	if size <= 3 {
		m = uint32(v.Uint64()) << (8 * (3 - size))
	} else {
		m = uint32(new(big.Int).Rsh(v, uint(8*(size-3))).Uint64())
	}
	if m >= 0x800000 {
		m >>= 8
		size++
	}
	return size<<24 | m
}

// refRetarget is steps 3 to 9 of section 9.
func refRetarget(oldBits uint32, actual int64, gaps uint64, blockTime int64, powLimit *big.Int, clamp int64) uint32 {
	expected := int64(gaps) * blockTime
	actual = max(expected/clamp, min(actual, expected*clamp))
	old, ok := refDecodeCompact(oldBits)
	if !ok {
		panic("retarget from invalid bits")
	}
	v := new(big.Int).Mul(old, big.NewInt(actual))
	v.Quo(v, big.NewInt(expected))
	if v.Cmp(powLimit) > 0 {
		v = powLimit
	}
	if v.Sign() == 0 {
		v = big.NewInt(1)
	}
	return refCompact(v)
}

// refReward is section 11.1's formula.
func refReward(blockReward, halvingInterval, height, horizon, maxHalvings uint64) uint64 {
	switch {
	case height > horizon:
		return 0
	case halvingInterval == 0:
		return blockReward
	case height/halvingInterval >= maxHalvings:
		return 0
	}
	return blockReward >> (height / halvingInterval)
}

// refMedian is section 10.1: times are oldest first, the last is P's.
func refMedian(times []int64, window int) int64 {
	last := slices.Clone(times[max(0, len(times)-window):])
	slices.Sort(last)
	return last[len(last)/2]
}

// The network section's tables: frame layout, message type codes and wire
// limits against the code.
func TestProtocolNetworkSection(t *testing.T) {
	s := loadSpec(t)
	frame := s.table(t, "frame-layout", "Offset", "Size", "Field").rows
	if len(frame) != 3 || frame[0][1] != "4" || frame[1][0] != "4" || frame[2][0] != strconv.Itoa(frameHeaderSize) {
		t.Fatalf("frame layout %q does not match a %d-byte header", frame, frameHeaderSize)
	}
	for _, kind := range []struct {
		name string
		code byte
	}{{"data", frameData}, {"ping", framePing}, {"pong", framePong}} {
		if want := fmt.Sprintf("`0x%02x` %s", kind.code, kind.name); !strings.Contains(frame[1][2], want) {
			t.Errorf("frame kinds %q lack %s", frame[1][2], want)
		}
	}
	codes := map[string]Message{
		"Version": VersionMsg{}, "VerAck": VerAckMsg{}, "GetHeaders": GetHeadersMsg{}, "Headers": HeadersMsg{},
		"Inv": InvMsg{}, "GetData": GetDataMsg{}, "NotFound": NotFoundMsg{}, "Tx": TxMsg{}, "Block": BlockMsg{},
		"GetAddr": GetAddrMsg{}, "Addr": AddrMsg{}, "GetProof": GetProofMsg{}, "Proof": ProofMsg{},
	}
	rows := s.table(t, "message-types", "Type", "Message", "Payload").rows
	if len(rows) != len(codes) {
		t.Fatalf("the page lists %d message types, the code has %d", len(rows), len(codes))
	}
	for _, r := range rows {
		m, ok := codes[r[1]]
		if !ok {
			t.Fatalf("the page lists an unknown message %q", r[1])
		}
		if got := strconv.Itoa(int(m.msgType())); got != r[0] {
			t.Errorf("%s is type %s on the page, %s in the code", r[1], r[0], got)
		}
	}
	want := map[string]uint64{
		"ProtocolVersion": ProtocolVersion, "MaxMessageSize": MaxMessageSize, "MaxInvItems": MaxInvItems,
		"MaxLocatorHashes": MaxLocatorHashes, "MaxHeadersPerMsg": MaxHeadersPerMsg, "MaxAddrsPerMsg": MaxAddrsPerMsg,
		"MaxAddrLen": MaxAddrLen, "MaxWorkBytes": maxWorkBytes,
	}
	got := s.table(t, "wire-constants", "Name", "Value", "Meaning").rows
	if len(got) != len(want) {
		t.Fatalf("the page lists %d wire constants, want %d", len(got), len(want))
	}
	for _, r := range got {
		v, err := parseSpecUint(r[1])
		if w, ok := want[r[0]]; !ok || err != nil || v != w {
			t.Errorf("wire constant %s = %s on the page, %d in the code", r[0], r[1], want[r[0]])
		}
	}
}
