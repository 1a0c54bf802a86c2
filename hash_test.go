package blockchain

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestHashText(t *testing.T) {
	h := sum256([]byte("abc"))
	want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if h.String() != want {
		t.Fatalf("sha256(abc) = %s", h)
	}
	got, err := ParseHash(want)
	if err != nil || got != h {
		t.Fatalf("ParseHash = %v, %v", got, err)
	}
	for _, bad := range []string{"", want[:63], want + "0", "zz" + want[2:]} {
		if _, err := ParseHash(bad); !errors.Is(err, ErrInvalidHash) {
			t.Errorf("ParseHash(%q) err = %v", bad, err)
		}
	}
	b, _ := json.Marshal(h)
	var back Hash
	if err := json.Unmarshal(b, &back); err != nil || back != h {
		t.Fatalf("JSON round trip: %v %v", back, err)
	}
}

func TestMerkleProofsAllSizes(t *testing.T) {
	for size := 1; size <= 33; size++ {
		leaves := make([]Hash, size)
		for i := range leaves {
			leaves[i] = sum256([]byte(fmt.Sprint("leaf", i)))
		}
		root := MerkleRoot(leaves)
		if want := recursiveRoot(leaves); root != want {
			t.Fatalf("size %d: root %s, recursive definition gives %s", size, root.Short(8), want.Short(8))
		}
		for i := range leaves {
			p, err := NewMerkleProof(leaves, i)
			if err != nil {
				t.Fatal(err)
			}
			if !VerifyMerkleProof(root, leaves[i], p) {
				t.Fatalf("size %d index %d: valid proof rejected", size, i)
			}
			// Wrong leaf.
			if VerifyMerkleProof(root, leaves[(i+1)%size], p) && size > 1 {
				t.Fatalf("size %d index %d: wrong leaf accepted", size, i)
			}
			// Wrong index (every other index).
			for j := range size {
				if j == i {
					continue
				}
				q := p
				q.Index = uint64(j)
				if VerifyMerkleProof(root, leaves[i], q) {
					t.Fatalf("size %d: proof for %d accepted at index %d", size, i, j)
				}
			}
			// Wrong root.
			bad := root
			bad[5] ^= 1
			if VerifyMerkleProof(bad, leaves[i], p) {
				t.Fatalf("size %d index %d: wrong root accepted", size, i)
			}
			// Tampered or truncated path. (A wrong Size alone is not always
			// caught: sizes 3 and 4 share leaf 0's path. Size is a claim the
			// path supports, not a commitment.)
			q := p
			if len(p.Path) > 0 {
				q = p
				q.Path = append([]Hash(nil), p.Path...)
				q.Path[len(q.Path)-1][0] ^= 0x80
				if VerifyMerkleProof(root, leaves[i], q) {
					t.Fatalf("size %d index %d: tampered path accepted", size, i)
				}
				q.Path = p.Path[:len(p.Path)-1]
				if VerifyMerkleProof(root, leaves[i], q) {
					t.Fatalf("size %d index %d: truncated path accepted", size, i)
				}
			}
			q = p
			q.Path = append(append([]Hash(nil), p.Path...), root)
			if VerifyMerkleProof(root, leaves[i], q) {
				t.Fatalf("size %d index %d: over-long path accepted", size, i)
			}
		}
	}
	if _, err := NewMerkleProof([]Hash{{}}, 1); !errors.Is(err, ErrBadProofIndex) {
		t.Fatalf("out-of-range index: %v", err)
	}
}

// recursiveRoot is RFC 9162's definition, written independently of MerkleRoot.
func recursiveRoot(d []Hash) Hash {
	if len(d) == 1 {
		return merkleLeaf(d[0])
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	return merkleNode(recursiveRoot(d[:k]), recursiveRoot(d[k:]))
}

func TestMerkleNoDuplicateLastLeafAmbiguity(t *testing.T) {
	a, b, c := Hash{1}, Hash{2}, Hash{3}
	// Bitcoin's tree gives [a b c] and [a b c c] the same root.
	if MerkleRoot([]Hash{a, b, c}) == MerkleRoot([]Hash{a, b, c, c}) {
		t.Fatal("duplicating the last leaf gives the same root")
	}
	// A leaf can never stand for an inner node.
	inner := merkleNode(merkleLeaf(a), merkleLeaf(b))
	if MerkleRoot([]Hash{inner}) == MerkleRoot([]Hash{a, b}) {
		t.Fatal("inner node accepted as a leaf")
	}
}
