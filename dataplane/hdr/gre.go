package hdr

import "encoding/binary"

// GRE flag bits in the first byte (RFC 2784, RFC 2890).
const (
	GREFlagChecksum = 0x80
	GREFlagKey      = 0x20
	GREFlagSeq      = 0x10
)

// GREMinLen is the size of a GRE header without optional fields.
const GREMinLen = 4

// GRE is a view of a GRE header (RFC 2784 with the RFC 2890 key and
// sequence number extensions):
//
//	|C| |K|S| Reserved0       | Ver |         Protocol Type         |
//	|      Checksum (optional)      |       Reserved1 (Optional)    |
//	|                         Key (optional)                        |
//	|                 Sequence Number (Optional)                    |
type GRE []byte

// HeaderLen returns the header length implied by the flags.
func (b GRE) HeaderLen() int {
	n := GREMinLen
	if b[0]&GREFlagChecksum != 0 {
		n += 4
	}
	if b[0]&GREFlagKey != 0 {
		n += 4
	}
	if b[0]&GREFlagSeq != 0 {
		n += 4
	}
	return n
}

// Valid reports whether b holds a version-0 GRE header with no reserved
// flags set (RFC 2784 §2.5: a receiver discards them) and all optional fields
// its flags announce.
func (b GRE) Valid() bool {
	if len(b) < GREMinLen {
		return false
	}
	if b[0]&0x4f != 0 || b[1] != 0 { // routing bit, strict source route, recursion, reserved0, version
		return false
	}
	return len(b) >= b.HeaderLen()
}

// Protocol returns the protocol type (an EtherType).
func (b GRE) Protocol() uint16 { return binary.BigEndian.Uint16(b[2:4]) }

// HasChecksum reports whether the C bit is set.
func (b GRE) HasChecksum() bool { return b[0]&GREFlagChecksum != 0 }

// HasKey reports whether the K bit is set.
func (b GRE) HasKey() bool { return b[0]&GREFlagKey != 0 }

// HasSeq reports whether the S bit is set.
func (b GRE) HasSeq() bool { return b[0]&GREFlagSeq != 0 }

func (b GRE) keyOff() int {
	if b.HasChecksum() {
		return 8
	}
	return 4
}

// Key returns the key field; it is 0 when HasKey is false.
func (b GRE) Key() uint32 {
	if !b.HasKey() {
		return 0
	}
	o := b.keyOff()
	return binary.BigEndian.Uint32(b[o : o+4])
}

// Seq returns the sequence number; it is 0 when HasSeq is false.
func (b GRE) Seq() uint32 {
	if !b.HasSeq() {
		return 0
	}
	o := b.keyOff()
	if b.HasKey() {
		o += 4
	}
	return binary.BigEndian.Uint32(b[o : o+4])
}

// ChecksumValid reports whether the checksum over header and payload
// verifies; it is true when the C bit is clear.
func (b GRE) ChecksumValid() bool { return !b.HasChecksum() || Checksum(b, 0) == 0xffff }

// Payload returns the bytes after the header; it aliases b.
func (b GRE) Payload() []byte { return b[b.HeaderLen():] }

// GREOptions selects the optional fields EncodeGRE writes.
type GREOptions struct {
	Key    uint32
	HasKey bool
	Seq    uint32
	HasSeq bool
}

// Len returns the header length these options produce (no checksum).
func (o GREOptions) Len() int {
	n := GREMinLen
	if o.HasKey {
		n += 4
	}
	if o.HasSeq {
		n += 4
	}
	return n
}

// EncodeGRE writes a GRE header for proto with the options into b and
// returns its length. b must be at least o.Len() bytes.
func EncodeGRE(b []byte, proto uint16, o GREOptions) int {
	b[0], b[1] = 0, 0
	binary.BigEndian.PutUint16(b[2:4], proto)
	n := 4
	if o.HasKey {
		b[0] |= GREFlagKey
		binary.BigEndian.PutUint32(b[n:n+4], o.Key)
		n += 4
	}
	if o.HasSeq {
		b[0] |= GREFlagSeq
		binary.BigEndian.PutUint32(b[n:n+4], o.Seq)
		n += 4
	}
	return n
}
