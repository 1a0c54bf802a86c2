package blockchain

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A light client follows the headers of a node's chain and verifies a
// payment from the Merkle branch the node sends, with the confirmations
// its header chain shows, while keeping no block body.
func TestLightClientVerifiesAPayment(t *testing.T) {
	g := newGen(t, 2)
	tx := g.pay(0, 1, 777, 3, 0)
	blocks := g.branch(g.genesis, 6, func(i int) []Transaction {
		if i == 2 {
			return []Transaction{g.pay(1, 0, 5, 1, 0), tx, g.pay(1, 0, 5, 1, 1)}
		}
		return nil
	})
	full := g.chain()
	g.add(full, blocks[:4]...)
	mem := NewMemNetwork(MemNetworkConfig{})
	t.Cleanup(func() { mem.Close() })
	now := func() time.Time { return g.now }
	node := quickNode(t, "node", full, mem, now)
	light, err := NewLightClient(LightConfig{ID: "phone", Params: g.params, Network: mem, Now: now,
		SyncInterval: 50 * time.Millisecond, RequestTimeout: 300 * time.Millisecond, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- light.Run(ctx) }()
	runNodes(t, node)

	p, err := light.VerifyPayment(ctx, tx.ID(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Height != 3 || p.Confirmations != 2 || p.Tx != tx || p.BlockHash != blocks[2].Hash() {
		t.Fatalf("payment: height %d, %d confirmations", p.Height, p.Confirmations)
	}
	// Two more blocks reach the node; the client sees them as confirmations.
	g.add(full, blocks[4:]...)
	if p, err = light.VerifyPayment(ctx, tx.ID(), 4); err != nil || p.Confirmations < 4 {
		t.Fatalf("after two more blocks: %d confirmations, %v", p.Confirmations, err)
	}
	if s := light.chain.Stats(); s.LooseBodies != 0 || light.Tip().Height != 6 {
		t.Fatalf("the light client holds %d bodies; its tip is at %d", s.LooseBodies, light.Tip().Height)
	}

	// Proofs that do not check out.
	proof, _, _ := full.TxProof(tx.ID())
	good := ProofMsg{Tx: tx, BlockHash: blocks[2].Hash(), Proof: proof}
	bad := good
	bad.Proof.Path = append([]Hash{{1}}, proof.Path[1:]...)
	if _, err := light.CheckProof(tx.ID(), bad); !errors.Is(err, ErrBadProof) {
		t.Fatalf("a wrong branch: %v", err)
	}
	other := good
	other.Tx.Amount++
	if _, err := light.CheckProof(tx.ID(), other); !errors.Is(err, ErrBadProof) {
		t.Fatalf("another transaction: %v", err)
	}
	elsewhere := good
	elsewhere.BlockHash = Hash{0xaa}
	if _, err := light.CheckProof(tx.ID(), elsewhere); !errors.Is(err, ErrUnknownParent) {
		t.Fatalf("a block the client does not know: %v", err)
	}
	if _, err := light.CheckProof(tx.ID(), good); err != nil {
		t.Fatal(err)
	}

	// A payment never made is never verified.
	short, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	if _, err := light.VerifyPayment(short, Hash{0xbb}, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an unknown payment: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A peer that answers with a proof that does not check out is dropped,
// and the payment is verified from an honest node.
func TestLightClientDropsALyingPeer(t *testing.T) {
	g := newGen(t, 2)
	tx := g.pay(0, 1, 777, 3, 0)
	blocks := g.branch(g.genesis, 3, func(i int) []Transaction {
		if i == 0 {
			return []Transaction{tx, g.pay(1, 0, 1, 1, 0)}
		}
		return nil
	})
	full := g.chain()
	g.add(full, blocks...)
	mem := NewMemNetwork(MemNetworkConfig{})
	t.Cleanup(func() { mem.Close() })
	now := func() time.Time { return g.now }
	light, err := NewLightClient(LightConfig{ID: "phone", Params: g.params, Network: mem, Now: now,
		SyncInterval: 50 * time.Millisecond, RequestTimeout: 300 * time.Millisecond, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go light.Run(ctx)
	// The liar connects first: it answers every request with a bad proof.
	liar := dialRaw(t, mem, "liar", "phone", g.chainID)
	proof, _, _ := full.TxProof(tx.ID())
	proof.Path[0][0] ^= 1
	var lied atomic.Int64
	go func() {
		for p := range liar.conn.Receive() {
			if p.Event != PeerMessage {
				continue
			}
			if m, err := DecodeMessage(p.Data); err == nil {
				switch m.(type) {
				case GetProofMsg:
					lied.Add(1)
					liar.send(ProofMsg{Tx: tx, BlockHash: blocks[0].Hash(), Proof: proof})
				case GetHeadersMsg:
					hs := []Header{blocks[0].Header, blocks[1].Header, blocks[2].Header}
					liar.send(HeadersMsg{Headers: hs})
				}
			}
		}
	}()
	node := quickNode(t, "node", full, mem, now)
	runNodes(t, node)
	for len(light.Peers()) < 2 { // both peers ready: the liar is asked first (peers go in order)
		select {
		case <-ctx.Done():
			t.Fatal("the light client did not shake hands with both peers")
		case <-time.After(10 * time.Millisecond):
		}
	}
	p, err := light.VerifyPayment(ctx, tx.ID(), 1)
	if err != nil || p.Height != 1 {
		t.Fatalf("payment %+v: %v", p, err)
	}
	if lied.Load() == 0 {
		t.Fatal("the liar was never asked: the test proves nothing")
	}
	for _, id := range light.Peers() {
		if id == "liar" {
			t.Fatal("the lying peer is still a peer")
		}
	}
}
