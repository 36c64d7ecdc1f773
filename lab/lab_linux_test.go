package lab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
	"github.com/vishvananda/netlink"
)

func ping(t *testing.T, l *lab.Lab, node string, dst netip.Addr) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, node, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "5", dst.String())
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", dst, node, err, out)
	}
	if !strings.Contains(string(out), " 0% packet loss") {
		t.Errorf("ping %s from %s lost packets:\n%s", dst, node, out)
	}
	return string(out)
}

// listenUDP opens a UDP socket bound to addr inside node.
func listenUDP(t *testing.T, l *lab.Lab, node string, addr netip.Addr) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := l.Do(node, func() error {
		var err error
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, node, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialUDP opens a UDP socket inside node connected to dst.
func dialUDP(t *testing.T, l *lab.Lab, node string, dst netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := l.Do(node, func() error {
		var err error
		c, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		return err
	})
	if err != nil {
		t.Fatalf("dial %s from %s: %v", dst, node, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sourceSeen sends datagrams from node to the listener until one arrives and
// returns the source address the listener saw.
func sourceSeen(t *testing.T, l *lab.Lab, from string, ln *net.UDPConn) netip.Addr {
	t.Helper()
	dst := ln.LocalAddr().(*net.UDPAddr).AddrPort()
	c := dialUDP(t, l, from, dst)
	buf := make([]byte, 64)
	for range 50 {
		if _, err := c.Write([]byte("hello through the lab")); err != nil {
			t.Fatalf("send from %s: %v", from, err)
		}
		ln.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, src, err := ln.ReadFromUDPAddrPort(buf)
		if err == nil {
			return src.Addr().Unmap()
		}
	}
	t.Fatalf("nothing from %s reached %s", from, dst)
	return netip.Addr{}
}

func TestHub2Spokes(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, labtest.Topology("hub-2spokes"))
	ping(t, l, "host1", l.Addr4("host2", "eth0"))
	ping(t, l, "host1", l.Addr6("host2", "eth0"))
	ping(t, l, "host2", l.Addr4("hubhost", "eth0"))
	ping(t, l, "spoke1", l.Addr4("hub", "wan"))
	// Without NAT the hub's host sees the spoke host's own address.
	ln := listenUDP(t, l, "hubhost", l.Addr4("hubhost", "eth0"))
	if got, want := sourceSeen(t, l, "host1", ln), l.Addr4("host1", "eth0"); got != want {
		t.Errorf("hubhost saw source %s, want %s", got, want)
	}
	// Nothing can leave the lab: the internet router, where every default
	// route ends, has none itself.
	h, err := l.Netlink("inet")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	routes, err := h.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			t.Errorf("inet has a default route: %v", r)
		}
	}
}

// TestHub3SpokesNAT is the acceptance check: the host behind a NATed spoke
// reaches the hub's host, and the hub's host sees the NAT box's outside
// address, not the host's.
func TestHub3SpokesNAT(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, labtest.Topology("hub-3spokes-nat"))
	hubhost4, hubhost6 := l.Addr4("hubhost", "eth0"), l.Addr6("hubhost", "eth0")
	ping(t, l, "host2", hubhost4)
	ping(t, l, "host3", hubhost6)
	ping(t, l, "host1", hubhost4)

	for _, tc := range []struct {
		from string
		dst  netip.Addr
		want netip.Addr
	}{
		{"host2", hubhost4, l.Addr4("nat", "wan")},
		{"host3", hubhost4, l.Addr4("nat", "wan")},
		{"host2", hubhost6, l.Addr6("nat", "wan")},
		{"spoke2", l.Addr4("hub", "wan"), l.Addr4("nat", "wan")},
		{"host1", hubhost4, l.Addr4("host1", "eth0")}, // spoke1 is not behind the NAT
	} {
		at := "hubhost"
		if tc.dst == l.Addr4("hub", "wan") {
			at = "hub"
		}
		ln := listenUDP(t, l, at, tc.dst)
		if got := sourceSeen(t, l, tc.from, ln); got != tc.want {
			t.Errorf("%s -> %s: source seen %s, want %s", tc.from, tc.dst, got, tc.want)
		}
	}
	// The masquerade rule counted the translations.
	st, err := l.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Name != "nat" {
			continue
		}
		if len(n.Nft) != 1 || !strings.Contains(n.Nft[0], "masquerade") || strings.Contains(n.Nft[0], "packets 0 ") {
			t.Errorf("nat counters: %q", n.Nft)
		}
	}
	// The NAT node's conntrack table shows host2's translation.
	maps, err := l.NATMappings("nat")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(maps, func(m lab.NATMapping) bool {
		return m.Proto == "udp" && m.Inside.Addr() == l.Addr4("host2", "eth0") && m.Outside.Addr() == l.Addr4("nat", "wan") && m.Remote.Addr() == hubhost4
	}) {
		t.Errorf("no udp mapping host2 -> nat wan in %v", maps)
	}
	// Inet has no route into the NATed site.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := l.Exec(ctx, "hubhost", "ping", "-n", "-c", "1", "-W", "1", l.Addr4("host2", "eth0").String()); err == nil {
		t.Errorf("hubhost reached host2 behind the NAT without a tunnel:\n%s", out)
	}
}

const impairedPair = `nodes: {a: {}, b: {}}
links:
  - a: {node: a, addr: [198.18.0.1/24, 2001:db8::1/64], %s}
    b: {node: b, addr: [198.18.0.2/24, 2001:db8::2/64]}
`

// blast sends n datagrams of size bytes from a to b, spread evenly over
// span (all at once when span is 0), and returns how many arrived within wait
// after the last one was sent.
func blast(t *testing.T, l *lab.Lab, n, size int, span, wait time.Duration) int {
	t.Helper()
	ln := listenUDP(t, l, "b", l.Addr4("b", "a"))
	if err := ln.SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			if _, _, err := ln.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	c := dialUDP(t, l, "a", ln.LocalAddr().(*net.UDPAddr).AddrPort())
	msg := make([]byte, size)
	start := time.Now()
	for i := range n {
		// Catch up with the schedule after oversleeping instead of offering
		// less than planned.
		if due := start.Add(span * time.Duration(i) / time.Duration(n)); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
		// Loss shows up as silently dropped datagrams; a full tbf queue
		// drops too. Neither returns an error to a UDP sender.
		if _, err := c.Write(msg); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("send: %v", err)
		}
	}
	time.Sleep(wait)
	ln.Close()
	<-done
	return int(got.Load())
}

func TestLossImpairment(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, fmt.Sprintf(impairedPair, "loss: 50"))
	const n = 1000
	got := blast(t, l, n, 100, 500*time.Millisecond, time.Second)
	// 50% loss over 1000 packets: 500 ± 16 (one sigma); allow a wide margin.
	if got < n*30/100 || got > n*70/100 {
		t.Errorf("received %d of %d with 50%% loss", got, n)
	}
	st, err := l.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Loss leaving a is applied where it arrives, in b, and counted there.
	if nft := st.Nodes[1].Nft; len(nft) != 1 || !strings.Contains(nft[0], "numgen random mod 100 < 50") || strings.Contains(nft[0], "packets 0 ") {
		t.Errorf("node b nft rules: %q", nft)
	}
	if nft := st.Nodes[0].Nft; len(nft) != 0 {
		t.Errorf("node a has rules: %q", nft)
	}
	t.Logf("loss 50%%: %d of %d datagrams arrived", got, n)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, fmt.Sprintf(impairedPair, "rate: 1mbit"))
	h, err := l.Netlink("a")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName("b")
	if err != nil {
		t.Fatal(err)
	}
	qs, err := h.QdiscList(link)
	if err != nil {
		t.Fatal(err)
	}
	var tbf *netlink.Tbf
	for _, q := range qs {
		if q, ok := q.(*netlink.Tbf); ok {
			tbf = q
		}
	}
	if tbf == nil || tbf.Rate != 1e6/8 {
		t.Fatalf("qdiscs on a:b = %v, want tbf at 125000 bytes/s", qs)
	}
	// 2 Mbit/s offered for a second to a 1 Mbit/s link: about half arrives
	// (125 KB plus the bucket and the queue, some 10 KB). Without the limit
	// all 250 would. On a loaded machine the sender falls behind and catches
	// up in bursts the short queue drops, so fewer may arrive; never more.
	const n, size = 250, 1000
	got := blast(t, l, n, size, time.Second, time.Second)
	if got < 20 || got > 180 {
		t.Errorf("received %d of %d datagrams offered at 2 Mbit/s through a 1mbit tbf, want about 135", got, n)
	}
	t.Logf("rate 1mbit: %d of %d 1000-byte datagrams offered at 2 Mbit/s arrived", got, n)
}

func TestUpTwiceFails(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, fmt.Sprintf(impairedPair, "iface: x"))
	_, err := lab.Up(context.Background(), l.Spec(), lab.Options{Prefix: l.Prefix()})
	if !errors.Is(err, lab.ErrExists) {
		t.Fatalf("second Up: %v, want ErrExists", err)
	}
	// The first lab survived the failed attempt.
	ping(t, l, "b", l.Addr4("a", "x"))
}

func TestDownLeavesNothing(t *testing.T) {
	t.Parallel()
	before, _ := net.Interfaces()
	s, err := lab.LoadOrInline(fmt.Sprintf(impairedPair, "loss: 5, rate: 10mbit"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := labtest.Prefix()
	l := labtest.UpSpec(t, s)
	_ = prefix
	// A process left running inside a node must not keep the lab alive.
	cmd := l.Command(context.Background(), "a", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	names, _ := lab.Namespaces(l.Prefix())
	if len(names) != 2 {
		t.Fatalf("namespaces %v, want 2", names)
	}
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	if names, _ := lab.Namespaces(l.Prefix()); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Errorf("process inside the lab survived Down")
	}
	if err := l.Down(); err != nil {
		t.Errorf("second Down: %v", err)
	}
	// Nothing appeared in the root namespace (colleagues' tests never create
	// root interfaces either, so any new name is ours).
	after, _ := net.Interfaces()
	for _, i := range after {
		if !slices.ContainsFunc(before, func(b net.Interface) bool { return b.Name == i.Name }) && (i.Name == "a" || i.Name == "b") {
			t.Errorf("interface %s appeared in the root namespace", i.Name)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	_, err := lab.LoadOrInline(fmt.Sprintf(impairedPair, "mtu: 1400"))
	if err == nil {
		t.Fatalf("mtu is a link key, not an end key: accepted")
	}
	s, err := lab.LoadOrInline(strings.Replace(fmt.Sprintf(impairedPair, "iface: x"), "links:", "links:\n  - {a: {node: a, iface: y}, b: {node: b, iface: y}, mtu: 1400}", 1))
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Attach(s, lab.Options{Prefix: labtest.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Exec(context.Background(), "nosuch", "true"); err == nil || !strings.Contains(err.Error(), `no node "nosuch"`) {
		t.Errorf("Exec on unknown node: %v", err)
	}
	if got := l.Missing(); len(got) != 2 {
		t.Errorf("Missing() on a lab that is not up = %v", got)
	}
	if err := l.Do("a", func() error { return nil }); err == nil {
		t.Errorf("Do on a lab that is not up succeeded")
	}
}

func TestQueuesAndStaticNeighbours(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, strings.Replace(fmt.Sprintf(impairedPair, "iface: x"), "links:\n", "links:\n  - {a: {node: a, iface: q, addr: 198.18.1.1/24}, b: {node: b, iface: q, addr: 198.18.1.2/24}, queues: 2, neigh: static}\n", 1))
	ha, err := l.Netlink("a")
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	hb, err := l.Netlink("b")
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	qa, err := ha.LinkByName("q")
	if err != nil {
		t.Fatal(err)
	}
	qb, err := hb.LinkByName("q")
	if err != nil {
		t.Fatal(err)
	}
	if a := qa.Attrs(); a.NumRxQueues != 2 || a.NumTxQueues != 2 {
		t.Errorf("a:q queues rx %d tx %d, want 2", a.NumRxQueues, a.NumTxQueues)
	}
	neighs, err := ha.NeighList(qa.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range neighs {
		if n.IP.String() == "198.18.1.2" && n.State == netlink.NUD_PERMANENT && n.HardwareAddr.String() == qb.Attrs().HardwareAddr.String() {
			found = true
		}
	}
	if !found {
		t.Errorf("no permanent neighbour for 198.18.1.2 with b's MAC %s on a:q: %+v", qb.Attrs().HardwareAddr, neighs)
	}
	ping(t, l, "a", netip.MustParseAddr("198.18.1.2"))
}

func TestDeviceRoute(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, `nodes:
  a: {routes: [{to: 198.19.9.0/24, dev: b}, {to: "2001:db8:9::/48", dev: b}]}
  b: {lo: [198.19.9.1/32, "2001:db8:9::1/128"]}
links:
  - {a: {node: a, addr: [198.18.0.1/24, "2001:db8::1/64"]}, b: {node: b, addr: [198.18.0.2/24, "2001:db8::2/64"]}}
`)
	// b answers ARP for its lo addresses on the link, so an on-link route
	// without a gateway reaches them. (IPv6 neighbour discovery answers only
	// for addresses on the receiving interface, so only the route is checked.)
	ping(t, l, "a", l.Addr4("b", "lo"))
	h, err := l.Netlink("a")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName("b")
	if err != nil {
		t.Fatal(err)
	}
	routes, err := h.RouteList(link, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(routes, func(r netlink.Route) bool {
		return r.Dst != nil && r.Dst.String() == "2001:db8:9::/48" && r.Gw == nil
	}) {
		t.Errorf("no device route to 2001:db8:9::/48 on a: %v", routes)
	}
}

func TestDoSwitchesAndRestores(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, fmt.Sprintf(impairedPair, "iface: x"))
	ifaces := func() []string {
		list, err := net.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, i := range list {
			names = append(names, i.Name)
		}
		return names
	}
	var inside []string
	if err := l.Do("b", func() error { inside = ifaces(); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inside, []string{"lo", "a"}) {
		t.Errorf("interfaces inside b = %v, want [lo a]", inside)
	}
	want := errors.New("from fn")
	if err := l.Do("a", func() error { return want }); !errors.Is(err, want) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic from fn", r)
			}
		}()
		_ = l.Do("a", func() error { panic("boom") })
	}()
	// Many concurrent Do calls each see their own node.
	errc := make(chan error, 40)
	for i := range 40 {
		node, peer := "a", "x"
		if i%2 == 1 {
			node, peer = "b", "a"
		}
		go func() {
			errc <- l.Do(node, func() error {
				if names := ifaces(); !slices.Contains(names, peer) {
					return fmt.Errorf("in %s saw %v", node, names)
				}
				return nil
			})
		}()
	}
	for range 40 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

// BenchmarkUpDown measures a full Up and Down of the larger shipped topology
// (10 namespaces, 9 veth pairs, routes, NAT), which every end-to-end test
// pays once.
func BenchmarkUpDown(b *testing.B) {
	testenv.NeedRoot(b)
	testenv.NeedCommands(b, "ip", "nft")
	s, err := lab.Load(labtest.Topology("hub-3spokes-nat"))
	if err != nil {
		b.Fatal(err)
	}
	prefix := labtest.Prefix()
	b.Cleanup(func() { _ = lab.DownPrefix(prefix) })
	b.ReportAllocs()
	for b.Loop() {
		l, err := lab.Up(context.Background(), s, lab.Options{Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Down(); err != nil {
			b.Fatal(err)
		}
	}
}

const natTriple = `nodes:
  in: {routes: [{to: default, via: 198.18.1.1}]}
  nat: {nat: {masquerade: [out]%s}}
  out: {}
links:
  - {a: {node: in, addr: 198.18.1.2/24}, b: {node: nat, addr: 198.18.1.1/24}}
  - {a: {node: nat, iface: out, addr: 198.18.2.1/24}, b: {node: out, addr: 198.18.2.2/24}}
`

// outsidePort sends from UDP port 500 inside to the outside node and returns
// the source port the outside sees.
func outsidePort(t *testing.T, l *lab.Lab, ln *net.UDPConn) uint16 {
	t.Helper()
	var c *net.UDPConn
	err := l.Do("in", func() error {
		var err error
		c, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.Addr4("in", "nat"), 500)),
			net.UDPAddrFromAddrPort(ln.LocalAddr().(*net.UDPAddr).AddrPort()))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for range 50 {
		if _, err := c.Write([]byte("ike")); err != nil {
			t.Fatal(err)
		}
		ln.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, src, err := ln.ReadFromUDPAddrPort(buf); err == nil {
			if src.Addr() != l.Addr4("nat", "out") {
				t.Fatalf("outside saw %s, want the NAT's address", src)
			}
			return src.Port()
		}
	}
	t.Fatal("nothing crossed the NAT")
	return 0
}

func TestNATPorts(t *testing.T) {
	t.Parallel()
	t.Run("preserve", func(t *testing.T) {
		t.Parallel()
		l := labtest.Up(t, fmt.Sprintf(natTriple, ""))
		ln := listenUDP(t, l, "out", l.Addr4("out", "nat"))
		if p := outsidePort(t, l, ln); p != 500 {
			t.Errorf("outside port %d, want 500 kept", p)
		}
	})
	t.Run("random and rebinding", func(t *testing.T) {
		t.Parallel()
		l := labtest.Up(t, fmt.Sprintf(natTriple, ", ports: random"))
		ln := listenUDP(t, l, "out", l.Addr4("out", "nat"))
		first := outsidePort(t, l, ln)
		if first == 500 {
			t.Errorf("outside port stayed 500 with ports: random")
		}
		if got := outsidePort(t, l, ln); got != first {
			t.Errorf("mapping changed without a flush: %d then %d", first, got)
		}
		// Flushing conntrack rebinds: the next packet gets a new port (a
		// repeat has odds of 1 in ~64k, so try a few times).
		changed := false
		for range 3 {
			if err := l.FlushConntrack("nat"); err != nil {
				t.Fatal(err)
			}
			if outsidePort(t, l, ln) != first {
				changed = true
				break
			}
		}
		if !changed {
			t.Errorf("outside port stayed %d after flushing conntrack", first)
		}
	})
}

func TestUpCancelled(t *testing.T) {
	testenv.Short(t)
	testenv.NeedRoot(t)
	t.Parallel()
	s, err := lab.Load(labtest.Topology("hub-2spokes"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := labtest.Prefix()
	t.Cleanup(func() { _ = lab.DownPrefix(prefix) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lab.Up(ctx, s, lab.Options{Prefix: prefix}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Up with a cancelled context: %v", err)
	}
	if names, _ := lab.Namespaces(prefix); len(names) != 0 {
		t.Errorf("cancelled Up left %v", names)
	}
}

// offload: off leaves both ends of a link without transmit checksum
// offload; other links keep the kernel's default (on for veth).
func TestTxChecksumOff(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, strings.Replace(fmt.Sprintf(impairedPair, "iface: x"), "links:\n", "links:\n  - {a: {node: a, iface: q, addr: 198.18.1.1/24}, b: {node: b, iface: q, addr: 198.18.1.2/24}, offload: off}\n", 1))
	txcsum := func(node, iface string) uint32 {
		var v uint32
		err := l.Do(node, func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			val := struct{ cmd, data uint32 }{cmd: unix.ETHTOOL_GTXCSUM}
			var ifr struct {
				name [unix.IFNAMSIZ]byte
				data unsafe.Pointer
				_    [24 - unsafe.Sizeof(uintptr(0))]byte
			}
			copy(ifr.name[:], iface)
			ifr.data = unsafe.Pointer(&val)
			if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
				return errno
			}
			v = val.data
			return nil
		})
		if err != nil {
			t.Fatalf("%s:%s: %v", node, iface, err)
		}
		return v
	}
	for _, c := range []struct {
		node, iface string
		want        uint32
	}{{"a", "q", 0}, {"b", "q", 0}, {"a", "x", 1}} {
		if got := txcsum(c.node, c.iface); got != c.want {
			t.Errorf("%s:%s tx checksum offload %d, want %d", c.node, c.iface, got, c.want)
		}
	}
}
