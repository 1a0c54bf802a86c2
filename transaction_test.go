package blockchain

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
