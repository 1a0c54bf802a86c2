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
//  7. examples/07-processes: three node processes (the nakachain program)
//     over TCP ([TCPNetwork]), each with its data directory ([FileStore]);
//     one is killed mid-block, restarts at its stored tip and catches up.
//  8. examples/08-double-spend: the paper's section 11 raced for real: an
//     attacker with a share of the hash power tries to reverse a payment,
//     and the rate measured meets the exact probability of the race
//     ([RaceSuccess]) beside the paper's ([AttackerSuccess]).
//  9. examples/09-web-wallet: the three nodes again, each with a web
//     wallet and block explorer (package web) in the browser.
//
// # The protocol
//
// PROTOCOL.md, at the root of the repository, is the complete
// specification: every byte that is hashed or signed, every constant, every
// validity rule in the order checked and the error code it gives, with
// worked examples; the test vectors in testdata/vectors let an
// implementation in another language check that it agrees with this
// package. In brief:
//
// Encodings: hashes are SHA-256 of fixed binary encodings; JSON is for
// display only. A block hash is SHA-256 of the 96-byte [Header], whose time
// is in Unix nanoseconds and whose nonce lies in SHA-256's second 64-byte
// block, so [Mine] hashes the first block once (about twice the speed of
// hashing whole headers). A [Transaction] is 141 bytes and its ID their
// SHA-256. A block is its header, its transaction count as a minimal
// uvarint, and its transactions, committed to by a Merkle root built as
// RFC 9162 builds it (leaves and inner nodes domain-separated, an odd node
// carried up), so [MerkleProof]s are unambiguous.
//
// Accounts: a transaction moves an integer amount of base units from the
// owner of an Ed25519 key to an [Address] (the first 20 bytes of a
// domain-separated SHA-256 of a key, written in Bech32m as "nk1…" so a typo
// is an error), pays a fee of at least [Params.MinTxFee], and carries the
// sender's nonce: 0 for its first transaction, then 1, 2, ... Each nonce is
// accepted once and in order, which stops replays and double spends. The
// signature covers a domain-separated message that includes the chain ID,
// so a transaction is valid on one chain only.
//
// The chain ID is the hash of the genesis block, which commits to every
// consensus parameter but [Params.Name]: its PrevHash is not zero but a
// digest of the parameters, and its transactions are the
// [Params.Allocations], in coinbase form. PROTOCOL.md gives the digest's
// exact bytes.
//
// Proof-of-work: a block is valid only if its hash, read as a big-endian
// number, is at most the target in its header's compact Bits (three
// significant bytes, or two when the first is 0x80 or more), and those Bits
// are exactly what the chain expects at that height: the compact form of
// [Params.InitialTarget], and, with [Params.RetargetInterval] N above 0, at
// every multiple of N the parent's target scaled by how long the last
// period took over how long it should have taken, measured from the last
// block of the period before, clamped to a factor of four, capped at
// [Params.PowLimit] and rounded down (PROTOCOL.md gives the exact rule;
// RetargetInterval 0 keeps the target fixed, as the tutorial does). A
// block's work is 2^256/(target+1).
//
// Blocks: the first transaction is the coinbase, unsigned, carrying the
// height as its nonce so no two coinbases are alike, and paying the miner
// at most the reward ([Params.Reward], halving on schedule) plus the fees.
// A valid block also has: a known parent and the height one above it; a
// time after the median of its parent's and up to ten ancestors' times, no
// more than [Params.MaxTimewarp] before its parent if it starts a retarget
// period, and at most [Params.MaxFutureDrift] ahead of the validating
// node's clock; the right Merkle root; size and count within limits; every
// other transaction signed, with the sender's next nonce, affordable, and
// within [MaxMoney]. Transactions apply in order, the coinbase last.
//
// Fork choice: of all valid branches, nodes follow the one with the most
// cumulative work (genesis included), the first complete among equals;
// never simply the longest. A reorganization undoes the state back to the
// fork point and applies the new branch as one step: if a block on it is
// invalid, nothing changes and that block and its descendants are marked
// invalid.
//
// Every rejection is a [*RuleError] whose code can be tested with
// errors.Is, for example errors.Is(err, ErrInsufficientFunds), and a
// rejected block or transaction changes nothing.
//
// A [LightClient] checks payments as section 8 of the paper describes: it
// keeps only the headers, and a node sends it a payment's Merkle branch.
//
// Network (PROTOCOL.md's last section): nodes exchange [Message]s as bytes
// over any [Network]. They shake hands first (same protocol, same chain,
// not themselves), then sync headers first: a node checks a chain of
// headers before it asks for any body, and fetches bodies only for a
// header chain with more work than its tip, from several peers at once. New
// blocks are announced by their headers, new transactions by their hashes.
// No node ever re-sends a whole chain, and none stores or checks what it
// did not ask for on a branch lighter than its tip.
//
// # What a peer can make a node hold
//
// A node's memory per peer is bounded whatever the peer sends: headers of
// a branch too light to matter are held aside up to 16,384 per peer (about
// 1.7 MB); requests wait in a queue of 64 and are answered within a budget
// of bytes per second ([NodeConfig.ServeRate]); at most a bounded number of
// blocks and transactions are asked of it at once. Across all peers, bodies
// not on the main chain are held within [ChainOptions.LooseBodyBudget] (64
// MiB by default), the address book within 2,048 entries (64 per source
// network), refused block hashes within 4,096. Orphan bodies are not kept at
// all. A transport bounds the rest: MaxMessageSize for one message, a send
// queue per peer, and [TCPConfig]'s limits on connections.
//
// # Layout
//
// The core ([Chain], its validation, [Mempool]) takes blocks and the time
// and returns results; it starts no goroutine that outlives a call, opens
// no socket and reads no clock. Bodies of connected blocks live in a
// [Store]: [MemStore] in memory, [FileStore] in an append-only log that
// survives a crash. [Node] is the only loop: it wires a chain to a
// [Network] ([MemNetwork] in a process, [TCPNetwork] between processes and
// hosts) and a miner.
package blockchain
