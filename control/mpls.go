package control

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/esphub/esphub/bgp"
	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/mpls"
)

// MPLS over FlexVPN (seed-features.md §21) in control: the per-VRF VPN
// labels (allocated by mpls.Allocator, shared with NHRP the way IOS's MFI
// shares them), the MP-BGP speaker (package bgp, GoBGP inside), the export
// of each VRF's routes as labelled VPNv4 routes, and the import of learned
// VPNv4 routes into VRFs by route target, resolved through the global
// table to the tunnel of the BGP next hop (the peer's overlay address that
// IKEv2 installed).
//
// Everything is recomputed by one goroutine (sync) whenever the RIB, the
// learned routes or the configuration change; each pass is idempotent, so
// the RIB changes a pass makes only trigger one more, empty, pass.

// ownerBGP owns the VPNv4 routes imported into VRFs.
const ownerBGP = "bgp"

// Label range for local VPN labels (IOS allocates from 16 up too).
const (
	labelMin mpls.Label = 16
	labelMax mpls.Label = 100000
)

// mplsState is the daemon's MPLS and BGP state.
type mplsState struct {
	d      *Daemon
	labels *mpls.Allocator
	lfib   *mpls.Table
	kickCh chan struct{}

	mu       sync.Mutex
	speaker  *bgp.Speaker
	bgpCfg   *config.BGP // what speaker was started with
	learned  []bgp.Route
	imported map[routeKey]rib.Route // (vrf, prefix, BGP) -> what we installed
	vrfLabel map[string]mpls.Label  // VRF name -> per-VRF label (bound in the dataplane)
}

func newMPLSState(d *Daemon) *mplsState {
	a, err := mpls.NewAllocator(labelMin, labelMax)
	if err != nil {
		panic(err) // constant range
	}
	return &mplsState{d: d, labels: a, lfib: mpls.NewTable(d.dp), kickCh: make(chan struct{}, 1),
		imported: map[routeKey]rib.Route{}, vrfLabel: map[string]mpls.Label{}}
}

// VRFIDs returns the dataplane VRF ids control gives a configuration's
// VRFs: 1, 2, ... in configuration order (0 is the global table). esphubd
// uses it to give each VRF its host-side device before the daemon starts.
func VRFIDs(c *config.Config) map[string]uint32 {
	out := map[string]uint32{}
	for i, v := range c.VRFs {
		out[v.Name] = uint32(i + 1)
	}
	return out
}

func (m *mplsState) kick() {
	select {
	case m.kickCh <- struct{}{}:
	default:
	}
}

// run keeps BGP, labels, exports and imports in step until ctx ends.
func (m *mplsState) run(ctx context.Context) {
	m.reconfigure()
	for {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			sp := m.speaker
			m.speaker, m.bgpCfg = nil, nil
			m.mu.Unlock()
			if sp != nil {
				sp.Stop()
			}
			return
		case <-m.kickCh:
		}
		m.sync()
	}
}

// reconfigure (re)starts the speaker when router bgp changed, and kicks a
// sync.
func (m *mplsState) reconfigure() {
	cfg := m.d.Config()
	m.mu.Lock()
	same := m.speaker != nil && config.Equal(m.bgpCfg, cfg.BGP) && cfg.BGP != nil
	old := m.speaker
	if !same {
		m.speaker, m.bgpCfg, m.learned = nil, nil, nil
	}
	m.mu.Unlock()
	if same {
		m.kick()
		return
	}
	if old != nil {
		old.Stop()
	}
	if cfg.BGP != nil {
		sp, err := bgp.Start(m.speakerConfig(cfg))
		if err != nil {
			m.d.log.Error("BGP not started", "err", err)
		} else {
			m.mu.Lock()
			m.speaker, m.bgpCfg = sp, cfg.BGP
			m.mu.Unlock()
			m.d.log.Info("BGP started", "asn", cfg.BGP.ASN, "router_id", sp.RouterID())
		}
	}
	m.kick()
}

// routerID is `bgp router-id`, else the highest loopback address, else the
// highest interface address (IOS's choice).
func routerID(c *config.Config) netip.Addr {
	if c.BGP != nil && c.BGP.RouterID.IsValid() {
		return c.BGP.RouterID
	}
	var best, bestAny netip.Addr
	for _, i := range c.Interfaces {
		for _, p := range i.Addresses {
			a := p.Addr()
			if !a.Is4() {
				continue
			}
			if i.Kind == config.KindLoopback && (!best.IsValid() || a.Compare(best) > 0) {
				best = a
			}
			if !bestAny.IsValid() || a.Compare(bestAny) > 0 {
				bestAny = a
			}
		}
	}
	if best.IsValid() {
		return best
	}
	return bestAny
}

func (m *mplsState) speakerConfig(c *config.Config) bgp.Config {
	b := c.BGP
	sc := bgp.Config{ASN: b.ASN, RouterID: routerID(c), ListenPort: m.d.opts.BGPPort, Logger: m.d.log,
		KeepaliveTime: time.Duration(b.KeepaliveTime) * time.Second, HoldTime: time.Duration(b.HoldTime) * time.Second,
		OnRoutes: func(rs []bgp.Route) {
			m.mu.Lock()
			m.learned = rs
			m.mu.Unlock()
			m.kick()
		}}
	// BGP runs over the tunnels between overlay addresses: listen on the
	// update source (every address when none is configured).
	for _, n := range b.Neighbors {
		e := b.Effective(n)
		if e.VPNv4 && e.UpdateSource != "" {
			if a, ok := interfaceAddr(c, e.UpdateSource, false); ok {
				sc.ListenAddrs = []netip.Addr{a}
				break
			}
		}
	}
	for _, n := range b.Neighbors {
		if n.IsGroup {
			continue
		}
		e := b.Effective(n)
		if !e.VPNv4 {
			m.d.log.Warn("BGP neighbor not activated in address-family vpnv4; esphub speaks VPNv4 only", "neighbor", n.Name)
			continue
		}
		nb := bgp.Neighbor{Addr: n.Addr, PeerASN: e.RemoteAS, Multihop: uint8(e.EBGPMultihop), Passive: e.Passive,
			Description: e.Description, Password: e.Password.Reveal()}
		if e.UpdateSource != "" {
			if a, ok := interfaceAddr(c, e.UpdateSource, false); ok {
				nb.LocalAddr = a
			}
		}
		if m.d.opts.BGPPort > 0 {
			nb.Port = uint16(m.d.opts.BGPPort)
		}
		sc.Neighbors = append(sc.Neighbors, nb)
	}
	for _, r := range b.ListenRanges {
		g := b.Neighbor(r.PeerGroup)
		if g == nil {
			continue
		}
		sc.Dynamic = append(sc.Dynamic, bgp.DynamicRange{Prefix: r.Prefix, PeerASN: g.RemoteAS, Multihop: uint8(g.EBGPMultihop),
			Password: g.Password.Reveal()})
	}
	return sc
}

// nextHopSelf reports whether any VPNv4 neighbor says next-hop-self: the
// hub, which re-originates what it learned from one spoke to the others
// with its own label.
func nextHopSelf(b *config.BGP) bool {
	for _, n := range b.Neighbors {
		if e := b.Effective(n); e.VPNv4 && e.NextHopSelf {
			return true
		}
	}
	return false
}

// localNextHop is the address our VPNv4 routes carry as next hop: the
// update source of the VPNv4 neighbors (the overlay address the peers
// reach us at), else the router id.
func localNextHop(c *config.Config) netip.Addr {
	for _, n := range c.BGP.Neighbors {
		e := c.BGP.Effective(n)
		if e.VPNv4 && e.UpdateSource != "" {
			if a, ok := interfaceAddr(c, e.UpdateSource, false); ok {
				return a
			}
		}
	}
	return routerID(c)
}

// sync does one pass: per-VRF labels, exports, imports.
func (m *mplsState) sync() {
	cfg := m.d.Config()
	m.mu.Lock()
	sp := m.speaker
	learned := m.learned
	m.mu.Unlock()
	m.syncLabels(cfg)
	if sp != nil && cfg.BGP != nil {
		m.export(cfg, sp)
	}
	m.importRoutes(cfg, learned)
}

// syncLabels gives every VRF of router bgp its per-VRF label, bound in the
// dataplane to pop-and-lookup in the VRF, and releases the labels of VRFs
// that left.
func (m *mplsState) syncLabels(cfg *config.Config) {
	want := map[string]bool{}
	if cfg.BGP != nil {
		for _, v := range cfg.BGP.VRFs {
			want[v.Name] = true
		}
	}
	// Allocate in VRF id order (configuration order), so that a node's
	// labels do not depend on map order and stay the same across restarts.
	names := slices.Collect(maps.Keys(want))
	sort.Slice(names, func(i, j int) bool { return m.d.vrfID(names[i]) < m.d.vrfID(names[j]) })
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range names {
		if _, ok := m.vrfLabel[name]; ok {
			continue
		}
		id := m.d.vrfID(name)
		l, err := m.labels.VRFLabel(id, "bgp")
		if err != nil {
			m.d.log.Error("no VPN label for VRF", "vrf", name, "err", err)
			continue
		}
		if err := m.lfib.Bind(mpls.Binding{Local: l, VRF: id, Action: mpls.PopLookup}); err != nil {
			m.d.log.Error("VPN label not bound", "vrf", name, "label", l, "err", err)
			_, _, _ = m.labels.Release(mpls.Key{VRF: id}, "bgp")
			continue
		}
		m.vrfLabel[name] = l
	}
	for name, l := range m.vrfLabel {
		if want[name] {
			continue
		}
		id := m.d.vrfID(name)
		if _, freed, err := m.labels.Release(mpls.Key{VRF: id}, "bgp"); err == nil && freed {
			_ = m.lfib.Unbind(l)
		}
		delete(m.vrfLabel, name)
	}
}

// VRFLabel returns the per-VRF label of a VRF (for NHRP, which hands it to
// shortcut peers), allocating and binding it if BGP has not.
func (m *mplsState) VRFLabel(vrf string) (mpls.Label, bool) {
	m.mu.Lock()
	l, ok := m.vrfLabel[vrf]
	m.mu.Unlock()
	return l, ok
}

// exportSet computes the VPNv4 routes our VRFs originate.
func (m *mplsState) exportSet(cfg *config.Config) []bgp.Route {
	b := cfg.BGP
	nh := localNextHop(cfg)
	reorig := nextHopSelf(b)
	m.mu.Lock()
	labels := maps.Clone(m.vrfLabel)
	m.mu.Unlock()
	var out []bgp.Route
	for _, v := range b.VRFs {
		vd := cfg.VRF(v.Name)
		l, ok := labels[v.Name]
		if vd == nil || vd.RD == "" || !ok {
			continue
		}
		seen := map[netip.Prefix]bool{}
		add := func(p netip.Prefix) {
			if seen[p] || !p.Addr().Is4() {
				return
			}
			seen[p] = true
			out = append(out, bgp.Route{RD: vd.RD, Prefix: p, Label: uint32(l), NextHop: nh, RouteTargets: slices.Clone(vd.RTExport)})
		}
		routes := m.d.rib.Routes(v.Name, 4)
		for _, r := range routes {
			switch {
			case r.Source == rib.Connected && v.RedistributeConnected,
				r.Source == rib.Static && v.RedistributeStatic,
				r.Source == rib.BGP && reorig:
				add(r.Prefix)
			case r.Source == rib.BGP || r.Source == rib.Local:
			default:
				if slices.Contains(v.Networks, r.Prefix) {
					add(r.Prefix)
				}
			}
		}
	}
	return out
}

// export makes the speaker originate exactly exportSet.
func (m *mplsState) export(cfg *config.Config, sp *bgp.Speaker) {
	want := m.exportSet(cfg)
	keep := map[string]bool{}
	for _, r := range want {
		keep[r.Key()] = true
		if err := sp.Originate(r); err != nil {
			m.d.log.Warn("VPNv4 route not advertised", "rd", r.RD, "prefix", r.Prefix, "err", err)
		}
	}
	for _, r := range sp.Originated() {
		if !keep[r.Key()] {
			_ = sp.Withdraw(r.RD, r.Prefix)
		}
	}
}

// importRoutes installs the learned VPNv4 routes into every VRF whose
// import route targets they carry, with their label, through the tunnel
// that reaches their next hop in the global table. Unresolvable routes
// wait for the next pass (a tunnel coming up kicks one).
func (m *mplsState) importRoutes(cfg *config.Config, learned []bgp.Route) {
	m.d.log.Debug("VPNv4 import", "learned", len(learned))
	want := map[routeKey]rib.Route{}
	for _, vd := range cfg.VRFs {
		if len(vd.RTImport) == 0 {
			continue
		}
		for _, r := range learned {
			if !intersects(r.RouteTargets, vd.RTImport) {
				continue
			}
			k := routeKey{vd.Name, r.Prefix.Masked(), rib.BGP}
			if _, dup := want[k]; dup {
				continue // first RD in order wins
			}
			ifname, ok := m.resolve(r.NextHop)
			if !ok {
				m.d.log.Debug("VPNv4 route waits for its next hop", "vrf", vd.Name, "prefix", r.Prefix, "next_hop", r.NextHop)
				continue
			}
			want[k] = rib.Route{VRF: vd.Name, Prefix: r.Prefix.Masked(), Source: rib.BGP, Distance: 20, Owner: ownerBGP,
				NextHops: []rib.NextHop{{Addr: r.NextHop, Interface: ifname, Label: r.Label}}}
		}
	}
	m.mu.Lock()
	old := m.imported
	m.imported = want
	m.mu.Unlock()
	for k, r := range want {
		if o, ok := old[k]; ok && config.Equal(o.NextHops, r.NextHops) {
			if b, ok := m.d.rib.Best(k.vrf, k.prefix); ok && b.Source == rib.BGP {
				continue
			}
		}
		if err := m.d.rib.Add(r); err != nil {
			m.d.log.Warn("VPNv4 route not installed", "vrf", k.vrf, "prefix", k.prefix, "err", err)
		}
	}
	for k := range old {
		if _, ok := want[k]; !ok {
			m.d.rib.Remove(k.vrf, k.prefix, rib.BGP, ownerBGP)
		}
	}
}

// resolve finds the tunnel interface that reaches a BGP next hop in the
// global table.
func (m *mplsState) resolve(nh netip.Addr) (string, bool) {
	r, ok := m.d.rib.Lookup(rib.DefaultVRF, nh)
	if !ok {
		return "", false
	}
	for _, h := range r.Forwarding() {
		if isTunnelIf(h.Interface) {
			return h.Interface, true
		}
	}
	return "", false
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// BGPRoutes is the -o json form of `show ip bgp vpnv4 all`.
type BGPRoutes struct {
	Local   []bgp.Route    `json:"originated"`
	Learned []bgp.Route    `json:"learned"`
	Peers   []bgp.PeerInfo `json:"neighbors"`
}

func (m *mplsState) snapshot() (BGPRoutes, bool) {
	m.mu.Lock()
	sp := m.speaker
	m.mu.Unlock()
	if sp == nil {
		return BGPRoutes{}, false
	}
	return BGPRoutes{Local: sp.Originated(), Learned: sp.Learned(), Peers: sp.Peers()}, true
}

// vrfOfRD names the VRF whose rd is rd ("" if none).
func vrfOfRD(c *config.Config, rd string) string {
	for _, v := range c.VRFs {
		if v.RD == rd {
			return v.Name
		}
	}
	return ""
}

// labelRow is one line of `show ip bgp vpnv4 all label`.
type labelRow struct {
	rd, network, nextHop, in, out string
}

// labelRows builds `show ip bgp vpnv4 all label`: per route distinguisher,
// our originated routes (in label, nolabel out) and learned ones (nolabel
// in, their label out; a hub that re-originates a learned route shows both).
//
// A spoke (no next-hop-self) also hears its own routes echoed back by the
// hub; its own origination is what counts there, so the echo is not shown.
func labelRows(c *config.Config, s BGPRoutes) []labelRow {
	reorig := c.BGP != nil && nextHopSelf(c.BGP)
	type key struct {
		rd string
		p  netip.Prefix
	}
	local := map[key]bgp.Route{}
	for _, r := range s.Local {
		local[key{r.RD, r.Prefix}] = r
	}
	var rows []labelRow
	done := map[key]bool{}
	for _, r := range s.Learned {
		k := key{r.RD, r.Prefix}
		in := "nolabel"
		if l, ok := local[k]; ok {
			if !reorig {
				continue
			}
			in = fmt.Sprint(l.Label)
			done[k] = true
		}
		rows = append(rows, labelRow{rd: r.RD, network: r.Prefix.String(), nextHop: r.NextHop.String(), in: in, out: fmt.Sprint(r.Label)})
	}
	for _, r := range s.Local {
		if done[key{r.RD, r.Prefix}] {
			continue
		}
		out := "nolabel"
		if v := vrfOfRD(c, r.RD); v != "" {
			out += "(" + v + ")"
		}
		rows = append(rows, labelRow{rd: r.RD, network: r.Prefix.String(), nextHop: "0.0.0.0", in: fmt.Sprint(r.Label), out: out})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].rd != rows[j].rd {
			return rows[i].rd < rows[j].rd
		}
		a, b := netip.MustParsePrefix(rows[i].network), netip.MustParsePrefix(rows[j].network)
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	return rows
}
