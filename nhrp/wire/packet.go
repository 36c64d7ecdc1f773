package wire

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// Packet is a decoded NHRP packet. After Decode, Payload and the Data of
// extensions alias the input slice; copy them if the input buffer is reused.
// A Packet is a plain value: not safe for concurrent mutation.
type Packet struct {
	AFN      AFN     // NBMA address family
	ProType  uint16  // protocol address EtherType
	ProSNAP  [5]byte // zero for EtherType-coded protocols
	HopCount uint8
	Type     Type

	// Flags and RequestID are the mandatory part's flags and request ID.
	// An Error Indication overlays them with unused(16) and error code(16) |
	// error offset(16), a Traffic Indication with unused(16) and traffic
	// code(16) | unused(16); use ErrorCode, ErrorOffset and TrafficCode.
	Flags     uint16
	RequestID uint32

	SrcNBMA  netip.Addr // invalid when ar$shtl's length is 0
	SrcProto netip.Addr // invalid when the source protocol length is 0
	DstProto netip.Addr // invalid when the destination protocol length is 0

	// CIEs are the client information entries of requests, replies,
	// registrations and purges.
	CIEs []CIE
	// Payload is, for an Error Indication, the NHRP packet in error and, for
	// a Traffic Indication, the (possibly truncated) packet that triggered it.
	Payload []byte

	// Extensions in wire order. Decode requires the End extension last and
	// keeps it; Encode appends one when the list is non-empty and lacks it.
	Extensions []Extension
}

// CIE is a client information entry (RFC 2332 §5.2.0.1).
type CIE struct {
	Code       CIECode
	PrefixLen  uint8  // 0 or 0xff: the host, no equivalence class
	Reserved   uint16 // the unused field: zero when sending, kept for round trips
	MTU        uint16
	HoldTime   uint16     // seconds; 0 in NAKs
	NBMA       netip.Addr // client NBMA address; invalid when absent
	Proto      netip.Addr // client protocol address; invalid when absent
	Preference uint8
}

// Extension is one NHRP extension. For the responder address, transit NHS
// record and NAT address extensions Decode fills CIEs; for the others (and a
// NAT address extension whose body is not a CIE list) it fills Data, which
// aliases the input. Encode writes Data when it is non-nil, else the CIEs.
type Extension struct {
	Type       ExtType
	Compulsory bool
	CIEs       []CIE
	Data       []byte
}

// ErrorCode returns the error code of an Error Indication.
func (p *Packet) ErrorCode() Code { return Code(p.RequestID >> 16) }

// ErrorOffset returns the error offset of an Error Indication.
func (p *Packet) ErrorOffset() uint16 { return uint16(p.RequestID) }

// TrafficCode returns the traffic code of a Traffic Indication.
func (p *Packet) TrafficCode() uint16 { return uint16(p.RequestID >> 16) }

// SetError sets the error code and offset of an Error Indication.
func (p *Packet) SetError(code Code, offset uint16) {
	p.Flags = 0
	p.RequestID = uint32(code)<<16 | uint32(offset)
}

// Ext returns the first extension of type t, or nil.
func (p *Packet) Ext(t ExtType) *Extension {
	for i := range p.Extensions {
		if p.Extensions[i].Type == t {
			return &p.Extensions[i]
		}
	}
	return nil
}

func carriesCIEs(t ExtType) bool {
	switch t {
	case ExtResponderAddress, ExtForwardTransitNHS, ExtReverseTransitNHS, ExtNATAddress:
		return true
	}
	return false
}

func knownExt(t ExtType) bool {
	switch t {
	case ExtEnd, ExtResponderAddress, ExtForwardTransitNHS, ExtReverseTransitNHS,
		ExtAuthentication, ExtVendorPrivate, ExtNATAddress:
		return true
	}
	return false
}

// hasPayload reports whether packets of type t carry a payload instead of CIEs.
func hasPayload(t Type) bool { return t == TypeErrorIndication || t == TypeTrafficIndication }

// cursor reads b with a sticky error.
type cursor struct {
	b   []byte
	off int
	err *ParseError
}

func (c *cursor) fail(code Code, reason string) {
	if c.err == nil {
		c.err = perr(code, c.off, reason)
	}
}

func (c *cursor) bytes(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || len(c.b)-c.off < n {
		c.fail(CodeProtocolError, "truncated")
		return nil
	}
	v := c.b[c.off : c.off+n : c.off+n]
	c.off += n
	return v
}

func (c *cursor) u8() uint8 {
	v := c.bytes(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (c *cursor) u16() uint16 {
	v := c.bytes(2)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (c *cursor) u32() uint32 {
	v := c.bytes(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// addr reads an address of length n, which must be 0 or want.
func (c *cursor) addr(n, want int, what string) netip.Addr {
	if c.err != nil {
		return netip.Addr{}
	}
	if n != 0 && n != want {
		c.fail(CodeProtocolError, what+" length does not match its family")
		return netip.Addr{}
	}
	v := c.bytes(n)
	switch len(v) {
	case 4:
		return netip.AddrFrom4([4]byte(v))
	case 16:
		return netip.AddrFrom16([16]byte(v))
	}
	return netip.Addr{}
}

// nbmaTL checks an NBMA type/length octet and returns the length.
func (c *cursor) nbmaTL(tl uint8, afn AFN, what string) int {
	if tl&(tlTypeE164|shtlReservedBit) != 0 {
		c.fail(CodeProtocolError, what+": only NSAP-format (IP) NBMA addresses are supported")
		return 0
	}
	n := int(tl & tlLengthMask)
	if n != 0 && n != afn.AddrLen() {
		c.fail(CodeProtocolError, what+" length does not match the NBMA family")
	}
	return n
}

// Decode parses and validates one NHRP packet starting at the fixed header.
// Bytes after ar$pktsz (link-layer padding) are ignored. The checksum must
// verify. On failure it returns a *ParseError; an Error Indication that fails
// to parse always carries CodeNone, since one is never answered with another.
func Decode(b []byte) (*Packet, error) { return decode(b, true) }

// DecodeNoChecksum is Decode without the checksum check, for packets whose
// integrity a lower layer already guarantees, and for fuzzing.
func DecodeNoChecksum(b []byte) (*Packet, error) { return decode(b, false) }

func decode(b []byte, verify bool) (*Packet, error) {
	if len(b) < HeaderLen {
		return nil, perr(CodeNone, len(b), "shorter than the fixed header")
	}
	sz := int(Header(b).PktSz())
	if sz < HeaderLen+mandatoryLen || sz > len(b) {
		return nil, perr(CodeNone, pktSzOffset, "ar$pktsz out of range")
	}
	b = b[:sz:sz]
	if verify && !Header(b).ChecksumOK() {
		return nil, perr(CodeNone, checksumOffset, "bad checksum")
	}
	p, err := decodeChecked(b)
	if err != nil {
		if Header(b).Type() == TypeErrorIndication {
			err.Code = CodeNone
		}
		return nil, err
	}
	return p, nil
}

func decodeChecked(b []byte) (*Packet, *ParseError) {
	h := Header(b)
	p := &Packet{
		AFN:      h.AFN(),
		ProType:  h.ProType(),
		HopCount: h.HopCount(),
		Type:     h.Type(),
	}
	copy(p.ProSNAP[:], h.ProSNAP())
	switch {
	case h.Version() != Version:
		return nil, perr(CodeProtocolError, versionOffset, "unsupported version")
	case p.Type < TypeResolutionRequest || p.Type > TypeTrafficIndication:
		return nil, perr(CodeProtocolError, typeOffset, "unknown packet type")
	case p.AFN.AddrLen() == 0:
		return nil, perr(CodeProtocolError, afnOffset, "unsupported NBMA address family")
	case ProtoAddrLen(p.ProType) == 0:
		return nil, perr(CodeProtocolError, protoTypeOffset, "unsupported protocol type")
	case p.ProSNAP != [5]byte{}:
		return nil, perr(CodeProtocolError, snapOffset, "non-zero ar$pro.snap")
	case h.SSTL() != 0:
		return nil, perr(CodeProtocolError, sstlOffset, "NBMA subaddresses are not supported")
	}
	end := len(b)
	extOff := int(h.ExtOff())
	if extOff != 0 {
		if extOff < HeaderLen+mandatoryLen || extOff+extHeaderLen > len(b) {
			return nil, perr(CodeProtocolError, extOffOffset, "ar$extoff out of range")
		}
		end = extOff
	}
	c := &cursor{b: b[:end], off: HeaderLen}
	c.off = shtlOffset
	shtl := c.nbmaTL(h.SHTL(), p.AFN, "source NBMA address")
	c.off = HeaderLen
	srcProtoLen := int(c.u8())
	dstProtoLen := int(c.u8())
	p.Flags = c.u16()
	p.RequestID = c.u32()
	p.SrcNBMA = c.addr(shtl, p.AFN.AddrLen(), "source NBMA address")
	plen := ProtoAddrLen(p.ProType)
	p.SrcProto = c.addr(srcProtoLen, plen, "source protocol address")
	p.DstProto = c.addr(dstProtoLen, plen, "destination protocol address")
	if c.err != nil {
		return nil, c.err
	}
	if hasPayload(p.Type) {
		p.Payload = c.bytes(end - c.off)
	} else {
		for c.err == nil && c.off < end {
			p.CIEs = append(p.CIEs, c.cie(p.AFN, plen))
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	if extOff != 0 {
		exts, err := decodeExtensions(b, extOff, p.AFN, plen)
		if err != nil {
			return nil, err
		}
		p.Extensions = exts
	}
	return p, nil
}

func (c *cursor) cie(afn AFN, plen int) CIE {
	var e CIE
	e.Code = CIECode(c.u8())
	e.PrefixLen = c.u8()
	e.Reserved = c.u16()
	e.MTU = c.u16()
	e.HoldTime = c.u16()
	nbmaTL := c.u8()
	subTL := c.u8()
	protoLen := int(c.u8())
	e.Preference = c.u8()
	if c.err != nil {
		return e
	}
	if subTL != 0 {
		c.fail(CodeProtocolError, "CIE: NBMA subaddresses are not supported")
		return e
	}
	n := c.nbmaTL(nbmaTL, afn, "CIE NBMA address")
	e.NBMA = c.addr(n, afn.AddrLen(), "CIE NBMA address")
	e.Proto = c.addr(protoLen, plen, "CIE protocol address")
	if e.Proto.IsValid() && e.PrefixLen != 0xff && int(e.PrefixLen) > plen*8 {
		c.fail(CodeProtocolError, "CIE prefix length longer than the address")
	}
	return e
}

func decodeExtensions(b []byte, off int, afn AFN, plen int) ([]Extension, *ParseError) {
	var exts []Extension
	c := &cursor{b: b, off: off}
	for {
		if len(b)-c.off < extHeaderLen {
			return nil, perr(CodeInvalidExtension, c.off, "extensions end without the End extension")
		}
		start := c.off
		tf := c.u16()
		n := int(c.u16())
		ext := Extension{Type: ExtType(tf & extTypeMask), Compulsory: tf&extCompulsory != 0}
		if tf&extUnused != 0 {
			return nil, perr(CodeInvalidExtension, start, "extension with the unused bit set")
		}
		body := c.bytes(n)
		if c.err != nil {
			return nil, perr(CodeInvalidExtension, start, "extension runs past the packet")
		}
		switch {
		case ext.Type == ExtEnd:
			if n != 0 {
				return nil, perr(CodeInvalidExtension, start, "End extension with a value")
			}
			if c.off != len(b) {
				return nil, perr(CodeInvalidExtension, c.off, "data after the End extension")
			}
			exts = append(exts, ext)
			return exts, nil
		case !knownExt(ext.Type):
			if ext.Compulsory {
				return nil, perr(CodeUnrecognizedExtension, start, "unrecognized compulsory extension")
			}
			ext.Data = body
		case carriesCIEs(ext.Type):
			cc := &cursor{b: b[:start+extHeaderLen+n], off: start + extHeaderLen}
			var cies []CIE
			for cc.err == nil && cc.off < len(cc.b) {
				cies = append(cies, cc.cie(afn, plen))
			}
			if cc.err != nil {
				if ext.Type == ExtNATAddress && !ext.Compulsory {
					// RFC 2735 gives type 9 another meaning; keep it opaque.
					ext.Data = body
					break
				}
				return nil, perr(CodeInvalidExtension, start, "malformed CIE in "+ext.Type.String())
			}
			ext.CIEs = cies
		default:
			ext.Data = body
		}
		exts = append(exts, ext)
	}
}

func (t ExtType) String() string {
	switch t {
	case ExtEnd:
		return "End"
	case ExtResponderAddress:
		return "Responder Address"
	case ExtForwardTransitNHS:
		return "Forward Transit NHS Record"
	case ExtReverseTransitNHS:
		return "Reverse Transit NHS Record"
	case ExtAuthentication:
		return "Authentication"
	case ExtVendorPrivate:
		return "Vendor Private"
	case ExtNATAddress:
		return "NAT Address"
	}
	return "extension " + strconv.Itoa(int(t))
}
