package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPKITrustpoint: the trustpoint layout esphubd reads, from the CA and
// certificate `pki ca create` and `pki cert issue` made; mismatched inputs
// are refused and a key is never overwritten.
func TestPKITrustpoint(t *testing.T) {
	d := t.TempDir()
	ca, other := filepath.Join(d, "ca"), filepath.Join(d, "other")
	mustRun(t, "pki", "ca", "create", "--name", "tp test CA", "--out", ca)
	mustRun(t, "pki", "ca", "create", "--name", "other CA", "--out", other)
	certs := filepath.Join(d, "certs")
	mustRun(t, "pki", "cert", "issue", "--ca", ca, "--cn", "hub.lab.example", "--out", certs)
	mustRun(t, "pki", "cert", "issue", "--ca", other, "--cn", "stranger.lab.example", "--out", certs)
	crl := filepath.Join(d, "crl.pem")
	mustRun(t, "pki", "crl", "--ca", ca, "--revoke", filepath.Join(certs, "hub.lab.example.pem"), "--out", crl)

	tp := filepath.Join(d, "pki", "lab")
	out := mustRun(t, "pki", "trustpoint", "--out", tp, "--ca", filepath.Join(ca, "ca.pem"),
		"--cert", filepath.Join(certs, "hub.lab.example.pem"), "--key", filepath.Join(certs, "hub.lab.example.key"), "--crl", crl)
	if !strings.Contains(out, "certificate cn=hub.lab.example (p256 key), CRL") {
		t.Errorf("output: %q", out)
	}
	for name, mode := range map[string]os.FileMode{"ca.pem": 0o644, "cert.pem": 0o644, "key.pem": 0o600, "crl.pem": 0o644} {
		st, err := os.Stat(filepath.Join(tp, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"key exists", []string{"--out", tp, "--ca", filepath.Join(ca, "ca.pem")}, "exists"},
		{"certificate of another CA", []string{"--out", filepath.Join(d, "x"), "--ca", filepath.Join(ca, "ca.pem"),
			"--cert", filepath.Join(certs, "stranger.lab.example.pem"), "--key", filepath.Join(certs, "stranger.lab.example.key")}, "does not validate"},
		{"key of another certificate", []string{"--out", filepath.Join(d, "y"), "--ca", filepath.Join(ca, "ca.pem"),
			"--cert", filepath.Join(certs, "hub.lab.example.pem"), "--key", filepath.Join(certs, "stranger.lab.example.key")}, "--cert and --key"},
		{"CRL of another CA", []string{"--out", filepath.Join(d, "z"), "--ca", filepath.Join(other, "ca.pem"), "--crl", crl}, "--crl"},
		{"cert without key", []string{"--out", filepath.Join(d, "w"), "--ca", filepath.Join(ca, "ca.pem"), "--cert", filepath.Join(certs, "hub.lab.example.pem")}, "go together"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runCLI(t, append([]string{"pki", "trustpoint"}, c.args...)...)
			if code == exitOK || !strings.Contains(errs, c.want) {
				t.Fatalf("exit %d, stderr %q; want a failure mentioning %q", code, errs, c.want)
			}
		})
	}
}
