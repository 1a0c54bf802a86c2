package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/examples/internal/demo"
)

// slotNonces is how many nonces the whole network tries in one slot of
// simulated time (one second): the honest miners round(p·slotNonces) of
// them and Mallory round(q·slotNonces), so shares are exact to four
// decimals.
const slotNonces = 10_000

// world is what every race shares: the chain's rules, the people, and the
// two transfers of the same coins.
type world struct {
	params blockchain.Params
	target blockchain.Target // the target every block must meet
	people *demo.Book
	pay    blockchain.Transaction // Mallory pays the merchant
	back   blockchain.Transaction // the same coins back to Mallory: same nonce
	giveUp int                    // Mallory gives up this many blocks behind
}

// newWorld sets the rules: the test parameters at a fixed target of bits
// leading zero bits, and Mallory's coins in the genesis block.
func newWorld(bits, giveUp int) (*world, error) {
	people := demo.NewBook("mallory", "merchant", "honest miners")
	params := blockchain.TestParams()
	params.InitialTarget = blockchain.TargetFromBits(bits)
	params.RetargetInterval = 0 // every block the same work
	params.Allocations = []blockchain.Allocation{{To: people.Address("mallory"), Amount: opening}}
	if err := params.Validate(); err != nil {
		return nil, err
	}
	target, err := blockchain.TargetFromCompact(params.InitialTarget.Compact())
	if err != nil {
		return nil, err
	}
	chainID := params.ChainID()
	mallory := people.Wallet("mallory")
	return &world{
		params: params,
		target: target,
		people: people,
		pay:    mallory.SignTransfer(chainID, people.Address("merchant"), price, fee, 0),
		back:   mallory.SignTransfer(chainID, people.Address("mallory"), price, fee, 0),
		giveUp: giveUp,
	}, nil
}

// split is how a slot's nonces are shared between the two sides.
type split struct {
	q               float64 // Mallory's share, as asked
	honest, mallory int     // nonces per slot
}

func newSplit(q float64) split {
	m := int(math.Round(q * slotNonces))
	return split{q: q, honest: slotNonces - m, mallory: m}
}

// perBlock returns the exact probability (hashes being uniformly random)
// that Mallory finds the next block, under the slot rules of raceSlot,
// when each nonce meets the target with probability eps. Within a slot
// the honest side's i-th nonce comes at time (i−½)/honest and Mallory's
// j-th at (j−½)/mallory, so each side hashes at its share's pace; the
// first nonce to meet the target wins, and of two at the same instant the
// lower hash, so each wins half of such ties. A slot with no block is
// followed by another just like it, so the answer is Mallory's chance of
// winning a slot that has a winner. It differs from mallory/slotNonces
// only because nonces are discrete:
// with the midpoints the two sides' first-order head starts cancel, and
// what is left is of order eps², larger when one side has few nonces
// between blocks. At 8 bits it is −6·10⁻⁶ for q = 0.1, −6·10⁻¹¹ for
// q = 0.3, −7·10⁻⁶ for q = 0.45, and −6·10⁻⁵ (0.6% of her share) for
// q = 0.01.
func (s split) perBlock(eps float64) float64 {
	none := 1.0 // no nonce has met the target yet in this slot
	var honestWins, malloryWins float64
	i, j := 1, 1
	for i <= s.honest || j <= s.mallory {
		switch s.next(i, j) {
		case honestNext:
			honestWins += none * eps
			none *= 1 - eps
			i++
		case malloryNext:
			malloryWins += none * eps
			none *= 1 - eps
			j++
		default: // the same instant: one alone wins, both share the tie
			each := none * (eps*(1-eps) + eps*eps/2)
			honestWins += each
			malloryWins += each
			none *= (1 - eps) * (1 - eps)
			i++
			j++
		}
	}
	return malloryWins / (honestWins + malloryWins)
}

const (
	honestNext = iota
	malloryNext
	bothNext
)

// next says whose nonce comes next in a slot: the honest side's i-th, at
// (2i−1)/(2·honest) of the slot, or Mallory's j-th, at (2j−1)/(2·mallory).
func (s split) next(i, j int) int {
	switch {
	case j > s.mallory:
		return honestNext
	case i > s.honest:
		return malloryNext
	}
	h, m := int64(2*i-1)*int64(s.mallory), int64(2*j-1)*int64(s.honest)
	switch {
	case h < m:
		return honestNext
	case m < h:
		return malloryNext
	}
	return bothNext
}

// nonceOdds returns the probability that one nonce meets target:
// (target+1)/2^256.
func nonceOdds(target blockchain.Target) float64 {
	f, _ := new(big.Rat).SetFrac(new(big.Int).Add(target.Big(), big.NewInt(1)), new(big.Int).Lsh(big.NewInt(1), 256)).Float64()
	return f
}

// miner is one side's block template and the nonce it tries next.
type miner struct {
	pool  *blockchain.Mempool
	addr  blockchain.Address
	rng   *rand.Rand
	block *blockchain.Block
}

// renew builds a new template on the pool's chain tip, starting at a
// random nonce.
func (m *miner) renew(now time.Time) {
	m.block = m.pool.NewBlockTemplate(m.addr, now)
	m.block.Header.Nonce = m.rng.Uint64()
}

// try hashes the template with its current nonce. If the hash meets target
// the block is found and the nonce stays; otherwise the next try uses the
// next nonce.
func (m *miner) try(target blockchain.Target) (blockchain.Hash, bool) {
	h := m.block.Header.Hash()
	if h.MeetsTarget(target) {
		return h, true
	}
	m.block.Header.Nonce++
	return h, false
}

// raceSlot has both sides try nonces in time order, slot after slot,
// until one finds a block. It returns the winner (honestNext or
// malloryNext), the simulated time that took (a slot is a second) and
// the hashes tried. The loser of a tie skips its winning nonce: the next
// block starts a fresh slot with fresh nonces for both, as perBlock
// assumes.
func raceSlot(s split, honest, mallory *miner, target blockchain.Target) (winner int, took time.Duration, hashes uint64) {
	for slot := time.Duration(0); ; slot += time.Second {
		for i, j := 1, 1; i <= s.honest || j <= s.mallory; {
			who := s.next(i, j)
			var at time.Duration // the instant within the slot
			var hh, mh blockchain.Hash
			var hFound, mFound bool
			if who != malloryNext {
				at = time.Second * time.Duration(2*i-1) / time.Duration(2*s.honest)
				hh, hFound = honest.try(target)
				i++
				hashes++
			}
			if who != honestNext {
				at = time.Second * time.Duration(2*j-1) / time.Duration(2*s.mallory)
				mh, mFound = mallory.try(target)
				j++
				hashes++
			}
			switch {
			case hFound && mFound && bytes.Compare(mh[:], hh[:]) < 0:
				honest.block.Header.Nonce++
				return malloryNext, slot + at, hashes
			case hFound && mFound:
				mallory.block.Header.Nonce++
				return honestNext, slot + at, hashes
			case hFound:
				return honestNext, slot + at, hashes
			case mFound:
				return malloryNext, slot + at, hashes
			}
		}
	}
}

// outcome is what one race came to, read from the merchant's chain.
type outcome struct {
	reversed bool   // the merchant's chain holds Mallory's transfer back, not the payment
	blocks   int    // blocks mined, both sides
	hashes   uint64 // nonces tried, both sides
}

// race runs one double spend. The merchant's node keeps the public chain,
// on which the honest miners mine; Mallory keeps a chain of her own for her
// secret branch, which forks from genesis, the parent of the payment's
// block. The merchant ships when the payment has z confirmations; from
// then on Mallory publishes her branch to the merchant's node as soon as
// it has more work than the public chain, and gives up when she is
// w.giveUp blocks behind. say, if not nil, narrates.
func (w *world) race(s split, z int, rng *rand.Rand, say func(format string, args ...any)) (outcome, error) {
	if say == nil {
		say = func(string, ...any) {}
	}
	opts := blockchain.ChainOptions{VerifyWorkers: 1}
	merchant, err := blockchain.NewChain(w.params, opts)
	if err != nil {
		return outcome{}, err
	}
	secret, err := blockchain.NewChain(w.params, opts)
	if err != nil {
		return outcome{}, err
	}
	// The payment goes to the honest miners; the transfer back only to
	// Mallory's own miner.
	honestPool := blockchain.NewMempool(merchant, blockchain.MempoolOptions{})
	secretPool := blockchain.NewMempool(secret, blockchain.MempoolOptions{})
	if err := honestPool.Add(w.pay); err != nil {
		return outcome{}, fmt.Errorf("the payment: %w", err)
	}
	if err := secretPool.Add(w.back); err != nil {
		return outcome{}, fmt.Errorf("the transfer back: %w", err)
	}
	now := w.params.GenesisTime.Add(time.Hour) // simulated: a slot is a second
	honest := &miner{pool: honestPool, addr: w.people.Address("honest miners"), rng: rng}
	mallory := &miner{pool: secretPool, addr: w.people.Address("mallory"), rng: rng}
	honest.renew(now)
	mallory.renew(now)

	var out outcome
	shipped := false
	for {
		// The merchant ships once the payment is z blocks deep.
		if !shipped && confirmations(merchant, w.pay) >= uint64(z) {
			shipped = true
			say("the payment has %s: the merchant ships", demo.Plural(z, "confirmation"))
		}
		if shipped {
			pub, sec := merchant.Tip(), secret.Tip()
			if sec.TotalWork.Cmp(pub.TotalWork) > 0 {
				say("Mallory's branch has more work (%d blocks against %d): she publishes it", sec.Height, pub.Height)
				if err := publish(merchant, secret, now, say); err != nil {
					return out, err
				}
				out.reversed = w.reversed(merchant)
				if !out.reversed {
					return out, errors.New("the merchant's node took Mallory's heavier branch, but the payment was not reversed")
				}
				say("the merchant's chain now holds Mallory's transfer back to herself: the payment is reversed")
				return out, nil
			}
			if pub.Height >= sec.Height+uint64(w.giveUp) {
				say("Mallory is %d blocks behind: she gives up", pub.Height-sec.Height)
				if w.reversed(merchant) || confirmations(merchant, w.pay) == 0 {
					return out, errors.New("Mallory gave up, but the merchant's chain does not hold the payment")
				}
				return out, nil
			}
		}

		// The next block: whoever finds it first.
		winner, took, hashes := raceSlot(s, honest, mallory, w.target)
		now = now.Add(took)
		out.blocks++
		out.hashes += hashes
		if winner == honestNext {
			b := honest.block
			res, err := merchant.AddBlock(b, now)
			if err != nil {
				return out, fmt.Errorf("the merchant's node refused an honest block: %w", err)
			}
			honestPool.Update(res)
			honest.renew(now)
			say("honest miners find block %d%s (merchant's node: %s)", b.Header.Height, holds(b, w.pay, "the payment"), res.Status)
		} else {
			b := mallory.block
			res, err := secret.AddBlock(b, now)
			if err != nil {
				return out, fmt.Errorf("Mallory's own node refused her block: %w", err)
			}
			secretPool.Update(res)
			mallory.renew(now)
			say("Mallory finds block %d' in secret%s", b.Header.Height, holds(b, w.back, "her transfer back to herself"))
		}
	}
}

// publish hands Mallory's branch to the merchant's node, block by block,
// and checks that the node switched to it.
func publish(merchant, secret *blockchain.Chain, now time.Time, say func(string, ...any)) error {
	var last blockchain.AddResult
	for h := uint64(1); h <= secret.Height(); h++ {
		b, ok := secret.BlockByHeight(h)
		if !ok {
			return fmt.Errorf("Mallory's block %d is missing", h)
		}
		res, err := merchant.AddBlock(b, now)
		if err != nil {
			return fmt.Errorf("the merchant's node refused Mallory's block %d: %w", h, err)
		}
		say("  block %d' to the merchant's node: %s%s", h, res.Status, tieNote(merchant, b, res))
		last = res
	}
	if merchant.Tip().Hash != secret.Tip().Hash {
		return fmt.Errorf("the merchant's node stayed on its branch (%s) though Mallory's has more work", last.Status)
	}
	if n := len(last.Disconnected); n > 0 {
		say("  the merchant's node switched branches: %s left its main chain", demo.Plural(n, "honest block"))
	}
	return nil
}

// tieNote explains a side-chain block level with the main chain.
func tieNote(merchant *blockchain.Chain, b *blockchain.Block, res blockchain.AddResult) string {
	if res.Status != blockchain.StatusSideChain {
		return ""
	}
	work, _ := merchant.WorkOf(b.Hash())
	if work.Cmp(merchant.Tip().TotalWork) == 0 {
		return " (equal work: the first seen stays)"
	}
	return " (less work)"
}

// reversed reports whether the merchant's chain holds Mallory's transfer
// back to herself instead of the payment.
func (w *world) reversed(merchant *blockchain.Chain) bool {
	_, paid := merchant.Transaction(w.pay.ID())
	_, back := merchant.Transaction(w.back.ID())
	return back && !paid
}

// confirmations returns how deep tx is in chain's main chain: 1 in the tip
// block, 0 if not there.
func confirmations(chain *blockchain.Chain, tx blockchain.Transaction) uint64 {
	info, ok := chain.Transaction(tx.ID())
	if !ok {
		return 0
	}
	return info.Confirmations
}

// holds is ", with what" if b holds tx.
func holds(b *blockchain.Block, tx blockchain.Transaction, what string) string {
	for _, t := range b.Transactions {
		if t == tx {
			return ", with " + what
		}
	}
	return ""
}
