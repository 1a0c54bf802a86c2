package blockchain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"
)

// Target is the proof-of-work threshold: a block is valid only if its hash,
// read as a big-endian 256-bit number, is at most the target. Halving the
// target doubles the expected work. It is stored as 32 big-endian bytes so
// a hash compares against it byte by byte.
type Target [32]byte

// TargetFromBits returns the target that a hash meets exactly when it starts
// with at least n zero bits: 2^(256-n) - 1. The tutorial's "difficulty 4"
// (four leading zero hex digits) is TargetFromBits(16). n is clamped to
// 0..255.
func TargetFromBits(n int) Target {
	n = max(0, min(n, 255))
	var t Target
	for i := range t {
		bit := i * 8 // first bit of byte i
		switch {
		case bit+8 <= n:
			t[i] = 0
		case bit >= n:
			t[i] = 0xff
		default:
			t[i] = 0xff >> (n - bit)
		}
	}
	return t
}

// TargetFromCompact decodes Bitcoin's compact "nBits" form: the high byte is
// a length in bytes, the low 23 bits a mantissa, bit 23 a sign. The target is
// mantissa × 256^(length−3). It returns a [*RuleError] ([ErrBadTarget]) for a
// negative, zero or over-256-bit value. 0x1d00ffff, Bitcoin's easiest
// target, is 0xffff × 2^208.
func TargetFromCompact(bits uint32) (Target, error) {
	size := int(bits >> 24)
	mant := bits & 0x007fffff
	if bits&0x00800000 != 0 && mant != 0 {
		return Target{}, ruleErr(ErrBadTarget, "compact target %#08x is negative", bits)
	}
	if size <= 3 {
		mant >>= 8 * (3 - size)
		size = 3
	}
	if mant == 0 {
		return Target{}, ruleErr(ErrBadTarget, "compact target %#08x is zero", bits)
	}
	// The mantissa's three bytes end at byte index 32-(size-3)-1 from the
	// right; all of its significant bytes must fit in 32 bytes.
	var m [3]byte
	m[0], m[1], m[2] = byte(mant>>16), byte(mant>>8), byte(mant)
	lead := 0
	for lead < 3 && m[lead] == 0 {
		lead++
	}
	if size-lead > 32 {
		return Target{}, ruleErr(ErrBadTarget, "compact target %#08x exceeds 256 bits", bits)
	}
	var t Target
	for i := lead; i < 3; i++ {
		t[32-size+i] = m[i]
	}
	return t, nil
}

// Compact returns t in Bitcoin's compact form, keeping its three most
// significant bytes, or two when the first of them is 0x80 or more (it
// would read as the sign bit), and rounding the rest down. A header carries this form,
// so the target a chain really uses is TargetFromCompact(t.Compact()).
func (t Target) Compact() uint32 {
	size := 32
	for size > 0 && t[32-size] == 0 {
		size--
	}
	if size == 0 {
		return 0
	}
	var mant uint32
	for i := range 3 {
		mant <<= 8
		if j := 32 - size + i; j < 32 {
			mant |= uint32(t[j])
		}
	}
	if mant&0x00800000 != 0 { // would read as the sign bit: shift a byte out
		mant >>= 8
		size++
	}
	return uint32(size)<<24 | mant
}

// Big returns t as a big integer.
func (t Target) Big() *big.Int { return new(big.Int).SetBytes(t[:]) }

// TargetFromBig returns the target with value v. It returns a
// [*RuleError] ([ErrBadTarget]) unless 0 < v < 2^256.
func TargetFromBig(v *big.Int) (Target, error) {
	if v.Sign() <= 0 || v.BitLen() > 256 {
		return Target{}, ruleErr(ErrBadTarget, "target %v out of range", v)
	}
	var t Target
	v.FillBytes(t[:])
	return t, nil
}

// Work returns the expected number of hashes needed to meet t:
// 2^256 / (t+1). A chain's weight is the sum of its blocks' work, and the
// heaviest valid chain is the one every node follows.
func (t Target) Work() *big.Int {
	d := t.Big()
	d.Add(d, big.NewInt(1))
	return d.Quo(new(big.Int).Lsh(big.NewInt(1), 256), d)
}

// String returns t as 64 hex digits.
func (t Target) String() string { return hex.EncodeToString(t[:]) }

// MarshalText implements [encoding.TextMarshaler].
func (t Target) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, t[:]), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (t *Target) UnmarshalText(text []byte) error {
	return decodeHexFixed(t[:], text, ErrInvalidHash)
}

// MeetsTarget reports whether h, read as a big-endian number, is at most t.
func (h Hash) MeetsTarget(t Target) bool { return bytes.Compare(h[:], t[:]) <= 0 }

// ZeroBits returns how many zero bits t starts with: the difficulty in the
// tutorial's sense, n for TargetFromBits(n). A hash meeting t starts with
// at least that many zero bits.
func (t Target) ZeroBits() int { return Hash(t).LeadingZeroBits() }

// LeadingZeroBits returns how many zero bits h starts with.
func (h Hash) LeadingZeroBits() int {
	for i, b := range h {
		if b != 0 {
			n := 0
			for b&0x80 == 0 {
				b <<= 1
				n++
			}
			return i*8 + n
		}
	}
	return 256
}

// Target returns the header's target decoded from Bits.
func (h Header) Target() (Target, error) { return TargetFromCompact(h.Bits) }

// CheckProofOfWork reports whether the header's hash meets its own target.
// It returns a [*RuleError] with [ErrBadTarget] or [ErrBadProofOfWork]. It
// does not check that the target is the one the chain expects.
func (h Header) CheckProofOfWork() error {
	t, err := h.Target()
	if err != nil {
		return err
	}
	if hash := h.Hash(); !hash.MeetsTarget(t) {
		return ruleErr(ErrBadProofOfWork, "block %s at height %d: hash above target %#08x", hash.Short(16), h.Height, h.Bits)
	}
	return nil
}

// ErrNonceSpaceExhausted is returned by [Mine] when no 64-bit nonce meets the
// target. The caller changes the header (a new Time gives a fresh space of
// 2^64 nonces) and mines again. At 10^8 hashes a second a nonce space lasts
// about 5,800 years, so in practice only absurdly small targets reach it.
var ErrNonceSpaceExhausted = errors.New("blockchain: every nonce tried, none meets the target")

// Mine searches for a Nonce that makes h meet its own target (h.Bits),
// writes it into h.Nonce and returns the number of hashes it tried.
//
// Work is split across workers goroutines (fewer than 1 means
// runtime.GOMAXPROCS(0)): worker w tries nonces w, w+workers,
// w+2*workers... With one worker the search is 0, 1, 2... and its result
// reproducible; with more, whichever worker wins first decides.
// Each worker hashes the header's first 64 bytes once and then, per nonce,
// restores that SHA-256 midstate and compresses only the final 64-byte
// block, padding included: one compression per nonce instead of the two of
// hashing the whole header, and no allocation.
//
// Mine stops within about a millisecond of ctx being done and returns
// ctx.Err() with the count so far, leaving h.Nonce unchanged. If every nonce
// fails it returns [ErrNonceSpaceExhausted].
func Mine(ctx context.Context, h *Header, workers int) (hashes uint64, err error) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	return mineRange(ctx, h, 0, math.MaxUint64, workers)
}

// mineRange searches nonces lo..hi (inclusive) split across workers.
func mineRange(ctx context.Context, h *Header, lo, hi uint64, workers int) (uint64, error) {
	target, err := h.Target()
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	tmpl := newMiningTemplate(h)
	var (
		stop   atomic.Bool
		total  atomic.Uint64
		winner atomic.Uint64
		found  atomic.Bool
		wg     sync.WaitGroup
	)
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	// Worker w tries lo+w, lo+w+workers, lo+w+2*workers, ...: the nonces
	// found stay small and, with one worker, reproducible.
	for w := range uint64(workers) {
		if w > hi-lo {
			break // fewer nonces than workers
		}
		wg.Go(func() {
			nonce, ok, n := tmpl.search(lo+w, hi, uint64(workers), target, &stop)
			total.Add(n)
			if ok && found.CompareAndSwap(false, true) {
				winner.Store(nonce)
				stop.Store(true)
			}
		})
	}
	wg.Wait()
	switch {
	case found.Load():
		h.Nonce = winner.Load()
		return total.Load(), nil
	case ctx.Err() != nil:
		return total.Load(), ctx.Err()
	default:
		return total.Load(), fmt.Errorf("%w (nonces %d..%d)", ErrNonceSpaceExhausted, lo, hi)
	}
}

// sha256State is what crypto/sha256's digest offers to save and restore its
// state.
type sha256State interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
	encoding.BinaryAppender
}

// miningTemplate is a header prepared for midstate hashing.
type miningTemplate struct {
	header Header
	// mid is the marshaled SHA-256 state after the first 64 header bytes,
	// or nil if this Go's sha256 does not support the trick (then search
	// hashes whole headers).
	mid []byte
	// last is the second 64-byte SHA-256 block: header bytes 64..95, the
	// 0x80 padding byte, zeros, and the message length in bits.
	last [64]byte
}

// Where the digest's chaining value sits in its marshaled state: a 4-byte
// magic, then eight big-endian 32-bit words, which after the final block
// are the hash itself.
const (
	stateHashOff = 4
	lastNonceOff = hdrOffNonce - 64
)

func newMiningTemplate(h *Header) *miningTemplate {
	m := &miningTemplate{header: *h}
	var enc [HeaderSize]byte
	m.header.appendBinary(enc[:0])
	copy(m.last[:], enc[64:])
	m.last[HeaderSize-64] = 0x80
	binary.BigEndian.PutUint64(m.last[56:], HeaderSize*8)

	d := sha256.New()
	st, ok := d.(sha256State)
	if !ok {
		return m
	}
	d.Write(enc[:64])
	mid, err := st.MarshalBinary()
	if err != nil {
		return m
	}
	// Check the trick against a plain hash once; if crypto/sha256's state
	// layout ever changes, hash whole headers rather than mine wrongly.
	last := m.last
	binary.BigEndian.PutUint64(last[lastNonceOff:], h.Nonce)
	if st.UnmarshalBinary(mid) != nil {
		return m
	}
	d.Write(last[:])
	state, err := st.AppendBinary(nil)
	want := h.Hash()
	if err == nil && len(state) >= stateHashOff+HashSize && bytes.Equal(state[stateHashOff:stateHashOff+HashSize], want[:]) {
		m.mid = mid
	}
	return m
}

// checkEvery is how many nonces a worker tries between looks at the stop
// flag: about 50 µs of work, so cancellation is prompt and cheap.
const checkEvery = 1 << 10

// search tries nonces start, start+stride, ... up to hi until one meets
// target or stop is set. It returns the winning nonce, whether one was
// found, and the hashes tried.
func (m *miningTemplate) search(start, hi, stride uint64, target Target, stop *atomic.Bool) (nonce uint64, found bool, hashes uint64) {
	if m.mid == nil {
		return m.searchPlain(start, hi, stride, target, stop)
	}
	d := sha256.New()
	st := d.(sha256State)
	last := m.last
	buf := make([]byte, 0, 128)
	t0 := binary.BigEndian.Uint64(target[:8])
	for n := start; ; n += stride {
		if hashes%checkEvery == 0 && stop.Load() {
			return 0, false, hashes
		}
		hashes++
		binary.BigEndian.PutUint64(last[lastNonceOff:], n)
		_ = st.UnmarshalBinary(m.mid) // cannot fail: checked in newMiningTemplate
		d.Write(last[:])
		buf, _ = st.AppendBinary(buf[:0])
		h0 := binary.BigEndian.Uint64(buf[stateHashOff:])
		if h0 < t0 || (h0 == t0 && bytes.Compare(buf[stateHashOff:stateHashOff+HashSize], target[:]) <= 0) {
			return n, true, hashes
		}
		if hi-n < stride {
			return 0, false, hashes
		}
	}
}

// searchPlain is search without the midstate: SHA-256 of the whole header.
func (m *miningTemplate) searchPlain(start, hi, stride uint64, target Target, stop *atomic.Bool) (nonce uint64, found bool, hashes uint64) {
	var enc [HeaderSize]byte
	m.header.appendBinary(enc[:0])
	for n := start; ; n += stride {
		if hashes%checkEvery == 0 && stop.Load() {
			return 0, false, hashes
		}
		hashes++
		binary.BigEndian.PutUint64(enc[hdrOffNonce:], n)
		if Hash(sha256.Sum256(enc[:])).MeetsTarget(target) {
			return n, true, hashes
		}
		if hi-n < stride {
			return 0, false, hashes
		}
	}
}
