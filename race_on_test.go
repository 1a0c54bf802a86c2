//go:build race

package blockchain

// raceEnabled is true under -race, whose instrumentation disables some of
// the compiler's allocation-free rewrites inside crypto/sha256.
const raceEnabled = true
