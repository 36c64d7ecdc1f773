package afxdp

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/internal/testenv"
)

// Network namespace scaffolding for the AF_XDP tests. Every namespace name
// carries the test's tag, the pid and a counter, so parallel tests and
// other processes never collide; t.Cleanup removes everything.

var nsCounter atomic.Uint32

// ipCmd runs ip(8) with args and fails the test on error.
func ipCmd(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNetns creates a named network namespace with lo up.
func newNetns(t testing.TB, tag string) string {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ethtool")
	name := fmt.Sprintf("ehx-%s-%d-%d", tag, os.Getpid(), nsCounter.Add(1))
	ipCmd(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	return name
}

// inNetns runs fn on an OS thread switched into namespace ns. Sockets
// created inside fn belong to ns and keep working from any thread after.
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
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
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

// link is one end of a veth pair.
type link struct {
	ns      string
	name    string
	ifindex int
	mac     net.HardwareAddr
	ip4     netip.Addr
	ip6     netip.Addr
}

// vethPair connects two namespaces with a veth pair, addresses both ends
// (198.18.<net>.1/.2 and 2001:db8:<net>::1/::2) and installs permanent
// neighbour entries so that no ARP or ND is needed.
func vethPair(t testing.TB, nsA, nameA, nsB, nameB string, subnet int) (a, b *link) {
	t.Helper()
	a = &link{ns: nsA, name: nameA, mac: net.HardwareAddr{0x02, 0xee, 0, byte(subnet), 0, 1},
		ip4: netip.AddrFrom4([4]byte{198, 18, byte(subnet), 1}),
		ip6: netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::1", subnet))}
	b = &link{ns: nsB, name: nameB, mac: net.HardwareAddr{0x02, 0xee, 0, byte(subnet), 0, 2},
		ip4: netip.AddrFrom4([4]byte{198, 18, byte(subnet), 2}),
		ip6: netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::2", subnet))}
	ipCmd(t, "-n", nsA, "link", "add", "name", nameA, "address", a.mac.String(), "type", "veth",
		"peer", "name", nameB, "address", b.mac.String(), "netns", nsB)
	for _, l := range []*link{a, b} {
		peer := b
		if l == b {
			peer = a
		}
		ipCmd(t, "-n", l.ns, "addr", "add", l.ip4.String()+"/24", "dev", l.name)
		ipCmd(t, "-n", l.ns, "addr", "add", l.ip6.String()+"/64", "dev", l.name, "nodad")
		ipCmd(t, "-n", l.ns, "link", "set", "dev", l.name, "up")
		// veth leaves UDP checksums to an offload that never happens on
		// frames taken by XDP; have the stack compute them.
		if out, err := exec.Command("ip", "netns", "exec", l.ns, "ethtool", "-K", l.name, "tx", "off").CombinedOutput(); err != nil {
			t.Fatalf("ethtool -K %s tx off: %v: %s", l.name, err, out)
		}
		ipCmd(t, "-n", l.ns, "neigh", "replace", peer.ip4.String(), "lladdr", peer.mac.String(), "dev", l.name, "nud", "permanent")
		ipCmd(t, "-n", l.ns, "neigh", "replace", peer.ip6.String(), "lladdr", peer.mac.String(), "dev", l.name, "nud", "permanent")
		inNetns(t, l.ns, func() {
			ifi, err := net.InterfaceByName(l.name)
			if err != nil {
				t.Errorf("interface %s: %v", l.name, err)
				return
			}
			l.ifindex = ifi.Index
		})
	}
	return a, b
}

// xdpAttached reports whether ip(8) shows an XDP program on the link.
func xdpAttached(t testing.TB, l *link) bool {
	t.Helper()
	out := ipCmd(t, "-n", l.ns, "-d", "link", "show", "dev", l.name)
	return strings.Contains(out, "prog/xdp") || strings.Contains(out, " xdp")
}
