package web

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/nakachain/blockchain"
)

// keepConfirmations is how deep a payment from the node's wallet must be
// buried before it is dropped from pending.json: until then a
// reorganization could return it to the mempool, and after a restart the
// server would submit it again.
const keepConfirmations = 6

// maxPending bounds pending.json; the oldest entries go first.
const maxPending = 1000

// pendingEntry is a payment the node's wallet sent, kept until confirmed.
type pendingEntry struct {
	Wallet string          `json:"wallet"`
	TxID   blockchain.Hash `json:"txid"`
	Hex    string          `json:"hex"` // the canonical encoding
	Time   int64           `json:"time"`
}

// pendingStore is pending.json: the wallet's payments not yet confirmed
// deeply, so that they survive a restart and are announced again.
type pendingStore struct {
	path string

	mu      sync.Mutex
	entries []pendingEntry
}

func openPending(path string) (*pendingStore, error) {
	p := &pendingStore{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("web: pending payments: %w", err)
	}
	if err := json.Unmarshal(data, &p.entries); err != nil {
		return nil, fmt.Errorf("web: pending payments %s: %w", path, err)
	}
	return p, nil
}

func (p *pendingStore) add(e pendingEntry) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.entries = append(p.entries, e)
	if len(p.entries) > maxPending {
		p.entries = slices.Clone(p.entries[len(p.entries)-maxPending:])
	}
	return p.saveLocked()
}

func (p *pendingStore) list() []pendingEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.entries)
}

// remove drops the entries with the given IDs.
func (p *pendingStore) remove(ids map[blockchain.Hash]bool) error {
	if len(ids) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.entries = slices.DeleteFunc(p.entries, func(e pendingEntry) bool { return ids[e.TxID] })
	return p.saveLocked()
}

func (p *pendingStore) saveLocked() error {
	data, err := json.MarshalIndent(p.entries, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(p.path, append(data, '\n')); err != nil {
		return fmt.Errorf("web: save pending payments: %w", err)
	}
	return nil
}

// resubmitPending goes through the wallet's pending payments: those
// confirmed deeply enough are dropped, those a confirmed transaction
// replaced (their nonce is used) too, and those neither confirmed nor in
// the mempool are submitted again (which announces them to the peers).
// It runs at start and after every new tip.
func (s *Server) resubmitPending() {
	drop := make(map[blockchain.Hash]bool)
	pool := s.node.Mempool()
	for _, e := range s.pending.list() {
		if info, ok := s.chain.Transaction(e.TxID); ok {
			if info.Confirmations >= keepConfirmations {
				drop[e.TxID] = true
			}
			continue
		}
		if pool.Has(e.TxID) {
			continue
		}
		raw, err := hex.DecodeString(e.Hex)
		var tx blockchain.Transaction
		if err == nil {
			err = tx.UnmarshalBinary(raw)
		}
		if err != nil || tx.ID() != e.TxID {
			s.log.Warn("dropping an unreadable pending payment", "txid", e.TxID.String(), "err", err)
			drop[e.TxID] = true
			continue
		}
		switch err := s.node.SubmitTransaction(tx); {
		case err == nil:
			s.log.Info("pending payment submitted again", "wallet", e.Wallet, "txid", e.TxID.String())
		case errors.Is(err, blockchain.ErrNonceTooLow), errors.Is(err, blockchain.ErrBadSignature):
			// Another transaction with its nonce is confirmed: it can
			// never confirm. (A bad signature: another chain's.)
			s.log.Warn("pending payment can no longer confirm", "wallet", e.Wallet, "txid", e.TxID.String(), "err", err)
			drop[e.TxID] = true
		default:
			// Funds or an earlier nonce may not have arrived yet: try
			// again at the next tip.
			s.log.Debug("pending payment not accepted yet", "txid", e.TxID.String(), "err", err)
		}
	}
	if err := s.pending.remove(drop); err != nil {
		s.log.Error("pending payments", "err", err)
	}
}
