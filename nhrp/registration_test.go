package nhrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/nhrp/wire"
)

// registration builds a Registration Request as FRR nhrpd sends it to its NHS.
func registration(s *router, hub netip.Addr, id uint32) *wire.Packet {
	return &wire.Packet{
		AFN: wire.AFNIPv4, ProType: wire.ProtoIPv4, HopCount: 64, Type: wire.TypeRegistrationRequest,
		Flags: wire.FlagRegU | wire.FlagNAT, RequestID: id,
		SrcNBMA: s.nbma, SrcProto: s.overlay, DstProto: hub,
		CIEs: []wire.CIE{{PrefixLen: 0xff, MTU: 1400, HoldTime: 600}},
		Extensions: []wire.Extension{{Type: wire.ExtResponderAddress, Compulsory: true},
			{Type: wire.ExtForwardTransitNHS, Compulsory: true}, {Type: wire.ExtReverseTransitNHS, Compulsory: true},
			{Type: wire.ExtNATAddress}, {Type: wire.ExtEnd, Compulsory: true}},
	}
}

func TestRegistrationFromNATedSpoke(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second, nat: map[int]int{1: 1}})
	s1 := l.spokes[0]
	l.hub.node.Receive("Virtual-Access1", enc(t, registration(s1, l.hub.overlay, 77)))
	l.pump()
	var rep *wire.Packet
	for _, p := range l.sent {
		if q, err := wire.Decode(p.pkt); err == nil && q.Type == wire.TypeRegistrationReply && p.tunnel == "Virtual-Access1" {
			rep = q
		}
	}
	if rep == nil {
		t.Fatal("no registration reply")
	}
	if rep.RequestID != 77 || rep.Flags != wire.FlagRegU|wire.FlagNAT || len(rep.CIEs) != 1 || rep.CIEs[0].Code != wire.CIESuccess {
		t.Fatalf("reply %+v", rep)
	}
	if x := rep.Ext(wire.ExtNATAddress); x == nil || len(x.CIEs) != 1 || x.CIEs[0].NBMA != s1.public {
		t.Fatalf("NAT ext %+v", x)
	}
	if x := rep.Ext(wire.ExtResponderAddress); x == nil || len(x.CIEs) != 1 || x.CIEs[0].Proto != l.hub.overlay {
		t.Fatalf("responder ext %+v", x)
	}
	e := find(l.hub.node.Cache(), hostPrefix(s1.overlay))
	if e == nil || e.NBMA != s1.public || e.ClaimedNBMA != s1.nbma || e.Flags != FlagRegistered|FlagUnique || e.Tunnel != "Virtual-Access1" {
		t.Fatalf("hub cache %+v", e)
	}
	if len(l.hub.rib.shortcuts()) != 0 {
		t.Fatal("registration installed a route")
	}
	// Another NBMA address claiming the same unique binding is refused.
	l.hub.node.Receive("Virtual-Access2", enc(t, registration(&router{nbma: l.spokes[1].nbma, overlay: s1.overlay}, l.hub.overlay, 78)))
	l.pump()
	last, _ := wire.Decode(l.sent[len(l.sent)-1].pkt)
	if last.Type != wire.TypeRegistrationReply || last.CIEs[0].Code != wire.CIEUniqueAlreadyRegistred {
		t.Fatalf("duplicate unique registration: %+v", last)
	}
	// A spoke is no NHS: it does not answer registrations.
	before := l.spokes[1].node.Dropped(DropUnsupportedType)
	l.spokes[1].node.Receive("Tunnel0", enc(t, registration(s1, l.spokes[1].overlay, 79)))
	if l.spokes[1].node.Dropped(DropUnsupportedType) != before+1 {
		t.Fatalf("spoke handled a registration: %v", l.spokes[1].node.Stats().Drops)
	}
	// The registration expires with its holding time.
	l.advance(601 * time.Second)
	if c := l.hub.node.Cache(); len(c) != 0 {
		t.Fatalf("registration outlived its holding time: %+v", c)
	}
}

func TestPurgeRemovesShortcut(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s1, s2 := l.spokes[0], l.spokes[1]
	shortcutUp(t, l, 1, 2)
	var va string
	for _, r := range s1.rib.shortcuts() {
		va = r.Tunnel
	}
	// Spoke2 withdraws its LAN (it moved elsewhere), over the shortcut.
	purge := &wire.Packet{AFN: wire.AFNIPv4, ProType: wire.ProtoIPv4, HopCount: 64, Type: wire.TypePurgeRequest,
		RequestID: 5, SrcNBMA: s2.nbma, SrcProto: s2.overlay, DstProto: s1.overlay,
		CIEs: []wire.CIE{{PrefixLen: 24, Proto: s2.lan.Addr()}}}
	s1.node.Receive(va, enc(t, purge))
	l.pump()
	if r, ok := s1.rib.Lookup(l.host(2)); !ok || r.Shortcut {
		t.Fatalf("purged prefix still on the shortcut: %+v", r)
	}
	var rep *wire.Packet
	for _, p := range l.sent {
		if q, err := wire.Decode(p.pkt); err == nil && q.Type == wire.TypePurgeReply {
			rep = q
		}
	}
	if rep == nil || rep.RequestID != 5 || rep.DstProto != s1.overlay {
		t.Fatalf("purge reply %+v", rep)
	}
	// The next redirect (after the hub's redirect timeout) resolves again.
	l.advance(9 * time.Second)
	shortcutUp(t, l, 1, 2)
	// With the N flag nothing is answered.
	purge.Flags = wire.FlagPurgeN
	purge.RequestID = 6
	sent := len(l.sent)
	for _, r := range s1.rib.shortcuts() {
		va = r.Tunnel
	}
	s1.node.Receive(va, enc(t, purge))
	l.pump()
	if len(l.sent) != sent {
		t.Fatal("purge with N flag answered")
	}
}

// TestReplyViaHub covers an exit spoke that answers along the routed path
// (FRR nhrpd does) instead of over a tunnel it built: the hub forwards the
// reply with its reverse transit record, and the requester builds the
// spoke-to-spoke tunnel itself before installing the shortcut.
func TestReplyViaHub(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s1, s2 := l.spokes[0], l.spokes[1]
	l.cut[end{l.hub, "Virtual-Access2"}] = true // the request never reaches spoke2
	l.send(s1, l.host(2))
	var req *wire.Packet
	for _, p := range l.sent {
		if q, err := wire.Decode(p.pkt); err == nil && p.from == s1 && q.Type == wire.TypeResolutionRequest {
			req = q
		}
	}
	if req == nil {
		t.Fatal("no request")
	}
	delete(l.cut, end{l.hub, "Virtual-Access2"})
	me := wire.CIE{PrefixLen: 24, MTU: 1400, HoldTime: 600, NBMA: s2.nbma, Proto: s2.overlay}
	rep := &wire.Packet{AFN: wire.AFNIPv4, ProType: wire.ProtoIPv4, HopCount: 64, Type: wire.TypeResolutionReply,
		Flags: req.Flags | wire.FlagResD, RequestID: req.RequestID, SrcNBMA: req.SrcNBMA, SrcProto: req.SrcProto, DstProto: req.DstProto,
		CIEs: []wire.CIE{me},
		Extensions: []wire.Extension{{Type: wire.ExtForwardTransitNHS, Compulsory: true}, {Type: wire.ExtReverseTransitNHS, Compulsory: true},
			{Type: wire.ExtResponderAddress, Compulsory: true, CIEs: []wire.CIE{me}}, {Type: wire.ExtEnd, Compulsory: true}}}
	l.hub.node.Receive("Virtual-Access2", enc(t, rep))
	l.pump()
	if l.hub.node.Stats().ResolutionRepliesFwd != 1 {
		t.Fatal("hub did not forward the reply")
	}
	var fwd *wire.Packet
	for _, p := range l.sent {
		if q, err := wire.Decode(p.pkt); err == nil && p.from == l.hub && q.Type == wire.TypeResolutionReply {
			fwd = q
		}
	}
	if x := fwd.Ext(wire.ExtReverseTransitNHS); x == nil || len(x.CIEs) != 1 || x.CIEs[0].Proto != l.hub.overlay {
		t.Fatalf("reverse transit record %+v", x)
	}
	if len(s1.initiate) != 1 || s1.initiate[0].PeerNBMA != s2.public || s1.initiate[0].PeerProto != s2.overlay {
		t.Fatalf("requester initiate %+v", s1.initiate)
	}
	if r, ok := s1.rib.Lookup(l.host(2)); !ok || !r.Shortcut || !strings.HasPrefix(r.Tunnel, "Virtual-Access") {
		t.Fatalf("no shortcut after the requester's own tunnel came up: %+v", r)
	}
}
