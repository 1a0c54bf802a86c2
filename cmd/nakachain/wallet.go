package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/internal/osfs"
	"github.com/nakachain/blockchain/web"
)

// Key files are DIR/NAME.key, their addresses DIR/NAME.addr: the layout
// of the web package's wallet directory, so that a node run with -web
// serves the wallets these commands make, and these commands read the
// wallets made in its page.
const (
	keySuffix     = ".key"
	addressSuffix = ".addr"
)

// walletDirFlags say where the key files are.
type walletDirFlags struct {
	datadir, dir string
}

func (w *walletDirFlags) register(fl *flagSet) {
	fl.StringVar(&w.datadir, "datadir", defaultDataDir, "the data directory `DIR`, whose wallets/ folder holds the key files")
	fl.StringVar(&w.dir, "dir", "", "keep the key files in `DIR` instead of DATADIR/wallets")
}

func (w *walletDirFlags) path() string {
	if w.dir != "" {
		return w.dir
	}
	return walletsDir(w.datadir)
}

// walletFlags are the flags every wallet command takes.
type walletFlags struct {
	name string
	dirs walletDirFlags
	pass passphraseFlags
}

func (w *walletFlags) register(fl *flagSet) {
	fl.StringVar(&w.name, "name", "", "the wallet's `NAME` (required): 1 to 32 letters, digits, '-' or '_'")
	w.dirs.register(fl)
	w.pass.register(fl)
}

// parse parses args and checks the flags.
func (w *walletFlags) parse(fl *flagSet, args []string) error {
	if err := fl.parse(args); err != nil {
		return err
	}
	if w.name == "" {
		return fl.usageErrorf("-name is required")
	}
	if err := checkWalletName(w.name); err != nil {
		return fl.usageErrorf("%v", err)
	}
	return w.pass.check(fl)
}

// checkWalletName accepts the names the web wallet lists (web's rule): 1
// to 32 letters, digits, dashes and underscores, starting with a letter or
// digit.
func checkWalletName(name string) error { return web.CheckWalletName(name) }

const walletNewAbout = `
Creates a wallet: a new Ed25519 key, stored in DIR/NAME.key encrypted under
a passphrase (argon2id, 64 MiB, 3 passes; XChaCha20-Poly1305) with mode
0600, and its address, in clear, in DIR/NAME.addr, so that 'wallet address'
can print it without the passphrase. These are the files of the web
wallet (node -web): the page and the client commands use the same wallets.
A running node finds a wallet made meanwhile when it is next asked for it.
It refuses to overwrite a wallet of the same name. The address is printed on standard
output.

The passphrase is read twice from the terminal without echo, or once from
-passphrase-file or -passphrase-env. Forget it and the coins are lost:
nothing can recover a key file without it.`

// runWalletNew is "nakachain wallet new".
func runWalletNew(ctx context.Context, e *env, path string, args []string) error {
	fl := newFlagSet(e, path, "-name NAME [flags]", walletNewAbout)
	var wf walletFlags
	wf.register(fl)
	if err := wf.parse(fl, args); err != nil {
		return err
	}
	name, pass, dir := wf.name, &wf.pass, wf.dirs.path()
	keyFile := filepath.Join(dir, name+keySuffix)
	if _, err := os.Lstat(keyFile); err == nil {
		return fmt.Errorf("wallet %q exists already (%s): refusing to overwrite it", name, keyFile)
	}
	passphrase, err := pass.read(e, fl, "the new wallet "+name, true)
	if err != nil {
		return err
	}
	w, err := blockchain.NewWallet(nil)
	if err != nil {
		return err
	}
	data, err := w.EncryptKey(passphrase, blockchain.KDFParams{}, nil)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the wallet directory: %w", err)
	}
	if err := createFile(keyFile, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("wallet %q exists already (%s): refusing to overwrite it", name, keyFile)
		}
		return fmt.Errorf("writing the key file: %w", err)
	}
	if err := writeAddressFile(dir, name, w.Address()); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Created wallet %s: key file %s\n", name, keyFile)
	fmt.Fprintln(e.stdout, w.Address())
	return nil
}

const walletAddressAbout = `
Prints the address of wallet NAME, read from DIR/NAME.addr, which 'wallet
new' wrote beside the key file: no passphrase is needed. With -verify, or if
the address file is missing, it decrypts the key file (asking for the
passphrase) and derives the address from the key; a missing address file is
then written again, and one that does not match the key is an error.`

// runWalletAddress is "nakachain wallet address".
func runWalletAddress(ctx context.Context, e *env, path string, args []string) error {
	fl := newFlagSet(e, path, "-name NAME [flags]", walletAddressAbout)
	var wf walletFlags
	var verify bool
	fl.BoolVar(&verify, "verify", false, "decrypt the key file and check that the address file matches the key")
	wf.register(fl)
	if err := wf.parse(fl, args); err != nil {
		return err
	}
	name, pass, dir := wf.name, &wf.pass, wf.dirs.path()
	keyFile := filepath.Join(dir, name+keySuffix)
	if _, err := os.Stat(keyFile); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no wallet %q in %s (no %s)", name, dir, filepath.Base(keyFile))
		}
		return err
	}
	addr, err := readAddressFile(dir, name)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return err
	}
	if verify || missing {
		w, err := openKeyFile(e, fl, pass, keyFile, name)
		if err != nil {
			return err
		}
		switch {
		case missing:
			if err := writeAddressFile(dir, name, w.Address()); err != nil {
				return err
			}
		case w.Address() != addr:
			return fmt.Errorf("%s says %s, but the key in %s is %s's: the address file was changed",
				filepath.Join(dir, name+addressSuffix), addr, keyFile, w.Address())
		}
		addr = w.Address()
	}
	fmt.Fprintln(e.stdout, addr)
	return nil
}

// openKeyFile reads the passphrase and decrypts keyFile.
func openKeyFile(e *env, fl *flagSet, pass *passphraseFlags, keyFile, what string) (*blockchain.Wallet, error) {
	passphrase, err := pass.read(e, fl, what, false)
	if err != nil {
		return nil, err
	}
	w, err := blockchain.LoadKeyFile(keyFile, passphrase)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", keyFile, err)
	}
	return w, nil
}

// readAddressFile reads DIR/NAME.addr.
func readAddressFile(dir, name string) (blockchain.Address, error) {
	file := filepath.Join(dir, name+addressSuffix)
	data, err := os.ReadFile(file)
	if err != nil {
		return blockchain.Address{}, err
	}
	addr, err := blockchain.ParseAddress(strings.TrimSpace(string(data)))
	if err != nil {
		return blockchain.Address{}, fmt.Errorf("%s: %w", file, err)
	}
	return addr, nil
}

// writeAddressFile writes DIR/NAME.addr, replacing it whole.
func writeAddressFile(dir, name string, addr blockchain.Address) error {
	if err := replaceFile(filepath.Join(dir, name+addressSuffix), []byte(addr.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing the address file: %w", err)
	}
	return nil
}

// createFile writes data to a new file at path with mode 0600, whole or
// not at all: it fails with an error wrapping fs.ErrExist if path exists.
func createFile(path string, data []byte) error {
	tmp, err := writeTemp(path, data, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return osfs.SyncDir(filepath.Dir(path))
}

// replaceFile writes data to path with mode perm, replacing any file
// there whole, never leaving a torn one.
func replaceFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return osfs.SyncDir(filepath.Dir(path))
}

// writeTemp writes data, synced, to a new temporary file beside path and
// returns its name.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
