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
// the nettest package's suite. A Network that holds resources of its own
// may also implement io.Closer.
type Network interface {
	// Join registers id on the network. An ID may be joined once at a time;
	// after its Conn is closed it may join again.
	Join(id PeerID) (Conn, error)
}

// Conn is one node's endpoint on a [Network]. Its methods are safe for
// concurrent use. Sends never block on a slow peer: a transport may drop a
// message it cannot deliver (the protocol recovers from loss), but it never
// delivers one corrupted. A reliable transport keeps the messages to one
// peer in order; the protocol does not depend on it.
type Conn interface {
	// ID returns the ID this endpoint joined under.
	ID() PeerID
	// Peers returns the peers this endpoint is connected to. A message to
	// one of them may still be lost, as across a partition.
	Peers() []PeerID
	// Send queues data, which may be empty, for one peer; the caller may
	// reuse data afterwards. It fails with ErrUnknownPeer for a peer that
	// is not connected (itself included), ErrMessageTooLarge above
	// MaxMessageSize, and ErrClosed after Close.
	Send(to PeerID, data []byte) error
	// Broadcast queues data for every peer.
	Broadcast(data []byte) error
	// Receive returns the channel of incoming packets. It is closed after
	// Close.
	Receive() <-chan Packet
	// Close leaves the network and releases everything the endpoint holds.
	// Closing again does nothing and returns nil.
	Close() error
}

// Packet is a message received from a peer. Data belongs to the receiver.
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
// does with peers that send invalid data; Drop fails with ErrUnknownPeer
// for a peer it is not connected to. A transport without it simply keeps
// such peers.
type Dropper interface {
	Drop(peer PeerID) error
}
