package blockchain

import (
	"fmt"
	"testing"
)

// testSeed returns a deterministic wallet seed for person i.
func testSeed(i int) [SeedSize]byte {
	var s [SeedSize]byte
	copy(s[:], fmt.Sprintf("nakachain test wallet %d", i))
	return s
}

func testWallet(i int) *Wallet { return WalletFromSeed(testSeed(i)) }

var testChainID = Hash{1, 2, 3}

func signedTx(t testing.TB) Transaction {
	alice, bob := testWallet(1), testWallet(2)
	return alice.SignTransfer(testChainID, bob.Address(), 1500, 25, 3)
}
