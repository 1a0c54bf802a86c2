package blockchain

import "fmt"

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
