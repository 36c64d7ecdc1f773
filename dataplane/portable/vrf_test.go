package portable

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
)

// TestVRFOverlays carries the same destination prefix in two VRFs over one
// tunnel, told apart by the VPN label: what enters A's device of VRF n
// leaves B's device of VRF n and no other, and a label bound to a VRF
// without a device of its own is dropped and counted, not leaked.
func TestVRFOverlays(t *testing.T) {
	a4, b4 := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	var ba, bb *Backend
	uA := &loopUnderlay{peer: &bb, local: netip.AddrPortFrom(a4, 4500), encap: true}
	uB := &loopUnderlay{peer: &ba, local: netip.AddrPortFrom(b4, 4500), encap: true}
	ov := map[string]*chanOverlay{}
	for _, n := range []string{"a0", "a1", "a2", "b0", "b1", "b2"} {
		ov[n] = newChanOverlay()
	}
	mk := func(side string, u *loopUnderlay) *Backend {
		b, err := New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), Overlay: ov[side+"0"], UDP: u,
			VRFOverlays: map[uint32]Overlay{1: ov[side+"1"], 2: ov[side+"2"]}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ba, bb = mk("a", uA), mk("b", uB)
	kAB, kBA := bytes.Repeat([]byte{1}, 20), bytes.Repeat([]byte{2}, 20)
	for i, b := range []*Backend{ba, bb} {
		local, remote, out, in, outSPI, inSPI := a4, b4, kAB, kBA, uint32(0x100), uint32(0x200)
		if i == 1 {
			local, remote, out, in, outSPI, inSPI = b4, a4, kBA, kAB, inSPI, outSPI
		}
		mustOK(t, b.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeGRE, Local: local, Remote: remote, Encap: true}))
		mustOK(t, b.AddSA(dataplane.SAConfig{SPI: outSPI, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: out}))
		mustOK(t, b.AddSA(dataplane.SAConfig{SPI: inSPI, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: in}))
	}
	lan := netip.MustParsePrefix("198.18.20.0/24")
	for vrf, label := range map[uint32]uint32{1: 101, 2: 102, 3: 103} {
		mustOK(t, ba.AddRoute(vrf, lan, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1, Label: label, PushLabel: true}))
		mustOK(t, bb.BindLabel(label, vrf))
		mustOK(t, bb.AddRoute(vrf, lan, dataplane.NextHop{Kind: dataplane.NextHopHost}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- ba.RunOverlay(ctx) }()
	go func() { done <- bb.RunOverlay(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, o := range ov {
			o.close()
		}
		for range 2 {
			<-done
		}
	})
	src, dst := netip.MustParseAddr("198.18.10.1"), netip.MustParseAddr("198.18.20.1")
	for i, vrf := range []string{"1", "2", "1", "2"} {
		pkt := ping(src, dst, uint16(i))
		ov["a"+vrf].in <- pkt
		select {
		case got := <-ov["b"+vrf].out:
			if !bytes.Equal(got, pkt) {
				t.Fatalf("VRF %s: got % x", vrf, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("VRF %s: nothing arrived", vrf)
		}
	}
	for _, n := range []string{"b0", "b1", "b2"} {
		if len(ov[n].out) != 0 {
			t.Fatalf("a packet leaked into %s", n)
		}
	}
	// VRF 3 has a label and a route on B but no device there.
	mustOK(t, ba.Inject(1, 0x0800, ping(src, dst, 9)))                                                                       // unlabelled: VRF 0 on B, no route
	mustOK(t, ba.AddRoute(0, lan, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1, Label: 103, PushLabel: true})) // into VRF 3
	ov["a0"].in <- ping(src, dst, 10)
	deadline := time.Now().Add(10 * time.Second)
	for bb.Stats().NoOverlay != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", bb.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := bb.Stats(); st.OverlayTx != 4 {
		t.Fatalf("B stats %+v", st)
	}
}
