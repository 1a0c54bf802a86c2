package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nakachain/blockchain"
)

// TestPayNameOnAnotherNode makes a wallet on node A's page, mines to it
// until it has coins, pays "bob" (a name in A's address book whose wallet
// lives on node B), and watches the payment go from pending to confirmed
// on both pages, which are never reloaded.
func TestPayNameOnAnotherNode(t *testing.T) {
	needBrowser(t)
	c := newCluster(t)
	a := openTab(t, "node A", c.a.url())
	b := openTab(t, "node B", c.b.url())

	// A: a new wallet, unlocked as it is made.
	a.click("#tab-wallet")
	a.fill("create-name", "savings")
	a.fill("create-pass", "a long passphrase")
	a.click("#create-button")
	a.waitJS(`document.getElementById('wallet-name').textContent === 'savings'`, "the new wallet")
	a.waitJS(`document.getElementById('wallet-lock-state').textContent.startsWith('unlocked')`, "the wallet unlocked")
	if got := a.text("wallet-address"); !strings.HasPrefix(got, "nk1") {
		t.Fatalf("receive address %q", got)
	}

	// Mine to it until it has coins, then stop the miner with the
	// dashboard's switch, so that the payment waits in the mempool.
	a.click("#mine-to-wallet")
	a.waitJS(`parseFloat(document.getElementById('wallet-balance').textContent) >= 100`, "two blocks' rewards")
	a.click("#tab-dashboard")
	a.waitJS(`document.getElementById('mining-toggle').checked`, "the switch showing the miner on")
	a.click("#mining-toggle")
	a.waitJS(`!document.getElementById('mining-toggle').checked && document.getElementById('mining-state').textContent === 'off'`, "the miner off")
	if c.a.node.Mining() || c.b.node.Mining() {
		t.Fatal("a miner is still on")
	}

	// B shows bob's wallet.
	b.click("#tab-wallet")
	b.waitJS(`document.getElementById('wallet-name').textContent === 'bob'`, "bob's wallet")
	if got := b.text("wallet-balance"); got != "0" {
		t.Fatalf("bob's balance %q", got)
	}

	// A pays bob by name.
	a.click("#tab-wallet")
	a.waitJS(`!document.getElementById('wallet-detail').hidden`, "the wallet view")
	a.fill("send-to", "bob")
	a.fill("send-amount", "12.5")
	a.fill("send-fee", "0.001")
	a.click("#send-button")
	a.waitJS(`document.getElementById('send-result').textContent.includes('pending')`, "the payment sent")
	pendingRow := `document.querySelector('#wallet-activity tr[data-txid] [data-status="pending"]')`
	a.waitJS(pendingRow+` !== null`, "the payment pending on A")
	txid := eval[string](a, pendingRow+`.closest('tr').dataset.txid`)
	if !c.b.node.Mempool().Has(mustHash(t, txid)) {
		// It may still be on its way to B.
		waitGo(t, "B's mempool to hold the payment", func() bool { return c.b.node.Mempool().Has(mustHash(t, txid)) })
	}
	row := fmt.Sprintf(`document.querySelector('#wallet-activity tr[data-txid="%s"] [data-testid="tx-status"]')`, txid)
	b.waitJS(row+` !== null && `+row+`.dataset.status === 'pending'`, "the payment pending on B")
	b.waitJS(`document.getElementById('wallet-available').textContent.includes('12.5')`, "bob's balance after pending")
	b.shot("pending-on-B")

	// Mining again (A's switch): the payment confirms on both pages.
	a.click("#tab-dashboard")
	a.click("#mining-toggle")
	a.waitJS(`document.getElementById('mining-state').textContent === 'on'`, "the miner on")
	a.waitJS(`document.querySelectorAll('#dash-blocks tr').length >= 3 && document.querySelectorAll('#peers-table td.mono').length === 1`, "blocks and the peer on the dashboard")
	a.waitJS(`document.querySelectorAll('#event-log li').length > 0`, "live events in the log")
	a.shot("dashboard")
	a.click("#tab-wallet")
	a.waitJS(row+` !== null && `+row+`.dataset.status === 'confirmed'`, "the payment confirmed on A")
	b.waitJS(row+` !== null && `+row+`.dataset.status === 'confirmed'`, "the payment confirmed on B")
	b.waitJS(`document.getElementById('wallet-balance').textContent === '12.5'`, "bob's balance")
	a.notReloaded()
	b.notReloaded()
	a.shot("A")
	b.shot("B")
}

func mustHash(t *testing.T, s string) blockchain.Hash {
	t.Helper()
	h, err := blockchain.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// waitGo polls a Go condition for up to 30 seconds.
func waitGo(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExplorer clicks from the list of blocks to a block, to its payment
// (whose Merkle proof the page checks with Web Crypto), to the payee's
// address; then searches by height, and draws the charts.
func TestExplorer(t *testing.T) {
	needBrowser(t)
	c := newCluster(t)
	// On A: a payment from alice to bob in block 1 (with two others, so
	// that the proof has a path), then two more blocks.
	alice, bob, carol := wallet("alice"), wallet("bob").Address(), wallet("carol").Address()
	pay, err := c.a.node.Send(alice, bob, 7*blockchain.Coin, 1000)
	must(t, err)
	_, err = c.a.node.Send(alice, carol, blockchain.Coin, 1000)
	must(t, err)
	_, err = c.a.node.Send(alice, carol, blockchain.Coin, 1000)
	must(t, err)
	mineBlocks(t, c.a, wallet("miner").Address(), 3)

	a := openTab(t, "node A", c.a.url())
	a.click("#tab-explorer")
	a.waitJS(`document.querySelector('#blocks-table tr[data-height="1"]') !== null`, "block 1 in the list")
	a.click(`#blocks-table tr[data-height="1"] a[data-testid="block-height-link"]`)
	a.waitJS(`!document.getElementById('block-view').hidden && document.getElementById('block-height').textContent === '1'`, "block 1")
	a.waitJS(`document.querySelectorAll('#block-txs tr').length === 4`, "its four transactions")
	a.click(fmt.Sprintf(`#block-txs tr[data-txid="%s"] a[data-testid="tx-link"]`, pay.ID()))
	a.waitJS(`!document.getElementById('tx-view').hidden`, "the transaction")
	a.waitJS(`document.getElementById('tx-confirmations').textContent === '3'`, "three confirmations")
	a.waitJS(`document.getElementById('merkle-status').dataset.verified === 'true'`, "the proof checked in the page")
	if got := a.text("tx-to"); got != "bob" {
		t.Errorf("payee shown as %q, want bob (A's address book)", got)
	}
	// The page's check is real: a changed path fails it.
	bad := eval[bool](a, `(async () => {
		const tx = await (await fetch('/api/tx/`+pay.ID().String()+`')).json();
		const p = tx.merkle_proof;
		const good = (await verifyMerkleProof(p)).ok;
		p.path[0] = p.path[0].replace(/^./, (c) => c === '0' ? '1' : '0');
		return good && !(await verifyMerkleProof(p)).ok;
	})()`, chromedp.EvalAwaitPromise)
	if !bad {
		t.Error("the page's Merkle check accepted a changed proof, or refused the real one")
	}
	a.shot("tx")

	a.click(`#tx-to a`)
	a.waitJS(`!document.getElementById('address-view').hidden`, "the address")
	if got := a.text("address-text"); got != bob.String() {
		t.Fatalf("address %q", got)
	}
	a.waitJS(fmt.Sprintf(`document.querySelector('#address-history tr[data-txid="%s"]') !== null`, pay.ID()), "the payment in bob's history")
	if got := a.text("address-balance"); got != "7 coins" {
		t.Errorf("bob's balance %q", got)
	}
	a.shot("address")

	a.fill("search-input", "2")
	a.click("#search-button")
	a.waitJS(`!document.getElementById('block-view').hidden && document.getElementById('block-height').textContent === '2'`, "block 2 by search")

	a.click("#tab-charts")
	a.waitJS(`document.querySelectorAll('#chart-intervals rect').length === 3`, "three block intervals drawn")
	a.waitJS(`document.querySelectorAll('#chart-difficulty circle').length === 4`, "four difficulty points")
	a.shot("charts")
}

// TestRefusedPayment sees a wrong passphrase and an overspend refused, each
// with its rule's code shown in the page.
func TestRefusedPayment(t *testing.T) {
	needBrowser(t)
	c := newCluster(t)
	a := openTab(t, "node A", c.a.url())
	a.click("#tab-wallet")
	a.waitJS(`document.getElementById('wallet-name').textContent === 'alice'`, "alice's wallet")
	a.waitJS(`document.getElementById('wallet-balance').textContent === '100'`, "her balance")
	a.fill("unlock-pass", "not her passphrase")
	a.click("#unlock-button")
	a.waitJS(`document.getElementById('unlock-error').textContent.includes('ErrWrongPassphrase')`, "the wrong passphrase refused")
	a.fill("unlock-pass", "alice's passphrase")
	a.click("#unlock-button")
	a.waitJS(`document.getElementById('wallet-lock-state').textContent.startsWith('unlocked')`, "unlocked")
	sendRefused(t, c, a, "250", "ErrInsufficientFunds", 422)
}

// sendRefused pays bob amount on the tab's wallet form and wants the
// refusal's code and HTTP status shown in the page, and nothing pending.
func sendRefused(t *testing.T, c *cluster, a *tab, amount, code string, status int) {
	t.Helper()
	a.fill("send-to", "bob")
	a.fill("send-amount", amount)
	a.click("#send-button")
	a.waitJS(`document.getElementById('send-error').textContent.includes('`+code+`')`, "the refusal "+code)
	if got := a.text("send-error"); !strings.Contains(got, fmt.Sprintf("HTTP %d", status)) {
		t.Errorf("error shown: %q", got)
	}
	if n := c.a.node.Mempool().Len(); n != 0 {
		t.Errorf("mempool holds %d", n)
	}
	a.shot("refused")
}

// TestSpendWithoutToken opens the page without the token: it is read-only,
// and a spend forced through its disabled form is refused by the server.
func TestSpendWithoutToken(t *testing.T) {
	needBrowser(t)
	c := newCluster(t)
	// Unlocked by its owner elsewhere: only the token stands in the way.
	if code := httpStatus(t, c.a.base+"api/status"); code != 200 {
		t.Fatalf("status %d", code)
	}
	a := openTab(t, "node A without the token", c.a.base)
	a.waitJS(`!document.getElementById('readonly-banner').hidden`, "the read-only banner")
	a.click("#tab-wallet")
	a.waitJS(`document.getElementById('wallet-name').textContent === 'alice'`, "alice's wallet, readable")
	if !eval[bool](a, `document.getElementById('send-button').disabled && document.getElementById('mining-toggle').disabled`) {
		t.Fatal("the page without the token lets one spend or mine")
	}
	unlockAlice(t, c)
	// Force the form open, as someone editing the page could.
	a.exec(`document.querySelectorAll('.needs-token').forEach((e) => { e.disabled = false; })`)
	sendRefused(t, c, a, "1", "ErrNoToken", 401)
}

// unlockAlice unlocks alice's wallet on A through the API, with the token.
func unlockAlice(t *testing.T, c *cluster) {
	t.Helper()
	status := postJSON(t, c.a, "api/wallets/alice/unlock", `{"passphrase": "alice's passphrase"}`)
	if status != 200 {
		t.Fatalf("unlock: %d", status)
	}
}

// TestMarkupInName shows an address-book name full of markup as text.
func TestMarkupInName(t *testing.T) {
	needBrowser(t)
	c := newCluster(t)
	name := `<img src=x onerror="window.__xss=1">bob's <b>other</b> wallet`
	must(t, c.a.srv.AddName(name, wallet("dave").Address()))
	a := openTab(t, "node A", c.a.url())
	a.click("#tab-wallet")
	a.waitJS(`document.querySelectorAll('#names-list [data-testid="name-text"]').length === 2`, "the names")
	got := eval[[]string](a, `Array.from(document.querySelectorAll('#names-list [data-testid="name-text"]'), (e) => e.textContent)`)
	if len(got) != 2 || (got[0] != name && got[1] != name) {
		t.Errorf("names shown: %q", got)
	}
	if eval[bool](a, `document.querySelector('#names-list img, #names-list b') !== null || window.__xss === 1`) {
		t.Error("the name's markup was run")
	}
	a.shot("names")
}
