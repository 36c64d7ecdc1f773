package wire

import "encoding/binary"

// Notify is the Notify payload (RFC 7296 §3.10):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Protocol ID  |   SPI Size    |      Notify Message Type      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                Security Parameter Index (SPI)                 ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                       Notification Data                       ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// SPI and Data alias the decoded buffer. The helpers in notifydata.go build
// and parse the Data of the notify types the engine uses.
type Notify struct {
	Protocol   ProtocolID
	SPI        []byte
	NotifyType NotifyType
	Data       []byte
}

// Type implements Payload.
func (*Notify) Type() PayloadType { return PayloadNotify }

func decodeNotify(b []byte, off int) (*Notify, error) {
	if len(b) < 4 {
		return nil, syntaxErr(off, "truncated Notify payload")
	}
	spiSize := int(b[1])
	if 4+spiSize > len(b) {
		return nil, syntaxErr(off+1, "Notify SPI size %d overruns payload", spiSize)
	}
	p := &Notify{
		Protocol:   ProtocolID(b[0]),
		NotifyType: NotifyType(binary.BigEndian.Uint16(b[2:])),
		SPI:        sub(b, 4, 4+spiSize),
		Data:       sub(b, 4+spiSize, len(b)),
	}
	switch p.Protocol {
	case ProtocolNone, ProtocolIKE:
		// RFC 7296 §3.10: the SPI field is empty for IKE SA notifications
		// (except INVALID_SELECTORS/REKEY_SA style child notifies, which
		// name ESP/AH). Some peers send an 8-byte IKE SPI; accept both.
		if spiSize != 0 && spiSize != 8 {
			return nil, syntaxErr(off+1, "IKE Notify SPI size %d", spiSize)
		}
	case ProtocolESP, ProtocolAH:
		// An empty SPI is allowed: RFC 7296 §3.10 says the Protocol ID of a
		// notify without SPI must be ignored, and some peers fill it in.
		if spiSize != 4 && spiSize != 0 {
			return nil, syntaxErr(off+1, "%s Notify SPI size %d, want 4", p.Protocol, spiSize)
		}
	}
	return p, nil
}

func (p *Notify) appendBody(dst []byte) ([]byte, error) {
	if len(p.SPI) > 255 {
		return dst, encodeErr("Notify SPI of %d bytes", len(p.SPI))
	}
	dst = append(dst, byte(p.Protocol), byte(len(p.SPI)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(p.NotifyType))
	return append(append(dst, p.SPI...), p.Data...), nil
}

// Delete is the Delete payload (RFC 7296 §3.11). Deleting the IKE SA uses
// Protocol IKE and no SPIs; Child SAs use ESP or AH and 4-byte SPIs (the
// sender's inbound SPIs). SPIs is the raw concatenation of the SPIs and
// aliases the decoded buffer.
type Delete struct {
	Protocol ProtocolID
	SPISize  uint8
	SPIs     []byte
}

// Type implements Payload.
func (*Delete) Type() PayloadType { return PayloadDelete }

// NumSPIs returns the number of SPIs.
func (p *Delete) NumSPIs() int {
	if p.SPISize == 0 {
		return 0
	}
	return len(p.SPIs) / int(p.SPISize)
}

// ESPSPI returns the i-th SPI of a Child SA delete (SPISize 4) as a number.
func (p *Delete) ESPSPI(i int) uint32 { return binary.BigEndian.Uint32(p.SPIs[4*i:]) }

// AppendESPSPIs appends the SPIs of a Child SA delete to dst.
func (p *Delete) AppendESPSPIs(dst []uint32) []uint32 {
	if p.SPISize != 4 {
		return dst
	}
	for i := 0; i < p.NumSPIs(); i++ {
		dst = append(dst, p.ESPSPI(i))
	}
	return dst
}

// DeleteIKE returns a Delete payload for the IKE SA the message is sent on.
func DeleteIKE() *Delete { return &Delete{Protocol: ProtocolIKE} }

// DeleteChild returns a Delete payload for Child SAs of protocol proto (ESP or AH).
func DeleteChild(proto ProtocolID, spis ...uint32) *Delete {
	b := make([]byte, 0, 4*len(spis))
	for _, s := range spis {
		b = binary.BigEndian.AppendUint32(b, s)
	}
	return &Delete{Protocol: proto, SPISize: 4, SPIs: b}
}

func decodeDelete(b []byte, off int) (*Delete, error) {
	if len(b) < 4 {
		return nil, syntaxErr(off, "truncated Delete payload")
	}
	p := &Delete{Protocol: ProtocolID(b[0]), SPISize: b[1], SPIs: sub(b, 4, len(b))}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if err := p.check(n); err != nil {
		err.Offset += off
		return nil, err
	}
	return p, nil
}

func (p *Delete) check(n int) *Error {
	switch p.Protocol {
	case ProtocolIKE:
		if p.SPISize != 0 || n != 0 || len(p.SPIs) != 0 {
			return syntaxErr(1, "IKE SA Delete with SPIs")
		}
		return nil
	case ProtocolESP, ProtocolAH:
		if p.SPISize != 4 {
			return syntaxErr(1, "%s Delete SPI size %d, want 4", p.Protocol, p.SPISize)
		}
	default:
		return syntaxErr(0, "Delete of protocol %s", p.Protocol)
	}
	if n == 0 || len(p.SPIs) != n*int(p.SPISize) {
		return syntaxErr(2, "Delete says %d SPIs of %d bytes, holds %d bytes", n, p.SPISize, len(p.SPIs))
	}
	return nil
}

func (p *Delete) appendBody(dst []byte) ([]byte, error) {
	n := p.NumSPIs()
	if err := p.check(n); err != nil {
		return dst, encodeErr("%s", err.Reason)
	}
	if n > 0xffff {
		return dst, encodeErr("Delete of %d SPIs", n)
	}
	dst = append(dst, byte(p.Protocol), p.SPISize)
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	return append(dst, p.SPIs...), nil
}
