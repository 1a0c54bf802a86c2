package blockchain

import (
	"context"
	"errors"
	"math/big"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

func TestCompactKnownPairs(t *testing.T) {
	lsh := func(v int64, bytes uint) *big.Int { return new(big.Int).Lsh(big.NewInt(v), 8*bytes) }
	for _, c := range []struct {
		bits uint32
		want *big.Int
	}{
		{0x1d00ffff, lsh(0xffff, 26)}, // Bitcoin's genesis / easiest target
		{0x1b0404cb, lsh(0x0404cb, 24)},
		{0x170331db, lsh(0x0331db, 20)},
		{0x05009234, big.NewInt(0x92340000)},
		{0x04123456, big.NewInt(0x12345600)},
		{0x03123456, big.NewInt(0x123456)},
		{0x02008000, big.NewInt(0x80)},
		{0x01120000, big.NewInt(0x12)},
		{0x207fffff, lsh(0x7fffff, 29)}, // Bitcoin regtest's limit
	} {
		tg, err := TargetFromCompact(c.bits)
		if err != nil {
			t.Errorf("%#08x: %v", c.bits, err)
			continue
		}
		if tg.Big().Cmp(c.want) != 0 {
			t.Errorf("%#08x decodes to %x, want %x", c.bits, tg.Big(), c.want)
		}
		if got := tg.Compact(); got != c.bits {
			t.Errorf("%x encodes to %#08x, want %#08x", c.want, got, c.bits)
		}
		back, err := TargetFromBig(c.want)
		if err != nil || back != tg {
			t.Errorf("TargetFromBig(%x): %v", c.want, err)
		}
	}
	for _, bits := range []uint32{0, 0x01003456, 0x04923456, 0x01fedcba, 0x21010000, 0xff123456, 0x23000001, 0x22000100} {
		if _, err := TargetFromCompact(bits); !errors.Is(err, ErrBadTarget) {
			t.Errorf("%#08x: err = %v, want ErrBadTarget", bits, err)
		}
	}
	// Compact rounds down to three significant bytes, never up.
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		var tg Target
		for i := 1 + r.IntN(31); i < 32; i++ {
			tg[i] = byte(r.Uint32())
		}
		if tg == (Target{}) {
			continue
		}
		back, err := TargetFromCompact(tg.Compact())
		if err != nil {
			t.Fatalf("%s: %v", tg, err)
		}
		if back.Big().Cmp(tg.Big()) > 0 || back.Compact() != tg.Compact() {
			t.Fatalf("%s -> %#08x -> %s", tg, tg.Compact(), back)
		}
	}
}

func TestTargetFromBitsAndWork(t *testing.T) {
	for n := 0; n <= 255; n++ {
		tg := TargetFromBits(n)
		want := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(256-n)), big.NewInt(1))
		if tg.Big().Cmp(want) != 0 {
			t.Fatalf("TargetFromBits(%d) = %s", n, tg)
		}
		// Work of "n leading zero bits" is exactly 2^n.
		if w := tg.Work(); w.Cmp(new(big.Int).Lsh(big.NewInt(1), uint(n))) != 0 {
			t.Fatalf("work of %d bits = %v", n, w)
		}
		var h Hash
		copy(h[:], tg[:])
		if !h.MeetsTarget(tg) || h.LeadingZeroBits() != n {
			t.Fatalf("bits %d: hash equal to target", n)
		}
		if n > 0 {
			h[(n-1)/8] |= 0x80 >> ((n - 1) % 8)
			if h.MeetsTarget(tg) {
				t.Fatalf("bits %d: hash with a one in bit %d accepted", n, n-1)
			}
		}
	}
}

func TestMineFindsNonce(t *testing.T) {
	for _, workers := range []int{1, 2, 3} {
		h := testHeader()
		h.Bits = TargetFromBits(16).Compact()
		hashes, err := Mine(context.Background(), &h, workers)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.CheckProofOfWork(); err != nil {
			t.Fatalf("workers=%d: mined header fails: %v", workers, err)
		}
		if hash := h.Hash(); hash.LeadingZeroBits() < 16 {
			t.Fatalf("hash %s", hash)
		}
		if hashes == 0 {
			t.Fatal("no hashes counted")
		}
		t.Logf("workers=%d: nonce %d after %d hashes, hash %s", workers, h.Nonce, hashes, h.Hash().Short(16))
	}
	h := testHeader()
	h.Nonce = 0
	h.Bits = 0 // invalid target
	if _, err := Mine(context.Background(), &h, 1); !errors.Is(err, ErrBadTarget) {
		t.Fatal(err)
	}
}

func TestMineAgreesWithPlainHashing(t *testing.T) {
	// The midstate search and the plain search find the same first nonce.
	h := testHeader()
	h.Bits = TargetFromBits(10).Compact()
	tmpl := newMiningTemplate(&h)
	if tmpl.mid == nil {
		t.Fatal("midstate unavailable: mining would be slow")
	}
	tg, _ := h.Target()
	var stop atomicBool
	n1, ok1, c1 := tmpl.search(0, 1<<20, 1, tg, &stop.b)
	n2, ok2, c2 := tmpl.searchPlain(0, 1<<20, 1, tg, &stop.b)
	if !ok1 || n1 != n2 || ok1 != ok2 || c1 != c2 {
		t.Fatalf("midstate %d/%v/%d, plain %d/%v/%d", n1, ok1, c1, n2, ok2, c2)
	}
}

func TestMineCancel(t *testing.T) {
	h := testHeader()
	h.Bits = TargetFromBits(60).Compact()
	before := h
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var cancelled time.Time
	go func() {
		_, err := Mine(ctx, &h, 2)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancelled = time.Now()
	cancel()
	err := <-done
	if took := time.Since(cancelled); took > 100*time.Millisecond {
		t.Fatalf("Mine returned %v after cancellation", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if h != before {
		t.Fatal("header changed by a cancelled Mine")
	}
	if _, err := Mine(ctx, &h, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("already cancelled: %v", err)
	}
}

func TestMineNonceSpaceExhausted(t *testing.T) {
	h := testHeader()
	h.Bits = TargetFromBits(40).Compact()
	before := h
	for _, workers := range []int{1, 2, 7} {
		n, err := mineRange(context.Background(), &h, 1000, 1999, workers)
		if !errors.Is(err, ErrNonceSpaceExhausted) {
			t.Fatalf("err = %v", err)
		}
		if n != 1000 {
			t.Fatalf("workers=%d: tried %d nonces of 1000", workers, n)
		}
		if h != before {
			t.Fatal("header changed")
		}
	}
	// More workers than nonces.
	if n, err := mineRange(context.Background(), &h, 5, 6, 4); n != 2 || !errors.Is(err, ErrNonceSpaceExhausted) {
		t.Fatalf("2 nonces, 4 workers: %d %v", n, err)
	}
}

type atomicBool struct{ b atomic.Bool }
