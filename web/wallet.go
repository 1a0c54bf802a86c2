package web

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nakachain/blockchain"
)

// decodeBody reads r's JSON body into v, refusing unknown fields and
// trailing data. It answers 400 or 413 itself and reports false on error.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeBodyError(w, err)
		return false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeBodyError(w, err)
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, codeBadRequest, "malformed request body: more than one JSON value")
		return false
	}
	return true
}

// walletJSON describes one of the node's wallets.
type walletJSON struct {
	Name          string `json:"name"`
	Address       string `json:"address,omitempty"` // empty if not known until first unlocked
	Unlocked      bool   `json:"unlocked"`
	UnlockedUntil int64  `json:"unlocked_until,omitempty"` // Unix nanoseconds
	// Account is the address's balance and pending totals, when the
	// address is known.
	Account *addressJSON `json:"account,omitempty"`
}

func (s *Server) walletInfo(e walletEntry) walletJSON {
	out := walletJSON{Name: e.name}
	if e.unlocked != nil && time.Now().Before(e.until) {
		out.Unlocked, out.UnlockedUntil = true, e.until.UnixNano()
	}
	if e.known {
		out.Address = e.addr.String()
		info := s.addressInfo(e.addr)
		info.Wallet = ""
		out.Account = &info
	}
	return out
}

func (s *Server) getWallets(w http.ResponseWriter, r *http.Request) {
	out := []walletJSON{}
	for _, e := range s.wallets.list() {
		out = append(out, s.walletInfo(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getWallet(w http.ResponseWriter, r *http.Request) {
	e, ok := s.wallets.get(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no wallet "+strconv.Quote(r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, s.walletInfo(e))
}

// unlockFor is how long an unlock asks for: seconds, or the default.
func (s *Server) unlockFor(seconds int64) time.Duration {
	if seconds <= 0 {
		return s.cfg.UnlockFor
	}
	return min(time.Duration(seconds)*time.Second, s.cfg.MaxUnlock)
}

// writeWalletError answers a keystore error with its status.
func writeWalletError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errNoWallet):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case errors.Is(err, errWalletExists):
		writeError(w, http.StatusConflict, codeExists, err.Error())
	case errors.Is(err, errBadWalletName), errors.Is(err, errEmptyPass):
		writeError(w, http.StatusBadRequest, codeBadName, err.Error())
	case errors.Is(err, blockchain.ErrDecrypt):
		writeError(w, http.StatusForbidden, codeWrongPass, "wrong passphrase")
	case errors.Is(err, errLocked):
		writeError(w, http.StatusLocked, codeLocked, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, codeBusy, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	}
}

// createRequest is POST /api/wallets.
type createRequest struct {
	Name       string `json:"name"`
	Passphrase string `json:"passphrase"`
	Seconds    int64  `json:"unlock_seconds"` // how long it stays unlocked; 0: the default
}

func (s *Server) createWallet(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !decodeBody(w, r, &req) {
		return
	}
	e, err := s.wallets.create(r.Context(), req.Name, nil, []byte(req.Passphrase), s.unlockFor(req.Seconds))
	if err != nil {
		writeWalletError(w, err)
		return
	}
	s.log.Info("wallet created", "wallet", e.name, "address", e.addr.String())
	s.publishLocal("wallets", map[string]string{"wallet": e.name})
	writeJSON(w, http.StatusCreated, s.walletInfo(*e))
}

// AddWallet stores w in the node's wallet directory under name, encrypted
// with passphrase, and leaves it locked. Programs that set up a node with
// known wallets (the examples) use it; a person creates wallets through
// the API or the page.
func (s *Server) AddWallet(name string, w *blockchain.Wallet, passphrase []byte) error {
	if w == nil {
		return fmt.Errorf("web: add wallet %s: nil wallet", name)
	}
	e, err := s.wallets.create(context.Background(), name, w, passphrase, time.Hour)
	if err != nil {
		return fmt.Errorf("web: add wallet %s: %w", name, err)
	}
	return s.wallets.lock(e.name)
}

// unlockRequest is POST /api/wallets/{name}/unlock.
type unlockRequest struct {
	Passphrase string `json:"passphrase"`
	Seconds    int64  `json:"seconds"` // 0: Config.UnlockFor; at most Config.MaxUnlock
}

func (s *Server) unlockWallet(w http.ResponseWriter, r *http.Request) {
	var req unlockRequest
	if !decodeBody(w, r, &req) {
		return
	}
	e, err := s.wallets.unlock(r.Context(), r.PathValue("name"), []byte(req.Passphrase), s.unlockFor(req.Seconds))
	if err != nil {
		writeWalletError(w, err)
		return
	}
	s.publishLocal("wallets", map[string]string{"wallet": e.name})
	writeJSON(w, http.StatusOK, s.walletInfo(e))
}

func (s *Server) lockWallet(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.wallets.lock(name); err != nil {
		writeWalletError(w, err)
		return
	}
	e, _ := s.wallets.get(name)
	s.publishLocal("wallets", map[string]string{"wallet": name})
	writeJSON(w, http.StatusOK, s.walletInfo(e))
}

// sendRequest is POST /api/wallets/{name}/send. Give the amount and fee in
// base units (amount, fee) or as coins (amount_coins "1.5", fee_coins);
// the fee defaults to the chain's minimum.
type sendRequest struct {
	To          string  `json:"to"` // an address, or a name in the address book or of a wallet
	Amount      *uint64 `json:"amount"`
	AmountCoins string  `json:"amount_coins"`
	Fee         *uint64 `json:"fee"`
	FeeCoins    string  `json:"fee_coins"`
}

// amountOf reads one amount given in base units or in coins.
func amountOf(units *uint64, coins, what string, def *uint64) (uint64, error) {
	switch {
	case units != nil && coins != "":
		return 0, fmt.Errorf("give %s or %s_coins, not both", what, what)
	case units != nil:
		return *units, nil
	case coins != "":
		return blockchain.ParseCoins(coins)
	case def != nil:
		return *def, nil
	}
	return 0, fmt.Errorf("give %s (base units) or %s_coins", what, what)
}

// resolveRecipient reads a send's "to": an address, or a name.
func (s *Server) resolveRecipient(to string) (blockchain.Address, error) {
	if a, err := blockchain.ParseAddress(to); err == nil {
		return a, nil
	}
	if a, ok := s.resolveName(to); ok {
		return a, nil
	}
	return blockchain.Address{}, fmt.Errorf("%q is neither an address nor a name in the address book", to)
}

func (s *Server) sendFromWallet(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if !decodeBody(w, r, &req) {
		return
	}
	name := r.PathValue("name")
	to, err := s.resolveRecipient(req.To)
	if err != nil {
		if len(req.To) >= 3 && req.To[:3] == blockchain.AddressPrefix+"1" {
			writeError(w, http.StatusBadRequest, codeInvalidAddress, err.Error()+" (a mistyped address fails its checksum)")
		} else {
			writeError(w, http.StatusNotFound, codeNotFound, err.Error())
		}
		return
	}
	amount, err := amountOf(req.Amount, req.AmountCoins, "amount", nil)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadAmount, err.Error())
		return
	}
	minFee := s.chain.Params().MinTxFee
	fee, err := amountOf(req.Fee, req.FeeCoins, "fee", &minFee)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadAmount, err.Error())
		return
	}
	wal, err := s.wallets.wallet(name)
	if err != nil {
		writeWalletError(w, err)
		return
	}
	tx, err := s.node.Send(wal, to, amount, fee)
	if err != nil {
		writeRuleError(w, err)
		return
	}
	raw, _ := tx.MarshalBinary()
	if err := s.pending.add(pendingEntry{Wallet: name, TxID: tx.ID(), Hex: hex.EncodeToString(raw), Time: time.Now().UnixNano()}); err != nil {
		// The payment is in the mempool and announced; only its
		// survival of a restart is lost.
		s.log.Error("pending payments", "err", err)
	}
	s.log.Info("payment sent", "wallet", name, "to", to.String(), "amount", amount, "txid", tx.ID().String())
	writeJSON(w, http.StatusOK, pendingTx(tx))
}

func (s *Server) getNames(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.book.entries())
}

func (s *Server) addName(w http.ResponseWriter, r *http.Request) {
	var req bookEntry
	var raw struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	}
	if !decodeBody(w, r, &raw) {
		return
	}
	a, err := blockchain.ParseAddress(raw.Address)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidAddress, err.Error())
		return
	}
	req = bookEntry{Name: raw.Name, Address: a}
	switch err := s.book.add(req.Name, req.Address); {
	case errors.Is(err, errBadBookName):
		writeError(w, http.StatusBadRequest, codeBadName, err.Error())
	case errors.Is(err, errNameTaken):
		writeError(w, http.StatusConflict, codeExists, err.Error())
	case errors.Is(err, errBookFull):
		writeError(w, http.StatusInsufficientStorage, codeBusy, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	default:
		s.publishLocal("names", map[string]string{"name": req.Name})
		writeJSON(w, http.StatusCreated, req)
	}
}

// AddName adds a name to the node's address book, as POST /api/names
// does: programs that set up a node with known people use it.
func (s *Server) AddName(name string, a blockchain.Address) error {
	if err := s.book.add(name, a); err != nil {
		return fmt.Errorf("web: add name %q: %w", name, err)
	}
	return nil
}

func (s *Server) deleteName(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	switch err := s.book.remove(name); {
	case errors.Is(err, errNoName):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	default:
		s.publishLocal("names", map[string]string{"name": name})
		writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
	}
}

// miningRequest is POST /api/mining.
type miningRequest struct {
	On bool `json:"on"`
	// To, if set, is where the blocks pay: a wallet's name, a name in
	// the address book, or an address.
	To string `json:"to"`
}

// miningJSON is the miner's state.
type miningJSON struct {
	Mining bool   `json:"mining"`
	Miner  string `json:"miner"`
}

// setMinerTo makes the node's blocks pay to, if given.
func (s *Server) setMinerTo(w http.ResponseWriter, to string) bool {
	if to == "" {
		return true
	}
	a, err := s.resolveRecipient(to)
	if err != nil {
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
		return false
	}
	s.node.SetMiner(a)
	s.miner.Store(&a)
	return true
}

func (s *Server) setMining(w http.ResponseWriter, r *http.Request) {
	var req miningRequest
	if !decodeBody(w, r, &req) || !s.setMinerTo(w, req.To) {
		return
	}
	s.node.SetMining(req.On)
	out := miningJSON{Mining: s.node.Mining(), Miner: s.minerAddress().String()}
	s.log.Info("mining", "on", out.Mining, "miner", out.Miner)
	s.publishLocal("mining", out)
	writeJSON(w, http.StatusOK, out)
}

// mineRequest is POST /api/mine: mine blocks now, one after another.
type mineRequest struct {
	Blocks int    `json:"blocks"` // 1 to 100; 0 means 1
	To     string `json:"to"`     // as in POST /api/mining
}

// minedJSON is one block POST /api/mine mined.
type minedJSON struct {
	Hash   blockchain.Hash `json:"hash"`
	Height uint64          `json:"height"`
	Status string          `json:"status"` // what adding it did: main-chain, side-chain…
}

func (s *Server) mineBlocks(w http.ResponseWriter, r *http.Request) {
	var req mineRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Blocks < 0 || req.Blocks > mineMax {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("blocks must be between 1 and %d", mineMax))
		return
	}
	if !s.setMinerTo(w, req.To) {
		return
	}
	out := []minedJSON{}
	for range max(req.Blocks, 1) {
		b, res, err := s.node.MineBlock(r.Context())
		if err != nil && b == nil {
			writeError(w, http.StatusServiceUnavailable, codeBusy, "mining stopped: "+err.Error())
			return
		}
		out = append(out, minedJSON{Hash: b.Hash(), Height: b.Header.Height, Status: res.Status.String()})
	}
	writeJSON(w, http.StatusOK, out)
}

// minerAddress is where the node's blocks pay, as far as the server knows.
func (s *Server) minerAddress() blockchain.Address {
	if a := s.miner.Load(); a != nil {
		return *a
	}
	return blockchain.Address{}
}
