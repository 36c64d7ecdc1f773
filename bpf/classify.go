// Package bpf holds esphub's XDP steering programs (steer.c, compiled with
// bpf2go and committed), a typed loader that hides the generated names, and a
// pure-Go reference classifier that states, in plain code, what the programs
// decide for every frame.
//
// Two programs exist. The WAN program runs on underlay interfaces and sends
// ESP (IP protocol 50) and ESP-in-UDP (RFC 3948: the NAT-T port with a
// non-zero first word) to the AF_XDP socket of the receive queue, and lets
// IKE, NAT-T keepalives, fragments and everything else through to the kernel.
// The LAN program runs on overlay-facing interfaces and sends packets whose
// destination lies in one of the interface VRF's protected prefixes to the
// AF_XDP socket; everything else goes to the kernel.
//
// Layout and limits: one loaded Steering serves up to MaxInterfaces
// interfaces with up to MaxQueues receive queues each. Each attached
// interface has a slot; the XSKMAP index of its queue q is slot*MaxQueues+q,
// so the same queue number on two interfaces reaches two different sockets.
// Protected prefixes live in two LPM tries (IPv4, IPv6) whose keys start
// with the 32-bit VRF, so one lookup answers "is this destination protected
// in this VRF". Every verdict has a per-CPU packet and byte counter.
//
// Frames are parsed as untagged Ethernet II: a VLAN-tagged frame is
// PassOther (attach to the VLAN device instead). The programs are built as
// xdp.frags so that they attach to devices with jumbo MTUs, but they decide
// on the first buffer only, and an AF_XDP socket bound without XDP_USE_SG
// drops multi-buffer frames (counted in its rx_dropped).
//
// The generated steer_bpfel.go and steer_bpfel.o are committed; only `make
// generate` needs clang. The libbpf headers in headers/ are vendored from
// libbpf 1.1.2 (see headers/README.md).
package bpf

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Verdict is the classification the steering programs make for a frame. The
// numeric values are the index of the per-CPU counter in the BPF program and
// must match enum verdict in steer.c.
type Verdict uint32

// Verdicts. The Pass* verdicts leave the frame to the kernel (XDP_PASS); the
// others send it to the AF_XDP socket bound to the receive queue.
const (
	PassOther       Verdict = iota // not IPv4/IPv6, or a protocol we do not steer
	PassIKE                        // UDP to the IKE port, or the NAT-T port with the non-ESP marker
	PassKeepalive                  // NAT-T keepalive: one byte 0xFF to the NAT-T port (RFC 3948 §2.3)
	PassFragment                   // WAN: an IPv4 or IPv6 fragment; the kernel reassembles it
	PassMalformed                  // truncated or inconsistent headers
	PassUnprotected                // LAN: destination not in a protected prefix
	PassLocal                      // LAN: multicast, broadcast, IPv6 link-local or a local prefix
	ESP                            // WAN: IP protocol 50
	ESPInUDP                       // WAN: UDP to the NAT-T port with a non-zero first word
	Protected                      // LAN: destination in a protected prefix of the interface's VRF

	// NoSocket is not a classification: the programs count it in addition
	// to ESP, ESPInUDP or Protected when no AF_XDP socket is bound for the
	// interface and queue, and the frame then goes to the kernel.
	NoSocket

	numCounters
)

// NumVerdicts is the number of counters the programs keep (the verdicts and NoSocket).
const NumVerdicts = int(numCounters)

var verdictNames = [...]string{
	PassOther:       "pass-other",
	PassIKE:         "pass-ike",
	PassKeepalive:   "pass-keepalive",
	PassFragment:    "pass-fragment",
	PassMalformed:   "pass-malformed",
	PassUnprotected: "pass-unprotected",
	PassLocal:       "pass-local",
	ESP:             "esp",
	ESPInUDP:        "esp-in-udp",
	Protected:       "protected",
	NoSocket:        "no-socket",
}

// String returns the verdict's name as shown in counters and JSON.
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", uint32(v))
}

// Steered reports whether the verdict sends the frame to an AF_XDP socket.
func (v Verdict) Steered() bool { return v == ESP || v == ESPInUDP || v == Protected }

// Ports are the UDP ports the WAN classification uses.
type Ports struct {
	IKE  uint16 // 500 unless configured otherwise
	NATT uint16 // 4500 unless configured otherwise
}

// DefaultPorts are the IANA IKE ports.
var DefaultPorts = Ports{IKE: 500, NATT: 4500}

const (
	ethHeaderLen  = 14
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	ipv6HeaderLen = 40
	udpHeaderLen  = 8

	protoHopOpts  = 0
	protoUDP      = 17
	protoRouting  = 43
	protoFragment = 44
	protoESP      = 50
	protoDstOpts  = 60

	maxExtHeaders = 4
)

// ClassifyWAN returns the WAN program's verdict for an Ethernet frame. It is
// the reference for xdp_wan; it never panics and does not allocate.
func ClassifyWAN(frame []byte, ports Ports) Verdict {
	if len(frame) < ethHeaderLen {
		return PassMalformed
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherTypeIPv4:
		ip := frame[ethHeaderLen:]
		if len(ip) < 20 {
			return PassMalformed
		}
		ihl := int(ip[0] & 0x0f)
		if ip[0]>>4 != 4 || ihl < 5 {
			return PassMalformed
		}
		if int(binary.BigEndian.Uint16(ip[2:4])) < ihl*4 {
			return PassMalformed
		}
		if len(ip) < ihl*4 {
			return PassMalformed
		}
		if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
			return PassFragment
		}
		return classifyL4(ip[9], ip[ihl*4:], ports)
	case etherTypeIPv6:
		ip := frame[ethHeaderLen:]
		if len(ip) < ipv6HeaderLen {
			return PassMalformed
		}
		if ip[0]>>4 != 6 {
			return PassMalformed
		}
		nh := ip[6]
		off := ipv6HeaderLen
		for range maxExtHeaders {
			if nh == protoFragment {
				return PassFragment
			}
			if !isIPv6ExtHeader(nh) {
				break
			}
			if len(ip) < off+2 {
				return PassMalformed
			}
			nh = ip[off]
			off += (int(ip[off+1]) + 1) * 8
		}
		if nh == protoFragment {
			return PassFragment
		}
		if isIPv6ExtHeader(nh) {
			return PassOther
		}
		if off > len(ip) {
			return PassMalformed
		}
		return classifyL4(nh, ip[off:], ports)
	}
	return PassOther
}

func isIPv6ExtHeader(nh byte) bool {
	return nh == protoHopOpts || nh == protoRouting || nh == protoDstOpts
}

func classifyL4(proto byte, l4 []byte, ports Ports) Verdict {
	switch proto {
	case protoESP:
		if len(l4) < 8 {
			return PassMalformed
		}
		return ESP
	case protoUDP:
		return classifyUDP(l4, ports)
	}
	return PassOther
}

func classifyUDP(udp []byte, ports Ports) Verdict {
	if len(udp) < udpHeaderLen {
		return PassMalformed
	}
	dport := binary.BigEndian.Uint16(udp[2:4])
	if dport == ports.IKE {
		return PassIKE
	}
	if dport != ports.NATT {
		return PassOther
	}
	// The UDP length, not the frame length, decides: Ethernet pads short
	// frames with zeros that would otherwise look like a marker.
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < udpHeaderLen {
		return PassMalformed
	}
	payload := udp[udpHeaderLen:]
	plen := ulen - udpHeaderLen
	if plen < 4 {
		if plen == 1 && len(payload) >= 1 && payload[0] == 0xff {
			return PassKeepalive
		}
		return PassMalformed
	}
	if len(payload) < 4 {
		return PassMalformed
	}
	if binary.BigEndian.Uint32(payload[:4]) == 0 {
		return PassIKE
	}
	return ESPInUDP
}

// ProtectedPrefix is a destination prefix whose traffic, arriving on a LAN
// interface of VRF VRF, is steered to the dataplane for encryption. The same
// type lists local prefixes, which stay with the kernel.
type ProtectedPrefix struct {
	VRF    uint32
	Prefix netip.Prefix
}

// LANTables are the prefix sets the LAN program consults.
type LANTables struct {
	// Protected destinations are steered to the dataplane.
	Protected []ProtectedPrefix
	// Local destinations (the router's own addresses, or anything that
	// must never enter a tunnel) go to the kernel even when a protected
	// prefix, such as a default route over a tunnel, covers them.
	Local []ProtectedPrefix
}

func contains(set []ProtectedPrefix, vrf uint32, a netip.Addr) bool {
	for _, p := range set {
		if p.VRF == vrf && p.Prefix.Contains(a) {
			return true
		}
	}
	return false
}

// ClassifyLAN returns the LAN program's verdict for an Ethernet frame that
// arrived on an interface of the given VRF. The order of the checks is the
// contract: multicast, broadcast and IPv6 link-local destinations first, then
// local prefixes, then protected prefixes. Longest-match semantics do not
// change a membership answer, so a linear scan is an exact reference. It
// never panics and does not allocate.
func ClassifyLAN(frame []byte, vrf uint32, t *LANTables) Verdict {
	if len(frame) < ethHeaderLen {
		return PassMalformed
	}
	var dst netip.Addr
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherTypeIPv4:
		ip := frame[ethHeaderLen:]
		if len(ip) < 20 {
			return PassMalformed
		}
		if ip[0]>>4 != 4 || ip[0]&0x0f < 5 {
			return PassMalformed
		}
		dst = netip.AddrFrom4([4]byte(ip[16:20]))
		if dst.IsMulticast() || dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return PassLocal
		}
	case etherTypeIPv6:
		ip := frame[ethHeaderLen:]
		if len(ip) < ipv6HeaderLen {
			return PassMalformed
		}
		if ip[0]>>4 != 6 {
			return PassMalformed
		}
		dst = netip.AddrFrom16([16]byte(ip[24:40]))
		if ip[24] == 0xff || (ip[24] == 0xfe && ip[25]&0xc0 == 0x80) {
			return PassLocal
		}
	default:
		return PassOther
	}
	if contains(t.Local, vrf, dst) {
		return PassLocal
	}
	if contains(t.Protected, vrf, dst) {
		return Protected
	}
	return PassUnprotected
}
