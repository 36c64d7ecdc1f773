package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Encrypted is the Encrypted and Authenticated payload, SK (RFC 7296 §3.14).
// The codec treats its body as opaque: the engine decrypts Body with AAD as
// associated data and decodes the plaintext with DecodePayloads(NextPayload, pt).
//
// NextPayload is the type of the first payload inside (written in the SK
// payload's generic header). Body (IV | ciphertext | ICV) and AAD (the IKE
// header through the end of the SK payload header: the bytes RFC 7296 §3.14
// and RFC 5282 authenticate besides the ciphertext) alias the decoded
// buffer. AAD is set by the decoder only; the encoder ignores it.
type Encrypted struct {
	NextPayload PayloadType
	Body        []byte
	AAD         []byte
}

// Type implements Payload.
func (*Encrypted) Type() PayloadType { return PayloadSK }

func (p *Encrypted) appendBody(dst []byte) ([]byte, error) {
	if len(p.Body) == 0 {
		return dst, encodeErr("empty SK payload")
	}
	return append(dst, p.Body...), nil
}

// EncryptedFragment is the Encrypted Fragment payload, SKF (RFC 7383 §2.5):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Payload  |C|  RESERVED   |         Payload Length        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Fragment Number        |        Total Fragments        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Initialization Vector                     |
//	~                      Encrypted content                        ~
//	~                Integrity Checksum Data                        ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// NextPayload is non-zero only in fragment 1. AAD covers the IKE header
// through the Total Fragments field.
type EncryptedFragment struct {
	Number      uint16
	Total       uint16
	NextPayload PayloadType
	Body        []byte
	AAD         []byte
}

// Type implements Payload.
func (*EncryptedFragment) Type() PayloadType { return PayloadSKF }

func (p *EncryptedFragment) appendBody(dst []byte) ([]byte, error) {
	if err := checkFragment(p.Number, p.Total, p.NextPayload); err != nil {
		return dst, encodeErr("%s", err.Reason)
	}
	if len(p.Body) == 0 {
		return dst, encodeErr("empty SKF payload")
	}
	dst = binary.BigEndian.AppendUint16(dst, p.Number)
	dst = binary.BigEndian.AppendUint16(dst, p.Total)
	return append(dst, p.Body...), nil
}

func checkFragment(num, total uint16, next PayloadType) *Error {
	if num == 0 || total == 0 || num > total {
		return syntaxErr(0, "fragment %d of %d", num, total)
	}
	if (num == 1) != (next != PayloadNone) {
		return syntaxErr(0, "fragment %d with next payload %s", num, next)
	}
	return nil
}

// decodeEncrypted decodes an SK or SKF body that starts at off in msg;
// body == msg[off:].
func decodeEncrypted(t, next PayloadType, msg []byte, off int) (Payload, error) {
	body := msg[off:]
	if t == PayloadSK {
		if len(body) == 0 {
			return nil, syntaxErr(off, "empty SK payload")
		}
		return &Encrypted{NextPayload: next, Body: body, AAD: msg[:off]}, nil
	}
	if len(body) < 5 {
		return nil, syntaxErr(off, "truncated SKF payload")
	}
	p := &EncryptedFragment{
		Number:      binary.BigEndian.Uint16(body),
		Total:       binary.BigEndian.Uint16(body[2:]),
		NextPayload: next,
		Body:        body[4:],
		AAD:         msg[:off+4],
	}
	if err := checkFragment(p.Number, p.Total, next); err != nil {
		err.Offset += off
		return nil, err
	}
	return p, nil
}

// Sealer protects the plaintext of an SK or SKF payload. ike/suite's
// SKCipher implements it.
type Sealer interface {
	// Overhead returns the bytes Seal adds to a plaintext of n bytes (IV,
	// padding, pad length, ICV).
	Overhead(n int) int
	// Seal appends IV | ciphertext | ICV to dst, authenticating aad.
	Seal(dst, aad, plaintext []byte, rand io.Reader) ([]byte, error)
}

// Opener reverses Sealer. ike/suite's SKCipher implements it.
type Opener interface {
	// Open appends the plaintext (padding removed) to dst; it fails when the ICV does not verify.
	Open(dst, aad, body []byte) ([]byte, error)
}

// ErrNotProtected is returned by Open for a message without an SK payload.
var ErrNotProtected = errors.New("message has no SK payload")

// AppendProtected appends an encrypted message to dst: header h (its
// NextPayload and Length are computed), the clear payloads (normally none),
// and an SK payload holding inner sealed by s. The message ID, SPIs, exchange
// and flags come from h.
func AppendProtected(dst []byte, h Header, clear, inner []Payload, s Sealer, rand io.Reader) ([]byte, error) {
	// An empty inner chain is legal (a liveness check): Next Payload 0 and
	// an empty plaintext.
	pt, err := appendChain(nil, inner, false)
	if err != nil {
		return dst, err
	}
	first := PayloadNone
	if len(inner) > 0 {
		first = inner[0].Type()
	}
	return appendSealed(dst, h, clear, PayloadSK, first, 0, 0, pt, s, rand)
}

func appendSealed(dst []byte, h Header, clear []Payload, t, first PayloadType, num, total uint16, pt []byte, s Sealer, rand io.Reader) ([]byte, error) {
	start := len(dst)
	h.NextPayload = t
	if len(clear) > 0 {
		h.NextPayload = clear[0].Type()
	}
	dst = AppendHeader(dst, &h)
	dst, err := appendChain(dst, clear, false)
	if err != nil {
		return dst[:start], err
	}
	if len(clear) > 0 {
		// appendChain wrote 0 as the last clear payload's Next Payload.
		lastClear := start + HeaderLen
		for i := 0; i < len(clear)-1; i++ {
			lastClear += int(binary.BigEndian.Uint16(dst[lastClear+2:]))
		}
		dst[lastClear] = byte(t)
	}
	at := len(dst)
	hl := genericHeaderLen
	if t == PayloadSKF {
		hl += 4
	}
	over := s.Overhead(len(pt))
	plen := hl + len(pt) + over
	total32 := len(dst) - start + plen
	if plen > 0xffff || total32 > MaxMessageLen {
		return dst[:start], encodeErr("protected message of %d bytes too long", total32)
	}
	dst = append(dst, byte(first), 0, 0, 0)
	binary.BigEndian.PutUint16(dst[at+2:], uint16(plen))
	if t == PayloadSKF {
		dst = binary.BigEndian.AppendUint16(dst, num)
		dst = binary.BigEndian.AppendUint16(dst, total)
	}
	HeaderBytes(dst[start:]).SetLength(uint32(total32))
	aad := dst[start:]
	n := len(dst)
	dst, err = s.Seal(dst, aad, pt, rand)
	if err != nil {
		return dst[:start], fmt.Errorf("seal SK payload: %w", err)
	}
	if len(dst)-n != len(pt)+over {
		return dst[:start], fmt.Errorf("seal SK payload: sealer wrote %d bytes, Overhead promised %d", len(dst)-n, len(pt)+over)
	}
	return dst, nil
}

// AppendFragments splits inner into SKF-protected fragments (RFC 7383) so
// that no message is longer than maxLen bytes (the IKE message, without the
// IP and UDP headers or non-ESP marker), and returns one buffer per
// fragment. Fragment 1 carries the type of the first inner payload.
func AppendFragments(h Header, inner []Payload, s Sealer, rand io.Reader, maxLen int) ([][]byte, error) {
	pt, err := appendChain(nil, inner, false)
	if err != nil {
		return nil, err
	}
	fixed := HeaderLen + genericHeaderLen + 4
	room := maxLen - fixed
	chunk := room
	for chunk > 0 && chunk+s.Overhead(chunk) > room {
		chunk--
	}
	if chunk <= 0 {
		return nil, encodeErr("fragment size %d leaves no room for data", maxLen)
	}
	total := max(1, (len(pt)+chunk-1)/chunk)
	if total > 0xffff {
		return nil, encodeErr("message needs %d fragments", total)
	}
	out := make([][]byte, 0, total)
	first := PayloadNone
	if len(inner) > 0 {
		first = inner[0].Type()
	}
	for i := range total {
		lo := i * chunk
		hi := min(lo+chunk, len(pt))
		next := PayloadNone
		if i == 0 {
			next = first
			if next == PayloadNone {
				return nil, encodeErr("cannot fragment an empty message")
			}
		}
		b, err := appendSealed(make([]byte, 0, maxLen), h, nil, PayloadSKF, next, uint16(i+1), uint16(total), pt[lo:hi], s, rand)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Open decrypts the SK payload of m (decoded from a buffer that is still
// unchanged), decodes the inner payloads and checks them against the rules
// of m's exchange (ValidateInner). The plaintext is appended to buf, which
// the returned payloads alias. A failing ICV is returned as the Opener's
// error (not a *Error: RFC 7296 §2.21.2 says to drop such messages
// silently); a malformed or rule-breaking plaintext is a *Error, which the
// engine answers (for a request) with the notify it carries.
func Open(m *Message, o Opener, buf []byte) ([]Payload, []byte, error) {
	if len(m.Payloads) == 0 {
		return nil, buf, ErrNotProtected
	}
	sk, ok := m.Payloads[len(m.Payloads)-1].(*Encrypted)
	if !ok {
		return nil, buf, ErrNotProtected
	}
	pt, err := o.Open(buf, sk.AAD, sk.Body)
	if err != nil {
		return nil, buf, fmt.Errorf("open SK payload: %w", err)
	}
	ps, err := DecodePayloads(sk.NextPayload, pt[len(buf):])
	if err == nil {
		err = ValidateInner(m.Header.Exchange, m.Header.IsResponse(), ps)
	}
	return ps, pt, err
}
