package pki

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/esphub/esphub/config"
)

// RevocationMode is a trustpoint's `revocation-check`.
type RevocationMode uint8

// Revocation modes. The zero value is IOS's default, `revocation-check crl`.
const (
	// RevocationCRL requires a current CRL from each issuing CA: a
	// certificate whose issuer has no CRL, or only an expired one, is
	// refused with ReasonRevocationUnavailable.
	RevocationCRL RevocationMode = iota
	// RevocationCRLNone (`revocation-check crl none`) checks CRLs that are
	// loaded and accepts the certificate when there is none.
	RevocationCRLNone
	// RevocationNone (`revocation-check none`) never checks.
	RevocationNone
)

// ParseRevocationMode maps the words after `revocation-check` (as kept in
// config.Trustpoint.RevocationCheck) to a mode; no words is the default.
func ParseRevocationMode(words []string) (RevocationMode, error) {
	switch {
	case len(words) == 0, slices.Equal(words, []string{"crl"}):
		return RevocationCRL, nil
	case slices.Equal(words, []string{"crl", "none"}):
		return RevocationCRLNone, nil
	case slices.Equal(words, []string{"none"}):
		return RevocationNone, nil
	}
	return 0, fmt.Errorf("revocation-check %q: esphub supports crl, crl none and none", words)
}

// String renders the mode as configured.
func (m RevocationMode) String() string {
	switch m {
	case RevocationCRL:
		return "crl"
	case RevocationCRLNone:
		return "crl none"
	case RevocationNone:
		return "none"
	}
	return fmt.Sprintf("mode-%d", uint8(m))
}

// DefaultMaxChain is the longest chain (end entity plus intermediates)
// Verify accepts unless Options.MaxChain says otherwise.
const DefaultMaxChain = 4

// Options configure a Trustpoint.
type Options struct {
	Revocation RevocationMode
	// MaxChain bounds the certificates a peer may present (end entity plus
	// intermediates); 0 means DefaultMaxChain.
	MaxChain int
	// Now is the clock for validity and CRL freshness; nil is time.Now.
	Now func() time.Time
}

// Trustpoint is one `crypto pki trustpoint`: the CA certificates that
// anchor peer validation (anchors need not be self-signed: a trustpoint may
// hold an issuing sub-CA, as on IOS) and the CRLs they published.
// A Trustpoint is safe for concurrent use; LoadCRL may run while Verify
// does.
type Trustpoint struct {
	Name string

	cas      []*x509.Certificate
	pool     *x509.CertPool
	maxChain int
	mode     RevocationMode
	now      func() time.Time
	certReq  []byte

	mu   sync.RWMutex
	crls map[string]*crlEntry // by crlKey of the issuer
}

type crlEntry struct {
	crl     *x509.RevocationList
	revoked map[string]struct{} // serial number bytes
}

// NewTrustpoint builds a trustpoint from its CA certificates, which must
// be CAs (basic constraints cA=TRUE).
func NewTrustpoint(name string, cas []*x509.Certificate, opts Options) (*Trustpoint, error) {
	if len(cas) == 0 {
		return nil, fmt.Errorf("trustpoint %s: no CA certificate", name)
	}
	tp := &Trustpoint{Name: name, pool: x509.NewCertPool(), maxChain: opts.MaxChain, mode: opts.Revocation, now: opts.Now, crls: map[string]*crlEntry{}}
	if tp.maxChain <= 0 {
		tp.maxChain = DefaultMaxChain
	}
	if tp.now == nil {
		tp.now = time.Now
	}
	for _, c := range cas {
		if !c.IsCA || !c.BasicConstraintsValid {
			return nil, fmt.Errorf("trustpoint %s: %s is not a CA certificate", name, SubjectDN(c))
		}
		tp.cas = append(tp.cas, c)
		tp.pool.AddCert(c)
		h := sha1.Sum(c.RawSubjectPublicKeyInfo)
		tp.certReq = append(tp.certReq, h[:]...)
	}
	return tp, nil
}

// CAs returns the trustpoint's CA certificates; the slice is a copy, the
// certificates are shared and must not be modified.
func (tp *Trustpoint) CAs() []*x509.Certificate { return slices.Clone(tp.cas) }

// Revocation returns the trustpoint's revocation-check mode.
func (tp *Trustpoint) Revocation() RevocationMode { return tp.mode }

// CertReq returns the Certification Authority data of a CERTREQ payload
// (encoding X.509 Certificate - Signature) for this trustpoint: the
// concatenated SHA-1 hashes of each CA's SubjectPublicKeyInfo (RFC 7296
// §3.7). The slice is shared; callers must not modify it.
func (tp *Trustpoint) CertReq() []byte { return tp.certReq }

// Requested reports whether a peer's CERTREQ data names one of this
// trustpoint's CAs (to pick the trustpoint whose credential to send).
func (tp *Trustpoint) Requested(certReq []byte) bool {
	for _, c := range tp.cas {
		if certReqContains(certReq, c) {
			return true
		}
	}
	return false
}

// ParseCertReq splits CERTREQ Certification Authority data into its
// 20-byte SHA-1 key hashes. A length that is not a multiple of 20 is
// ReasonMalformed.
func ParseCertReq(data []byte) ([][sha1.Size]byte, error) {
	if len(data)%sha1.Size != 0 {
		return nil, fail(ReasonMalformed, "", fmt.Errorf("CERTREQ data of %d bytes is not a list of SHA-1 hashes", len(data)))
	}
	out := make([][sha1.Size]byte, len(data)/sha1.Size)
	for i := range out {
		copy(out[i][:], data[i*sha1.Size:])
	}
	return out, nil
}

func certReqContains(data []byte, ca *x509.Certificate) bool {
	h := sha1.Sum(ca.RawSubjectPublicKeyInfo)
	for i := 0; i+sha1.Size <= len(data); i += sha1.Size {
		if bytes.Equal(data[i:i+sha1.Size], h[:]) {
			return true
		}
	}
	return false
}

// PeerCertificate is a peer's validated end-entity certificate.
type PeerCertificate struct {
	Leaf *x509.Certificate
	// Chain is the verified path from Leaf to a trustpoint CA, inclusive;
	// keep it with the session for RevokedAmong.
	Chain []*x509.Certificate
	// Subject and Issuer are the leaf's DNs in IOS form.
	Subject, Issuer string
	// NotAfter is the earliest expiry along the chain: with `lifetime
	// certificate` (IOS's default) the IKE SA must not outlive it.
	NotAfter time.Time
}

// Verify validates a peer's end-entity certificate (DER from the first
// CERT payload) with the intermediates from its other CERT payloads
// against the trustpoint: signatures, validity at the trustpoint's clock,
// CA constraints, key usage fit for IKE (digitalSignature or
// nonRepudiation when the extension is present; an extended key usage, if
// any, must include serverAuth, clientAuth, ipsecIKE, an IPsec usage or
// anyExtendedKeyUsage) and revocation. Every failure is an *Error.
func (tp *Trustpoint) Verify(leafDER []byte, intermediatesDER [][]byte) (*PeerCertificate, error) {
	if 1+len(intermediatesDER) > tp.maxChain {
		return nil, fail(ReasonChainTooLong, "", fmt.Errorf("%d certificates, trustpoint %s allows %d", 1+len(intermediatesDER), tp.Name, tp.maxChain))
	}
	leaf, err := parseDER(leafDER)
	if err != nil {
		return nil, err
	}
	inter := x509.NewCertPool()
	var inters []*x509.Certificate
	for _, d := range intermediatesDER {
		c, err := parseDER(d)
		if err != nil {
			return nil, err
		}
		inter.AddCert(c)
		inters = append(inters, c)
	}
	now := tp.now()
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         tp.pool,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, tp.classify(leaf, inters, now, err)
	}
	chain := chains[0]
	for _, c := range chains[1:] {
		if len(c) < len(chain) {
			chain = c
		}
	}
	if len(chain)-1 > tp.maxChain {
		return nil, fail(ReasonChainTooLong, SubjectDN(leaf), fmt.Errorf("path of %d certificates", len(chain)))
	}
	if err := checkIKEUsage(leaf); err != nil {
		return nil, err
	}
	if err := tp.checkRevocation(chain, now); err != nil {
		return nil, err
	}
	pc := &PeerCertificate{Leaf: leaf, Chain: chain, Subject: SubjectDN(leaf), Issuer: IssuerDN(leaf), NotAfter: leaf.NotAfter}
	for _, c := range chain {
		if c.NotAfter.Before(pc.NotAfter) {
			pc.NotAfter = c.NotAfter
		}
	}
	return pc, nil
}

// oidIPsecIKE is id-kp-ipsecIKE (RFC 4945 §5.1.3.12).
var oidIPsecIKE = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 17}

func checkIKEUsage(c *x509.Certificate) error {
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fail(ReasonKeyUsage, SubjectDN(c), errors.New("key usage lacks digitalSignature"))
	}
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return nil
	}
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageAny, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth,
			x509.ExtKeyUsageIPSECEndSystem, x509.ExtKeyUsageIPSECTunnel, x509.ExtKeyUsageIPSECUser:
			return nil
		}
	}
	for _, u := range c.UnknownExtKeyUsage {
		if u.Equal(oidIPsecIKE) {
			return nil
		}
	}
	return fail(ReasonKeyUsage, SubjectDN(c), errors.New("extended key usage allows neither IKE, IPsec, serverAuth nor clientAuth"))
}

// classify turns a crypto/x509 verification error into an *Error. x509
// reports a signature that fails under a CA with the right name as an
// unknown authority; we walk the path ourselves to tell the two apart.
func (tp *Trustpoint) classify(leaf *x509.Certificate, inters []*x509.Certificate, now time.Time, err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		subj := SubjectDN(inv.Cert)
		switch inv.Reason {
		case x509.Expired:
			if now.Before(inv.Cert.NotBefore) {
				return fail(ReasonNotYetValid, subj, fmt.Errorf("valid from %s", inv.Cert.NotBefore.UTC().Format(time.RFC3339)))
			}
			return fail(ReasonExpired, subj, fmt.Errorf("expired at %s", inv.Cert.NotAfter.UTC().Format(time.RFC3339)))
		case x509.TooManyIntermediates:
			return fail(ReasonChainTooLong, subj, err)
		}
		return fail(ReasonBadChain, subj, err)
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		if r, subj := tp.walk(leaf, inters); r != 0 {
			return fail(r, subj, err)
		}
		return fail(ReasonUnknownCA, SubjectDN(leaf), fmt.Errorf("issuer %s is not trustpoint %s's CA", IssuerDN(leaf), tp.Name))
	}
	return fail(ReasonBadChain, SubjectDN(leaf), err)
}

// walk follows issuer names from leaf through inters to the trustpoint's
// CAs. It returns ReasonBadSignature when some certificate's issuer is
// found by name but no candidate's key verifies the signature,
// ReasonBadChain when the only candidate is not allowed to sign (not a
// CA), and 0 otherwise (the caller then reports an unknown CA).
func (tp *Trustpoint) walk(leaf *x509.Certificate, inters []*x509.Certificate) (Reason, string) {
	cur := leaf
	for range tp.maxChain + 1 {
		var found, parent *x509.Certificate
		notCA := false
		for _, cand := range slices.Concat(tp.cas, inters) {
			if cand == cur || !bytes.Equal(cand.RawSubject, cur.RawIssuer) {
				continue
			}
			found = cand
			err := cur.CheckSignatureFrom(cand)
			if err == nil {
				parent = cand
				break
			}
			if errors.As(err, new(x509.ConstraintViolationError)) {
				notCA = true
			}
		}
		switch {
		case found == nil:
			return 0, ""
		case parent == nil && notCA:
			return ReasonBadChain, SubjectDN(cur)
		case parent == nil:
			return ReasonBadSignature, SubjectDN(cur)
		}
		if slices.Contains(tp.cas, parent) {
			return 0, ""
		}
		cur = parent
	}
	return 0, ""
}

// OptionsFromConfig derives a trustpoint's Options from its configuration
// (`crypto pki trustpoint NAME` with `revocation-check ...`); now is the
// clock (nil: time.Now). The CA certificates themselves come from files
// the daemon is told about, not from the configuration.
func OptionsFromConfig(c *config.Trustpoint, now func() time.Time) (Options, error) {
	o := Options{Now: now}
	if c == nil {
		return o, nil
	}
	mode, err := ParseRevocationMode(c.RevocationCheck)
	if err != nil {
		return o, fmt.Errorf("trustpoint %s: %w", c.Name, err)
	}
	o.Revocation = mode
	return o, nil
}
