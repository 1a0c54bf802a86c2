package blockchain

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"

	"github.com/nakachain/blockchain/internal/osfs"
)

// memFS is a [fileSystem] in memory that can simulate a power loss, in the
// manner of the strict mode of Pebble's MemFS. It remembers, for every
// file, the contents it had at its last Sync, and for every directory, the
// entries it had at its last SyncDir. crashImage returns what a power loss
// at that moment could leave on disk: everything synced, and of the rest
// nothing (strict) or a random part.
//
// A crash can also be scheduled: the crashAt-th mutating operation (write,
// truncate, sync, create, rename, remove, directory sync) is cut short (a
// write keeps a random prefix of its bytes, the others have no effect), and
// every operation after it fails with errCrashed, as if the process had
// died there.
//
// Directories themselves are durable as soon as made; only their entries
// need syncing.
type memFS struct {
	mu      sync.Mutex
	dirs    map[string]*memDir
	locks   map[string]bool
	ops     int        // mutating operations so far
	crashAt int        // the operation that crashes; 0 for none
	crashed bool       // every operation fails
	rng     *rand.Rand // picks the prefix a crashing write keeps
}

type memDir struct {
	entries map[string]*memNode
	synced  map[string]*memNode // entries at the last SyncDir
}

type memNode struct {
	data   []byte
	synced []byte // contents at the last Sync
}

var errCrashed = errors.New("memfs: the machine crashed")

func newMemFS() *memFS {
	return &memFS{dirs: make(map[string]*memDir), locks: make(map[string]bool), rng: rand.New(rand.NewPCG(1, 2))}
}

// scheduleCrash makes the n-th mutating operation from now crash (n ≥ 1),
// keeping a prefix of a crashing write chosen by a generator seeded with
// seed.
func (m *memFS) scheduleCrash(n int, seed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashAt = m.ops + n
	m.rng = rand.New(rand.NewPCG(seed, 7))
}

// opCount returns the number of mutating operations so far.
func (m *memFS) opCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// step counts a mutating operation. It reports whether this operation is
// the one that crashes (then err is errCrashed too), or errCrashed if the
// crash happened before. m.mu is held.
func (m *memFS) step() (crashNow bool, err error) {
	if m.crashed {
		return false, errCrashed
	}
	m.ops++
	if m.ops == m.crashAt {
		m.crashed = true
		return true, errCrashed
	}
	return false, nil
}

func (m *memFS) split(name string) (*memDir, string, error) {
	name = filepath.Clean(name)
	d, ok := m.dirs[filepath.Dir(name)]
	if !ok {
		return nil, "", &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return d, filepath.Base(name), nil
}

func (m *memFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return errCrashed
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, ok := m.dirs[d]; !ok {
			m.dirs[d] = &memDir{entries: make(map[string]*memNode), synced: make(map[string]*memNode)}
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

func (m *memFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return nil, errCrashed
	}
	d, ok := m.dirs[filepath.Clean(dir)]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	return slices.Sorted(maps.Keys(d.entries)), nil
}

func (m *memFS) OpenFile(name string, create bool) (storeFile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return nil, errCrashed
	}
	d, base, err := m.split(name)
	if err != nil {
		return nil, err
	}
	n, ok := d.entries[base]
	switch {
	case create && ok:
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
	case create:
		if _, err := m.step(); err != nil {
			return nil, err
		}
		n = &memNode{}
		d.entries[base] = n
	case !ok:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{fs: m, n: n}, nil
}

func (m *memFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return errCrashed
	}
	od, ob, err := m.split(oldname)
	if err != nil {
		return err
	}
	nd, nb, err := m.split(newname)
	if err != nil {
		return err
	}
	n, ok := od.entries[ob]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	if _, err := m.step(); err != nil {
		return err
	}
	delete(od.entries, ob)
	nd.entries[nb] = n
	return nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return errCrashed
	}
	d, base, err := m.split(name)
	if err != nil {
		return err
	}
	if _, ok := d.entries[base]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if _, err := m.step(); err != nil {
		return err
	}
	delete(d.entries, base)
	return nil
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirs[filepath.Clean(dir)]
	if !ok {
		return &fs.PathError{Op: "sync", Path: dir, Err: fs.ErrNotExist}
	}
	if _, err := m.step(); err != nil {
		return err
	}
	d.synced = maps.Clone(d.entries)
	return nil
}

// Lock creates the lock file like the operating system's lock does, and
// holds the lock in memory: a second Lock of the same name fails until the
// first is released. A crash image holds no locks.
func (m *memFS) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return nil, errCrashed
	}
	name = filepath.Clean(name)
	if m.locks[name] {
		return nil, fmt.Errorf("%s: %w", name, osfs.ErrLocked)
	}
	d, base, err := m.split(name)
	if err != nil {
		return nil, err
	}
	if _, ok := d.entries[base]; !ok {
		d.entries[base] = &memNode{}
	}
	m.locks[name] = true
	return memLock{m, name}, nil
}

type memLock struct {
	m    *memFS
	name string
}

func (l memLock) Close() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	delete(l.m.locks, l.name)
	return nil
}

// crashImage returns, as a new memFS, what a power loss now could leave on
// disk. Strict: exactly what was synced, file contents and directory
// entries. Otherwise, additionally, a random part of the rest: for each
// directory entry changed since the last SyncDir, the old or the new one;
// for each file, its synced contents followed by a random prefix of the
// bytes written after them, or, as often, by as many zero bytes (the file's
// size reached the disk, its data did not); a file truncated or overwritten
// since its last Sync has its old or its new contents.
func (m *memFS) crashImage(strict bool, rng *rand.Rand) *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	img := newMemFS()
	for _, path := range slices.Sorted(maps.Keys(m.dirs)) {
		d := m.dirs[path]
		nd := &memDir{entries: make(map[string]*memNode)}
		names := slices.Sorted(maps.Keys(d.entries))
		for name := range d.synced {
			if _, ok := d.entries[name]; !ok {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			n, ok := d.synced[name]
			if cur, curOK := d.entries[name]; !strict && (cur != n || curOK != ok) && rng.IntN(2) == 0 {
				n, ok = cur, curOK
			}
			if !ok {
				continue
			}
			nd.entries[name] = &memNode{data: n.survivor(strict, rng)}
		}
		for _, n := range nd.entries {
			n.synced = n.data
		}
		nd.synced = maps.Clone(nd.entries)
		img.dirs[path] = nd
	}
	return img
}

// survivor returns the contents a crash leaves of the file; see crashImage.
func (n *memNode) survivor(strict bool, rng *rand.Rand) []byte {
	out := slices.Clone(n.synced)
	if strict || bytes.Equal(n.data, n.synced) {
		return out
	}
	if !bytes.HasPrefix(n.data, n.synced) {
		if rng.IntN(2) == 0 {
			return slices.Clone(n.data)
		}
		return out
	}
	extra := n.data[len(n.synced):]
	k := rng.IntN(len(extra) + 1)
	if rng.IntN(2) == 0 {
		return append(out, extra[:k]...)
	}
	return append(out, make([]byte, k)...)
}

// file returns a copy of a file's current contents, and whether it exists.
func (m *memFS) file(name string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.split(name)
	if err != nil {
		return nil, false
	}
	n, ok := d.entries[base]
	if !ok {
		return nil, false
	}
	return slices.Clone(n.data), true
}

// setFile writes a file's contents, synced, with its directory entry
// synced, making the directory if needed.
func (m *memFS) setFile(name string, data []byte) {
	m.MkdirAll(filepath.Dir(name))
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, _ := m.split(name)
	n := &memNode{data: slices.Clone(data), synced: slices.Clone(data)}
	d.entries[base] = n
	d.synced[base] = n
}

type memFile struct {
	fs *memFS
	n  *memNode
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.crashed {
		return 0, errCrashed
	}
	if off < 0 {
		return 0, errors.New("memfs: negative offset")
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	k := copy(p, f.n.data[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	crashNow, err := f.fs.step()
	if err != nil && !crashNow {
		return 0, err
	}
	if crashNow {
		p = p[:f.fs.rng.IntN(len(p)+1)]
	}
	if end := off + int64(len(p)); end > int64(len(f.n.data)) {
		f.n.data = append(f.n.data, make([]byte, end-int64(len(f.n.data)))...)
	}
	copy(f.n.data[off:], p)
	return len(p), err
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if _, err := f.fs.step(); err != nil {
		return err
	}
	if size <= int64(len(f.n.data)) {
		f.n.data = f.n.data[:size:size]
	} else {
		f.n.data = append(f.n.data, make([]byte, size-int64(len(f.n.data)))...)
	}
	return nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if _, err := f.fs.step(); err != nil {
		return err
	}
	f.n.synced = slices.Clone(f.n.data)
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.crashed {
		return 0, errCrashed
	}
	return int64(len(f.n.data)), nil
}

func (f *memFile) Close() error { return nil }

// brokenFS wraps a file system and skips file syncs (noFileSync) or
// directory syncs (noDirSync, after the first dirSyncsKept): a store that
// forgot them. The power-loss tests run it to show that they would catch
// such a store.
type brokenFS struct {
	fileSystem
	noFileSync, noDirSync bool
	dirSyncsKept          int
	dirSyncs              *int // directory syncs so far
}

func (b *brokenFS) OpenFile(name string, create bool) (storeFile, error) {
	f, err := b.fileSystem.OpenFile(name, create)
	if err != nil || !b.noFileSync {
		return f, err
	}
	return noSyncFile{f}, nil
}

func (b *brokenFS) SyncDir(dir string) error {
	if *b.dirSyncs++; b.noDirSync && *b.dirSyncs > b.dirSyncsKept {
		return nil
	}
	return b.fileSystem.SyncDir(dir)
}

type noSyncFile struct{ storeFile }

func (noSyncFile) Sync() error { return nil }
