// Package blockchain builds, step by step, the currency of the Bitcoin paper
// ("Bitcoin: A Peer-to-Peer Electronic Cash System", Nakamoto 2008): signed
// transactions, a chain of blocks, proof-of-work, and nodes that agree on
// one history without a trusted third party.
//
// This is a first cut; the full tour and the protocol summary follow.
package blockchain
