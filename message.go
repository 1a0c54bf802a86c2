package blockchain

import (
	"encoding/binary"
	"fmt"
	"math/big"
)

// Message is one unit of the node-to-node protocol. Nodes exchange them as
// bytes ([EncodeMessage], [DecodeMessage]) over any [Network].
//
// The protocol, in the paper's terms (§5), with Bitcoin's headers-first
// sync: two nodes first shake hands ([VersionMsg], [VerAckMsg]): same
// protocol version, same chain, not the same node. A node announces a new
// block by its header ([HeadersMsg]) and a new transaction by its hash
// ([InvMsg]); a peer that lacks them asks ([GetDataMsg]) and gets them
// ([BlockMsg], [TxMsg]) or hears that they are gone ([NotFoundMsg]). A node
// that is behind asks for headers after a block locator ([GetHeadersMsg]),
// checks the header chain, and only then fetches the bodies it lacks, from
// several peers at once. Nodes tell each other the addresses of nodes they
// know ([GetAddrMsg], [AddrMsg]). A light client that keeps only headers
// asks for the proof that a payment is in a block ([GetProofMsg],
// [ProofMsg]). No one ever re-sends a whole chain.
type Message interface {
	msgType() msgType
}

type msgType byte

const (
	msgVersion msgType = iota + 1
	msgVerAck
	msgGetHeaders
	msgHeaders
	msgInv
	msgGetData
	msgNotFound
	msgTx
	msgBlock
	msgGetAddr
	msgAddr
	msgGetProof
	msgProof
)

// ProtocolVersion is the version of the node-to-node protocol this
// package speaks; peers with another version are refused at the handshake.
const ProtocolVersion = 2

// Protocol limits: a decoder refuses anything larger, before allocating.
const (
	// MaxInvItems bounds the items of an InvMsg, GetDataMsg or NotFoundMsg.
	MaxInvItems = 1024
	// MaxLocatorHashes bounds a block locator; 64 covers any chain
	// shorter than 2^50 blocks.
	MaxLocatorHashes = 64
	// MaxHeadersPerMsg bounds the headers of a HeadersMsg (192 KB).
	MaxHeadersPerMsg = 2000
	// MaxAddrsPerMsg bounds the addresses of an AddrMsg.
	MaxAddrsPerMsg = 250
	// MaxAddrLen bounds one address ("host:port") in bytes.
	MaxAddrLen = 128
	// maxWorkBytes bounds the total-work integer of a VersionMsg.
	maxWorkBytes = 64
	// maxProofPath bounds a Merkle proof's path: enough for 2^64 leaves.
	maxProofPath = 64
)

// VersionMsg opens a connection: each side sends it first, and nothing but
// a VerAckMsg may follow it until the other side's arrives.
type VersionMsg struct {
	// Version is the sender's ProtocolVersion.
	Version uint32
	// ChainID is the sender's genesis hash: nodes of different chains do
	// not talk.
	ChainID Hash
	// Nonce is random per node: a node that receives its own nonce has
	// connected to itself.
	Nonce uint64
	// ListenAddr is where the sender accepts connections ("" if nowhere).
	ListenAddr string
	// Height, Tip and TotalWork describe the sender's main chain.
	Height    uint64
	Tip       Hash
	TotalWork *big.Int
}

// VerAckMsg accepts a peer's VersionMsg.
type VerAckMsg struct{}

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

// InvMsg announces transactions the sender has.
type InvMsg struct{ Items []InvItem }

// GetDataMsg asks for transactions and blocks.
type GetDataMsg struct{ Items []InvItem }

// NotFoundMsg answers the items of a GetDataMsg the sender does not have.
type NotFoundMsg struct{ Items []InvItem }

// TxMsg carries one transaction.
type TxMsg struct{ Tx Transaction }

// BlockMsg carries one block.
type BlockMsg struct{ Block Block }

// GetHeadersMsg asks for the main-chain headers after the first locator
// hash the receiver knows (see [Chain.Locator]), up to MaxHeadersPerMsg or
// up to Stop if it is among them (zero Stop: no stop).
type GetHeadersMsg struct {
	Locator []Hash
	Stop    Hash
}

// HeadersMsg carries consecutive headers, lowest first: an answer to a
// GetHeadersMsg, or the announcement of new blocks.
type HeadersMsg struct{ Headers []Header }

// GetAddrMsg asks for addresses of other nodes.
type GetAddrMsg struct{}

// AddrMsg carries addresses of nodes ("host:port") the sender knows.
type AddrMsg struct{ Addrs []string }

// GetProofMsg asks for the proof that a transaction is confirmed: what a
// light client (paper §8), which keeps only headers, needs to check a
// payment.
type GetProofMsg struct{ TxID Hash }

// ProofMsg answers a GetProofMsg: the transaction, the main-chain block
// that holds it, and the Merkle proof that links its ID to the block's
// Merkle root. A peer that knows no such transaction answers NotFound.
type ProofMsg struct {
	Tx        Transaction
	BlockHash Hash
	Proof     MerkleProof
}

func (VersionMsg) msgType() msgType    { return msgVersion }
func (VerAckMsg) msgType() msgType     { return msgVerAck }
func (GetHeadersMsg) msgType() msgType { return msgGetHeaders }
func (HeadersMsg) msgType() msgType    { return msgHeaders }
func (InvMsg) msgType() msgType        { return msgInv }
func (GetDataMsg) msgType() msgType    { return msgGetData }
func (NotFoundMsg) msgType() msgType   { return msgNotFound }
func (TxMsg) msgType() msgType         { return msgTx }
func (BlockMsg) msgType() msgType      { return msgBlock }
func (GetAddrMsg) msgType() msgType    { return msgGetAddr }
func (AddrMsg) msgType() msgType       { return msgAddr }
func (GetProofMsg) msgType() msgType   { return msgGetProof }
func (ProofMsg) msgType() msgType      { return msgProof }

// EncodeMessage returns the wire form of m: a type byte, then the payload.
// It refuses messages beyond the protocol limits or MaxMessageSize. Counts
// are minimal unsigned varints (encoding/binary's Uvarint), integers
// big-endian:
//
//	type payload
//	   1 Version     version u32 | chain ID 32 | nonce u64 | listen address (length u8 | bytes)
//	                 | height u64 | tip 32 | total work (length u8 | big-endian bytes, no leading zero)
//	   2 VerAck      (empty)
//	   3 GetHeaders  count | count × hash 32 | stop 32
//	   4 Headers     count | count × header 96
//	   5 Inv         count | count × (type u8 | hash 32)
//	   6 GetData     as Inv
//	   7 NotFound    as Inv
//	   8 Tx          the 141-byte transaction
//	   9 Block       the block encoding
//	  10 GetAddr     (empty)
//	  11 Addr        count | count × (length u8 | "host:port")
//	  12 GetProof    transaction ID 32
//	  13 Proof       transaction 141 | block hash 32 | leaf index u64 | leaves u64 | count | count × hash 32
func EncodeMessage(m Message) ([]byte, error) {
	if m == nil {
		return nil, ruleErr(ErrMalformed, "nil message")
	}
	b := []byte{byte(m.msgType())}
	switch m := m.(type) {
	case VersionMsg:
		b = binary.BigEndian.AppendUint32(b, m.Version)
		b = append(b, m.ChainID[:]...)
		b = binary.BigEndian.AppendUint64(b, m.Nonce)
		if len(m.ListenAddr) > MaxAddrLen {
			return nil, ruleErr(ErrMalformed, "listen address of %d bytes, limit %d", len(m.ListenAddr), MaxAddrLen)
		}
		b = append(b, byte(len(m.ListenAddr)))
		b = append(b, m.ListenAddr...)
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
	case VerAckMsg, GetAddrMsg:
	case GetHeadersMsg:
		if len(m.Locator) > MaxLocatorHashes {
			return nil, ruleErr(ErrMalformed, "locator of %d hashes, limit %d", len(m.Locator), MaxLocatorHashes)
		}
		b = binary.AppendUvarint(b, uint64(len(m.Locator)))
		for _, h := range m.Locator {
			b = append(b, h[:]...)
		}
		b = append(b, m.Stop[:]...)
	case HeadersMsg:
		if len(m.Headers) > MaxHeadersPerMsg {
			return nil, ruleErr(ErrMalformed, "%d headers in one message, limit %d", len(m.Headers), MaxHeadersPerMsg)
		}
		b = binary.AppendUvarint(b, uint64(len(m.Headers)))
		for i := range m.Headers {
			b = m.Headers[i].appendBinary(b)
		}
	case InvMsg:
		return appendInv(b, m.Items)
	case GetDataMsg:
		return appendInv(b, m.Items)
	case NotFoundMsg:
		return appendInv(b, m.Items)
	case TxMsg:
		b = m.Tx.appendBinary(b)
	case BlockMsg:
		b, _ = m.Block.AppendBinary(b)
	case AddrMsg:
		if len(m.Addrs) > MaxAddrsPerMsg {
			return nil, ruleErr(ErrMalformed, "%d addresses in one message, limit %d", len(m.Addrs), MaxAddrsPerMsg)
		}
		b = binary.AppendUvarint(b, uint64(len(m.Addrs)))
		for _, a := range m.Addrs {
			if len(a) > MaxAddrLen {
				return nil, ruleErr(ErrMalformed, "address of %d bytes, limit %d", len(a), MaxAddrLen)
			}
			b = append(b, byte(len(a)))
			b = append(b, a...)
		}
	case GetProofMsg:
		b = append(b, m.TxID[:]...)
	case ProofMsg:
		if len(m.Proof.Path) > maxProofPath {
			return nil, ruleErr(ErrMalformed, "Merkle path of %d hashes, limit %d", len(m.Proof.Path), maxProofPath)
		}
		b = m.Tx.appendBinary(b)
		b = append(b, m.BlockHash[:]...)
		b = binary.BigEndian.AppendUint64(b, m.Proof.Index)
		b = binary.BigEndian.AppendUint64(b, m.Proof.Size)
		b = binary.AppendUvarint(b, uint64(len(m.Proof.Path)))
		for _, h := range m.Proof.Path {
			b = append(b, h[:]...)
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
	case msgVersion:
		v := VersionMsg{Version: r.uint32()}
		v.ChainID = r.hash()
		v.Nonce = r.uint64()
		v.ListenAddr = string(r.bytes(int(r.byte())))
		if len(v.ListenAddr) > MaxAddrLen {
			return nil, ruleErr(ErrMalformed, "listen address of %d bytes", len(v.ListenAddr))
		}
		v.Height = r.uint64()
		v.Tip = r.hash()
		n := int(r.byte())
		if n > maxWorkBytes {
			return nil, ruleErr(ErrMalformed, "total work of %d bytes", n)
		}
		work := r.bytes(n)
		if n > 0 && work != nil && work[0] == 0 {
			return nil, ruleErr(ErrMalformed, "total work has a leading zero byte")
		}
		v.TotalWork = new(big.Int).SetBytes(work)
		m = v
	case msgVerAck:
		m = VerAckMsg{}
	case msgGetAddr:
		m = GetAddrMsg{}
	case msgGetHeaders:
		n := r.count(MaxLocatorHashes, HashSize)
		loc := make([]Hash, 0, n)
		for range n {
			loc = append(loc, r.hash())
		}
		m = GetHeadersMsg{Locator: loc, Stop: r.hash()}
	case msgHeaders:
		n := r.count(MaxHeadersPerMsg, HeaderSize)
		hs := make([]Header, n)
		for i := range hs {
			if raw := r.bytes(HeaderSize); raw != nil {
				hs[i].decode(raw)
			}
		}
		m = HeadersMsg{Headers: hs}
	case msgInv:
		m = InvMsg{Items: r.inv()}
	case msgGetData:
		m = GetDataMsg{Items: r.inv()}
	case msgNotFound:
		m = NotFoundMsg{Items: r.inv()}
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
	case msgAddr:
		n := r.count(MaxAddrsPerMsg, 1)
		addrs := make([]string, 0, n)
		for range n {
			k := int(r.byte())
			if k > MaxAddrLen {
				return nil, ruleErr(ErrMalformed, "address of %d bytes, limit %d", k, MaxAddrLen)
			}
			addrs = append(addrs, string(r.bytes(k)))
		}
		m = AddrMsg{Addrs: addrs}
	case msgGetProof:
		m = GetProofMsg{TxID: r.hash()}
	case msgProof:
		var pm ProofMsg
		if raw := r.bytes(TxSize); raw != nil {
			if err := pm.Tx.UnmarshalBinary(raw); err != nil {
				return nil, err
			}
		}
		pm.BlockHash = r.hash()
		pm.Proof.Index, pm.Proof.Size = r.uint64(), r.uint64()
		n := r.count(maxProofPath, HashSize)
		pm.Proof.Path = make([]Hash, 0, n)
		for range n {
			pm.Proof.Path = append(pm.Proof.Path, r.hash())
		}
		m = pm
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

func (r *reader) uint32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
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
