package blockchain

import (
	"errors"
	"fmt"
	"sync"
)

// Store keeps the blocks a [Chain] has connected, so that a node that
// restarts finds its chain again. The chain appends every block it
// connects, before it reports the block (so before a node announces it),
// and reads bodies back when it needs them: for queries, for peers, and to
// disconnect blocks in a reorganization. A Store only ever grows.
//
// [MemStore] keeps blocks in memory; the file store keeps them in an
// append-only log that survives crashes. A Store must be safe for
// concurrent use.
type Store interface {
	// Append stores blocks in order and returns the location of each.
	// When it returns nil every block is durable: it will be replayed
	// after a crash. Blocks must not be modified afterwards.
	Append(blocks []*Block) ([]uint64, error)
	// Read returns the block at a location Append returned. The caller
	// must not modify it.
	Read(loc uint64) (*Block, error)
	// Replay calls fn with every stored block and its location, in the
	// order they were appended, and stops at fn's first error.
	Replay(fn func(loc uint64, b *Block) error) error
	// Close releases the store.
	Close() error
}

// ErrNotStored is returned (wrapped) by a [Store] for a location it does not
// hold.
var ErrNotStored = errors.New("blockchain: block not in the store")

// MemStore is a [Store] in memory: nothing survives the process. It is what
// a [Chain] uses when ChainOptions.Store is nil. The zero value is ready to
// use.
type MemStore struct {
	mu     sync.RWMutex
	blocks []*Block
}

// Append keeps the blocks; locations are their positions.
func (s *MemStore) Append(blocks []*Block) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	locs := make([]uint64, len(blocks))
	for i, b := range blocks {
		locs[i] = uint64(len(s.blocks))
		s.blocks = append(s.blocks, b)
	}
	return locs, nil
}

// Read returns the block appended at loc.
func (s *MemStore) Read(loc uint64) (*Block, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if loc >= uint64(len(s.blocks)) {
		return nil, fmt.Errorf("location %d: %w", loc, ErrNotStored)
	}
	return s.blocks[loc], nil
}

// Replay calls fn with every block in the order appended.
func (s *MemStore) Replay(fn func(loc uint64, b *Block) error) error {
	s.mu.RLock()
	blocks := s.blocks[:len(s.blocks):len(s.blocks)]
	s.mu.RUnlock()
	for i, b := range blocks {
		if err := fn(uint64(i), b); err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of blocks stored.
func (s *MemStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.blocks)
}

// Close does nothing; a MemStore stays readable.
func (s *MemStore) Close() error { return nil }
