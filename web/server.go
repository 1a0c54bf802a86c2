// Package web serves a nakachain [blockchain.Node] over HTTP: a JSON API
// shaped like Blockstream Esplora's (blocks, transactions with their Merkle
// proofs, addresses, the mempool, peers), the node's own wallet (encrypted
// key files, unlocked for a while with a passphrase, payments to addresses
// or to names in the node's address book), mining on and off, live updates
// as Server-Sent Events, and one embedded page that shows all of it:
// dashboard, wallet, explorer and charts. The page works offline: it loads
// nothing but what the server embeds.
//
// # Access
//
// Reads, and POST /api/tx of a transaction its sender already signed, are
// open. Everything that spends from the node's wallet, unlocks or creates a
// wallet, changes the address book or mines needs the API token, a random
// 32-byte value kept in hex in DataDir/api-token (mode 0600, made if
// absent), sent as "Authorization: Bearer TOKEN". [Server.URL] carries it
// in the fragment (#token=…), which browsers never send to a server; the
// page keeps it in the tab's sessionStorage and is read-only without it.
//
// The server speaks plain HTTP and listens on 127.0.0.1 unless told
// otherwise (it logs a warning when it is not on loopback). It refuses a
// request whose Host header is not one of its own names (403), which stops
// DNS rebinding: a page on another site whose name resolves to 127.0.0.1
// still sends its own name. It sends no CORS headers, limits request bodies
// (413) and headers, and sets timeouts on every connection.
//
// # Endpoints
//
// All answers are JSON; amounts are integers of base units, with a "_coins"
// string beside them where people read them. A refusal is a 4xx answer
// {"error": "…", "code": "ErrInsufficientFunds"}, whose code is the
// [blockchain.ErrorCode] name for a rule, or one of this package's names
// (ErrNotFound, ErrNoToken, …) otherwise. See the README in this directory
// for the list.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nakachain/blockchain"
)

// Config configures a [Server]. Node and DataDir are required; every other
// field has a working zero value.
type Config struct {
	// Node is the node the server shows and controls. Its chain should be
	// made with blockchain.ChainOptions{IndexAddresses: true}: without the
	// index, /api/address/{addr}/txs answers 501 (ErrNotIndexed) and the
	// page shows no address history; everything else works.
	Node *blockchain.Node
	// DataDir holds the server's files: api-token, wallets/ (one
	// encrypted key file per wallet), addressbook.json and pending.json
	// (the wallet's payments not yet confirmed). It is made if absent.
	DataDir string
	// Addr is where [Server.Listen] listens; empty means 127.0.0.1:8080.
	// A host other than loopback is logged as a warning: the API is plain
	// HTTP.
	Addr string
	// Miner is the address the node's NodeConfig.Miner pays, for the
	// status and the page (a Node does not report it). The server tracks
	// it from then on, as mining requests change it.
	Miner blockchain.Address
	// Hosts are further names the server answers to in the Host header,
	// besides its listen host, localhost, 127.0.0.1 and [::1] (a name
	// this machine is reached by on a LAN, say). Ports are not compared.
	Hosts []string
	// UnlockFor is how long an unlocked wallet stays unlocked when the
	// request does not say; 0 means 15 minutes. Requests may ask for up to
	// MaxUnlock.
	UnlockFor time.Duration
	// MaxUnlock bounds what an unlock request may ask for; 0 means 24h.
	MaxUnlock time.Duration
	// KDF is the cost of the key derivation for new key files; the zero
	// value is the library's default (argon2id, 64 MiB). Tests lower it.
	KDF blockchain.KDFParams
	// MaxBodyBytes bounds a request body; 0 means 16 KiB. A larger body
	// is refused with 413.
	MaxBodyBytes int64
	// EventBuffer is how many recent events the server keeps for clients
	// that reconnect with Last-Event-ID; 0 means 1024.
	EventBuffer int
	// MaxEventClients bounds the event streams served at once; more are
	// refused with 503. 0 means 1000.
	MaxEventClients int
	// EventPing is how often an idle event stream gets a comment line, so
	// that a client that went away is noticed; 0 means 15s.
	EventPing time.Duration
	// Logger receives the server's logs; nil means none.
	Logger *slog.Logger
}

// Server serves one node's API, wallet, event stream and page. Make one
// with [New]; it is safe for concurrent use.
type Server struct {
	cfg     Config
	node    *blockchain.Node
	chain   *blockchain.Chain
	log     *slog.Logger
	token   string
	mux     *http.ServeMux
	hub     *hub
	wallets *keystore
	book    *addressBook
	pending *pendingStore
	rates   *rateMeter
	miner   atomic.Pointer[blockchain.Address]

	mu       sync.Mutex
	hosts    map[string]bool // allowed Host names, lowercased, without port
	addr     string          // the bound listen address, once known
	closing  chan struct{}   // closed by Close: event streams end
	closed   bool
	hubDone  chan struct{}
	stopNode func() // ends the node subscription
}

// Defaults of Config.
const (
	defaultAddr        = "127.0.0.1:8080"
	defaultUnlockFor   = 15 * time.Minute
	defaultMaxUnlock   = 24 * time.Hour
	defaultMaxBody     = 16 << 10
	defaultEventBuffer = 1024
	defaultMaxClients  = 1000
	defaultEventPing   = 15 * time.Second
	tokenFile          = "api-token"
	tokenBytes         = 32
)

// ErrConfig is returned (wrapped) by [New] for an unusable Config.
var ErrConfig = errors.New("web: invalid config")

// New checks cfg, reads or makes the API token in DataDir, opens the
// wallet directory, the address book and the list of the wallet's pending
// payments (submitting again to the node those not yet confirmed), and
// subscribes to the node's events. Call [Server.Close] when done.
//
// Address history (GET /api/address/{addr}/txs) needs the node's chain to
// index addresses: make it with blockchain.ChainOptions{IndexAddresses:
// true}. Without it that endpoint answers 501 with code ErrNotIndexed.
func New(cfg Config) (*Server, error) {
	if cfg.Node == nil {
		return nil, fmt.Errorf("%w: no Node", ErrConfig)
	}
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: no DataDir", ErrConfig)
	}
	if cfg.Addr == "" {
		cfg.Addr = defaultAddr
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.UnlockFor, defaultUnlockFor)
	def(&cfg.MaxUnlock, defaultMaxUnlock)
	def(&cfg.EventPing, defaultEventPing)
	cfg.UnlockFor = min(cfg.UnlockFor, cfg.MaxUnlock)
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBody
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = defaultEventBuffer
	}
	if cfg.MaxEventClients <= 0 {
		cfg.MaxEventClients = defaultMaxClients
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("web: data dir: %w", err)
	}
	token, err := loadToken(filepath.Join(cfg.DataDir, tokenFile))
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		node:    cfg.Node,
		chain:   cfg.Node.Chain(),
		log:     log,
		token:   token,
		closing: make(chan struct{}),
		hubDone: make(chan struct{}),
		rates:   newRateMeter(),
	}
	s.miner.Store(&cfg.Miner)
	s.hosts = map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	for _, h := range cfg.Hosts {
		s.hosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	if s.wallets, err = openKeystore(filepath.Join(cfg.DataDir, "wallets"), cfg.KDF); err != nil {
		return nil, err
	}
	if s.book, err = openAddressBook(filepath.Join(cfg.DataDir, "addressbook.json")); err != nil {
		return nil, err
	}
	if s.pending, err = openPending(filepath.Join(cfg.DataDir, "pending.json")); err != nil {
		return nil, err
	}
	s.hub = newHub(cfg.EventBuffer, cfg.MaxEventClients)
	events, stop := s.node.Subscribe()
	s.stopNode = stop
	s.resubmitPending()
	s.routes()
	go s.runHub(events)
	return s, nil
}

// loadToken reads the API token from path, or writes a new random one
// there (mode 0600) if the file does not exist.
func loadToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(data))
		if b, herr := hex.DecodeString(tok); herr != nil || len(b) != tokenBytes {
			return "", fmt.Errorf("web: %s does not hold %d bytes in hex; remove it to make a new token", path, tokenBytes)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("web: read token: %w", err)
	}
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("web: make token: %w", err)
	}
	tok := hex.EncodeToString(b[:])
	if err := writeFileAtomic(path, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("web: write token: %w", err)
	}
	return tok, nil
}

// Token returns the API token, for the caller to print or hand to a
// client. Anyone who has it can spend from the node's unlocked wallets.
func (s *Server) Token() string { return s.token }

// Handler returns the server's HTTP handler: the API, the event stream and
// the page, behind the Host check, the body limit and the security
// headers. [Server.Serve] serves it; tests may mount it in an httptest
// server on loopback.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Listen listens on Config.Addr and records the bound address for
// [Server.URL] and the Host check. It logs a warning when the address is
// not on loopback.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("web: listen: %w", err)
	}
	s.setAddr(ln.Addr().String())
	return ln, nil
}

func (s *Server) setAddr(addr string) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.addr = addr
	ip := net.ParseIP(host)
	if !ip.IsUnspecified() {
		s.hosts[strings.ToLower(host)] = true
	}
	s.mu.Unlock()
	if ip == nil || !ip.IsLoopback() {
		s.log.Warn("serving plain HTTP beyond loopback: anyone on the network can read the API, and the token travels in clear text",
			"addr", addr)
	}
}

// URL returns the page's address with the API token in its fragment:
// http://HOST:PORT/#token=…. The fragment stays in the browser; the page
// reads it and keeps it for the tab. It is empty before [Server.Listen] or
// [Server.Serve].
func (s *Server) URL() string {
	s.mu.Lock()
	addr := s.addr
	s.mu.Unlock()
	if addr == "" {
		return ""
	}
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/#token=" + s.token
}

// Serve serves the handler on ln until ctx is done, then shuts down: event
// streams end at once and other requests get up to five seconds. It
// returns nil after ctx ends, or the listener's error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.setAddr(ln.Addr().String())
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second, // event streams extend it per write
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	<-errc
	return nil
}

// ListenAndServe listens on Config.Addr and serves until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Close ends the event streams and the node subscription, locks every
// wallet and stops the server's goroutine. It does not stop an
// [http.Server] serving the handler; Serve stops when its context ends.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	s.stopNode()
	<-s.hubDone
	s.wallets.lockAll()
	return nil
}

// serveHTTP checks the Host header, sets the headers every answer carries,
// limits the body and routes the request.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if !s.hostAllowed(r.Host) {
		writeError(w, http.StatusForbidden, codeForbiddenHost, "this server does not answer to host "+quoteHost(r.Host))
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("request body of %d bytes is over the limit of %d", r.ContentLength, s.cfg.MaxBodyBytes))
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	}
	s.mux.ServeHTTP(w, r)
}

// hostAllowed reports whether host (a Host header) names this server.
func (s *Server) hostAllowed(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.Trim(name, "[]"))
	if name == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hosts[name] {
		return true
	}
	// Listening on every address, the server cannot list its names; an IP
	// literal is safe to answer, since DNS rebinding needs a name.
	if host, _, err := net.SplitHostPort(s.addr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return net.ParseIP(name) != nil
		}
	}
	return false
}

func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100] + "…"
	}
	return fmt.Sprintf("%q", h)
}

// authorized reports whether r carries the API token, and answers 401 if
// not.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if auth == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nakachain"`)
		writeError(w, http.StatusUnauthorized, codeNoToken, "this request needs the API token: Authorization: Bearer TOKEN")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nakachain", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, codeBadToken, "the API token is wrong")
		return false
	}
	return true
}

// withToken wraps a handler that needs the API token.
func (s *Server) withToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.authorized(w, r) {
			h(w, r)
		}
	}
}

// writeFileAtomic writes data to path with mode 0600 through a temporary
// file in the same directory and a rename, so path holds the old or the
// new content, never a torn one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
