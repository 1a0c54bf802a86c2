package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// apiFlags are the flags of the client commands, which talk to a node's
// HTTP API (node -web): where it is, the token, and the output's form.
type apiFlags struct {
	datadir   string
	api       string
	token     string
	tokenFile string
	json      bool
	timeout   time.Duration
	withToken bool // the command's requests need the token
}

func (a *apiFlags) register(fl *flagSet, withToken bool) {
	a.withToken = withToken
	what := "the API's address from DIR/" + webURLFileName + ", which a node run with -web writes"
	if withToken {
		what += ", and the API token from DIR/" + tokenFileName
	}
	fl.StringVar(&a.datadir, "datadir", defaultDataDir, "the node's data `DIR`: "+what)
	fl.StringVar(&a.api, "api", "",
		"the node's API at `URL` (http://127.0.0.1:8080, or host:port) instead of the one DIR/"+webURLFileName+" names; "+
			"the page's address with #token=… in it gives the token too")
	if withToken {
		fl.StringVar(&a.token, "token", "",
			"the API `TOKEN` (64 hex digits); other users can see it in the process list: prefer -token-file. "+
				"Without -token and -token-file the token is read from DIR/"+tokenFileName+
				", unless -api names the node and -datadir is not given")
		fl.StringVar(&a.tokenFile, "token-file", "", "read the API token from `FILE` (as DIR/"+tokenFileName+")")
	}
	fl.BoolVar(&a.json, "json", false, "print the API's answer as it came, one JSON value, instead of text")
	fl.DurationVar(&a.timeout, "timeout", 30*time.Second, "give up on a request after `DURATION`")
}

// check reports a usage error for flags that cannot work together.
func (a *apiFlags) check(fl *flagSet) error {
	switch {
	case a.datadir == "":
		return fl.usageErrorf("-datadir must not be empty")
	case a.token != "" && a.tokenFile != "":
		return fl.usageErrorf("give -token or -token-file, not both")
	case a.timeout <= 0:
		return fl.usageErrorf("-timeout must be more than 0")
	}
	if a.api != "" {
		if _, _, err := parseAPIURL(a.api); err != nil {
			return fl.usageErrorf("-api: %v", err)
		}
	}
	return nil
}

// parseAPIURL reads an -api value: a URL with the scheme http or https,
// or host:port. A fragment #token=… carries the token, as in the page's
// address the node logs.
func parseAPIURL(s string) (base *url.URL, token string, err error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, "", fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", fmt.Errorf("%q: use http:// or https://", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, "", fmt.Errorf("%q has no host", s)
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, "", fmt.Errorf("%q: give the address alone, without a user or a query", s)
	}
	if v, ok := strings.CutPrefix(u.Fragment, "token="); ok {
		token = v
	}
	u.Fragment, u.RawFragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, token, nil
}

// apiClient makes requests to a node's API.
type apiClient struct {
	base    *url.URL
	from    string // where base came from, for messages
	token   string // "" if none was found
	http    *http.Client
	timeout time.Duration
}

// maxAnswerBytes bounds an answer the client reads.
const maxAnswerBytes = 8 << 20

// client finds the API and its token, as the flags say.
func (a *apiFlags) client(fl *flagSet) (*apiClient, error) {
	c := &apiClient{http: &http.Client{}, timeout: a.timeout}
	datadirGiven := false
	fl.Visit(func(f *flag.Flag) {
		if f.Name == "datadir" {
			datadirGiven = true
		}
	})
	if a.api != "" {
		base, token, err := parseAPIURL(a.api)
		if err != nil {
			return nil, fl.usageErrorf("-api: %v", err)
		}
		c.base, c.from, c.token = base, "-api", token
	} else {
		file := webURLFile(a.datadir)
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no node serves its API from %s: %s is missing (start it with nakachain node -web 127.0.0.1:8080, "+
				"or give -api URL)", a.datadir, file)
		}
		if err != nil {
			return nil, fmt.Errorf("reading the API's address: %w", err)
		}
		base, _, err := parseAPIURL(strings.TrimSpace(string(data)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		c.base, c.from = base, file
	}
	if !a.withToken {
		return c, nil
	}
	switch {
	case a.token != "":
		c.token = a.token
	case a.tokenFile != "":
		tok, err := readToken(a.tokenFile)
		if err != nil {
			return nil, err
		}
		c.token = tok
	case c.token != "":
		// From the -api URL's fragment.
	case a.api == "" || datadirGiven:
		// The token of the node the data directory belongs to; never
		// sent to another server unless -datadir says so.
		tok, err := readToken(tokenFile(a.datadir))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		c.token = tok
	}
	return c, nil
}

// readToken reads an API token from the first line of file.
func readToken(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the API token: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	tok := strings.TrimSpace(line)
	if tok == "" {
		return "", fmt.Errorf("the token file %s is empty", file)
	}
	return tok, nil
}

// apiError is a refusal from the API: its status and its {"error",
// "code"} body.
type apiError struct {
	status int
	code   string
	msg    string
	hint   string // what to do, if the client knows
}

func (e *apiError) Error() string {
	msg := e.msg
	// A rule's message repeats its code ("blockchain: ErrFeeTooLow: …").
	msg = strings.TrimPrefix(msg, "blockchain: ")
	msg = strings.TrimPrefix(msg, e.code+": ")
	s := fmt.Sprintf("refused: %s: %s (HTTP %d)", e.code, msg, e.status)
	if e.hint != "" {
		s += ": " + e.hint
	}
	return s
}

// do sends a request to path (which starts with /api/) with body, if not
// nil, as JSON, and returns the answer's body. An answer other than 2xx is
// an *apiError. A request that needs the token carries it when the client
// has one.
func (c *apiClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ref, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("request path %q: %w", path, err)
	}
	u := *c.base
	u.Path += ref.Path
	u.RawQuery = ref.RawQuery
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" && method != http.MethodGet {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %w", method, u.Redacted(), err)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	ae := &apiError{status: resp.StatusCode}
	var body2 struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if json.Unmarshal(data, &body2) == nil && body2.Code != "" {
		ae.code, ae.msg = body2.Code, body2.Error
	} else {
		line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		ae.code, ae.msg = http.StatusText(resp.StatusCode), "not an answer of a nakachain node: "+truncate(line, 100)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		ae.hint = "give -token-file FILE, or -datadir DIR of the node (its DIR/" + tokenFileName + " holds the token)"
	}
	return data, ae
}

// unreachable explains a request that got no answer.
func (c *apiClient) unreachable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from the node's API at %s within %v (see -timeout): %w", c.base.Redacted(), c.timeout, err)
	}
	hint := ""
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		hint = ": is the node running with -web?"
		if c.from != "-api" {
			hint = fmt.Sprintf(": is the node running? (%s names it; a node that was killed leaves it behind)", c.from)
		}
	}
	return fmt.Errorf("cannot reach the node's API at %s: %w%s", c.base.Redacted(), err, hint)
}

// get decodes the answer of GET path into v, and returns the raw answer.
func (c *apiClient) get(ctx context.Context, path string, v any) ([]byte, error) {
	return c.call(ctx, http.MethodGet, path, nil, v)
}

// call sends a request and decodes its answer into v, if not nil.
func (c *apiClient) call(ctx context.Context, method, path string, body, v any) ([]byte, error) {
	data, err := c.do(ctx, method, path, body)
	if err != nil {
		return data, err
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			return data, fmt.Errorf("the answer of %s %s is not what a nakachain node sends: %w", method, path, err)
		}
	}
	return data, nil
}

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
