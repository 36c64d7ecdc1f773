package bench

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/xdp"
)

// xdpTCP is scenario 4 through esphub's AF_XDP backend: iperf3 TCP from a
// host behind one gateway to a host behind another, each gateway running
// dataplane/xdp (one worker, pinned to its own CPU) with a static tunnel
// (plain ESP, AES-256-GCM) between their WAN interfaces:
//
//	ha (h0) ─ 198.18.141.0/24 ─ (l0) gwa (w0) ─ 198.18.142.0/24 ─ (w1) gwb (l1) ─ 198.18.143.0/24 ─ (h1) hb
//
// An AF_XDP gateway forwards between its LAN and its WAN; traffic the
// gateway itself originates does not enter XDP, so the hosts sit behind
// the gateways (scenario 5's strongSwan runs iperf3 on its gateways).
func xdpTCP(ctx context.Context, o *Options) ([]Result, error) {
	lab, err := newNetLab("xt")
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	t, err := newTCPLab(ctx, lab)
	if err != nil {
		return nil, err
	}
	ns, h0, w0, w1, h1 := t.ns, t.h0, t.w0, t.w1, t.h1
	key := func(seed byte) []byte {
		k := make([]byte, 36) // AES-256 key || salt
		for i := range k {
			k[i] = seed + byte(i)
		}
		return k
	}
	kAB, kBA := key(0x10), key(0x60)
	lanA, lanB := netip.MustParsePrefix("198.18.141.0/24"), netip.MustParsePrefix("198.18.143.0/24")
	type gw struct {
		b    *xdp.Backend
		done chan error
	}
	rctx, cancel := context.WithCancel(context.Background())
	var gws []*gw
	defer func() {
		cancel()
		for _, g := range gws {
			<-g.done
			g.b.Close()
		}
	}()
	start := func(ns, wan, lan string, cpu int, local, remote netip.Addr, outSPI, inSPI uint32, outKey, inKey []byte, own, far netip.Prefix) error {
		var b *xdp.Backend
		err := inNetns(ns, func() error {
			var err error
			b, err = xdp.New(xdp.Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: wan, LANs: []xdp.LAN{{Name: lan}}, CPUs: []int{cpu}})
			return err
		})
		if err != nil {
			return fmt.Errorf("af_xdp gateway in %s: %w", ns, err)
		}
		for _, f := range []func() error{
			func() error {
				return b.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: local, Remote: remote})
			},
			func() error {
				return b.AddSA(dataplane.SAConfig{SPI: outSPI, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: outKey})
			},
			func() error {
				return b.AddSA(dataplane.SAConfig{SPI: inSPI, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: inKey})
			},
			func() error { return b.AddRoute(0, far, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}) },
			func() error { return b.AddRoute(0, own, dataplane.NextHop{Kind: dataplane.NextHopHost}) },
		} {
			if err := f(); err != nil {
				b.Close()
				return fmt.Errorf("af_xdp gateway in %s: %w", ns, err)
			}
		}
		g := &gw{b: b, done: make(chan error, 1)}
		go func() { g.done <- b.Run(rctx) }()
		gws = append(gws, g)
		return nil
	}
	cpuB := 1 % runtime.NumCPU()
	if err := start(ns[1], "w0", "l0", 0, w0.ip4, w1.ip4, 0xab000011, 0xba000011, kAB, kBA, lanA, lanB); err != nil {
		return nil, err
	}
	if err := start(ns[2], "w1", "l1", cpuB, w1.ip4, w0.ip4, 0xba000011, 0xab000011, kBA, kAB, lanB, lanA); err != nil {
		return nil, err
	}
	dur := 10 * time.Second
	if o.Quick {
		dur = time.Second // a smoke test: the tunnel carries TCP
	}
	drops := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, g := range gws {
			for k, v := range g.b.Status().Drops {
				out[k] += v
			}
		}
		return out
	}
	var v []float64
	for range o.Runs {
		x, err := iperf3TCP(ctx, ns[0], ns[3], h0.ip4, h1.ip4, dur)
		if err != nil {
			return nil, fmt.Errorf("through esphub af_xdp: %w (drops %v)", err, drops())
		}
		v = append(v, x)
	}
	r := Result{Scenario: ScenarioTCP, Path: PathTCPEsphubXDP, Value: Summarize(v), Unit: "Mbit/s", Runs: len(v),
		Param: "af_xdp backend, aes256gcm16, plain ESP",
		Harness: fmt.Sprintf("iperf3 -t %s, one TCP stream, host → gateway → gateway → host (four namespaces, MTU 1400 on the hosts, their transmit checksum offload off), "+
			"each gateway esphub's AF_XDP backend (dataplane/xdp, one worker pinned to its own CPU) with static SAs (no daemon, no IKE)", dur)}
	if d := drops(); len(d) > 0 {
		r.Note = fmt.Sprintf("Gateway engine drops: %v.", d)
	}
	return []Result{r}, nil
}

// tcpLab is scenario 4's four namespaces: ha, gwa, gwb, hb (see xdpTCP).
type tcpLab struct {
	ns                     [4]string
	h0, l0, w0, w1, l1, h1 *end
}

// newTCPLab builds the hosts-behind-gateways topology in lab.
func newTCPLab(ctx context.Context, lab *netLab) (*tcpLab, error) {
	t := &tcpLab{}
	ns := &t.ns
	var err error
	for i, role := range []string{"ha", "gwa", "gwb", "hb"} {
		if ns[i], err = lab.ns(role); err != nil {
			return nil, err
		}
	}
	t.h0, t.l0, err = lab.veth(ns[0], "h0", ns[1], "l0", 141)
	if err != nil {
		return nil, err
	}
	t.w0, t.w1, err = lab.veth(ns[1], "w0", ns[2], "w1", 142)
	if err != nil {
		return nil, err
	}
	t.l1, t.h1, err = lab.veth(ns[2], "l1", ns[3], "h1", 143)
	if err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"-n", ns[0], "route", "add", "default", "via", t.l0.ip4.String()},
		{"-n", ns[3], "route", "add", "default", "via", t.l1.ip4.String()},
		// ESP (about 60 bytes for AES-GCM in tunnel mode) must fit the
		// 1500-byte WAN without fragmentation.
		{"-n", ns[0], "link", "set", "h0", "mtu", "1400"},
		{"-n", ns[3], "link", "set", "h1", "mtu", "1400"},
	} {
		if err := ipRun(args...); err != nil {
			return nil, err
		}
	}
	// The gateways route: what the AF_XDP backend hands to the kernel (a
	// flow's first packets while a next hop resolves) is forwarded, not
	// dropped, as esphubd's start-up warning asks of an operator.
	for _, n := range ns[1:3] {
		if _, err := nsExecContext(ctx, n, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return nil, err
		}
	}
	// XDP sees the bytes of a frame, not the kernel's note that its TCP
	// checksum is still to be filled in: the hosts must finish checksums
	// themselves (see dataplane/xdp's package documentation).
	for i, dev := range map[int]string{0: "h0", 3: "h1"} {
		if _, err := nsExecContext(ctx, ns[i], "ethtool", "-K", dev, "tx", "off"); err != nil {
			return nil, err
		}
	}
	return t, nil
}
