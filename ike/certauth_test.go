package ike

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/pki"
)

// testCA is a lab CA with helpers to issue the two test peers' credentials.
type testCA struct {
	t  *testing.T
	ca *pki.CA
}

func newTestCA(t *testing.T, kt pki.KeyType, cn string) *testCA {
	t.Helper()
	k, err := pki.GenerateKey(kt)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(k, pki.CAOptions{Subject: pkix.Name{CommonName: cn, Organization: []string{"esphub lab"}}})
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{t: t, ca: ca}
}

// issue returns a credential for FQDN name (SAN and CN), valid as o says.
func (c *testCA) issue(kt pki.KeyType, name string, o pki.IssueOptions) *pki.Credential {
	c.t.Helper()
	k, err := pki.GenerateKey(kt)
	if err != nil {
		c.t.Fatal(err)
	}
	o.Subject = pkix.Name{CommonName: name, OrganizationalUnit: []string{"flex"}}
	o.DNS = []string{name}
	cert, err := c.ca.Issue(k.Public(), o)
	if err != nil {
		c.t.Fatal(err)
	}
	cred, err := pki.NewCredential([]*x509.Certificate{cert, c.ca.Cert}, k)
	if err != nil {
		c.t.Fatal(err)
	}
	return cred
}

func (c *testCA) trustpoint(mode pki.RevocationMode) *pki.Trustpoint {
	c.t.Helper()
	tp, err := pki.NewTrustpoint("lab", []*x509.Certificate{c.ca.Cert}, pki.Options{Revocation: mode})
	if err != nil {
		c.t.Fatal(err)
	}
	return tp
}

// certPair: A (spoke-a.test) and B (hub-b.test) authenticate with the given
// credentials only (no PSKs), each trusting its trustpoint.
func certPair(t *testing.T, credA, credB *pki.Credential, tpA, tpB *pki.Trustpoint, cmB *config.CertificateMap) *pair {
	return newPair(t, pairOpts{
		configure: func(c *Config) { c.RetransmitTries = 3 },
		initProf: func(p *Profile) {
			p.LocalPSK, p.RemotePSK, p.LocalCredential, p.Trustpoint = nil, nil, credA, tpA
		},
		respProf: func(p *Profile) {
			p.LocalPSK, p.RemotePSK, p.LocalCredential, p.Trustpoint, p.CertificateMap = nil, nil, credB, tpB, cmB
		},
	})
}

func TestCertificateAuth(t *testing.T) {
	for _, kt := range []pki.KeyType{pki.KeyP256, pki.KeyP384, pki.KeyRSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			ca := newTestCA(t, kt, "esphub lab CA "+string(kt))
			tp := ca.trustpoint(pki.RevocationNone)
			cm := &config.CertificateMap{Name: "flex", Entries: []config.CertMapEntry{{Seq: 10,
				Rules: []config.CertMapRule{{Field: "subject-name", Op: "co", Value: "ou = flex"}}}}}
			p := certPair(t, ca.issue(kt, "spoke-a.test", pki.IssueOptions{}), ca.issue(kt, "hub-b.test", pki.IssueOptions{}), tp, tp, cm)
			if _, err := p.initiate(testCtx(t)); err != nil {
				t.Fatalf("initiate with %s certificates: %v", kt, err)
			}
			waitFor(t, "child on B", func() bool { return len(p.b.inst.snapshot()) == 1 })
			checkChildKeys(t, p.a, p.b)
			bs := ikeSAs(t, p.b)
			if len(bs) != 1 || bs[0].PeerCertSubject == "" || bs[0].PeerCertIssuer == "" || bs[0].PeerCertNotAfter.IsZero() {
				t.Fatalf("B's view of the peer certificate: %+v", bs)
			}
			t.Logf("B: peer certificate %q issued by %q", bs[0].PeerCertSubject, bs[0].PeerCertIssuer)
			want := map[pki.KeyType]string{pki.KeyP256: "ECDSA", pki.KeyP384: "ECDSA", pki.KeyRSA2048: "RSA"}[kt]
			if bs[0].LocalAuth != want || bs[0].PeerAuth != want {
				t.Fatalf("B: auth sign %q verify %q, want %s", bs[0].LocalAuth, bs[0].PeerAuth, want)
			}
			p.b.policy.mu.Lock()
			pc := p.b.policy.lastReq.PeerCert
			p.b.policy.mu.Unlock()
			if pc == nil || pki.SubjectDN(pc) != bs[0].PeerCertSubject {
				t.Fatalf("MatchProfile saw certificate %v, want the peer's %q", pc, bs[0].PeerCertSubject)
			}
		})
	}
}

// TestCertificateAuthWithFragmentation: a chain with an intermediate CA
// makes IKE_AUTH larger than 576 bytes; fragmentation carries it.
func TestCertificateAuthWithFragmentation(t *testing.T) {
	root := newTestCA(t, pki.KeyRSA2048, "esphub lab root")
	k, _ := pki.GenerateKey(pki.KeyRSA2048)
	sub, err := pki.NewCA(k, pki.CAOptions{Subject: pkix.Name{CommonName: "esphub lab issuing CA"}, Parent: root.ca})
	if err != nil {
		t.Fatal(err)
	}
	issuing := &testCA{t: t, ca: sub}
	tp := root.trustpoint(pki.RevocationNone)
	credA, credB := issuing.issue(pki.KeyRSA2048, "spoke-a.test", pki.IssueOptions{}), issuing.issue(pki.KeyRSA2048, "hub-b.test", pki.IssueOptions{})
	p, oversized := fragPair(t, 576, pairOpts{
		initProf: func(p *Profile) { p.LocalPSK, p.RemotePSK, p.LocalCredential, p.Trustpoint = nil, nil, credA, tp },
		respProf: func(p *Profile) { p.LocalPSK, p.RemotePSK, p.LocalCredential, p.Trustpoint = nil, nil, credB, tp },
	}, nil, nil)
	if _, err := p.initiate(testCtx(t)); err != nil {
		t.Fatalf("initiate: %v", err)
	}
	if p.a.e.Stats().Get(CounterFragmentsSent) < 3 || p.b.e.Stats().Get(CounterFragmentsSent) < 3 || oversized.Load() != 0 {
		t.Fatalf("IKE_AUTH with a certificate chain was not fragmented: A %v", p.a.e.Stats().Map())
	}
}

func TestCertificateRejections(t *testing.T) {
	ca := newTestCA(t, pki.KeyP256, "esphub lab CA")
	other := newTestCA(t, pki.KeyP256, "some other CA")
	hub := ca.issue(pki.KeyP256, "hub-b.test", pki.IssueOptions{})
	good := ca.issue(pki.KeyP256, "spoke-a.test", pki.IssueOptions{})
	revoked := ca.issue(pki.KeyP256, "spoke-a.test", pki.IssueOptions{})
	crlTP := ca.trustpoint(pki.RevocationCRL)
	now := time.Now()
	crl, err := ca.ca.CRL(pki.Revocations(now.Add(-time.Minute), revoked.Leaf()), 1, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crlTP.LoadCRL(crl); err != nil {
		t.Fatal(err)
	}
	tp := ca.trustpoint(pki.RevocationNone)
	for _, tc := range []struct {
		name   string
		cred   *pki.Credential
		tpB    *pki.Trustpoint
		cm     *config.CertificateMap
		reason string
	}{
		{"expired", ca.issue(pki.KeyP256, "spoke-a.test", pki.IssueOptions{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}), tp, nil, "expired"},
		{"wrong CA", other.issue(pki.KeyP256, "spoke-a.test", pki.IssueOptions{}), tp, nil, "unknown_ca"},
		{"revoked", revoked, crlTP, nil, "revoked"},
		{"not a certificate", tamper(good, func(der []byte) []byte { return []byte("not DER at all") }), tp, nil, "malformed"},
		{"forged signature", tamper(good, func(der []byte) []byte {
			der = bytes.Clone(der)
			der[len(der)-5] ^= 0x5a // inside the CA's signature
			return der
		}), tp, nil, "bad_signature"},
		{"identity not in certificate", ca.issue(pki.KeyP256, "spoke-z.test", pki.IssueOptions{}), tp, nil, "identity_mismatch"},
		{"certificate map", good, tp, &config.CertificateMap{Name: "m", Entries: []config.CertMapEntry{{Seq: 1,
			Rules: []config.CertMapRule{{Field: "subject-name", Op: "co", Value: "ou = finance"}}}}}, "certificate_map_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := certPair(t, tc.cred, hub, tp, tc.tpB, tc.cm)
			_, err := p.initiate(testCtx(t))
			if !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("initiate: %v, want ErrAuthFailed", err)
			}
			if got := p.b.e.CertificateRejects()[tc.reason]; got != 1 {
				t.Fatalf("reason %q counted %d times: %v", tc.reason, got, p.b.e.CertificateRejects())
			}
			if p.b.e.Stats().Get(CounterCertRejected) != 1 || establishedCount(t, p.b) != 0 {
				t.Fatalf("B: %v", p.b.e.Stats().Map())
			}
		})
	}
	// The initiator checks the gateway just the same.
	t.Run("gateway from a wrong CA", func(t *testing.T) {
		p := certPair(t, good, other.issue(pki.KeyP256, "hub-b.test", pki.IssueOptions{}), tp, tp, nil)
		if _, err := p.initiate(testCtx(t)); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("initiate: %v, want ErrAuthFailed", err)
		}
		if got := p.a.e.CertificateRejects()["unknown_ca"]; got != 1 {
			t.Fatalf("A counted %v", p.a.e.CertificateRejects())
		}
	})
	// The good certificate passes the CRL check.
	p := certPair(t, good, hub, tp, crlTP, nil)
	if _, err := p.initiate(testCtx(t)); err != nil {
		t.Fatalf("unrevoked certificate refused: %v", err)
	}
}

// TestDisconnectRevoked: after a CRL revoking the spoke's certificate is
// loaded, DisconnectRevoked deletes its established SA on both sides and
// leaves a session with a good certificate alone.
func TestDisconnectRevoked(t *testing.T) {
	ca := newTestCA(t, pki.KeyP256, "esphub lab CA")
	tp := ca.trustpoint(pki.RevocationNone)
	spoke := ca.issue(pki.KeyP256, "spoke-a.test", pki.IssueOptions{})
	p := certPair(t, spoke, ca.issue(pki.KeyP256, "hub-b.test", pki.IssueOptions{}), tp, tp, nil)
	ctx := testCtx(t)
	if _, err := p.initiate(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B up", func() bool { return establishedCount(t, p.b) == 1 })
	if n, err := p.b.e.DisconnectRevoked(ctx, tp); err != nil || n != 0 {
		t.Fatalf("nothing revoked yet: %d, %v", n, err)
	}
	// An IKE SA rekey does not re-authenticate: the successor keeps the
	// certificate the peer proved, and revocation still reaches it.
	if err := p.b.e.RekeyIKESA(ctx, ikeSAs(t, p.b)[0].LocalSPI); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B rekeyed", func() bool { s := ikeSAs(t, p.b); return len(s) == 1 && s[0].State == "READY" })
	if s := ikeSAs(t, p.b)[0]; s.PeerCertSubject == "" || s.PeerAuth != "ECDSA" {
		t.Fatalf("the rekeyed SA forgot the peer certificate: %+v", s)
	}
	now := time.Now()
	crl, err := ca.ca.CRL(pki.Revocations(now, spoke.Leaf()), 1, now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.LoadCRL(crl); err != nil {
		t.Fatal(err)
	}
	n, err := p.b.e.DisconnectRevoked(ctx, tp)
	if err != nil || n != 1 {
		t.Fatalf("DisconnectRevoked: %d, %v", n, err)
	}
	waitFor(t, "both sides down", func() bool { return len(ikeSAs(t, p.a)) == 0 && len(ikeSAs(t, p.b)) == 0 })
}

// tamper returns cred with its end-entity certificate's DER rewritten by f,
// as a broken or forging peer would send it (the key still signs AUTH).
func tamper(cred *pki.Credential, f func([]byte) []byte) *pki.Credential {
	leaf := *cred.Chain[0]
	leaf.Raw = f(leaf.Raw)
	out := *cred
	out.Chain = append([]*x509.Certificate{&leaf}, cred.Chain[1:]...)
	return &out
}

// TestCertificateLifetimeEndsSA: with CertLifetime the IKE SA is deleted
// when the peer's certificate expires; without it, it stays.
func TestCertificateLifetimeEndsSA(t *testing.T) {
	for _, bound := range []bool{true, false} {
		t.Run(fmt.Sprintf("lifetime-certificate=%v", bound), func(t *testing.T) {
			ca := newTestCA(t, pki.KeyP256, "esphub lab CA")
			tp := ca.trustpoint(pki.RevocationNone)
			spoke := ca.issue(pki.KeyP256, "spoke-a.test", pki.IssueOptions{NotAfter: time.Now().Add(1500 * time.Millisecond)})
			p := newPair(t, pairOpts{
				initProf: func(p *Profile) {
					p.LocalPSK, p.RemotePSK, p.LocalCredential, p.Trustpoint = nil, nil, spoke, tp
				},
				respProf: func(p *Profile) {
					p.LocalPSK, p.RemotePSK, p.Trustpoint, p.CertLifetime = nil, nil, tp, bound
					p.LocalCredential = ca.issue(pki.KeyP256, "hub-b.test", pki.IssueOptions{})
				},
			})
			if _, err := p.initiate(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			if !bound {
				time.Sleep(2 * time.Second)
				if establishedCount(t, p.b) != 1 {
					t.Fatal("the SA ended although lifetime certificate is off")
				}
				return
			}
			waitFor(t, "the SA to end with the certificate", func() bool { return len(ikeSAs(t, p.b)) == 0 && len(ikeSAs(t, p.a)) == 0 })
		})
	}
}

// TestPeerKeyAlgorithms: a profile that accepts only ECDSA refuses a peer
// signing with an RSA certificate of the same CA.
func TestPeerKeyAlgorithms(t *testing.T) {
	ca := newTestCA(t, pki.KeyP256, "esphub lab CA")
	tp := ca.trustpoint(pki.RevocationNone)
	for _, c := range []struct {
		kt pki.KeyType
		ok bool
	}{{pki.KeyP256, true}, {pki.KeyRSA2048, false}} {
		t.Run(string(c.kt), func(t *testing.T) {
			p := newPair(t, pairOpts{
				configure: func(cfg *Config) { cfg.RetransmitTries = 3 },
				initProf: func(p *Profile) {
					p.LocalPSK, p.RemotePSK, p.LocalCredential, p.Trustpoint = nil, nil, ca.issue(c.kt, "spoke-a.test", pki.IssueOptions{}), tp
				},
				respProf: func(p *Profile) {
					p.LocalPSK, p.RemotePSK, p.Trustpoint = nil, nil, tp
					p.LocalCredential = ca.issue(pki.KeyP256, "hub-b.test", pki.IssueOptions{})
					p.PeerKeyAlgorithms = []x509.PublicKeyAlgorithm{x509.ECDSA}
				},
			})
			_, err := p.initiate(testCtx(t))
			if c.ok != (err == nil) {
				t.Fatalf("initiate with %s: %v", c.kt, err)
			}
			if !c.ok && p.b.e.Stats().Get(CounterAuthFailures) != 1 {
				t.Fatalf("B: %v", p.b.e.Stats().Map())
			}
		})
	}
}
