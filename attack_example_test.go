package blockchain_test

import (
	"fmt"

	"github.com/nakachain/blockchain"
)

// An attacker with 10% of the hash rate, racing to replace a payment
// buried under z blocks: each block the merchant waits cuts the
// attacker's chance about fourfold, as in the paper's first table.
func ExampleAttackerSuccess() {
	for z := range 6 {
		fmt.Printf("z=%d  P=%.7f\n", z, blockchain.AttackerSuccess(0.1, z))
	}
	// Output:
	// z=0  P=1.0000000
	// z=1  P=0.2045873
	// z=2  P=0.0509779
	// z=3  P=0.0131722
	// z=4  P=0.0034552
	// z=5  P=0.0009137
}

// How many blocks to wait so that an attacker succeeds less than once in
// a thousand tries: the paper's second table. An attacker with half the
// hash rate or more wins in the end however long the wait, and gets -1.
func ExampleConfirmationsNeeded() {
	for _, q := range []float64{0.10, 0.25, 0.40, 0.45, 0.50} {
		fmt.Printf("q=%.2f  z=%d\n", q, blockchain.ConfirmationsNeeded(q, 0.001))
	}
	// Output:
	// q=0.10  z=5
	// q=0.25  z=15
	// q=0.40  z=89
	// q=0.45  z=340
	// q=0.50  z=-1
}
