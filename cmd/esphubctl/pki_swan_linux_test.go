package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/swan"
	"github.com/esphub/esphub/internal/testenv"
)

// swanctlConf is one side of a certificate-authenticated connection. The
// credential files sit in swanctl's directories next to swanctl.conf.
func swanctlConf(local, remote, localID, remoteID, cert, innerL, innerR, revocation string) string {
	return fmt.Sprintf(`connections {
    pki {
        version = 2
        local_addrs = %s
        remote_addrs = %s
        proposals = aes256gcm16-prfsha384-ecp384
        local {
            auth = pubkey
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
`, local, remote, cert, localID, remoteID, revocation, innerL, innerR)
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
// authenticate each other with our certificates (ECDSA P-256 and RSA),
// one with a DN identity (identity local dn), the other with an FQDN in
// the subjectAltName; then the responder loads our CRL revoking the
// initiator, and the initiator is refused.
func TestPKIStrongSwanInterop(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, swan.Charon, swan.Swanctl, "ip")
	for _, kt := range [][]string{{"--ecdsa", "p256"}, {"--rsa", "2048"}} {
		t.Run(strings.TrimPrefix(kt[0], "--")+"-"+kt[1], func(t *testing.T) {
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
			a := swan.StartT(t, p.A, swan.Config{Name: "spoke", Dir: dirA,
				SwanctlConf: swanctlConf(p.AddrA.String(), p.AddrB.String(), spokeDN, "hub.example", "spoke.example.pem", p.InnerA.String(), p.InnerB.String(), "relaxed")})
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
