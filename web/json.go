package web

import (
	"encoding/hex"
	"math/big"

	"github.com/nakachain/blockchain"
)

// The JSON shapes of the API. Amounts are integers of base units with a
// "_coins" string beside them; total work, which outgrows a JavaScript
// number, is a decimal string.

// tipJSON describes the end of a chain.
type tipJSON struct {
	Hash      blockchain.Hash `json:"hash"`
	Height    uint64          `json:"height"`
	Time      int64           `json:"time"` // Unix nanoseconds
	Bits      uint32          `json:"bits"`
	TotalWork string          `json:"total_work"` // expected hashes to redo the chain, decimal
}

func tipOf(t blockchain.Tip) tipJSON {
	return tipJSON{Hash: t.Hash, Height: t.Height, Time: t.Header.Time, Bits: t.Header.Bits, TotalWork: bigString(t.TotalWork)}
}

func bigString(v *big.Int) string {
	if v == nil {
		return "0"
	}
	return v.String()
}

// blockJSON is a block's summary, in Esplora's shape where it fits.
type blockJSON struct {
	ID                blockchain.Hash  `json:"id"`
	Height            uint64           `json:"height"`
	Version           uint32           `json:"version"`
	Time              int64            `json:"time"`      // Unix nanoseconds, as in the header
	Timestamp         int64            `json:"timestamp"` // Unix seconds, as Esplora has it
	TxCount           int              `json:"tx_count"`
	Size              int              `json:"size"`
	MerkleRoot        blockchain.Hash  `json:"merkle_root"`
	PreviousBlockHash blockchain.Hash  `json:"previousblockhash"`
	NextBlockHash     *blockchain.Hash `json:"nextblockhash,omitempty"`
	Nonce             uint64           `json:"nonce"`
	Bits              uint32           `json:"bits"`
	ZeroBits          int              `json:"zero_bits"`  // leading zero bits the target asks for
	Difficulty        float64          `json:"difficulty"` // expected hashes to find a block at this target
	ChainWork         string           `json:"chain_work"` // cumulative expected hashes, decimal
	InBestChain       bool             `json:"in_best_chain"`
	Confirmations     uint64           `json:"confirmations"` // 0 off the main chain
	Miner             string           `json:"miner,omitempty"`
	Reward            uint64           `json:"reward"` // what the coinbase paid: reward plus fees
	RewardCoins       string           `json:"reward_coins"`
	Fees              uint64           `json:"fees"`
	FeesCoins         string           `json:"fees_coins"`
}

func (s *Server) blockSummary(b *blockchain.Block) blockJSON {
	hash := b.Hash()
	out := blockJSON{
		ID: hash, Height: b.Header.Height, Version: b.Header.Version,
		Time: b.Header.Time, Timestamp: b.Header.Timestamp().Unix(),
		TxCount: len(b.Transactions), Size: b.Size(),
		MerkleRoot: b.Header.MerkleRoot, PreviousBlockHash: b.Header.PrevHash,
		Nonce: b.Header.Nonce, Bits: b.Header.Bits,
	}
	if t, err := b.Header.Target(); err == nil {
		out.ZeroBits = t.ZeroBits()
		out.Difficulty = workFloat(t)
	}
	if w, ok := s.chain.WorkOf(hash); ok {
		out.ChainWork = w.String()
	}
	if s.chain.OnMainChain(hash) {
		out.InBestChain = true
		tip := s.chain.Height()
		out.Confirmations = tip - b.Header.Height + 1
		if next, ok := s.chain.HeaderByHeight(b.Header.Height + 1); ok {
			h := next.Hash()
			out.NextBlockHash = &h
		}
	}
	if b.Header.Height > 0 && len(b.Transactions) > 0 && b.Transactions[0].IsCoinbase() {
		cb := b.Transactions[0]
		out.Miner = cb.To.String()
		out.Reward = cb.Amount
		for _, tx := range b.Transactions[1:] {
			out.Fees += tx.Fee
		}
	}
	out.RewardCoins = blockchain.FormatCoins(out.Reward)
	out.FeesCoins = blockchain.FormatCoins(out.Fees)
	return out
}

// txJSON is a transaction, with its status when known.
type txJSON struct {
	TxID        blockchain.Hash `json:"txid"`
	Coinbase    bool            `json:"coinbase"`
	From        string          `json:"from,omitempty"`         // the sender's public key, hex
	FromAddress string          `json:"from_address,omitempty"` // the sender's address
	To          string          `json:"to"`
	Amount      uint64          `json:"amount"`
	AmountCoins string          `json:"amount_coins"`
	Fee         uint64          `json:"fee"`
	FeeCoins    string          `json:"fee_coins"`
	Nonce       uint64          `json:"nonce"`
	Signature   string          `json:"signature,omitempty"`
	Hex         string          `json:"hex"` // the canonical 141-byte encoding
	Status      *txStatus       `json:"status,omitempty"`
	MerkleProof *proofJSON      `json:"merkle_proof,omitempty"`
}

// txStatus says where a transaction is: confirmed in a block of the main
// chain, or pending in the mempool.
type txStatus struct {
	Confirmed     bool             `json:"confirmed"`
	InMempool     bool             `json:"in_mempool"`
	BlockHash     *blockchain.Hash `json:"block_hash,omitempty"`
	BlockHeight   *uint64          `json:"block_height,omitempty"`
	BlockTime     int64            `json:"block_time,omitempty"` // Unix nanoseconds
	Index         *int             `json:"index,omitempty"`      // position in the block; 0 is the coinbase
	Confirmations uint64           `json:"confirmations"`
}

// proofJSON is a Merkle proof that a transaction is in its block: the
// leaf (the transaction ID), its index among size leaves, the siblings
// from the leaf upwards, and the root the block header commits to. A leaf
// hashes as SHA-256(0x00||leaf), an inner node as
// SHA-256(0x01||left||right), and a node without a sibling is carried up.
type proofJSON struct {
	Leaf       blockchain.Hash   `json:"leaf"`
	Index      uint64            `json:"index"`
	Size       uint64            `json:"size"`
	Path       []blockchain.Hash `json:"path"`
	MerkleRoot blockchain.Hash   `json:"merkle_root"`
	BlockHash  blockchain.Hash   `json:"block_hash"`
}

func txOf(tx blockchain.Transaction) txJSON {
	raw, _ := tx.MarshalBinary()
	out := txJSON{
		TxID: tx.ID(), Coinbase: tx.IsCoinbase(), To: tx.To.String(),
		Amount: tx.Amount, AmountCoins: blockchain.FormatCoins(tx.Amount),
		Fee: tx.Fee, FeeCoins: blockchain.FormatCoins(tx.Fee),
		Nonce: tx.Nonce, Hex: hex.EncodeToString(raw),
	}
	if !out.Coinbase {
		out.From = tx.From.String()
		out.FromAddress = tx.From.Address().String()
		out.Signature = tx.Signature.String()
	}
	return out
}

// confirmedTx is a transaction confirmed at height in block, index idx.
func confirmedTx(tx blockchain.Transaction, block blockchain.Hash, height uint64, t int64, idx int, confs uint64) txJSON {
	out := txOf(tx)
	out.Status = &txStatus{Confirmed: true, BlockHash: &block, BlockHeight: &height, BlockTime: t, Index: &idx, Confirmations: confs}
	return out
}

func pendingTx(tx blockchain.Transaction) txJSON {
	out := txOf(tx)
	out.Status = &txStatus{InMempool: true}
	return out
}

// txInfoJSON turns a chain's TxInfo into a confirmed transaction.
func (s *Server) txInfoJSON(info blockchain.TxInfo) txJSON {
	var t int64
	if h, ok := s.chain.HeaderByHeight(info.Height); ok {
		t = h.Time
	}
	return confirmedTx(info.Tx, info.BlockHash, info.Height, t, info.Index, info.Confirmations)
}

// peerJSON is a peer the node completed the handshake with.
type peerJSON struct {
	ID         string `json:"id"`
	ListenAddr string `json:"listen_addr,omitempty"`
	Height     uint64 `json:"height"`
	Since      int64  `json:"since"` // Unix nanoseconds
}

// workFloat returns the expected hashes to meet t, as a float for charts.
func workFloat(t blockchain.Target) float64 {
	f, _ := new(big.Float).SetInt(t.Work()).Float64()
	return f
}
