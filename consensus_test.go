package blockchain

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestParamsValidate(t *testing.T) {
	for name, mod := range map[string]func(*Params){
		"zero initial target":     func(p *Params) { p.InitialTarget = Target{} },
		"initial easier than max": func(p *Params) { p.PowLimit = TargetFromBits(20) },
		"retarget interval 1":     func(p *Params) { p.RetargetInterval = 1 },
		"allocations overflow": func(p *Params) {
			p.Allocations = []Allocation{{Amount: math.MaxUint64}, {Amount: 1}}
		},
		"allocations above MaxMoney": func(p *Params) {
			p.Allocations = []Allocation{{Amount: MaxMoney}}
		},
		"no halving, too much reward": func(p *Params) { p.HalvingInterval, p.BlockReward = 0, 1000*Coin },
		"no positive block time":      func(p *Params) { p.TargetBlockTime = 0 },
		"tiny blocks":                 func(p *Params) { p.MaxBlockSize = 100 },
		"blocks beyond a message":     func(p *Params) { p.MaxBlockSize = MaxBlockSizeLimit + 1 },
		"retarget timespan overflows": func(p *Params) {
			p.RetargetInterval, p.TargetBlockTime = 1<<40, 1<<40
		},
		"retarget timespan too short": func(p *Params) {
			p.RetargetInterval, p.TargetBlockTime = 2, 1
		},
	} {
		p := TestParams()
		mod(&p)
		if _, err := NewChain(p, ChainOptions{}); !errors.Is(err, ErrBadParams) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := DefaultParams().Validate(); err != nil {
		t.Fatal(err)
	}
	if DefaultParams().ChainID() == TestParams().ChainID() {
		t.Fatal("default and test chains share an ID")
	}
	p := DefaultParams()
	if p.Reward(0) != 50*Coin || p.Reward(210_000) != 25*Coin || p.Reward(64*210_000) != 0 {
		t.Fatal("halving")
	}
}

func TestRetarget(t *testing.T) {
	const interval = 10
	for _, tc := range []struct {
		name     string
		step     time.Duration
		initial  int
		limit    int
		wantMult *big.Rat // new target / old target
	}{
		{"on time: unchanged", time.Second, 8, 2, big.NewRat(1, 1)},
		{"twice too fast: target halves", time.Second / 2, 8, 2, big.NewRat(1, 2)},
		{"twice too slow: target doubles", 2 * time.Second, 8, 2, big.NewRat(2, 1)},
		{"100 times too fast: clamped to a quarter", time.Second / 100, 8, 2, big.NewRat(1, 4)},
		{"100 times too slow: clamped to 4 times", 100 * time.Second, 8, 2, big.NewRat(4, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGen(t, 1, func(p *Params) {
				p.RetargetInterval = interval
				p.InitialTarget = TargetFromBits(tc.initial)
				p.PowLimit = TargetFromBits(tc.limit)
			})
			c := g.chain()
			blocks := g.grow(c, g.genesis, interval-1, int64(tc.step))
			tip := blocks[len(blocks)-1]
			bits, _ := c.NextBits(tip.Hash())
			old, _ := TargetFromCompact(g.params.InitialTarget.Compact())
			got, err := TargetFromCompact(bits)
			if err != nil {
				t.Fatal(err)
			}
			want := new(big.Rat).Mul(new(big.Rat).SetInt(old.Big()), tc.wantMult)
			ratio, _ := new(big.Rat).Quo(new(big.Rat).SetInt(got.Big()), want).Float64()
			// The compact form keeps 16 to 24 significant bits, rounding down.
			if ratio > 1 || ratio < 1-1.0/(1<<15) {
				t.Fatalf("new target %s is %.6f of the expected", got, ratio)
			}
			// The chain holds blocks to that target, and only that target.
			wrong := g.next(tip, nil, func(b *Block) { b.Header.Bits = tip.Header.Bits })
			if tc.wantMult.Cmp(big.NewRat(1, 1)) != 0 {
				if _, err := c.AddBlock(wrong, g.now); !errors.Is(err, ErrBadTarget) {
					t.Fatalf("old target after a retarget: %v", err)
				}
			}
			g.grow(c, tip, 1, int64(tc.step))
		})
	}
	t.Run("never easier than PowLimit", func(t *testing.T) {
		g := newGen(t, 1, func(p *Params) {
			p.RetargetInterval = interval
			p.InitialTarget = TargetFromBits(3)
			p.PowLimit = TargetFromBits(2)
		})
		c := g.chain()
		blocks := g.grow(c, g.genesis, interval-1, int64(100*time.Second))
		bits, _ := c.NextBits(blocks[len(blocks)-1].Hash())
		if bits != TargetFromBits(2).Compact() {
			t.Fatalf("bits %#08x, want PowLimit %#08x", bits, TargetFromBits(2).Compact())
		}
	})
}

// The chain ID commits to every consensus rule, and no coinbase can share
// an ID with a genesis allocation.
func TestChainIDCommitsToTheRules(t *testing.T) {
	base := TestParams()
	for name, mod := range map[string]func(*Params){
		"reward":           func(p *Params) { p.BlockReward++ },
		"halving":          func(p *Params) { p.HalvingInterval++ },
		"target":           func(p *Params) { p.InitialTarget = TargetFromBits(9) },
		"limit":            func(p *Params) { p.PowLimit = TargetFromBits(2) },
		"retarget":         func(p *Params) { p.RetargetInterval = 10 },
		"block time":       func(p *Params) { p.TargetBlockTime++ },
		"future drift":     func(p *Params) { p.MaxFutureDrift++ },
		"block size":       func(p *Params) { p.MaxBlockSize-- },
		"block txs":        func(p *Params) { p.MaxBlockTxs-- },
		"genesis time":     func(p *Params) { p.GenesisTime = p.GenesisTime.Add(1) },
		"minimum fee":      func(p *Params) { p.MinTxFee++ },
		"timewarp bound":   func(p *Params) { p.MaxTimewarp++ },
		"allocations":      func(p *Params) { p.Allocations = []Allocation{{Amount: 1}} },
		"name (not rules)": func(p *Params) { p.Name = "other" },
	} {
		p := base
		mod(&p)
		if same := p.ChainID() == base.ChainID(); same != (name == "name (not rules)") {
			t.Errorf("changing %s: same chain ID = %v", name, same)
		}
	}

	g := newGen(t, 2)
	c := g.chain()
	alloc := g.genesis.Transactions[1]
	// A coinbase at height 1 paying person 1 exactly their allocation.
	b := g.next(g.genesis, nil, func(b *Block) {
		b.Transactions[0] = NewCoinbase(alloc.To, alloc.Amount, 1)
		fixRoot(b)
	})
	if b.Transactions[0].ID() == alloc.ID() {
		t.Fatal("a coinbase has the ID of a genesis allocation")
	}
	g.add(c, b)
	if info, ok := c.Transaction(alloc.ID()); !ok || info.Height != 0 {
		t.Fatalf("the allocation is reported at height %d", info.Height)
	}
}

// The timewarp attack (finding of the consensus review): a majority miner
// stamps every block as early as the rules allow, except the last block of
// each retarget interval, which gets the honest time. Blocks come at
// exactly the intended pace, so nobody sees a stamp in the future. When a
// retarget measured only from the first to the last block of an interval,
// each interval looked four times too slow and the target fell to PowLimit
// in a few intervals. Measured across the link from the previous interval's
// last block, every interval measures its honest duration, and the target
// stays where it was.
func TestTimewarpCannotEaseTheTarget(t *testing.T) {
	const interval = 10
	g := newGen(t, 1, func(p *Params) {
		p.RetargetInterval = interval
		p.InitialTarget = TargetFromBits(12)
		p.PowLimit = TargetFromBits(4)
	})
	c := g.chain()
	step := int64(g.params.TargetBlockTime)
	warp := int64(g.params.MaxTimewarp)
	parent := g.genesis
	for h := uint64(1); h <= 8*interval; h++ {
		bits, _ := c.NextBits(parent.Hash())
		mtp, _ := c.MedianTimePast(parent.Hash())
		stamp := mtp + 1 // as early as the median-time rule allows
		if h%interval == 0 {
			stamp = max(stamp, parent.Header.Time-warp) // as early as the timewarp bound allows
		}
		if h%interval == interval-1 {
			stamp = g.genesis.Header.Time + int64(h)*step // the honest time
		}
		b := g.next(parent, nil, func(b *Block) { b.Header.Bits, b.Header.Time = bits, stamp })
		g.add(c, b)
		parent = b
	}
	bits, _ := c.NextBits(parent.Hash())
	got, _ := TargetFromCompact(bits)
	initial, _ := TargetFromCompact(g.params.InitialTarget.Compact())
	if got.Big().Cmp(initial.Big()) > 0 {
		t.Fatalf("after 8 intervals the target eased from %d to %d zero bits", initial.ZeroBits(), got.ZeroBits())
	}

	// The bound itself: the first block of an interval may not be stamped
	// more than MaxTimewarp before its parent.
	last := parent
	for last.Header.Height%interval != interval-1 {
		bits, _ := c.NextBits(last.Hash())
		prev := last
		last = g.next(last, nil, func(b *Block) { b.Header.Bits, b.Header.Time = bits, prev.Header.Time+3*warp })
		g.add(c, last)
	}
	bits, _ = c.NextBits(last.Hash())
	early := g.next(last, nil, func(b *Block) { b.Header.Bits, b.Header.Time = bits, last.Header.Time-warp-1 })
	if _, err := c.AddBlock(early, g.now); !errors.Is(err, ErrTimeTooOld) {
		t.Fatalf("first block of an interval stamped MaxTimewarp+1ns before its parent: %v, want ErrTimeTooOld", err)
	}
	onTime := g.next(last, nil, func(b *Block) { b.Header.Bits, b.Header.Time = bits, last.Header.Time-warp })
	g.add(c, onTime)
}

// Errors print what a program tests for and what a person reads: a code
// prints as its constant's name, a rule error names the package once, and
// amounts are in coins.
func TestErrorsPrintForPeople(t *testing.T) {
	if got := fmt.Sprint(ErrInsufficientFunds); got != "ErrInsufficientFunds" {
		t.Fatalf("a code prints as %q", got)
	}
	g := newGen(t, 2)
	c := g.chain()
	_, err := c.AddBlock(g.next(g.genesis, []Transaction{g.pay(0, 1, 2*testFund, 1, 0)}), g.now)
	var re *RuleError
	if !errors.As(err, &re) || re.Code != ErrInsufficientFunds {
		t.Fatalf("overspend: %v", err)
	}
	msg := err.Error()
	if strings.Count(msg, "blockchain:") != 1 || !strings.HasPrefix(msg, "blockchain: ErrInsufficientFunds: ") ||
		!strings.Contains(msg, "spends 0.02000001 coins, balance 0.01") {
		t.Fatalf("message %q", msg)
	}
	p := TestParams()
	p.InitialTarget = Target{}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "TargetFromBits") {
		t.Fatalf("a zero initial target does not say how to set one: %v", err)
	}
	for v, want := range map[uint64]string{0: "0", 1: "0.00000001", Coin: "1", 150_000_000: "1.5", MaxMoney: "10000000000"} {
		if got := FormatCoins(v); got != want {
			t.Errorf("FormatCoins(%d) = %q, want %q", v, got, want)
		}
		if back, err := ParseCoins(want); err != nil || back != v {
			t.Errorf("ParseCoins(%q) = %d, %v", want, back, err)
		}
	}
	for _, bad := range []string{"", ".", "1.", ".5x", "-1", "1e3", "0.000000001", "10000000000.00000001", "99999999999999999999"} {
		if _, err := ParseCoins(bad); !errors.Is(err, ErrBadAmount) {
			t.Errorf("ParseCoins(%q): %v", bad, err)
		}
	}
}
