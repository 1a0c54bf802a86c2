package blockchain_test

import (
	"testing"
	"time"

	"github.com/nakachain/blockchain"
	"github.com/nakachain/blockchain/nettest"
)

// TestTransport runs the nettest conformance suite against every transport
// the package provides, from one table: a MeshFunc per transport, and what
// the suite may expect of it.
func TestTransport(t *testing.T) {
	mem := func(link blockchain.LinkConfig) nettest.MeshFunc {
		return nettest.Shared(func(t *testing.T) blockchain.Network {
			return blockchain.NewMemNetwork(blockchain.MemNetworkConfig{Seed: 1, Link: link})
		})
	}
	for _, tt := range []struct {
		name string
		mesh nettest.MeshFunc
		opts nettest.Options
	}{
		{"MemInstant", mem(blockchain.LinkConfig{}), nettest.Options{}},
		// Constant latency keeps a link first-in first-out.
		{"MemLatency", mem(blockchain.LinkConfig{Latency: time.Millisecond}), nettest.Options{}},
		{"MemJitter", mem(blockchain.LinkConfig{Latency: time.Millisecond, Jitter: 2 * time.Millisecond}), nettest.Options{Unordered: true}},
		// TCP drops what does not fit in a peer's send queue.
		{"TCP", tcpMesh, nettest.Options{SendQueue: tcpTestSendQueue}},
	} {
		t.Run(tt.name, func(t *testing.T) { nettest.TestTransport(t, tt.mesh, tt.opts) })
	}
}
