package control

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control/api"
	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

// ReloadFunc re-reads the configuration and applies it (esphubd owns the
// file); it returns what was applied, or the FILE:LINE:COL diagnostics as
// error.
type ReloadFunc func() (ReloadResult, error)

// ReloadResult identifies the configuration a reload applied (so that an
// operator can tell which version of the file is running) and lists what
// changed (Daemon.Reload's summary).
type ReloadResult struct {
	File    string   `json:"file"`
	SHA256  string   `json:"sha256"`
	Lines   int      `json:"lines"`
	Bytes   int      `json:"bytes"`
	Changes []string `json:"changes"`
}

// Commands returns the operator commands this daemon answers, for
// api.NewServer. reload may be nil (no `reload` command).
func (d *Daemon) Commands(reload ReloadFunc) *api.Commands {
	c := &api.Commands{}
	c.Handle("show crypto ikev2 sa", "IKEv2 SAs [detailed]", d.showIKEv2SA)
	c.Handle("show crypto ikev2 session", "IKEv2 sessions with their Child SAs [detailed]", d.showIKEv2Session)
	c.Handle("show crypto ikev2 stats", "IKEv2 SA and exchange statistics", d.showIKEv2Stats)
	c.Handle("show crypto ikev2 profile", "IKEv2 profiles [NAME]", d.showIKEv2Profile)
	c.Handle("show crypto session", "crypto sessions by interface [detail]", d.showCryptoSession)
	c.Handle("show crypto ipsec sa", "IPsec SAs with counters [peer ADDRESS]", d.showIPsecSA)
	c.Handle("show ip route", "IPv4 routing table [vrf NAME]", d.showRoute(4))
	c.Handle("show ipv6 route", "IPv6 routing table [vrf NAME]", d.showRoute(6))
	c.Handle("show interfaces virtual-access", "virtual-access interfaces [N]", d.showVirtualAccess)
	c.Handle("show derived-config interface virtual-access", "the configuration a virtual-access interface was cloned with: N", d.showDerived)
	c.Handle("show crypto ikev2 cluster", "the redirect cluster: members, capacity and redirects", d.showCluster)
	c.Handle("show crypto pki trustpoints", "trustpoints: CA, certificate, CRLs and load errors", d.showTrustpoints)
	c.Handle("show dataplane", "dataplane backend, tunnels, SAs and drops by reason", d.showDataplane)
	c.Handle("clear crypto session", "delete IKE sessions [remote ADDRESS]", d.clearSession)
	c.Handle("clear crypto ikev2 sa", "delete every IKEv2 SA", d.clearSession)
	d.nhrpCommands(c)
	d.mplsCommands(c)
	d.ctsCommands(c)
	if reload != nil {
		c.Handle("reload", "re-read the configuration file and apply the difference", func(ctx context.Context, args []string) (api.Result, error) {
			res, err := reload()
			if err != nil {
				return api.Result{}, err
			}
			if res.Changes == nil {
				res.Changes = []string{}
			}
			var b strings.Builder
			fmt.Fprintf(&b, "configuration %s: %d lines, %d bytes, sha256 %s\n", res.File, res.Lines, res.Bytes, res.SHA256)
			if len(res.Changes) == 0 {
				b.WriteString("configuration reloaded: no changes\n")
			} else {
				fmt.Fprintf(&b, "configuration reloaded: %d change(s)\n", len(res.Changes))
				for _, ch := range res.Changes {
					fmt.Fprintf(&b, "  %s\n", ch)
				}
			}
			return api.Result{Data: res, Text: b.String()}, nil
		})
	}
	return c
}

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", api.ErrUsage, fmt.Sprintf(format, args...))
}

// oneFlag accepts no argument or the one keyword (a unique prefix of it).
func oneFlag(args []string, kw string) (bool, error) {
	switch {
	case len(args) == 0:
		return false, nil
	case len(args) == 1 && strings.HasPrefix(kw, args[0]):
		return true, nil
	}
	return false, usage("unexpected %q (expected %s)", strings.Join(args, " "), kw)
}

// ikeSAs returns the engine's IKE SAs ordered by session (then SPI).
func (d *Daemon) ikeSAs(ctx context.Context) ([]ike.IKESAInfo, map[uint64]Session, error) {
	sas, err := d.engine.IKESAs(ctx)
	if err != nil {
		return nil, nil, err
	}
	bySPI := map[uint64]Session{}
	for _, s := range d.Sessions() {
		bySPI[s.IKESPI] = s
	}
	sort.Slice(sas, func(i, j int) bool {
		a, b := bySPI[sas[i].LocalSPI].ID, bySPI[sas[j].LocalSPI].ID
		if a != b {
			return a < b
		}
		return sas[i].LocalSPI < sas[j].LocalSPI
	})
	return sas, bySPI, nil
}

func encrName(p suite.Proposal) string {
	switch p.Encr {
	case wire.EncrAESGCM16:
		return "AES-GCM"
	case wire.EncrAESCBC:
		return "AES-CBC"
	case wire.EncrDES3:
		return "3DES"
	}
	return p.Encr.String()
}

// prfName and hashName print a suite the way 'show crypto ikev2 sa' does,
// using the IOS names config keeps for its transforms.
func prfName(p suite.Proposal) string {
	if c, ok := config.PRFFromIANA(p.PRF); ok {
		return c.ShowName()
	}
	return p.PRF.String()
}

func hashName(p suite.Proposal) string {
	if p.Integ == wire.IntegNone {
		return "None"
	}
	if c, ok := config.IntegrityFromIANA(p.Integ); ok {
		return c.ShowName()
	}
	return p.Integ.String()
}

func vrfPair(fvrf, ivrf string) string {
	f, i := fvrf, ivrf
	if f == "" {
		f = "none"
	}
	if i == "" {
		i = "none"
	}
	return f + "/" + i
}

// ikeSAJSON is the -o json form of an IKE SA.
type ikeSAJSON struct {
	TunnelID    int            `json:"tunnel_id"`
	SessionID   int            `json:"session_id"`
	Interface   string         `json:"interface,omitempty"`
	Local       netip.AddrPort `json:"local"`
	Remote      netip.AddrPort `json:"remote"`
	FVRF        string         `json:"fvrf"`
	IVRF        string         `json:"ivrf"`
	Status      string         `json:"status"`
	Description string         `json:"status_description"`
	Role        string         `json:"role"`
	LocalSPI    string         `json:"local_spi"`
	RemoteSPI   string         `json:"remote_spi"`
	LocalID     string         `json:"local_id"`
	RemoteID    string         `json:"remote_id"`
	Proposal    string         `json:"proposal"`
	Lifetime    int            `json:"lifetime_sec"`
	Active      int            `json:"active_sec"`
	NATLocal    bool           `json:"nat_local"`
	NATRemote   bool           `json:"nat_remote"`
	Profile     string         `json:"profile"`
	Children    int            `json:"child_sas"`
	// CTSSGT is set when both sides sent CISCO-CTS-SGT in IKE_SA_INIT.
	CTSSGT bool `json:"cts_sgt"`
	// Authentication, fragmentation and DPD, as the detailed show prints them.
	AuthSign        string `json:"auth_sign,omitempty"`
	AuthVerify      string `json:"auth_verify,omitempty"`
	PeerCertSubject string `json:"peer_cert_subject,omitempty"`
	PeerCertIssuer  string `json:"peer_cert_issuer,omitempty"`
	Fragmentation   string `json:"fragmentation"` // "enabled", "configured" or "not configured"
	FragmentMTU     int    `json:"fragmentation_mtu,omitempty"`
	DPDInterval     int    `json:"dpd_interval_sec,omitempty"`
	DPDRetry        int    `json:"dpd_retry_sec,omitempty"`
	DPDMode         string `json:"dpd_mode,omitempty"`
	// For initiator tunnels that are not up: why, and when the next try is.
	Attempts  int    `json:"failed_attempts,omitempty"`
	LastError string `json:"last_error,omitempty"`
	NextTryIn int    `json:"next_try_in_sec,omitempty"`
}

func (d *Daemon) ikeRows(ctx context.Context) ([]ikeSAJSON, error) {
	sas, bySPI, err := d.ikeSAs(ctx)
	if err != nil {
		return nil, err
	}
	cfg := d.Config()
	now := d.now()
	var rows []ikeSAJSON
	busy := map[netip.Addr]bool{}
	for i, sa := range sas {
		s, hasSess := bySPI[sa.LocalSPI]
		status, desc := "IN-NEG", "Negotiation in progress"
		if sa.State == "established" || hasSess {
			status, desc = "READY", "Negotiation done"
		}
		life := config.DefaultIKELifetime
		if p := cfg.Profile(sa.Profile); p != nil && p.Lifetime > 0 {
			life = p.Lifetime
		}
		role := "Responder"
		if sa.Initiator {
			role = "Initiator"
		}
		// Tunnel-id stays with the session (IOS keeps it for the SA's
		// life); SAs without a session yet are numbered after them.
		tid := s.ID
		if !hasSess {
			tid = 1000 + i
		}
		row := ikeSAJSON{
			TunnelID: tid, SessionID: s.ID, Interface: s.Interface, Local: sa.Local, Remote: sa.Remote,
			FVRF: s.FVRF, IVRF: s.VRF, Status: status, Description: desc, Role: role,
			LocalSPI: fmt.Sprintf("%016X", sa.LocalSPI), RemoteSPI: fmt.Sprintf("%016X", sa.RemoteSPI),
			LocalID: sa.LocalID.String(), RemoteID: sa.RemoteID.String(), Proposal: sa.Proposal.String(),
			Lifetime: life, Active: int(now.Sub(sa.Created).Seconds()), NATLocal: sa.NATLocal, NATRemote: sa.NATRemote,
			Profile: sa.Profile, Children: len(sa.Children),
			CTSSGT:   sgtNegotiated(sa.LocalVendorIDs, sa.VendorIDs),
			AuthSign: sa.LocalAuth, AuthVerify: sa.PeerAuth,
			PeerCertSubject: sa.PeerCertSubject, PeerCertIssuer: sa.PeerCertIssuer,
			Fragmentation: "not configured",
		}
		switch {
		case sa.Fragmentation:
			row.Fragmentation, row.FragmentMTU = "enabled", sa.FragmentMTU
		case cfg.IKEv2.Fragmentation != nil:
			row.Fragmentation = "configured"
		}
		if p := cfg.Profile(sa.Profile); p != nil {
			dp := p.DPD
			if dp == nil {
				dp = cfg.IKEv2.DPD
			}
			if dp != nil {
				row.DPDInterval, row.DPDRetry, row.DPDMode = dp.Interval, dp.Retry, dp.Mode
			}
		}
		if sa.Created.IsZero() {
			row.Active = 0
		}
		if sa.Initiator {
			busy[sa.Remote.Addr()] = true
		}
		rows = append(rows, row)
	}
	for _, c := range d.Connectors() {
		if c.State == connReady || busy[c.Peer.Addr()] && c.State == connNegotiating {
			continue
		}
		row := ikeSAJSON{TunnelID: 2000 + len(rows), Interface: c.Interface, Local: c.Local, Remote: c.Peer,
			Status: c.State, Role: "Initiator", Attempts: c.Attempts, LastError: c.LastError,
			LocalSPI: "0000000000000000", RemoteSPI: "0000000000000000", Lifetime: config.DefaultIKELifetime}
		switch c.State {
		case connRetry:
			row.Description = fmt.Sprintf("Peer unreachable, %d failed attempt(s), next attempt in %d sec", c.Attempts, max(0, int(c.NextTry.Sub(now).Seconds()+0.5)))
			row.NextTryIn = max(0, int(c.NextTry.Sub(now).Seconds()+0.5))
		case connDown:
			row.Description = "Session down, reconnecting"
		default:
			row.Description = "Initiator waiting for INIT response"
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (d *Daemon) showIKEv2SA(ctx context.Context, args []string) (api.Result, error) {
	detailed, err := oneFlag(args, "detailed")
	if err != nil {
		return api.Result{}, err
	}
	rows, err := d.ikeRows(ctx)
	if err != nil {
		return api.Result{}, err
	}
	var b bytes.Buffer
	for _, v6 := range []bool{false, true} {
		var fam []ikeSAJSON
		for _, r := range rows {
			if r.Remote.Addr().Is6() == v6 {
				fam = append(fam, r)
			}
		}
		if len(fam) == 0 {
			continue
		}
		if v6 {
			b.WriteString(" IPv6 Crypto IKEv2  SA \n\n")
		} else {
			b.WriteString(" IPv4 Crypto IKEv2  SA \n\n")
		}
		fmt.Fprintf(&b, "%-10s%-22s%-22s%-21s%s\n", "Tunnel-id", "Local", "Remote", "fvrf/ivrf", "Status")
		for _, r := range fam {
			d.writeIKERow(&b, r, detailed)
		}
		b.WriteString("\n")
	}
	return api.Result{Data: rows, Text: b.String()}, nil
}

func addrPortSlash(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return "none"
	}
	return fmt.Sprintf("%s/%d", ap.Addr(), ap.Port())
}

func (d *Daemon) writeIKERow(w io.Writer, r ikeSAJSON, detailed bool) {
	fmt.Fprintf(w, "%-10d%-22s%-22s%-21s%s\n", r.TunnelID, addrPortSlash(r.Local), addrPortSlash(r.Remote), vrfPair(r.FVRF, r.IVRF), r.Status)
	var p suite.Proposal
	if r.Proposal != "" {
		p, _ = d.proposalOf(r.LocalSPI)
	}
	if r.Status == "READY" || r.Status == "IN-NEG" && r.SessionID != 0 {
		sign, verify := r.AuthSign, r.AuthVerify
		if sign == "" {
			sign, verify = "Unknown - 0", "Unknown - 0"
		}
		fmt.Fprintf(w, "      Encr: %s, keysize: %d, PRF: %s, Hash: %s, DH Grp:%d, Auth sign: %s, Auth verify: %s\n",
			encrName(p), p.KeyBits, prfName(p), hashName(p), uint16(p.DH), sign, verify)
	} else {
		fmt.Fprintf(w, "      Encr: Unknown - 0, PRF: Unknown - 0, Hash: None, DH Grp:0, Auth sign: Unknown - 0, Auth verify: Unknown - 0\n")
	}
	fmt.Fprintf(w, "      Life/Active Time: %d/%d sec\n", r.Lifetime, r.Active)
	if !detailed && r.Status != connRetry {
		return
	}
	fmt.Fprintf(w, "      CE id: 0, Session-id: %d\n", r.SessionID)
	fmt.Fprintf(w, "      Status Description: %s\n", r.Description)
	if r.LastError != "" {
		fmt.Fprintf(w, "      Last error: %s\n", r.LastError)
	}
	if !detailed {
		return
	}
	fmt.Fprintf(w, "      Local spi: %s       Remote spi: %s\n", r.LocalSPI, r.RemoteSPI)
	fmt.Fprintf(w, "      Local id: %s\n", r.LocalID)
	fmt.Fprintf(w, "      Remote id: %s\n", r.RemoteID)
	if info, ok := d.infoOf(r.LocalSPI); ok {
		fmt.Fprintf(w, "      Local req msg id:  %d             Remote req msg id:  %d\n", sub1(info.LocalNextMsgID), sub1(info.RemoteNextMsgID))
		fmt.Fprintf(w, "      Local next msg id: %d             Remote next msg id: %d\n", info.LocalNextMsgID, info.RemoteNextMsgID)
		fmt.Fprintf(w, "      Local req queued:  %d             Remote req queued:  0\n", info.LocalReqQueued)
		fmt.Fprintf(w, "      Local window:      %d             Remote window:      %d\n", info.LocalWindow, info.RemoteWindow)
	}
	if r.PeerCertSubject != "" {
		fmt.Fprintf(w, "      Peer certificate: %s (issuer %s)\n", r.PeerCertSubject, r.PeerCertIssuer)
	}
	if r.DPDInterval > 0 {
		fmt.Fprintf(w, "      DPD configured for %d seconds, retry %d (%s)\n", r.DPDInterval, r.DPDRetry, r.DPDMode)
	} else {
		fmt.Fprintf(w, "      DPD configured for 0 seconds, retry 0\n")
	}
	switch r.Fragmentation {
	case "enabled":
		fmt.Fprintf(w, "      IETF Std Fragmentation enabled.\n")
		fmt.Fprintf(w, "      IETF Std Fragmentation MTU in use: %d bytes.\n", r.FragmentMTU)
	case "configured":
		fmt.Fprintf(w, "      IETF Std Fragmentation configured.\n")
	default:
		fmt.Fprintf(w, "      Fragmentation not configured.\n")
	}
	fmt.Fprintf(w, "      Extended Authentication not configured.\n")
	switch {
	case r.NATLocal:
		fmt.Fprintf(w, "      NAT-T is detected inside \n")
	case r.NATRemote:
		fmt.Fprintf(w, "      NAT-T is detected  outside\n")
	default:
		fmt.Fprintf(w, "      NAT-T is not detected  \n")
	}
	if r.CTSSGT {
		fmt.Fprintf(w, "      Cisco Trust Security SGT is enabled\n")
	} else {
		fmt.Fprintf(w, "      Cisco Trust Security SGT is disabled\n")
	}
	fmt.Fprintf(w, "      %s\n", r.Role)
	if r.Profile != "" {
		fmt.Fprintf(w, "      IKEv2 profile: %s\n", r.Profile)
	}
	w.Write([]byte("\n"))
}

func sub1(v uint32) uint32 {
	if v == 0 {
		return 0
	}
	return v - 1
}

func (d *Daemon) infoOf(hexSPI string) (ike.IKESAInfo, bool) {
	spi, err := strconv.ParseUint(hexSPI, 16, 64)
	if err != nil || spi == 0 {
		return ike.IKESAInfo{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := d.engine.IKESA(ctx, spi)
	return info, err == nil
}

func (d *Daemon) proposalOf(hexSPI string) (suite.Proposal, bool) {
	info, ok := d.infoOf(hexSPI)
	return info.Proposal, ok
}

// sessionJSON is the -o json form of `show crypto session`.
type sessionJSON struct {
	Interface string         `json:"interface"`
	Profile   string         `json:"profile,omitempty"`
	Status    string         `json:"status"`
	Peer      netip.AddrPort `json:"peer"`
	SessionID int            `json:"session_id,omitempty"`
	Local     netip.AddrPort `json:"local"`
	RemoteID  string         `json:"remote_id,omitempty"`
	Uptime    string         `json:"uptime,omitempty"`
	Flows     []string       `json:"ipsec_flows,omitempty"`
	ActiveSAs int            `json:"active_sas"`
	Routes    []netip.Prefix `json:"accepted_routes,omitempty"`
	Addresses []netip.Prefix `json:"negotiated_addresses,omitempty"`
	Stale     []string       `json:"config_changed_since_setup,omitempty"`
	InPkts    uint64         `json:"inbound_packets"`
	OutPkts   uint64         `json:"outbound_packets"`
	Drops     uint64         `json:"drops"`
}

func tsFlow(l, r []ike.TrafficSelector) string {
	f := func(ts []ike.TrafficSelector) (string, uint8) {
		if len(ts) == 0 {
			return "0.0.0.0/0.0.0.0", 0
		}
		t := ts[0]
		if p, ok := tsPrefix(t); ok {
			if p.Addr().Is4() {
				if p.Bits() == 32 {
					return "host " + p.Addr().String(), t.Proto
				}
				m := netip.AddrFrom4([4]byte(maskBytes(p.Bits())))
				return p.Addr().String() + "/" + m.String(), t.Proto
			}
			return p.String(), t.Proto
		}
		return t.Start.String() + "-" + t.End.String(), t.Proto
	}
	ls, proto := f(l)
	rs, _ := f(r)
	pn := "ip"
	if proto == 47 {
		pn = "47"
	} else if proto != 0 {
		pn = strconv.Itoa(int(proto))
	}
	return fmt.Sprintf("permit %s %s %s", pn, ls, rs)
}

func maskBytes(bits int) []byte {
	b := make([]byte, 4)
	for i := range 4 {
		n := min(max(bits-8*i, 0), 8)
		b[i] = byte(0xff << (8 - n))
	}
	return b
}

func (d *Daemon) sessionRows() []sessionJSON {
	all := d.dp.SAs()
	byDir := func(spi uint32, dir dataplane.Direction) (dataplane.SAStats, bool) {
		for _, st := range all {
			if st.SPI == spi && st.Direction == dir {
				return st, true
			}
		}
		return dataplane.SAStats{}, false
	}
	now := d.now()
	var rows []sessionJSON
	for _, s := range d.Sessions() {
		r := sessionJSON{Interface: s.Interface, Profile: s.Profile, Status: "UP-ACTIVE", Peer: s.Remote, SessionID: s.ID,
			Local: s.Local, RemoteID: s.IKE.RemoteID.String(), Uptime: rib.FormatAge(now.Sub(s.Created)), Routes: s.Routes, Addresses: s.Addresses, Stale: s.Stale}
		for _, c := range s.Children {
			r.Flows = append(r.Flows, tsFlow(c.LocalTS, c.RemoteTS))
			r.ActiveSAs += 2
			if st, ok := byDir(c.InboundSPI, dataplane.Inbound); ok {
				r.InPkts += st.Packets
				r.Drops += st.Drops
			}
			if st, ok := byDir(c.OutboundSPI, dataplane.Outbound); ok {
				r.OutPkts += st.Packets
			}
		}
		sort.Strings(r.Flows)
		r.Flows = compactStrings(r.Flows)
		if len(s.Children) == 0 {
			r.Status = "UP-NO-IKE"
		}
		rows = append(rows, r)
	}
	for _, c := range d.Connectors() {
		if c.State == connReady {
			continue
		}
		rows = append(rows, sessionJSON{Interface: c.Interface, Status: "DOWN-NEGOTIATING", Peer: c.Peer, Local: c.Local})
	}
	return rows
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func (d *Daemon) showCryptoSession(ctx context.Context, args []string) (api.Result, error) {
	detail, err := oneFlag(args, "detail")
	if err != nil {
		return api.Result{}, err
	}
	rows := d.sessionRows()
	var b strings.Builder
	b.WriteString("Crypto session current status\n\n")
	if detail {
		b.WriteString("Code: C - IKE Configuration mode, D - Dead Peer Detection\nK - Keepalives, N - NAT-traversal, T - cTCP encapsulation\nX - IKE Extended Authentication, F - IKE Fragmentation\nR - IKE Auto Reconnect, U - IKE Dynamic Route Update\nS - SIP VPN\n\n")
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "Interface: %s\n", r.Interface)
		if r.Profile != "" {
			fmt.Fprintf(&b, "Profile: %s\n", r.Profile)
		}
		if detail && r.Uptime != "" {
			fmt.Fprintf(&b, "Uptime: %s\n", r.Uptime)
		}
		fmt.Fprintf(&b, "Session status: %s\n", r.Status)
		fmt.Fprintf(&b, "Peer: %s port %d\n", r.Peer.Addr(), r.Peer.Port())
		if r.SessionID == 0 {
			fmt.Fprintf(&b, "  IKEv2 SA: local %s remote %s Inactive\n\n", addrPortSlash(r.Local), addrPortSlash(r.Peer))
			continue
		}
		if detail {
			fmt.Fprintf(&b, "  Session ID: %d  \n", r.SessionID)
		}
		fmt.Fprintf(&b, "  IKEv2 SA: local %s remote %s Active \n", addrPortSlash(r.Local), addrPortSlash(r.Peer))
		if detail {
			fmt.Fprintf(&b, "          Capabilities:%s connid:%d lifetime:%s\n", capCodes(r), r.SessionID, "23:59:59")
			if r.RemoteID != "" {
				fmt.Fprintf(&b, "          Phase1_id: %s\n", r.RemoteID)
			}
			for _, a := range r.Addresses {
				fmt.Fprintf(&b, "          Negotiated address: %s on %s\n", a, r.Interface)
			}
			if len(r.Stale) > 0 {
				fmt.Fprintf(&b, "          Changed by a reload since setup (applies on reconnect): %s\n", strings.Join(r.Stale, ", "))
			}
		}
		for _, f := range r.Flows {
			fmt.Fprintf(&b, "  IPSEC FLOW: %s \n", f)
			fmt.Fprintf(&b, "        Active SAs: %d, origin: crypto map\n", r.ActiveSAs)
			if detail {
				fmt.Fprintf(&b, "        Inbound:  #pkts dec'ed %d drop %d life (KB/Sec) %d/%d\n", r.InPkts, r.Drops, config.DefaultIPsecLifetimeKB, config.DefaultIPsecLifetimeSeconds)
				fmt.Fprintf(&b, "        Outbound: #pkts enc'ed %d drop 0 life (KB/Sec) %d/%d\n", r.OutPkts, config.DefaultIPsecLifetimeKB, config.DefaultIPsecLifetimeSeconds)
			}
		}
		b.WriteString("\n")
	}
	return api.Result{Data: rows, Text: b.String()}, nil
}

func capCodes(r sessionJSON) string {
	c := "D"
	if len(r.Routes) > 0 {
		c = "C" + c
	}
	return c
}

func (d *Daemon) showIKEv2Session(ctx context.Context, args []string) (api.Result, error) {
	detailed, err := oneFlag(args, "detailed")
	if err != nil {
		return api.Result{}, err
	}
	rows, err := d.ikeRows(ctx)
	if err != nil {
		return api.Result{}, err
	}
	var b bytes.Buffer
	b.WriteString(" IPv4 Crypto IKEv2 Session \n\n")
	for _, r := range rows {
		if r.SessionID == 0 {
			continue
		}
		fmt.Fprintf(&b, "Session-id:%d, Status:UP-ACTIVE, IKE count:1, CHILD count:%d\n\n", r.SessionID, r.Children)
		fmt.Fprintf(&b, "%-10s%-22s%-22s%-21s%s\n", "Tunnel-id", "Local", "Remote", "fvrf/ivrf", "Status")
		d.writeIKERow(&b, r, detailed)
		info, ok := d.infoOf(r.LocalSPI)
		if !ok {
			continue
		}
		for _, c := range info.Children {
			fmt.Fprintf(&b, "  Child sa: local selector  %s\n", tsList(c.LocalTS))
			fmt.Fprintf(&b, "            remote selector %s\n", tsList(c.RemoteTS))
			fmt.Fprintf(&b, "            ESP spi in/out: 0x%X/0x%X  \n", c.InboundSPI, c.OutboundSPI)
			if detailed {
				fmt.Fprintf(&b, "            AH spi in/out: 0x0/0x0  \n")
				fmt.Fprintf(&b, "            CPI in/out: 0x0/0x0  \n")
				fmt.Fprintf(&b, "            Encr: %s, keysize: %d, esp_hmac: %s\n", encrName(c.Proposal), c.Proposal.KeyBits, hashName(c.Proposal))
				fmt.Fprintf(&b, "            ah_hmac: None, comp: IPCOMP_NONE, mode %s\n", c.Mode)
			}
		}
		b.WriteString("\n")
	}
	return api.Result{Data: rows, Text: b.String()}, nil
}

func tsList(ts []ike.TrafficSelector) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s/%d - %s/%d", t.Start, t.StartPort, t.End, t.EndPort))
	}
	return strings.Join(parts, ", ")
}

func (d *Daemon) showIKEv2Stats(ctx context.Context, args []string) (api.Result, error) {
	st := d.engine.Stats()
	rows, err := d.ikeRows(ctx)
	if err != nil {
		return api.Result{}, err
	}
	var in, out, inAct, outAct, inNeg, outNeg int
	for _, r := range rows {
		if r.SessionID == 0 && r.Status != "IN-NEG" {
			continue
		}
		if r.Role == "Initiator" {
			out++
			if r.Status == "READY" {
				outAct++
			} else {
				outNeg++
			}
		} else {
			in++
			if r.Status == "READY" {
				inAct++
			} else {
				inNeg++
			}
		}
	}
	cfg := d.Config()
	var b strings.Builder
	line := strings.Repeat("-", 80)
	fmt.Fprintf(&b, "%s\n%50s\n%s\n", line, "Crypto IKEv2 SA Statistics", line)
	es := engineSettings(cfg, nil)
	fmt.Fprintf(&b, "System Resource Limit:   %-9dMax IKEv2 SAs: %-9dMax in-negotiation(in/out): %d/%d\n", 0, cfg.IKEv2.MaxSA, es.MaxHalfOpen, es.MaxInNegotiationOutgoing)
	fmt.Fprintf(&b, "Total incoming IKEv2 SA Count:    %-9dactive:        %-9dnegotiating: %d\n", in, inAct, inNeg)
	fmt.Fprintf(&b, "Total outgoing IKEv2 SA Count:    %-9dactive:        %-9dnegotiating: %d\n", out, outAct, outNeg)
	fmt.Fprintf(&b, "Incoming IKEv2 Requests: %-9daccepted:      %-9drejected:    %d\n", st.Get(ike.CounterRxMessages), st.Get(ike.CounterIKEUp), st.Get(ike.CounterIKEFailed))
	fmt.Fprintf(&b, "Outgoing IKEv2 Requests: %-9daccepted:      %-9drejected:    %d\n", st.Get(ike.CounterTxMessages), outAct, 0)
	rejected := st.Get(ike.CounterDropHalfOpenLimit) + st.Get(ike.CounterDropMaxSA) + st.Get(ike.CounterDropHalfOpenPerSource)
	fmt.Fprintf(&b, "Rejected IKEv2 Requests: %-9drsrc low:      %-9dSA limit:    %d\n", rejected, st.Get(ike.CounterDropHalfOpenPerSource), st.Get(ike.CounterDropHalfOpenLimit)+st.Get(ike.CounterDropMaxSA))
	fmt.Fprintf(&b, "IKEv2 packets dropped at dispatch: %d\n", st.Get(ike.CounterDropMalformed)+st.Get(ike.CounterDropTruncated)+st.Get(ike.CounterDropUnknownSPI)+st.Get(ike.CounterDropBadICV))
	fmt.Fprintf(&b, "Incoming Requests dropped as LOW Q limit reached : %d\n", 0)
	fmt.Fprintf(&b, "Incoming IKEV2 Cookie Challenged Requests: %d\n", st.Get(ike.CounterCookiesSent))
	fmt.Fprintf(&b, "    accepted: %d        rejected: %d        rejected no cookie: %d\n",
		st.Get(ike.CounterCookiesSent)-min(st.Get(ike.CounterCookiesSent), st.Get(ike.CounterCookiesInvalid)+st.Get(ike.CounterCookiesStale)+st.Get(ike.CounterCookiesReplayed)),
		st.Get(ike.CounterCookiesInvalid)+st.Get(ike.CounterCookiesStale)+st.Get(ike.CounterCookiesReplayed), 0)
	fmt.Fprintf(&b, "IKEv2 fragments sent: %d  received: %d  dropped over limit: %d  reassembly timeouts: %d\n",
		st.Get(ike.CounterFragmentsSent), st.Get(ike.CounterFragmentsReceived), st.Get(ike.CounterDropFragmentLimit), st.Get(ike.CounterFragmentTimeouts))
	b.WriteString("\nEngine counters:\n")
	m := st.Map()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-24s %d\n", k, m[k])
	}
	certs := d.engine.CertificateRejects()
	var certTotal uint64
	for _, v := range certs {
		certTotal += v
	}
	if certTotal > 0 {
		b.WriteString("\nPeer certificates refused by reason:\n")
		ck := make([]string, 0, len(certs))
		for k := range certs {
			ck = append(ck, k)
		}
		sort.Strings(ck)
		for _, k := range ck {
			if certs[k] > 0 {
				fmt.Fprintf(&b, "  %-24s %d\n", k, certs[k])
			}
		}
	}
	fails := d.Failures()
	if len(fails) > 0 {
		b.WriteString("\nFailures by notify:\n")
		fk := make([]string, 0, len(fails))
		for k := range fails {
			fk = append(fk, k)
		}
		sort.Strings(fk)
		for _, k := range fk {
			fmt.Fprintf(&b, "  %-24s %d\n", k, fails[k])
		}
	}
	return api.Result{Data: map[string]any{"incoming": in, "incoming_active": inAct, "outgoing": out, "outgoing_active": outAct,
		"counters": m, "failures": fails, "certificates_refused": certs}, Text: b.String()}, nil
}

func (d *Daemon) showIKEv2Profile(ctx context.Context, args []string) (api.Result, error) {
	cfg := d.Config()
	var out []*config.Profile
	for _, p := range cfg.Profiles {
		if len(args) == 0 || p.Name == args[0] {
			out = append(out, p)
		}
	}
	if len(args) > 0 && len(out) == 0 {
		return api.Result{}, usage("no crypto ikev2 profile %s", args[0])
	}
	var b bytes.Buffer
	for _, p := range out {
		config.ShowProfile(&b, p)
		b.WriteString("\n")
	}
	return api.Result{Data: out, Text: b.String()}, nil
}

func (d *Daemon) showRoute(family int) api.Handler {
	return func(ctx context.Context, args []string) (api.Result, error) {
		vrf := rib.DefaultVRF
		switch {
		case len(args) == 0:
		case len(args) == 2 && strings.HasPrefix("vrf", args[0]):
			vrf = args[1]
		default:
			return api.Result{}, usage("expected [vrf NAME]")
		}
		routes := d.rib.Routes(vrf, family)
		var b bytes.Buffer
		if family == 4 {
			rib.WriteIPRoute(&b, routes, vrf, d.now())
		} else {
			rib.WriteIPv6Route(&b, routes, vrf)
		}
		if routes == nil {
			routes = []rib.Route{}
		}
		return api.Result{Data: routes, Text: b.String()}, nil
	}
}

func vaNumber(args []string) (int, error) {
	if len(args) != 1 {
		return 0, usage("expected a virtual-access number")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n <= 0 {
		return 0, usage("bad virtual-access number %q", args[0])
	}
	return n, nil
}

// vaJSON is the -o json form of a virtual-access interface.
type vaJSON struct {
	Interface   string         `json:"interface"`
	Template    string         `json:"cloned_from"`
	Mode        string         `json:"mode"`
	Source      netip.Addr     `json:"tunnel_source"`
	Destination netip.Addr     `json:"tunnel_destination"`
	Protection  string         `json:"ipsec_profile"`
	Unnumbered  string         `json:"ip_unnumbered,omitempty"`
	Address     netip.Addr     `json:"address,omitzero"`
	RxPackets   uint64         `json:"rx_packets"`
	RxBytes     uint64         `json:"rx_bytes"`
	TxPackets   uint64         `json:"tx_packets"`
	TxBytes     uint64         `json:"tx_bytes"`
	Routes      []netip.Prefix `json:"accepted_routes,omitempty"`
}

func (d *Daemon) vaRows() []vaJSON {
	cfg := d.Config()
	tstats := map[dataplane.TunnelID]dataplane.TunnelStats{}
	for _, t := range d.dp.Tunnels() {
		tstats[t.Config.ID] = t
	}
	var out []vaJSON
	for _, s := range d.Sessions() {
		if s.Template == "" {
			continue
		}
		v := vaJSON{Interface: s.Interface, Template: s.Template, Mode: s.Mode, Source: s.Local.Addr(), Destination: s.Remote.Addr(), Routes: s.Routes}
		if vt := cfg.Interface(s.Template); vt != nil {
			v.Unnumbered = vt.Unnumbered
			v.Protection = ipsecProfileName(vt)
			if a, ok := interfaceAddr(cfg, vt.Name, false); ok {
				v.Address = a
			}
		}
		t := tstats[s.TunnelID]
		v.RxPackets, v.RxBytes, v.TxPackets, v.TxBytes = t.RxPackets, t.RxBytes, t.TxPackets, t.TxBytes
		out = append(out, v)
	}
	return out
}

func (d *Daemon) showVirtualAccess(ctx context.Context, args []string) (api.Result, error) {
	rows := d.vaRows()
	if len(args) > 0 {
		n, err := vaNumber(args)
		if err != nil {
			return api.Result{}, err
		}
		var sel []vaJSON
		for _, r := range rows {
			if r.Interface == "Virtual-Access"+strconv.Itoa(n) {
				sel = append(sel, r)
			}
		}
		if len(sel) == 0 {
			return api.Result{}, usage("Virtual-Access%d does not exist", n)
		}
		rows = sel
	}
	var b strings.Builder
	for _, v := range rows {
		fmt.Fprintf(&b, "%s is up, line protocol is up \n", v.Interface)
		b.WriteString("  Hardware is Virtual Access interface\n")
		if v.Unnumbered != "" {
			fmt.Fprintf(&b, "  Interface is unnumbered. Using address of %s (%s)\n", v.Unnumbered, v.Address)
		}
		b.WriteString("  MTU 9922 bytes, BW 100 Kbit/sec, DLY 50000 usec, \n")
		b.WriteString("  Encapsulation TUNNEL\n")
		fmt.Fprintf(&b, "  Tunnel vaccess, cloned from %s\n", v.Template)
		fmt.Fprintf(&b, "  Tunnel source %s, destination %s\n", v.Source, v.Destination)
		if v.Mode == "gre" {
			b.WriteString("  Tunnel protocol/transport GRE/IP\n")
		} else {
			b.WriteString("  Tunnel protocol/transport IPSEC/IP\n")
		}
		fmt.Fprintf(&b, "  Tunnel protection via IPSec (profile \"%s\")\n", v.Protection)
		fmt.Fprintf(&b, "     %d packets input, %d bytes\n", v.RxPackets, v.RxBytes)
		fmt.Fprintf(&b, "     %d packets output, %d bytes\n", v.TxPackets, v.TxBytes)
	}
	return api.Result{Data: rows, Text: b.String()}, nil
}

func (d *Daemon) showDerived(ctx context.Context, args []string) (api.Result, error) {
	n, err := vaNumber(args)
	if err != nil {
		return api.Result{}, err
	}
	name := "Virtual-Access" + strconv.Itoa(n)
	var sess *Session
	for _, s := range d.Sessions() {
		if s.Interface == name {
			sess = &s
		}
	}
	if sess == nil {
		return api.Result{}, usage("%s does not exist", name)
	}
	cfg := d.Config()
	lines := derivedConfig(cfg, sess)
	text := fmt.Sprintf("Building configuration...\n\nDerived configuration : %d bytes\n!\n%s\nend\n", len(strings.Join(lines, "\n"))+1, strings.Join(lines, "\n"))
	return api.Result{Data: map[string]any{"interface": name, "lines": lines}, Text: text}, nil
}

// derivedConfig is the virtual template's interface block, renamed to the
// virtual-access, with the tunnel endpoints the session filled in.
func derivedConfig(cfg *config.Config, s *Session) []string {
	var body []string
	protection := ""
	mode := ""
	in := false
	for _, l := range strings.Split(cfg.RunningConfig(false), "\n") {
		if strings.HasPrefix(l, "interface ") {
			in = strings.Fields(l)[1] == s.Template
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(l, " ") {
			in = false
			continue
		}
		switch {
		case strings.HasPrefix(l, " tunnel source"), strings.HasPrefix(l, " tunnel destination"):
		case strings.HasPrefix(l, " tunnel mode"):
			mode = l
		case strings.HasPrefix(l, " tunnel protection"):
			protection = l
		default:
			body = append(body, l)
		}
	}
	out := []string{"interface " + s.Interface}
	out = append(out, body...)
	out = append(out, " tunnel source "+s.Local.Addr().String())
	if s.plan != nil && s.plan.TunnelMode != "" && s.plan.Interface != nil && s.plan.Interface.Tunnel != nil &&
		s.plan.TunnelMode != s.plan.Interface.Tunnel.EffectiveMode() {
		// mode auto chose another mode than the template's
		mode = " tunnel mode " + string(s.plan.TunnelMode)
	} else if s.Mode == "ipsec" && mode == "" {
		mode = " tunnel mode ipsec ipv4"
		if s.Remote.Addr().Is6() {
			mode = " tunnel mode ipsec ipv6"
		}
	}
	if mode != "" {
		out = append(out, mode)
	}
	out = append(out, " tunnel destination "+s.Remote.Addr().String())
	if protection != "" {
		out = append(out, protection)
	}
	out = append(out, " no tunnel protection ipsec initiate")
	return out
}

// ipsecSAJSON is the -o json form of one interface's IPsec SAs.
type ipsecSAJSON struct {
	Interface string              `json:"interface"`
	Local     netip.AddrPort      `json:"local"`
	Peer      netip.AddrPort      `json:"peer"`
	VRF       string              `json:"protected_vrf,omitempty"`
	Flows     []string            `json:"flows"`
	Inbound   []dataplane.SAStats `json:"inbound"`
	Outbound  []dataplane.SAStats `json:"outbound"`
	Children  []childSummary      `json:"child_sas"`
}

type childSummary struct {
	InboundSPI  string `json:"inbound_spi"`
	OutboundSPI string `json:"outbound_spi"`
	Transform   string `json:"transform"`
	Mode        string `json:"mode"`
}

func transformName(p suite.Proposal) string {
	switch p.Encr {
	case wire.EncrAESGCM16:
		return fmt.Sprintf("esp-gcm %d", p.KeyBits)
	case wire.EncrAESCBC:
		s := fmt.Sprintf("esp-%d-aes", p.KeyBits)
		switch p.Integ {
		case wire.IntegHMACSHA196:
			s += " esp-sha-hmac"
		case wire.IntegHMACSHA2256128:
			s += " esp-sha256-hmac"
		}
		return s
	}
	return p.String()
}

func (d *Daemon) showIPsecSA(ctx context.Context, args []string) (api.Result, error) {
	var peer netip.Addr
	switch {
	case len(args) == 0:
	case len(args) == 2 && strings.HasPrefix("peer", args[0]):
		a, err := netip.ParseAddr(args[1])
		if err != nil {
			return api.Result{}, usage("bad peer address %q", args[1])
		}
		peer = a.Unmap()
	default:
		return api.Result{}, usage("expected [peer ADDRESS]")
	}
	all := d.dp.SAs()
	find := func(spi uint32, dir dataplane.Direction) (dataplane.SAStats, bool) {
		for _, st := range all {
			if st.SPI == spi && st.Direction == dir {
				return st, true
			}
		}
		return dataplane.SAStats{}, false
	}
	var rows []ipsecSAJSON
	now := d.now()
	var b strings.Builder
	for _, s := range d.Sessions() {
		if peer.IsValid() && s.Remote.Addr().Unmap() != peer {
			continue
		}
		r := ipsecSAJSON{Interface: s.Interface, Local: s.Local, Peer: s.Remote, VRF: s.VRF}
		spis := make([]uint32, 0, len(s.Children))
		for spi := range s.Children {
			spis = append(spis, spi)
		}
		sort.Slice(spis, func(i, j int) bool { return spis[i] < spis[j] })
		fmt.Fprintf(&b, "\ninterface: %s\n    Crypto map tag: %s-head-0, local addr %s\n\n", s.Interface, s.Interface, s.Local.Addr())
		vrf := s.VRF
		if vrf == "" {
			vrf = "(none)"
		}
		fmt.Fprintf(&b, "   protected vrf: %s\n", vrf)
		for _, spi := range spis {
			c := s.Children[spi]
			r.Flows = append(r.Flows, tsFlow(c.LocalTS, c.RemoteTS))
			in, _ := find(c.InboundSPI, dataplane.Inbound)
			out, _ := find(c.OutboundSPI, dataplane.Outbound)
			r.Inbound, r.Outbound = append(r.Inbound, in), append(r.Outbound, out)
			r.Children = append(r.Children, childSummary{InboundSPI: fmt.Sprintf("0x%08X", c.InboundSPI), OutboundSPI: fmt.Sprintf("0x%08X", c.OutboundSPI),
				Transform: transformName(c.Proposal), Mode: c.Mode.String()})
			fmt.Fprintf(&b, "   local  ident (addr/mask/prot/port): (%s)\n", identStr(c.LocalTS))
			fmt.Fprintf(&b, "   remote ident (addr/mask/prot/port): (%s)\n", identStr(c.RemoteTS))
			fmt.Fprintf(&b, "   current_peer %s port %d\n", s.Remote.Addr(), s.Remote.Port())
			b.WriteString("     PERMIT, flags={origin_is_acl,}\n")
			fmt.Fprintf(&b, "    #pkts encaps: %d, #pkts encrypt: %d, #pkts digest: %d\n", out.Packets, out.Packets, out.Packets)
			fmt.Fprintf(&b, "    #pkts decaps: %d, #pkts decrypt: %d, #pkts verify: %d\n", in.Packets, in.Packets, in.Packets)
			b.WriteString("    #pkts compressed: 0, #pkts decompressed: 0\n")
			b.WriteString("    #pkts not compressed: 0, #pkts compr. failed: 0\n")
			b.WriteString("    #pkts not decompressed: 0, #pkts decompress failed: 0\n")
			fmt.Fprintf(&b, "    #send errors 0, #recv errors %d\n", in.Drops)
			fmt.Fprintf(&b, "    #replay drops %d, #auth failures %d\n\n", in.ReplayDrops, in.AuthFailures)
			fmt.Fprintf(&b, "     local crypto endpt.: %s, remote crypto endpt.: %s\n", s.Local.Addr(), s.Remote.Addr())
			fmt.Fprintf(&b, "     current outbound spi: 0x%X(%d)\n", c.OutboundSPI, c.OutboundSPI)
			pfs := "N"
			if c.Proposal.DH != wire.DHNone {
				pfs = "Y"
			}
			fmt.Fprintf(&b, "     PFS (Y/N): %s, DH group: %s\n\n", pfs, dhName(c.Proposal.DH))
			encap := ""
			if s.Encap {
				encap = "-UDP-Encaps"
			}
			mode := "Tunnel"
			if c.Mode == ike.ModeTransport {
				mode = "Transport"
			}
			remaining := int(c.Lifetime.Seconds() - now.Sub(c.Created).Seconds())
			for _, half := range []struct {
				name string
				spi  uint32
				st   dataplane.SAStats
			}{{"inbound", c.InboundSPI, in}, {"outbound", c.OutboundSPI, out}} {
				fmt.Fprintf(&b, "     %s esp sas:\n", half.name)
				fmt.Fprintf(&b, "      spi: 0x%X(%d)\n", half.spi, half.spi)
				fmt.Fprintf(&b, "        transform: %s ,\n", transformName(c.Proposal))
				fmt.Fprintf(&b, "        in use settings ={%s%s, }\n", mode, encap)
				fmt.Fprintf(&b, "        conn id: %d, flow_id: %d, sibling_flags FFFFFFFF80000048, crypto map: %s-head-0\n", s.ID, s.ID, s.Interface)
				fmt.Fprintf(&b, "        sa timing: remaining key lifetime (k/sec): (%d/%d)\n", remainingKB(half.st), max(remaining, 0))
				replay := "Y"
				if half.st.ReplayWindowSize < 0 {
					replay = "N"
				}
				fmt.Fprintf(&b, "        replay detection support: %s  replay window size: %d\n", replay, max(half.st.ReplayWindowSize, 0))
				b.WriteString("        Status: ACTIVE(ACTIVE)\n\n")
			}
		}
		rows = append(rows, r)
	}
	return api.Result{Data: rows, Text: b.String()}, nil
}

func remainingKB(st dataplane.SAStats) uint64 {
	if st.Lifetime.HardBytes == 0 {
		return config.DefaultIPsecLifetimeKB
	}
	if st.Bytes >= st.Lifetime.HardBytes {
		return 0
	}
	return (st.Lifetime.HardBytes - st.Bytes) / 1024
}

func dhName(g wire.DHGroup) string {
	if g == wire.DHNone {
		return "none"
	}
	return fmt.Sprintf("group%d", uint16(g))
}

func identStr(ts []ike.TrafficSelector) string {
	if len(ts) == 0 {
		return "0.0.0.0/0.0.0.0/0/0"
	}
	t := ts[0]
	p, ok := tsPrefix(t)
	if !ok {
		return fmt.Sprintf("%s-%s/%d/%d", t.Start, t.End, t.Proto, t.StartPort)
	}
	port := 0
	if t.StartPort == t.EndPort {
		port = int(t.StartPort)
	}
	if p.Addr().Is4() {
		return fmt.Sprintf("%s/%s/%d/%d", p.Addr(), netip.AddrFrom4([4]byte(maskBytes(p.Bits()))), t.Proto, port)
	}
	return fmt.Sprintf("%s/%d/%d", p, t.Proto, port)
}

// DataplaneInfo is the -o json form of `show dataplane`.
type DataplaneInfo struct {
	Backend string `json:"backend"`
	// ESPGCM is the AES-GCM implementation of the ESP packet path:
	// "vaes-avx512" (our own) or "stdlib" (crypto/cipher).
	ESPGCM  string                  `json:"esp_gcm"`
	Tunnels []dataplane.TunnelStats `json:"tunnels"`
	SAs     []dataplane.SAStats     `json:"sas"`
	Drops   map[string]uint64       `json:"drops"`
	Routes  map[string]int          `json:"fib_routes_by_vrf"`
	// BackendStatus is the backend's own report (Options.BackendStatus).
	BackendStatus any `json:"backend_status,omitempty"`
}

func (d *Daemon) dataplaneInfo() DataplaneInfo {
	in := DataplaneInfo{Backend: d.opts.Backend, ESPGCM: esp.GCMImplementation(), Tunnels: d.dp.Tunnels(), SAs: d.dp.SAs(), Drops: map[string]uint64{}, Routes: map[string]int{}}
	for r, n := range d.dp.Drops() {
		in.Drops[r.String()] = n
	}
	for _, v := range d.rib.VRFs() {
		in.Routes[v] = len(d.rib.Routes(v, 0))
	}
	return in
}

func (d *Daemon) showDataplane(ctx context.Context, args []string) (api.Result, error) {
	in := d.dataplaneInfo()
	var b strings.Builder
	var backendText string
	if d.opts.BackendStatus != nil {
		in.BackendStatus, backendText = d.opts.BackendStatus()
	}
	if backendText != "" {
		b.WriteString(backendText)
		fmt.Fprintf(&b, "ESP AES-GCM: %s\n\n", in.ESPGCM)
	} else {
		fmt.Fprintf(&b, "Dataplane backend: %s\nESP AES-GCM: %s\n", in.Backend, in.ESPGCM)
	}
	fmt.Fprintf(&b, "Tunnels: %d, SAs: %d\n\n", len(in.Tunnels), len(in.SAs))
	sort.Slice(in.Tunnels, func(i, j int) bool { return in.Tunnels[i].Config.ID < in.Tunnels[j].Config.ID })
	names := map[dataplane.TunnelID]string{}
	for _, s := range d.Sessions() {
		names[s.TunnelID] = s.Interface
	}
	fmt.Fprintf(&b, "%-18s%-7s%-24s%-24s%10s%12s%10s%12s\n", "Interface", "Mode", "Local", "Remote", "RxPkts", "RxBytes", "TxPkts", "TxBytes")
	for _, t := range in.Tunnels {
		name := names[t.Config.ID]
		if name == "" {
			name = strconv.FormatUint(uint64(t.Config.ID), 10)
		}
		l, r := t.Config.Local.String(), t.Config.Remote.String()
		if t.Config.Encap {
			l, r = netip.AddrPortFrom(t.Config.Local, t.Config.LocalPort).String(), netip.AddrPortFrom(t.Config.Remote, t.Config.RemotePort).String()
		}
		fmt.Fprintf(&b, "%-18s%-7s%-24s%-24s%10d%12d%10d%12d\n", name, t.Config.Mode, l, r, t.RxPackets, t.RxBytes, t.TxPackets, t.TxBytes)
	}
	if backendText != "" {
		return api.Result{Data: in, Text: b.String()}, nil
	}
	b.WriteString("\nDrops by reason:\n")
	keys := make([]string, 0, len(in.Drops))
	for k := range in.Drops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-20s %d\n", k, in.Drops[k])
	}
	return api.Result{Data: in, Text: b.String()}, nil
}

func (d *Daemon) clearSession(ctx context.Context, args []string) (api.Result, error) {
	var remote netip.Addr
	switch {
	case len(args) == 0:
	case len(args) == 2 && strings.HasPrefix("remote", args[0]):
		a, err := netip.ParseAddr(args[1])
		if err != nil {
			return api.Result{}, usage("bad remote address %q", args[1])
		}
		remote = a
	default:
		return api.Result{}, usage("expected [remote ADDRESS]")
	}
	n, err := d.ClearSessions(ctx, remote)
	if err != nil {
		return api.Result{}, err
	}
	return api.Result{Data: map[string]int{"cleared": n}, Text: fmt.Sprintf("cleared %d IKE session(s)\n", n)}, nil
}

func (d *Daemon) showTrustpoints(ctx context.Context, args []string) (api.Result, error) {
	tps := d.Trustpoints()
	var b strings.Builder
	for _, t := range tps {
		fmt.Fprintf(&b, "Trustpoint %s:\n", t.Name)
		fmt.Fprintf(&b, "  Files: %s\n", t.Dir)
		for _, ca := range t.CAs {
			fmt.Fprintf(&b, "  CA certificate: %s\n", ca)
		}
		if t.Certificate != "" {
			fmt.Fprintf(&b, "  Certificate: %s (%s key, valid until %s)\n", t.Certificate, t.KeyType, t.NotAfter.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(&b, "  Revocation check: %s, CRLs loaded: %d\n", t.Revocation, t.CRLs)
		if t.Error != "" {
			fmt.Fprintf(&b, "  Error: %s\n", t.Error)
		}
	}
	return api.Result{Data: tps, Text: b.String()}, nil
}

// clusterJSON is `show crypto ikev2 cluster`.
type clusterJSON struct {
	Configured      bool         `json:"configured"`
	Shutdown        bool         `json:"shutdown"`
	RedirectInit    bool         `json:"redirect_gateway_init"`
	RedirectAuth    bool         `json:"redirect_gateway_auth"`
	Members         []netip.Addr `json:"members"`
	SlaveMaxSession int          `json:"slave_max_session"`
	LocalSessions   int          `json:"local_sessions"`
	RedirectsSent   uint64       `json:"redirects_sent"`
}

func (d *Daemon) showCluster(ctx context.Context, args []string) (api.Result, error) {
	cfg := d.Config()
	d.mu.Lock()
	n := len(d.sessions)
	d.mu.Unlock()
	cj := clusterJSON{RedirectInit: hasWord(cfg.IKEv2.RedirectGateway, "init"), RedirectAuth: hasWord(cfg.IKEv2.RedirectGateway, "auth"),
		LocalSessions: n, RedirectsSent: d.engine.Stats().Get(ike.CounterRedirectsSent)}
	if cl := cfg.IKEv2.Cluster; cl != nil {
		cj.Configured, cj.Shutdown, cj.Members, cj.SlaveMaxSession = true, cl.Shutdown, cl.Members, cl.SlaveMaxSession
	}
	var b strings.Builder
	if !cj.Configured {
		b.WriteString("IKEv2 cluster not configured\n")
		return api.Result{Data: cj, Text: b.String()}, nil
	}
	state := "enabled"
	if cj.Shutdown {
		state = "shut down"
	}
	fmt.Fprintf(&b, "IKEv2 cluster %s (static members; no load protocol)\n", state)
	fmt.Fprintf(&b, "  Redirect gateway: init %v, auth %v\n", cj.RedirectInit, cj.RedirectAuth)
	fmt.Fprintf(&b, "  Local sessions: %d, kept before redirecting (slave max-session): %d\n", cj.LocalSessions, cj.SlaveMaxSession)
	for _, m := range cj.Members {
		fmt.Fprintf(&b, "  Member: %s\n", m)
	}
	fmt.Fprintf(&b, "  Redirects sent: %d\n", cj.RedirectsSent)
	return api.Result{Data: cj, Text: b.String()}, nil
}
