package control

import (
	"context"
	"fmt"
	"strings"

	"github.com/esphub/esphub/bgp"
	"github.com/esphub/esphub/control/api"
	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/mpls"
)

func (d *Daemon) mplsCommands(c *api.Commands) {
	c.Handle("show ip bgp vpnv4 all", "VPNv4 table [label | summary]", d.showBGPVPNv4)
	c.Handle("show mpls forwarding-table", "local labels: VRF (aggregate) labels and what they switched", d.showMPLSForwarding)
}

func (d *Daemon) showBGPVPNv4(ctx context.Context, args []string) (api.Result, error) {
	mode := ""
	switch {
	case len(args) == 0:
	case len(args) == 1 && strings.HasPrefix("label", args[0]):
		mode = "label"
	case len(args) == 1 && strings.HasPrefix("summary", args[0]):
		mode = "summary"
	default:
		return api.Result{}, usage("expected [label | summary]")
	}
	s, ok := d.mpls.snapshot()
	if !ok {
		return api.Result{}, fmt.Errorf("%% BGP not active")
	}
	cfg := d.Config()
	var b strings.Builder
	switch mode {
	case "label":
		fmt.Fprintf(&b, "   %-20s %-20s %s\n", "Network", "Next Hop", "In label/Out label")
		rd := ""
		for _, r := range labelRows(cfg, s) {
			if r.rd != rd {
				rd = r.rd
				fmt.Fprintf(&b, "Route Distinguisher: %s", rd)
				if v := vrfOfRD(cfg, rd); v != "" {
					fmt.Fprintf(&b, " (%s)", v)
				}
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "   %-20s %-20s %s/%s\n", r.network, r.nextHop, r.in, r.out)
		}
	case "summary":
		fmt.Fprintf(&b, "BGP router identifier %s, local AS number %d\n", routerID(cfg), cfg.BGP.ASN)
		fmt.Fprintf(&b, "%d network entries (%d originated, %d learned)\n\n", len(s.Local)+len(s.Learned), len(s.Local), len(s.Learned))
		fmt.Fprintf(&b, "%-16s %1s %10s %7s %7s %8s %s\n", "Neighbor", "V", "AS", "MsgRcvd", "MsgSent", "Up/Down", "State/PfxRcd")
		for _, p := range s.Peers {
			updown, state := "never", p.State
			if p.State == "Established" {
				state = fmt.Sprint(p.Received)
				if !p.Uptime.IsZero() {
					updown = rib.FormatAge(d.now().Sub(p.Uptime))
				}
			}
			name := p.Addr.String()
			if p.Dynamic {
				name = "*" + name
			}
			fmt.Fprintf(&b, "%-16s %1d %10d %7d %7d %8s %s\n", name, 4, p.ASN, p.Recv, p.Sent, updown, state)
		}
		if hasDynamic(s.Peers) {
			b.WriteString("* Dynamically created based on a listen range command\n")
		}
	default:
		fmt.Fprintf(&b, "BGP table version is 1, local router ID is %s\n", routerID(cfg))
		b.WriteString("Status codes: * valid, > best\nOrigin codes: i - IGP, e - EGP, ? - incomplete\n\n")
		fmt.Fprintf(&b, "     %-18s %-19s %s\n", "Network", "Next Hop", "Label  Path")
		all := append(append([]bgp.Route(nil), s.Local...), s.Learned...)
		sortByRD(all)
		rd := ""
		for _, r := range all {
			if r.RD != rd {
				rd = r.RD
				fmt.Fprintf(&b, "Route Distinguisher: %s", rd)
				if v := vrfOfRD(cfg, rd); v != "" {
					fmt.Fprintf(&b, " (default for vrf %s)", v)
				}
				b.WriteString("\n")
			}
			nh, path := "0.0.0.0", ""
			if r.Peer.IsValid() {
				nh = r.NextHop.String()
				for _, a := range r.ASPath {
					path += fmt.Sprint(a) + " "
				}
			}
			fmt.Fprintf(&b, " *>  %-18s %-19s %-6d %s?\n", r.Prefix, nh, r.Label, path)
		}
	}
	return api.Result{Data: s, Text: b.String()}, nil
}

func hasDynamic(ps []bgp.PeerInfo) bool {
	for _, p := range ps {
		if p.Dynamic {
			return true
		}
	}
	return false
}

func sortByRD(rs []bgp.Route) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && lessRoute(rs[j], rs[j-1]); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func lessRoute(a, b bgp.Route) bool {
	if a.RD != b.RD {
		return a.RD < b.RD
	}
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c < 0
	}
	return a.Prefix.Bits() < b.Prefix.Bits()
}

// showMPLSForwarding renders the local labels: each VRF's aggregate label
// (pop, then look the destination up in the VRF), as IOS prints them.
func (d *Daemon) showMPLSForwarding(ctx context.Context, args []string) (api.Result, error) {
	if len(args) != 0 {
		return api.Result{}, usage("no arguments expected")
	}
	names := map[uint32]string{}
	d.ifMu.Lock()
	for n, id := range d.vrfIDs {
		names[id] = n
	}
	d.ifMu.Unlock()
	rows := mpls.Rows(d.mpls.lfib.Bindings(), func(id uint32) string { return names[id] }, nil)
	var b strings.Builder
	if err := mpls.WriteForwardingTable(&b, rows); err != nil {
		return api.Result{}, err
	}
	if rows == nil {
		rows = []mpls.ForwardingRow{}
	}
	return api.Result{Data: rows, Text: b.String()}, nil
}
