package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"

	"github.com/vishvananda/netlink"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/afxdp"
	"github.com/esphub/esphub/dataplane/xdp"
)

// hostInterfaces lists the Linux interfaces of the daemon's network
// namespace with their addresses.
func hostInterfaces() ([]hostIface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []hostIface
	for _, i := range ifs {
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
	for _, name := range append([]string{m.WAN}, m.LANs...) {
		q, err := afxdp.RXQueues(name)
		if err != nil {
			log.Warn("cannot read receive queues, assuming 1", "iface", name, "err", err)
			q = 1
		}
		n = min(n, q)
	}
	return max(n, 1)
}

// startXDP creates the AF_XDP backend on the mapped interfaces. Packets on
// receive queues beyond the served ones, on interfaces not attached, and
// the host's own traffic into the overlay reach the kernel and, through
// the TUN device and underlay sockets, the portable backend that shares
// the engine.
func startXDP(o options, m ifaceMap, engine *dataplane.Engine, punt xdp.PuntFunc, log *slog.Logger) (*xdp.Backend, error) {
	for ios, linux := range m.Pairs {
		log.Info("AF_XDP interface mapping", "ios", ios, "linux", linux, "role", map[bool]string{true: "wan", false: "lan"}[linux == m.WAN])
	}
	for _, n := range m.Notes {
		log.Warn("AF_XDP interface mapping: " + n)
	}
	lans := make([]xdp.LAN, 0, len(m.LANs))
	for _, name := range m.LANs {
		lans = append(lans, xdp.LAN{Name: name})
		if l, err := netlink.LinkByName(name); err == nil && l.Type() == "veth" {
			// XDP sees only the frame, not the kernel's note that a TCP or
			// UDP checksum is still to be filled in; see dataplane/xdp.
			log.Warn("LAN interface is a veth: turn off transmit checksum offload on its peer (ethtool -K PEER tx off), or TCP and UDP the peer sends through the tunnels carry unfinished checksums", "iface", name)
		}
	}
	queues := o.xdpQueues
	if queues <= 0 {
		queues = xdpQueues(m, log)
	}
	cpus, err := parseCPUs(o.xdpCPUs)
	if err != nil {
		return nil, err
	}
	return xdp.New(xdp.Config{Engine: engine, WAN: m.WAN, LANs: lans, Queues: queues, CPUs: cpus, Punt: punt, Logger: log})
}
