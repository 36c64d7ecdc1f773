package main

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/esphub/esphub/pki"
)

// pkiTrustpoint is `esphubctl pki trustpoint`: it checks and copies the
// files of one `crypto pki trustpoint NAME` into the directory esphubd
// reads (-pki-dir/NAME): ca.pem, cert.pem, key.pem and crl.pem. The
// certificate must chain to one of the CAs (through intermediates in the
// certificate file) and match the key; the CRL must be signed by a CA.
// Existing files are not overwritten, except crl.pem (a newer CRL).
func pkiTrustpoint(e *env, args []string) int {
	const cmd = "trustpoint"
	f, pos, err := parseFlags(args, flagSpec{"out": once, "ca": greedy, "cert": once, "key": once, "crl": once})
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err == nil && (one(f, "out") == "" || len(f["ca"]) == 0) {
		err = errors.New("--out and --ca are required")
	}
	if err == nil && (one(f, "cert") == "") != (one(f, "key") == "") {
		err = errors.New("--cert and --key go together")
	}
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	var cas []*x509.Certificate
	var caPEM bytes.Buffer
	for _, file := range f["ca"] {
		certs, err := pki.LoadCertificateFile(file)
		if err != nil {
			return pkiFail(e, cmd, fmt.Errorf("--ca %s: %w", file, err))
		}
		for _, c := range certs {
			cas = append(cas, c)
			caPEM.Write(pki.EncodeCertificatePEM(c))
		}
	}
	tp, err := pki.NewTrustpoint("check", cas, pki.Options{Revocation: pki.RevocationNone})
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	var certPEM, keyPEM []byte
	var leaf *x509.Certificate
	if one(f, "cert") != "" {
		chain, err := pki.LoadCertificateFile(one(f, "cert"))
		if err != nil {
			return pkiFail(e, cmd, fmt.Errorf("--cert: %w", err))
		}
		keyPEM, err = os.ReadFile(one(f, "key"))
		if err != nil {
			return pkiFail(e, cmd, fmt.Errorf("--key: %w", err))
		}
		key, err := pki.ParsePrivateKey(keyPEM)
		if err != nil {
			return pkiFail(e, cmd, fmt.Errorf("--key: %w", err))
		}
		if _, err := pki.NewCredential(chain, key); err != nil {
			return pkiFail(e, cmd, fmt.Errorf("--cert and --key: %w", err))
		}
		var inter [][]byte
		for _, c := range chain[1:] {
			inter = append(inter, c.Raw)
		}
		if _, err := tp.Verify(chain[0].Raw, inter); err != nil {
			return pkiFail(e, cmd, fmt.Errorf("--cert does not validate against --ca: %w", err))
		}
		leaf = chain[0]
		for _, c := range chain {
			certPEM = append(certPEM, pki.EncodeCertificatePEM(c)...)
		}
	}
	var crlData []byte
	if file := one(f, "crl"); file != "" {
		if crlData, err = os.ReadFile(file); err != nil {
			return pkiFail(e, cmd, fmt.Errorf("--crl: %w", err))
		}
		if _, err := tp.LoadCRL(crlData); err != nil {
			return pkiFail(e, cmd, fmt.Errorf("--crl: %w", err))
		}
	}
	out := one(f, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return pkiFail(e, cmd, err)
	}
	if err := writeFileNew(filepath.Join(out, "ca.pem"), caPEM.Bytes(), 0o644); err != nil {
		return pkiFail(e, cmd, err)
	}
	if leaf != nil {
		if err := writeFileNew(filepath.Join(out, "key.pem"), keyPEM, 0o600); err != nil {
			return pkiFail(e, cmd, err)
		}
		if err := writeFileNew(filepath.Join(out, "cert.pem"), certPEM, 0o644); err != nil {
			return pkiFail(e, cmd, err)
		}
	}
	if crlData != nil {
		// Replaced atomically: esphubd may be reading it.
		tmp := filepath.Join(out, ".crl.pem.new")
		if err := os.WriteFile(tmp, crlData, 0o644); err != nil {
			return pkiFail(e, cmd, err)
		}
		if err := os.Rename(tmp, filepath.Join(out, "crl.pem")); err != nil {
			return pkiFail(e, cmd, err)
		}
	}
	fmt.Fprintf(e.stdout, "trustpoint %s: %d CA certificate(s)", out, len(cas))
	if leaf != nil {
		fmt.Fprintf(e.stdout, ", certificate %s (%s key)", pki.SubjectDN(leaf), pki.KeyTypeOf(leaf.PublicKey))
	}
	if crlData != nil {
		fmt.Fprint(e.stdout, ", CRL")
	}
	fmt.Fprintln(e.stdout)
	return exitOK
}
