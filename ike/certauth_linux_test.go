package ike

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esphub/esphub/pki"
)

// swanCertDir writes a charon directory holding the CA, strongSwan's
// certificate and key for swan.test, in swanctl's x509ca/, x509/ and
// private/.
func swanCertDir(t *testing.T, ca *testCA, kt pki.KeyType) string {
	t.Helper()
	d := t.TempDir()
	k, err := pki.GenerateKey(kt)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ca.Issue(k.Public(), pki.IssueOptions{DNS: []string{"swan.test"}})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodePrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"x509ca/ca.pem":        pki.EncodeCertificatePEM(ca.ca.Cert),
		"x509/swan.pem":        pki.EncodeCertificatePEM(cert),
		"private/swan.key.pem": keyPEM,
	} {
		p := filepath.Join(d, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// TestInteropCertificates: ECDSA P-256 and RSA certificates from our lab
// CA (package pki, what `esphubctl pki` uses) both ways with strongSwan,
// whoever initiates.
func TestInteropCertificates(t *testing.T) {
	for _, kt := range []pki.KeyType{pki.KeyP256, pki.KeyRSA2048} {
		for _, weInitiate := range []bool{true, false} {
			name := string(kt) + "/strongswan-initiates"
			if weInitiate {
				name = string(kt) + "/we-initiate"
			}
			t.Run(name, func(t *testing.T) {
				ca := newTestCA(t, kt, "esphub interop CA")
				tp := ca.trustpoint(pki.RevocationNone)
				sc := interopSuites[0]
				ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: sc.swanESP,
					swanDir: swanCertDir(t, ca, kt), localAuth: "pubkey", remoteAuth: "pubkey",
					configure: func(c *Config) { c.Trustpoints = []*pki.Trustpoint{tp} },
				}, sc.ike, sc.esp)
				ie.prof.LocalPSK, ie.prof.RemotePSK = nil, nil
				ie.prof.LocalCredential, ie.prof.Trustpoint = ca.issue(kt, "ours.test", pki.IssueOptions{}), tp
				ctx := testCtx(t)
				if weInitiate {
					ie.initiate(ctx)
				} else if err := ie.sw.Initiate(ctx, "ours", "net"); err != nil {
					t.Fatalf("strongSwan initiate: %v\n%s", err, ie.sw.LogTail(40))
				}
				ie.check(1)
				log, err := ie.sw.Log()
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(log), "authentication of 'ours.test' with ") || strings.Contains(string(log), "authentication of 'ours.test' with pre-shared key") {
					t.Fatal("strongSwan did not authenticate us with a certificate")
				}
			})
		}
	}
}

// TestInteropCertificateFragmentation: an RSA certificate makes IKE_AUTH
// larger than 576 bytes; with fragmentation on both sides at 576 it
// travels as SKF fragments both ways.
func TestInteropCertificateFragmentation(t *testing.T) {
	ca := newTestCA(t, pki.KeyRSA2048, "esphub interop CA")
	tp := ca.trustpoint(pki.RevocationNone)
	sc := interopSuites[0]
	ie := newInterop(t, swanOpts{ike: sc.swanIKE, esp: sc.swanESP,
		swanDir: swanCertDir(t, ca, pki.KeyRSA2048), localAuth: "pubkey", remoteAuth: "pubkey",
		connExtra: map[string]string{"fragmentation": "yes"},
		charon:    map[string]string{"fragment_size": "576"},
		configure: func(c *Config) { c.Trustpoints, c.Fragmentation, c.FragmentMTU = []*pki.Trustpoint{tp}, true, 576 },
	}, sc.ike, sc.esp)
	ie.prof.LocalPSK, ie.prof.RemotePSK = nil, nil
	ie.prof.LocalCredential, ie.prof.Trustpoint = ca.issue(pki.KeyRSA2048, "ours.test", pki.IssueOptions{}), tp
	ie.initiate(testCtx(t))
	ie.check(1)
	s := ie.us.e.Stats()
	if s.Get(CounterFragmentsSent) < 2 || s.Get(CounterFragmentsReceived) < 2 {
		t.Fatalf("certificate IKE_AUTH not fragmented both ways: %v", s.Map())
	}
	t.Logf("fragments: we sent %d, received %d", s.Get(CounterFragmentsSent), s.Get(CounterFragmentsReceived))
}
