package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/ike/wire"
)

// t0 is the lab's "now": every certificate below is valid around it.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

type lab struct {
	root, inter, other, fakeRoot *CA
	leaf, viaInter               *x509.Certificate
	leafKey, interLeafKey        crypto.Signer
	expired, future, codeSign    *x509.Certificate
	forged, spoke2               *x509.Certificate
}

var (
	labOnce sync.Once
	theLab  *lab
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// newLab builds a small PKI once per test binary (ECDSA keys keep it fast):
// a root, an intermediate, an unrelated CA and a forger who copies the
// root's name.
func newLab(t testing.TB) *lab {
	t.Helper()
	labOnce.Do(func() {
		l := &lab{}
		nb, na := t0.Add(-24*time.Hour), t0.Add(365*24*time.Hour)
		rootName := pkix.Name{CommonName: "esphub lab root", Organization: []string{"esphub"}}
		l.root = must(NewCA(must(GenerateKey(KeyP256)), CAOptions{Subject: rootName, NotBefore: nb, NotAfter: na}))
		l.inter = must(NewCA(must(GenerateKey(KeyP256)), CAOptions{Subject: pkix.Name{CommonName: "esphub lab issuing"}, NotBefore: nb, NotAfter: na, Parent: l.root}))
		l.other = must(NewCA(must(GenerateKey(KeyP256)), CAOptions{Subject: pkix.Name{CommonName: "someone else"}, NotBefore: nb, NotAfter: na}))
		l.fakeRoot = must(NewCA(must(GenerateKey(KeyP256)), CAOptions{Subject: rootName, NotBefore: nb, NotAfter: na}))
		l.leafKey = must(GenerateKey(KeyP256))
		l.interLeafKey = must(GenerateKey(KeyP384))
		spoke := IssueOptions{Subject: pkix.Name{CommonName: "spoke1.example", OrganizationalUnit: []string{"FLEX"}, Organization: []string{"esphub"}},
			DNS: []string{"spoke1.example"}, IPs: []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1")},
			Emails: []string{"ops@spoke1.example"}, NotBefore: nb, NotAfter: na}
		l.leaf = must(l.root.Issue(l.leafKey.Public(), spoke))
		l.viaInter = must(l.inter.Issue(l.interLeafKey.Public(), IssueOptions{Subject: pkix.Name{CommonName: "spoke2.example"}, NotBefore: nb, NotAfter: na}))
		l.spoke2 = must(l.root.Issue(must(GenerateKey(KeyP256)).Public(), IssueOptions{Subject: pkix.Name{CommonName: "spoke2.example"}, NotBefore: nb, NotAfter: na}))
		l.expired = must(l.root.Issue(l.leafKey.Public(), IssueOptions{Subject: pkix.Name{CommonName: "old"}, NotBefore: t0.Add(-48 * time.Hour), NotAfter: t0.Add(-time.Hour)}))
		l.future = must(l.root.Issue(l.leafKey.Public(), IssueOptions{Subject: pkix.Name{CommonName: "early"}, NotBefore: t0.Add(time.Hour), NotAfter: na}))
		l.codeSign = must(l.root.Issue(l.leafKey.Public(), IssueOptions{Subject: pkix.Name{CommonName: "codesign"}, NotBefore: nb, NotAfter: na, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}))
		l.forged = must(l.fakeRoot.Issue(l.leafKey.Public(), spoke))
		theLab = l
	})
	return theLab
}

func trustpoint(t testing.TB, mode RevocationMode, cas ...*x509.Certificate) *Trustpoint {
	t.Helper()
	tp, err := NewTrustpoint("lab", cas, Options{Revocation: mode, Now: clock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestVerifyAccepts(t *testing.T) {
	l := newLab(t)
	tp := trustpoint(t, RevocationNone, l.root.Cert)
	pc, err := tp.Verify(l.leaf.Raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pc.Subject != "cn=spoke1.example,ou=FLEX,o=esphub" || pc.Issuer != "cn=esphub lab root,o=esphub" {
		t.Fatalf("subject %q issuer %q", pc.Subject, pc.Issuer)
	}
	if len(pc.Chain) != 2 || !pc.NotAfter.Equal(l.leaf.NotAfter) {
		t.Fatalf("chain %d notafter %v", len(pc.Chain), pc.NotAfter)
	}
	pc, err = tp.Verify(l.viaInter.Raw, [][]byte{l.inter.Cert.Raw})
	if err != nil {
		t.Fatalf("via intermediate: %v", err)
	}
	if len(pc.Chain) != 3 {
		t.Fatalf("chain %d", len(pc.Chain))
	}
	// A trustpoint anchored at the issuing sub-CA needs no intermediates.
	sub := trustpoint(t, RevocationNone, l.inter.Cert)
	if _, err := sub.Verify(l.viaInter.Raw, nil); err != nil {
		t.Fatalf("sub-CA anchor: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	l := newLab(t)
	tp := trustpoint(t, RevocationNone, l.root.Cert)
	short, err := NewTrustpoint("short", []*x509.Certificate{l.root.Cert}, Options{Revocation: RevocationNone, MaxChain: 1, Now: clock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	later, err := NewTrustpoint("later", []*x509.Certificate{l.root.Cert}, Options{Revocation: RevocationNone, Now: clock(t0.Add(2 * 365 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	// A certificate "issued" by a non-CA end entity.
	fakeIssuer := &CA{Cert: l.leaf, Key: l.leafKey}
	underLeaf := must(fakeIssuer.Issue(must(GenerateKey(KeyP256)).Public(), IssueOptions{Subject: pkix.Name{CommonName: "under leaf"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}))
	cases := []struct {
		name  string
		tp    *Trustpoint
		leaf  []byte
		inter [][]byte
		want  Reason
	}{
		{"malformed", tp, []byte{0x30, 0x03, 1, 2, 3}, nil, ReasonMalformed},
		{"malformed intermediate", tp, l.viaInter.Raw, [][]byte{{0x30}}, ReasonMalformed},
		{"expired", tp, l.expired.Raw, nil, ReasonExpired},
		{"not yet valid", tp, l.future.Raw, nil, ReasonNotYetValid},
		{"ca expired by clock", later, l.leaf.Raw, nil, ReasonExpired},
		{"wrong ca", tp, must(l.other.Issue(l.leafKey.Public(), IssueOptions{Subject: pkix.Name{CommonName: "x"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)})).Raw, nil, ReasonUnknownCA},
		{"missing intermediate", tp, l.viaInter.Raw, nil, ReasonUnknownCA},
		{"forged under the root's name", tp, l.forged.Raw, nil, ReasonBadSignature},
		{"chain too long", short, l.viaInter.Raw, [][]byte{l.inter.Cert.Raw}, ReasonChainTooLong},
		{"key usage", tp, l.codeSign.Raw, nil, ReasonKeyUsage},
		{"issuer is not a CA", tp, underLeaf.Raw, [][]byte{l.leaf.Raw}, ReasonBadChain},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.tp.Verify(c.leaf, c.inter)
			if got := ReasonOf(err); got != c.want {
				t.Fatalf("reason %v (%v), want %v", got, err, c.want)
			}
			if !errors.Is(err, &Error{Reason: c.want}) {
				t.Fatalf("errors.Is does not match the sentinel: %v", err)
			}
			if strings.Contains(err.Error(), "PRIVATE") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

func TestRevocation(t *testing.T) {
	l := newLab(t)
	crl := must(l.root.CRL(Revocations(t0, l.leaf), 2, t0.Add(-time.Hour), t0.Add(24*time.Hour)))

	strict := trustpoint(t, RevocationCRL, l.root.Cert)
	if _, err := strict.Verify(l.spoke2.Raw, nil); !errors.Is(err, ErrRevocationUnavailable) {
		t.Fatalf("strict without CRL: %v", err)
	}
	if _, err := strict.LoadCRL(crl); err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Verify(l.leaf.Raw, nil); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked leaf: %v", err)
	}
	if _, err := strict.Verify(l.spoke2.Raw, nil); err != nil {
		t.Fatalf("good leaf with CRL: %v", err)
	}

	optional := trustpoint(t, RevocationCRLNone, l.root.Cert)
	if _, err := optional.Verify(l.leaf.Raw, nil); err != nil {
		t.Fatalf("crl none without CRL: %v", err)
	}
	if _, err := optional.LoadCRL(crl); err != nil {
		t.Fatal(err)
	}
	if _, err := optional.Verify(l.leaf.Raw, nil); !errors.Is(err, ErrRevoked) {
		t.Fatalf("crl none with CRL: %v", err)
	}

	// A stale CRL: strict refuses, "crl none" still uses it.
	stale, err := NewTrustpoint("stale", []*x509.Certificate{l.root.Cert}, Options{Revocation: RevocationCRL, Now: clock(t0.Add(48 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stale.LoadCRL(crl); err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Verify(l.spoke2.Raw, nil); !errors.Is(err, ErrRevocationUnavailable) {
		t.Fatalf("stale CRL: %v", err)
	}

	// An intermediate revoked by the root takes its leaves with it.
	crlInter := must(l.root.CRL(Revocations(t0, l.inter.Cert), 3, t0.Add(-time.Hour), t0.Add(24*time.Hour)))
	opt2 := trustpoint(t, RevocationCRLNone, l.root.Cert)
	if _, err := opt2.LoadCRL(crlInter); err != nil {
		t.Fatal(err)
	}
	if _, err := opt2.Verify(l.viaInter.Raw, [][]byte{l.inter.Cert.Raw}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked intermediate: %v", err)
	}

	if _, err := strict.Verify(l.leaf.Raw, nil); ReasonOf(err) != ReasonRevoked {
		t.Fatal("revoked")
	}
	// The "revocation-check none" trustpoint never looks.
	none := trustpoint(t, RevocationNone, l.root.Cert)
	if _, err := none.LoadCRL(crl); err != nil {
		t.Fatal(err)
	}
	if _, err := none.Verify(l.leaf.Raw, nil); err != nil {
		t.Fatalf("revocation-check none: %v", err)
	}
}

func TestLoadCRLRejects(t *testing.T) {
	l := newLab(t)
	tp := trustpoint(t, RevocationCRL, l.root.Cert)
	forged := must(l.fakeRoot.CRL(nil, 5, t0, t0.Add(time.Hour)))
	if _, err := tp.LoadCRL(forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged CRL: %v", err)
	}
	foreign := must(l.other.CRL(nil, 5, t0, t0.Add(time.Hour)))
	if _, err := tp.LoadCRL(foreign); !errors.Is(err, ErrUnknownCA) {
		t.Fatalf("foreign CRL: %v", err)
	}
	if _, err := tp.LoadCRL([]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage CRL: %v", err)
	}
	newer := must(l.root.CRL(Revocations(t0, l.leaf), 10, t0, t0.Add(time.Hour)))
	older := must(l.root.CRL(nil, 9, t0, t0.Add(time.Hour)))
	if _, err := tp.LoadCRL(newer); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.LoadCRL(older); err == nil {
		t.Fatal("an older CRL replaced a newer one")
	}
	if !tp.Revoked([]*x509.Certificate{l.leaf, l.root.Cert}) {
		t.Fatal("replay of the older CRL un-revoked the leaf")
	}
}

func TestRevokedAmong(t *testing.T) {
	l := newLab(t)
	tp := trustpoint(t, RevocationCRLNone, l.root.Cert)
	sessions := [][]*x509.Certificate{
		{l.spoke2, l.root.Cert},
		{l.leaf, l.root.Cert},
		{l.viaInter, l.inter.Cert, l.root.Cert},
	}
	if got := tp.RevokedAmong(sessions); len(got) != 0 {
		t.Fatalf("before any CRL: %v", got)
	}
	if _, err := tp.LoadCRL(must(l.root.CRL(Revocations(t0, l.leaf, l.inter.Cert), 1, t0, t0.Add(time.Hour)))); err != nil {
		t.Fatal(err)
	}
	got := tp.RevokedAmong(sessions)
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("revoked sessions %v, want [1 2]", got)
	}
}

func TestCertReqAndCredential(t *testing.T) {
	l := newLab(t)
	tp := trustpoint(t, RevocationNone, l.root.Cert, l.other.Cert)
	cr := tp.CertReq()
	hashes, err := ParseCertReq(cr)
	if err != nil || len(hashes) != 2 {
		t.Fatalf("certreq %x: %v", cr, err)
	}
	if _, err := ParseCertReq(cr[:30]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short certreq: %v", err)
	}
	if !tp.Requested(cr[20:]) || tp.Requested(make([]byte, 20)) {
		t.Fatal("Requested")
	}

	cred, err := NewCredential([]*x509.Certificate{l.viaInter, l.inter.Cert, l.root.Cert}, l.interLeafKey)
	if err != nil {
		t.Fatal(err)
	}
	rootReq := trustpoint(t, RevocationNone, l.root.Cert).CertReq()
	interReq := trustpoint(t, RevocationNone, l.inter.Cert).CertReq()
	otherReq := trustpoint(t, RevocationNone, l.other.Cert).CertReq()
	if p := cred.CertPayloads(rootReq); len(p) != 2 {
		t.Fatalf("root requested: %d certs, want leaf and intermediate", len(p))
	}
	if p := cred.CertPayloads(interReq); len(p) != 1 {
		t.Fatalf("intermediate requested: %d certs, want the leaf", len(p))
	}
	if p := cred.CertPayloads(nil); len(p) != 2 {
		t.Fatalf("no certreq: %d certs, want all but the root", len(p))
	}
	if !cred.Answers(rootReq) || !cred.Answers(interReq) || cred.Answers(otherReq) {
		t.Fatal("Answers")
	}
	simple, err := NewCredential([]*x509.Certificate{l.leaf, l.root.Cert}, l.leafKey)
	if err != nil {
		t.Fatal(err)
	}
	if SelectCredential([]*Credential{simple, cred}, interReq) != cred || SelectCredential([]*Credential{simple, cred}, otherReq) != simple {
		t.Fatal("SelectCredential")
	}
	if _, err := NewCredential([]*x509.Certificate{l.leaf}, l.interLeafKey); err == nil {
		t.Fatal("a key that does not match the certificate was accepted")
	}
	if _, err := NewCredential([]*x509.Certificate{l.leaf, l.other.Cert}, l.leafKey); err == nil {
		t.Fatal("a broken chain was accepted")
	}
	// What we send verifies at a peer trusting the root.
	p := cred.CertPayloads(rootReq)
	if _, err := trustpoint(t, RevocationNone, l.root.Cert).Verify(p[0], p[1:]); err != nil {
		t.Fatalf("peer rejects our payloads: %v", err)
	}
}

func TestCheckIdentity(t *testing.T) {
	l := newLab(t)
	reencoded := must(asn1Marshal(pkix.Name{CommonName: "SPOKE1.example", OrganizationalUnit: []string{"flex"}, Organization: []string{"esphub"}}.ToRDNSequence()))
	other := must(asn1Marshal(pkix.Name{CommonName: "spoke2.example"}.ToRDNSequence()))
	cases := []struct {
		name string
		t    wire.IDType
		data []byte
		ok   bool
	}{
		{"dn exact", wire.IDDERASN1DN, l.leaf.RawSubject, true},
		{"dn re-encoded", wire.IDDERASN1DN, reencoded, true},
		{"dn other", wire.IDDERASN1DN, other, false},
		{"dn garbage", wire.IDDERASN1DN, []byte{0x30, 0x80}, false},
		{"fqdn", wire.IDFQDN, []byte("Spoke1.Example"), true},
		{"fqdn other", wire.IDFQDN, []byte("spoke2.example"), false},
		{"fqdn from cn only", wire.IDFQDN, []byte("esphub"), false},
		{"email", wire.IDRFC822, []byte("ops@spoke1.example"), true},
		{"email other", wire.IDRFC822, []byte("root@spoke1.example"), false},
		{"ipv4", wire.IDIPv4Addr, []byte{198, 18, 0, 1}, true},
		{"ipv4 other", wire.IDIPv4Addr, []byte{198, 18, 0, 2}, false},
		{"ipv4 short", wire.IDIPv4Addr, []byte{198, 18, 0}, false},
		{"ipv6", wire.IDIPv6Addr, netip.MustParseAddr("2001:db8::1").AsSlice(), true},
		{"ipv4 data as ipv6", wire.IDIPv6Addr, []byte{198, 18, 0, 1}, false},
		{"key id", wire.IDKeyID, []byte("spoke1"), false},
	}
	for _, c := range cases {
		err := CheckIdentity(l.leaf, c.t, c.data)
		if c.ok != (err == nil) {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && !errors.Is(err, ErrIdentityMismatch) {
			t.Errorf("%s: reason %v", c.name, ReasonOf(err))
		}
	}
	typ, data := LocalIdentityDN(l.leaf)
	if typ != wire.IDDERASN1DN || CheckIdentity(l.leaf, typ, data) != nil {
		t.Fatal("identity local dn does not match its own certificate")
	}
}

func TestCertificateMap(t *testing.T) {
	l := newLab(t)
	src := `crypto pki certificate map flex 10
 subject-name co ou = flex
 issuer-name eq cn = esphub lab root
crypto pki certificate map byhost 10
 subject-name eq cn = spoke2.example
crypto pki certificate map byhost 20
 subject-name eq cn = nobody
`
	cfg, diags := config.Parse("maps.cfg", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	flex, byhost := cfg.CertMap("flex"), cfg.CertMap("byhost")
	if flex == nil || byhost == nil {
		t.Fatal("maps not parsed")
	}
	cases := []struct {
		m    *config.CertificateMap
		cert *x509.Certificate
		want bool
	}{
		{flex, l.leaf, true},
		{flex, l.spoke2, false},
		{flex, l.forged, true}, // names only: the chain check is Verify's job
		{byhost, l.spoke2, true},
		{byhost, l.viaInter, true},
		{byhost, l.leaf, false},
		{nil, l.leaf, false},
	}
	for i, c := range cases {
		if got := MatchCertificateMap(c.m, c.cert); got != c.want {
			t.Errorf("case %d: %s against %v: %v", i, SubjectDN(c.cert), c.m, got)
		}
	}
	if err := CheckCertificateMap(byhost, l.leaf); !errors.Is(err, ErrCertificateMapMismatch) {
		t.Fatalf("CheckCertificateMap: %v", err)
	}
}

func TestFormatDN(t *testing.T) {
	n := pkix.Name{CommonName: "hub", Country: []string{"US"}, Organization: []string{"esphub"},
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: []int{1, 2, 840, 113549, 1, 9, 2}, Value: "responder"}}}
	der := must(asn1Marshal(n.ToRDNSequence()))
	got, err := FormatRawDN(der)
	if err != nil {
		t.Fatal(err)
	}
	if got != "hostname=responder,cn=hub,o=esphub,c=US" {
		t.Fatalf("got %q", got)
	}
	if _, err := FormatRawDN([]byte{0x31, 0x00}); err == nil {
		t.Fatal("SET accepted as a Name")
	}
}

func TestParseRevocationMode(t *testing.T) {
	for words, want := range map[string]RevocationMode{"": RevocationCRL, "crl": RevocationCRL, "crl none": RevocationCRLNone, "none": RevocationNone} {
		got, err := ParseRevocationMode(strings.Fields(words))
		if err != nil || got != want {
			t.Errorf("%q: %v %v", words, got, err)
		}
		if words != "" && got.String() != words {
			t.Errorf("%q renders as %q", words, got)
		}
	}
	if _, err := ParseRevocationMode([]string{"ocsp"}); err == nil {
		t.Fatal("ocsp accepted")
	}
}

func TestReasons(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		s := r.String()
		if seen[s] || strings.ContainsAny(s, " -") || strings.HasPrefix(s, "reason_") {
			t.Errorf("bad label %q", s)
		}
		seen[s] = true
	}
	if len(seen) != 13 {
		t.Fatalf("%d reasons", len(seen))
	}
}

func TestParseDN(t *testing.T) {
	for _, s := range []string{"cn=R3-spoke.example,ou=FLEX,o=esphub", "hostname=responder", "cn=hub,dc=example,dc=net,c=US"} {
		n, err := ParseDN(strings.ToUpper(s[:2]) + s[2:])
		if err != nil {
			t.Fatal(err)
		}
		der := must(asn1Marshal(n.ToRDNSequence()))
		back, err := FormatRawDN(der)
		if err != nil || back != s {
			t.Errorf("%q -> %q %v", s, back, err)
		}
	}
	for _, bad := range []string{"", "cn", "cn=", "x-foo=1", "cn=a,,o=b"} {
		if _, err := ParseDN(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestConcurrentVerifyAndCRL runs validations while CRLs are replaced, as
// the daemon does when a new CRL file appears (run with -race).
func TestConcurrentVerifyAndCRL(t *testing.T) {
	l := newLab(t)
	tp := trustpoint(t, RevocationCRLNone, l.root.Cert)
	crls := [][]byte{
		must(l.root.CRL(nil, 1, t0.Add(-time.Hour), t0.Add(time.Hour))),
		must(l.root.CRL(Revocations(t0, l.leaf), 2, t0.Add(-time.Hour), t0.Add(time.Hour))),
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				_, err := tp.Verify(l.spoke2.Raw, nil)
				if err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
				tp.RevokedAmong([][]*x509.Certificate{{l.leaf, l.root.Cert}})
			}
		}()
	}
	for _, c := range crls {
		if _, err := tp.LoadCRL(c); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if got := tp.RevokedAmong([][]*x509.Certificate{{l.spoke2, l.root.Cert}, {l.leaf, l.root.Cert}}); len(got) != 1 || got[0] != 1 {
		t.Fatalf("after the last CRL: %v", got)
	}
}

func TestIKELifetime(t *testing.T) {
	day := 24 * time.Hour
	pc := &PeerCertificate{NotAfter: t0.Add(3 * time.Hour)}
	cases := []struct {
		name string
		pc   *PeerCertificate
		on   bool
		now  time.Time
		want time.Duration
	}{
		{"certificate outlives the SA", &PeerCertificate{NotAfter: t0.Add(30 * day)}, true, t0, day},
		{"certificate expires first", pc, true, t0, 3 * time.Hour},
		{"no lifetime certificate", pc, false, t0, day},
		{"already expired", pc, true, t0.Add(4 * time.Hour), 0},
		{"psk peer", nil, true, t0, day},
	}
	for _, c := range cases {
		if got := IKELifetime(day, c.now, c.pc, c.on); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestIKEKeyUsage(t *testing.T) {
	l := newLab(t)
	tp := trustpoint(t, RevocationNone, l.root.Cert)
	issue := func(ku x509.KeyUsage, eku []x509.ExtKeyUsage) []byte {
		o := IssueOptions{Subject: pkix.Name{CommonName: "ku"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour), KeyUsage: ku, ExtKeyUsage: eku}
		return must(l.root.Issue(l.leafKey.Public(), o)).Raw
	}
	cases := []struct {
		name string
		der  []byte
		ok   bool
	}{
		{"key encipherment only", issue(x509.KeyUsageKeyEncipherment, nil), false},
		{"non repudiation", issue(x509.KeyUsageContentCommitment, nil), true},
		{"ipsec tunnel eku", issue(x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageIPSECTunnel}), true},
		{"any eku", issue(x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageAny}), true},
		{"email eku", issue(x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}), false},
		{"default (server, client, ipsecIKE)", issue(0, nil), true},
	}
	for _, c := range cases {
		_, err := tp.Verify(c.der, nil)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrKeyUsage)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := NewTrustpoint("leaf", []*x509.Certificate{l.leaf}, Options{}); err == nil {
		t.Fatal("an end-entity certificate became a trust anchor")
	}
	if _, err := NewTrustpoint("empty", nil, Options{}); err == nil {
		t.Fatal("a trustpoint without CA")
	}
	for _, r := range Reasons() {
		if msg := (&Error{Reason: r}).Error(); !strings.HasPrefix(msg, "certificate ") || strings.Contains(msg, "reason_") {
			t.Errorf("%v: message %q", r, msg)
		}
	}
}

// TestStrictRevocationThroughIntermediate: with `revocation-check crl` a
// three-tier chain needs the root's CRL (for the intermediate) and the
// intermediate's CRL (for the leaf); the latter loads with the
// intermediate as its issuer chain.
func TestStrictRevocationThroughIntermediate(t *testing.T) {
	l := newLab(t)
	tp := trustpoint(t, RevocationCRL, l.root.Cert)
	if _, err := tp.LoadCRL(must(l.root.CRL(nil, 1, t0.Add(-time.Hour), t0.Add(time.Hour)))); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Verify(l.viaInter.Raw, [][]byte{l.inter.Cert.Raw}); !errors.Is(err, ErrRevocationUnavailable) {
		t.Fatalf("without the intermediate's CRL: %v", err)
	}
	interCRL := must(l.inter.CRL(Revocations(t0, l.viaInter), 1, t0.Add(-time.Hour), t0.Add(time.Hour)))
	if _, err := tp.LoadCRL(interCRL); !errors.Is(err, ErrUnknownCA) {
		t.Fatalf("intermediate CRL without its issuer chain: %v", err)
	}
	// An unrelated CA cannot smuggle a CRL in as "intermediate".
	if _, err := tp.LoadCRL(must(l.other.CRL(nil, 1, t0, t0.Add(time.Hour))), l.other.Cert); !errors.Is(err, ErrUnknownCA) {
		t.Fatalf("foreign issuer chain: %v", err)
	}
	if _, err := tp.LoadCRL(interCRL, l.inter.Cert); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Verify(l.viaInter.Raw, [][]byte{l.inter.Cert.Raw}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("leaf revoked by the intermediate: %v", err)
	}
}

func TestOptionsFromConfig(t *testing.T) {
	src := "crypto pki trustpoint strict\n revocation-check crl\ncrypto pki trustpoint soft\n revocation-check crl none\ncrypto pki trustpoint off\n revocation-check none\ncrypto pki trustpoint dflt\n enrollment url http://198.18.0.1:80\n"
	cfg, diags := config.Parse("tp.cfg", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := map[string]RevocationMode{"strict": RevocationCRL, "soft": RevocationCRLNone, "off": RevocationNone, "dflt": RevocationCRL}
	for _, c := range cfg.Trustpoints {
		o, err := OptionsFromConfig(c, nil)
		if err != nil || o.Revocation != want[c.Name] {
			t.Errorf("%s: %v %v, want %v", c.Name, o.Revocation, err, want[c.Name])
		}
	}
	if len(cfg.Trustpoints) != 4 {
		t.Fatalf("%d trustpoints parsed", len(cfg.Trustpoints))
	}
}
