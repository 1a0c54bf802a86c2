package blockchain

import (
	"fmt"
	"math"
	"math/big"
	"testing"
)

// ratQ is a share of the hash rate as an exact fraction, and as the float64
// the functions under test take.
type ratQ struct {
	num, den int64
}

func (r ratQ) rat() *big.Rat    { return big.NewRat(r.num, r.den) }
func (r ratQ) float() float64   { return float64(r.num) / float64(r.den) }
func (r ratQ) String() string   { return fmt.Sprintf("%d/%d", r.num, r.den) }
func (r ratQ) ratP() *big.Rat   { return big.NewRat(r.den-r.num, r.den) }
func (r ratQ) ratRho() *big.Rat { return new(big.Rat).Quo(r.rat(), r.ratP()) }

var testShares = []ratQ{{1, 100}, {1, 10}, {1, 5}, {1, 4}, {3, 10}, {2, 5}, {9, 20}, {49, 100}}

// ratPow returns x^n.
func ratPow(x *big.Rat, n int) *big.Rat {
	out := big.NewRat(1, 1)
	for range n {
		out.Mul(out, x)
	}
	return out
}

// catchUpRat is the paper's sum with the negative binomial, in exact
// rationals. The infinite tail k ≥ z, where the attacker is level or
// ahead and succeeds with certainty, is 1 minus the finite head, so
//
//	P = 1 − Σ_{k<z} P(k)·(1 − ρ^(z−k+extra))
//
// extra is 0 for the paper's counting (level is enough) and 1 for a race
// the attacker must lead by a block, never giving up.
func catchUpRat(r ratQ, z, extra int) *big.Rat {
	n := z + extra
	rhoPow := make([]*big.Rat, n+1) // rhoPow[j] = ρ^j
	rhoPow[0] = big.NewRat(1, 1)
	for j := 1; j <= n; j++ {
		rhoPow[j] = new(big.Rat).Mul(rhoPow[j-1], r.ratRho())
	}
	sum := big.NewRat(1, 1)
	one := big.NewRat(1, 1)
	nb := ratPow(r.ratP(), z) // P(0) = p^z, then P(k) = P(k−1)·q·(z+k−1)/k
	for k := 0; k < n; k++ {
		if k > 0 {
			nb.Mul(nb, r.rat())
			nb.Mul(nb, big.NewRat(int64(z+k-1), int64(k)))
		}
		miss := new(big.Rat).Sub(one, rhoPow[n-k])
		sum.Sub(sum, miss.Mul(miss, nb))
	}
	return sum
}

func relErr(got float64, want *big.Rat) float64 {
	w, _ := want.Float64()
	return math.Abs(got-w) / w
}

// AttackerSuccessExact agrees with the negative binomial summed exactly in
// rationals, where the cancellation of 1 − Σ costs nothing: to 1e-13 for
// small z, and to 1e-11 for large z and tiny probabilities, where the
// float sum could not afford a subtraction at all.
func TestAttackerSuccessExactMatchesTheExactSum(t *testing.T) {
	for _, r := range testShares {
		for _, z := range []int{1, 2, 3, 4, 5, 6, 10, 24, 50, 200} {
			want := catchUpRat(r, z, 0)
			got := AttackerSuccessExact(r.float(), z)
			tol := 1e-13
			if z > 6 {
				tol = 1e-11
			}
			if e := relErr(got, want); !(e <= tol) {
				w, _ := want.Float64()
				t.Errorf("q=%v z=%d: %.17g, the exact sum is %.17g (relative error %.2g)", r, z, got, w, e)
			}
		}
	}
}

// A second, independent count for small z: enumerate every sequence of
// blocks until the honest network's z-th, the attacker's count k ranging
// over every value up to a bound, and add the paper's payoff. What is left
// beyond the bound is the chance of more than kmax attacker blocks, each
// a success: 1 minus what was enumerated.
func TestAttackerSuccessExactMatchesEnumeratedSequences(t *testing.T) {
	const kmax = 40
	for _, r := range []ratQ{{1, 10}, {3, 10}, {2, 5}} {
		for z := 1; z <= 5; z++ {
			// paths[k] is the probability of the sequences that reach z
			// honest blocks with exactly k attacker blocks; built block by
			// block in a table of (honest, attacker) counts.
			reach := map[[2]int]*big.Rat{{0, 0}: big.NewRat(1, 1)}
			total, enumerated := new(big.Rat), new(big.Rat)
			for h := 0; h < z; h++ {
				for a := 0; a <= kmax; a++ {
					pr, ok := reach[[2]int{h, a}]
					if !ok {
						continue
					}
					toH := new(big.Rat).Mul(pr, r.ratP())
					if h+1 == z { // the z-th honest block: the race is set
						enumerated.Add(enumerated, toH)
						pay := big.NewRat(1, 1)
						if a < z {
							pay = ratPow(r.ratRho(), z-a)
						}
						total.Add(total, toH.Mul(toH, pay))
					} else {
						addRat(reach, [2]int{h + 1, a}, toH)
					}
					if a < kmax {
						addRat(reach, [2]int{h, a + 1}, new(big.Rat).Mul(pr, r.rat()))
					}
				}
			}
			rest := new(big.Rat).Sub(big.NewRat(1, 1), enumerated)
			lo, _ := total.Float64()
			hi, _ := new(big.Rat).Add(total, rest).Float64()
			got := AttackerSuccessExact(r.float(), z)
			if !(got >= lo*(1-1e-13) && got <= hi*(1+1e-13)) {
				t.Errorf("q=%v z=%d: %.15g, enumeration gives [%.15g, %.15g]", r, z, got, lo, hi)
			}
		}
	}
}

func addRat(m map[[2]int]*big.Rat, k [2]int, v *big.Rat) {
	if old, ok := m[k]; ok {
		old.Add(old, v)
	} else {
		m[k] = v
	}
}

// The exact probability is close to the paper's Poisson value but not
// equal: lower only at the smallest z, higher beyond, and by a factor that
// grows with z from there, each block multiplying it by about 4pq against the
// paper's ρ·e^(1−ρ). The documented numbers are the function's.
func TestAttackerSuccessExactAgainstThePaper(t *testing.T) {
	for _, tc := range []struct {
		q     float64
		lower int // the exact value is below the paper's for z = 1..lower
	}{{0.01, 1}, {0.1, 1}, {0.2, 1}, {0.3, 2}, {0.4, 7}, {0.45, 24}} {
		prevRatio := 0.0
		for z := 1; z <= 60; z++ {
			exact, paper := AttackerSuccessExact(tc.q, z), AttackerSuccess(tc.q, z)
			if exact == paper {
				t.Fatalf("q=%v z=%d: exact and Poisson both %v", tc.q, z, exact)
			}
			if below := exact < paper; below != (z <= tc.lower) {
				t.Errorf("q=%v z=%d: exact %.7g, paper %.7g: want exact below only for z ≤ %d", tc.q, z, exact, paper, tc.lower)
			}
			ratio := exact / paper
			if z > tc.lower+1 && !(ratio > prevRatio) {
				t.Errorf("q=%v z=%d: ratio exact/paper %v does not grow (was %v)", tc.q, z, ratio, prevRatio)
			}
			prevRatio = ratio
		}
		p := 1 - tc.q
		rho := tc.q / p
		got := AttackerSuccessExact(tc.q, 301) / AttackerSuccessExact(tc.q, 300)
		if want := 4 * p * tc.q; math.Abs(got-want) > 0.003*want {
			t.Errorf("q=%v: each block at z=300 multiplies P by %.5f, want about 4pq = %.5f", tc.q, got, want)
		}
		if 4*p*tc.q <= rho*math.Exp(1-rho) {
			t.Errorf("q=%v: 4pq = %v is not above ρ·e^(1−ρ) = %v", tc.q, 4*p*tc.q, rho*math.Exp(1-rho))
		}
	}
	// The doc comment's numbers.
	for _, tc := range []struct {
		q     float64
		z     int
		exact string
	}{
		{0.1, 1, "0.2000000"}, {0.1, 5, "0.0017818"}, {0.1, 10, "0.0000079"},
		{0.3, 5, "0.1976173"}, {0.3, 24, "0.0040007"}, {0.3, 50, "0.0000311"},
	} {
		if got := fmt.Sprintf("%.7f", AttackerSuccessExact(tc.q, tc.z)); got != tc.exact {
			t.Errorf("q=%v z=%d: %s, the doc says %s", tc.q, tc.z, got, tc.exact)
		}
	}
	for _, tc := range []struct {
		q           float64
		paper, want int
	}{{0.1, 5, 6}, {0.3, 24, 32}, {0.45, 340, 539}} {
		if got := firstBelow(0.001, func(z int) float64 { return AttackerSuccessExact(tc.q, z) }); got != tc.want {
			t.Errorf("q=%v: P < 0.1%% from z=%d, the doc says %d", tc.q, got, tc.want)
		}
		if got := ConfirmationsNeeded(tc.q, 0.001); got != tc.paper {
			t.Errorf("q=%v: the paper's z is %d, the doc says %d", tc.q, got, tc.paper)
		}
	}
}

// firstBelow returns the smallest z ≥ 0 with f(z) < risk (-1 past 10,000).
func firstBelow(risk float64, f func(z int) float64) int {
	for z := 0; z <= 10_000; z++ {
		if f(z) < risk {
			return z
		}
	}
	return -1
}

// Large z: no underflow of the terms while the sum is representable, no
// NaN, and the probability keeps falling.
func TestAttackerSuccessExactLargeZ(t *testing.T) {
	for _, q := range []float64{0.1, 0.3, 0.45, 0.499} {
		prev := 1.0
		for _, z := range []int{100, 1_000, 5_000, 20_000} {
			got := AttackerSuccessExact(q, z)
			if math.IsNaN(got) || got < 0 || got > prev {
				t.Errorf("q=%v z=%d: %v (z before: %v)", q, z, got, prev)
			}
			prev = got
		}
	}
	// 0.3, z = 2000: about 1.14e-153, far below what 1 − Σ could show.
	if got := AttackerSuccessExact(0.3, 2000); !(got > 1e-154 && got < 1e-152) {
		t.Errorf("q=0.3 z=2000: %g, want about 1.1e-153", got)
	}
}

func TestAttackerSuccessExactEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		q    float64
		z    int
		want float64
	}{
		{0.1, 0, 1}, {0.1, -3, 1}, {0.5, 1, 1}, {0.5, 100, 1}, {0.7, 5, 1}, {1, 5, 1}, {2, 5, 1},
		{0, 1, 0}, {0, 100, 0}, {-0.5, 3, 0}, {0, 0, 1}, {math.Inf(1), 4, 1}, {math.Inf(-1), 4, 0},
	} {
		if got := AttackerSuccessExact(tc.q, tc.z); got != tc.want {
			t.Errorf("AttackerSuccessExact(%v, %d) = %v, want %v", tc.q, tc.z, got, tc.want)
		}
		if got, paper := AttackerSuccessExact(tc.q, tc.z), AttackerSuccess(tc.q, tc.z); got != paper {
			t.Errorf("q=%v z=%d: %v, AttackerSuccess gives %v: the edge cases differ", tc.q, tc.z, got, paper)
		}
	}
	if got := AttackerSuccessExact(math.NaN(), 3); !math.IsNaN(got) {
		t.Errorf("NaN q: %v, want NaN", got)
	}
}

// raceByStates runs the double-spend race block by block on exact
// probabilities, as the rules say, with nothing of RaceSuccess's algebra:
// the state is the blocks each side has found since the fork; the merchant
// ships when the honest side has z; from then on the attacker wins when
// ahead and gives up when giveUp behind. After steps blocks it returns
// what has been won and what is still undecided.
func raceByStates(r ratQ, z, giveUp, steps int) (won, open *big.Rat) {
	type state struct{ honest, attacker int }
	won = new(big.Rat)
	live := map[state]*big.Rat{{0, 0}: big.NewRat(1, 1)}
	for step := 0; ; step++ {
		next := map[state]*big.Rat{}
		for s, pr := range live {
			shipped := s.honest >= z
			switch {
			case shipped && s.attacker > s.honest: // more work: the reorg
				won.Add(won, pr)
				continue
			case shipped && giveUp >= 1 && s.honest-s.attacker >= giveUp:
				continue // given up: lost
			}
			if step == steps {
				next[s] = pr
				continue
			}
			h, a := s, s
			h.honest++
			a.attacker++
			addState(next, h, new(big.Rat).Mul(pr, r.ratP()))
			addState(next, a, new(big.Rat).Mul(pr, r.rat()))
		}
		live = next
		if step == steps {
			break
		}
	}
	open = new(big.Rat)
	for _, pr := range live {
		open.Add(open, pr)
	}
	return won, open
}

func addState[K comparable](m map[K]*big.Rat, k K, v *big.Rat) {
	if old, ok := m[k]; ok {
		old.Add(old, v)
	} else {
		m[k] = v
	}
}

// RaceSuccess is the probability of the race as the rules run it: checked
// against the race played out block by block in exact rationals, which
// brackets the answer between what is won after 200 blocks and that plus
// what is still undecided.
func TestRaceSuccessMatchesTheRacePlayedOut(t *testing.T) {
	for _, r := range []ratQ{{1, 10}, {3, 10}, {2, 5}, {1, 2}, {3, 5}} {
		for _, z := range []int{0, 1, 2, 3, 5} {
			for _, giveUp := range []int{1, 2, 4, 6} {
				won, open := raceByStates(r, z, giveUp, 200)
				lo, _ := won.Float64()
				hi, _ := new(big.Rat).Add(won, open).Float64()
				if hi-lo > 1e-6 {
					t.Fatalf("q=%v z=%d giveUp=%d: %g still undecided after 200 blocks", r, z, giveUp, hi-lo)
				}
				got := RaceSuccess(r.float(), z, giveUp)
				if !(got >= lo*(1-1e-12) && got <= hi*(1+1e-12)) {
					t.Errorf("q=%v z=%d giveUp=%d: %.15g, the race played out gives [%.15g, %.15g]", r, z, giveUp, got, lo, hi)
				}
			}
		}
	}
}

// An attacker who never gives up: the race against exact rationals (the
// attacker must get one block ahead: the paper's sum with one more block
// to find), to 1e-11 even where the answer is tiny.
func TestRaceSuccessNeverGivingUp(t *testing.T) {
	for _, r := range testShares {
		for _, z := range []int{0, 1, 2, 3, 6, 24, 200} {
			want := catchUpRat(r, z, 1)
			if z == 0 {
				want = r.ratRho()
			}
			for _, giveUp := range []int{0, -1} {
				if e := relErr(RaceSuccess(r.float(), z, giveUp), want); !(e <= 1e-11) {
					w, _ := want.Float64()
					t.Errorf("q=%v z=%d giveUp=%d: %.15g, want %.15g", r, z, giveUp, RaceSuccess(r.float(), z, giveUp), w)
				}
			}
			// A patient attacker is the limit of one who gives up far behind.
			if never, far := RaceSuccess(r.float(), z, 0), RaceSuccess(r.float(), z, 100_000); math.Abs(far-never) > 1e-9*never {
				t.Errorf("q=%v z=%d: never %v, giving up 100,000 behind %v", r, z, never, far)
			}
		}
	}
}

// The race is harder for the attacker than the paper's counting, easier
// the later it gives up, and harder with every confirmation; the doc
// comment's numbers are the function's.
func TestRaceSuccessOrderAndDocumentedNumbers(t *testing.T) {
	for _, q := range []float64{0.05, 0.1, 0.2, 0.3, 0.4, 0.45} {
		prevZ := 1.0
		for z := 0; z <= 40; z++ {
			never := RaceSuccess(q, z, 0)
			if paper := AttackerSuccessExact(q, z); !(never < paper) {
				t.Errorf("q=%v z=%d: race %v not below the paper's exact %v", q, z, never, paper)
			}
			if !(never < prevZ) {
				t.Errorf("q=%v z=%d: race %v not below z−1's %v", q, z, never, prevZ)
			}
			prevZ = never
			prevD := 0.0
			for _, d := range []int{1, 2, 3, 5, 8, 13, 40} {
				got := RaceSuccess(q, z, d)
				if got < prevD || got > never {
					t.Errorf("q=%v z=%d giveUp=%d: %v, not between giveUp's smaller values (%v) and never (%v)", q, z, d, got, prevD, never)
				}
				prevD = got
			}
		}
	}
	for _, tc := range []struct {
		q         float64
		z, giveUp int
		format    string
		want      string
	}{
		{0.1, 5, 0, "%.7f", "0.0003286"}, {0.3, 5, 0, "%.4f", "0.1117"}, {0.3, 0, 0, "%.4f", "0.4286"},
		{0.3, 5, 0, "%.5f", "0.11175"}, {0.3, 5, 10, "%.5f", "0.11167"}, {0.3, 5, 6, "%.5f", "0.10938"}, {0.3, 5, 5, "%.5f", "0.10621"},
	} {
		if got := fmt.Sprintf(tc.format, RaceSuccess(tc.q, tc.z, tc.giveUp)); got != tc.want {
			t.Errorf("RaceSuccess(%v, %d, %d) = %s, the doc says %s", tc.q, tc.z, tc.giveUp, got, tc.want)
		}
	}
	for _, tc := range []struct{ giveUp, want int }{{0, 530}, {6, 491}} {
		if got := firstBelow(0.001, func(z int) float64 { return RaceSuccess(0.45, z, tc.giveUp) }); got != tc.want {
			t.Errorf("q=0.45 giveUp=%d: P < 0.1%% from z=%d, the doc says %d", tc.giveUp, got, tc.want)
		}
	}
}

func TestRaceSuccessEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		q         float64
		z, giveUp int
		want      float64
	}{
		{0, 0, 0, 0}, {0, 5, 3, 0}, {-1, 2, 0, 0}, {math.Inf(-1), 2, 0, 0},
		{1, 0, 0, 1}, {1, 5, 3, 1}, {3, 5, 3, 1}, {math.Inf(1), 5, 3, 1},
		{0.5, 5, 0, 1}, {0.6, 50, -2, 1},
		{0.5, 0, 4, 4.0 / 5}, // level, a fair coin: one ahead before four behind
	} {
		if got := RaceSuccess(tc.q, tc.z, tc.giveUp); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("RaceSuccess(%v, %d, %d) = %v, want %v", tc.q, tc.z, tc.giveUp, got, tc.want)
		}
	}
	if got := RaceSuccess(math.NaN(), 3, 5); !math.IsNaN(got) {
		t.Errorf("NaN q: %v, want NaN", got)
	}
	for _, q := range []float64{0.1, 0.3} {
		if a, b := RaceSuccess(q, -4, 6), RaceSuccess(q, 0, 6); a != b {
			t.Errorf("q=%v: z=-4 gives %v, z=0 gives %v", q, a, b)
		}
	}
	// An attacker at half the hash rate or more who gives up can lose.
	if got := RaceSuccess(0.6, 10, 3); !(got > 0.5 && got < 1) {
		t.Errorf("q=0.6 z=10 giveUp=3: %v, want between ½ and 1", got)
	}
	// Large z stays accurate: no NaN, positive while representable.
	if got := RaceSuccess(0.3, 2000, 10); !(got > 1e-155 && got < 1e-152) {
		t.Errorf("q=0.3 z=2000 giveUp=10: %g", got)
	}
}
