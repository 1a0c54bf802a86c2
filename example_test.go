package blockchain_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nakachain/blockchain"
)

// seed makes a reproducible wallet seed from a name. Real wallets use
// blockchain.NewWallet, which reads crypto/rand.
func seed(name string) [blockchain.SeedSize]byte {
	var s [blockchain.SeedSize]byte
	copy(s[:], name)
	return s
}

// A wallet pays another address: the transaction names the sender's key,
// the payee's address, the amount and fee in base units and the sender's
// nonce, and is signed for one chain.
func ExampleWallet_SignTransfer() {
	alice := blockchain.WalletFromSeed(seed("alice"))
	bob := blockchain.WalletFromSeed(seed("bob"))
	chainID := blockchain.Hash{0x01} // normally the genesis block's hash

	tx := alice.SignTransfer(chainID, bob.Address(), 1500, 10, 0)
	fmt.Println("to:    ", tx.To)
	fmt.Println("amount:", tx.Amount, "fee:", tx.Fee, "nonce:", tx.Nonce)
	fmt.Println("id:    ", tx.ID().Short(16))
	// Output:
	// to:     nk1y5djajlpzpaw27utsw8nkldffp7wclfenz0mr4
	// amount: 1500 fee: 10 nonce: 0
	// id:     53637070974d237e
}

// Anyone can check a signature with the transaction alone; changing any
// field, or presenting it on another chain, makes the check fail.
func ExampleTransaction_Verify() {
	alice := blockchain.WalletFromSeed(seed("alice"))
	bob := blockchain.WalletFromSeed(seed("bob"))
	chainID := blockchain.Hash{0x01}
	tx := alice.SignTransfer(chainID, bob.Address(), 1500, 10, 0)

	fmt.Println("as signed:      ", tx.Verify(chainID))

	forged := tx
	forged.Amount = 150000
	err := forged.Verify(chainID)
	fmt.Println("amount changed: ", errors.Is(err, blockchain.ErrBadSignature))

	err = tx.Verify(blockchain.Hash{0x02})
	fmt.Println("on another chain:", errors.Is(err, blockchain.ErrBadSignature))
	// Output:
	// as signed:       <nil>
	// amount changed:  true
	// on another chain: true
}

// Mining finds a nonce that puts the header's hash under its target; here
// the target asks for 16 leading zero bits, about 65,000 hashes of work.
func ExampleMine() {
	h := blockchain.Header{
		Version: blockchain.HeaderVersion,
		Height:  1,
		Time:    1_763_899_200_000_000_000,
		Bits:    blockchain.TargetFromBits(16).Compact(),
	}
	// One worker searches nonces 0, 1, 2... in order, so the result is
	// reproducible; more workers find a nonce sooner but not always this one.
	if _, err := blockchain.Mine(context.Background(), &h, 1); err != nil {
		fmt.Println(err)
		return
	}
	hash := h.Hash()
	fmt.Println("nonce:", h.Nonce)
	fmt.Println("hash: ", hash.Short(16))
	fmt.Println("leading zero bits:", hash.LeadingZeroBits())
	fmt.Println("valid:", h.CheckProofOfWork() == nil)
	// Output:
	// nonce: 50759
	// hash:  000031534fb3973c
	// leading zero bits: 18
	// valid: true
}

// The whole cycle in one place: a chain whose genesis funds Alice, a
// payment to Bob through the mempool, a block mined and added, balances.
func Example() {
	alice := blockchain.WalletFromSeed(seed("alice"))
	bob := blockchain.WalletFromSeed(seed("bob"))
	miner := blockchain.WalletFromSeed(seed("miner"))

	params := blockchain.TestParams()
	params.Allocations = []blockchain.Allocation{{To: alice.Address(), Amount: 10_000}}
	chain, err := blockchain.NewChain(params, blockchain.ChainOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	pool := blockchain.NewMempool(chain, blockchain.MempoolOptions{})

	tx := alice.SignTransfer(chain.ChainID(), bob.Address(), 1500, 10, pool.NextNonce(alice.Address()))
	fmt.Println("pending:", pool.Add(tx), pool.Len())
	overspend := alice.SignTransfer(chain.ChainID(), bob.Address(), 9000, 10, 1)
	fmt.Println("overspend refused:", errors.Is(pool.Add(overspend), blockchain.ErrInsufficientFunds))

	now := params.GenesisTime.Add(time.Minute)
	block := pool.NewBlockTemplate(miner.Address(), now)
	if _, err := blockchain.Mine(context.Background(), &block.Header, 1); err != nil {
		fmt.Println(err)
		return
	}
	res, err := chain.AddBlock(block, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	pool.Update(res)

	fmt.Println("status:", res.Status, "height:", chain.Height())
	fmt.Println("alice:", chain.Balance(alice.Address()))
	fmt.Println("bob:  ", chain.Balance(bob.Address()))
	fmt.Println("miner:", chain.Balance(miner.Address()), "=", params.Reward(1), "+ fee 10")
	info, _ := chain.Transaction(tx.ID())
	fmt.Println("confirmations:", info.Confirmations, "pending:", pool.Len())
	// Output:
	// pending: <nil> 1
	// overspend refused: true
	// status: main-chain height: 1
	// alice: 8490
	// bob:   1500
	// miner: 5000000010 = 5000000000 + fee 10
	// confirmations: 1 pending: 0
}

// Two nodes on a simulated network: Alice pays Bob through the shop's node,
// the other node mines (paced at the test chain's block time, about a
// second), and the shop's node waits until the payment is in a block.
func ExampleNode() {
	alice := blockchain.WalletFromSeed(seed("alice"))
	bob := blockchain.WalletFromSeed(seed("bob"))
	params := blockchain.TestParams()
	params.Allocations = []blockchain.Allocation{{To: alice.Address(), Amount: 10_000}}

	network := blockchain.NewMemNetwork(blockchain.MemNetworkConfig{})
	defer network.Close()
	newNode := func(id blockchain.PeerID, mining bool) *blockchain.Node {
		chain, err := blockchain.NewChain(params, blockchain.ChainOptions{})
		if err != nil {
			panic(err)
		}
		node, err := blockchain.NewNode(blockchain.NodeConfig{
			ID: id, Chain: chain, Network: network,
			Mining: mining, Miner: blockchain.WalletFromSeed(seed(string(id))).Address(),
		})
		if err != nil {
			panic(err)
		}
		return node
	}
	shop, miner := newNode("shop", false), newNode("miner", true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events, unsubscribe := shop.Subscribe()
	defer unsubscribe()
	go shop.Run(ctx)
	go miner.Run(ctx)
	for e := range events { // the two nodes shake hands
		if e.Type == blockchain.EventPeerConnected {
			break
		}
	}

	tx, err := shop.Send(alice, bob.Address(), 1500, 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	info, err := shop.WaitConfirmed(ctx, tx.ID(), 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("confirmed in a block:", info.Height > 0)
	fmt.Println("bob:  ", shop.Balance(bob.Address()))
	fmt.Println("alice:", blockchain.FormatCoins(shop.Balance(alice.Address())), "coins")
	// Output:
	// confirmed in a block: true
	// bob:   1500
	// alice: 0.0000849 coins
}
