package blockchain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// Account is what the chain knows about an address: its balance in base
// units and the nonce its next transaction must carry (the number of
// transactions it has sent).
type Account struct {
	Balance uint64 `json:"balance"`
	Nonce   uint64 `json:"nonce"`
}

// txLoc says where a confirmed transaction sits on the main chain.
type txLoc struct {
	block  *blockNode
	index  int
	height uint64
}

// state is the account state at one block, with a journal of every change
// so that any suffix of changes can be undone exactly. Each connected block
// keeps the journal entries it made as its undo data; a reorganization
// takes a mark first and reverts to it if any block of the new branch fails.
type state struct {
	accounts map[Address]Account
	txs      map[Hash]txLoc // confirmed transactions of the main chain
	journal  []change
}

// change records the value an account or transaction index entry had
// before it was set, so reverting it restores the old value.
type change struct {
	isTx    bool
	addr    Address
	acct    Account
	txid    Hash
	loc     txLoc
	existed bool
}

func newState() *state {
	return &state{accounts: make(map[Address]Account), txs: make(map[Hash]txLoc)}
}

func (s *state) account(a Address) Account { return s.accounts[a] }

func (s *state) setAccount(a Address, acct Account) {
	old, ok := s.accounts[a]
	s.journal = append(s.journal, change{addr: a, acct: old, existed: ok})
	if acct == (Account{}) {
		delete(s.accounts, a) // keep the map to accounts that matter
	} else {
		s.accounts[a] = acct
	}
}

func (s *state) setTx(id Hash, loc txLoc, present bool) {
	old, ok := s.txs[id]
	s.journal = append(s.journal, change{isTx: true, txid: id, loc: old, existed: ok})
	if present {
		s.txs[id] = loc
	} else {
		delete(s.txs, id)
	}
}

// mark returns a point to revert to.
func (s *state) mark() int { return len(s.journal) }

// revertTo undoes every change made since mark, newest first.
func (s *state) revertTo(mark int) {
	for i := len(s.journal) - 1; i >= mark; i-- {
		s.undo(s.journal[i])
	}
	s.journal = s.journal[:mark]
}

// undo restores one recorded value without journaling.
func (s *state) undo(c change) {
	switch {
	case c.isTx && c.existed:
		s.txs[c.txid] = c.loc
	case c.isTx:
		delete(s.txs, c.txid)
	case c.existed:
		s.accounts[c.addr] = c.acct
	default:
		delete(s.accounts, c.addr)
	}
}

// undoJournaled restores the values recorded in changes, newest first,
// journaling each restoration so that an enclosing mark can revert it.
func (s *state) undoJournaled(changes []change) {
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		if c.isTx {
			s.setTx(c.txid, c.loc, c.existed)
		} else {
			acct := Account{}
			if c.existed {
				acct = c.acct
			}
			s.setAccount(c.addr, acct)
		}
	}
}

// since returns a copy of the changes made after mark.
func (s *state) since(mark int) []change { return slices.Clone(s.journal[mark:]) }

// commit forgets the journal: the changes can no longer be reverted
// except through blocks' own undo data.
func (s *state) commit() { s.journal = s.journal[:0] }

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
