package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/pprof"
	"sync/atomic"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/transport"
)

// hubIKE is the IOS proposal line of each scenario-6 proposal (the hub
// offers exactly what the load generator proposes).
var hubIKE = map[string]string{
	"ecp256":   "encryption aes-gcm-256\n prf sha256\n group 19",
	"modp2048": "encryption aes-cbc-128\n integrity sha256\n prf sha256\n group 14",
}

// hubConfig is the FlexVPN hub scenario 6 measures: every spoke
// authenticates with the one pre-shared key and an FQDN under .bench, and
// each session clones Virtual-Template1 (IPsec tunnel mode, IPv4) into a
// Virtual-Access interface with its dataplane tunnel and SAs.
func hubConfig(proposal string, wan netip.Addr) string {
	return fmt.Sprintf(`hostname benchhub
crypto ikev2 proposal bench
 %s
crypto ikev2 policy bench
 proposal bench
crypto ikev2 keyring spokes
 peer any
  address 0.0.0.0 0.0.0.0
  pre-shared-key 0 %s
crypto ikev2 profile spokes
 match identity remote fqdn domain bench
 identity local fqdn hub.bench
 authentication local pre-share
 authentication remote pre-share
 keyring local spokes
 virtual-template 1
crypto ipsec transform-set gcm256 esp-gcm 256
crypto ipsec profile spokes
 set transform-set gcm256
 set ikev2-profile spokes
interface Loopback0
 ip address 198.19.255.254 255.255.255.255
interface GigabitEthernet1
 ip address %s 255.255.255.0
interface Virtual-Template1 type tunnel
 ip unnumbered Loopback0
 tunnel source GigabitEthernet1
 tunnel mode ipsec ipv4
 tunnel protection ipsec profile spokes
end
`, hubIKE[proposal], ikePSK, wan)
}

// engineDP is a dataplane for the hub that holds every tunnel and SA the
// daemon installs (the state whose memory scenario 6 counts) and moves no
// packets: nothing is sent in the scenario. Once closing is set, deletes
// are ignored: the engine is discarded with the hub, and removing sessions
// one by one from it costs time proportional to the sessions each (its
// tables are copied on every change), which would make stopping a hub
// with 10,000 sessions take minutes.
type engineDP struct {
	*dataplane.Engine
	closing *atomic.Bool
}

func (engineDP) Inject(dataplane.TunnelID, uint16, []byte) error { return nil }

func (d engineDP) DeleteSA(dir dataplane.Direction, spi uint32) error {
	if d.closing.Load() {
		return nil
	}
	return d.Engine.DeleteSA(dir, spi)
}

func (d engineDP) DeleteTunnel(id dataplane.TunnelID) error {
	if d.closing.Load() {
		return nil
	}
	return d.Engine.DeleteTunnel(id)
}

// hubDaemon is esphubd's control process (control.Daemon: IKE engine,
// sessions, Virtual-Access interfaces, RIB) with a dataplane engine,
// running on a UDP transport in ns.
type hubDaemon struct {
	d       *control.Daemon
	dp      *dataplane.Engine
	closing *atomic.Bool
	tr      *transport.UDP
	cancel  context.CancelFunc
	done    chan struct{}
}

// startHub starts the hub with its goroutines labelled role=hub for CPU
// profiles (see startIKE).
func startHub(ns string, wan netip.Addr, proposal string, log *slog.Logger) (h *hubDaemon, err error) {
	pprof.Do(context.Background(), pprof.Labels("role", "hub"), func(context.Context) {
		h, err = startHubUnlabelled(ns, wan, proposal, log)
	})
	return h, err
}

func startHubUnlabelled(ns string, wan netip.Addr, proposal string, log *slog.Logger) (*hubDaemon, error) {
	cfg, diags := config.Parse("benchhub.cfg", []byte(hubConfig(proposal, wan)))
	if cfg == nil {
		return nil, fmt.Errorf("hub configuration: %v", diags)
	}
	tr, err := transport.ListenUDP(transport.UDPConfig{Addrs: []netip.Addr{wan}, NetNS: ns, ReadBuffer: 4 << 20, WriteBuffer: 4 << 20, QueueLen: 8192, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("hub ike transport: %w", err)
	}
	dp := dataplane.NewEngine(dataplane.Options{})
	closing := new(atomic.Bool)
	d, err := control.New(cfg, control.Options{Logger: log, Transport: tr, Dataplane: engineDP{dp, closing}, Backend: "bench",
		IKE: ike.Config{RetransmitTimeout: ikeRetransmit, RetransmitTries: ikeTries, HalfOpenTimeout: ikeHalfOpen}})
	if err != nil {
		tr.Close()
		return nil, fmt.Errorf("hub daemon: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &hubDaemon{d: d, dp: dp, closing: closing, tr: tr, cancel: cancel, done: make(chan struct{})}
	go func() { _ = d.Run(ctx); close(h.done) }()
	return h, nil
}

func (h *hubDaemon) stop() {
	h.closing.Store(true)
	h.cancel()
	<-h.done
	h.tr.Close()
}

// up returns the hub's established sessions (IKE SA up with its Child SA
// installed).
func (h *hubDaemon) up() int {
	n := 0
	for _, s := range h.d.Sessions() {
		if len(s.Children) > 0 {
			n++
		}
	}
	return n
}
