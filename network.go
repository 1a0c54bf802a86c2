package blockchain

import (
	"errors"
)

// PeerID names a node on a [Network].
type PeerID string

// MaxMessageSize is the largest message any transport carries, in bytes:
// room for a batch of blocks during sync. Transports refuse to send larger
// messages and drop larger ones they receive.
const MaxMessageSize = 8 << 20

// Network is the pluggable transport nodes talk through. A node joins under
// an ID and gets a [Conn]; the bytes it sends are opaque to the network.
// [MemNetwork] simulates one in a process; the TCP transport connects
// processes and hosts. Implement this to plug in your own, and check it with
// the nettest package's suite.
type Network interface {
	// Join registers id on the network. An ID may be joined once at a time.
	Join(id PeerID) (Conn, error)
}

// Conn is one node's endpoint on a [Network]. Its methods are safe for
// concurrent use. Sends never block on a slow peer: a transport may drop a
// message it cannot deliver (the protocol recovers from loss), but it
// never delivers one corrupted.
type Conn interface {
	// ID returns the ID this endpoint joined under.
	ID() PeerID
	// Peers returns the peers this endpoint can currently send to.
	Peers() []PeerID
	// Send queues data for one peer. It fails if the peer is unknown, the
	// data is larger than MaxMessageSize, or the endpoint is closed.
	Send(to PeerID, data []byte) error
	// Broadcast queues data for every peer.
	Broadcast(data []byte) error
	// Receive returns the channel of incoming packets. It is closed after
	// Close.
	Receive() <-chan Packet
	// Close leaves the network and releases everything the endpoint holds.
	Close() error
}

// Packet is a message received from a peer.
type Packet struct {
	From PeerID
	Data []byte
}

// Errors a [Conn] returns (wrapped).
var (
	ErrUnknownPeer     = errors.New("blockchain: unknown or unreachable peer")
	ErrMessageTooLarge = errors.New("blockchain: message larger than MaxMessageSize")
	ErrClosed          = errors.New("blockchain: endpoint closed")
	ErrDuplicatePeerID = errors.New("blockchain: peer ID already joined")
)

// Dropper is implemented by a [Conn] that can cut off a peer, as the node
// does with peers that send invalid data. A transport without it simply
// keeps them.
type Dropper interface {
	Drop(peer PeerID) error
}
