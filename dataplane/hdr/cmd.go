package hdr

import "encoding/binary"

// Cisco Meta Data (CMD) header constants (wire-formats.md §1).
const (
	CMDVersion    = 1
	CMDLen        = 8      // one 8-octet unit: version, length, one SGT option, next protocol
	CMDOptTypeSGT = 1      // 13-bit option type of the SGT option
	SGTInvalid    = 0xFFFF // reserved; Snort and Wireshark treat it as invalid
)

// CMDLayout describes one on-the-wire form of the CMD header. The three
// forms differ only in where the next-protocol field sits and what it
// holds; everything else (version 1, length in 8-octet units, 4-byte
// options with a 3-bit length and 13-bit type, SGT option type 1) is shared.
//
// The Ethernet form (after EtherType 0x8909) is confirmed by Snort and
// Wireshark; the GRE form (GRE protocol 0x8909) only by one Wireshark
// dissector; the ESP-inline form (ESP next header 99, negotiated by IKEv2)
// by no public source. Every place that builds or parses CMD goes through a
// CMDLayout so a capture from a real Cisco peer can be matched by changing
// the layout value, not the code.
type CMDLayout struct {
	// NextFirst puts the next-protocol field in the first two bytes (GRE
	// form) instead of the last two (Ethernet form).
	NextFirst bool
	// NextIsIPProto makes the next-protocol field an IP protocol number
	// (0x00PP) instead of an EtherType.
	NextIsIPProto bool
}

// The CMD layouts in use. CMDESPInline is the working assumption of
// wire-formats.md §1.3: the Ethernet form with an EtherType as next
// protocol; configuration may replace it.
var (
	CMDEthernet  = CMDLayout{}
	CMDGRE       = CMDLayout{NextFirst: true}
	CMDESPInline = CMDLayout{}
)

// Encode writes an 8-byte CMD header carrying sgt and next into b[:8] and
// returns 8. next is an EtherType, or an IP protocol when NextIsIPProto.
func (l CMDLayout) Encode(b []byte, sgt, next uint16) int {
	o := 0
	if l.NextFirst {
		binary.BigEndian.PutUint16(b[0:2], next)
		o = 2
	}
	b[o] = CMDVersion
	b[o+1] = 1
	binary.BigEndian.PutUint16(b[o+2:o+4], CMDOptTypeSGT)
	binary.BigEndian.PutUint16(b[o+4:o+6], sgt)
	if !l.NextFirst {
		binary.BigEndian.PutUint16(b[6:8], next)
	}
	return CMDLen
}

// Decode parses the CMD header at the start of b. It returns the SGT, the
// next protocol and the header length. ok is false when b is too short, the
// version is not 1, the length field is 0 or runs past b, an option is
// malformed, no SGT option is present, or the SGT is 0xFFFF. Options other
// than SGT are skipped, honouring the length field rather than assuming 8.
func (l CMDLayout) Decode(b []byte) (sgt, next uint16, n int, ok bool) {
	base := 0
	if l.NextFirst {
		if len(b) < 2 {
			return 0, 0, 0, false
		}
		next = binary.BigEndian.Uint16(b[0:2])
		base = 2
	}
	if len(b) < base+2 || b[base] != CMDVersion || b[base+1] == 0 {
		return 0, 0, 0, false
	}
	n = int(b[base+1]) * 8
	if n > len(b) {
		return 0, 0, 0, false
	}
	optEnd := n
	if !l.NextFirst {
		optEnd = n - 2
		next = binary.BigEndian.Uint16(b[n-2 : n])
	}
	found := false
	for o := base + 2; o < optEnd; {
		if o+4 > optEnd {
			return 0, 0, 0, false
		}
		lt := binary.BigEndian.Uint16(b[o : o+2])
		// The 3-bit length counts extra 4-octet words; 0 means the usual 4 octets.
		size := 4 + 4*int(lt>>13)
		if o+size > optEnd {
			return 0, 0, 0, false
		}
		if lt&0x1fff == CMDOptTypeSGT && !found {
			sgt = binary.BigEndian.Uint16(b[o+2 : o+4])
			found = true
		}
		o += size
	}
	if !found || sgt == SGTInvalid {
		return 0, 0, 0, false
	}
	if l.NextIsIPProto && next > 0xff {
		return 0, 0, 0, false
	}
	return sgt, next, n, true
}
