package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nakachain/blockchain/examples/internal/demo"
)

// page is one printed address.
type page struct {
	name, base, token string
}

var urlRE = regexp.MustCompile(`^(alice|bob|carol):\s+(http://127\.0\.0\.1:\d+/)#token=([0-9a-f]{64})\s`)

// TestRun runs the example for a few seconds on free ports and checks that
// the three pages answer, with their wallets, names and peers, and that a
// payment sent on alice's page by name reaches bob's node.
func TestRun(t *testing.T) {
	pr, pw := io.Pipe()
	var out bytes.Buffer
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		err := run(context.Background(), pw, []string{"-for", "8s", "-ports", "0,0,0", "-block-time", "500ms", "-bits", "12"})
		pw.Close()
		done <- err
	}()
	pages := make(chan page, 3)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				pages <- page{m[1], m[2], m[3]}
			}
		}
		close(pages)
	}()
	byName := map[string]page{}
	for p := range pages {
		byName[p.name] = p
		if len(byName) == 3 {
			break
		}
	}
	if len(byName) != 3 {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("printed %d page addresses:\n%s", len(byName), out.String())
	}
	book := demo.NewBook("alice", "bob", "carol")
	for _, p := range byName {
		var st struct {
			NodeID string `json:"node_id"`
		}
		getJSON(t, p.base+"api/status", &st)
		if st.NodeID != p.name {
			t.Errorf("%s's page serves node %q", p.name, st.NodeID)
		}
		var wallets []struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		}
		getJSON(t, p.base+"api/wallets", &wallets)
		if len(wallets) != 1 || wallets[0].Name != p.name || wallets[0].Address != book.Address(p.name).String() {
			t.Errorf("%s's wallets: %+v", p.name, wallets)
		}
		var names []struct{ Name string }
		getJSON(t, p.base+"api/names", &names)
		if len(names) != 3 {
			t.Errorf("%s's address book: %+v", p.name, names)
		}
		res, err := http.Get(p.base)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), "nakachain") {
			t.Errorf("%s's page: %d", p.name, res.StatusCode)
		}
	}
	// Alice pays bob by name on her page; bob's node hears of it.
	alice, bob := byName["alice"], byName["bob"]
	post(t, alice, "api/wallets/alice/unlock", `{"passphrase": "alice"}`)
	var tx struct {
		TxID string `json:"txid"`
	}
	json.Unmarshal(post(t, alice, "api/wallets/alice/send", `{"to": "bob", "amount_coins": "2"}`), &tx)
	deadline := time.Now().Add(6 * time.Second)
	for {
		res, err := http.Get(bob.base + "api/tx/" + tx.TxID)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("bob's node never saw alice's payment")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(out.String(), "Stopped.") {
		t.Errorf("output:\n%s", out.String())
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func post(t *testing.T, p page, path, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest("POST", p.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, data)
	}
	return data
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-ports", "1,2"}, {"-ports", "a,b,c"}, {"-bits", "30"}, {"-mine", "dave"}, {"-for", "-1s"}, {"-block-time", "1ms"},
	} {
		if err := run(context.Background(), io.Discard, args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	if err := run(context.Background(), io.Discard, []string{"-help"}); err != nil {
		t.Errorf("-help: %v", err)
	}
}
