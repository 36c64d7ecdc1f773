package wire

import "fmt"

// ParseError is returned by Decode for a packet that must not be processed.
// Code is the Error Indication code RFC 2332 says to answer with, or CodeNone
// when the packet is to be dropped silently (bad checksum, truncated fixed
// header, or a packet that is itself an Error Indication). Offset is the byte
// offset from the start of the fixed header at which the problem was found,
// suitable for the Error Indication's error offset field.
type ParseError struct {
	Code   Code
	Offset uint16
	Reason string
}

func (e *ParseError) Error() string {
	if e.Code == CodeNone {
		return fmt.Sprintf("nhrp: %s (offset %d)", e.Reason, e.Offset)
	}
	return fmt.Sprintf("nhrp: %s (offset %d, %s)", e.Reason, e.Offset, e.Code)
}

// EncodeError is returned by Encode for a Packet that cannot be put on the
// wire (inconsistent address families, oversize, misplaced fields).
type EncodeError struct {
	Reason string
}

func (e *EncodeError) Error() string { return "nhrp: encode: " + e.Reason }

func perr(code Code, off int, reason string) *ParseError {
	if off > maxPacket {
		off = maxPacket
	}
	if off < 0 {
		off = 0
	}
	return &ParseError{Code: code, Offset: uint16(off), Reason: reason}
}
