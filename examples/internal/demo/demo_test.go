package demo

import (
	"crypto/sha256"
	"math/big"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

func TestBook(t *testing.T) {
	b := NewBook("alice", "bob")
	b.Add("carol", "alice")
	if got := b.Names(); len(got) != 3 || got[0] != "alice" || got[1] != "bob" || got[2] != "carol" {
		t.Fatalf("Names() = %q", got)
	}
	// The seed is the documented one, so every stage gives alice the same keys.
	want := blockchain.WalletFromSeed(sha256.Sum256([]byte("nakachain example wallet: alice")))
	if b.Address("alice") != want.Address() || WalletFor("alice").PublicKey() != want.PublicKey() {
		t.Fatal("alice's wallet does not come from her documented seed")
	}
	if b.Address("alice") == b.Address("bob") {
		t.Fatal("alice and bob share an address")
	}
	for _, n := range b.Names() {
		if got := b.NameOf(b.Address(n)); got != n {
			t.Errorf("NameOf(%s's address) = %q", n, got)
		}
		if got := b.NameOfKey(b.Wallet(n).PublicKey()); got != n {
			t.Errorf("NameOfKey(%s's key) = %q", n, got)
		}
	}
	stranger := WalletFor("mallory").Address()
	if got := b.NameOf(stranger); got != stranger.String() {
		t.Errorf("NameOf(a stranger) = %q, want the address", got)
	}
	allocs := b.Allocations(100)
	if len(allocs) != 3 || allocs[1].To != b.Address("bob") || allocs[1].Amount != 100 {
		t.Errorf("Allocations(100) = %v", allocs)
	}
	defer func() {
		if recover() == nil {
			t.Error("Wallet of an unknown name did not panic")
		}
	}()
	b.Wallet("mallory")
}

func TestCommas(t *testing.T) {
	huge, _ := new(big.Int).SetString("123456789012345678901", 10)
	for _, tc := range []struct {
		n    any
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {uint64(1234567), "1,234,567"},
		{-5, "-5"}, {-123, "-123"}, {-1234, "-1,234"}, {-123456, "-123,456"},
		{huge, "123,456,789,012,345,678,901"},
	} {
		if got := Commas(tc.n); got != tc.want {
			t.Errorf("Commas(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestFixedClock(t *testing.T) {
	start := time.Unix(100, 0)
	clock := FixedClock(start, time.Minute)
	for i := range 3 {
		if got, want := clock(), start.Add(time.Duration(i)*time.Minute); !got.Equal(want) {
			t.Fatalf("reading %d: %v, want %v", i, got, want)
		}
	}
}
