package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/nakachain/blockchain"
)

// The client commands talk to a node's web API (node -web) with the
// standard library's HTTP client. These are the parts of its answers they
// show; -json prints an answer whole.

// statusAnswer is GET /api/status.
type statusAnswer struct {
	NodeID     string    `json:"node_id"`
	Network    string    `json:"network"`
	ChainID    string    `json:"chain_id"`
	Tip        tipAnswer `json:"tip"`
	BestHeader tipAnswer `json:"best_header"`
	Sync       struct {
		Progress     float64 `json:"progress"`
		Synced       bool    `json:"synced"`
		BlocksBehind uint64  `json:"blocks_behind"`
	} `json:"sync"`
	Peers           int     `json:"peers"`
	Mempool         int     `json:"mempool"`
	Mining          bool    `json:"mining"`
	Miner           string  `json:"miner"`
	HashRate        float64 `json:"hash_rate"`
	BlocksMined     uint64  `json:"blocks_mined"`
	Indexed         bool    `json:"indexed"`
	TargetBlockTime int64   `json:"target_block_time_ms"`
	BlockReward     uint64  `json:"block_reward"`
	MinFee          uint64  `json:"min_fee"`
}

type tipAnswer struct {
	Hash   string `json:"hash"`
	Height uint64 `json:"height"`
	Time   int64  `json:"time"`
}

// addressAnswer is GET /api/address/{addr}.
type addressAnswer struct {
	Address   string `json:"address"`
	Name      string `json:"name"`
	Wallet    string `json:"wallet"`
	Confirmed struct {
		Balance uint64 `json:"balance"`
		Nonce   uint64 `json:"nonce"`
		TxCount *int   `json:"tx_count"`
	} `json:"confirmed"`
	Pending struct {
		TxCount  int    `json:"tx_count"`
		Received uint64 `json:"received"`
		Sent     uint64 `json:"sent"`
	} `json:"pending"`
	NextNonce uint64 `json:"next_nonce"`
	Available uint64 `json:"available"`
}

// txAnswer is a transaction: GET /api/tx/{id}, the answer of a send.
type txAnswer struct {
	TxID        string `json:"txid"`
	Coinbase    bool   `json:"coinbase"`
	FromAddress string `json:"from_address"`
	To          string `json:"to"`
	Amount      uint64 `json:"amount"`
	Fee         uint64 `json:"fee"`
	Nonce       uint64 `json:"nonce"`
	Status      *struct {
		Confirmed     bool    `json:"confirmed"`
		InMempool     bool    `json:"in_mempool"`
		BlockHash     string  `json:"block_hash"`
		BlockHeight   *uint64 `json:"block_height"`
		BlockTime     int64   `json:"block_time"`
		Index         *int    `json:"index"`
		Confirmations uint64  `json:"confirmations"`
	} `json:"status"`
}

// blockAnswer is GET /api/block/{hash} and /api/block-height/{h}.
type blockAnswer struct {
	ID            string  `json:"id"`
	Height        uint64  `json:"height"`
	Time          int64   `json:"time"`
	TxCount       int     `json:"tx_count"`
	Size          int     `json:"size"`
	Previous      string  `json:"previousblockhash"`
	Next          string  `json:"nextblockhash"`
	Nonce         uint64  `json:"nonce"`
	ZeroBits      int     `json:"zero_bits"`
	Difficulty    float64 `json:"difficulty"`
	InBestChain   bool    `json:"in_best_chain"`
	Confirmations uint64  `json:"confirmations"`
	Miner         string  `json:"miner"`
	Reward        uint64  `json:"reward"`
	Fees          uint64  `json:"fees"`
}

// walletAnswer is one of the node's wallets.
type walletAnswer struct {
	Name          string `json:"name"`
	Address       string `json:"address"`
	Unlocked      bool   `json:"unlocked"`
	UnlockedUntil int64  `json:"unlocked_until"`
}

// miningAnswer is POST /api/mining.
type miningAnswer struct {
	Mining bool   `json:"mining"`
	Miner  string `json:"miner"`
}

// searchAnswer is GET /api/search.
type searchAnswer struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// clientCommand holds what every client command sets up: its flags and,
// once they are parsed, the API client.
type clientCommand struct {
	e   *env
	fl  *flagSet
	api apiFlags
	c   *apiClient
}

func newClientCommand(e *env, path, synopsis, about string, withToken bool) *clientCommand {
	cc := &clientCommand{e: e, fl: newFlagSet(e, path, synopsis, about)}
	cc.api.register(cc.fl, withToken)
	return cc
}

// parse parses args, which hold the flags and one argument for each of
// names, checks the flags and makes the client.
func (cc *clientCommand) parse(args []string, names ...string) ([]string, error) {
	pos, err := cc.fl.parseArgs(args, names...)
	if err != nil {
		return nil, err
	}
	if err := cc.api.check(cc.fl); err != nil {
		return nil, err
	}
	return pos, nil
}

// connect makes the API client; call it after every check of the
// command line, so that a bad one is reported first.
func (cc *clientCommand) connect() error {
	c, err := cc.api.client(cc.fl)
	cc.c = c
	return err
}

// show prints an answer: as it came with -json (a refusal's too), as text
// written by text otherwise. err is the request's error.
func (cc *clientCommand) show(data []byte, err error, text func(w io.Writer)) error {
	var ae *apiError
	if cc.api.json && len(data) > 0 && (err == nil || errors.As(err, &ae)) {
		cc.e.stdout.Write(data)
		if data[len(data)-1] != '\n' {
			io.WriteString(cc.e.stdout, "\n")
		}
	}
	if err != nil {
		return err
	}
	if !cc.api.json {
		text(cc.e.stdout)
	}
	return nil
}

const statusAbout = `
Shows the status of a node that serves its web API (nakachain node -web):
its chain and tip, how far it is synced, its peers, mempool and miner. It
finds the API through DATADIR/web-url, or at -api URL.`

// runStatus is "nakachain status".
func runStatus(ctx context.Context, e *env, path string, args []string) error {
	cc := newClientCommand(e, path, "[flags]", statusAbout, false)
	if _, err := cc.parse(args); err != nil {
		return err
	}
	if err := cc.connect(); err != nil {
		return err
	}
	var st statusAnswer
	data, err := cc.c.get(ctx, "/api/status", &st)
	return cc.show(data, err, func(w io.Writer) { writeStatus(w, st, time.Now()) })
}

func writeStatus(w io.Writer, st statusAnswer, now time.Time) {
	var f fields
	f.add("Network", "%s (chain %s)", st.Network, truncate(st.ChainID, 16))
	f.add("Node", "%s", st.NodeID)
	f.add("Tip", "height %s, %s, %s", commas(st.Tip.Height), st.Tip.Hash, when(st.Tip.Time, now))
	switch {
	case st.Sync.Synced && st.Peers == 0:
		f.add("Sync", "no peers")
	case st.Sync.Synced:
		f.add("Sync", "synced")
	default:
		f.add("Sync", "%.1f%%, %s blocks behind its best header (height %s)",
			100*st.Sync.Progress, commas(st.Sync.BlocksBehind), commas(st.BestHeader.Height))
	}
	f.add("Peers", "%d", st.Peers)
	f.add("Mempool", "%s", plural(st.Mempool, "transaction"))
	miner := st.Miner
	if isZeroAddress(miner) {
		miner = "no address"
	}
	if st.Mining {
		f.add("Mining", "on, %s, paying %s; %s mined", hashRate(st.HashRate), miner, plural(int(st.BlocksMined), "block"))
	} else {
		f.add("Mining", "off (blocks would pay %s); %s mined", miner, plural(int(st.BlocksMined), "block"))
	}
	f.add("Rules", "a block every %v, reward %s, minimum fee %s",
		time.Duration(st.TargetBlockTime)*time.Millisecond, coins(st.BlockReward), coins(st.MinFee))
	if st.Indexed {
		f.add("Addresses", "indexed (address histories)")
	} else {
		f.add("Addresses", "not indexed")
	}
	f.write(w)
}

const balanceAbout = `
Shows the balance of an address, or of a name the node knows (one of its
wallets, or a name in its address book): the confirmed balance and nonce,
what pending transactions pay in and out, and what is available after
them. Amounts are in coins.`

// runBalance is "nakachain balance".
func runBalance(ctx context.Context, e *env, path string, args []string) error {
	cc := newClientCommand(e, path, "ADDR|NAME [flags]", balanceAbout, false)
	pos, err := cc.parse(args, "ADDR|NAME")
	if err != nil {
		return err
	}
	who := pos[0]
	addr, isAddr, err := addressOrName(who)
	if err != nil {
		return cc.fl.usageErrorf("%v", err)
	}
	if err := cc.connect(); err != nil {
		return err
	}
	if !isAddr {
		if addr, err = cc.resolve(ctx, who); err != nil {
			return err
		}
	}
	var acct addressAnswer
	data, err := cc.c.get(ctx, "/api/address/"+addr.String(), &acct)
	return cc.show(data, err, func(w io.Writer) { writeBalance(w, acct) })
}

// addressOrName reads an ADDR|NAME argument: an address (isAddr), or a
// name to look up at the node. A mistyped address is an error.
func addressOrName(s string) (addr blockchain.Address, isAddr bool, err error) {
	if a, err := blockchain.ParseAddress(s); err == nil {
		return a, true, nil
	} else if strings.HasPrefix(s, blockchain.AddressPrefix+"1") && len(s) > 20 {
		return addr, false, fmt.Errorf("%q is not a valid address: %s", s, addressReason(s, err))
	}
	if err := checkName(s); err != nil {
		return addr, false, err
	}
	return addr, false, nil
}

// checkName checks a name of a wallet or in the address book: 1 to 64
// characters, no control characters.
func checkName(s string) error {
	if s == "" || len([]rune(s)) > 64 || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("%q is neither an address (nk1…) nor a name (1 to 64 characters, no control characters)", s)
	}
	return nil
}

// resolve looks a name up at the node: a wallet's or one in its address
// book.
func (cc *clientCommand) resolve(ctx context.Context, name string) (blockchain.Address, error) {
	var found searchAnswer
	_, err := cc.c.get(ctx, "/api/search?q="+url.QueryEscape(name), &found)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusNotFound {
		return blockchain.Address{}, fmt.Errorf("the node knows no wallet or name %q", name)
	}
	if err != nil {
		return blockchain.Address{}, err
	}
	if found.Kind != "address" {
		return blockchain.Address{}, fmt.Errorf("%q is a %s at the node, not an address or a name", name, found.Kind)
	}
	a, err := blockchain.ParseAddress(found.ID)
	if err != nil {
		return a, fmt.Errorf("the node resolved %q to %q: %w", name, found.ID, err)
	}
	return a, nil
}

func writeBalance(w io.Writer, a addressAnswer) {
	var f fields
	who := a.Address
	switch {
	case a.Wallet != "":
		who += " (wallet " + a.Wallet + ")"
	case a.Name != "":
		who += " (" + a.Name + ")"
	}
	f.add("Address", "%s", who)
	confirmed := fmt.Sprintf("%s confirmed, nonce %d", coins(a.Confirmed.Balance), a.Confirmed.Nonce)
	if a.Confirmed.TxCount != nil {
		confirmed += ", " + plural(*a.Confirmed.TxCount, "transaction")
	}
	f.add("Balance", "%s", confirmed)
	if a.Pending.TxCount > 0 {
		f.add("Pending", "%s: +%s in, -%s out (amounts and fees)",
			plural(a.Pending.TxCount, "transaction"), coins(a.Pending.Received), coins(a.Pending.Sent))
	}
	f.add("Available", "%s", coins(a.Available))
	f.write(w)
}

const sendAbout = `
Pays from one of the node's wallets, which must be unlocked (nakachain
wallet unlock): the node signs the payment with the wallet's next nonce and
submits it to its mempool and its peers. -to is an address, or a name the
node knows (one of its wallets, or a name in its address book). Amounts are
in coins, up to eight decimals ("1.5", "0.0001").

It needs the API token (see -token-file). It prints the payment and its
transaction ID; 'nakachain tx ID' shows whether it is confirmed. A payment
the chain's rules refuse (more than the wallet has, a fee below the
minimum) prints the rule's code, such as ErrInsufficientFunds, and exits
with status 1.`

// runSend is "nakachain send".
func runSend(ctx context.Context, e *env, path string, args []string) error {
	cc := newClientCommand(e, path, "-to NAME|ADDR -amount COINS [flags]", sendAbout, true)
	var to, amount, fee, from string
	cc.fl.StringVar(&to, "to", "", "pay the address or name `NAME|ADDR` (required)")
	cc.fl.StringVar(&amount, "amount", "", "pay `COINS` (required), such as 1.5")
	cc.fl.StringVar(&fee, "fee", "", "pay a fee of `COINS` to the block's miner; none means the chain's minimum fee")
	cc.fl.StringVar(&from, "from", "",
		"pay from the node's wallet `WALLET`; none means its only unlocked wallet")
	if _, err := cc.parse(args); err != nil {
		return err
	}
	var req struct {
		To     string  `json:"to"`
		Amount uint64  `json:"amount"`
		Fee    *uint64 `json:"fee,omitempty"`
	}
	switch {
	case to == "":
		return cc.fl.usageErrorf("-to is required: the address or name to pay")
	case amount == "":
		return cc.fl.usageErrorf("-amount is required: how many coins to pay")
	}
	if _, _, err := addressOrName(to); err != nil {
		return cc.fl.usageErrorf("-to: %v", err)
	}
	req.To = to
	var err error
	if req.Amount, err = blockchain.ParseCoins(amount); err != nil {
		return cc.fl.usageErrorf("-amount %q: not an amount of coins (such as 1.5, at most eight decimals)", amount)
	}
	if fee != "" {
		f, err := blockchain.ParseCoins(fee)
		if err != nil {
			return cc.fl.usageErrorf("-fee %q: not an amount of coins (such as 0.0001, at most eight decimals)", fee)
		}
		req.Fee = &f
	}
	if from != "" {
		if err := checkWalletName(from); err != nil {
			return cc.fl.usageErrorf("-from: %v", err)
		}
	}
	if err := cc.connect(); err != nil {
		return err
	}
	if from == "" {
		if from, err = cc.onlyUnlockedWallet(ctx); err != nil {
			return err
		}
	}
	var tx txAnswer
	data, err := cc.c.call(ctx, http.MethodPost, "/api/wallets/"+from+"/send", req, &tx)
	return cc.show(data, err, func(w io.Writer) {
		var f fields
		recipient := tx.To
		if to != tx.To {
			recipient += " (" + to + ")"
		}
		f.add("Sent", "%s to %s", coins(tx.Amount), recipient)
		f.add("From", "wallet %s (%s), nonce %d", from, tx.FromAddress, tx.Nonce)
		f.add("Fee", "%s", coins(tx.Fee))
		f.add("Transaction", "%s, in the mempool", tx.TxID)
		f.write(w)
	})
}

// onlyUnlockedWallet returns the name of the node's one unlocked wallet.
func (cc *clientCommand) onlyUnlockedWallet(ctx context.Context) (string, error) {
	var ws []walletAnswer
	if _, err := cc.c.get(ctx, "/api/wallets", &ws); err != nil {
		return "", err
	}
	var unlocked []string
	for _, w := range ws {
		if w.Unlocked {
			unlocked = append(unlocked, w.Name)
		}
	}
	switch len(unlocked) {
	case 1:
		return unlocked[0], nil
	case 0:
		return "", errors.New("the node has no unlocked wallet: unlock one (nakachain wallet unlock -name NAME), or give -from WALLET")
	}
	return "", fmt.Errorf("give -from WALLET: the node has %d unlocked wallets (%s)", len(unlocked), strings.Join(unlocked, ", "))
}

const txAbout = `
Shows a transaction by its ID: where it is (confirmed in a block of the
main chain, with its confirmations, or pending in the mempool), who sent
it, who it pays, the amount and the fee, in coins.`

// runTx is "nakachain tx".
func runTx(ctx context.Context, e *env, path string, args []string) error {
	cc := newClientCommand(e, path, "ID [flags]", txAbout, false)
	pos, err := cc.parse(args, "ID")
	if err != nil {
		return err
	}
	id, err := blockchain.ParseHash(strings.ToLower(pos[0]))
	if err != nil {
		return cc.fl.usageErrorf("%q is not a transaction ID (64 hex digits)", pos[0])
	}
	if err := cc.connect(); err != nil {
		return err
	}
	var tx txAnswer
	data, err := cc.c.get(ctx, "/api/tx/"+id.String(), &tx)
	return cc.show(data, err, func(w io.Writer) { writeTx(w, tx, time.Now()) })
}

func writeTx(w io.Writer, tx txAnswer, now time.Time) {
	var f fields
	f.add("Transaction", "%s", tx.TxID)
	switch s := tx.Status; {
	case s == nil:
	case s.Confirmed && s.BlockHeight != nil:
		f.add("Status", "confirmed at height %s, %s, %s", commas(*s.BlockHeight),
			plural(int(s.Confirmations), "confirmation"), when(s.BlockTime, now))
		f.add("Block", "%s", s.BlockHash)
	case s.InMempool:
		f.add("Status", "pending in the mempool")
	}
	if tx.Coinbase {
		f.add("From", "none: a coinbase, the block's reward and fees")
	} else {
		f.add("From", "%s", tx.FromAddress)
	}
	f.add("To", "%s", tx.To)
	f.add("Amount", "%s", coins(tx.Amount))
	if !tx.Coinbase {
		f.add("Fee", "%s", coins(tx.Fee))
	}
	f.add("Nonce", "%d", tx.Nonce)
	f.write(w)
}

const blockAbout = `
Shows a block by its hash or by its height on the main chain: its time,
transactions, miner, reward and fees (in coins), difficulty, confirmations
and neighbours.`

// runBlock is "nakachain block".
func runBlock(ctx context.Context, e *env, path string, args []string) error {
	cc := newClientCommand(e, path, "HASH|HEIGHT [flags]", blockAbout, false)
	pos, err := cc.parse(args, "HASH|HEIGHT")
	if err != nil {
		return err
	}
	var endpoint string
	if h, err := strconv.ParseUint(pos[0], 10, 64); err == nil && len(pos[0]) < 64 {
		endpoint = "/api/block-height/" + strconv.FormatUint(h, 10)
	} else if hash, err := blockchain.ParseHash(strings.ToLower(pos[0])); err == nil {
		endpoint = "/api/block/" + hash.String()
	} else {
		return cc.fl.usageErrorf("%q is neither a block hash (64 hex digits) nor a height", pos[0])
	}
	if err := cc.connect(); err != nil {
		return err
	}
	var b blockAnswer
	data, err := cc.c.get(ctx, endpoint, &b)
	return cc.show(data, err, func(w io.Writer) { writeBlock(w, b, time.Now()) })
}

func writeBlock(w io.Writer, b blockAnswer, now time.Time) {
	var f fields
	f.add("Block", "%s", b.ID)
	if b.InBestChain {
		f.add("Height", "%s, %s", commas(b.Height), plural(int(b.Confirmations), "confirmation"))
	} else {
		f.add("Height", "%s, not on the main chain", commas(b.Height))
	}
	f.add("Time", "%s", when(b.Time, now))
	f.add("Transactions", "%d (%s bytes)", b.TxCount, commas(uint64(b.Size)))
	if b.Miner != "" {
		f.add("Miner", "%s", b.Miner)
		f.add("Reward", "%s, of which fees %s", coins(b.Reward), coins(b.Fees))
	}
	f.add("Difficulty", "%d zero bits, about %.0f hashes a block", b.ZeroBits, b.Difficulty)
	f.add("Nonce", "%d", b.Nonce)
	f.add("Previous", "%s", b.Previous)
	if b.Next != "" {
		f.add("Next", "%s", b.Next)
	}
	f.write(w)
}

const mineAbout = `
Switches the node's miner on or off. With -to, the blocks pay that wallet,
name or address from now on. It needs the API token (see -token-file).`

// runMine is "nakachain mine".
func runMine(ctx context.Context, e *env, path string, args []string) error {
	cc := newClientCommand(e, path, "on|off [flags]", mineAbout, true)
	var to string
	cc.fl.StringVar(&to, "to", "",
		"pay the blocks to the wallet, name or address `NAME|ADDR`; none means the address the node pays now")
	pos, err := cc.parse(args, "on|off")
	if err != nil {
		return err
	}
	var req struct {
		On bool   `json:"on"`
		To string `json:"to,omitempty"`
	}
	switch pos[0] {
	case "on":
		req.On = true
	case "off":
	default:
		return cc.fl.usageErrorf("%q: say on or off", pos[0])
	}
	if to != "" {
		if _, _, err := addressOrName(to); err != nil {
			return cc.fl.usageErrorf("-to: %v", err)
		}
	}
	req.To = to
	if err := cc.connect(); err != nil {
		return err
	}
	if req.On && to == "" {
		var st statusAnswer
		if _, err := cc.c.get(ctx, "/api/status", &st); err != nil {
			return err
		}
		if isZeroAddress(st.Miner) {
			return errors.New("the node has no address to pay its blocks to: give -to WALLET|NAME|ADDR")
		}
	}
	var m miningAnswer
	data, err := cc.c.call(ctx, http.MethodPost, "/api/mining", req, &m)
	return cc.show(data, err, func(w io.Writer) {
		if m.Mining {
			fmt.Fprintf(w, "Mining on, paying %s\n", m.Miner)
		} else {
			fmt.Fprintln(w, "Mining off")
		}
	})
}

const walletUnlockAbout = `
Unlocks one of the node's wallets for a while (-for): the node decrypts its
key file with the passphrase and keeps the key in memory, so that 'nakachain
send' and the web page can pay from it without the passphrase. The
passphrase is read from the terminal without echo, or from -passphrase-file
or -passphrase-env, and sent to the node's API with the API token (see
-token-file); keep the API on loopback, as the passphrase travels in it.

The node reads DATADIR/wallets when it starts: a wallet made with 'nakachain
wallet new' while the node runs is unknown to it until it restarts.`

// maxUnlock is the longest unlock the web server grants by default.
const maxUnlock = 24 * time.Hour

// runWalletUnlock is "nakachain wallet unlock".
func runWalletUnlock(ctx context.Context, e *env, path string, args []string) error {
	cc := newClientCommand(e, path, "-name NAME [flags]", walletUnlockAbout, true)
	var name string
	var d time.Duration
	var pass passphraseFlags
	cc.fl.StringVar(&name, "name", "", "the wallet's `NAME` (required)")
	cc.fl.DurationVar(&d, "for", 0,
		"keep the wallet unlocked for `DURATION` (whole seconds, at most 24h); 0 means the node's default, 15 minutes")
	pass.register(cc.fl)
	if _, err := cc.parse(args); err != nil {
		return err
	}
	switch {
	case name == "":
		return cc.fl.usageErrorf("-name is required")
	case d < 0 || d > maxUnlock:
		return cc.fl.usageErrorf("-for must be from 0 to %v, not %v", maxUnlock, d)
	}
	if err := checkWalletName(name); err != nil {
		return cc.fl.usageErrorf("%v", err)
	}
	if err := pass.check(cc.fl); err != nil {
		return err
	}
	if err := cc.connect(); err != nil {
		return err
	}
	// The wallet must be there before the passphrase is asked for.
	if _, err := cc.c.get(ctx, "/api/wallets/"+name, nil); err != nil {
		return cc.explainNoWallet(err, name)
	}
	passphrase, err := pass.read(e, cc.fl, "the node's wallet "+name, false)
	if err != nil {
		return err
	}
	req := struct {
		Passphrase string `json:"passphrase"`
		Seconds    int64  `json:"seconds,omitempty"`
	}{Passphrase: string(passphrase), Seconds: int64((d + time.Second - 1) / time.Second)}
	var wa walletAnswer
	data, err := cc.c.call(ctx, http.MethodPost, "/api/wallets/"+name+"/unlock", req, &wa)
	return cc.show(data, err, func(w io.Writer) {
		until := time.Unix(0, wa.UnlockedUntil)
		fmt.Fprintf(w, "Wallet %s (%s) is unlocked until %s (for %v)\n",
			wa.Name, wa.Address, until.Format("2006-01-02 15:04:05 MST"), time.Until(until).Round(time.Second))
	})
}

// explainNoWallet adds to a 404 for a wallet why the node may not know a
// wallet whose key file is in its data directory.
func (cc *clientCommand) explainNoWallet(err error, name string) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != http.StatusNotFound || cc.c.from == "-api" {
		return err
	}
	keyFile := filepath.Join(walletsDir(cc.api.datadir), name+keySuffix)
	if _, serr := os.Stat(keyFile); serr == nil {
		ae.hint = fmt.Sprintf("%s exists, but the node reads its wallets when it starts: restart it", keyFile)
	} else {
		ae.hint = "make it with nakachain wallet new -name " + name + ", or in the node's page"
	}
	return err
}

const walletLockAbout = `
Locks one of the node's wallets: the node forgets its decrypted key at
once, and paying from it needs 'nakachain wallet unlock' again. It needs the
API token (see -token-file).`

// runWalletLock is "nakachain wallet lock".
func runWalletLock(ctx context.Context, e *env, path string, args []string) error {
	cc := newClientCommand(e, path, "-name NAME [flags]", walletLockAbout, true)
	var name string
	cc.fl.StringVar(&name, "name", "", "the wallet's `NAME` (required)")
	if _, err := cc.parse(args); err != nil {
		return err
	}
	if name == "" {
		return cc.fl.usageErrorf("-name is required")
	}
	if err := checkWalletName(name); err != nil {
		return cc.fl.usageErrorf("%v", err)
	}
	if err := cc.connect(); err != nil {
		return err
	}
	var wa walletAnswer
	data, err := cc.c.call(ctx, http.MethodPost, "/api/wallets/"+name+"/lock", nil, &wa)
	if err != nil {
		err = cc.explainNoWallet(err, name)
	}
	return cc.show(data, err, func(w io.Writer) {
		fmt.Fprintf(w, "Wallet %s (%s) is locked\n", wa.Name, wa.Address)
	})
}

// isZeroAddress reports whether the API wrote the zero address: no
// miner set.
func isZeroAddress(s string) bool { return s == blockchain.Address{}.String() }

// fields are lines "Label:  value", the values aligned.
type fields struct{ rows [][2]string }

func (f *fields) add(label, format string, args ...any) {
	f.rows = append(f.rows, [2]string{label + ":", fmt.Sprintf(format, args...)})
}

func (f *fields) write(w io.Writer) {
	width := 0
	for _, r := range f.rows {
		width = max(width, len(r[0]))
	}
	for _, r := range f.rows {
		fmt.Fprintf(w, "%-*s  %s\n", width, r[0], r[1])
	}
}

// coins writes an amount of base units in coins.
func coins(v uint64) string { return blockchain.FormatCoins(v) + " coins" }

// plural writes n things, in the singular for one.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return commas(uint64(max(n, 0))) + " " + thing + "s"
}

// when writes a time given in Unix nanoseconds, and how long ago it was.
func when(ns int64, now time.Time) string {
	t := time.Unix(0, ns)
	s := t.Format("2006-01-02 15:04:05 MST")
	if d := now.Sub(t).Round(time.Second); d >= 0 {
		return s + " (" + d.String() + " ago)"
	}
	return s + " (in the future)"
}
