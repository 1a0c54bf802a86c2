package blockchain

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// addrBook keeps the addresses of nodes a node has heard of, for peer
// discovery. It is bounded in total and per source group: an address is
// filed under the network of the peer that told us of it (its /16 for IPv4,
// its /32 for IPv6, as Bitcoin Core groups them), and no group may hold
// more than perGroup addresses, so one peer, or many peers in one network,
// cannot fill the book and so decide whom the node connects to. Sources on
// loopback or in 198.18.0.0/15 (the range reserved for network tests) are
// local: they are not limited by grouping, only by the total.
//
// Only IP literals with a port are kept: the node never resolves names, so
// discovery sends traffic only to addresses peers state.
type addrBook struct {
	max, perGroup int
	entries       map[string]*addrEntry
	order         []string // for sampling; may hold removed addresses
	groups        map[string]int
	rng           *rand.Rand
}

type addrEntry struct {
	addr      string
	group     string
	lastTried time.Duration // monotonic time of the last dial, 0 if never
	fails     int
}

func newAddrBook(max, perGroup int, rng *rand.Rand) *addrBook {
	return &addrBook{
		max: max, perGroup: perGroup, rng: rng,
		entries: make(map[string]*addrEntry), groups: make(map[string]int),
	}
}

// localGroup is the group of sources exempt from the per-group bound.
const localGroup = "local"

var testNet = netip.MustParsePrefix("198.18.0.0/15")

// sourceGroup returns the group a source address (host:port, or a bare IP)
// is filed under.
func sourceGroup(source string) string {
	ap, err := netip.ParseAddrPort(source)
	var ip netip.Addr
	if err == nil {
		ip = ap.Addr()
	} else if ip, err = netip.ParseAddr(source); err != nil {
		return "other"
	}
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback(), testNet.Contains(ip):
		return localGroup
	case ip.Is4():
		p, _ := ip.Prefix(16)
		return p.String()
	default:
		p, _ := ip.Prefix(32)
		return p.String()
	}
}

// validPeerAddr reports whether addr is an IP literal with a nonzero port
// that a node may dial.
func validPeerAddr(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && ap.Port() != 0 && ap.Addr().IsValid() && !ap.Addr().IsUnspecified() && !ap.Addr().IsMulticast()
}

// add files addr as told by source. It reports whether the book changed.
func (b *addrBook) add(addr, source string) bool {
	if !validPeerAddr(addr) || len(addr) > MaxAddrLen {
		return false
	}
	if _, ok := b.entries[addr]; ok {
		return false
	}
	g := sourceGroup(source)
	if g != localGroup && b.groups[g] >= b.perGroup {
		b.evictFrom(g)
	}
	if len(b.entries) >= b.max {
		b.evictFrom(b.largestGroup())
	}
	b.entries[addr] = &addrEntry{addr: addr, group: g}
	b.groups[g]++
	b.order = append(b.order, addr)
	if len(b.order) > 2*len(b.entries)+64 {
		b.order = slices.DeleteFunc(b.order, func(a string) bool { return b.entries[a] == nil })
	}
	return true
}

func (b *addrBook) largestGroup() string {
	best, n := "", -1
	for g, k := range b.groups {
		if k > n || (k == n && g < best) {
			best, n = g, k
		}
	}
	return best
}

// evictFrom removes a random address of group g.
func (b *addrBook) evictFrom(g string) {
	var in []string
	for a, e := range b.entries {
		if e.group == g {
			in = append(in, a)
		}
	}
	if len(in) == 0 {
		return
	}
	slices.Sort(in) // map order is random; the choice must come from rng
	b.remove(in[b.rng.IntN(len(in))])
}

func (b *addrBook) remove(addr string) {
	if e, ok := b.entries[addr]; ok {
		delete(b.entries, addr)
		if b.groups[e.group]--; b.groups[e.group] == 0 {
			delete(b.groups, e.group)
		}
	}
}

// sample returns up to n random addresses.
func (b *addrBook) sample(n int) []string {
	live := make([]string, 0, len(b.entries))
	for _, a := range b.order {
		if b.entries[a] != nil {
			live = append(live, a)
		}
	}
	b.rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	return live[:min(n, len(live))]
}

// pick returns a random address to dial: not excluded, and not tried in
// the last retry interval (longer after each failure). now is monotonic.
func (b *addrBook) pick(now time.Duration, exclude func(string) bool) (string, bool) {
	for _, a := range b.sample(len(b.entries)) {
		e := b.entries[a]
		wait := time.Duration(1<<min(e.fails, 6)) * 10 * time.Second
		if exclude(a) || (e.lastTried != 0 && now-e.lastTried < wait) {
			continue
		}
		e.lastTried = now
		e.fails++ // reset by connected
		return a, true
	}
	return "", false
}

// connected records that addr is reachable.
func (b *addrBook) connected(addr string) {
	if e, ok := b.entries[addr]; ok {
		e.fails = 0
	}
}

func (b *addrBook) len() int { return len(b.entries) }
