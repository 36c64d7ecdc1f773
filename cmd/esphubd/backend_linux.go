package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/afxdp"
	"github.com/esphub/esphub/dataplane/xdp"
)

// hostInterfaces lists the Linux interfaces of the daemon's network
// namespace that are up, with their addresses.
func hostInterfaces() ([]hostIface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []hostIface
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 {
			continue
		}
		h := hostIface{Name: i.Name}
		as, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", i.Name, err)
		}
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					h.Addrs = append(h.Addrs, ip.Unmap())
				}
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// chooseBackend resolves -backend: xdp.Choose probes the CPU and the
// kernel, and for AF_XDP the configuration's WAN and LAN interfaces must
// map to Linux interfaces. With -backend auto every shortfall falls back
// to the portable backend with the reason; with -backend afxdp it is an
// error that says what is missing.
func chooseBackend(requested string, cfg *config.Config) (name, reason string, m ifaceMap, f xdp.Features, err error) {
	want := requested
	if want == "afxdp" {
		want = xdp.NameAFXDP
	}
	name, reason, f, err = xdp.Choose(want)
	if err != nil || name != xdp.NameAFXDP {
		return name, reason, m, f, err
	}
	host, err := hostInterfaces()
	if err == nil {
		m, err = mapInterfaces(cfg, host)
	}
	if err != nil {
		if requested != "auto" {
			return "", "", m, f, fmt.Errorf("-backend afxdp: %w", err)
		}
		return xdp.NamePortable, fmt.Sprintf("AF_XDP available but %v; using the portable backend", err), m, f, nil
	}
	return name, reason, m, f, nil
}

// xdpQueues is how many queues (and workers) the AF_XDP backend serves
// when -xdp-queues is 0: the fewest receive queues among its interfaces,
// at most one per CPU the process may use.
func xdpQueues(m ifaceMap, log *slog.Logger) int {
	n := runtime.NumCPU()
	for _, name := range slices.Concat(m.WANs, m.LANs) {
		q, err := afxdp.RXQueues(name)
		if err != nil {
			log.Warn("cannot read receive queues, assuming 1", "iface", name, "err", err)
			q = 1
		}
		n = min(n, q)
	}
	return max(n, 1)
}

// xdpLANs turns the mapped LAN interfaces into the backend's, each with
// its VRF's id. A LAN whose VRF has no host side is left out with a
// warning. warned remembers the veths already warned about.
func xdpLANs(m ifaceMap, vrfs []*vrfHost, warned map[string]bool, log *slog.Logger) []xdp.LAN {
	lans := make([]xdp.LAN, 0, len(m.LANs))
	for _, name := range m.LANs {
		l := xdp.LAN{Name: name}
		if vn := m.LANVRF[name]; vn != "" {
			i := slices.IndexFunc(vrfs, func(v *vrfHost) bool { return v.name == vn })
			if i < 0 {
				log.Warn("AF_XDP: LAN interface's VRF has no host side: not attached", "iface", name, "vrf", vn)
				continue
			}
			l.VRF = vrfs[i].id
		}
		lans = append(lans, l)
		if warned[name] {
			continue
		}
		if l, err := netlink.LinkByName(name); err == nil && l.Type() == "veth" {
			warned[name] = true
			// XDP sees only the frame, not the kernel's note that a TCP or
			// UDP checksum is still to be filled in; see dataplane/xdp.
			log.Warn("LAN interface is a veth: turn off transmit checksum offload on its peer (ethtool -K PEER tx off), or TCP and UDP the peer sends through the tunnels carry unfinished checksums", "iface", name)
		}
	}
	return lans
}

// startXDP creates the AF_XDP backend on the mapped interfaces. Packets on
// receive queues beyond the served ones, on interfaces not attached, and
// the host's own traffic into the overlay reach the kernel and, through
// the TUN device and underlay sockets, the portable backend that shares
// the engine. LANs in a VRF resolve next hops in the VRF's table and hand
// what the backend cannot address yet to the VRF's TUN.
func startXDP(o options, m ifaceMap, engine *dataplane.Engine, punt xdp.PuntFunc, vrfs []*vrfHost, warned map[string]bool, log *slog.Logger) (*xdp.Backend, error) {
	logMapping(m, log)
	lans := xdpLANs(m, vrfs, warned, log)
	queues := o.xdpQueues
	if queues <= 0 {
		queues = xdpQueues(m, log)
	}
	cpus, err := parseCPUs(o.xdpCPUs)
	if err != nil {
		return nil, err
	}
	hosts := map[uint32]xdp.VRF{}
	for _, v := range vrfs {
		hosts[v.id] = xdp.VRF{Table: v.table, Kernel: v.tun}
	}
	return xdp.New(xdp.Config{Engine: engine, WAN: m.WANs[0], WANs: m.WANs[1:], LANs: lans, VRFs: hosts,
		Queues: queues, CPUs: cpus, Punt: punt, Logger: log})
}

// logMapping logs which IOS interface became which Linux interface and
// what was left to the kernel path.
func logMapping(m ifaceMap, log *slog.Logger) {
	for ios, linux := range m.Pairs {
		role := "lan"
		if slices.Contains(m.WANs, linux) {
			role = "wan"
		}
		log.Info("AF_XDP interface mapping", "ios", ios, "linux", linux, "role", role, "vrf", m.LANVRF[linux])
	}
	for _, n := range m.Notes {
		log.Warn("AF_XDP interface mapping: " + n)
	}
}

// followInterfaces keeps the AF_XDP backend on the interfaces the
// configuration maps to while interfaces appear, disappear, are
// re-created, go up or down or change addresses: it listens to netlink
// link and address notifications and, once they settle (settle after the
// last one), maps the configuration again and hands the result to
// SetInterfaces, which does nothing when it is unchanged. A configuration
// received on reloaded replaces cfg and is mapped at once (LANs in VRFs
// the reload added are left out until a restart gives them a host side).
// It also puts back the VRF tables' connected routes, which the kernel
// removes with their device when it goes down or away. xb may be nil
// (portable backend): then only the routes are kept. It returns when ctx
// ends.
func followInterfaces(ctx context.Context, cfg *config.Config, reloaded <-chan *config.Config, xb *xdp.Backend, vrfs []*vrfHost, warned map[string]bool, settle time.Duration, log *slog.Logger) {
	done := make(chan struct{})
	defer close(done)
	links := make(chan netlink.LinkUpdate, 256)
	addrs := make(chan netlink.AddrUpdate, 256)
	lost := make(chan struct{}, 1)
	onErr := func(error) {
		select {
		case lost <- struct{}{}:
		default:
		}
	}
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{ErrorCallback: onErr}); err != nil {
		log.Warn("no link notifications: interfaces that appear later are not attached to AF_XDP, VRF interfaces that flap lose their connected routes", "err", err)
		return
	}
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{ErrorCallback: onErr}); err != nil {
		log.Warn("AF_XDP: no address notifications: interfaces mapped by address are followed on link changes only", "err", err)
		addrs = nil
	}
	timer := time.NewTimer(settle)
	timer.Stop()
	last := ""
	var gate retryGate
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-links:
			if !ok {
				links = nil
				continue
			}
			timer.Reset(settle)
		case _, ok := <-addrs:
			if !ok {
				addrs = nil
				continue
			}
			timer.Reset(settle)
		case nc := <-reloaded:
			cfg = nc
			timer.Reset(settle)
		case <-lost:
			// A notification may have been lost (socket overrun): look
			// again, as if one had come.
			timer.Reset(settle)
		case <-timer.C:
			for _, v := range vrfs {
				v.refreshRoutes(cfg, log)
			}
			if xb == nil {
				continue
			}
			host, err := hostInterfaces()
			if err != nil {
				log.Warn("AF_XDP: interfaces changed but cannot be listed", "err", err)
				continue
			}
			m, merr := mapInterfaces(cfg, host)
			key := fmt.Sprint(m.WANs, m.LANs, m.LANVRF)
			if key != last {
				last = key
				if merr != nil {
					log.Warn("AF_XDP: interfaces changed: " + merr.Error() + "; ESP is left to the kernel path until one maps")
				}
				logMapping(m, log)
			}
			if wait := gate.wait(key, time.Now()); wait > 0 {
				// This set failed lately: attaching fires link
				// notifications of its own, which must not turn a
				// persistent failure into a rebuild every settle.
				timer.Reset(wait)
				continue
			}
			err = xb.SetInterfaces(m.WANs, xdpLANs(m, vrfs, warned, log))
			if backoff := gate.done(key, err, time.Now()); err != nil {
				log.Warn("AF_XDP: interfaces changed, not all could be attached", "err", err, "retry_in", backoff)
			}
		}
	}
}

// retryGate spaces out attempts at an interface set that failed: 1 s after
// the first failure, doubling up to a minute, until an attempt succeeds or
// another set is wanted.
type retryGate struct {
	key      string
	failures int
	at       time.Time
}

// wait returns how long to wait before trying key (0: try now).
func (g *retryGate) wait(key string, now time.Time) time.Duration {
	if key != g.key || !now.Before(g.at) {
		return 0
	}
	return g.at.Sub(now)
}

// done records the result of trying key and returns the wait before the
// next attempt at it after a failure.
func (g *retryGate) done(key string, err error, now time.Time) time.Duration {
	if err == nil {
		*g = retryGate{}
		return 0
	}
	if key != g.key {
		*g = retryGate{key: key}
	}
	g.failures++
	backoff := min(time.Second<<min(g.failures-1, 6), time.Minute)
	g.at = now.Add(backoff)
	return backoff
}
