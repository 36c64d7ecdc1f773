package control

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/internal/logging"
)

// What a reload does to established sessions' routes (docs/decisions.md,
// "Reload and configuration exchange"):
//
//   - Routes WE install from what a peer sent depend on our own
//     configuration only through `route accept` (tag, distance, or none at
//     all) and `config-exchange set accept`, and static routes through a
//     tunnel interface on our `ip route`: those are re-applied at once.
//   - What a peer received from us in IKE_AUTH (`route set` subnets, the
//     pool address, DNS servers) cannot be sent again on an established IKE
//     SA: IKEv2 carries configuration payloads only in IKE_AUTH, and an IKE
//     SA rekey does not repeat them. As on IOS, the new values apply when
//     the session is next set up; the reload summary and a
//     %CONFIG-4-SESSION_CONFIG_STALE event name the sessions that keep the
//     old values until then (clear crypto session applies them now).

// reapplySessionRoutes brings the established sessions in line with cfg
// (old was running before) and returns summary lines. It takes mu briefly
// and calls the RIB without it.
func (d *Daemon) reapplySessionRoutes(old, cfg *config.Config) []string {
	type work struct {
		s                *Session
		iface, vrf, prof string
		info             ike.IKESAInfo
		ifc              string // the Tunnel or Virtual-Template the session was planned from
	}
	d.mu.Lock()
	var ws []work
	for _, s := range d.sessions {
		if s.IKE.LocalSPI == 0 {
			continue // not up yet: sessionRoutesUp will read the new configuration
		}
		w := work{s: s, iface: s.Interface, vrf: s.VRF, prof: s.Profile, info: s.IKE}
		if s.plan != nil && s.plan.Interface != nil {
			w.ifc = s.plan.Interface.Name
		}
		ws = append(ws, w)
	}
	d.mu.Unlock()
	sort.Slice(ws, func(i, j int) bool { return ws[i].iface < ws[j].iface })

	var summary, stale []string
	for _, w := range ws {
		prof := cfg.Profile(w.prof)
		if prof == nil {
			continue // deleted by Reload
		}
		before := sessionConfigRoutes(old, old.Profile(w.prof), w.vrf, w.iface, w.info.PeerConfig)
		after := sessionConfigRoutes(cfg, prof, w.vrf, w.iface, w.info.PeerConfig)
		changed := 0
		for k, r := range before {
			if _, keep := after[k]; !keep {
				if d.rib.Remove(r.VRF, r.Prefix, r.Source, w.iface) {
					changed++
				}
			}
		}
		for k, r := range after {
			if b, ok := before[k]; ok && b.Tag == r.Tag && b.Distance == r.Distance && slices.Equal(b.NextHops, r.NextHops) {
				continue
			}
			if err := d.rib.Add(r); err != nil {
				d.log.Warn("route not installed", "prefix", r.Prefix, "interface", w.iface, "err", err)
				continue
			}
			changed++
		}
		if changed > 0 {
			summary = append(summary, fmt.Sprintf("%s: %d route(s) learned from the peer or through the interface re-applied", w.iface, changed))
			d.updateAccepted(w.s, before, after)
		}
		what := staleExchange(cfg, prof, w.ifc, w.info)
		if len(what) > 0 {
			stale = append(stale, fmt.Sprintf("%s (%s)", w.iface, strings.Join(what, ", ")))
		}
		d.mu.Lock()
		w.s.Stale = what
		d.mu.Unlock()
	}
	if len(stale) > 0 {
		msg := fmt.Sprintf("%d session(s) keep the old routes/address they received at setup until they reconnect (IKEv2 sends configuration only in IKE_AUTH; clear crypto session applies it now): %s",
			len(stale), strings.Join(stale, "; "))
		d.event("CONFIG", logging.Warning, "SESSION_CONFIG_STALE", msg)
		summary = append(summary, msg)
	}
	return summary
}

// sessionConfigRoutes are the routes of a session that follow our own
// configuration: accepted peer subnets and static routes through its
// interface, by (prefix, source).
func sessionConfigRoutes(cfg *config.Config, prof *config.Profile, vrf, iface string, peer *wire.Configuration) map[routeKey]rib.Route {
	out := map[routeKey]rib.Route{}
	if cfg == nil {
		return out
	}
	for _, r := range acceptRoutes(cfg, prof, vrf, iface, peer) {
		out[routeKey{r.VRF, r.Prefix, r.Source}] = r
	}
	for _, sr := range cfg.Routes {
		if sr.Interface == iface {
			r := staticRoute(sr, iface)
			out[routeKey{r.VRF, r.Prefix, r.Source}] = r
		}
	}
	return out
}

// updateAccepted replaces the accepted peer subnets in a session's route
// list (shown by show crypto session detail).
func (d *Daemon) updateAccepted(s *Session, before, after map[routeKey]rib.Route) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var routes []netip.Prefix
	for _, p := range s.Routes {
		if _, was := before[routeKey{s.VRF, p, rib.IKEv2}]; !was {
			routes = append(routes, p)
		}
	}
	for k := range after {
		if k.src == rib.IKEv2 && !slices.Contains(routes, k.prefix) {
			routes = append(routes, k.prefix)
		}
	}
	slices.SortFunc(routes, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr())*2 + cmpInt(a.Bits(), b.Bits()) })
	s.Routes = routes
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// staleExchange says what a session's peer received from us in IKE_AUTH
// that cfg would now send differently: "route set" (the subnets), "pool"
// (the assigned address is outside the policy's pool now), "dns".
func staleExchange(cfg *config.Config, prof *config.Profile, ifName string, info ike.IKESAInfo) []string {
	sent := info.LocalConfig
	if sent == nil && (!info.Initiator && info.PeerConfig == nil) {
		return nil // the peer asked for nothing: no reply was sent, none is due
	}
	if info.Initiator && !prof.ConfigRequest {
		return nil
	}
	ap := authzPolicy(cfg, prof)
	var now []netip.Prefix
	if prof.ConfigSetSend {
		now = routeSet(cfg, ap, cfg.Interface(ifName))
	}
	var was []netip.Prefix
	if sent != nil {
		was = sent.AppendSubnets(nil)
	}
	var what []string
	if !samePrefixes(was, now) {
		what = append(what, "route set")
	}
	if info.Initiator || sent == nil {
		return what
	}
	if a, ok := sent.Find(wire.AttrInternalIP4Address); ok {
		addr, _ := a.Addr()
		if ap == nil || !inPool(cfg.Pool(ap.Pool), addr) {
			what = append(what, "pool")
		}
	}
	var dns []netip.Addr
	if ap != nil {
		dns = ap.DNS
	}
	if !slices.Equal(sent.AppendAddrs(nil, wire.AttrInternalIP4DNS), dns) {
		what = append(what, "dns")
	}
	return what
}

func samePrefixes(a, b []netip.Prefix) bool {
	set := func(ps []netip.Prefix) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Masked().String())
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	return slices.Equal(set(a), set(b))
}

func inPool(p *config.LocalPool, a netip.Addr) bool {
	if p == nil || !a.IsValid() {
		return false
	}
	for _, r := range p.Ranges {
		if a.Compare(r.First) >= 0 && a.Compare(r.Last) <= 0 {
			return true
		}
	}
	return false
}
