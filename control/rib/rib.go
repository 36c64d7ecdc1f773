// Package rib is esphub's routing information base: one table per VRF holding
// the routes every source offers (connected, local, static, IKEv2 configuration
// exchange, NHRP, BGP), the selection of the best route per prefix by
// administrative distance, next-hop overrides installed by NHRP shortcuts, and
// notification of best-route changes so that the dataplane FIB follows.
//
// The RIB is a control-plane structure: it is safe for concurrent use, guarded
// by one mutex, and never on the packet path. The dataplane keeps its own FIB,
// fed from the change notifications.
package rib

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// DefaultVRF names the global routing table.
const DefaultVRF = ""

// Source is the protocol or mechanism that offered a route.
type Source uint8

const (
	Connected Source = iota + 1 // an interface's subnet
	Local                       // an interface's own address (/32 or /128)
	Static                      // ip route
	IKEv2                       // route accept from a configuration exchange; shown as S with a tag, as IOS does
	NHRP                        // an NHRP shortcut (H route)
	BGP
)

// Code returns the one- or two-letter code IOS prints in 'show ip route'.
func (s Source) Code() string {
	switch s {
	case Connected:
		return "C"
	case Local:
		return "L"
	case Static, IKEv2:
		return "S"
	case NHRP:
		return "H"
	case BGP:
		return "B"
	}
	return "?"
}

// String names the source for logs and JSON.
func (s Source) String() string {
	switch s {
	case Connected:
		return "connected"
	case Local:
		return "local"
	case Static:
		return "static"
	case IKEv2:
		return "ikev2"
	case NHRP:
		return "nhrp"
	case BGP:
		return "bgp"
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// MarshalText makes Source readable in JSON.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// DefaultDistance is the administrative distance a source gets when a route
// does not set one. IKEv2-accepted routes default to 2 (the seeds' authorization
// policy default 'route accept any tag 1 distance 2'); NHRP H routes to 250.
func (s Source) DefaultDistance() uint8 {
	switch s {
	case Connected, Local:
		return 0
	case Static:
		return 1
	case IKEv2:
		return 2
	case BGP:
		return 20
	case NHRP:
		return 250
	}
	return 255
}

// NextHop is where a route sends traffic: a gateway address, an interface, or both.
type NextHop struct {
	Addr      netip.Addr `json:"addr,omitzero"`
	Interface string     `json:"interface,omitempty"`
	// Shortcut marks a next hop installed by NHRP as a next-hop override.
	Shortcut bool `json:"shortcut,omitempty"`
	// Label is the MPLS VPN label pushed toward this next hop (a VPNv4
	// route's label, or the one an NHRP shortcut carried); 0 pushes none.
	Label uint32 `json:"label,omitempty"`
}

func (n NextHop) String() string {
	switch {
	case n.Addr.IsValid() && n.Interface != "":
		return n.Addr.String() + ", " + n.Interface
	case n.Addr.IsValid():
		return n.Addr.String()
	default:
		return n.Interface
	}
}

// Route is one source's offer for a prefix in a VRF.
type Route struct {
	VRF      string       `json:"vrf"`
	Prefix   netip.Prefix `json:"prefix"`
	Source   Source       `json:"source"`
	Distance uint8        `json:"distance"`
	Metric   uint32       `json:"metric"`
	Tag      uint32       `json:"tag,omitempty"`
	NextHops []NextHop    `json:"next_hops"`
	// Owner identifies who installed the route (a session, an NHRP cache
	// entry, the configuration) so that all of its routes can be withdrawn
	// together. Routes from different owners for the same prefix and source
	// coexist; the lowest distance, then the earliest, wins.
	Owner string `json:"owner,omitempty"`
	// Since is when the route was installed (for 'show ip route' ages).
	Since time.Time `json:"since"`
	// Override, when set, is a next-hop override (NHO) an NHRP shortcut
	// placed on this route: forwarding uses it instead of NextHops.
	Override *NextHop `json:"override,omitempty"`
}

// Forwarding returns the next hops traffic actually uses: the override if an
// NHRP shortcut set one, else the route's own next hops.
func (r *Route) Forwarding() []NextHop {
	if r.Override != nil {
		return []NextHop{*r.Override}
	}
	return r.NextHops
}

func (r *Route) key() routeKey { return routeKey{r.Source, r.Owner} }

type routeKey struct {
	src   Source
	owner string
}

// Change tells a subscriber that the best route for a prefix changed. Best is
// nil when no route remains.
type Change struct {
	VRF    string
	Prefix netip.Prefix
	Best   *Route
}

// RIB holds the routing tables of all VRFs.
type RIB struct {
	mu       sync.Mutex
	vrfs     map[string]*table
	now      func() time.Time
	watchers []func(Change)
}

type table struct {
	// entries maps a prefix to every offer for it.
	entries map[netip.Prefix][]*Route
	// best caches the selected route per prefix.
	best map[netip.Prefix]*Route
	// overrides holds NHO next hops by prefix, applied to whatever route is best.
	overrides map[netip.Prefix]NextHop
}

// New returns an empty RIB. now may be nil (time.Now).
func New(now func() time.Time) *RIB {
	if now == nil {
		now = time.Now
	}
	return &RIB{vrfs: make(map[string]*table), now: now}
}

// Watch registers fn to be called, with the RIB's lock released, after every
// change of a best route. Changes are delivered in order from the goroutine
// that made the change.
func (r *RIB) Watch(fn func(Change)) {
	r.mu.Lock()
	r.watchers = append(r.watchers, fn)
	r.mu.Unlock()
}

func (r *RIB) vrf(name string) *table {
	t := r.vrfs[name]
	if t == nil {
		t = &table{
			entries:   make(map[netip.Prefix][]*Route),
			best:      make(map[netip.Prefix]*Route),
			overrides: make(map[netip.Prefix]NextHop),
		}
		r.vrfs[name] = t
	}
	return t
}

// Add installs or replaces the route offered by (Source, Owner) for the prefix.
// A zero Distance takes the source's default; the prefix is masked.
func (r *RIB) Add(rt Route) error {
	if !rt.Prefix.IsValid() {
		return fmt.Errorf("rib: add: invalid prefix")
	}
	if rt.Source == 0 {
		return fmt.Errorf("rib: add %s: no source", rt.Prefix)
	}
	if len(rt.NextHops) == 0 {
		return fmt.Errorf("rib: add %s: no next hop", rt.Prefix)
	}
	rt.Prefix = rt.Prefix.Masked()
	if rt.Distance == 0 && rt.Source != Connected && rt.Source != Local {
		rt.Distance = rt.Source.DefaultDistance()
	}
	if rt.Since.IsZero() {
		rt.Since = r.now()
	}
	rt.NextHops = slices.Clone(rt.NextHops)
	rt.Override = nil

	r.mu.Lock()
	t := r.vrf(rt.VRF)
	offers := t.entries[rt.Prefix]
	replaced := false
	for i, o := range offers {
		if o.key() == rt.key() {
			offers[i] = &rt
			replaced = true
			break
		}
	}
	if !replaced {
		offers = append(offers, &rt)
	}
	t.entries[rt.Prefix] = offers
	ch, changed := r.reselect(rt.VRF, t, rt.Prefix)
	r.mu.Unlock()
	if changed {
		r.notify(ch)
	}
	return nil
}

// Remove withdraws the route (Source, Owner) for the prefix. It reports
// whether such a route existed.
func (r *RIB) Remove(vrf string, prefix netip.Prefix, src Source, owner string) bool {
	prefix = prefix.Masked()
	r.mu.Lock()
	t := r.vrfs[vrf]
	if t == nil {
		r.mu.Unlock()
		return false
	}
	offers := t.entries[prefix]
	i := slices.IndexFunc(offers, func(o *Route) bool { return o.Source == src && o.Owner == owner })
	if i < 0 {
		r.mu.Unlock()
		return false
	}
	offers = slices.Delete(offers, i, i+1)
	if len(offers) == 0 {
		delete(t.entries, prefix)
	} else {
		t.entries[prefix] = offers
	}
	ch, changed := r.reselect(vrf, t, prefix)
	r.mu.Unlock()
	if changed {
		r.notify(ch)
	}
	return true
}

// RemoveOwner withdraws every route the owner installed, in every VRF, and
// returns how many it removed.
func (r *RIB) RemoveOwner(owner string) int {
	var changes []Change
	n := 0
	r.mu.Lock()
	for vrf, t := range r.vrfs {
		for p, offers := range t.entries {
			kept := slices.DeleteFunc(offers, func(o *Route) bool { return o.Owner == owner })
			if d := len(offers) - len(kept); d > 0 {
				n += d
				if len(kept) == 0 {
					delete(t.entries, p)
				} else {
					t.entries[p] = kept
				}
				if ch, changed := r.reselect(vrf, t, p); changed {
					changes = append(changes, ch)
				}
			}
		}
	}
	r.mu.Unlock()
	for _, ch := range changes {
		r.notify(ch)
	}
	return n
}

// SetOverride places an NHRP next-hop override on the best route covering
// exactly prefix (IOS shows such a route with '%' and the hop as [Shortcut]).
// The override survives changes of the underlying route until cleared.
func (r *RIB) SetOverride(vrf string, prefix netip.Prefix, nh NextHop) {
	prefix = prefix.Masked()
	nh.Shortcut = true
	r.mu.Lock()
	t := r.vrf(vrf)
	t.overrides[prefix] = nh
	ch, changed := r.reselect(vrf, t, prefix)
	r.mu.Unlock()
	if changed {
		r.notify(ch)
	}
}

// ClearOverride removes a next-hop override; it reports whether one existed.
func (r *RIB) ClearOverride(vrf string, prefix netip.Prefix) bool {
	prefix = prefix.Masked()
	r.mu.Lock()
	t := r.vrfs[vrf]
	if t == nil {
		r.mu.Unlock()
		return false
	}
	if _, ok := t.overrides[prefix]; !ok {
		r.mu.Unlock()
		return false
	}
	delete(t.overrides, prefix)
	ch, changed := r.reselect(vrf, t, prefix)
	r.mu.Unlock()
	if changed {
		r.notify(ch)
	}
	return true
}

// reselect recomputes the best route for prefix; r.mu is held.
func (r *RIB) reselect(vrf string, t *table, prefix netip.Prefix) (Change, bool) {
	old := t.best[prefix]
	var best *Route
	for _, o := range t.entries[prefix] {
		if best == nil || better(o, best) {
			best = o
		}
	}
	if best != nil {
		if nh, ok := t.overrides[prefix]; ok {
			cp := *best
			cp.Override = &nh
			best = &cp
		}
		t.best[prefix] = best
	} else {
		delete(t.best, prefix)
	}
	if sameRoute(old, best) {
		return Change{}, false
	}
	return Change{VRF: vrf, Prefix: prefix, Best: best}, true
}

// better orders offers: lower distance, then lower metric, then older.
func better(a, b *Route) bool {
	if a.Distance != b.Distance {
		return a.Distance < b.Distance
	}
	if a.Metric != b.Metric {
		return a.Metric < b.Metric
	}
	return a.Since.Before(b.Since)
}

func sameRoute(a, b *Route) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Source != b.Source || a.Owner != b.Owner || a.Distance != b.Distance || a.Metric != b.Metric ||
		a.Tag != b.Tag || !slices.Equal(a.NextHops, b.NextHops) {
		return false
	}
	if (a.Override == nil) != (b.Override == nil) {
		return false
	}
	return a.Override == nil || *a.Override == *b.Override
}

func (r *RIB) notify(ch Change) {
	r.mu.Lock()
	ws := slices.Clone(r.watchers)
	r.mu.Unlock()
	if ch.Best != nil {
		cp := *ch.Best
		cp.NextHops = slices.Clone(cp.NextHops)
		ch.Best = &cp
	}
	for _, w := range ws {
		w(ch)
	}
}

// Lookup returns the best route for the longest prefix in vrf containing addr.
func (r *RIB) Lookup(vrf string, addr netip.Addr) (Route, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.vrfs[vrf]
	if t == nil || !addr.IsValid() {
		return Route{}, false
	}
	addr = addr.Unmap()
	for bits := addr.BitLen(); bits >= 0; bits-- {
		p, err := addr.Prefix(bits)
		if err != nil {
			continue
		}
		if b := t.best[p]; b != nil {
			cp := *b
			cp.NextHops = slices.Clone(b.NextHops)
			return cp, true
		}
	}
	return Route{}, false
}

// Best returns the selected route for exactly prefix.
func (r *RIB) Best(vrf string, prefix netip.Prefix) (Route, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.vrfs[vrf]
	if t == nil {
		return Route{}, false
	}
	b := t.best[prefix.Masked()]
	if b == nil {
		return Route{}, false
	}
	cp := *b
	cp.NextHops = slices.Clone(b.NextHops)
	return cp, true
}

// Routes returns the best routes of vrf for one address family (4 or 6; 0
// for both), sorted by address then prefix length.
func (r *RIB) Routes(vrf string, family int) []Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.vrfs[vrf]
	if t == nil {
		return nil
	}
	out := make([]Route, 0, len(t.best))
	for p, b := range t.best {
		if family == 4 && !p.Addr().Is4() || family == 6 && !p.Addr().Is6() {
			continue
		}
		cp := *b
		cp.NextHops = slices.Clone(b.NextHops)
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	})
	return out
}

// VRFs returns the names of the VRFs that have routes, default first.
func (r *RIB) VRFs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.vrfs))
	for n, t := range r.vrfs {
		if len(t.best) > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
