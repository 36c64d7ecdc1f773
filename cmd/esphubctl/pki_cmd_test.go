package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/pki"
)

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("esphubctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func loadTP(t *testing.T, mode pki.RevocationMode, file string) *pki.Trustpoint {
	t.Helper()
	cas, err := pki.LoadCertificateFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := pki.NewTrustpoint("lab", cas, pki.Options{Revocation: mode})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func certDER(t *testing.T, file string) []byte {
	t.Helper()
	c, err := pki.LoadCertificateFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return c[0].Raw
}

func TestPKIIssueVerifyRevoke(t *testing.T) {
	for _, kt := range [][]string{{"--ecdsa", "p256"}, {"--ecdsa", "p384"}, {"--rsa", "2048"}} {
		t.Run(kt[1], func(t *testing.T) {
			dir := t.TempDir()
			ca, certs := filepath.Join(dir, "ca"), filepath.Join(dir, "certs")
			mustRun(t, append([]string{"pki", "ca", "create", "--name", "cn=lab root,o=esphub", "--out", ca}, kt...)...)
			mustRun(t, "pki", "cert", "issue", "--ca", ca, "--cn", "spoke1.example", "--subject", "ou=flex,o=esphub",
				"--dns", "spoke1.example", "--ip", "198.18.0.1,2001:db8::1", "--email", "ops@spoke1.example", "--out", certs, "--days", "30")
			mustRun(t, "pki", "cert", "issue", "--ca", ca, "--cn", "spoke2.example", "--out", certs)
			for _, f := range []string{filepath.Join(ca, "ca.key"), filepath.Join(certs, "spoke1.example.key")} {
				st, err := os.Stat(f)
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Fatalf("%s: mode %v %v", f, st.Mode(), err)
				}
			}
			cred, err := pki.LoadCredential(filepath.Join(certs, "spoke1.example.pem"), filepath.Join(certs, "spoke1.example.key"), filepath.Join(ca, "ca.pem"))
			if err != nil {
				t.Fatal(err)
			}
			want := kt[1]
			if kt[0] == "--rsa" {
				want = "rsa" + want
			}
			if got := pki.KeyTypeOf(cred.Key.Public()); string(got) != want {
				t.Fatalf("issued key type %s, want the CA's %s", got, want)
			}
			tp := loadTP(t, pki.RevocationCRL, filepath.Join(ca, "ca.pem"))
			s1, s2 := certDER(t, filepath.Join(certs, "spoke1.example.pem")), certDER(t, filepath.Join(certs, "spoke2.example.pem"))
			if _, err := tp.Verify(s1, nil); !errors.Is(err, pki.ErrRevocationUnavailable) {
				t.Fatalf("before any CRL: %v", err)
			}
			crl := filepath.Join(dir, "ca.crl")
			mustRun(t, "pki", "crl", "--ca", ca, "--out", crl)
			if _, err := tp.LoadCRLFile(crl); err != nil {
				t.Fatal(err)
			}
			pc, err := tp.Verify(s1, nil)
			if err != nil {
				t.Fatalf("issued certificate rejected: %v", err)
			}
			if pc.Subject != "cn=spoke1.example,ou=flex,o=esphub" {
				t.Fatalf("subject %q", pc.Subject)
			}
			if err := pki.CheckIdentity(pc.Leaf, wire.IDIPv6Addr, []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}); err != nil {
				t.Fatal(err)
			}
			mustRun(t, "pki", "crl", "--ca", ca, "--revoke", filepath.Join(certs, "spoke1.example.pem"), "--out", crl)
			if _, err := tp.LoadCRLFile(crl); err != nil {
				t.Fatal(err)
			}
			if _, err := tp.Verify(s1, nil); !errors.Is(err, pki.ErrRevoked) {
				t.Fatalf("revoked certificate: %v", err)
			}
			// The next CRL keeps the earlier revocation.
			mustRun(t, "pki", "crl", "--ca", ca, "--revoke", filepath.Join(certs, "spoke2.example.pem"), "--out", crl, "--days", "1")
			if _, err := tp.LoadCRLFile(crl); err != nil {
				t.Fatal(err)
			}
			for _, d := range [][]byte{s1, s2} {
				if _, err := tp.Verify(d, nil); !errors.Is(err, pki.ErrRevoked) {
					t.Fatalf("after the third CRL: %v", err)
				}
			}
		})
	}
}

func TestPKIIntermediate(t *testing.T) {
	dir := t.TempDir()
	root, sub, certs := filepath.Join(dir, "root"), filepath.Join(dir, "sub"), filepath.Join(dir, "certs")
	mustRun(t, "pki", "ca", "create", "--name", "root", "--out", root)
	mustRun(t, "pki", "ca", "create", "--name", "issuing", "--parent", root, "--out", sub)
	mustRun(t, "pki", "cert", "issue", "--ca", sub, "--cn", "hub", "--out", certs)
	cred, err := pki.LoadCredential(filepath.Join(certs, "hub.pem"), filepath.Join(certs, "hub.key"), filepath.Join(sub, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cred.Chain) != 3 {
		t.Fatalf("chain of %d", len(cred.Chain))
	}
	tp := loadTP(t, pki.RevocationNone, filepath.Join(root, "ca.pem"))
	p := cred.CertPayloads(tp.CertReq())
	if _, err := tp.Verify(p[0], p[1:]); err != nil {
		t.Fatalf("chain through the intermediate: %v", err)
	}
}

func TestPKIShowJSON(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "pki", "ca", "create", "--name", "root", "--out", dir)
	mustRun(t, "pki", "crl", "--ca", dir, "--out", filepath.Join(dir, "ca.crl"))
	out := mustRun(t, "pki", "show", "-o", "json", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.crl"), filepath.Join(dir, "ca.key"))
	var items []map[string]any
	if err := json.Unmarshal([]byte(out), &items); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(items) != 3 || items[0]["ca"] != true || items[0]["subject"] != "cn=root" || items[1]["number"] != "1" || items[2]["key"] != "ECDSA P-256 (256 bit)" {
		t.Fatalf("items %v", items)
	}
	text := mustRun(t, "pki", "show", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key"))
	for _, want := range []string{"CA Certificate", "Status: Available", "Name: root", "Key Usage: Digital Signature, Cert Sign, CRL Sign", "Private Key"} {
		if !strings.Contains(text, want) {
			t.Errorf("show lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "BEGIN") {
		t.Fatal("show printed PEM (key material?)")
	}
}

func TestPKIErrors(t *testing.T) {
	dir := t.TempDir()
	ca, other := filepath.Join(dir, "ca"), filepath.Join(dir, "other")
	mustRun(t, "pki", "ca", "create", "--name", "root", "--out", ca)
	mustRun(t, "pki", "ca", "create", "--name", "other", "--out", other)
	mustRun(t, "pki", "cert", "issue", "--ca", other, "--cn", "stranger", "--out", dir)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"pki", "ca", "create", "--out", dir}, exitUsage, "--name and --out are required"},
		{[]string{"pki", "ca", "create", "--name", "x", "--out", dir, "--ecdsa", "p999"}, exitUsage, "p256, p384 or p521"},
		{[]string{"pki", "ca", "create", "--name", "x", "--out", dir, "--ecdsa", "p256", "--rsa", "2048"}, exitUsage, "not both"},
		{[]string{"pki", "ca", "create", "--name", "x", "--out", ca}, exitError, "exists"},
		{[]string{"pki", "ca", "create", "--name", "x", "--bogus", "1"}, exitUsage, "unknown option --bogus"},
		{[]string{"pki", "cert", "issue", "--ca", ca, "--cn", "x", "--out", dir, "--ip", "hub"}, exitUsage, "--ip"},
		{[]string{"pki", "cert", "issue", "--ca", ca, "--cn", "x", "--out", dir, "--days", "0"}, exitUsage, "--days"},
		{[]string{"pki", "cert", "issue", "--ca", filepath.Join(dir, "none"), "--cn", "x", "--out", dir}, exitError, "load ca"},
		{[]string{"pki", "crl", "--ca", ca, "--out", filepath.Join(dir, "x.crl"), "--revoke", filepath.Join(dir, "stranger.pem")}, exitError, "was not issued by"},
		{[]string{"pki", "show", filepath.Join(ca, "revoked-none")}, exitError, "no such file"},
	}
	for _, c := range cases {
		code, _, errs := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d %q, want %d containing %q", c.args, code, errs, c.code, c.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(ca, "revoked")); err == nil {
		t.Fatal("a refused revocation left state behind")
	}
}

func TestPKIVerify(t *testing.T) {
	dir := t.TempDir()
	root, sub, other, certs := filepath.Join(dir, "root"), filepath.Join(dir, "sub"), filepath.Join(dir, "other"), filepath.Join(dir, "certs")
	mustRun(t, "pki", "ca", "create", "--name", "root", "--out", root)
	mustRun(t, "pki", "ca", "create", "--name", "issuing", "--parent", root, "--out", sub)
	mustRun(t, "pki", "ca", "create", "--name", "other", "--out", other)
	mustRun(t, "pki", "cert", "issue", "--ca", sub, "--cn", "hub", "--dns", "hub.example", "--ip", "198.18.0.1", "--out", certs)
	hub, subCA, rootCA := filepath.Join(certs, "hub.pem"), filepath.Join(sub, "ca.pem"), filepath.Join(root, "ca.pem")

	out := mustRun(t, "pki", "verify", "--ca", rootCA, "--fqdn", "hub.example", hub, subCA)
	if !strings.Contains(out, "OK") || !strings.Contains(out, "cn=hub <- cn=issuing <- cn=root") {
		t.Fatalf("verify output:\n%s", out)
	}
	crl := filepath.Join(dir, "sub.crl")
	mustRun(t, "pki", "crl", "--ca", sub, "--revoke", hub, "--out", crl)
	cases := []struct {
		args   []string
		reason string
	}{
		{[]string{"--ca", filepath.Join(other, "ca.pem"), hub, subCA}, "unknown_ca"},
		{[]string{"--ca", rootCA, hub}, "unknown_ca"},
		{[]string{"--ca", rootCA, "--ip", "198.18.0.9", hub, subCA}, "identity_mismatch"},
		{[]string{"--ca", rootCA, "--revocation", "crl", hub, subCA}, "revocation_unavailable"},
		{[]string{"--ca", rootCA, "--ca", subCA, "--crl", crl, hub}, "revoked"},
		{[]string{"--ca", rootCA, "--crl", crl, hub, subCA}, "revoked"},
	}
	for _, c := range cases {
		code, out, errs := runCLI(t, append([]string{"pki", "verify", "-o", "json"}, c.args...)...)
		var res verifyResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %v\n%s%s", c.args, err, out, errs)
		}
		if code != exitError || res.Valid || res.Reason != c.reason {
			t.Errorf("%v: exit %d %+v, want reason %s", c.args, code, res, c.reason)
		}
	}
}

func TestParseFlags(t *testing.T) {
	spec := flagSpec{"ca": once, "dns": repeat, "revoke": greedy}
	f, pos, err := parseFlags([]string{"--ca=x", "--dns", "a", "--dns", "b", "p1", "--revoke", "r1", "r2", "--dns", "c"}, spec)
	if err != nil {
		t.Fatal(err)
	}
	if one(f, "ca") != "x" || strings.Join(f["dns"], ",") != "a,b,c" || strings.Join(f["revoke"], ",") != "r1,r2" || strings.Join(pos, ",") != "p1" {
		t.Fatalf("flags %v pos %v", f, pos)
	}
	for _, bad := range [][]string{{"--ca", "x", "--ca", "y"}, {"--dns"}, {"--nope", "1"}} {
		if _, _, err := parseFlags(bad, spec); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
