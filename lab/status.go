package lab

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
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
	// NAT lists the translations a NAT node holds now.
	NAT []NATMapping `json:"nat,omitempty"`
	Err string       `json:"error,omitempty"`
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

// NATMapping is one connection a NAT node translated, read from its
// conntrack table.
type NATMapping struct {
	Proto   string         `json:"proto"`   // "udp", "tcp", "icmp", "ipv6-icmp" or a number
	Inside  netip.AddrPort `json:"inside"`  // the original source
	Outside netip.AddrPort `json:"outside"` // the source after translation
	Remote  netip.AddrPort `json:"remote"`  // the destination
}

func (m NATMapping) String() string {
	if m.Inside.Port() == 0 && m.Outside.Port() == 0 && m.Remote.Port() == 0 {
		// ICMP and other protocols without ports
		return fmt.Sprintf("%s %s -> %s as %s", m.Proto, m.Inside.Addr(), m.Remote.Addr(), m.Outside.Addr())
	}
	return fmt.Sprintf("%s %s -> %s as %s", m.Proto, m.Inside, m.Remote, m.Outside)
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
		if len(n.Routes) == 0 && len(n.Nft) == 0 && len(n.NAT) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", n.Name)
		for _, r := range n.Routes {
			fmt.Fprintf(w, "  route %s\n", r)
		}
		for _, r := range n.Nft {
			fmt.Fprintf(w, "  nft   %s\n", r)
		}
		// ICMP flows differ only in their echo id, which is not shown:
		// print each distinct line once with a count.
		var lines []string
		count := map[string]int{}
		for _, m := range n.NAT {
			s := m.String()
			if count[s] == 0 {
				lines = append(lines, s)
			}
			count[s]++
		}
		for _, s := range lines {
			if c := count[s]; c > 1 {
				s = fmt.Sprintf("%s (%d flows)", s, c)
			}
			fmt.Fprintf(w, "  nat   %s\n", s)
		}
	}
	return nil
}
