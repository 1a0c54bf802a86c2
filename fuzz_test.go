package blockchain

import (
	"bytes"
	"strings"
	"testing"
)

// The decoders take bytes from the network and from disk: whatever they are
// given, they must return a value or an error, never panic, and what they
// accept must re-encode to exactly the input (one encoding per value).

func FuzzTransactionDecode(f *testing.F) {
	tx := signedTx(f)
	good, _ := tx.MarshalBinary()
	cb, _ := NewCoinbase(testWallet(4).Address(), 50, 7).MarshalBinary()
	f.Add(good)
	f.Add(cb)
	f.Add([]byte{})
	f.Add(good[:TxSize-1])
	f.Fuzz(func(t *testing.T, data []byte) {
		var tx Transaction
		if err := tx.UnmarshalBinary(data); err != nil {
			if tx != (Transaction{}) {
				t.Fatal("transaction changed on error")
			}
			return
		}
		again, _ := tx.MarshalBinary()
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, again)
		}
		if tx.ID() != sum256(data) {
			t.Fatal("ID is not the hash of the encoding")
		}
		_ = tx.Verify(testChainID) // must not panic on any key or signature
	})
}

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

func FuzzAddressParse(f *testing.F) {
	a := testWallet(1).Address().String()
	f.Add(a)
	f.Add(strings.ToUpper(a))
	f.Add(a[:len(a)-1] + "q")
	f.Add("nk1")
	f.Add("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := ParseAddress(s)
		if err != nil {
			return
		}
		if addr.String() != strings.ToLower(s) {
			t.Fatalf("%q parsed, prints as %q", s, addr.String())
		}
		back, err := ParseAddress(addr.String())
		if err != nil || back != addr {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

// FuzzKeyFileDecode fuzzes the key-file parser (the KDF and cipher behind it
// are x/crypto's): any input is refused or gives a cost EncryptKey accepts.
func FuzzKeyFileDecode(f *testing.F) {
	good, err := testWallet(3).EncryptKey([]byte("pass"), fastKDF, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:keyFileHdrLen])
	f.Add([]byte(keyFileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseKeyFile(data)
		if err != nil {
			return
		}
		if !p.valid() || len(data) != keyFileLen {
			t.Fatalf("accepted a file with cost %+v and %d bytes", p, len(data))
		}
	})
}
