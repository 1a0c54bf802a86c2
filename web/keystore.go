package web

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nakachain/blockchain"
)

// The node's wallet directory holds, for each wallet NAME, NAME.key (the
// seed encrypted under the wallet's passphrase, in the library's key file
// format, mode 0600) and NAME.addr (its address, public, so that a locked
// wallet can be listed and paid).

// walletNameRE is what a wallet name may be: it names files.
var walletNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)

// CheckWalletName reports whether name can name a wallet of the node: 1 to
// 32 letters, digits, '-' or '_', starting with a letter or digit (it names
// the files NAME.key and NAME.addr in the wallet directory). Programs that
// create wallets offline use it to make wallets the server will list.
func CheckWalletName(name string) error {
	if !walletNameRE.MatchString(name) {
		return fmt.Errorf("wallet name %q: %w", name, errBadWalletName)
	}
	return nil
}

// Errors of the keystore (wrapped).
var (
	errBadWalletName = errors.New("a wallet name is 1 to 32 letters, digits, '-' or '_', starting with a letter or digit")
	errNoWallet      = errors.New("no such wallet")
	errWalletExists  = errors.New("a wallet of that name exists")
	errLocked        = errors.New("the wallet is locked: unlock it with its passphrase")
	errEmptyPass     = errors.New("a passphrase is needed")
)

// keystore is the node's wallets: key files on disk, and the ones
// unlocked in memory until their time runs out.
type keystore struct {
	dir    string
	kdf    blockchain.KDFParams
	kdfSem chan struct{} // one key derivation at a time: each may take 64 MiB

	mu      sync.Mutex
	wallets map[string]*walletEntry
}

type walletEntry struct {
	name     string
	addr     blockchain.Address
	known    bool               // addr is known (NAME.addr was readable)
	unlocked *blockchain.Wallet // nil while locked
	until    time.Time
	timer    *time.Timer
}

func openKeystore(dir string, kdf blockchain.KDFParams) (*keystore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("web: wallet dir: %w", err)
	}
	ks := &keystore{dir: dir, kdf: kdf, kdfSem: make(chan struct{}, 1), wallets: make(map[string]*walletEntry)}
	if err := ks.rescan(); err != nil {
		return nil, fmt.Errorf("web: wallet dir: %w", err)
	}
	return ks, nil
}

// rescan adds the wallets whose key files appeared in the directory since
// it was last read, as when `nakachain wallet new` makes one while the node
// runs. ks.mu is held (or ks is not shared yet).
func (ks *keystore) rescan() error {
	entries, err := os.ReadDir(ks.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".key")
		if !ok || !walletNameRE.MatchString(name) || !e.Type().IsRegular() || ks.wallets[name] != nil {
			continue
		}
		w := &walletEntry{name: name}
		if data, err := os.ReadFile(filepath.Join(ks.dir, name+".addr")); err == nil {
			if a, err := blockchain.ParseAddress(strings.TrimSpace(string(data))); err == nil {
				w.addr, w.known = a, true
			}
		}
		ks.wallets[name] = w
	}
	return nil
}

// find returns name's entry, reading the directory again if it is not
// known yet. ks.mu is held.
func (ks *keystore) find(name string) (*walletEntry, bool) {
	if e, ok := ks.wallets[name]; ok {
		return e, true
	}
	if !walletNameRE.MatchString(name) {
		return nil, false
	}
	_ = ks.rescan()
	e, ok := ks.wallets[name]
	return e, ok
}

func (ks *keystore) keyPath(name string) string { return filepath.Join(ks.dir, name+".key") }

// save writes a wallet's key file and address file.
func (ks *keystore) save(name string, w *blockchain.Wallet, passphrase []byte) error {
	if err := w.SaveKeyFile(ks.keyPath(name), passphrase, ks.kdf); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(ks.dir, name+".addr"), []byte(w.Address().String()+"\n"))
}

// create makes a new wallet, or stores w if not nil, under name, and
// leaves it unlocked for d.
func (ks *keystore) create(ctx context.Context, name string, w *blockchain.Wallet, passphrase []byte, d time.Duration) (*walletEntry, error) {
	if !walletNameRE.MatchString(name) {
		return nil, errBadWalletName
	}
	if len(passphrase) == 0 {
		return nil, errEmptyPass
	}
	if w == nil {
		var err error
		if w, err = blockchain.NewWallet(nil); err != nil {
			return nil, err
		}
	}
	ks.mu.Lock()
	if _, ok := ks.wallets[name]; ok {
		ks.mu.Unlock()
		return nil, errWalletExists
	}
	entry := &walletEntry{name: name, addr: w.Address(), known: true}
	ks.wallets[name] = entry // reserves the name while the file is written
	ks.mu.Unlock()
	err := ks.withKDF(ctx, func() error { return ks.save(name, w, passphrase) })
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if err != nil {
		delete(ks.wallets, name)
		return nil, fmt.Errorf("web: save wallet %s: %w", name, err)
	}
	ks.unlockLocked(entry, w, d)
	snapshot := *entry
	return &snapshot, nil
}

// withKDF runs fn, which derives a key, when no other derivation runs.
func (ks *keystore) withKDF(ctx context.Context, fn func() error) error {
	select {
	case ks.kdfSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-ks.kdfSem }()
	return fn()
}

// unlock decrypts name's key file with passphrase and keeps the wallet for
// d.
func (ks *keystore) unlock(ctx context.Context, name string, passphrase []byte, d time.Duration) (walletEntry, error) {
	ks.mu.Lock()
	_, ok := ks.find(name)
	ks.mu.Unlock()
	if !ok {
		return walletEntry{}, errNoWallet
	}
	var w *blockchain.Wallet
	err := ks.withKDF(ctx, func() error {
		var err error
		w, err = blockchain.LoadKeyFile(ks.keyPath(name), passphrase)
		return err
	})
	if err != nil {
		return walletEntry{}, err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	entry, ok := ks.wallets[name]
	if !ok {
		return walletEntry{}, errNoWallet
	}
	if !entry.known || entry.addr != w.Address() {
		entry.addr, entry.known = w.Address(), true
		_ = writeFileAtomic(filepath.Join(ks.dir, name+".addr"), []byte(w.Address().String()+"\n"))
	}
	ks.unlockLocked(entry, w, d)
	return *entry, nil
}

// unlockLocked keeps w unlocked in entry for d. ks.mu is held.
func (ks *keystore) unlockLocked(entry *walletEntry, w *blockchain.Wallet, d time.Duration) {
	if entry.timer != nil {
		entry.timer.Stop()
	}
	entry.unlocked = w
	entry.until = time.Now().Add(d)
	until := entry.until
	entry.timer = time.AfterFunc(d, func() {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		if entry.until.Equal(until) {
			entry.unlocked, entry.timer = nil, nil
		}
	})
}

// lock forgets name's decrypted key.
func (ks *keystore) lock(name string) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	entry, ok := ks.wallets[name]
	if !ok {
		return errNoWallet
	}
	lockEntry(entry)
	return nil
}

func lockEntry(e *walletEntry) {
	if e.timer != nil {
		e.timer.Stop()
	}
	e.unlocked, e.timer, e.until = nil, nil, time.Time{}
}

// lockAll locks every wallet.
func (ks *keystore) lockAll() {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, e := range ks.wallets {
		lockEntry(e)
	}
}

// wallet returns name's unlocked wallet.
func (ks *keystore) wallet(name string) (*blockchain.Wallet, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	e, ok := ks.wallets[name]
	if !ok {
		return nil, errNoWallet
	}
	if e.unlocked == nil || !time.Now().Before(e.until) {
		return nil, errLocked
	}
	return e.unlocked, nil
}

// list returns copies of the entries, sorted by name.
func (ks *keystore) list() []walletEntry {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	_ = ks.rescan()
	out := make([]walletEntry, 0, len(ks.wallets))
	for _, name := range sortedKeys(ks.wallets) {
		out = append(out, *ks.wallets[name])
	}
	return out
}

func (ks *keystore) get(name string) (walletEntry, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	e, ok := ks.find(name)
	if !ok {
		return walletEntry{}, false
	}
	return *e, true
}

// nameOf returns the name of the wallet paid at a, if any.
func (ks *keystore) nameOf(a blockchain.Address) string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, name := range sortedKeys(ks.wallets) {
		if e := ks.wallets[name]; e.known && e.addr == a {
			return name
		}
	}
	return ""
}

// addressOf returns the address of the wallet called name.
func (ks *keystore) addressOf(name string) (blockchain.Address, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	e, ok := ks.find(name)
	if !ok || !e.known {
		return blockchain.Address{}, false
	}
	return e.addr, true
}
