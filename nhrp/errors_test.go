package nhrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/nhrp/wire"
)

// request builds a resolution request as spoke s would send it.
func request(s *router, target netip.Addr, id uint32, hop uint8) *wire.Packet {
	return &wire.Packet{
		AFN: wire.AFNIPv4, ProType: protoTypeOf(target), HopCount: hop, Type: wire.TypeResolutionRequest,
		Flags: wire.FlagResQ | wire.FlagResA | wire.FlagResS, RequestID: id,
		SrcNBMA: s.nbma, SrcProto: s.overlay, DstProto: target,
		CIEs: []wire.CIE{{PrefixLen: 0xff, MTU: 1400, HoldTime: 600}},
		Extensions: []wire.Extension{{Type: wire.ExtForwardTransitNHS, Compulsory: true},
			{Type: wire.ExtReverseTransitNHS, Compulsory: true}, {Type: wire.ExtResponderAddress, Compulsory: true},
			{Type: wire.ExtEnd, Compulsory: true}},
	}
}

func enc(t *testing.T, p *wire.Packet) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// errorsSent returns the Error Indications r sent, decoded.
func errorsSent(t *testing.T, l *lab, r *router) []*wire.Packet {
	t.Helper()
	var out []*wire.Packet
	for _, p := range l.sent {
		if p.from != r {
			continue
		}
		q, err := wire.Decode(p.pkt)
		if err != nil {
			t.Fatalf("%s sent an undecodable packet: %v", r.name, err)
		}
		if q.Type == wire.TypeErrorIndication {
			out = append(out, q)
		}
	}
	return out
}

func TestErrorIndications(t *testing.T) {
	loop := func(l *lab) []byte {
		p := request(l.spokes[0], l.host(2), 11, 64)
		p.Extensions[0].CIEs = []wire.CIE{{PrefixLen: 32, NBMA: l.hub.nbma, Proto: l.hub.overlay}}
		return enc(t, p)
	}
	tests := []struct {
		name   string
		at     func(l *lab) *router
		tunnel string
		pkt    func(l *lab) []byte
		code   wire.Code
		drop   DropReason
	}{
		{"hop count exceeded at the hub", func(l *lab) *router { return l.hub }, "Virtual-Access1",
			func(l *lab) []byte { return enc(t, request(l.spokes[0], l.host(2), 10, 1)) }, wire.CodeHopCountExceeded, DropHopCount},
		{"transit loop at the hub", func(l *lab) *router { return l.hub }, "Virtual-Access1", loop, wire.CodeLoopDetected, DropLoop},
		{"no route at the hub", func(l *lab) *router { return l.hub }, "Virtual-Access1",
			func(l *lab) []byte { return enc(t, request(l.spokes[0], netip.MustParseAddr("203.0.113.1"), 12, 64)) },
			wire.CodeProtocolAddrUnreachable, DropNoRoute},
		{"prefix the spoke does not own", func(l *lab) *router { return l.spokes[1] }, "Tunnel0",
			func(l *lab) []byte { return enc(t, request(l.spokes[0], l.host(3), 13, 63)) }, wire.CodeProtocolAddrUnreachable, DropNotOwned},
		{"unknown compulsory extension", func(l *lab) *router { return l.hub }, "Virtual-Access1",
			func(l *lab) []byte {
				p := request(l.spokes[0], l.host(2), 14, 64)
				p.Extensions = append([]wire.Extension{{Type: 0x1234, Compulsory: true, Data: []byte{1, 2}}}, p.Extensions...)
				return enc(t, p)
			}, wire.CodeUnrecognizedExtension, DropMalformed},
		{"bad address length", func(l *lab) *router { return l.hub }, "Virtual-Access1",
			func(l *lab) []byte {
				b := enc(t, request(l.spokes[0], l.host(2), 15, 64))
				b[21] = 5 // destination protocol length
				wire.Header(b).UpdateChecksum()
				return b
			}, wire.CodeProtocolError, DropMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t, 3, labOpts{hold: 600 * time.Second})
			r := tt.at(l)
			r.node.Receive(tt.tunnel, tt.pkt(l))
			l.pump()
			errs := errorsSent(t, l, r)
			if len(errs) != 1 {
				t.Fatalf("%s sent %d error indications", r.name, len(errs))
			}
			e := errs[0]
			if e.ErrorCode() != tt.code || e.DstProto != l.spokes[0].overlay || len(e.Payload) < wire.HeaderLen {
				t.Fatalf("error indication code %v to %v", e.ErrorCode(), e.DstProto)
			}
			if got := r.node.Dropped(tt.drop); got != 1 {
				t.Fatalf("drop %v = %d", tt.drop, got)
			}
			// It reached spoke1 (through the hub when a spoke sent it).
			if got := l.spokes[0].node.Stats().ErrorIndicationsRecv; got != 1 {
				t.Fatalf("spoke1 received %d error indications", got)
			}
		})
	}
}

func TestSilentDrops(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	hub := l.hub.node
	good := enc(t, request(l.spokes[0], l.host(2), 20, 64))
	bad := append([]byte(nil), good...)
	bad[30] ^= 0xff
	hub.Receive("Virtual-Access1", bad)
	hub.Receive("Virtual-Access1", good[:10])
	hub.Receive("Virtual-Access1", nil)
	hub.Receive("Virtual-Access9", good)
	// A malformed Error Indication is never answered.
	ei := wire.NewErrorIndication(good, wire.CodeLoopDetected, 0, l.spokes[0].nbma, l.spokes[0].overlay, l.hub.overlay, 0)
	eb := enc(t, ei)
	eb[16] = 7 // version
	wire.Header(eb).UpdateChecksum()
	hub.Receive("Virtual-Access1", eb)
	l.pump()
	if n := len(errorsSent(t, l, l.hub)); n != 0 {
		t.Fatalf("hub answered %d silent drops", n)
	}
	if hub.Dropped(DropChecksum) != 3 || hub.Dropped(DropUnknownTunnel) != 1 || hub.Dropped(DropMalformed) != 1 {
		t.Fatalf("drops %+v", hub.Stats().Drops)
	}
	// A reply nobody asked for.
	rep := request(l.spokes[1], l.spokes[0].overlay, 99, 64)
	rep.Type = wire.TypeResolutionReply
	rep.SrcProto, rep.DstProto = l.spokes[0].overlay, l.host(2)
	l.spokes[0].node.Receive("Tunnel0", enc(t, rep))
	if l.spokes[0].node.Dropped(DropUnexpectedReply) != 1 {
		t.Fatal("unexpected reply not counted")
	}
	// Traffic indication with a useless quoted packet.
	ti := &wire.Packet{AFN: wire.AFNIPv4, ProType: wire.ProtoIPv4, HopCount: 1, Type: wire.TypeTrafficIndication,
		SrcNBMA: l.hub.nbma, SrcProto: l.hub.overlay, DstProto: l.spokes[0].overlay, Payload: []byte{0x45, 0}}
	l.spokes[0].node.Receive("Tunnel0", enc(t, ti))
	if l.spokes[0].node.Dropped(DropBadIndication) != 1 {
		t.Fatal("bad traffic indication not counted")
	}
}

func TestNegativeAnswer(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s1 := l.spokes[0]
	nowhere := netip.MustParseAddr("198.19.99.1") // inside spoke1's summary, unknown to the hub
	ti := &wire.Packet{AFN: wire.AFNIPv4, ProType: wire.ProtoIPv4, HopCount: 1, Type: wire.TypeTrafficIndication,
		SrcNBMA: l.hub.nbma, SrcProto: l.hub.overlay, DstProto: s1.overlay,
		Payload: ipPacket(s1.lan.Addr().Next(), nowhere)}
	s1.node.Receive("Tunnel0", enc(t, ti))
	l.pump()
	e := find(s1.node.Cache(), hostPrefix(nowhere))
	if e == nil || e.Type != TypeNegative {
		t.Fatalf("no negative entry: %+v", s1.node.Cache())
	}
	sent := s1.node.Stats().ResolutionRequestsSent
	s1.node.Receive("Tunnel0", enc(t, ti))
	l.pump()
	if s1.node.Stats().ResolutionRequestsSent != sent {
		t.Fatal("negative entry did not suppress a new resolution")
	}
	l.advance(31 * time.Second)
	if len(s1.node.Cache()) != 0 {
		t.Fatalf("negative entry did not expire: %+v", s1.node.Cache())
	}
	s1.node.Receive("Tunnel0", enc(t, ti))
	l.pump()
	if s1.node.Stats().ResolutionRequestsSent != sent+1 {
		t.Fatal("no new resolution after the negative entry expired")
	}
}

func TestIdleExpiryAtHoldTime(t *testing.T) {
	hold := 90 * time.Second
	l := newLab(t, 2, labOpts{hold: hold})
	s1 := l.spokes[0]
	shortcutUp(t, l, 1, 2)
	e := find(s1.node.Cache(), l.spokes[1].lan)
	if e == nil {
		t.Fatal("no entry")
	}
	l.advance(e.Expire.Sub(l.clock.Now()) - time.Second)
	if len(s1.rib.shortcuts()) != 2 {
		t.Fatal("shortcut gone before its hold time")
	}
	if s1.node.Stats().ShortcutsRefreshed != 0 {
		t.Fatal("idle shortcut refreshed")
	}
	l.advance(2 * time.Second)
	if len(s1.rib.shortcuts()) != 0 || len(s1.node.Cache()) != 0 {
		t.Fatalf("shortcut outlived its hold time: %v", s1.rib.log)
	}
	// The exit spoke's implicit entry ages out the same way.
	if c := l.spokes[1].node.Cache(); len(c) != 0 {
		t.Fatalf("exit spoke cache %+v", c)
	}
	// With nothing left on it, the spoke-to-spoke tunnel is released (by
	// whichever side's entries went first), as IOS removes the
	// virtual-access; the hub tunnel never is.
	l.pump()
	rel := append(append([]string(nil), s1.released...), l.spokes[1].released...)
	if len(rel) == 0 || !strings.HasPrefix(rel[0], "Virtual-Access") {
		t.Fatalf("released %v, want the spoke-to-spoke tunnel", rel)
	}
	for _, s := range l.spokes {
		if p := s.node.DMVPN(); len(p) != 1 || p[0].Interface != "Tunnel0" {
			t.Fatalf("%s keeps peers %+v, want only the hub", s.name, p)
		}
	}
}

// TestReleaseWaitsForLastFamily: clearing one family's entries keeps the
// tunnel while the other family's shortcut uses it; clearing that too
// releases it.
func TestReleaseWaitsForLastFamily(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s1 := l.spokes[0]
	shortcutUp(t, l, 1, 2)
	// A second, refreshed entry on the same tunnel keeps it: simulate with
	// a refresh cycle (the entries are replaced, never all gone).
	s1.usage[l.spokes[1].lan]++
	l.advance(401 * time.Second) // refresh at 2/3 of 600 s
	if len(s1.released) != 0 || len(l.spokes[1].released) != 0 {
		t.Fatalf("a refresh released the tunnel: %v %v", s1.released, l.spokes[1].released)
	}
	if n := s1.node.Clear(false); n != 0 || len(s1.released) != 0 {
		t.Fatalf("clearing the empty IPv6 family cleared %d and released %v", n, s1.released)
	}
	if n := s1.node.Clear(true); n == 0 || len(s1.released) != 1 {
		t.Fatalf("clear ip nhrp cleared %d, released %v", n, s1.released)
	}
}

func TestTunnelSetupTimeout(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s2 := l.spokes[1]
	// The exit spoke's IKEv2 never completes.
	s1 := l.spokes[0]
	s2.node.Receive("Tunnel0", enc(t, request(s1, l.host(2), 30, 63)))
	l.events = nil // drop the simulated IKEv2
	if len(s2.initiate) != 1 || len(s2.node.pending) != 1 {
		t.Fatalf("initiate %+v pending %d", s2.initiate, len(s2.node.pending))
	}
	// A retransmitted request does not start a second IKEv2.
	s2.node.Receive("Tunnel0", enc(t, request(s1, l.host(2), 30, 63)))
	if len(s2.initiate) != 1 {
		t.Fatalf("second initiate for the same peer: %+v", s2.initiate)
	}
	l.advance(31 * time.Second)
	if len(s2.node.pending) != 0 {
		t.Fatal("pending replies not abandoned")
	}
}

func TestWideServedPrefixRefused(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s2 := l.spokes[1]
	s2.rib.add("0.0.0.0/0", "", false) // default route out of the WAN
	s2.node.Receive("Tunnel0", enc(t, request(l.spokes[0], netip.MustParseAddr("203.0.113.9"), 31, 63)))
	l.pump()
	if s2.node.Dropped(DropNotOwned) != 1 || len(s2.initiate) != 0 {
		t.Fatal("spoke offered a shortcut for its default route")
	}
}
