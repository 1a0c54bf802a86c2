// Package blockchain builds, step by step, the electronic cash system of the
// Bitcoin paper (Nakamoto 2008, "Bitcoin: A Peer-to-Peer Electronic Cash
// System"), and runs it: wallets, signed transactions, blocks chained by
// hash, proof-of-work, a consensus core that follows the chain with the
// most work, and nodes that reach agreement over a network with no trusted
// third party.
//
// # The tutorial, stage by stage
//
// Each stage is a runnable program in the examples directory; each fixes
// the problem the previous one left open.
//
//  1. examples/01-ledger: a trusted bank keeps the ledger. It can change an
//     entry and nobody can tell. We must trust it.
//  2. examples/02-signatures: owners sign their transfers ([Wallet],
//     [Transaction.Verify]). Nobody can forge one, but a payee cannot see
//     whether the coins were already spent: the double-spending problem.
//  3. examples/03-timestamp-server: a server publishes the history in
//     blocks chained by hash ([Block], [Header], [MerkleRoot]). Tampering
//     shows, but the server can still re-sign a rewritten history.
//  4. examples/04-proof-of-work: the server's signature is replaced by work
//     anyone can do and anyone can check in one hash ([Mine], [Target]).
//     Rewriting a block means redoing it and every block after it.
//  5. examples/05-node: one node keeps the chain ([Chain], [Mempool],
//     [Node]): it mines, pays itself the reward, and refuses an overspend and
//     a replay with their errors.
//  6. examples/06-network: seven nodes on a simulated network ([MemNetwork])
//     agree on one history; cut in two, both halves fork, and when the cut
//     heals every node follows the branch with the most work.
//
// # The protocol in one page
//
// Hashes are SHA-256 of canonical binary encodings; JSON is for display
// only. A block hash is SHA-256 of the 96-byte [Header], whose layout puts
// the nonce in SHA-256's second 64-byte block so miners hash the first block
// once ([Mine] runs at about twice the speed of hashing whole headers).
// Header time is in Unix nanoseconds.
//
// Proof-of-work: a block is valid only if its hash, read as a big-endian
// number, is at most the target in its header's compact Bits, and those
// Bits are what the chain expects at that height: [Params.InitialBits],
// retargeted every [Params.RetargetInterval] blocks by actual over expected
// time, clamped to a factor of four and to [Params.PowLimit]
// (RetargetInterval 0 keeps it fixed, as the tutorial does). A block's work
// is 2^256/(target+1).
//
// Fork choice: of all valid branches, nodes follow the one with the most
// cumulative work, the first seen among equals; never simply the longest. A
// reorganization undoes the state back to the fork point and applies the
// new branch as one step: if a block on it is invalid, nothing changes and
// that block and its descendants are marked invalid. Transactions of
// disconnected blocks return to the mempool if still valid.
//
// Accounts: a [Transaction] moves an integer amount of base units from the
// owner of an Ed25519 key to an [Address] (a 20-byte hash of a key, written
// in Bech32m as "nk1…" so a typo is an error), pays a fee, and carries the
// sender's nonce: 0 for its first transaction, then 1, 2, ... Each nonce is
// accepted once and in order, which stops replays and double spends. The
// signature covers a domain-separated message that includes the chain ID
// (the genesis hash), so a transaction is valid on one chain only.
//
// Blocks: the first transaction is the coinbase, unsigned, paying the
// miner at most the reward ([Params.Reward], halving on schedule) plus the
// fees, and carrying the height so no two coinbases are alike. The genesis
// block may instead hold starting balances ([Params.Allocations]). A valid
// block also has: a known parent and height one above it; a time after the
// median of the last 11 blocks and at most [Params.MaxFutureDrift] ahead of
// the validating node's clock; the Merkle root of its transactions (leaves
// and inner nodes domain-separated, RFC 9162, so [MerkleProof]s are
// unambiguous); size and count within limits; every other transaction
// signed, with the sender's next nonce, affordable, overflowing nothing, and
// neither repeated in the block nor already on the chain.
//
// Every rejection is a [*RuleError] whose code can be tested with
// errors.Is, for example errors.Is(err, ErrInsufficientFunds), and a
// rejected block or transaction changes nothing.
//
// Network: nodes exchange [Message]s as bytes over any [Network]. They
// announce new transactions and blocks by hash and send them to peers that
// ask; tell each other their tip and total work; and a node that is behind,
// or that receives an orphan, sends a block locator and gets the missing
// blocks in bounded batches. No node ever re-sends a whole chain.
//
// # Layout
//
// The core ([Chain], its validation, [Mempool]) takes blocks and the time
// and returns results; it starts no goroutine that outlives a call, opens
// no socket and reads no clock. [Node] is the only loop: it wires a chain to
// a [Network] and a miner.
package blockchain
