package blockchain

import (
	"math"
	"sort"
)

// AttackerSuccess returns the probability that an attacker holding share q
// of the total hash rate ever overtakes the honest chain from z blocks
// behind (paper §11). A recipient who waits for z blocks before trusting a
// payment is cheated with this probability, in the paper's model.
//
// The calculation follows the paper. Each block is found by the honest
// network with probability p = 1−q and by the attacker with probability
// q. While the honest network finds the z blocks, the attacker's progress
// k is Poisson-distributed with mean λ = z·q/p. From z−k blocks behind,
// like a gambler with an edge against him, the attacker catches up with
// probability (q/p)^(z−k), and with certainty if k ≥ z. Summing over k:
//
//	P = Σ_{k≥0} e^−λ·λ^k/k! · min(1, (q/p)^(z−k))
//
// P falls exponentially as z grows if q < p. If q ≥ p (an attacker with
// half the hash rate or more) P is 1 for every z, and it is 1 for z ≤ 0:
// an attacker who is not behind has nothing to catch up. q is clamped to
// [0, 1]; a NaN q gives NaN.
func AttackerSuccess(q float64, z int) float64 {
	if math.IsNaN(q) {
		return math.NaN()
	}
	q = min(max(q, 0), 1)
	p := 1 - q
	switch {
	case q >= p, z <= 0:
		return 1
	case q == 0:
		return 0 // no hash rate: the attacker never finds a block
	}
	lambda := float64(z) * q / p
	logLambda, logRatio := math.Log(lambda), math.Log(q/p)
	// logPoisson(k) is the log of the probability that the attacker has
	// found k blocks; logs keep e^−λ from underflowing when z is large.
	logPoisson := func(k int) float64 {
		lgamma, _ := math.Lgamma(float64(k) + 1)
		return float64(k)*logLambda - lambda - lgamma
	}
	// Every term is positive, so the sum has no cancellation: even a tiny
	// P keeps its relative precision.
	var sum float64
	for k := 0; k <= z; k++ {
		sum += math.Exp(logPoisson(k) + float64(z-k)*logRatio)
	}
	// Beyond z the attacker is already ahead and the terms are the
	// Poisson tail. Each is at most r = λ/(k+1) < 1 times the one before,
	// so what is left after a term t is below t·r/(1−r): stop when that
	// can no longer change the sum.
	for k := z + 1; ; k++ {
		t := math.Exp(logPoisson(k))
		sum += t
		r := lambda / float64(k+1)
		if t*r/(1-r) <= sum*0x1p-54 {
			break
		}
	}
	return min(sum, 1)
}

// maxConfirmations bounds the search of ConfirmationsNeeded. Against an
// attacker with 49% of the hash rate, 16,795 blocks bring the risk below
// one in a million; a bound far beyond that keeps the search finite when q
// is so close to ½ that no practical wait helps.
const maxConfirmations = 1 << 20

// ConfirmationsNeeded returns the smallest z for which
// AttackerSuccess(q, z) < risk: how many blocks a recipient should wait
// before trusting a payment against an attacker with share q of the hash
// rate. The paper's second table lists it for risk 0.001.
//
// It returns -1 when no wait is enough: when q ≥ 0.5 (the attacker
// catches up with certainty), when risk ≤ 0, or when the answer would
// exceed 2^20 blocks (q within a hair of 0.5).
func ConfirmationsNeeded(q, risk float64) int {
	if !(risk > 0) || math.IsNaN(q) || q >= 0.5 {
		return -1
	}
	safe := func(z int) bool { return AttackerSuccess(q, z) < risk }
	if safe(0) {
		return 0
	}
	// AttackerSuccess falls as z grows, so double z until it is safe,
	// then search the last doubling for the first safe z. Small z cost
	// least to evaluate, so the search never goes far past the answer.
	hi := 1
	for !safe(hi) {
		if hi >= maxConfirmations {
			return -1
		}
		hi = min(2*hi, maxConfirmations)
	}
	lo := hi / 2 // not safe (0 when hi is 1)
	return lo + 1 + sort.Search(hi-lo-1, func(i int) bool { return safe(lo + 1 + i) })
}
