package ike

import (
	"fmt"
	"net/netip"
)

// TrafficSelector is one entry of a TSi or TSr payload (RFC 7296 §3.13.1):
// an inclusive address range, an IP protocol (0 = any) and an inclusive port
// range. Start and End are of the same family.
type TrafficSelector struct {
	Proto     uint8
	StartPort uint16
	EndPort   uint16
	Start     netip.Addr
	End       netip.Addr
}

// TSFromPrefix returns the selector covering every address of p, any protocol
// and any port.
func TSFromPrefix(p netip.Prefix) TrafficSelector {
	p = p.Masked()
	return TrafficSelector{StartPort: 0, EndPort: 0xffff, Start: p.Addr(), End: lastAddr(p)}
}

// TSAny4 and TSAny6 are the selectors 0.0.0.0/0 and ::/0, which FlexVPN
// negotiates for route-based (tunnel interface) sessions.
var (
	TSAny4 = TSFromPrefix(netip.MustParsePrefix("0.0.0.0/0"))
	TSAny6 = TSFromPrefix(netip.MustParsePrefix("::/0"))
)

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			if i*8+bit >= bits {
				b[i] |= 0x80 >> bit
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Valid reports whether ts is well formed: both ends of one family, in order.
func (ts TrafficSelector) Valid() bool {
	return ts.Start.IsValid() && ts.End.IsValid() && ts.Start.Is4() == ts.End.Is4() &&
		ts.Start.Compare(ts.End) <= 0 && ts.StartPort <= ts.EndPort
}

// Is4 reports whether ts selects IPv4 addresses.
func (ts TrafficSelector) Is4() bool { return ts.Start.Is4() }

// Contains reports whether every packet ts selects is also selected by o.
func (o TrafficSelector) Contains(ts TrafficSelector) bool {
	return o.Is4() == ts.Is4() && (o.Proto == 0 || o.Proto == ts.Proto) &&
		o.Start.Compare(ts.Start) <= 0 && o.End.Compare(ts.End) >= 0 &&
		o.StartPort <= ts.StartPort && o.EndPort >= ts.EndPort
}

// Intersect returns the selector for the packets both a and b select.
func (a TrafficSelector) Intersect(b TrafficSelector) (TrafficSelector, bool) {
	if a.Is4() != b.Is4() {
		return TrafficSelector{}, false
	}
	var r TrafficSelector
	switch {
	case a.Proto == b.Proto, b.Proto == 0:
		r.Proto = a.Proto
	case a.Proto == 0:
		r.Proto = b.Proto
	default:
		return TrafficSelector{}, false
	}
	r.Start = maxAddr(a.Start, b.Start)
	r.End = minAddr(a.End, b.End)
	r.StartPort = max(a.StartPort, b.StartPort)
	r.EndPort = min(a.EndPort, b.EndPort)
	if r.Start.Compare(r.End) > 0 || r.StartPort > r.EndPort {
		return TrafficSelector{}, false
	}
	return r, true
}

func maxAddr(a, b netip.Addr) netip.Addr {
	if a.Compare(b) >= 0 {
		return a
	}
	return b
}

func minAddr(a, b netip.Addr) netip.Addr {
	if a.Compare(b) <= 0 {
		return a
	}
	return b
}

// NarrowTS is the responder's traffic-selector narrowing (RFC 7296 §2.9):
// it returns the intersections of what the initiator proposed with what local
// policy allows, in the initiator's order, without duplicates. An empty
// result means TS_UNACCEPTABLE.
func NarrowTS(proposed, allowed []TrafficSelector) []TrafficSelector {
	var out []TrafficSelector
	for _, p := range proposed {
		for _, a := range allowed {
			r, ok := p.Intersect(a)
			if !ok {
				continue
			}
			dup := false
			for _, o := range out {
				if o == r {
					dup = true
					break
				}
			}
			if !dup {
				out = append(out, r)
			}
		}
	}
	return out
}

// String renders ts as IOS does in "show crypto ipsec sa": a prefix when the
// range is one, a range otherwise, with protocol and ports when restricted.
func (ts TrafficSelector) String() string {
	var s string
	if p, ok := ts.prefix(); ok {
		s = p.String()
	} else {
		s = ts.Start.String() + "-" + ts.End.String()
	}
	if ts.Proto != 0 || ts.StartPort != 0 || ts.EndPort != 0xffff {
		s += fmt.Sprintf("/%d/%d-%d", ts.Proto, ts.StartPort, ts.EndPort)
	}
	return s
}

func (ts TrafficSelector) prefix() (netip.Prefix, bool) {
	for bits := 0; bits <= ts.Start.BitLen(); bits++ {
		p := netip.PrefixFrom(ts.Start, bits)
		if p.Masked().Addr() == ts.Start && lastAddr(p) == ts.End {
			return p, true
		}
	}
	return netip.Prefix{}, false
}
