package blockchain

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

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
		b.Transactions = append(b.Transactions, alice.SignTransfer(testChainID, testWallet(2).Address(), uint64(i+1), 1, uint64(i)))
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

// The decoders take bytes from the network and from disk: whatever they are
// given, they must return a value or an error, never panic, and what they
// accept must re-encode to exactly the input (one encoding per value).

func FuzzBlockDecode(f *testing.F) {
	for _, n := range []int{0, 1, 3} {
		b := testBlock(f, n)
		f.Add(b.mustMarshal(f))
	}
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize+1))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Block
		if err := b.UnmarshalBinary(data); err != nil {
			if b.Header != (Header{}) || b.Transactions != nil {
				t.Fatal("block changed on error")
			}
			return
		}
		again, _ := b.MarshalBinary()
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, again)
		}
		if b.Size() != len(data) {
			t.Fatalf("Size %d, encoding %d", b.Size(), len(data))
		}
		_ = b.Hash()
		_ = b.ComputeMerkleRoot()
		_ = b.Header.CheckProofOfWork()
	})
}
