package blockchain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// Account is what the chain knows about an address: its balance in base
// units and the nonce its next transaction must carry (the number of
// transactions it has sent).
type Account struct {
	Balance uint64 `json:"balance"`
	Nonce   uint64 `json:"nonce"`
}

// state is the account state at the tip of the main chain, and an index of
// the main chain's transactions.
//
// A block's effect on accounts can be undone from the block alone: a
// transfer moved amount+fee from a sender whose nonce went up by one, and
// amount to a receiver; a coinbase credited its miner. Applying those steps
// backwards restores every balance and nonce exactly (an account at zero
// balance and nonce is the same as no account), so the chain keeps no undo
// data: disconnecting a block costs reading its body. While a block or a
// reorganization is applied, every change is also journaled, so that a
// failure anywhere reverts all of it.
type state struct {
	accounts map[Address]Account
	// txs maps the first 8 bytes of a confirmed transaction's ID to the
	// height of its block; the full ID is checked against the block when
	// looked up. The rare ID whose prefix is already taken goes to
	// txsOverflow under its full ID.
	txs         map[uint64]uint64
	txsOverflow map[Hash]uint64
	// byAddr, when the chain indexes addresses, lists for each address
	// the main-chain transactions that sent from it or paid it, oldest
	// first. Blocks are connected and disconnected in order, so entries
	// are only ever pushed at the end and popped from the end.
	byAddr  map[Address][]txRef
	journal []change
}

// txRef locates a transaction on the main chain.
type txRef struct {
	height uint64
	index  uint32
}

// change records the value an account or index entry had before it was
// set, so reverting it restores the old value.
type change struct {
	kind    changeKind
	addr    Address
	acct    Account
	id      Hash // txOverflow entries
	prefix  uint64
	height  uint64
	existed bool
	ref     txRef // changeAddrPop
}

type changeKind uint8

const (
	changeAccount changeKind = iota
	changeTx
	changeTxOverflow
	changeAddrPush // an entry pushed on byAddr[addr]
	changeAddrPop  // ref popped from byAddr[addr]
)

func newState() *state {
	return &state{
		accounts:    make(map[Address]Account),
		txs:         make(map[uint64]uint64),
		txsOverflow: make(map[Hash]uint64),
	}
}

func (s *state) account(a Address) Account { return s.accounts[a] }

func (s *state) setAccount(a Address, acct Account) {
	old, ok := s.accounts[a]
	s.journal = append(s.journal, change{kind: changeAccount, addr: a, acct: old, existed: ok})
	if acct == (Account{}) {
		delete(s.accounts, a) // keep the map to accounts that matter
	} else {
		s.accounts[a] = acct
	}
}

func txPrefix(id Hash) uint64 { return binary.BigEndian.Uint64(id[:8]) }

// indexTx records that id was confirmed at height.
func (s *state) indexTx(id Hash, height uint64) {
	p := txPrefix(id)
	if _, taken := s.txs[p]; taken {
		old, ok := s.txsOverflow[id]
		s.journal = append(s.journal, change{kind: changeTxOverflow, id: id, height: old, existed: ok})
		s.txsOverflow[id] = height
		return
	}
	s.journal = append(s.journal, change{kind: changeTx, prefix: p})
	s.txs[p] = height
}

// unindexTx forgets that id was confirmed at height. Blocks are
// disconnected newest first, so an ID in the overflow map was indexed after
// the one holding its prefix and leaves first.
func (s *state) unindexTx(id Hash, height uint64) {
	if h, ok := s.txsOverflow[id]; ok && h == height {
		s.journal = append(s.journal, change{kind: changeTxOverflow, id: id, height: h, existed: true})
		delete(s.txsOverflow, id)
		return
	}
	p := txPrefix(id)
	if h, ok := s.txs[p]; ok && h == height {
		s.journal = append(s.journal, change{kind: changeTx, prefix: p, height: h, existed: true})
		delete(s.txs, p)
	}
}

// txHeights returns the heights of the blocks that may hold id: its
// overflow entry and its prefix entry. The caller checks the block.
func (s *state) txHeights(id Hash) []uint64 {
	var hs []uint64
	if h, ok := s.txsOverflow[id]; ok {
		hs = append(hs, h)
	}
	if h, ok := s.txs[txPrefix(id)]; ok {
		hs = append(hs, h)
	}
	return hs
}

// indexAddrs records, when the chain indexes addresses, that the
// transaction at ref involved addrs (sender then receiver; an address named
// twice, a payment to oneself, is recorded once).
func (s *state) indexAddrs(ref txRef, addrs ...Address) {
	if s.byAddr == nil {
		return
	}
	for i, a := range addrs {
		if i > 0 && a == addrs[0] {
			continue
		}
		s.byAddr[a] = append(s.byAddr[a], ref)
		s.journal = append(s.journal, change{kind: changeAddrPush, addr: a})
	}
}

// unindexAddrs undoes indexAddrs with the same arguments.
func (s *state) unindexAddrs(ref txRef, addrs ...Address) {
	if s.byAddr == nil {
		return
	}
	for i := len(addrs) - 1; i >= 0; i-- {
		a := addrs[i]
		if i > 0 && a == addrs[0] {
			continue
		}
		if list := s.byAddr[a]; len(list) == 0 || list[len(list)-1] != ref {
			continue // not indexed: only a bug could cause it
		}
		s.popAddr(a)
		s.journal = append(s.journal, change{kind: changeAddrPop, addr: a, ref: ref})
	}
}

func (s *state) popAddr(a Address) {
	list := s.byAddr[a]
	if len(list) <= 1 {
		delete(s.byAddr, a)
		return
	}
	s.byAddr[a] = list[:len(list)-1]
}

// mark returns a point to revert to.
func (s *state) mark() int { return len(s.journal) }

// revertTo undoes every change made since mark, newest first.
func (s *state) revertTo(mark int) {
	for i := len(s.journal) - 1; i >= mark; i-- {
		c := s.journal[i]
		switch {
		case c.kind == changeAccount && c.existed:
			s.accounts[c.addr] = c.acct
		case c.kind == changeAccount:
			delete(s.accounts, c.addr)
		case c.kind == changeTx && c.existed:
			s.txs[c.prefix] = c.height
		case c.kind == changeTx:
			delete(s.txs, c.prefix)
		case c.kind == changeAddrPush:
			s.popAddr(c.addr)
		case c.kind == changeAddrPop:
			s.byAddr[c.addr] = append(s.byAddr[c.addr], c.ref)
		case c.existed:
			s.txsOverflow[c.id] = c.height
		default:
			delete(s.txsOverflow, c.id)
		}
	}
	s.journal = s.journal[:mark]
}

// commit forgets the journal: the changes can no longer be reverted except
// by disconnecting their blocks.
func (s *state) commit() { s.journal = s.journal[:0] }

// credit adds amount to an address's balance.
func (s *state) credit(to Address, amount uint64) error {
	acct := s.account(to)
	var over bool
	if acct.Balance, over = addOverflows(acct.Balance, amount); over {
		return fmt.Errorf("balance of %s would exceed 2^64-1", to)
	}
	s.setAccount(to, acct)
	return nil
}

// debit takes amount back from an address, undoing a credit.
func (s *state) debit(from Address, amount uint64) error {
	acct := s.account(from)
	if acct.Balance < amount {
		return fmt.Errorf("blockchain: internal error: undoing a credit of %d to %s, which holds %d", amount, from, acct.Balance)
	}
	acct.Balance -= amount
	s.setAccount(from, acct)
	return nil
}

// disconnect undoes a main-chain block's effect: its transactions in
// reverse order, then its coinbase. ids are the block's transaction IDs.
// An error means the state does not match the block, which only a bug can
// cause; the caller reverts to its mark.
func (s *state) disconnect(b *Block, ids []Hash) error {
	height := b.Header.Height
	for i := len(b.Transactions) - 1; i >= 1; i-- {
		tx := &b.Transactions[i]
		if err := s.debit(tx.To, tx.Amount); err != nil {
			return err
		}
		from := tx.From.Address()
		acct := s.account(from)
		if acct.Nonce != tx.Nonce+1 {
			return fmt.Errorf("blockchain: internal error: undoing nonce %d of %s, whose next nonce is %d", tx.Nonce, from, acct.Nonce)
		}
		acct.Nonce--
		acct.Balance += tx.Amount + tx.Fee // was subtracted: cannot overflow
		s.setAccount(from, acct)
		s.unindexTx(ids[i], height)
		s.unindexAddrs(txRef{height, uint32(i)}, from, tx.To)
	}
	cb := &b.Transactions[0]
	if err := s.debit(cb.To, cb.Amount); err != nil {
		return err
	}
	s.unindexTx(ids[0], height)
	s.unindexAddrs(txRef{height, 0}, cb.To)
	return nil
}

// digest hashes the accounts in address order: two states with the same
// balances and nonces have the same digest.
func (s *state) digest() Hash {
	addrs := make([]Address, 0, len(s.accounts))
	for a := range s.accounts {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(x, y Address) int { return bytes.Compare(x[:], y[:]) })
	d := sha256.New()
	var buf [AddressSize + 16]byte
	for _, a := range addrs {
		acct := s.accounts[a]
		copy(buf[:], a[:])
		binary.BigEndian.PutUint64(buf[AddressSize:], acct.Balance)
		binary.BigEndian.PutUint64(buf[AddressSize+8:], acct.Nonce)
		d.Write(buf[:])
	}
	var h Hash
	d.Sum(h[:0])
	return h
}
