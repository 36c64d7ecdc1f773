package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

// xdpSite is one end of the AF_XDP comparison: a router running esphubd
// and the host behind it.
type xdpSite struct {
	router, host string
	addr4, addr6 netip.Addr // the host's
}

// hostsOffloadOff returns the lab topology name with transmit checksum
// offload off on the hosts' side of their links (eth0): the hosts' veths
// would otherwise hand the routers' XDP programs UDP datagrams whose
// checksum is left to the device (dataplane/xdp explains why), which real
// NICs never deliver.
func hostsOffloadOff(t *testing.T, name string) string {
	t.Helper()
	topo, err := os.ReadFile(labtest.Topology(name))
	if err != nil {
		t.Fatal(err)
	}
	var spec []string
	for _, line := range strings.Split(string(topo), "\n") {
		spec = append(spec, line)
		if strings.Contains(line, "b: {node: ") && strings.Contains(line, "iface: eth0,") {
			spec = append(spec, "    offload: off")
		}
	}
	return strings.Join(spec, "\n")
}

// TestXDPSameAsPortable runs the hub and spoke1 of hub-2spokes with the
// portable backend and then with the AF_XDP backend on both, in GRE mode
// (IPv4 and IPv6 inside) and IPsec mode (ipsec ipv4, and ipsec ipv4
// v6-overlay for IPv6 inside), and checks that the hosts behind them
// receive byte-identical IP packets both ways; that the AF_XDP workers,
// not the kernel, carried them (show dataplane); that SIGTERM leaves no
// XDP program attached; and, at the end, that SIGKILL does not either.
func TestXDPSameAsPortable(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip")
	bin := buildDaemon(t)
	l := labtest.Up(t, hostsOffloadOff(t, "hub-2spokes"))
	w := newWorld(t, l, bin, "hub", "spoke1")
	hubSite := xdpSite{router: "hub", host: "hubhost", addr4: netip.MustParseAddr("198.19.0.10"), addr6: netip.MustParseAddr("2001:db8:1::10")}
	spokeSite := xdpSite{router: "spoke1", host: "host1", addr4: netip.MustParseAddr("198.19.1.10"), addr6: netip.MustParseAddr("2001:db8:1:1::10")}
	hub, s1 := w.nodes["hub"], w.nodes["spoke1"]

	for _, mode := range []struct {
		name, tunnelMode string
		v4, v6           bool
	}{
		{"gre", "gre ip", true, true},
		{"ipsec-ipv4", "ipsec ipv4", true, false},
		{"ipsec-v6-overlay", "ipsec ipv4 v6-overlay", false, true},
	} {
		ok := t.Run(mode.name, func(t *testing.T) {
			w.t = t
			for _, n := range []*node{hub, s1} {
				b, err := readFile(filepath.Join(repoRoot(), "examples", "hub-2spokes", n.name+".cfg"))
				if err != nil {
					t.Fatal(err)
				}
				writeCfg(t, n.cfg, strings.ReplaceAll(b, "tunnel mode gre ip", "tunnel mode "+mode.tunnelMode))
			}
			run := func(backend string) [][]byte {
				for _, n := range []*node{hub, s1} {
					n.backend = backend
					w.start(n)
				}
				w.waitOverlay(hub, s1, mode.v4, mode.v6)
				got := w.xdpExchange(s1, hub, spokeSite, hubSite, mode.v4, mode.v6)
				got = append(got, w.xdpExchange(hub, s1, hubSite, spokeSite, mode.v4, mode.v6)...)
				if backend == "afxdp" {
					for _, n := range []*node{hub, s1} {
						w.checkXDPCarried(n)
					}
				}
				for _, n := range []*node{hub, s1} {
					w.stop(n)
					if a := xdpAttached(t, l, n.name); a != "" {
						t.Errorf("%s: XDP program still attached after SIGTERM: %s", n.name, a)
					}
				}
				return got
			}
			viaPortable := run("portable")
			viaXDP := run("afxdp")
			if len(viaPortable) != len(viaXDP) {
				t.Fatalf("hosts received %d packets via portable, %d via AF_XDP", len(viaPortable), len(viaXDP))
			}
			for i := range viaPortable {
				if !slices.Equal(viaPortable[i], viaXDP[i]) {
					t.Errorf("packet %d differs:\nportable %x\naf_xdp   %x", i, viaPortable[i], viaXDP[i])
				}
			}
		})
		if !ok {
			t.FailNow()
		}
	}

	t.Run("SIGKILL leaves no XDP program", func(t *testing.T) {
		w.t = t
		hub.backend = "afxdp"
		w.start(hub)
		w.eventually(30*time.Second, "XDP attached on the hub", func() (bool, string) {
			a := xdpAttached(t, l, "hub")
			return strings.Contains(a, "wan") && strings.Contains(a, "lan"), a + "\n" + w.logTail(hub)
		})
		w.kill(hub)
		w.eventually(10*time.Second, "XDP detached after SIGKILL", func() (bool, string) {
			a := xdpAttached(t, l, "hub")
			return a == "", a
		})
	})
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// waitOverlay waits until hub and spoke have a session and each other's
// LAN routes in the families the mode carries.
func (w *world) waitOverlay(hub, spoke *node, v4, v6 bool) {
	w.t.Helper()
	w.eventually(60*time.Second, "session and LAN routes", func() (bool, string) {
		s, text := w.sessionsByID(hub)
		if _, ok := s["spoke1.lab.example"]; !ok {
			return false, text
		}
		for _, c := range []struct {
			n      *node
			cmd    string
			prefix string
			want   bool
		}{
			{hub, "ip", "198.19.1.0/24", v4}, {hub, "ipv6", "2001:db8:1:1::/64", v6},
			{spoke, "ip", "198.19.0.0/16", v4}, {spoke, "ipv6", "2001:db8:1::/48", v6},
		} {
			if !c.want {
				continue
			}
			var rows []routeRow
			if err := w.exec(c.n, &rows, "show", c.cmd, "route"); err != nil {
				return false, err.Error()
			}
			if _, ok := findRoute(rows, c.prefix); !ok {
				return false, fmt.Sprintf("%s lacks %s:\n%s", c.n.name, c.prefix, w.text(c.n, "show", c.cmd, "route"))
			}
		}
		return true, ""
	})
}

// xdpStatus is the part of show dataplane's backend_status the test reads.
type xdpStatus struct {
	Backend string `json:"backend"`
	Reason  string `json:"reason"`
	Queues  []struct {
		RxWAN    uint64 `json:"rx_wan"`
		RxLAN    uint64 `json:"rx_lan"`
		TxWAN    uint64 `json:"tx_wan"`
		TxLAN    uint64 `json:"tx_lan"`
		ToKernel uint64 `json:"to_kernel"`
	} `json:"queues"`
	Verdicts map[string]struct{ Packets uint64 } `json:"verdicts"`
}

// checkXDPCarried asserts that n runs the AF_XDP backend and that its
// workers received and sent on both sides.
func (w *world) checkXDPCarried(n *node) {
	w.t.Helper()
	var dp struct {
		Backend string    `json:"backend"`
		Status  xdpStatus `json:"backend_status"`
	}
	if err := w.exec(n, &dp, "show", "dataplane"); err != nil {
		w.t.Fatal(err)
	}
	text := w.text(n, "show", "dataplane")
	st := dp.Status
	if dp.Backend != "af_xdp" || st.Backend != "af_xdp" || len(st.Queues) == 0 {
		w.t.Fatalf("%s: backend %q, status %+v; want af_xdp with queues\n%s", n.name, dp.Backend, st, text)
	}
	q := st.Queues[0]
	if q.RxWAN == 0 || q.RxLAN == 0 || q.TxWAN == 0 || q.TxLAN == 0 {
		w.t.Errorf("%s: AF_XDP queue counters did not move: %+v\n%s", n.name, q, text)
	}
	if st.Verdicts["protected"].Packets == 0 || st.Verdicts["esp"].Packets == 0 {
		w.t.Errorf("%s: steering verdicts %+v\n%s", n.name, st.Verdicts, text)
	}
	if !strings.Contains(text, "Dataplane backend: af_xdp") || !strings.Contains(text, "Selected because:") || !strings.Contains(text, "Rx WAN") {
		w.t.Errorf("%s: show dataplane text:\n%s", n.name, text)
	}
}

// xdpAttached returns the node's interfaces that have an XDP program
// attached ("" when none), from ip link.
func xdpAttached(t *testing.T, l *lab.Lab, node string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, node, "ip", "-o", "link", "show")
	if err != nil {
		t.Fatalf("%s: ip link: %v %s", node, err, out)
	}
	var with []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "prog/xdp") || strings.Contains(line, " xdp") {
			f := strings.Fields(line)
			if len(f) > 1 {
				with = append(with, strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":"))
			}
		}
	}
	return strings.Join(with, " ")
}

const xdpProbePort = 9999

// queueTotals sums a node's AF_XDP queue counters.
func (w *world) queueTotals(n *node) (txWAN, txLAN, toKernel uint64) {
	var dp struct {
		Status xdpStatus `json:"backend_status"`
	}
	if err := w.exec(n, &dp, "show", "dataplane"); err != nil {
		w.t.Fatal(err)
	}
	for _, q := range dp.Status.Queues {
		txWAN, txLAN, toKernel = txWAN+q.TxWAN, txLAN+q.TxLAN, toKernel+q.ToKernel
	}
	return txWAN, txLAN, toKernel
}

// xdpExchange sends 5 UDP datagrams per family from one site's host to the
// other's, through the routers fromNode and toNode, and returns the IP
// packets the receiving host got, normalised (IPv4 identification and
// header checksum, IPv6 flow label zeroed: the sender picks them per
// packet or socket) and sorted. Warm-up datagrams go first until they
// arrive and, with the AF_XDP backend, until the routers' workers
// transmit them themselves (next hops resolved); the probes must then not
// take the kernel path.
func (w *world) xdpExchange(fromNode, toNode *node, from, to xdpSite, v4, v6 bool) [][]byte {
	t, l, tag := w.t, w.lab, fromNode.backend
	t.Helper()
	xdpMode := fromNode.backend == "afxdp"
	var dsts []netip.Addr
	if v4 {
		dsts = append(dsts, to.addr4)
	}
	if v6 {
		dsts = append(dsts, to.addr6)
	}
	var fd int
	if err := l.Do(to.host, func() error {
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
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000}); err != nil {
		t.Fatal(err)
	}
	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err := l.Do(to.host, func() error {
		for _, d := range dsts {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(d, xdpProbePort)))
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	send := func(payload string) {
		err := l.Do(from.host, func() error {
			for _, d := range dsts {
				src := from.addr4
				if d.Is6() {
					src = from.addr6
				}
				c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, xdpProbePort+1)),
					net.UDPAddrFromAddrPort(netip.AddrPortFrom(d, xdpProbePort)))
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
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	var kernelBefore uint64
	for got4, got6, fast := !v4, !v6, !xdpMode; !got4 || !got6 || !fast; {
		if time.Now().After(deadline) {
			t.Fatalf("%s: warm-up datagrams %s -> %s: IPv4 arrived %v, IPv6 arrived %v, fast path %v", tag, from.host, to.host, got4, got6, fast)
		}
		got4, got6 = !v4, !v6
		send("warm-up")
		for _, p := range readXDPProbes(fd, "warm-up", len(dsts), time.Second) {
			got4, got6 = got4 || p[0]>>4 == 4, got6 || p[0]>>4 == 6
		}
		if xdpMode {
			txWAN, _, k1 := w.queueTotals(fromNode)
			_, txLAN, k2 := w.queueTotals(toNode)
			k3, k4 := k1+k2, kernelBefore
			kernelBefore = k3
			// Transmitted by the workers, and this round took no kernel path.
			fast = txWAN > 0 && txLAN > 0 && k3 == k4
		}
	}
	prefix := "esphub-probe-" + from.host + "-"
	for i := range 5 {
		send(fmt.Sprintf("%s%d-%s", prefix, i, strings.Repeat("x", 50*i)))
	}
	got := readXDPProbes(fd, prefix, 5*len(dsts), 10*time.Second)
	if len(got) != 5*len(dsts) {
		t.Fatalf("%s: %s received %d of %d probe datagrams", tag, to.host, len(got), 5*len(dsts))
	}
	if xdpMode {
		_, _, k1 := w.queueTotals(fromNode)
		_, _, k2 := w.queueTotals(toNode)
		if k1+k2 != kernelBefore {
			t.Errorf("%s -> %s: %d probe packets took the kernel path instead of the AF_XDP workers", from.host, to.host, k1+k2-kernelBefore)
		}
	}
	slices.SortFunc(got, func(a, b []byte) int { return strings.Compare(string(a), string(b)) })
	return got
}

// readXDPProbes reads IP packets carrying UDP to xdpProbePort whose payload
// starts with prefix, until n arrived or timeout.
func readXDPProbes(fd int, prefix string, n int, timeout time.Duration) [][]byte {
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
		b := buf[:k]
		var udp []byte
		switch {
		case len(b) >= 28 && b[0]>>4 == 4 && b[9] == unix.IPPROTO_UDP:
			udp = b[int(b[0]&15)*4:]
		case len(b) >= 48 && b[0]>>4 == 6 && b[6] == unix.IPPROTO_UDP:
			udp = b[40:]
		default:
			continue
		}
		if len(udp) < 8 || int(udp[2])<<8|int(udp[3]) != xdpProbePort || !strings.HasPrefix(string(udp[8:]), prefix) {
			continue
		}
		c := slices.Clone(b)
		if c[0]>>4 == 4 {
			c[4], c[5], c[10], c[11] = 0, 0, 0, 0
		} else {
			c[1], c[2], c[3] = c[1]&0xf0, 0, 0
		}
		out = append(out, c)
	}
	return out
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
