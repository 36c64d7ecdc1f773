package nhrp

import (
	"net/netip"

	"github.com/esphub/esphub/nhrp/wire"
)

// handlePurgeRequest removes the bindings a peer withdraws (RFC 2332
// §5.2.5): IOS sends purges when a network moves from one spoke to another.
// Entries for the purged prefixes learned from the purger go at once, with
// their routes, and the shortcut that owned them is forgotten so that the
// next redirect resolves afresh. A purge not addressed to us is forwarded by
// an NHS like a request.
func (n *Node) handlePurgeRequest(t *tunnelState, pkt []byte, p *wire.Packet) {
	if !n.isLocal(p.DstProto) {
		if n.cfg.NHS {
			n.forward(t, pkt, p, p.DstProto)
			return
		}
		n.drop(DropNotOwned)
		return
	}
	for _, c := range p.CIEs {
		proto := c.Proto
		if !proto.IsValid() {
			proto = p.SrcProto
		}
		bits := int(c.PrefixLen)
		if bits == 0 || bits == 0xff || bits > proto.BitLen() {
			bits = proto.BitLen()
		}
		purged := netip.PrefixFrom(proto, bits).Masked()
		n.purge(purged, p.SrcProto)
	}
	if p.Flags&wire.FlagPurgeN != 0 {
		return
	}
	rep := *p
	rep.Type = wire.TypePurgeReply
	rep.HopCount = wire.DefaultHopCount
	rep.Extensions = nil
	for _, x := range p.Extensions {
		if x.Type != wire.ExtAuthentication && x.Type != wire.ExtEnd {
			rep.Extensions = append(rep.Extensions, x)
		}
	}
	if len(rep.Extensions) > 0 {
		rep.Extensions = append(rep.Extensions, wire.Extension{Type: wire.ExtEnd, Compulsory: true})
	}
	n.send(t.Name, &rep)
}

// purge removes the entries for prefix that point at peer (or that are the
// prefix itself) and the shortcuts owning them.
func (n *Node) purge(prefix netip.Prefix, peer netip.Addr) {
	hit := func(e *Entry) bool {
		if e.Prefix == prefix {
			return true
		}
		return e.NextHop == peer && e.Prefix.Overlaps(prefix)
	}
	for _, s := range n.shorts {
		for _, p := range s.entries {
			if e := n.cache[p]; e != nil && hit(e) {
				n.dropShortcut(s)
				break
			}
		}
	}
	for p, e := range n.cache {
		if hit(e) {
			n.removeEntry(p, e)
		}
	}
}
