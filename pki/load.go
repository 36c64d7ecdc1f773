package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// maxCertSize bounds one DER certificate or CRL we are willing to parse
// from the wire or a file (the IKE message limit is far below this).
const maxCertSize = 1 << 20

// ParseCertificates decodes every certificate in data: one or more PEM
// "CERTIFICATE" blocks (other block types are skipped) or a single DER
// certificate. It fails with ReasonMalformed when none is found or one
// does not parse.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(data) > 16*maxCertSize {
		return nil, fail(ReasonMalformed, "", fmt.Errorf("%d bytes is too large", len(data)))
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := parseDER(data)
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := parseDER(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fail(ReasonMalformed, "", errors.New("no CERTIFICATE block"))
	}
	return out, nil
}

func parseDER(der []byte) (*x509.Certificate, error) {
	if len(der) > maxCertSize {
		return nil, fail(ReasonMalformed, "", fmt.Errorf("certificate of %d bytes is too large", len(der)))
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fail(ReasonMalformed, "", err)
	}
	return c, nil
}

// LoadCertificateFile reads ParseCertificates' input from path.
func LoadCertificateFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// ParseCRL decodes a CRL in PEM ("X509 CRL") or DER form. The signature is
// not checked here; Trustpoint.LoadCRL does that.
func ParseCRL(data []byte) (*x509.RevocationList, error) {
	if len(data) > 16*maxCertSize {
		return nil, fail(ReasonMalformed, "", fmt.Errorf("CRL of %d bytes is too large", len(data)))
	}
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "X509 CRL" {
			return nil, fail(ReasonMalformed, "", fmt.Errorf("PEM block %q is not an X509 CRL", b.Type))
		}
		der = b.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fail(ReasonMalformed, "", err)
	}
	return crl, nil
}

// ParsePrivateKey decodes a private key in PEM: PKCS#8 "PRIVATE KEY",
// "EC PRIVATE KEY" (SEC 1) or "RSA PRIVATE KEY" (PKCS#1). Errors never
// include key bytes.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("parse private key: no PEM block")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("parse private key: unsupported PEM block %q", b.Type)
	}
	if err != nil {
		return nil, errors.New("parse private key: the key does not decode")
	}
	switch s := k.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		return s.(crypto.Signer), nil
	}
	return nil, fmt.Errorf("parse private key: unsupported key type %T", k)
}

// EncodeCertificatePEM returns cert as a PEM "CERTIFICATE" block.
func EncodeCertificatePEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// EncodePrivateKeyPEM returns key as a PKCS#8 "PRIVATE KEY" PEM block.
// The caller writes it with mode 0600.
func EncodePrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
