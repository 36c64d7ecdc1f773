package dataplane

import (
	"encoding/binary"
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
	out   run // outbound SA and tunnel counters pending flush
	in    run // inbound
	inb   []inPkt
	memo  memo
	seq   seqBlock // outbound sequence numbers reserved for this batch
	left  int      // packets of the batch not yet encapsulated, this one included
}

// memo remembers, within one batch (one tables snapshot), the last VRF's
// FIB and the last tunnel looked up, since a batch mostly holds packets of
// a few flows: a hit costs a compare instead of a map lookup. It is
// cleared when the batch ends so that it never outlives its snapshot.
type memo struct {
	fibOK  bool
	vrf    uint32
	fib    *lpm[fibEntry]
	tunID  TunnelID
	tunnel *tunnel
}

// fib returns vrf's FIB in tb.
func (w *Worker) fib(tb *tables, vrf uint32) *lpm[fibEntry] {
	m := &w.memo
	if !m.fibOK || m.vrf != vrf {
		m.fibOK, m.vrf, m.fib = true, vrf, tb.fib[vrf]
	}
	return m.fib
}

// tunnel returns the remembered tunnel when it is id, or nil: the common
// case, small enough to inline; lookTunnel does the rest.
func (w *Worker) tunnel(id TunnelID) *tunnel {
	if t := w.memo.tunnel; t != nil && w.memo.tunID == id {
		return t
	}
	return nil
}

// lookTunnel returns tunnel id in tb, or nil, and remembers it.
func (w *Worker) lookTunnel(tb *tables, id TunnelID) *tunnel {
	t := tb.tunnel(id)
	if t != nil {
		w.memo.tunID, w.memo.tunnel = id, t
	}
	return t
}

// run accumulates the counters of consecutive packets on one SA (and its
// tunnel) so that a batch costs one atomic add per counter rather than one
// per packet, as VPP flushes per-SA counters once per frame.
type run struct {
	sa    *SA
	t     *tunnel
	pkts  uint64
	bytes uint64 // SA bytes (ESP packet for inbound, payload for outbound)
	tb    uint64 // tunnel bytes (inner payload)
	// While the run's totals stay within these, adding them to what the SA
	// had committed when the run began crosses no lifetime limit, so add
	// need not check the limits packet by packet.
	freePkts, freeBytes uint64
	ev                  *eventer
	tx                  bool // outbound: the tunnel's tx counters
}

// fits accounts one packet when it continues the run within its room
// (the common case, small enough to inline) and reports whether it did;
// otherwise add must.
func (r *run) fits(sa *SA, saBytes, tunBytes int) bool {
	if p, b := r.pkts+1, r.bytes+uint64(saBytes); r.sa == sa && p <= r.freePkts && b <= r.freeBytes {
		r.pkts, r.bytes, r.tb = p, b, r.tb+uint64(tunBytes)
		return true
	}
	return false
}

// add accounts one packet on sa/t, flushing a previous run first. It returns
// false when the packet would pass the SA's hard lifetime.
func (r *run) add(sa *SA, t *tunnel, saBytes, tunBytes int) bool {
	if r.sa != sa {
		r.flush()
		r.sa, r.t = sa, t
		r.freePkts, r.freeBytes = sa.lifetimeRoom()
	}
	p := r.pkts + 1
	b := r.bytes + uint64(saBytes)
	if (p > r.freePkts || b > r.freeBytes) && !sa.lifetimeOK(sa.packets.Load()+p, sa.bytes.Load()+b, r.ev) {
		r.freePkts, r.freeBytes = 0, 0 // expired: check every later packet
		return false
	}
	r.pkts, r.bytes, r.tb = p, b, r.tb+uint64(tunBytes)
	return true
}

func (r *run) flush() {
	if r.sa == nil {
		return
	}
	if r.pkts != 0 {
		r.sa.packets.Add(r.pkts)
		r.sa.bytes.Add(r.bytes)
		if r.tx {
			r.t.txPackets.Add(r.pkts)
			r.t.txBytes.Add(r.tb)
		} else {
			r.t.rxPackets.Add(r.pkts)
			r.t.rxBytes.Add(r.tb)
		}
	}
	*r = run{ev: r.ev, tx: r.tx}
}

// NewWorker returns a worker for one queue.
func (e *Engine) NewWorker() *Worker {
	return &Worker{e: e, out: run{ev: &e.ev, tx: true}, in: run{ev: &e.ev}}
}

func (w *Worker) drop(p *Packet, r DropReason) {
	p.Verdict, p.Drop = VerdictDrop, r
	w.drops[r]++
}

func (w *Worker) flush() {
	w.memo = memo{}
	w.seq.release()
	w.out.flush()
	w.in.flush()
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
	for i, p := range pkts {
		w.left = len(pkts) - i
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
	w.inbound(w.e.tab.Load(), pkts)
	w.flush()
}

// EncapsulateTo wraps p's data, a packet of the given EtherType (IPv4, IPv6,
// or NHRP for GRE tunnels), into tunnel id, bypassing the FIB. It is the
// packet half of Control.Inject; the Verdict says whether it worked.
func (w *Worker) EncapsulateTo(p *Packet, id TunnelID, etherType uint16) {
	tb := w.e.tab.Load()
	defer w.flush()
	w.left = 1
	t := tb.tunnel(id)
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
	w.encapsulate(tb, p, t, NextHop{Kind: NextHopTunnel, Tunnel: id}, src, 0, etherType, false)
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
	fe, ok := w.fib(tb, p.VRF).lookup(dst)
	nh := fe.nh
	if !ok || nh.Kind == NextHopDrop {
		w.drop(p, DropNoRoute)
		return
	}
	if nh.Kind == NextHopHost {
		w.drop(p, DropLoop) // it came from the host side
		return
	}
	fe.touch()
	t := w.tunnel(nh.Tunnel)
	if t == nil {
		t = w.lookTunnel(tb, nh.Tunnel)
	}
	if t == nil {
		w.drop(p, DropNoTunnel)
		return
	}
	if w.e.routeOut && !decTTL(p.Data()) {
		w.drop(p, DropTTL)
		return
	}
	var sgt uint16
	if acl := w.e.acl.Load(); acl != nil {
		sgt, _ = tb.sgt[p.VRF].lookup(src)
		dsgt, _ := tb.sgt[p.VRF].lookup(dst)
		if !acl.permits(sgt, dsgt, p.Data()) {
			w.drop(p, DropSGACL)
			return
		}
	}
	w.encapsulate(tb, p, t, nh, src, sgt, 0, true)
}

// encapsulate builds [CMD][GRE][MPLS] in front of the packet, seals it with
// the tunnel's outbound SA and adds the outer headers. sgt is a tag the
// packet arrived with (hairpin), 0 to look the source up; etherType is the
// payload's EtherType, 0 to derive it from the IP version.
func (w *Worker) encapsulate(tb *tables, p *Packet, t *tunnel, nh NextHop, src netip.Addr, sgt uint16, etherType uint16, fromHost bool) {
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
	var layout hdr.CMDLayout
	if sgt != 0 {
		layout = *w.e.cmdLayout.Load()
	}
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
	if mtu := t.cfg.MTU; mtu != 0 && innerProto != 0 {
		extra := cmdLen + greLen + mplsLen
		if outerLen+ci.PayloadOffset()+p.n+extra+ci.TrailerLen(p.n+extra) > mtu {
			if innerProto == hdr.ProtoIPv4IP && d[6]&0x40 == 0 {
				// DF clear: send it; the underlay fragments the outer packet.
			} else {
				w.tooBig(p, t, ci.MaxPayload(mtu-outerLen)-extra, fromHost)
				return
			}
		}
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
	seq, ok := w.seq.next(sa), true
	if seq == 0 {
		seq, ok = w.seq.take(sa, w.left, &w.e.ev)
	}
	if !ok || !w.out.fits(sa, n, n) && !w.out.add(sa, t, n, n) {
		sa.drops.Add(1)
		w.drop(p, DropSAExpired)
		return
	}
	p.prepend(ci.PayloadOffset())
	espLen := ci.Seal(p.buf[p.off:], sa.spi, seq, sa.esn, n, next, &w.s)
	p.n = espLen
	b, _ := p.prepend(t.outer.Len())
	t.outer.Encode(b, tos, uint16(seq), espLen)
	if sgt != 0 {
		w.e.sgtTx[sgt].Add(1)
	}
	p.Verdict, p.Tunnel, p.Local, p.Remote, p.Encap, p.SGT = VerdictUnderlay, t.cfg.ID, t.local, t.remote, t.cfg.Encap, sgt
}

// inPkt is a packet's state between the phases of ProcessInbound; sa is
// nil once the packet has its verdict.
type inPkt struct {
	sa       *SA
	t        *tunnel
	seq      uint64
	outerECN uint8
	next     uint8
	payload  int // length of the decrypted payload
}

// lockRun holds one SA's replay-window lock across consecutive packets of
// that SA, so that a batch from one peer takes the lock once per phase
// rather than twice per packet.
type lockRun struct{ sa *SA }

// to moves the lock to sa; callers test l.sa != sa first, which inlines.
func (l *lockRun) to(sa *SA) {
	l.release()
	sa.mu.Lock()
	l.sa = sa
}

func (l *lockRun) release() {
	if l.sa != nil {
		l.sa.mu.Unlock()
		l.sa = nil
	}
}

// inbound decapsulates a batch in three phases, as VPP does: parse, look
// up the SA and check the replay window for every packet; authenticate and
// decrypt; then advance the windows and route. Only packets that passed
// the check cost a decryption, only verified ones move a window, and a
// run of packets on one SA takes its window lock once per phase.
func (w *Worker) inbound(tb *tables, pkts []*Packet) {
	if cap(w.inb) < len(pkts) {
		w.inb = make([]inPkt, len(pkts))
	}
	st := w.inb[:len(pkts)]
	var lk lockRun
	var lastSPI uint32
	var lastSA *SA
	var lastT *tunnel
	for i, p := range pkts {
		s := &st[i]
		*s = inPkt{outerECN: p.OuterECN}
		p.Verdict, p.Drop, p.SGT, p.PuntProto = VerdictDrop, DropNone, 0, 0
		p.OuterECN = 0 // consumed here; a hairpinned packet must not carry it on
		d := p.Data()
		if p.Encap {
			if hdr.IsNATKeepalive(d) {
				w.e.keepalives.Add(1)
				p.Verdict = VerdictConsumed
				continue
			}
			if hdr.IsNonESPMarker(d) {
				p.Verdict = VerdictPunt // IKE on 4500 that reached the dataplane
				continue
			}
		}
		e := hdr.ESP(d)
		if !e.Valid() {
			w.drop(p, DropMalformed)
			continue
		}
		spi := e.SPI()
		if lastSA == nil || spi != lastSPI {
			lastSA, lastT = tb.saTunnel(spi)
			lastSPI = spi
		}
		sa := lastSA
		if sa == nil {
			w.drop(p, DropNoSA)
			continue
		}
		if lk.sa != sa {
			lk.to(sa)
		}
		seq := uint64(e.Seq())
		if sa.esn {
			seq = sa.window.InferESN(e.Seq())
		}
		if !sa.noReplay && !sa.window.Check(seq) {
			sa.replays.Add(1)
			sa.drops.Add(1)
			w.drop(p, DropReplay)
			continue
		}
		s.sa, s.t, s.seq = sa, lastT, seq
	}
	lk.release()

	for i, p := range pkts {
		s := &st[i]
		sa := s.sa
		if sa == nil {
			continue
		}
		payload, next, r := sa.cipher.Open(p.Data(), s.seq, sa.esn, &w.s)
		if r != esp.OK {
			sa.drops.Add(1)
			s.sa = nil
			switch r {
			case esp.AuthFail:
				sa.authFails.Add(1)
				w.drop(p, DropAuth)
			case esp.BadPad:
				w.drop(p, DropPadding)
			default:
				w.drop(p, DropMalformed)
			}
			continue
		}
		s.next, s.payload = next, len(payload)
	}

	for i, p := range pkts {
		s := &st[i]
		sa := s.sa
		if sa == nil {
			continue
		}
		if lk.sa != sa {
			lk.to(sa)
		}
		// Without anti-replay the window still tracks the highest number
		// seen, for show commands.
		if !sa.window.Advance(s.seq) && !sa.window.Update(s.seq) && !sa.noReplay {
			s.sa = nil
			sa.replays.Add(1)
			sa.drops.Add(1)
			w.drop(p, DropReplay)
		}
	}
	lk.release()

	for i, p := range pkts {
		s := &st[i]
		sa, t := s.sa, s.t
		if sa == nil {
			continue
		}
		w.left = len(pkts) - i // for hairpinned packets
		if !w.in.fits(sa, p.n, s.payload) && !w.in.add(sa, t, p.n, s.payload) {
			sa.drops.Add(1)
			w.drop(p, DropSAExpired)
			continue
		}
		p.setView(sa.cipher.PayloadOffset(), s.payload)
		p.Tunnel = t.cfg.ID
		w.decapsulate(tb, p, t, sa, s.next, s.outerECN)
	}
	clear(st) // keep no SA or tunnel alive past the batch
}

// decapsulate strips CMD, GRE and MPLS from a decrypted payload and routes
// the inner packet.
func (w *Worker) decapsulate(tb *tables, p *Packet, t *tunnel, sa *SA, next uint8, outerECN uint8) {
	vrf := t.cfg.VRF
	var sgt uint16
	if next == hdr.ProtoCMD {
		layout := *w.e.cmdLayout.Load()
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
	if outerECN == ecnCE+1 && !markCE(p.Data()) {
		w.drop(p, DropECN)
		return
	}
	if t.cfg.Mode == ModeIPsec && !sa.selects(src, dst) {
		sa.drops.Add(1)
		w.drop(p, DropSelector)
		return
	}
	if sgt != 0 {
		w.e.sgtRx[sgt].Add(1)
	}
	if s := t.cfg.SGT; s != 0 && (sgt == 0 || !t.cfg.TrustSGT) {
		sgt = s // policy static sgt: the tunnel's tag, over the peer's unless trusted
	}
	if acl := w.e.acl.Load(); acl != nil {
		ssgt := sgt
		if ssgt == 0 {
			ssgt, _ = tb.sgt[vrf].lookup(src)
		}
		dsgt, _ := tb.sgt[vrf].lookup(dst)
		if !acl.permits(ssgt, dsgt, p.Data()) {
			w.drop(p, DropSGACL)
			return
		}
	}
	p.SGT, p.VRF = sgt, vrf
	fe, ok := w.fib(tb, vrf).lookup(dst)
	nh := fe.nh
	if !ok || nh.Kind == NextHopDrop {
		w.drop(p, DropNoRoute)
		return
	}
	fe.touch()
	if nh.Kind == NextHopHost {
		p.Verdict = VerdictHost
		return
	}
	out := w.tunnel(nh.Tunnel)
	if out == nil {
		out = w.lookTunnel(tb, nh.Tunnel)
	}
	if out == nil {
		w.drop(p, DropNoTunnel)
		return
	}
	if out == t {
		w.drop(p, DropLoop)
		return
	}
	if t.cfg.NetworkID != 0 && t.cfg.NetworkID == out.cfg.NetworkID {
		w.e.ev.hairpin(HairpinEvent{NetworkID: t.cfg.NetworkID, In: t.cfg.ID, Out: out.cfg.ID, Src: src, Dst: dst, VRF: vrf})
	}
	if !decTTL(p.Data()) {
		w.drop(p, DropTTL)
		return
	}
	w.encapsulate(tb, p, out, nh, src, sgt, 0, false)
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

// tooBig drops a packet that does not fit the tunnel and, for a packet from
// the host side, turns it into the ICMP error (RFC 1191 / RFC 8201) that
// tells its sender the largest packet the tunnel takes.
func (w *Worker) tooBig(p *Packet, t *tunnel, innerMTU int, fromHost bool) {
	w.drops[DropTooBig]++
	p.Verdict, p.Drop = VerdictDrop, DropTooBig
	if !fromHost || innerMTU < 68 {
		return
	}
	d := p.Data()
	if hdr.IPVersion(d) == 4 {
		h := hdr.IPv4(d)
		src := t.cfg.ICMPSource4
		hl := h.HeaderLen()
		if !src.IsValid() || !h.Src().IsGlobalUnicast() || isICMPError(h.Protocol(), d[hl:], false) {
			return
		}
		quote := min(p.n, hl+8)
		if !p.ensureHeadroom(hdr.IPv4MinLen+8, 0) {
			return
		}
		dst := h.Src()
		p.n = quote
		b, _ := p.prepend(hdr.IPv4MinLen + 8)
		icmp := b[hdr.IPv4MinLen:]
		icmp[0], icmp[1], icmp[2], icmp[3], icmp[4], icmp[5] = 3, 4, 0, 0, 0, 0 // destination unreachable, fragmentation needed
		binary.BigEndian.PutUint16(icmp[6:8], uint16(min(innerMTU, 0xffff)))
		sum := ^hdr.Checksum(p.Data()[hdr.IPv4MinLen:], 0)
		binary.BigEndian.PutUint16(icmp[2:4], sum)
		hdr.EncodeIPv4(b, 0xc0, uint16(p.n), 0, 64, 1, src, dst)
	} else {
		h := hdr.IPv6(d)
		src := t.cfg.ICMPSource6
		if !src.IsValid() || !h.Src().IsGlobalUnicast() || isICMPError(h.NextHeader(), d[hdr.IPv6Len:], true) {
			return
		}
		const minMTU6 = 1280
		quote := min(p.n, minMTU6-hdr.IPv6Len-8)
		if !p.ensureHeadroom(hdr.IPv6Len+8, 0) {
			return
		}
		dst := h.Src()
		p.n = quote
		b, _ := p.prepend(hdr.IPv6Len + 8)
		icmp := b[hdr.IPv6Len:]
		icmp[0], icmp[1], icmp[2], icmp[3] = 2, 0, 0, 0 // packet too big
		binary.BigEndian.PutUint32(icmp[4:8], uint32(max(innerMTU, minMTU6)))
		hdr.EncodeIPv6(b, 0, uint16(p.n-hdr.IPv6Len), hdr.ProtoICMPv6, 64, src, dst)
		sum := ^hdr.Checksum(icmp[:p.n-hdr.IPv6Len], hdr.PseudoHeaderSum(src, dst, hdr.ProtoICMPv6, p.n-hdr.IPv6Len))
		binary.BigEndian.PutUint16(icmp[2:4], sum)
	}
	p.Verdict = VerdictHost
}

// isICMPError reports whether an upper-layer payload is an ICMP error
// message, which must never trigger another (RFC 1122 §3.2.2, RFC 4443 §2.4).
func isICMPError(proto uint8, l4 []byte, v6 bool) bool {
	if len(l4) == 0 {
		return false
	}
	if v6 {
		return proto == hdr.ProtoICMPv6 && l4[0] < 128
	}
	return proto == 1 && l4[0] != 0 && l4[0] != 8 && l4[0] != 13 && l4[0] != 14
}

const ecnCE = 3

// markCE applies an outer Congestion Experienced mark to the inner header
// (RFC 6040 §4.2): an ECN-capable inner packet becomes CE; a Not-ECT one
// must be dropped (false), since its endpoints would not see the mark.
func markCE(d []byte) bool {
	if hdr.IPVersion(d) == 4 {
		switch d[1] & 3 {
		case 0:
			return false
		case ecnCE:
			return true
		}
		d[1] |= ecnCE
		hdr.IPv4(d).UpdateChecksum()
		return true
	}
	switch (d[1] >> 4) & 3 {
	case 0:
		return false
	case ecnCE:
		return true
	}
	d[1] |= ecnCE << 4
	return true
}
