package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/esphub/esphub/dataplane/hdr"
)

// TunnelID names a tunnel (a virtual-access or tunnel interface).
type TunnelID uint32

// Mode is a tunnel's encapsulation.
type Mode uint8

// Tunnel modes, as FlexVPN's "tunnel mode" configures them.
const (
	// ModeGRE is GRE over transport-mode ESP between the tunnel endpoints
	// ("tunnel mode gre ip/ipv6" with tunnel protection): the only mode
	// that carries MPLS and NHRP.
	ModeGRE Mode = iota + 1
	// ModeIPsec is tunnel-mode ESP ("tunnel mode ipsec ipv4/ipv6"); inner
	// and outer families may differ (any-to-any).
	ModeIPsec
)

func (m Mode) String() string {
	switch m {
	case ModeGRE:
		return "gre"
	case ModeIPsec:
		return "ipsec"
	}
	return "mode?"
}

// MaxInboundSAs is how many inbound SAs a tunnel keeps at once, so that the
// old SAs keep receiving while a rekey (or two) completes: make-before-break.
const MaxInboundSAs = 4

// TunnelConfig describes a tunnel's underlay and encapsulation.
type TunnelConfig struct {
	ID   TunnelID
	Mode Mode
	// Local and Remote are the underlay endpoints; both IPv4 or both IPv6.
	Local, Remote netip.Addr
	// Encap selects ESP in UDP (NAT-T, RFC 3948) with these ports
	// (4500/4500 when zero).
	Encap                 bool
	LocalPort, RemotePort uint16
	// VRF is the overlay VRF of the tunnel interface: where unlabelled
	// inbound traffic is routed.
	VRF uint32
	// GREKey, when HasGREKey, is sent and required on receive (ModeGRE).
	GREKey    uint32
	HasGREKey bool
	// NetworkID is the NHRP network-id; tunnels with the same non-zero ID
	// are one DMVPN cloud, and traffic hairpinning between them is reported.
	NetworkID uint32
	// TTL of the outer header; 64 when zero.
	TTL uint8
	// MTU is the largest outer packet the underlay path carries (0: no
	// check). An inner packet that would not fit and may not be fragmented
	// (IPv4 with DF, any IPv6) is dropped, and when it came from the host
	// side an ICMP "fragmentation needed" / ICMPv6 "packet too big" naming
	// the tunnel's inner MTU goes back to its sender, from ICMPSource4 or
	// ICMPSource6 (the tunnel interface's addresses; no error without one).
	MTU                      int
	ICMPSource4, ICMPSource6 netip.Addr
	// SGT, when non-zero, is the security group tag of traffic received on
	// the tunnel (IOS: cts manual / policy static sgt N [trusted]). It
	// replaces the tags peers send unless TrustSGT is set, and classifies
	// untagged traffic either way.
	SGT      uint16
	TrustSGT bool
}

func (c *TunnelConfig) validate() error {
	if c.ID == 0 {
		return errors.New("tunnel id 0 is reserved")
	}
	if c.Mode != ModeGRE && c.Mode != ModeIPsec {
		return fmt.Errorf("tunnel %d: mode not set", c.ID)
	}
	if c.SGT == hdr.SGTInvalid {
		return fmt.Errorf("tunnel %d: sgt 65535 is reserved", c.ID)
	}
	c.Local, c.Remote = c.Local.Unmap(), c.Remote.Unmap()
	if !c.Local.IsValid() || !c.Remote.IsValid() || c.Local.Is4() != c.Remote.Is4() {
		return fmt.Errorf("tunnel %d: local %v and remote %v must be addresses of one family", c.ID, c.Local, c.Remote)
	}
	if c.Encap {
		if c.LocalPort == 0 {
			c.LocalPort = 4500
		}
		if c.RemotePort == 0 {
			c.RemotePort = 4500
		}
	}
	if !c.HasGREKey {
		c.GREKey = 0
	}
	if c.TTL == 0 {
		c.TTL = 64
	}
	return nil
}

// tunnel is a tunnel's runtime state. cfg is immutable; the outbound SA
// pointer is swapped atomically on rekey.
type tunnel struct {
	cfg    TunnelConfig
	local  netip.AddrPort
	remote netip.AddrPort
	outer  hdr.Outer // the outer IP (and UDP) header, built once
	out    atomic.Pointer[SA]
	// Counters of traffic by direction, independent of SA rekeys.
	txPackets, txBytes atomic.Uint64
	rxPackets, rxBytes atomic.Uint64
}

// TunnelStats is a snapshot of a tunnel's state and counters.
type TunnelStats struct {
	Config             TunnelConfig
	OutboundSPI        uint32
	InboundSPIs        []uint32
	TxPackets, TxBytes uint64
	RxPackets, RxBytes uint64
}
