package blockchain

import (
	"encoding/binary"
	"fmt"
	"math/big"
)

// Message is one unit of the node-to-node protocol. Nodes exchange them as
// bytes ([EncodeMessage], [DecodeMessage]) over any [Network].
//
// The protocol, in the paper's terms (§5): a node announces new
// transactions and blocks by hash ([InvMsg]); a peer that lacks them asks
// ([GetDataMsg]) and gets them ([TxMsg], [BlockMsg]). Nodes tell each other
// their tip and total work ([StatusMsg]); one that is behind sends a block
// locator ([GetBlocksMsg]) and gets the blocks after the fork point in
// bounded batches ([BlocksMsg]). No one ever re-sends a whole chain.
type Message interface {
	msgType() msgType
}

type msgType byte

const (
	msgStatus msgType = iota + 1
	msgInv
	msgGetData
	msgTx
	msgBlock
	msgGetBlocks
	msgBlocks
)

// Protocol limits: a decoder refuses anything larger, before allocating.
const (
	// MaxInvItems bounds the items of an InvMsg or GetDataMsg.
	MaxInvItems = 1024
	// MaxLocatorHashes bounds a block locator; 64 covers any chain
	// shorter than 2^50 blocks.
	MaxLocatorHashes = 64
	// MaxBlocksPerMsg bounds the blocks of a BlocksMsg.
	MaxBlocksPerMsg = 500
	// maxWorkBytes bounds the total-work integer of a StatusMsg.
	maxWorkBytes = 64
)

// StatusMsg tells a peer where this node's main chain ends.
type StatusMsg struct {
	Height    uint64
	Tip       Hash
	TotalWork *big.Int
}

// InvType says what an [InvItem] names.
type InvType byte

// Inventory item types.
const (
	InvTx    InvType = 1
	InvBlock InvType = 2
)

// InvItem names a transaction or block by hash.
type InvItem struct {
	Type InvType
	Hash Hash
}

// InvMsg announces transactions and blocks the sender has.
type InvMsg struct{ Items []InvItem }

// GetDataMsg asks for announced transactions and blocks.
type GetDataMsg struct{ Items []InvItem }

// TxMsg carries one transaction.
type TxMsg struct{ Tx Transaction }

// BlockMsg carries one block.
type BlockMsg struct{ Block Block }

// GetBlocksMsg asks for the main-chain blocks after the first locator hash
// the receiver knows (see [Chain.Locator]).
type GetBlocksMsg struct{ Locator []Hash }

// BlocksMsg answers a GetBlocksMsg with consecutive blocks, lowest first.
type BlocksMsg struct{ Blocks []Block }

func (StatusMsg) msgType() msgType    { return msgStatus }
func (InvMsg) msgType() msgType       { return msgInv }
func (GetDataMsg) msgType() msgType   { return msgGetData }
func (TxMsg) msgType() msgType        { return msgTx }
func (BlockMsg) msgType() msgType     { return msgBlock }
func (GetBlocksMsg) msgType() msgType { return msgGetBlocks }
func (BlocksMsg) msgType() msgType    { return msgBlocks }

// EncodeMessage returns the wire form of m: a type byte, then the payload.
// It refuses messages beyond the protocol limits or MaxMessageSize.
//
//	Status    height u64 | tip 32 | work length u8 | work, big-endian
//	Inv       count uvarint | count × (type u8 | hash 32)
//	GetData   as Inv
//	Tx        the 141-byte transaction
//	Block     the block encoding
//	GetBlocks count uvarint | count × hash 32
//	Blocks    count uvarint | count × (length uvarint | block encoding)
func EncodeMessage(m Message) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrMalformed)
	}
	b := []byte{byte(m.msgType())}
	switch m := m.(type) {
	case StatusMsg:
		b = binary.BigEndian.AppendUint64(b, m.Height)
		b = append(b, m.Tip[:]...)
		var work []byte
		if m.TotalWork != nil {
			if m.TotalWork.Sign() < 0 {
				return nil, ruleErr(ErrMalformed, "negative total work")
			}
			work = m.TotalWork.Bytes()
		}
		if len(work) > maxWorkBytes {
			return nil, ruleErr(ErrMalformed, "total work of %d bytes", len(work))
		}
		b = append(b, byte(len(work)))
		b = append(b, work...)
	case InvMsg:
		return appendInv(b, m.Items)
	case GetDataMsg:
		return appendInv(b, m.Items)
	case TxMsg:
		b = m.Tx.appendBinary(b)
	case BlockMsg:
		b, _ = m.Block.AppendBinary(b)
	case GetBlocksMsg:
		if len(m.Locator) > MaxLocatorHashes {
			return nil, ruleErr(ErrMalformed, "locator of %d hashes, limit %d", len(m.Locator), MaxLocatorHashes)
		}
		b = binary.AppendUvarint(b, uint64(len(m.Locator)))
		for _, h := range m.Locator {
			b = append(b, h[:]...)
		}
	case BlocksMsg:
		if len(m.Blocks) > MaxBlocksPerMsg {
			return nil, ruleErr(ErrMalformed, "%d blocks in one message, limit %d", len(m.Blocks), MaxBlocksPerMsg)
		}
		b = binary.AppendUvarint(b, uint64(len(m.Blocks)))
		for i := range m.Blocks {
			b = binary.AppendUvarint(b, uint64(m.Blocks[i].Size()))
			b, _ = m.Blocks[i].AppendBinary(b)
		}
	default:
		return nil, ruleErr(ErrMalformed, "unknown message type %T", m)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(b))
	}
	return b, nil
}

func appendInv(b []byte, items []InvItem) ([]byte, error) {
	if len(items) > MaxInvItems {
		return nil, ruleErr(ErrMalformed, "%d inventory items, limit %d", len(items), MaxInvItems)
	}
	b = binary.AppendUvarint(b, uint64(len(items)))
	for _, it := range items {
		b = append(b, byte(it.Type))
		b = append(b, it.Hash[:]...)
	}
	return b, nil
}

// DecodeMessage parses the wire form of a message. Anything malformed,
// over a limit, or with trailing bytes is refused with a [*RuleError]
// ([ErrMalformed]); no input makes it panic or allocate beyond its length.
func DecodeMessage(data []byte) (Message, error) {
	if len(data) > MaxMessageSize {
		return nil, ruleErr(ErrMalformed, "message of %d bytes, limit %d", len(data), MaxMessageSize)
	}
	if len(data) == 0 {
		return nil, ruleErr(ErrMalformed, "empty message")
	}
	r := &reader{b: data[1:]}
	var m Message
	switch msgType(data[0]) {
	case msgStatus:
		s := StatusMsg{Height: r.uint64()}
		s.Tip = r.hash()
		n := int(r.byte())
		if n > maxWorkBytes {
			return nil, ruleErr(ErrMalformed, "total work of %d bytes", n)
		}
		work := r.bytes(n)
		if n > 0 && work != nil && work[0] == 0 {
			return nil, ruleErr(ErrMalformed, "total work has a leading zero byte")
		}
		s.TotalWork = new(big.Int).SetBytes(work)
		m = s
	case msgInv:
		m = InvMsg{Items: r.inv()}
	case msgGetData:
		m = GetDataMsg{Items: r.inv()}
	case msgTx:
		var tx Transaction
		if err := tx.UnmarshalBinary(r.rest()); err != nil {
			return nil, err
		}
		m = TxMsg{Tx: tx}
	case msgBlock:
		var b Block
		if err := b.UnmarshalBinary(r.rest()); err != nil {
			return nil, err
		}
		m = BlockMsg{Block: b}
	case msgGetBlocks:
		n := r.count(MaxLocatorHashes, HashSize)
		loc := make([]Hash, 0, n)
		for range n {
			loc = append(loc, r.hash())
		}
		m = GetBlocksMsg{Locator: loc}
	case msgBlocks:
		n := r.count(MaxBlocksPerMsg, HeaderSize+1)
		blocks := make([]Block, 0, n)
		for range n {
			size := r.count(MaxMessageSize, 1)
			raw := r.bytes(size)
			if r.err != nil {
				break
			}
			var b Block
			if err := b.UnmarshalBinary(raw); err != nil {
				return nil, err
			}
			blocks = append(blocks, b)
		}
		m = BlocksMsg{Blocks: blocks}
	default:
		return nil, ruleErr(ErrMalformed, "unknown message type %d", data[0])
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, ruleErr(ErrMalformed, "%d trailing bytes", len(r.b))
	}
	return m, nil
}

// reader reads fields from a byte slice, remembering the first error; after
// an error every read returns zero values.
type reader struct {
	b   []byte
	err *RuleError
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = ruleErr(ErrMalformed, format, args...)
	}
	r.b = nil
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail("truncated: want %d bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) uint64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) hash() Hash {
	var h Hash
	copy(h[:], r.bytes(HashSize))
	return h
}

// rest returns the unread bytes.
func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	out := r.b
	r.b = nil
	return out
}

// count reads a minimal uvarint that must be at most limit and, with each
// item at least minSize bytes, fit in what is left.
func (r *reader) count(limit, minSize int) int {
	if r.err != nil {
		return 0
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || k != uvarintLen(n) {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[k:]
	if n > uint64(limit) || n > uint64(len(r.b)/minSize) {
		r.fail("count %d over its limit or the data left", n)
		return 0
	}
	return int(n)
}

func (r *reader) inv() []InvItem {
	n := r.count(MaxInvItems, 1+HashSize)
	items := make([]InvItem, 0, n)
	for range n {
		t := InvType(r.byte())
		if t != InvTx && t != InvBlock {
			r.fail("unknown inventory type %d", t)
			return nil
		}
		items = append(items, InvItem{Type: t, Hash: r.hash()})
	}
	return items
}
