package hdr

import "encoding/binary"

// Reserved MPLS labels (RFC 3032 §2.1).
const (
	LabelIPv4ExplicitNull uint32 = 0
	LabelRouterAlert      uint32 = 1
	LabelIPv6ExplicitNull uint32 = 2
	LabelImplicitNull     uint32 = 3 // signalled only, never on the wire
	LabelMaxReserved      uint32 = 15
	LabelMax              uint32 = 1<<20 - 1
)

// MPLSLen is the size of one label stack entry.
const MPLSLen = 4

// MPLS is a view of one label stack entry (RFC 3032 §2.1):
//
//	|                Label                  | TC  |S|       TTL     |
type MPLS []byte

// Valid reports whether b holds one entry.
func (b MPLS) Valid() bool { return len(b) >= MPLSLen }

func (b MPLS) word() uint32 { return binary.BigEndian.Uint32(b[0:4]) }

// Label returns the 20-bit label.
func (b MPLS) Label() uint32 { return b.word() >> 12 }

// TC returns the traffic class (formerly EXP) bits.
func (b MPLS) TC() uint8 { return uint8(b.word()>>9) & 7 }

// BottomOfStack reports whether S is set.
func (b MPLS) BottomOfStack() bool { return b[2]&1 != 0 }

// TTL returns the TTL.
func (b MPLS) TTL() uint8 { return b[3] }

// EncodeMPLS writes one label stack entry into b[:4].
func EncodeMPLS(b []byte, label uint32, tc uint8, bos bool, ttl uint8) {
	w := label<<12 | uint32(tc&7)<<9 | uint32(ttl)
	if bos {
		w |= 1 << 8
	}
	binary.BigEndian.PutUint32(b[0:4], w)
}

// MPLSStackLen returns the length in bytes of the label stack at the start
// of b (up to and including the bottom-of-stack entry), or 0 when b ends
// before a bottom-of-stack entry or the stack is deeper than maxDepth.
func MPLSStackLen(b []byte, maxDepth int) int {
	for i := 0; i < maxDepth; i++ {
		o := i * MPLSLen
		if len(b) < o+MPLSLen {
			return 0
		}
		if MPLS(b[o:]).BottomOfStack() {
			return o + MPLSLen
		}
	}
	return 0
}
