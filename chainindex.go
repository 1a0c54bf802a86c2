package blockchain

import (
	"math/big"
	"math/bits"
)

// blockNode is one block in the chain's tree: always its header, sometimes
// its body. The tree holds every valid header the chain has accepted, on
// the main chain or not, and the headers found invalid (flagged), so that
// their descendants are refused at once.
type blockNode struct {
	hash    Hash
	header  Header
	parent  *blockNode
	skip    *blockNode // an ancestor further back, for O(log n) lookups
	child   *blockNode // first child
	sibling *blockNode // next child of parent
	work    chainWork  // cumulative work from genesis to here
	seq     uint64     // when its branch became complete: first seen wins ties
	loc     uint64     // the body's location in the store, with nodeStored
	body    *Block     // the body while it is held in memory
	flags   nodeFlags
	invalid ErrorCode // non-zero once the block or an ancestor failed
}

type nodeFlags uint8

const (
	// nodeHasBody: the body is known, in memory (body) or in the store.
	nodeHasBody nodeFlags = 1 << iota
	// nodeStored: the body is in the store at loc.
	nodeStored
	// nodeLinked: the block and all its ancestors have bodies, so the
	// branch up to it can be connected.
	nodeLinked
	// nodeSigsOK: the signatures were checked (or the block came from the
	// chain's own store, where only validated blocks are written).
	nodeSigsOK
)

func (n *blockNode) height() uint64 { return n.header.Height }

func (n *blockNode) has(f nodeFlags) bool { return n.flags&f != 0 }

// skipHeight returns the height a node at height h keeps a skip pointer
// to. The choice (after Bitcoin Core's CBlockIndex::pskip) makes any
// ancestor reachable in O(log h) steps: even heights jump by clearing their
// lowest set bit, odd ones by a little less.
func skipHeight(h uint64) uint64 {
	if h < 2 {
		return 0
	}
	clearLowest := func(x uint64) uint64 { return x & (x - 1) }
	if h&1 == 1 {
		return clearLowest(clearLowest(h-1)) + 1
	}
	return clearLowest(h)
}

// ancestor returns n's ancestor at height h (n itself for n's height), or
// nil if h is above n. It follows skip pointers where they do not overshoot
// and parents otherwise.
func (n *blockNode) ancestor(h uint64) *blockNode {
	if n == nil || h > n.height() {
		return nil
	}
	for n.height() > h {
		hs := skipHeight(n.height())
		if n.skip != nil && hs >= h {
			// Take the skip unless the parent's skip lands closer to h
			// while the skip itself would fall two or more short of the
			// parent's: then stepping to the parent first is faster.
			hp := skipHeight(n.height() - 1)
			if hs == h || !(hp+2 < hs && hp >= h) {
				n = n.skip
				continue
			}
		}
		n = n.parent
	}
	return n
}

// lastCommonAncestor returns the deepest block that a and b both descend
// from (either of them, if one descends from the other).
func lastCommonAncestor(a, b *blockNode) *blockNode {
	if a.height() > b.height() {
		a = a.ancestor(b.height())
	} else if b.height() > a.height() {
		b = b.ancestor(a.height())
	}
	for a != b {
		a, b = a.parent, b.parent
	}
	return a
}

// isAncestor reports whether anc is desc or one of its ancestors.
func isAncestor(anc, desc *blockNode) bool { return desc.ancestor(anc.height()) == anc }

// children calls fn for each child of n.
func (n *blockNode) children(fn func(*blockNode)) {
	for ch := n.child; ch != nil; ch = ch.sibling {
		fn(ch)
	}
}

// chainWork is a cumulative amount of work: a 256-bit unsigned integer in
// four 64-bit limbs, least significant first. It saturates at 2^256-1,
// which no chain's real work comes near (each block adds at most 2^255).
type chainWork [4]uint64

// workOf returns the work of one block with target t: 2^256 / (t+1).
func workOf(t Target) chainWork { return workFromBig(t.Work()) }

func workFromBig(v *big.Int) chainWork {
	var w chainWork
	var buf [32]byte
	if v.BitLen() > 256 {
		return chainWork{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	}
	v.FillBytes(buf[:])
	for i := range 4 {
		w[i] = uint64(buf[31-8*i]) | uint64(buf[30-8*i])<<8 | uint64(buf[29-8*i])<<16 | uint64(buf[28-8*i])<<24 |
			uint64(buf[27-8*i])<<32 | uint64(buf[26-8*i])<<40 | uint64(buf[25-8*i])<<48 | uint64(buf[24-8*i])<<56
	}
	return w
}

func (a chainWork) add(b chainWork) chainWork {
	var s chainWork
	var carry uint64
	for i := range 4 {
		s[i], carry = bits.Add64(a[i], b[i], carry)
	}
	if carry != 0 {
		return chainWork{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	}
	return s
}

func (a chainWork) cmp(b chainWork) int {
	for i := 3; i >= 0; i-- {
		switch {
		case a[i] > b[i]:
			return 1
		case a[i] < b[i]:
			return -1
		}
	}
	return 0
}

func (a chainWork) big() *big.Int {
	var buf [32]byte
	for i := range 4 {
		for j := range 8 {
			buf[31-8*i-j] = byte(a[i] >> (8 * j))
		}
	}
	return new(big.Int).SetBytes(buf[:])
}
