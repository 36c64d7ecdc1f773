package dataplane

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"

	"github.com/esphub/esphub/dataplane/hdr"
)

// l4Packet builds an IPv4 or IPv6 TCP/UDP packet (no valid checksum: the
// engine does not check upper layers) from src:sport to dst:dport.
func l4Packet(src, dst netip.Addr, proto uint8, sport, dport uint16) []byte {
	if src.Is4() {
		b := make([]byte, 20+20)
		hdr.EncodeIPv4(b, 0, uint16(len(b)), 1, 64, proto, src, dst)
		binary.BigEndian.PutUint16(b[20:], sport)
		binary.BigEndian.PutUint16(b[22:], dport)
		return b
	}
	b := make([]byte, 40+20)
	hdr.EncodeIPv6(b, 0, 20, proto, 64, src, dst)
	binary.BigEndian.PutUint16(b[40:], sport)
	binary.BigEndian.PutUint16(b[42:], dport)
	return b
}

func permit(fam uint8, proto uint8) SGACE {
	return SGACE{Action: SGACLPermit, Family: fam, Proto: proto}
}

func denyAll(fam uint8) SGACE { return SGACE{Action: SGACLDeny, Family: fam, AnyProto: true} }

// sgaclPair is a tagged IPsec pair: A's 198.18.10.0/24 and 2001:db8:10::/48
// are SGT 10, B's 198.18.20.0/24 and 2001:db8:20::/48 are SGT 20 on both
// sides, and 198.18.20.128/25 is SGT 30 on B.
func sgaclPair(t *testing.T) *pair {
	pr := newPair(t, pairSpec{mode: ModeIPsec, suite: suites[0], sgt: true})
	for _, e := range []*Engine{pr.a, pr.b} {
		must(t, e.SetSGTMapping(0, netip.MustParsePrefix("198.18.10.0/24"), 10))
		must(t, e.SetSGTMapping(0, netip.MustParsePrefix("2001:db8:10::/48"), 10))
		must(t, e.SetSGTMapping(0, netip.MustParsePrefix("198.18.20.0/24"), 20))
		must(t, e.SetSGTMapping(0, netip.MustParsePrefix("2001:db8:20::/48"), 20))
	}
	must(t, pr.b.SetSGTMapping(0, netip.MustParsePrefix("198.18.20.128/25"), 30))
	must(t, pr.b.SetSGTMapping(0, netip.MustParsePrefix("198.18.20.7/32"), 40)) // no cell: the default decides
	return pr
}

// send runs one packet from A's host side through B and returns B's
// verdict and drop reason.
func send(t *testing.T, pr *pair, pkt []byte) (Verdict, DropReason) {
	t.Helper()
	p := NewPacket(DefaultBufferSize)
	p.SetData(pkt)
	pr.wa.ProcessOutbound([]*Packet{p})
	if p.Verdict != VerdictUnderlay {
		return p.Verdict, p.Drop
	}
	wire(t, p)
	pr.wb.ProcessInbound([]*Packet{p})
	return p.Verdict, p.Drop
}

func TestSGACLMatrixOnReceive(t *testing.T) {
	pr := sgaclPair(t)
	web := SGACE{Action: SGACLPermit, Family: 4, Proto: hdr.ProtoTCP, Dst: PortRange{Lo: 80, Hi: 80}}
	notDNS := SGACE{Action: SGACLDeny, Family: 4, Proto: hdr.ProtoUDP, Src: PortRange{Lo: 53, Hi: 53, Not: true}}
	must(t, pr.b.SetSGACL(SGACLPolicy{
		Enforce: true,
		Cells: []SGACLCell{
			{From: 10, To: 20, ACEs: []SGACE{permit(4, 1), web, notDNS, denyAll(4), permit(6, hdr.ProtoICMPv6), denyAll(6)}},
			{From: 10, To: 30, ACEs: []SGACE{denyAll(4)}},
			{From: 0, To: 20, ACEs: []SGACE{denyAll(4)}},
		},
		Default: []SGACE{permit(4, hdr.ProtoUDP)},
	}))
	other := netip.MustParseAddr("198.18.20.200") // SGT 30 on B
	for _, tc := range []struct {
		name string
		pkt  []byte
		ok   bool
	}{
		{"icmp 10->20", icmpPacket(hostA4, hostB4, 64, 1), true},
		{"tcp 80 10->20", l4Packet(hostA4, hostB4, hdr.ProtoTCP, 40000, 80), true},
		{"tcp 22 10->20", l4Packet(hostA4, hostB4, hdr.ProtoTCP, 40000, 22), false},
		{"udp from 53 10->20", l4Packet(hostA4, hostB4, hdr.ProtoUDP, 53, 9999), false}, // deny not-53 skipped, deny ip
		{"udp from 54 10->20", l4Packet(hostA4, hostB4, hdr.ProtoUDP, 54, 9999), false},
		{"icmpv6 10->20", icmpPacket(hostA6, hostB6, 64, 1), true},
		{"tcp6 10->20", l4Packet(hostA6, hostB6, hdr.ProtoTCP, 1, 2), false},
		{"icmp 10->30", icmpPacket(hostA4, other, 64, 1), false},
		{"icmp unknown->20", icmpPacket(netip.MustParseAddr("198.18.11.1"), hostB4, 64, 1), false},
		{"udp unknown->40 (default permits udp)", l4Packet(netip.MustParseAddr("198.18.11.1"), netip.MustParseAddr("198.18.20.7"), hdr.ProtoUDP, 1, 2), true},
	} {
		v, d := send(t, pr, tc.pkt)
		if tc.ok && v != VerdictHost {
			t.Errorf("%s: verdict %v drop %v, want delivered", tc.name, v, d)
		}
		if !tc.ok && (v != VerdictDrop || d != DropSGACL) {
			t.Errorf("%s: verdict %v drop %v, want sgacl drop", tc.name, v, d)
		}
	}
	got := map[[2]uint16][2]uint64{}
	for _, c := range pr.b.SGACLCounters() {
		k := [2]uint16{c.From, c.To}
		if c.Default {
			k = [2]uint16{0xffff, 0xffff}
		}
		got[k] = [2]uint64{c.Permitted, c.Denied}
	}
	want := map[[2]uint16][2]uint64{
		{10, 20}: {3, 4}, {10, 30}: {0, 1}, {0, 20}: {0, 1}, {0xffff, 0xffff}: {1, 0},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("cell %v: permitted/denied %v, want %v (all %v)", k, got[k], w, got)
		}
	}
	if n := pr.b.Drops()[DropSGACL]; n != 6 {
		t.Errorf("sgacl drops %d, want 6", n)
	}
	// A policy change keeps the counters of cells that stay.
	must(t, pr.b.SetSGACL(SGACLPolicy{Enforce: true, Cells: []SGACLCell{{From: 10, To: 20, ACEs: []SGACE{denyAll(4)}}}}))
	if v, d := send(t, pr, icmpPacket(hostA4, hostB4, 64, 2)); d != DropSGACL {
		t.Fatalf("after change: %v %v", v, d)
	}
	c := pr.b.SGACLCounters()
	if len(c) != 2 || c[0].From != 10 || c[0].To != 20 || c[0].Permitted != 3 || c[0].Denied != 5 || !c[1].Default {
		t.Errorf("counters after change: %+v", c)
	}
	pr.b.ClearSGACLCounters()
	for _, c := range pr.b.SGACLCounters() {
		if c.Permitted != 0 || c.Denied != 0 {
			t.Errorf("after clear: %+v", c)
		}
	}
	// Without enforcement everything passes and nothing is counted.
	must(t, pr.b.SetSGACL(SGACLPolicy{}))
	if v, d := send(t, pr, icmpPacket(hostA4, hostB4, 64, 3)); v != VerdictHost {
		t.Fatalf("not enforced: %v %v", v, d)
	}
	if c := pr.b.SGACLCounters(); c != nil {
		t.Errorf("counters without enforcement: %+v", c)
	}
}

// TestSGACLOutbound: a node enforces the matrix on traffic from its host
// side too, with both tags from its own mappings, and on untagged SAs.
func TestSGACLOutbound(t *testing.T) {
	pr := newPair(t, pairSpec{mode: ModeIPsec, suite: suites[0]}) // SGT not negotiated
	must(t, pr.a.SetSGTMapping(0, netip.MustParsePrefix("198.18.10.0/24"), 10))
	must(t, pr.a.SetSGTMapping(0, netip.MustParsePrefix("198.18.20.0/24"), 20))
	must(t, pr.a.SetSGACL(SGACLPolicy{Enforce: true, Cells: []SGACLCell{{From: 10, To: 20, ACEs: []SGACE{denyAll(4)}}}}))
	p := NewPacket(DefaultBufferSize)
	p.SetData(icmpPacket(hostA4, hostB4, 64, 1))
	pr.wa.ProcessOutbound([]*Packet{p})
	if p.Verdict != VerdictDrop || p.Drop != DropSGACL {
		t.Fatalf("outbound 10->20: %v %v", p.Verdict, p.Drop)
	}
	// Untagged SA: the receiver classifies the source by its own mapping.
	must(t, pr.a.SetSGACL(SGACLPolicy{}))
	must(t, pr.b.SetSGTMapping(0, netip.MustParsePrefix("198.18.10.0/24"), 10))
	must(t, pr.b.SetSGTMapping(0, netip.MustParsePrefix("198.18.20.0/24"), 20))
	must(t, pr.b.SetSGACL(SGACLPolicy{Enforce: true, Cells: []SGACLCell{{From: 10, To: 20, ACEs: []SGACE{denyAll(4)}}}}))
	if v, d := send(t, pr, icmpPacket(hostA4, hostB4, 64, 1)); d != DropSGACL {
		t.Fatalf("untagged 10->20 on receive: %v %v", v, d)
	}
}

func TestSGACLValidation(t *testing.T) {
	e := NewEngine(Options{})
	for name, p := range map[string]SGACLPolicy{
		"no action":     {Enforce: true, Default: []SGACE{{Family: 4, AnyProto: true}}},
		"family":        {Enforce: true, Default: []SGACE{{Action: SGACLDeny, Family: 5, AnyProto: true}}},
		"ports on icmp": {Enforce: true, Cells: []SGACLCell{{From: 1, To: 2, ACEs: []SGACE{{Action: SGACLDeny, Family: 4, Proto: 1, Dst: PortRange{Lo: 1, Hi: 1}}}}}},
		"empty range":   {Enforce: true, Cells: []SGACLCell{{From: 1, To: 2, ACEs: []SGACE{{Action: SGACLDeny, Family: 4, Proto: 6, Dst: PortRange{Lo: 9, Hi: 1}}}}}},
		"reserved sgt":  {Enforce: true, Cells: []SGACLCell{{From: 0xffff, To: 2}}},
	} {
		if err := e.SetSGACL(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestL4Info covers the classifier on IPv6 extension headers and fragments.
func TestL4Info(t *testing.T) {
	b := l4Packet(hostA6, hostB6, hdr.ProtoUDP, 7, 9)
	// Insert a destination options header (8 bytes) before UDP.
	ext := append(append([]byte{}, b[:40]...), hdr.ProtoUDP, 0, 0, 0, 0, 0, 0, 0)
	ext = append(ext, b[40:]...)
	ext[6] = 60
	binary.BigEndian.PutUint16(ext[4:], uint16(len(ext)-40))
	if fam, proto, s, d, ok := l4Info(ext); fam != 6 || proto != hdr.ProtoUDP || s != 7 || d != 9 || !ok {
		t.Errorf("dst opts: %d %d %d %d %v", fam, proto, s, d, ok)
	}
	// A later IPv6 fragment has no ports.
	frag := append(append([]byte{}, b[:40]...), hdr.ProtoUDP, 0, 0, 8, 0, 0, 0, 1)
	frag = append(frag, b[40:]...)
	frag[6] = 44
	if _, proto, _, _, ok := l4Info(frag); proto != hdr.ProtoUDP || ok {
		t.Errorf("later fragment: proto %d ports %v", proto, ok)
	}
	v4 := l4Packet(hostA4, hostB4, hdr.ProtoTCP, 1, 2)
	v4[6], v4[7] = 0, 10 // fragment offset 10
	if _, _, _, _, ok := l4Info(v4); ok {
		t.Error("IPv4 later fragment has ports")
	}
}

// TestSGACLNoAllocs proves enforcement allocates nothing: batches through
// a matrix that permits them, with the source and destination tags looked
// up on both sides.
func TestSGACLNoAllocs(t *testing.T) {
	pr := sgaclPair(t)
	pol := SGACLPolicy{Enforce: true, Cells: []SGACLCell{{From: 10, To: 20, ACEs: []SGACE{
		{Action: SGACLDeny, Family: 4, Proto: hdr.ProtoTCP, Dst: PortRange{Lo: 22, Hi: 22}}, permit(4, 1)}}}}
	must(t, pr.a.SetSGACL(pol))
	must(t, pr.b.SetSGACL(pol))
	bb := newBenchBatch(batchSizes(0)[:min(67, batchSize)], hostA4, hostB4)
	run := func() {
		bb.reset()
		pr.wa.ProcessOutbound(bb.pkts)
		for _, p := range bb.pkts {
			if p.Verdict != VerdictUnderlay || !p.StripOuter() {
				t.Fatalf("outbound %v %v", p.Verdict, p.Drop)
			}
		}
		pr.wb.ProcessInbound(bb.pkts)
		for _, p := range bb.pkts {
			if p.Verdict != VerdictHost || p.SGT != 10 {
				t.Fatalf("inbound %v %v sgt %d", p.Verdict, p.Drop, p.SGT)
			}
		}
	}
	if allocs := testing.AllocsPerRun(50, run); allocs != 0 {
		t.Errorf("%v allocs per batch", allocs)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 300 {
		run()
	}
	runtime.ReadMemStats(&after)
	if m := after.Mallocs - before.Mallocs; m >= 300*uint64(len(bb.pkts))/400 {
		t.Errorf("%d mallocs over %d packets", m, 300*len(bb.pkts))
	}
	c := pr.b.SGACLCounters()
	if c[0].Permitted == 0 || c[0].Denied != 0 {
		t.Errorf("counters %+v", c)
	}
}

// BenchmarkSGACL measures the matrix's cost per packet on receive: a cell
// of four entries the packet passes through to the last.
func BenchmarkSGACL(b *testing.B) {
	e := NewEngine(Options{})
	must(b, e.SetSGACL(SGACLPolicy{Enforce: true, Cells: []SGACLCell{{From: 10, To: 20, ACEs: []SGACE{
		{Action: SGACLDeny, Family: 4, Proto: hdr.ProtoTCP, Dst: PortRange{Lo: 22, Hi: 22}},
		{Action: SGACLDeny, Family: 4, Proto: hdr.ProtoUDP},
		{Action: SGACLDeny, Family: 6, AnyProto: true},
		permit(4, hdr.ProtoTCP)}}}}))
	acl := e.acl.Load()
	pkt := l4Packet(hostA4, hostB4, hdr.ProtoTCP, 40000, 443)
	b.ReportAllocs()
	for b.Loop() {
		if !acl.permits(10, 20, pkt) {
			b.Fatal("denied")
		}
	}
}

// FuzzSGACLClassify feeds arbitrary inner packets, validated as the packet
// path validates them, to the classifier and the matrix: never a panic,
// and every decision is counted exactly once.
func FuzzSGACLClassify(f *testing.F) {
	e := NewEngine(Options{})
	must(f, e.SetSGACL(SGACLPolicy{Enforce: true,
		Cells: []SGACLCell{{From: 1, To: 2, ACEs: []SGACE{
			{Action: SGACLDeny, Family: 4, Proto: hdr.ProtoTCP, Dst: PortRange{Lo: 22, Hi: 22}},
			{Action: SGACLPermit, Family: 6, Proto: hdr.ProtoUDP, Src: PortRange{Lo: 53, Hi: 53, Not: true}},
			denyAll(6)}}},
		Default: []SGACE{denyAll(4)}}))
	acl := e.acl.Load()
	f.Add(l4Packet(hostA4, hostB4, hdr.ProtoTCP, 1, 22))
	f.Add(l4Packet(hostA6, hostB6, hdr.ProtoUDP, 53, 1))
	f.Add(icmpPacket(hostA6, hostB6, 64, 1))
	ext := l4Packet(hostA6, hostB6, hdr.ProtoUDP, 7, 9)
	ext[6] = 0 // hop-by-hop whose length runs past the packet
	f.Add(ext)
	f.Fuzz(func(t *testing.T, b []byte) {
		p := NewPacket(DefaultBufferSize)
		if len(b) > 1500 {
			return
		}
		p.SetData(b)
		if _, _, ok := innerIP(p); !ok {
			return
		}
		before := sumCounters(e)
		acl.permits(1, 2, p.Data())
		acl.permits(3, 4, p.Data())
		if after := sumCounters(e); after != before+2 {
			t.Fatalf("counted %d decisions for 2", after-before)
		}
	})
}

func sumCounters(e *Engine) uint64 {
	var n uint64
	for _, c := range e.SGACLCounters() {
		n += c.Permitted + c.Denied
	}
	return n
}

// TestTunnelStaticSGT: a tunnel's static tag replaces what an untrusted
// peer sends, fills in for untagged traffic, and yields to a trusted
// peer's tag; the matrix judges the result.
func TestTunnelStaticSGT(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tagged  bool
		trusted bool
		want    uint16
	}{
		{"untrusted peer tag replaced", true, false, 50},
		{"untagged gets the static tag", false, false, 50},
		{"trusted peer tag kept", true, true, 10},
		{"trusted, untagged", false, true, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := newPair(t, pairSpec{mode: ModeIPsec, suite: suites[0], sgt: tc.tagged})
			must(t, pr.a.SetSGTMapping(0, netip.MustParsePrefix("198.18.10.0/24"), 10))
			must(t, pr.b.SetSGTMapping(0, netip.MustParsePrefix("198.18.20.0/24"), 20))
			must(t, pr.b.DeleteTunnel(1))
			tb := pr.tb
			tb.SGT, tb.TrustSGT = 50, tc.trusted
			must(t, pr.b.AddTunnel(tb))
			must(t, pr.b.AddSA(SAConfig{SPI: pr.spiAB, Direction: Inbound, Tunnel: 1, Algorithm: suites[0].alg, EncKey: pr.encAB, SGT: tc.tagged}))
			must(t, pr.b.SetSGACL(SGACLPolicy{Enforce: true, Cells: []SGACLCell{{From: 50, To: 20, ACEs: []SGACE{permit(4, 1)}}}}))
			p := seal(t, pr, hostA4, hostB4, 64)
			pr.wb.ProcessInbound([]*Packet{p})
			if p.Verdict != VerdictHost || p.SGT != tc.want {
				t.Fatalf("verdict %v drop %v sgt %d, want host with %d", p.Verdict, p.Drop, p.SGT, tc.want)
			}
			c := pr.b.SGACLCounters()
			if got := c[0].Permitted; (tc.want == 50) != (got == 1) {
				t.Errorf("cell 50->20 permitted %d", got)
			}
		})
	}
	if err := NewEngine(Options{}).AddTunnel(TunnelConfig{ID: 1, Mode: ModeIPsec, Local: v4A, Remote: v4B, SGT: 0xffff}); err == nil {
		t.Error("static sgt 65535 accepted")
	}
}

// BenchmarkDecryptSGT is BenchmarkDecrypt's 64-byte case three ways: an
// untagged SA, a tagged one (CMD stripped and counted), and a tagged one
// whose packets pass a four-entry SGACL cell, to price tagging and the
// matrix on the whole inbound path.
func BenchmarkDecryptSGT(b *testing.B) {
	for _, v := range []struct {
		name       string
		tag, sgacl bool
	}{{"plain", false, false}, {"tagged", true, false}, {"tagged+sgacl", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			pr := newPair(b, pairSpec{mode: ModeIPsec, suite: suites[0], sgt: v.tag})
			must(b, pr.a.SetSGTMapping(0, netip.MustParsePrefix("198.18.10.0/24"), 10))
			must(b, pr.b.SetSGTMapping(0, netip.MustParsePrefix("198.18.20.0/24"), 20))
			if v.sgacl {
				must(b, pr.b.SetSGACL(SGACLPolicy{Enforce: true, Cells: []SGACLCell{{From: 10, To: 20, ACEs: []SGACE{
					{Action: SGACLDeny, Family: 4, Proto: hdr.ProtoTCP, Dst: PortRange{Lo: 22, Hi: 22}},
					{Action: SGACLDeny, Family: 4, Proto: hdr.ProtoUDP},
					{Action: SGACLDeny, Family: 6, AnyProto: true},
					permit(4, 1)}}}}))
			}
			const rounds = 64
			var sealed [rounds][][]byte
			bb := newBenchBatch(batchSizes(64), hostA4, hostB4)
			for r := 0; r < rounds; r++ {
				bb.reset()
				pr.wa.ProcessOutbound(bb.pkts)
				for _, p := range bb.pkts {
					p.StripOuter()
					sealed[r] = append(sealed[r], append([]byte(nil), p.Data()...))
				}
			}
			in := pr.b.tab.Load().sa(pr.spiAB)
			remote := bb.pkts[0].Remote
			b.ReportAllocs()
			c := newBatchClock(b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				r := i % rounds
				if r == 0 {
					in.window.Reset()
				}
				for j, p := range bb.pkts {
					p.SetLen(copy(p.buf[Headroom:], sealed[r][j]))
					p.Remote = remote
				}
				b.StartTimer()
				c.begin()
				pr.wb.ProcessInbound(bb.pkts)
				c.end()
			}
			c.report(b)
			for _, p := range bb.pkts {
				if p.Verdict != VerdictHost || (v.tag && p.SGT != 10) {
					b.Fatal(p.Verdict, p.Drop, p.SGT)
				}
			}
		})
	}
}
