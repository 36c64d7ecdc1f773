package control

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/netip"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/pki"
)

// This file maps the IKEv2 extensions of the configuration onto the
// engine: the global options (crypto ikev2 fragmentation, cookie-challenge,
// limit, redirect, cluster), certificate authentication per profile
// (authentication local|remote rsa-sig|ecdsa-sig, pki trustpoint,
// identity local dn, match certificate), DPD per profile, and the traffic
// reports on-demand DPD needs.

// engineSettings derives the engine's run-time settings from the global
// configuration.
func engineSettings(c *config.Config, trust *trustStore) ike.Settings {
	g := c.IKEv2
	s := ike.Settings{MaxSAs: g.MaxSA}
	if g.CookieChallenge != nil {
		// `cookie-challenge 0` challenges every request ([B]); N > 0
		// challenges once N SAs are half-open.
		s.CookieThreshold = *g.CookieChallenge
		if s.CookieThreshold == 0 {
			s.CookieThreshold = -1
		}
	}
	for _, l := range g.MaxInNegotiation {
		switch l.Direction {
		case "outgoing":
			s.MaxInNegotiationOutgoing = l.Limit
		case "incoming":
			s.MaxHalfOpen = l.Limit
		default: // both directions
			s.MaxHalfOpen, s.MaxInNegotiationOutgoing = l.Limit, l.Limit
		}
	}
	if f := g.Fragmentation; f != nil {
		s.Fragmentation, s.FragmentMTU = true, f.MTU
	}
	if rc := g.RedirectClient; rc != nil {
		s.FollowRedirects, s.MaxRedirects = true, rc.MaxRedirects
	}
	if trust != nil {
		s.Trustpoints = trust.anchors()
	}
	return s
}

// profileDPDSettings fills an engine profile's DPD from the IKEv2 profile's
// `dpd INTERVAL RETRY {periodic | on-demand}`, or the global `crypto
// ikev2 dpd`. IOS retransmits a check DefaultDPDRetries times, RETRY
// seconds apart.
func profileDPDSettings(c *config.Config, p *config.Profile, ip *ike.Profile) {
	d := p.DPD
	if d == nil {
		d = c.IKEv2.DPD
	}
	if d == nil || d.Interval <= 0 {
		return
	}
	ip.DPDInterval = time.Duration(d.Interval) * time.Second
	ip.DPDRetry = time.Duration(d.Retry) * time.Second
	ip.DPDRetries = ike.DefaultDPDRetries
	ip.DPDOnDemand = d.Mode == "on-demand"
}

// isSig reports whether an authentication method signs with a certificate.
func isSig(m config.AuthMethod) bool { return m == config.AuthRSASig || m == config.AuthECDSASig }

// certAuth says which sides of a profile use certificates: we sign, and
// peers may sign (they may still use a key when a pre-share line is there
// too: the AUTH method the peer uses picks the check).
func certAuth(p *config.Profile) (local, remote bool) {
	local = p.LocalAuth != nil && isSig(p.LocalAuth.Method)
	for _, ra := range p.RemoteAuth {
		if isSig(ra.Method) {
			remote = true
		}
	}
	return local, remote
}

// remotePreShare reports whether the profile lets peers authenticate with
// a pre-shared key.
func remotePreShare(p *config.Profile) bool {
	for _, ra := range p.RemoteAuth {
		if ra.Method == config.AuthPreShare {
			return true
		}
	}
	return len(p.RemoteAuth) == 0
}

// trustpointFor returns the profile's trustpoint for usage "sign" or
// "verify": the first `pki trustpoint NAME [usage]` line without a usage
// or with that one.
func trustpointFor(p *config.Profile, usage string) string {
	for _, r := range p.Trustpoints {
		if r.Usage == "" || r.Usage == usage {
			return r.Name
		}
	}
	return ""
}

// profileCertMap merges the certificate maps a profile matches with
// (`match certificate NAME`, any of them) into one; nil when none.
func profileCertMap(c *config.Config, p *config.Profile) (*config.CertificateMap, error) {
	var out *config.CertificateMap
	for _, name := range p.MatchCerts {
		m := c.CertMap(name)
		if m == nil {
			return nil, fmt.Errorf("profile %s: crypto pki certificate map %s does not exist", p.Name, name)
		}
		if out == nil {
			out = &config.CertificateMap{Name: m.Name}
		} else {
			out.Name += "," + m.Name
		}
		out.Entries = append(out.Entries, m.Entries...)
	}
	return out, nil
}

// keyMatches checks `authentication local rsa-sig|ecdsa-sig` against our
// certificate's key.
func keyMatches(m config.AuthMethod, cert *x509.Certificate) error {
	switch {
	case m == config.AuthRSASig && cert.PublicKeyAlgorithm != x509.RSA,
		m == config.AuthECDSASig && cert.PublicKeyAlgorithm != x509.ECDSA:
		return fmt.Errorf("authentication local %s, but the certificate %q has a %v key", m, pki.SubjectDN(cert), cert.PublicKeyAlgorithm)
	}
	return nil
}

// applyCertAuth sets an engine profile's certificate authentication from
// the IKEv2 profile: our credential and identity when we sign, the
// trustpoint and certificate map when the peer signs. It also sets the PSKs
// the profile still needs (pskKeys is only asked when a side uses PSK).
func (d *Daemon) applyCertAuth(c *config.Config, p *config.Profile, ip *ike.Profile, q config.KeyQuery) error {
	signLocal, verifyRemote := certAuth(p)
	// A side that signs needs no key; a remote side that may use either
	// (pre-share and rsa-sig lines) takes a key when there is one.
	lpsk, rpsk, err := pskKeysFor(c, p, q, !signLocal, !verifyRemote)
	if err != nil {
		return err
	}
	ip.LocalPSK, ip.RemotePSK = lpsk, rpsk
	if verifyRemote && !remotePreShare(p) {
		// `authentication remote rsa-sig|ecdsa-sig` alone: a peer
		// must sign, even if a keyring holds a key for it.
		ip.RemotePSK = nil
	}
	if signLocal {
		ip.LocalPSK = nil
	}
	if signLocal {
		name := trustpointFor(p, "sign")
		if name == "" {
			return fmt.Errorf("profile %s: authentication local %s needs pki trustpoint", p.Name, p.LocalAuth.Method)
		}
		e := d.trust.get(name)
		if e == nil || e.cred == nil {
			return fmt.Errorf("profile %s: trustpoint %s has no certificate and key (%s, %s in %s)%s", p.Name, name,
				pkiCertFile, pkiKeyFile, d.trust.dir+"/"+name, loadErrSuffix(e))
		}
		if err := keyMatches(p.LocalAuth.Method, e.cred.Leaf()); err != nil {
			return fmt.Errorf("profile %s: trustpoint %s: %w", p.Name, name, err)
		}
		ip.LocalCredential = e.cred
		// With a certificate and no `identity local`, or `identity
		// local dn`, we present the certificate's subject: an address
		// identity would have to be in its subjectAltName.
		if p.LocalIdentity == nil || p.LocalIdentity.Type == config.IDDN && p.LocalIdentity.Value == "" {
			t, data := pki.LocalIdentityDN(e.cred.Leaf())
			ip.LocalID = ike.Identity{Type: t, Data: append([]byte(nil), data...)}
		}
	} else if p.LocalIdentity != nil && p.LocalIdentity.Type == config.IDDN && p.LocalIdentity.Value == "" {
		return fmt.Errorf("profile %s: identity local dn needs a certificate (authentication local rsa-sig or ecdsa-sig)", p.Name)
	}
	if verifyRemote {
		name := trustpointFor(p, "verify")
		if name == "" {
			return fmt.Errorf("profile %s: authentication remote rsa-sig/ecdsa-sig needs pki trustpoint", p.Name)
		}
		e := d.trust.get(name)
		if e == nil || e.tp == nil {
			return fmt.Errorf("profile %s: trustpoint %s has no CA certificate (%s in %s)%s", p.Name, name, pkiCAFile,
				d.trust.dir+"/"+name, loadErrSuffix(e))
		}
		ip.Trustpoint = e.tp
		cm, err := profileCertMap(c, p)
		if err != nil {
			return err
		}
		ip.CertificateMap = cm
		ip.CertLifetime = !p.NoLifetimeCertificate
		for _, ra := range p.RemoteAuth {
			switch ra.Method {
			case config.AuthRSASig:
				ip.PeerKeyAlgorithms = append(ip.PeerKeyAlgorithms, x509.RSA)
			case config.AuthECDSASig:
				ip.PeerKeyAlgorithms = append(ip.PeerKeyAlgorithms, x509.ECDSA)
			}
		}
	}
	return nil
}

func loadErrSuffix(e *trustEntry) string {
	if e == nil {
		return ": trustpoint not loaded"
	}
	if e.loadErr != "" {
		return ": " + e.loadErr
	}
	return ""
}

// RedirectInit implements ike.Redirector for `crypto ikev2 redirect
// gateway init`: a peer that supports redirect is sent to the gateway the
// cluster picks.
func (p *policy) RedirectInit(local, remote netip.AddrPort) (netip.Addr, bool) {
	d := (*Daemon)(p)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !hasWord(d.cfg.IKEv2.RedirectGateway, "init") {
		return netip.Addr{}, false
	}
	return d.pickRedirect(local.Addr())
}

// RedirectAuth implements ike.Redirector for `crypto ikev2 redirect
// gateway auth` with `redirect gateway auth` in the peer's profile.
func (p *policy) RedirectAuth(req ike.ProfileRequest) (netip.Addr, bool) {
	d := (*Daemon)(p)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !hasWord(d.cfg.IKEv2.RedirectGateway, "auth") {
		return netip.Addr{}, false
	}
	prof, err := d.cfg.MatchProfile(peerInfo(req))
	if err != nil || !prof.RedirectGatewayAuth {
		return netip.Addr{}, false
	}
	return d.pickRedirect(req.Local.Addr())
}

func hasWord(ws []string, w string) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

// pickRedirect chooses the gateway for a redirected peer from `crypto
// ikev2 cluster`. esphub has no cluster load protocol (Cisco's is
// proprietary); the cluster lists its members (`member ADDRESS`, an esphub
// extension). This gateway keeps peers while it has fewer IKE SAs than
// `slave max-session` (none when unset: a pure director), then hands them
// to the members in turn, skipping its own address. Caller holds mu.
func (d *Daemon) pickRedirect(local netip.Addr) (netip.Addr, bool) {
	cl := d.cfg.IKEv2.Cluster
	if cl == nil || cl.Shutdown || len(cl.Members) == 0 {
		return netip.Addr{}, false
	}
	if cl.SlaveMaxSession > 0 && len(d.sessions) < cl.SlaveMaxSession {
		return netip.Addr{}, false
	}
	for range len(cl.Members) {
		m := cl.Members[d.redirectNext%len(cl.Members)]
		d.redirectNext++
		if m.Unmap() != local.Unmap() && m.Is4() == local.Unmap().Is4() {
			return m.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// peerInfo is what config's profile match needs from an engine request.
func peerInfo(req ike.ProfileRequest) config.PeerInfo {
	pi := config.PeerInfo{Identity: fromIKEIdentity(req.RemoteID), Local: req.Local.Addr().Unmap()}
	if req.PeerCert != nil {
		pi.CertSubject, pi.CertIssuer = pki.SubjectDN(req.PeerCert), pki.IssuerDN(req.PeerCert)
	}
	return pi
}

// applyEngineSettings pushes the global IKEv2 options of cfg to the running
// engine (a reload).
func (d *Daemon) applyEngineSettings(ctx context.Context, cfg *config.Config) error {
	if err := d.engine.Reconfigure(ctx, engineSettings(cfg, d.trust)); err != nil {
		return fmt.Errorf("ike settings: %w", err)
	}
	return nil
}

// trafficReporter feeds on-demand DPD: every interval it compares each
// session's dataplane counters with the last look and tells the engine
// which IKE SAs carried traffic inbound (decrypted from the peer) and
// outbound.
type trafficReporter struct {
	last map[uint64][2]uint64 // by IKE SPI: rx, tx packets (snapshot path)
	due  []trafficDue         // this round's reports, reused
	work []tunnelCount        // this round's sessions (per-tunnel path), reused
}

// tunnelCount is one session's tunnel counters in a round (s nil when
// its tunnel is gone); 24 bytes a session, the buffer kept between rounds.
type tunnelCount struct {
	s      *Session
	rx, tx uint64
}

// trafficDue is one report of a round.
type trafficDue struct {
	spi     uint64
	in, out bool
}

// tunnelPackets is implemented by dataplanes that read one tunnel's
// packet counters without allocating (dataplane.Engine.TunnelPackets).
// With it a round costs a lookup per session and no garbage; without it,
// a snapshot of every tunnel (Tunnels), which at 50,000 sessions was over
// 100 MB a second of garbage and slowed session setup with the GC work.
type tunnelPackets interface {
	TunnelPackets(id dataplane.TunnelID) (rx, tx uint64, ok bool)
}

func (d *Daemon) runTrafficReports(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	tr := &trafficReporter{last: map[uint64][2]uint64{}}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.reportTraffic(tr, d.engine.ReportTraffic)
		}
	}
}

// reportTraffic is one round of trafficReporter; report is
// Engine.ReportTraffic, called without the daemon's lock held.
func (d *Daemon) reportTraffic(tr *trafficReporter, report func(ikeSPI uint64, inbound, outbound bool)) {
	tr.due = tr.due[:0]
	if tp, ok := d.dp.(tunnelPackets); ok {
		// The counters are read without the lock, which session setup
		// needs: at 50,000 sessions the lookups take tens of
		// milliseconds, the two locked passes a few.
		d.mu.Lock()
		for _, s := range d.sessions {
			tr.work = append(tr.work, tunnelCount{s: s})
		}
		d.mu.Unlock()
		for i := range tr.work {
			w := &tr.work[i]
			var ok bool
			// TunnelID is set before the session is published, never after.
			if w.rx, w.tx, ok = tp.TunnelPackets(w.s.TunnelID); !ok {
				w.s = nil
			}
		}
		d.mu.Lock()
		for _, w := range tr.work {
			if w.s == nil {
				continue
			}
			in, out := w.rx > w.s.lastRx, w.tx > w.s.lastTx
			w.s.lastRx, w.s.lastTx = w.rx, w.tx
			if in || out {
				tr.due = append(tr.due, trafficDue{w.s.IKESPI, in, out})
			}
		}
		d.mu.Unlock()
		clear(tr.work) // no hold on sessions that go
		tr.work = tr.work[:0]
	} else {
		d.reportSnapshot(tr)
	}
	for _, r := range tr.due {
		report(r.spi, r.in, r.out)
	}
}

// reportSnapshot fills tr.due from a snapshot of every tunnel, for
// dataplanes without tunnelPackets.
func (d *Daemon) reportSnapshot(tr *trafficReporter) {
	bySPI := map[dataplane.TunnelID]uint64{}
	d.mu.Lock()
	for spi, s := range d.sessions {
		bySPI[s.TunnelID] = spi
	}
	d.mu.Unlock()
	seen := make(map[uint64][2]uint64, len(tr.last))
	for _, ts := range d.dp.Tunnels() {
		spi, ok := bySPI[ts.Config.ID]
		if !ok {
			continue
		}
		now := [2]uint64{ts.RxPackets, ts.TxPackets}
		seen[spi] = now
		prev := tr.last[spi]
		in, out := now[0] > prev[0], now[1] > prev[1]
		if in || out {
			tr.due = append(tr.due, trafficDue{spi, in, out})
		}
	}
	tr.last = seen
}

// pollInterval is an Options poll setting: 0 means def, negative off.
func pollInterval(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// runCRLPoll re-reads changed CRL files every interval.
func (d *Daemon) runCRLPoll(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if _, err := d.ReloadCRLs(cctx); err != nil {
				d.log.Warn("disconnect revoked peers", "err", err)
			}
			cancel()
		}
	}
}
