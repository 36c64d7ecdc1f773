package control

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/pki"
)

func TestEngineSettingsFromConfig(t *testing.T) {
	base := "crypto ikev2 proposal p\n encryption aes-gcm-256\n prf sha256\n group 19\n"
	for _, c := range []struct {
		name, cfg string
		want      ike.Settings
	}{
		{"defaults", "", ike.Settings{}},
		{"fragmentation default mtu", "crypto ikev2 fragmentation\n", ike.Settings{Fragmentation: true}},
		{"fragmentation mtu", "crypto ikev2 fragmentation mtu 1300\n", ike.Settings{Fragmentation: true, FragmentMTU: 1300}},
		{"cookie-challenge N", "crypto ikev2 cookie-challenge 450\n", ike.Settings{CookieThreshold: 450}},
		{"cookie-challenge 0 challenges all", "crypto ikev2 cookie-challenge 0\n", ike.Settings{CookieThreshold: -1}},
		{"limits", "crypto ikev2 limit max-sa 5000\ncrypto ikev2 limit max-in-negotiation-sa 40 incoming\ncrypto ikev2 limit max-in-negotiation-sa 400 outgoing\n",
			ike.Settings{MaxSAs: 5000, MaxHalfOpen: 40, MaxInNegotiationOutgoing: 400}},
		{"in-negotiation both ways", "crypto ikev2 limit max-in-negotiation-sa 70\n", ike.Settings{MaxHalfOpen: 70, MaxInNegotiationOutgoing: 70}},
		{"redirect client", "crypto ikev2 redirect client\n", ike.Settings{FollowRedirects: true}},
		{"redirect client max", "crypto ikev2 redirect client max-redirects 15\n", ike.Settings{FollowRedirects: true, MaxRedirects: 15}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := engineSettings(parse(t, "g.cfg", base+c.cfg), nil)
			if got.CookieThreshold != c.want.CookieThreshold || got.MaxHalfOpen != c.want.MaxHalfOpen ||
				got.MaxSAs != c.want.MaxSAs || got.MaxInNegotiationOutgoing != c.want.MaxInNegotiationOutgoing ||
				got.Fragmentation != c.want.Fragmentation || got.FragmentMTU != c.want.FragmentMTU ||
				got.FollowRedirects != c.want.FollowRedirects || got.MaxRedirects != c.want.MaxRedirects {
				t.Fatalf("settings %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestProfileDPD(t *testing.T) {
	cfg := parse(t, "d.cfg", `crypto ikev2 dpd 30 5 periodic
crypto ikev2 profile a
 match identity remote fqdn a.lab.example
 dpd 10 2 on-demand
crypto ikev2 profile b
 match identity remote fqdn b.lab.example
`)
	var a, b ike.Profile
	profileDPDSettings(cfg, cfg.Profile("a"), &a)
	profileDPDSettings(cfg, cfg.Profile("b"), &b)
	if a.DPDInterval != 10*time.Second || a.DPDRetry != 2*time.Second || a.DPDRetries != ike.DefaultDPDRetries || !a.DPDOnDemand {
		t.Errorf("profile dpd 10 2 on-demand: %+v", a)
	}
	if b.DPDInterval != 30*time.Second || b.DPDRetry != 5*time.Second || b.DPDOnDemand {
		t.Errorf("global dpd 30 5 periodic: %+v", b)
	}
}

// labPKI is a CA and the trustpoint directories of a test, written the way
// esphubctl pki does.
type labPKI struct {
	t  *testing.T
	ca *pki.CA
}

func newLabPKI(t *testing.T, kt pki.KeyType) *labPKI {
	t.Helper()
	k, err := pki.GenerateKey(kt)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(k, pki.CAOptions{Subject: pkix.Name{CommonName: "esphub control test CA"}})
	if err != nil {
		t.Fatal(err)
	}
	return &labPKI{t: t, ca: ca}
}

// trustpoint writes DIR/NAME/{ca,cert,key}.pem for a node called cn and
// returns DIR and the certificate.
func (l *labPKI) trustpoint(kt pki.KeyType, name, cn string) (string, *x509.Certificate) {
	l.t.Helper()
	dir := l.t.TempDir()
	k, err := pki.GenerateKey(kt)
	if err != nil {
		l.t.Fatal(err)
	}
	cert, err := l.ca.Issue(k.Public(), pki.IssueOptions{Subject: pkix.Name{CommonName: cn, OrganizationalUnit: []string{"flex"}}, DNS: []string{cn}})
	if err != nil {
		l.t.Fatal(err)
	}
	keyPEM, err := pki.EncodePrivateKeyPEM(k)
	if err != nil {
		l.t.Fatal(err)
	}
	tp := filepath.Join(dir, name)
	must(l.t, os.MkdirAll(tp, 0o700))
	must(l.t, os.WriteFile(filepath.Join(tp, pkiCAFile), pki.EncodeCertificatePEM(l.ca.Cert), 0o644))
	must(l.t, os.WriteFile(filepath.Join(tp, pkiCertFile), pki.EncodeCertificatePEM(cert), 0o644))
	must(l.t, os.WriteFile(filepath.Join(tp, pkiKeyFile), keyPEM, 0o600))
	return dir, cert
}

// revoke writes a CRL listing certs into DIR/NAME/crl.pem.
func (l *labPKI) revoke(dir, name string, number int64, certs ...*x509.Certificate) {
	l.t.Helper()
	now := time.Now()
	der, err := l.ca.CRL(pki.Revocations(now.Add(-time.Minute), certs...), number, now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		l.t.Fatal(err)
	}
	path := filepath.Join(dir, name, pkiCRLFile)
	must(l.t, os.WriteFile(path, der, 0o644))
	// A distinct modification time, so the poller sees a new file even
	// within the file system's timestamp granularity.
	mt := now.Add(time.Duration(number) * time.Second)
	must(l.t, os.Chtimes(path, mt, mt))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func startSideOpts(t *testing.T, net *transport.MemNetwork, addr string, cfg *config.Config, o Options) *side {
	t.Helper()
	if o.RetryMin == 0 {
		o.RetryMin, o.RetryMax = 100*time.Millisecond, 400*time.Millisecond
	}
	o.IKE.RetransmitTimeout, o.IKE.RetransmitTries = 200*time.Millisecond, 4
	return launchSide(t, net, addr, cfg, o, 10*time.Second)
}

const certHubCfg = `hostname hub
crypto pki trustpoint lab
 revocation-check crl none
crypto pki certificate map spokes 10
 subject-name co ou = flex
 issuer-name co esphub control test ca
crypto ikev2 fragmentation mtu 576
crypto ikev2 disconnect-revoked-peers
crypto ikev2 proposal p
 encryption aes-gcm-256
 prf sha256
 group 19
crypto ikev2 policy p
 proposal p
crypto ikev2 profile spokes
 match certificate spokes
 identity local dn
 authentication local ecdsa-sig
 authentication remote ecdsa-sig
 pki trustpoint lab
 dpd 10 2 on-demand
 virtual-template 1
crypto ipsec transform-set g esp-gcm 256
crypto ipsec profile spokes
 set transform-set g
 set ikev2-profile spokes
interface Loopback0
 ip address 198.19.255.254 255.255.255.255
interface GigabitEthernet1
 ip address 198.18.0.2 255.255.255.0
interface Virtual-Template1 type tunnel
 ip unnumbered Loopback0
 tunnel source GigabitEthernet1
 tunnel mode ipsec ipv4
 tunnel protection ipsec profile spokes
end
`

const certSpokeCfg = `hostname s1
crypto pki trustpoint lab
 revocation-check crl none
crypto ikev2 fragmentation
crypto ikev2 proposal p
 encryption aes-gcm-256
 prf sha256
 group 19
crypto ikev2 policy p
 proposal p
crypto ikev2 profile hub
 match identity remote any
 identity local dn
 authentication local ecdsa-sig
 authentication remote ecdsa-sig
 pki trustpoint lab
 dpd 10 2 periodic
crypto ipsec transform-set g esp-gcm 256
crypto ipsec profile hub
 set transform-set g
 set ikev2-profile hub
interface Loopback0
 ip address 198.19.255.1 255.255.255.255
interface GigabitEthernet1
 ip address 198.18.1.2 255.255.255.0
interface Tunnel0
 ip unnumbered Loopback0
 tunnel source GigabitEthernet1
 tunnel mode ipsec ipv4
 tunnel destination 198.18.0.2
 tunnel protection ipsec profile hub
end
`

// TestCertificateHubAndSpoke: ECDSA certificates from trustpoint files,
// identity local dn, a certificate map selecting the hub's profile,
// fragmentation at 576 and DPD settings reach the engine and the show
// output; a new CRL with disconnect-revoked-peers tears the session down
// and the spoke's next attempts are refused as revoked, counted by reason.
func TestCertificateHubAndSpoke(t *testing.T) {
	lab := newLabPKI(t, pki.KeyP256)
	hubDir, _ := lab.trustpoint(pki.KeyP256, "lab", "hub.lab.example")
	spokeDir, spokeCert := lab.trustpoint(pki.KeyP256, "lab", "s1.lab.example")
	net := transport.NewMemNetwork(transport.MemOptions{})
	hub := startSideOpts(t, net, "198.18.0.2", parse(t, "hub.cfg", certHubCfg), Options{PKIDir: hubDir, CRLPoll: -1})
	spoke := startSideOpts(t, net, "198.18.1.2", parse(t, "s1.cfg", certSpokeCfg), Options{PKIDir: spokeDir, CRLPoll: -1})

	waitFor(t, "certificate sessions on both sides", func() bool {
		return len(hub.d.Sessions()) == 1 && len(spoke.d.Sessions()) == 1
	})
	r := hub.run(t, "show", "crypto", "ikev2", "sa", "detailed")
	for _, w := range []string{
		"Auth sign: ECDSA, Auth verify: ECDSA",
		"Local id: CN=hub.lab.example,OU=flex",
		"Remote id: CN=s1.lab.example,OU=flex",
		"Peer certificate: cn=s1.lab.example,ou=flex (issuer cn=esphub control test CA)",
		"DPD configured for 10 seconds, retry 2 (on-demand)",
		"IETF Std Fragmentation enabled.",
		"IETF Std Fragmentation MTU in use: 548 bytes.",
	} {
		if !strings.Contains(r.Text, w) {
			t.Errorf("hub show crypto ikev2 sa detailed: missing %q in\n%s", w, r.Text)
		}
	}
	sr := spoke.run(t, "show", "crypto", "ikev2", "sa", "detailed")
	for _, w := range []string{"Auth sign: ECDSA, Auth verify: ECDSA", "DPD configured for 10 seconds, retry 2 (periodic)", "IETF Std Fragmentation enabled."} {
		if !strings.Contains(sr.Text, w) {
			t.Errorf("spoke show crypto ikev2 sa detailed: missing %q in\n%s", w, sr.Text)
		}
	}
	tr := hub.run(t, "show", "crypto", "pki", "trustpoints")
	for _, w := range []string{"Trustpoint lab:", "CA certificate: cn=esphub control test CA", "Certificate: cn=hub.lab.example,ou=flex (p256 key", "Revocation check: crl none, CRLs loaded: 0"} {
		if !strings.Contains(tr.Text, w) {
			t.Errorf("show crypto pki trustpoints: missing %q in\n%s", w, tr.Text)
		}
	}

	// The CA revokes the spoke; the hub picks the CRL up and disconnects it.
	lab.revoke(hubDir, "lab", 1, spokeCert)
	n, err := hub.d.ReloadCRLs(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ReloadCRLs: %d disconnected, %v; want 1", n, err)
	}
	waitFor(t, "the revoked spoke's reconnects to be refused", func() bool {
		return hub.d.Engine().CertificateRejects()["revoked"] > 0
	})
	if s := hub.d.Sessions(); len(s) != 0 {
		t.Errorf("hub still has sessions after revocation: %+v", s)
	}
	st := hub.run(t, "show", "crypto", "ikev2", "stats")
	if !strings.Contains(st.Text, "Peer certificates refused by reason:\n  revoked") {
		t.Errorf("stats do not count the revoked certificate:\n%s", st.Text)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(hub.d.Metrics())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var revoked float64
	for _, mf := range mfs {
		if mf.GetName() != "esphub_ike_certificates_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == "revoked" {
					revoked = m.GetCounter().GetValue()
				}
			}
		}
	}
	if revoked == 0 {
		t.Error(`esphub_ike_certificates_refused_total{reason="revoked"} is 0`)
	}
}

// TestCertificateProfileErrors: profiles whose certificate side cannot work
// fail with a reason naming the file or setting.
func TestCertificateProfileErrors(t *testing.T) {
	lab := newLabPKI(t, pki.KeyP256)
	dir, _ := lab.trustpoint(pki.KeyP256, "lab", "hub.lab.example")
	for _, c := range []struct{ name, change, want string }{
		{"rsa-sig with an ECDSA key", "authentication local ecdsa-sig", "authentication local rsa-sig, but the certificate"},
		{"no trustpoint", "\n pki trustpoint lab\n", "needs pki trustpoint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := certHubCfg
			switch c.name {
			case "rsa-sig with an ECDSA key":
				src = strings.Replace(src, c.change, "authentication local rsa-sig", 1)
			case "no trustpoint":
				src = strings.Replace(src, c.change, "\n", 1)
			}
			cfg, diags := config.Parse("e.cfg", []byte(src))
			if cfg == nil {
				t.Fatalf("parse: %v", diags)
			}
			d := &Daemon{trust: newTrustStore(dir, time.Now)}
			d.trust.load(cfg)
			var ip ike.Profile
			q := config.KeyQuery{Role: config.Responder, Address: netip.MustParseAddr("198.18.1.2")}
			err := d.applyCertAuth(cfg, cfg.Profile("spokes"), &ip, q)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// A missing directory is reported by the trust store and by the profile.
	cfg := parse(t, "h.cfg", certHubCfg)
	ts := newTrustStore(t.TempDir(), time.Now)
	ts.load(cfg)
	d := &Daemon{trust: ts}
	var ip ike.Profile
	err := d.applyCertAuth(cfg, cfg.Profile("spokes"), &ip, config.KeyQuery{})
	if err == nil || !strings.Contains(err.Error(), "has no certificate and key") {
		t.Fatalf("missing files: %v", err)
	}
}

// TestRedirectToClusterMember: a director hub (crypto ikev2 redirect
// gateway init, a cluster with one member) sends a redirect-capable spoke
// to the member, where its session comes up.
func TestRedirectToClusterMember(t *testing.T) {
	for _, phase := range []string{"init", "auth"} {
		t.Run(phase, func(t *testing.T) { testRedirectToClusterMember(t, phase) })
	}
}

func testRedirectToClusterMember(t *testing.T, phase string) {
	net := transport.NewMemNetwork(transport.MemOptions{})
	director := strings.Replace(hubCfg, "hostname hub\n", `hostname director
crypto ikev2 redirect gateway `+phase+`
crypto ikev2 cluster
 member 198.18.0.2
 member 198.18.0.3
`, 1)
	if phase == "auth" {
		director = strings.Replace(director, " virtual-template 1\n", " virtual-template 1\n redirect gateway auth\n", 1)
	}
	director = strings.Replace(director, "198.18.0.2 255.255.255.0", "198.18.0.3 255.255.255.0", 1)
	dir := startSide(t, net, "198.18.0.3", parse(t, "director.cfg", director))
	member := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", hubCfg))
	spokeSrc := strings.Replace(spokeCfg, "hostname s1\n", "hostname s1\ncrypto ikev2 redirect client max-redirects 3\n", 1)
	spokeSrc = strings.Replace(spokeSrc, "tunnel destination 198.18.0.2", "tunnel destination 198.18.0.3", 1)
	spokeSrc = strings.Replace(spokeSrc, "  address 198.18.0.2\n", "  address 198.18.0.0 255.255.255.0\n", 1)
	spoke := startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", spokeSrc))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("spoke connectors: %+v", spoke.d.Connectors())
			t.Logf("director stats: %v", dir.d.Engine().Stats().Map())
		}
	})
	waitFor(t, "the spoke's session on the member", func() bool {
		return len(member.d.Sessions()) == 1 && len(spoke.d.Sessions()) == 1
	})
	if s := spoke.d.Sessions()[0]; s.Remote.Addr() != netip.MustParseAddr("198.18.0.2") {
		t.Errorf("spoke session with %v, want the member 198.18.0.2", s.Remote)
	}
	if got := dir.d.Engine().Stats().Get(ike.CounterRedirectsSent); got == 0 {
		t.Error("the director sent no REDIRECT")
	}
	if len(dir.d.Sessions()) != 0 {
		t.Errorf("the director kept a session: %+v", dir.d.Sessions())
	}
	if out := dir.run(t, "show", "crypto", "ikev2", "cluster").Text; !strings.Contains(out, "Member: 198.18.0.2") || strings.Contains(out, "Redirects sent: 0") {
		t.Errorf("show crypto ikev2 cluster:\n%s", out)
	}
	// Shutting the cluster down keeps peers on the director.
	dir.d.Reload(parse(t, "director.cfg", strings.Replace(director, " member 198.18.0.3\n", " member 198.18.0.3\n shutdown\n", 1)))
	if gw, ok := (*policy)(dir.d).RedirectInit(netip.MustParseAddrPort("198.18.0.3:500"), netip.MustParseAddrPort("198.18.1.9:500")); ok {
		t.Errorf("cluster shut down, still redirecting to %v", gw)
	}
}

// TestReloadAppliesEngineSettings: a reload pushes the global IKEv2
// options to the running engine without touching sessions.
func TestReloadAppliesEngineSettings(t *testing.T) {
	net := transport.NewMemNetwork(transport.MemOptions{})
	hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", hubCfg))
	spoke := startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", spokeCfg))
	waitFor(t, "session", func() bool { return len(hub.d.Sessions()) == 1 && len(spoke.d.Sessions()) == 1 })
	before := hub.d.Sessions()[0].IKESPI
	hub.d.Reload(parse(t, "hub.cfg", strings.Replace(hubCfg, "hostname hub\n",
		"hostname hub\ncrypto ikev2 cookie-challenge 10\ncrypto ikev2 limit max-sa 100\ncrypto ikev2 fragmentation mtu 1200\n", 1)))
	s, err := hub.d.Engine().Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.CookieThreshold != 10 || s.MaxSAs != 100 || !s.Fragmentation || s.FragmentMTU != 1200 {
		t.Errorf("engine settings after reload: %+v", s)
	}
	if after := hub.d.Sessions(); len(after) != 1 || after[0].IKESPI != before {
		t.Errorf("reload of global options disturbed the session")
	}
	st := hub.run(t, "show", "crypto", "ikev2", "stats")
	if !strings.Contains(st.Text, "Max IKEv2 SAs: 100") {
		t.Errorf("stats do not show the new limit:\n%s", st.Text)
	}
}

type trafficRep struct {
	spi     uint64
	in, out bool
}

// tunnelsDP lets a test set the dataplane's tunnel counters, as a
// snapshot only: it embeds the interface, so it has no TunnelPackets.
type tunnelsDP struct {
	Dataplane
	tunnels []dataplane.TunnelStats
}

func (t *tunnelsDP) Tunnels() []dataplane.TunnelStats { return t.tunnels }

// packetsDP is a dataplane with per-tunnel counters (tunnelPackets).
type packetsDP struct {
	memDP
	counters map[dataplane.TunnelID][2]uint64
}

func (p *packetsDP) TunnelPackets(id dataplane.TunnelID) (rx, tx uint64, ok bool) {
	c, ok := p.counters[id]
	return c[0], c[1], ok
}

// TestTrafficReports: the on-demand DPD feed reports a session's IKE SA
// when its tunnel's counters moved, in the direction they moved, from a
// snapshot of every tunnel or from per-tunnel counters, and the latter
// allocates nothing in a round.
func TestTrafficReports(t *testing.T) {
	type counts struct{ rx1, tx1, rx2, tx2 uint64 }
	snapshot := &tunnelsDP{}
	perTunnel := &packetsDP{}
	for _, c := range []struct {
		name string
		dp   Dataplane
		set  func(counts)
	}{
		{"snapshot", snapshot, func(n counts) {
			snapshot.tunnels = []dataplane.TunnelStats{
				{Config: dataplane.TunnelConfig{ID: 1}, RxPackets: n.rx1, TxPackets: n.tx1},
				{Config: dataplane.TunnelConfig{ID: 2}, RxPackets: n.rx2, TxPackets: n.tx2},
				{Config: dataplane.TunnelConfig{ID: 3}, RxPackets: 9, TxPackets: 9}, // no session
			}
		}},
		{"per tunnel", perTunnel, func(n counts) {
			perTunnel.counters = map[dataplane.TunnelID][2]uint64{1: {n.rx1, n.tx1}, 2: {n.rx2, n.tx2}, 3: {9, 9}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &Daemon{dp: c.dp, sessions: map[uint64]*Session{
				0xa: {IKESPI: 0xa, TunnelID: 1}, 0xb: {IKESPI: 0xb, TunnelID: 2}, 0xc: {IKESPI: 0xc, TunnelID: 4}, // 4: no tunnel
			}}
			var got []trafficRep
			report := func(spi uint64, in, out bool) { got = append(got, trafficRep{spi, in, out}) }
			tr := &trafficReporter{last: map[uint64][2]uint64{}}
			round := func(n counts) []trafficRep {
				got = nil
				c.set(n)
				d.reportTraffic(tr, report)
				return got
			}
			if r := round(counts{0, 0, 0, 0}); len(r) != 0 {
				t.Fatalf("idle tunnels reported: %+v", r)
			}
			if r := round(counts{5, 0, 0, 3}); len(r) != 2 || !containsRep(r, 0xa, true, false) || !containsRep(r, 0xb, false, true) {
				t.Fatalf("first traffic: %+v", r)
			}
			if r := round(counts{5, 1, 0, 3}); len(r) != 1 || !containsRep(r, 0xa, false, true) {
				t.Fatalf("outbound only on a: %+v", r)
			}
			if c.dp == Dataplane(perTunnel) {
				idle := func(uint64, bool, bool) { t.Error("idle round reported") }
				if n := testing.AllocsPerRun(50, func() { d.reportTraffic(tr, idle) }); n != 0 {
					t.Errorf("%v allocations per idle round", n)
				}
			}
		})
	}
}

func containsRep(rs []trafficRep, spi uint64, in, out bool) bool {
	for _, r := range rs {
		if r == (trafficRep{spi, in, out}) {
			return true
		}
	}
	return false
}

// TestCertificateProfileRefusesPSK: a profile whose remote authentication
// is only a signature method takes no key for the peer, even when a
// keyring has one; with a pre-share line as well, the key is kept.
func TestCertificateProfileRefusesPSK(t *testing.T) {
	lab := newLabPKI(t, pki.KeyP256)
	dir, _ := lab.trustpoint(pki.KeyP256, "lab", "hub.lab.example")
	src := strings.Replace(certHubCfg, " match certificate spokes\n", " match certificate spokes\n keyring local spokes\n", 1)
	src = strings.Replace(src, "crypto ikev2 proposal p\n", "crypto ikev2 keyring spokes\n peer any\n  address 0.0.0.0 0.0.0.0\n  pre-shared-key 0 a-key-for-everyone\ncrypto ikev2 proposal p\n", 1)
	q := config.KeyQuery{Role: config.Responder, Address: netip.MustParseAddr("198.18.1.2")}
	for _, c := range []struct {
		name, src string
		psk       bool
	}{
		{"signature only", src, false},
		{"signature or key", strings.Replace(src, " authentication remote ecdsa-sig\n", " authentication remote ecdsa-sig\n authentication remote pre-share\n", 1), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := parse(t, "h.cfg", c.src)
			d := &Daemon{trust: newTrustStore(dir, time.Now)}
			d.trust.load(cfg)
			var ip ike.Profile
			if err := d.applyCertAuth(cfg, cfg.Profile("spokes"), &ip, q); err != nil {
				t.Fatal(err)
			}
			if len(ip.PeerKeyAlgorithms) != 1 || ip.PeerKeyAlgorithms[0] != x509.ECDSA {
				t.Errorf("peer key algorithms %v, want [ECDSA]", ip.PeerKeyAlgorithms)
			}
			if (ip.RemotePSK != nil) != c.psk || ip.LocalPSK != nil || ip.Trustpoint == nil || ip.LocalCredential == nil {
				t.Fatalf("remote key %v (want %v), local key %v, trustpoint %v, credential %v", ip.RemotePSK != nil, c.psk, ip.LocalPSK != nil, ip.Trustpoint != nil, ip.LocalCredential != nil)
			}
		})
	}
}

// BenchmarkTrafficReport is one round of the on-demand DPD feed on a hub
// with 50,000 sessions, from per-tunnel counters (dataplane.Engine) and
// from a snapshot of every tunnel (dataplanes without TunnelPackets).
func BenchmarkTrafficReport(b *testing.B) {
	const n = 50000
	e := dataplane.NewEngine(dataplane.Options{})
	d := &Daemon{dp: memDP{e}, sessions: make(map[uint64]*Session, n)}
	local := netip.MustParseAddr("198.18.0.1")
	for i := range n {
		id := dataplane.TunnelID(i + 1)
		remote := netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)})
		if err := e.AddTunnel(dataplane.TunnelConfig{ID: id, Mode: dataplane.ModeIPsec, Local: local, Remote: remote}); err != nil {
			b.Fatal(err)
		}
		d.sessions[uint64(i+1)] = &Session{IKESPI: uint64(i + 1), TunnelID: id}
	}
	report := func(uint64, bool, bool) {}
	for _, c := range []struct {
		name string
		dp   Dataplane
	}{{"per-tunnel", memDP{e}}, {"snapshot", &tunnelsDP{Dataplane: memDP{e}}}} {
		b.Run(c.name, func(b *testing.B) {
			d.dp = c.dp
			tr := &trafficReporter{last: map[uint64][2]uint64{}}
			if snap, ok := c.dp.(*tunnelsDP); ok {
				snap.tunnels = e.Tunnels()
				b.Cleanup(func() { snap.tunnels = nil })
				// The snapshot itself is what the real dataplane builds
				// every round: count it.
				b.ReportAllocs()
				for b.Loop() {
					snap.tunnels = e.Tunnels()
					d.reportTraffic(tr, report)
				}
				return
			}
			d.reportTraffic(tr, report) // sizes the reused buffers
			b.ReportAllocs()
			for b.Loop() {
				d.reportTraffic(tr, report)
			}
		})
	}
}
