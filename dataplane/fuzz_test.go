package dataplane

import (
	"net/netip"
	"testing"

	"github.com/esphub/esphub/dataplane/hdr"
)

// FuzzInbound decapsulates arbitrary bytes as ESP and as ESP-in-UDP (and,
// through StripOuter, as whole IP packets): nothing may panic, and whatever
// is accepted must stay inside the buffer.
func FuzzInbound(f *testing.F) {
	pr := newPair(f, pairSpec{mode: ModeGRE, suite: suites[0], greKey: true, sgt: true})
	p := NewPacket(DefaultBufferSize)
	p.SetData(icmpPacket(hostA4, hostB4, 80, 1))
	pr.wa.ProcessOutbound([]*Packet{p})
	f.Add(append([]byte(nil), p.Data()...), uint8(0))
	p.StripOuter()
	f.Add(append([]byte(nil), p.Data()...), uint8(1))
	f.Add([]byte{0xff}, uint8(2))
	f.Add([]byte{0, 0, 0, 0, 1}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, how uint8) {
		q := NewPacket(DefaultBufferSize)
		if !q.SetData(b) {
			return
		}
		switch how % 3 {
		case 0:
			if !q.StripOuter() {
				return
			}
		case 2:
			q.Encap = true
		}
		pr.wb.ProcessInbound([]*Packet{q})
		if q.off < 0 || q.off+q.n > len(q.buf) || q.n < 0 {
			t.Fatalf("data out of buffer: off %d n %d", q.off, q.n)
		}
	})
}

// FuzzDecapsulate seals arbitrary bytes with a valid SA and an arbitrary
// next header, so that the GRE, MPLS, CMD and inner-IP parsers behind the
// ICV see attacker-shaped input from an authenticated peer.
func FuzzDecapsulate(f *testing.F) {
	pr := newPair(f, pairSpec{mode: ModeGRE, suite: suites[0], greKey: true})
	must(f, pr.b.BindLabel(100, 3))
	must(f, pr.b.AddRoute(3, netip.MustParsePrefix("0.0.0.0/0"), NextHop{Kind: NextHopTunnel, Tunnel: 1, Label: 200, PushLabel: true}))
	inner := icmpPacket(hostA4, hostB4, 40, 1)
	gre := []byte{0x20, 0, 0x88, 0x47, 0, 0, 0, 77}
	mpls := []byte{0, 0x06, 0x41, 64}
	f.Add(append(append(append([]byte{}, gre...), mpls...), inner...), hdr.ProtoGRE)
	f.Add(append([]byte{0x20, 0, 0x89, 0x09, 0, 0, 0, 77, 0x08, 0, 1, 1, 0, 1, 0, 5}, inner...), hdr.ProtoGRE)
	f.Add(append([]byte{1, 1, 0, 1, 0, 9, 0x08, 0}, inner...), hdr.ProtoCMD)
	f.Add(append([]byte{0x20, 0, 0x20, 0x01, 0, 0, 0, 77}, 1, 2, 3), hdr.ProtoGRE)
	f.Add(inner, hdr.ProtoIPv4IP)
	f.Add([]byte{}, hdr.ProtoNoNext)
	sa := pr.a.tab.Load().tunnel(1).out.Load()
	f.Fuzz(func(t *testing.T, payload []byte, next uint8) {
		q := NewPacket(DefaultBufferSize)
		if len(payload) > 1200 {
			return
		}
		po := sa.cipher.PayloadOffset()
		copy(q.buf[Headroom+po:], payload)
		seq, _ := sa.nextSeq(&pr.a.ev)
		n := sa.cipher.Seal(q.buf[Headroom:], sa.spi, seq, false, len(payload), next, &pr.wa.s)
		q.SetLen(n)
		pr.wb.ProcessInbound([]*Packet{q})
		if q.Verdict == VerdictDrop && (q.Drop == DropAuth || q.Drop == DropReplay || q.Drop == DropNoSA) {
			t.Fatalf("sealed packet dropped for %v", q.Drop)
		}
		if q.off < 0 || q.off+q.n > len(q.buf) || q.n < 0 {
			t.Fatalf("data out of buffer: off %d n %d", q.off, q.n)
		}
	})
}
