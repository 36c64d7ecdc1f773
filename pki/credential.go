package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

// Credential is our own certificate chain and private key for a
// trustpoint (`pki trustpoint NAME sign`). It is immutable after
// construction and safe for concurrent use; the key is never exposed by
// anything but the Key field, which callers pass to ike/sig.Sign.
type Credential struct {
	// Chain is our end-entity certificate first, then its issuers in
	// order; it may end with the root CA (needed to answer CERTREQs that
	// name the root).
	Chain []*x509.Certificate
	Key   crypto.Signer
}

// NewCredential checks that key belongs to chain[0] and that each
// certificate is signed by the next one.
func NewCredential(chain []*x509.Certificate, key crypto.Signer) (*Credential, error) {
	if len(chain) == 0 || key == nil {
		return nil, fmt.Errorf("credential: need a certificate and a key")
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, fmt.Errorf("credential: the private key does not belong to %s", SubjectDN(chain[0]))
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return nil, fmt.Errorf("credential: %s is not issued by %s: %w", SubjectDN(chain[i]), SubjectDN(chain[i+1]), err)
		}
	}
	return &Credential{Chain: chain, Key: key}, nil
}

// LoadCredential reads a PEM certificate file (our certificate, optionally
// followed by its issuers), a PEM private key file, and optional extra
// PEM files with the rest of the chain (e.g. the CA certificate).
func LoadCredential(certFile, keyFile string, chainFiles ...string) (*Credential, error) {
	chain, err := LoadCertificateFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	for _, f := range chainFiles {
		more, err := LoadCertificateFile(f)
		if err != nil {
			return nil, fmt.Errorf("credential: %w", err)
		}
		chain = append(chain, more...)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	key, err := ParsePrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("credential %s: %w", keyFile, err)
	}
	return NewCredential(chain, key)
}

// Leaf is our end-entity certificate.
func (c *Credential) Leaf() *x509.Certificate { return c.Chain[0] }

// Answers reports whether a peer's CERTREQ data names a CA our chain
// leads to (so this credential is the one to present).
func (c *Credential) Answers(certReq []byte) bool {
	for _, ca := range c.Chain[1:] {
		if certReqContains(certReq, ca) {
			return true
		}
	}
	return false
}

// CertPayloads returns the DER certificates to send in CERT payloads,
// end entity first. With CERTREQ data naming a CA in our chain it sends
// the certificates below that CA; otherwise the whole chain. A
// self-signed root is never sent: the peer must already trust it. The
// slices alias the certificates' Raw bytes.
func (c *Credential) CertPayloads(certReq []byte) [][]byte {
	out := [][]byte{c.Chain[0].Raw}
	for _, ca := range c.Chain[1:] {
		if certReqContains(certReq, ca) || isSelfSigned(ca) {
			break
		}
		out = append(out, ca.Raw)
	}
	return out
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// NotAfter is when our chain's first certificate expires.
func (c *Credential) NotAfter() time.Time {
	t := c.Chain[0].NotAfter
	for _, x := range c.Chain[1:] {
		if x.NotAfter.Before(t) {
			t = x.NotAfter
		}
	}
	return t
}

// SelectCredential picks the credential to present for a peer's CERTREQ:
// the first that answers it, else the first one (RFC 7296 lets us send a
// certificate the peer did not ask for). It returns nil for no credentials.
func SelectCredential(creds []*Credential, certReq []byte) *Credential {
	for _, c := range creds {
		if c.Answers(certReq) {
			return c
		}
	}
	if len(creds) > 0 {
		return creds[0]
	}
	return nil
}
