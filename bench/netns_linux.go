package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// netLab is a set of network namespaces the benchmark creates for one
// scenario, named ehb-PID-N-ROLE so that parallel runs and colleagues'
// labs never collide. Close removes them all (and with them every veth).
type netLab struct {
	prefix string
	nss    []string
}

var (
	labCounter atomic.Uint32
	staleOnce  sync.Once
)

func newNetLab(tag string) (*netLab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("lab scenarios need root (network namespaces, XDP)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("lab scenarios need ip(8) from iproute2")
	}
	staleOnce.Do(removeStaleLabs)
	return &netLab{prefix: fmt.Sprintf("ehb-%d-%d-%s", os.Getpid(), labCounter.Add(1), tag)}, nil
}

// removeStaleLabs deletes namespaces left by benchmark processes that were
// killed before their cleanup ran: names ehb-PID-* whose PID is gone and
// that hold no process. Other namespaces are never touched.
func removeStaleLabs() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "ehb-") {
			continue
		}
		f := strings.SplitN(name, "-", 3)
		pid, err := strconv.Atoi(f[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + f[1]); err == nil {
			continue // still running
		}
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			continue
		}
		_ = ipRun("netns", "del", name)
	}
}

// ns creates the namespace PREFIX-role with lo up and returns its name.
func (l *netLab) ns(role string) (string, error) {
	name := l.prefix + "-" + role
	if err := ipRun("netns", "add", name); err != nil {
		return "", err
	}
	l.nss = append(l.nss, name)
	if err := ipRun("-n", name, "link", "set", "lo", "up"); err != nil {
		return "", err
	}
	return name, nil
}

// Close deletes every namespace of the lab and returns the first error.
func (l *netLab) Close() error {
	var first error
	for i := len(l.nss) - 1; i >= 0; i-- {
		if err := ipRun("netns", "del", l.nss[i]); err != nil && first == nil {
			first = err
		}
	}
	l.nss = nil
	return first
}

func ipRun(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// end is one end of a veth pair.
type end struct {
	ns, name string
	ifindex  int
	mac      net.HardwareAddr
	ip4      netip.Addr
}

// veth joins two namespaces with a veth pair on 198.18.SUBNET.0/24 (.1 on
// a, .2 on b), with permanent neighbour entries so no ARP is needed.
func (l *netLab) veth(nsA, nameA, nsB, nameB string, subnet byte) (a, b *end, err error) {
	return l.vethQueues(nsA, nameA, nsB, nameB, subnet, 1)
}

// vethQueues is veth with queues transmit and receive queues on each end.
// A veth delivers a frame to the peer's receive queue with the index of the
// transmit queue it was sent on, so a sender that transmits on queue i
// reaches the peer's queue i (and the AF_XDP socket bound there).
func (l *netLab) vethQueues(nsA, nameA, nsB, nameB string, subnet byte, queues int) (a, b *end, err error) {
	a = &end{ns: nsA, name: nameA, mac: net.HardwareAddr{0x02, 0xeb, 0, subnet, 0, 1}, ip4: netip.AddrFrom4([4]byte{198, 18, subnet, 1})}
	b = &end{ns: nsB, name: nameB, mac: net.HardwareAddr{0x02, 0xeb, 0, subnet, 0, 2}, ip4: netip.AddrFrom4([4]byte{198, 18, subnet, 2})}
	q := strconv.Itoa(max(queues, 1))
	if err := ipRun("-n", nsA, "link", "add", "name", nameA, "address", a.mac.String(), "numtxqueues", q, "numrxqueues", q, "type", "veth",
		"peer", "name", nameB, "address", b.mac.String(), "numtxqueues", q, "numrxqueues", q, "netns", nsB); err != nil {
		return nil, nil, err
	}
	for _, e := range []*end{a, b} {
		peer := b
		if e == b {
			peer = a
		}
		for _, args := range [][]string{
			{"-n", e.ns, "addr", "add", e.ip4.String() + "/24", "dev", e.name},
			{"-n", e.ns, "link", "set", "dev", e.name, "up"},
			{"-n", e.ns, "neigh", "replace", peer.ip4.String(), "lladdr", peer.mac.String(), "dev", e.name, "nud", "permanent"},
		} {
			if err := ipRun(args...); err != nil {
				return nil, nil, err
			}
		}
		err := inNetns(e.ns, func() error {
			ifi, err := net.InterfaceByName(e.name)
			if err != nil {
				return err
			}
			e.ifindex = ifi.Index
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("interface %s: %w", e.name, err)
		}
	}
	return a, b, nil
}

// neigh adds a permanent neighbour entry on e: addr is at mac.
func (e *end) neigh(addr netip.Addr, mac net.HardwareAddr) error {
	return ipRun("-n", e.ns, "neigh", "replace", addr.String(), "lladdr", mac.String(), "dev", e.name, "nud", "permanent")
}

// inNetns runs fn on an OS thread switched into namespace ns. Sockets and
// XDP attachments made inside fn belong to ns and keep working from any
// thread afterwards. The thread is discarded if it cannot be switched back.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// nsExecContext runs a command inside ns and returns its combined output;
// ctx ends it.
func nsExecContext(ctx context.Context, ns string, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), ns, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
