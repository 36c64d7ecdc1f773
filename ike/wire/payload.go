package wire

import "encoding/binary"

// genericHeaderLen is the size of the generic payload header (RFC 7296 §3.2):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Payload  |C|  RESERVED   |         Payload Length        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const genericHeaderLen = 4

// criticalBit is the C flag in the second octet of the generic payload header.
const criticalBit = 0x80

// Payload is one decoded IKE payload. The concrete types are the pointer
// types of this package (*SA, *KE, *ID, ...); *Unknown holds a payload type
// the codec does not know whose critical bit was clear.
//
// Decoded payloads alias the buffer they were decoded from: byte-slice fields
// (nonces, key exchange data, notification data, encrypted bodies) point into
// it. The caller must keep that buffer unchanged while it uses the payloads,
// and copy what it keeps longer.
type Payload interface {
	// Type returns the payload type written in the preceding Next Payload field.
	Type() PayloadType
	// appendBody appends the payload body (after the generic header).
	appendBody(dst []byte) ([]byte, error)
}

// Unknown is a payload of a type this package does not implement, received
// with the critical bit clear, kept so that a message can be re-encoded. A
// receiver must otherwise ignore it (RFC 7296 §2.5).
type Unknown struct {
	PayloadType PayloadType
	Critical    bool
	Body        []byte // aliases the decoded buffer
}

// Type implements Payload.
func (p *Unknown) Type() PayloadType { return p.PayloadType }

func (p *Unknown) appendBody(dst []byte) ([]byte, error) { return append(dst, p.Body...), nil }

// Message is a decoded IKE message: the header and the payload chain in
// wire order. For a protected message the chain ends with an *Encrypted
// (or *EncryptedFragment) payload whose body is still ciphertext; see
// SplitEncrypted and DecodePayloads for the step after decryption.
type Message struct {
	Header   Header
	Payloads []Payload
}

// Decode decodes and validates one IKE message. b must hold exactly the
// message (the non-ESP marker removed); trailing bytes beyond the header's
// Length are an error. The returned payloads alias b (see Payload).
//
// Errors are *Error values carrying the notify type to answer with:
// INVALID_MAJOR_VERSION, UNSUPPORTED_CRITICAL_PAYLOAD (Data holds the payload
// type) or INVALID_SYNTAX.
func Decode(b []byte) (*Message, error) {
	m := &Message{}
	if err := m.DecodeFrom(b); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeFrom is Decode into an existing Message, reusing its Payloads slice.
func (m *Message) DecodeFrom(b []byte) error {
	h, err := DecodeHeader(b)
	if err != nil {
		return err
	}
	if int(h.Length) != len(b) {
		return syntaxErr(24, "header length %d but %d bytes received", h.Length, len(b))
	}
	m.Header = h
	m.Payloads, err = decodeChain(m.Payloads[:0], h.NextPayload, b, HeaderLen, true)
	return err
}

// DecodePayloads decodes a payload chain that starts with a payload of type
// first and fills all of b: the plaintext of an SK payload after decryption,
// where first is the SK payload's Next Payload field. Nested SK/SKF payloads
// are an error. The returned payloads alias b.
func DecodePayloads(first PayloadType, b []byte) ([]Payload, error) {
	return decodeChain(nil, first, b, 0, false)
}

// AppendPayloads decodes like DecodePayloads, appending to dst.
func AppendPayloads(dst []Payload, first PayloadType, b []byte) ([]Payload, error) {
	return decodeChain(dst, first, b, 0, false)
}

// countChain returns how many payloads the chain at b[off:] holds as far as
// its length fields can be followed; decodeChain validates them properly.
func countChain(next PayloadType, b []byte, off int) int {
	n := 0
	for next != PayloadNone && len(b)-off >= genericHeaderLen {
		n++
		if next == PayloadSK || next == PayloadSKF {
			break
		}
		plen := int(binary.BigEndian.Uint16(b[off+2:]))
		if plen < genericHeaderLen {
			break
		}
		next = PayloadType(b[off])
		off += plen
	}
	return n
}

// decodeChain decodes payloads from b[off:]; outer says whether SK/SKF may
// appear (they must then be last and run to the end of b).
func decodeChain(dst []Payload, next PayloadType, b []byte, off int, outer bool) ([]Payload, error) {
	if n := countChain(next, b, off); cap(dst)-len(dst) < n {
		// One allocation for the whole chain instead of append's doublings.
		dst = append(make([]Payload, 0, len(dst)+n), dst...)
	}
	for next != PayloadNone {
		if len(b)-off < genericHeaderLen {
			return dst, syntaxErr(off, "truncated generic payload header for %s", next)
		}
		t := next
		next = PayloadType(b[off])
		critical := b[off+1]&criticalBit != 0
		plen := int(binary.BigEndian.Uint16(b[off+2:]))
		if plen < genericHeaderLen || plen > len(b)-off {
			return dst, syntaxErr(off+2, "%s payload length %d outside 4..%d", t, plen, len(b)-off)
		}
		body := b[off+genericHeaderLen : off+plen]
		bodyOff := off + genericHeaderLen
		if t == PayloadSK || t == PayloadSKF {
			if !outer {
				return dst, syntaxErr(off, "%s payload inside an encrypted payload", t)
			}
			if off+plen != len(b) {
				return dst, syntaxErr(off, "%s payload is not the last payload", t)
			}
			p, err := decodeEncrypted(t, next, b, bodyOff)
			if err != nil {
				return dst, err
			}
			return append(dst, p), nil
		}
		p, err := decodeBody(t, critical, body, bodyOff)
		if err != nil {
			return dst, err
		}
		dst = append(dst, p)
		off += plen
	}
	if off != len(b) {
		return dst, syntaxErr(off, "%d bytes after the last payload", len(b)-off)
	}
	return dst, nil
}

func decodeBody(t PayloadType, critical bool, body []byte, off int) (Payload, error) {
	switch t {
	case PayloadSA:
		return decodeSA(body, off)
	case PayloadKE:
		return decodeKE(body, off)
	case PayloadIDi, PayloadIDr:
		return decodeID(t, body, off)
	case PayloadCERT:
		return decodeCert(body, off)
	case PayloadCERTREQ:
		return decodeCertReq(body, off)
	case PayloadAUTH:
		return decodeAuth(body, off)
	case PayloadNonce:
		return decodeNonce(body, off)
	case PayloadNotify:
		return decodeNotify(body, off)
	case PayloadDelete:
		return decodeDelete(body, off)
	case PayloadVendorID:
		return decodeVendorID(body, off)
	case PayloadTSi, PayloadTSr:
		return decodeTS(t, body, off)
	case PayloadCP:
		return decodeCP(body, off)
	case PayloadEAP:
		return decodeEAP(body, off)
	}
	if critical {
		return nil, &Error{Notify: NotifyUnsupportedCriticalPayload, Data: []byte{byte(t)}, Offset: off - genericHeaderLen,
			Reason: "unsupported critical payload " + t.String()}
	}
	return &Unknown{PayloadType: t, Critical: false, Body: sub(body, 0, len(body))}, nil
}

// Append appends the encoding of m to dst. It fills in the header's Next
// Payload and Length fields from the payloads (m itself is not modified). An
// *Encrypted payload must be last; its body is written as is.
func (m *Message) Append(dst []byte) ([]byte, error) {
	start := len(dst)
	h := m.Header
	h.NextPayload = PayloadNone
	if len(m.Payloads) > 0 {
		h.NextPayload = m.Payloads[0].Type()
	}
	dst = AppendHeader(dst, &h)
	dst, err := appendChain(dst, m.Payloads, true)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start
	if n > MaxMessageLen {
		return dst[:start], encodeErr("message of %d bytes exceeds %d", n, MaxMessageLen)
	}
	HeaderBytes(dst[start:]).SetLength(uint32(n))
	return dst, nil
}

// Encode returns the encoding of m in a new buffer.
func (m *Message) Encode() ([]byte, error) { return m.Append(make([]byte, 0, 512)) }

// AppendPayloadChain appends the encoding of a payload chain (each payload
// with its generic header) to dst: the plaintext the engine seals into an SK
// payload, whose Next Payload field is ps[0].Type().
func AppendPayloadChain(dst []byte, ps []Payload) ([]byte, error) {
	return appendChain(dst, ps, false)
}

func appendChain(dst []byte, ps []Payload, outer bool) ([]byte, error) {
	for i, p := range ps {
		next := PayloadNone
		if i+1 < len(ps) {
			next = ps[i+1].Type()
		}
		var flags byte
		switch q := p.(type) {
		case *Encrypted:
			if !outer || i != len(ps)-1 {
				return dst, encodeErr("SK payload must be the last outer payload")
			}
			next = q.NextPayload
		case *EncryptedFragment:
			if !outer || i != len(ps)-1 {
				return dst, encodeErr("SKF payload must be the last outer payload")
			}
			next = q.NextPayload
		case *Unknown:
			if q.Critical {
				flags = criticalBit
			}
		case nil:
			return dst, encodeErr("nil payload at index %d", i)
		}
		at := len(dst)
		dst = append(dst, byte(next), flags, 0, 0)
		var err error
		dst, err = p.appendBody(dst)
		if err != nil {
			return dst[:at], err
		}
		n := len(dst) - at
		if n > 0xffff {
			return dst[:at], encodeErr("%s payload of %d bytes exceeds 65535", p.Type(), n)
		}
		binary.BigEndian.PutUint16(dst[at+2:], uint16(n))
	}
	return dst, nil
}

// First returns the first payload of type T in ps, or nil (the zero T) when
// there is none. For example First[*SA](m.Payloads).
func First[T Payload](ps []Payload) T {
	for _, p := range ps {
		if q, ok := p.(T); ok {
			return q
		}
	}
	var zero T
	return zero
}

// FindNotify returns the first Notify of type t in ps, or nil.
func FindNotify(ps []Payload, t NotifyType) *Notify {
	for _, p := range ps {
		if n, ok := p.(*Notify); ok && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// sub returns b[lo:hi], or nil when that is empty, so that decoded messages
// compare equal to constructed ones with reflect.DeepEqual.
func sub(b []byte, lo, hi int) []byte {
	if lo == hi {
		return nil
	}
	return b[lo:hi:hi]
}

// FindID returns the IDr (responder true) or IDi payload in ps, or nil.
func FindID(ps []Payload, responder bool) *ID {
	for _, p := range ps {
		if id, ok := p.(*ID); ok && id.Responder == responder {
			return id
		}
	}
	return nil
}

// FindTS returns the TSr (responder true) or TSi payload in ps, or nil.
func FindTS(ps []Payload, responder bool) *TrafficSelectors {
	for _, p := range ps {
		if ts, ok := p.(*TrafficSelectors); ok && ts.Responder == responder {
			return ts
		}
	}
	return nil
}

// ClonePayloads returns a deep copy of ps whose byte slices alias one new
// buffer owned by the result, for callers that keep payloads after the
// datagram they came in is reused.
func ClonePayloads(ps []Payload) ([]Payload, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	if sk, ok := ps[len(ps)-1].(*Encrypted); ok {
		// An SK payload's Next Payload is not the next payload in the chain:
		// copy it separately from the rest.
		rest, err := ClonePayloads(ps[:len(ps)-1])
		if err != nil {
			return nil, err
		}
		c := &Encrypted{NextPayload: sk.NextPayload, Body: append([]byte(nil), sk.Body...), AAD: append([]byte(nil), sk.AAD...)}
		return append(rest, c), nil
	}
	if skf, ok := ps[len(ps)-1].(*EncryptedFragment); ok {
		rest, err := ClonePayloads(ps[:len(ps)-1])
		if err != nil {
			return nil, err
		}
		c := *skf
		c.Body, c.AAD = append([]byte(nil), skf.Body...), append([]byte(nil), skf.AAD...)
		return append(rest, &c), nil
	}
	b, err := appendChain(nil, ps, false)
	if err != nil {
		return nil, err
	}
	return DecodePayloads(ps[0].Type(), b)
}
