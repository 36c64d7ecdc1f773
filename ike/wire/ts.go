package wire

import (
	"encoding/binary"
	"net/netip"
)

// TrafficSelectors is the Traffic Selector payload, TSi or TSr (RFC 7296 §3.13):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Number of TSs |                 RESERVED                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                       <Traffic Selectors>                     ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type TrafficSelectors struct {
	Responder bool // TSr when true, TSi otherwise
	Selectors []TrafficSelector
}

// Type implements Payload.
func (p *TrafficSelectors) Type() PayloadType {
	if p.Responder {
		return PayloadTSr
	}
	return PayloadTSi
}

// TrafficSelector is one traffic selector (RFC 7296 §3.13.1):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   TS Type     |IP Protocol ID*|       Selector Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Start Port*         |           End Port*           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                         Starting Address*                     ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                         Ending Address*                       ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// IPProtocol 0 means any protocol. Ports 0..65535 mean any port; StartPort
// 65535 with EndPort 0 is the RFC's OPAQUE ports. For a selector type other
// than TS_IPV4_ADDR_RANGE and TS_IPV6_ADDR_RANGE, Start and End are invalid
// and Raw holds everything after the Selector Length (aliasing the decoded
// buffer) so that the message re-encodes; the engine must ignore such
// selectors.
type TrafficSelector struct {
	TSType     TSType
	IPProtocol uint8
	StartPort  uint16
	EndPort    uint16
	Start, End netip.Addr
	Raw        []byte
}

const (
	tsHeaderLen = 8
	tsV4Len     = tsHeaderLen + 8
	tsV6Len     = tsHeaderLen + 32
)

func decodeTS(t PayloadType, b []byte, off int) (*TrafficSelectors, error) {
	if len(b) < 4 {
		return nil, syntaxErr(off, "truncated %s payload", t)
	}
	n := int(b[0])
	if n == 0 {
		return nil, syntaxErr(off, "%s payload without selectors", t)
	}
	p := &TrafficSelectors{Responder: t == PayloadTSr, Selectors: make([]TrafficSelector, 0, min(n, len(b)/tsHeaderLen))}
	o := 4
	for range n {
		if len(b)-o < 4 {
			return nil, syntaxErr(off+o, "truncated traffic selector")
		}
		ts := TrafficSelector{TSType: TSType(b[o]), IPProtocol: b[o+1]}
		l := int(binary.BigEndian.Uint16(b[o+2:]))
		if l < 4 || l > len(b)-o {
			return nil, syntaxErr(off+o+2, "selector length %d outside 4..%d", l, len(b)-o)
		}
		s := b[o : o+l]
		switch ts.TSType {
		case TSIPv4AddrRange, TSIPv6AddrRange:
			want, alen := tsV4Len, 4
			if ts.TSType == TSIPv6AddrRange {
				want, alen = tsV6Len, 16
			}
			if l != want {
				return nil, syntaxErr(off+o+2, "%s selector length %d, want %d", ts.TSType, l, want)
			}
			ts.StartPort = binary.BigEndian.Uint16(s[4:])
			ts.EndPort = binary.BigEndian.Uint16(s[6:])
			ts.Start, _ = netip.AddrFromSlice(s[8 : 8+alen])
			ts.End, _ = netip.AddrFromSlice(s[8+alen : 8+2*alen])
		default:
			ts.Raw = sub(s, 4, len(s))
		}
		p.Selectors = append(p.Selectors, ts)
		o += l
	}
	if o != len(b) {
		return nil, syntaxErr(off+o, "%d bytes after the last traffic selector", len(b)-o)
	}
	return p, nil
}

func (p *TrafficSelectors) appendBody(dst []byte) ([]byte, error) {
	if len(p.Selectors) == 0 || len(p.Selectors) > 255 {
		return dst, encodeErr("%s with %d selectors", p.Type(), len(p.Selectors))
	}
	dst = append(dst, byte(len(p.Selectors)), 0, 0, 0)
	for i := range p.Selectors {
		var err error
		if dst, err = p.Selectors[i].appendTo(dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func (ts *TrafficSelector) appendTo(dst []byte) ([]byte, error) {
	switch ts.TSType {
	case TSIPv4AddrRange, TSIPv6AddrRange:
		want := ts.TSType == TSIPv6AddrRange
		if !ts.Start.IsValid() || !ts.End.IsValid() || ts.Start.Is6() != want || ts.End.Is6() != want || ts.Start.Zone() != "" || ts.End.Zone() != "" {
			return dst, encodeErr("%s selector with addresses %v-%v", ts.TSType, ts.Start, ts.End)
		}
		l := tsV4Len
		if want {
			l = tsV6Len
		}
		dst = append(dst, byte(ts.TSType), ts.IPProtocol)
		dst = binary.BigEndian.AppendUint16(dst, uint16(l))
		dst = binary.BigEndian.AppendUint16(dst, ts.StartPort)
		dst = binary.BigEndian.AppendUint16(dst, ts.EndPort)
		return appendAddr(appendAddr(dst, ts.Start), ts.End), nil
	default:
		if len(ts.Raw)+4 > 0xffff {
			return dst, encodeErr("selector too long")
		}
		dst = append(dst, byte(ts.TSType), ts.IPProtocol)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(ts.Raw)+4))
		return append(dst, ts.Raw...), nil
	}
}

// appendAddr appends the 4 or 16 address bytes of a.
func appendAddr(dst []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(dst, v[:]...)
	}
	v := a.As16()
	return append(dst, v[:]...)
}
