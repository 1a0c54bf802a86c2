package blockchain

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nakachain/blockchain/internal/bech32"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// PublicKey is an Ed25519 public key: who sends a transaction. Its text form
// is 64 hex digits. The all-zero key marks a coinbase transaction, which has
// no sender.
type PublicKey [ed25519.PublicKeySize]byte

// String returns the key as 64 lowercase hex digits.
func (k PublicKey) String() string { return hex.EncodeToString(k[:]) }

// IsZero reports whether k is the all-zero key of a coinbase.
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// Address returns the address that k's owner is paid at.
func (k PublicKey) Address() Address {
	h := sum256([]byte(addressDomain), k[:])
	var a Address
	copy(a[:], h[:AddressSize])
	return a
}

// ErrInvalidPublicKey is returned (wrapped) for malformed public-key text.
var ErrInvalidPublicKey = errors.New("blockchain: invalid public key")

// MarshalText implements [encoding.TextMarshaler].
func (k PublicKey) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, k[:]), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]; k is unchanged on error.
func (k *PublicKey) UnmarshalText(text []byte) error {
	return decodeHexFixed(k[:], text, ErrInvalidPublicKey)
}

// Signature is an Ed25519 signature; its text form is 128 hex digits.
type Signature [ed25519.SignatureSize]byte

// ErrInvalidSignatureText is returned (wrapped) for malformed signature text.
var ErrInvalidSignatureText = errors.New("blockchain: invalid signature text")

// String returns the signature as 128 lowercase hex digits.
func (s Signature) String() string { return hex.EncodeToString(s[:]) }

// MarshalText implements [encoding.TextMarshaler].
func (s Signature) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, s[:]), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]; s is unchanged on error.
func (s *Signature) UnmarshalText(text []byte) error {
	return decodeHexFixed(s[:], text, ErrInvalidSignatureText)
}

// AddressSize is the length of an [Address] in bytes.
const AddressSize = 20

// AddressPrefix begins the text form of every address.
const AddressPrefix = "nk"

// Address is where coins are paid: the first 20 bytes of a domain-separated
// SHA-256 of an Ed25519 public key. Only the key's owner can spend from it,
// and the key itself is revealed only when they first do.
//
// Its text form is Bech32m (BIP 350) with the human-readable part "nk", like
// "nk1…" followed by 38 characters. The 6-character checksum detects any
// error in up to four characters, so a mistyped address fails to parse
// instead of sending coins nowhere.
type Address [AddressSize]byte

// ErrInvalidAddress is returned (wrapped) by [ParseAddress] for text that is
// not a valid address, including any single mistyped character.
var ErrInvalidAddress = errors.New("blockchain: invalid address")

// ParseAddress parses the "nk1…" text form of an address.
func ParseAddress(s string) (Address, error) {
	hrp, data5, err := bech32.Decode(s)
	if err != nil {
		return Address{}, fmt.Errorf("%w %q: %w", ErrInvalidAddress, s, err)
	}
	if hrp != AddressPrefix {
		return Address{}, fmt.Errorf("%w %q: prefix %q, want %q", ErrInvalidAddress, s, hrp, AddressPrefix)
	}
	raw, err := bech32.ConvertBits(data5, 5, 8, false)
	if err != nil {
		return Address{}, fmt.Errorf("%w %q: %w", ErrInvalidAddress, s, err)
	}
	if len(raw) != AddressSize {
		return Address{}, fmt.Errorf("%w %q: %d bytes, want %d", ErrInvalidAddress, s, len(raw), AddressSize)
	}
	return Address(raw), nil
}

// String returns the "nk1…" text form.
func (a Address) String() string {
	data5, err := bech32.ConvertBits(a[:], 8, 5, true)
	if err == nil {
		var s string
		if s, err = bech32.Encode(AddressPrefix, data5); err == nil {
			return s
		}
	}
	// Unreachable: 20 bytes always encode.
	return "nk?" + hex.EncodeToString(a[:])
}

// MarshalText implements [encoding.TextMarshaler].
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]; a is unchanged on error.
func (a *Address) UnmarshalText(text []byte) error {
	parsed, err := ParseAddress(string(text))
	if err != nil {
		return err
	}
	*a = parsed
	return nil
}

// Wallet holds one Ed25519 key pair: it signs transactions from its
// [PublicKey] and is paid at its [Address]. A Wallet is safe for concurrent
// use; it never changes after creation.
type Wallet struct {
	priv ed25519.PrivateKey
	pub  PublicKey
}

// SeedSize is the length of the secret seed a [Wallet] is derived from.
const SeedSize = ed25519.SeedSize

// NewWallet creates a wallet with a fresh key read from random, or from
// crypto/rand if random is nil. Pass a seeded reader only in tests.
func NewWallet(random io.Reader) (*Wallet, error) {
	if random == nil {
		random = rand.Reader
	}
	var seed [SeedSize]byte
	if _, err := io.ReadFull(random, seed[:]); err != nil {
		return nil, fmt.Errorf("blockchain: new wallet: %w", err)
	}
	return WalletFromSeed(seed), nil
}

// WalletFromSeed derives a wallet from a 32-byte secret seed. The same seed
// gives the same keys, which makes examples and tests reproducible; a seed
// known to anyone else gives them the wallet's coins.
func WalletFromSeed(seed [SeedSize]byte) *Wallet {
	priv := ed25519.NewKeyFromSeed(seed[:])
	w := &Wallet{priv: priv}
	copy(w.pub[:], priv.Public().(ed25519.PublicKey))
	return w
}

// PublicKey returns the wallet's public key.
func (w *Wallet) PublicKey() PublicKey { return w.pub }

// Address returns the address the wallet is paid at.
func (w *Wallet) Address() Address { return w.pub.Address() }

// Seed returns the wallet's secret seed. Keep it secret.
func (w *Wallet) Seed() [SeedSize]byte { return [SeedSize]byte(w.priv.Seed()) }

// SignTransfer returns a signed transaction paying amount from the wallet
// to to, with fee for the miner, for the chain chainID (the genesis hash).
// nonce must be the wallet's next nonce on that chain (0 for its first
// transaction; [Mempool.NextNonce] or [Node.NextNonce] tell it). It only
// signs: nothing is sent until the transaction is submitted to a node or a
// mempool. [Node.Send] does all three steps.
func (w *Wallet) SignTransfer(chainID Hash, to Address, amount, fee, nonce uint64) Transaction {
	tx := Transaction{From: w.pub, To: to, Amount: amount, Fee: fee, Nonce: nonce}
	w.Sign(&tx, chainID)
	return tx
}

// Sign sets tx.From to the wallet's key and tx.Signature to its signature
// over tx's signing message for chainID (see [Transaction.SigningMessage]).
func (w *Wallet) Sign(tx *Transaction, chainID Hash) {
	tx.From = w.pub
	sig := ed25519.Sign(w.priv, tx.SigningMessage(chainID))
	tx.Signature = Signature(sig)
}

// Key files.
//
// A key file stores a wallet's seed encrypted under a passphrase:
//
//	offset size field
//	     0    8 magic "NKWALLET"
//	     8    1 format version (1)
//	     9    4 argon2id time cost (passes), big-endian
//	    13    4 argon2id memory cost in KiB, big-endian
//	    17    1 argon2id parallelism (threads)
//	    18   16 salt
//	    34   24 XChaCha20-Poly1305 nonce
//	    58   48 ciphertext: the 32-byte seed and the 16-byte tag
//
// The key is argon2id(passphrase, salt, cost) and bytes 0..57 are the AEAD's
// additional data, so changing any byte of the file, or the passphrase,
// makes decryption fail rather than yield a different key.
const (
	keyFileMagic   = "NKWALLET"
	keyFileVersion = 1
	keyFileHdrLen  = 58
	keyFileLen     = keyFileHdrLen + SeedSize + chacha20poly1305.Overhead
	maxKDFMemKiB   = 1 << 20 // 1 GiB: refuse to let a file make us allocate more
	maxKDFTime     = 64
)

// ErrDecrypt is returned (wrapped) when a key file does not decrypt: the
// passphrase is wrong or the file was changed. The two cannot be told apart.
var ErrDecrypt = errors.New("blockchain: wrong passphrase or corrupted key file")

// ErrKeyFileFormat is returned (wrapped) when data is not a key file at all.
var ErrKeyFileFormat = errors.New("blockchain: not a nakachain key file")

// KDFParams sets the cost of argon2id when a key file is written. The zero
// value means the defaults: 3 passes over 64 MiB with 4 threads (RFC 9106's
// second recommended option), about a tenth of a second on a laptop.
// Lower costs make tests fast and passphrases easier to guess.
type KDFParams struct {
	Time      uint32 // passes; 0 means 3
	MemoryKiB uint32 // memory in KiB; 0 means 65536
	Threads   uint8  // parallelism; 0 means 4
}

func (p KDFParams) withDefaults() KDFParams {
	if p.Time == 0 {
		p.Time = 3
	}
	if p.MemoryKiB == 0 {
		p.MemoryKiB = 64 << 10
	}
	if p.Threads == 0 {
		p.Threads = 4
	}
	return p
}

// EncryptKey returns the wallet's seed encrypted under passphrase in the key
// file format. random supplies the salt and nonce (nil means crypto/rand).
func (w *Wallet) EncryptKey(passphrase []byte, p KDFParams, random io.Reader) ([]byte, error) {
	if random == nil {
		random = rand.Reader
	}
	p = p.withDefaults()
	if !p.valid() {
		return nil, fmt.Errorf("blockchain: encrypt key: KDF cost out of range: %+v", p)
	}
	out := make([]byte, keyFileHdrLen, keyFileLen)
	copy(out, keyFileMagic)
	out[8] = keyFileVersion
	binary.BigEndian.PutUint32(out[9:], p.Time)
	binary.BigEndian.PutUint32(out[13:], p.MemoryKiB)
	out[17] = p.Threads
	if _, err := io.ReadFull(random, out[18:keyFileHdrLen]); err != nil {
		return nil, fmt.Errorf("blockchain: encrypt key: %w", err)
	}
	aead, err := keyFileAEAD(passphrase, out[18:34], p)
	if err != nil {
		return nil, err
	}
	seed := w.priv.Seed()
	return aead.Seal(out, out[34:keyFileHdrLen], seed, out[:keyFileHdrLen]), nil
}

// DecryptKey opens a key file made by [Wallet.EncryptKey].
func DecryptKey(data, passphrase []byte) (*Wallet, error) {
	p, err := parseKeyFile(data)
	if err != nil {
		return nil, err
	}
	aead, err := keyFileAEAD(passphrase, data[18:34], p)
	if err != nil {
		return nil, err
	}
	seed, err := aead.Open(nil, data[34:keyFileHdrLen], data[keyFileHdrLen:], data[:keyFileHdrLen])
	if err != nil {
		return nil, ErrDecrypt
	}
	return WalletFromSeed([SeedSize]byte(seed)), nil
}

// parseKeyFile checks a key file's layout and returns its KDF cost. A cost
// outside what EncryptKey writes is refused before any KDF runs, so a
// crafted file cannot make the reader allocate gigabytes.
func parseKeyFile(data []byte) (KDFParams, error) {
	if len(data) != keyFileLen || !bytes.HasPrefix(data, []byte(keyFileMagic)) {
		return KDFParams{}, fmt.Errorf("%w: wrong length or magic", ErrKeyFileFormat)
	}
	if data[8] != keyFileVersion {
		return KDFParams{}, fmt.Errorf("%w: version %d", ErrKeyFileFormat, data[8])
	}
	p := KDFParams{
		Time:      binary.BigEndian.Uint32(data[9:]),
		MemoryKiB: binary.BigEndian.Uint32(data[13:]),
		Threads:   data[17],
	}
	if !p.valid() {
		// A changed cost field: fail without running an absurd KDF.
		return KDFParams{}, fmt.Errorf("%w: KDF cost out of range", ErrDecrypt)
	}
	return p, nil
}

// valid reports whether p is a cost EncryptKey accepts.
func (p KDFParams) valid() bool {
	return p.Time >= 1 && p.Time <= maxKDFTime && p.Threads >= 1 &&
		p.MemoryKiB >= 8*uint32(p.Threads) && p.MemoryKiB <= maxKDFMemKiB
}

func keyFileAEAD(passphrase, salt []byte, p KDFParams) (cipher.AEAD, error) {
	key := argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("blockchain: key file cipher: %w", err)
	}
	return aead, nil
}

// SaveKeyFile writes the wallet's encrypted key to path with mode 0600. It
// writes a temporary file in the same directory and renames it, so path
// holds either the old file or the complete new one, never a torn write.
func (w *Wallet) SaveKeyFile(path string, passphrase []byte, p KDFParams) error {
	data, err := w.EncryptKey(passphrase, p, nil)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nakachain-key-*")
	if err != nil {
		return fmt.Errorf("blockchain: save key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := writeSync(tmp, data); err != nil {
		return fmt.Errorf("blockchain: save key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("blockchain: save key file: %w", err)
	}
	return nil
}

func writeSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LoadKeyFile reads and decrypts a key file written by [Wallet.SaveKeyFile].
func LoadKeyFile(path string, passphrase []byte) (*Wallet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("blockchain: load key file: %w", err)
	}
	return DecryptKey(data, passphrase)
}
