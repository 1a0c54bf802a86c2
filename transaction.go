package blockchain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
)

// TxSize is the length of every encoded transaction in bytes.
const TxSize = 141

// txVersion is the first byte of every encoded transaction.
const txVersion = 1

// Transaction moves Amount base units from the owner of From to the address
// To, and pays Fee to the miner who confirms it. Money is always an integer
// number of base units.
//
// Nonce numbers the sender's transactions: the first one a key ever sends
// has nonce 0, the next 1, and so on. A chain accepts each nonce exactly
// once and in order, so a copied transaction cannot be spent twice and a
// transaction cannot be replayed. The signature covers a domain-separated
// message that includes the chain ID (the genesis hash), so a transaction
// signed for one chain is invalid on every other.
//
// A coinbase (the first transaction of a block, creating new coins) has the
// zero From key, no fee, no signature, and the block's height as Nonce, so
// no two coinbases are alike.
//
// # Encoding
//
// The canonical binary form, which the ID hashes, is 141 bytes:
//
//	offset size field
//	     0    1 version (1)
//	     1   32 From (Ed25519 public key; zero for a coinbase)
//	    33   20 To (address)
//	    53    8 Amount, big-endian
//	    61    8 Fee, big-endian
//	    69    8 Nonce, big-endian
//	    77   64 Signature (zero for a coinbase)
//
// JSON is for display and interchange, never for hashing.
type Transaction struct {
	From      PublicKey `json:"from"`
	To        Address   `json:"to"`
	Amount    uint64    `json:"amount"`
	Fee       uint64    `json:"fee"`
	Nonce     uint64    `json:"nonce"`
	Signature Signature `json:"signature"`
}

const txSigOffset = 77

// NewCoinbase returns the coinbase transaction of the block at height,
// paying amount (the block reward plus the block's fees) to miner.
func NewCoinbase(miner Address, amount, height uint64) Transaction {
	return Transaction{To: miner, Amount: amount, Nonce: height}
}

// IsCoinbase reports whether tx is a coinbase (its From key is zero).
func (tx Transaction) IsCoinbase() bool { return tx.From.IsZero() }

// AppendBinary appends the canonical encoding of tx to b.
func (tx Transaction) AppendBinary(b []byte) ([]byte, error) {
	return tx.appendBinary(b), nil
}

func (tx Transaction) appendBinary(b []byte) []byte {
	b = append(b, txVersion)
	b = append(b, tx.From[:]...)
	b = append(b, tx.To[:]...)
	b = binary.BigEndian.AppendUint64(b, tx.Amount)
	b = binary.BigEndian.AppendUint64(b, tx.Fee)
	b = binary.BigEndian.AppendUint64(b, tx.Nonce)
	return append(b, tx.Signature[:]...)
}

// MarshalBinary returns the canonical 141-byte encoding of tx.
func (tx Transaction) MarshalBinary() ([]byte, error) {
	return tx.appendBinary(make([]byte, 0, TxSize)), nil
}

// UnmarshalBinary decodes the canonical encoding. It returns a
// [*RuleError] with code [ErrMalformed] or [ErrBadVersion] for anything
// else, and leaves tx unchanged on error.
func (tx *Transaction) UnmarshalBinary(data []byte) error {
	if len(data) != TxSize {
		return ruleErr(ErrMalformed, "transaction is %d bytes, want %d", len(data), TxSize)
	}
	return tx.decode(data)
}

// decode reads one transaction from the first TxSize bytes of data.
func (tx *Transaction) decode(data []byte) error {
	if data[0] != txVersion {
		return ruleErr(ErrBadVersion, "transaction version %d, want %d", data[0], txVersion)
	}
	var t Transaction
	copy(t.From[:], data[1:33])
	copy(t.To[:], data[33:53])
	t.Amount = binary.BigEndian.Uint64(data[53:])
	t.Fee = binary.BigEndian.Uint64(data[61:])
	t.Nonce = binary.BigEndian.Uint64(data[69:])
	copy(t.Signature[:], data[txSigOffset:TxSize])
	*tx = t
	return nil
}

// ID returns the transaction's identifier: the SHA-256 of its canonical
// encoding, signature included. Go's Ed25519 signatures are deterministic
// and its verification refuses malleated ones, so nobody but the signer
// can give a transaction a second ID (a signer using a randomized Ed25519
// implementation could; the nonce still lets only one of them confirm).
func (tx Transaction) ID() Hash {
	var buf [TxSize]byte
	return sha256.Sum256(tx.appendBinary(buf[:0]))
}

// SigningMessage returns the bytes a sender signs: a domain tag, the chain
// ID, and the encoding without the signature.
func (tx Transaction) SigningMessage(chainID Hash) []byte {
	return tx.appendSigningMessage(make([]byte, 0, signingBufLen), chainID)
}

const signingBufLen = len(txSignDomain) + HashSize + TxSize

func (tx Transaction) appendSigningMessage(b []byte, chainID Hash) []byte {
	b = append(append(b, txSignDomain...), chainID[:]...)
	n := len(b) + txSigOffset
	return tx.appendBinary(b)[:n]
}

// Verify checks the signature of a transfer for the chain chainID. It
// returns a [*RuleError] with code [ErrBadSignature] if the signature is
// wrong, was made for another chain, or tx is a coinbase (which has no
// signature). It checks nothing that needs the chain's state: balances and
// nonces are the [Chain]'s business.
func (tx Transaction) Verify(chainID Hash) error {
	if tx.IsCoinbase() {
		return ruleErr(ErrBadSignature, "coinbase transaction has no signature to verify")
	}
	var buf [signingBufLen]byte
	if !ed25519.Verify(tx.From[:], tx.appendSigningMessage(buf[:0], chainID), tx.Signature[:]) {
		return ruleErr(ErrBadSignature, "transaction %s: signature does not verify for chain %s", tx.ID().Short(12), chainID.Short(12))
	}
	return nil
}
