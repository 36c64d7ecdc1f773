package dataplane

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esphub/esphub/dataplane/hdr"
	"github.com/esphub/esphub/dataplane/internal/cow"
)

// NextHopKind is what a FIB entry does with a packet.
type NextHopKind uint8

// Next hop kinds.
const (
	// NextHopHost hands the packet to the host side (TUN or LAN), where the
	// kernel delivers it locally or routes it on.
	NextHopHost NextHopKind = iota + 1
	// NextHopTunnel encapsulates into a tunnel.
	NextHopTunnel
	// NextHopDrop discards (a Null0 route).
	NextHopDrop
)

// NextHop is a FIB entry's action.
type NextHop struct {
	Kind   NextHopKind
	Tunnel TunnelID
	// Label, when PushLabel, is the MPLS label pushed inside GRE (an
	// L3VPN/VPNv4 label learned over the tunnel). Label 3 (implicit null)
	// pushes nothing.
	Label     uint32
	PushLabel bool
}

// Errors returned by the control methods.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrTooMany  = errors.New("too many inbound SAs on the tunnel")
)

// Control is the one interface through which the control side (esphubd)
// programs a dataplane. The Engine implements all of it except Inject,
// which needs I/O and is added by each backend.
type Control interface {
	AddTunnel(TunnelConfig) error
	DeleteTunnel(TunnelID) error
	AddSA(SAConfig) error
	UpdateSA(dir Direction, spi uint32, lt Lifetime) error
	DeleteSA(dir Direction, spi uint32) error
	AddRoute(vrf uint32, p netip.Prefix, nh NextHop) error
	AddRoutes(vrf uint32, routes []Route) error
	DeleteRoute(vrf uint32, p netip.Prefix) error
	SetSGTMapping(vrf uint32, p netip.Prefix, sgt uint16) error
	DeleteSGTMapping(vrf uint32, p netip.Prefix) error
	BindLabel(label, vrf uint32) error
	UnbindLabel(label uint32) error
	// Inject sends payload (a packet of the given EtherType: IPv4, IPv6 or
	// NHRP) into tunnel t, as if routed there.
	Inject(t TunnelID, etherType uint16, payload []byte) error
}

// tables is one immutable snapshot of everything the packet path reads.
// The per-session tables are cow.Maps, so a change copies a few KiB whatever
// the number of sessions; the per-VRF and per-label maps are small and
// copied whole.
type tables struct {
	bySPI   cow.Map[uint32, inboundRef] // inbound SAs
	tunnels cow.Map[TunnelID, *tunnel]
	inbound cow.Map[TunnelID, []*SA] // newest last
	// outSPI indexes tunnels by the SPI of their outbound SA, for the
	// control side's DeleteSA and UpdateSA (peers choose outbound SPIs, so
	// two tunnels may share one).
	outSPI cow.Map[uint32, []*tunnel]
	fib    map[uint32]*lpm[fibEntry]
	sgt    map[uint32]*lpm[uint16]
	labels map[uint32]uint32 // MPLS label -> VRF
}

// inboundRef is an inbound SA and its tunnel, so that the packet path
// finds both with one lookup. An SA's tunnel never changes, and deleting a
// tunnel deletes its SAs.
type inboundRef struct {
	sa *SA
	t  *tunnel
}

// sa returns the inbound SA with spi, or nil.
func (t *tables) sa(spi uint32) *SA {
	r, _ := t.bySPI.Get(cow.Hash64(uint64(spi)), spi)
	return r.sa
}

// saTunnel returns the inbound SA with spi and its tunnel, or nils.
func (t *tables) saTunnel(spi uint32) (*SA, *tunnel) {
	r, _ := t.bySPI.Get(cow.Hash64(uint64(spi)), spi)
	return r.sa, r.t
}

// tunnel returns tunnel id, or nil.
func (t *tables) tunnel(id TunnelID) *tunnel {
	tn, _ := t.tunnels.Get(cow.Hash64(uint64(id)), id)
	return tn
}

// inboundSAs returns tunnel id's inbound SAs, oldest first.
func (t *tables) inboundSAs(id TunnelID) []*SA {
	in, _ := t.inbound.Get(cow.Hash64(uint64(id)), id)
	return in
}

// indexOut records that tn's outbound SA has spi.
func (t *tables) indexOut(spi uint32, tn *tunnel) {
	h := cow.Hash64(uint64(spi))
	ts, _ := t.outSPI.Get(h, spi)
	t.outSPI = t.outSPI.Set(h, spi, append(slices.Clip(ts), tn))
}

// unindexOut forgets that tn's outbound SA has spi.
func (t *tables) unindexOut(spi uint32, tn *tunnel) {
	h := cow.Hash64(uint64(spi))
	ts, _ := t.outSPI.Get(h, spi)
	i := slices.Index(ts, tn)
	switch {
	case i < 0:
	case len(ts) == 1:
		t.outSPI = t.outSPI.Del(h, spi)
	default:
		t.outSPI = t.outSPI.Set(h, spi, slices.Delete(slices.Clone(ts), i, i+1))
	}
}

// fibEntry is a FIB value: the next hop and the route's use mark, which the
// packet path sets when a packet takes the route and RouteUsed reads and
// clears. The mark is a load per packet and a store only on the first packet
// after a reading, so a route that several workers forward on does not
// bounce a cache line per packet the way a shared counter would.
type fibEntry struct {
	nh   NextHop
	used *atomic.Bool
}

// touch marks the route used.
func (f *fibEntry) touch() {
	if f.used != nil && !f.used.Load() {
		f.used.Store(true)
	}
}

// clone returns a copy of t to change: the cow.Maps are shared (their changes
// copy what they touch), the small maps are copied.
func (t *tables) clone() *tables {
	n := &tables{
		bySPI:   t.bySPI,
		tunnels: t.tunnels,
		inbound: t.inbound,
		outSPI:  t.outSPI,
		fib:     make(map[uint32]*lpm[fibEntry], len(t.fib)),
		sgt:     make(map[uint32]*lpm[uint16], len(t.sgt)),
		labels:  make(map[uint32]uint32, len(t.labels)),
	}
	for k, v := range t.fib {
		n.fib[k] = v
	}
	for k, v := range t.sgt {
		n.sgt[k] = v
	}
	for k, v := range t.labels {
		n.labels[k] = v
	}
	return n
}

// Options configure an Engine.
type Options struct {
	Logger *slog.Logger
	Events EventSink
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// HairpinInterval is the minimum time between two hairpin events for
	// one (source, destination) pair; 60 s (Cisco's traffic indication rate
	// limit) when zero.
	HairpinInterval time.Duration
	// RouteOutbound makes outbound processing act as a router hop:
	// decrement the inner TTL / hop limit and drop packets that expire
	// (DropTTL). Backends whose host side is the kernel's routing (TUN) leave
	// it off, because the kernel already did it; AF_XDP, which takes frames
	// straight off the LAN, turns it on.
	RouteOutbound bool
	// CMDLayout is the layout of the CMD header inside ESP (next header 99);
	// hdr.CMDESPInline when zero. See hdr.CMDLayout for why it is
	// configurable.
	CMDLayout hdr.CMDLayout
}

// Engine is the shared packet engine. Its control methods are safe for
// concurrent use and serialise among themselves; the packet path (Workers)
// reads an atomically published snapshot and never waits for them.
type Engine struct {
	log       *slog.Logger
	ev        eventer
	cmdLayout atomic.Pointer[hdr.CMDLayout]
	routeOut  bool

	mu  sync.Mutex // serialises writers of tab
	tab atomic.Pointer[tables]

	drops      [numDropReasons]atomic.Uint64
	sgtRx      [65536]atomic.Uint64
	sgtTx      [65536]atomic.Uint64
	keepalives atomic.Uint64

	// The role-based permissions matrix (sgacl.go): the snapshot the
	// packet path reads (nil: not enforced) and, guarded by mu, the
	// counters that outlive policy changes.
	acl         atomic.Pointer[sgaclTable]
	aclCounters map[uint32]*cellCounters
	aclDefault  *cellCounters
	aclCells    []uint32 // keys of the current cells, sorted
}

// NewEngine returns an empty engine.
func NewEngine(o Options) *Engine {
	e := &Engine{log: o.Logger, routeOut: o.RouteOutbound}
	e.SetCMDLayout(o.CMDLayout)
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.ev.sink = o.Events
	if e.ev.sink == nil {
		e.ev.sink = nopSink{}
	}
	e.ev.now = o.Now
	if e.ev.now == nil {
		e.ev.now = time.Now
	}
	e.ev.interval = o.HairpinInterval
	if e.ev.interval == 0 {
		e.ev.interval = 60 * time.Second
	}
	e.tab.Store((&tables{}).clone())
	return e
}

// update applies fn to a copy of the tables and publishes it.
func (e *Engine) update(fn func(t *tables) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.tab.Load().clone()
	if err := fn(n); err != nil {
		return err
	}
	e.tab.Store(n)
	return nil
}

// AddTunnel installs a tunnel. Replacing an existing ID is an error; delete
// it first.
func (e *Engine) AddTunnel(c TunnelConfig) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("add tunnel: %w", err)
	}
	t := &tunnel{cfg: c, local: netip.AddrPortFrom(c.Local, c.LocalPort), remote: netip.AddrPortFrom(c.Remote, c.RemotePort),
		outer: hdr.NewOuter(c.Local, c.Remote, c.TTL, c.Encap, c.LocalPort, c.RemotePort)}
	return e.update(func(tb *tables) error {
		if tb.tunnel(c.ID) != nil {
			return fmt.Errorf("add tunnel %d: %w", c.ID, ErrExists)
		}
		tb.tunnels = tb.tunnels.Set(cow.Hash64(uint64(c.ID)), c.ID, t)
		e.log.Info("tunnel added", "tunnel", c.ID, "mode", c.Mode, "local", c.Local, "remote", c.Remote, "encap", c.Encap)
		return nil
	})
}

// DeleteTunnel removes a tunnel and its SAs. Routes that name it stay and
// count DropNoTunnel until the control side removes them.
func (e *Engine) DeleteTunnel(id TunnelID) error {
	return e.update(func(tb *tables) error {
		t := tb.tunnel(id)
		if t == nil {
			return fmt.Errorf("delete tunnel %d: %w", id, ErrNotFound)
		}
		for _, sa := range tb.inboundSAs(id) {
			tb.bySPI = tb.bySPI.Del(cow.Hash64(uint64(sa.spi)), sa.spi)
		}
		if sa := t.out.Load(); sa != nil {
			tb.unindexOut(sa.spi, t)
		}
		h := cow.Hash64(uint64(id))
		tb.inbound = tb.inbound.Del(h, id)
		tb.tunnels = tb.tunnels.Del(h, id)
		e.log.Info("tunnel deleted", "tunnel", id)
		return nil
	})
}

// AddSA installs an SA on its tunnel. An inbound SA joins the tunnel's
// inbound set (at most MaxInboundSAs; the control side deletes old ones
// after a rekey). An outbound SA replaces the tunnel's current one
// atomically, so a rekey is make-before-break: install the new inbound SA,
// then the new outbound SA, then delete the old inbound SA.
func (e *Engine) AddSA(c SAConfig) error {
	sa, err := newSA(c)
	if err != nil {
		return fmt.Errorf("add sa: %w", err)
	}
	return e.update(func(tb *tables) error {
		t := tb.tunnel(c.Tunnel)
		if t == nil {
			return fmt.Errorf("add sa %#x: tunnel %d: %w", c.SPI, c.Tunnel, ErrNotFound)
		}
		if c.Direction == Outbound {
			old := t.out.Swap(sa)
			if old != nil {
				tb.unindexOut(old.spi, t)
			}
			tb.indexOut(sa.spi, t)
			e.log.Info("outbound sa installed", "tunnel", c.Tunnel, "spi", fmt.Sprintf("%#08x", c.SPI), "alg", c.Algorithm,
				"replaced", old != nil)
			return nil
		}
		if tb.sa(c.SPI) != nil {
			return fmt.Errorf("add sa %#x: %w", c.SPI, ErrExists)
		}
		in := tb.inboundSAs(c.Tunnel)
		if len(in) >= MaxInboundSAs {
			return fmt.Errorf("add sa %#x on tunnel %d: %w (delete the oldest first)", c.SPI, c.Tunnel, ErrTooMany)
		}
		tb.inbound = tb.inbound.Set(cow.Hash64(uint64(c.Tunnel)), c.Tunnel, append(slices.Clip(in), sa))
		tb.bySPI = tb.bySPI.Set(cow.Hash64(uint64(c.SPI)), c.SPI, inboundRef{sa: sa, t: t})
		e.log.Info("inbound sa installed", "tunnel", c.Tunnel, "spi", fmt.Sprintf("%#08x", c.SPI), "alg", c.Algorithm)
		return nil
	})
}

func (e *Engine) findSA(tb *tables, dir Direction, spi uint32) (*SA, *tunnel) {
	if dir == Inbound {
		return tb.saTunnel(spi)
	}
	ts, _ := tb.outSPI.Get(cow.Hash64(uint64(spi)), spi)
	for _, t := range ts {
		if sa := t.out.Load(); sa != nil && sa.spi == spi {
			return sa, t
		}
	}
	return nil, nil
}

// UpdateSA changes an SA's lifetime limits (for example after the control
// side extends them); counters and expiry flags are kept.
func (e *Engine) UpdateSA(dir Direction, spi uint32, lt Lifetime) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa, _ := e.findSA(e.tab.Load(), dir, spi)
	if sa == nil {
		return fmt.Errorf("update sa %#x (%v): %w", spi, dir, ErrNotFound)
	}
	sa.lifetime.Store(&lt)
	return nil
}

// DeleteSA removes an SA. Deleting a tunnel's outbound SA leaves the tunnel
// without one (its traffic counts DropNoSA) until another is added.
func (e *Engine) DeleteSA(dir Direction, spi uint32) error {
	return e.update(func(tb *tables) error {
		sa, t := e.findSA(tb, dir, spi)
		if sa == nil {
			return fmt.Errorf("delete sa %#x (%v): %w", spi, dir, ErrNotFound)
		}
		if dir == Outbound {
			if t.out.CompareAndSwap(sa, nil) {
				tb.unindexOut(spi, t)
			}
			return nil
		}
		tb.bySPI = tb.bySPI.Del(cow.Hash64(uint64(spi)), spi)
		in := tb.inboundSAs(sa.tunnel)
		i := slices.Index(in, sa)
		tb.inbound = tb.inbound.Set(cow.Hash64(uint64(sa.tunnel)), sa.tunnel, slices.Delete(slices.Clone(in), i, i+1))
		return nil
	})
}

func checkPrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return p, errors.New("invalid prefix")
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked(), nil
}

// AddRoute adds or replaces the route for p in vrf.
func (e *Engine) AddRoute(vrf uint32, p netip.Prefix, nh NextHop) error {
	p, err := checkPrefix(p)
	if err != nil {
		return fmt.Errorf("add route: %w", err)
	}
	if nh.Kind < NextHopHost || nh.Kind > NextHopDrop {
		return fmt.Errorf("add route %v: next hop kind not set", p)
	}
	if nh.PushLabel && nh.Label > hdr.LabelMax {
		return fmt.Errorf("add route %v: label %d out of range", p, nh.Label)
	}
	return e.update(func(tb *tables) error {
		tb.fib[vrf] = tb.fib[vrf].with(p, tb.fibEntry(vrf, p, nh), false)
		return nil
	})
}

// fibEntry returns the FIB value for nh at p, keeping the use mark of the
// route it replaces.
func (t *tables) fibEntry(vrf uint32, p netip.Prefix, nh NextHop) fibEntry {
	if old, ok := t.fib[vrf].get(p); ok && old.used != nil {
		return fibEntry{nh: nh, used: old.used}
	}
	return fibEntry{nh: nh, used: new(atomic.Bool)}
}

// Route is one FIB entry for AddRoutes.
type Route struct {
	Prefix  netip.Prefix
	NextHop NextHop
	// Delete removes Prefix instead of adding it.
	Delete bool
}

// AddRoutes applies many route changes to vrf as one update (one snapshot,
// each touched table copied once), for loading or resynchronising a RIB.
// Deleting a missing route is not an error here. Nothing is applied when
// any entry is invalid.
func (e *Engine) AddRoutes(vrf uint32, routes []Route) error {
	changes := make([]lpmEntry[fibEntry], 0, len(routes))
	for _, r := range routes {
		p, err := checkPrefix(r.Prefix)
		if err != nil {
			return fmt.Errorf("add routes: %v: %w", r.Prefix, err)
		}
		if !r.Delete && (r.NextHop.Kind < NextHopHost || r.NextHop.Kind > NextHopDrop) {
			return fmt.Errorf("add routes: %v: next hop kind not set", p)
		}
		changes = append(changes, lpmEntry[fibEntry]{p: p, v: fibEntry{nh: r.NextHop}, del: r.Delete})
	}
	return e.update(func(tb *tables) error {
		for i := range changes {
			if !changes[i].del {
				changes[i].v = tb.fibEntry(vrf, changes[i].p, changes[i].v.nh)
			}
		}
		tb.fib[vrf] = tb.fib[vrf].withMany(changes)
		return nil
	})
}

// DeleteRoute removes the route for exactly p in vrf.
func (e *Engine) DeleteRoute(vrf uint32, p netip.Prefix) error {
	p, err := checkPrefix(p)
	if err != nil {
		return fmt.Errorf("delete route: %w", err)
	}
	return e.update(func(tb *tables) error {
		if _, ok := tb.fib[vrf].get(p); !ok {
			return fmt.Errorf("delete route %v vrf %d: %w", p, vrf, ErrNotFound)
		}
		tb.fib[vrf] = tb.fib[vrf].with(p, fibEntry{}, true)
		return nil
	})
}

// Lookup returns the FIB next hop for dst in vrf (for show commands and
// tests; the packet path uses the same table).
func (e *Engine) Lookup(vrf uint32, dst netip.Addr) (NextHop, bool) {
	f, ok := e.tab.Load().fib[vrf].lookup(dst.Unmap())
	return f.nh, ok
}

// Routes returns the routes of vrf.
func (e *Engine) Routes(vrf uint32) map[netip.Prefix]NextHop {
	out := map[netip.Prefix]NextHop{}
	e.tab.Load().fib[vrf].walk(func(p netip.Prefix, f fibEntry) { out[p] = f.nh })
	return out
}

// RouteUsed reports whether a packet has taken the route for exactly p in
// vrf since the previous RouteUsed for it (or since the route was added),
// and clears that mark; ok is false when there is no such route. Replacing
// a route's next hop keeps its mark. NHRP asks it whether a shortcut route
// carries traffic; there should be one reader per route.
func (e *Engine) RouteUsed(vrf uint32, p netip.Prefix) (used, ok bool) {
	p, err := checkPrefix(p)
	if err != nil {
		return false, false
	}
	f, ok := e.tab.Load().fib[vrf].get(p)
	if !ok || f.used == nil {
		return false, ok
	}
	return f.used.Swap(false), true
}

// SetSGTMapping maps sources in p (in vrf) to a security group tag, as
// "cts role-based sgt-map" does.
func (e *Engine) SetSGTMapping(vrf uint32, p netip.Prefix, sgt uint16) error {
	p, err := checkPrefix(p)
	if err != nil {
		return fmt.Errorf("set sgt mapping: %w", err)
	}
	if sgt == 0 || sgt == hdr.SGTInvalid {
		return fmt.Errorf("set sgt mapping %v: sgt %d is reserved", p, sgt)
	}
	return e.update(func(tb *tables) error {
		tb.sgt[vrf] = tb.sgt[vrf].with(p, sgt, false)
		return nil
	})
}

// DeleteSGTMapping removes a mapping.
func (e *Engine) DeleteSGTMapping(vrf uint32, p netip.Prefix) error {
	p, err := checkPrefix(p)
	if err != nil {
		return fmt.Errorf("delete sgt mapping: %w", err)
	}
	return e.update(func(tb *tables) error {
		if _, ok := tb.sgt[vrf].get(p); !ok {
			return fmt.Errorf("delete sgt mapping %v: %w", p, ErrNotFound)
		}
		tb.sgt[vrf] = tb.sgt[vrf].with(p, 0, true)
		return nil
	})
}

// BindLabel makes packets arriving with MPLS label route in vrf (the
// label's "pop and lookup" action).
func (e *Engine) BindLabel(label, vrf uint32) error {
	if label <= hdr.LabelMaxReserved || label > hdr.LabelMax {
		return fmt.Errorf("bind label %d: not an unreserved 20-bit label", label)
	}
	return e.update(func(tb *tables) error {
		tb.labels[label] = vrf
		return nil
	})
}

// UnbindLabel removes a label binding.
func (e *Engine) UnbindLabel(label uint32) error {
	return e.update(func(tb *tables) error {
		if _, ok := tb.labels[label]; !ok {
			return fmt.Errorf("unbind label %d: %w", label, ErrNotFound)
		}
		delete(tb.labels, label)
		return nil
	})
}

// Drops returns the drop counters by reason (reasons with a zero count
// included).
func (e *Engine) Drops() map[DropReason]uint64 {
	out := make(map[DropReason]uint64, numDropReasons)
	for r := DropReason(1); r < numDropReasons; r++ {
		out[r] = e.drops[r].Load()
	}
	return out
}

// SetCMDLayout changes the layout of the CMD header carried inside ESP
// (next header 99) for packets processed afterwards; see hdr.CMDLayout.
// Both peers must use the same layout.
func (e *Engine) SetCMDLayout(l hdr.CMDLayout) { e.cmdLayout.Store(&l) }

// CMDLayout returns the layout SetCMDLayout set.
func (e *Engine) CMDLayout() hdr.CMDLayout { return *e.cmdLayout.Load() }

// SGTCounters returns per-SGT packet counts (received with the tag, sent
// with it), only for tags seen.
func (e *Engine) SGTCounters() (rx, tx map[uint16]uint64) {
	rx, tx = map[uint16]uint64{}, map[uint16]uint64{}
	for i := range e.sgtRx {
		if n := e.sgtRx[i].Load(); n != 0 {
			rx[uint16(i)] = n
		}
		if n := e.sgtTx[i].Load(); n != 0 {
			tx[uint16(i)] = n
		}
	}
	return rx, tx
}

// Keepalives returns the number of NAT keepalives received.
func (e *Engine) Keepalives() uint64 { return e.keepalives.Load() }

// HairpinsSuppressed returns how many hairpin events the rate limit held back.
func (e *Engine) HairpinsSuppressed() uint64 { return e.ev.limited.Load() }

// SAs returns a snapshot of every installed SA's counters.
func (e *Engine) SAs() []SAStats {
	tb := e.tab.Load()
	var out []SAStats
	for _, t := range tb.tunnels.All() {
		if sa := t.out.Load(); sa != nil {
			out = append(out, sa.stats())
		}
		for _, sa := range tb.inboundSAs(t.cfg.ID) {
			out = append(out, sa.stats())
		}
	}
	slices.SortFunc(out, func(a, b SAStats) int {
		if a.Tunnel != b.Tunnel {
			return int(a.Tunnel) - int(b.Tunnel)
		}
		if a.Direction != b.Direction {
			return int(a.Direction) - int(b.Direction)
		}
		return int(int64(a.SPI) - int64(b.SPI))
	})
	return out
}

// Tunnels returns a snapshot of every tunnel.
func (e *Engine) Tunnels() []TunnelStats {
	tb := e.tab.Load()
	out := make([]TunnelStats, 0, tb.tunnels.Len())
	for _, t := range tb.tunnels.All() {
		s := TunnelStats{Config: t.cfg, TxPackets: t.txPackets.Load(), TxBytes: t.txBytes.Load(),
			RxPackets: t.rxPackets.Load(), RxBytes: t.rxBytes.Load()}
		if sa := t.out.Load(); sa != nil {
			s.OutboundSPI = sa.spi
		}
		for _, sa := range tb.inboundSAs(t.cfg.ID) {
			s.InboundSPIs = append(s.InboundSPIs, sa.spi)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b TunnelStats) int { return int(a.Config.ID) - int(b.Config.ID) })
	return out
}

// TunnelPackets returns a tunnel's received and sent packet counters; ok
// is false for an unknown tunnel. It allocates nothing: a caller that polls
// every tunnel (the control plane's traffic reports for on-demand DPD)
// uses it instead of the Tunnels snapshot, whose copies of every tunnel
// cost over 1 KB each per round.
func (e *Engine) TunnelPackets(id TunnelID) (rx, tx uint64, ok bool) {
	t := e.tab.Load().tunnel(id)
	if t == nil {
		return 0, 0, false
	}
	return t.rxPackets.Load(), t.txPackets.Load(), true
}

// TunnelEndpoints returns a tunnel's underlay addresses (ports set when it
// uses ESP in UDP) and whether it encapsulates; ok is false for an unknown
// tunnel.
func (e *Engine) TunnelEndpoints(id TunnelID) (local, remote netip.AddrPort, encap, ok bool) {
	t := e.tab.Load().tunnel(id)
	if t == nil {
		return local, remote, false, false
	}
	return t.local, t.remote, t.cfg.Encap, true
}
