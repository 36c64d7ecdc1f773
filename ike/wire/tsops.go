package wire

import (
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// Traffic selector arithmetic on netip types: conversions to and from
// prefixes, containment and the intersection a responder narrows with
// (RFC 7296 §2.9). Selectors of types other than the two address ranges
// never match anything.

// Port range constants (RFC 7296 §3.13.1).
const (
	AnyProtocol = 0
	// OpaquePorts is the start port of the OPAQUE selector (start 65535, end 0).
	OpaquePorts = 65535
)

// TSFromPrefix returns the selector for all traffic to or from prefix p:
// any protocol, all ports.
func TSFromPrefix(p netip.Prefix) TrafficSelector {
	p = p.Masked()
	return TSFromRange(p.Addr(), lastAddr(p), AnyProtocol, 0, 65535)
}

// TSFromRange returns the selector for the address range start..end, IP
// protocol proto (0 for any) and ports startPort..endPort.
func TSFromRange(start, end netip.Addr, proto uint8, startPort, endPort uint16) TrafficSelector {
	start, end = start.Unmap(), end.Unmap()
	t := TSIPv4AddrRange
	if start.Is6() {
		t = TSIPv6AddrRange
	}
	return TrafficSelector{TSType: t, IPProtocol: proto, StartPort: startPort, EndPort: endPort, Start: start, End: end}
}

// TSAny returns the selector covering everything of one address family:
// 0.0.0.0-255.255.255.255 (v6 false) or ::-ffff:...:ffff (v6 true).
func TSAny(v6 bool) TrafficSelector {
	if v6 {
		return TSFromPrefix(netip.PrefixFrom(netip.IPv6Unspecified(), 0))
	}
	return TSFromPrefix(netip.PrefixFrom(netip.IPv4Unspecified(), 0))
}

// lastAddr returns the highest address in p (p must be masked).
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	if a.Is4() {
		v := a.As4()
		for i := p.Bits(); i < 32; i++ {
			v[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom4(v)
	}
	v := a.As16()
	for i := p.Bits(); i < 128; i++ {
		v[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(v)
}

// IsAddrRange reports whether ts is an IPv4 or IPv6 address range with
// valid, ordered addresses of its type.
func (ts TrafficSelector) IsAddrRange() bool {
	switch ts.TSType {
	case TSIPv4AddrRange:
		return ts.Start.Is4() && ts.End.Is4() && ts.Start.Compare(ts.End) <= 0
	case TSIPv6AddrRange:
		return ts.Start.Is6() && ts.End.Is6() && ts.Start.Compare(ts.End) <= 0
	}
	return false
}

// AllPorts reports whether ts covers every port (0-65535).
func (ts TrafficSelector) AllPorts() bool { return ts.StartPort == 0 && ts.EndPort == 65535 }

// Opaque reports whether ts is the OPAQUE port selector.
func (ts TrafficSelector) Opaque() bool { return ts.StartPort == OpaquePorts && ts.EndPort == 0 }

// Prefix returns the prefix ts covers when its address range is exactly one
// prefix (any protocol and port restriction is ignored).
func (ts TrafficSelector) Prefix() (netip.Prefix, bool) {
	if !ts.IsAddrRange() {
		return netip.Prefix{}, false
	}
	ps := ts.AppendPrefixes(nil)
	if len(ps) != 1 {
		return netip.Prefix{}, false
	}
	return ps[0], true
}

// AppendPrefixes appends the smallest list of prefixes that exactly covers
// the address range of ts (routes to install for it) to dst.
func (ts TrafficSelector) AppendPrefixes(dst []netip.Prefix) []netip.Prefix {
	if !ts.IsAddrRange() {
		return dst
	}
	lo, hi := toU128(ts.Start), toU128(ts.End)
	width := 32
	if ts.Start.Is6() {
		width = 128
	}
	for {
		// Largest block starting at lo: limited by lo's alignment and by hi.
		size := lo.trailingZeros(width)
		for size > 0 && lo.addPow2Minus1(size).greater(hi) {
			size--
		}
		dst = append(dst, netip.PrefixFrom(lo.addr(width), width-size))
		end := lo.addPow2Minus1(size)
		if !hi.greater(end) {
			return dst
		}
		lo = end.inc()
	}
}

// Contains reports whether the packet described by addr, proto and port
// matches ts. A proto of 0 in ts matches any protocol; the port is checked
// only when ts restricts ports.
func (ts TrafficSelector) Contains(addr netip.Addr, proto uint8, port uint16) bool {
	if !ts.IsAddrRange() {
		return false
	}
	addr = addr.Unmap()
	if addr.Is4() != ts.Start.Is4() || addr.Compare(ts.Start) < 0 || addr.Compare(ts.End) > 0 {
		return false
	}
	if ts.IPProtocol != AnyProtocol && ts.IPProtocol != proto {
		return false
	}
	if ts.AllPorts() {
		return true
	}
	if ts.Opaque() {
		return false
	}
	return port >= ts.StartPort && port <= ts.EndPort
}

// Intersect returns the selector matching what both a and b match, and false
// when that is nothing (different families, disjoint ranges, protocols or ports).
func (a TrafficSelector) Intersect(b TrafficSelector) (TrafficSelector, bool) {
	if !a.IsAddrRange() || !b.IsAddrRange() || a.TSType != b.TSType {
		return TrafficSelector{}, false
	}
	r := TrafficSelector{TSType: a.TSType}
	switch {
	case a.IPProtocol == b.IPProtocol, b.IPProtocol == AnyProtocol:
		r.IPProtocol = a.IPProtocol
	case a.IPProtocol == AnyProtocol:
		r.IPProtocol = b.IPProtocol
	default:
		return TrafficSelector{}, false
	}
	r.Start, r.End = maxAddr(a.Start, b.Start), minAddr(a.End, b.End)
	if r.Start.Compare(r.End) > 0 {
		return TrafficSelector{}, false
	}
	switch {
	case a.Opaque() || b.Opaque():
		// OPAQUE intersects only with itself and with "all ports".
		if (a.Opaque() || a.AllPorts()) && (b.Opaque() || b.AllPorts()) {
			r.StartPort, r.EndPort = OpaquePorts, 0
		} else {
			return TrafficSelector{}, false
		}
	default:
		r.StartPort, r.EndPort = max(a.StartPort, b.StartPort), min(a.EndPort, b.EndPort)
		if r.StartPort > r.EndPort {
			return TrafficSelector{}, false
		}
	}
	return r, true
}

// IsSubsetOf reports whether everything a matches, b matches too.
func (a TrafficSelector) IsSubsetOf(b TrafficSelector) bool {
	r, ok := a.Intersect(b)
	return ok && r.Equal(a)
}

// Equal reports whether a and b are the same selector.
func (a TrafficSelector) Equal(b TrafficSelector) bool {
	return a.TSType == b.TSType && a.IPProtocol == b.IPProtocol && a.StartPort == b.StartPort &&
		a.EndPort == b.EndPort && a.Start == b.Start && a.End == b.End && string(a.Raw) == string(b.Raw)
}

// Narrow returns the selectors a responder may accept for proposed under
// its policy allowed (RFC 7296 §2.9): every non-empty intersection of a
// proposed selector with an allowed one, in proposal order, without
// duplicates, appended to dst. An empty result means TS_UNACCEPTABLE.
func Narrow(dst, proposed, allowed []TrafficSelector) []TrafficSelector {
	for _, p := range proposed {
		for _, a := range allowed {
			r, ok := p.Intersect(a)
			if !ok {
				continue
			}
			dup := false
			for _, d := range dst {
				if d.Equal(r) {
					dup = true
					break
				}
			}
			if !dup {
				dst = append(dst, r)
			}
		}
	}
	return dst
}

// String renders ts the way strongSwan logs selectors: "198.18.0.0/16",
// "198.18.0.1..198.18.0.9", with "[proto/port]" when restricted.
func (ts TrafficSelector) String() string {
	if !ts.IsAddrRange() {
		return "TS(" + ts.TSType.String() + ")"
	}
	var sb strings.Builder
	if p, ok := ts.Prefix(); ok {
		sb.WriteString(p.String())
	} else {
		sb.WriteString(ts.Start.String() + ".." + ts.End.String())
	}
	if ts.IPProtocol == AnyProtocol && ts.AllPorts() {
		return sb.String()
	}
	sb.WriteByte('[')
	if ts.IPProtocol != AnyProtocol {
		sb.WriteString(strconv.Itoa(int(ts.IPProtocol)))
	}
	switch {
	case ts.AllPorts():
	case ts.Opaque():
		sb.WriteString("/OPAQUE")
	case ts.StartPort == ts.EndPort:
		sb.WriteString("/" + strconv.Itoa(int(ts.StartPort)))
	default:
		sb.WriteString("/" + strconv.Itoa(int(ts.StartPort)) + "-" + strconv.Itoa(int(ts.EndPort)))
	}
	sb.WriteByte(']')
	return sb.String()
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

// u128 is an address as a 128-bit number (IPv4 in the low 32 bits).
type u128 struct{ hi, lo uint64 }

func toU128(a netip.Addr) u128 {
	if a.Is4() {
		v := a.As4()
		return u128{lo: uint64(v[0])<<24 | uint64(v[1])<<16 | uint64(v[2])<<8 | uint64(v[3])}
	}
	v := a.As16()
	var u u128
	for i := range 8 {
		u.hi = u.hi<<8 | uint64(v[i])
		u.lo = u.lo<<8 | uint64(v[8+i])
	}
	return u
}

func (u u128) addr(width int) netip.Addr {
	if width == 32 {
		return netip.AddrFrom4([4]byte{byte(u.lo >> 24), byte(u.lo >> 16), byte(u.lo >> 8), byte(u.lo)})
	}
	var v [16]byte
	for i := range 8 {
		v[i] = byte(u.hi >> (56 - 8*i))
		v[8+i] = byte(u.lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(v)
}

// trailingZeros returns the number of trailing zero bits of u, at most width.
func (u u128) trailingZeros(width int) int {
	n := 128
	if u.lo != 0 {
		n = bits.TrailingZeros64(u.lo)
	} else if u.hi != 0 {
		n = 64 + bits.TrailingZeros64(u.hi)
	}
	return min(n, width)
}

// addPow2Minus1 returns u + 2^k - 1 (no overflow for aligned u within width).
func (u u128) addPow2Minus1(k int) u128 {
	var m u128
	switch {
	case k >= 128:
		m = u128{^uint64(0), ^uint64(0)}
	case k >= 64:
		m = u128{hi: 1<<(k-64) - 1, lo: ^uint64(0)}
	default:
		m = u128{lo: 1<<k - 1}
	}
	lo, c := bits.Add64(u.lo, m.lo, 0)
	hi, _ := bits.Add64(u.hi, m.hi, c)
	return u128{hi, lo}
}

func (u u128) inc() u128 {
	lo, c := bits.Add64(u.lo, 1, 0)
	return u128{u.hi + c, lo}
}

func (u u128) greater(v u128) bool { return u.hi > v.hi || (u.hi == v.hi && u.lo > v.lo) }
