package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Status reads the lab's state from its namespaces. Nodes whose namespace is
// missing are reported with Up false; it fails only on unexpected errors.
func (l *Lab) Status(ctx context.Context) (*Status, error) {
	st := &Status{Prefix: l.prefix, File: l.spec.File, Description: l.spec.Description}
	missing := map[string]bool{}
	for _, m := range l.Missing() {
		missing[m] = true
	}
	for _, n := range l.spec.Nodes {
		ns := NodeStatus{Name: n.Name, Netns: l.Netns(n.Name), Up: !missing[n.Name]}
		if ns.Up {
			if err := l.nodeStatus(ctx, n, &ns); err != nil {
				ns.Err = err.Error()
			}
		}
		st.Nodes = append(st.Nodes, ns)
	}
	return st, nil
}

func (l *Lab) nodeStatus(ctx context.Context, n *Node, ns *NodeStatus) error {
	h, err := l.Netlink(n.Name)
	if err != nil {
		return err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	names := map[int]string{}
	for _, lk := range links {
		a := lk.Attrs()
		names[a.Index] = a.Name
		is := IfaceStatus{Name: a.Name, State: a.OperState.String(), MTU: a.MTU}
		if a.OperState == netlink.OperUnknown && a.Flags&net.FlagUp != 0 {
			is.State = "up" // lo has no carrier to report
		}
		addrs, err := h.AddrList(lk, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("list addresses of %s: %w", a.Name, err)
		}
		for _, ad := range addrs {
			ip, ok := netip.AddrFromSlice(ad.IP)
			if !ok || ip.IsLinkLocalUnicast() || ip.IsLoopback() {
				continue
			}
			bits, _ := ad.Mask.Size()
			is.Addrs = append(is.Addrs, netip.PrefixFrom(ip.Unmap(), bits))
		}
		ep := n.Iface(a.Name)
		if ep != nil {
			is.Peer = ep.Peer.Node + ":" + ep.Peer.Iface
		}
		if qs, err := h.QdiscList(lk); err == nil {
			for _, q := range qs {
				if tbf, ok := q.(*netlink.Tbf); ok && q.Attrs().Parent == netlink.HANDLE_ROOT {
					is.Impairment = fmt.Sprintf("tbf rate %s", FormatRate(tbf.Rate*8))
				}
			}
		}
		if ep != nil && ep.Impair.LossPercent > 0 {
			is.Impairment = strings.TrimSpace(fmt.Sprintf("%s loss %d%%", is.Impairment, ep.Impair.LossPercent))
		}
		ns.Ifaces = append(ns.Ifaces, is)
	}
	sort.SliceStable(ns.Ifaces, func(i, j int) bool {
		return ns.Ifaces[i].Name == "lo" && ns.Ifaces[j].Name != "lo"
	})
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteList(nil, fam)
		if err != nil {
			return fmt.Errorf("list routes: %w", err)
		}
		for _, r := range routes {
			if r.Protocol == unix.RTPROT_KERNEL || r.Gw == nil && r.Dst != nil && r.Dst.IP.IsLinkLocalUnicast() {
				continue
			}
			dst := "default"
			if r.Dst != nil {
				if ones, _ := r.Dst.Mask.Size(); ones != 0 {
					dst = r.Dst.String()
				}
			}
			s := dst
			if r.Gw != nil {
				s += " via " + r.Gw.String()
			}
			if name := names[r.LinkIndex]; name != "" {
				s += " dev " + name
			}
			ns.Routes = append(ns.Routes, s)
		}
	}
	if n.NAT != nil {
		if ns.NAT, err = l.NATMappings(n.Name); err != nil {
			return err
		}
	}
	if nftRules(n) != "" {
		out, err := l.Exec(ctx, n.Name, "nft", "list", "table", "inet", NftTable)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "counter") {
				ns.Nft = append(ns.Nft, strings.TrimSpace(line))
			}
		}
	}
	return nil
}
