// Package demo holds what the tutorial's example programs share: a book of
// named wallets derived from fixed seeds, so that every stage gives the same
// person the same keys; the formatting of the numbers and lists they print;
// and their main function, flag parsing and exit statuses.
package demo

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/nakachain/blockchain"
)

// WalletFor returns the example wallet of the person called name. Its seed is
// SHA-256("nakachain example wallet: " + name), so every run and every stage
// gives the same person the same keys. Anyone can derive such a wallet: it is
// for examples only, never for coins of value.
func WalletFor(name string) *blockchain.Wallet {
	return blockchain.WalletFromSeed(sha256.Sum256([]byte("nakachain example wallet: " + name)))
}

// Book names the example's wallets, so that output shows "alice" rather
// than an address or a key.
type Book struct {
	names   []string
	wallets map[string]*blockchain.Wallet
	byAddr  map[blockchain.Address]string
}

// NewBook returns a book with a wallet (from WalletFor) for each name.
func NewBook(names ...string) *Book {
	b := &Book{wallets: make(map[string]*blockchain.Wallet), byAddr: make(map[blockchain.Address]string)}
	b.Add(names...)
	return b
}

// Add gives each new name a wallet; names already in the book keep theirs.
func (b *Book) Add(names ...string) {
	for _, n := range names {
		if _, ok := b.wallets[n]; ok {
			continue
		}
		w := WalletFor(n)
		b.names = append(b.names, n)
		b.wallets[n] = w
		b.byAddr[w.Address()] = n
	}
}

// Names returns the names in the order they were added.
func (b *Book) Names() []string { return slices.Clone(b.names) }

// Wallet returns the wallet of name. It panics for a name not in the book:
// that is a bug in the example.
func (b *Book) Wallet(name string) *blockchain.Wallet {
	w, ok := b.wallets[name]
	if !ok {
		panic(fmt.Sprintf("demo: no wallet named %q", name))
	}
	return w
}

// Address returns the address name is paid at.
func (b *Book) Address(name string) blockchain.Address { return b.Wallet(name).Address() }

// NameOf returns the name whose wallet has address a, or the address itself
// if it is nobody's in the book.
func (b *Book) NameOf(a blockchain.Address) string {
	if n, ok := b.byAddr[a]; ok {
		return n
	}
	return a.String()
}

// NameOfKey returns the name whose wallet has public key k.
func (b *Book) NameOfKey(k blockchain.PublicKey) string { return b.NameOf(k.Address()) }

// Allocations gives every name in the book amount base units in the genesis
// block (see blockchain.Params.Allocations).
func (b *Book) Allocations(amount uint64) []blockchain.Allocation {
	allocs := make([]blockchain.Allocation, len(b.names))
	for i, n := range b.names {
		allocs[i] = blockchain.Allocation{To: b.Address(n), Amount: amount}
	}
	return allocs
}

// Commas writes the integer n (any integer type or a *big.Int) with
// thousands separators: 1234567 becomes "1,234,567".
func Commas(n any) string {
	s := fmt.Sprint(n)
	sign := ""
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		sign, s = "-", rest
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

// Main is every example's main function: it calls run with a context that
// Ctrl-C cancels, standard output and the command-line arguments. If run
// fails it prints the error on one line after the command's name and exits
// with status 2 for a usage error (see [UsageError]) and 1 for any other.
func Main(name string, run func(ctx context.Context, w io.Writer, args []string) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Stdout, os.Args[1:])
	stop()
	if code := Report(os.Stderr, name, err); code != 0 {
		os.Exit(code)
	}
}

// Report writes err, if any, to w as one line after the command's name, and
// returns the exit status it calls for: 0 for no error, 2 for a usage error
// (with a hint to -help) and 1 for any other.
func Report(w io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	msg := strings.Join(strings.Fields(err.Error()), " ") // one line
	if IsUsage(err) {
		fmt.Fprintf(w, "%s: %s (-help lists the flags)\n", name, msg)
		return 2
	}
	fmt.Fprintf(w, "%s: %s\n", name, msg)
	return 1
}

// UsageError is a mistake in the command line: an unknown flag, a value
// that does not parse or is out of range, a stray argument. [Main] exits
// with status 2 for it, as the flag package does.
type UsageError struct{ Err error }

// Error returns the mistake's description.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a [*UsageError] with the formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// IsUsage reports whether err is, or wraps, a [*UsageError].
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// ParseFlags parses args with fs, whose flags the example has defined. It
// returns ok when the example should go on. For -help it prints the usage
// to w and returns false and no error; for an unknown flag, a bad value or
// an argument that is not a flag it prints nothing and returns false and a
// [*UsageError], for [Main] to print on one line.
func ParseFlags(fs *flag.FlagSet, w io.Writer, args []string) (ok bool, err error) {
	fs.Init(fs.Name(), flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the flag package's own messages
	fs.Usage = func() {}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(w)
		fmt.Fprintf(w, "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		return false, nil
	case err != nil:
		return false, &UsageError{Err: err}
	case fs.NArg() > 0:
		return false, Usagef("unexpected argument %q: every setting is a flag", fs.Arg(0))
	}
	return true, nil
}

// List joins words as "a, b and c".
func List(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// Plural counts: "1 block", "2 blocks", "1,000 blocks".
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return Commas(n) + " " + what + "s"
}

// Outcome is how an example prints the result of a check: "ok", or
// "FAILED: " and the error.
func Outcome(err error) string {
	if err != nil {
		return "FAILED: " + err.Error()
	}
	return "ok"
}

// FixedClock returns a simulated clock that reads start, then start+step,
// and so on: block times, and so block hashes, are the same on every run.
func FixedClock(start time.Time, step time.Duration) func() time.Time {
	t := start.Add(-step)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

// Para writes a paragraph of a story, wrapped at 76 columns, and a blank
// line after it.
func Para(w io.Writer, format string, args ...any) {
	const width = 76
	line := 0
	for i, word := range strings.Fields(fmt.Sprintf(format, args...)) {
		n := len([]rune(word))
		switch {
		case i == 0:
		case line+1+n > width:
			fmt.Fprintln(w)
			line = 0
		default:
			fmt.Fprint(w, " ")
			line++
		}
		fmt.Fprint(w, word)
		line += n
	}
	fmt.Fprint(w, "\n\n")
}
