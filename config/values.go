package config

import (
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// intArg parses argument i as a decimal integer in [lo, hi].
func (c *ctx) intArg(i int, lo, hi int, what string) (int, bool) {
	s, ok := c.arg(i, what)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") {
		c.errf(i, "%s: %s %q is not a number", c.what(), what, s)
		return 0, false
	}
	if n < lo || n > hi {
		c.errf(i, "%s: %s %d is out of range %d-%d", c.what(), what, n, lo, hi)
		return 0, false
	}
	return n, true
}

// addr4Arg parses argument i as an IPv4 address.
func (c *ctx) addr4Arg(i int, what string) (netip.Addr, bool) {
	s, ok := c.arg(i, what)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		c.errf(i, "%s: %s %q is not an IPv4 address", c.what(), what, s)
		return netip.Addr{}, false
	}
	return a, true
}

// addrArg parses argument i as an IPv4 or IPv6 address.
func (c *ctx) addrArg(i int, what string) (netip.Addr, bool) {
	s, ok := c.arg(i, what)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		c.errf(i, "%s: %s %q is not an IP address", c.what(), what, s)
		return netip.Addr{}, false
	}
	return a, true
}

// maskLen returns the prefix length of a contiguous IPv4 netmask.
func maskLen(m netip.Addr) (int, bool) {
	if !m.Is4() {
		return 0, false
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := bits.LeadingZeros32(^v)
	if n < 32 && v<<n != 0 {
		return 0, false
	}
	return n, true
}

// maskOf returns the dotted netmask of an IPv4 prefix length.
func maskOf(n int) netip.Addr {
	var v uint32
	if n > 0 {
		v = ^uint32(0) << (32 - n)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// maskArg parses argument i as a contiguous IPv4 netmask.
func (c *ctx) maskArg(i int) (int, bool) {
	m, ok := c.addr4Arg(i, "mask")
	if !ok {
		return 0, false
	}
	n, ok := maskLen(m)
	if !ok {
		c.errf(i, "%s: %s is not a valid netmask (its one bits must be contiguous)", c.what(), m)
		return 0, false
	}
	return n, true
}

// addrMaskArg parses `A.B.C.D M.M.M.M` at i as a prefix that keeps the host
// bits (an interface address). It returns the number of arguments used.
func (c *ctx) addrMaskArg(i int) (netip.Prefix, bool) {
	a, ok := c.addr4Arg(i, "address")
	if !ok {
		return netip.Prefix{}, false
	}
	n, ok := c.maskArg(i + 1)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, n), true
}

// networkMaskArg parses `A.B.C.D M.M.M.M` at i as a network; host bits
// outside the mask are an error, as IOS rejects them for routes.
func (c *ctx) networkMaskArg(i int) (netip.Prefix, bool) {
	p, ok := c.addrMaskArg(i)
	if !ok {
		return p, false
	}
	if p.Masked() != p {
		c.errf(i, "%s: %s has host bits set outside mask %s", c.what(), p.Addr(), maskOf(p.Bits()))
		return p, false
	}
	return p, true
}

// prefix6Arg parses an IPv6 `addr/len` at i.
func (c *ctx) prefix6Arg(i int) (netip.Prefix, bool) {
	s, ok := c.arg(i, "IPv6 prefix")
	if !ok {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is6() || p.Addr().Zone() != "" {
		c.errf(i, "%s: %q is not an IPv6 prefix (ADDRESS/LENGTH)", c.what(), s)
		return netip.Prefix{}, false
	}
	return p, true
}

// hostOrPrefixArg parses the forms used to name a peer address:
// `A.B.C.D`, `A.B.C.D M.M.M.M`, `A.B.C.D/N`, `X:X::X`, `X:X::X/N`. It
// returns the prefix, whether the mask form was used, and the number of
// arguments consumed.
func (c *ctx) hostOrPrefixArg(i int) (netip.Prefix, bool, int, bool) {
	s, ok := c.arg(i, "address")
	if !ok {
		return netip.Prefix{}, false, 0, false
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			c.errf(i, "%s: %q is not an address prefix", c.what(), s)
			return netip.Prefix{}, false, 0, false
		}
		return p, false, 1, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		c.errf(i, "%s: %q is not an IP address", c.what(), s)
		return netip.Prefix{}, false, 0, false
	}
	if a.Is4() && i+1 < len(c.args) && looksLikeDotted(c.args[i+1].text) {
		n, ok := c.maskArg(i + 1)
		if !ok {
			return netip.Prefix{}, false, 0, false
		}
		return netip.PrefixFrom(a, n), true, 2, true
	}
	return netip.PrefixFrom(a, a.BitLen()), false, 1, true
}

func looksLikeDotted(s string) bool {
	return strings.Count(s, ".") == 3 && strings.Trim(s, "0123456789.") == ""
}
