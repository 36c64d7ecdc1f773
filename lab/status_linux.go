package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Status is what a running lab looks like from the kernel's side, read back
// from the namespaces (not copied from the spec), for "esphub-lab status".
type Status struct {
	Prefix      string       `json:"prefix"`
	File        string       `json:"spec"`
	Description string       `json:"description,omitempty"`
	Nodes       []NodeStatus `json:"nodes"`
}

// NodeStatus describes one node's namespace.
type NodeStatus struct {
	Name   string        `json:"name"`
	Netns  string        `json:"netns"`
	Up     bool          `json:"up"` // the namespace exists
	Ifaces []IfaceStatus `json:"interfaces,omitempty"`
	Routes []string      `json:"routes,omitempty"`
	// Nft holds the lab's nftables rules with their counters (loss, NAT).
	Nft []string `json:"nftables,omitempty"`
	Err string   `json:"error,omitempty"`
}

// IfaceStatus describes one interface inside a node.
type IfaceStatus struct {
	Name  string         `json:"name"`
	State string         `json:"state"`
	MTU   int            `json:"mtu"`
	Addrs []netip.Prefix `json:"addresses,omitempty"`
	Peer  string         `json:"peer,omitempty"` // "node:iface" from the spec
	// Impairment shows the tbf rate read from the kernel and the spec's loss
	// (whose nft counters are in NodeStatus.Nft).
	Impairment string `json:"impairment,omitempty"`
}

// Up reports whether every node's namespace exists.
func (s *Status) Up() bool {
	for _, n := range s.Nodes {
		if !n.Up {
			return false
		}
	}
	return len(s.Nodes) > 0
}

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
	if nftRules(n) != "" {
		out, err := l.Exec(ctx, n.Name, "nft", "list", "table", "inet", nftTable)
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

// FormatRate renders bits per second the way tc does ("10Mbit").
func FormatRate(bits uint64) string {
	switch {
	case bits >= 1e9 && bits%1e6 == 0:
		return fmt.Sprintf("%gGbit", float64(bits)/1e9)
	case bits >= 1e6:
		return fmt.Sprintf("%gMbit", float64(bits)/1e6)
	case bits >= 1e3:
		return fmt.Sprintf("%gKbit", float64(bits)/1e3)
	}
	return fmt.Sprintf("%dbit", bits)
}

// WriteText renders the status as a table for people.
func (s *Status) WriteText(w io.Writer) error {
	up := 0
	for _, n := range s.Nodes {
		if n.Up {
			up++
		}
	}
	state := "up"
	switch {
	case up == 0:
		state = "down"
	case up < len(s.Nodes):
		state = "PARTIAL (run esphub-lab down, then up)"
	}
	fmt.Fprintf(w, "lab %s (%s): %s, %d of %d nodes\n", s.Prefix, s.File, state, up, len(s.Nodes))
	if s.Description != "" {
		fmt.Fprintf(w, "  %s\n", s.Description)
	}
	if up == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tNAMESPACE\tIFACE\tSTATE\tPEER\tADDRESSES\tIMPAIRMENT")
	for _, n := range s.Nodes {
		if !n.Up {
			fmt.Fprintf(tw, "%s\t%s\t-\tmissing\t\t\t\n", n.Name, n.Netns)
			continue
		}
		if n.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\t-\terror: %s\t\t\t\n", n.Name, n.Netns, n.Err)
			continue
		}
		first := true
		for _, i := range n.Ifaces {
			if i.Name == "lo" && len(i.Addrs) == 0 {
				continue
			}
			name, netns := n.Name, n.Netns
			if !first {
				name, netns = "", ""
			}
			first = false
			var addrs []string
			for _, a := range i.Addrs {
				addrs = append(addrs, a.String())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, netns, i.Name, i.State, i.Peer, strings.Join(addrs, " "), i.Impairment)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range s.Nodes {
		if len(n.Routes) == 0 && len(n.Nft) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", n.Name)
		for _, r := range n.Routes {
			fmt.Fprintf(w, "  route %s\n", r)
		}
		for _, r := range n.Nft {
			fmt.Fprintf(w, "  nft   %s\n", r)
		}
	}
	return nil
}
