package wire

import (
	"encoding/binary"
	"errors"
)

// ExtMPLSLabel is the extension that carries the MPLS label a resolution
// reply's CIE is reached with (MPLS over FlexVPN, seed-features.md §21 steps
// 10-12: "the resolution reply carries a label"). Cisco's encoding is not
// public; esphub uses a type from RFC 2332 §5.3's range for research and
// development (0x1000-0x11FF), sent non-compulsory, so that a peer that
// does not know it ignores it (and forwards it, RFC 2332 §5.3).
//
// Its value is an MPLS label stack (RFC 3032 entries, 4 bytes each, the
// bottom-of-stack bit on the last), one label per CIE in CIE order; TC and
// TTL are zero. Label 3 (implicit null) means "push nothing" and is allowed
// here, as IOS's reply lists implicit-null for the responder's own address.
const ExtMPLSLabel ExtType = 0x1001

// MaxMPLSLabels bounds the labels one extension carries.
const MaxMPLSLabels = 16

// Errors of NewMPLSLabel.
var (
	ErrNoLabels  = errors.New("nhrp: MPLS label extension without labels")
	ErrBadLabels = errors.New("nhrp: MPLS label out of range or too many labels")
)

// NewMPLSLabel builds the label extension for labels (one per CIE).
func NewMPLSLabel(labels ...uint32) (Extension, error) {
	if len(labels) == 0 {
		return Extension{}, ErrNoLabels
	}
	if len(labels) > MaxMPLSLabels {
		return Extension{}, ErrBadLabels
	}
	d := make([]byte, 4*len(labels))
	for i, l := range labels {
		if l > 0xFFFFF {
			return Extension{}, ErrBadLabels
		}
		w := l << 12
		if i == len(labels)-1 {
			w |= 1 << 8
		}
		binary.BigEndian.PutUint32(d[4*i:], w)
	}
	return Extension{Type: ExtMPLSLabel, Data: d}, nil
}

// MPLSLabels returns the labels of a label extension, or false when x is
// not one or is malformed (a length that is not a whole number of entries,
// too many entries, a bottom-of-stack bit anywhere but on the last, or a
// reserved label other than implicit null).
func (x *Extension) MPLSLabels() ([]uint32, bool) {
	if x.Type != ExtMPLSLabel || len(x.Data) == 0 || len(x.Data)%4 != 0 || len(x.Data)/4 > MaxMPLSLabels {
		return nil, false
	}
	n := len(x.Data) / 4
	out := make([]uint32, n)
	for i := range n {
		w := binary.BigEndian.Uint32(x.Data[4*i:])
		bos := w&(1<<8) != 0
		if bos != (i == n-1) {
			return nil, false
		}
		l := w >> 12
		if l < 16 && l != 3 {
			return nil, false
		}
		out[i] = l
	}
	return out, true
}
