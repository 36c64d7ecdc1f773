package xdp

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/esphub/esphub/bpf"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/portable"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// A LAN interface in a VRF: s1's LAN is VRF 7, whose kernel routing table
// (100) holds the LAN's connected subnets, while the main table sends the
// same subnets out of the WAN (as another VRF's routes would). The workers
// must steer the LAN by the VRF's protected prefixes, resolve the hosts
// behind it in table 100 (a VRF-blind lookup sends the replies to the WAN
// router), and hand what they cannot address yet to the VRF's device, a
// TUN whose packets the kernel routes in table 100.
func TestLabVRFLAN(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "ethtool")
	l := labtest.Up(t, twoSites)
	noChecksumOffload(t, l)
	var tun *portable.TUN
	must(t, l.Do("s1", func() error {
		var err error
		tun, err = portable.OpenTUN("vrf7")
		return err
	}))
	t.Cleanup(func() { _ = tun.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, argv := range [][]string{
		{"ip", "link", "set", "vrf7", "up"},
		{"ip", "route", "del", "198.19.1.0/24", "dev", "lan"},
		{"ip", "route", "add", "198.19.1.0/24", "dev", "lan", "table", "100"},
		{"ip", "route", "add", "198.19.1.0/24", "via", "198.18.0.254"},
		{"ip", "-6", "route", "del", "2001:db8:1:1::/64", "dev", "lan"},
		{"ip", "-6", "route", "add", "2001:db8:1:1::/64", "dev", "lan", "table", "100"},
		{"ip", "-6", "route", "add", "2001:db8:1:1::/64", "via", "2001:db8::fe"},
		{"ip", "rule", "add", "iif", "vrf7", "lookup", "100", "pref", "3000"},
		{"ip", "rule", "add", "iif", "lan", "lookup", "100", "pref", "3000"},
		{"ip", "-6", "rule", "add", "iif", "vrf7", "lookup", "100", "pref", "3000"},
		{"ip", "-6", "rule", "add", "iif", "lan", "lookup", "100", "pref", "3000"},
	} {
		if out, err := l.Exec(ctx, "s1", argv...); err != nil {
			t.Fatalf("s1: %v: %v %s", argv, err, out)
		}
	}

	const vrf = 7
	s1, s2 := sites()
	var b *Backend
	must(t, l.Do("s1", func() error {
		var err error
		b, err = New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: "wan", LANs: []LAN{{Name: "lan", VRF: vrf}},
			VRFs: map[uint32]VRF{vrf: {Table: 100, Kernel: tun}}, Debug: true, NeighbourRefresh: 200 * time.Millisecond})
		return err
	}))
	s1.xdp = b
	must(t, b.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: s1.wan4, Remote: s1.peer4, VRF: vrf}))
	must(t, b.AddSA(dataplane.SAConfig{SPI: s1.outSPI, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: s1.outKey}))
	must(t, b.AddSA(dataplane.SAConfig{SPI: s1.inSPI, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: s1.inKey}))
	for _, p := range s1.remoteLan {
		must(t, b.AddRoute(vrf, p, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}))
	}
	for _, p := range s1.lan {
		must(t, b.AddRoute(vrf, p, dataplane.NextHop{Kind: dataplane.NextHopHost}))
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("s1: run: %v", err)
		}
		checkLedger(t, "s1", b)
		must(t, b.Close())
	})
	s2.startXDP(t, l, dataplane.ModeIPsec, false, false)

	// The protected prefixes are VRF 7's, and only VRF 7 has any.
	pp, err := b.steer.ProtectedPrefixes()
	must(t, err)
	want := []bpf.ProtectedPrefix{{VRF: vrf, Prefix: s1.remoteLan[0]}, {VRF: vrf, Prefix: s1.remoteLan[1]}}
	if !slices.Equal(pp, want) {
		t.Errorf("protected prefixes %v, want %v", pp, want)
	}

	pingBoth(t, l, func() string { return s1.diag() + "\n" + s2.diag() })
	st := b.Status()
	if i := slices.IndexFunc(st.Interfaces, func(i InterfaceStatus) bool { return i.Name == "lan" }); i < 0 || st.Interfaces[i].VRF != vrf || st.Interfaces[i].Role != "lan" {
		t.Errorf("interfaces %+v: want lan in vrf %d", st.Interfaces, vrf)
	}
	q := st.Queues[0]
	if q.RxLAN == 0 || q.TxLAN == 0 || q.RxWAN == 0 || q.TxWAN == 0 {
		t.Errorf("s1: the workers did not carry the VRF's traffic both ways: %+v", q)
	}
	if st.Verdicts["protected"].Packets == 0 {
		t.Errorf("s1: no LAN packet steered by VRF %d's prefixes: %+v", vrf, st.Verdicts)
	}
	if st.KernelPathError != 0 {
		t.Errorf("s1: %d kernel path errors", st.KernelPathError)
	}
	// The workers address h1 in VRF 7 with the LAN's neighbour, not
	// through the main table's route out of the WAN.
	h1 := netip.MustParseAddr("198.19.1.10")
	var nh nextHop
	var ok bool
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if nh, ok = b.neigh.lookup(vrf, h1); ok && nh.resolved {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	lan := st.Interfaces[slices.IndexFunc(st.Interfaces, func(i InterfaceStatus) bool { return i.Name == "lan" })]
	if !ok || !nh.resolved || nh.ifindex != lan.Ifindex {
		t.Errorf("next hop of %v in vrf %d: %+v (found %v), want resolved on lan (ifindex %d)", h1, vrf, nh, ok, lan.Ifindex)
	}
	t.Logf("s1: %+v, kernel path %d", q, st.KernelPath)
}
