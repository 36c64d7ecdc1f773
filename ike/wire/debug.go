package wire

import (
	"encoding/binary"
	"strconv"
)

// Cisco IOS "debug crypto ikev2 packet" rendering. A FlexVPN operator reads
// these lines every day; printing ours the same way lets them compare a
// esphub hub's debug with an IOS spoke's. The format follows the IOS output
// in the FlexVPN configuration guide: a header block, "Payload contents:",
// then one line per payload with its Next payload, reserved octet and length,
// and a detail line for notifies.

// iosPayloadName returns IOS's name for a payload type in debug output.
func iosPayloadName(t PayloadType) string {
	switch t {
	case PayloadNone:
		return "NONE"
	case PayloadNonce:
		return "N"
	case PayloadNotify:
		return "NOTIFY"
	case PayloadVendorID:
		return "VID"
	case PayloadDelete:
		return "DELETE"
	case PayloadCP:
		return "CFG"
	case PayloadSK:
		return "ENCR"
	}
	return t.String()
}

func iosFlags(f uint8) string {
	s := ""
	if f&FlagInitiator != 0 {
		s = "INITIATOR"
	}
	if f&FlagResponse != 0 {
		if s != "" {
			s += " "
		}
		s += "RESPONSE"
	}
	if s == "" {
		s = "NONE"
	}
	return s
}

// AppendDebug appends the IOS-style debug rendering of m to dst, one line
// per "\n". It prints what the codec knows, never key material: KE, Nonce,
// AUTH and encrypted bodies appear by length only.
func AppendDebug(dst []byte, m *Message) []byte {
	first := PayloadNone
	if len(m.Payloads) > 0 {
		first = m.Payloads[0].Type()
	}
	length := HeaderLen
	lens := make([]int, len(m.Payloads))
	for i, p := range m.Payloads {
		body, err := p.appendBody(nil)
		if err != nil {
			lens[i] = -1
			continue
		}
		lens[i] = genericHeaderLen + len(body)
		length += lens[i]
	}
	dst = append(dst, "Initiator SPI : "...)
	dst = appendHex64(dst, m.Header.SPIi)
	dst = append(dst, " - Responder SPI : "...)
	dst = appendHex64(dst, m.Header.SPIr)
	dst = append(dst, " Message id: "...)
	dst = strconv.AppendUint(dst, uint64(m.Header.MessageID), 10)
	dst = append(dst, "\nNext payload: "...)
	dst = append(dst, iosPayloadName(first)...)
	dst = append(dst, ", version: 2.0\nExchange type: "...)
	dst = append(dst, m.Header.Exchange.String()...)
	dst = append(dst, ", flags: "...)
	dst = append(dst, iosFlags(m.Header.Flags)...)
	dst = append(dst, " Message id: "...)
	dst = strconv.AppendUint(dst, uint64(m.Header.MessageID), 10)
	dst = append(dst, ", length: "...)
	dst = strconv.AppendInt(dst, int64(length), 10)
	dst = append(dst, "\nPayload contents:\n"...)
	for i, p := range m.Payloads {
		next := PayloadNone
		if i+1 < len(m.Payloads) {
			next = m.Payloads[i+1].Type()
		}
		switch q := p.(type) {
		case *Encrypted:
			next = q.NextPayload
		case *EncryptedFragment:
			next = q.NextPayload
		}
		if n, ok := p.(*Notify); ok {
			dst = append(dst, "NOTIFY("...)
			dst = append(dst, n.NotifyType.String()...)
			dst = append(dst, ')')
		} else {
			dst = append(dst, iosPayloadName(p.Type())...)
		}
		dst = append(dst, " Next payload: "...)
		dst = append(dst, iosPayloadName(next)...)
		dst = append(dst, ", reserved: 0x0, length: "...)
		dst = strconv.AppendInt(dst, int64(lens[i]), 10)
		dst = append(dst, '\n')
		dst = appendDebugDetail(dst, p)
	}
	return dst
}

func appendDebugDetail(dst []byte, p Payload) []byte {
	line := func(s string) { dst = append(append(append(dst, "  "...), s...), '\n') }
	itoa := func(v int) string { return strconv.Itoa(v) }
	switch q := p.(type) {
	case *SA:
		for i, pr := range q.Proposals {
			last := "0x2"
			if i == len(q.Proposals)-1 {
				last = "0x0"
			}
			line("last proposal: " + last + ", Proposal: " + itoa(int(pr.Number)) + ", Protocol id: " + pr.Protocol.String() +
				", SPI size: " + itoa(len(pr.SPI)) + ", #trans: " + itoa(len(pr.Transforms)))
			for _, t := range pr.Transforms {
				s := "  type: " + itoa(int(t.Type)) + ", reserved: 0x0, id: " + transformName(t)
				if t.KeyLength != 0 {
					s += ", key length: " + itoa(int(t.KeyLength))
				}
				line(s)
			}
		}
	case *KE:
		line("DH group: " + itoa(int(q.Group)) + ", Reserved: 0x0, data length: " + itoa(len(q.Data)))
	case *Nonce:
		line("nonce length: " + itoa(len(q.Data)))
	case *Notify:
		proto := q.Protocol.String()
		if q.Protocol == ProtocolNone {
			proto = "Unknown - 0"
		}
		line("Security protocol id: " + proto + ", spi size: " + itoa(len(q.SPI)) + ", type: " + q.NotifyType.String())
	case *ID:
		s := "Id type: " + q.IDType.String() + ", Reserved: 0x0 0x0"
		if a, ok := q.Addr(); ok {
			s += ", address: " + a.String()
		} else if q.IDType == IDFQDN || q.IDType == IDRFC822 {
			s += ", id: " + printable(q.Data)
		}
		line(s)
	case *Auth:
		line("Auth method " + q.Method.String() + ", reserved: 0x0, reserved 0x0, data length: " + itoa(len(q.Data)))
	case *TrafficSelectors:
		line("Num of TSs: " + itoa(len(q.Selectors)) + ", reserved 0x0, reserved 0x0")
		for _, ts := range q.Selectors {
			line("TS type: " + ts.TSType.String() + ", proto id: " + itoa(int(ts.IPProtocol)) +
				", Start port: " + itoa(int(ts.StartPort)) + ", end port: " + itoa(int(ts.EndPort)) +
				", start addr: " + ts.Start.String() + ", end addr: " + ts.End.String())
		}
	case *Configuration:
		line("cfg type: " + q.CFGType.String() + ", reserved: 0x0")
		for _, a := range q.Attributes {
			s := "attrib type: " + a.AttrType.String() + ", length: " + itoa(len(a.Value))
			if pf, ok := a.Prefix(); ok {
				s += ", value: " + pf.String()
			} else if addr, ok := a.Addr(); ok {
				s += ", value: " + addr.String()
			}
			line(s)
		}
	case *Delete:
		line("Security protocol id: " + q.Protocol.String() + ", spi size: " + itoa(int(q.SPISize)) + ", num of spi: " + itoa(q.NumSPIs()))
	case *VendorID:
		if v := Identify(q.Data); v != VendorUnknown {
			line("vendor: " + v.String())
		}
	case *EncryptedFragment:
		line("SKF Fragment number: " + itoa(int(q.Number)) + " OF Total Fragments: " + itoa(int(q.Total)))
	}
	return dst
}

func transformName(t Transform) string {
	switch t.Type {
	case TransformENCR:
		return t.Encr().String()
	case TransformPRF:
		return t.PRF().String()
	case TransformINTEG:
		return t.Integ().String()
	case TransformDH:
		return t.DH().String()
	case TransformESN:
		return t.ESN().String()
	}
	return strconv.Itoa(int(t.ID))
}

func appendHex64(dst []byte, v uint64) []byte {
	const digits = "0123456789ABCDEF"
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}

// printable returns s with non-printable bytes replaced by '.', so that an
// identity from the wire cannot inject control characters into logs.
func printable(s []byte) string {
	b := make([]byte, len(s))
	for i, c := range s {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		b[i] = c
	}
	return string(b)
}
