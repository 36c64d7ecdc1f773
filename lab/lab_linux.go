package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Up creates the topology: one namespace per node, veth pairs created directly
// inside the namespaces, addresses, routes, NAT, loss and rate limits. spec
// must come from Parse or Load, which validated it. Up fails with ErrExists
// if any namespace with the prefix exists. On any other failure, including a
// cancelled ctx, it removes everything it created before returning the error.
// It needs root, ip (iproute2) and, for NAT or loss, nft.
func Up(ctx context.Context, spec *Spec, opts Options) (*Lab, error) {
	l, err := Attach(spec, opts)
	if err != nil {
		return nil, err
	}
	if err := l.up(ctx, opts.stepHook); err != nil {
		if !errors.Is(err, ErrExists) && opts.stepHook == nil {
			if derr := DownPrefix(l.prefix); derr != nil {
				err = errors.Join(err, fmt.Errorf("clean up after failed up: %w", derr))
			}
		}
		return nil, err
	}
	return l, nil
}

// Down removes the lab; see DownPrefix.
func (l *Lab) Down() error { return DownPrefix(l.prefix) }

// Missing returns the spec's nodes whose namespaces do not exist.
func (l *Lab) Missing() []string {
	var out []string
	for _, n := range l.spec.Nodes {
		if _, err := os.Stat(nsPath(l.Netns(n.Name))); err != nil {
			out = append(out, n.Name)
		}
	}
	return out
}

// NsHandle opens node's network namespace. The caller owns the handle and
// must Close it.
func (l *Lab) NsHandle(node string) (netns.NsHandle, error) {
	if l.spec.Node(node) == nil {
		return netns.None(), fmt.Errorf("lab %s: no node %q", l.prefix, node)
	}
	h, err := netns.GetFromPath(nsPath(l.Netns(node)))
	if err != nil {
		return netns.None(), fmt.Errorf("open namespace of %s: %w (is the lab up?)", node, err)
	}
	return h, nil
}

// Netlink returns a netlink handle bound to node's namespace. The caller owns
// it and must Close it.
func (l *Lab) Netlink(node string) (*netlink.Handle, error) {
	ns, err := l.NsHandle(node)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", node, err)
	}
	return h, nil
}

// Command returns a command that runs argv inside node's namespace (through
// "ip netns exec", which also gives it the namespace's view of /sys). An
// unknown node makes Start fail.
func (l *Lab) Command(ctx context.Context, node string, argv ...string) *exec.Cmd {
	args := append([]string{"netns", "exec", l.Netns(node)}, argv...)
	cmd := exec.CommandContext(ctx, "ip", args...)
	switch {
	case l.spec.Node(node) == nil:
		cmd.Err = fmt.Errorf("lab %s: no node %q (nodes: %s)", l.prefix, node, nodeList(l.spec))
	case len(argv) == 0:
		cmd.Err = fmt.Errorf("lab %s: no command to run on %s", l.prefix, node)
	}
	return cmd
}

// Exec runs argv inside node's namespace and returns its standard output. A
// failure's error carries the command's standard error.
func (l *Lab) Exec(ctx context.Context, node string, argv ...string) ([]byte, error) {
	cmd := l.Command(ctx, node, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s on %s: %w: %s", strings.Join(argv, " "), node, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Do runs fn on a locked OS thread switched into node's namespace, and
// switches back afterwards. Sockets, TUN devices and netlink requests fn
// creates belong to the node and keep working after Do returns. fn runs on
// another goroutine; goroutines it starts do not inherit the namespace. A
// panic in fn is re-raised in the caller's goroutine. Do is safe for
// concurrent use.
func (l *Lab) Do(node string, fn func() error) error {
	ns, err := l.NsHandle(node)
	if err != nil {
		return err
	}
	defer ns.Close()
	return doIn(ns, fn)
}

func doIn(ns netns.NsHandle, fn func() error) error {
	type result struct {
		err      error
		panicked any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("get current namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("enter namespace: %w", err)}
			return
		}
		var res result
		func() {
			// A panic in fn is carried to the caller's goroutine, where a
			// test's recover or the test framework can see it.
			defer func() { res.panicked = recover() }()
			res.err = fn()
		}()
		if err := netns.Set(orig); err != nil {
			// The thread stays locked and dies with this goroutine, so no
			// other goroutine ever runs in the wrong namespace.
			res.err = errors.Join(res.err, fmt.Errorf("leave namespace: %w", err))
			done <- res
			return
		}
		runtime.UnlockOSThread()
		done <- res
	}()
	res := <-done
	if res.panicked != nil {
		panic(res.panicked)
	}
	return res.err
}

func nsPath(name string) string { return NetnsDir + "/" + name }

func (l *Lab) up(ctx context.Context, hook func(string) error) error {
	step := func(name string) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("lab %s up: %w", l.prefix, err)
		}
		l.log.Debug("up", "step", name)
		if hook != nil {
			return hook(name)
		}
		return nil
	}
	// Programs the lab runs inside nodes; missing ones fail here, before
	// anything exists, rather than halfway.
	needs := []string{"ip"}
	for _, n := range l.spec.Nodes {
		if nftRules(n) != "" {
			needs = append(needs, "nft")
			break
		}
	}
	for _, prog := range needs {
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("lab %s: %s is not installed (Debian: apt-get install iproute2 nftables): %w", l.prefix, prog, err)
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("lab %s: creating network namespaces needs root", l.prefix)
	}
	existing, err := Namespaces(l.prefix)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return fmt.Errorf("lab %s: namespaces %s already exist (run \"esphub-lab down --prefix %s\" to remove them): %w",
			l.prefix, strings.Join(existing, ", "), l.prefix, ErrExists)
	}
	for _, n := range l.spec.Nodes {
		if err := step("node " + n.Name); err != nil {
			return err
		}
		if err := l.createNode(n); err != nil {
			return err
		}
	}
	for i, lk := range l.spec.Links {
		if err := step(fmt.Sprintf("link %d", i+1)); err != nil {
			return err
		}
		if err := l.createLink(lk); err != nil {
			return fmt.Errorf("link %s:%s - %s:%s: %w", lk.A.Node, lk.A.Iface, lk.B.Node, lk.B.Iface, err)
		}
	}
	if err := step("carrier"); err != nil {
		return err
	}
	if err := l.waitOperUp(ctx); err != nil {
		return err
	}
	for _, n := range l.spec.Nodes {
		if err := step("routes " + n.Name); err != nil {
			return err
		}
		if err := l.addRoutes(n); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if rules := nftRules(n); rules != "" {
			if err := step("nftables " + n.Name); err != nil {
				return err
			}
			cmd := l.Command(ctx, n.Name, "nft", "-f", "-")
			cmd.Stdin = strings.NewReader(rules)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("node %s: nft: %w: %s", n.Name, err, strings.TrimSpace(string(out)))
			}
		}
	}
	l.log.Info("lab up", "nodes", len(l.spec.Nodes), "links", len(l.spec.Links))
	return nil
}

// createNode makes the namespace, brings lo up with its extra addresses and
// sets the sysctls a router needs, before any link exists so that new
// interfaces inherit the defaults (no DAD, no rp_filter, no redirects).
func (l *Lab) createNode(n *Node) error {
	name := l.Netns(n.Name)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current namespace: %w", err)
			return
		}
		defer orig.Close()
		ns, err := netns.NewNamed(name)
		if err == nil {
			err = configureNode(n)
			ns.Close()
		}
		if rerr := netns.Set(orig); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("leave namespace: %w", rerr))
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("node %s (namespace %s): %w", n.Name, name, err)
	}
	return nil
}

// configureNode runs on a thread inside the node's namespace.
func configureNode(n *Node) error {
	fwd := "0"
	if n.Forward {
		fwd = "1"
	}
	sysctls := [][2]string{
		{"net.ipv4.ip_forward", fwd},
		{"net.ipv6.conf.all.forwarding", fwd},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
		{"net.ipv6.conf.all.accept_dad", "0"},
		{"net.ipv6.conf.default.accept_dad", "0"},
		{"net.ipv6.conf.all.accept_ra", "0"},
		{"net.ipv6.conf.default.accept_ra", "0"},
		// No ICMP redirects: a lab's paths are the ones the spec and the
		// software under test set, not ones the kernel learns on the side.
		{"net.ipv4.conf.all.send_redirects", "0"},
		{"net.ipv4.conf.default.send_redirects", "0"},
		{"net.ipv4.conf.all.accept_redirects", "0"},
		{"net.ipv4.conf.default.accept_redirects", "0"},
		{"net.ipv6.conf.all.accept_redirects", "0"},
		{"net.ipv6.conf.default.accept_redirects", "0"},
	}
	for k, v := range n.Sysctls {
		sysctls = append(sysctls, [2]string{k, v})
	}
	for _, s := range sysctls {
		if err := writeSysctl(s[0], s[1]); err != nil {
			return err
		}
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	for _, a := range n.Loopback {
		if err := netlink.AddrAdd(lo, nlAddr(a)); err != nil {
			return fmt.Errorf("add %s to lo: %w", a, err)
		}
	}
	return nil
}

func writeSysctl(name, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

func (l *Lab) createLink(lk *Link) error {
	ha, err := l.Netlink(lk.A.Node)
	if err != nil {
		return err
	}
	defer ha.Close()
	hb, err := l.Netlink(lk.B.Node)
	if err != nil {
		return err
	}
	defer hb.Close()
	nsb, err := l.NsHandle(lk.B.Node)
	if err != nil {
		return err
	}
	defer nsb.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: lk.A.Iface, MTU: lk.MTU},
		PeerName:      lk.B.Iface,
		PeerNamespace: netlink.NsFd(int(nsb)),
	}
	if q := lk.Queues; q > 0 {
		veth.NumTxQueues, veth.NumRxQueues = q, q
		veth.PeerNumTxQueues, veth.PeerNumRxQueues = uint32(q), uint32(q)
	}
	if err := ha.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth: %w", err)
	}
	for _, end := range []linkEnd{{ha, hb, lk.A}, {hb, ha, lk.B}} {
		link, err := end.h.LinkByName(end.ep.Iface)
		if err != nil {
			return fmt.Errorf("find %s on %s: %w", end.ep.Iface, end.ep.Node, err)
		}
		if err := end.h.LinkSetUp(link); err != nil {
			return fmt.Errorf("set %s on %s up: %w", end.ep.Iface, end.ep.Node, err)
		}
		for _, a := range end.ep.Addrs {
			if err := end.h.AddrAdd(link, nlAddr(a)); err != nil {
				return fmt.Errorf("add %s to %s on %s: %w", a, end.ep.Iface, end.ep.Node, err)
			}
		}
		if lk.StaticNeigh {
			peer, err := end.peerH.LinkByName(end.ep.Peer.Iface)
			if err != nil {
				return fmt.Errorf("find %s on %s: %w", end.ep.Peer.Iface, end.ep.Peer.Node, err)
			}
			for _, a := range end.ep.Peer.Addrs {
				n := &netlink.Neigh{
					LinkIndex:    link.Attrs().Index,
					IP:           a.Addr().AsSlice(),
					HardwareAddr: peer.Attrs().HardwareAddr,
					State:        netlink.NUD_PERMANENT,
				}
				if err := end.h.NeighSet(n); err != nil {
					return fmt.Errorf("neighbour %s on %s: %w", a.Addr(), end.ep.Node, err)
				}
			}
		}
		if lk.TxChecksumOff {
			if err := txChecksumOff(l, end.ep); err != nil {
				return err
			}
		}
		if end.ep.Impair.RateBits > 0 {
			if err := end.h.QdiscReplace(tbfQdisc(link.Attrs().Index, end.ep.Impair)); err != nil {
				return fmt.Errorf("tbf on %s on %s: %w", end.ep.Iface, end.ep.Node, err)
			}
		}
	}
	return nil
}

// linkEnd is one end of a link being created, with netlink handles in its
// own and its peer's namespace.
type linkEnd struct {
	h, peerH *netlink.Handle
	ep       *Endpoint
}

// tbfQdisc builds the root token bucket for a rate limit. Without an explicit
// burst the bucket holds 10ms at the rate, and never less than two full-size
// frames; the queue holds 50ms more.
func tbfQdisc(index int, imp Impairment) *netlink.Tbf {
	rate := imp.RateBits / 8 // tbf counts bytes per second
	burst := imp.BurstBytes
	if burst == 0 {
		burst = uint32(max(rate/100, 2*1514))
	}
	limit := uint64(burst) + rate/20
	return &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: index,
			Handle:    netlink.MakeHandle(1, 0),
			Parent:    netlink.HANDLE_ROOT,
		},
		Rate:   rate,
		Limit:  uint32(min(limit, 1<<31)),
		Buffer: netlink.Xmittime(rate, burst),
	}
}

func (l *Lab) addRoutes(n *Node) error {
	if len(n.Routes) == 0 {
		return nil
	}
	h, err := l.Netlink(n.Name)
	if err != nil {
		return err
	}
	defer h.Close()
	for _, r := range n.Routes {
		rt := &netlink.Route{
			Dst: &net.IPNet{IP: r.To.Addr().AsSlice(), Mask: net.CIDRMask(r.To.Bits(), r.To.Addr().BitLen())},
		}
		if r.To.Addr().Is4() {
			rt.Family = netlink.FAMILY_V4
		} else {
			rt.Family = netlink.FAMILY_V6
		}
		if r.Via.IsValid() {
			rt.Gw = r.Via.AsSlice()
		}
		if r.Dev != "" {
			link, err := h.LinkByName(r.Dev)
			if err != nil {
				return fmt.Errorf("route to %s: find %s: %w", r.To, r.Dev, err)
			}
			rt.LinkIndex = link.Attrs().Index
		}
		if err := h.RouteAdd(rt); err != nil {
			return fmt.Errorf("route to %s: %w", r.To, err)
		}
	}
	return nil
}

// Namespaces lists the named namespaces that belong to the lab prefix, sorted.
func Namespaces(prefix string) ([]string, error) {
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// DownPrefix removes every namespace named "<prefix>-*": it stops the
// processes still running inside (SIGTERM, then SIGKILL), unmounts and removes
// the namespace, and with it every interface, route, qdisc and nftables rule
// the lab created. It works from the names alone, so it also cleans up after a
// crash or a half-finished Up. Removing a lab that is not up is not an error.
func DownPrefix(prefix string) error {
	names, err := Namespaces(prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if err := stopProcesses(name); err != nil {
			errs = append(errs, err)
		}
		if err := deleteNamespace(name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab %s down: %w", prefix, errors.Join(errs...))
	}
	return nil
}

func deleteNamespace(name string) error {
	path := nsPath(name)
	// EINVAL: not a mount point (a crash between creating the file and
	// mounting it); ENOENT: gone already.
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// waitOperUp waits until every link end reports operational state up, so
// that a lab is ready for traffic (and for XDP programs) when Up returns. The
// kernel updates operstate asynchronously, usually within a second.
func (l *Lab) waitOperUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, n := range l.spec.Nodes {
		if len(n.Ifaces) == 0 {
			continue
		}
		h, err := l.Netlink(n.Name)
		if err != nil {
			return err
		}
		for _, e := range n.Ifaces {
			for {
				link, err := h.LinkByName(e.Iface)
				if err != nil {
					h.Close()
					return fmt.Errorf("node %s: find %s: %w", n.Name, e.Iface, err)
				}
				if link.Attrs().OperState == netlink.OperUp {
					break
				}
				select {
				case <-ctx.Done():
					h.Close()
					return fmt.Errorf("node %s: %s is still %s: %w", n.Name, e.Iface, link.Attrs().OperState, ctx.Err())
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		h.Close()
	}
	return nil
}

// Labs groups the named namespaces by prefix (the text before the first '-'),
// for "esphub-lab list": what is up on this machine, including the remains of
// crashed labs. Namespaces without a '-' or whose prefix is not a valid lab
// prefix are not lab namespaces and are left out. Keys are prefixes, values
// the namespace names in order.
func Labs() (map[string][]string, error) {
	entries, err := os.ReadDir(NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	out := map[string][]string{}
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "-")
		if !ok || CheckPrefix(prefix) != nil {
			continue
		}
		out[prefix] = append(out[prefix], e.Name())
	}
	return out, nil
}

// txChecksumOff turns transmit checksum offload off on an endpoint, as
// `ethtool -K IFACE tx off` does (the legacy ETHTOOL_STXCSUM request, which
// clears every checksum feature and, with them, segmentation offload).
func txChecksumOff(l *Lab, ep *Endpoint) error {
	ns, err := l.NsHandle(ep.Node)
	if err != nil {
		return err
	}
	defer ns.Close()
	err = doIn(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		val := struct{ cmd, data uint32 }{cmd: unix.ETHTOOL_STXCSUM}
		var ifr struct {
			name [unix.IFNAMSIZ]byte
			data unsafe.Pointer
			_    [24 - unsafe.Sizeof(uintptr(0))]byte
		}
		copy(ifr.name[:], ep.Iface)
		ifr.data = unsafe.Pointer(&val)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&val)
		if errno != 0 {
			return errno
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tx checksum offload off on %s on %s: %w", ep.Iface, ep.Node, err)
	}
	return nil
}
