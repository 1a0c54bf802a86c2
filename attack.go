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
	q, p, v, done := raceEdges(q, z)
	if done {
		return v
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

// raceEdges settles the cases the paper's formulas share: a NaN q gives
// NaN; q is clamped to [0, 1]; an attacker with half the hash rate or more,
// or who is not behind (z ≤ 0), succeeds; one without hash rate never does.
// Otherwise it returns q and p = 1 − q with done false.
func raceEdges(q float64, z int) (qq, p, v float64, done bool) {
	if math.IsNaN(q) {
		return q, q, math.NaN(), true
	}
	q = min(max(q, 0), 1)
	p = 1 - q
	switch {
	case q >= p, z <= 0:
		return q, p, 1, true
	case q == 0:
		return q, p, 0, true // no hash rate: the attacker never finds a block
	}
	return q, p, 0, false
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

// AttackerSuccessExact returns the probability of the paper's race (see
// [AttackerSuccess]) without the paper's Poisson shortcut.
//
// The paper lets the attacker's progress k, while the honest network finds
// its z blocks, be Poisson with mean z·q/p: the progress expected in the
// average time those blocks take. But that time varies too. Counted in
// blocks, each block is the honest network's with probability p = 1−q and
// the attacker's with probability q, so the number k of attacker blocks
// before the honest network's z-th is negative binomial:
//
//	P(k) = C(z+k−1, k) · p^z · q^k
//
// Counting then goes as in the paper: from z−k behind the attacker catches
// up with probability (q/p)^(z−k), and with certainty if k ≥ z (catching
// up, even level, counts as success). Summing over k:
//
//	P = Σ_{k≥0} C(z+k−1, k) · p^z · q^k · min(1, (q/p)^(z−k))
//
// The two differ because the time the honest blocks take varies too: the
// negative binomial has the Poisson's mean but a wider spread (variance
// z·q/p² against z·q/p), and its tail of lucky attackers falls more
// slowly. For large z each block multiplies the exact probability by about
// 4·p·q, and the paper's by ρ·e^(1−ρ) with ρ = q/p, which is always
// smaller, so the exact probability is the higher and the ratio grows
// exponentially with z. Only at the smallest z, where the cap at 1 of
// min(1, ·) matters, is it lower (z = 1 for q ≤ 0.2, z ≤ 2 for q = 0.3).
// Measured, against the paper's values:
//
//	q = 0.1, z = 1:  0.2000000 against 0.2045873
//	q = 0.1, z = 5:  0.0017818 against 0.0009137 (1.95 times)
//	q = 0.1, z = 10: 0.0000079 against 0.0000012 (6.3 times)
//	q = 0.3, z = 5:  0.1976173 against 0.1773523 (1.11 times)
//	q = 0.3, z = 24: 0.0040007 against 0.0008106 (4.9 times)
//	q = 0.3, z = 50: 0.0000311 against 0.0000006 (53 times)
//
// To bring the risk below 0.1% a recipient must wait 6 blocks rather than
// the paper's 5 against q = 0.1, 32 rather than 24 against q = 0.3, and
// 539 rather than 340 against q = 0.45.
//
// The edge cases are [AttackerSuccess]'s: q is clamped to [0, 1], a NaN q
// gives NaN, and the result is 1 for z ≤ 0 or q ≥ 0.5 and 0 for q = 0.
// Every term of the sum is positive and summed from its logarithm, so the
// result keeps its relative precision however small it is, for any z.
func AttackerSuccessExact(q float64, z int) float64 {
	q, p, v, done := raceEdges(q, z)
	if done {
		return v
	}
	nb := newNegBinomial(z, p)
	logRatio := math.Log(q / p)
	var sum logSum
	for k := 0; k < z; k++ {
		sum.add(nb.log(k) + float64(z-k)*logRatio)
	}
	nb.addTail(&sum, z)
	return min(sum.value(), 1)
}

// RaceSuccess returns the probability that a double spend succeeds in the
// race that a node following this package's rules actually runs, as
// opposed to the paper's counting ([AttackerSuccess],
// [AttackerSuccessExact]). The attacker, with share q of the hash rate,
// pays a merchant and at the same moment starts mining, in secret, a branch
// from the block before the one that will hold the payment, in which the
// same coins go elsewhere. Each block is found by the honest network with
// probability p = 1−q and by the attacker with probability q; every block
// has the same work (a fixed target).
//
// z is the number of confirmations the merchant waits for: z = 1 means the
// payment is in the tip block, and each later block adds one. When the
// merchant ships, the honest network has therefore found exactly z blocks
// since the attacker started, which is the z of the paper's calculation
// (its text counts the blocks linked after the payment's, but its
// calculation has the attacker race the honest network's z blocks, as
// here).
// z = 0 means the merchant ships at once, while the payment waits
// unconfirmed; a negative z is taken as 0.
//
// Before the merchant ships the attacker mines on whatever happens: it
// neither gives up nor publishes. From the moment the merchant ships, it
// publishes its branch as soon as the branch has more work than the honest
// chain, and gives up as soon as it is giveUp blocks behind (giveUp < 1:
// never). The attacker has then found k blocks, negative binomial as in
// [AttackerSuccessExact]; if k > z it publishes at once and wins, if
// z−k ≥ giveUp it gives up at once, and otherwise, from d = z−k behind,
// it wins with the gambler's-ruin probability of reaching one block ahead
// before giveUp behind, with ρ = q/p:
//
//	W(d) = (ρ^(d+1) − ρ^(D+1)) / (1 − ρ^(D+1))   (D = giveUp; (D−d)/(D+1) if ρ = 1)
//	P    = Σ_{k≥0} C(z+k−1, k) · p^z · q^k · W(z−k),   W(d) = 1 for d < 0
//
// Two differences from the paper's counting make P lower than
// [AttackerSuccessExact]'s (the attacker's progress is negative binomial in
// both):
//
//   - Nodes follow the branch with the most work, and the first seen of
//     two with equal work. A branch that only draws level leaves the
//     merchant on the honest branch, seen first: the attacker must get one
//     block ahead, not level, so from d behind it needs d+1 blocks more
//     than the honest network, not d. For an attacker who never gives up,
//     every term with k ≤ z loses a factor q/p, and only one already ahead
//     when the merchant ships (k > z) keeps its certainty: q = 0.1, z = 5:
//     0.0003286 against the paper's exact 0.0017818; q = 0.3, z = 5:
//     0.1117 against 0.1976. And at z = 0 the attacker must still win a
//     block first: P is q/p (0.4286 for q = 0.3), not 1.
//   - An attacker who gives up forfeits the comebacks from far behind
//     (never giving up, W(d) is ρ^(d+1)). These are rare while q is small:
//     q = 0.3, z = 5: 0.11175 never giving up, 0.11167 giving up 10 behind,
//     0.10938 giving up 6 behind, 0.10621 giving up 5 behind. As q nears ½
//     they count: to bring the risk under 0.1% against q = 0.45 takes 530
//     confirmations against a patient attacker, 491 against one who gives
//     up 6 behind.
//
// q is clamped to [0, 1] and a NaN q gives NaN. q = 0 gives 0. q = 1 gives
// 1, the limit as q → 1 (the honest network would never find a block). An
// attacker with q ≥ 0.5 that never gives up wins with certainty; one that
// gives up does not. The sum is taken in logarithms, like
// [AttackerSuccessExact]'s, and keeps its relative precision for any z.
func RaceSuccess(q float64, z, giveUp int) float64 {
	if math.IsNaN(q) {
		return math.NaN()
	}
	q = min(max(q, 0), 1)
	p := 1 - q
	never := giveUp < 1
	switch {
	case q == 0:
		return 0
	case q == 1, never && q >= p:
		return 1
	}
	z = max(z, 0)
	w := newGamblersRuin(q, giveUp)
	if z == 0 {
		return math.Exp(w.log(0))
	}
	nb := newNegBinomial(z, p)
	var sum logSum
	lo := 0
	if !never {
		lo = max(0, z-giveUp+1) // below lo the attacker gives up at once
	}
	for k := lo; k <= z; k++ {
		sum.add(nb.log(k) + w.log(z-k))
	}
	nb.addTail(&sum, z+1)
	return min(sum.value(), 1)
}

// negBinomial is the distribution of the attacker's blocks k found before
// the honest network's z-th, when each block is honest with probability p:
// C(z+k−1, k)·p^z·q^k, for z ≥ 1 and 0 < p < 1.
type negBinomial struct {
	z                         int
	logP, logQ, lgammaZ, fltZ float64
}

func newNegBinomial(z int, p float64) negBinomial {
	lg, _ := math.Lgamma(float64(z))
	return negBinomial{z: z, logP: math.Log(p), logQ: math.Log1p(-p), lgammaZ: lg, fltZ: float64(z)}
}

// log returns the logarithm of P(k).
func (nb negBinomial) log(k int) float64 {
	a, _ := math.Lgamma(nb.fltZ + float64(k))
	b, _ := math.Lgamma(float64(k) + 1)
	return a - b - nb.lgammaZ + nb.fltZ*nb.logP + float64(k)*nb.logQ
}

// addTail adds P(k) for every k ≥ from to sum. The ratio of a term to the
// one before, q·(z+k−1)/k, falls as k grows, so once it is below 1 what is
// left after a term t is below t·r/(1−r), r the next ratio: the tail stops
// when that can no longer change the sum. The ratio is below 1 for every
// k ≥ z when q < 0.5, and for every k > z/(1/q−1) + 1 in general.
func (nb negBinomial) addTail(sum *logSum, from int) {
	q := math.Exp(nb.logQ)
	for k := from; ; k++ {
		t := nb.log(k)
		sum.add(t)
		r := q * float64(nb.z+k) / float64(k+1)
		if r < 1 && t+math.Log(r/(1-r)) <= sum.log()-54*math.Ln2 {
			return
		}
	}
}

// gamblersRuin is the chance W(d) that an attacker d blocks behind gets one
// block ahead before it falls giveUp blocks behind (never, if giveUp < 1),
// when each block is its own with probability q.
type gamblersRuin struct {
	logRho float64 // log(q/p)
	giveUp int
}

func newGamblersRuin(q float64, giveUp int) gamblersRuin {
	return gamblersRuin{logRho: math.Log(q) - math.Log1p(-q), giveUp: giveUp}
}

// log returns the logarithm of W(d), for d ≥ 0.
func (g gamblersRuin) log(d int) float64 {
	L := g.logRho
	if g.giveUp < 1 { // never gives up: ρ^(d+1), or certain success if ρ ≥ 1
		return min(float64(d+1)*L, 0)
	}
	if d >= g.giveUp {
		return math.Inf(-1)
	}
	// n steps up from d reach one ahead; m steps down reach giveUp.
	n, m := float64(d+1), float64(g.giveUp-d)
	switch {
	case L < 0: // ρ^n·(1−ρ^m)/(1−ρ^(n+m))
		return n*L + math.Log(math.Expm1(m*L)/math.Expm1((n+m)*L))
	case L > 0: // divided through by ρ^(n+m): (1−ρ^−m)/(1−ρ^−(n+m))
		return math.Log(math.Expm1(-m*L) / math.Expm1(-(n+m)*L))
	default:
		return math.Log(m / (n + m))
	}
}

// logSum adds numbers given by their logarithms without overflow or
// underflow: the sum is s·e^m.
type logSum struct{ m, s float64 }

func (ls *logSum) add(l float64) {
	switch {
	case math.IsInf(l, -1):
	case ls.s == 0:
		ls.m, ls.s = l, 1
	case l <= ls.m:
		ls.s += math.Exp(l - ls.m)
	default:
		ls.s = ls.s*math.Exp(ls.m-l) + 1
		ls.m = l
	}
}

// log returns the logarithm of the sum (−∞ if nothing was added).
func (ls *logSum) log() float64 {
	if ls.s == 0 {
		return math.Inf(-1)
	}
	return ls.m + math.Log(ls.s)
}

func (ls *logSum) value() float64 { return math.Exp(ls.log()) }
