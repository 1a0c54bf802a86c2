package web

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nakachain/blockchain"
)

// Page sizes and bounds of the list endpoints.
const (
	blocksPage     = 25  // /api/blocks, /api/block/{hash}/txs
	historyPage    = 25  // /api/address/{addr}/txs default
	historyMax     = 100 // its largest limit
	mempoolDefault = 100 // /api/mempool's transactions by default
	mempoolMax     = 1000
	chartDefault   = 60 // /api/charts blocks by default
	chartMax       = 500
	mineMax        = 100 // blocks one POST /api/mine may ask for
)

func (s *Server) routes() {
	m := http.NewServeMux()
	// Reads.
	m.HandleFunc("GET /api/status", s.getStatus)
	m.HandleFunc("GET /api/blocks", s.getBlocks)
	m.HandleFunc("GET /api/block/{hash}", s.getBlock)
	m.HandleFunc("GET /api/block/{hash}/txs", s.getBlockTxs)
	m.HandleFunc("GET /api/block/{hash}/txs/{start}", s.getBlockTxs)
	m.HandleFunc("GET /api/block-height/{height}", s.getBlockHeight)
	m.HandleFunc("GET /api/tx/{id}", s.getTx)
	m.HandleFunc("GET /api/address/{addr}", s.getAddress)
	m.HandleFunc("GET /api/address/{addr}/txs", s.getAddressTxs)
	m.HandleFunc("GET /api/mempool", s.getMempool)
	m.HandleFunc("GET /api/peers", s.getPeers)
	m.HandleFunc("GET /api/charts", s.getCharts)
	m.HandleFunc("GET /api/search", s.getSearch)
	m.HandleFunc("GET /api/events", s.getEvents)
	m.HandleFunc("GET /api/wallets", s.getWallets)
	m.HandleFunc("GET /api/wallets/{name}", s.getWallet)
	m.HandleFunc("GET /api/names", s.getNames)
	// A transaction its sender signed: no token.
	m.HandleFunc("POST /api/tx", s.postTx)
	// The node's wallet, address book and miner: the token.
	m.HandleFunc("POST /api/wallets", s.withToken(s.createWallet))
	m.HandleFunc("POST /api/wallets/{name}/unlock", s.withToken(s.unlockWallet))
	m.HandleFunc("POST /api/wallets/{name}/lock", s.withToken(s.lockWallet))
	m.HandleFunc("POST /api/wallets/{name}/send", s.withToken(s.sendFromWallet))
	m.HandleFunc("POST /api/names", s.withToken(s.addName))
	m.HandleFunc("DELETE /api/names/{name}", s.withToken(s.deleteName))
	m.HandleFunc("POST /api/mining", s.withToken(s.setMining))
	m.HandleFunc("POST /api/mine", s.withToken(s.mineBlocks))
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	// The page.
	m.HandleFunc("GET /{$}", s.serveIndex)
	m.HandleFunc("GET /static/{file}", s.serveStatic)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such page")
	})
	s.mux = m
}

// statusJSON is GET /api/status.
type statusJSON struct {
	NodeID          string   `json:"node_id"`
	Network         string   `json:"network"`
	ChainID         string   `json:"chain_id"`
	Tip             tipJSON  `json:"tip"`
	BestHeader      tipJSON  `json:"best_header"`
	Sync            syncJSON `json:"sync"`
	Peers           int      `json:"peers"`
	Mempool         int      `json:"mempool"`
	Mining          bool     `json:"mining"`
	Miner           string   `json:"miner"`
	Hashes          uint64   `json:"hashes"`
	HashRate        float64  `json:"hash_rate"` // hashes a second, over the last seconds
	BlocksMined     uint64   `json:"blocks_mined"`
	Indexed         bool     `json:"indexed"` // the chain indexes addresses
	TargetBlockTime int64    `json:"target_block_time_ms"`
	BlockReward     uint64   `json:"block_reward"`
	MinFee          uint64   `json:"min_fee"`
	MinFeeCoins     string   `json:"min_fee_coins"`
	Time            int64    `json:"time"` // the server's clock, Unix nanoseconds
}

// syncJSON says how far the node's blocks are behind its best header.
type syncJSON struct {
	Progress     float64 `json:"progress"` // tip height over best header height, 0 to 1
	Synced       bool    `json:"synced"`
	BlocksBehind uint64  `json:"blocks_behind"`
}

func (s *Server) status() statusJSON {
	st := s.node.Status()
	p := s.chain.Params()
	out := statusJSON{
		NodeID: string(s.node.ID()), Network: p.Name, ChainID: s.chain.ChainID().String(),
		Tip: tipOf(st.Tip), BestHeader: tipOf(st.BestHeader),
		Peers: st.Peers, Mempool: st.Mempool, Mining: st.Mining, Miner: s.minerAddress().String(),
		Hashes: st.Hashes, HashRate: s.rates.current(time.Now(), st.Hashes), BlocksMined: st.BlocksMined,
		Indexed:         s.indexed(),
		TargetBlockTime: p.TargetBlockTime.Milliseconds(), BlockReward: p.Reward(st.Tip.Height + 1),
		MinFee: p.MinTxFee, MinFeeCoins: blockchain.FormatCoins(p.MinTxFee),
		Time: time.Now().UnixNano(),
	}
	out.Sync = syncJSON{Progress: 1, Synced: true}
	if st.BestHeader.Height > st.Tip.Height {
		out.Sync = syncJSON{
			Progress:     float64(st.Tip.Height) / float64(st.BestHeader.Height),
			BlocksBehind: st.BestHeader.Height - st.Tip.Height,
		}
	}
	return out
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.status())
}

// indexed reports whether the chain indexes addresses.
func (s *Server) indexed() bool { return s.chain.IndexesAddresses() }

// uintParam reads a query parameter as an unsigned integer, def if
// absent.
func uintParam(r *http.Request, name string, def uint64) (uint64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

func (s *Server) getBlocks(w http.ResponseWriter, r *http.Request) {
	tip := s.chain.Height()
	start, ok := uintParam(r, "start_height", tip)
	if !ok {
		writeError(w, http.StatusBadRequest, codeBadRequest, "start_height must be a height")
		return
	}
	start = min(start, tip)
	out := make([]blockJSON, 0, blocksPage)
	for h := start; len(out) < blocksPage; h-- {
		if b, ok := s.chain.BlockByHeight(h); ok {
			out = append(out, s.blockSummary(b))
		}
		if h == 0 {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// pathHash parses the path value name as a hash, answering 400 if it is
// not one.
func pathHash(w http.ResponseWriter, r *http.Request, name string) (blockchain.Hash, bool) {
	h, err := blockchain.ParseHash(r.PathValue(name))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidHash, err.Error())
		return h, false
	}
	return h, true
}

func (s *Server) getBlock(w http.ResponseWriter, r *http.Request) {
	h, ok := pathHash(w, r, "hash")
	if !ok {
		return
	}
	b, ok := s.chain.BlockByHash(h)
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no block "+h.String())
		return
	}
	writeJSON(w, http.StatusOK, s.blockSummary(b))
}

func (s *Server) getBlockHeight(w http.ResponseWriter, r *http.Request) {
	height, err := strconv.ParseUint(r.PathValue("height"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "not a height: "+strconv.Quote(r.PathValue("height")))
		return
	}
	b, ok := s.chain.BlockByHeight(height)
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no block at height "+strconv.FormatUint(height, 10))
		return
	}
	writeJSON(w, http.StatusOK, s.blockSummary(b))
}

func (s *Server) getBlockTxs(w http.ResponseWriter, r *http.Request) {
	h, ok := pathHash(w, r, "hash")
	if !ok {
		return
	}
	start := uint64(0)
	if v := r.PathValue("start"); v != "" {
		var err error
		if start, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "start index must be a number")
			return
		}
	}
	b, ok := s.chain.BlockByHash(h)
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no block "+h.String())
		return
	}
	if start > 0 && start >= uint64(len(b.Transactions)) {
		writeError(w, http.StatusNotFound, codeNotFound, "the block has no transaction at index "+strconv.FormatUint(start, 10))
		return
	}
	var confs uint64
	if s.chain.OnMainChain(h) {
		confs = s.chain.Height() - b.Header.Height + 1
	}
	out := make([]txJSON, 0, blocksPage)
	for i := int(start); i < len(b.Transactions) && len(out) < blocksPage; i++ {
		tx := confirmedTx(b.Transactions[i], h, b.Header.Height, b.Header.Time, i, confs)
		tx.Status.Confirmed = confs > 0
		out = append(out, tx)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getTx(w http.ResponseWriter, r *http.Request) {
	id, ok := pathHash(w, r, "id")
	if !ok {
		return
	}
	if info, ok := s.chain.Transaction(id); ok {
		out := s.txInfoJSON(info)
		if proof, header, ok := s.chain.TxProof(id); ok {
			out.MerkleProof = &proofJSON{
				Leaf: id, Index: proof.Index, Size: proof.Size, Path: proof.Path,
				MerkleRoot: header.MerkleRoot, BlockHash: header.Hash(),
			}
			if out.MerkleProof.Path == nil {
				out.MerkleProof.Path = []blockchain.Hash{}
			}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	if tx, ok := s.node.Mempool().Get(id); ok {
		writeJSON(w, http.StatusOK, pendingTx(tx))
		return
	}
	writeError(w, http.StatusNotFound, codeNotFound, "no transaction "+id.String()+" on the main chain or in the mempool")
}

// postTx takes a signed transaction: its canonical encoding in hex (the
// body, or {"hex": "…"}), or its JSON fields.
func (s *Server) postTx(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	tx, err := decodeTx(body)
	if err != nil {
		var re *blockchain.RuleError
		if errors.As(err, &re) {
			writeRuleError(w, err)
		} else {
			writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		}
		return
	}
	if err := s.node.SubmitTransaction(tx); err != nil {
		writeRuleError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pendingTx(tx))
}

// txBody is the JSON form POST /api/tx takes: hex alone, or the fields.
type txBody struct {
	Hex       string                `json:"hex"`
	From      *blockchain.PublicKey `json:"from"`
	To        *blockchain.Address   `json:"to"`
	Amount    uint64                `json:"amount"`
	Fee       uint64                `json:"fee"`
	Nonce     uint64                `json:"nonce"`
	Signature *blockchain.Signature `json:"signature"`
}

// errNoTx is the error of a body that holds no transaction.
var errNoTx = errors.New("want a signed transaction: its 141-byte encoding in hex, {\"hex\": …}, or {\"from\", \"to\", \"amount\", \"fee\", \"nonce\", \"signature\"}")

// decodeTx reads a transaction from a POST /api/tx body. A body that is
// not a transaction is an error; bytes of the wrong length or version are
// the library's *RuleError (ErrMalformed, ErrBadVersion).
func decodeTx(body []byte) (blockchain.Transaction, error) {
	var tx blockchain.Transaction
	body = bytes.TrimSpace(body)
	text := string(body)
	if strings.HasPrefix(text, "{") {
		var b txBody
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			return tx, err
		}
		if dec.More() {
			return tx, errors.New("more than one JSON value in the body")
		}
		if b.Hex == "" {
			if b.From == nil || b.To == nil || b.Signature == nil {
				return tx, errNoTx
			}
			return blockchain.Transaction{From: *b.From, To: *b.To, Amount: b.Amount, Fee: b.Fee, Nonce: b.Nonce, Signature: *b.Signature}, nil
		}
		text = b.Hex
	}
	if text == "" {
		return tx, errNoTx
	}
	raw, err := hex.DecodeString(text)
	if err != nil {
		return tx, &blockchain.RuleError{Code: blockchain.ErrMalformed, Msg: "transaction hex: " + err.Error()}
	}
	if err := tx.UnmarshalBinary(raw); err != nil {
		return tx, err
	}
	return tx, nil
}

// pathAddress parses the path value "addr" as an address, answering 400
// if it is not one.
func pathAddress(w http.ResponseWriter, r *http.Request) (blockchain.Address, bool) {
	a, err := blockchain.ParseAddress(r.PathValue("addr"))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidAddress, err.Error())
		return a, false
	}
	return a, true
}

// addressJSON is GET /api/address/{addr}.
type addressJSON struct {
	Address   string        `json:"address"`
	Name      string        `json:"name,omitempty"` // in the node's address book
	Wallet    string        `json:"wallet,omitempty"`
	Confirmed confirmedJSON `json:"confirmed"`
	Pending   pendingJSON   `json:"pending"`
	// NextNonce is the nonce the address's next transaction should carry,
	// after its pending ones.
	NextNonce uint64 `json:"next_nonce"`
	// Available is the confirmed balance less what pending transactions
	// spend, plus what they pay in.
	Available      uint64 `json:"available"`
	AvailableCoins string `json:"available_coins"`
}

type confirmedJSON struct {
	Balance      uint64 `json:"balance"`
	BalanceCoins string `json:"balance_coins"`
	Nonce        uint64 `json:"nonce"`              // transactions sent
	TxCount      *int   `json:"tx_count,omitempty"` // absent when the chain does not index addresses
}

type pendingJSON struct {
	TxCount       int    `json:"tx_count"`
	Received      uint64 `json:"received"`
	ReceivedCoins string `json:"received_coins"`
	Sent          uint64 `json:"sent"` // amounts and fees
	SentCoins     string `json:"sent_coins"`
}

func (s *Server) addressInfo(a blockchain.Address) addressJSON {
	acct := s.chain.Account(a)
	out := addressJSON{
		Address: a.String(), Name: s.book.nameOf(a), Wallet: s.wallets.nameOf(a),
		Confirmed: confirmedJSON{Balance: acct.Balance, BalanceCoins: blockchain.FormatCoins(acct.Balance), Nonce: acct.Nonce},
		NextNonce: s.node.NextNonce(a),
	}
	if _, total, err := s.chain.AddressHistory(a, 0, 0); err == nil {
		out.Confirmed.TxCount = &total
	}
	pend := s.node.Mempool().Involving(a)
	out.Pending.TxCount = len(pend)
	for _, tx := range pend {
		if tx.From.Address() == a {
			out.Pending.Sent += tx.Amount + tx.Fee
		}
		if tx.To == a {
			out.Pending.Received += tx.Amount
		}
	}
	out.Pending.ReceivedCoins = blockchain.FormatCoins(out.Pending.Received)
	out.Pending.SentCoins = blockchain.FormatCoins(out.Pending.Sent)
	out.Available = acct.Balance + out.Pending.Received - min(out.Pending.Sent, acct.Balance+out.Pending.Received)
	out.AvailableCoins = blockchain.FormatCoins(out.Available)
	return out
}

func (s *Server) getAddress(w http.ResponseWriter, r *http.Request) {
	a, ok := pathAddress(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.addressInfo(a))
}

// historyJSON is GET /api/address/{addr}/txs: the pending transactions
// (on the first page only), then the confirmed ones, newest first.
type historyJSON struct {
	Address  string   `json:"address"`
	Pending  []txJSON `json:"pending"`
	Txs      []txJSON `json:"txs"`
	Total    int      `json:"total"` // confirmed transactions in all
	Skip     int      `json:"skip"`
	NextSkip *int     `json:"next_skip,omitempty"` // the next page's skip, if there is one
}

func (s *Server) getAddressTxs(w http.ResponseWriter, r *http.Request) {
	a, ok := pathAddress(w, r)
	if !ok {
		return
	}
	skip, ok1 := uintParam(r, "skip", 0)
	limit, ok2 := uintParam(r, "limit", historyPage)
	if !ok1 || !ok2 || skip > 1<<40 || limit == 0 || limit > historyMax {
		writeError(w, http.StatusBadRequest, codeBadRequest, "skip must be a number and limit between 1 and "+strconv.Itoa(historyMax))
		return
	}
	infos, total, err := s.chain.AddressHistory(a, int(skip), int(limit))
	if errors.Is(err, blockchain.ErrNotIndexed) {
		writeError(w, http.StatusNotImplemented, codeNotIndexed,
			"the node's chain does not index addresses: make it with blockchain.ChainOptions{IndexAddresses: true}")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
		return
	}
	out := historyJSON{Address: a.String(), Pending: []txJSON{}, Txs: make([]txJSON, 0, len(infos)), Total: total, Skip: int(skip)}
	if skip == 0 {
		pend := s.node.Mempool().Involving(a)
		for i := len(pend) - 1; i >= 0; i-- { // newest first
			out.Pending = append(out.Pending, pendingTx(pend[i]))
		}
	}
	for _, info := range infos {
		out.Txs = append(out.Txs, s.txInfoJSON(info))
	}
	if next := int(skip) + len(infos); next < total {
		out.NextSkip = &next
	}
	writeJSON(w, http.StatusOK, out)
}

// mempoolJSON is GET /api/mempool.
type mempoolJSON struct {
	Count         int      `json:"count"`
	TotalFee      uint64   `json:"total_fee"`
	TotalFeeCoins string   `json:"total_fee_coins"`
	Txs           []txJSON `json:"txs"` // the newest, newest first
}

func (s *Server) getMempool(w http.ResponseWriter, r *http.Request) {
	limit, ok := uintParam(r, "limit", mempoolDefault)
	if !ok || limit > mempoolMax {
		writeError(w, http.StatusBadRequest, codeBadRequest, "limit must be at most "+strconv.Itoa(mempoolMax))
		return
	}
	txs := s.node.Mempool().Transactions()
	out := mempoolJSON{Count: len(txs), Txs: []txJSON{}}
	for _, tx := range txs {
		out.TotalFee += tx.Fee
	}
	for i := len(txs) - 1; i >= 0 && len(out.Txs) < int(limit); i-- {
		out.Txs = append(out.Txs, pendingTx(txs[i]))
	}
	out.TotalFeeCoins = blockchain.FormatCoins(out.TotalFee)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getPeers(w http.ResponseWriter, r *http.Request) {
	out := []peerJSON{}
	for _, p := range s.node.Peers() {
		out = append(out, peerJSON{ID: string(p.ID), ListenAddr: p.ListenAddr, Height: p.Height, Since: p.Since.UnixNano()})
	}
	writeJSON(w, http.StatusOK, out)
}

// chartPoint is one block of GET /api/charts.
type chartPoint struct {
	Height     uint64          `json:"height"`
	Hash       blockchain.Hash `json:"hash"`
	Time       int64           `json:"time"`        // Unix nanoseconds
	IntervalMS *float64        `json:"interval_ms"` // since its parent; null for genesis
	Difficulty float64         `json:"difficulty"`  // expected hashes a block
	ZeroBits   int             `json:"zero_bits"`
	HashRate   *float64        `json:"hash_rate"` // this node's, when the block arrived; null if unknown
}

// chartsJSON is GET /api/charts: the last blocks of the main chain, for
// charts of block intervals, difficulty and the node's hash rate.
type chartsJSON struct {
	TargetBlockTimeMS int64        `json:"target_block_time_ms"`
	Blocks            []chartPoint `json:"blocks"` // oldest first
}

func (s *Server) getCharts(w http.ResponseWriter, r *http.Request) {
	n, ok := uintParam(r, "blocks", chartDefault)
	if !ok || n == 0 || n > chartMax {
		writeError(w, http.StatusBadRequest, codeBadRequest, "blocks must be between 1 and "+strconv.Itoa(chartMax))
		return
	}
	tip := s.chain.Height()
	from := tip - min(tip, n-1)
	out := chartsJSON{TargetBlockTimeMS: s.chain.Params().TargetBlockTime.Milliseconds(), Blocks: []chartPoint{}}
	var prev *blockchain.Header
	if from > 0 {
		if h, ok := s.chain.HeaderByHeight(from - 1); ok {
			prev = &h
		}
	}
	for h := from; h <= tip; h++ {
		hdr, ok := s.chain.HeaderByHeight(h)
		if !ok {
			break // a reorganization shortened the chain meanwhile
		}
		p := chartPoint{Height: h, Hash: hdr.Hash(), Time: hdr.Time}
		if prev != nil {
			ms := float64(hdr.Time-prev.Time) / 1e6
			p.IntervalMS = &ms
		}
		if t, err := hdr.Target(); err == nil {
			p.ZeroBits = t.ZeroBits()
			p.Difficulty = workFloat(t)
		}
		if rate, ok := s.rates.atBlock(p.Hash); ok {
			p.HashRate = &rate
		}
		out.Blocks = append(out.Blocks, p)
		prev = &hdr
	}
	writeJSON(w, http.StatusOK, out)
}

// searchJSON is GET /api/search: what the query names.
type searchJSON struct {
	Kind string `json:"kind"` // "block", "tx" or "address"
	ID   string `json:"id"`   // the block hash, transaction ID or address
}

// getSearch resolves ?q= to a block (by hash or height), a transaction, an
// address, or a name in the address book or of a wallet (an address).
func (s *Server) getSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > 200 {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the query is too long")
		return
	}
	if h, err := blockchain.ParseHash(strings.ToLower(q)); err == nil {
		if s.chain.HasBlock(h) {
			writeJSON(w, http.StatusOK, searchJSON{"block", h.String()})
			return
		}
		if _, ok := s.chain.Transaction(h); ok || s.node.Mempool().Has(h) {
			writeJSON(w, http.StatusOK, searchJSON{"tx", h.String()})
			return
		}
	}
	if height, err := strconv.ParseUint(q, 10, 64); err == nil {
		if hdr, ok := s.chain.HeaderByHeight(height); ok {
			writeJSON(w, http.StatusOK, searchJSON{"block", hdr.Hash().String()})
			return
		}
	}
	if a, err := blockchain.ParseAddress(strings.ToLower(q)); err == nil {
		writeJSON(w, http.StatusOK, searchJSON{"address", a.String()})
		return
	}
	if a, ok := s.resolveName(q); ok {
		writeJSON(w, http.StatusOK, searchJSON{"address", a.String()})
		return
	}
	writeError(w, http.StatusNotFound, codeNotFound, "nothing found: give a block hash or height, a transaction ID, an address or a name")
}

// resolveName finds an address by a name in the address book or of a
// wallet.
func (s *Server) resolveName(name string) (blockchain.Address, bool) {
	if a, ok := s.book.lookup(name); ok {
		return a, true
	}
	return s.wallets.addressOf(name)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
