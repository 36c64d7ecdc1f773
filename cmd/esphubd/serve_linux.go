package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vishvananda/netlink"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control"
	"github.com/esphub/esphub/control/api"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/portable"
	"github.com/esphub/esphub/dataplane/xdp"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/internal/logging"
)

// udpUnderlay sends the dataplane's ESP-in-UDP through the IKE transport's
// port 4500 socket, which the IKE daemon owns (RFC 3948 shares the port).
type udpUnderlay struct{ u *transport.UDP }

func (w udpUnderlay) WriteESP(b []byte, remote netip.AddrPort) error {
	return w.u.WriteESP(netip.AddrPort{}, remote, b)
}

// kernelRoutes points overlay prefixes at the TUN device in the host's
// main table, and a VRF's prefixes at the VRF's TUN in the VRF's table
// (vrf_linux.go). Routes carry a protocol number of their own so that they
// are told apart from the operator's and removed on exit.
type kernelRoutes struct {
	link netlink.Link
	log  *slog.Logger
	vrfs map[string]*vrfHost
	mu   sync.Mutex
	have map[vrfPrefix]bool
	// addrs are the negotiated addresses on the TUN devices.
	addrs map[vrfPrefix]bool
}

type vrfPrefix struct {
	vrf string
	p   netip.Prefix
}

const rtProtoEsphub = 0xe5 // an unassigned routing protocol id (rtnetlink)

func (k *kernelRoutes) route(vrf string, p netip.Prefix) (*netlink.Route, error) {
	r := &netlink.Route{LinkIndex: k.link.Attrs().Index, Dst: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Protocol: rtProtoEsphub}
	if vrf != "" {
		v := k.vrfs[vrf]
		if v == nil {
			return nil, fmt.Errorf("vrf %s has no host device (VRFs added by a reload need a restart)", vrf)
		}
		r.LinkIndex, r.Table = v.link.Attrs().Index, v.table
	}
	return r, nil
}

func (k *kernelRoutes) AddRoute(vrf string, p netip.Prefix) error {
	r, err := k.route(vrf, p)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("route %v vrf %q: %w", p, vrf, err)
	}
	k.have[vrfPrefix{vrf, p}] = true
	return nil
}

func (k *kernelRoutes) DeleteRoute(vrf string, p netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.have[vrfPrefix{vrf, p}] {
		return nil
	}
	delete(k.have, vrfPrefix{vrf, p})
	r, err := k.route(vrf, p)
	if err != nil {
		return err
	}
	return netlink.RouteDel(r)
}

func (k *kernelRoutes) removeAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for vp := range k.have {
		if r, err := k.route(vp.vrf, vp.p); err == nil {
			_ = netlink.RouteDel(r)
		}
	}
	k.have = map[vrfPrefix]bool{}
	for vp := range k.addrs {
		if l, err := k.device(vp.vrf); err == nil {
			_ = netlink.AddrDel(l, k.addr(vp.p))
		}
	}
	k.addrs = map[vrfPrefix]bool{}
}

func (k *kernelRoutes) addr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
}

// device is the overlay TUN device of a VRF ("" is the global one).
func (k *kernelRoutes) device(vrf string) (netlink.Link, error) {
	if vrf == "" {
		return k.link, nil
	}
	v := k.vrfs[vrf]
	if v == nil {
		return nil, fmt.Errorf("vrf %s has no host device (VRFs added by a reload need a restart)", vrf)
	}
	return v.link, nil
}

// AddAddress puts a negotiated address (a host prefix) on the VRF's TUN
// device (control.KernelAddresses).
func (k *kernelRoutes) AddAddress(vrf string, p netip.Prefix) error {
	l, err := k.device(vrf)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := netlink.AddrReplace(l, k.addr(p)); err != nil {
		return fmt.Errorf("address %v dev %s: %w", p, l.Attrs().Name, err)
	}
	k.addrs[vrfPrefix{vrf, p}] = true
	return nil
}

// DeleteAddress removes an address AddAddress configured.
func (k *kernelRoutes) DeleteAddress(vrf string, p netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.addrs[vrfPrefix{vrf, p}] {
		return nil
	}
	delete(k.addrs, vrfPrefix{vrf, p})
	l, err := k.device(vrf)
	if err != nil {
		return err
	}
	if err := netlink.AddrDel(l, k.addr(p)); err != nil {
		return fmt.Errorf("address %v dev %s: %w", p, l.Attrs().Name, err)
	}
	return nil
}

func serve(ctx context.Context, o options, hup <-chan os.Signal, stderr io.Writer) error {
	log, err := logging.New(stderr, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	cfg, cinfo, err := loadConfig(o.config)
	if err != nil {
		return err // the first line is FILE:LINE:COL: ...
	}
	log.Info("configuration loaded", "config", cinfo.String())
	backend, reason, imap, feats, err := chooseBackend(o.backend, cfg)
	if err != nil {
		return err
	}
	log.Info("dataplane backend chosen", "backend", backend, "requested", o.backend, "why", reason, "esp_gcm", esp.GCMImplementation())
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil && strings.TrimSpace(string(b)) == "0" {
		log.Warn("IPv4 forwarding is off: hosts behind this router cannot use the tunnels (sysctl net.ipv4.ip_forward=1)")
	}

	tun, err := portable.OpenTUN(o.tun)
	if err != nil {
		return fmt.Errorf("open tun %s: %w (esphubd needs CAP_NET_ADMIN)", o.tun, err)
	}
	defer tun.Close()
	link, err := netlink.LinkByName(tun.Name())
	if err != nil {
		return fmt.Errorf("tun %s: %w", tun.Name(), err)
	}
	if err := netlink.LinkSetMTU(link, o.tunMTU); err != nil {
		return fmt.Errorf("tun %s mtu: %w", tun.Name(), err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("tun %s up: %w", tun.Name(), err)
	}
	vrfs, err := setupVRFs(cfg, o.tun, o.tunMTU, log)
	if err != nil {
		return err
	}
	defer closeVRFs(vrfs)
	kr := &kernelRoutes{link: link, log: log, vrfs: map[string]*vrfHost{}, have: map[vrfPrefix]bool{}, addrs: map[vrfPrefix]bool{}}
	vrfOverlays := map[uint32]portable.Overlay{}
	for _, v := range vrfs {
		kr.vrfs[v.name] = v
		vrfOverlays[v.id] = v.tun
	}
	defer kr.removeAll()

	late := &lateControl{}
	engine := dataplane.NewEngine(dataplane.Options{Logger: log, Events: late})
	var be *portable.Backend
	var beReady sync.WaitGroup
	beReady.Add(1)
	udp, err := transport.ListenUDP(transport.UDPConfig{
		Logger: log, ReadBuffer: 4 << 20, WriteBuffer: 4 << 20,
		OnESP: func(local, remote netip.AddrPort, b []byte) {
			beReady.Wait()
			be.DeliverESP(b, local, remote, true)
		},
	})
	if err != nil {
		return fmt.Errorf("ike sockets: %w", err)
	}
	defer udp.Close()
	raw, err := portable.ListenRaw(netip.IPv4Unspecified())
	if err != nil {
		return fmt.Errorf("raw esp socket: %w", err)
	}
	defer raw.Close()
	be, err = portable.New(portable.Config{Engine: engine, Overlay: tun, VRFOverlays: vrfOverlays, UDP: udpUnderlay{udp}, Raw: raw, Punt: late.punt, Logger: log})
	beReady.Done()
	if err != nil {
		return fmt.Errorf("portable backend: %w", err)
	}

	// The AF_XDP backend shares the engine with the portable one, which
	// keeps serving the TUN device (the host's own overlay traffic) and
	// whatever reaches the kernel's sockets.
	var dp control.Dataplane = be
	var xb *xdp.Backend
	vethWarned := map[string]bool{}
	if backend == xdp.NameAFXDP {
		xb, err = startXDP(o, imap, engine, late.punt, vrfs, vethWarned, log)
		switch {
		case err != nil && o.backend == "afxdp":
			return fmt.Errorf("AF_XDP backend: %w", err)
		case err != nil:
			backend, reason = xdp.NamePortable, fmt.Sprintf("AF_XDP backend failed to start (%v); using the portable backend", err)
			log.Warn("dataplane backend chosen", "backend", backend, "requested", o.backend, "why", reason)
		default:
			dp = xb
			defer func() {
				if err := xb.Close(); err != nil {
					log.Error("AF_XDP backend close", "err", err)
				}
			}()
		}
	}
	status := func() xdp.Status {
		if xb != nil {
			st := xb.Status()
			st.Reason = reason
			return st
		}
		st := xdp.Status{Backend: xdp.NamePortable, Reason: reason, Drops: map[string]uint64{}, Features: feats}
		for r, n := range engine.Drops() {
			if n != 0 {
				st.Drops[r.String()] = n
			}
		}
		return st
	}
	backendStatus := func() (any, string) {
		st := status()
		var b strings.Builder
		_ = st.WriteText(&b)
		return st, b.String()
	}

	co := control.Options{Logger: log, Transport: udp, Dataplane: dp, Kernel: kr, Backend: backend, BackendStatus: backendStatus, PKIDir: o.pkiDir}
	if o.espKeyLog != "" {
		f, err := os.OpenFile(o.espKeyLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("-esp-keylog: %w", err)
		}
		defer f.Close()
		log.Warn("ESP keys of every Child SA are written to a file: anyone who reads it can decrypt the traffic; use only for debugging", "file", o.espKeyLog)
		co.ESPKeyLog = f
	}
	d, err := control.New(cfg, co)
	if err != nil {
		return err
	}
	late.set(d)
	// A reloaded configuration may map other interfaces to AF_XDP.
	reloaded := make(chan *config.Config, 1)
	apply := func(nc *config.Config) []string {
		changes := d.Reload(nc)
		select {
		case <-reloaded: // superseded (or nobody follows interfaces)
		default:
		}
		reloaded <- nc // reloads are serialised: never blocks
		return changes
	}
	rl := &reloader{path: o.config, apply: apply, log: log}
	reload := rl.reload

	if err := os.MkdirAll(filepath.Dir(o.api), 0o755); err != nil {
		return fmt.Errorf("api socket directory: %w", err)
	}
	ln, err := api.ListenUnix(o.api)
	if err != nil {
		return fmt.Errorf("api socket: %w", err)
	}
	srv := api.NewServer(d.Commands(reload))
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = os.Remove(o.api)
	}()

	if o.metrics != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(d.Metrics(), d.NHRPMetrics(), xdp.NewCollector(status), collectors.NewGoCollector())
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mln, err := net.Listen("tcp", o.metrics)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = ms.Serve(mln) }()
		defer ms.Close()
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = be.RunOverlay(runCtx) }()
	go func() { defer wg.Done(); _ = raw.Serve(runCtx, be) }()
	var xdpErr error
	if xb != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := xb.Run(runCtx); err != nil {
				// Steered packets have no reader now: stop, and let the
				// service manager restart us, rather than black-hole them.
				log.Error("AF_XDP backend stopped", "err", err)
				xdpErr = fmt.Errorf("AF_XDP backend: %w", err)
				cancel()
			}
		}()
	}
	if xb != nil || len(vrfs) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			followInterfaces(runCtx, cfg, reloaded, xb, vrfs, vethWarned, 100*time.Millisecond, log)
		}()
	}
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				if _, err := reload(); err != nil {
					log.Error("reload failed", "err", err)
				}
			}
		}
	}()
	logging.Event(ctx, log, "SYS", logging.Notification, "START", fmt.Sprintf("esphubd started: config %s, api %s, backend %s, overlay %s", o.config, o.api, backend, tun.Name()))
	err = d.Run(runCtx)
	logging.Event(context.Background(), log, "SYS", logging.Notification, "STOP", "esphubd stopped; IKE SAs deleted")
	cancel()
	tun.Close()
	closeVRFs(vrfs)
	raw.Close()
	wg.Wait()
	return errors.Join(err, xdpErr)
}
