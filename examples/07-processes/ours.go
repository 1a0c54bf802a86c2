package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nakachain/blockchain"
)

// startOurNode runs a node in this program, on a memory store: it dials
// node 1 at seed and no one else (it accepts no connections and wants one
// outbound peer), so what it sends reaches the others through node 1. The
// fleet's close stops it.
func startOurNode(ctx context.Context, params blockchain.Params, seed string, f *fleet) (*blockchain.Node, error) {
	chain, err := blockchain.NewChain(params, blockchain.ChainOptions{})
	if err != nil {
		return nil, err
	}
	tcp, err := blockchain.NewTCPNetwork(blockchain.TCPConfig{Peers: []string{seed}, MaxOutbound: 1})
	if err != nil {
		return nil, err
	}
	node, err := blockchain.NewNode(blockchain.NodeConfig{ID: "ours", Chain: chain, Network: tcp, TargetOutbound: 1})
	if err != nil {
		tcp.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = node.Run(ctx) // it returns when ctx is cancelled
	}()
	f.onClose(func() {
		cancel()
		<-done
		tcp.Close()
	})
	return node, nil
}

// waitAgree waits until every node's log and our node name the same tip,
// and returns it.
func waitAgree(ctx context.Context, timeout time.Duration, nodes []*proc, ours *blockchain.Node) (block, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		t := ours.Tip()
		want := block{t.Height, t.Hash}
		same := true
		var tips []string
		for _, n := range nodes {
			got := n.tip()
			same = same && got == want
			tips = append(tips, fmt.Sprintf("%s at %d %s", n.name, got.height, got.hash.Short(8)))
		}
		if same {
			return want, nil
		}
		select {
		case <-ctx.Done():
			return block{}, fmt.Errorf("the nodes do not agree with ours (at %d %s): %s: %w",
				want.height, want.hash.Short(8), strings.Join(tips, ", "), ctx.Err())
		case <-tick.C:
		}
	}
}
