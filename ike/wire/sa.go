package wire

import "encoding/binary"

// SA is the Security Association payload (RFC 7296 §3.3): a list of
// proposals, numbered from 1 in a request; a response carries the one chosen
// proposal with the number it had in the request.
type SA struct {
	Proposals []Proposal
}

// Type implements Payload.
func (*SA) Type() PayloadType { return PayloadSA }

// Proposal is one proposal substructure (RFC 7296 §3.3.1):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Last Substruc |   RESERVED    |         Proposal Length       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                        SPI (variable)                         ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                        <Transforms>                           ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// SPI is empty in an IKE_SA_INIT proposal, 8 bytes for an IKE SA rekey and
// 4 bytes for ESP and AH. It aliases the decoded buffer.
type Proposal struct {
	Number     uint8
	Protocol   ProtocolID
	SPI        []byte
	Transforms []Transform
}

// ESPSPI returns a 4-byte SPI as a number (0 when the SPI is not 4 bytes).
func (p *Proposal) ESPSPI() uint32 {
	if len(p.SPI) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(p.SPI)
}

// IKESPI returns an 8-byte SPI as a number (0 when the SPI is not 8 bytes).
func (p *Proposal) IKESPI() uint64 {
	if len(p.SPI) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(p.SPI)
}

// TransformsOf appends p's transforms of type t, in order, to dst.
func (p *Proposal) TransformsOf(dst []Transform, t TransformType) []Transform {
	for _, tr := range p.Transforms {
		if tr.Type == t {
			dst = append(dst, tr)
		}
	}
	return dst
}

// Transform is one transform substructure (RFC 7296 §3.3.2):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Last Substruc |   RESERVED    |        Transform Length       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Transform Type |   RESERVED    |          Transform ID         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                      Transform Attributes                     ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The only attribute RFC 7296 defines, Key Length (TV format), is decoded
// into KeyLength. Any other attributes are kept, validated but raw, in
// Extra, after the Key Length attribute when both are encoded; RFC 7296
// §3.3.6 says a transform with an attribute the receiver does not understand
// must be treated as unacceptable, which HasUnknownAttributes reports.
type Transform struct {
	Type      TransformType
	ID        uint16
	KeyLength uint16 // bits; 0 when the Key Length attribute is absent
	Extra     []byte // other attributes, raw; aliases the decoded buffer
}

// HasUnknownAttributes reports whether t carries attributes other than Key Length.
func (t Transform) HasUnknownAttributes() bool { return len(t.Extra) > 0 }

// Encr returns the ID as an encryption algorithm (meaningful when Type is TransformENCR).
func (t Transform) Encr() EncrID { return EncrID(t.ID) }

// PRF returns the ID as a PRF (meaningful when Type is TransformPRF).
func (t Transform) PRF() PRFID { return PRFID(t.ID) }

// Integ returns the ID as an integrity algorithm (meaningful when Type is TransformINTEG).
func (t Transform) Integ() IntegID { return IntegID(t.ID) }

// DH returns the ID as a Diffie-Hellman group (meaningful when Type is TransformDH).
func (t Transform) DH() DHGroup { return DHGroup(t.ID) }

// ESN returns the ID as an ESN choice (meaningful when Type is TransformESN).
func (t Transform) ESN() ESNID { return ESNID(t.ID) }

// EncrTransform returns an ENCR transform; keyBits 0 omits the Key Length attribute.
func EncrTransform(id EncrID, keyBits int) Transform {
	return Transform{Type: TransformENCR, ID: uint16(id), KeyLength: uint16(keyBits)}
}

// PRFTransform returns a PRF transform.
func PRFTransform(id PRFID) Transform { return Transform{Type: TransformPRF, ID: uint16(id)} }

// IntegTransform returns an INTEG transform.
func IntegTransform(id IntegID) Transform { return Transform{Type: TransformINTEG, ID: uint16(id)} }

// DHTransform returns a DH (key exchange method) transform.
func DHTransform(g DHGroup) Transform { return Transform{Type: TransformDH, ID: uint16(g)} }

// ESNTransform returns an ESN transform.
func ESNTransform(e ESNID) Transform { return Transform{Type: TransformESN, ID: uint16(e)} }

const (
	lastSubstrucProposal  = 2
	lastSubstrucTransform = 3
	proposalHeaderLen     = 8
	transformHeaderLen    = 8
	attrFormatTV          = 0x8000
)

func decodeSA(b []byte, off int) (*SA, error) {
	sa := &SA{}
	// Count proposals and transforms first so that one allocation each holds them all.
	np, nt := 0, 0
	for o := 0; o+proposalHeaderLen <= len(b); {
		l := int(binary.BigEndian.Uint16(b[o+2:]))
		if l < proposalHeaderLen {
			break
		}
		np++
		nt += int(b[o+7])
		o += l
	}
	if np == 0 {
		return nil, syntaxErr(off, "SA payload without proposals")
	}
	// The counts come from the wire: bound them by what the bytes can hold.
	nt = min(nt, len(b)/transformHeaderLen)
	sa.Proposals = make([]Proposal, 0, np)
	transforms := make([]Transform, 0, nt)
	o := 0
	for {
		if len(b)-o < proposalHeaderLen {
			return nil, syntaxErr(off+o, "truncated proposal")
		}
		last := b[o]
		plen := int(binary.BigEndian.Uint16(b[o+2:]))
		if plen < proposalHeaderLen || plen > len(b)-o {
			return nil, syntaxErr(off+o+2, "proposal length %d outside %d..%d", plen, proposalHeaderLen, len(b)-o)
		}
		if last != 0 && last != lastSubstrucProposal {
			return nil, syntaxErr(off+o, "proposal Last Substruc %d, want 0 or 2", last)
		}
		p := Proposal{Number: b[o+4], Protocol: ProtocolID(b[o+5])}
		spiSize := int(b[o+6])
		numT := int(b[o+7])
		if p.Number == 0 {
			return nil, syntaxErr(off+o+4, "proposal number 0")
		}
		if n := len(sa.Proposals); n > 0 && p.Number != sa.Proposals[n-1].Number+1 {
			return nil, syntaxErr(off+o+4, "proposal number %d after %d", p.Number, sa.Proposals[n-1].Number)
		}
		switch p.Protocol {
		case ProtocolIKE:
			if spiSize != 0 && spiSize != 8 {
				return nil, syntaxErr(off+o+6, "IKE proposal SPI size %d, want 0 or 8", spiSize)
			}
		case ProtocolESP, ProtocolAH:
			if spiSize != 4 {
				return nil, syntaxErr(off+o+6, "%s proposal SPI size %d, want 4", p.Protocol, spiSize)
			}
		}
		if proposalHeaderLen+spiSize > plen {
			return nil, syntaxErr(off+o+6, "SPI size %d overruns proposal", spiSize)
		}
		p.SPI = sub(b, o+proposalHeaderLen, o+proposalHeaderLen+spiSize)
		start := len(transforms)
		var err error
		transforms, err = decodeTransforms(transforms, b[o+proposalHeaderLen+spiSize:o+plen], off+o+proposalHeaderLen+spiSize)
		if err != nil {
			return nil, err
		}
		p.Transforms = transforms[start:len(transforms):len(transforms)]
		if len(p.Transforms) != numT {
			return nil, syntaxErr(off+o+7, "proposal says %d transforms, has %d", numT, len(p.Transforms))
		}
		sa.Proposals = append(sa.Proposals, p)
		o += plen
		if last == 0 {
			break
		}
	}
	if o != len(b) {
		return nil, syntaxErr(off+o, "%d bytes after the last proposal", len(b)-o)
	}
	return sa, nil
}

func decodeTransforms(dst []Transform, b []byte, off int) ([]Transform, error) {
	o := 0
	for o < len(b) {
		if len(b)-o < transformHeaderLen {
			return dst, syntaxErr(off+o, "truncated transform")
		}
		last := b[o]
		tlen := int(binary.BigEndian.Uint16(b[o+2:]))
		if tlen < transformHeaderLen || tlen > len(b)-o {
			return dst, syntaxErr(off+o+2, "transform length %d outside %d..%d", tlen, transformHeaderLen, len(b)-o)
		}
		if last != 0 && last != lastSubstrucTransform {
			return dst, syntaxErr(off+o, "transform Last Substruc %d, want 0 or 3", last)
		}
		if (last == 0) != (o+tlen == len(b)) {
			return dst, syntaxErr(off+o, "transform Last Substruc %d disagrees with proposal length", last)
		}
		t := Transform{Type: TransformType(b[o+4]), ID: binary.BigEndian.Uint16(b[o+6:])}
		attrs := b[o+transformHeaderLen : o+tlen]
		aoff := off + o + transformHeaderLen
		extraStart := -1
		for a := 0; a < len(attrs); {
			if len(attrs)-a < 4 {
				return dst, syntaxErr(aoff+a, "truncated transform attribute")
			}
			at := binary.BigEndian.Uint16(attrs[a:])
			n := 4
			if at&attrFormatTV == 0 {
				n += int(binary.BigEndian.Uint16(attrs[a+2:]))
				if n > len(attrs)-a {
					return dst, syntaxErr(aoff+a+2, "transform attribute length overruns transform")
				}
			}
			switch at &^ attrFormatTV {
			case AttrKeyLength:
				if at&attrFormatTV == 0 {
					return dst, syntaxErr(aoff+a, "Key Length attribute in TLV format")
				}
				if t.KeyLength != 0 || extraStart >= 0 {
					return dst, syntaxErr(aoff+a, "Key Length attribute repeated or out of place")
				}
				t.KeyLength = binary.BigEndian.Uint16(attrs[a+2:])
				if t.KeyLength == 0 {
					return dst, syntaxErr(aoff+a+2, "Key Length 0")
				}
			default:
				if extraStart < 0 {
					extraStart = a
				}
			}
			a += n
		}
		if extraStart >= 0 {
			t.Extra = attrs[extraStart:]
		}
		dst = append(dst, t)
		o += tlen
	}
	return dst, nil
}

func (p *SA) appendBody(dst []byte) ([]byte, error) {
	if len(p.Proposals) == 0 {
		return dst, encodeErr("SA payload without proposals")
	}
	for i := range p.Proposals {
		pr := &p.Proposals[i]
		at := len(dst)
		last := byte(lastSubstrucProposal)
		if i == len(p.Proposals)-1 {
			last = 0
		}
		if len(pr.SPI) > 255 || len(pr.Transforms) > 255 {
			return dst, encodeErr("proposal %d: SPI or transform list too long", pr.Number)
		}
		dst = append(dst, last, 0, 0, 0, pr.Number, byte(pr.Protocol), byte(len(pr.SPI)), byte(len(pr.Transforms)))
		dst = append(dst, pr.SPI...)
		for j, t := range pr.Transforms {
			tat := len(dst)
			tl := byte(lastSubstrucTransform)
			if j == len(pr.Transforms)-1 {
				tl = 0
			}
			dst = append(dst, tl, 0, 0, 0, byte(t.Type), 0)
			dst = binary.BigEndian.AppendUint16(dst, t.ID)
			if t.KeyLength != 0 {
				dst = binary.BigEndian.AppendUint16(dst, attrFormatTV|AttrKeyLength)
				dst = binary.BigEndian.AppendUint16(dst, t.KeyLength)
			}
			dst = append(dst, t.Extra...)
			if len(dst)-tat > 0xffff {
				return dst, encodeErr("transform too long")
			}
			binary.BigEndian.PutUint16(dst[tat+2:], uint16(len(dst)-tat))
		}
		if len(dst)-at > 0xffff {
			return dst, encodeErr("proposal too long")
		}
		binary.BigEndian.PutUint16(dst[at+2:], uint16(len(dst)-at))
	}
	return dst, nil
}
