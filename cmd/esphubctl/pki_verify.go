package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/pki"
)

// verifyResult is the JSON form of `pki verify`.
type verifyResult struct {
	File     string    `json:"file"`
	Valid    bool      `json:"valid"`
	Reason   string    `json:"reason,omitempty"`
	Error    string    `json:"error,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	Issuer   string    `json:"issuer,omitempty"`
	Chain    []string  `json:"chain,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
}

// pkiVerify validates a certificate as esphub's IKE_AUTH would: against
// the CA certificates given, with CRLs and an optional IKE identity. It
// exits 1 when the certificate is refused and names the reason counter.
func pkiVerify(e *env, args []string) int {
	const cmd = "verify"
	f, pos, err := parseFlags(args, flagSpec{"ca": repeat, "crl": repeat, "revocation": once, "fqdn": once, "ip": once, "email": once})
	if err == nil && (len(f["ca"]) == 0 || len(pos) == 0) {
		err = errors.New("--ca CAFILE and a certificate file are required")
	}
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	mode := pki.RevocationCRLNone
	if r := one(f, "revocation"); r != "" {
		if mode, err = pki.ParseRevocationMode(strings.Split(r, "-")); err != nil {
			return pkiUsage(e, cmd, fmt.Errorf("--revocation %q: crl, crl-none or none", r))
		}
	}
	var cas []*x509.Certificate
	for _, file := range f["ca"] {
		certs, err := pki.LoadCertificateFile(file)
		if err != nil {
			return pkiFail(e, cmd, err)
		}
		cas = append(cas, certs...)
	}
	tp, err := pki.NewTrustpoint("cli", cas, pki.Options{Revocation: mode})
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	var chain [][]byte
	var inters []*x509.Certificate
	for i, file := range pos {
		certs, err := pki.LoadCertificateFile(file)
		if err != nil {
			return pkiFail(e, cmd, err)
		}
		for j, c := range certs {
			chain = append(chain, c.Raw)
			if i > 0 || j > 0 {
				inters = append(inters, c)
			}
		}
	}
	// CRLs may come from the given CAs or from intermediates in the chain.
	for _, file := range f["crl"] {
		if _, err := tp.LoadCRLFile(file, inters...); err != nil {
			return pkiFail(e, cmd, err)
		}
	}
	res := verifyResult{File: pos[0]}
	pc, err := tp.Verify(chain[0], chain[1:])
	if err == nil {
		switch {
		case one(f, "fqdn") != "":
			err = pki.CheckIdentity(pc.Leaf, wire.IDFQDN, []byte(one(f, "fqdn")))
		case one(f, "email") != "":
			err = pki.CheckIdentity(pc.Leaf, wire.IDRFC822, []byte(one(f, "email")))
		case one(f, "ip") != "":
			a, perr := netip.ParseAddr(one(f, "ip"))
			if perr != nil {
				return pkiUsage(e, cmd, fmt.Errorf("--ip: %w", perr))
			}
			t := wire.IDIPv4Addr
			if a.Is6() {
				t = wire.IDIPv6Addr
			}
			err = pki.CheckIdentity(pc.Leaf, t, a.AsSlice())
		}
	}
	if err != nil {
		res.Reason, res.Error = pki.ReasonOf(err).String(), err.Error()
	} else {
		res.Valid, res.Subject, res.Issuer, res.NotAfter = true, pc.Subject, pc.Issuer, pc.NotAfter.UTC()
		for _, c := range pc.Chain {
			res.Chain = append(res.Chain, pki.SubjectDN(c))
		}
	}
	if e.output == "json" {
		writeJSON(e, res)
	} else if res.Valid {
		fmt.Fprintf(e.stdout, "%s: OK\n  Subject: %s\n  Chain: %s\n  Usable until: %s\n", res.File, res.Subject, strings.Join(res.Chain, " <- "), iosDate(res.NotAfter))
	} else {
		fmt.Fprintf(e.stdout, "%s: REJECTED (%s)\n  %s\n", res.File, res.Reason, res.Error)
	}
	if !res.Valid {
		return exitError
	}
	return exitOK
}
