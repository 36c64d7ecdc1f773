package wire

import (
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decode error, so callers can test for
// "the peer sent bad bytes" with errors.Is without caring about details.
var ErrMalformed = errors.New("malformed IKE message")

// Error is a decode or validation error. It carries the notify type an IKE
// responder answers with (RFC 7296 §2.21.1) and, where the RFC defines one,
// the notification data: for UNSUPPORTED_CRITICAL_PAYLOAD the one-byte type
// of the offending payload. (INVALID_MAJOR_VERSION has no data: the version
// we support goes in the answer's header.)
//
// Offset is the byte offset in the decoded buffer where the problem was found
// (relative to the start of the buffer passed to the decoder), for debugging.
type Error struct {
	Notify NotifyType
	Data   []byte
	Offset int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("ike wire: %s at offset %d (%s)", e.Reason, e.Offset, e.Notify)
}

// Unwrap makes every *Error match ErrMalformed.
func (e *Error) Unwrap() error { return ErrMalformed }

// NotifyFor returns the notify type and data to answer err with, if err is or
// wraps a *Error.
func NotifyFor(err error) (NotifyType, []byte, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Notify, e.Data, true
	}
	return 0, nil, false
}

func syntaxErr(off int, format string, args ...any) *Error {
	return &Error{Notify: NotifyInvalidSyntax, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// ErrEncode is wrapped by errors the encoder returns for values that cannot be
// put on the wire (a field too long, an out-of-range value).
var ErrEncode = errors.New("cannot encode IKE message")

func encodeErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrEncode, fmt.Sprintf(format, args...))
}

// NotifyPayload returns the Notify payload that answers e.
func (e *Error) NotifyPayload() *Notify {
	return &Notify{NotifyType: e.Notify, Data: e.Data}
}

// ErrorResponse returns the unprotected response to a request whose header
// is req, carrying notify n: the answer to a malformed or unacceptable
// IKE_SA_INIT request (RFC 7296 §2.21.1). It keeps the SPIs and message ID,
// sets the Response flag and clears the Initiator flag (we answer as
// responder), and announces version 2.0 as INVALID_MAJOR_VERSION requires.
func ErrorResponse(req Header, n *Notify) *Message {
	h := Header{SPIi: req.SPIi, SPIr: req.SPIr, MajorVersion: 2, Exchange: req.Exchange, Flags: FlagResponse, MessageID: req.MessageID}
	return &Message{Header: h, Payloads: []Payload{n}}
}
