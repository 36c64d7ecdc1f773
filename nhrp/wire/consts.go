// Package wire encodes and decodes NHRP packets (RFC 2332) as DMVPN and
// FlexVPN spoke-to-spoke use them: the fixed header, the common mandatory
// part, client information entries (CIEs), the extensions (responder address,
// forward and reverse transit NHS records, authentication, vendor private and
// the Cisco NAT address extension), the Error Indication and the Cisco Traffic
// Indication (type 8, "redirect") that carries the packet that triggered it.
//
// NBMA addresses may be IPv4 or IPv6 (address family 1 or 2) and protocol
// addresses IPv4 or IPv6 (EtherType 0x0800 or 0x86DD), in any combination.
// NSAP and E.164 addresses and subaddresses are not supported and are
// rejected as protocol errors.
//
// Decode validates everything and returns a *ParseError carrying the Error
// Indication code a node should answer with (or CodeNone: drop silently).
// Encode(Decode(b)) reproduces b byte for byte. The package depends on the
// standard library only and never panics on input.
package wire

import "strconv"

// GREProtocol is the GRE protocol type that marks an NHRP payload
// (ETH_P_NHRP); NHRP travels directly in GRE inside the tunnel.
const GREProtocol = 0x2001

// Version is the only NHRP version (ar$op.version) defined, RFC 2332.
const Version = 1

// DefaultHopCount is the hop count a node puts in the packets it originates
// (FRR nhrpd and Cisco use 64); traffic indications use 1.
const DefaultHopCount = 64

// Type is the NHRP packet type, ar$op.type.
type Type uint8

// Packet types, RFC 2332 §5.2 and draft-detienne-dmvpn (Traffic Indication).
const (
	TypeResolutionRequest   Type = 1
	TypeResolutionReply     Type = 2
	TypeRegistrationRequest Type = 3
	TypeRegistrationReply   Type = 4
	TypePurgeRequest        Type = 5
	TypePurgeReply          Type = 6
	TypeErrorIndication     Type = 7
	TypeTrafficIndication   Type = 8
)

var typeNames = [...]string{
	TypeResolutionRequest:   "Resolution Request",
	TypeResolutionReply:     "Resolution Reply",
	TypeRegistrationRequest: "Registration Request",
	TypeRegistrationReply:   "Registration Reply",
	TypePurgeRequest:        "Purge Request",
	TypePurgeReply:          "Purge Reply",
	TypeErrorIndication:     "Error Indication",
	TypeTrafficIndication:   "Traffic Indication",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// IsRequest reports whether t is a request that expects a reply.
func (t Type) IsRequest() bool {
	return t == TypeResolutionRequest || t == TypeRegistrationRequest || t == TypePurgeRequest
}

// AFN is an IANA address family number (ar$afn), the NBMA address family.
type AFN uint16

// NBMA address families.
const (
	AFNIPv4 AFN = 1
	AFNIPv6 AFN = 2
)

// AddrLen returns the length of an address of the family, or 0 if unsupported.
func (a AFN) AddrLen() int {
	switch a {
	case AFNIPv4:
		return 4
	case AFNIPv6:
		return 16
	}
	return 0
}

// Protocol types (ar$pro.type): the EtherType of the protocol addresses.
const (
	ProtoIPv4 uint16 = 0x0800
	ProtoIPv6 uint16 = 0x86DD
)

// ProtoAddrLen returns the length of a protocol address of EtherType pt, or 0.
func ProtoAddrLen(pt uint16) int {
	switch pt {
	case ProtoIPv4:
		return 4
	case ProtoIPv6:
		return 16
	}
	return 0
}

// Flags in the common mandatory part (ar$flags); their meaning depends on the
// packet type.
const (
	// Resolution Request/Reply, RFC 2332 §5.2.1.
	FlagResQ uint16 = 0x8000 // requester is a router
	FlagResA uint16 = 0x4000 // reply is authoritative
	FlagResD uint16 = 0x2000 // destination is stable
	FlagResU uint16 = 0x1000 // unique
	FlagResS uint16 = 0x0800 // source is stable
	// Registration Request/Reply, RFC 2332 §5.2.3.
	FlagRegU uint16 = 0x8000
	// Purge Request, RFC 2332 §5.2.5: no reply wanted.
	FlagPurgeN uint16 = 0x8000
	// FlagNAT is the Cisco flag saying the sender understands the NAT
	// address extension (resolution and registration).
	FlagNAT uint16 = 0x0002
)

// Code is an Error Indication error code (RFC 2332 §5.2.7). CodeNone on a
// ParseError means "drop silently, send nothing".
type Code uint16

// Error Indication codes.
const (
	CodeNone                    Code = 0
	CodeUnrecognizedExtension   Code = 1
	CodeLoopDetected            Code = 3
	CodeProtocolAddrUnreachable Code = 6
	CodeProtocolError           Code = 7
	CodeSDUSizeExceeded         Code = 8
	CodeInvalidExtension        Code = 9
	CodeInvalidReply            Code = 10
	CodeAuthenticationFailure   Code = 11
	CodeHopCountExceeded        Code = 15
)

var codeNames = map[Code]string{
	CodeNone:                    "none",
	CodeUnrecognizedExtension:   "unrecognized extension",
	CodeLoopDetected:            "loop detected",
	CodeProtocolAddrUnreachable: "protocol address unreachable",
	CodeProtocolError:           "protocol error",
	CodeSDUSizeExceeded:         "SDU size exceeded",
	CodeInvalidExtension:        "invalid extension",
	CodeInvalidReply:            "invalid resolution reply",
	CodeAuthenticationFailure:   "authentication failure",
	CodeHopCountExceeded:        "hop count exceeded",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "code " + strconv.Itoa(int(c))
}

// CIECode is a client information entry code (RFC 2332 §5.2.0.1 and the
// per-type tables).
type CIECode uint8

// CIE codes.
const (
	CIESuccess                CIECode = 0
	CIEAdminProhibited        CIECode = 4
	CIEInsufficientResources  CIECode = 5
	CIENoBinding              CIECode = 11
	CIEBindingNonUnique       CIECode = 13
	CIEUniqueAlreadyRegistred CIECode = 14
)

// ExtType is an extension type (14 bits; the compulsory bit is kept apart).
type ExtType uint16

// Extension types, RFC 2332 §5.3 and the Cisco NAT address extension.
const (
	ExtEnd                         ExtType = 0
	ExtResponderAddress            ExtType = 3
	ExtForwardTransitNHS           ExtType = 4
	ExtReverseTransitNHS           ExtType = 5
	ExtAuthentication              ExtType = 7
	ExtVendorPrivate               ExtType = 8
	ExtNATAddress                  ExtType = 9 // Cisco; collides with RFC 2735's Device Capabilities
	extCompulsory                  uint16  = 0x8000
	extUnused                      uint16  = 0x4000
	extTypeMask                    uint16  = 0x3fff
	trafficCodeRedirect            uint16  = 0
	maxPacket                              = 0xffff
	fixedHeaderLen                         = 20
	mandatoryLen                           = 8
	cieLen                                 = 12
	extHeaderLen                           = 4
	tlLengthMask                           = 0x3f
	tlTypeE164                             = 0x40
	shtlReservedBit                        = 0x80
	afnOffset                              = 0
	protoTypeOffset                        = 2
	snapOffset                             = 4
	hopCountOffset                         = 9
	pktSzOffset                            = 10
	checksumOffset                         = 12
	extOffOffset                           = 14
	versionOffset                          = 16
	typeOffset                             = 17
	shtlOffset                             = 18
	sstlOffset                             = 19
	defaultTrafficIndicationHopCnt         = 1
)

// TrafficCodeRedirect is the only Traffic Indication code defined: "NHRP
// traffic redirect/indirection".
const TrafficCodeRedirect = trafficCodeRedirect

// TrafficIndicationHopCount is the hop count of a traffic indication: it goes
// to the neighbouring spoke only.
const TrafficIndicationHopCount = defaultTrafficIndicationHopCnt
