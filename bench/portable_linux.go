package bench

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/portable"
)

// portableGateway is one side of scenario 4: a TUN device (esp0) and an
// ESP-in-UDP socket in a namespace, joined by the portable backend, with a
// static tunnel to the other side.
type portableGateway struct {
	tun     *portable.TUN
	udp     *portable.UDPUnderlay
	extra   []*portable.UDPUnderlay // further receive sockets (more workers)
	backend *portable.Backend
}

func (g *portableGateway) close() {
	if g.tun != nil {
		g.tun.Close()
	}
	if g.udp != nil {
		g.udp.Close()
	}
	for _, u := range g.extra {
		u.Close()
	}
}

// startPortable opens the gateway in ns: local is its underlay address,
// inner its own overlay address, remoteInner the far side's.
func startPortable(ctx context.Context, wg *sync.WaitGroup, ns string, local, remote, inner, remoteInner netip.Addr, outSPI, inSPI uint32, outKey, inKey []byte) (*portableGateway, error) {
	g := &portableGateway{}
	err := inNetns(ns, func() error {
		var err error
		if g.tun, err = portable.OpenTUN("esp0"); err != nil {
			return fmt.Errorf("tun: %w", err)
		}
		if g.udp, err = portable.ListenUDP(netip.AddrPortFrom(local, 4500)); err != nil {
			return fmt.Errorf("udp 4500: %w", err)
		}
		return nil
	})
	if err != nil {
		g.close()
		return nil, err
	}
	// MTU 1400 as strongSwan's libipsec TUN has, so that ESP in UDP fits the
	// 1500-byte veth without fragmentation, as in scenario 5.
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "esp0", "mtu", "1400", "up"},
		{"-n", ns, "route", "add", remoteInner.String() + "/32", "dev", "esp0"},
	} {
		if err := ipRun(args...); err != nil {
			g.close()
			return nil, err
		}
	}
	e := dataplane.NewEngine(dataplane.Options{})
	b, err := portable.New(portable.Config{Engine: e, Overlay: g.tun, UDP: g.udp})
	if err != nil {
		g.close()
		return nil, fmt.Errorf("portable backend: %w", err)
	}
	g.backend = b
	for _, f := range []func() error{
		func() error {
			return b.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: local, Remote: remote, Encap: true})
		},
		func() error {
			return b.AddSA(dataplane.SAConfig{SPI: outSPI, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: outKey})
		},
		func() error {
			return b.AddSA(dataplane.SAConfig{SPI: inSPI, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: inKey})
		},
		func() error {
			return b.AddRoute(0, netip.PrefixFrom(remoteInner, 32), dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1})
		},
		func() error {
			return b.AddRoute(0, netip.PrefixFrom(inner, 32), dataplane.NextHop{Kind: dataplane.NextHopHost})
		},
	} {
		if err := f(); err != nil {
			g.close()
			return nil, fmt.Errorf("portable gateway: %w", err)
		}
	}
	wg.Add(2)
	go func() { defer wg.Done(); _ = b.RunOverlay(ctx) }()
	go func() { defer wg.Done(); _ = g.udp.Serve(ctx, b) }()
	return g, nil
}

// portableTCP is scenario 4 through the portable backend: iperf3 TCP between two
// namespaces through esphub's portable backend (TUN + ESP in UDP,
// AES-256-GCM) with static SAs, on the same layout as scenario 5.
func portableTCP(ctx context.Context, o *Options) ([]Result, error) {
	lab, err := newNetLab("tcp")
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	nsA, err := lab.ns("a")
	if err != nil {
		return nil, err
	}
	nsB, err := lab.ns("b")
	if err != nil {
		return nil, err
	}
	a, b, err := lab.veth(nsA, "wa", nsB, "wb", 131)
	if err != nil {
		return nil, err
	}
	inA, inB := netip.MustParseAddr("198.19.131.1"), netip.MustParseAddr("198.19.132.1")
	if err := ipRun("-n", nsA, "addr", "add", inA.String()+"/32", "dev", "lo"); err != nil {
		return nil, err
	}
	if err := ipRun("-n", nsB, "addr", "add", inB.String()+"/32", "dev", "lo"); err != nil {
		return nil, err
	}
	key := func(seed byte) []byte {
		k := make([]byte, 36) // AES-256 key || salt
		for i := range k {
			k[i] = seed + byte(i)
		}
		return k
	}
	kAB, kBA := key(0x10), key(0x60)
	gctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	ga, err := startPortable(gctx, &wg, nsA, a.ip4, b.ip4, inA, inB, 0xab000001, 0xba000001, kAB, kBA)
	if err != nil {
		return nil, err
	}
	defer ga.close()
	gb, err := startPortable(gctx, &wg, nsB, b.ip4, a.ip4, inB, inA, 0xba000001, 0xab000001, kBA, kAB)
	if err != nil {
		return nil, err
	}
	defer gb.close()
	dur := 10 * time.Second
	if o.Quick {
		dur = time.Second // a smoke test: the tunnel carries TCP
	}
	var v []float64
	for range o.Runs {
		x, err := iperf3TCP(ctx, nsA, nsB, inA, inB, dur)
		if err != nil {
			return nil, fmt.Errorf("through esphub portable: %w (drops %v)", err, nonZero(ga.backend.Drops()))
		}
		v = append(v, x)
	}
	return []Result{{Scenario: ScenarioTCP, Path: PathTCPEsphub, Value: Summarize(v), Unit: "Mbit/s", Runs: len(v),
		Param:   "portable backend, aes256gcm16, ESP in UDP",
		Harness: fmt.Sprintf("iperf3 -t %s, one TCP stream, between loopback addresses of two namespaces, through esphub's portable backend (TUN esp0 + ESP-in-UDP socket, MTU 1400) in each with static SAs (no daemon, no IKE): the same layout as scenario 5", dur),
		Note:    "iperf3 runs on the gateways themselves here (the portable backend carries the host's own traffic through its TUN device), as strongSwan's in scenario 5; the AF_XDP row needs hosts behind the gateways, because a gateway's own traffic does not enter XDP."}}, nil
}

func nonZero(m map[dataplane.DropReason]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		if v > 0 {
			out[k.String()] = v
		}
	}
	return out
}

// startPortableDUT opens esphub's portable backend in ns with workers
// reader goroutines per input: on the TUN device esp0 (when tun is set;
// concurrent reads of a TUN are safe) and on workers ESP-in-UDP sockets,
// local:4500 upwards, one reader each (a socket's batch receive state
// belongs to one reader), so flow k of a scenario is sent to port 4500+k.
// The first socket sends. program installs tunnels, SAs and routes.
func startPortableDUT(ctx context.Context, wg *sync.WaitGroup, ns string, local netip.Addr, tun bool, workers int, program func(dataplane.Control) error) (*portableGateway, error) {
	g := &portableGateway{}
	err := inNetns(ns, func() error {
		var err error
		if tun {
			if g.tun, err = portable.OpenTUN("esp0"); err != nil {
				return fmt.Errorf("tun: %w", err)
			}
		}
		for k := range workers {
			u, err := portable.ListenUDP(netip.AddrPortFrom(local, uint16(4500+k)))
			if err != nil {
				return fmt.Errorf("udp %d: %w", 4500+k, err)
			}
			g.extra = append(g.extra, u)
		}
		g.udp, g.extra = g.extra[0], g.extra[1:]
		return nil
	})
	if err != nil {
		g.close()
		return nil, err
	}
	cfg := portable.Config{Engine: dataplane.NewEngine(dataplane.Options{}), UDP: g.udp}
	if tun {
		cfg.Overlay = g.tun
		if err := ipRun("-n", ns, "link", "set", "esp0", "up"); err != nil {
			g.close()
			return nil, err
		}
	}
	b, err := portable.New(cfg)
	if err != nil {
		g.close()
		return nil, fmt.Errorf("portable backend: %w", err)
	}
	g.backend = b
	if err := program(b); err != nil {
		g.close()
		return nil, err
	}
	for _, u := range append([]*portable.UDPUnderlay{g.udp}, g.extra...) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = u.Serve(ctx, b) }()
	}
	if tun {
		for range workers {
			wg.Add(1)
			go func() { defer wg.Done(); _ = b.RunOverlay(ctx) }()
		}
	}
	return g, nil
}
