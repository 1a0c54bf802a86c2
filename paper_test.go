package blockchain

// Tests that read like the Bitcoin paper ("Bitcoin: A Peer-to-Peer
// Electronic Cash System", Nakamoto 2008), in the manner of etcd raft's
// raft_paper_test.go: one group per section, TestSection<N><Claim>, each
// test checking one claim of that section, restated in short above it.
//
// Run one section with go test -run Section4, or all with -run Section.
// Blocks come from the gen helper (chaingen_test.go) with TestParams:
// 8-bit targets, about 256 hashes a block.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// §2 Transactions.
//
// The paper's coin is a chain of digital signatures: each owner passes it
// on by signing a transfer to the next owner's key, and the payee checks
// the signatures. Here the chain of owners is a chain of signed transfers
// between accounts.

// Only the owner of a key can spend the coins paid to its address: a
// signature by anyone else moves nothing.
func TestSection2OnlyTheKeyOwnerCanSpend(t *testing.T) {
	g := newGen(t, 2)
	c := g.chain()
	alice, bob := g.people[0], g.people[1]
	mallory := testWallet(66)

	// Mallory writes a transfer from Alice's key to herself and signs it
	// with her own key.
	forged := Transaction{To: mallory.Address(), Amount: 500_000, Fee: 1}
	mallory.Sign(&forged, g.chainID)
	forged.From = alice.PublicKey()
	if err := forged.Verify(g.chainID); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("transfer from Alice signed by Mallory: Verify = %v, want ErrBadSignature", err)
	}
	before := digest(c, nil)
	if _, err := c.AddBlock(g.next(g.genesis, []Transaction{forged}), g.now); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("block with the forged transfer: %v, want ErrBadSignature", err)
	}
	// Signing honestly, Mallory can only spend her own empty account.
	own := mallory.SignTransfer(g.chainID, mallory.Address(), 500_000, 1, 0)
	if _, err := c.AddBlock(g.next(g.genesis, []Transaction{own}), g.now); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("Mallory spending from her own key: %v, want ErrInsufficientFunds", err)
	}
	if digest(c, nil) != before {
		t.Fatal("a refused transfer changed the chain")
	}

	// Alice's own signature moves her coins.
	g.add(c, g.next(g.genesis, []Transaction{g.pay(0, 1, 500_000, 1, 0)}))
	if got := c.Balance(bob.Address()); got != testFund+500_000 {
		t.Fatalf("Bob has %d after Alice's signed payment, want %d", got, testFund+500_000)
	}
	if got := c.Balance(mallory.Address()); got != 0 {
		t.Fatalf("Mallory has %d", got)
	}
}

// A transfer is signed as a whole: changing any field (sender, payee,
// amount, fee, nonce or the signature itself) makes it invalid.
func TestSection2ATransferAlteredInAnyFieldFails(t *testing.T) {
	g := newGen(t, 2)
	tx := g.pay(0, 1, 1500, 10, 0)
	if err := tx.Verify(g.chainID); err != nil {
		t.Fatalf("the transfer as signed: %v", err)
	}
	enc, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// The fields by offset in the 141-byte encoding (see Transaction).
	field := func(i int) string {
		switch {
		case i < 33:
			return "From"
		case i < 53:
			return "To"
		case i < 61:
			return "Amount"
		case i < 69:
			return "Fee"
		case i < 77:
			return "Nonce"
		}
		return "Signature"
	}
	for i := 1; i < TxSize; i++ { // byte 0 is the version, not signed data
		for _, bit := range []byte{0x01, 0x80} {
			mod := bytes.Clone(enc)
			mod[i] ^= bit
			var altered Transaction
			if err := altered.UnmarshalBinary(mod); err != nil {
				t.Fatalf("byte %d: %v", i, err)
			}
			if err := altered.Verify(g.chainID); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s changed (byte %d, bit %#02x): Verify = %v, want ErrBadSignature", field(i), i, bit, err)
			}
		}
	}
	// Presented on another chain, it is not the transfer its owner signed.
	other := g.chainID
	other[0] ^= 1
	if err := tx.Verify(other); !errors.Is(err, ErrBadSignature) {
		t.Errorf("on another chain: Verify = %v, want ErrBadSignature", err)
	}
	// And a chain refuses a block carrying an altered transfer.
	altered := tx
	altered.Amount = 150_000
	c := g.chain()
	if _, err := c.AddBlock(g.next(g.genesis, []Transaction{altered}), g.now); !errors.Is(err, ErrBadSignature) {
		t.Errorf("block with an altered transfer: %v, want ErrBadSignature", err)
	}
}

// Signatures alone cannot show a payee that the coin was not also spent
// elsewhere: two transfers of the same coins each look valid to the payee
// who holds only one.
func TestSection2ThePayeeCannotSeeADoubleSpendAlone(t *testing.T) {
	g := newGen(t, 3)
	toBob := g.pay(0, 1, 700_000, 1, 0)
	toCarol := g.pay(0, 2, 700_000, 1, 0)
	if toBob.Amount+toCarol.Amount <= testFund {
		t.Fatal("setup: the two payments together must spend more than Alice has")
	}
	for name, tx := range map[string]Transaction{"Bob": toBob, "Carol": toCarol} {
		if err := tx.Verify(g.chainID); err != nil {
			t.Errorf("%s's payment, checked on its own: %v", name, err)
		}
	}
	if toBob.ID() == toCarol.ID() || toBob.Nonce != toCarol.Nonce {
		t.Fatal("setup: want two different transfers with one nonce")
	}
}

// Ruling out a double spend takes knowing every transaction: the chain is
// that public history, and it accepts each sender's nonce once. A second
// spend of the same nonce is refused, pending, in the same block or in a
// later one.
func TestSection2TheChainRefusesASecondSpendOfTheSameNonce(t *testing.T) {
	g := newGen(t, 3)
	c := g.chain()
	pool := NewMempool(c, MempoolOptions{})
	bob, carol := g.people[1].Address(), g.people[2].Address()
	toBob := g.pay(0, 1, 700_000, 1, 0)
	toCarol := g.pay(0, 2, 700_000, 1, 0)

	if err := pool.Add(toBob); err != nil {
		t.Fatal(err)
	}
	if err := pool.Add(toCarol); !errors.Is(err, ErrMempoolConflict) {
		t.Errorf("second spend while the first is pending: %v, want ErrMempoolConflict", err)
	}
	if _, err := c.AddBlock(g.next(g.genesis, []Transaction{toBob, toCarol}), g.now); !errors.Is(err, ErrNonceTooLow) {
		t.Errorf("both spends in one block: %v, want ErrNonceTooLow", err)
	}

	b1 := g.next(g.genesis, []Transaction{toBob})
	pool.Update(g.add(c, b1))
	before := digest(c, pool)
	if _, err := c.AddBlock(g.next(b1, []Transaction{toCarol}), g.now); !errors.Is(err, ErrNonceTooLow) {
		t.Errorf("second spend after the first is confirmed: %v, want ErrNonceTooLow", err)
	}
	if _, err := c.AddBlock(g.next(b1, []Transaction{toBob}), g.now); !errors.Is(err, ErrNonceTooLow) {
		t.Errorf("the first spend replayed in a block: %v, want ErrNonceTooLow", err)
	}
	if err := pool.Add(toBob); !errors.Is(err, ErrTxOnChain) {
		t.Errorf("the first spend offered to the mempool again: %v, want ErrTxOnChain", err)
	}
	if err := pool.Add(toCarol); !errors.Is(err, ErrNonceTooLow) {
		t.Errorf("second spend offered to the mempool after confirmation: %v, want ErrNonceTooLow", err)
	}
	if digest(c, pool) != before {
		t.Fatal("a refused double spend changed the chain or the mempool")
	}
	if c.Balance(bob) != testFund+700_000 || c.Balance(carol) != testFund {
		t.Fatalf("Bob %d, Carol %d: only the first spend may count", c.Balance(bob), c.Balance(carol))
	}
}

// §3 Timestamp server.
//
// Every timestamp hashes the one before it, so the timestamps form a chain
// and each new one vouches for all earlier ones.

// Every block names the hash of the block before it, and its own hash
// covers that name.
func TestSection3EachBlockHashIncludesThePreviousOne(t *testing.T) {
	g := newGen(t, 1)
	prev := g.genesis
	for _, b := range g.branch(g.genesis, 6, nil) {
		if b.Header.PrevHash != prev.Hash() {
			t.Fatalf("block %d names %s as its parent, want %s", b.Header.Height, b.Header.PrevHash.Short(12), prev.Hash().Short(12))
		}
		for i := range HashSize {
			h := b.Header
			h.PrevHash[i] ^= 1
			if h.Hash() == b.Hash() {
				t.Fatalf("block %d: its hash does not cover byte %d of the previous hash", b.Header.Height, i)
			}
		}
		prev = b
	}
}

// Changing an old block changes its hash, which breaks the link from the
// next block; mending that link changes the next block's hash, and so on
// to the tip. The tip's hash commits to the whole history.
func TestSection3ChangingAnOldBlockBreaksEveryLaterLink(t *testing.T) {
	g := newGen(t, 2)
	const n = 6
	orig := g.branch(g.genesis, n, func(i int) []Transaction {
		return []Transaction{g.pay(0, 1, uint64(100+i), 1, uint64(i))}
	})
	for changed := range n {
		blocks := make([]*Block, n)
		for i, b := range orig {
			blocks[i] = cloneBlock(b)
		}
		b := blocks[changed]
		b.Transactions[1] = g.pay(0, 1, 999, 1, uint64(changed)) // a different amount
		fixRoot(b)
		if b.Hash() == orig[changed].Hash() {
			t.Fatalf("block %d: changing a transaction left its hash alone", changed+1)
		}
		if changed+1 < n && blocks[changed+1].Header.PrevHash == b.Hash() {
			t.Fatalf("block %d changed: the next block still links to it", changed+1)
		}
		// Mend each later link in turn: every later hash changes.
		for i := changed + 1; i < n; i++ {
			blocks[i].Header.PrevHash = blocks[i-1].Hash()
			if blocks[i].Hash() == orig[i].Hash() {
				t.Fatalf("block %d changed: block %d kept its hash after relinking", changed+1, i+1)
			}
			if i+1 < n && blocks[i+1].Header.PrevHash == blocks[i].Hash() {
				t.Fatalf("block %d changed: block %d still links to the relinked block %d", changed+1, i+2, i+1)
			}
		}
		if blocks[n-1].Hash() == orig[n-1].Hash() {
			t.Fatalf("block %d changed: the tip's hash did not", changed+1)
		}
	}
}

// §4 Proof-of-work.
//
// Mining searches for a nonce that makes the block's hash start with
// enough zero bits. The work is exponential in the number of zero bits,
// changing a block means redoing its work, and the majority decision is
// the chain with the most work invested in it.

// A block is accepted only if its hash meets the target, and only if the
// target is the one the chain asks for.
func TestSection4ABlockIsAcceptedOnlyIfItsHashMeetsTheTarget(t *testing.T) {
	g := newGen(t, 1)
	c := g.chain()
	want, err := TargetFromCompact(g.params.InitialTarget.Compact())
	if err != nil {
		t.Fatal(err)
	}

	unworked := g.next(g.genesis, nil)
	breakPoW(unworked)
	if _, err := c.AddBlock(unworked, g.now); !errors.Is(err, ErrBadProofOfWork) {
		t.Fatalf("hash above the target: %v, want ErrBadProofOfWork", err)
	}
	easy := g.next(g.genesis, nil, func(b *Block) { b.Header.Bits = TargetFromBits(1).Compact() })
	if _, err := c.AddBlock(easy, g.now); !errors.Is(err, ErrBadTarget) {
		t.Fatalf("block choosing its own easier target: %v, want ErrBadTarget", err)
	}

	b := g.next(g.genesis, nil)
	if h := b.Hash(); !h.MeetsTarget(want) || h.LeadingZeroBits() < want.ZeroBits() {
		t.Fatalf("mined hash %s misses the target %s", h, want)
	}
	if res := g.add(c, b); res.Status != StatusMainChain {
		t.Fatalf("mined block: %v", res.Status)
	}
}

// The expected work grows exponentially with the zero bits required: each
// extra bit doubles it, exactly in the chain's accounting and on average
// in the hashes a miner really tries.
func TestSection4WorkDoublesWithEachZeroBit(t *testing.T) {
	for n := range 256 {
		want := new(big.Int).Lsh(big.NewInt(1), uint(n))
		if got := TargetFromBits(n).Work(); got.Cmp(want) != 0 {
			t.Fatalf("work of %d zero bits = %v, want 2^%d", n, got, n)
		}
	}

	// Mine 256 headers at each difficulty and average the hashes tried.
	// The count for one header is geometric with mean 2^n, so the average
	// of 256 lands within 25% of it (four standard deviations); the
	// headers are fixed, so the result is too.
	const samples = 256
	for _, n := range []int{4, 6, 8, 10} {
		var total uint64
		for i := range samples {
			h := Header{Version: HeaderVersion, Height: uint64(i), Time: 1e18, Bits: TargetFromBits(n).Compact()}
			hashes, err := Mine(context.Background(), &h, 1)
			if err != nil {
				t.Fatal(err)
			}
			total += hashes
		}
		mean := float64(total) / samples
		t.Logf("%2d zero bits: %7.1f hashes per block on average, expected %d", n, mean, 1<<n)
		if ratio := mean / float64(uint64(1)<<n); ratio < 0.75 || ratio > 1.25 {
			t.Errorf("%d zero bits: %.1f hashes on average, want about %d", n, mean, 1<<n)
		}
	}
}

// Changing a past block means redoing its proof-of-work and that of every
// block after it, and then overtaking the work of the honest nodes.
func TestSection4ChangingABlockMeansRedoingItsWorkAndAllAfter(t *testing.T) {
	g := newGen(t, 2)
	c := g.chain()
	bob := g.people[1].Address()
	payment := g.pay(0, 1, 1000, 1, 0)
	honest := g.branch(g.genesis, 5, func(i int) []Transaction {
		if i == 1 {
			return []Transaction{payment}
		}
		return nil
	})
	g.add(c, honest...)
	honestTip := c.Tip()

	// Alice rewrites block 2 to pay herself instead of Bob.
	changed := cloneBlock(honest[1])
	changed.Transactions[1] = g.pay(0, 0, 1000, 1, 0)
	fixRoot(changed)
	if _, err := c.AddBlock(changed, g.now); !errors.Is(err, ErrBadProofOfWork) {
		t.Fatalf("changed block with its old nonce: %v, want ErrBadProofOfWork", err)
	}
	g.mine(changed) // redo its work
	if res := g.add(c, changed); res.Status != StatusSideChain {
		t.Fatalf("changed block with its work redone: %v, want a side chain", res.Status)
	}

	// The old block 3 does not carry over: its work was for the old parent.
	stale := cloneBlock(honest[2])
	stale.Header.PrevHash = changed.Hash()
	if _, err := c.AddBlock(stale, g.now); !errors.Is(err, ErrBadProofOfWork) {
		t.Fatalf("old block 3 relinked to the changed block: %v, want ErrBadProofOfWork", err)
	}

	// Redoing every later block only draws level, and the first seen of
	// equal branches stays; one block more than the honest chain wins.
	parent := changed
	for _, old := range honest[2:] {
		parent = g.next(parent, old.Transactions[1:])
		if res := g.add(c, parent); res.Status != StatusSideChain {
			t.Fatalf("redone block %d: %v, want a side chain", parent.Header.Height, res.Status)
		}
	}
	if c.Tip().Hash != honestTip.Hash || c.Balance(bob) != testFund+1000 {
		t.Fatal("the rewritten branch won with no more work than the honest one")
	}
	res := g.add(c, g.next(parent, nil))
	if res.Status != StatusReorg || c.Tip().TotalWork.Cmp(honestTip.TotalWork) <= 0 {
		t.Fatalf("rewritten branch with one block more: %v", res.Status)
	}
	if got := c.Balance(bob); got != testFund {
		t.Fatalf("after the rewrite wins, Bob has %d, want the payment gone (%d)", got, testFund)
	}
}

// The majority decision goes to the chain with the most cumulative work,
// not the most blocks: a longer chain of easier blocks loses to a shorter
// one of harder blocks, whichever a node sees first.
func TestSection4MostWorkWinsNotMostBlocks(t *testing.T) {
	g := newGen(t, 1, func(p *Params) {
		p.RetargetInterval = 4
		p.InitialTarget = TargetFromBits(10)
		p.PowLimit = TargetFromBits(6)
	})
	// Blocks found fast make the target harder; found slowly, easier.
	heavy := g.grow(g.chain(), g.genesis, 11, int64(time.Second)/10)
	light := g.grow(g.chain(), g.genesis, 20, 10*int64(time.Second))
	work := func(blocks []*Block) *big.Int {
		sum := new(big.Int)
		for _, b := range blocks {
			tgt, err := b.Header.Target()
			if err != nil {
				t.Fatal(err)
			}
			sum.Add(sum, tgt.Work())
		}
		return sum
	}
	heavyWork, lightWork := work(heavy), work(light)
	if len(light) <= len(heavy) || lightWork.Cmp(heavyWork) >= 0 {
		t.Fatalf("setup: light %d blocks, work %v; heavy %d blocks, work %v", len(light), lightWork, len(heavy), heavyWork)
	}
	t.Logf("heavy: %d blocks, work %v; light: %d blocks, work %v", len(heavy), heavyWork, len(light), lightWork)

	for _, order := range []struct {
		name          string
		first, second []*Block
	}{
		{"heavy first", heavy, light},
		{"light first", light, heavy},
	} {
		c := g.chain()
		g.add(c, order.first...)
		g.add(c, order.second...)
		tip := c.Tip()
		if tip.Hash != heavy[len(heavy)-1].Hash() {
			t.Errorf("%s: tip at height %d, want the heavy chain's tip at %d", order.name, tip.Height, len(heavy))
		}
		if want := new(big.Int).Add(heavyWork, work([]*Block{g.genesis})); tip.TotalWork.Cmp(want) != 0 {
			t.Errorf("%s: total work %v, want the heavy chain's %v", order.name, tip.TotalWork, want)
		}
	}
}

// §5 Network.
//
// Nodes take the chain with the most work as the right one and keep
// extending it. Two nodes that receive rival blocks in
// opposite orders each work on the first, keep the other, and both switch
// when one branch pulls ahead. Each node here is a Chain fed blocks
// directly, as a network would deliver them.

// A node works on the first of two rival blocks it receives, saves the
// other in case its branch pulls ahead, and switches when it does.
func TestSection5NodesSwitchToTheHeavierBranch(t *testing.T) {
	g := newGen(t, 1)
	x, y := g.chain(), g.chain()
	common := g.branch(g.genesis, 3, nil)
	g.add(x, common...)
	g.add(y, common...)
	a := g.next(common[2], nil)
	g.step++
	b := g.next(common[2], nil)

	for _, n := range []struct {
		name          string
		node          *Chain
		first, second *Block
	}{{"x", x, a, b}, {"y", y, b, a}} {
		if res := g.add(n.node, n.first); res.Status != StatusMainChain {
			t.Fatalf("node %s, first rival: %v", n.name, res.Status)
		}
		if res := g.add(n.node, n.second); res.Status != StatusSideChain {
			t.Fatalf("node %s, second rival: %v, want it saved on a side chain", n.name, res.Status)
		}
		if n.node.Tip().Hash != n.first.Hash() || !n.node.HasBlock(n.second.Hash()) {
			t.Fatalf("node %s does not work on the first rival while keeping the second", n.name)
		}
	}

	// The next block is found on b: x switches to it, y just extends.
	next := g.next(b, nil)
	resX, resY := g.add(x, next), g.add(y, next)
	if resX.Status != StatusReorg || len(resX.Disconnected) != 1 || resX.Disconnected[0].Hash() != a.Hash() {
		t.Fatalf("node x: %v, %d blocks disconnected; want a switch away from a", resX.Status, len(resX.Disconnected))
	}
	if resY.Status != StatusMainChain {
		t.Fatalf("node y: %v", resY.Status)
	}
	if x.Tip().Hash != next.Hash() || y.Tip().Hash != next.Hash() {
		t.Fatal("the nodes did not converge on the heavier branch")
	}
}

// A transaction need not reach every node, only one that puts it in a
// block: a payment one node mined is confirmed on another that never saw
// it.
func TestSection5TransactionsNeedNotReachEveryNode(t *testing.T) {
	g := newGen(t, 2)
	x, y := g.chain(), g.chain()
	pool := NewMempool(x, MempoolOptions{})
	tx := g.pay(0, 1, 4321, 2, 0)
	if err := pool.Add(tx); err != nil {
		t.Fatal(err)
	}
	b := pool.NewBlockTemplate(g.miner, g.now)
	g.mine(b)
	pool.Update(g.add(x, b))
	g.add(y, b)
	if info, ok := y.Transaction(tx.ID()); !ok || info.Height != 1 {
		t.Fatalf("node y: payment confirmed = %v at %d", ok, info.Height)
	}
	if got := y.Balance(g.people[1].Address()); got != testFund+4321 {
		t.Fatalf("node y: Bob has %d", got)
	}
}

// A node that missed a block notices when the next one arrives and asks
// for it: a block whose parent is missing is refused for now
// (ErrUnknownParent, which a node answers by asking the sender for the
// headers it lacks), and once the headers are in, bodies connect in
// whatever order they come.
func TestSection5AMissedBlockIsFetchedWhenTheNextOneArrives(t *testing.T) {
	g := newGen(t, 1)
	blocks := g.branch(g.genesis, 3, nil)
	c := g.chain()
	g.add(c, blocks[0])

	if _, err := c.AddBlock(blocks[2], g.now); !errors.Is(err, ErrUnknownParent) { // block 2 was lost on the way
		t.Fatalf("block 3 before block 2: %v; want ErrUnknownParent", err)
	}
	if c.Tip().Hash != blocks[0].Hash() {
		t.Fatal("a block without its parent moved the tip")
	}
	if _, err := c.AddHeaders([]Header{blocks[1].Header, blocks[2].Header}, g.now); err != nil {
		t.Fatal(err)
	}
	if ask := c.MissingBodies(blocks[2].Hash(), 10, 10); len(ask) != 2 || ask[0] != blocks[1].Hash() {
		t.Fatalf("node would request %d blocks starting %s, want the missing block 2", len(ask), ask[0].Short(12))
	}
	if res := g.add(c, blocks[2]); res.Status != StatusSideChain {
		t.Fatalf("block 3 with its header known: %v, want it kept", res.Status)
	}
	res := g.add(c, blocks[1])
	if res.Status != StatusMainChain || len(res.Connected) != 2 {
		t.Fatalf("block 2 arrives: %v, %d connected; want both blocks connected", res.Status, len(res.Connected))
	}
	if c.Tip().Hash != blocks[2].Hash() {
		t.Fatal("block 3 did not connect")
	}
}

// §6 Incentive.
//
// A block's first transaction creates new coins for the miner who made it;
// it may also collect the block's fees, and the new coins follow a fixed
// schedule.

// The coinbase may pay the miner the block reward plus the block's fees,
// and not one base unit more. Fees move coins; only the reward creates
// them.
func TestSection6TheCoinbaseCreatesAtMostTheRewardPlusFees(t *testing.T) {
	g := newGen(t, 3)
	c := g.chain()
	txs := []Transaction{g.pay(0, 1, 100, 3, 0), g.pay(1, 2, 100, 5, 0)}
	limit := g.params.Reward(1) + 3 + 5

	greedy := g.next(g.genesis, txs, func(b *Block) { b.Transactions[0].Amount = limit + 1; fixRoot(b) })
	if _, err := c.AddBlock(greedy, g.now); !errors.Is(err, ErrCoinbaseOverpays) {
		t.Fatalf("coinbase paying reward+fees+1: %v, want ErrCoinbaseOverpays", err)
	}
	b := g.next(g.genesis, txs)
	if b.Transactions[0].Amount != limit {
		t.Fatalf("setup: coinbase pays %d, want %d", b.Transactions[0].Amount, limit)
	}
	g.add(c, b)
	if got := c.Balance(g.miner); got != limit {
		t.Fatalf("miner has %d, want reward plus fees %d", got, limit)
	}
	var supply uint64
	for _, a := range c.Accounts() {
		supply += a.Balance
	}
	if want := 3*testFund + g.params.Reward(1); supply != want {
		t.Fatalf("coins in existence %d, want the allocations plus one reward %d", supply, want)
	}
}

// The reward halves on a fixed schedule, so the coins ever created are
// bounded: with Bitcoin's schedule, just under 21 million.
func TestSection6TheRewardHalvesOnSchedule(t *testing.T) {
	g := newGen(t, 0, func(p *Params) {
		p.BlockReward = 64
		p.HalvingInterval = 3
	})
	c := g.chain()
	want := []uint64{64, 64, 32, 32, 32, 16, 16, 16, 8, 8} // heights 1..10
	blocks := g.branch(g.genesis, len(want), nil)
	var paid uint64
	for i, b := range blocks {
		if got := b.Transactions[0].Amount; got != want[i] {
			t.Fatalf("height %d: reward %d, want %d", i+1, got, want[i])
		}
		if i > 0 && want[i] < want[i-1] {
			// The first block of a new era may not claim the old reward.
			old := g.next(blocks[i-1], nil, func(b *Block) { b.Transactions[0].Amount = want[i-1]; fixRoot(b) })
			if _, err := c.AddBlock(old, g.now); !errors.Is(err, ErrCoinbaseOverpays) {
				t.Fatalf("height %d claiming the old reward %d: %v, want ErrCoinbaseOverpays", i+1, want[i-1], err)
			}
		}
		g.add(c, b)
		paid += want[i]
	}
	if got := c.Balance(g.miner); got != paid {
		t.Fatalf("miner has %d, want %d", got, paid)
	}

	// DefaultParams has Bitcoin's schedule: 50 coins halving every 210,000
	// blocks, rounding down to whole base units, ends at 20,999,999.9769.
	p := DefaultParams()
	var total uint64
	for era := uint64(0); ; era++ {
		r := p.Reward(era * p.HalvingInterval)
		if r == 0 {
			break
		}
		total += r * p.HalvingInterval
	}
	if total != 2_099_999_997_690_000 {
		t.Fatalf("total supply %d base units, want 2099999997690000", total)
	}
	if r := p.Reward(64 * p.HalvingInterval); r != 0 {
		t.Fatalf("reward after 64 halvings %d, want 0", r)
	}
}

// §7 Reclaiming disk space.
//
// The block's hash covers only the root of a Merkle tree of its
// transactions. Old transactions can then be dropped: the header and a
// branch of the tree still prove what was in the block.

// The Merkle root in the header commits to every transaction and their
// order: change, drop, add or reorder one and the block no longer
// matches its header.
func TestSection7TheMerkleRootCommitsToEveryTransaction(t *testing.T) {
	g := newGen(t, 4)
	c := g.chain()
	b := g.next(g.genesis, []Transaction{g.pay(0, 1, 10, 1, 0), g.pay(1, 2, 20, 1, 0), g.pay(2, 3, 30, 1, 0), g.pay(3, 0, 40, 1, 0)})
	if err := b.CheckMerkleRoot(); err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(txs []Transaction) []Transaction{
		"add one":     func(txs []Transaction) []Transaction { return append(txs, g.pay(0, 2, 5, 1, 1)) },
		"drop last":   func(txs []Transaction) []Transaction { return txs[:len(txs)-1] },
		"drop middle": func(txs []Transaction) []Transaction { return append(txs[:2], txs[3:]...) },
		"swap two":    func(txs []Transaction) []Transaction { txs[1], txs[2] = txs[2], txs[1]; return txs },
	}
	for i := range b.Transactions {
		mutations[fmt.Sprintf("change transaction %d", i)] = func(txs []Transaction) []Transaction {
			txs[i].Amount++
			return txs
		}
	}
	for name, mutate := range mutations {
		m := cloneBlock(b)
		m.Transactions = mutate(m.Transactions)
		if m.Hash() != b.Hash() {
			t.Fatalf("%s: the header changed", name)
		}
		if err := m.CheckMerkleRoot(); !errors.Is(err, ErrBadMerkleRoot) {
			t.Errorf("%s: CheckMerkleRoot = %v, want ErrBadMerkleRoot", name, err)
		}
		if _, err := c.AddBlock(m, g.now); !errors.Is(err, ErrBadMerkleRoot) {
			t.Errorf("%s: AddBlock = %v, want ErrBadMerkleRoot", name, err)
		}
	}
	g.add(c, b) // the block as mined is still welcome
}

// A header and one Merkle branch prove that a transaction is in a block
// without the block's other transactions: the rest of the tree need not be
// kept, and a branch has only log2(n) hashes.
func TestSection7AHeaderAndABranchProveInclusion(t *testing.T) {
	g := newGen(t, 7)
	var txs []Transaction
	for i := range 6 {
		txs = append(txs, g.pay(i, i+1, uint64(10*(i+1)), 1, 0))
	}
	b := g.next(g.genesis, txs) // 7 transactions with the coinbase
	ids := b.TxIDs()
	full := b.Size()
	for i, id := range ids {
		proof, err := NewMerkleProof(ids, i)
		if err != nil {
			t.Fatal(err)
		}
		if len(proof.Path) > bits.Len(uint(len(ids)-1)) {
			t.Errorf("transaction %d: branch of %d hashes for %d transactions", i, len(proof.Path), len(ids))
		}
		// Pruned to the header, this transaction and its branch.
		if !VerifyMerkleProof(b.Header.MerkleRoot, id, proof) {
			t.Errorf("transaction %d: its branch does not lead to the header's root", i)
		}
		if kept := HeaderSize + TxSize + HashSize*len(proof.Path); kept >= full {
			t.Errorf("transaction %d: pruned block keeps %d of %d bytes", i, kept, full)
		}
		// The same branch proves nothing for a transaction not in the block.
		other := b.Transactions[i]
		other.Amount++
		if VerifyMerkleProof(b.Header.MerkleRoot, other.ID(), proof) {
			t.Errorf("transaction %d: a changed copy verifies", i)
		}
	}
}

// §8 Simplified payment verification.
//
// A user can check payments holding only the block headers of the chain
// with the most work, plus the Merkle branch that ties a transaction to
// its block.

// spvClient is the paper's light client: it stores headers only, checks
// that each links to the one before and carries the proof-of-work the
// chain asks for, and checks payments against them with Merkle branches.
// It knows the chain's fixed target, as TestParams has no retargeting.
type spvClient struct {
	bits    uint32
	headers []Header
	height  map[Hash]uint64
}

func newSPVClient(p Params) *spvClient {
	gen := p.Genesis().Header
	return &spvClient{bits: p.InitialTarget.Compact(), headers: []Header{gen}, height: map[Hash]uint64{gen.Hash(): 0}}
}

func (s *spvClient) addHeader(h Header) error {
	last := s.headers[len(s.headers)-1]
	switch {
	case h.PrevHash != last.Hash() || h.Height != last.Height+1:
		return fmt.Errorf("header %d does not extend the chain at %d", h.Height, last.Height)
	case h.Bits != s.bits:
		return fmt.Errorf("header %d: target %#08x, want %#08x", h.Height, h.Bits, s.bits)
	}
	if err := h.CheckProofOfWork(); err != nil {
		return err
	}
	s.headers = append(s.headers, h)
	s.height[h.Hash()] = h.Height
	return nil
}

// verifyPayment reports how many blocks confirm the transaction id, given
// the header of the block it is in and its Merkle branch there.
func (s *spvClient) verifyPayment(id Hash, proof MerkleProof, h Header) (confirmations uint64, err error) {
	height, ok := s.height[h.Hash()]
	if !ok {
		return 0, errors.New("block not in the header chain")
	}
	if !VerifyMerkleProof(h.MerkleRoot, id, proof) {
		return 0, errors.New("Merkle branch does not lead to the block's root")
	}
	return uint64(len(s.headers)) - height, nil
}

// A light client holding only the headers verifies a payment with the
// full node's TxProof, sees how many blocks confirm it, and is not fooled
// by a changed payment, a block outside its header chain, or a header
// without proof-of-work.
func TestSection8ALightClientVerifiesAPaymentWithHeadersOnly(t *testing.T) {
	g := newGen(t, 3)
	full := g.chain()
	payment := g.pay(0, 1, 250_000, 5, 0)
	blocks := g.branch(g.genesis, 6, func(i int) []Transaction {
		switch i {
		case 1:
			return []Transaction{g.pay(2, 0, 7, 1, 0), payment, g.pay(1, 2, 9, 1, 0)}
		case 3:
			return []Transaction{g.pay(2, 1, 11, 1, 1)}
		}
		return nil
	})
	g.add(full, blocks...)

	light := newSPVClient(g.params)
	for h := uint64(1); h <= full.Height(); h++ {
		b, _ := full.BlockByHeight(h)
		enc, err := b.Header.MarshalBinary() // what goes over the wire: 96 bytes
		if err != nil {
			t.Fatal(err)
		}
		var hdr Header
		if err := hdr.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if err := light.addHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("light client: %d headers, %d bytes", len(light.headers), len(light.headers)*HeaderSize)

	proof, hdr, ok := full.TxProof(payment.ID())
	if !ok {
		t.Fatal("full node has no proof for the payment")
	}
	conf, err := light.verifyPayment(payment.ID(), proof, hdr)
	if err != nil {
		t.Fatalf("light client refused a confirmed payment: %v", err)
	}
	if info, _ := full.Transaction(payment.ID()); conf != 5 || conf != info.Confirmations {
		t.Fatalf("light client counts %d confirmations, full node %d, want 5", conf, info.Confirmations)
	}

	// A payment the chain never confirmed: more than Bob was paid.
	inflated := payment
	inflated.Amount *= 10
	if _, err := light.verifyPayment(inflated.ID(), proof, hdr); err == nil {
		t.Error("light client accepted a changed payment")
	}
	// A block outside its header chain, however well mined.
	fake := g.next(g.genesis, []Transaction{inflated})
	fakeProof, err := NewMerkleProof(fake.TxIDs(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := light.verifyPayment(inflated.ID(), fakeProof, fake.Header); err == nil {
		t.Error("light client accepted a payment in a block outside its header chain")
	}
	// A header without proof-of-work does not get into its chain.
	next := g.next(blocks[len(blocks)-1], nil)
	breakPoW(next)
	if err := light.addHeader(next.Header); !errors.Is(err, ErrBadProofOfWork) {
		t.Errorf("header without proof-of-work: %v, want ErrBadProofOfWork", err)
	}
}

// §9 Combining and splitting value.
//
// Bitcoin transactions have several inputs and outputs so that value can
// be split and combined. In this account model an address has one
// balance, in whole base units: a payment takes any part of it, and every
// payment received adds to it.

// A payment can be any whole number of base units up to the balance, from
// one base unit to all of it, and not one more.
func TestSection9APaymentCanBeAnyAmountUpToTheBalance(t *testing.T) {
	g := newGen(t, 2)
	c := g.chain()
	alice, bob := g.people[0].Address(), g.people[1].Address()
	b1 := g.next(g.genesis, []Transaction{g.pay(0, 1, 1, 1, 0)}) // the smallest amount
	g.add(c, b1)
	rest := c.Balance(alice) - 1 // all of it, less a fee of 1
	if rest != testFund-3 {
		t.Fatalf("Alice has %d after paying 1 and a fee of 1", c.Balance(alice))
	}
	if _, err := c.AddBlock(g.next(b1, []Transaction{g.pay(0, 1, rest+1, 1, 1)}), g.now); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("paying one base unit more than the balance: %v, want ErrInsufficientFunds", err)
	}
	g.add(c, g.next(b1, []Transaction{g.pay(0, 1, rest, 1, 1)}))
	if a, b := c.Balance(alice), c.Balance(bob); a != 0 || b != testFund+1+rest {
		t.Fatalf("Alice %d, Bob %d; want 0 and %d", a, b, testFund+1+rest)
	}
}

// Payments received combine into one balance, and one payment can spend
// more than any of them alone: no inputs to gather, no change to return.
func TestSection9PaymentsReceivedCombineIntoOneBalance(t *testing.T) {
	g := newGen(t, 4)
	c := g.chain()
	bob := g.people[0]
	b1 := g.next(g.genesis, []Transaction{g.pay(1, 0, 300_000, 1, 0), g.pay(2, 0, 300_001, 1, 0), g.pay(3, 0, 300_002, 1, 0)})
	g.add(c, b1)
	if got, want := c.Balance(bob.Address()), uint64(testFund+900_003); got != want {
		t.Fatalf("Bob has %d, want %d", got, want)
	}
	all := g.pay(0, 1, testFund+900_002, 1, 0) // more than any one payment or his own funds
	g.add(c, g.next(b1, []Transaction{all}))
	if got := c.Balance(bob.Address()); got != 0 {
		t.Fatalf("Bob has %d left, want 0", got)
	}
	if got, want := c.Balance(g.people[1].Address()), uint64(testFund-300_001+testFund+900_002); got != want {
		t.Fatalf("payee has %d, want %d", got, want)
	}
}

// Amounts are 64-bit integers of base units, and no amount, balance or sum
// can pass 2^64−1: a chain's allocations plus every reward it will ever
// pay stay under MaxMoney (half of 2^64 and more to spare), and a
// transaction whose amount plus fee exceeds MaxMoney is refused.
func TestSection9AnAmountThatWouldOverflowIsRefused(t *testing.T) {
	p := TestParams()
	p.Allocations = []Allocation{{Amount: MaxMoney}, {Amount: 1}}
	if err := p.Validate(); !errors.Is(err, ErrBadParams) {
		t.Fatalf("allocations above MaxMoney: %v, want ErrBadParams", err)
	}
	whale := testWallet(50).Address()
	var rest uint64
	g := newGen(t, 2, func(p *Params) {
		rest = MaxMoney - 2*testFund - p.scheduledRewards().Uint64() // all the money there can ever be
		p.Allocations = append(p.Allocations, Allocation{To: whale, Amount: rest})
	})
	c := g.chain()
	before := digest(c, nil)
	for name, tx := range map[string]Transaction{
		"amount above MaxMoney":          g.pay(0, 1, MaxMoney+1, 1, 0),
		"amount plus fee above MaxMoney": g.pay(0, 1, MaxMoney, 1, 0),
		"amount of 2^64-1":               g.pay(0, 1, math.MaxUint64, 1, 0),
	} {
		if _, err := c.AddBlock(g.next(g.genesis, []Transaction{tx}), g.now); !errors.Is(err, ErrOverflow) {
			t.Errorf("%s: %v, want ErrOverflow", name, err)
		}
	}
	if digest(c, nil) != before {
		t.Fatal("a refused amount changed the chain")
	}
	// Everything there is fits in one balance.
	g.add(c, g.next(g.genesis, []Transaction{
		g.people[0].SignTransfer(g.chainID, whale, testFund-1, 1, 0),
		g.people[1].SignTransfer(g.chainID, whale, testFund-1, 1, 0),
	}))
	if got := c.Balance(whale); got != rest+2*testFund-2 || got > MaxMoney {
		t.Fatalf("whale has %d, want %d", got, rest+2*testFund-2)
	}
}

// §10 Privacy.
//
// Although every transaction is public, who owns which key need not be:
// addresses are hashes of keys, and a new key for each payment keeps the
// payments from being linked to one owner.

// An address is a hash of a public key: paying it reveals no key, and the
// key appears on the chain only when its owner spends.
func TestSection10AnAddressIsAHashOfAKey(t *testing.T) {
	g := newGen(t, 2)
	alice, bob := g.people[0], g.people[1]
	key := bob.PublicKey()
	sum := sha256.Sum256(append([]byte(addressDomain), key[:]...))
	if a := bob.Address(); !bytes.Equal(a[:], sum[:AddressSize]) {
		t.Fatalf("Bob's address %x is not the hash of his key", a)
	}

	c := g.chain()
	b1 := g.next(g.genesis, []Transaction{g.pay(0, 1, 100, 1, 0)})
	g.add(c, b1)
	onChain := func() []byte {
		var all []byte
		for h := uint64(0); h <= c.Height(); h++ {
			b, _ := c.BlockByHeight(h)
			enc, err := b.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, enc...)
		}
		return all
	}
	data := onChain()
	bobAddr, aliceKey := bob.Address(), alice.PublicKey()
	switch {
	case !bytes.Contains(data, bobAddr[:]):
		t.Fatal("Bob's address is not on the chain he was paid on")
	case bytes.Contains(data, key[:]):
		t.Fatal("being paid put Bob's public key on the chain")
	case !bytes.Contains(data, aliceKey[:]):
		t.Fatal("Alice spent without her key on the chain")
	}
	g.add(c, g.next(b1, []Transaction{g.pay(1, 0, 50, 1, 0)}))
	if !bytes.Contains(onChain(), key[:]) {
		t.Fatal("Bob spent without his key on the chain")
	}
}

// A fresh key for each payment gives addresses that share nothing a
// stranger could link, where one reused address would tie every payment
// to it together.
func TestSection10AFreshKeyPerPaymentGivesUnlinkableAddresses(t *testing.T) {
	g := newGen(t, 4)
	c := g.chain()
	var fresh []Address
	for i := range 3 {
		fresh = append(fresh, testWallet(300+i).Address()) // Bob's key for invoice i
	}
	var txs []Transaction
	for i, to := range fresh {
		txs = append(txs, g.people[i+1].SignTransfer(g.chainID, to, uint64(1000*(i+1)), 1, 0))
	}
	g.add(c, g.next(g.genesis, txs))

	seen := map[Address]int{}
	for _, tx := range txs {
		seen[tx.To]++
	}
	if len(seen) != len(fresh) {
		t.Fatalf("%d distinct payees on the chain for %d fresh keys", len(seen), len(fresh))
	}
	// Hashes of unrelated keys differ in about half their 160 bits; 50 is
	// five standard deviations short of that.
	for i := range fresh {
		for j := i + 1; j < len(fresh); j++ {
			d := 0
			for k := range AddressSize {
				d += bits.OnesCount8(fresh[i][k] ^ fresh[j][k])
			}
			if d < 50 {
				t.Errorf("addresses %d and %d differ in only %d of 160 bits", i, j, d)
			}
		}
	}
	for i, a := range fresh {
		if got, want := c.Balance(a), uint64(1000*(i+1)); got != want {
			t.Errorf("fresh address %d holds %d, want %d", i, got, want)
		}
	}
}

// §11 Calculations.
//
// An attacker tries to build an alternative chain faster than the honest
// network. The race is a gambler's ruin: from z blocks behind, an attacker
// with share q < p of the hash rate ever catches up with probability
// (q/p)^z. While the honest chain adds z blocks, the attacker's progress
// is Poisson with mean z·q/p.

// AttackerSuccess reproduces every probability in the paper's first table,
// to the 7 decimals printed.
func TestSection11AttackerSuccessMatchesThePaper(t *testing.T) {
	rows := readPaperTable(t, "attacker-success.tsv", "q", "z", "P")
	if len(rows) != 22 {
		t.Fatalf("%d rows in the table, want the paper's 22", len(rows))
	}
	for _, r := range rows {
		q, z := paperFloat(t, r[0]), paperInt(t, r[1])
		if got := fmt.Sprintf("%.7f", AttackerSuccess(q, z)); got != r[2] {
			t.Errorf("q=%s z=%d: P=%s, the paper prints %s", r[0], z, got, r[2])
		}
	}
}

// ConfirmationsNeeded reproduces the paper's second table: the smallest z
// with P < 0.1%.
func TestSection11ConfirmationsNeededMatchesThePaper(t *testing.T) {
	rows := readPaperTable(t, "confirmations-needed.tsv", "q", "z")
	if len(rows) != 8 {
		t.Fatalf("%d rows in the table, want the paper's 8", len(rows))
	}
	for _, r := range rows {
		q, want := paperFloat(t, r[0]), paperInt(t, r[1])
		if got := ConfirmationsNeeded(q, 0.001); got != want {
			t.Errorf("q=%s: z=%d, the paper says %d", r[0], got, want)
		}
	}
}

// While p > q the attacker's chance falls exponentially with the number of
// blocks to catch up. For
// large z the sum is about (ρ·e^(1−ρ))^z / 2 with ρ = q/p, so each block
// multiplies it by ρ·e^(1−ρ) < 1. With q ≥ p the attacker always wins.
func TestSection11TheOddsDropExponentiallyWithEachBlock(t *testing.T) {
	for _, q := range []float64{0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.45} {
		prev := AttackerSuccess(q, 0)
		if prev != 1 {
			t.Fatalf("q=%v z=0: P=%v, want 1 (nothing to catch up)", q, prev)
		}
		for z := 1; z <= 400 && prev > 1e-250; z++ { // stop short of underflow
			p := AttackerSuccess(q, z)
			if !(p < prev) || p <= 0 {
				t.Fatalf("q=%v: P(z=%d)=%g does not fall below P(z=%d)=%g", q, z, p, z-1, prev)
			}
			prev = p
		}
		rho := q / (1 - q)
		want := rho * math.Exp(1-rho)
		if got := AttackerSuccess(q, 101) / AttackerSuccess(q, 100); math.Abs(got-want) > 0.005*want {
			t.Errorf("q=%v: each block at z=100 multiplies P by %.5f, want about ρ·e^(1−ρ) = %.5f", q, got, want)
		}
	}
	for _, q := range []float64{0.5, 0.6, 1} {
		for _, z := range []int{1, 10, 1000} {
			if p := AttackerSuccess(q, z); p != 1 {
				t.Errorf("q=%v z=%d: P=%v, want 1", q, z, p)
			}
		}
		if z := ConfirmationsNeeded(q, 0.001); z != -1 {
			t.Errorf("q=%v: %d confirmations, want -1 (no wait is enough)", q, z)
		}
	}
	if z := ConfirmationsNeeded(0.1, 0); z != -1 {
		t.Errorf("risk 0: %d confirmations, want -1", z)
	}
}

// ConfirmationsNeeded is the first safe wait: the risk at z is below the
// bound and the risk one block sooner is not.
func TestSection11ConfirmationsNeededIsTheSmallestSafeWait(t *testing.T) {
	for _, q := range []float64{0, 0.01, 0.1, 0.2, 0.3, 0.4, 0.45, 0.49} {
		for _, risk := range []float64{0.5, 0.1, 0.001, 1e-6, 1e-12} {
			z := ConfirmationsNeeded(q, risk)
			if z < 0 {
				t.Errorf("q=%v risk=%g: no answer", q, risk)
				continue
			}
			if p := AttackerSuccess(q, z); p >= risk {
				t.Errorf("q=%v risk=%g: z=%d leaves P=%g", q, risk, z, p)
			}
			if z > 0 {
				if p := AttackerSuccess(q, z-1); p < risk {
					t.Errorf("q=%v risk=%g: z=%d, but z=%d already gives P=%g", q, risk, z, z-1, p)
				}
			}
		}
	}
}

// readPaperTable reads a tab-separated table from testdata: lines starting
// with # are comments, the first other line is the header.
func readPaperTable(t *testing.T, name string, header ...string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sawHeader := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != len(header) {
			t.Fatalf("%s: %q has %d columns, want %d", name, line, len(cols), len(header))
		}
		if !sawHeader {
			if strings.Join(cols, " ") != strings.Join(header, " ") {
				t.Fatalf("%s: header %q, want %q", name, cols, header)
			}
			sawHeader = true
			continue
		}
		rows = append(rows, cols)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func paperFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func paperInt(t *testing.T, s string) int {
	t.Helper()
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
