package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/web"
)

// The web server's files in the data directory. The web package owns
// api-token and wallets/; web-url is this program's: the API's address
// while a node serves it, for the client commands.
const (
	webURLFileName   = "web-url"
	tokenFileName    = "api-token"
	maxHostNameBytes = 253
)

func webURLFile(datadir string) string { return filepath.Join(datadir, webURLFileName) }
func tokenFile(datadir string) string  { return filepath.Join(datadir, tokenFileName) }

// checkHostName checks a -web-host value: a host name or an IP address,
// without a port.
func checkHostName(s string) error {
	switch {
	case len(s) > maxHostNameBytes:
		return fmt.Errorf("a host name has at most %d bytes", maxHostNameBytes)
	case strings.ContainsAny(s, "/ \t@?#"):
		return fmt.Errorf("%q is not a host name", s)
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return fmt.Errorf("%q: give the name without a port", s)
	}
	return nil
}

// webOptions are what the web server takes from the node's flags.
type webOptions struct {
	datadir string
	addr    string   // -web
	hosts   []string // -web-host
}

// runWebServer serves the node's web wallet and API until ctx is done. It
// logs the page's address, with the token in its fragment, once; prints it
// plainly on console if that is not nil; and keeps the API's address in
// DATADIR/web-url while it serves.
func runWebServer(ctx context.Context, n *blockchain.Node, log *slog.Logger, console io.Writer, o webOptions) (err error) {
	srv, err := web.New(web.Config{
		Node:    n,
		DataDir: o.datadir,
		Addr:    o.addr,
		Miner:   n.Miner(),
		Hosts:   o.hosts,
		Logger:  log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := srv.Listen()
	if err != nil {
		return err
	}
	page := srv.URL()
	base, _, _ := strings.Cut(page, "#")
	file := webURLFile(o.datadir)
	if err := replaceFile(file, []byte(base+"\n"), 0o644); err != nil {
		ln.Close()
		return fmt.Errorf("writing the API's address to %s: %w", file, err)
	}
	defer func() {
		if rerr := os.Remove(file); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("removing %s: %w", file, rerr)
		}
	}()
	log.Info("web server", "addr", ln.Addr().String(), "url", page, "token_file", tokenFile(o.datadir))
	if console != nil {
		fmt.Fprintf(console, "Web wallet: %s\n", page)
	}
	return srv.Serve(ctx, ln)
}
