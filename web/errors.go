package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/nakachain/blockchain"
)

// Codes of the refusals that are not a consensus or mempool rule (those
// carry the blockchain.ErrorCode name, such as "ErrInsufficientFunds").
const (
	codeBadRequest     = "ErrBadRequest"      // 400: malformed JSON, a missing or unknown field
	codeInvalidHash    = "ErrInvalidHash"     // 400: not 64 hex digits
	codeInvalidAddress = "ErrInvalidAddress"  // 400: not an nk1… address
	codeBadAmount      = "ErrBadAmount"       // 400: not an amount
	codeBadName        = "ErrBadName"         // 400: a wallet or address-book name that cannot be used
	codeNoToken        = "ErrNoToken"         // 401: no API token
	codeBadToken       = "ErrBadToken"        // 401: a wrong API token
	codeWrongPass      = "ErrWrongPassphrase" // 403: the key file did not decrypt
	codeForbiddenHost  = "ErrForbiddenHost"   // 403: a Host header that is not this server's
	codeNotFound       = "ErrNotFound"        // 404: no such block, transaction, wallet, name or path
	codeExists         = "ErrExists"          // 409: the wallet or name already exists
	codeTooLarge       = "ErrTooLarge"        // 413: the body is over the limit
	codeLocked         = "ErrWalletLocked"    // 423: the wallet is locked
	codeNotIndexed     = "ErrNotIndexed"      // 501: the chain does not index addresses
	codeBusy           = "ErrBusy"            // 503: too many event streams
	codeInternal       = "ErrInternal"        // 500
)

// apiError is the body of every refusal.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeError answers with status and {"error": msg, "code": code}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{Error: msg, Code: code})
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ruleStatus is the HTTP status of a refused transaction: 409 when it
// conflicts with the chain or the pool (a used or skipped nonce, a
// duplicate, a full pool), 400 when it does not decode, 422 when it breaks
// a rule (funds, signature, fee).
func ruleStatus(code blockchain.ErrorCode) int {
	switch code {
	case blockchain.ErrMalformed, blockchain.ErrBadVersion:
		return http.StatusBadRequest
	case blockchain.ErrNonceTooLow, blockchain.ErrNonceTooHigh, blockchain.ErrMempoolConflict,
		blockchain.ErrKnownTx, blockchain.ErrTxOnChain, blockchain.ErrMempoolFull:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// writeRuleError answers a refused transaction with its rule's status and
// code, or 500 for an error that is not a rule.
func writeRuleError(w http.ResponseWriter, err error) {
	var re *blockchain.RuleError
	if errors.As(err, &re) {
		writeError(w, ruleStatus(re.Code), re.Code.String(), err.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
}

// writeBodyError answers a request body that could not be read or decoded:
// 413 if it was too large, 400 otherwise.
func writeBodyError(w http.ResponseWriter, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "request body is over the limit")
		return
	}
	writeError(w, http.StatusBadRequest, codeBadRequest, "malformed request body: "+err.Error())
}
