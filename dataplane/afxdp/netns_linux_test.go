package afxdp

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

// Network namespace scaffolding for the AF_XDP tests, on top of the
// project's lab package: every lab has a unique prefix, so parallel tests
// and other processes never collide, and t.Cleanup removes it.

// ipCmd runs ip(8) with args and fails the test on error.
func ipCmd(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inNetns runs fn on an OS thread switched into namespace ns. Sockets
// created inside fn belong to ns and keep working from any thread after.
// fn must not call t.Fatal (it runs on another goroutine).
func inNetns(t testing.TB, ns string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	var failure string
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// The thread stays locked (and is discarded) if restoring fails.
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			failure = fmt.Sprintf("open own netns: %v", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(lab.NetnsDir+"/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			failure = fmt.Sprintf("open netns %s: %v", ns, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			failure = fmt.Sprintf("setns %s: %v", ns, err)
			return
		}
		defer func() {
			if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
				runtime.UnlockOSThread()
			}
		}()
		fn()
	}()
	<-done
	if failure != "" {
		t.Fatal(failure)
	}
}

// link is one end of a veth link in a lab node.
type link struct {
	ns      string
	name    string
	ifindex int
	mac     net.HardwareAddr
	ip4     netip.Addr
	ip6     netip.Addr
}

// vethSpec is one veth link of a test lab: nodeA/ifA and nodeB/ifB,
// addressed 198.18.<subnet>.1 and .2/24, 2001:db8:<subnet>::1 and ::2/64,
// with static neighbour entries and queues receive/transmit queues.
type vethSpec struct {
	nodeA, ifA, nodeB, ifB string
	subnet, queues         int
}

// upLab brings up a lab (lab/labtest: unique prefix, removed in
// t.Cleanup) made of the given veth links and returns both ends of each,
// in order. Transmit checksum offload is turned off on every end: veth
// leaves UDP checksums to an offload that never happens on frames an XDP
// program takes, so the stack must compute them.
func upLab(t testing.TB, links ...vethSpec) []*link {
	t.Helper()
	testenv.NeedCommands(t, "ip", "ethtool")
	nodes := map[string]bool{}
	var spec strings.Builder
	var linkYAML strings.Builder
	for _, v := range links {
		nodes[v.nodeA], nodes[v.nodeB] = true, true
		fmt.Fprintf(&linkYAML, "  - a: {node: %s, iface: %s, addr: [198.18.%d.1/24, 2001:db8:%x::1/64]}\n", v.nodeA, v.ifA, v.subnet, v.subnet)
		fmt.Fprintf(&linkYAML, "    b: {node: %s, iface: %s, addr: [198.18.%d.2/24, 2001:db8:%x::2/64]}\n", v.nodeB, v.ifB, v.subnet, v.subnet)
		fmt.Fprintf(&linkYAML, "    neigh: static\n")
		if v.queues > 1 {
			fmt.Fprintf(&linkYAML, "    queues: %d\n", v.queues)
		}
	}
	spec.WriteString("prefix: afxdp\nnodes:\n")
	for _, n := range slices.Sorted(maps.Keys(nodes)) {
		fmt.Fprintf(&spec, "  %s:\n    forward: false\n", n)
	}
	spec.WriteString("links:\n")
	spec.WriteString(linkYAML.String())
	lb := labtest.Up(t, spec.String())

	var out []*link
	for _, v := range links {
		for _, end := range []struct {
			node, iface string
			host        int
		}{{v.nodeA, v.ifA, 1}, {v.nodeB, v.ifB, 2}} {
			l := &link{ns: lb.Netns(end.node), name: end.iface,
				ip4: netip.AddrFrom4([4]byte{198, 18, byte(v.subnet), byte(end.host)}),
				ip6: netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::%d", v.subnet, end.host))}
			inNetns(t, l.ns, func() {
				ifi, err := net.InterfaceByName(l.name)
				if err != nil {
					t.Errorf("interface %s: %v", l.name, err)
					return
				}
				l.ifindex, l.mac = ifi.Index, ifi.HardwareAddr
			})
			if out, err := exec.Command("ip", "netns", "exec", l.ns, "ethtool", "-K", l.name, "tx", "off").CombinedOutput(); err != nil {
				t.Fatalf("ethtool -K %s tx off: %v: %s", l.name, err, out)
			}
			out = append(out, l)
		}
	}
	return out
}

// vethPair brings up two nodes joined by one veth link and returns its ends.
func vethPair(t testing.TB, ifA, ifB string, subnet int) (a, b *link) {
	t.Helper()
	l := upLab(t, vethSpec{nodeA: "gen", ifA: ifA, nodeB: "dut", ifB: ifB, subnet: subnet})
	return l[0], l[1]
}

// xdpAttached reports whether ip(8) shows an XDP program on the link.
func xdpAttached(t testing.TB, l *link) bool {
	t.Helper()
	out := ipCmd(t, "-n", l.ns, "-d", "link", "show", "dev", l.name)
	return strings.Contains(out, "prog/xdp") || strings.Contains(out, " xdp")
}
