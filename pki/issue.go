package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"time"
)

// KeyType names a key esphub's lab CA can generate.
type KeyType string

// Key types for GenerateKey.
const (
	KeyP256    KeyType = "p256"
	KeyP384    KeyType = "p384"
	KeyP521    KeyType = "p521"
	KeyRSA2048 KeyType = "rsa2048"
	KeyRSA3072 KeyType = "rsa3072"
	KeyRSA4096 KeyType = "rsa4096"
	KeyEd25519 KeyType = "ed25519"
)

// GenerateKey makes a new private key of type t.
func GenerateKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case KeyP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyP521:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case KeyEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("generate key: unknown type %q (p256, p384, p521, rsa2048, rsa3072, rsa4096, ed25519)", t)
}

// KeyTypeOf describes a public key as a KeyType ("" if unknown).
func KeyTypeOf(pub crypto.PublicKey) KeyType {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return KeyP256
		case elliptic.P384():
			return KeyP384
		case elliptic.P521():
			return KeyP521
		}
	case *rsa.PublicKey:
		return KeyType(fmt.Sprintf("rsa%d", k.N.BitLen()))
	case ed25519.PublicKey:
		return KeyEd25519
	}
	return ""
}

// CA is a certificate authority for labs and tests: a CA certificate and
// its key. It is not a production CA (no audit, no key protection). Its
// methods only read the CA and are safe for concurrent use; serial numbers
// are random (127 bits), so concurrent issuers never collide in practice.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CAOptions configure NewCA.
type CAOptions struct {
	// Subject of the CA; an empty CommonName is an error.
	Subject pkix.Name
	// NotBefore defaults to one hour before now, NotAfter to ten years on.
	NotBefore, NotAfter time.Time
	// Parent signs the new CA as an intermediate; nil makes a root.
	Parent *CA
	// MaxPathLen limits intermediates below this CA (0: none allowed
	// below an intermediate, unlimited for a root).
	MaxPathLen int
}

// NewCA creates a CA certificate for key.
func NewCA(key crypto.Signer, o CAOptions) (*CA, error) {
	if o.Subject.CommonName == "" {
		return nil, fmt.Errorf("new ca: the subject needs a common name")
	}
	nb, na := validity(o.NotBefore, o.NotAfter, 10*365*24*time.Hour)
	tmpl := &x509.Certificate{
		Subject:               o.Subject,
		NotBefore:             nb,
		NotAfter:              na,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          keyID(key.Public()),
	}
	if o.Parent != nil {
		tmpl.MaxPathLen = o.MaxPathLen
		tmpl.MaxPathLenZero = o.MaxPathLen == 0
	} else if o.MaxPathLen > 0 {
		tmpl.MaxPathLen = o.MaxPathLen
	}
	signer := &CA{Cert: tmpl, Key: key}
	if o.Parent != nil {
		signer = o.Parent
	}
	cert, err := signer.sign(tmpl, key.Public())
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// IssueOptions describe an end-entity certificate.
type IssueOptions struct {
	Subject pkix.Name
	DNS     []string
	IPs     []netip.Addr
	Emails  []string
	// NotBefore defaults to one hour before now, NotAfter to one year on.
	NotBefore, NotAfter time.Time
	// ExtKeyUsage defaults to serverAuth and clientAuth (Windows and
	// AnyConnect peers insist on them) plus ipsecIKE.
	ExtKeyUsage []x509.ExtKeyUsage
	// KeyUsage defaults to digitalSignature (plus keyEncipherment for RSA).
	KeyUsage x509.KeyUsage
}

// Issue signs an end-entity certificate for pub.
func (ca *CA) Issue(pub crypto.PublicKey, o IssueOptions) (*x509.Certificate, error) {
	if o.Subject.CommonName == "" && len(o.DNS) == 0 && len(o.IPs) == 0 && len(o.Emails) == 0 {
		return nil, fmt.Errorf("issue: a certificate needs a common name or a subjectAltName")
	}
	nb, na := validity(o.NotBefore, o.NotAfter, 365*24*time.Hour)
	tmpl := &x509.Certificate{
		Subject:               o.Subject,
		NotBefore:             nb,
		NotAfter:              na,
		BasicConstraintsValid: true,
		DNSNames:              o.DNS,
		EmailAddresses:        o.Emails,
		ExtKeyUsage:           o.ExtKeyUsage,
		KeyUsage:              o.KeyUsage,
		SubjectKeyId:          keyID(pub),
	}
	for _, a := range o.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	if tmpl.ExtKeyUsage == nil {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidIPsecIKE}
	}
	if tmpl.KeyUsage == 0 {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if _, ok := pub.(*rsa.PublicKey); ok {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
	}
	cert, err := ca.sign(tmpl, pub)
	if err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	return cert, nil
}

// Revocations lists certs as revoked at time at, for CA.CRL.
func Revocations(at time.Time, certs ...*x509.Certificate) []x509.RevocationListEntry {
	out := make([]x509.RevocationListEntry, 0, len(certs))
	for _, c := range certs {
		out = append(out, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: at})
	}
	return out
}

// CRL signs a CRL with the given revoked entries (certificates this CA
// issued), numbered number, valid from thisUpdate until nextUpdate. It
// returns DER.
func (ca *CA) CRL(revoked []x509.RevocationListEntry, number int64, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: thisUpdate, NextUpdate: nextUpdate,
		RevokedCertificateEntries: revoked}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("crl: %w", err)
	}
	return der, nil
}

func (ca *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func validity(nb, na time.Time, def time.Duration) (time.Time, time.Time) {
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if na.IsZero() {
		na = nb.Add(def)
	}
	return nb, na
}

// keyID is the RFC 5280 §4.2.1.2 method 1 key identifier: SHA-1 of the
// subjectPublicKey bits.
func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	h := sha1.Sum(spki.Key.Bytes)
	return h[:]
}
