package hdr

import "encoding/binary"

// ESPLen is the size of the ESP header (SPI and sequence number).
const ESPLen = 8

// ESP is a view of an ESP header (RFC 4303 §2):
//
//	|               Security Parameters Index (SPI)                 |
//	|                      Sequence Number                          |
//	|                    Payload Data* (variable)                   |
type ESP []byte

// Valid reports whether b holds the header and a non-zero SPI (SPI 0 is
// reserved and, after UDP 4500, marks IKE).
func (b ESP) Valid() bool { return len(b) >= ESPLen && b.SPI() != 0 }

// SPI returns the security parameters index.
func (b ESP) SPI() uint32 { return binary.BigEndian.Uint32(b[0:4]) }

// Seq returns the (low 32 bits of the) sequence number.
func (b ESP) Seq() uint32 { return binary.BigEndian.Uint32(b[4:8]) }

// SetSPI sets the SPI.
func (b ESP) SetSPI(s uint32) { binary.BigEndian.PutUint32(b[0:4], s) }

// SetSeq sets the sequence number field.
func (b ESP) SetSeq(s uint32) { binary.BigEndian.PutUint32(b[4:8], s) }
