package wire

import (
	"encoding/binary"
	"net/netip"
)

// InnerAddrs returns the source and destination addresses of the IPv4 or
// IPv6 packet at the start of b, the packet embedded in a Traffic
// Indication. It needs only the fixed IP header, so a truncated copy works.
func InnerAddrs(b []byte) (src, dst netip.Addr, ok bool) {
	if len(b) < 1 {
		return src, dst, false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 || int(b[0]&0x0f) < 5 {
			return src, dst, false
		}
		return netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])), true
	case 6:
		if len(b) < 40 {
			return src, dst, false
		}
		return netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40])), true
	}
	return src, dst, false
}

// ciscoAuthPlaintext is the SPI of Cisco's cleartext NHRP authentication.
const ciscoAuthPlaintext = 1

// CiscoAuthLen is the password length of Cisco's cleartext authentication
// (`ip nhrp authentication`): at most 8 bytes, zero padded.
const CiscoAuthLen = 8

// NewCiscoAuth returns a compulsory Authentication extension in Cisco's
// cleartext form. A password longer than CiscoAuthLen is truncated, as IOS
// does.
func NewCiscoAuth(password string) Extension {
	d := make([]byte, 4+CiscoAuthLen)
	binary.BigEndian.PutUint32(d, ciscoAuthPlaintext)
	copy(d[4:], password)
	return Extension{Type: ExtAuthentication, Compulsory: true, Data: d}
}

// CiscoAuthPassword returns the password of a Cisco cleartext Authentication
// extension (aliasing x.Data, zero padding included), or false if x is not one.
func (x *Extension) CiscoAuthPassword() ([]byte, bool) {
	if x.Type != ExtAuthentication || len(x.Data) < 4 || binary.BigEndian.Uint32(x.Data) != ciscoAuthPlaintext {
		return nil, false
	}
	return x.Data[4:], true
}

// NewErrorIndication builds the Error Indication answering the packet in
// error orig (its fixed header on; at most the first 'max' bytes are quoted,
// 0 meaning all). The indication goes from self (NBMA and protocol address)
// back to the source protocol address of orig, whose families it copies.
// orig must be at least a fixed header long; the caller decides whether
// answering is allowed (never answer an Error Indication).
func NewErrorIndication(orig []byte, code Code, offset uint16, selfNBMA, selfProto, origSrc netip.Addr, max int) *Packet {
	h := Header(orig)
	q := orig
	if max > 0 && len(q) > max {
		q = q[:max]
	}
	p := &Packet{
		AFN:      h.AFN(),
		ProType:  h.ProType(),
		HopCount: DefaultHopCount,
		Type:     TypeErrorIndication,
		SrcNBMA:  selfNBMA,
		SrcProto: selfProto,
		DstProto: origSrc,
		Payload:  append([]byte(nil), q...),
	}
	p.SetError(code, offset)
	return p
}
