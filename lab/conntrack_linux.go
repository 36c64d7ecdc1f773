package lab

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NATMappings lists the source translations in node's conntrack table (IPv4
// and IPv6). Connections that were not translated are left out.
func (l *Lab) NATMappings(node string) ([]NATMapping, error) {
	h, err := l.Netlink(node)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var out []NATMapping
	for _, fam := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		flows, err := h.ConntrackTableList(netlink.ConntrackTable, fam)
		if err != nil {
			return nil, fmt.Errorf("conntrack in %s: %w", node, err)
		}
		for _, f := range flows {
			m := NATMapping{
				Proto:   protoName(f.Forward.Protocol),
				Inside:  addrPort(f.Forward.SrcIP, f.Forward.SrcPort),
				Remote:  addrPort(f.Forward.DstIP, f.Forward.DstPort),
				Outside: addrPort(f.Reverse.DstIP, f.Reverse.DstPort),
			}
			if m.Inside != m.Outside {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// FlushConntrack forgets every connection node's netfilter tracks, so a NAT
// node hands out new mappings for the next packets: the way to test NAT
// rebinding (with "ports: random" the outside port changes).
func (l *Lab) FlushConntrack(node string) error {
	h, err := l.Netlink(node)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.ConntrackTableFlush(netlink.ConntrackTable); err != nil {
		return fmt.Errorf("flush conntrack in %s: %w", node, err)
	}
	return nil
}

func addrPort(ip net.IP, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}

func protoName(p uint8) string {
	switch p {
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_ICMP:
		return "icmp"
	case unix.IPPROTO_ICMPV6:
		return "ipv6-icmp"
	case unix.IPPROTO_ESP:
		return "esp"
	}
	return fmt.Sprint(p)
}
