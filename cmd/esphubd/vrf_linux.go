package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control"
	"github.com/esphub/esphub/dataplane/portable"
)

// VRFs on a kernel without VRF devices (docs/decisions.md, "VRFs on the
// host"): each VRF gets a TUN device of its own and a routing table of its
// own; policy rules steer what arrives on the VRF's interfaces (`vrf
// forwarding NAME`) and on its TUN into that table. The table holds the
// VRF interfaces' connected subnets and, from control, the VRF's routes
// through the tunnels. Overlapping addresses in different VRFs never meet:
// each lookup happens in the table of the interface the packet came in on.

// vrfTableBase + VRF id is a VRF's routing table; vrfRulePref is the
// priority of its rules (before the main table's 32766).
const (
	vrfTableBase = 0xe500
	vrfRulePref  = 3000
)

// vrfHost is one VRF's host side.
type vrfHost struct {
	name  string
	id    uint32
	tun   *portable.TUN
	link  netlink.Link
	table int

	once   sync.Once
	mu     sync.Mutex // guards routes and closed
	closed bool
	rules  []*netlink.Rule
	routes []*netlink.Route
}

// connectedRoutes returns the routes of the VRF table for the connected
// subnets of ifc, which the host has as link l.
func (v *vrfHost) connectedRoutes(ifc *config.Interface, l netlink.Link) []*netlink.Route {
	var out []*netlink.Route
	for _, p := range ifc.Addresses {
		if p.Bits() == 32 {
			continue
		}
		out = append(out, &netlink.Route{LinkIndex: l.Attrs().Index, Table: v.table, Scope: netlink.SCOPE_LINK, Protocol: rtProtoEsphub,
			Dst: &net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}, Src: p.Addr().AsSlice()})
	}
	return out
}

// refreshRoutes puts back the connected routes of the VRF's interfaces
// that are up: the kernel removes a device's routes when it goes down or
// away, and a re-created device has a new index.
func (v *vrfHost) refreshRoutes(cfg *config.Config, log *slog.Logger) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	for _, ifc := range cfg.Interfaces {
		if ifc.VRF != v.name || ifc.Shutdown {
			continue
		}
		l, err := netlink.LinkByName(ifc.Name)
		if err != nil || l.Attrs().Flags&net.FlagUp == 0 {
			continue
		}
		for _, r := range v.connectedRoutes(ifc, l) {
			if err := netlink.RouteReplace(r); err != nil {
				log.Warn("VRF connected route", "vrf", v.name, "route", r.Dst, "dev", ifc.Name, "err", err)
				continue
			}
			if !slices.ContainsFunc(v.routes, func(x *netlink.Route) bool { return x.Equal(*r) }) {
				v.routes = append(v.routes, r)
			}
		}
	}
}

// setupVRFs builds the host side of every VRF in cfg. Interfaces the
// configuration puts in a VRF but the host does not have are skipped with
// a warning.
func setupVRFs(cfg *config.Config, tunBase string, mtu int, log *slog.Logger) (out []*vrfHost, err error) {
	defer func() {
		if err != nil {
			closeVRFs(out)
			out = nil
		}
	}()
	ids := control.VRFIDs(cfg)
	for _, vd := range cfg.VRFs {
		v := &vrfHost{name: vd.Name, id: ids[vd.Name], table: vrfTableBase + int(ids[vd.Name])}
		name := fmt.Sprintf("%sv%d", tunBase, v.id)
		if len(name) > 15 {
			name = fmt.Sprintf("esphubv%d", v.id)
		}
		if v.tun, err = portable.OpenTUN(name); err != nil {
			return out, fmt.Errorf("vrf %s: open tun %s: %w", vd.Name, name, err)
		}
		out = append(out, v)
		if v.link, err = netlink.LinkByName(v.tun.Name()); err != nil {
			return out, fmt.Errorf("vrf %s: tun %s: %w", vd.Name, name, err)
		}
		if err := netlink.LinkSetMTU(v.link, mtu); err != nil {
			return out, fmt.Errorf("vrf %s: tun %s mtu: %w", vd.Name, name, err)
		}
		if err := netlink.LinkSetUp(v.link); err != nil {
			return out, fmt.Errorf("vrf %s: tun %s up: %w", vd.Name, name, err)
		}
		ifaces := []string{v.tun.Name()}
		for _, ifc := range cfg.Interfaces {
			if ifc.VRF != vd.Name || ifc.Shutdown {
				continue
			}
			l, lerr := netlink.LinkByName(ifc.Name)
			if lerr != nil {
				log.Warn("interface in a VRF is not a host interface; not steered", "vrf", vd.Name, "interface", ifc.Name)
				continue
			}
			ifaces = append(ifaces, ifc.Name)
			for _, r := range v.connectedRoutes(ifc, l) {
				if err := netlink.RouteReplace(r); err != nil {
					return out, fmt.Errorf("vrf %s: connected route %v dev %s: %w", vd.Name, r.Dst, ifc.Name, err)
				}
				v.routes = append(v.routes, r)
			}
		}
		for _, ifn := range ifaces {
			r := netlink.NewRule()
			r.IifName, r.Table, r.Priority, r.Family = ifn, v.table, vrfRulePref, netlink.FAMILY_V4
			_ = netlink.RuleDel(r) // left behind by a daemon that was killed
			if err := netlink.RuleAdd(r); err != nil {
				return out, fmt.Errorf("vrf %s: rule iif %s lookup %d: %w", vd.Name, ifn, v.table, err)
			}
			v.rules = append(v.rules, r)
		}
		log.Info("VRF host side ready", "vrf", vd.Name, "id", v.id, "tun", v.tun.Name(), "table", v.table, "interfaces", ifaces)
	}
	return out, nil
}

// closeVRFs removes the rules and routes and closes the TUNs (which
// removes them and their routes).
func closeVRFs(vs []*vrfHost) {
	for _, v := range vs {
		v.once.Do(func() {
			v.mu.Lock()
			defer v.mu.Unlock()
			v.closed = true
			var errs []error
			for _, r := range v.rules {
				errs = append(errs, netlink.RuleDel(r))
			}
			for _, r := range v.routes {
				errs = append(errs, netlink.RouteDel(r))
			}
			if v.tun != nil {
				errs = append(errs, v.tun.Close())
			}
			_ = errors.Join(errs...)
		})
	}
}
