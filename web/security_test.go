package web

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func hexString(b []byte) string { return hex.EncodeToString(b) }

func urlPathEscape(s string) string { return url.PathEscape(s) }

func TestHostHeader(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.Hosts = []string{"Node.Example"} }))
	_, port, _ := net.SplitHostPort(e.ts.Listener.Addr().String())
	for _, tc := range []struct {
		host   string
		status int
	}{
		{"127.0.0.1:" + port, 200},
		{"localhost:" + port, 200},
		{"LOCALHOST", 200},
		{"[::1]:" + port, 200},
		{"node.example:" + port, 200},
		{"evil.example:" + port, 403},
		{"127.0.0.1.evil.example", 403},
		{"localhost.evil.example:" + port, 403},
		{"10.0.0.1:" + port, 403},
	} {
		r := e.request("GET", "/api/status", nil, "", "Host", tc.host)
		if r.status != tc.status {
			t.Errorf("Host %q: %d, want %d", tc.host, r.status, tc.status)
		}
		if tc.status == 403 && r.apiErr(t).Code != codeForbiddenHost {
			t.Errorf("Host %q: %s", tc.host, r.body)
		}
	}
	// The check is before everything, the token included.
	want(t, "foreign host with the token", e.request("POST", "/api/mining", map[string]bool{"on": true}, e.srv.Token(), "Host", "evil.example"), 403, codeForbiddenHost)
	want(t, "foreign host, the page", e.request("GET", "/", nil, "", "Host", "evil.example"), 403, codeForbiddenHost)
}

// TestListenAddresses checks what the server answers to, and warns about,
// for the addresses it may listen on (without listening beyond loopback).
func TestListenAddresses(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	e.srv.log = slog.New(slog.NewTextHandler(&logs, nil))
	e.srv.setAddr("127.0.0.1:8081")
	if logs.Len() != 0 || e.srv.URL() != "http://127.0.0.1:8081/#token="+e.srv.Token() {
		t.Errorf("loopback: logs %q, URL %s", logs.String(), e.srv.URL())
	}
	e.srv.setAddr("0.0.0.0:8081")
	if !strings.Contains(logs.String(), "WARN") || !strings.Contains(logs.String(), "plain HTTP") {
		t.Errorf("no warning for every address: %q", logs.String())
	}
	if !strings.HasPrefix(e.srv.URL(), "http://127.0.0.1:8081/#token=") {
		t.Errorf("URL %s", e.srv.URL())
	}
	// On every address, an IP literal is answered (rebinding needs a
	// name); an unknown name is not.
	if !e.srv.hostAllowed("192.168.1.5:8081") || e.srv.hostAllowed("evil.example:8081") {
		t.Error("unspecified listen address: wrong Host decisions")
	}
}

func TestServe(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.Addr = "127.0.0.1:0" }))
	ln, err := e.srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	u := e.srv.URL()
	if !strings.HasPrefix(u, "http://"+ln.Addr().String()+"/#token=") {
		t.Fatalf("URL %s", u)
	}
	res, err := http.Get(strings.Split(u, "#")[0] + "api/status")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	// An open event stream does not hold up the shutdown.
	st := openStream(t, "http://"+ln.Addr().String(), "")
	waitFor(t, 5*time.Second, "the stream", func() bool { return e.srv.hub.streams() == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	st.close()
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.MaxBodyBytes = 1024 }))
	big := `{"name": "` + strings.Repeat("a", 2000) + `", "passphrase": "x"}`
	want(t, "declared too large", e.post("/api/wallets", big), 413, codeTooLarge)
	// Without a length: chunked, cut by MaxBytesReader.
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/wallets", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+e.srv.Token())
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 || !strings.Contains(string(body), codeTooLarge) {
		t.Errorf("chunked: %d %s", res.StatusCode, body)
	}
	want(t, "too large, no token", e.request("POST", "/api/tx", strings.Repeat("0", 2000), ""), 413, codeTooLarge)
}

func TestStaticFiles(t *testing.T) {
	e := newEnv(t)
	r := e.get("/")
	if r.status != 200 || !strings.Contains(string(r.body), `<script src="/static/app.js" defer></script>`) {
		t.Fatalf("index: %d", r.status)
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || r.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers %v", r.header)
	}
	for _, f := range []string{"/static/app.js", "/static/style.css"} {
		if r := e.get(f); r.status != 200 || len(r.body) < 1000 {
			t.Errorf("%s: %d", f, r.status)
		}
	}
	if ct := e.get("/static/app.js").header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("app.js type %q", ct)
	}
	// Nothing outside the embedded files, however the path is spelled.
	for _, p := range []string{
		"/static/../server.go", "/static/..%2fserver.go", "/static/%2e%2e/server.go", "/static/%2e%2e%2fserver.go",
		"/static/..%2f..%2fgo.mod", "/static/", "/static/nothing.js", "/static/index.html", "/static/.", "/../../etc/passwd",
		"/server.go", "/web/server.go", "/static//etc/passwd", "/static/%00", "/static/app.js%2f..%2f..%2fserver.go",
	} {
		res, err := e.ts.Client().Get(e.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(body), "package web") || strings.Contains(string(body), "root:") || strings.Contains(string(body), "module github.com") {
			t.Errorf("%s served a file from outside the page: %.60q", p, body)
		}
		if res.StatusCode == 200 {
			t.Errorf("%s: 200", p)
		}
	}
}

func TestNoCORS(t *testing.T) {
	e := newEnv(t)
	for _, m := range []string{"GET", "OPTIONS", "POST"} {
		r := e.request(m, "/api/status", nil, "", "Origin", "http://evil.example", "Access-Control-Request-Method", "POST")
		for k := range r.header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("%s: CORS header %s", m, k)
			}
		}
	}
}

func TestTokenChecks(t *testing.T) {
	e := newEnv(t)
	tok := e.srv.Token()
	body := map[string]any{"on": false}
	for _, tc := range []struct {
		auth string
		code string
	}{
		{"", codeNoToken},
		{"Bearer", codeNoToken},
		{"Basic " + tok, codeNoToken},
		{"Bearer " + tok[:63], codeBadToken},
		{"Bearer " + tok + "0", codeBadToken},
		{"Bearer " + strings.ToUpper(tok), codeBadToken},
		{"Bearer " + strings.Repeat("0", 64), codeBadToken},
	} {
		var r response
		if tc.auth == "" {
			r = e.request("POST", "/api/mining", body, "")
		} else {
			r = e.request("POST", "/api/mining", body, "", "Authorization", tc.auth)
		}
		want(t, "Authorization "+tc.auth, r, 401, tc.code)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("no WWW-Authenticate for %q", tc.auth)
		}
	}
	want(t, "bearer in lower case", e.request("POST", "/api/mining", body, "", "Authorization", "bearer "+tok), 200, "")
	// Every request that changes the node's wallet, book or miner needs it.
	for _, p := range []struct{ method, path string }{
		{"POST", "/api/wallets"}, {"POST", "/api/wallets/x/unlock"}, {"POST", "/api/wallets/x/lock"},
		{"POST", "/api/wallets/x/send"}, {"POST", "/api/names"}, {"DELETE", "/api/names/x"},
		{"POST", "/api/mining"}, {"POST", "/api/mine"},
	} {
		want(t, p.method+" "+p.path, e.request(p.method, p.path, "{}", ""), 401, codeNoToken)
	}
}
