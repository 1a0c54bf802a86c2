//go:build race

package main

// raceEnabled is true under -race, whose instrumentation makes hashing
// several times slower: the tests then run fewer races.
const raceEnabled = true
