package dataplane

import (
	"net/netip"

	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/hdr"
)

// Worker runs the packet path for one queue (one goroutine): batches in,
// verdicts out. It holds the scratch memory the ciphers use and drop
// counts it flushes to the Engine once per batch. A Worker must not be used
// by two goroutines at once; create one per queue with Engine.NewWorker.
type Worker struct {
	e     *Engine
	s     esp.Scratch
	drops [numDropReasons]uint64
}

// NewWorker returns a worker for one queue.
func (e *Engine) NewWorker() *Worker { return &Worker{e: e} }

func (w *Worker) drop(p *Packet, r DropReason) {
	p.Verdict, p.Drop = VerdictDrop, r
	w.drops[r]++
}

func (w *Worker) flush() {
	for r, n := range w.drops {
		if n != 0 {
			w.e.drops[r].Add(n)
			w.drops[r] = 0
		}
	}
}

// ProcessOutbound routes and encapsulates a batch of IP packets from the
// host side. Each packet's data starts at its IP header and VRF names its
// VRF. Afterwards each packet has a Verdict: VerdictUnderlay (Data is the
// outer packet, Remote and Local set) or VerdictDrop.
func (w *Worker) ProcessOutbound(pkts []*Packet) {
	tb := w.e.tab.Load()
	for _, p := range pkts {
		w.outbound(tb, p)
	}
	w.flush()
}

// ProcessInbound decapsulates a batch from the underlay. Each packet's data
// starts at the ESP header (for ESP in UDP: at the UDP payload, with Encap
// set), and Remote/Local hold the outer addresses. Afterwards each packet
// has a Verdict: VerdictHost (Data is the inner IP packet, VRF set),
// VerdictUnderlay (hairpinned into another tunnel), VerdictPunt,
// VerdictConsumed or VerdictDrop.
func (w *Worker) ProcessInbound(pkts []*Packet) {
	tb := w.e.tab.Load()
	for _, p := range pkts {
		w.inbound(tb, p)
	}
	w.flush()
}

// EncapsulateTo wraps p's data, a packet of the given EtherType (IPv4, IPv6,
// or NHRP for GRE tunnels), into tunnel id, bypassing the FIB. It is the
// packet half of Control.Inject; the Verdict says whether it worked.
func (w *Worker) EncapsulateTo(p *Packet, id TunnelID, etherType uint16) {
	tb := w.e.tab.Load()
	defer w.flush()
	t := tb.tunnels[id]
	if t == nil {
		w.drop(p, DropNoTunnel)
		return
	}
	var src netip.Addr
	if etherType != hdr.EtherTypeNHRP {
		var ok bool
		if src, _, ok = innerIP(p); !ok {
			w.drop(p, DropMalformed)
			return
		}
	} else if t.cfg.Mode != ModeGRE {
		w.drop(p, DropProto)
		return
	}
	w.encapsulate(tb, p, t, NextHop{Kind: NextHopTunnel, Tunnel: id}, src, 0, etherType)
}

// innerIP validates the IP packet in p, trims the data to the packet's own
// length, and returns its addresses.
func innerIP(p *Packet) (src, dst netip.Addr, ok bool) {
	d := p.Data()
	switch hdr.IPVersion(d) {
	case 4:
		h := hdr.IPv4(d)
		if !h.Valid() {
			return src, dst, false
		}
		p.n = int(h.TotalLength())
		return h.Src(), h.Dst(), true
	case 6:
		h := hdr.IPv6(d)
		if !h.Valid() {
			return src, dst, false
		}
		p.n = hdr.IPv6Len + int(h.PayloadLength())
		return h.Src(), h.Dst(), true
	}
	return src, dst, false
}

func (w *Worker) outbound(tb *tables, p *Packet) {
	p.Verdict, p.Drop, p.SGT, p.Encap = VerdictDrop, DropNone, 0, false
	src, dst, ok := innerIP(p)
	if !ok {
		w.drop(p, DropMalformed)
		return
	}
	nh, ok := tb.fib[p.VRF].lookup(dst)
	if !ok || nh.Kind == NextHopDrop {
		w.drop(p, DropNoRoute)
		return
	}
	if nh.Kind == NextHopHost {
		w.drop(p, DropLoop) // it came from the host side
		return
	}
	t := tb.tunnels[nh.Tunnel]
	if t == nil {
		w.drop(p, DropNoTunnel)
		return
	}
	w.encapsulate(tb, p, t, nh, src, 0, 0)
}

// encapsulate builds [CMD][GRE][MPLS] in front of the packet, seals it with
// the tunnel's outbound SA and adds the outer headers. sgt is a tag the
// packet arrived with (hairpin), 0 to look the source up; etherType is the
// payload's EtherType, 0 to derive it from the IP version.
func (w *Worker) encapsulate(tb *tables, p *Packet, t *tunnel, nh NextHop, src netip.Addr, sgt uint16, etherType uint16) {
	sa := t.out.Load()
	if sa == nil {
		w.drop(p, DropNoSA)
		return
	}
	d := p.Data()
	var innerProto uint8
	var tos, ttl uint8
	switch {
	case etherType == hdr.EtherTypeNHRP:
		innerProto = 0
	case hdr.IPVersion(d) == 4:
		etherType, innerProto, tos, ttl = hdr.EtherTypeIPv4, hdr.ProtoIPv4IP, d[1], d[8]
	default:
		etherType, innerProto, tos, ttl = hdr.EtherTypeIPv6, hdr.ProtoIPv6, hdr.IPv6(d).TrafficClass(), d[7]
	}
	if sa.sgt && sgt == 0 && src.IsValid() {
		sgt, _ = tb.sgt[p.VRF].lookup(src)
	}
	if !sa.sgt {
		sgt = 0
	}
	layout := w.e.cmdLayout
	ci := sa.cipher
	push := nh.PushLabel && nh.Label != hdr.LabelImplicitNull
	var next uint8
	var gre hdr.GREOptions
	greLen, mplsLen, cmdLen := 0, 0, 0
	cmdInGRE := false
	switch t.cfg.Mode {
	case ModeGRE:
		gre = hdr.GREOptions{Key: t.cfg.GREKey, HasKey: t.cfg.HasGREKey}
		greLen, next = gre.Len(), hdr.ProtoGRE
		if push {
			mplsLen = hdr.MPLSLen
		}
		if sgt != 0 {
			cmdLen = hdr.CMDLen
			if layout.NextIsIPProto {
				next = hdr.ProtoCMD // ESP next header 99, CMD names GRE
			} else {
				cmdInGRE = true // an EtherType cannot name GRE: tag inside GRE (proto 0x8909)
			}
		}
	case ModeIPsec:
		if push || innerProto == 0 {
			w.drop(p, DropProto) // labels and NHRP need GRE
			return
		}
		next = innerProto
		if sgt != 0 {
			cmdLen, next = hdr.CMDLen, hdr.ProtoCMD
		}
	}
	outerLen := hdr.IPv4MinLen
	if !t.cfg.Remote.Is4() {
		outerLen = hdr.IPv6Len
	}
	if t.cfg.Encap {
		outerLen += hdr.UDPLen
	}
	if !p.ensureHeadroom(outerLen+ci.PayloadOffset()+cmdLen+greLen+mplsLen, esp.MaxTrailerLen) {
		w.drop(p, DropNoBuffer)
		return
	}
	proto := etherType
	if mplsLen != 0 {
		b, _ := p.prepend(mplsLen)
		hdr.EncodeMPLS(b, nh.Label, tos>>5, true, ttl)
		proto = hdr.EtherTypeMPLS
	}
	if greLen != 0 {
		if cmdInGRE {
			b, _ := p.prepend(hdr.CMDLen)
			hdr.CMDGRE.Encode(b, sgt, proto)
			proto = hdr.EtherTypeCMD
		}
		b, _ := p.prepend(greLen)
		hdr.EncodeGRE(b, proto, gre)
	}
	if cmdLen != 0 && !cmdInGRE {
		b, _ := p.prepend(hdr.CMDLen)
		nx := etherType
		if layout.NextIsIPProto {
			nx = uint16(innerProto)
			if t.cfg.Mode == ModeGRE {
				nx = uint16(hdr.ProtoGRE)
			}
		}
		layout.Encode(b, sgt, nx)
	}
	n := p.n
	seq, ok := sa.nextSeq(&w.e.ev)
	if !ok || !sa.account(n, &w.e.ev) {
		sa.drops.Add(1)
		w.drop(p, DropSAExpired)
		return
	}
	p.prepend(ci.PayloadOffset())
	espLen := ci.Seal(p.buf[p.off:], sa.spi, seq, sa.esn, n, next, &w.s)
	p.n = espLen
	outerProto := hdr.ProtoESP
	if t.cfg.Encap {
		b, _ := p.prepend(hdr.UDPLen)
		hdr.EncodeUDP(b, t.cfg.LocalPort, t.cfg.RemotePort, uint16(p.n))
		outerProto = hdr.ProtoUDP
	}
	if t.cfg.Remote.Is4() {
		b, _ := p.prepend(hdr.IPv4MinLen)
		hdr.EncodeIPv4(b, tos, uint16(p.n), uint16(t.ipID.Add(1)), t.cfg.TTL, outerProto, t.cfg.Local, t.cfg.Remote)
	} else {
		b, _ := p.prepend(hdr.IPv6Len)
		hdr.EncodeIPv6(b, tos, uint16(p.n-hdr.IPv6Len), outerProto, t.cfg.TTL, t.cfg.Local, t.cfg.Remote)
	}
	if sgt != 0 {
		w.e.sgtTx[sgt].Add(1)
	}
	t.txPackets.Add(1)
	t.txBytes.Add(uint64(n))
	p.Verdict, p.Tunnel, p.Local, p.Remote, p.Encap, p.SGT = VerdictUnderlay, t.cfg.ID, t.local, t.remote, t.cfg.Encap, sgt
}

func (w *Worker) inbound(tb *tables, p *Packet) {
	p.Verdict, p.Drop, p.SGT, p.PuntProto = VerdictDrop, DropNone, 0, 0
	d := p.Data()
	if p.Encap {
		if hdr.IsNATKeepalive(d) {
			w.e.keepalives.Add(1)
			p.Verdict = VerdictConsumed
			return
		}
		if hdr.IsNonESPMarker(d) {
			p.Verdict = VerdictPunt // IKE on 4500 that reached the dataplane
			return
		}
	}
	e := hdr.ESP(d)
	if !e.Valid() {
		w.drop(p, DropMalformed)
		return
	}
	sa := tb.bySPI[e.SPI()]
	if sa == nil {
		w.drop(p, DropNoSA)
		return
	}
	t := tb.tunnels[sa.tunnel]
	if t == nil {
		w.drop(p, DropNoSA)
		return
	}
	sa.mu.Lock()
	seq := uint64(e.Seq())
	if sa.esn {
		seq = sa.window.InferESN(e.Seq())
	}
	fresh := sa.noReplay || sa.window.Check(seq)
	sa.mu.Unlock()
	if !fresh {
		sa.replays.Add(1)
		sa.drops.Add(1)
		w.drop(p, DropReplay)
		return
	}
	payload, next, r := sa.cipher.Open(d, seq, sa.esn, &w.s)
	switch r {
	case esp.AuthFail:
		sa.authFails.Add(1)
		sa.drops.Add(1)
		w.drop(p, DropAuth)
		return
	case esp.Malformed:
		sa.drops.Add(1)
		w.drop(p, DropMalformed)
		return
	case esp.BadPad:
		sa.drops.Add(1)
		w.drop(p, DropPadding)
		return
	}
	sa.mu.Lock()
	fresh = sa.window.Update(seq) || sa.noReplay
	sa.mu.Unlock()
	if !fresh {
		sa.replays.Add(1)
		sa.drops.Add(1)
		w.drop(p, DropReplay)
		return
	}
	if !sa.account(len(d), &w.e.ev) {
		sa.drops.Add(1)
		w.drop(p, DropSAExpired)
		return
	}
	t.rxPackets.Add(1)
	t.rxBytes.Add(uint64(len(payload)))
	p.setView(sa.cipher.PayloadOffset(), len(payload))
	p.Tunnel = t.cfg.ID
	w.decapsulate(tb, p, t, next)
}

// decapsulate strips CMD, GRE and MPLS from a decrypted payload and routes
// the inner packet.
func (w *Worker) decapsulate(tb *tables, p *Packet, t *tunnel, next uint8) {
	vrf := t.cfg.VRF
	var sgt uint16
	if next == hdr.ProtoCMD {
		layout := w.e.cmdLayout
		tag, nx, n, ok := layout.Decode(p.Data())
		if !ok {
			w.drop(p, DropSGT)
			return
		}
		p.trimFront(n)
		sgt = tag
		switch {
		case layout.NextIsIPProto && nx <= 0xff:
			next = uint8(nx)
		case nx == hdr.EtherTypeIPv4:
			next = hdr.ProtoIPv4IP
		case nx == hdr.EtherTypeIPv6:
			next = hdr.ProtoIPv6
		default:
			w.drop(p, DropProto)
			return
		}
	}
	switch next {
	case hdr.ProtoIPv4IP, hdr.ProtoIPv6:
	case hdr.ProtoGRE:
		g := hdr.GRE(p.Data())
		if !g.Valid() || !g.ChecksumValid() {
			w.drop(p, DropMalformed)
			return
		}
		if g.HasKey() != t.cfg.HasGREKey || (g.HasKey() && g.Key() != t.cfg.GREKey) {
			w.drop(p, DropGREKey)
			return
		}
		proto := g.Protocol()
		p.trimFront(g.HeaderLen())
		if proto == hdr.EtherTypeCMD {
			tag, nx, n, ok := hdr.CMDGRE.Decode(p.Data())
			if !ok {
				w.drop(p, DropSGT)
				return
			}
			p.trimFront(n)
			sgt, proto = tag, nx
		}
		switch proto {
		case hdr.EtherTypeIPv4, hdr.EtherTypeIPv6:
		case hdr.EtherTypeMPLS:
			d := p.Data()
			if len(d) < hdr.MPLSLen || !hdr.MPLS(d).BottomOfStack() {
				w.drop(p, DropProto) // label switching is not ours: one VPN label only
				return
			}
			switch l := hdr.MPLS(d).Label(); {
			case l == hdr.LabelIPv4ExplicitNull || l == hdr.LabelIPv6ExplicitNull:
			case l <= hdr.LabelMaxReserved:
				w.drop(p, DropMalformed)
				return
			default:
				v, ok := tb.labels[l]
				if !ok {
					w.drop(p, DropNoLabel)
					return
				}
				vrf = v
			}
			p.trimFront(hdr.MPLSLen)
		case hdr.EtherTypeNHRP:
			p.Verdict, p.PuntProto, p.SGT = VerdictPunt, proto, sgt
			return
		default:
			w.drop(p, DropProto)
			return
		}
	case hdr.ProtoNoNext:
		p.Verdict = VerdictConsumed // dummy packet (RFC 4303 §2.6)
		return
	default:
		w.drop(p, DropProto)
		return
	}
	src, dst, ok := innerIP(p)
	if !ok {
		w.drop(p, DropMalformed)
		return
	}
	if sgt != 0 {
		w.e.sgtRx[sgt].Add(1)
	}
	p.SGT, p.VRF = sgt, vrf
	nh, ok := tb.fib[vrf].lookup(dst)
	if !ok || nh.Kind == NextHopDrop {
		w.drop(p, DropNoRoute)
		return
	}
	if nh.Kind == NextHopHost {
		p.Verdict = VerdictHost
		return
	}
	out := tb.tunnels[nh.Tunnel]
	if out == nil {
		w.drop(p, DropNoTunnel)
		return
	}
	if out == t {
		w.drop(p, DropLoop)
		return
	}
	if t.cfg.NetworkID != 0 && t.cfg.NetworkID == out.cfg.NetworkID {
		w.e.ev.hairpin(HairpinEvent{NetworkID: t.cfg.NetworkID, In: t.cfg.ID, Out: out.cfg.ID, Src: src, Dst: dst})
	}
	if !decTTL(p.Data()) {
		w.drop(p, DropTTL)
		return
	}
	w.encapsulate(tb, p, out, nh, src, sgt, 0)
}

// decTTL decrements the TTL or hop limit of a forwarded packet, reporting
// false when it expires.
func decTTL(d []byte) bool {
	if hdr.IPVersion(d) == 4 {
		if d[8] <= 1 {
			return false
		}
		d[8]--
		hdr.IPv4(d).UpdateChecksum()
		return true
	}
	if d[7] <= 1 {
		return false
	}
	d[7]--
	return true
}
