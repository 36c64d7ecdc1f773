package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/sig"
	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/internal/swan"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/pki"
)

// swanctlConf is one side of a certificate-authenticated connection. The
// credential files sit in swanctl's directories next to swanctl.conf.
func swanctlConf(local, remote, localID, remoteID, cert, innerL, innerR, revocation string, localAuth ...string) string {
	auth := "pubkey"
	if len(localAuth) > 0 && localAuth[0] != "" {
		auth = localAuth[0]
	}
	return fmt.Sprintf(`connections {
    pki {
        version = 2
        local_addrs = %s
        remote_addrs = %s
        proposals = aes256gcm16-prfsha384-ecp384
        local {
            auth = %s
            certs = %s
            id = "%s"
        }
        remote {
            auth = pubkey
            id = "%s"
            cacerts = ca.pem
            revocation = %s
        }
        children {
            pki {
                local_ts = %s/32
                remote_ts = %s/32
                esp_proposals = aes256gcm16
                mode = tunnel
                start_action = none
            }
        }
    }
}
`, local, remote, auth, cert, localID, remoteID, revocation, innerL, innerR)
}

// spokeDN is the spoke's subject as strongSwan writes it: in DER order,
// least specific first (esphub shows it as cn=spoke.example,ou=flex,o=esphub).
const spokeDN = "O=esphub, OU=flex, CN=spoke.example"

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPKIStrongSwanInterop proves that what `esphubctl pki` writes is
// usable by a real IKEv2 implementation: two strongSwan instances
// authenticate each other with our certificates (ECDSA and RSA, RFC 7427
// including RSASSA-PSS and the classic methods 1, 9 and 10),
// one with a DN identity (identity local dn), the other with an FQDN in
// the subjectAltName; then the responder loads our CRL revoking the
// initiator, and the initiator is refused.
func TestPKIStrongSwanInterop(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, swan.Charon, swan.Swanctl, "ip")
	variants := []struct {
		name      string
		keyFlags  []string
		localAuth string            // the initiator's swanctl auth
		charon    map[string]string // the initiator's charon settings
		method    wire.AuthMethod   // what its AUTH must use
	}{
		{"ecdsa-p256", []string{"--ecdsa", "p256"}, "", nil, wire.AuthDigitalSignature},
		{"rsa-2048", []string{"--rsa", "2048"}, "", nil, wire.AuthDigitalSignature},
		{"rsa-2048-pss", []string{"--rsa", "2048"}, "rsa/pss-sha384", nil, wire.AuthDigitalSignature},
		{"ecdsa-p256-classic", []string{"--ecdsa", "p256"}, "", map[string]string{"signature_authentication": "no"}, wire.AuthECDSA256},
		{"ecdsa-p384-classic", []string{"--ecdsa", "p384"}, "", map[string]string{"signature_authentication": "no"}, wire.AuthECDSA384},
		{"rsa-2048-classic", []string{"--rsa", "2048"}, "", map[string]string{"signature_authentication": "no"}, wire.AuthRSASig},
	}
	for _, v := range variants {
		kt := v.keyFlags
		t.Run(v.name, func(t *testing.T) {
			p := swan.NewPair(t)
			pkiDir := t.TempDir()
			ca, certs := filepath.Join(pkiDir, "ca"), filepath.Join(pkiDir, "certs")
			mustRun(t, append([]string{"pki", "ca", "create", "--name", "cn=esphub interop ca,o=esphub", "--out", ca}, kt...)...)
			mustRun(t, "pki", "cert", "issue", "--ca", ca, "--cn", "spoke.example", "--subject", "ou=flex,o=esphub", "--dns", "spoke.example", "--ip", p.AddrA.String(), "--out", certs)
			mustRun(t, "pki", "cert", "issue", "--ca", ca, "--cn", "hub.example", "--dns", "hub.example", "--ip", p.AddrB.String(), "--out", certs)

			side := func(name, cert string) string {
				d := t.TempDir()
				copyFile(t, filepath.Join(ca, "ca.pem"), filepath.Join(d, "x509ca", "ca.pem"))
				copyFile(t, filepath.Join(certs, cert+".pem"), filepath.Join(d, "x509", cert+".pem"))
				copyFile(t, filepath.Join(certs, cert+".key"), filepath.Join(d, "private", cert+".key"))
				return d
			}
			dirA, dirB := side("a", "spoke.example"), side("b", "hub.example")
			a := swan.StartT(t, p.A, swan.Config{Name: "spoke", Dir: dirA, LogLevels: map[string]int{"enc": 4}, Charon: v.charon,
				SwanctlConf: swanctlConf(p.AddrA.String(), p.AddrB.String(), spokeDN, "hub.example", "spoke.example.pem", p.InnerA.String(), p.InnerB.String(), "relaxed", v.localAuth)})
			b := swan.StartT(t, p.B, swan.Config{Name: "hub", Dir: dirB,
				SwanctlConf: swanctlConf(p.AddrB.String(), p.AddrA.String(), "hub.example", spokeDN, "hub.example.pem", p.InnerB.String(), p.InnerA.String(), "relaxed")})

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := a.Initiate(ctx, "pki", "pki"); err != nil {
				t.Fatalf("initiate with certificates: %v", err)
			}
			sa, err := b.WaitSA(ctx, func(s swan.IKESA) bool { return s.State == "ESTABLISHED" })
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("established %s <-> %s, %s/%s", sa.LocalID, sa.RemoteID, sa.EncrAlg, sa.DHGroup)
			log, _ := b.Log()
			if !strings.Contains(string(log), "authentication of '"+spokeDN+"' with") {
				t.Fatalf("the hub did not log a certificate authentication of the spoke's DN")
			}
			// ike/sig verifies the AUTH signature strongSwan made with our
			// certificate's key, over the octets strongSwan logged.
			la, err := a.Log()
			if err != nil {
				t.Fatal(err)
			}
			auth, err := ownAuth(string(la))
			if err != nil {
				t.Fatalf("reading strongSwan's AUTH from its log: %v", err)
			}
			spokeCert, err := pki.LoadCertificateFile(filepath.Join(certs, "spoke.example.pem"))
			if err != nil {
				t.Fatal(err)
			}
			alg, err := sig.Verify(spokeCert[0].PublicKey, wire.AuthMethod(auth.Method), auth.Data, auth.Octets)
			if err != nil {
				t.Fatalf("ike/sig rejects strongSwan's AUTH (method %d): %v", auth.Method, err)
			}
			t.Logf("strongSwan's AUTH verified: %v", alg)
			if alg.Method != v.method {
				t.Fatalf("strongSwan used method %d, want %d", alg.Method, v.method)
			}
			if _, err := sig.Verify(spokeCert[0].PublicKey, wire.AuthMethod(auth.Method), auth.Data, append(auth.Octets, 0)); !errors.Is(err, sig.ErrBadSignature) {
				t.Fatalf("strongSwan's AUTH verified over other octets: %v", err)
			}
			// strongSwan's CERTREQ names our CA exactly as pki computes it
			// (SHA-1 of the CA's SubjectPublicKeyInfo).
			certReq, err := receivedCertReq(string(la))
			if err != nil {
				t.Fatal(err)
			}
			caCerts, err := pki.LoadCertificateFile(filepath.Join(ca, "ca.pem"))
			if err != nil {
				t.Fatal(err)
			}
			tp, err := pki.NewTrustpoint("interop", caCerts, pki.Options{Revocation: pki.RevocationNone})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(certReq, tp.CertReq()) {
				t.Fatalf("strongSwan's CERTREQ %x, pki computes %x", certReq, tp.CertReq())
			}
			// The whole IKE_AUTH check on what strongSwan sent: its DN
			// identity, our certificate and its AUTH signature.
			idType, idData, err := ownID(string(la))
			if err != nil {
				t.Fatal(err)
			}
			pc, _, err := tp.Authenticate(pki.PeerAuth{IDType: wire.IDType(idType), IDData: idData, Certs: [][]byte{spokeCert[0].Raw},
				Method: wire.AuthMethod(auth.Method), AuthData: auth.Data, SignedOctets: auth.Octets}, nil)
			if err != nil {
				t.Fatalf("pki refuses strongSwan's IKE_AUTH: %v", err)
			}
			if pc.Subject != "cn=spoke.example,ou=flex,o=esphub" {
				t.Fatalf("peer subject %q", pc.Subject)
			}
			if dir := os.Getenv("ESPHUB_CAPTURE_SWAN_AUTH"); dir != "" {
				golden := fmt.Sprintf("# AUTH payload made by strongSwan (%s, %v) with a key from esphubctl pki\nspki: %x\nmethod: %d\noctets: %x\nauth: %x\n",
					v.name, alg, spokeCert[0].RawSubjectPublicKeyInfo, auth.Method, auth.Octets, auth.Data)
				if err := os.WriteFile(filepath.Join(dir, "strongswan-"+v.name+".txt"), []byte(golden), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.Terminate(ctx, "pki"); err != nil {
				t.Fatal(err)
			}

			// Revoke the spoke; the hub loads the CRL strictly and refuses it.
			crl := filepath.Join(pkiDir, "ca.crl")
			mustRun(t, "pki", "crl", "--ca", ca, "--revoke", filepath.Join(certs, "spoke.example.pem"), "--out", crl)
			copyFile(t, crl, filepath.Join(dirB, "x509crl", "ca.crl"))
			if err := b.LoadConfig(ctx, swan.Config{SwanctlConf: swanctlConf(p.AddrB.String(), p.AddrA.String(), "hub.example", spokeDN, "hub.example.pem", p.InnerB.String(), p.InnerA.String(), "strict")}); err != nil {
				t.Fatal(err)
			}
			short, cancel2 := context.WithTimeout(ctx, 20*time.Second)
			defer cancel2()
			if err := a.Initiate(short, "pki", "pki"); err == nil {
				t.Fatal("a revoked certificate was accepted")
			}
			if _, err := b.WaitLog(ctx, "certificate was revoked"); err != nil {
				t.Fatalf("the hub did not refuse the revoked certificate: %v", err)
			}
		})
	}
}
