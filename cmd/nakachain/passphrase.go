package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"
)

// passphraseFlags are the flags that say where a passphrase comes from:
// a file, an environment variable, or (neither given) the terminal.
type passphraseFlags struct {
	file, envName string
}

func (p *passphraseFlags) register(fl *flagSet) {
	fl.StringVar(&p.file, "passphrase-file", "",
		"read the key file's passphrase from the first line of `FILE` (for scripts; keep the file private); "+
			"without it or -passphrase-env, the passphrase is read from the terminal without echo")
	fl.StringVar(&p.envName, "passphrase-env", "",
		"read the key file's passphrase from the environment variable `NAME` (for scripts)")
}

// check reports a usage error if both sources are given.
func (p *passphraseFlags) check(fl *flagSet) error {
	if p.file != "" && p.envName != "" {
		return fl.usageErrorf("give -passphrase-file or -passphrase-env, not both")
	}
	return nil
}

// errNoPassphrase is returned (wrapped in a usage error) when no source
// of a passphrase is given and standard input is not a terminal.
var errNoPassphrase = errors.New("no passphrase: standard input is not a terminal; give -passphrase-file FILE or -passphrase-env NAME")

// read returns the passphrase for what, from the file, the environment
// variable or the terminal. On a terminal, confirm asks for it twice. An
// empty passphrase is refused.
func (p *passphraseFlags) read(e *env, fl *flagSet, what string, confirm bool) ([]byte, error) {
	var pass []byte
	switch {
	case p.file != "":
		data, err := os.ReadFile(p.file)
		if err != nil {
			return nil, fmt.Errorf("reading the passphrase: %w", err)
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		pass = bytes.TrimSuffix(line, []byte("\r"))
		if len(pass) == 0 {
			return nil, fmt.Errorf("the passphrase file %s is empty", p.file)
		}
	case p.envName != "":
		v := e.getenv(p.envName)
		if v == "" {
			return nil, fmt.Errorf("the environment variable %s, for the passphrase, is empty or not set", p.envName)
		}
		pass = []byte(v)
	case e.stdinFd >= 0:
		var err error
		if pass, err = promptPassphrase(e, "Passphrase for "+what+": "); err != nil {
			return nil, err
		}
		if len(pass) == 0 {
			return nil, errors.New("empty passphrase")
		}
		if confirm {
			again, err := promptPassphrase(e, "Repeat the passphrase: ")
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(pass, again) {
				return nil, errors.New("the two passphrases differ")
			}
		}
	default:
		return nil, fl.usageErrorf("%v", errNoPassphrase)
	}
	return pass, nil
}

// promptPassphrase asks on standard error and reads a line from the
// terminal without echo.
func promptPassphrase(e *env, prompt string) ([]byte, error) {
	fmt.Fprint(e.stderr, prompt)
	pass, err := term.ReadPassword(e.stdinFd)
	fmt.Fprintln(e.stderr)
	if err != nil {
		return nil, fmt.Errorf("reading the passphrase: %w", err)
	}
	return pass, nil
}
