package lab

import (
	"fmt"
	"strings"
)

// nftRules renders the nftables ruleset for a node's loss impairments and
// NAT, or "" when the node needs none. It is loaded with "nft -f -" inside the
// node's namespace, so the table never exists in the root namespace.
//
// Loss configured for one end of a link (traffic leaving that end) is applied
// where the traffic arrives: the peer's prerouting chain drops IP packets
// coming in on the link at random (numgen random mod 100 < N), before
// conntrack. Dropping on arrival rather than on output keeps the loss silent
// for the sender, as on a real lossy link: a packet dropped in the output
// path would fail the sender's write with EPERM. Each rule counts what it
// drops or translates, so tests and people can read
// "nft list table inet esphub_lab".
func nftRules(n *Node) string {
	var loss, nat, dnat []string
	for _, e := range n.Ifaces {
		if p := e.Peer.Impair.LossPercent; p > 0 {
			loss = append(loss, fmt.Sprintf("\t\tiifname %q numgen random mod 100 < %d counter drop comment \"loss from %s\"\n", e.Iface, p, e.Peer.Node))
		}
	}
	if n.NAT != nil {
		match := ""
		switch n.NAT.Family {
		case "ip":
			match = "meta nfproto ipv4 "
		case "ip6":
			match = "meta nfproto ipv6 "
		}
		flags := ""
		if n.NAT.RandomPorts {
			flags = " random"
		}
		for _, i := range n.NAT.Masquerade {
			nat = append(nat, fmt.Sprintf("\t\t%soifname %q counter masquerade%s comment \"nat %s\"\n", match, i, flags, i))
		}
		for _, f := range n.NAT.Forward {
			proto, fam, to := "ipv4", "ip", f.To.String()
			if f.To.Is6() {
				proto, fam, to = "ipv6", "ip6", "["+to+"]"
			}
			for _, i := range n.NAT.Masquerade {
				dnat = append(dnat, fmt.Sprintf("\t\tmeta nfproto %s iifname %q %s dport %d counter dnat %s to %s comment \"forward %s/%d\"\n",
					proto, i, f.Proto, f.Port, fam, to, f.Proto, f.Port))
			}
		}
	}
	if len(loss) == 0 && len(nat) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", NftTable)
	if len(loss) > 0 {
		b.WriteString("\tchain loss {\n\t\ttype filter hook prerouting priority raw; policy accept;\n")
		for _, r := range loss {
			b.WriteString(r)
		}
		b.WriteString("\t}\n")
	}
	if len(dnat) > 0 {
		b.WriteString("\tchain forward {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
		for _, r := range dnat {
			b.WriteString(r)
		}
		b.WriteString("\t}\n")
	}
	if len(nat) > 0 {
		b.WriteString("\tchain nat {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
		for _, r := range nat {
			b.WriteString(r)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// NftTable is the nftables table (family inet) the lab creates inside a
// node's namespace for loss impairment and NAT.
const NftTable = "esphub_lab"
