package blockchain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// HashSize is the length of a [Hash] in bytes.
const HashSize = sha256.Size

// Hash is a SHA-256 digest: a block hash, a transaction ID, a Merkle root.
// Its text form is 64 lowercase hex digits. As a number (for proof-of-work)
// it is read big-endian, so a hash with n leading zero bits prints with
// about n/4 leading zeros.
type Hash [HashSize]byte

// ErrInvalidHash is returned (wrapped) when text is not a 64-digit hex hash.
var ErrInvalidHash = errors.New("blockchain: invalid hash")

// ParseHash parses the 64-hex-digit text form of a hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if err := h.UnmarshalText([]byte(s)); err != nil {
		return Hash{}, err
	}
	return h, nil
}

// String returns the hash as 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first n hex digits, as block explorers and the examples'
// chain views print hashes.
func (h Hash) Short(n int) string {
	s := h.String()
	if n < 0 || n > len(s) {
		return s
	}
	return s[:n]
}

// IsZero reports whether h is all zeros. (A chain's genesis block does not
// have a zero PrevHash: it holds the digest of the consensus parameters.)
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements [encoding.TextMarshaler].
func (h Hash) MarshalText() ([]byte, error) {
	return hex.AppendEncode(nil, h[:]), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]. It accepts exactly
// 64 hex digits and leaves h unchanged on error.
func (h *Hash) UnmarshalText(text []byte) error {
	return decodeHexFixed(h[:], text, ErrInvalidHash)
}

// decodeHexFixed decodes text, which must be exactly 2*len(dst) hex digits,
// into dst. dst is only written on success.
func decodeHexFixed(dst, text []byte, sentinel error) error {
	if len(text) != 2*len(dst) {
		return fmt.Errorf("%w: want %d hex digits, got %d characters", sentinel, 2*len(dst), len(text))
	}
	var buf [64]byte
	tmp := buf[:len(dst)]
	if len(dst) > len(buf) {
		tmp = make([]byte, len(dst))
	}
	if _, err := hex.Decode(tmp, text); err != nil {
		return fmt.Errorf("%w: %v", sentinel, err)
	}
	copy(dst, tmp)
	return nil
}

// Domain-separation prefixes. Each kind of hashed or signed object gets its
// own prefix, so a byte string valid as one kind can never be mistaken for
// another (a Merkle leaf for an inner node, a transaction for an address).
const (
	merkleLeafPrefix = 0x00
	merkleNodePrefix = 0x01
	addressDomain    = "nakachain/address/v1"
	txSignDomain     = "nakachain/tx-signature/v1"
)

// sum256 hashes the concatenation of parts.
func sum256(parts ...[]byte) Hash {
	d := sha256.New()
	for _, p := range parts {
		d.Write(p)
	}
	var h Hash
	d.Sum(h[:0])
	return h
}

// MerkleRoot returns the root of the Merkle tree over leaves, normally the
// IDs of a block's transactions in order.
//
// The tree follows RFC 9162 (Certificate Transparency): a leaf hashes as
// SHA-256(0x00 || leaf), an inner node as SHA-256(0x01 || left || right),
// and a node without a right sibling is carried up a level unchanged instead
// of being paired with a copy of itself. The two prefixes make a leaf
// impossible to pass off as an inner node, and carrying (rather than
// duplicating, as Bitcoin does) means no two different leaf lists share a
// root. The root of no leaves is SHA-256 of the empty string.
func MerkleRoot(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	level := make([]Hash, len(leaves))
	for i, l := range leaves {
		level[i] = merkleLeaf(l)
	}
	for len(level) > 1 {
		level = merkleLevelUp(level)
	}
	return level[0]
}

// merkleLevelUp hashes level's pairs in place and returns the next level up.
func merkleLevelUp(level []Hash) []Hash {
	n := 0
	for i := 0; i < len(level); i += 2 {
		if i+1 < len(level) {
			level[n] = merkleNode(level[i], level[i+1])
		} else {
			level[n] = level[i]
		}
		n++
	}
	return level[:n]
}

func merkleLeaf(l Hash) Hash {
	var buf [1 + HashSize]byte
	buf[0] = merkleLeafPrefix
	copy(buf[1:], l[:])
	return sha256.Sum256(buf[:])
}

func merkleNode(left, right Hash) Hash {
	var buf [1 + 2*HashSize]byte
	buf[0] = merkleNodePrefix
	copy(buf[1:], left[:])
	copy(buf[1+HashSize:], right[:])
	return sha256.Sum256(buf[:])
}

// MerkleProof shows that one leaf is in a Merkle tree without the other
// leaves: the sibling hashes on the path from the leaf to the root. It is
// what a light client (Bitcoin paper §8, simplified payment verification)
// needs, with a block header, to check that a transaction was confirmed.
type MerkleProof struct {
	Index uint64 `json:"index"` // position of the leaf, from 0
	Size  uint64 `json:"size"`  // number of leaves in the tree
	Path  []Hash `json:"path"`  // siblings from the leaf level upwards
}

// ErrBadProofIndex is returned (wrapped) by [NewMerkleProof] for an index
// outside the leaves.
var ErrBadProofIndex = errors.New("blockchain: Merkle proof index out of range")

// NewMerkleProof returns the proof that leaves[index] is in the tree whose
// root is MerkleRoot(leaves).
func NewMerkleProof(leaves []Hash, index int) (MerkleProof, error) {
	if index < 0 || index >= len(leaves) {
		return MerkleProof{}, fmt.Errorf("%w: index %d of %d leaves", ErrBadProofIndex, index, len(leaves))
	}
	p := MerkleProof{Index: uint64(index), Size: uint64(len(leaves))}
	level := make([]Hash, len(leaves))
	for i, l := range leaves {
		level[i] = merkleLeaf(l)
	}
	for i := index; len(level) > 1; i /= 2 {
		if sib := i ^ 1; sib < len(level) {
			p.Path = append(p.Path, level[sib])
		}
		level = merkleLevelUp(level)
	}
	return p, nil
}

// VerifyMerkleProof reports whether proof shows that leaf is in the tree with
// the given root. It fails for a wrong leaf, index, size, path or root.
func VerifyMerkleProof(root, leaf Hash, proof MerkleProof) bool {
	if proof.Size == 0 || proof.Index >= proof.Size {
		return false
	}
	h := merkleLeaf(leaf)
	path := proof.Path
	for i, n := proof.Index, proof.Size; n > 1; i, n = i/2, (n+1)/2 {
		switch {
		case i%2 == 1: // left sibling
			if len(path) == 0 {
				return false
			}
			h, path = merkleNode(path[0], h), path[1:]
		case i+1 < n: // right sibling
			if len(path) == 0 {
				return false
			}
			h, path = merkleNode(h, path[0]), path[1:]
		default: // last node of an odd level: carried up unchanged
		}
	}
	return len(path) == 0 && h == root
}
