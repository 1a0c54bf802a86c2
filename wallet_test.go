package blockchain

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestAddressText(t *testing.T) {
	w := testWallet(1)
	a := w.Address()
	s := a.String()
	if !strings.HasPrefix(s, AddressPrefix+"1") || len(s) != 41 {
		t.Fatalf("address text %q", s)
	}
	got, err := ParseAddress(s)
	if err != nil || got != a {
		t.Fatalf("ParseAddress(%q) = %v, %v", s, got, err)
	}
	if got, err := ParseAddress(strings.ToUpper(s)); err != nil || got != a {
		t.Fatalf("upper case: %v, %v", got, err)
	}
	// Every one-character substitution, in every position, fails.
	const alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	typos := 0
	for i := range s {
		for _, c := range alphabet + "1bio" {
			if byte(c) == s[i] {
				continue
			}
			typo := s[:i] + string(c) + s[i+1:]
			if _, err := ParseAddress(typo); !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("typo %q (position %d) parsed: err=%v", typo, i, err)
			}
			typos++
		}
	}
	// Swapping two adjacent different characters fails too.
	for i := 0; i+1 < len(s); i++ {
		if s[i] == s[i+1] {
			continue
		}
		swap := s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
		if _, err := ParseAddress(swap); err == nil {
			t.Fatalf("transposition %q parsed", swap)
		}
	}
	for _, bad := range []string{"", "nk1", s[:len(s)-1], s + "q", "bc" + s[2:]} {
		if _, err := ParseAddress(bad); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("ParseAddress(%q) err = %v", bad, err)
		}
	}
	t.Logf("%d single-character typos all rejected", typos)
}

func TestWalletDeterministic(t *testing.T) {
	a, b := testWallet(7), WalletFromSeed(testSeed(7))
	if a.PublicKey() != b.PublicKey() || a.Address() != b.Address() || a.Seed() != testSeed(7) {
		t.Fatal("same seed, different wallet")
	}
	if testWallet(8).Address() == a.Address() {
		t.Fatal("different seeds, same address")
	}
	r := rand.New(rand.NewPCG(1, 2))
	w1, err := NewWallet(readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return len(p), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	w2, err := NewWallet(nil)
	if err != nil || w1.Address() == w2.Address() {
		t.Fatalf("random wallets: %v", err)
	}
	if _, err := NewWallet(strings.NewReader("short")); err == nil {
		t.Fatal("short random source accepted")
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

var fastKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func TestKeyFile(t *testing.T) {
	w := testWallet(3)
	pass := []byte("correct horse battery staple")
	data, err := w.EncryptKey(pass, fastKDF, nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecryptKey(data, pass)
	if err != nil || back.Seed() != w.Seed() {
		t.Fatalf("decrypt: %v", err)
	}
	if _, err := DecryptKey(data, []byte("Correct horse battery staple")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	// Flipping any bit of any byte is an error, never a different key.
	for i := range data {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(data)
			bad[i] ^= bit
			got, err := DecryptKey(bad, pass)
			if err == nil {
				t.Fatalf("byte %d bit %#x flipped: decrypted to %s", i, bit, got.Address())
			}
			if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrKeyFileFormat) {
				t.Fatalf("byte %d: unexpected error %v", i, err)
			}
		}
	}
	for _, bad := range [][]byte{nil, data[:len(data)-1], append(bytes.Clone(data), 0)} {
		if _, err := DecryptKey(bad, pass); !errors.Is(err, ErrKeyFileFormat) {
			t.Fatalf("length %d: %v", len(bad), err)
		}
	}

	path := t.TempDir() + "/alice.key"
	if err := w.SaveKeyFile(path, pass, fastKDF); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadKeyFile(path, pass)
	if err != nil || loaded.Address() != w.Address() {
		t.Fatalf("load: %v", err)
	}
	if _, err := LoadKeyFile(path+".missing", pass); err == nil {
		t.Fatal("missing file loaded")
	}
}

// The decoders take bytes from the network and from disk: whatever they are
// given, they must return a value or an error, never panic, and what they
// accept must re-encode to exactly the input (one encoding per value).

func FuzzAddressParse(f *testing.F) {
	a := testWallet(1).Address().String()
	f.Add(a)
	f.Add(strings.ToUpper(a))
	f.Add(a[:len(a)-1] + "q")
	f.Add("nk1")
	f.Add("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := ParseAddress(s)
		if err != nil {
			return
		}
		if addr.String() != strings.ToLower(s) {
			t.Fatalf("%q parsed, prints as %q", s, addr.String())
		}
		back, err := ParseAddress(addr.String())
		if err != nil || back != addr {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

// FuzzKeyFileDecode fuzzes the key-file parser (the KDF and cipher behind it
// are x/crypto's): any input is refused or gives a cost EncryptKey accepts.
func FuzzKeyFileDecode(f *testing.F) {
	good, err := testWallet(3).EncryptKey([]byte("pass"), fastKDF, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:keyFileHdrLen])
	f.Add([]byte(keyFileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseKeyFile(data)
		if err != nil {
			return
		}
		if !p.valid() || len(data) != keyFileLen {
			t.Fatalf("accepted a file with cost %+v and %d bytes", p, len(data))
		}
	})
}
