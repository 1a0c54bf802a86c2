package blockchain

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrorCode says which rule a block or transaction broke. Each code is also
// an error, so a rejection can be tested with errors.Is:
//
//	if errors.Is(err, blockchain.ErrInsufficientFunds) { … }
//
// Codes are constants: no package state can be changed by a caller.
type ErrorCode int

// Rejection codes. Consensus codes mean the block or transaction can never
// be valid on this chain (ErrTimeTooNew and ErrUnknownParent excepted: the
// same block may pass later); policy codes (ErrMempoolFull, ErrKnownTx,
// ErrMempoolConflict, and ErrFeeTooLow when the fee meets the chain's
// minimum but not the node's) are a node's local choices.
const (
	// ErrMalformed: the bytes do not decode to a block or transaction.
	ErrMalformed ErrorCode = iota + 1
	// ErrBadVersion: an unknown header or transaction version.
	ErrBadVersion
	// ErrBadProofOfWork: the block hash is above the header's target.
	ErrBadProofOfWork
	// ErrBadTarget: the header's target is not the one the chain expects at
	// that height, or is not a valid compact number.
	ErrBadTarget
	// ErrUnknownParent: the previous block is not known (yet).
	ErrUnknownParent
	// ErrInvalidAncestor: the block builds on a block already found invalid.
	ErrInvalidAncestor
	// ErrBadHeight: the height is not the parent's plus one.
	ErrBadHeight
	// ErrTimeTooOld: the time is not after the median of the last 11
	// blocks, or the first block of a retarget interval is stamped more
	// than Params.MaxTimewarp before its parent.
	ErrTimeTooOld
	// ErrTimeTooNew: the time is further ahead of the node's clock than
	// Params.MaxFutureDrift.
	ErrTimeTooNew
	// ErrBadMerkleRoot: the header's Merkle root does not match the
	// transactions.
	ErrBadMerkleRoot
	// ErrBlockTooLarge: the encoded block exceeds Params.MaxBlockSize.
	ErrBlockTooLarge
	// ErrTooManyTxs: the block has more than Params.MaxBlockTxs transactions.
	ErrTooManyTxs
	// ErrNoCoinbase: the block's first transaction is not a coinbase.
	ErrNoCoinbase
	// ErrExtraCoinbase: a coinbase appears after the first transaction.
	ErrExtraCoinbase
	// ErrBadCoinbase: the coinbase's height, fee or signature is wrong.
	ErrBadCoinbase
	// ErrCoinbaseOverpays: the coinbase pays more than reward plus fees.
	ErrCoinbaseOverpays
	// ErrBadSignature: the signature does not verify for this chain.
	ErrBadSignature
	// ErrNonceTooLow: the sender already used this nonce (a replay).
	ErrNonceTooLow
	// ErrNonceTooHigh: the nonce skips ahead of the sender's next nonce.
	ErrNonceTooHigh
	// ErrInsufficientFunds: the sender's balance is below amount plus fee.
	ErrInsufficientFunds
	// ErrOverflow: an amount plus fee exceeds MaxMoney, or a nonce is
	// used up.
	ErrOverflow
	// ErrDuplicateTx: the same transaction appears twice in a block.
	ErrDuplicateTx
	// ErrTxOnChain: the transaction is already confirmed on the chain. (A
	// block cannot hold one: its nonce is used, ErrNonceTooLow.)
	ErrTxOnChain
	// ErrKnownTx: the transaction is already in the mempool (policy).
	ErrKnownTx
	// ErrMempoolConflict: the mempool holds another transaction with the
	// same sender and nonce (policy).
	ErrMempoolConflict
	// ErrMempoolFull: the mempool is at its limit (policy).
	ErrMempoolFull
	// ErrFeeTooLow: the fee is below Params.MinTxFee (consensus), or below
	// the node's relay minimum or what a full mempool asks (policy).
	ErrFeeTooLow
	// ErrBadGenesis: a block claims height 0 but is not this chain's genesis.
	ErrBadGenesis

	numErrorCodes = iota + 1 // one past the last code, for tests
)

// String returns the code's name, such as "ErrBadSignature".
func (c ErrorCode) String() string {
	switch c {
	case ErrMalformed:
		return "ErrMalformed"
	case ErrBadVersion:
		return "ErrBadVersion"
	case ErrBadProofOfWork:
		return "ErrBadProofOfWork"
	case ErrBadTarget:
		return "ErrBadTarget"
	case ErrUnknownParent:
		return "ErrUnknownParent"
	case ErrInvalidAncestor:
		return "ErrInvalidAncestor"
	case ErrBadHeight:
		return "ErrBadHeight"
	case ErrTimeTooOld:
		return "ErrTimeTooOld"
	case ErrTimeTooNew:
		return "ErrTimeTooNew"
	case ErrBadMerkleRoot:
		return "ErrBadMerkleRoot"
	case ErrBlockTooLarge:
		return "ErrBlockTooLarge"
	case ErrTooManyTxs:
		return "ErrTooManyTxs"
	case ErrNoCoinbase:
		return "ErrNoCoinbase"
	case ErrExtraCoinbase:
		return "ErrExtraCoinbase"
	case ErrBadCoinbase:
		return "ErrBadCoinbase"
	case ErrCoinbaseOverpays:
		return "ErrCoinbaseOverpays"
	case ErrBadSignature:
		return "ErrBadSignature"
	case ErrNonceTooLow:
		return "ErrNonceTooLow"
	case ErrNonceTooHigh:
		return "ErrNonceTooHigh"
	case ErrInsufficientFunds:
		return "ErrInsufficientFunds"
	case ErrOverflow:
		return "ErrOverflow"
	case ErrDuplicateTx:
		return "ErrDuplicateTx"
	case ErrTxOnChain:
		return "ErrTxOnChain"
	case ErrKnownTx:
		return "ErrKnownTx"
	case ErrMempoolConflict:
		return "ErrMempoolConflict"
	case ErrMempoolFull:
		return "ErrMempoolFull"
	case ErrFeeTooLow:
		return "ErrFeeTooLow"
	case ErrBadGenesis:
		return "ErrBadGenesis"
	}
	return fmt.Sprintf("ErrorCode(%d)", int(c))
}

// Error implements error, so that errors.Is(err, ErrBadSignature) works. It
// returns the code's name, like String: printed, a code reads as the
// constant a program tests for.
func (c ErrorCode) Error() string { return c.String() }

// RuleError is the error every rejected block or transaction returns: a
// code saying which rule was broken and a message saying where. It prints
// as "blockchain: ErrInsufficientFunds: …", naming the package once.
type RuleError struct {
	Code ErrorCode
	Msg  string
}

// Error implements error.
func (e *RuleError) Error() string { return "blockchain: " + e.Code.String() + ": " + e.Msg }

// Unwrap returns the code, for errors.Is.
func (e *RuleError) Unwrap() error { return e.Code }

func ruleErr(code ErrorCode, format string, args ...any) *RuleError {
	return &RuleError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Coin is one whole coin in base units. Amounts are always integers of base
// units; Coin, [FormatCoins] and [ParseCoins] only help people write and
// read them.
const Coin uint64 = 100_000_000

// MaxMoney bounds every amount of money on any chain: 10^18 base units, ten
// billion coins. [Params.Validate] refuses a chain whose allocations plus
// every reward its schedule will ever pay exceed it, so no balance can;
// consensus refuses a transaction whose amount plus fee exceeds it. Since
// 2 × MaxMoney < 2^64, no sum of two amounts, of the fees of a block, nor
// of a reward and fees can overflow a uint64.
const MaxMoney uint64 = 1_000_000_000_000_000_000

// RewardHorizon is the last height that may pay a block reward: above it,
// blocks earn only their fees. It bounds the money a schedule without
// halving (or with a very long halving interval) creates, so that
// [Params.Validate] can check the total against [MaxMoney]; at a block a
// second it is more than three years of blocks, at a block a minute 190.
const RewardHorizon uint64 = 100_000_000

// FormatCoins writes an amount of base units in coins, with up to eight
// decimals and no trailing zeros: 150_000_000 is "1.5", 1 is "0.00000001".
func FormatCoins(v uint64) string {
	whole, frac := v/Coin, v%Coin
	s := strconv.FormatUint(whole, 10)
	if frac == 0 {
		return s
	}
	f := fmt.Sprintf("%08d", frac)
	return s + "." + strings.TrimRight(f, "0")
}

// ErrBadAmount is returned (wrapped) by [ParseCoins].
var ErrBadAmount = errors.New("blockchain: invalid amount")

// ParseCoins reads an amount written in coins, such as "1.5" or "0.00000001",
// and returns it in base units. It refuses more than eight decimals, signs,
// exponents and anything above [MaxMoney].
func ParseCoins(s string) (uint64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" && (!dot || frac == "") || len(frac) > 8 || (dot && frac == "") {
		return 0, fmt.Errorf("%w: %q: want coins with at most 8 decimals, like 1.5", ErrBadAmount, s)
	}
	digits := func(d string) bool {
		for _, r := range d {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	if !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w: %q: want coins with at most 8 decimals, like 1.5", ErrBadAmount, s)
	}
	var w uint64
	if whole != "" {
		var err error
		if w, err = strconv.ParseUint(whole, 10, 64); err != nil || w > MaxMoney/Coin {
			return 0, fmt.Errorf("%w: %q is above the maximum of %s coins", ErrBadAmount, s, FormatCoins(MaxMoney))
		}
	}
	f := uint64(0)
	if frac != "" {
		f, _ = strconv.ParseUint((frac + "00000000")[:8], 10, 64)
	}
	v := w*Coin + f
	if v > MaxMoney {
		return 0, fmt.Errorf("%w: %q is above the maximum of %s coins", ErrBadAmount, s, FormatCoins(MaxMoney))
	}
	return v, nil
}

// Allocation gives an address a starting balance in the genesis block.
type Allocation struct {
	To     Address `json:"to"`
	Amount uint64  `json:"amount"`
}

// Params holds every consensus constant of a chain. Two nodes agree on a
// chain only if their Params are equal: the genesis block, and so the chain
// ID that every transaction signs, commits to all of them but Name. The
// zero value is not usable: start from [DefaultParams] or [TestParams] and
// change fields. Params encode to JSON with durations as Go duration
// strings ("1m0s") and targets as 64 hex digits, for params files.
type Params struct {
	// Name is for display only, e.g. "main" or "test".
	Name string

	// GenesisTime is the genesis block's time.
	GenesisTime time.Time
	// Allocations are the starting balances in the genesis block.
	Allocations []Allocation

	// InitialTarget is the target of the genesis block and of the first
	// retarget interval (of every block, if RetargetInterval is 0). Headers
	// carry it in compact form, which keeps two or three significant bytes,
	// so the target really used is TargetFromCompact(InitialTarget.Compact()).
	// TargetFromBits(n) gives a target that takes about 2^n hashes.
	InitialTarget Target
	// PowLimit is the easiest target a block may carry.
	PowLimit Target
	// TargetBlockTime is the intended time between blocks.
	TargetBlockTime time.Duration
	// RetargetInterval is how many blocks share a target. 0 keeps the
	// target fixed at InitialTarget, as in the tutorial. Otherwise the
	// target changes at every height that is a multiple of it, scaled by
	// how long the last interval took over how long it should have taken
	// (PROTOCOL.md in the repository gives the exact rule). It must not be 1.
	RetargetInterval uint64
	// MaxTimewarp is how far before its parent the first block of a
	// retarget interval may be stamped (BIP 94's rule against the timewarp
	// attack). It is ignored when RetargetInterval is 0.
	MaxTimewarp time.Duration

	// BlockReward is what the coinbase may create at height 1, in base
	// units.
	BlockReward uint64
	// HalvingInterval halves the reward every this many blocks; 0 never.
	// No block above [RewardHorizon] pays a reward either way.
	HalvingInterval uint64
	// MinTxFee is the fee every transaction must pay at least, in base
	// units: putting a transaction on the chain is never free, so nobody
	// can fill the state with accounts of keys that were never funded.
	MinTxFee uint64

	// MaxFutureDrift is how far a block's time may be ahead of the
	// validating node's clock.
	MaxFutureDrift time.Duration
	// MaxBlockSize limits a block's encoding in bytes.
	MaxBlockSize int
	// MaxBlockTxs limits a block's transactions, coinbase included.
	MaxBlockTxs int
}

// MaxBlockSizeLimit is the largest Params.MaxBlockSize allowed: a block
// must fit, with room to spare, in one network message.
const MaxBlockSizeLimit = MaxMessageSize / 4

// medianTimeBlocks is how many blocks the median-time-past rule looks at.
const medianTimeBlocks = 11

// DefaultParams returns the parameters of the default network: Bitcoin's
// shape at laptop scale. A block a minute, retargeted every 60 blocks,
// starting at 24 leading zero bits (a second or two of one core's mining),
// 50 coins a block halving every 210,000 blocks, a minimum fee of 1,000
// base units, no genesis allocations.
func DefaultParams() Params {
	return Params{
		Name:             "main",
		GenesisTime:      time.Date(2025, 11, 23, 0, 0, 0, 0, time.UTC),
		InitialTarget:    TargetFromBits(24),
		PowLimit:         TargetFromBits(16),
		TargetBlockTime:  time.Minute,
		RetargetInterval: 60,
		MaxTimewarp:      10 * time.Minute,
		BlockReward:      50 * Coin,
		HalvingInterval:  210_000,
		MinTxFee:         1_000,
		MaxFutureDrift:   2 * time.Hour,
		MaxBlockSize:     1 << 20,
		MaxBlockTxs:      (1<<20 - HeaderSize - 8) / TxSize,
	}
}

// TestParams returns parameters for tests and teaching: 8 leading zero bits
// (about 256 hashes a block), a fixed target, a one-second target block
// time, a minimum fee of 1 base unit, and no allocations (tests add their
// own). Mining at such a target takes microseconds, so a [Node] paces its
// miner to the block time unless told otherwise (NodeConfig.MinBlockInterval).
func TestParams() Params {
	p := DefaultParams()
	p.Name = "test"
	p.InitialTarget = TargetFromBits(8)
	p.PowLimit = TargetFromBits(1)
	p.TargetBlockTime = time.Second
	p.RetargetInterval = 0
	p.MaxTimewarp = 10 * time.Second
	p.MinTxFee = 1
	return p
}

// ErrBadParams is returned (wrapped) by [Params.Validate].
var ErrBadParams = errors.New("blockchain: invalid params")

// initialBits returns the compact form of the initial target, which the
// genesis header carries.
func (p *Params) initialBits() uint32 { return p.InitialTarget.Compact() }

// Validate checks that p describes a usable chain.
func (p Params) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadParams, fmt.Sprintf(format, args...))
	}
	initial, err := TargetFromCompact(p.initialBits())
	if err != nil {
		return bad("InitialTarget %s is zero: set it with TargetFromBits(n) for about 2^n hashes a block", p.InitialTarget)
	}
	if p.PowLimit == (Target{}) {
		return bad("zero PowLimit: set it with TargetFromBits(n)")
	}
	if bytesGreater(initial[:], p.PowLimit[:]) {
		return bad("InitialTarget %s (%d zero bits) is easier than PowLimit %s (%d zero bits)",
			initial, initial.ZeroBits(), p.PowLimit, p.PowLimit.ZeroBits())
	}
	if p.TargetBlockTime <= 0 {
		return bad("TargetBlockTime %v is not positive", p.TargetBlockTime)
	}
	if p.RetargetInterval == 1 {
		return bad("RetargetInterval 1 leaves no interval to measure")
	}
	// A retarget's expected timespan, RetargetInterval × TargetBlockTime,
	// is scaled by 4 when clamping: it must fit an int64 of nanoseconds.
	if p.RetargetInterval > 0 && p.RetargetInterval > uint64(math.MaxInt64/4/p.TargetBlockTime) {
		return bad("RetargetInterval %d × TargetBlockTime %v overflows", p.RetargetInterval, p.TargetBlockTime)
	}
	// The first interval spans RetargetInterval-1 block times: clamping it
	// to a quarter must leave something to measure.
	if p.RetargetInterval > 0 && int64(p.RetargetInterval-1)*int64(p.TargetBlockTime) < 4 {
		return bad("RetargetInterval %d with TargetBlockTime %v gives no usable timespan", p.RetargetInterval, p.TargetBlockTime)
	}
	if p.MaxFutureDrift < 0 || p.MaxTimewarp < 0 {
		return bad("negative MaxFutureDrift or MaxTimewarp")
	}
	if p.MaxBlockTxs < 1 || p.MaxBlockSize < HeaderSize+1+TxSize {
		return bad("block limits too small for a coinbase")
	}
	if p.MaxBlockSize > MaxBlockSizeLimit {
		return bad("MaxBlockSize %d above %d: such a block would not fit in a message", p.MaxBlockSize, MaxBlockSizeLimit)
	}
	if p.MinTxFee > MaxMoney {
		return bad("MinTxFee %d above MaxMoney", p.MinTxFee)
	}
	supply := new(big.Int)
	for _, a := range p.Allocations {
		supply.Add(supply, new(big.Int).SetUint64(a.Amount))
	}
	supply.Add(supply, p.scheduledRewards())
	if supply.Cmp(new(big.Int).SetUint64(MaxMoney)) > 0 {
		return bad("allocations plus every reward the schedule pays come to %s base units, above MaxMoney (%d): "+
			"lower BlockReward or the allocations, or set a HalvingInterval", supply, MaxMoney)
	}
	return nil
}

// scheduledRewards returns the sum of Reward(h) over every height.
func (p Params) scheduledRewards() *big.Int {
	total := new(big.Int)
	add := func(blocks, reward uint64) {
		total.Add(total, new(big.Int).Mul(new(big.Int).SetUint64(blocks), new(big.Int).SetUint64(reward)))
	}
	if p.HalvingInterval == 0 {
		add(RewardHorizon, p.BlockReward)
		return total
	}
	// Era e covers heights e×I … (e+1)×I−1; heights 1 … RewardHorizon pay.
	for e := uint64(0); e < 64; e++ {
		lo := e * p.HalvingInterval
		if lo > RewardHorizon || (e > 0 && lo/e != p.HalvingInterval) {
			break
		}
		hi := RewardHorizon
		if end := lo + p.HalvingInterval - 1; end >= lo && end < hi {
			hi = end
		}
		add(hi-max(lo, 1)+1, p.BlockReward>>e)
	}
	return total
}

func bytesGreater(a, b []byte) bool { return bytes.Compare(a, b) > 0 }

// addOverflows returns a+b and whether it overflowed.
func addOverflows(a, b uint64) (uint64, bool) {
	s, carry := bits.Add64(a, b, 0)
	return s, carry != 0
}

// paramsJSON is the JSON form of Params: durations as Go duration strings.
type paramsJSON struct {
	Name             string       `json:"name"`
	GenesisTime      time.Time    `json:"genesis_time"`
	Allocations      []Allocation `json:"allocations,omitempty"`
	InitialTarget    Target       `json:"initial_target"`
	PowLimit         Target       `json:"pow_limit"`
	TargetBlockTime  string       `json:"target_block_time"`
	RetargetInterval uint64       `json:"retarget_interval"`
	MaxTimewarp      string       `json:"max_timewarp"`
	BlockReward      uint64       `json:"block_reward"`
	HalvingInterval  uint64       `json:"halving_interval"`
	MinTxFee         uint64       `json:"min_tx_fee"`
	MaxFutureDrift   string       `json:"max_future_drift"`
	MaxBlockSize     int          `json:"max_block_size"`
	MaxBlockTxs      int          `json:"max_block_txs"`
}

// MarshalJSON encodes p with durations as strings such as "1m0s".
func (p Params) MarshalJSON() ([]byte, error) {
	return json.Marshal(paramsJSON{
		Name: p.Name, GenesisTime: p.GenesisTime.UTC(), Allocations: p.Allocations,
		InitialTarget: p.InitialTarget, PowLimit: p.PowLimit,
		TargetBlockTime: p.TargetBlockTime.String(), RetargetInterval: p.RetargetInterval,
		MaxTimewarp: p.MaxTimewarp.String(), BlockReward: p.BlockReward, HalvingInterval: p.HalvingInterval,
		MinTxFee: p.MinTxFee, MaxFutureDrift: p.MaxFutureDrift.String(),
		MaxBlockSize: p.MaxBlockSize, MaxBlockTxs: p.MaxBlockTxs,
	})
}

// UnmarshalJSON decodes what MarshalJSON writes. Every field must be
// present; it does not validate the result (call [Params.Validate]).
func (p *Params) UnmarshalJSON(data []byte) error {
	var j paramsJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	var durs [3]time.Duration
	for i, s := range []string{j.TargetBlockTime, j.MaxTimewarp, j.MaxFutureDrift} {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadParams, err)
		}
		durs[i] = d
	}
	*p = Params{
		Name: j.Name, GenesisTime: j.GenesisTime, Allocations: j.Allocations,
		InitialTarget: j.InitialTarget, PowLimit: j.PowLimit,
		TargetBlockTime: durs[0], RetargetInterval: j.RetargetInterval, MaxTimewarp: durs[1],
		BlockReward: j.BlockReward, HalvingInterval: j.HalvingInterval, MinTxFee: j.MinTxFee,
		MaxFutureDrift: durs[2], MaxBlockSize: j.MaxBlockSize, MaxBlockTxs: j.MaxBlockTxs,
	}
	return nil
}

// Genesis returns the chain's first block. It needs no proof-of-work, and
// its hash is the chain ID, so it commits to everything that makes the
// chain this chain:
//   - its PrevHash is not zero but the digest of the consensus parameters
//     (PROTOCOL.md in the repository gives its exact bytes), so two chains
//     that differ in any rule have different IDs and a transaction signed
//     for one is invalid on the other;
//   - its transactions are the allocations, each in coinbase form (zero
//     sender, no fee, no signature) with nonce 2^63 + its index, which no
//     coinbase can carry (a coinbase's nonce is its height), so every
//     transaction ID is unique.
func (p Params) Genesis() *Block {
	b := &Block{Header: Header{
		Version:  HeaderVersion,
		PrevHash: p.digest(),
		Time:     p.GenesisTime.UnixNano(),
		Bits:     p.initialBits(),
	}}
	for i, a := range p.Allocations {
		b.Transactions = append(b.Transactions, Transaction{To: a.To, Amount: a.Amount, Nonce: allocationNonce | uint64(i)})
	}
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	return b
}

// allocationNonce marks genesis allocations apart from coinbases.
const allocationNonce = 1 << 63

// paramsDomain starts the digest of the consensus parameters.
const paramsDomain = "nakachain/params/v2"

// digest hashes the consensus parameters that the genesis header does not
// already hold: the domain, then InitialTarget's compact form (4 bytes),
// PowLimit (32 bytes), and nine 8-byte big-endian integers in the order
// below.
func (p Params) digest() Hash {
	b := []byte(paramsDomain)
	b = binary.BigEndian.AppendUint32(b, p.initialBits())
	b = append(b, p.PowLimit[:]...)
	for _, v := range []uint64{
		uint64(p.TargetBlockTime), p.RetargetInterval, uint64(p.MaxTimewarp),
		p.BlockReward, p.HalvingInterval, p.MinTxFee,
		uint64(p.MaxFutureDrift), uint64(p.MaxBlockSize), uint64(p.MaxBlockTxs),
	} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return sum256(b)
}

// ChainID returns the genesis hash, which every transaction signs over so
// that it is valid on this chain only.
func (p Params) ChainID() Hash { return p.Genesis().Hash() }

// Reward returns the new coins a block at height may create:
// BlockReward >> (height / HalvingInterval) (no shift when HalvingInterval
// is 0; 0 after 64 halvings), and 0 above [RewardHorizon]. Genesis (height
// 0) has no coinbase, so its reward is unused.
func (p Params) Reward(height uint64) uint64 {
	if height > RewardHorizon {
		return 0
	}
	if p.HalvingInterval == 0 {
		return p.BlockReward
	}
	halvings := height / p.HalvingInterval
	if halvings >= 64 {
		return 0
	}
	return p.BlockReward >> halvings
}

// checkHeaderSanity checks what a header alone shows: its version, that its
// target is valid and no easier than PowLimit, and that its hash meets it.
func checkHeaderSanity(p *Params, h *Header) *RuleError {
	if h.Version != HeaderVersion {
		return ruleErr(ErrBadVersion, "header version %d, want %d", h.Version, HeaderVersion)
	}
	t, err := h.Target()
	if err != nil {
		return err.(*RuleError)
	}
	if bytes.Compare(t[:], p.PowLimit[:]) > 0 {
		return ruleErr(ErrBadTarget, "target bits %#08x easier than the chain's limit %s", h.Bits, p.PowLimit)
	}
	if hash := h.Hash(); !hash.MeetsTarget(t) {
		return ruleErr(ErrBadProofOfWork, "block %s at height %d: hash above target %#08x", hash.Short(16), h.Height, h.Bits)
	}
	return nil
}

// checkBodySanity checks a block's transactions against its header and
// each other, without the chain.
func checkBodySanity(p *Params, b *Block) (ids []Hash, err *RuleError, mutable bool) {
	h := &b.Header
	if len(b.Transactions) > p.MaxBlockTxs {
		return nil, ruleErr(ErrTooManyTxs, "%d transactions, limit %d", len(b.Transactions), p.MaxBlockTxs), true
	}
	if size := b.Size(); size > p.MaxBlockSize {
		return nil, ruleErr(ErrBlockTooLarge, "%d bytes, limit %d", size, p.MaxBlockSize), true
	}
	ids = b.TxIDs()
	if root := MerkleRoot(ids); root != h.MerkleRoot {
		return nil, ruleErr(ErrBadMerkleRoot, "the header says Merkle root %s, the transactions give %s", h.MerkleRoot.Short(16), root.Short(16)), true
	}
	if len(b.Transactions) == 0 || !b.Transactions[0].IsCoinbase() {
		return nil, ruleErr(ErrNoCoinbase, "first transaction is not a coinbase"), false
	}
	cb := &b.Transactions[0]
	if cb.Nonce != h.Height || cb.Fee != 0 || cb.Signature != (Signature{}) {
		return nil, ruleErr(ErrBadCoinbase, "coinbase must carry height %d as nonce, no fee and no signature", h.Height), false
	}
	seen := make(map[Hash]struct{}, len(ids))
	for i := range b.Transactions {
		tx := &b.Transactions[i]
		if i > 0 && tx.IsCoinbase() {
			return nil, ruleErr(ErrExtraCoinbase, "transaction %d is a second coinbase", i), false
		}
		if _, dup := seen[ids[i]]; dup {
			return nil, ruleErr(ErrDuplicateTx, "transaction %d (%s) appears twice", i, ids[i].Short(12)), false
		}
		seen[ids[i]] = struct{}{}
		if err := checkTxAmounts(p, tx); err != nil {
			err.Msg = fmt.Sprintf("transaction %d: %s", i, err.Msg)
			return nil, err, false
		}
	}
	return ids, nil, false
}

// checkTxAmounts applies the rules on a transaction's own amounts: amount
// plus fee at most MaxMoney, and a transfer's fee at least MinTxFee.
func checkTxAmounts(p *Params, tx *Transaction) *RuleError {
	if tx.Amount > MaxMoney || tx.Fee > MaxMoney || tx.Amount+tx.Fee > MaxMoney {
		return ruleErr(ErrOverflow, "amount %s plus fee %s coins exceeds MaxMoney (%s coins)",
			FormatCoins(tx.Amount), FormatCoins(tx.Fee), FormatCoins(MaxMoney))
	}
	if !tx.IsCoinbase() && tx.Fee < p.MinTxFee {
		return ruleErr(ErrFeeTooLow, "fee %s coins is below the chain's minimum of %s", FormatCoins(tx.Fee), FormatCoins(p.MinTxFee))
	}
	return nil
}

// verifyJob is one signature to check: transaction tx of block blk in a
// batch.
type verifyJob struct {
	tx  *Transaction
	blk int // index of the block in the batch
	idx int // index of the transaction in its block
}

// verifySignatures checks the signatures of jobs on up to workers
// goroutines (fewer than 1 means runtime.GOMAXPROCS(0)). It returns the
// position in jobs of the first bad signature and its error, or -1 and nil:
// the first, not any, so that in a batch of blocks exactly the blocks
// before the first bad one are known good. Signature checks are nearly all
// of a block's validation cost and independent of each other, so they
// split evenly across cores, across blocks as well as within one.
func verifySignatures(jobs []verifyJob, chainID Hash, workers int) (int, *RuleError) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	const minPerWorker = 8 // below this, a goroutine costs more than it saves
	workers = max(1, min(workers, len(jobs)/minPerWorker))
	// firstBad holds the lowest failing position found so far; a worker
	// stops once it is past it, never before, so no earlier failure is
	// missed.
	var firstBad atomic.Int64
	firstBad.Store(math.MaxInt64)
	verifyRange := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if int64(i) > firstBad.Load() {
				return
			}
			if jobs[i].tx.Verify(chainID) != nil {
				for {
					cur := firstBad.Load()
					if int64(i) >= cur || firstBad.CompareAndSwap(cur, int64(i)) {
						return
					}
				}
			}
		}
	}
	if workers == 1 {
		verifyRange(0, len(jobs))
	} else {
		var wg sync.WaitGroup
		chunk := (len(jobs) + workers - 1) / workers
		for w := range workers {
			lo, hi := w*chunk, min((w+1)*chunk, len(jobs))
			wg.Go(func() { verifyRange(lo, hi) })
		}
		wg.Wait()
	}
	bad := firstBad.Load()
	if bad == math.MaxInt64 {
		return -1, nil
	}
	j := jobs[bad]
	err := j.tx.Verify(chainID).(*RuleError)
	err.Msg = fmt.Sprintf("transaction %d: %s", j.idx, err.Msg)
	return int(bad), err
}

// medianTimePast returns the median time of n and up to ten of its
// ancestors: a child of n must be later. With k < 11 blocks (near genesis)
// it is the element at index k/2 of their k sorted times.
func medianTimePast(n *blockNode) int64 {
	var buf [medianTimeBlocks]int64
	times := buf[:0]
	for ; n != nil && len(times) < medianTimeBlocks; n = n.parent {
		times = append(times, n.header.Time)
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// nextBits returns the compact target a child of parent must carry.
//
// Without retargeting it is the parent's. With RetargetInterval N, a child
// at a height H that is a multiple of N gets a new target; others keep the
// parent's. The new target measures the last interval across its link to
// the one before: from the time of block H−N−1 (the previous interval's
// last block; genesis for the first interval, H = N) to the time of block
// H−1, against the time it should have taken, gaps × TargetBlockTime, where
// gaps is the number of block intervals between the two (N, or N−1 for the
// first interval). Linking the intervals is what stops the timewarp attack:
// no block's time counts in one interval and not in the next.
func nextBits(p *Params, parent *blockNode) uint32 {
	height := parent.height() + 1
	if p.RetargetInterval == 0 || height%p.RetargetInterval != 0 {
		return parent.header.Bits
	}
	firstHeight := uint64(0)
	if height > p.RetargetInterval {
		firstHeight = height - p.RetargetInterval - 1
	}
	first := parent.ancestor(firstHeight)
	gaps := parent.height() - firstHeight
	return retarget(p, parent.header.Bits, parent.header.Time-first.header.Time, gaps)
}

// retarget scales the target in oldBits by actual/expected, with expected
// = gaps × TargetBlockTime and actual clamped to expected/4 … expected×4:
// new = old × actual / expected, in integers, rounded down, then capped at
// PowLimit (and raised to 1, the hardest target, should it round to 0),
// then to compact form.
func retarget(p *Params, oldBits uint32, actual int64, gaps uint64) uint32 {
	expected := int64(gaps) * int64(p.TargetBlockTime)
	actual = max(expected/4, min(actual, expected*4))
	old, err := TargetFromCompact(oldBits)
	if err != nil {
		return p.PowLimit.Compact() // unreachable: stored headers have valid bits
	}
	t := old.Big()
	t.Mul(t, big.NewInt(actual))
	t.Quo(t, big.NewInt(expected))
	if limit := p.PowLimit.Big(); t.Cmp(limit) > 0 {
		t = limit
	}
	if t.Sign() <= 0 {
		t.SetInt64(1)
	}
	nt, _ := TargetFromBig(t) // in range: 0 < t <= PowLimit
	return nt.Compact()
}
