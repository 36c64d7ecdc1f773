package wire

import (
	"encoding/binary"
	"net/netip"
)

// Configuration is the Configuration payload, CP (RFC 7296 §3.15):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   CFG Type    |                    RESERVED                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                   Configuration Attributes                    ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Configuration struct {
	CFGType    CFGType
	Attributes []ConfigAttribute
}

// Type implements Payload.
func (*Configuration) Type() PayloadType { return PayloadCP }

// ConfigAttribute is one configuration attribute (RFC 7296 §3.15.1):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|         Attribute Type      |            Length             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                             Value                             ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// An empty Value asks for the attribute in a CFG_REQUEST. Value aliases the
// decoded buffer. Attributes this package does not know (vendor ones such as
// Cisco's) are kept unchecked.
type ConfigAttribute struct {
	AttrType CFGAttr
	Value    []byte
}

// validAttrLen reports whether n is a valid value length for attribute t
// (RFC 7296 §3.15.1, RFC 8598 for INTERNAL_DNS_DOMAIN).
func validAttrLen(t CFGAttr, n int) bool {
	switch t {
	case AttrInternalIP4Address, AttrInternalIP4Netmask, AttrInternalIP4DNS, AttrInternalIP4NBNS, AttrInternalIP4DHCP:
		return n == 0 || n == 4
	case AttrInternalIP6Address, AttrInternalIP6Subnet:
		return n == 0 || n == 17
	case AttrInternalIP6DNS, AttrInternalIP6DHCP:
		return n == 0 || n == 16
	case AttrInternalIP4Subnet:
		return n == 0 || n == 8
	case AttrSupportedAttributes:
		return n%2 == 0
	}
	return true
}

// Addr returns the address of an IPv4 or IPv6 address-valued attribute
// (INTERNAL_IP4_ADDRESS, _DNS, _NBNS, _DHCP, _NETMASK, INTERNAL_IP6_DNS,
// _DHCP, and the address part of INTERNAL_IP6_ADDRESS).
func (a ConfigAttribute) Addr() (netip.Addr, bool) {
	switch len(a.Value) {
	case 4:
		return netip.AddrFrom4([4]byte(a.Value)), true
	case 16, 17:
		return netip.AddrFrom16([16]byte(a.Value[:16])), true
	}
	return netip.Addr{}, false
}

// Prefix returns the prefix of an INTERNAL_IP4_SUBNET (address and netmask),
// INTERNAL_IP6_SUBNET or INTERNAL_IP6_ADDRESS (address and prefix length)
// attribute. A non-contiguous IPv4 netmask is reported as not ok.
func (a ConfigAttribute) Prefix() (netip.Prefix, bool) {
	switch len(a.Value) {
	case 8:
		addr := netip.AddrFrom4([4]byte(a.Value[:4]))
		bits, ok := maskBits(binary.BigEndian.Uint32(a.Value[4:]))
		if !ok {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(addr, bits), true
	case 17:
		if a.Value[16] > 128 {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(netip.AddrFrom16([16]byte(a.Value[:16])), int(a.Value[16])), true
	}
	return netip.Prefix{}, false
}

// maskBits converts a contiguous IPv4 netmask to a prefix length.
func maskBits(m uint32) (int, bool) {
	n := 0
	for m&0x80000000 != 0 {
		n++
		m <<= 1
	}
	return n, m == 0
}

// AddrAttribute returns an attribute whose value is address a (4 or 16 bytes).
func AddrAttribute(t CFGAttr, a netip.Addr) ConfigAttribute {
	return ConfigAttribute{AttrType: t, Value: appendAddr(nil, a.Unmap())}
}

// SubnetAttribute returns INTERNAL_IP4_SUBNET (address + netmask) for an IPv4
// prefix or INTERNAL_IP6_SUBNET (address + prefix length) for an IPv6 one.
func SubnetAttribute(p netip.Prefix) ConfigAttribute {
	if p.Addr().Is4() {
		v := p.Addr().As4()
		b := append([]byte{}, v[:]...)
		var mask uint32
		if p.Bits() > 0 {
			mask = ^uint32(0) << (32 - p.Bits())
		}
		return ConfigAttribute{AttrType: AttrInternalIP4Subnet, Value: binary.BigEndian.AppendUint32(b, mask)}
	}
	v := p.Addr().As16()
	return ConfigAttribute{AttrType: AttrInternalIP6Subnet, Value: append(v[:], byte(p.Bits()))}
}

// IP6AddressAttribute returns INTERNAL_IP6_ADDRESS for address a with prefix length bits.
func IP6AddressAttribute(p netip.Prefix) ConfigAttribute {
	v := p.Addr().As16()
	return ConfigAttribute{AttrType: AttrInternalIP6Address, Value: append(v[:], byte(p.Bits()))}
}

func decodeCP(b []byte, off int) (*Configuration, error) {
	if len(b) < 4 {
		return nil, syntaxErr(off, "truncated CP payload")
	}
	p := &Configuration{CFGType: CFGType(b[0])}
	switch p.CFGType {
	case CFGRequest, CFGReply, CFGSet, CFGAck:
	default:
		return nil, syntaxErr(off, "CFG type %d", b[0])
	}
	n := 0
	for o := 4; o+4 <= len(b); o += 4 + int(binary.BigEndian.Uint16(b[o+2:])) {
		n++
	}
	p.Attributes = make([]ConfigAttribute, 0, n)
	o := 4
	for o < len(b) {
		if len(b)-o < 4 {
			return nil, syntaxErr(off+o, "truncated configuration attribute")
		}
		t := CFGAttr(binary.BigEndian.Uint16(b[o:]) & 0x7fff)
		l := int(binary.BigEndian.Uint16(b[o+2:]))
		if l > len(b)-o-4 {
			return nil, syntaxErr(off+o+2, "configuration attribute length %d overruns payload", l)
		}
		if !validAttrLen(t, l) {
			return nil, syntaxErr(off+o+2, "configuration attribute %s of %d bytes", t, l)
		}
		p.Attributes = append(p.Attributes, ConfigAttribute{AttrType: t, Value: sub(b, o+4, o+4+l)})
		o += 4 + l
	}
	return p, nil
}

func (p *Configuration) appendBody(dst []byte) ([]byte, error) {
	dst = append(dst, byte(p.CFGType), 0, 0, 0)
	for _, a := range p.Attributes {
		if a.AttrType > 0x7fff || len(a.Value) > 0xffff || !validAttrLen(a.AttrType, len(a.Value)) {
			return dst, encodeErr("configuration attribute %s of %d bytes", a.AttrType, len(a.Value))
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(a.AttrType))
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(a.Value)))
		dst = append(dst, a.Value...)
	}
	return dst, nil
}

// Find returns the first attribute of type t.
func (p *Configuration) Find(t CFGAttr) (ConfigAttribute, bool) {
	for _, a := range p.Attributes {
		if a.AttrType == t {
			return a, true
		}
	}
	return ConfigAttribute{}, false
}

// AppendAddrs appends the addresses of every non-empty attribute of type t
// (for example INTERNAL_IP4_DNS, which may repeat) to dst.
func (p *Configuration) AppendAddrs(dst []netip.Addr, t CFGAttr) []netip.Addr {
	for _, a := range p.Attributes {
		if a.AttrType != t {
			continue
		}
		if addr, ok := a.Addr(); ok {
			dst = append(dst, addr)
		}
	}
	return dst
}

// AppendSubnets appends the prefixes of the INTERNAL_IP4_SUBNET and
// INTERNAL_IP6_SUBNET attributes (the routes FlexVPN's "route set" pushes
// and "route accept" installs) to dst. Attributes with a non-contiguous
// netmask are skipped.
func (p *Configuration) AppendSubnets(dst []netip.Prefix) []netip.Prefix {
	for _, a := range p.Attributes {
		if a.AttrType != AttrInternalIP4Subnet && a.AttrType != AttrInternalIP6Subnet {
			continue
		}
		if pf, ok := a.Prefix(); ok {
			dst = append(dst, pf.Masked())
		}
	}
	return dst
}

// AssignedPrefix returns the address INTERNAL_IP4_ADDRESS assigns with the
// length INTERNAL_IP4_NETMASK gives (32 without a netmask), or the
// INTERNAL_IP6_ADDRESS prefix when v6 is true.
func (p *Configuration) AssignedPrefix(v6 bool) (netip.Prefix, bool) {
	if v6 {
		a, ok := p.Find(AttrInternalIP6Address)
		if !ok {
			return netip.Prefix{}, false
		}
		return a.Prefix()
	}
	a, ok := p.Find(AttrInternalIP4Address)
	if !ok {
		return netip.Prefix{}, false
	}
	addr, ok := a.Addr()
	if !ok {
		return netip.Prefix{}, false
	}
	bits := 32
	if m, ok := p.Find(AttrInternalIP4Netmask); ok && len(m.Value) == 4 {
		if n, ok := maskBits(binary.BigEndian.Uint32(m.Value)); ok {
			bits = n
		}
	}
	return netip.PrefixFrom(addr, bits), true
}
