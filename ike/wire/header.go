package wire

import "encoding/binary"

// HeaderLen is the size of the IKE header (RFC 7296 §3.1).
const HeaderLen = 28

// MaxMessageLen is the largest message the decoder accepts. IKE messages are
// UDP datagrams; RFC 7296 allows up to 2^32-1 in the Length field, but
// nothing fits in a datagram beyond 64 KiB.
const MaxMessageLen = 65535

// Header is the decoded IKE header (RFC 7296 §3.1):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       IKE SA Initiator's SPI                  |
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       IKE SA Responder's SPI                  |
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Message ID                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                            Length                             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// NextPayload and Length are filled in by the encoder; when encoding a
// Message their values here are ignored.
type Header struct {
	SPIi         uint64
	SPIr         uint64
	NextPayload  PayloadType
	MajorVersion uint8 // 2 for IKEv2; the encoder writes 2 when zero
	MinorVersion uint8
	Exchange     ExchangeType
	Flags        uint8 // FlagInitiator, FlagResponse, FlagVersion
	MessageID    uint32
	Length       uint32
}

// IsResponse reports whether the R flag is set.
func (h *Header) IsResponse() bool { return h.Flags&FlagResponse != 0 }

// IsInitiator reports whether the I flag is set (the sender is the original
// initiator of the IKE SA).
func (h *Header) IsInitiator() bool { return h.Flags&FlagInitiator != 0 }

// HeaderBytes is a view of the first HeaderLen bytes of an IKE message, for
// demultiplexing a datagram by SPI or message ID before decoding it. The
// accessors do not check the length; call Valid first.
type HeaderBytes []byte

// Valid reports whether b is long enough to hold an IKE header.
func (b HeaderBytes) Valid() bool { return len(b) >= HeaderLen }

// InitiatorSPI returns the IKE SA initiator's SPI.
func (b HeaderBytes) InitiatorSPI() uint64 { return binary.BigEndian.Uint64(b[0:8]) }

// ResponderSPI returns the IKE SA responder's SPI.
func (b HeaderBytes) ResponderSPI() uint64 { return binary.BigEndian.Uint64(b[8:16]) }

// NextPayload returns the type of the first payload.
func (b HeaderBytes) NextPayload() PayloadType { return PayloadType(b[16]) }

// MajorVersion returns the major version (2 for IKEv2).
func (b HeaderBytes) MajorVersion() uint8 { return b[17] >> 4 }

// MinorVersion returns the minor version.
func (b HeaderBytes) MinorVersion() uint8 { return b[17] & 0x0f }

// ExchangeType returns the exchange type.
func (b HeaderBytes) ExchangeType() ExchangeType { return ExchangeType(b[18]) }

// Flags returns the flags octet.
func (b HeaderBytes) Flags() uint8 { return b[19] }

// MessageID returns the message ID.
func (b HeaderBytes) MessageID() uint32 { return binary.BigEndian.Uint32(b[20:24]) }

// Length returns the total message length the header claims.
func (b HeaderBytes) Length() uint32 { return binary.BigEndian.Uint32(b[24:28]) }

// SetLength writes the Length field.
func (b HeaderBytes) SetLength(n uint32) { binary.BigEndian.PutUint32(b[24:28], n) }

// DecodeHeader decodes and validates the IKE header at the start of b. It
// checks the version (INVALID_MAJOR_VERSION for anything but 2; RFC 7296
// §2.5 says to answer only a higher version, and to drop the message) and that Length covers at least the
// header and at most len(b); it does not require Length == len(b), so it can
// be used on a datagram prefix. Unknown flag bits are ignored as RFC 7296
// §3.1 requires.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, syntaxErr(0, "message shorter than the IKE header (%d bytes)", len(b))
	}
	v := HeaderBytes(b)
	h := Header{
		SPIi:         v.InitiatorSPI(),
		SPIr:         v.ResponderSPI(),
		NextPayload:  v.NextPayload(),
		MajorVersion: v.MajorVersion(),
		MinorVersion: v.MinorVersion(),
		Exchange:     v.ExchangeType(),
		Flags:        v.Flags() & (FlagInitiator | FlagResponse | FlagVersion),
		MessageID:    v.MessageID(),
		Length:       v.Length(),
	}
	if h.MajorVersion != 2 {
		// RFC 7296 §3.10.1: the answer carries no data; the version we
		// support goes in the answer's header.
		return h, &Error{Notify: NotifyInvalidMajorVersion, Offset: 17, Reason: "unsupported IKE major version"}
	}
	if h.Length < HeaderLen {
		return h, syntaxErr(24, "header length %d shorter than the header", h.Length)
	}
	if int64(h.Length) > int64(len(b)) {
		return h, syntaxErr(24, "header length %d exceeds the %d bytes received", h.Length, len(b))
	}
	return h, nil
}

// AppendHeader appends the 28-byte encoding of h to dst.
func AppendHeader(dst []byte, h *Header) []byte {
	maj := h.MajorVersion
	if maj == 0 {
		maj = 2
	}
	dst = binary.BigEndian.AppendUint64(dst, h.SPIi)
	dst = binary.BigEndian.AppendUint64(dst, h.SPIr)
	dst = append(dst, byte(h.NextPayload), maj<<4|h.MinorVersion&0x0f, byte(h.Exchange), h.Flags)
	dst = binary.BigEndian.AppendUint32(dst, h.MessageID)
	dst = binary.BigEndian.AppendUint32(dst, h.Length)
	return dst
}
