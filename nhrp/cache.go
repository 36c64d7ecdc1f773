package nhrp

import (
	"net/netip"
	"strings"
	"time"
)

// EntryType is the NHRP cache entry type shown by `show ip nhrp`.
type EntryType uint8

// Entry types.
const (
	TypeDynamic EntryType = iota
	TypeStatic
	TypeIncomplete
	TypeNegative
)

func (t EntryType) String() string {
	switch t {
	case TypeStatic:
		return "static"
	case TypeIncomplete:
		return "incomplete"
	case TypeNegative:
		return "negative"
	}
	return "dynamic"
}

// EntryFlags are the flags `show ip nhrp` prints.
type EntryFlags uint16

// Entry flags, in IOS's words.
const (
	// FlagRouter: the peer is a router (the Q flag of its request/reply).
	FlagRouter EntryFlags = 1 << iota
	// FlagImplicit: learned from a request's source, not by resolving.
	FlagImplicit
	// FlagRIB: an NHRP (H) route was installed for the entry.
	FlagRIB
	// FlagNHO: a next-hop override route was installed for the entry.
	FlagNHO
	// FlagUnique: the binding may not be replaced by another NBMA address.
	FlagUnique
	// FlagLocal: the entry describes a prefix this node serves.
	FlagLocal
	// FlagRegistered: the peer registered the binding with us (NHS).
	FlagRegistered
)

var flagNames = []struct {
	f    EntryFlags
	name string
}{
	{FlagRouter, "router"}, {FlagUnique, "unique"}, {FlagImplicit, "implicit"},
	{FlagRegistered, "registered"}, {FlagRIB, "rib"}, {FlagNHO, "nho"}, {FlagLocal, "local"},
}

// Names returns the flags in the order IOS prints them.
func (f EntryFlags) Names() []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 {
			out = append(out, fn.name)
		}
	}
	return out
}

func (f EntryFlags) String() string { return strings.Join(f.Names(), " ") }

// Entry is one NHRP cache entry: a protocol prefix bound to a next hop in
// the overlay and that next hop's NBMA address. The Node owns entries;
// Cache returns copies.
type Entry struct {
	Prefix  netip.Prefix
	NextHop netip.Addr // "via": the peer's tunnel address
	Tunnel  string
	Type    EntryType
	Flags   EntryFlags
	// NBMA is the address used to reach the peer (post-NAT); ClaimedNBMA
	// the address the peer claimed (pre-NAT), set only when they differ.
	NBMA        netip.Addr
	ClaimedNBMA netip.Addr
	Created     time.Time
	Expire      time.Time // zero: never
	// Label is the VPN label pushed on the way to the entry's prefix (MPLS
	// over FlexVPN: the label of the peer's resolution reply); 0: none.
	Label uint32

	route *ShortcutRoute
	timer Timer
}

// Cache returns a copy of the cache entries, sorted by prefix (IPv4 first).
func (n *Node) Cache() []Entry {
	n.lock()
	defer n.unlock()
	out := make([]Entry, 0, len(n.cache))
	for _, e := range n.cache {
		c := *e
		c.route, c.timer = nil, nil
		out = append(out, c)
	}
	sortEntries(out)
	return out
}

func sortEntries(es []Entry) {
	// Insertion sort: caches shown by an operator are small, and this keeps
	// the order stable and independent of map iteration.
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && lessPrefix(es[j].Prefix, es[j-1].Prefix); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func lessPrefix(a, b netip.Prefix) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Bits() < b.Bits()
}

// setEntry creates or refreshes a dynamic entry, installs its route if it
// has a route kind, and (re)arms its expiry.
func (n *Node) setEntry(e Entry, hold time.Duration, withRoute bool) *Entry {
	now := n.now()
	old := n.cache[e.Prefix]
	if old != nil {
		e.Created = old.Created
		if old.timer != nil {
			old.timer.Stop()
		}
		if old.route != nil && (!withRoute || old.route.NextHop != e.NextHop || old.route.Tunnel != e.Tunnel || old.route.Label != e.Label) {
			n.withdraw(old.route)
			old.route = nil
		}
		e.route = old.route
	} else {
		e.Created = now
	}
	if withRoute {
		if n.cfg.RouteKind == RouteNHO {
			e.Flags |= FlagNHO
		} else {
			e.Flags |= FlagRIB
		}
		if e.route == nil {
			r := ShortcutRoute{Prefix: e.Prefix, NextHop: e.NextHop, Tunnel: e.Tunnel, Kind: n.cfg.RouteKind, Label: e.Label}
			if r.Kind == RouteNHRP {
				r.Distance = NHRPDistance
			}
			e.route = &r
			n.announce(r)
		}
	}
	ent := &e
	if hold > 0 {
		ent.Expire = now.Add(hold)
		p := e.Prefix
		ent.timer = n.afterFunc(hold, func() {
			if cur := n.cache[p]; cur == ent {
				n.log.Debug("nhrp: cache entry expired", "prefix", p)
				n.removeEntry(p, cur)
			}
		})
	}
	n.cache[e.Prefix] = ent
	return ent
}

func (n *Node) removeEntry(p netip.Prefix, e *Entry) {
	if e.timer != nil {
		e.timer.Stop()
	}
	n.mayBeUnused(e.Tunnel)
	if e.route != nil {
		n.withdraw(e.route)
		e.route = nil
	}
	if n.cache[p] == e {
		delete(n.cache, p)
	}
}

// mayBeUnused notes that a spoke-to-spoke tunnel lost a user; unlock
// releases it if nothing uses it any more.
func (n *Node) mayBeUnused(tunnel string) {
	if ts := n.tunnels[tunnel]; ts != nil && ts.Shortcut {
		if n.unused == nil {
			n.unused = map[string]bool{}
		}
		n.unused[tunnel] = true
	}
}

func (n *Node) announce(r ShortcutRoute) {
	n.ctr.ShortcutsInstalled.Add(1)
	n.later(func() {
		if err := n.deps.Routes.InstallShortcut(r); err != nil {
			n.log.Warn("nhrp: install shortcut route", "prefix", r.Prefix, "err", err)
		}
	})
}

func (n *Node) withdraw(r *ShortcutRoute) {
	rr := *r
	n.ctr.ShortcutsRemoved.Add(1)
	n.later(func() {
		if err := n.deps.Routes.RemoveShortcut(rr); err != nil {
			n.log.Warn("nhrp: remove shortcut route", "prefix", rr.Prefix, "err", err)
		}
	})
}

// Clear is `clear ip nhrp` / `clear ipv6 nhrp`: it removes the dynamic
// entries of one family (v4 true: IPv4) and their routes and forgets
// resolutions in progress; traffic falls back to the hub until the next
// redirect.
func (n *Node) Clear(v4 bool) int {
	n.lock()
	defer n.unlock()
	cleared := 0
	for p, e := range n.cache {
		if p.Addr().Is4() == v4 && e.Type != TypeStatic {
			n.removeEntry(p, e)
			cleared++
		}
	}
	for k, s := range n.shorts {
		if k.Addr().Is4() == v4 {
			n.dropShortcut(s)
		}
	}
	return cleared
}
