package blockchain

import (
	"errors"
	"time"
)

// PeerID names a peer on a [Network]. In a [MemNetwork] it is the name a
// node joined under; over TCP it is the peer's address as this endpoint
// sees it ("198.18.0.2:8333" for a peer it dialed, the remote address for
// one that dialed it).
type PeerID string

// MaxMessageSize is the largest message any transport carries, in bytes:
// room for a batch of headers or a full block with margin. Transports
// refuse to send larger messages and drop larger ones they receive.
const MaxMessageSize = 8 << 20

// Network is the pluggable transport nodes talk through. A node joins under
// an ID and gets a [Conn]; the bytes it sends are opaque to the network.
// [MemNetwork] simulates one in a process; [TCPNetwork] connects processes
// and hosts. Implement this to plug in your own, and check it with the
// nettest package's suite. A Network that holds resources of its own may
// also implement io.Closer.
type Network interface {
	// Join registers id on the network. An ID may be joined once at a time;
	// after its Conn is closed it may join again.
	Join(id PeerID) (Conn, error)
}

// Conn is one node's endpoint on a [Network]. Its methods are safe for
// concurrent use.
//
// Sends never block on a slow peer: a transport may drop a message it
// cannot deliver (a full send queue, a lossy link; the protocol recovers
// from loss), but it never delivers one corrupted, and it delivers the
// messages of one peer in the order sent unless its links reorder them on
// purpose (MemNetwork's Jitter and Reorder).
//
// Receive delivers messages and connection events in one stream. For each
// peer, [PeerConnected] comes before the peer's first message and
// [PeerDisconnected] after its last; events are never dropped.
type Conn interface {
	// ID returns the ID this endpoint joined under.
	ID() PeerID
	// Peers returns the peers this endpoint is connected to. A message to
	// one of them may still be lost, as across a partition.
	Peers() []PeerID
	// Send queues data, which may be empty, for one peer; the caller may
	// reuse data afterwards. It fails with ErrUnknownPeer for a peer that
	// is not connected (itself included), ErrMessageTooLarge above
	// MaxMessageSize, and ErrClosed after Close. A nil error means queued,
	// not delivered.
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

// PeerEvent says what a [Packet] reports.
type PeerEvent uint8

// Packet events.
const (
	// PeerMessage: Data is a message from From.
	PeerMessage PeerEvent = iota
	// PeerConnected: From is now a peer; it may be sent to.
	PeerConnected
	// PeerDisconnected: From is no longer a peer.
	PeerDisconnected
)

// String returns the event's name.
func (e PeerEvent) String() string {
	switch e {
	case PeerMessage:
		return "message"
	case PeerConnected:
		return "connected"
	case PeerDisconnected:
		return "disconnected"
	}
	return "PeerEvent(?)"
}

// Packet is a message received from a peer, or a connection event. Data
// belongs to the receiver.
type Packet struct {
	From  PeerID
	Data  []byte
	Event PeerEvent
}

// Errors a [Conn] returns (wrapped).
var (
	ErrUnknownPeer     = errors.New("blockchain: unknown or unreachable peer")
	ErrMessageTooLarge = errors.New("blockchain: message larger than MaxMessageSize")
	ErrClosed          = errors.New("blockchain: endpoint closed")
	ErrDuplicatePeerID = errors.New("blockchain: peer ID already joined")
)

// Dropper is implemented by a [Conn] that can cut off a peer, as a node
// does with a peer that broke the protocol. The peer gets a
// PeerDisconnected event on each side. With a positive ban, the endpoint
// also refuses to reconnect to that peer (dial it, or accept it where the
// transport can tell it apart) for that long. Drop fails with
// ErrUnknownPeer for a peer it is not connected to. A transport without it
// simply keeps such peers.
type Dropper interface {
	Drop(peer PeerID, ban time.Duration) error
}

// Dialer is implemented by a [Conn] that reaches peers by address, as the
// TCP transport does: a node learns addresses from its peers and asks the
// endpoint to connect to them.
type Dialer interface {
	// Connect starts connecting to addr ("host:port") in the background,
	// unless it is connected, banned, or the outbound limit is reached;
	// success arrives as a PeerConnected event. It returns an error only
	// for an address it cannot use.
	Connect(addr string) error
	// LocalAddr returns the address peers should dial to reach this
	// endpoint (the advertised address), or "" if it accepts none.
	LocalAddr() string
	// Outbound reports how many of the endpoint's peers it dialed.
	Outbound() int
}
