package blockchain

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// HeaderSize is the length of an encoded [Header] in bytes.
const HeaderSize = 96

// HeaderVersion is the only header version this package makes and accepts.
const HeaderVersion = 1

// Header is what a block's hash, and so its proof-of-work, covers: the
// previous block's hash chains the blocks, and the Merkle root commits to
// the transactions.
//
// # Encoding
//
// The canonical binary form is 96 bytes, all integers big-endian:
//
//	offset size field
//	     0    4 Version
//	     4    8 Height (genesis is 0)
//	    12   32 PrevHash (for genesis, the digest of the consensus parameters)
//	    44   32 MerkleRoot of the transaction IDs (see [MerkleRoot])
//	    76    8 Time, Unix nanoseconds
//	    84    4 Bits, the target in Bitcoin's compact form (see [Target.Compact])
//	    88    8 Nonce
//
// SHA-256 works on 64-byte blocks. Bytes 0..63 never change while mining,
// so a miner hashes them once and keeps the midstate; the Nonce lies in the
// second block (bytes 64..95, plus SHA-256's padding), which is the only one
// hashed per nonce. The block hash is SHA-256 of these 96 bytes.
//
// Time is in nanoseconds rather than Bitcoin's seconds so that chains mined
// at teaching difficulties, several blocks a second, still have increasing
// times for the median-time rule and for difficulty retargeting.
type Header struct {
	Version    uint32 `json:"version"`
	Height     uint64 `json:"height"`
	PrevHash   Hash   `json:"prev_hash"`
	MerkleRoot Hash   `json:"merkle_root"`
	Time       int64  `json:"time"`
	Bits       uint32 `json:"bits"`
	Nonce      uint64 `json:"nonce"`
}

// Header field offsets in the encoding.
const (
	hdrOffTime  = 76
	hdrOffBits  = 84
	hdrOffNonce = 88
)

// Timestamp returns Time as a [time.Time].
func (h Header) Timestamp() time.Time { return time.Unix(0, h.Time) }

// AppendBinary appends the 96-byte encoding of h to b.
func (h Header) AppendBinary(b []byte) ([]byte, error) { return h.appendBinary(b), nil }

func (h Header) appendBinary(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, h.Version)
	b = binary.BigEndian.AppendUint64(b, h.Height)
	b = append(b, h.PrevHash[:]...)
	b = append(b, h.MerkleRoot[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Time))
	b = binary.BigEndian.AppendUint32(b, h.Bits)
	return binary.BigEndian.AppendUint64(b, h.Nonce)
}

// MarshalBinary returns the 96-byte encoding of h.
func (h Header) MarshalBinary() ([]byte, error) {
	return h.appendBinary(make([]byte, 0, HeaderSize)), nil
}

// UnmarshalBinary decodes exactly [HeaderSize] bytes. It leaves h unchanged
// and returns a [*RuleError] ([ErrMalformed]) on a wrong length.
func (h *Header) UnmarshalBinary(data []byte) error {
	if len(data) != HeaderSize {
		return ruleErr(ErrMalformed, "header is %d bytes, want %d", len(data), HeaderSize)
	}
	h.decode(data)
	return nil
}

func (h *Header) decode(d []byte) {
	h.Version = binary.BigEndian.Uint32(d[0:])
	h.Height = binary.BigEndian.Uint64(d[4:])
	copy(h.PrevHash[:], d[12:44])
	copy(h.MerkleRoot[:], d[44:76])
	h.Time = int64(binary.BigEndian.Uint64(d[hdrOffTime:]))
	h.Bits = binary.BigEndian.Uint32(d[hdrOffBits:])
	h.Nonce = binary.BigEndian.Uint64(d[hdrOffNonce:])
}

// Hash returns the block hash: SHA-256 of the 96-byte encoding.
func (h Header) Hash() Hash {
	var buf [HeaderSize]byte
	return sha256.Sum256(h.appendBinary(buf[:0]))
}

// Block is a header and the transactions it commits to. The first
// transaction is the coinbase, except in a genesis block, whose
// transactions are the chain's starting balances.
//
// # Encoding
//
// The canonical binary form is the 96-byte header, the number of
// transactions as a minimal unsigned varint (encoding/binary's Uvarint), and
// each transaction's 141-byte encoding.
type Block struct {
	Header       Header        `json:"header"`
	Transactions []Transaction `json:"transactions"`
}

// Hash returns the block's hash (its header's).
func (b Block) Hash() Hash { return b.Header.Hash() }

// TxIDs returns the IDs of the block's transactions, in order.
func (b Block) TxIDs() []Hash {
	ids := make([]Hash, len(b.Transactions))
	for i := range b.Transactions {
		ids[i] = b.Transactions[i].ID()
	}
	return ids
}

// ComputeMerkleRoot returns the Merkle root of the block's transactions;
// a valid block has it in Header.MerkleRoot.
func (b Block) ComputeMerkleRoot() Hash { return MerkleRoot(b.TxIDs()) }

// CheckMerkleRoot reports whether the header's Merkle root matches the
// transactions, with a [*RuleError] ([ErrBadMerkleRoot]) if not.
func (b Block) CheckMerkleRoot() error {
	if root := b.ComputeMerkleRoot(); root != b.Header.MerkleRoot {
		return ruleErr(ErrBadMerkleRoot, "the header says Merkle root %s, the transactions give %s", b.Header.MerkleRoot.Short(16), root.Short(16))
	}
	return nil
}

// Size returns the length of the block's binary encoding.
func (b Block) Size() int {
	n := uint64(len(b.Transactions))
	return HeaderSize + uvarintLen(n) + len(b.Transactions)*TxSize
}

func uvarintLen(n uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], n)
}

// AppendBinary appends the block's canonical encoding to dst.
func (b Block) AppendBinary(dst []byte) ([]byte, error) {
	dst = b.Header.appendBinary(dst)
	dst = binary.AppendUvarint(dst, uint64(len(b.Transactions)))
	for i := range b.Transactions {
		dst = b.Transactions[i].appendBinary(dst)
	}
	return dst, nil
}

// MarshalBinary returns the block's canonical encoding.
func (b Block) MarshalBinary() ([]byte, error) {
	return b.AppendBinary(make([]byte, 0, b.Size()))
}

// UnmarshalBinary decodes a block's canonical encoding and nothing else:
// no trailing bytes, no over-long varint, no count larger than the data
// holds. It returns a [*RuleError] ([ErrMalformed] or [ErrBadVersion]) and
// leaves b unchanged on error. It checks no consensus rule.
func (b *Block) UnmarshalBinary(data []byte) error {
	if len(data) < HeaderSize+1 {
		return ruleErr(ErrMalformed, "block is %d bytes, shorter than a header and a count", len(data))
	}
	var nb Block
	nb.Header.decode(data[:HeaderSize])
	rest := data[HeaderSize:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || k != uvarintLen(n) {
		return ruleErr(ErrMalformed, "bad transaction count varint")
	}
	rest = rest[k:]
	if n != uint64(len(rest)/TxSize) || len(rest)%TxSize != 0 {
		return ruleErr(ErrMalformed, "block declares %d transactions but has %d bytes for them", n, len(rest))
	}
	if n > 0 {
		nb.Transactions = make([]Transaction, n)
	}
	for i := range nb.Transactions {
		if err := nb.Transactions[i].decode(rest[i*TxSize : (i+1)*TxSize]); err != nil {
			return err
		}
	}
	*b = nb
	return nil
}
