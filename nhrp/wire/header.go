package wire

import "encoding/binary"

// Header is a view of the 20-byte NHRP fixed header (RFC 2332 §5.1). It does
// not copy: setters write through to the underlying packet. Call Valid (or
// Decode) before trusting the accessors on bytes from the wire.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            ar$afn             |          ar$pro.type          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          ar$pro.snap                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  ar$pro.snap  |   ar$hopcnt   |            ar$pktsz           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           ar$chksum           |            ar$extoff          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| ar$op.version |   ar$op.type  |    ar$shtl    |    ar$sstl    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Header []byte

// HeaderLen is the size of the fixed header.
const HeaderLen = fixedHeaderLen

// Valid reports whether h is long enough to hold a fixed header and its
// ar$pktsz fits in h. It checks neither the checksum nor the contents.
func (h Header) Valid() bool {
	return len(h) >= HeaderLen && int(h.PktSz()) >= HeaderLen && int(h.PktSz()) <= len(h)
}

// AFN returns ar$afn, the NBMA address family.
func (h Header) AFN() AFN { return AFN(binary.BigEndian.Uint16(h[afnOffset:])) }

// ProType returns ar$pro.type, the protocol address EtherType.
func (h Header) ProType() uint16 { return binary.BigEndian.Uint16(h[protoTypeOffset:]) }

// ProSNAP returns ar$pro.snap (zero for EtherType-coded protocols); it aliases h.
func (h Header) ProSNAP() []byte { return h[snapOffset : snapOffset+5] }

// HopCount returns ar$hopcnt.
func (h Header) HopCount() uint8 { return h[hopCountOffset] }

// SetHopCount sets ar$hopcnt; the checksum must be updated afterwards.
func (h Header) SetHopCount(v uint8) { h[hopCountOffset] = v }

// PktSz returns ar$pktsz, the packet length from the fixed header on.
func (h Header) PktSz() uint16 { return binary.BigEndian.Uint16(h[pktSzOffset:]) }

// Checksum returns ar$chksum.
func (h Header) Checksum() uint16 { return binary.BigEndian.Uint16(h[checksumOffset:]) }

// ExtOff returns ar$extoff, the offset of the first extension (0: none).
func (h Header) ExtOff() uint16 { return binary.BigEndian.Uint16(h[extOffOffset:]) }

// Version returns ar$op.version.
func (h Header) Version() uint8 { return h[versionOffset] }

// Type returns ar$op.type.
func (h Header) Type() Type { return Type(h[typeOffset]) }

// SHTL returns ar$shtl, the source NBMA address type and length.
func (h Header) SHTL() uint8 { return h[shtlOffset] }

// SSTL returns ar$sstl, the source NBMA subaddress type and length.
func (h Header) SSTL() uint8 { return h[sstlOffset] }

// ChecksumOK reports whether the checksum over the first PktSz bytes verifies.
// h must be Valid.
func (h Header) ChecksumOK() bool {
	return Checksum(h[:h.PktSz()]) == 0
}

// UpdateChecksum recomputes ar$chksum over the first PktSz bytes, for example
// after SetHopCount on a packet being forwarded. h must be Valid.
func (h Header) UpdateChecksum() {
	b := h[:h.PktSz()]
	b[checksumOffset], b[checksumOffset+1] = 0, 0
	binary.BigEndian.PutUint16(b[checksumOffset:], Checksum(b))
}

// Checksum returns the Internet checksum (RFC 1071) of b, padding an odd
// length with a zero byte. Over a packet whose checksum field is correct it
// returns 0.
func Checksum(b []byte) uint16 {
	var sum uint32
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
