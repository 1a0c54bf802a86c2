package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/nakachain/blockchain"
)

// usageError is a bad command line: run prints it in one line and exits
// with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagSet is a command's flags. Parse turns every error into one line,
// and -help into the command's help, with every flag and its default.
type flagSet struct {
	*flag.FlagSet
	path     string // "nakachain node"
	synopsis string // what follows the path in the usage line
	about    string // what the command does, in paragraphs
	stdout   io.Writer
}

func newFlagSet(e *env, path, synopsis, about string) *flagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, help is printed by parse
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, path: path, synopsis: synopsis, about: about, stdout: e.stdout}
}

// parse parses args, which must hold only flags. It returns flag.ErrHelp
// after printing the help for -help, and a usage error for anything wrong.
func (fs *flagSet) parse(args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.printHelp(fs.stdout)
		return flag.ErrHelp
	case err != nil:
		return fs.usageErrorf("%v", err)
	case fs.NArg() > 0:
		return fs.usageErrorf("unexpected argument %q: this command takes only flags", fs.Arg(0))
	}
	return nil
}

// parseArgs parses args, which hold flags and, before, after or among
// them, one argument for each of names, which it returns in order. names
// name the arguments in messages ("ADDR|NAME"). After "--" everything is
// an argument.
func (fs *flagSet) parseArgs(args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fs.printHelp(fs.stdout)
			return nil, flag.ErrHelp
		case err != nil:
			return nil, fs.usageErrorf("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	switch {
	case len(pos) < len(names):
		return nil, fs.usageErrorf("missing %s", names[len(pos)])
	case len(pos) > len(names):
		return nil, fs.usageErrorf("unexpected argument %q", pos[len(names)])
	}
	return pos, nil
}

// usageErrorf returns a usage error that names the command and its help.
func (fs *flagSet) usageErrorf(format string, args ...any) error {
	return usageErrorf("%s: %s (see %s -help)", fs.path, fmt.Sprintf(format, args...), fs.path)
}

// printHelp prints the usage line, what the command does, and every flag
// with its meaning and default.
func (fs *flagSet) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s %s\n\n", fs.path, fs.synopsis)
	for _, para := range strings.Split(strings.TrimSpace(fs.about), "\n\n") {
		if strings.HasPrefix(para, "  ") { // preformatted
			fmt.Fprintf(w, "%s\n\n", para)
			continue
		}
		fmt.Fprintf(w, "%s\n\n", wrap(strings.Join(strings.Fields(para), " "), "", 76))
	}
	fmt.Fprintln(w, "Flags:")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + name
		}
		def := f.DefValue
		if def == "" {
			def = "none"
		}
		text, def := wrap(usage, "      ", 76), "(default: "+def+")"
		if last := text[strings.LastIndexByte(text, '\n')+1:]; len(last)+1+len(def) <= 76 {
			text += " " + def
		} else {
			text += "\n      " + def
		}
		fmt.Fprintf(w, "  -%s%s\n%s\n", f.Name, name, text)
	})
}

// wrap fills text to lines of at most width columns, each starting with
// indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}

// listFlag is a flag that may be repeated and takes comma-separated
// lists, each item checked.
type listFlag struct {
	values *[]string
	check  func(string) error
}

func (l listFlag) String() string {
	if l.values == nil {
		return ""
	}
	return strings.Join(*l.values, ",")
}

func (l listFlag) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if err := l.check(item); err != nil {
			return err
		}
		*l.values = append(*l.values, item)
	}
	return nil
}

// checkHostPort checks that s is "host:port" with a host and a port
// number from 1 to 65535.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	return nil
}

// checkListen checks a listen address: "host:port", port 0 picking a free
// one, host empty meaning every interface.
func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", s, port)
	}
	return nil
}

// addressFlag is a flag holding a nakachain address ("nk1…").
type addressFlag struct {
	addr blockchain.Address
	set  bool
}

func (a *addressFlag) String() string {
	if a == nil || !a.set {
		return ""
	}
	return a.addr.String()
}

func (a *addressFlag) Set(s string) error {
	addr, err := blockchain.ParseAddress(s)
	if err != nil {
		return fmt.Errorf("not a valid address: %s", addressReason(s, err))
	}
	a.addr, a.set = addr, true
	return nil
}

// addressReason returns why ParseAddress refused s, without repeating s.
func addressReason(s string, err error) string {
	msg := err.Error()
	if _, reason, ok := strings.Cut(msg, strconv.Quote(s)+": "); ok {
		return reason
	}
	return msg
}

// hostPortFlag is a flag holding one checked address, empty by default.
type hostPortFlag struct {
	value *string
	check func(string) error
}

func (h hostPortFlag) String() string {
	if h.value == nil {
		return ""
	}
	return *h.value
}

func (h hostPortFlag) Set(s string) error {
	if s != "" {
		if err := h.check(s); err != nil {
			return err
		}
	}
	*h.value = s
	return nil
}
