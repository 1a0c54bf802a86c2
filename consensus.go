package blockchain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrorCode says which rule a block or transaction broke. Each code is also
// an error, so a rejection can be tested with errors.Is:
//
//	if errors.Is(err, blockchain.ErrInsufficientFunds) { … }
//
// Codes are constants: no package state can be changed by a caller.
type ErrorCode int

// Rejection codes. Consensus codes mean the block or transaction can never
// be valid on this chain; policy codes (ErrMempoolFull, ErrFeeTooLow,
// ErrKnownTx, ErrMempoolConflict) are a node's local choices.
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
	// ErrTimeTooOld: the time is not after the median of the last 11 blocks.
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
	// ErrOverflow: an amount, fee or balance sum exceeds 2^64-1.
	ErrOverflow
	// ErrDuplicateTx: the same transaction appears twice in a block.
	ErrDuplicateTx
	// ErrTxOnChain: the transaction is already confirmed on the chain.
	ErrTxOnChain
	// ErrKnownTx: the transaction is already in the mempool (policy).
	ErrKnownTx
	// ErrMempoolConflict: the mempool holds another transaction with the
	// same sender and nonce (policy).
	ErrMempoolConflict
	// ErrMempoolFull: the mempool is at its limit (policy).
	ErrMempoolFull
	// ErrFeeTooLow: the fee is below the node's minimum (policy).
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

// Error implements error, so that errors.Is(err, ErrBadSignature) works.
func (c ErrorCode) Error() string { return "blockchain: " + c.String() }

// RuleError is the error every rejected block or transaction returns: a
// code saying which rule was broken and a message saying where.
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
// units; Coin only helps people write and read them.
const Coin uint64 = 100_000_000

// Allocation gives an address a starting balance in the genesis block.
type Allocation struct {
	To     Address `json:"to"`
	Amount uint64  `json:"amount"`
}

// Params holds every consensus constant of a chain. Two nodes agree on a
// chain only if their Params are equal; the genesis block, and so the chain
// ID, commits to the genesis fields. The zero value is not usable: start
// from [DefaultParams] or [TestParams] and change fields.
type Params struct {
	// Name is for display only, e.g. "main" or "test".
	Name string `json:"name"`

	// GenesisTime is the genesis block's time, Unix nanoseconds.
	GenesisTime int64 `json:"genesis_time"`
	// Allocations are the starting balances in the genesis block.
	Allocations []Allocation `json:"allocations,omitempty"`

	// InitialBits is the compact target of the genesis block and of the
	// first retarget interval (every block, if RetargetInterval is 0).
	InitialBits uint32 `json:"initial_bits"`
	// PowLimit is the easiest target a retarget may reach.
	PowLimit Target `json:"pow_limit"`
	// TargetBlockTime is the intended time between blocks.
	TargetBlockTime int64 `json:"target_block_time_ns"`
	// RetargetInterval is how many blocks share a target. 0 keeps the
	// target fixed at InitialBits, as in the tutorial. Otherwise, at every
	// height that is a multiple of it, the target is scaled by the actual
	// time the last interval took over the intended time, clamped to a
	// factor of 4 either way. It must not be 1.
	RetargetInterval uint64 `json:"retarget_interval"`

	// BlockReward is what the coinbase may pay at height 1, in base units.
	BlockReward uint64 `json:"block_reward"`
	// HalvingInterval halves the reward every this many blocks; 0 never.
	HalvingInterval uint64 `json:"halving_interval"`

	// MaxFutureDrift is how far (nanoseconds) a block's time may be ahead
	// of the validating node's clock.
	MaxFutureDrift int64 `json:"max_future_drift_ns"`
	// MaxBlockSize limits a block's encoding in bytes.
	MaxBlockSize int `json:"max_block_size"`
	// MaxBlockTxs limits a block's transactions, coinbase included.
	MaxBlockTxs int `json:"max_block_txs"`
	// MaxOrphans bounds the blocks kept while their parent is missing
	// (not consensus: a node's memory limit).
	MaxOrphans int `json:"max_orphans"`
}

// MaxBlockSizeLimit is the largest Params.MaxBlockSize allowed: a block
// must fit, with room to spare, in one network message.
const MaxBlockSizeLimit = MaxMessageSize / 4

// medianTimeBlocks is how many blocks the median-time-past rule looks at.
const medianTimeBlocks = 11

// DefaultParams returns the parameters of the default network: Bitcoin's
// shape at laptop scale. A block a minute, retargeted every 60 blocks,
// starting at 24 leading zero bits (a second or two of one core's mining),
// 50 coins a block halving every 210,000 blocks, no genesis allocations.
func DefaultParams() Params {
	return Params{
		Name:             "main",
		GenesisTime:      1_763_856_000_000_000_000, // 2025-11-23 00:00 UTC
		InitialBits:      TargetFromBits(24).Compact(),
		PowLimit:         TargetFromBits(16),
		TargetBlockTime:  60e9,
		RetargetInterval: 60,
		BlockReward:      50 * Coin,
		HalvingInterval:  210_000,
		MaxFutureDrift:   2 * 3600e9,
		MaxBlockSize:     1 << 20,
		MaxBlockTxs:      (1<<20 - HeaderSize - 8) / TxSize,
		MaxOrphans:       256,
	}
}

// TestParams returns parameters for tests and teaching: 8 leading zero bits
// (about 256 hashes a block), a fixed target, a one-second target block
// time, and no allocations (tests add their own).
func TestParams() Params {
	p := DefaultParams()
	p.Name = "test"
	p.InitialBits = TargetFromBits(8).Compact()
	p.PowLimit = TargetFromBits(1)
	p.TargetBlockTime = 1e9
	p.RetargetInterval = 0
	p.MaxOrphans = 64
	return p
}

// ErrBadParams is returned (wrapped) by [Params.Validate].
var ErrBadParams = errors.New("blockchain: invalid params")

// Validate checks that p describes a usable chain.
func (p Params) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadParams, fmt.Sprintf(format, args...))
	}
	initial, err := TargetFromCompact(p.InitialBits)
	if err != nil {
		return bad("initial bits: %v", err)
	}
	if p.PowLimit == (Target{}) {
		return bad("zero PowLimit")
	}
	if bytesGreater(initial[:], p.PowLimit[:]) {
		return bad("initial target %s easier than PowLimit %s", initial, p.PowLimit)
	}
	if p.RetargetInterval == 1 {
		return bad("RetargetInterval 1 leaves no interval to measure")
	}
	if p.RetargetInterval > 0 {
		// expected = (interval-1) × TargetBlockTime is scaled by 4 and
		// divided by 4 when clamping: it must survive both.
		if p.TargetBlockTime <= 0 || p.RetargetInterval-1 > math.MaxInt64/4/uint64(p.TargetBlockTime) ||
			int64(p.RetargetInterval-1)*p.TargetBlockTime < 4 {
			return bad("RetargetInterval %d with TargetBlockTime %d gives no usable timespan", p.RetargetInterval, p.TargetBlockTime)
		}
	}
	if p.MaxFutureDrift < 0 || p.MaxOrphans < 0 {
		return bad("negative MaxFutureDrift or MaxOrphans")
	}
	if p.MaxBlockTxs < 1 || p.MaxBlockSize < HeaderSize+1+TxSize {
		return bad("block limits too small for a coinbase")
	}
	if p.MaxBlockSize > MaxBlockSizeLimit {
		return bad("MaxBlockSize %d above %d: such a block would not fit in a message", p.MaxBlockSize, MaxBlockSizeLimit)
	}
	var total uint64
	for _, a := range p.Allocations {
		var over bool
		if total, over = addOverflows(total, a.Amount); over {
			return bad("allocations exceed 2^64-1 base units")
		}
	}
	return nil
}

func bytesGreater(a, b []byte) bool { return bytes.Compare(a, b) > 0 }

// addOverflows returns a+b and whether it overflowed.
func addOverflows(a, b uint64) (uint64, bool) {
	s, carry := bits.Add64(a, b, 0)
	return s, carry != 0
}

// Genesis returns the chain's first block. It needs no proof-of-work, and
// its hash is the chain ID, so it commits to everything that makes the
// chain this chain:
//   - its PrevHash is not zero but the digest of the consensus parameters
//     (targets, timing, reward, limits: everything but Name, the genesis
//     fields below and MaxOrphans), so two chains that differ in any rule
//     have different IDs and a transaction signed for one is invalid on
//     the other;
//   - its transactions are the allocations, each in coinbase form (zero
//     sender) with nonce 2^63 + its index, which no coinbase can carry (a
//     coinbase's nonce is its height), so every transaction ID is unique.
func (p Params) Genesis() *Block {
	b := &Block{Header: Header{
		Version:  HeaderVersion,
		PrevHash: p.digest(),
		Time:     p.GenesisTime,
		Bits:     p.InitialBits,
	}}
	for i, a := range p.Allocations {
		b.Transactions = append(b.Transactions, Transaction{To: a.To, Amount: a.Amount, Nonce: allocationNonce | uint64(i)})
	}
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	return b
}

// allocationNonce marks genesis allocations apart from coinbases.
const allocationNonce = 1 << 63

// digest hashes the consensus parameters that the genesis header does not
// already hold.
func (p Params) digest() Hash {
	b := []byte("nakachain/params/v1")
	b = binary.BigEndian.AppendUint32(b, p.InitialBits)
	b = append(b, p.PowLimit[:]...)
	for _, v := range []uint64{
		uint64(p.TargetBlockTime), p.RetargetInterval, p.BlockReward, p.HalvingInterval,
		uint64(p.MaxFutureDrift), uint64(p.MaxBlockSize), uint64(p.MaxBlockTxs),
	} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return sum256(b)
}

// ChainID returns the genesis hash, which every transaction signs over so
// that it is valid on this chain only.
func (p Params) ChainID() Hash { return p.Genesis().Hash() }

// Reward returns the new coins a block at height may create: BlockReward
// halved once every HalvingInterval blocks.
func (p Params) Reward(height uint64) uint64 {
	if p.HalvingInterval == 0 {
		return p.BlockReward
	}
	halvings := height / p.HalvingInterval
	if halvings >= 64 {
		return 0
	}
	return p.BlockReward >> halvings
}

// checkBlockSanity applies every rule that needs neither the chain nor the
// signatures: version, proof-of-work against the header's own target,
// limits, Merkle root, coinbase shape, duplicates and amount overflow. It
// returns the transaction IDs, which later checks reuse. Errors flagged
// mutable (Merkle root, size) may come from a corrupted copy of a valid
// block, so they must not mark the block's hash invalid.
func checkBlockSanity(p *Params, b *Block) (ids []Hash, err *RuleError, mutable bool) {
	h := &b.Header
	if h.Version != HeaderVersion {
		return nil, ruleErr(ErrBadVersion, "header version %d, want %d", h.Version, HeaderVersion), false
	}
	if err := h.CheckProofOfWork(); err != nil {
		return nil, err.(*RuleError), false
	}
	if t, _ := h.Target(); bytes.Compare(t[:], p.PowLimit[:]) > 0 {
		// Cheap to mine, so refused before anything is stored for it.
		return nil, ruleErr(ErrBadTarget, "target bits %#08x easier than the chain's limit %s", h.Bits, p.PowLimit), false
	}
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
		if _, over := addOverflows(tx.Amount, tx.Fee); over {
			return nil, ruleErr(ErrOverflow, "transaction %d: amount + fee exceeds 2^64-1", i), false
		}
	}
	return ids, nil, false
}

// verifySignatures checks the signatures of txs on up to workers
// goroutines (fewer than 1 means runtime.GOMAXPROCS(0)); coinbases are
// skipped. Signature checks are nearly all of a block's validation cost and
// independent of each other, so they split evenly across cores.
func verifySignatures(txs []Transaction, chainID Hash, workers int) *RuleError {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	const minPerWorker = 16 // below this, a goroutine costs more than it saves
	workers = max(1, min(workers, len(txs)/minPerWorker))
	verifyRange := func(lo, hi int, stop *atomic.Bool) *RuleError {
		for i := lo; i < hi; i++ {
			if stop != nil && i%64 == 0 && stop.Load() {
				return nil
			}
			if txs[i].IsCoinbase() {
				continue
			}
			if err := txs[i].Verify(chainID); err != nil {
				re := err.(*RuleError)
				re.Msg = fmt.Sprintf("transaction %d: %s", i, re.Msg)
				return re
			}
		}
		return nil
	}
	if workers == 1 {
		return verifyRange(0, len(txs), nil)
	}
	var (
		stop atomic.Bool
		wg   sync.WaitGroup
		errs = make([]*RuleError, workers)
	)
	chunk := (len(txs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(txs))
		wg.Go(func() {
			if errs[w] = verifyRange(lo, hi, &stop); errs[w] != nil {
				stop.Store(true)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// medianTimePast returns the median time of n and up to ten of its
// ancestors: a new block on n must be later than this.
func medianTimePast(n *blockNode) int64 {
	times := make([]int64, 0, medianTimeBlocks)
	for ; n != nil && len(times) < medianTimeBlocks; n = n.parent {
		times = append(times, n.header.Time)
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// nextBits returns the compact target a child of parent must carry.
func nextBits(p *Params, parent *blockNode) uint32 {
	height := parent.height + 1
	if p.RetargetInterval == 0 || height%p.RetargetInterval != 0 {
		return parent.header.Bits
	}
	// The last interval: blocks height-interval .. height-1, which span
	// interval-1 block times.
	first := parent.ancestor(height - p.RetargetInterval)
	actual := parent.header.Time - first.header.Time
	return retarget(p, parent.header.Bits, actual)
}

// retarget scales the target in oldBits by actual/expected time over one
// retarget interval, clamped to a factor of 4 and to PowLimit.
func retarget(p *Params, oldBits uint32, actual int64) uint32 {
	expected := int64(p.RetargetInterval-1) * p.TargetBlockTime
	actual = max(expected/4, min(actual, expected*4))
	old, err := TargetFromCompact(oldBits)
	if err != nil {
		return p.PowLimit.Compact() // unreachable: stored headers have valid bits
	}
	t := old.Big()
	t.Mul(t, big.NewInt(actual))
	t.Quo(t, big.NewInt(expected))
	if limit := p.PowLimit.Big(); t.Cmp(limit) > 0 || t.Sign() <= 0 {
		t = limit
	}
	nt, _ := TargetFromBig(t) // in range: 0 < t <= PowLimit
	return nt.Compact()
}
