package wire

import (
	"encoding/binary"
	"net/netip"
)

// Encode returns the packet on the wire: ar$pktsz, ar$extoff and ar$chksum
// are computed, the version is 1. If Extensions is non-empty and does not end
// with the End extension, a compulsory End extension is appended on the wire
// (p is not modified).
func (p *Packet) Encode() ([]byte, error) {
	return p.Append(make([]byte, 0, p.size()))
}

// Append appends the encoded packet to dst and returns the extended slice.
func (p *Packet) Append(dst []byte) ([]byte, error) {
	if err := p.check(); err != nil {
		return dst, err
	}
	start := len(dst)
	var hdr [HeaderLen]byte
	binary.BigEndian.PutUint16(hdr[afnOffset:], uint16(p.AFN))
	binary.BigEndian.PutUint16(hdr[protoTypeOffset:], p.ProType)
	copy(hdr[snapOffset:], p.ProSNAP[:])
	hdr[hopCountOffset] = p.HopCount
	hdr[versionOffset] = Version
	hdr[typeOffset] = uint8(p.Type)
	hdr[shtlOffset] = uint8(addrLen(p.SrcNBMA))
	dst = append(dst, hdr[:]...)
	dst = append(dst, uint8(addrLen(p.SrcProto)), uint8(addrLen(p.DstProto)))
	dst = binary.BigEndian.AppendUint16(dst, p.Flags)
	dst = binary.BigEndian.AppendUint32(dst, p.RequestID)
	dst = appendAddr(dst, p.SrcNBMA)
	dst = appendAddr(dst, p.SrcProto)
	dst = appendAddr(dst, p.DstProto)
	dst = append(dst, p.Payload...)
	for i := range p.CIEs {
		dst = appendCIE(dst, &p.CIEs[i])
	}
	extOff := 0
	if len(p.Extensions) > 0 {
		extOff = len(dst) - start
		for i := range p.Extensions {
			dst = appendExt(dst, &p.Extensions[i])
		}
		if p.Extensions[len(p.Extensions)-1].Type != ExtEnd {
			dst = binary.BigEndian.AppendUint16(dst, extCompulsory|uint16(ExtEnd))
			dst = binary.BigEndian.AppendUint16(dst, 0)
		}
	}
	b := dst[start:]
	if len(b) > maxPacket {
		return dst[:start], &EncodeError{Reason: "packet longer than 65535 bytes"}
	}
	binary.BigEndian.PutUint16(b[pktSzOffset:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[extOffOffset:], uint16(extOff))
	binary.BigEndian.PutUint16(b[checksumOffset:], Checksum(b))
	return dst, nil
}

func (p *Packet) size() int {
	n := HeaderLen + mandatoryLen + addrLen(p.SrcNBMA) + addrLen(p.SrcProto) + addrLen(p.DstProto) + len(p.Payload)
	for i := range p.CIEs {
		n += p.CIEs[i].size()
	}
	for i := range p.Extensions {
		n += p.Extensions[i].size()
	}
	return n + extHeaderLen
}

func (e *CIE) size() int { return cieLen + addrLen(e.NBMA) + addrLen(e.Proto) }

func (x *Extension) size() int {
	n := extHeaderLen + len(x.Data)
	if x.Data == nil {
		for i := range x.CIEs {
			n += x.CIEs[i].size()
		}
	}
	return n
}

func addrLen(a netip.Addr) int {
	if !a.IsValid() {
		return 0
	}
	return a.BitLen() / 8
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return dst
	}
	if a.Is4() {
		v := a.As4()
		return append(dst, v[:]...)
	}
	v := a.As16()
	return append(dst, v[:]...)
}

func appendCIE(dst []byte, e *CIE) []byte {
	dst = append(dst, uint8(e.Code), e.PrefixLen)
	dst = binary.BigEndian.AppendUint16(dst, e.Reserved)
	dst = binary.BigEndian.AppendUint16(dst, e.MTU)
	dst = binary.BigEndian.AppendUint16(dst, e.HoldTime)
	dst = append(dst, uint8(addrLen(e.NBMA)), 0, uint8(addrLen(e.Proto)), e.Preference)
	dst = appendAddr(dst, e.NBMA)
	return appendAddr(dst, e.Proto)
}

func appendExt(dst []byte, x *Extension) []byte {
	t := uint16(x.Type) & extTypeMask
	if x.Compulsory {
		t |= extCompulsory
	}
	dst = binary.BigEndian.AppendUint16(dst, t)
	lenAt := len(dst)
	dst = append(dst, 0, 0)
	if x.Data != nil {
		dst = append(dst, x.Data...)
	} else {
		for i := range x.CIEs {
			dst = appendCIE(dst, &x.CIEs[i])
		}
	}
	binary.BigEndian.PutUint16(dst[lenAt:], uint16(len(dst)-lenAt-2))
	return dst
}

// check validates p before encoding, so that Decode accepts what Encode makes.
func (p *Packet) check() error {
	nl := p.AFN.AddrLen()
	pl := ProtoAddrLen(p.ProType)
	switch {
	case nl == 0:
		return &EncodeError{Reason: "unsupported NBMA address family"}
	case pl == 0:
		return &EncodeError{Reason: "unsupported protocol type"}
	case p.Type < TypeResolutionRequest || p.Type > TypeTrafficIndication:
		return &EncodeError{Reason: "unknown packet type"}
	case !hasPayload(p.Type) && p.Payload != nil:
		return &EncodeError{Reason: p.Type.String() + " carries no payload"}
	case hasPayload(p.Type) && len(p.CIEs) != 0:
		return &EncodeError{Reason: p.Type.String() + " carries no CIEs"}
	}
	if !fits(p.SrcNBMA, nl) {
		return &EncodeError{Reason: "source NBMA address does not match the NBMA family"}
	}
	if !fits(p.SrcProto, pl) || !fits(p.DstProto, pl) {
		return &EncodeError{Reason: "protocol address does not match the protocol type"}
	}
	for i := range p.CIEs {
		if err := p.CIEs[i].check(nl, pl); err != nil {
			return err
		}
	}
	for i := range p.Extensions {
		x := &p.Extensions[i]
		if uint16(x.Type)&^extTypeMask != 0 {
			return &EncodeError{Reason: "extension type wider than 14 bits"}
		}
		if x.Type == ExtEnd && (i != len(p.Extensions)-1 || len(x.Data) != 0 || len(x.CIEs) != 0) {
			return &EncodeError{Reason: "End extension must be last and empty"}
		}
		if x.Data == nil {
			if len(x.CIEs) != 0 && !carriesCIEs(x.Type) {
				return &EncodeError{Reason: x.Type.String() + " carries no CIEs"}
			}
			for j := range x.CIEs {
				if err := x.CIEs[j].check(nl, pl); err != nil {
					return err
				}
			}
		}
		if x.size() > maxPacket {
			return &EncodeError{Reason: "extension too long"}
		}
	}
	return nil
}

func (e *CIE) check(nl, pl int) error {
	if !fits(e.NBMA, nl) {
		return &EncodeError{Reason: "CIE NBMA address does not match the NBMA family"}
	}
	if !fits(e.Proto, pl) {
		return &EncodeError{Reason: "CIE protocol address does not match the protocol type"}
	}
	if e.Proto.IsValid() && e.PrefixLen != 0xff && int(e.PrefixLen) > pl*8 {
		return &EncodeError{Reason: "CIE prefix length longer than the address"}
	}
	return nil
}

func fits(a netip.Addr, n int) bool {
	return !a.IsValid() || (a.Zone() == "" && addrLen(a) == n)
}
