package blockchain

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// storeBlocks returns a generator and n blocks in a line on its genesis;
// block i holds a coinbase and txs(i) transfers.
func storeBlocks(tb testing.TB, n int, txs func(i int) int) (*gen, []*Block) {
	tb.Helper()
	g := newGen(tb, 10)
	return g, g.branch(g.genesis, n, transfers(g, 0, txs))
}

// transfers returns a transaction maker for gen.branch: block i gets
// txs(i) transfers, the k-th transfer overall (counting from first) from
// person k%people with nonce k/people, so that every one is valid in order.
func transfers(g *gen, first int, txs func(i int) int) func(i int) []Transaction {
	k := first
	people := len(g.people)
	return func(i int) []Transaction {
		var out []Transaction
		for range txs(i) {
			from := k % people
			out = append(out, g.pay(from, (from+1)%people, 1, 1, uint64(k/people)))
			k++
		}
		return out
	}
}

func oneToThree(i int) int { return 1 + i%3 }

// replayAll returns what s replays.
func replayAll(t testing.TB, s Store) ([]uint64, []*Block) {
	t.Helper()
	var locs []uint64
	var blocks []*Block
	if err := s.Replay(func(loc uint64, b *Block) error {
		locs = append(locs, loc)
		blocks = append(blocks, b)
		return nil
	}); err != nil {
		t.Fatalf("replay: %v", err)
	}
	return locs, blocks
}

func blockEncoding(t testing.TB, b *Block) []byte {
	t.Helper()
	enc, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// sameBlocks fails the test unless got and want have the same encodings.
func sameBlocks(t testing.TB, got, want []*Block) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d blocks, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(blockEncoding(t, got[i]), blockEncoding(t, want[i])) {
			t.Fatalf("block %d: got %s, want %s", i, got[i].Hash().Short(12), want[i].Hash().Short(12))
		}
	}
}

// checkChainMatches opens a chain on s and checks that its state and tip
// equal those of a fresh chain fed want.
func checkChainMatches(t testing.TB, g *gen, s Store, want []*Block) {
	t.Helper()
	c, err := NewChain(g.params, ChainOptions{Store: s})
	if err != nil {
		t.Fatalf("chain on the store: %v", err)
	}
	fresh := g.chain()
	g.add(fresh, want...)
	if got, exp := c.Tip(), fresh.Tip(); got.Hash != exp.Hash || got.Height != exp.Height || got.TotalWork.Cmp(exp.TotalWork) != 0 {
		t.Fatalf("tip %s at %d, want %s at %d", got.Hash.Short(12), got.Height, exp.Hash.Short(12), exp.Height)
	}
	if digest(c, nil) != digest(fresh, nil) {
		t.Fatal("chain state on the store differs from a fresh chain fed the surviving blocks")
	}
}

// logCapture returns a logger writing JSON lines to a buffer, and a
// function counting the records at each level.
func logCapture() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func logLevels(t testing.TB, buf *bytes.Buffer) map[string]int {
	t.Helper()
	out := make(map[string]int)
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var rec struct{ Level string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out[rec.Level]++
	}
	return out
}

// segFiles returns the contents of the files in dir by name.
func dirFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]byte)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

func writeDir(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func openStore(t testing.TB, dir string, opts FileStoreOptions) *FileStore {
	t.Helper()
	s, err := OpenFileStore(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFileStoreRoundTrip appends blocks in batches across many segments,
// reads them back by location before and after reopening, replays them in
// order, rebuilds a chain from them, and checks the documented layout byte
// by byte and the errors for locations the store does not hold.
func TestFileStoreRoundTrip(t *testing.T) {
	g, blocks := storeBlocks(t, 45, func(i int) int { return i % 4 })
	dir := filepath.Join(t.TempDir(), "new", "store") // OpenFileStore makes it
	opts := FileStoreOptions{SegmentSize: 2048}
	s := openStore(t, dir, opts)
	var locs []uint64
	for i, batch := 0, 1; i < 40; i, batch = i+batch, batch%5+1 {
		part := blocks[i:min(i+batch, 40)]
		l, err := s.Append(part)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != len(part) {
			t.Fatalf("%d locations for %d blocks", len(l), len(part))
		}
		for j, loc := range l {
			b, err := s.Read(loc)
			if err != nil {
				t.Fatal(err)
			}
			sameBlocks(t, []*Block{b}, part[j:j+1])
		}
		locs = append(locs, l...)
	}
	if l, err := s.Append(nil); err != nil || len(l) != 0 {
		t.Fatalf("empty append: %v, %v", l, err)
	}
	if s.Len() != 40 {
		t.Fatalf("Len %d, want 40", s.Len())
	}

	// Locations: segment << 40 | offset, records back to back.
	for i, loc := range locs {
		num, off := uint32(loc>>40), int64(loc&(1<<40-1))
		if i == 0 {
			if num != 1 || off != 24 {
				t.Fatalf("first location %#x, want segment 1 offset 24", loc)
			}
			continue
		}
		pnum, poff := uint32(locs[i-1]>>40), int64(locs[i-1]&(1<<40-1))
		prevEnd := poff + 8 + int64(blocks[i-1].Size())
		switch {
		case num == pnum && off == prevEnd:
		case num == pnum+1 && off == 24 && prevEnd+8+int64(blocks[i].Size()) > opts.SegmentSize:
		default:
			t.Fatalf("location %d: segment %d offset %d after segment %d offset %d", i, num, off, pnum, poff)
		}
	}
	files := dirFiles(t, dir)
	nseg := 0
	for name, data := range files {
		if strings.HasPrefix(name, "blocks-") {
			nseg++
			if int64(len(data)) > opts.SegmentSize {
				t.Errorf("%s is %d bytes, more than the segment size", name, len(data))
			}
		}
	}
	if want := int(locs[len(locs)-1] >> 40); nseg != want || nseg < 10 {
		t.Fatalf("%d segment files, want %d (at least 10)", nseg, want)
	}
	// The layout, byte by byte.
	seg := files["blocks-000001.log"]
	if want := []byte("NAKABLKS\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"); !bytes.Equal(seg[:24], want) {
		t.Fatalf("segment header %q, want %q", seg[:24], want)
	}
	want2 := binary.BigEndian.AppendUint64([]byte("NAKABLKS\x00\x00\x00\x01\x00\x00\x00\x02"), uint64(len(seg)))
	if seg2 := files["blocks-000002.log"]; !bytes.Equal(seg2[:24], want2) {
		t.Fatalf("segment 2 header %q, want %q", seg2[:24], want2)
	}
	rec := seg[24:]
	enc := blockEncoding(t, blocks[0])
	if n := binary.BigEndian.Uint32(rec); n != uint32(len(enc)) {
		t.Fatalf("record length %d, want %d", n, len(enc))
	}
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	crc.Write(rec[:4])
	crc.Write(enc)
	if got := binary.BigEndian.Uint32(rec[4:]); got != crc.Sum32() {
		t.Fatalf("record CRC %#x, want CRC-32C %#x", got, crc.Sum32())
	}
	if !bytes.Equal(rec[8:8+len(enc)], enc) {
		t.Fatal("record payload is not the block's encoding")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened: the same blocks at the same locations, in order.
	logger, logs := logCapture()
	s = openStore(t, dir, FileStoreOptions{SegmentSize: 2048, Logger: logger})
	gotLocs, got := replayAll(t, s)
	sameBlocks(t, got, blocks[:40])
	if !slices.Equal(gotLocs, locs) {
		t.Fatal("replayed locations differ from those Append returned")
	}
	for i, loc := range locs {
		b, err := s.Read(loc)
		if err != nil {
			t.Fatal(err)
		}
		sameBlocks(t, []*Block{b}, blocks[i:i+1])
	}
	if logs.Len() != 0 {
		t.Fatalf("a clean store logged: %s", logs)
	}
	checkChainMatches(t, g, s, blocks[:40])

	// It takes more blocks after reopening.
	if _, err := s.Append(blocks[40:]); err != nil {
		t.Fatal(err)
	}

	// Locations it does not hold.
	last := locs[len(locs)-1]
	for _, c := range []struct {
		name    string
		loc     uint64
		corrupt bool
	}{
		{"zero", 0, false},
		{"unknown segment", 999 << 40, false},
		{"segment 0", 16, false},
		{"inside the header", 1<<40 | 4, false},
		{"past the end", last + 1<<20, false},
		{"not a record's start", locs[0] + 1, true},
		{"inside a record", locs[0] + 100, true},
	} {
		_, err := s.Read(c.loc)
		if !errors.Is(err, ErrNotStored) || errors.Is(err, ErrStoreCorrupt) != c.corrupt {
			t.Errorf("%s: Read(%#x) = %v, want ErrNotStored (and ErrStoreCorrupt: %v)", c.name, c.loc, err, c.corrupt)
		}
	}
	// A block too large for a record is refused before anything is written.
	huge := &Block{Header: blocks[0].Header, Transactions: make([]Transaction, MaxBlockSizeLimit/TxSize+1)}
	if _, err := s.Append([]*Block{blocks[0], huge}); err == nil {
		t.Fatal("a block over 2 MiB was stored")
	}
	if _, err := s.Append([]*Block{blocks[0], nil}); err == nil {
		t.Fatal("a nil block was stored")
	}
	if s.Len() != 45 {
		t.Fatalf("Len %d after refused appends, want 45", s.Len())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Read(locs[0]); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := s.Append(blocks[:1]); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := s.Replay(func(uint64, *Block) error { return nil }); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Replay after Close: %v", err)
	}
	s = openStore(t, dir, FileStoreOptions{SegmentSize: 2048})
	defer s.Close()
	_, got = replayAll(t, s)
	sameBlocks(t, got, blocks)
	checkChainMatches(t, g, s, blocks)

	stop := errors.New("stop")
	n := 0
	if err := s.Replay(func(uint64, *Block) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Replay returned %v after %d calls, want fn's error after 1", err, n)
	}
	if _, err := OpenFileStore(t.TempDir(), FileStoreOptions{SegmentSize: -1}); err == nil {
		t.Fatal("negative segment size accepted")
	}
}

// TestFileStoreChainReorg runs a chain on a file store through a
// reorganization (which reads the old branch's bodies back from the
// store) and reopens it: the reopened chain has the same tip, state and
// blocks.
func TestFileStoreChainReorg(t *testing.T) {
	g := newGen(t, 4)
	a := g.branch(g.genesis, 6, nil)
	b := g.branch(a[1], 7, transfers(g, 0, func(int) int { return 2 }))
	dir := t.TempDir()
	s := openStore(t, dir, FileStoreOptions{SegmentSize: 1024})
	c, err := NewChain(g.params, ChainOptions{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	g.add(c, a...)
	if res, err := c.AddBlocks(b, g.now); err != nil || res.Status != StatusReorg || len(res.Disconnected) != 4 {
		t.Fatalf("status %v, %d disconnected, %v; want a reorg of 4", res.Status, len(res.Disconnected), err)
	}
	want, wantTip := digest(c, nil), c.Tip()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, FileStoreOptions{SegmentSize: 1024})
	defer s.Close()
	if s.Len() != len(a)+len(b) {
		t.Fatalf("%d blocks stored, want %d", s.Len(), len(a)+len(b))
	}
	c2, err := NewChain(g.params, ChainOptions{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	if digest(c2, nil) != want || c2.Tip().Hash != wantTip.Hash {
		t.Fatal("reopened chain differs")
	}
	for h := uint64(1); h <= c2.Height(); h++ {
		blk, ok := c2.BlockByHeight(h)
		if !ok || blk.Hash() != append(a[:2:2], b...)[h-1].Hash() {
			t.Fatalf("block at height %d not read back from the store", h)
		}
	}
	if blk, ok := c2.BlockByHash(a[5].Hash()); !ok || blk.Hash() != a[5].Hash() {
		t.Fatal("side-branch block not read back from the store")
	}
}

// TestStoreTornTailEveryOffset cuts the last record at every byte offset:
// each store opens, cuts the torn tail with a Warn log, keeps the earlier
// blocks, and a chain rebuilt from it equals a fresh chain fed them.
func TestStoreTornTailEveryOffset(t *testing.T) {
	g, blocks := storeBlocks(t, 6, oneToThree)
	base := t.TempDir()
	src := filepath.Join(base, "src")
	s := openStore(t, src, FileStoreOptions{})
	locs, err := s.Append(blocks)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	seg := dirFiles(t, src)["blocks-000001.log"]
	lastOff := int(locs[5] & (1<<40 - 1))
	if lastOff+8+blocks[5].Size() != len(seg) {
		t.Fatalf("last record at %d of %d bytes, file %d bytes", lastOff, blocks[5].Size(), len(seg))
	}
	fresh := g.chain()
	g.add(fresh, blocks[:5]...)
	wantDigest, wantTip := digest(fresh, nil), fresh.Tip()
	for cut := lastOff; cut < len(seg); cut++ {
		dir := filepath.Join(base, fmt.Sprint(cut))
		writeDir(t, dir, map[string][]byte{"blocks-000001.log": seg[:cut]})
		logger, logs := logCapture()
		s, err := OpenFileStore(dir, FileStoreOptions{Logger: logger})
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		levels := logLevels(t, logs)
		if torn := cut > lastOff; levels["WARN"] != btoi(torn) || len(levels) != btoi(torn) {
			t.Fatalf("cut at %d: logs %v, want one WARN: %v", cut, levels, torn)
		}
		if fi, err := os.Stat(filepath.Join(dir, "blocks-000001.log")); err != nil || fi.Size() != int64(lastOff) {
			t.Fatalf("cut at %d: segment not truncated to %d: %v %v", cut, lastOff, fi.Size(), err)
		}
		_, got := replayAll(t, s)
		sameBlocks(t, got, blocks[:5])
		c, err := NewChain(g.params, ChainOptions{Store: s})
		if err != nil {
			t.Fatal(err)
		}
		if digest(c, nil) != wantDigest || c.Tip().Hash != wantTip.Hash || c.Tip().TotalWork.Cmp(wantTip.TotalWork) != 0 {
			t.Fatalf("cut at %d: chain differs from a fresh chain fed the 5 surviving blocks", cut)
		}
		if cut%50 == 0 { // the repaired store takes the block again
			if _, err := s.Append(blocks[5:]); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s = openStore(t, dir, FileStoreOptions{})
			_, got := replayAll(t, s)
			sameBlocks(t, got, blocks)
		}
		s.Close()
		os.RemoveAll(dir)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestStoreZeroesNeverValid checks that zeroed bytes never read as a
// record: not a zeroed record, nor one whose length survived but whose
// checksum and payload were zeroed (for every possible length), nor files
// of zeros, nor zeros after valid records.
func TestStoreZeroesNeverValid(t *testing.T) {
	zeros := make([]byte, recHeaderSize+maxRecordPayload)
	lengths := 0
	for n := uint32(0); n <= maxRecordPayload; n++ {
		if !plausibleLength(n) {
			continue
		}
		lengths++
		rec := zeros[:recHeaderSize+n]
		binary.BigEndian.PutUint32(rec, n)
		if recordCRC(rec) == 0 {
			t.Fatalf("length %d with a zero payload has checksum 0: a zeroed record would be valid", n)
		}
		binary.BigEndian.PutUint32(rec, 0)
	}
	if lengths < MaxBlockSizeLimit/TxSize {
		t.Fatalf("only %d plausible lengths", lengths)
	}
	if _, why := checkRecordHeader(zeros[:8], 1<<30); why == "" {
		t.Fatal("a zero length is valid")
	}
	_, blocks := storeBlocks(t, 3, oneToThree)
	valid := segHeader(1, 0)
	for _, b := range blocks {
		valid, _ = appendRecord(valid, b)
	}
	for _, size := range []int{1, 15, 16, 17, 24, 105, 4096, 70000} {
		for _, prefix := range [][]byte{nil, segHeader(1, 0), valid} {
			m := newMemFS()
			m.setFile("/s/blocks-000001.log", append(slices.Clone(prefix), make([]byte, size)...))
			s, err := openFileStore(m, "/s", FileStoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := len(prefix) / len(valid) * len(blocks); s.Len() != want {
				t.Fatalf("%d zero bytes after %d bytes: %d blocks, want %d", size, len(prefix), s.Len(), want)
			}
		}
	}
}

// storeImage is a pristine multi-segment store and where its records are.
type storeImage struct {
	g      *gen
	blocks []*Block
	files  map[string][]byte
	recs   []recPos // recs[i] holds blocks[i]
	nseg   int
}

type recPos struct {
	seg      string
	off, end int
}

func newStoreImage(t *testing.T, n int, segSize int64) *storeImage {
	t.Helper()
	g, blocks := storeBlocks(t, n, oneToThree)
	dir := t.TempDir()
	s := openStore(t, dir, FileStoreOptions{SegmentSize: segSize})
	var locs []uint64
	for i := 0; i < len(blocks); i += 7 {
		l, err := s.Append(blocks[i:min(i+7, len(blocks))])
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, l...)
	}
	s.Close()
	img := &storeImage{g: g, blocks: blocks, files: dirFiles(t, dir)}
	delete(img.files, "LOCK")
	for i, loc := range locs {
		num, off := splitLoc(loc)
		img.recs = append(img.recs, recPos{segName(num), int(off), int(off) + 8 + blocks[i].Size()})
		img.nseg = int(num)
	}
	return img
}

// firstHit returns the index of the first record in segment seg that
// ends after off: the first one a change at off damages.
func (img *storeImage) firstHit(seg string, off int) int {
	for i, r := range img.recs {
		if r.seg == seg && r.end > off {
			return i
		}
	}
	return len(img.recs)
}

// firstOf returns the index of the first record of segment seg.
func (img *storeImage) firstOf(seg string) int { return img.firstHit(seg, 0) }

// TestStoreDamage opens stores with garbage appended, a byte flipped, a
// 4 KiB sector zeroed, headers damaged and segments missing. Each opens
// with the outcome the FileStore documentation gives (torn tail: cut,
// Warn; damage: copy kept beside, cut there, later segments set aside,
// Error), replays exactly the surviving blocks, rebuilds the same chain as
// a fresh one fed them, takes the lost blocks again, and reopens cleanly.
func TestStoreDamage(t *testing.T) {
	img := newStoreImage(t, 115, 16<<10)
	if img.nseg < 3 {
		t.Fatalf("%d segments, want at least 3", img.nseg)
	}
	seg1, seg2 := segName(1), segName(2)
	last := segName(uint32(img.nseg))
	lastSize := len(img.files[last])
	if lastSize < 4096+16+2000 {
		t.Fatalf("last segment of %d bytes is too short for the cases", lastSize)
	}
	all := len(img.blocks)
	mid1 := img.recs[img.firstOf(seg1)+5]
	mid2 := img.recs[img.firstOf(seg2)+5]
	midLast := img.recs[img.firstOf(last)+2]
	lastRec := img.recs[all-1]
	rng := rand.New(rand.NewPCG(3, 4))
	garbage := make([]byte, 3000)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	later := func(from int) []string { // segments from..nseg
		var out []string
		for k := from; k <= img.nseg; k++ {
			out = append(out, segName(uint32(k)))
		}
		return out
	}
	flip := func(seg string, off int) func(map[string][]byte) {
		return func(f map[string][]byte) { f[seg][off] ^= 0x10 }
	}
	cases := []struct {
		name    string
		damage  func(files map[string][]byte)
		survive int
		level   string   // the highest level logged: "", "WARN" or "ERROR"
		aside   []string // segments set aside as NAME.corrupt-1
		err     error
	}{
		{name: "clean", damage: func(map[string][]byte) {}, survive: all},
		{name: "garbage appended", survive: all, level: "WARN",
			damage: func(f map[string][]byte) { f[last] = append(f[last], garbage...) }},
		{name: "zeros appended", survive: all, level: "WARN",
			damage: func(f map[string][]byte) { f[last] = append(f[last], make([]byte, 8192)...) }},
		{name: "garbage then a valid record appended", survive: all, level: "ERROR", aside: []string{last},
			damage: func(f map[string][]byte) {
				r := img.recs[0]
				f[last] = append(append(f[last], garbage[:100]...), f[r.seg][r.off:r.end]...)
			}},
		{name: "byte flipped in a payload in segment 1", survive: img.firstOf(seg1) + 5, level: "ERROR", aside: later(1),
			damage: flip(seg1, mid1.off+200)},
		{name: "byte flipped in a length in segment 2", survive: img.firstOf(seg2) + 5, level: "ERROR", aside: later(2),
			damage: flip(seg2, mid2.off+2)},
		{name: "byte flipped in a checksum in the last segment", survive: img.firstOf(last) + 2, level: "ERROR", aside: []string{last},
			damage: flip(last, midLast.off+5)},
		{name: "byte flipped in the last record", survive: all - 1, level: "WARN",
			damage: flip(last, lastRec.off+50)},
		{name: "4 KiB sector zeroed in segment 2", survive: img.firstHit(seg2, 4096), level: "ERROR", aside: later(2),
			damage: func(f map[string][]byte) { clear(f[seg2][4096:8192]) }},
		{name: "4 KiB sector zeroed mid last segment", survive: img.firstHit(last, 4096), level: "ERROR", aside: []string{last},
			damage: func(f map[string][]byte) { clear(f[last][4096:8192]) }},
		{name: "last 4 KiB zeroed", survive: img.firstHit(last, lastSize-4096), level: "WARN",
			damage: func(f map[string][]byte) { clear(f[last][lastSize-4096:]) }},
		{name: "segment 2 header damaged", survive: img.firstOf(seg2), level: "ERROR", aside: later(2),
			damage: flip(seg2, 3)},
		{name: "segment 2 header names another segment", survive: img.firstOf(seg2), level: "ERROR", aside: later(2),
			damage: func(f map[string][]byte) { f[seg2][15] = 7 }},
		{name: "segment 2 missing", survive: img.firstOf(seg2), level: "ERROR", aside: later(3),
			damage: func(f map[string][]byte) { delete(f, seg2) }},
		{name: "segment 1 missing", survive: 0, level: "ERROR", aside: later(2),
			damage: func(f map[string][]byte) { delete(f, seg1) }},
		{name: "last segment all zeros", survive: img.firstOf(last), level: "WARN",
			damage: func(f map[string][]byte) { f[last] = make([]byte, lastSize) }},
		{name: "empty new segment", survive: all, level: "WARN",
			damage: func(f map[string][]byte) { f[segName(uint32(img.nseg+1))] = nil }},
		{name: "torn new segment header", survive: all, level: "WARN",
			damage: func(f map[string][]byte) {
				f[segName(uint32(img.nseg+1))] = segHeader(uint32(img.nseg+1), int64(lastSize))[:10]
			}},
		{name: "new segment with only a header", survive: all,
			damage: func(f map[string][]byte) {
				f[segName(uint32(img.nseg+1))] = segHeader(uint32(img.nseg+1), int64(lastSize))
			}},
		{name: "new segment with only a header, predecessor's length wrong", survive: all, level: "WARN",
			damage: func(f map[string][]byte) {
				f[segName(uint32(img.nseg+1))] = segHeader(uint32(img.nseg+1), int64(lastSize+1))
			}},
		{name: "segment 1 lost its last record", survive: img.firstOf(seg2) - 1, level: "ERROR", aside: later(2),
			damage: func(f map[string][]byte) { f[seg1] = f[seg1][:img.recs[img.firstOf(seg2)-1].off] }},
		{name: "last segment lost its last record (no log can tell)", survive: all - 1,
			damage: func(f map[string][]byte) { f[last] = f[last][:lastRec.off] }},
		{name: "format version 2", err: ErrStoreVersion,
			damage: func(f map[string][]byte) { f[last][11] = 2 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := make(map[string][]byte)
			for name, data := range img.files {
				files[name] = slices.Clone(data)
			}
			c.damage(files)
			damaged := make(map[string][]byte)
			for name, data := range files {
				damaged[name] = slices.Clone(data)
			}
			dir := t.TempDir()
			writeDir(t, dir, files)
			logger, logs := logCapture()
			s, err := OpenFileStore(dir, FileStoreOptions{SegmentSize: 16 << 10, Logger: logger})
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("open: %v, want %v", err, c.err)
				}
				after := dirFiles(t, dir)
				delete(after, "LOCK")
				if !maps.EqualFunc(after, damaged, bytes.Equal) {
					t.Fatal("a refused open changed the files")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			levels := logLevels(t, logs)
			switch c.level {
			case "":
				if len(levels) != 0 {
					t.Fatalf("logged %v, want nothing", levels)
				}
			case "WARN":
				if levels["WARN"] != 1 || len(levels) != 1 {
					t.Fatalf("logged %v, want one WARN", levels)
				}
			case "ERROR":
				if levels["ERROR"] != 1 || len(levels) != 1 {
					t.Fatalf("logged %v, want one ERROR", levels)
				}
			}
			if s.Len() != c.survive {
				t.Fatalf("%d blocks kept, want %d", s.Len(), c.survive)
			}
			_, got := replayAll(t, s)
			sameBlocks(t, got, img.blocks[:c.survive])

			// Files: what is set aside is the damaged file as it was; what
			// is kept is a prefix of it.
			after := dirFiles(t, dir)
			var aside []string
			for name, data := range after {
				if seg, ok := strings.CutSuffix(name, ".corrupt-1"); ok {
					aside = append(aside, seg)
					if !bytes.Equal(data, damaged[seg]) {
						t.Errorf("%s differs from the damaged file", name)
					}
				}
			}
			slices.Sort(aside)
			if !slices.Equal(aside, c.aside) {
				t.Fatalf("set aside %v, want %v", aside, c.aside)
			}
			for name, data := range after {
				if _, ok := parseSegName(name); ok {
					if orig, ok := damaged[name]; ok && !bytes.HasPrefix(orig, data) {
						t.Errorf("kept %s is not a prefix of the damaged file", name)
					}
				}
			}
			checkChainMatches(t, img.g, s, img.blocks[:c.survive])

			// The node fetches the rest again; the store then reopens
			// clean, with every block.
			if _, err := s.Append(img.blocks[c.survive:]); err != nil {
				t.Fatal(err)
			}
			s.Close()
			logger, logs = logCapture()
			s = openStore(t, dir, FileStoreOptions{SegmentSize: 16 << 10, Logger: logger})
			defer s.Close()
			if logs.Len() != 0 {
				t.Fatalf("second open logged: %s", logs)
			}
			_, got = replayAll(t, s)
			sameBlocks(t, got, img.blocks)
		})
	}
	// A second damage event numbers its copies after the first's.
	t.Run("second damage", func(t *testing.T) {
		files := maps.Clone(img.files)
		files[seg2+".corrupt-1"] = []byte("old")
		files[seg2] = slices.Clone(files[seg2])
		files[seg2][3] ^= 1
		dir := t.TempDir()
		writeDir(t, dir, files)
		s := openStore(t, dir, FileStoreOptions{SegmentSize: 16 << 10})
		s.Close()
		after := dirFiles(t, dir)
		if string(after[seg2+".corrupt-1"]) != "old" || !bytes.Equal(after[seg2+".corrupt-2"], files[seg2]) {
			t.Fatal("second damage did not go to .corrupt-2")
		}
	})
}

// TestStoreLock: a second OpenFileStore on the same directory fails with
// ErrStoreLocked, naming the directory, until the first is closed.
func TestStoreLock(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, FileStoreOptions{})
	_, err := OpenFileStore(dir, FileStoreOptions{})
	if !errors.Is(err, ErrStoreLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open: %v, want ErrStoreLocked naming %s", err, dir)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, FileStoreOptions{})
	s.Close()

	m := newMemFS()
	s, err = openFileStore(m, "/d", FileStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openFileStore(m, "/d", FileStoreOptions{}); !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second open on memfs: %v", err)
	}
	s.Close()
	if s, err = openFileStore(m, "/d", FileStoreOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

const lockChildEnv = "NAKACHAIN_TEST_STORE_LOCK_DIR"

// TestStoreLockOtherProcess runs the test binary again as a second process:
// it is refused the directory while this process holds the store open, and
// opens it once this process closes it.
func TestStoreLockOtherProcess(t *testing.T) {
	if dir := os.Getenv(lockChildEnv); dir != "" {
		s, err := OpenFileStore(dir, FileStoreOptions{})
		switch want := os.Getenv(lockChildEnv + "_WANT"); {
		case want == "locked" && errors.Is(err, ErrStoreLocked):
			fmt.Println("child: refused:", err)
		case want == "open" && err == nil:
			s.Close()
			fmt.Println("child: opened")
		default:
			t.Fatalf("child wanted %s, got %v", want, err)
		}
		return
	}
	dir := t.TempDir()
	child := func(want string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStoreLockOtherProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), lockChildEnv+"="+dir, lockChildEnv+"_WANT="+want)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child process (%s): %v\n%s", want, err, out)
		}
		return string(out)
	}
	s := openStore(t, dir, FileStoreOptions{})
	if out := child("locked"); !strings.Contains(out, "child: refused") || !strings.Contains(out, dir) {
		t.Fatalf("child output:\n%s", out)
	}
	s.Close()
	if out := child("open"); !strings.Contains(out, "child: opened") {
		t.Fatalf("child output:\n%s", out)
	}
}

// TestFileStoreConcurrent reads and replays while blocks are appended
// across segments (run it with -race): every location Append returned
// reads back, and every replay is a prefix of the blocks in order.
func TestFileStoreConcurrent(t *testing.T) {
	_, blocks := storeBlocks(t, 60, oneToThree)
	s := openStore(t, t.TempDir(), FileStoreOptions{SegmentSize: 4096})
	defer s.Close()
	var (
		mu    sync.Mutex
		known []uint64 // locations of blocks[:len(known)]
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := 0; i < len(blocks); i += 3 {
			locs, err := s.Append(blocks[i:min(i+3, len(blocks))])
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			known = append(known, locs...)
			mu.Unlock()
		}
	})
	for range 2 {
		wg.Go(func() {
			for finished := false; !finished; {
				select {
				case <-done:
					finished = true // one more round after the last append
				default:
				}
				mu.Lock()
				locs := slices.Clone(known)
				mu.Unlock()
				for i, loc := range locs {
					b, err := s.Read(loc)
					if err != nil || b.Hash() != blocks[i].Hash() {
						t.Errorf("Read(%#x): %v", loc, err)
						return
					}
				}
				n := 0
				err := s.Replay(func(loc uint64, b *Block) error {
					if b.Hash() != blocks[n].Hash() {
						return fmt.Errorf("replayed block %d out of order", n)
					}
					n++
					return nil
				})
				if err != nil || n < len(locs) {
					t.Errorf("replay: %v after %d blocks, %d known stored", err, n, len(locs))
					return
				}
			}
		})
	}
	wg.Wait()
	if s.Len() != len(blocks) {
		t.Fatalf("Len %d, want %d", s.Len(), len(blocks))
	}
}

// FuzzStoreRecords opens a store whose first segment file (and, when seg2
// is not empty, second) holds arbitrary bytes. Opening never panics and
// fails only for a format version it does not read; every block it
// replays re-encodes to exactly the record's bytes in the input, at the
// location given, and reads back from there; what stays of each file is a
// prefix of it (or a new empty segment); and the repaired store takes a block and reopens clean,
// logging nothing.
func FuzzStoreRecords(f *testing.F) {
	_, blocks := storeBlocks(f, 4, oneToThree)
	seg1 := segHeader(1, 0)
	for _, b := range blocks[:3] {
		seg1, _ = appendRecord(seg1, b)
	}
	seg2, _ := appendRecord(segHeader(2, int64(len(seg1))), blocks[3])
	f.Add(seg1, []byte(nil))
	f.Add(seg1, seg2)
	f.Add(seg1[:len(seg1)-5], []byte(nil))
	f.Add(seg1[:len(seg1)-5], seg2)
	f.Add(append(slices.Clone(seg1), "garbage"...), []byte(nil))
	f.Add(seg1[:30], seg2)
	f.Add(seg1[:24], []byte(nil))
	f.Add(seg1[:10], []byte(nil))
	f.Add([]byte{}, seg2)
	f.Add(make([]byte, 4096), []byte(nil))
	flipped := slices.Clone(seg1)
	flipped[100] ^= 1
	f.Add(flipped, seg2)
	f.Fuzz(func(t *testing.T, data1, data2 []byte) {
		inputs := map[uint32][]byte{1: data1}
		m := newMemFS()
		const dir = "/store"
		m.setFile(dir+"/"+segName(1), data1)
		if len(data2) > 0 {
			inputs[2] = data2
			m.setFile(dir+"/"+segName(2), data2)
		}
		opts := FileStoreOptions{SegmentSize: 1 << 20}
		s, err := openFileStore(m, dir, opts)
		if errors.Is(err, ErrStoreVersion) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = s.Replay(func(loc uint64, b *Block) error {
			num, off := splitLoc(loc)
			in := inputs[num]
			enc := blockEncoding(t, b)
			if off < segHeaderSize || off+recHeaderSize+int64(len(enc)) > int64(len(in)) {
				t.Fatalf("location %#x outside the input of %d bytes", loc, len(in))
			}
			if rec := in[off : off+recHeaderSize+int64(len(enc))]; !bytes.Equal(rec[recHeaderSize:], enc) ||
				binary.BigEndian.Uint32(rec) != uint32(len(enc)) {
				t.Fatalf("block at %#x does not re-encode to its record", loc)
			}
			r, err := s.Read(loc)
			if err != nil || !bytes.Equal(blockEncoding(t, r), enc) {
				t.Fatalf("Read(%#x): %v", loc, err)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != n {
			t.Fatalf("Len %d, replayed %d", s.Len(), n)
		}
		for num, in := range inputs {
			kept, ok := m.file(dir + "/" + segName(num))
			if ok && !bytes.HasPrefix(in, kept) && !(num == 1 && n == 0 && bytes.Equal(kept, segHeader(1, 0))) {
				t.Fatalf("segment %d is not a prefix of its input, nor a new empty segment", num)
			}
		}
		if _, err := s.Append(blocks[:1]); err != nil {
			t.Fatal(err)
		}
		s.Close()
		logger, logs := logCapture()
		opts.Logger = logger
		s, err = openFileStore(m, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Len() != n+1 || logs.Len() != 0 {
			t.Fatalf("reopened with %d blocks (want %d), logs: %s", s.Len(), n+1, logs)
		}
	})
}
