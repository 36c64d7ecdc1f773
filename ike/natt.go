package ike

import (
	"bytes"
	"crypto/hmac"
	"net/netip"
	"slices"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

// Vendor IDs Cisco IOS sends and recognises; Cisco's IKEv2 vendor IDs are
// plain ASCII strings (wire-formats.md §1.4).
var (
	VendorFlexVPNSupported  = []byte("FLEXVPN-SUPPORTED")
	VendorCiscoDeleteReason = []byte("CISCO-DELETE-REASON")
	VendorCiscoDynamicRoute = []byte("CISCO-DYNAMIC-ROUTE")
)

var knownVendorIDs = [][]byte{VendorFlexVPNSupported, VendorCiscoDeleteReason, VendorCiscoDynamicRoute}

// VendorIDPolicy is implemented by a Policy that adds Vendor IDs to the
// IKE_SA_INIT responses we send, before any profile is chosen (e.g. Cisco
// CISCO-CTS-SGT, which a global setting turns on). It is called from the
// engine goroutine and must not block. An initiator sends its profile's
// VendorIDs instead.
type VendorIDPolicy interface {
	ResponderVendorIDs(local, remote netip.AddrPort) [][]byte
}

// ourVendorIDs returns the Vendor ID payloads of an IKE_SA_INIT message sa
// sends (with p as its profile, nil for a responder) and records their data
// in sa.localVendorIDs.
func (e *Engine) ourVendorIDs(sa *ikeSA, p *Profile) []wire.Payload {
	var ps []wire.Payload
	var ours [][]byte
	if !e.cfg.DisableCiscoVendorIDs {
		ours = knownVendorIDs[:len(knownVendorIDs):len(knownVendorIDs)]
	}
	if p != nil {
		ours = append(ours, p.VendorIDs...)
	} else if vp, ok := e.cfg.Policy.(VendorIDPolicy); ok {
		for _, v := range vp.ResponderVendorIDs(sa.local, sa.remote) {
			ours = append(ours, bytes.Clone(v))
		}
	}
	for _, v := range ours {
		ps = append(ps, &wire.VendorID{Data: v})
	}
	sa.localVendorIDs = e.vendorIDs.intern(ours)
	return ps
}

// vidCache shares Vendor ID lists between IKE SAs: a hub's spokes mostly
// run the same software, so their lists (and ours to them) repeat, and
// each SA keeping its own copy cost a few hundred bytes per idle session.
// The lists are read-only once interned. Owned by the Run goroutine.
type vidCache struct {
	lists [][][]byte // the most recently interned lists, newest last
}

// intern returns a shared list equal to vs (nil for none), keeping vs if
// it is new. vs must not be changed afterwards.
func (c *vidCache) intern(vs [][]byte) [][]byte {
	if len(vs) == 0 {
		return nil
	}
	for _, l := range c.lists {
		if slices.EqualFunc(l, vs, bytes.Equal) {
			return l
		}
	}
	vs = slices.Clip(vs)
	if len(c.lists) == 8 {
		copy(c.lists, c.lists[1:])
		c.lists = c.lists[:7]
	}
	c.lists = append(c.lists, vs)
	return vs
}

// reportVendorIDs hands the peer's unknown Vendor IDs to the caller.
// The list kept is shared (vidCache) and holds copies, not views of the
// message.
func (sa *ikeSA) reportVendorIDs(vs [][]byte) {
	if len(vs) == 0 {
		return
	}
	all := make([][]byte, 0, len(sa.peerVendorIDs)+len(vs))
	all = append(all, sa.peerVendorIDs...)
	var unknown [][]byte
	for _, v := range vs {
		i := slices.IndexFunc(knownVendorIDs, func(k []byte) bool { return bytes.Equal(v, k) })
		if i >= 0 {
			all = append(all, knownVendorIDs[i])
			continue
		}
		v = bytes.Clone(v)
		all = append(all, v)
		unknown = append(unknown, v)
	}
	sa.peerVendorIDs = sa.e.vendorIDs.intern(all)
	for _, v := range unknown {
		sa.e.emit(Event{Kind: EventVendorID, IKE: sa.info(), Data: v})
	}
}

// natdPayloads returns our NAT_DETECTION_SOURCE_IP and _DESTINATION_IP
// notifies (RFC 7296 §2.23). With force set the source hash is garbage, so
// the peer sees a NAT and both sides UDP-encapsulate ESP.
func (e *Engine) natdPayloads(spii, spir uint64, local, remote netip.AddrPort, force bool) []wire.Payload {
	src := suite.NATDetectionHash(spii, spir, local)
	if force {
		src = make([]byte, len(src))
		_, _ = e.rand.Read(src)
	}
	return []wire.Payload{
		notify(wire.NotifyNATDetectionSourceIP, src),
		notify(wire.NotifyNATDetectionDestinationIP, suite.NATDetectionHash(spii, spir, remote)),
	}
}

// checkNATD compares the peer's NAT detection hashes with the addresses the
// message actually had. It returns whether each side is behind a NAT, and
// ok=false when the peer sent no NAT detection (no NAT-T support).
func checkNATD(m *inMessage, spii, spir uint64) (natLocal, natRemote, ok bool) {
	srcWant := suite.NATDetectionHash(spii, spir, m.remote)
	dstWant := suite.NATDetectionHash(spii, spir, m.local)
	var srcSeen, srcMatch, dstSeen, dstMatch bool
	for _, p := range m.payloads {
		n, isN := p.(*wire.Notify)
		if !isN {
			continue
		}
		switch n.NotifyType {
		case wire.NotifyNATDetectionSourceIP:
			srcSeen = true
			if hmac.Equal(n.Data, srcWant) {
				srcMatch = true
			}
		case wire.NotifyNATDetectionDestinationIP:
			dstSeen = true
			if hmac.Equal(n.Data, dstWant) {
				dstMatch = true
			}
		}
	}
	if !srcSeen || !dstSeen {
		return false, false, false
	}
	return !dstMatch, !srcMatch, true
}

// floatTo4500 moves the SA's IKE traffic to the NAT-T port (RFC 7296
// §2.23): from IKE_AUTH on, both ends use 4500 with the non-ESP marker.
func (sa *ikeSA) floatTo4500() {
	if sa.local.Port() == wire.PortIKE {
		sa.local = netip.AddrPortFrom(sa.local.Addr(), wire.PortNATT)
	}
	if sa.remote.Port() == wire.PortIKE {
		sa.remote = netip.AddrPortFrom(sa.remote.Addr(), wire.PortNATT)
	}
}

// KeepaliveSender is implemented by transports that can send NAT keepalives
// (RFC 3948 §2.3), such as transport.UDP.
type KeepaliveSender interface {
	SendKeepalive(local, remote netip.AddrPort) error
}
