package blockchain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nakachain/blockchain/internal/osfs"
)

// Store keeps the blocks a [Chain] has connected, so that a node that
// restarts finds its chain again. The chain appends every block it
// connects, before it reports the block (so before a node announces it),
// and reads bodies back when it needs them: for queries, for peers, and to
// disconnect blocks in a reorganization. A Store only ever grows.
//
// [MemStore] keeps blocks in memory; [FileStore] keeps them in an
// append-only log that survives crashes. A Store must be safe for
// concurrent use.
type Store interface {
	// Append stores blocks in order and returns the location of each.
	// When it returns nil every block is durable: it will be replayed
	// after a crash. Blocks must not be modified afterwards.
	Append(blocks []*Block) ([]uint64, error)
	// Read returns the block at a location Append returned. The caller
	// must not modify it.
	Read(loc uint64) (*Block, error)
	// Replay calls fn with every stored block and its location, in the
	// order they were appended, and stops at fn's first error.
	Replay(fn func(loc uint64, b *Block) error) error
	// Close releases the store.
	Close() error
}

// ErrNotStored is returned (wrapped) by a [Store] for a location it does not
// hold.
var ErrNotStored = errors.New("blockchain: block not in the store")

// MemStore is a [Store] in memory: nothing survives the process. It is what
// a [Chain] uses when ChainOptions.Store is nil. The zero value is ready to
// use.
type MemStore struct {
	mu     sync.RWMutex
	blocks []*Block
}

// Append keeps the blocks; locations are their positions.
func (s *MemStore) Append(blocks []*Block) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	locs := make([]uint64, len(blocks))
	for i, b := range blocks {
		locs[i] = uint64(len(s.blocks))
		s.blocks = append(s.blocks, b)
	}
	return locs, nil
}

// Read returns the block appended at loc.
func (s *MemStore) Read(loc uint64) (*Block, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if loc >= uint64(len(s.blocks)) {
		return nil, fmt.Errorf("location %d: %w", loc, ErrNotStored)
	}
	return s.blocks[loc], nil
}

// Replay calls fn with every block in the order appended.
func (s *MemStore) Replay(fn func(loc uint64, b *Block) error) error {
	s.mu.RLock()
	blocks := s.blocks[:len(s.blocks):len(s.blocks)]
	s.mu.RUnlock()
	for i, b := range blocks {
		if err := fn(uint64(i), b); err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of blocks stored.
func (s *MemStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.blocks)
}

// Close does nothing; a MemStore stays readable.
func (s *MemStore) Close() error { return nil }

// FileStore is a [Store] in files: an append-only log of blocks in one
// directory, which survives crashes and power loss. Open it with
// [OpenFileStore]. It is safe for concurrent use: reads go on while a
// batch is appended, and see it once Append has returned.
//
// # Directory
//
// The directory holds the log in segment files, blocks-000001.log,
// blocks-000002.log and so on (the number in decimal, at least six digits,
// from 1 without gaps), the LOCK file (see [ErrStoreLocked]), and, after
// damage was found, copies named like blocks-000003.log.corrupt-1. Other
// files are left alone. Blocks are appended to the last segment; a new
// segment starts when a record would take the last one past
// FileStoreOptions.SegmentSize (a record larger than that gets a segment
// of its own).
//
// # Segment layout
//
// Every segment file starts with a 24-byte header; integers are
// big-endian, like the rest of the package's encodings:
//
//	offset size field
//	     0    8 magic "NAKABLKS"
//	     8    4 format version, 1
//	    12    4 segment number, as in the file name
//	    16    8 length in bytes of the previous segment file when this one
//	          was started (0 in segment 1): a lost tail of a segment that
//	          is not the last is found, not silently skipped
//
// Records follow back to back, from offset 24 to the end of the file:
//
//	offset size field
//	     0    4 L, the payload length: a length a block's encoding can have,
//	          from 97 ([HeaderSize] + a one-byte count) to 2 MiB ([MaxBlockSizeLimit])
//	     4    4 CRC-32C (Castagnoli) of bytes 0..3 and of the payload
//	     8    L payload: the block's canonical encoding ([Block.MarshalBinary])
//
// A record is valid when its length is possible, its checksum matches, it
// lies wholly inside the file, and its payload decodes as a block. A zero
// length is never possible, so zeroed bytes (a zeroed sector, the hole a
// file system may leave after a crash) never read as a record; the tests
// check that a record whose length survived but whose checksum and payload
// were zeroed fails too, for every possible length.
//
// # Locations
//
// A location is the segment number in bits 63..40 and the record's byte
// offset in its segment file in bits 39..0: segment << 40 | offset. Offsets
// are at least 24, so no location is 0.
//
// # Durability
//
// Append writes a batch with one write per segment it touches, then syncs
// (fsync) each of those segment files, and syncs the directory when it
// created a segment; it returns only after all of that. A batch shares its
// syncs. After a failed write or sync the store refuses further appends
// (the file's state is unknown: a failed fsync may have dropped data):
// close it and open it again, which checks the log.
//
// # Opening
//
// [OpenFileStore] reads every record of every segment once, and repairs
// what a crash or damage left:
//
//   - Clean: every segment is a header and whole valid records. Nothing
//     changes, nothing is logged.
//   - Torn tail: the last segment ends in bytes that are not a valid record
//     (a short record, a bad checksum, zeros, garbage), and no valid record
//     starts anywhere after them. This is what an Append interrupted by a
//     crash leaves, and its blocks were never reported stored. The segment
//     is truncated after its last valid record (removed if even its header
//     is bad), synced, and the cut is logged at Warn level. A damaged last
//     record looks the same and is dropped the same way; a tail lost
//     exactly between two records cannot be told from a store that never
//     had it.
//   - Damage: a bad record or header with a valid record after it in the
//     last segment, a bad record or header in any earlier segment (a
//     header that disagrees with the previous segment's length included),
//     or a missing segment number. Only a crash that wrote the pages of an
//     unfinished Append out of order can cause this; otherwise it is
//     damage to the disk or the files. The store keeps the blocks before
//     the first bad byte and drops the rest, so that what it holds is
//     always a prefix of what was appended: a block's parent is appended
//     before it, so no kept block loses its parent. The damaged segment is
//     copied to NAME.corrupt-N and truncated before the bad record
//     (renamed to NAME.corrupt-N if its header is bad), the segments after
//     it are renamed to NAME.corrupt-N, everything is synced, and the
//     damage is logged at Error level. N is one more than the largest N
//     already used in the directory. A [Chain] opened on the store stops
//     at the last block kept, and a node fetches the rest from its peers
//     again.
//   - A segment with the magic but another format version: OpenFileStore
//     fails with [ErrStoreVersion] and changes nothing.
//
// No file content makes the store panic.
type FileStore struct {
	fs   fileSystem
	dir  string
	size int64 // FileStoreOptions.SegmentSize
	log  *slog.Logger
	lock io.Closer

	appendMu sync.Mutex // serializes Append and Close; held across writes and syncs
	failed   error      // a failed write or sync: no more appends (appendMu)

	mu     sync.RWMutex // guards what readers see: segs, count, closed
	segs   []*segment   // consecutive numbers, oldest first; the last takes appends
	count  int          // records stored
	closed bool
}

// segment is one segment file. size is the length of the valid records
// (header included): readers look no further, and Append writes from
// there and publishes a larger size once the new records are synced.
type segment struct {
	num  uint32
	f    storeFile
	size int64
}

// FileStoreOptions are a [FileStore]'s settings. The zero value is ready
// to use.
type FileStoreOptions struct {
	// SegmentSize is the size in bytes past which a segment takes no more
	// records and a new one starts; 0 means [DefaultSegmentSize]. It may
	// be at most 2^39.
	SegmentSize int64
	// Logger receives what opening the store repaired: a torn tail cut off
	// (Warn), damage found and set aside (Error). nil means no logs.
	Logger *slog.Logger
}

// DefaultSegmentSize is the default FileStoreOptions.SegmentSize: 64 MiB.
const DefaultSegmentSize = 64 << 20

// ErrStoreLocked is returned (wrapped) by [OpenFileStore] when another
// FileStore, in this process or another, has the directory open.
var ErrStoreLocked = errors.New("blockchain: block store directory is in use")

// ErrStoreCorrupt is returned (wrapped) by [FileStore.Read] and
// [FileStore.Replay] for a record that fails its checks: one damaged since
// the store was opened, or, for Read, a location that is not the start of
// a record.
var ErrStoreCorrupt = errors.New("blockchain: block store record is corrupt")

// ErrStoreVersion is returned (wrapped) by [OpenFileStore] for a segment
// written in a format version this package does not read.
var ErrStoreVersion = errors.New("blockchain: unsupported block store format version")

const (
	segMagic         = "NAKABLKS"
	segVersion       = 1
	segHeaderSize    = 24
	recHeaderSize    = 8
	minRecordPayload = HeaderSize + 1
	maxRecordPayload = MaxBlockSizeLimit
	locOffsetBits    = 40
	maxLocOffset     = 1<<locOffsetBits - 1
	maxSegmentNum    = 1<<(64-locOffsetBits) - 1
	maxSegmentSize   = 1 << 39
	segPrefix        = "blocks-"
	segSuffix        = ".log"
	corruptInfix     = ".corrupt-"
	lockName         = "LOCK"
	scanWindow       = 1 << 20 // bytes read at a time when scanning
	readAhead        = 4 << 10 // bytes Read asks for at once, before it knows the length
)

// OpenFileStore opens the block store in dir, creating dir and an empty
// store if needed. It locks dir (a second opener, in this process or
// another, gets [ErrStoreLocked] until [FileStore.Close]), checks every
// record and repairs a torn tail or sets damage aside, as the [FileStore]
// documentation describes. Errors reading or writing files are returned
// as they are.
func OpenFileStore(dir string, opts FileStoreOptions) (*FileStore, error) {
	return openFileStore(osFS{}, dir, opts)
}

func openFileStore(fsys fileSystem, dir string, opts FileStoreOptions) (*FileStore, error) {
	if opts.SegmentSize < 0 || opts.SegmentSize > maxSegmentSize {
		return nil, fmt.Errorf("blockchain: file store segment size %d out of range [0, %d]", opts.SegmentSize, int64(maxSegmentSize))
	}
	s := &FileStore{fs: fsys, dir: dir, size: opts.SegmentSize, log: opts.Logger}
	if s.size == 0 {
		s.size = DefaultSegmentSize
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if _, err := fsys.ReadDir(dir); errors.Is(err, fs.ErrNotExist) {
		if err = fsys.MkdirAll(dir); err == nil {
			err = fsys.SyncDir(filepath.Dir(filepath.Clean(dir)))
		}
		if err != nil {
			return nil, fmt.Errorf("blockchain: opening file store %s: %w", dir, err)
		}
	}
	var err error
	s.lock, err = fsys.Lock(filepath.Join(dir, lockName))
	if err != nil {
		if errors.Is(err, osfs.ErrLocked) {
			return nil, fmt.Errorf("blockchain: opening file store %s: %w (%v)", dir, ErrStoreLocked, err)
		}
		return nil, fmt.Errorf("blockchain: opening file store %s: locking: %w", dir, err)
	}
	names, err := fsys.ReadDir(dir)
	if err == nil {
		err = s.load(names)
	}
	if err != nil {
		for _, seg := range s.segs {
			seg.f.Close()
		}
		s.lock.Close()
		return nil, fmt.Errorf("blockchain: opening file store %s: %w", dir, err)
	}
	return s, nil
}

// load scans the segments, repairs what needs it, and leaves s.segs with
// at least one segment.
func (s *FileStore) load(names []string) error {
	var nums []uint32
	corruptN := 0
	for _, name := range names {
		if num, ok := parseSegName(name); ok {
			nums = append(nums, num)
		}
		if _, n, ok := strings.Cut(name, corruptInfix); ok {
			if k, err := strconv.Atoi(n); err == nil && k > corruptN {
				corruptN = k
			}
		}
	}
	slices.Sort(nums)
	var w window
	for i, num := range nums {
		want := uint32(1)
		if i > 0 {
			want = nums[i-1] + 1
		}
		if num != want {
			if err := s.setAside(nums[i:], nil, 0, corruptN+1, segName(want)+" is missing"); err != nil {
				return err
			}
			break
		}
		f, err := s.fs.OpenFile(s.segPath(num), false)
		if err != nil {
			return err
		}
		size, err := f.Size()
		if err == nil {
			w.reset(f, size)
		}
		var (
			end   int64
			count int
			why   string
		)
		if err == nil {
			var prevLen int64 // what the previous segment's length must be
			if i > 0 {
				prevLen = s.segs[len(s.segs)-1].size
			}
			end, count, why, err = scanSegment(&w, num, prevLen)
		}
		torn := false
		if err == nil && why != "" && i == len(nums)-1 {
			var found bool
			found, err = findRecord(&w, end+1)
			torn = !found
		}
		if err != nil {
			f.Close()
			return err
		}
		var seg *segment
		if why == "" || end > 0 {
			seg = &segment{num: num, f: f, size: end}
			s.segs = append(s.segs, seg) // closed by the caller on error
			s.count += count
		} else {
			f.Close()
		}
		if why == "" {
			continue
		}
		if torn {
			err = s.cutTail(seg, num, size, why)
		} else {
			err = s.setAside(nums[i:], seg, size, corruptN+1, why)
		}
		if err != nil {
			return err
		}
		break
	}
	if len(s.segs) == 0 {
		seg, err := s.createSegment(1, 0)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, seg)
		if err := s.fs.SyncDir(s.dir); err != nil {
			return err
		}
	}
	return nil
}

// cutTail truncates the last segment after its valid records (seg.size),
// or removes it if its header is bad (seg is nil). size is the file's size.
func (s *FileStore) cutTail(seg *segment, num uint32, size int64, why string) error {
	name := s.segPath(num)
	var end int64
	if seg == nil {
		if err := s.fs.Remove(name); err != nil {
			return err
		}
		if err := s.fs.SyncDir(s.dir); err != nil {
			return err
		}
	} else {
		end = seg.size
		if err := seg.f.Truncate(end); err != nil {
			return err
		}
		if err := seg.f.Sync(); err != nil {
			return err
		}
	}
	s.log.Warn("block store: cut a torn tail (an interrupted write) off the last segment",
		"dir", s.dir, "segment", filepath.Base(name), "offset", end, "bytes", size-end, "reason", why)
	return nil
}

// setAside handles damage in segment nums[0] at offset kept.size (the
// whole segment when kept is nil): the segments after it are renamed
// aside, the damaged one copied aside and truncated (or renamed aside),
// and everything synced. size is the damaged segment's full size.
func (s *FileStore) setAside(nums []uint32, kept *segment, size int64, n int, why string) error {
	suffix := corruptInfix + strconv.Itoa(n)
	var moved []string
	for k := len(nums) - 1; k >= 1; k-- {
		name := s.segPath(nums[k])
		if err := s.fs.Rename(name, name+suffix); err != nil {
			return err
		}
		moved = append(moved, filepath.Base(name)+suffix)
	}
	name := s.segPath(nums[0])
	var offset int64
	if kept == nil {
		if err := s.fs.Rename(name, name+suffix); err != nil {
			return err
		}
	} else {
		offset = kept.size
		if err := s.copyFile(kept.f, size, name+suffix); err != nil {
			return err
		}
	}
	moved = append(moved, filepath.Base(name)+suffix)
	slices.Reverse(moved)
	if err := s.fs.SyncDir(s.dir); err != nil {
		return err
	}
	if kept != nil {
		if err := kept.f.Truncate(kept.size); err != nil {
			return err
		}
		if err := kept.f.Sync(); err != nil {
			return err
		}
	}
	s.log.Error("block store: damaged record found; the blocks from it on are dropped and the node must fetch them again",
		"dir", s.dir, "segment", filepath.Base(name), "offset", offset, "reason", why,
		"blocks_kept", s.count, "set_aside", moved)
	return nil
}

// copyFile copies the first size bytes of src to a new file dst and syncs
// it.
func (s *FileStore) copyFile(src storeFile, size int64, dst string) error {
	f, err := s.fs.OpenFile(dst, true)
	if err != nil {
		return err
	}
	buf := make([]byte, min(size, scanWindow))
	for off := int64(0); off < size && err == nil; {
		n := int(min(int64(len(buf)), size-off))
		if err = readFull(src, buf[:n], off); err == nil {
			err = writeFull(f, buf[:n], off)
		}
		off += int64(n)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// createSegment creates segment num with its header, synced; prevLen is
// the length of segment num-1. The caller syncs the directory.
func (s *FileStore) createSegment(num uint32, prevLen int64) (*segment, error) {
	f, err := s.fs.OpenFile(s.segPath(num), true)
	if err != nil {
		return nil, err
	}
	if err = writeFull(f, segHeader(num, prevLen), 0); err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &segment{num: num, f: f, size: segHeaderSize}, nil
}

func (s *FileStore) segPath(num uint32) string { return filepath.Join(s.dir, segName(num)) }

func segName(num uint32) string { return fmt.Sprintf("%s%06d%s", segPrefix, num, segSuffix) }

// parseSegName returns the number of a segment file name in its canonical
// form.
func parseSegName(name string) (uint32, bool) {
	digits, ok := strings.CutPrefix(name, segPrefix)
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, segSuffix); !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || n == 0 || n > maxSegmentNum || segName(uint32(n)) != name {
		return 0, false
	}
	return uint32(n), true
}

func segHeader(num uint32, prevLen int64) []byte {
	h := append(make([]byte, 0, segHeaderSize), segMagic...)
	h = binary.BigEndian.AppendUint32(h, segVersion)
	h = binary.BigEndian.AppendUint32(h, num)
	return binary.BigEndian.AppendUint64(h, uint64(prevLen))
}

func makeLoc(num uint32, off int64) uint64 { return uint64(num)<<locOffsetBits | uint64(off) }

func splitLoc(loc uint64) (uint32, int64) {
	return uint32(loc >> locOffsetBits), int64(loc & maxLocOffset)
}

func crcTable() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// plausibleLength reports whether a block's encoding can be n bytes long.
func plausibleLength(n uint32) bool {
	if n < minRecordPayload || n > maxRecordPayload {
		return false
	}
	for k := 1; k <= 3; k++ { // the count's varint length: 2 MiB holds < 2^21 transactions
		rest := int(n) - HeaderSize - k
		if rest >= 0 && rest%TxSize == 0 && uvarintLen(uint64(rest/TxSize)) == k {
			return true
		}
	}
	return false
}

// appendRecord appends b's record to dst.
func appendRecord(dst []byte, b *Block) ([]byte, error) {
	n := b.Size()
	if n > maxRecordPayload {
		return dst, fmt.Errorf("blockchain: block %s is %d bytes, more than a store record holds (%d)", b.Hash().Short(16), n, maxRecordPayload)
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, 0, 0, 0, 0)
	dst, _ = b.AppendBinary(dst)
	binary.BigEndian.PutUint32(dst[start+4:], recordCRC(dst[start:]))
	return dst, nil
}

// recordCRC returns the checksum of a record: its length and payload.
func recordCRC(rec []byte) uint32 {
	t := crcTable()
	return crc32.Update(crc32.Checksum(rec[:4], t), t, rec[recHeaderSize:])
}

// checkRecordHeader checks the length in a record's 8-byte header, with
// avail bytes left in the file from the record's start. It returns the
// payload length, or why the record is invalid.
func checkRecordHeader(hdr []byte, avail int64) (int, string) {
	n := binary.BigEndian.Uint32(hdr)
	switch {
	case !plausibleLength(n):
		return 0, fmt.Sprintf("impossible record length %d", n)
	case int64(n)+recHeaderSize > avail:
		return 0, fmt.Sprintf("record of %d bytes runs past the end", n)
	}
	return int(n), ""
}

// decodeRecord checks a whole record's checksum and decodes its block.
func decodeRecord(rec []byte) (*Block, string) {
	if binary.BigEndian.Uint32(rec[4:]) != recordCRC(rec) {
		return nil, "checksum mismatch"
	}
	b := new(Block)
	if err := b.UnmarshalBinary(rec[recHeaderSize:]); err != nil {
		return nil, "payload is not a block: " + err.Error()
	}
	return b, ""
}

// window reads a file through a buffer: sequential scans read it in large
// pieces.
type window struct {
	r     io.ReaderAt
	size  int64
	start int64
	buf   []byte
}

func (w *window) reset(r io.ReaderAt, size int64) {
	w.r, w.size, w.start, w.buf = r, size, 0, w.buf[:0]
}

// bytes returns the n bytes at off; off+n must not pass w.size.
func (w *window) bytes(off int64, n int) ([]byte, error) {
	if off < w.start || off+int64(n) > w.start+int64(len(w.buf)) {
		m := int(min(int64(max(n, scanWindow)), w.size-off))
		if cap(w.buf) < m {
			w.buf = make([]byte, m)
		}
		w.buf = w.buf[:m]
		w.start = off
		if err := readFull(w.r, w.buf, off); err != nil {
			w.buf = w.buf[:0]
			return nil, err
		}
	}
	i := int(off - w.start)
	return w.buf[i : i+n], nil
}

// scanSegment checks the header and records of segment num, whose
// predecessor is prevLen bytes long (0 for the first). It returns the end
// of its valid prefix (0 if the header is bad) and the number of records
// in it, and why the rest is invalid ("" if nothing is).
func scanSegment(w *window, num uint32, prevLen int64) (end int64, count int, why string, err error) {
	if w.size < segHeaderSize {
		return 0, 0, fmt.Sprintf("file of %d bytes is shorter than a header", w.size), nil
	}
	h, err := w.bytes(0, segHeaderSize)
	if err != nil {
		return 0, 0, "", err
	}
	switch {
	case string(h[:len(segMagic)]) != segMagic:
		return 0, 0, "bad magic in the header", nil
	case binary.BigEndian.Uint32(h[8:]) != segVersion:
		return 0, 0, "", fmt.Errorf("%s: format version %d, this build reads %d: %w",
			segName(num), binary.BigEndian.Uint32(h[8:]), segVersion, ErrStoreVersion)
	case binary.BigEndian.Uint32(h[12:]) != num:
		return 0, 0, fmt.Sprintf("the header names segment %d", binary.BigEndian.Uint32(h[12:])), nil
	case binary.BigEndian.Uint64(h[16:]) != uint64(prevLen):
		return 0, 0, fmt.Sprintf("the header says the previous segment was %d bytes long, its valid records end at %d",
			binary.BigEndian.Uint64(h[16:]), prevLen), nil
	}
	off := int64(segHeaderSize)
	for off < w.size {
		if off > maxLocOffset {
			return off, count, "offset beyond what a location can name", nil
		}
		n, why, err := recordAt(w, off)
		if err != nil || why != "" {
			return off, count, why, err
		}
		off += recHeaderSize + int64(n)
		count++
	}
	return off, count, "", nil
}

// recordAt checks the record at off; it returns its payload length or why
// it is invalid.
func recordAt(w *window, off int64) (int, string, error) {
	avail := w.size - off
	if avail < recHeaderSize {
		return 0, fmt.Sprintf("%d bytes are too few for a record", max(avail, 0)), nil
	}
	hdr, err := w.bytes(off, recHeaderSize)
	if err != nil {
		return 0, "", err
	}
	n, why := checkRecordHeader(hdr, avail)
	if why != "" {
		return 0, why, nil
	}
	rec, err := w.bytes(off, recHeaderSize+n)
	if err != nil {
		return 0, "", err
	}
	if _, why := decodeRecord(rec); why != "" {
		return 0, why, nil
	}
	return n, "", nil
}

// findRecord reports whether a valid record starts at any offset from
// from on: whether the bad bytes before it are damage rather than a torn
// tail.
func findRecord(w *window, from int64) (bool, error) {
	for off := from; off+recHeaderSize+minRecordPayload <= w.size && off <= maxLocOffset; off++ {
		hdr, err := w.bytes(off, recHeaderSize)
		if err != nil {
			return false, err
		}
		if !plausibleLength(binary.BigEndian.Uint32(hdr)) {
			continue // the common case, without a call
		}
		_, why, err := recordAt(w, off)
		if err != nil {
			return false, err
		}
		if why == "" {
			return true, nil
		}
	}
	return false, nil
}

// Append writes the blocks' records after the last one, syncs them, and
// returns their locations; see [FileStore] for the durability it gives.
func (s *FileStore) Append(blocks []*Block) ([]uint64, error) {
	var buf []byte
	ends := make([]int, len(blocks))
	for i, b := range blocks {
		if b == nil {
			return nil, fmt.Errorf("blockchain: file store %s: block %d of the batch is nil", s.dir, i)
		}
		var err error
		if buf, err = appendRecord(buf, b); err != nil {
			return nil, err
		}
		ends[i] = len(buf)
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("blockchain: file store %s: %w", s.dir, fs.ErrClosed)
	}
	if s.failed != nil {
		return nil, fmt.Errorf("blockchain: file store %s refuses appends after an earlier failure (reopen it): %w", s.dir, s.failed)
	}
	locs, err := s.write(buf, ends)
	if err != nil {
		s.failed = err
		return nil, fmt.Errorf("blockchain: file store %s: appending %d blocks: %w", s.dir, len(blocks), err)
	}
	return locs, nil
}

// pending is what an Append writes to one segment.
type pending struct {
	seg        *segment
	isNew      bool
	start, end int   // the records in the batch buffer
	size       int64 // the segment's length after them
	prevLen    int64 // a new segment's predecessor's length
}

// write appends the encoded records buf (record i ends at ends[i]), syncs
// them and publishes them to readers. appendMu is held.
func (s *FileStore) write(buf []byte, ends []int) ([]uint64, error) {
	if len(ends) == 0 {
		return []uint64{}, nil
	}
	// Plan: which records go to which segment. Only Append changes segs,
	// so they can be read here without mu.
	cur := &pending{seg: s.segs[len(s.segs)-1]}
	cur.size = cur.seg.size
	plan := []*pending{cur}
	locs := make([]uint64, len(ends))
	start := 0
	for i, end := range ends {
		n := int64(end - start)
		if cur.size > segHeaderSize && cur.size+n > s.size {
			if cur.seg.num == maxSegmentNum {
				return nil, fmt.Errorf("no segment number after %d", cur.seg.num)
			}
			cur = &pending{seg: &segment{num: cur.seg.num + 1}, isNew: true, start: start, end: start, size: segHeaderSize, prevLen: cur.size}
			plan = append(plan, cur)
		}
		locs[i] = makeLoc(cur.seg.num, cur.size)
		cur.size += n
		cur.end = end
		start = end
	}
	var created []*segment
	fail := func(err error) ([]uint64, error) {
		for _, seg := range created {
			seg.f.Close()
		}
		return nil, err
	}
	for _, p := range plan {
		if p.start == p.end {
			continue // the current segment was full
		}
		if p.isNew {
			seg, err := s.createSegment(p.seg.num, p.prevLen)
			if err != nil {
				return fail(err)
			}
			created = append(created, seg)
			p.seg = seg
		}
		if err := writeFull(p.seg.f, buf[p.start:p.end], p.seg.size); err != nil {
			return fail(err)
		}
		if err := p.seg.f.Sync(); err != nil {
			return fail(err)
		}
		if p.isNew {
			if err := s.fs.SyncDir(s.dir); err != nil {
				return fail(err)
			}
		}
	}
	s.mu.Lock()
	for _, p := range plan {
		if p.start == p.end {
			continue
		}
		p.seg.size = p.size
		if p.isNew {
			s.segs = append(s.segs, p.seg)
		}
	}
	s.count += len(ends)
	s.mu.Unlock()
	return locs, nil
}

// Read returns the block at loc, checking its record. A location the store
// does not hold gives an error wrapping [ErrNotStored]; one inside a
// segment where no valid record starts wraps [ErrStoreCorrupt] too.
func (s *FileStore) Read(loc uint64) (*Block, error) {
	num, off := splitLoc(loc)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("blockchain: file store %s: %w", s.dir, fs.ErrClosed)
	}
	var seg *segment
	if first := s.segs[0].num; num >= first && num-first < uint32(len(s.segs)) {
		seg = s.segs[num-first]
	}
	if seg == nil || off < segHeaderSize || off+recHeaderSize+minRecordPayload > seg.size {
		return nil, fmt.Errorf("blockchain: file store %s: location %#x (segment %d, offset %d): %w", s.dir, loc, num, off, ErrNotStored)
	}
	bad := func(why string) (*Block, error) {
		return nil, fmt.Errorf("blockchain: file store %s: location %#x (segment %d, offset %d): %s: %w (%w)", s.dir, loc, num, off, why, ErrNotStored, ErrStoreCorrupt)
	}
	avail := seg.size - off
	buf := make([]byte, min(avail, readAhead))
	if err := readFull(seg.f, buf, off); err != nil {
		return nil, fmt.Errorf("blockchain: file store %s: reading location %#x: %w", s.dir, loc, err)
	}
	n, why := checkRecordHeader(buf, avail)
	if why != "" {
		return bad(why)
	}
	if have := len(buf); have < recHeaderSize+n {
		buf = append(buf, make([]byte, recHeaderSize+n-have)...)
		if err := readFull(seg.f, buf[have:], off+int64(have)); err != nil {
			return nil, fmt.Errorf("blockchain: file store %s: reading location %#x: %w", s.dir, loc, err)
		}
	}
	b, why := decodeRecord(buf[:recHeaderSize+n])
	if why != "" {
		return bad(why)
	}
	return b, nil
}

// Replay calls fn with every stored block in append order, reading the
// segments sequentially: it holds one record (and a read buffer) in
// memory at a time. Blocks appended while it runs may or may not be
// included. A record that fails its checks (damaged since the store was
// opened) stops it with an error wrapping [ErrStoreCorrupt]; fn's error
// stops it and is returned as it is.
func (s *FileStore) Replay(fn func(loc uint64, b *Block) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("blockchain: file store %s: %w", s.dir, fs.ErrClosed)
	}
	segs := make([]segment, len(s.segs))
	for i, seg := range s.segs {
		segs[i] = *seg
	}
	s.mu.RUnlock()
	var w window
	for _, seg := range segs {
		w.reset(lockedReader{s, seg.f}, seg.size)
		for off := int64(segHeaderSize); off < seg.size; {
			if seg.size-off < recHeaderSize {
				return s.corrupt(seg.num, off, "short record")
			}
			hdr, err := w.bytes(off, recHeaderSize)
			if err != nil {
				return fmt.Errorf("blockchain: file store %s: %w", s.dir, err)
			}
			n, why := checkRecordHeader(hdr, seg.size-off)
			if why != "" {
				return s.corrupt(seg.num, off, why)
			}
			rec, err := w.bytes(off, recHeaderSize+n)
			if err != nil {
				return fmt.Errorf("blockchain: file store %s: %w", s.dir, err)
			}
			b, why := decodeRecord(rec)
			if why != "" {
				return s.corrupt(seg.num, off, why)
			}
			if err := fn(makeLoc(seg.num, off), b); err != nil {
				return err
			}
			off += recHeaderSize + int64(n)
		}
	}
	return nil
}

func (s *FileStore) corrupt(num uint32, off int64, why string) error {
	return fmt.Errorf("blockchain: file store %s: %s offset %d: %s: %w", s.dir, segName(num), off, why, ErrStoreCorrupt)
}

// lockedReader reads a segment file under the store's read lock, so that
// Close cannot close it mid-read.
type lockedReader struct {
	s *FileStore
	f storeFile
}

func (r lockedReader) ReadAt(p []byte, off int64) (int, error) {
	r.s.mu.RLock()
	defer r.s.mu.RUnlock()
	if r.s.closed {
		return 0, fs.ErrClosed
	}
	return r.f.ReadAt(p, off)
}

// Len returns the number of blocks stored.
func (s *FileStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.count
}

// Close closes the segment files and releases the directory's lock. It
// waits for an Append in progress. Other methods fail after Close; a
// second Close does nothing.
func (s *FileStore) Close() error {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	for _, seg := range s.segs {
		if cerr := seg.f.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := s.lock.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("blockchain: closing file store %s: %w", s.dir, err)
	}
	return nil
}

func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func writeFull(f storeFile, p []byte, off int64) error {
	n, err := f.WriteAt(p, off)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return err
}

// fileSystem is what the file store needs from a file system: the
// operating system's ([osFS]), or in tests one that simulates power loss.
// Names are paths.
type fileSystem interface {
	// MkdirAll creates a directory and its missing parents.
	MkdirAll(dir string) error
	// ReadDir lists the names in a directory; an error wrapping
	// fs.ErrNotExist if it does not exist.
	ReadDir(dir string) ([]string, error)
	// OpenFile opens a file for reading and writing; with create it
	// creates it, and fails if it exists.
	OpenFile(name string, create bool) (storeFile, error)
	// Rename renames a file, replacing any file of the new name.
	Rename(oldname, newname string) error
	// Remove removes a file.
	Remove(name string) error
	// SyncDir makes the directory's entries durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock named by a file; an error wrapping
	// osfs.ErrLocked if someone holds it.
	Lock(name string) (io.Closer, error)
}

// storeFile is an open file of a [fileSystem].
type storeFile interface {
	io.ReaderAt
	io.WriterAt
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Sync makes the file's contents durable.
	Sync() error
	// Size returns the file's size.
	Size() (int64, error)
	Close() error
}

// osFS is the operating system's file system.
type osFS struct{}

func (osFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

func (osFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, err
}

func (osFS) OpenFile(name string, create bool) (storeFile, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(name, flag, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) SyncDir(dir string) error             { return osfs.SyncDir(dir) }
func (osFS) Lock(name string) (io.Closer, error)  { return osfs.Lock(name) }

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
