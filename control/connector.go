package control

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/internal/logging"
)

// Connector states, as `show crypto ikev2 sa` prints them.
const (
	connNegotiating = "IN-NEG"
	connReady       = "READY"
	connRetry       = "RETRY"
	connDown        = "DOWN"
)

// connector keeps one initiator tunnel (interface TunnelN with a tunnel
// destination) connected: it initiates, backs off exponentially (with
// jitter) while the peer does not answer, moves to the next peer of a
// `crypto ikev2 client flexvpn` list, and reconnects when the session goes
// down. Its exported state is guarded by Daemon.mu.
type connector struct {
	d      *Daemon
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	downCh chan struct{}

	state    string
	peer     netip.AddrPort
	local    netip.AddrPort
	attempts int
	lastErr  string
	nextTry  time.Time
	session  *Session
	retryIn  time.Duration
}

// ConnectorInfo is a snapshot of an initiator tunnel's state.
type ConnectorInfo struct {
	Interface string         `json:"interface"`
	State     string         `json:"state"`
	Peer      netip.AddrPort `json:"peer"`
	Local     netip.AddrPort `json:"local"`
	Attempts  int            `json:"failed_attempts"`
	LastError string         `json:"last_error,omitempty"`
	NextTry   time.Time      `json:"next_try,omitzero"`
	RetryIn   time.Duration  `json:"retry_interval"`
}

// Connectors returns the initiator tunnels' states, by interface name.
func (d *Daemon) Connectors() []ConnectorInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []ConnectorInfo
	for _, c := range d.connectors {
		out = append(out, ConnectorInfo{Interface: c.name, State: c.state, Peer: c.peer, Local: c.local,
			Attempts: c.attempts, LastError: c.lastErr, NextTry: c.nextTry, RetryIn: c.retryIn})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Interface < out[j].Interface })
	return out
}

// initiatorTunnels lists the tunnel interfaces that initiate.
func initiatorTunnels(c *config.Config) []*config.Interface {
	var out []*config.Interface
	for _, ifc := range c.Interfaces {
		if ifc.Kind == config.KindTunnel && !ifc.Shutdown && ifc.Tunnel != nil && ifc.Tunnel.Destination != "" {
			out = append(out, ifc)
		}
	}
	return out
}

// tunnelConfigEqual reports whether everything a connector uses is the same
// in both configurations, so that a reload can leave its session alone: the
// interface, its IPsec profile and transform sets, the IKEv2 profile, the
// IKEv2 policy's proposals, the keyring entry that holds the peer's keys
// (other entries may change freely) and the FlexVPN client peer list.
func tunnelConfigEqual(a, b *config.Config, name string) bool {
	ia, ib := a.Interface(name), b.Interface(name)
	if !config.Equal(ia, ib) || ia == nil {
		return false
	}
	ipa, ipb := a.IPsecProfile(ipsecProfileName(ia)), b.IPsecProfile(ipsecProfileName(ib))
	if ipa == nil || ipb == nil || !config.Equal(ipa, ipb) ||
		!config.Equal(a.EffectiveTransformSets(ipa), b.EffectiveTransformSets(ipb)) {
		return false
	}
	fa, fb := a.Profile(ipa.IKEv2Profile), b.Profile(ipb.IKEv2Profile)
	if fa == nil || fb == nil || !config.Equal(fa, fb) {
		return false
	}
	var clA, clB []*config.FlexVPNClient
	for _, c := range a.FlexVPNClients {
		if strings.EqualFold(c.ClientConnect, name) {
			clA = append(clA, c)
		}
	}
	for _, c := range b.FlexVPNClients {
		if strings.EqualFold(c.ClientConnect, name) {
			clB = append(clB, c)
		}
	}
	if !config.Equal(clA, clB) {
		return false
	}
	tc := ia.Tunnel
	var peers []netip.Addr
	if tc.Destination == "dynamic" {
		for _, c := range clA {
			for _, p := range c.Peers {
				peers = append(peers, p.Address)
			}
		}
	} else if tc.DestAddr.IsValid() {
		peers = append(peers, tc.DestAddr)
	} else if ad, err := netip.ParseAddr(tc.Destination); err == nil {
		peers = append(peers, ad)
	}
	ka, kb := a.Keyring(fa.Keyring), b.Keyring(fb.Keyring)
	for _, p := range peers {
		q := config.KeyQuery{Role: config.Initiator, Hostname: tc.Destination, Address: p.Unmap()}
		if !config.Equal(ka.LookupPeer(q), kb.LookupPeer(q)) {
			return false
		}
	}
	if len(peers) == 0 && !config.Equal(ka, kb) {
		return false
	}
	local := tc.SourceAddr
	if !local.IsValid() {
		local, _ = interfaceAddr(a, tc.Source, false)
	}
	pa, pb := a.SelectPolicy(tc.VRF, local), b.SelectPolicy(tc.VRF, local)
	if pa == nil || pb == nil {
		return pa == pb
	}
	return config.Equal(a.PolicyProposals(pa), b.PolicyProposals(pb))
}

func ipsecProfileName(ifc *config.Interface) string {
	if ifc == nil || ifc.Tunnel == nil || ifc.Tunnel.Protection == "" {
		return "default"
	}
	return ifc.Tunnel.Protection
}

// syncConnectors starts, keeps or restarts connectors for new. Caller holds
// mu. It returns what it changed.
func (d *Daemon) syncConnectors(old, new *config.Config) []string {
	if d.ctx == nil {
		return nil // Run starts them
	}
	var out []string
	want := map[string]bool{}
	for _, ifc := range initiatorTunnels(new) {
		want[ifc.Name] = true
		if c := d.connectors[ifc.Name]; c != nil {
			if old != nil && tunnelConfigEqual(old, new, ifc.Name) {
				continue
			}
			c.stop()
			out = append(out, ifc.Name+": configuration changed, reconnecting")
		} else if old != nil {
			out = append(out, ifc.Name+": new tunnel, connecting")
		}
		d.startConnector(ifc.Name)
	}
	for name, c := range d.connectors {
		if !want[name] {
			c.stop()
			delete(d.connectors, name)
			out = append(out, name+": removed, disconnecting")
		}
	}
	return out
}

func (d *Daemon) startConnector(name string) {
	ctx, cancel := context.WithCancel(d.ctx)
	c := &connector{d: d, name: name, cancel: cancel, done: make(chan struct{}), downCh: make(chan struct{}, 1), state: connNegotiating}
	d.connectors[name] = c
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		c.run(ctx)
	}()
}

// stop ends the connector; its session is deleted by run on the way out.
// Caller holds mu; stop does not wait.
func (c *connector) stop() { c.cancel() }

// down is called (without mu) when the connector's session went down.
func (c *connector) down(s *Session) {
	c.d.mu.Lock()
	mine := c.session == s
	if mine {
		c.session = nil
		c.state = connDown
	}
	c.d.mu.Unlock()
	if !mine {
		return
	}
	select {
	case c.downCh <- struct{}{}:
	default:
	}
}

func (c *connector) set(f func()) {
	c.d.mu.Lock()
	f()
	c.d.mu.Unlock()
}

func (c *connector) run(ctx context.Context) {
	defer close(c.done)
	d := c.d
	backoff := d.opts.RetryMin
	peerIdx := 0
	for ctx.Err() == nil {
		select {
		case <-c.downCh: // a stale notice from an earlier session
		default:
		}
		info, err := c.attempt(ctx, peerIdx)
		if err == nil {
			backoff = d.opts.RetryMin
			c.set(func() { c.state, c.attempts, c.lastErr, c.nextTry = connReady, 0, "", time.Time{} })
			select {
			case <-ctx.Done():
				dctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				_ = d.engine.DeleteIKESA(dctx, info.LocalSPI)
				cancel()
				return
			case <-c.downCh:
			}
			c.set(func() { c.state = connDown })
			backoff = d.opts.RetryMin
			if !sleepCtx(ctx, jitter(backoff)) {
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		peerIdx++
		wait := jitter(backoff)
		c.set(func() {
			c.state, c.lastErr, c.nextTry, c.retryIn = connRetry, err.Error(), d.now().Add(wait), backoff
			c.attempts++
		})
		d.mu.Lock()
		peer := c.peer
		d.mu.Unlock()
		d.event("IKEV2", logging.Warning, "PEER_UNREACHABLE", fmt.Sprintf("%s: peer %v: %v; retrying in %v", c.name, peer, err, wait.Round(time.Millisecond)))
		if !sleepCtx(ctx, wait) {
			return
		}
		backoff = min(2*backoff, d.opts.RetryMax)
	}
}

func jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attempt builds the IKE profile from the current configuration and
// initiates once.
func (c *connector) attempt(ctx context.Context, peerIdx int) (ike.IKESAInfo, error) {
	d := c.d
	d.mu.Lock()
	req, err := c.build(d.cfg, peerIdx)
	if err == nil {
		c.peer, c.local, c.state = req.Remote, req.Local, connNegotiating
	}
	d.mu.Unlock()
	if err != nil {
		return ike.IKESAInfo{}, err
	}
	ictx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	info, err := d.engine.Initiate(ictx, req)
	d.mu.Lock()
	if p := d.pendingI[req.Remote.Addr().Unmap()]; p != nil && p.conn == c {
		delete(d.pendingI, req.Remote.Addr().Unmap())
	}
	d.mu.Unlock()
	if err != nil {
		if info.LocalSPI != 0 {
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = d.engine.DeleteIKESA(dctx, info.LocalSPI)
			cancel()
		}
		d.stats.failure(notifyName(err))
		return ike.IKESAInfo{}, err
	}
	return info, nil
}

// build resolves the tunnel's peer, local address, profiles and keys.
// Caller holds mu.
func (c *connector) build(cfg *config.Config, peerIdx int) (ike.InitiateRequest, error) {
	ifc := cfg.Interface(c.name)
	if ifc == nil || ifc.Tunnel == nil {
		return ike.InitiateRequest{}, fmt.Errorf("%s: no longer configured", c.name)
	}
	tc := ifc.Tunnel
	remote, err := tunnelPeer(cfg, ifc, peerIdx)
	if err != nil {
		return ike.InitiateRequest{}, err
	}
	c.peer = netip.AddrPortFrom(remote, transport.PortIKE) // shown even if the rest fails
	local := tc.SourceAddr
	if !local.IsValid() && tc.Source != "" && tc.Source != "dynamic" {
		a, ok := interfaceAddr(cfg, tc.Source, remote.Is6())
		if !ok {
			return ike.InitiateRequest{}, fmt.Errorf("%s: tunnel source %s has no %s address", c.name, tc.Source, family(remote))
		}
		local = a
	}
	if !local.IsValid() {
		return ike.InitiateRequest{}, fmt.Errorf("%s: tunnel source must name an address or an interface with one", c.name)
	}
	c.local = netip.AddrPortFrom(local, transport.PortIKE)
	ipName := ipsecProfileName(ifc)
	ipp := cfg.IPsecProfile(ipName)
	if ipp == nil {
		return ike.InitiateRequest{}, fmt.Errorf("%s: crypto ipsec profile %s does not exist", c.name, ipName)
	}
	profName := ipp.IKEv2Profile
	if profName == "" {
		profName = "default"
	}
	prof := cfg.Profile(profName)
	if prof == nil {
		return ike.InitiateRequest{}, fmt.Errorf("%s: crypto ipsec profile %s names no existing crypto ikev2 profile (set ikev2-profile)", c.name, ipName)
	}
	pol := cfg.SelectPolicy(tc.VRF, local)
	if pol == nil {
		return ike.InitiateRequest{}, fmt.Errorf("%s: no crypto ikev2 policy matches local address %v", c.name, local)
	}
	props := ikeProposals(cfg.PolicyProposals(pol))
	if len(props) == 0 {
		return ike.InitiateRequest{}, fmt.Errorf("%s: crypto ikev2 policy %s has no usable proposal", c.name, pol.Name)
	}
	plan, err := planTunnel(cfg, ifc, prof, true)
	if err != nil {
		return ike.InitiateRequest{}, err
	}
	lid, err := localIdentity(prof, local)
	if err != nil {
		return ike.InitiateRequest{}, err
	}
	ip := &ike.Profile{
		Name: prof.Name, LocalID: lid,
		Child:        plan.childConfig(local, remote, false),
		Lifetime:     profileLifetime(prof),
		RekeyMargin:  profileLifetime(prof) / 10,
		NATKeepalive: natKeepalive(cfg, prof),
		IKEProposals: props,
		VendorIDs:    ctsVendorIDs(cfg),
	}
	profileDPDSettings(cfg, prof, ip)
	if err := c.d.applyCertAuth(cfg, prof, ip, config.KeyQuery{Role: config.Initiator, Hostname: tc.Destination, Address: remote}); err != nil {
		return ike.InitiateRequest{}, fmt.Errorf("%s: %w", c.name, err)
	}
	d := c.d
	d.configureExchange(ip, prof, plan, true)
	d.pendingI[remote.Unmap()] = &pending{profile: prof, plan: plan, conn: c}
	return ike.InitiateRequest{
		Local:   netip.AddrPortFrom(local, transport.PortIKE),
		Remote:  netip.AddrPortFrom(remote, transport.PortIKE),
		Profile: ip,
	}, nil
}

func family(a netip.Addr) string {
	if a.Is6() {
		return "IPv6"
	}
	return "IPv4"
}

// tunnelPeer picks the peer to try: the tunnel destination, or with
// `tunnel destination dynamic` the peers of the `crypto ikev2 client
// flexvpn` list that connects this tunnel, in sequence order, moving to the
// next (the backup) on every failed attempt.
func tunnelPeer(cfg *config.Config, ifc *config.Interface, idx int) (netip.Addr, error) {
	tc := ifc.Tunnel
	if tc.Destination != "dynamic" {
		if tc.DestAddr.IsValid() {
			return tc.DestAddr.Unmap(), nil
		}
		if a, err := netip.ParseAddr(tc.Destination); err == nil {
			return a.Unmap(), nil
		}
		return resolve(tc.Destination)
	}
	var peers []config.FlexVPNPeer
	for _, fc := range cfg.FlexVPNClients {
		if strings.EqualFold(fc.ClientConnect, ifc.Name) {
			peers = append(peers, fc.Peers...)
		}
	}
	if len(peers) == 0 {
		return netip.Addr{}, fmt.Errorf("%s: tunnel destination dynamic, but no crypto ikev2 client flexvpn has client connect %s", ifc.Name, ifc.Name)
	}
	slices.SortStableFunc(peers, func(a, b config.FlexVPNPeer) int { return a.Seq - b.Seq })
	p := peers[idx%len(peers)]
	if p.Address.IsValid() {
		return p.Address.Unmap(), nil
	}
	return resolve(p.FQDN)
}

func resolve(name string) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", name, err)
	}
	if len(addrs) == 0 {
		return netip.Addr{}, errors.New("resolve " + name + ": no address")
	}
	return addrs[0].Unmap(), nil
}
