package nhrp

import (
	"encoding/binary"
	"net/netip"

	"github.com/esphub/esphub/nhrp/wire"
)

type redirectKey struct{ src, dst netip.Addr }

// Hairpin is the dataplane's report that a packet came in on tunnel in and
// went out on tunnel out (the hub forwarding spoke to spoke). If both are in
// the same network-id and redirect is configured, the Node sends a traffic
// indication to the source spoke, at most once per source/destination pair
// per redirect timeout. pkt is the inner IP packet (at least its header); it
// is not retained. The dataplane should rate-limit these events itself; the
// Node's limit is the one the operator configures.
func (n *Node) Hairpin(in, out string, pkt []byte) {
	src, dst, ok := wire.InnerAddrs(pkt)
	n.hairpin(in, out, src, dst, ok, pkt)
}

// hairpin is Hairpin with the inner addresses parsed; pkt nil means "quote a
// minimal header". The suppressed path does not allocate.
func (n *Node) hairpin(in, out string, src, dst netip.Addr, ok bool, pkt []byte) {
	n.lock()
	defer n.unlock()
	if n.closed {
		return
	}
	if !n.cfg.Redirect {
		n.drop(DropNoShortcut)
		return
	}
	tin, tout := n.tunnels[in], n.tunnels[out]
	if tin == nil || tout == nil {
		n.drop(DropUnknownTunnel)
		return
	}
	if tin.NetworkID != tout.NetworkID || in == out {
		n.drop(DropNotSameNetwork)
		return
	}
	if !ok || src.Is4() != dst.Is4() {
		n.drop(DropBadIndication)
		return
	}
	now := n.now()
	key := redirectKey{src, dst}
	if last, ok := n.redirect[key]; ok && now.Sub(last) < n.cfg.RedirectTimeout {
		n.drop(DropRateLimited)
		return
	}
	if len(n.redirect) >= n.cfg.RedirectTableMax && now.Sub(n.lastSweep) >= n.cfg.RedirectTimeout {
		// Sweep at most once per timeout, so a flood of new pairs cannot
		// turn every event into a full scan.
		n.lastSweep = now
		for k, t := range n.redirect {
			if now.Sub(t) >= n.cfg.RedirectTimeout {
				delete(n.redirect, k)
			}
		}
	}
	if len(n.redirect) >= n.cfg.RedirectTableMax {
		// Under a flood of distinct pairs, refuse rather than grow.
		n.drop(DropRateLimited)
		return
	}
	self := tin.localProto(src.Is4())
	if !self.IsValid() || !tin.LocalNBMA.IsValid() {
		n.drop(DropBadIndication)
		return
	}
	n.redirect[key] = now
	if pkt == nil {
		pkt = minimalIPHeader(src, dst)
	}
	q := pkt
	if len(q) > n.cfg.QuoteLen {
		q = q[:n.cfg.QuoteLen]
	}
	p := &wire.Packet{
		AFN:        afnOf(tin.LocalNBMA),
		ProType:    protoTypeOf(src),
		HopCount:   wire.TrafficIndicationHopCount,
		Type:       wire.TypeTrafficIndication,
		SrcNBMA:    tin.LocalNBMA,
		SrcProto:   self,
		DstProto:   src, // the spoke the indication is for, as FRR and Cisco do
		Payload:    append([]byte(nil), q...),
		Extensions: []wire.Extension{{Type: wire.ExtEnd, Compulsory: true}},
	}
	n.log.Debug("nhrp: redirect", "to", in, "src", src, "dst", dst)
	n.send(in, p)
}

// HairpinFlow is Hairpin for a dataplane that reports only the inner
// addresses (dataplane.HairpinEvent): the traffic indication quotes a
// minimal IP header with those addresses, which is all a receiver (IOS, FRR
// or esphub) reads from it.
func (n *Node) HairpinFlow(in, out string, src, dst netip.Addr) {
	src, dst = src.Unmap(), dst.Unmap()
	n.hairpin(in, out, src, dst, src.IsValid() && dst.IsValid(), nil)
}

// minimalIPHeader returns an IPv4 (with checksum) or IPv6 header with no
// payload ("no next header" for IPv6, protocol 255 for IPv4).
func minimalIPHeader(src, dst netip.Addr) []byte {
	if src.Is4() && dst.Is4() {
		b := make([]byte, 20)
		b[0], b[3], b[8], b[9] = 0x45, 20, 64, 255
		copy(b[12:], src.AsSlice())
		copy(b[16:], dst.AsSlice())
		binary.BigEndian.PutUint16(b[10:], wire.Checksum(b))
		return b
	}
	b := make([]byte, 40)
	b[0], b[6], b[7] = 0x60, 59, 64
	copy(b[8:], src.AsSlice())
	copy(b[24:], dst.AsSlice())
	return b
}

func afnOf(a netip.Addr) wire.AFN {
	if a.Is4() {
		return wire.AFNIPv4
	}
	return wire.AFNIPv6
}

func protoTypeOf(a netip.Addr) uint16 {
	if a.Is4() {
		return wire.ProtoIPv4
	}
	return wire.ProtoIPv6
}

func hostBits(a netip.Addr) uint8 { return uint8(a.BitLen()) }

// viaOverlay reports whether r points into the NBMA overlay: out of one of
// the Node's tunnels. A route out of any other interface reaches the
// destination off the overlay (this node serves it).
func (n *Node) viaOverlay(r Route) bool {
	return !r.Local && r.Tunnel != "" && n.tunnels[r.Tunnel] != nil
}

// isLocal reports whether a is one of this node's overlay addresses.
func (n *Node) isLocal(a netip.Addr) bool {
	for _, t := range n.tunnels {
		for _, l := range t.LocalProto {
			if l == a {
				return true
			}
		}
	}
	if r, ok := n.deps.RIB.Lookup(a); ok && r.Local {
		return true
	}
	return false
}

// forward sends p, received on t, one hop further toward dst (NHS role):
// hop count, transit NHS records with loop detection, and the NAT extension
// filled in for a spoke behind NAT.
func (n *Node) forward(t *tunnelState, pkt []byte, p *wire.Packet, dst netip.Addr) {
	r, ok := n.deps.RIB.Lookup(dst)
	if !ok || !n.viaOverlay(r) {
		n.drop(DropNoRoute)
		n.sendError(t, pkt, p, wire.CodeProtocolAddrUnreachable, 0)
		return
	}
	out := n.tunnels[r.Tunnel]
	if out == nil || r.Tunnel == t.Name {
		n.drop(DropNoRoute)
		n.sendError(t, pkt, p, wire.CodeProtocolAddrUnreachable, 0)
		return
	}
	if p.HopCount <= 1 {
		n.drop(DropHopCount)
		n.sendError(t, pkt, p, wire.CodeHopCountExceeded, 9)
		return
	}
	p.HopCount--
	v4 := dst.Is4()
	self := wire.CIE{
		PrefixLen: hostBits(dst),
		MTU:       n.cfg.MTU,
		HoldTime:  holdSeconds(n.cfg),
		NBMA:      t.LocalNBMA,
		Proto:     t.localProto(v4),
	}
	if self.NBMA.Is4() != (p.AFN == wire.AFNIPv4) {
		self.NBMA = netip.Addr{}
	}
	for _, et := range []wire.ExtType{wire.ExtForwardTransitNHS, wire.ExtReverseTransitNHS} {
		if x := p.Ext(et); x != nil {
			for _, c := range x.CIEs {
				if c.Proto.IsValid() && c.Proto == self.Proto && c.NBMA == self.NBMA {
					n.drop(DropLoop)
					n.sendError(t, pkt, p, wire.CodeLoopDetected, 0)
					return
				}
			}
		}
	}
	transit := wire.ExtForwardTransitNHS
	if p.Type == wire.TypeResolutionReply {
		transit = wire.ExtReverseTransitNHS
	}
	if x := p.Ext(transit); x != nil && x.Data == nil {
		x.CIEs = append(x.CIEs, self)
	}
	n.fillNAT(t, p)
	switch p.Type {
	case wire.TypeResolutionRequest:
		n.ctr.ResolutionRequestsFwd.Add(1)
	case wire.TypeResolutionReply:
		n.ctr.ResolutionRepliesFwd.Add(1)
	}
	n.sendRaw(out.Name, p)
}

// fillNAT adds, to a NAT address extension that lacks one, the CIE giving
// the NBMA address we see for the sender when it differs from the one it
// claims: the sender is behind a NAT and does not know its mapped address.
func (n *Node) fillNAT(t *tunnelState, p *wire.Packet) {
	x := p.Ext(wire.ExtNATAddress)
	if x == nil || x.Data != nil || !t.RemoteNBMA.IsValid() {
		return
	}
	who, claimed := p.SrcProto, p.SrcNBMA
	if p.Type == wire.TypeResolutionReply && len(p.CIEs) > 0 {
		who, claimed = p.CIEs[0].Proto, p.CIEs[0].NBMA
	}
	if !who.IsValid() || claimed == t.RemoteNBMA || t.RemoteNBMA.Is4() != (p.AFN == wire.AFNIPv4) {
		return
	}
	for _, c := range x.CIEs {
		if c.Proto == who {
			return
		}
	}
	x.CIEs = append(x.CIEs, wire.CIE{PrefixLen: hostBits(who), NBMA: t.RemoteNBMA, Proto: who})
}

// sendRaw sends p as is (a forwarded packet keeps its authentication
// extension regenerated hop by hop, like everything else send does).
func (n *Node) sendRaw(tunnel string, p *wire.Packet) {
	n.labelFor(tunnel, p)
	if n.cfg.AuthPassword != "" {
		p.Extensions = withAuth(p.Extensions, n.cfg.AuthPassword)
	}
	b, err := p.Encode()
	if err != nil {
		n.ctr.EncodeErrors.Add(1)
		return
	}
	n.later(func() {
		if err := n.deps.Sender.SendNHRP(tunnel, b); err != nil {
			n.ctr.SendErrors.Add(1)
			n.log.Warn("nhrp: send failed", "tunnel", tunnel, "err", err)
		}
	})
}

func holdSeconds(c Config) uint16 { return uint16(c.HoldTime.Seconds()) }
