package dataplane

import (
	"net/netip"
	"testing"
	"time"
)

// TestHairpinVRF: a hub forwarding labelled traffic between two spokes
// reports the hairpin in the VRF the label named, and the same addresses
// in two VRFs are two flows for the rate limit (each VRF gets its
// redirect).
func TestHairpinVRF(t *testing.T) {
	now := time.Unix(1000, 0)
	ev := NewChanEvents(8)
	hub := NewEngine(Options{Events: ev, Now: func() time.Time { return now }, HairpinInterval: time.Minute})
	hubW := hub.NewWorker()
	spoke1 := NewEngine(Options{})
	w1 := spoke1.NewWorker()
	hubAddr, s1Addr, s2Addr := v4A, v4B, netip.MustParseAddr("198.18.0.3")
	k1, k2 := testKey(20, 1), testKey(20, 2)
	gcm := suites[0].alg
	must(t, hub.AddTunnel(TunnelConfig{ID: 1, Mode: ModeGRE, Local: hubAddr, Remote: s1Addr, NetworkID: 5}))
	must(t, hub.AddTunnel(TunnelConfig{ID: 2, Mode: ModeGRE, Local: hubAddr, Remote: s2Addr, NetworkID: 5}))
	must(t, hub.AddSA(SAConfig{SPI: 0x101, Direction: Inbound, Tunnel: 1, Algorithm: gcm, EncKey: k1}))
	must(t, hub.AddSA(SAConfig{SPI: 0x202, Direction: Outbound, Tunnel: 2, Algorithm: gcm, EncKey: k2}))
	must(t, spoke1.AddTunnel(TunnelConfig{ID: 1, Mode: ModeGRE, Local: s1Addr, Remote: hubAddr}))
	must(t, spoke1.AddSA(SAConfig{SPI: 0x101, Direction: Outbound, Tunnel: 1, Algorithm: gcm, EncKey: k1}))
	dst := netip.MustParsePrefix("198.19.2.0/24")
	for vrf, label := range map[uint32]uint32{1: 30, 2: 40} {
		must(t, spoke1.AddRoute(vrf, dst, NextHop{Kind: NextHopTunnel, Tunnel: 1, Label: label, PushLabel: true}))
		must(t, hub.BindLabel(label, vrf))
		must(t, hub.AddRoute(vrf, dst, NextHop{Kind: NextHopTunnel, Tunnel: 2, Label: label + 1, PushLabel: true}))
	}
	src, to := netip.MustParseAddr("198.19.1.10"), netip.MustParseAddr("198.19.2.10")
	for _, vrf := range []uint32{1, 2, 1, 2} {
		p := NewPacket(DefaultBufferSize)
		p.SetData(icmpPacket(src, to, 64, 1))
		p.VRF = vrf
		w1.ProcessOutbound([]*Packet{p})
		wire(t, p)
		hubW.ProcessInbound([]*Packet{p})
		if p.Verdict != VerdictUnderlay || p.Remote.Addr() != s2Addr {
			t.Fatalf("vrf %d: hub verdict %v drop %v", vrf, p.Verdict, p.Drop)
		}
	}
	if len(ev.Hairpins) != 2 || hub.HairpinsSuppressed() != 2 {
		t.Fatalf("hairpin events %d (want one per VRF), suppressed %d", len(ev.Hairpins), hub.HairpinsSuppressed())
	}
	got := map[uint32]bool{}
	for range 2 {
		e := <-ev.Hairpins
		if e.In != 1 || e.Out != 2 || e.Src != src || e.Dst != to {
			t.Fatalf("event %+v", e)
		}
		got[e.VRF] = true
	}
	if !got[1] || !got[2] {
		t.Fatalf("events for VRFs %v, want 1 and 2", got)
	}
}
