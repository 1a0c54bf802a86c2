package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/nakachain/blockchain"
)

// maxNameRunes bounds an address-book name.
const maxNameRunes = 64

// maxBookNames bounds the address book.
const maxBookNames = 10_000

// Errors of the address book (wrapped).
var (
	errBadBookName = errors.New("a name is 1 to 64 characters of text, without control characters, and not itself an address")
	errNameTaken   = errors.New("the name is taken by another address")
	errNoName      = errors.New("no such name in the address book")
	errBookFull    = errors.New("the address book is full")
)

// addressBook names addresses, as the tutorial's people are named: a name
// resolves to its checksummed address. It is kept as JSON in the data
// directory. Names are any text (they are data, and the page shows them as
// text).
type addressBook struct {
	path string

	mu    sync.Mutex
	names map[string]blockchain.Address
}

// bookEntry is one name, in the file and in the API.
type bookEntry struct {
	Name    string             `json:"name"`
	Address blockchain.Address `json:"address"`
}

// bookFile is the address book's file.
type bookFile struct {
	Names []bookEntry `json:"names"`
}

func openAddressBook(path string) (*addressBook, error) {
	b := &addressBook{path: path, names: make(map[string]blockchain.Address)}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("web: address book: %w", err)
	}
	var f bookFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("web: address book %s: %w", path, err)
	}
	for _, e := range f.Names {
		if checkBookName(e.Name) == nil {
			b.names[e.Name] = e.Address
		}
	}
	return b, nil
}

// checkBookName says whether name can be an address-book name.
func checkBookName(name string) error {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameRunes ||
		strings.TrimSpace(name) != name {
		return errBadBookName
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errBadBookName
		}
	}
	if _, err := blockchain.ParseAddress(name); err == nil {
		return errBadBookName
	}
	return nil
}

// add names a. Adding a name again for the same address changes nothing.
func (b *addressBook) add(name string, a blockchain.Address) error {
	if err := checkBookName(name); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.names[name]; ok {
		if old == a {
			return nil
		}
		return errNameTaken
	}
	if len(b.names) >= maxBookNames {
		return errBookFull
	}
	b.names[name] = a
	if err := b.saveLocked(); err != nil {
		delete(b.names, name)
		return err
	}
	return nil
}

// remove deletes a name.
func (b *addressBook) remove(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.names[name]
	if !ok {
		return errNoName
	}
	delete(b.names, name)
	if err := b.saveLocked(); err != nil {
		b.names[name] = a
		return err
	}
	return nil
}

func (b *addressBook) saveLocked() error {
	data, err := json.MarshalIndent(bookFile{Names: b.entriesLocked()}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(b.path, append(data, '\n')); err != nil {
		return fmt.Errorf("web: save address book: %w", err)
	}
	return nil
}

func (b *addressBook) entriesLocked() []bookEntry {
	out := make([]bookEntry, 0, len(b.names))
	for _, n := range sortedKeys(b.names) {
		out = append(out, bookEntry{Name: n, Address: b.names[n]})
	}
	return out
}

// entries returns the names, sorted.
func (b *addressBook) entries() []bookEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.entriesLocked()
}

// lookup resolves a name: exactly, or else without regard to case if only
// one name matches that way.
func (b *addressBook) lookup(name string) (blockchain.Address, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a, ok := b.names[name]; ok {
		return a, true
	}
	var found []blockchain.Address
	for n, a := range b.names {
		if strings.EqualFold(n, name) {
			found = append(found, a)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return blockchain.Address{}, false
}

// nameOf returns the first name (in order) of a, or "".
func (b *addressBook) nameOf(a blockchain.Address) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range sortedKeys(b.names) {
		if b.names[n] == a {
			return n
		}
	}
	return ""
}
