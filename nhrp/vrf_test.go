package nhrp

import (
	"testing"
	"time"

	"github.com/esphub/esphub/nhrp/wire"
)

// TestVRFLabels: Nodes serving one VRF of an MPLS overlay name the VRF in
// every packet with the label the receiving peer owns (the hub swapping it
// when it forwards a request), the exit spoke's reply carries its own VPN
// label, and the requester's shortcut route pushes exactly that label.
func TestVRFLabels(t *testing.T) {
	l := newLab(t, 2, labOpts{labels: true})
	s1, s2 := l.spokes[0], l.spokes[1]
	shortcutUp(t, l, 1, 2)
	r, ok := s1.rib.Lookup(l.host(2))
	if !ok || !r.Shortcut || r.Label != s2.label {
		t.Fatalf("spoke1's shortcut to %v: %+v, want label %d", l.host(2), r, s2.label)
	}
	var fwd, replies int
	for _, sp := range l.sent {
		p, err := wire.Decode(sp.pkt)
		if err != nil {
			t.Fatal(err)
		}
		far := l.links[end{sp.from, sp.tunnel}].r
		x := p.Ext(wire.ExtVRFLabel)
		if x == nil {
			t.Fatalf("%s sent %v on %s without a VRF label", sp.from.name, p.Type, sp.tunnel)
		}
		if got, ok := x.VRFLabel(); !ok || got != far.label {
			t.Errorf("%s sent %v to %s with VRF label %d, want %d (the receiver's)", sp.from.name, p.Type, far.name, got, far.label)
		}
		if sp.from == l.hub && p.Type == wire.TypeResolutionRequest {
			fwd++
		}
		if p.Type == wire.TypeResolutionReply && sp.from == s2 {
			replies++
			m := p.Ext(wire.ExtMPLSLabel)
			if m == nil {
				t.Fatal("the exit spoke's reply carries no MPLS label")
			}
			if ls, ok := m.MPLSLabels(); !ok || len(ls) != 1 || ls[0] != s2.label {
				t.Errorf("reply labels %v, want [%d]", ls, s2.label)
			}
		}
	}
	if fwd == 0 || replies == 0 {
		t.Fatalf("hub forwarded %d requests, spoke2 sent %d replies", fwd, replies)
	}
}

// TestVRFReplyWithoutLabel: a VRF instance refuses a reply that carries no
// label rather than send the VRF's traffic unlabelled into a shared tunnel.
func TestVRFReplyWithoutLabel(t *testing.T) {
	l := newLab(t, 2, labOpts{labels: true})
	s1, s2 := l.spokes[0], l.spokes[1]
	s2.label = 0 // spoke2 has no label for the VRF: its reply carries none
	for range 5 {
		l.send(s1, l.host(2))
		l.advance(time.Second)
	}
	if r, ok := s1.rib.Lookup(l.host(2)); !ok || r.Shortcut {
		t.Fatalf("spoke1 installed a shortcut without a label: %+v", r)
	}
	if s1.node.Dropped(DropInvalidReply) == 0 {
		t.Fatal("the unlabelled reply was not counted as invalid")
	}
}

// TestInUse: a Node reports the spoke-to-spoke tunnel its shortcut uses as
// in use, and tunnels it has nothing through as not.
func TestInUse(t *testing.T) {
	l := newLab(t, 2, labOpts{labels: true})
	s1 := l.spokes[0]
	shortcutUp(t, l, 1, 2)
	r, _ := s1.rib.Lookup(l.host(2))
	if !s1.node.InUse(r.Tunnel) {
		t.Fatalf("spoke1's shortcut tunnel %s not in use", r.Tunnel)
	}
	if s1.node.InUse("Virtual-Access999") || l.hub.node.InUse(r.Tunnel) {
		t.Fatal("a tunnel with nothing through it is in use")
	}
}
