package control

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/wire"
)

// ownerConfig owns the routes the configuration itself gives (connected
// interfaces, static routes not through a tunnel). Session routes are owned
// by the session's interface name, so RemoveOwner withdraws them together.
const ownerConfig = "config"

// configRoutes lists the routes a configuration contributes on its own.
func configRoutes(c *config.Config) []rib.Route {
	var out []rib.Route
	for _, ifc := range c.Interfaces {
		if ifc.Shutdown || (ifc.Kind != config.KindPhysical && ifc.Kind != config.KindLoopback) {
			continue
		}
		for _, p := range append(append([]netip.Prefix(nil), ifc.Addresses...), ifc.IPv6Addresses...) {
			nh := []rib.NextHop{{Interface: ifc.Name}}
			if p.Bits() < p.Addr().BitLen() {
				out = append(out, rib.Route{VRF: ifc.VRF, Prefix: p.Masked(), Source: rib.Connected, NextHops: nh, Owner: ownerConfig})
			}
			out = append(out, rib.Route{VRF: ifc.VRF, Prefix: netip.PrefixFrom(p.Addr(), p.Addr().BitLen()), Source: rib.Local, NextHops: nh, Owner: ownerConfig})
		}
	}
	for _, sr := range c.Routes {
		if isTunnelIf(sr.Interface) {
			continue // installed while the tunnel's session is up
		}
		out = append(out, staticRoute(sr, ownerConfig))
	}
	return out
}

func isTunnelIf(name string) bool {
	return strings.HasPrefix(name, "Tunnel") || strings.HasPrefix(name, "Virtual-Access")
}

func staticRoute(sr *config.StaticRoute, owner string) rib.Route {
	nh := rib.NextHop{Addr: sr.NextHop, Interface: sr.Interface}
	return rib.Route{VRF: sr.VRF, Prefix: sr.Prefix.Masked(), Source: rib.Static, Distance: uint8(sr.Distance),
		Tag: uint32(sr.Tag), NextHops: []rib.NextHop{nh}, Owner: owner}
}

type routeKey struct {
	vrf    string
	prefix netip.Prefix
	src    rib.Source
}

// applyConfigRoutes installs new's configuration routes and withdraws the
// ones old had that new does not, so unchanged routes never flap.
func (d *Daemon) applyConfigRoutes(old, new *config.Config) {
	want := map[routeKey]bool{}
	for _, r := range configRoutes(new) {
		want[routeKey{r.VRF, r.Prefix, r.Source}] = true
		if b, ok := d.rib.Best(r.VRF, r.Prefix); ok && b.Owner == ownerConfig && b.Source == r.Source &&
			config.Equal(b.NextHops, r.NextHops) && b.Tag == r.Tag && (r.Distance == 0 || b.Distance == r.Distance) {
			continue
		}
		if err := d.rib.Add(r); err != nil {
			d.log.Warn("route not installed", "prefix", r.Prefix, "err", err)
		}
	}
	if old == nil {
		return
	}
	for _, r := range configRoutes(old) {
		if !want[routeKey{r.VRF, r.Prefix, r.Source}] {
			d.rib.Remove(r.VRF, r.Prefix, r.Source, ownerConfig)
		}
	}
}

// fibApply follows the RIB's best routes into the dataplane FIB and the
// host's routing table (called by the RIB with its lock released).
func (d *Daemon) fibApply(ch rib.Change) {
	vrf := d.vrfID(ch.VRF)
	if ch.Best == nil {
		_ = d.dp.DeleteRoute(vrf, ch.Prefix)
		if d.opts.Kernel != nil {
			_ = d.opts.Kernel.DeleteRoute(ch.VRF, ch.Prefix)
		}
		return
	}
	nh := dataplane.NextHop{Kind: dataplane.NextHopHost}
	tunnel := false
	for _, h := range ch.Best.Forwarding() {
		if ch.Best.Source == rib.Local {
			break // our own address (a negotiated one names its tunnel): the host's
		}
		if h.Interface == "Null0" {
			nh = dataplane.NextHop{Kind: dataplane.NextHopDrop}
			break
		}
		d.ifMu.Lock()
		id, ok := d.ifTunnel[h.Interface]
		d.ifMu.Unlock()
		if ok {
			nh, tunnel = dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: id}, true
			if h.Label != 0 {
				// A VPN route (VPNv4 or an NHRP shortcut in a VRF): the
				// label goes inside GRE; implicit-null pushes nothing.
				nh.Label, nh.PushLabel = h.Label, true
			}
			break
		}
	}
	if err := d.dp.AddRoute(vrf, ch.Prefix, nh); err != nil {
		d.log.Warn("fib update failed", "prefix", ch.Prefix, "err", err)
	}
	if d.opts.Kernel == nil {
		return
	}
	if tunnel {
		if err := d.opts.Kernel.AddRoute(ch.VRF, ch.Prefix); err != nil {
			d.log.Warn("kernel route not installed", "prefix", ch.Prefix, "err", err)
		}
	} else {
		_ = d.opts.Kernel.DeleteRoute(ch.VRF, ch.Prefix)
	}
}

// authzPolicy returns the authorization policy a profile uses for its
// group authorization (`aaa authorization group ... list L NAME`), else the
// default policy.
func authzPolicy(c *config.Config, p *config.Profile) *config.AuthorizationPolicy {
	for _, a := range p.AAA {
		if a.Kind == "authorization group" && a.Name != "" {
			if ap := c.AuthzPolicy(a.Name); ap != nil {
				return ap
			}
		}
	}
	return c.AuthzPolicy("default")
}

// interfaceAddr returns an interface's primary address of one family,
// following ip unnumbered.
func interfaceAddr(c *config.Config, name string, v6 bool) (netip.Addr, bool) {
	for range 4 {
		ifc := c.Interface(name)
		if ifc == nil {
			return netip.Addr{}, false
		}
		addrs := ifc.Addresses
		next := ifc.Unnumbered
		if v6 {
			addrs, next = ifc.IPv6Addresses, ifc.IPv6Unnumbered
		}
		if len(addrs) > 0 {
			return addrs[0].Addr(), true
		}
		if next == "" {
			return netip.Addr{}, false
		}
		name = next
	}
	return netip.Addr{}, false
}

// routeSet returns the subnets an authorization policy's `route set`
// statements announce for a session on tunnel interface ifc: the
// interface's address (`route set interface`, or a named interface's), the
// permit entries of the access lists, and `route set local` prefixes.
func routeSet(c *config.Config, ap *config.AuthorizationPolicy, ifc *config.Interface) []netip.Prefix {
	if ap == nil {
		return nil
	}
	var out []netip.Prefix
	if ap.RouteSetInterface {
		name := ap.RouteSetInterfaceName
		if name == "" && ifc != nil {
			name = ifc.Name
		}
		for _, v6 := range []bool{false, true} {
			if a, ok := interfaceAddr(c, name, v6); ok {
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	for _, n := range []string{ap.RouteSetACL, ap.RouteSetIPv6ACL} {
		acl := c.AccessList(n)
		if acl == nil {
			continue
		}
		for _, e := range acl.Entries {
			if !e.Permit || e.Source.Any {
				continue
			}
			switch {
			case e.Source.Prefix.IsValid():
				out = append(out, e.Source.Prefix.Masked())
			case e.Source.Addr.IsValid() && !e.Source.Wildcard.IsValid():
				out = append(out, netip.PrefixFrom(e.Source.Addr, e.Source.Addr.BitLen()))
			}
		}
	}
	for _, r := range ap.RouteSetLocal {
		out = append(out, r.Prefix.Masked())
	}
	return out
}

// configureExchange sets the configuration payload hooks of an IKE
// profile (FlexVPN config exchange). An initiator sends a CFG_REQUEST that
// asks for an address when the tunnel says `ip address negotiated` and
// carries its `route set` subnets; a responder answers with an address
// from the authorization policy's pool when asked, its DNS servers and its
// own `route set` subnets. Caller holds mu.
func (d *Daemon) configureExchange(ip *ike.Profile, prof *config.Profile, plan *tunnelPlan, initiator bool) {
	cfg := d.cfg
	var ifc *config.Interface
	if plan != nil {
		ifc = plan.Interface
	}
	ap := authzPolicy(cfg, prof)
	if initiator {
		if !prof.ConfigRequest {
			return
		}
		req := &wire.Configuration{CFGType: wire.CFGRequest}
		if ifc != nil && ifc.AddressNegotiated {
			req.Attributes = append(req.Attributes, wire.ConfigAttribute{AttrType: wire.AttrInternalIP4Address})
		}
		if prof.ConfigSetSend {
			for _, p := range routeSet(cfg, ap, ifc) {
				req.Attributes = append(req.Attributes, wire.SubnetAttribute(p))
			}
		}
		ip.ConfigRequest = req
		return
	}
	ip.ConfigReply = func(req *wire.Configuration) (*wire.Configuration, error) {
		// Called later, from the engine goroutine, without mu.
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.configReply(cfg, prof, ap, ifc, req)
	}
}

// configReply builds the CFG_REPLY to a peer's CFG_REQUEST. Caller holds mu.
func (d *Daemon) configReply(cfg *config.Config, prof *config.Profile, ap *config.AuthorizationPolicy, ifc *config.Interface, req *wire.Configuration) (*wire.Configuration, error) {
	if req == nil || req.CFGType != wire.CFGRequest {
		return nil, nil
	}
	_, wantAddr := req.Find(wire.AttrInternalIP4Address)
	rep := &wire.Configuration{CFGType: wire.CFGReply}
	if wantAddr && ap != nil && ap.Pool != "" {
		a, err := d.allocate(cfg, ap.Pool)
		if err != nil {
			return nil, err
		}
		rep.Attributes = append(rep.Attributes, wire.AddrAttribute(wire.AttrInternalIP4Address, a))
		if ap.Netmask.IsValid() {
			rep.Attributes = append(rep.Attributes, wire.AddrAttribute(wire.AttrInternalIP4Netmask, ap.Netmask))
		}
	}
	if ap != nil {
		for _, a := range ap.DNS {
			rep.Attributes = append(rep.Attributes, wire.AddrAttribute(wire.AttrInternalIP4DNS, a))
		}
	}
	if prof.ConfigSetSend {
		for _, p := range routeSet(cfg, ap, ifc) {
			rep.Attributes = append(rep.Attributes, wire.SubnetAttribute(p))
		}
	}
	if len(rep.Attributes) == 0 {
		return nil, nil
	}
	return rep, nil
}

// sessionRoutesUp installs a session's routes once its IKE SA is up: the
// static routes through its tunnel interface, and the subnets the peer
// sent in its configuration payload when the authorization policy says
// `route accept` (with its tag and distance), plus a host route to an
// address we assigned from a pool.
func (d *Daemon) sessionRoutesUp(s *Session, info ike.IKESAInfo) {
	d.mu.Lock()
	cfg := d.cfg
	prof := cfg.Profile(s.Profile)
	vrf := s.VRF
	iface := s.Interface
	// Reverse routes: an IPsec-mode peer that narrowed the selectors to
	// its own subnets (a strongSwan site, an RFC client) is reached
	// through its session even without route exchange.
	var reverse []netip.Prefix
	if s.plan != nil && s.plan.Mode == dataplane.ModeIPsec {
		for _, c := range s.Children {
			reverse = append(reverse, tsPrefixes(c.RemoteTS)...)
		}
	}
	d.mu.Unlock()
	var accepted []netip.Prefix
	for _, p := range reverse {
		r := rib.Route{VRF: vrf, Prefix: p, Source: rib.Static, Distance: 1, NextHops: []rib.NextHop{{Interface: iface}}, Owner: iface}
		if d.rib.Add(r) == nil {
			accepted = append(accepted, p)
		}
	}
	for _, sr := range cfg.Routes {
		if sr.Interface == iface {
			_ = d.rib.Add(staticRoute(sr, iface))
		}
	}
	for _, r := range acceptRoutes(cfg, prof, vrf, iface, info.PeerConfig) {
		if err := d.rib.Add(r); err == nil {
			accepted = append(accepted, r.Prefix)
		}
	}
	if addr, ok := assignedAddr(info); ok {
		d.mu.Lock()
		d.leases[addr] = lease{at: d.now(), bound: true}
		d.mu.Unlock()
		p := netip.PrefixFrom(addr, 32)
		if d.rib.Add(rib.Route{VRF: vrf, Prefix: p, Source: rib.IKEv2, Distance: 1, NextHops: []rib.NextHop{{Interface: iface}}, Owner: iface}) == nil {
			accepted = append(accepted, p)
		}
	}
	d.mu.Lock()
	s.Routes = accepted
	d.mu.Unlock()
}

// acceptRoutes returns the routes a session on iface installs from the
// subnets its peer sent (peer's configuration payload) under cfg: none
// unless the profile says `config-exchange set accept` (the default) and
// its authorization policy `route accept`, whose tag and distance they
// carry.
func acceptRoutes(cfg *config.Config, prof *config.Profile, vrf, iface string, peer *wire.Configuration) []rib.Route {
	if prof == nil || peer == nil || !prof.ConfigSetAccept {
		return nil
	}
	ap := authzPolicy(cfg, prof)
	if ap == nil || ap.RouteAccept == nil {
		return nil
	}
	var out []rib.Route
	for _, p := range peer.AppendSubnets(nil) {
		out = append(out, rib.Route{VRF: vrf, Prefix: p.Masked(), Source: rib.IKEv2, Distance: uint8(ap.RouteAccept.Distance),
			Tag: uint32(ap.RouteAccept.Tag), NextHops: []rib.NextHop{{Interface: iface}}, Owner: iface})
	}
	return out
}

// allocate leases the lowest free address of an IPv4 local pool of cfg.
// A lease is bound to its session when the IKE SA comes up and released
// when the session goes down; a lease whose IKE SA never came up expires
// after two minutes. Caller holds mu.
func (d *Daemon) allocate(cfg *config.Config, pool string) (netip.Addr, error) {
	p := cfg.Pool(pool)
	if p == nil {
		return netip.Addr{}, fmt.Errorf("ip local pool %s does not exist", pool)
	}
	now := d.now()
	for a, l := range d.leases {
		if !l.bound && now.Sub(l.at) > 2*time.Minute {
			delete(d.leases, a)
		}
	}
	for _, r := range p.Ranges {
		for a := r.First; a.IsValid() && a.Compare(r.Last) <= 0; a = a.Next() {
			if _, used := d.leases[a]; !used {
				d.leases[a] = lease{at: now}
				return a, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("ip local pool %s is exhausted", pool)
}

// lease is a pool address handed out in a CFG_REPLY.
type lease struct {
	at    time.Time
	bound bool // its session is up
}

// assignedAddr returns the address a responder session assigned to its peer.
func assignedAddr(info ike.IKESAInfo) (netip.Addr, bool) {
	if info.Initiator || info.LocalConfig == nil {
		return netip.Addr{}, false
	}
	if a, ok := info.LocalConfig.Find(wire.AttrInternalIP4Address); ok {
		return a.Addr()
	}
	return netip.Addr{}, false
}
