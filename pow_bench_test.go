package blockchain

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Mining benchmarks. Every one reports hashes/s, so one run compares them:
//
//	go test -run XXX -bench 'Header|Mine|Naive' -benchmem
//
// Bars (checked by .ci/bars): Mine/workers=1 ≥ 1.8 × HeaderSum256,
// Mine/workers=2 ≥ 1.9 × Mine/workers=1, Mine/workers=1 ≥ 60 × NaiveJSONHash,
// and 0 allocs/op for Mine. .ci/bars runs the command and checks the ratios.

func reportHashRate(b *testing.B, hashes uint64) {
	b.ReportMetric(float64(hashes)/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkHeaderSum256 is the baseline: sha256.Sum256 of the whole 96-byte
// header per nonce, two SHA-256 compressions each.
func BenchmarkHeaderSum256(b *testing.B) {
	h := testHeader()
	enc, _ := h.MarshalBinary()
	tg := TargetFromBits(64)
	found := 0
	for i := uint64(0); b.Loop(); i++ {
		binary.BigEndian.PutUint64(enc[hdrOffNonce:], i)
		if Hash(sha256.Sum256(enc)).MeetsTarget(tg) {
			found++
		}
	}
	reportHashRate(b, uint64(b.N))
	_ = found
}

// BenchmarkMine runs Mine's search over b.N nonces at a target none of them
// meets, so one op is one nonce tried, with the real worker split.
func BenchmarkMine(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			h := testHeader()
			h.Bits = TargetFromBits(200).Compact()
			b.ReportAllocs()
			b.ResetTimer()
			n, err := mineRange(context.Background(), &h, 0, uint64(b.N)-1, workers)
			if !errors.Is(err, ErrNonceSpaceExhausted) || n != uint64(b.N) {
				b.Fatalf("tried %d of %d: %v", n, b.N, err)
			}
			reportHashRate(b, n)
		})
	}
}

// The tutorial's transaction: RSA-1024 keys as hex of their DER encoding
// (162 bytes, 324 hex digits) for both addresses, a float value, and a
// PKCS#1 v1.5 signature as hex (128 bytes, 256 hex digits).
type naiveTx struct {
	SenderAddress   string  `json:"sender_address"`
	ReceiverAddress string  `json:"receiver_address"`
	Value           float64 `json:"value"`
	Sign            string  `json:"sign"`
}

// naiveBlock is the tutorial's block: the time, the transactions (each
// dumped to a JSON string), the previous hash as hex, and the nonce.
type naiveBlock struct {
	Time         float64  `json:"time"`
	Transactions []string `json:"transactions"`
	PreviousHash string   `json:"previous_hash"`
	Nonce        int      `json:"nonce"`
}

// hexOfLen returns n deterministic hex digits, standing in for key or
// signature bytes (only their length matters to the encoder).
func hexOfLen(seed string, n int) string {
	var sb strings.Builder
	for i := 0; sb.Len() < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprint(seed, i)))
		sb.WriteString(hex.EncodeToString(h[:]))
	}
	return sb.String()[:n]
}

// BenchmarkNaiveJSONHash ports the tutorial's mining loop to Go, with its
// demo's two transactions. Per nonce, as Block.hash() does there: dump each
// transaction to JSON, dump the block to JSON, SHA-256, hex, and compare a
// prefix of zeros.
func BenchmarkNaiveJSONHash(b *testing.B) {
	alice, bob := "30819f30"+hexOfLen("alice", 316), "30819f30"+hexOfLen("bob", 316)
	txs := []naiveTx{
		{SenderAddress: alice, ReceiverAddress: bob, Value: 5, Sign: hexOfLen("sig1", 256)},
		{SenderAddress: bob, ReceiverAddress: alice, Value: 5, Sign: hexOfLen("sig2", 256)},
	}
	blk := naiveBlock{Time: 1763899200.123, PreviousHash: hexOfLen("prev", 64)}
	const difficulty = 16 // hex digits: never met, so every op is one nonce
	found := 0
	for b.Loop() {
		blk.Nonce++
		blk.Transactions = blk.Transactions[:0]
		for _, tx := range txs {
			js, err := json.Marshal(tx)
			if err != nil {
				b.Fatal(err)
			}
			blk.Transactions = append(blk.Transactions, string(js))
		}
		js, err := json.Marshal(blk)
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(js)
		if hex.EncodeToString(sum[:])[:difficulty] == strings.Repeat("0", difficulty) {
			found++
		}
	}
	reportHashRate(b, uint64(b.N))
	_ = found
}

// TestMineLoopDoesNotAllocatePerNonce checks the claim behind 0 allocs/op:
// searching ten times as many nonces allocates no more.
func TestMineLoopDoesNotAllocatePerNonce(t *testing.T) {
	if raceEnabled {
		// The race detector turns sha256's append(b, make([]byte, n)...)
		// into a real allocation; the benchmark runs without it.
		t.Skip("allocation counts differ under -race")
	}
	h := testHeader()
	h.Bits = TargetFromBits(200).Compact()
	tmpl := newMiningTemplate(&h)
	tg, _ := h.Target()
	var stop atomicBool
	small := testing.AllocsPerRun(5, func() { tmpl.search(0, 999, 1, tg, &stop.b) })
	large := testing.AllocsPerRun(5, func() { tmpl.search(0, 9999, 1, tg, &stop.b) })
	if large > small {
		t.Fatalf("allocations grow with nonces: %v for 1,000, %v for 10,000", small, large)
	}
}
