// Package mpls holds the control-plane side of MPLS over FlexVPN: label
// values and label stacks as values (the dataplane's hdr.MPLS is the
// per-packet view), a per-VRF label allocator shared by its clients the way
// IOS's MFI shares one label between BGP and NHRP, and the label table that
// maps a local label to its VRF and action, with an IOS-style
// `show mpls forwarding-table` rendering.
//
// It depends on the standard library only.
package mpls

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Label is a 20-bit MPLS label value (RFC 3032).
type Label uint32

// Reserved labels, RFC 3032 §2.1 and RFC 7274.
const (
	IPv4ExplicitNull Label = 0
	RouterAlert      Label = 1
	IPv6ExplicitNull Label = 2
	ImplicitNull     Label = 3 // signalled only; never on the wire
	MaxReserved      Label = 15
	// MinUnreserved is the first label an allocator may hand out.
	MinUnreserved Label = 16
	MaxLabel      Label = 1<<20 - 1
)

// Reserved reports whether l is one of the special-purpose labels 0-15.
func (l Label) Reserved() bool { return l <= MaxReserved }

// Valid reports whether l fits in 20 bits.
func (l Label) Valid() bool { return l <= MaxLabel }

// String names the reserved labels the way IOS prints them.
func (l Label) String() string {
	switch l {
	case IPv4ExplicitNull:
		return "explicit-null"
	case IPv6ExplicitNull:
		return "ipv6-explicit-null"
	case ImplicitNull:
		return "implicit-null"
	case RouterAlert:
		return "router-alert"
	}
	return strconv.FormatUint(uint64(l), 10)
}

// ParseLabel reads a label as String prints it (or a plain number).
func ParseLabel(s string) (Label, error) {
	switch strings.ToLower(s) {
	case "explicit-null":
		return IPv4ExplicitNull, nil
	case "ipv6-explicit-null":
		return IPv6ExplicitNull, nil
	case "implicit-null", "imp-null":
		return ImplicitNull, nil
	case "router-alert":
		return RouterAlert, nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || Label(v) > MaxLabel {
		return 0, fmt.Errorf("label %q: want a number 0-%d or a reserved label name", s, MaxLabel)
	}
	return Label(v), nil
}

// Entry is one label stack entry (RFC 3032 §2.1) as a value.
type Entry struct {
	Label Label
	TC    uint8 // traffic class, 3 bits
	TTL   uint8
}

// EntryLen is the size of one label stack entry on the wire.
const EntryLen = 4

// MaxDepth bounds the stacks DecodeStack accepts; FlexVPN carries one or
// two labels, and a cap keeps hostile input cheap.
const MaxDepth = 8

// Stack is a label stack, top first. The bottom-of-stack bit is implied by
// position.
type Stack []Entry

// Errors from DecodeStack and Stack.Append.
var (
	ErrTruncated      = errors.New("mpls: label stack truncated before bottom of stack")
	ErrTooDeep        = errors.New("mpls: label stack deeper than MaxDepth")
	ErrImplicitNull   = errors.New("mpls: implicit-null label on the wire")
	ErrBadBottomLabel = errors.New("mpls: router-alert or reserved label at the bottom of the stack")
	ErrBadLabel       = errors.New("mpls: label or traffic class out of range")
	ErrEmpty          = errors.New("mpls: empty label stack")
)

// DecodeStack parses the label stack at the start of b and returns it with
// its length in bytes. It applies RFC 3032 and RFC 4182: implicit null
// never appears on the wire; router alert and the unassigned reserved
// labels 4-15 may not be the bottom entry (explicit nulls may be anywhere).
func DecodeStack(b []byte) (Stack, int, error) {
	var s Stack
	for i := 0; ; i++ {
		if i == MaxDepth {
			return nil, 0, ErrTooDeep
		}
		o := i * EntryLen
		if len(b) < o+EntryLen {
			return nil, 0, ErrTruncated
		}
		w := binary.BigEndian.Uint32(b[o:])
		e := Entry{Label: Label(w >> 12), TC: uint8(w>>9) & 7, TTL: uint8(w)}
		bos := w&0x100 != 0
		if e.Label == ImplicitNull {
			return nil, 0, ErrImplicitNull
		}
		if bos && e.Label.Reserved() && e.Label != IPv4ExplicitNull && e.Label != IPv6ExplicitNull {
			return nil, 0, ErrBadBottomLabel
		}
		s = append(s, e)
		if bos {
			return s, o + EntryLen, nil
		}
	}
}

// Append encodes s onto dst, setting the bottom-of-stack bit on the last
// entry. It refuses stacks DecodeStack would refuse.
func (s Stack) Append(dst []byte) ([]byte, error) {
	if len(s) == 0 {
		return dst, ErrEmpty
	}
	if len(s) > MaxDepth {
		return dst, ErrTooDeep
	}
	for i, e := range s {
		last := i == len(s)-1
		switch {
		case !e.Label.Valid() || e.TC > 7:
			return dst, ErrBadLabel
		case e.Label == ImplicitNull:
			return dst, ErrImplicitNull
		case last && e.Label.Reserved() && e.Label != IPv4ExplicitNull && e.Label != IPv6ExplicitNull:
			return dst, ErrBadBottomLabel
		}
		w := uint32(e.Label)<<12 | uint32(e.TC)<<9 | uint32(e.TTL)
		if last {
			w |= 0x100
		}
		dst = binary.BigEndian.AppendUint32(dst, w)
	}
	return dst, nil
}

// String prints the stack as IOS's output chains do: "label 19 label 16".
func (s Stack) String() string {
	parts := make([]string, len(s))
	for i, e := range s {
		parts[i] = "label " + e.Label.String()
	}
	return strings.Join(parts, " ")
}

// Labels returns the label values, top first.
func (s Stack) Labels() []Label {
	out := make([]Label, len(s))
	for i, e := range s {
		out[i] = e.Label
	}
	return out
}
