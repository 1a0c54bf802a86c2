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

// The paper's race without its Poisson shortcut: the attacker's progress
// counted in blocks. Beyond the first block the exact chance is the higher,
// and waiting 5 blocks no longer brings it below 0.1% against an attacker
// with 10% of the hash rate: it takes 6.
func ExampleAttackerSuccessExact() {
	for z := range 7 {
		fmt.Printf("z=%d  exact=%.7f  paper=%.7f\n", z,
			blockchain.AttackerSuccessExact(0.1, z), blockchain.AttackerSuccess(0.1, z))
	}
	// Output:
	// z=0  exact=1.0000000  paper=1.0000000
	// z=1  exact=0.2000000  paper=0.2045873
	// z=2  exact=0.0560000  paper=0.0509779
	// z=3  exact=0.0171200  paper=0.0131722
	// z=4  exact=0.0054560  paper=0.0034552
	// z=5  exact=0.0017818  paper=0.0009137
	// z=6  exact=0.0005914  paper=0.0002428
}

// The race as nodes run it: first seen wins a tie, so the attacker must
// get a block ahead, and here it gives up 6 blocks behind. With z = 0 the
// merchant ships before the payment is in a block, and still the attacker
// must win the next block.
func ExampleRaceSuccess() {
	for _, z := range []int{0, 1, 2, 6} {
		fmt.Printf("q=0.3 z=%d  race=%.4f  paper exact=%.4f\n", z,
			blockchain.RaceSuccess(0.3, z, 6), blockchain.AttackerSuccessExact(0.3, z))
	}
	// Output:
	// q=0.3 z=0  race=0.4270  paper exact=1.0000
	// q=0.3 z=1  race=0.3067  paper exact=0.6000
	// q=0.3 z=2  race=0.2309  paper exact=0.4320
	// q=0.3 z=6  race=0.0867  paper exact=0.1564
}
