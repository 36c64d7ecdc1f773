// Package control is esphubd's control process: it builds sessions,
// tunnels and routes from the configuration model, answers the IKE
// engine's policy questions with config's FlexVPN selection rules, installs
// negotiated SAs and best routes into the dataplane, and keeps the state the
// operator's show commands read.
//
// On a responder (hub), each IKE session clones its profile's virtual
// template into a virtual-access interface (Virtual-Access1, 2, ...); on an
// initiator (spoke), each `interface TunnelN` with a tunnel destination gets
// a connector that initiates, retries with back-off and reconnects. Routes
// come from connected interfaces, static routes and IKEv2 configuration
// exchange (route set / route accept) into a RIB per VRF, whose best routes
// are pushed to the dataplane FIB and, through KernelRoutes, to the host's
// routing table so that overlay traffic enters the dataplane.
package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/internal/logging"
)

// Dataplane is what control needs from a dataplane backend: the Control
// interface plus the counters the show commands and metrics read.
type Dataplane interface {
	dataplane.Control
	SAs() []dataplane.SAStats
	Tunnels() []dataplane.TunnelStats
	Drops() map[dataplane.DropReason]uint64
}

// KernelRoutes steers overlay prefixes into the dataplane's overlay device
// (the portable backend's TUN) in the host's routing table. Implementations
// live in cmd/esphubd (netlink); nil leaves the host's routes alone.
type KernelRoutes interface {
	AddRoute(vrf string, p netip.Prefix) error
	DeleteRoute(vrf string, p netip.Prefix) error
}

// KernelAddresses is implemented by a KernelRoutes that can also put
// addresses on the overlay device: a spoke's pool-assigned address (`ip
// address negotiated`) is configured there while its session is up, so
// that the host's own traffic into the overlay has it as source.
type KernelAddresses interface {
	AddAddress(vrf string, p netip.Prefix) error
	DeleteAddress(vrf string, p netip.Prefix) error
}

// Options configure a Daemon.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Transport carries IKE messages (transport.ListenUDP in esphubd).
	Transport transport.Transport
	Dataplane Dataplane
	Kernel    KernelRoutes
	// Backend names the dataplane backend for `show dataplane`.
	Backend string
	// BackendStatus, if set, reports the backend's own state for `show
	// dataplane` (queues, workers, steering counters): data is added to
	// the JSON as backend_status and text replaces the one-line backend
	// header and the drop list (the backend's text lists drops itself).
	// It is called without the daemon's lock held.
	BackendStatus func() (data any, text string)
	// RetryMin and RetryMax bound an initiator's back-off between attempts
	// to reach an unreachable peer (2 s and 60 s when zero).
	RetryMin, RetryMax time.Duration
	// IKE tunes the engine (retransmissions); Transport, Policy, Installer,
	// OnEvent, Logger and WindowSize are set by the Daemon.
	IKE ike.Config
	// BGPPort is the TCP port BGP listens on and connects to (179 when
	// zero; tests use another so that several daemons share a host).
	BGPPort int
	// ESPKeyLog, if set, receives every installed Child SA's keys in
	// Wireshark's esp_sa format, to decrypt captures while debugging (as
	// strongSwan's save-keys plugin does). Never set it in production.
	ESPKeyLog io.Writer
	// PKIDir holds the trustpoints' files, one directory per `crypto pki
	// trustpoint` (DefaultPKIDir when empty; see trustpoints.go).
	PKIDir string
	// CRLPoll is how often the trustpoints' crl.pem files are checked for a
	// new CRL (with `crypto ikev2 disconnect-revoked-peers`, sessions it
	// revokes are deleted); 0 means every 60 s, negative never.
	CRLPoll time.Duration
	// TrafficPoll is how often the dataplane's tunnel counters are read
	// to feed on-demand DPD (Engine.ReportTraffic); 0 means every second,
	// negative never.
	TrafficPoll time.Duration
	// Observer, if set, hears about sessions coming up and going down:
	// the seam through which NHRP learns its tunnels. It is called without
	// the daemon's lock held and must not block.
	Observer SessionObserver
}

// SessionObserver is told about sessions (interfaces) coming up and going
// down, with a snapshot of the session.
type SessionObserver interface {
	SessionUp(Session)
	SessionDown(Session)
}

// Daemon is the control process. Its methods are safe for concurrent use.
// One mutex (mu) guards the configuration, sessions and connectors; the IKE
// engine calls Policy and SAInstaller methods from its goroutine, which take
// mu briefly and never call back into the engine synchronously.
type Daemon struct {
	log    *slog.Logger
	now    func() time.Time
	opts   Options
	engine *ike.Engine
	dp     Dataplane
	rib    *rib.RIB
	stats  *stats

	mu         sync.Mutex
	cfg        *config.Config
	loadedAt   time.Time
	sessions   map[uint64]*Session // by our IKE SPI
	nextSessID int
	vaNums     vaNumbers
	respByID   map[string][]*Session // responder sessions by peer identity (see replaceOlder)
	// tunnelUsers counts the sessions on each dataplane tunnel: a Tunnel
	// interface's newer session shares its tunnel with the one it replaces.
	tunnelUsers map[dataplane.TunnelID]int
	pendingR    map[netip.AddrPort]*pending // responder: profile chosen in IKE_AUTH, by peer address
	pendingI    map[netip.Addr]*pending     // initiator: connector waiting for its Child SA, by peer address
	connectors  map[string]*connector       // by tunnel interface name
	vrfIDs      map[string]uint32
	leases      map[netip.Addr]lease     // pool addresses handed out
	upInfo      map[uint64]ike.IKESAInfo // IKE SAs up before their first Child SA
	ctx         context.Context          // Run's context, for connectors started by reloads
	wg          sync.WaitGroup

	ifMu     sync.Mutex
	ifTunnel map[string]dataplane.TunnelID // interface name -> dataplane tunnel, read by the RIB watcher

	nhrp *nhrpState // NHRP instances and their adapters (control/nhrp.go)
	mpls *mplsState // VPN labels and MP-BGP (control/mpls.go)

	trust        *trustStore // trustpoints (control/trustpoints.go)
	redirectNext int         // round-robin position among cluster members; guarded by mu
}

// pending carries what profile selection decided to the Child SA install
// that follows it.
type pending struct {
	profile *config.Profile
	plan    *tunnelPlan
	conn    *connector // initiator only
	at      time.Time
}

// Session is one IKE session and the interface it brought up: a
// Virtual-AccessN cloned from a template on a responder, or a TunnelN on an
// initiator. Fields are guarded by Daemon.mu; show commands copy them.
type Session struct {
	ID        int       `json:"session_id"`
	Interface string    `json:"interface"`
	Template  string    `json:"template,omitempty"`
	Profile   string    `json:"profile"`
	Mode      string    `json:"mode"` // "gre" or "ipsec"
	VRF       string    `json:"ivrf,omitempty"`
	FVRF      string    `json:"fvrf,omitempty"`
	Initiator bool      `json:"initiator"`
	Created   time.Time `json:"created"`

	IKESPI   uint64             `json:"ike_spi"`
	IKE      ike.IKESAInfo      `json:"-"` // snapshot at setup and rekey, without Children
	TunnelID dataplane.TunnelID `json:"tunnel_id"`
	Local    netip.AddrPort     `json:"local"`
	Remote   netip.AddrPort     `json:"remote"`
	Encap    bool               `json:"udp_encap"`
	// Children are the installed Child SAs by inbound SPI (keys cleared).
	Children map[uint32]*ike.ChildSA `json:"-"`
	// Routes are the prefixes accepted from the peer's configuration exchange.
	Routes []netip.Prefix `json:"accepted_routes,omitempty"`
	// Addresses are the addresses the peer assigned us in its CFG_REPLY
	// (INTERNAL_IP4_ADDRESS / INTERNAL_IP6_ADDRESS; `ip address
	// negotiated`), configured on the overlay device while the session is up.
	Addresses []netip.Prefix `json:"negotiated_addresses,omitempty"`
	// Stale names what the peer received from us in IKE_AUTH that a reload
	// has changed since ("route set", "pool", "dns"): it applies when the
	// session is next set up.
	Stale []string `json:"config_changed_since_setup,omitempty"`
	// SGT is set when the session's SAs carry Cisco TrustSec tags
	// (CISCO-CTS-SGT negotiated, IPsec mode, propagate sgt).
	SGT bool `json:"sgt_tagging,omitempty"`

	plan *tunnelPlan
	// lastRx and lastTx are the tunnel's packet counters at the last
	// traffic report (reportTraffic), under the daemon's lock.
	lastRx, lastTx uint64
}

// New builds the daemon for cfg. It creates the IKE engine on
// o.Transport; call Run to start it.
func New(cfg *config.Config, o Options) (*Daemon, error) {
	if cfg == nil {
		return nil, errors.New("control: nil configuration")
	}
	if o.Transport == nil || o.Dataplane == nil {
		return nil, errors.New("control: transport and dataplane required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 2 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 60 * time.Second
	}
	d := &Daemon{
		log: o.Logger, now: o.Now, opts: o, dp: o.Dataplane,
		rib: rib.New(o.Now), stats: newStats(),
		cfg: cfg, loadedAt: o.Now(),
		sessions: map[uint64]*Session{}, vaNums: newVANumbers(), respByID: map[string][]*Session{},
		tunnelUsers: map[dataplane.TunnelID]int{},
		pendingR:    map[netip.AddrPort]*pending{}, pendingI: map[netip.Addr]*pending{},
		connectors: map[string]*connector{}, vrfIDs: map[string]uint32{rib.DefaultVRF: 0},
		ifTunnel: map[string]dataplane.TunnelID{},
		leases:   map[netip.Addr]lease{}, upInfo: map[uint64]ike.IKESAInfo{},
	}
	ic := o.IKE
	ic.Transport = o.Transport
	ic.Policy = (*policy)(d)
	ic.Installer = (*installer)(d)
	ic.OnEvent = d.onEvent
	ic.Logger = o.Logger
	if cfg.IKEv2.Window > 0 {
		ic.WindowSize = uint32(cfg.IKEv2.Window)
	}
	d.trust = newTrustStore(o.PKIDir, o.Now)
	if _, problems := d.trust.load(cfg); len(problems) > 0 {
		for _, p := range problems {
			d.event("PKI", logging.Warning, "TRUSTPOINT", p)
		}
	}
	engineSettings(cfg, d.trust).Apply(&ic)
	if r := dpdRetry(cfg); r > 0 && ic.RetransmitTimeout == 0 {
		// Liveness checks follow each profile's `dpd ... RETRY`; the
		// other requests keep the schedule esphubd always used with
		// DPD configured: every RETRY seconds, no back-off, so that an
		// unreachable peer is given up (and a backup peer tried) in
		// tens of seconds rather than minutes.
		ic.RetransmitTimeout, ic.RetransmitBackoff = r, 1
	}
	e, err := ike.New(ic)
	if err != nil {
		return nil, fmt.Errorf("control: ike engine: %w", err)
	}
	d.engine = e
	for name, id := range VRFIDs(cfg) {
		d.vrfIDs[name] = id
	}
	d.mpls = newMPLSState(d)
	d.nhrp = newNHRPState(d)
	if err := d.nhrp.configure(cfg); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	d.rib.Watch(d.fibApply)
	d.rib.Watch(func(rib.Change) { d.mpls.kick() })
	d.applyConfigRoutes(nil, cfg)
	d.applyCTS(nil, cfg)
	return d, nil
}

// dpdRetry returns the shortest DPD retry interval configured globally or
// in a profile, or 0.
func dpdRetry(c *config.Config) time.Duration {
	var best time.Duration
	consider := func(d *config.DPD) {
		if d != nil && d.Retry > 0 {
			r := time.Duration(d.Retry) * time.Second
			if best == 0 || r < best {
				best = r
			}
		}
	}
	consider(c.IKEv2.DPD)
	for _, p := range c.Profiles {
		consider(p.DPD)
	}
	return best
}

// Engine returns the IKE engine (for tests and metrics).
func (d *Daemon) Engine() *ike.Engine { return d.engine }

// RIB returns the routing information base.
func (d *Daemon) RIB() *rib.RIB { return d.rib }

// Config returns the running configuration.
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Run runs the IKE engine and the initiators until ctx ends; then it
// deletes every IKE SA (so peers learn at once, not by liveness checks),
// waiting at most a few seconds, and stops the engine.
func (d *Daemon) Run(ctx context.Context) error {
	engCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	engErr := make(chan error, 1)
	go func() { engErr <- d.engine.Run(engCtx) }()

	connCtx, stopConns := context.WithCancel(ctx)
	d.mu.Lock()
	d.ctx = connCtx
	d.syncConnectors(nil, d.cfg)
	d.mu.Unlock()
	go d.nhrp.runHairpins(connCtx)
	d.wg.Add(1)
	go func() { defer d.wg.Done(); d.runLifetimes(connCtx) }()
	mplsDone := make(chan struct{})
	go func() { defer close(mplsDone); d.mpls.run(connCtx) }()
	defer func() { stopConns(); <-mplsDone }()
	go d.runTrafficReports(connCtx, pollInterval(d.opts.TrafficPoll, time.Second))
	go d.runCRLPoll(connCtx, pollInterval(d.opts.CRLPoll, time.Minute))

	select {
	case <-ctx.Done():
	case err := <-engErr:
		stopConns()
		d.wg.Wait()
		return fmt.Errorf("ike engine: %w", err)
	}
	stopConns()
	d.wg.Wait()
	d.deleteAll(3 * time.Second)
	stopEngine()
	<-engErr
	return nil
}

// deleteAll sends Deletes for every IKE SA, in parallel, within timeout.
func (d *Daemon) deleteAll(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sas, err := d.engine.IKESAs(ctx)
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	for _, sa := range sas {
		wg.Add(1)
		go func(spi uint64) {
			defer wg.Done()
			_ = d.engine.DeleteIKESA(ctx, spi)
		}(sa.LocalSPI)
	}
	wg.Wait()
}

// Reload applies a new configuration: routes from the configuration are
// replaced by difference, tunnels whose configuration changed reconnect,
// new tunnels start, removed ones go down, and responder sessions whose
// profile is gone are deleted. Sessions the change does not touch keep
// their SAs. It returns a summary of what changed.
func (d *Daemon) Reload(cfg *config.Config) []string {
	d.mu.Lock()
	old := d.cfg
	d.cfg = cfg
	d.loadedAt = d.now()
	var drop []uint64
	for spi, s := range d.sessions {
		if !s.Initiator && cfg.Profile(s.Profile) == nil {
			drop = append(drop, spi)
		}
	}
	summary := d.syncConnectors(old, cfg)
	d.mu.Unlock()
	crlChanged, problems := d.trust.load(cfg)
	summary = append(summary, problems...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := d.applyEngineSettings(ctx, cfg); err != nil {
		summary = append(summary, err.Error())
	}
	if n, err := d.disconnectRevoked(ctx, crlChanged); err != nil {
		summary = append(summary, err.Error())
	} else if n > 0 {
		summary = append(summary, fmt.Sprintf("%d session(s) with a revoked peer certificate disconnected", n))
	}
	cancel()
	d.applyConfigRoutes(old, cfg)
	summary = append(summary, d.reapplySessionRoutes(old, cfg)...)
	if !config.Equal(old.BGP, cfg.BGP) || !config.Equal(old.VRFs, cfg.VRFs) {
		go d.mpls.reconfigure()
	}
	summary = append(summary, d.applyCTS(old, cfg)...)
	if err := d.nhrp.configure(cfg); err != nil {
		summary = append(summary, err.Error())
	}
	for _, spi := range drop {
		summary = append(summary, fmt.Sprintf("session %016X: profile removed, deleting", spi))
		go func(spi uint64) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = d.engine.DeleteIKESA(ctx, spi)
		}(spi)
	}
	for _, ch := range config.Diff(old, cfg) {
		summary = append(summary, fmt.Sprintf("%v", ch))
	}
	d.log.Info("configuration reloaded", "changes", len(summary))
	return summary
}

// vrfID returns the dataplane id of a VRF name, assigning the next free one
// on first use; ids stay stable across reloads. Caller holds mu or is the
// only user.
func (d *Daemon) vrfID(name string) uint32 {
	d.ifMu.Lock()
	defer d.ifMu.Unlock()
	if id, ok := d.vrfIDs[name]; ok {
		return id
	}
	id := uint32(len(d.vrfIDs))
	d.vrfIDs[name] = id
	return id
}

// Sessions returns a snapshot of the sessions, ordered by session id. The
// snapshot shares nothing mutable with the daemon.
func (d *Daemon) Sessions() []Session {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Session, 0, len(d.sessions))
	for _, s := range d.sessions {
		c := *s
		c.Routes = append([]netip.Prefix(nil), s.Routes...)
		c.Addresses = append([]netip.Prefix(nil), s.Addresses...)
		c.Children = make(map[uint32]*ike.ChildSA, len(s.Children))
		for k, v := range s.Children { // the ChildSAs themselves are never modified
			c.Children[k] = v
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ClearSessions deletes the IKE sessions whose peer address is remote (all
// when remote is invalid), as `clear crypto session [remote X]` does.
// Initiators reconnect afterwards. It returns how many it deleted.
func (d *Daemon) ClearSessions(ctx context.Context, remote netip.Addr) (int, error) {
	sas, err := d.engine.IKESAs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, sa := range sas {
		if remote.IsValid() && sa.Remote.Addr().Unmap() != remote.Unmap() {
			continue
		}
		if err := d.engine.DeleteIKESA(ctx, sa.LocalSPI); err != nil && !errors.Is(err, ike.ErrNoSA) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
