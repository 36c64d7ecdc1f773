package xdp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/portable"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

// Two sites, each a host behind a gateway; the gateways reach each other
// through a router, r, where the tests capture the underlay (AF_XDP
// transmits bypass packet taps on the gateways' own interfaces), and which
// makes the gateways resolve a next-hop router rather than the peer.
const twoSites = `
nodes:
  h1:
    forward: false
    routes:
      - {to: default, via: 198.19.1.1}
      - {to: default, via: 2001:db8:1:1::1}
  s1:
    routes:
      - {to: 198.18.1.0/24, via: 198.18.0.254}
      - {to: 2001:db8:0:1::/64, via: 2001:db8::fe}
  r: {}
  s2:
    routes:
      - {to: 198.18.0.0/24, via: 198.18.1.254}
      - {to: 2001:db8::/64, via: 2001:db8:0:1::fe}
  h2:
    forward: false
    routes:
      - {to: default, via: 198.19.2.1}
      - {to: default, via: 2001:db8:1:2::1}
links:
  - a: {node: s1, iface: wan, addr: [198.18.0.1/24, 2001:db8::1/64]}
    b: {node: r, iface: e1, addr: [198.18.0.254/24, 2001:db8::fe/64]}
  - a: {node: s2, iface: wan, addr: [198.18.1.2/24, 2001:db8:0:1::2/64]}
    b: {node: r, iface: e2, addr: [198.18.1.254/24, 2001:db8:0:1::fe/64]}
  - a: {node: s1, iface: lan, addr: [198.19.1.1/24, 2001:db8:1:1::1/64]}
    b: {node: h1, iface: eth0, addr: [198.19.1.10/24, 2001:db8:1:1::10/64]}
  - a: {node: s2, iface: lan, addr: [198.19.2.1/24, 2001:db8:1:2::1/64]}
    b: {node: h2, iface: eth0, addr: [198.19.2.10/24, 2001:db8:1:2::10/64]}
`

var (
	key12 = []byte("0123456789abcdefSALT") // s1 -> s2
	key21 = []byte("fedcba9876543210salt") // s2 -> s1
)

// gateway is one site's static configuration.
type gateway struct {
	node          string
	wan4, wan6    netip.Addr
	peer4, peer6  netip.Addr
	lan           []netip.Prefix
	remoteLan     []netip.Prefix
	outSPI, inSPI uint32
	outKey, inKey []byte
	xdp           *Backend
	port          *portable.Backend
	queues        int
	punt          PuntFunc // the AF_XDP backend's, when set
}

func sites() (*gateway, *gateway) {
	s1 := &gateway{node: "s1", wan4: netip.MustParseAddr("198.18.0.1"), wan6: netip.MustParseAddr("2001:db8::1"),
		peer4: netip.MustParseAddr("198.18.1.2"), peer6: netip.MustParseAddr("2001:db8:0:1::2"),
		lan:       []netip.Prefix{netip.MustParsePrefix("198.19.1.0/24"), netip.MustParsePrefix("2001:db8:1:1::/64")},
		remoteLan: []netip.Prefix{netip.MustParsePrefix("198.19.2.0/24"), netip.MustParsePrefix("2001:db8:1:2::/64")},
		outSPI:    0x1001, inSPI: 0x2002, outKey: key12, inKey: key21}
	s2 := &gateway{node: "s2", wan4: s1.peer4, wan6: s1.peer6, peer4: s1.wan4, peer6: s1.wan6,
		lan: s1.remoteLan, remoteLan: s1.lan, outSPI: 0x2002, inSPI: 0x1001, outKey: key21, inKey: key12}
	return s1, s2
}

// programmer is the part of dataplane.Control the static setup uses; the
// Engine alone has it too.
type programmer interface {
	AddTunnel(dataplane.TunnelConfig) error
	AddSA(dataplane.SAConfig) error
	AddRoute(vrf uint32, p netip.Prefix, nh dataplane.NextHop) error
}

// program installs the static tunnel, SAs and routes.
func (g *gateway) program(t testing.TB, c programmer, mode dataplane.Mode, outer6, encap bool) {
	t.Helper()
	local, remote := g.wan4, g.peer4
	if outer6 {
		local, remote = g.wan6, g.peer6
	}
	must(t, c.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: mode, Local: local, Remote: remote, Encap: encap, GREKey: 5, HasGREKey: mode == dataplane.ModeGRE}))
	must(t, c.AddSA(dataplane.SAConfig{SPI: g.outSPI, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: g.outKey}))
	must(t, c.AddSA(dataplane.SAConfig{SPI: g.inSPI, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: g.inKey}))
	for _, p := range g.remoteLan {
		must(t, c.AddRoute(0, p, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}))
	}
	for _, p := range g.lan {
		must(t, c.AddRoute(0, p, dataplane.NextHop{Kind: dataplane.NextHopHost}))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startXDP runs the AF_XDP backend on the gateway until the test ends.
func (g *gateway) startXDP(t testing.TB, l *lab.Lab, mode dataplane.Mode, outer6, encap bool) {
	t.Helper()
	var b *Backend
	err := l.Do(g.node, func() error {
		var err error
		b, err = New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: "wan", LANs: []LAN{{Name: "lan"}},
			Queues: max(g.queues, 1), Debug: true, NeighbourRefresh: 200 * time.Millisecond, Punt: g.punt})
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", g.node, err)
	}
	g.xdp = b
	g.program(t, b, mode, outer6, encap)
	runBackend(t, g.node, b)
}

// checkLedger asserts that a stopped backend's workers hold no frame
// (they stop between batches) and that the frame ledgers saw no invalid
// transition.
func checkLedger(t testing.TB, node string, b *Backend) {
	t.Helper()
	for _, w := range b.workers {
		if v, msg := w.umem.Pool().Violations(); v != 0 {
			t.Errorf("%s queue %d: %d frame ledger violations, last: %s", node, w.queue, v, msg)
		}
		c := w.umem.Pool().Counts()
		if c.User != 0 || c.Total() != w.umem.Pool().Len() {
			t.Errorf("%s queue %d: frames after stop %+v of %d: the worker kept or lost some", node, w.queue, c, w.umem.Pool().Len())
		}
	}
}

// startPortable runs the portable backend on the gateway (TUN esp0 plus
// underlay sockets) until stop is called.
func (g *gateway) startPortable(t testing.TB, l *lab.Lab, mode dataplane.Mode, outer6, encap bool) (stop func()) {
	t.Helper()
	local := g.wan4
	if outer6 {
		local = g.wan6
	}
	var tun *portable.TUN
	var udp *portable.UDPUnderlay
	var raw *portable.RawUnderlay
	err := l.Do(g.node, func() error {
		var err error
		if tun, err = portable.OpenTUN("esp0"); err != nil {
			return err
		}
		if udp, err = portable.ListenUDP(netip.AddrPortFrom(local, 4500)); err != nil {
			return err
		}
		raw, err = portable.ListenRaw(local)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", g.node, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, argv := range [][]string{
		{"ip", "link", "set", "esp0", "up"},
		{"ip", "route", "add", g.remoteLan[0].String(), "dev", "esp0"},
		{"ip", "-6", "route", "add", g.remoteLan[1].String(), "dev", "esp0"},
	} {
		if out, err := l.Exec(ctx, g.node, argv...); err != nil {
			t.Fatalf("%v: %v %s", argv, err, out)
		}
	}
	b, err := portable.New(portable.Config{Engine: dataplane.NewEngine(dataplane.Options{}), Overlay: tun, UDP: udp, Raw: raw})
	must(t, err)
	g.port = b
	g.program(t, b, mode, outer6, encap)
	runCtx, stopRun := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = b.RunOverlay(runCtx) }()
	go func() { defer wg.Done(); _ = udp.Serve(runCtx, b) }()
	go func() { defer wg.Done(); _ = raw.Serve(runCtx, b) }()
	return func() {
		stopRun()
		_ = tun.Close()
		_ = udp.Close()
		_ = raw.Close()
		wg.Wait()
	}
}

// pingBoth pings h2 from h1 over IPv4 and IPv6, allowing one retry for
// neighbour resolution.
func pingBoth(t testing.TB, l *lab.Lab, diag func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, dst := range []string{"198.19.2.10", "2001:db8:1:2::10"} {
		var out []byte
		var err error
		for range 3 {
			out, err = l.Exec(ctx, "h1", "ping", "-c", "3", "-i", "0.2", "-W", "5", dst)
			if err == nil && strings.Contains(string(out), " 0% packet loss") {
				break
			}
		}
		if err != nil || !strings.Contains(string(out), " 0% packet loss") {
			t.Fatalf("ping %s: %v\n%s\n%s", dst, err, out, diag())
		}
	}
}

func (g *gateway) diag() string {
	if g.xdp == nil {
		return g.node + ": not running"
	}
	return fmt.Sprintf("%s: %+v", g.node, g.xdp.Status())
}

// TestLabPingAFXDP runs two gateways with the AF_XDP backend and static SAs
// in GRE and IPsec mode, hosts behind them ping each other over IPv4 and
// IPv6, and the ESP captured on the underlay decodes in tshark with our keys
// (ICV correct, inner ICMP intact).
func TestLabPingAFXDP(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "tcpdump", "tshark")
	for _, c := range []struct {
		mode          dataplane.Mode
		outer6, encap bool
	}{
		{dataplane.ModeGRE, false, false},
		{dataplane.ModeGRE, true, true},
		{dataplane.ModeIPsec, false, true},
		{dataplane.ModeIPsec, true, false},
	} {
		t.Run(fmt.Sprintf("%v/outer6=%v/encap=%v", c.mode, c.outer6, c.encap), func(t *testing.T) {
			l := labtest.Up(t, twoSites)
			noChecksumOffload(t, l)
			s1, s2 := sites()
			s1.startXDP(t, l, c.mode, c.outer6, c.encap)
			s2.startXDP(t, l, c.mode, c.outer6, c.encap)
			pcap, stopDump := capture(t, l, "r", "e1", "esp or udp port 4500")
			pingBoth(t, l, func() string { return s1.diag() + "\n" + s2.diag() })
			waitFrames(t, pcap, 12)
			stopDump()
			checkTshark(t, pcap, c.mode, c.outer6, c.encap)
			for _, g := range []*gateway{s1, s2} {
				st := g.xdp.Status()
				q := st.Queues[0]
				if q.RxLAN == 0 || q.RxWAN == 0 || q.TxWAN == 0 || q.TxLAN == 0 {
					t.Errorf("%s: counters did not move: %+v", g.node, q)
				}
				if st.Verdicts["esp"].Packets+st.Verdicts["esp-in-udp"].Packets == 0 || st.Verdicts["protected"].Packets == 0 {
					t.Errorf("%s: verdict counters %+v", g.node, st.Verdicts)
				}
			}
		})
	}
}

// capture starts tcpdump in node and returns the pcap path and a stop
// function.
func capture(t testing.TB, l *lab.Lab, node, iface, filter string) (string, func()) {
	t.Helper()
	pcap := t.TempDir() + "/" + node + "-" + iface + ".pcap"
	ctx, cancel := context.WithCancel(context.Background())
	dump := l.Command(ctx, node, "tcpdump", "-i", iface, "-U", "--immediate-mode", "-n", "-w", pcap, filter)
	stderr, err := dump.StderrPipe()
	must(t, err)
	must(t, dump.Start())
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("tcpdump did not start")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = dump.Process.Signal(syscall.SIGINT)
		_ = dump.Wait()
		cancel()
	}
	t.Cleanup(stop)
	return pcap, stop
}

func waitFrames(t testing.TB, pcap string, n int) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := exec.Command("tshark", "-r", pcap, "-T", "fields", "-e", "frame.number").Output()
		if strings.Count(string(out), "\n") >= n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func checkTshark(t testing.TB, pcap string, mode dataplane.Mode, outer6, encap bool) {
	t.Helper()
	fam := "IPv4"
	if outer6 {
		fam = "IPv6"
	}
	uat := func(spi uint32, key []byte) string {
		return fmt.Sprintf(`uat:esp_sa:"%s","*","*","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%x","NULL",""`, fam, spi, key)
	}
	out, err := exec.Command("tshark", "-r", pcap, "-o", "esp.enable_encryption_decode:TRUE",
		"-o", "esp.enable_authentication_check:TRUE", "-o", uat(0x1001, key12), "-o", uat(0x2002, key21),
		"-T", "fields", "-E", "separator=|", "-e", "frame.protocols", "-e", "esp.icv_good",
		"-e", "icmp.checksum.status", "-e", "icmpv6.checksum.status").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var v4, v6 int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			t.Fatalf("tshark line %q", line)
		}
		if f[1] != "1" {
			t.Errorf("frame %q: ICV not [correct]", line)
		}
		if mode == dataplane.ModeGRE && !strings.Contains(f[0], ":esp:gre:") {
			t.Errorf("frame %q: no GRE inside ESP", line)
		}
		if encap && !strings.Contains(f[0], ":udpencap:esp:") {
			t.Errorf("frame %q: not UDP-encapsulated", line)
		}
		switch {
		case f[2] == "1":
			v4++
		case f[3] == "1":
			v6++
		default:
			t.Errorf("frame %q: inner ICMP not intact", line)
		}
	}
	if v4 < 6 || v6 < 6 {
		t.Fatalf("decoded %d IPv4 and %d IPv6 echo packets, want at least 6 each:\n%s", v4, v6, out)
	}
}

// TestLabSameAsPortable sends the same UDP datagrams from h1 to h2 through
// the portable backend and then through the AF_XDP backend, on the same
// topology, and checks that h2 receives byte-identical IP packets (TTL and
// hop limit included; the IPv4 identification and header checksum and the
// IPv6 flow label aside, which the sender's kernel chooses per packet or
// socket), in GRE and IPsec mode over IPv4 and IPv6.
func TestLabSameAsPortable(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ethtool")
	for _, mode := range []dataplane.Mode{dataplane.ModeGRE, dataplane.ModeIPsec} {
		t.Run(mode.String(), func(t *testing.T) {
			l := labtest.Up(t, twoSites)
			noChecksumOffload(t, l)
			s1, s2 := sites()
			stop1 := s1.startPortable(t, l, mode, false, true)
			stop2 := s2.startPortable(t, l, mode, false, true)
			viaPortable := exchange(t, l, "portable")
			stop1()
			stop2()
			s1, s2 = sites()
			s1.startXDP(t, l, mode, false, true)
			s2.startXDP(t, l, mode, false, true)
			viaXDP := exchange(t, l, "af_xdp")
			if len(viaPortable) != len(viaXDP) {
				t.Fatalf("h2 received %d packets via portable, %d via AF_XDP", len(viaPortable), len(viaXDP))
			}
			for i := range viaPortable {
				if !slices.Equal(viaPortable[i], viaXDP[i]) {
					t.Fatalf("packet %d differs:\nportable %x\naf_xdp   %x\n%s\n%s", i, viaPortable[i], viaXDP[i], s1.diag(), s2.diag())
				}
			}
		})
	}
}

const probePort = 9999

// noChecksumOffload turns off transmit checksum offload on the hosts. A
// veth hands its peer's XDP program TCP and UDP packets whose checksum the
// sender left for the device to fill in (CHECKSUM_PARTIAL); XDP sees only
// bytes, so an AF_XDP dataplane would encrypt the unfinished checksum. Real
// NICs deliver complete checksums; see the package documentation.
func noChecksumOffload(t testing.TB, l *lab.Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, h := range []string{"h1", "h2"} {
		if out, err := l.Exec(ctx, h, "ethtool", "-K", "eth0", "tx", "off"); err != nil {
			t.Fatalf("%s: ethtool: %v %s", h, err, out)
		}
	}
}

// exchange sends 5 IPv4 and 5 IPv6 datagrams from h1 to h2 (after warm-up
// datagrams that let neighbours resolve) and returns the IP packets h2
// received for them, normalised and sorted by payload.
func exchange(t testing.TB, l *lab.Lab, tag string) [][]byte {
	t.Helper()
	var fd int
	must(t, l.Do("h2", func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	}))
	defer unix.Close(fd)
	must(t, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000}))
	var conns []*net.UDPConn
	must(t, l.Do("h2", func() error {
		for _, a := range []string{"198.19.2.10", "[2001:db8:1:2::10]"} {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(fmt.Sprintf("%s:%d", a, probePort))))
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	}))
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	send := func(payload string) {
		must(t, l.Do("h1", func() error {
			for _, dst := range []string{"198.19.2.10", "2001:db8:1:2::10"} {
				d := netip.MustParseAddr(dst)
				src := netip.MustParseAddr("198.19.1.10")
				if d.Is6() {
					src = netip.MustParseAddr("2001:db8:1:1::10")
				}
				c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, probePort+1)),
					net.UDPAddrFromAddrPort(netip.AddrPortFrom(d, probePort)))
				if err != nil {
					return err
				}
				_, err = c.Write([]byte(payload))
				c.Close()
				if err != nil {
					return err
				}
			}
			return nil
		}))
	}
	// Warm up until both families get through.
	deadline := time.Now().Add(20 * time.Second)
	for v4, v6 := false, false; !v4 || !v6; {
		if time.Now().After(deadline) {
			t.Fatalf("%s: warm-up datagrams do not reach h2", tag)
		}
		send("warm-up")
		for _, p := range readProbes(fd, "warm-up", 2, time.Second) {
			v4, v6 = v4 || p[0]>>4 == 4, v6 || p[0]>>4 == 6
		}
	}
	for i := range 5 {
		send(fmt.Sprintf("esphub-probe-%d-%s", i, strings.Repeat("x", 50*i)))
	}
	got := readProbes(fd, "esphub-probe-", 10, 10*time.Second)
	if len(got) != 10 {
		t.Fatalf("%s: h2 received %d of 10 probe datagrams", tag, len(got))
	}
	slices.SortFunc(got, func(a, b []byte) int { return strings.Compare(string(a), string(b)) })
	return got
}

// readProbes reads IP packets carrying UDP to probePort whose payload
// starts with prefix, until n arrived or timeout.
func readProbes(fd int, prefix string, n int, timeout time.Duration) [][]byte {
	var out [][]byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(timeout)
	for len(out) < n && time.Now().Before(deadline) {
		k, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return out
		}
		if p := normaliseProbe(buf[:k], prefix); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// normaliseProbe returns a copy of an IP packet carrying a UDP datagram to
// probePort with the given payload prefix, with the IPv4 identification
// and header checksum and the IPv6 flow label zeroed; nil for anything else.
func normaliseProbe(b []byte, prefix string) []byte {
	var udp []byte
	switch {
	case len(b) >= 28 && b[0]>>4 == 4 && b[9] == unix.IPPROTO_UDP:
		udp = b[int(b[0]&15)*4:]
	case len(b) >= 48 && b[0]>>4 == 6 && b[6] == unix.IPPROTO_UDP:
		udp = b[40:]
	default:
		return nil
	}
	if len(udp) < 8 || int(udp[2])<<8|int(udp[3]) != probePort || !strings.HasPrefix(string(udp[8:]), prefix) {
		return nil
	}
	c := slices.Clone(b)
	if c[0]>>4 == 4 {
		c[4], c[5], c[10], c[11] = 0, 0, 0, 0
	} else {
		c[1], c[2], c[3] = c[1]&0xf0, 0, 0 // flow label: per socket, random
	}
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// runBackend runs b until the test ends, then stops it, checks that no
// frame leaked (checkLedger) and closes it; node names it in failures.
func runBackend(t testing.TB, node string, b *Backend) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: run: %v", node, err)
		}
		checkLedger(t, node, b)
		must(t, b.Close())
	})
}
