package control

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/nhrp"
	"github.com/esphub/esphub/nhrp/wire"
)

// injectDP is the real engine that records what the daemon injects into
// tunnels (NHRP, as the portable and XDP backends would send it).
type injectDP struct {
	*dataplane.Engine
	mu   sync.Mutex
	sent []injected
}

type injected struct {
	tunnel dataplane.TunnelID
	proto  uint16
	pkt    []byte
}

func (d *injectDP) Inject(t dataplane.TunnelID, proto uint16, payload []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, injected{t, proto, append([]byte(nil), payload...)})
	return nil
}

// errorIndications returns the Error Indications injected into tunnel t.
func (d *injectDP) errorIndications(t *testing.T, tunnel dataplane.TunnelID) []*wire.Packet {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*wire.Packet
	for _, s := range d.sent {
		if s.tunnel != tunnel || s.proto != wire.GREProtocol {
			continue
		}
		p, err := wire.Decode(s.pkt)
		if err != nil {
			t.Fatalf("the daemon injected undecodable NHRP: %v", err)
		}
		if p.Type == wire.TypeErrorIndication {
			out = append(out, p)
		}
	}
	return out
}

// nhrpDaemon runs a Daemon over the in-memory network with an injectDP.
func nhrpDaemon(t *testing.T, net *transport.MemNetwork, addr, name, cfg string) (*Daemon, *injectDP) {
	t.Helper()
	a := netip.MustParseAddr(addr)
	tr := net.Endpoint(netip.AddrPortFrom(a, 500), netip.AddrPortFrom(a, 4500))
	dp := &injectDP{Engine: dataplane.NewEngine(dataplane.Options{})}
	d, err := New(parse(t, name, cfg), Options{Transport: tr, Dataplane: dp, Kernel: &fakeKernel{routes: map[netip.Prefix]bool{}},
		Backend: "test", RetryMin: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop")
		}
		tr.Close()
	})
	return d, dp
}

// TestNHRPMalformedInDaemon feeds malformed NHRP to running daemons the
// way the dataplane hands it over (Daemon.Punt: GRE protocol 0x2001 from a
// tunnel) and checks, for each case, the Error Indication the daemon puts
// back into the tunnel (through the dataplane's Inject), the drop counter
// `show ip nhrp traffic` reports, and that the daemon carries on.
func TestNHRPMalformedInDaemon(t *testing.T) {
	net := transport.NewMemNetwork(transport.MemOptions{})
	hubText := strings.Replace(nhrpHubCfg, " peer s1\n", " peer s2\n  identity fqdn s2.lab.example\n  pre-shared-key 0 key-two\n peer s1\n", 1)
	s2Text := strings.NewReplacer(
		"hostname s1", "hostname s2", "identity local fqdn s1.lab.example", "identity local fqdn s2.lab.example",
		"pre-shared-key 0 key-one", "pre-shared-key 0 key-two", "198.19.255.1 ", "198.19.255.2 ",
		"198.18.1.2 ", "198.18.2.2 ", "198.19.1.1 ", "198.19.2.1 ", "permit 198.19.1.0", "permit 198.19.2.0",
	).Replace(nhrpSpokeCfg)
	hub, hubDP := nhrpDaemon(t, net, "198.18.0.2", "hub.cfg", hubText)
	s1, s1DP := nhrpDaemon(t, net, "198.18.1.2", "s1.cfg", nhrpSpokeCfg)
	nhrpDaemon(t, net, "198.18.2.2", "s2.cfg", s2Text)

	peers := func(d *Daemon) int {
		n := 0
		for _, nn := range d.nhrp.allNodes() {
			n += len(nn.node.DMVPN())
		}
		return n
	}
	waitFor(t, "both spokes attached to the hub's NHRP", func() bool { return peers(hub) == 2 && peers(s1) == 1 })
	waitFor(t, "spoke routes on the hub and the summary on spoke1", func() bool {
		_, a := hub.RIB().Best("", netip.MustParsePrefix("198.19.2.0/24"))
		_, b := s1.RIB().Best("", netip.MustParsePrefix("198.19.0.0/16"))
		return a && b
	})
	tunnelOf := func(d *Daemon, iface string) dataplane.TunnelID {
		d.ifMu.Lock()
		defer d.ifMu.Unlock()
		id, ok := d.ifTunnel[iface]
		if !ok {
			t.Fatalf("no tunnel %s", iface)
		}
		return id
	}
	var va1 string
	for _, s := range hub.Sessions() {
		if strings.Contains(s.IKE.RemoteID.String(), "s1.lab.example") {
			va1 = s.Interface
		}
	}
	if va1 == "" {
		t.Fatalf("no hub session for s1: %+v", hub.Sessions())
	}

	spoke1, spoke1NBMA := netip.MustParseAddr("198.19.255.1"), netip.MustParseAddr("198.18.1.2")
	hubProto, hubNBMA := netip.MustParseAddr("198.19.255.254"), netip.MustParseAddr("198.18.0.2")
	request := func(target netip.Addr, hop uint8) *wire.Packet {
		return &wire.Packet{
			AFN: wire.AFNIPv4, ProType: wire.ProtoIPv4, HopCount: hop, Type: wire.TypeResolutionRequest,
			Flags: wire.FlagResQ | wire.FlagResA | wire.FlagResS, RequestID: 77,
			SrcNBMA: spoke1NBMA, SrcProto: spoke1, DstProto: target,
			CIEs: []wire.CIE{{PrefixLen: 0xff, MTU: 1400, HoldTime: 600}},
			Extensions: []wire.Extension{{Type: wire.ExtForwardTransitNHS, Compulsory: true},
				{Type: wire.ExtReverseTransitNHS, Compulsory: true}, {Type: wire.ExtResponderAddress, Compulsory: true},
				{Type: wire.ExtEnd, Compulsory: true}},
		}
	}
	encode := func(p *wire.Packet) []byte {
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	host2 := netip.MustParseAddr("198.19.2.10")
	host3 := netip.MustParseAddr("198.19.3.10") // nobody's LAN; spoke1 routes it to the hub
	tests := []struct {
		name   string
		d      *Daemon
		dp     *injectDP
		iface  string
		pkt    func() []byte
		code   wire.Code // 0: dropped silently
		reason nhrp.DropReason
	}{
		{"bad address length", hub, hubDP, va1, func() []byte {
			b := encode(request(host2, 64))
			b[wire.HeaderLen+1] = 5 // destination protocol address length
			wire.Header(b).UpdateChecksum()
			return b
		}, wire.CodeProtocolError, nhrp.DropMalformed},
		{"packet size beyond the data", hub, hubDP, va1, func() []byte {
			b := encode(request(host2, 64))
			return b[:len(b)-6]
		}, 0, nhrp.DropChecksum},
		{"transit record loop", hub, hubDP, va1, func() []byte {
			p := request(host2, 64)
			p.Extensions[0].CIEs = []wire.CIE{{PrefixLen: 32, NBMA: hubNBMA, Proto: hubProto}}
			return encode(p)
		}, wire.CodeLoopDetected, nhrp.DropLoop},
		{"hop count exceeded", hub, hubDP, va1, func() []byte {
			return encode(request(host2, 1))
		}, wire.CodeHopCountExceeded, nhrp.DropHopCount},
		{"resolution for a prefix the spoke does not own", s1, s1DP, "Tunnel0", func() []byte {
			p := request(host3, 63)
			p.SrcNBMA, p.SrcProto = netip.MustParseAddr("198.18.2.2"), netip.MustParseAddr("198.19.255.2")
			return encode(p)
		}, wire.CodeProtocolAddrUnreachable, nhrp.DropNotOwned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tunnelOf(tt.d, tt.iface)
			before := tt.d.NHRPStats()[""].Drops[tt.reason.String()]
			beforeEI := len(tt.dp.errorIndications(t, id))
			tt.d.Punt(id, wire.GREProtocol, tt.pkt(), netip.AddrPort{})
			if got := tt.d.NHRPStats()[""].Drops[tt.reason.String()]; got != before+1 {
				t.Errorf("drop counter %s: %d -> %d, want one more", tt.reason, before, got)
			}
			eis := tt.dp.errorIndications(t, id)[beforeEI:]
			if tt.code == 0 {
				if len(eis) != 0 {
					t.Errorf("answered a silently dropped packet with %v", eis[0].ErrorCode())
				}
				return
			}
			if len(eis) != 1 {
				t.Fatalf("%d error indications injected into %s, want 1", len(eis), tt.iface)
			}
			want := spoke1
			if tt.d == s1 {
				want = netip.MustParseAddr("198.19.255.2") // the claimed requester
			}
			if e := eis[0]; e.ErrorCode() != tt.code || len(e.Payload) < wire.HeaderLen || e.DstProto != want {
				t.Errorf("error indication %v to %v (quoting %d bytes), want %v to %v", e.ErrorCode(), e.DstProto, len(e.Payload), tt.code, want)
			}
		})
	}
	// Still running and answering.
	if st := hub.NHRPStats()[""]; st.ErrorIndicationsSent < 3 {
		t.Errorf("hub counted %d error indications sent", st.ErrorIndicationsSent)
	}
	for _, d := range []*Daemon{hub, s1} {
		h, args, err := d.Commands(nil).Lookup([]string{"show", "ip", "nhrp", "traffic"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := h(context.Background(), args)
		if err != nil || !strings.Contains(r.Text, "Error Indication") {
			t.Errorf("show ip nhrp traffic after the malformed packets: %v\n%s", err, r.Text)
		}
	}
}
