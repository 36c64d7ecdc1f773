package hdr

import "encoding/binary"

// EtherType values the dataplane recognises.
const (
	EtherTypeIPv4 uint16 = 0x0800
	EtherTypeIPv6 uint16 = 0x86DD
	EtherTypeMPLS uint16 = 0x8847 // MPLS unicast (RFC 3032, RFC 4023 in GRE)
	EtherTypeCMD  uint16 = 0x8909 // Cisco Meta Data (SGT inline tagging)
	EtherTypeNHRP uint16 = 0x2001 // NHRP carried in GRE (FRR ETH_P_NHRP)
)

// EthernetLen is the size of an untagged Ethernet II header.
const EthernetLen = 14

// Ethernet is a view of an Ethernet II header:
//
//	| dst MAC (6) | src MAC (6) | EtherType (2) |
type Ethernet []byte

// Valid reports whether e is long enough to hold the header.
func (e Ethernet) Valid() bool { return len(e) >= EthernetLen }

// Dst returns the destination MAC; the slice aliases e.
func (e Ethernet) Dst() []byte { return e[0:6] }

// Src returns the source MAC; the slice aliases e.
func (e Ethernet) Src() []byte { return e[6:12] }

// EtherType returns the type field.
func (e Ethernet) EtherType() uint16 { return binary.BigEndian.Uint16(e[12:14]) }

// SetEtherType sets the type field.
func (e Ethernet) SetEtherType(t uint16) { binary.BigEndian.PutUint16(e[12:14], t) }

// Payload returns the bytes after the header; the slice aliases e.
func (e Ethernet) Payload() []byte { return e[EthernetLen:] }
