package wire

import "encoding/binary"

// RawPayload is one payload seen by Walk: its type, critical bit and body
// (aliasing the walked buffer).
type RawPayload struct {
	Type     PayloadType
	Critical bool
	Body     []byte
}

// Walk calls fn for each payload of the chain that starts with a payload of
// type first at b[0], checking only the generic headers, without allocating.
// It stops at an SK or SKF payload (reported, with its body running to the
// end of b) and at the first error fn returns, which Walk returns. A
// malformed chain is a *Error with INVALID_SYNTAX.
//
// Walk is the cheap look at a message before a full Decode: a responder
// under an IKE_SA_INIT flood checks for its COOKIE with it (RFC 7296 §2.6).
func Walk(first PayloadType, b []byte, fn func(p RawPayload) error) error {
	next, off := first, 0
	for next != PayloadNone {
		if len(b)-off < genericHeaderLen {
			return syntaxErr(off, "truncated generic payload header for %s", next)
		}
		t := next
		next = PayloadType(b[off])
		plen := int(binary.BigEndian.Uint16(b[off+2:]))
		if plen < genericHeaderLen || plen > len(b)-off {
			return syntaxErr(off+2, "%s payload length %d outside 4..%d", t, plen, len(b)-off)
		}
		if err := fn(RawPayload{Type: t, Critical: b[off+1]&criticalBit != 0, Body: b[off+genericHeaderLen : off+plen]}); err != nil {
			return err
		}
		off += plen
		if t == PayloadSK || t == PayloadSKF {
			break
		}
	}
	if off != len(b) {
		return syntaxErr(off, "%d bytes after the last payload", len(b)-off)
	}
	return nil
}

// PeekNotify returns the notification data of the first Notify of type t in
// the unprotected payloads of message msg (IKE header included), without
// decoding the message or allocating. It reports false when msg has no such
// notify or is malformed.
func PeekNotify(msg []byte, t NotifyType) ([]byte, bool) {
	if len(msg) < HeaderLen {
		return nil, false
	}
	var data []byte
	found := false
	end := int(HeaderBytes(msg).Length())
	if end < HeaderLen || end > len(msg) {
		return nil, false
	}
	// The whole chain is walked, so that a malformed message is never
	// reported as carrying the notify.
	err := Walk(HeaderBytes(msg).NextPayload(), msg[HeaderLen:end], func(p RawPayload) error {
		if found || p.Type != PayloadNotify || len(p.Body) < 4 || NotifyType(binary.BigEndian.Uint16(p.Body[2:])) != t {
			return nil
		}
		spi := int(p.Body[1])
		if 4+spi > len(p.Body) {
			return nil
		}
		data, found = p.Body[4+spi:], true
		return nil
	})
	if err != nil || end != len(msg) {
		return nil, false
	}
	return data, found
}
