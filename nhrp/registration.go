package nhrp

import (
	"net/netip"
	"time"

	"github.com/esphub/esphub/nhrp/wire"
)

// handleRegistrationRequest answers a spoke that registers with this node as
// its NHS, as DMVPN spokes (FRR nhrpd, IOS with `ip nhrp nhs`) do even when
// IKEv2 already told the hub their addresses. Each CIE is a unique host
// binding protocol address -> NBMA address; the NBMA address recorded is the
// one we see (post-NAT), the claimed one is kept for `show`.
func (n *Node) handleRegistrationRequest(t *tunnelState, pkt []byte, p *wire.Packet) {
	if !n.cfg.NHS {
		n.drop(DropUnsupportedType)
		return
	}
	if !p.SrcProto.IsValid() || !p.SrcNBMA.IsValid() {
		n.drop(DropMalformed)
		n.sendError(t, pkt, p, wire.CodeProtocolError, 0)
		return
	}
	nbma, claimed := p.SrcNBMA, netip.Addr{}
	if t.RemoteNBMA.IsValid() && t.RemoteNBMA != p.SrcNBMA && t.RemoteNBMA.Is4() == p.SrcNBMA.Is4() {
		nbma, claimed = t.RemoteNBMA, p.SrcNBMA
	}
	rep := &wire.Packet{
		AFN:       p.AFN,
		ProType:   p.ProType,
		HopCount:  wire.DefaultHopCount,
		Type:      wire.TypeRegistrationReply,
		Flags:     p.Flags & (wire.FlagRegU | wire.FlagNAT),
		RequestID: p.RequestID,
		SrcNBMA:   p.SrcNBMA,
		SrcProto:  p.SrcProto,
		DstProto:  p.DstProto,
	}
	for _, c := range p.CIEs {
		proto := c.Proto
		if !proto.IsValid() {
			proto = p.SrcProto
		}
		host := c.PrefixLen == 0xff || int(c.PrefixLen) == proto.BitLen()
		switch {
		case !host:
			c.Code = wire.CIEAdminProhibited
		case n.registeredElsewhere(proto, nbma):
			c.Code = wire.CIEUniqueAlreadyRegistred
		default:
			c.Code = wire.CIESuccess
			hold := time.Duration(c.HoldTime) * time.Second
			if hold == 0 {
				hold = n.cfg.HoldTime
			}
			flags := FlagRegistered
			if p.Flags&wire.FlagRegU != 0 {
				flags |= FlagUnique
			}
			n.setEntry(Entry{
				Prefix: netip.PrefixFrom(proto, proto.BitLen()), NextHop: proto, Tunnel: t.Name,
				Type: TypeDynamic, Flags: flags, NBMA: nbma, ClaimedNBMA: claimed,
			}, hold, false)
		}
		rep.CIEs = append(rep.CIEs, c)
	}
	self := wire.CIE{PrefixLen: 0xff, MTU: n.cfg.MTU, HoldTime: holdSeconds(n.cfg), NBMA: t.LocalNBMA, Proto: n.selfProto(t, p.SrcProto.Is4())}
	if self.NBMA.Is4() != (p.AFN == wire.AFNIPv4) {
		self.NBMA = netip.Addr{}
	}
	for _, x := range p.Extensions {
		switch x.Type {
		case wire.ExtEnd, wire.ExtAuthentication:
			continue
		case wire.ExtResponderAddress:
			x.CIEs, x.Data = []wire.CIE{self}, nil
		case wire.ExtNATAddress:
			// Tell a NATed spoke the address we see, as FRR does.
			x.Data = nil
			x.CIEs = nil
			if claimed.IsValid() {
				x.CIEs = []wire.CIE{{PrefixLen: hostBits(p.SrcProto), NBMA: nbma, Proto: p.SrcProto}}
			}
		}
		rep.Extensions = append(rep.Extensions, x)
	}
	rep.Extensions = append(rep.Extensions, wire.Extension{Type: wire.ExtEnd, Compulsory: true})
	n.send(t.Name, rep)
}

// registeredElsewhere reports whether proto is registered as unique with
// another NBMA address.
func (n *Node) registeredElsewhere(proto, nbma netip.Addr) bool {
	e := n.cache[netip.PrefixFrom(proto, proto.BitLen())]
	return e != nil && e.Flags&FlagRegistered != 0 && e.Flags&FlagUnique != 0 && e.NBMA != nbma
}
