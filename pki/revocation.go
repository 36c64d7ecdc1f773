package pki

import (
	"bytes"
	"crypto/x509"
	"slices"

	"fmt"
	"os"
	"time"
)

// LoadCRL installs a CRL (PEM or DER) for the trustpoint. Its issuer must
// be one of the trustpoint's CAs, or an intermediate CA given in
// issuerChain (issuer first, then its own issuers) that chains to one of
// them at the trustpoint's clock; the CRL's signature must verify under
// the issuer's key (ReasonUnknownCA, ReasonBadSignature otherwise). A CRL
// replaces an older one from the same issuer; one with a lower CRL number
// than the installed CRL is refused, so a replayed old file cannot
// un-revoke a certificate. It returns the parsed CRL.
func (tp *Trustpoint) LoadCRL(data []byte, issuerChain ...*x509.Certificate) (*x509.RevocationList, error) {
	crl, err := ParseCRL(data)
	if err != nil {
		return nil, fmt.Errorf("load crl: %w", err)
	}
	var issuer *x509.Certificate
	var sigErr error
	for _, ca := range append(slices.Clone(tp.cas), issuerChain...) {
		if !bytes.Equal(ca.RawSubject, crl.RawIssuer) {
			continue
		}
		if sigErr = crl.CheckSignatureFrom(ca); sigErr == nil {
			issuer = ca
			break
		}
	}
	dn, _ := FormatRawDN(crl.RawIssuer)
	if issuer == nil {
		if sigErr != nil {
			return nil, fmt.Errorf("load crl: %w", fail(ReasonBadSignature, dn, sigErr))
		}
		return nil, fmt.Errorf("load crl: %w", fail(ReasonUnknownCA, dn, fmt.Errorf("CRL issuer is not a CA of trustpoint %s", tp.Name)))
	}
	if !slices.Contains(tp.cas, issuer) {
		inter := x509.NewCertPool()
		for _, c := range issuerChain {
			inter.AddCert(c)
		}
		if _, err := issuer.Verify(x509.VerifyOptions{Roots: tp.pool, Intermediates: inter, CurrentTime: tp.now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil || !issuer.IsCA {
			return nil, fmt.Errorf("load crl: %w", fail(ReasonUnknownCA, dn, fmt.Errorf("CRL issuer does not chain to trustpoint %s", tp.Name)))
		}
	}
	e := &crlEntry{crl: crl, revoked: make(map[string]struct{}, len(crl.RevokedCertificateEntries))}
	for _, r := range crl.RevokedCertificateEntries {
		if r.SerialNumber != nil {
			e.revoked[string(r.SerialNumber.Bytes())] = struct{}{}
		}
	}
	key := crlKey(issuer)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if old := tp.crls[key]; old != nil && old.crl.Number != nil && crl.Number != nil && crl.Number.Cmp(old.crl.Number) < 0 {
		return nil, fmt.Errorf("load crl: CRL number %v is older than the installed %v", crl.Number, old.crl.Number)
	}
	tp.crls[key] = e
	return crl, nil
}

// LoadCRLFile is LoadCRL on a file's contents (`revocation-check crl`
// with a CRL kept on local disk).
func (tp *Trustpoint) LoadCRLFile(path string, issuerChain ...*x509.Certificate) (*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load crl: %w", err)
	}
	crl, err := tp.LoadCRL(data, issuerChain...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return crl, nil
}

// CRLs returns the installed CRLs; they are shared and must not be
// modified.
func (tp *Trustpoint) CRLs() []*x509.RevocationList {
	tp.mu.RLock()
	defer tp.mu.RUnlock()
	out := make([]*x509.RevocationList, 0, len(tp.crls))
	for _, e := range tp.crls {
		out = append(out, e.crl)
	}
	return out
}

// checkRevocation looks every certificate of chain but the anchor up in
// its issuer's CRL, under the trustpoint's mode.
func (tp *Trustpoint) checkRevocation(chain []*x509.Certificate, now time.Time) error {
	if tp.mode == RevocationNone {
		return nil
	}
	tp.mu.RLock()
	defer tp.mu.RUnlock()
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		e := tp.crls[crlKey(issuer)]
		if e == nil {
			if tp.mode == RevocationCRL {
				return fail(ReasonRevocationUnavailable, SubjectDN(c), fmt.Errorf("no CRL from %s", SubjectDN(issuer)))
			}
			continue
		}
		if _, ok := e.revoked[string(c.SerialNumber.Bytes())]; ok {
			return fail(ReasonRevoked, SubjectDN(c), fmt.Errorf("serial %X is on the CRL of %s", c.SerialNumber, SubjectDN(issuer)))
		}
		if tp.mode == RevocationCRL && !e.crl.NextUpdate.IsZero() && now.After(e.crl.NextUpdate) {
			return fail(ReasonRevocationUnavailable, SubjectDN(c), fmt.Errorf("the CRL of %s expired at %s", SubjectDN(issuer), e.crl.NextUpdate.UTC().Format(time.RFC3339)))
		}
	}
	return nil
}

// Revoked reports whether the installed CRLs list a certificate of chain
// (a PeerCertificate.Chain). Freshness and missing CRLs do not count: this
// is for tearing down sessions, not for admitting them.
func (tp *Trustpoint) Revoked(chain []*x509.Certificate) bool {
	tp.mu.RLock()
	defer tp.mu.RUnlock()
	for i := 0; i+1 < len(chain); i++ {
		if e := tp.crls[crlKey(chain[i+1])]; e != nil {
			if _, ok := e.revoked[string(chain[i].SerialNumber.Bytes())]; ok {
				return true
			}
		}
	}
	return false
}

// RevokedAmong implements `crypto ikev2 disconnect-revoked-peers`: after
// a new CRL is loaded, the caller passes the chains of its established
// sessions' peers and gets back the indices of those to tear down, in
// increasing order. IKEv2 does not re-validate on rekey, so this is the
// only point where revocation reaches a live session.
func (tp *Trustpoint) RevokedAmong(chains [][]*x509.Certificate) []int {
	var out []int
	for i, ch := range chains {
		if tp.Revoked(ch) {
			out = append(out, i)
		}
	}
	return out
}

// crlKey identifies an issuing CA by name and key, so that two CAs that
// share a name never share a CRL.
func crlKey(ca *x509.Certificate) string {
	return string(ca.RawSubject) + "\x00" + string(ca.RawSubjectPublicKeyInfo)
}
