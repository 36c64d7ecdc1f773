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

// ExtVRFLabel is the extension that says which VRF an NHRP packet belongs
// to when several VRFs share one tunnel (MPLS over FlexVPN): its value is
// one MPLS label stack entry (bottom of stack set), the VPN label the
// receiver advertised for that VRF, i.e. the label a data packet of the VRF
// would carry on the same hop. The receiver finds the VRF by looking the
// label up among its own, as its dataplane does for data; a next hop server
// that forwards the packet replaces it with the next hop's label, as it
// swaps the label of data (seed-features.md §21 step 7: "the hub looks up
// the overlay label and forwards the request"). Sent non-compulsory, from
// the same research range as ExtMPLSLabel.
const ExtVRFLabel ExtType = 0x1002

// NewVRFLabel builds the VRF label extension for label l.
func NewVRFLabel(l uint32) (Extension, error) {
	x, err := NewMPLSLabel(l)
	if err != nil {
		return Extension{}, err
	}
	if l == 3 {
		return Extension{}, ErrBadLabels // implicit null names no VRF
	}
	x.Type = ExtVRFLabel
	return x, nil
}

// VRFLabel returns the label of a VRF label extension, or false when x is
// not one or is malformed (not exactly one entry, or a reserved label).
func (x *Extension) VRFLabel() (uint32, bool) {
	if x.Type != ExtVRFLabel {
		return 0, false
	}
	y := Extension{Type: ExtMPLSLabel, Data: x.Data}
	ls, ok := y.MPLSLabels()
	if !ok || len(ls) != 1 || ls[0] < 16 {
		return 0, false
	}
	return ls[0], true
}

// PacketVRFLabel returns the VRF label an encoded NHRP packet carries, for
// a receiver that must pick the NHRP instance before handing the packet on.
// It reports false for a packet that does not decode or has none.
func PacketVRFLabel(pkt []byte) (uint32, bool) {
	p, err := Decode(pkt)
	if err != nil {
		return 0, false
	}
	if x := p.Ext(ExtVRFLabel); x != nil {
		return x.VRFLabel()
	}
	return 0, false
}

// PacketRequestID returns the request ID of an encoded resolution reply,
// with which a requester that runs one NHRP instance per VRF finds the
// instance that asked (seed-features.md §21 step 12).
func PacketRequestID(pkt []byte) (Type, uint32, bool) {
	p, err := Decode(pkt)
	if err != nil {
		return 0, 0, false
	}
	return p.Type, p.RequestID, true
}
