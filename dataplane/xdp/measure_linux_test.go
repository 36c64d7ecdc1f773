package xdp

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/bpf"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/afxdp"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/hdr"
	"github.com/esphub/esphub/dataplane/portable"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

// measureEnv enables TestMeasure, which takes about two minutes.
const measureEnv = "ESPHUB_XDP_MEASURE"

// The measurement topology: a traffic generator g with one link to the
// gateway's LAN side and one to its WAN side. g sends on one link and
// counts what the gateway forwards on the other, both with AF_XDP.
const measureTopo = `
nodes:
  g:
    forward: false
  gw:
    routes:
      - {to: 198.19.2.0/24, via: 198.18.0.2}
links:
  - a: {node: g, iface: l0, addr: [198.19.1.10/24]}
    b: {node: gw, iface: lan, addr: [198.19.1.1/24]}
  - a: {node: g, iface: w0, addr: [198.18.0.2/24]}
    b: {node: gw, iface: wan, addr: [198.18.0.1/24]}
`

var (
	mGen4  = netip.MustParseAddr("198.19.1.10") // behind the gateway
	mFar4  = netip.MustParseAddr("198.19.2.10") // behind the (simulated) peer
	mGW4   = netip.MustParseAddr("198.18.0.1")
	mPeer4 = netip.MustParseAddr("198.18.0.2")
	mKeyO  = []byte("0123456789abcdefSALT")
	mKeyI  = []byte("fedcba9876543210salt")
)

const (
	mSPIOut = 0x3001 // gateway -> peer
	mSPIIn  = 0x3002 // peer -> gateway
)

// programMeasure installs the gateway's tunnel to g's WAN address. The
// inbound SA does not check replay, because the generator resends a few
// sealed frames.
func programMeasure(t testing.TB, c programmer) {
	must(t, c.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: mGW4, Remote: mPeer4, Encap: true}))
	must(t, c.AddSA(dataplane.SAConfig{SPI: mSPIOut, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: mKeyO}))
	must(t, c.AddSA(dataplane.SAConfig{SPI: mSPIIn, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: mKeyI, ReplayWindow: -1}))
	must(t, c.AddRoute(0, netip.MustParsePrefix("198.19.2.0/24"), dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}))
	must(t, c.AddRoute(0, netip.MustParsePrefix("198.19.1.0/24"), dataplane.NextHop{Kind: dataplane.NextHopHost}))
}

// generator is g's AF_XDP sender and counter.
type generator struct {
	steer    *bpf.Steering
	umem     *afxdp.UMEM
	lan, wan *afxdp.Socket
	lanMAC   net.HardwareAddr // g's l0
	wanMAC   net.HardwareAddr // g's w0
	gwLAN    net.HardwareAddr
	gwWAN    net.HardwareAddr
}

func newGenerator(t testing.TB, l *lab.Lab) *generator {
	g := &generator{}
	mac := func(node, iface string) net.HardwareAddr {
		var m net.HardwareAddr
		must(t, l.Do(node, func() error {
			ni, err := net.InterfaceByName(iface)
			if err == nil {
				m = ni.HardwareAddr
			}
			return err
		}))
		return m
	}
	g.lanMAC, g.wanMAC, g.gwLAN, g.gwWAN = mac("g", "l0"), mac("g", "w0"), mac("gw", "lan"), mac("gw", "wan")
	var err error
	g.steer, err = bpf.Load(bpf.Options{})
	must(t, err)
	g.umem, err = afxdp.NewUMEM(afxdp.UMEMConfig{Frames: 8192})
	must(t, err)
	t.Cleanup(func() { g.umem.Close(); g.steer.Close() })
	must(t, l.Do("g", func() error {
		l0, _ := net.InterfaceByName("l0")
		w0, _ := net.InterfaceByName("w0")
		if _, err := g.steer.AttachLAN(l0.Index, 0, bpf.AttachDriver); err != nil {
			return err
		}
		if _, err := g.steer.AttachWAN(w0.Index, bpf.AttachDriver); err != nil {
			return err
		}
		if err := g.steer.AddProtected(0, netip.MustParsePrefix("198.19.1.0/24")); err != nil {
			return err
		}
		var err error
		if g.lan, err = g.umem.Open(afxdp.SocketConfig{Ifindex: l0.Index}); err != nil {
			return err
		}
		if g.wan, err = g.umem.Open(afxdp.SocketConfig{Ifindex: w0.Index}); err != nil {
			return err
		}
		if err := g.steer.RegisterSocket(l0.Index, 0, g.lan.FD()); err != nil {
			return err
		}
		return g.steer.RegisterSocket(w0.Index, 0, g.wan.FD())
	}))
	g.lan.Refill()
	g.wan.Refill()
	return g
}

// plainFrame is a UDP packet of ipLen bytes from behind the gateway to
// behind the peer, addressed to the gateway's LAN interface.
func (g *generator) plainFrame(ipLen int) []byte {
	f := make([]byte, ethLen+ipLen)
	copy(f[0:6], g.gwLAN)
	copy(f[6:12], g.lanMAC)
	binary.BigEndian.PutUint16(f[12:], hdr.EtherTypeIPv4)
	copy(f[ethLen:], udp4(mGen4, mFar4, ipLen))
	return f
}

// ioFrame is what the no-crypto measurement forwards: a packet to behind
// the peer shaped like ESP in UDP (port 4500, non-zero first word), so that
// g's WAN program steers it to the counting socket as it does real ESP.
func (g *generator) ioFrame(ipLen int) []byte {
	f := g.plainFrame(ipLen)
	binary.BigEndian.PutUint16(f[ethLen+22:], 4500)
	binary.BigEndian.PutUint32(f[ethLen+28:], mSPIOut)
	return f
}

// sealedFrame is ESP in UDP from the peer to the gateway carrying a UDP
// packet of ipLen bytes to behind the gateway, sealed by a separate engine
// playing the peer.
func (g *generator) sealedFrame(t testing.TB, ipLen int) []byte {
	peer := dataplane.NewEngine(dataplane.Options{})
	must(t, peer.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: mPeer4, Remote: mGW4, Encap: true}))
	must(t, peer.AddSA(dataplane.SAConfig{SPI: mSPIIn, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: mKeyI}))
	must(t, peer.AddRoute(0, netip.MustParsePrefix("198.19.1.0/24"), dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}))
	p := dataplane.NewPacket(dataplane.DefaultBufferSize)
	p.SetData(udp4(mFar4, mGen4, ipLen))
	peer.NewWorker().ProcessOutbound([]*dataplane.Packet{p})
	if p.Verdict != dataplane.VerdictUnderlay {
		t.Fatalf("peer seal: %v %v", p.Verdict, p.Drop)
	}
	f := make([]byte, ethLen+p.Len())
	copy(f[0:6], g.gwWAN)
	copy(f[6:12], g.wanMAC)
	binary.BigEndian.PutUint16(f[12:], hdr.EtherTypeIPv4)
	copy(f[ethLen:], p.Data())
	return f
}

// run sends frame on tx as fast as it can for d and returns the rates of
// sending and of frames arriving on rx. It runs on a thread pinned to cpu.
func (g *generator) run(frame []byte, tx, rx *afxdp.Socket, d time.Duration, cpu int) (sentPPS, gotPPS float64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	_ = unix.SchedSetaffinity(0, &set)
	const batch = 64
	descs := make([]afxdp.Desc, batch)
	rdescs := make([]afxdp.Desc, batch)
	var sent, got uint64
	// Drain what is left from an earlier run.
	for k := rx.Receive(rdescs); k > 0; k = rx.Receive(rdescs) {
		g.umem.Release(rdescs[:k])
	}
	// Closed loop: at most window frames in flight, so that the gateway is
	// measured at its capacity instead of drowning in an overload the
	// generator's CPU pays for. Frames the gateway loses are written off
	// after a quiet 20 ms.
	const window = 256
	credit := window
	lastRx := time.Now()
	start := time.Now()
	end := start.Add(d)
	for i := 0; ; i++ {
		now := time.Time{}
		if i&15 == 0 {
			now = time.Now()
			if now.After(end) {
				break
			}
		}
		if credit >= batch && tx.TXPending() < 512 {
			n := g.umem.Alloc(descs)
			for j := range descs[:n] {
				b := g.umem.Data(afxdp.Desc{Addr: descs[j].Addr, Len: uint32(len(frame))})
				copy(b, frame)
				descs[j].Len = uint32(len(frame))
			}
			m := tx.Transmit(descs[:n])
			g.umem.Release(descs[m:n])
			sent += uint64(m)
			credit -= m
		} else {
			tx.Flush()
		}
		if k := rx.Receive(rdescs); k > 0 {
			got += uint64(k)
			credit = min(credit+k, window)
			g.umem.Release(rdescs[:k])
			lastRx = time.Now()
		} else if !now.IsZero() && credit < batch && now.Sub(lastRx) > 20*time.Millisecond {
			credit, lastRx = window, now
		}
		if tx != rx {
			tx.Complete()
		}
	}
	el := time.Since(start).Seconds()
	// Let the gateway drain before the next run.
	for stop := time.Now().Add(300 * time.Millisecond); time.Now().Before(stop); {
		tx.Flush()
		if k := rx.Receive(rdescs); k > 0 {
			g.umem.Release(rdescs[:k])
		}
	}
	return float64(sent) / el, float64(got) / el
}

type measureCase struct {
	name    string
	encrypt bool // LAN -> WAN; else WAN -> LAN
	ipLen   int
}

// result is the medians of one case.
type result struct {
	name      string
	sent, fwd float64
	runs      []float64
}

// TestMeasure measures, on one topology and in one run, the AF_XDP
// backend forwarding without crypto (its I/O ceiling), ESP encryption and
// decryption at 64 and 1400 bytes over AF_XDP, and the same over the
// portable backend; the generator runs on CPU 0, the AF_XDP worker on CPU 1.
// It reports medians of three runs and fails when AF_XDP with ESP is below
// 80% of the no-crypto rate or 2.5 times the portable backend. Enable with
// ESPHUB_XDP_MEASURE=1 (ESPHUB_XDP_MEASURE_SECONDS sets the run length, 3 s
// by default).
func TestMeasure(t *testing.T) {
	if os.Getenv(measureEnv) == "" {
		t.Skip("set " + measureEnv + "=1 to measure (about two minutes)")
	}
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip")
	secs := 3 * time.Second
	if s := os.Getenv(measureEnv + "_SECONDS"); s != "" {
		var n int
		fmt.Sscan(s, &n)
		if n > 0 {
			secs = time.Duration(n) * time.Second
		}
	}
	l := labtest.Up(t, measureTopo)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	g := newGenerator(t, l)
	for _, argv := range [][]string{
		{"ip", "neigh", "replace", mPeer4.String(), "lladdr", g.wanMAC.String(), "dev", "wan", "nud", "permanent"},
		{"ip", "neigh", "replace", mGen4.String(), "lladdr", g.lanMAC.String(), "dev", "lan", "nud", "permanent"},
	} {
		if out, err := l.Exec(ctx, "gw", argv...); err != nil {
			t.Fatalf("%v: %v %s", argv, err, out)
		}
	}
	cases := []measureCase{{"encrypt-64", true, 64}, {"encrypt-1400", true, 1400}, {"decrypt-64", false, 64}, {"decrypt-1400", false, 1400}}
	frames := map[string][]byte{}
	frames["io-64"], frames["io-1400"] = g.ioFrame(64), g.ioFrame(1400)
	for _, c := range cases {
		if c.encrypt {
			frames[c.name] = g.plainFrame(c.ipLen)
		} else {
			frames[c.name] = g.sealedFrame(t, c.ipLen)
		}
	}
	measure := func(name string, c measureCase) result {
		tx, rx := g.lan, g.wan
		if !c.encrypt {
			tx, rx = g.wan, g.lan
		}
		r := result{name: name}
		var sents []float64
		for range 3 {
			s, f := g.run(frames[c.name], tx, rx, secs, 0)
			sents = append(sents, s)
			r.runs = append(r.runs, f)
		}
		r.sent, r.fwd = median(sents), median(r.runs)
		t.Logf("%-22s offered %8.0f pps  forwarded %8.0f pps  (runs %.0f)", name, r.sent, r.fwd, r.runs)
		return r
	}
	results := map[string]result{}

	// AF_XDP: the I/O ceiling (no engine), then with ESP.
	startXDP := func(ioOnly bool) func() {
		var b *Backend
		must(t, l.Do("gw", func() error {
			var err error
			b, err = New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: "wan", LANs: []LAN{{Name: "lan"}}, CPUs: []int{1 % runtime.NumCPU()}})
			return err
		}))
		b.ioOnly = ioOnly
		programMeasure(t, b)
		runCtx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(runCtx) }()
		// Let the neighbour cache learn the next hops.
		deadline := time.Now().Add(20 * time.Second)
		for _, c := range cases[:1] {
			for time.Now().Before(deadline) {
				g.run(frames[c.name], g.lan, g.wan, 100*time.Millisecond, 0)
				if st := b.Status(); st.Neighbours > 0 && st.Queues[0].TxWAN > 0 {
					break
				}
			}
		}
		return func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
			t.Logf("af_xdp status: %+v", b.Status().Queues)
			must(t, b.Close())
		}
	}
	stop := startXDP(true)
	results["af_xdp/no-crypto-64"] = measure("af_xdp/no-crypto-64", measureCase{"io-64", true, 64})
	results["af_xdp/no-crypto-1400"] = measure("af_xdp/no-crypto-1400", measureCase{"io-1400", true, 1400})
	stop()
	stop = startXDP(false)
	for _, c := range cases {
		results["af_xdp/"+c.name] = measure("af_xdp/"+c.name, c)
	}
	stop()

	// Portable: TUN for the overlay, a UDP socket for ESP in UDP.
	stop = startPortableMeasure(t, l, ctx)
	for _, c := range cases {
		results["portable/"+c.name] = measure("portable/"+c.name, c)
	}
	stop()

	var report strings.Builder
	fmt.Fprintf(&report, "\n%-24s %12s %12s\n", "case", "forwarded", "offered")
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&report, "%-24s %12.0f %12.0f\n", n, results[n].fwd, results[n].sent)
	}
	for _, c := range cases {
		x := results["af_xdp/"+c.name].fwd
		ceil := results[fmt.Sprintf("af_xdp/no-crypto-%d", c.ipLen)].fwd
		port := results["portable/"+c.name].fwd
		fmt.Fprintf(&report, "%-14s af_xdp/no-crypto %5.2f   af_xdp/portable %5.2f\n", c.name, x/ceil, x/port)
	}
	t.Log(report.String())
	for _, c := range cases {
		x := results["af_xdp/"+c.name].fwd
		ceil := results[fmt.Sprintf("af_xdp/no-crypto-%d", c.ipLen)].fwd
		port := results["portable/"+c.name].fwd
		if x < 0.8*ceil {
			t.Errorf("%s: AF_XDP with ESP %.0f pps is below 80%% of the no-crypto %.0f pps", c.name, x, ceil)
		}
		if x < 2.5*port {
			t.Errorf("%s: AF_XDP %.0f pps is below 2.5x the portable backend's %.0f pps", c.name, x, port)
		}
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// startPortableMeasure runs the portable backend on the gateway.
func startPortableMeasure(t testing.TB, l *lab.Lab, ctx context.Context) func() {
	var tun *portable.TUN
	var udp *portable.UDPUnderlay
	must(t, l.Do("gw", func() error {
		var err error
		if tun, err = portable.OpenTUN("esp0"); err != nil {
			return err
		}
		udp, err = portable.ListenUDP(netip.AddrPortFrom(mGW4, 4500))
		return err
	}))
	for _, argv := range [][]string{
		{"ip", "link", "set", "esp0", "up"},
		{"ip", "route", "replace", "198.19.2.0/24", "dev", "esp0"},
	} {
		if out, err := l.Exec(ctx, "gw", argv...); err != nil {
			t.Fatalf("%v: %v %s", argv, err, out)
		}
	}
	b, err := portable.New(portable.Config{Engine: dataplane.NewEngine(dataplane.Options{}), Overlay: tun, UDP: udp})
	must(t, err)
	programMeasure(t, b)
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = b.RunOverlay(runCtx) }()
	go func() { defer wg.Done(); _ = udp.Serve(runCtx, b) }()
	return func() {
		stop()
		_ = tun.Close()
		_ = udp.Close()
		wg.Wait()
		t.Logf("portable stats: %+v", b.Stats())
	}
}
