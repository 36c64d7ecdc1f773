package control

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/internal/logging"
)

// policy implements ike.Policy over the Daemon's configuration.
type policy Daemon

// ResponderIKE implements ike.Policy: the IKEv2 policy matching the local
// address and its front-door VRF (arrivalInterface) gives the acceptable
// proposals.
func (p *policy) ResponderIKE(local, remote netip.AddrPort) ([]suite.Proposal, error) {
	d := (*Daemon)(p)
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	_, fvrf := arrivalInterface(cfg, local.Addr())
	pol := cfg.SelectPolicy(fvrf, local.Addr().Unmap())
	if pol == nil {
		d.stats.failure("NO_PROPOSAL_CHOSEN")
		return nil, fmt.Errorf("no crypto ikev2 policy matches local address %v", local.Addr())
	}
	props := ikeProposals(cfg.PolicyProposals(pol))
	if len(props) == 0 {
		return nil, fmt.Errorf("crypto ikev2 policy %s has no usable proposal", pol.Name)
	}
	return props, nil
}

// MatchProfile implements ike.Policy: config's profile rules choose the
// profile by the peer's identity and front-door VRF (arrivalInterface); the keyring gives the keys; the
// profile's virtual template gives the Child SA policy.
func (p *policy) MatchProfile(req ike.ProfileRequest) (*ike.Profile, error) {
	d := (*Daemon)(p)
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := d.cfg
	rid := fromIKEIdentity(req.RemoteID)
	pi := peerInfo(req)
	pi.LocalInterface, pi.FVRF = arrivalInterface(cfg, req.Local.Addr())
	prof, err := cfg.MatchProfile(pi)
	if err != nil {
		d.stats.failure("AUTHENTICATION_FAILED")
		d.event("IKEV2", logging.Error, "NO_PROFILE", fmt.Sprintf("no IKEv2 profile for peer %v id %v: %v", req.Remote, req.RemoteID, err))
		return nil, err
	}
	if prof.VirtualTemplate == 0 {
		return nil, fmt.Errorf("profile %s: no virtual-template for responder sessions", prof.Name)
	}
	vt := cfg.VirtualTemplate(prof.VirtualTemplate)
	if vt == nil {
		return nil, fmt.Errorf("profile %s: interface Virtual-Template%d does not exist", prof.Name, prof.VirtualTemplate)
	}
	flex := false
	for _, v := range req.VendorIDs {
		if wire.Identify(v) == wire.VendorFlexVPN {
			flex = true
		}
	}
	var plan *tunnelPlan
	if mode, ok := autoTunnelMode(req.Remote.Addr(), req.TSi, req.TSr); ok && prof.VTModeAuto {
		// mode auto decides by the proposed selectors; the vendor ID is
		// the fallback when there are none.
		plan, err = planTunnelMode(cfg, vt, prof, mode)
	} else {
		plan, err = planTunnel(cfg, vt, prof, flex)
	}
	if err != nil {
		return nil, err
	}
	lid, err := localIdentity(prof, req.Local.Addr())
	if err != nil {
		return nil, err
	}
	ip := &ike.Profile{
		Name: prof.Name, LocalID: lid, RemoteID: req.RemoteID,
		Child:        plan.childConfig(req.Local.Addr(), req.Remote.Addr(), true),
		Lifetime:     profileLifetime(prof),
		RekeyMargin:  profileLifetime(prof) / 10,
		NATKeepalive: natKeepalive(cfg, prof),
	}
	profileDPDSettings(cfg, prof, ip)
	if err := d.applyCertAuth(cfg, prof, ip, config.KeyQuery{Role: config.Responder, Identity: &rid, Address: req.Remote.Addr().Unmap()}); err != nil {
		d.stats.failure("AUTHENTICATION_FAILED")
		d.event("IKEV2", logging.Error, "PROFILE_UNUSABLE", fmt.Sprintf("peer %v id %v: %v", req.Remote, req.RemoteID, err))
		return nil, err
	}
	d.configureExchange(ip, prof, plan, false)
	now := d.now()
	for k, p := range d.pendingR { // decisions whose IKE_AUTH failed after all
		if now.Sub(p.at) > 2*time.Minute {
			delete(d.pendingR, k)
		}
	}
	d.pendingR[req.Remote] = &pending{profile: prof, plan: plan, at: now}
	return ip, nil
}

// installer implements ike.SAInstaller.
type installer Daemon

// InstallChildSA implements ike.SAInstaller: the first Child SA of an IKE
// session creates its interface (a Virtual-Access cloned from the template,
// or the initiator's Tunnel) and dataplane tunnel; every Child SA installs
// its inbound and outbound halves.
func (in *installer) InstallChildSA(c *ike.ChildSA) error {
	d := (*Daemon)(in)
	alg, ok := espAlgorithm(c.Proposal.Encr, c.Proposal.Integ)
	if !ok {
		return fmt.Errorf("install child sa: transform %v not supported by the dataplane", c.Proposal)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, existed := d.sessions[c.IKESA]
	s, err := d.sessionFor(c)
	if err != nil {
		d.log.Warn("cannot create session", "remote", c.Remote, "err", err)
		return err
	}
	if info, ok := d.upInfo[c.IKESA]; ok && !existed {
		// The IKE SA came up before this first Child SA: finish the
		// session once the lock is released.
		delete(d.upInfo, c.IKESA)
		s.IKE = info
		defer func() { go d.sessionUp(s, info) }()
	}
	var lts, rts []netip.Prefix
	if s.plan.Mode == dataplane.ModeIPsec {
		lts, rts = tsPrefixes(c.LocalTS), tsPrefixes(c.RemoteTS)
	}
	lt := dataplane.Lifetime{}
	if s.plan.IPsec != nil && s.plan.IPsec.LifetimeKB > 0 {
		hard := uint64(s.plan.IPsec.LifetimeKB) * 1024
		lt = dataplane.Lifetime{HardBytes: hard, SoftBytes: hard - hard/10}
	}
	replay := 0
	if s.plan.IPsec != nil && s.plan.IPsec.ReplayDisable {
		replay = -1
	}
	s.SGT = sgtTagging(c, s.plan)
	inSA := dataplane.SAConfig{SPI: c.InboundSPI, Direction: dataplane.Inbound, Tunnel: s.TunnelID, Algorithm: alg,
		EncKey: c.InboundKeys.Encr, AuthKey: c.InboundKeys.Integ, ESN: c.Proposal.ESN, Lifetime: lt, ReplayWindow: replay,
		LocalTS: lts, RemoteTS: rts, SGT: s.SGT}
	if err := d.dp.AddSA(inSA); err != nil {
		return fmt.Errorf("install inbound sa %08x: %w", c.InboundSPI, err)
	}
	outSA := inSA
	outSA.SPI, outSA.Direction, outSA.EncKey, outSA.AuthKey = c.OutboundSPI, dataplane.Outbound, c.OutboundKeys.Encr, c.OutboundKeys.Integ
	if err := d.dp.AddSA(outSA); err != nil {
		_ = d.dp.DeleteSA(dataplane.Inbound, c.InboundSPI)
		return fmt.Errorf("install outbound sa %08x: %w", c.OutboundSPI, err)
	}
	if w := d.opts.ESPKeyLog; w != nil {
		writeESPKeys(w, c, alg)
	}
	kept := *c
	kept.InboundKeys, kept.OutboundKeys = ike.ChildKeys{}, ike.ChildKeys{}
	s.Children[c.InboundSPI] = &kept
	return nil
}

// DeleteChildSA implements ike.SAInstaller.
func (in *installer) DeleteChildSA(c *ike.ChildSA) error {
	d := (*Daemon)(in)
	d.mu.Lock()
	defer d.mu.Unlock()
	err1 := d.dp.DeleteSA(dataplane.Inbound, c.InboundSPI)
	err2 := d.dp.DeleteSA(dataplane.Outbound, c.OutboundSPI)
	if s := d.sessionByIKE(c.IKESA); s != nil {
		delete(s.Children, c.InboundSPI)
	}
	if errors.Is(err1, dataplane.ErrNotFound) {
		err1 = nil
	}
	if errors.Is(err2, dataplane.ErrNotFound) {
		err2 = nil // already replaced by a rekey's outbound SA
	}
	return errors.Join(err1, err2)
}

func tsPrefixes(ts []ike.TrafficSelector) []netip.Prefix {
	var out []netip.Prefix
	for _, t := range ts {
		if p, ok := tsPrefix(t); ok {
			if p.Bits() == 0 {
				return nil // any: the dataplane's empty selector
			}
			out = append(out, p)
		}
	}
	return out
}

// tsPrefix returns the prefix a selector's address range is exactly, if any.
func tsPrefix(t ike.TrafficSelector) (netip.Prefix, bool) {
	for bits := 0; bits <= t.Start.BitLen(); bits++ {
		p := netip.PrefixFrom(t.Start, bits).Masked()
		if p.Addr() == t.Start && ike.TSFromPrefix(p).End == t.End {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func (d *Daemon) sessionByIKE(spi uint64) *Session { return d.sessions[spi] }

// sessionFor returns the session of c's IKE SA, creating it (interface,
// dataplane tunnel) for the first Child SA. Caller holds mu.
func (d *Daemon) sessionFor(c *ike.ChildSA) (*Session, error) {
	if s := d.sessions[c.IKESA]; s != nil {
		return s, nil
	}
	var pd *pending
	if c.Initiator {
		pd = d.pendingI[c.Remote.Addr().Unmap()]
		if pd == nil {
			// A gateway redirected the connector (RFC 5685): the SA is
			// with another address than the one it set out for. The
			// Child SA carries the tunnel's name.
			for _, p := range d.pendingI {
				if p.plan != nil && p.plan.Interface.Name == c.Name {
					pd = p
					break
				}
			}
		}
	} else {
		pd = d.pendingR[c.Remote]
		delete(d.pendingR, c.Remote)
	}
	if pd == nil {
		return nil, fmt.Errorf("no profile decision for peer %v", c.Remote)
	}
	d.nextSessID++
	s := &Session{
		ID: d.nextSessID, Profile: pd.profile.Name, Initiator: c.Initiator, Created: d.now(),
		IKESPI: c.IKESA, Local: c.Local, Remote: c.Remote, Encap: c.UDPEncap,
		VRF: pd.plan.VRF, FVRF: pd.plan.FVRF, Children: map[uint32]*ike.ChildSA{}, plan: pd.plan,
		Mode: "ipsec",
	}
	if pd.plan.Mode == dataplane.ModeGRE {
		s.Mode = "gre"
	}
	if c.Initiator && pd.conn != nil {
		s.Interface = pd.plan.Interface.Name
		s.TunnelID = dataplane.TunnelID(0x40000000 | uint32(pd.plan.Interface.Number))
	} else {
		n := d.vaNums.alloc()
		s.Interface = "Virtual-Access" + strconv.Itoa(n)
		s.Template = pd.plan.Interface.Name
		s.TunnelID = dataplane.TunnelID(n)
	}
	tc := dataplane.TunnelConfig{
		ID: s.TunnelID, Mode: pd.plan.Mode, Local: c.Local.Addr().Unmap(), Remote: c.Remote.Addr().Unmap(),
		Encap: c.UDPEncap, VRF: d.vrfID(s.VRF), NetworkID: pd.plan.NetworkID,
	}
	if c.UDPEncap {
		tc.LocalPort, tc.RemotePort = c.Local.Port(), c.Remote.Port()
	}
	if pd.plan.GREKey != nil {
		tc.GREKey, tc.HasGREKey = *pd.plan.GREKey, true
	}
	if ifc := pd.plan.Interface; ifc != nil && ifc.CTSManual != nil {
		tc.SGT, tc.TrustSGT = uint16(ifc.CTSManual.StaticSGT), ifc.CTSManual.Trusted
	}
	_ = d.dp.DeleteTunnel(s.TunnelID) // a stale tunnel of an SA that died unseen
	if err := d.dp.AddTunnel(tc); err != nil {
		if s.Template != "" {
			d.vaNums.free(int(s.TunnelID))
		}
		return nil, fmt.Errorf("add tunnel %s: %w", s.Interface, err)
	}
	d.ifMu.Lock()
	d.ifTunnel[s.Interface] = s.TunnelID
	d.ifMu.Unlock()
	d.sessions[c.IKESA] = s
	d.tunnelUsers[s.TunnelID]++
	if pd.conn != nil {
		pd.conn.session = s
	}
	d.event("LINEPROTO", logging.Notification, "UPDOWN", fmt.Sprintf("Line protocol on Interface %s, changed state to up", s.Interface))
	return s, nil
}

// sessionInfo is the part of an IKE SA snapshot a Session keeps: not its
// Child SAs, which Session.Children holds without keys (show commands ask
// the engine). The snapshot's copy of each Child SA carried its keys and
// some 380 bytes per idle session.
func sessionInfo(info ike.IKESAInfo) ike.IKESAInfo {
	info.Children = nil
	return info
}

// onEvent receives the engine's state changes (engine goroutine: no
// blocking, no synchronous engine calls).
func (d *Daemon) onEvent(ev ike.Event) {
	switch ev.Kind {
	case ike.EventIKEUp:
		d.stats.ikeUp.Add(1)
		d.mu.Lock()
		s := d.sessions[ev.IKE.LocalSPI]
		if s != nil {
			s.IKE = sessionInfo(ev.IKE)
		} else {
			d.upInfo[ev.IKE.LocalSPI] = sessionInfo(ev.IKE)
		}
		d.mu.Unlock()
		d.event("IKEV2", logging.Notification, "SA_UP", fmt.Sprintf("SA UP: local %v remote %v id %v", ev.IKE.Local, ev.IKE.Remote, ev.IKE.RemoteID))
		if s != nil {
			d.sessionUp(s, ev.IKE)
		}
	case ike.EventIKEDown:
		reason := "deleted"
		if ev.Reason != nil {
			reason = ev.Reason.Error()
			d.stats.failure(notifyName(ev.Reason))
		}
		d.event("IKEV2", logging.Notification, "SA_DOWN", fmt.Sprintf("SA DOWN: local %v remote %v: %s", ev.IKE.Local, ev.IKE.Remote, reason))
		d.sessionDown(ev.IKE.LocalSPI)
	case ike.EventIKERekeyed:
		d.mu.Lock()
		if s := d.sessions[ev.OldSPI]; s != nil {
			delete(d.sessions, ev.OldSPI)
			s.IKESPI, s.IKE = ev.IKE.LocalSPI, sessionInfo(ev.IKE)
			d.sessions[ev.IKE.LocalSPI] = s
		}
		d.mu.Unlock()
	case ike.EventChildUp, ike.EventChildRekeyed:
		d.event("IPSEC", logging.Notification, "CHILD_UP", fmt.Sprintf("Child SA %08x/%08x up with %v", ev.Child.InboundSPI, ev.Child.OutboundSPI, ev.IKE.Remote))
	}
}

// sessionUp finishes a session whose IKE SA and first Child SA are both up.
func (d *Daemon) sessionUp(s *Session, info ike.IKESAInfo) {
	d.sessionRoutesUp(s, info)
	d.sessionAddressUp(s, info)
	d.mu.Lock()
	snap := *s
	d.mu.Unlock()
	d.nhrp.tunnelUp(snap)
	if !info.Initiator {
		d.replaceOlder(s, info)
	}
	if o := d.opts.Observer; o != nil {
		d.mu.Lock()
		snap := *s
		d.mu.Unlock()
		snap.Children = nil
		o.SessionUp(snap)
	}
}

// replaceOlder deletes older sessions of the same peer identity: a spoke
// that restarted comes back before liveness checks notice its old session
// died (IOS does the same on INITIAL_CONTACT).
//
// The candidates come from respByID, the responder sessions indexed by
// peer identity when they came up, so that a hub with many spokes does
// not scan every session for each new one. Entries of sessions gone
// (removed, or moved to another SPI and still present under it) are
// checked against d.sessions and pruned here and in sessionDown.
func (d *Daemon) replaceOlder(s *Session, info ike.IKESAInfo) {
	if info.RemoteID.IsZero() {
		return
	}
	key := identityKey(info.RemoteID)
	d.mu.Lock()
	var old []uint64
	live := d.respByID[key][:0:0]
	for _, o := range d.respByID[key] {
		if o == s || d.sessions[o.IKESPI] != o {
			continue
		}
		live = append(live, o)
		if !o.Initiator && o.IKE.RemoteID.Equal(info.RemoteID) {
			old = append(old, o.IKESPI)
		}
	}
	if d.sessions[s.IKESPI] == s {
		live = append(live, s)
	}
	if len(live) == 0 {
		delete(d.respByID, key)
	} else {
		d.respByID[key] = live
	}
	d.mu.Unlock()
	for _, spi := range old {
		go func(spi uint64) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = d.engine.DeleteIKESA(ctx, spi)
			d.sessionDown(spi) // the peer will not answer: remove now
		}(spi)
	}
}

// sessionDown removes a session's routes, tunnel and interface.
func (d *Daemon) sessionDown(spi uint64) {
	d.mu.Lock()
	delete(d.upInfo, spi)
	s := d.sessions[spi]
	if s == nil {
		d.mu.Unlock()
		return
	}
	delete(d.sessions, spi)
	d.unindexResponder(s)
	if a, ok := assignedAddr(s.IKE); ok {
		delete(d.leases, a)
	}
	if s.Template != "" {
		d.vaNums.free(int(s.TunnelID))
	}
	conn := d.connectors[s.Interface]
	// A newer session of the same Tunnel interface took over.
	d.tunnelUsers[s.TunnelID]--
	shared := d.tunnelUsers[s.TunnelID] > 0
	if !shared {
		delete(d.tunnelUsers, s.TunnelID)
	}
	d.mu.Unlock()
	d.sessionAddressDown(s)
	if shared {
		return
	}
	d.nhrp.tunnelDown(s.Interface)
	d.rib.RemoveOwner(s.Interface)
	d.ifMu.Lock()
	if d.ifTunnel[s.Interface] == s.TunnelID {
		delete(d.ifTunnel, s.Interface)
	}
	d.ifMu.Unlock()
	_ = d.dp.DeleteTunnel(s.TunnelID)
	d.event("LINEPROTO", logging.Notification, "UPDOWN", fmt.Sprintf("Line protocol on Interface %s, changed state to down", s.Interface))
	if o := d.opts.Observer; o != nil {
		snap := *s
		snap.Children = nil
		o.SessionDown(snap)
	}
	if conn != nil {
		conn.down(s)
	}
}

// event logs an IOS-style event line (%FACILITY-SEV-MNEMONIC).
func (d *Daemon) event(facility string, sev logging.Severity, mnemonic, msg string) {
	logging.Event(context.Background(), d.log, facility, sev, mnemonic, msg)
}

// notifyName names the IKE failure for the failures-by-notify metric.
func notifyName(err error) string {
	var ne *ike.NotifyError
	switch {
	case errors.As(err, &ne):
		if ne.Notify != nil {
			return ne.Notify.String()
		}
		return fmt.Sprintf("NOTIFY_%d", ne.Code)
	case errors.Is(err, ike.ErrTimeout):
		return "TIMEOUT"
	case errors.Is(err, ike.ErrAuthFailed):
		return "AUTHENTICATION_FAILED"
	case errors.Is(err, ike.ErrNoProposal):
		return "NO_PROPOSAL_CHOSEN"
	case errors.Is(err, ike.ErrTSUnacceptable):
		return "TS_UNACCEPTABLE"
	}
	return "OTHER"
}

// arrivalInterface names the configured interface holding local, the
// address an IKE request arrived on, and that interface's VRF: the
// front-door VRF `match fvrf` in IKEv2 policies and profiles is checked
// against. The IKE sockets are not bound per VRF (the host has no VRF
// devices; SO_BINDTODEVICE would not make one), so the FVRF is inferred
// from the local address: an address configured in two VRFs is found in
// the first interface that has it. No such interface: the global VRF.
func arrivalInterface(cfg *config.Config, local netip.Addr) (ifname, fvrf string) {
	local = local.Unmap()
	for _, ifc := range cfg.Interfaces {
		if ifc.Kind != config.KindPhysical && ifc.Kind != config.KindLoopback {
			continue
		}
		for _, p := range ifc.Addresses {
			if p.Addr() == local {
				return ifc.Name, ifc.VRF
			}
		}
		for _, p := range ifc.IPv6Addresses {
			if p.Addr() == local {
				return ifc.Name, ifc.VRF
			}
		}
	}
	return "", ""
}

// identityKey is an ike.Identity as a map key.
func identityKey(id ike.Identity) string {
	return string(rune(id.Type)) + string(id.Data)
}

// unindexResponder removes s from respByID (d.mu held).
func (d *Daemon) unindexResponder(s *Session) {
	if s.IKE.RemoteID.IsZero() {
		return
	}
	key := identityKey(s.IKE.RemoteID)
	list := d.respByID[key]
	for i, o := range list {
		if o == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(d.respByID, key)
	} else {
		d.respByID[key] = list
	}
}
