package nhrp

import (
	"crypto/subtle"
	"net/netip"

	"github.com/esphub/esphub/nhrp/wire"
)

// errorQuoteLen bounds how much of a bad packet an Error Indication quotes.
const errorQuoteLen = 256

// parseError counts a packet that failed to decode and answers it when the
// error code says so and enough of the packet parsed to know whom to answer.
func (n *Node) parseError(t *tunnelState, pkt []byte, pe *wire.ParseError) {
	if h := wire.Header(pkt); !h.Valid() || !h.ChecksumOK() {
		n.drop(DropChecksum)
		return
	}
	n.drop(DropMalformed)
	if pe.Code == wire.CodeNone {
		return
	}
	src, ok := quotedSource(pkt)
	if !ok {
		return
	}
	n.replyError(t, pkt, src, pe.Code, pe.Offset)
}

// quotedSource digs the source protocol address out of a packet that did not
// fully decode, if its fixed header and the start of its mandatory part are
// sound.
func quotedSource(pkt []byte) (out [16]byte, ok bool) {
	h := wire.Header(pkt)
	if !h.Valid() || h.Type() == wire.TypeErrorIndication || int(h.PktSz()) < wire.HeaderLen+8 {
		return out, false
	}
	nl := h.AFN().AddrLen()
	pl := wire.ProtoAddrLen(h.ProType())
	if nl == 0 || pl == 0 || int(h.SHTL()&0x3f) != nl || h.SSTL() != 0 || int(pkt[20]) != pl {
		return out, false
	}
	off := wire.HeaderLen + 8 + nl
	if off+pl > int(h.PktSz()) {
		return out, false
	}
	copy(out[:], pkt[off:off+pl])
	return out, true
}

// replyError sends an Error Indication for pkt back through the tunnel it
// came in on, addressed to its source protocol address.
func (n *Node) replyError(t *tunnelState, pkt []byte, src [16]byte, code wire.Code, off uint16) {
	h := wire.Header(pkt)
	v4 := h.ProType() == wire.ProtoIPv4
	dst := addrFrom(src, v4)
	self := t.localProto(v4)
	selfNBMA := t.LocalNBMA
	if !self.IsValid() || !selfNBMA.IsValid() || selfNBMA.Is4() != (h.AFN() == wire.AFNIPv4) {
		return
	}
	p := wire.NewErrorIndication(pkt[:h.PktSz()], code, off, selfNBMA, self, dst, errorQuoteLen)
	n.send(t.Name, p)
}

// sendError answers a decoded packet p (raw bytes pkt) with an Error
// Indication, unless p is itself one.
func (n *Node) sendError(t *tunnelState, pkt []byte, p *wire.Packet, code wire.Code, off uint16) {
	if p.Type == wire.TypeErrorIndication || !p.SrcProto.IsValid() {
		return
	}
	var src [16]byte
	copy(src[:], p.SrcProto.AsSlice())
	n.replyError(t, pkt, src, code, off)
}

func addrFrom(b [16]byte, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

// authOK checks the authentication extension when one is configured, in
// constant time.
func (n *Node) authOK(p *wire.Packet) bool {
	if n.cfg.AuthPassword == "" {
		return true
	}
	x := p.Ext(wire.ExtAuthentication)
	if x == nil {
		return false
	}
	got, ok := x.CiscoAuthPassword()
	if !ok || len(got) != wire.CiscoAuthLen {
		return false
	}
	var want [wire.CiscoAuthLen]byte
	copy(want[:], n.cfg.AuthPassword)
	return subtle.ConstantTimeCompare(got, want[:]) == 1
}
