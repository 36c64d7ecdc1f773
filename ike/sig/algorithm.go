package sig

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/esphub/esphub/ike/wire"
)

// Errors returned by this package. Callers count them by reason and answer
// the peer with AUTHENTICATION_FAILED; none of them carries key material.
var (
	// ErrMalformed: the AUTH data or AlgorithmIdentifier cannot be decoded
	// (truncated, bad DER, bad length prefix, wrong r||s length).
	ErrMalformed = errors.New("malformed signature data")
	// ErrUnsupported: the method, algorithm, hash or PSS parameters are not
	// ones this package implements or accepts (e.g. SHA-1 under method 14).
	ErrUnsupported = errors.New("unsupported signature algorithm")
	// ErrKeyMismatch: the method or algorithm does not fit the key (an
	// ECDSA AlgorithmIdentifier with an RSA key, method 9 with a P-384 key).
	ErrKeyMismatch = errors.New("signature algorithm does not match the key")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("signature verification failed")
)

// Hash is an RFC 7427 hash algorithm identifier as carried in the
// SIGNATURE_HASH_ALGORITHMS notify (IANA "IKEv2 Hash Algorithms").
type Hash uint16

// Hash algorithm identifiers.
const (
	HashSHA1     Hash = 1
	HashSHA256   Hash = 2
	HashSHA384   Hash = 3
	HashSHA512   Hash = 4
	HashIdentity Hash = 5 // RFC 8420: the signature scheme hashes itself (Ed25519)
)

// String returns the IANA name.
func (h Hash) String() string {
	switch h {
	case HashSHA1:
		return "SHA1"
	case HashSHA256:
		return "SHA2_256"
	case HashSHA384:
		return "SHA2_384"
	case HashSHA512:
		return "SHA2_512"
	case HashIdentity:
		return "IDENTITY"
	}
	return fmt.Sprintf("HASH_%d", uint16(h))
}

// cryptoHash maps h to the standard library's hash; 0 for Identity and
// unknown values.
func (h Hash) cryptoHash() crypto.Hash {
	switch h {
	case HashSHA1:
		return crypto.SHA1
	case HashSHA256:
		return crypto.SHA256
	case HashSHA384:
		return crypto.SHA384
	case HashSHA512:
		return crypto.SHA512
	}
	return 0
}

// Scheme is a signature scheme independent of its hash.
type Scheme uint8

// Signature schemes.
const (
	SchemeRSAPKCS1 Scheme = iota + 1 // RSASSA-PKCS1-v1_5
	SchemeRSAPSS                     // RSASSA-PSS, MGF1 with the same hash
	SchemeECDSA
	SchemeEd25519
)

// String names the scheme as show commands print it.
func (s Scheme) String() string {
	switch s {
	case SchemeRSAPKCS1:
		return "RSA"
	case SchemeRSAPSS:
		return "RSA-PSS"
	case SchemeECDSA:
		return "ECDSA"
	case SchemeEd25519:
		return "Ed25519"
	}
	return fmt.Sprintf("scheme-%d", uint8(s))
}

// Algorithm is a complete description of one AUTH signature: the IKE
// authentication method, the scheme and hash, and for PSS the salt length.
type Algorithm struct {
	Method wire.AuthMethod
	Scheme Scheme
	Hash   Hash
	// SaltLength is the RSASSA-PSS salt length in bytes; 0 under PSS means
	// "the hash length" when signing.
	SaltLength int
}

// String renders e.g. "ECDSA-SHA2_256 (method 14)".
func (a Algorithm) String() string {
	s := a.Scheme.String()
	if a.Hash != HashIdentity && a.Hash != 0 {
		s += "-" + a.Hash.String()
	}
	return fmt.Sprintf("%s (method %d)", s, uint8(a.Method))
}

// Object identifiers of RFC 7427 Appendix A and RFC 4055.
var (
	oidSHA1WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidSHA1           = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidECDSAWithSHA1  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA56 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA84 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA12 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519        = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// fixedAlgs are the AlgorithmIdentifiers without variable parameters.
// RSA ones carry NULL parameters, ECDSA and Ed25519 none (RFC 5758, 8410).
var fixedAlgs = []struct {
	oid    asn1.ObjectIdentifier
	scheme Scheme
	hash   Hash
}{
	{oidSHA1WithRSA, SchemeRSAPKCS1, HashSHA1},
	{oidSHA256WithRSA, SchemeRSAPKCS1, HashSHA256},
	{oidSHA384WithRSA, SchemeRSAPKCS1, HashSHA384},
	{oidSHA512WithRSA, SchemeRSAPKCS1, HashSHA512},
	{oidECDSAWithSHA1, SchemeECDSA, HashSHA1},
	{oidECDSAWithSHA56, SchemeECDSA, HashSHA256},
	{oidECDSAWithSHA84, SchemeECDSA, HashSHA384},
	{oidECDSAWithSHA12, SchemeECDSA, HashSHA512},
	{oidEd25519, SchemeEd25519, HashIdentity},
}

var hashOIDs = []struct {
	oid  asn1.ObjectIdentifier
	hash Hash
}{
	{oidSHA1, HashSHA1}, {oidSHA256, HashSHA256}, {oidSHA384, HashSHA384}, {oidSHA512, HashSHA512},
}

func hashOID(h Hash) asn1.ObjectIdentifier {
	for _, e := range hashOIDs {
		if e.hash == h {
			return e.oid
		}
	}
	return nil
}

func hashFromOID(oid asn1.ObjectIdentifier) Hash {
	for _, e := range hashOIDs {
		if e.oid.Equal(oid) {
			return e.hash
		}
	}
	return 0
}

// pssParams is RSASSA-PSS-params (RFC 4055 §3.1).
type pssParams struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"explicit,tag:0,optional"`
	MGF          pkix.AlgorithmIdentifier `asn1:"explicit,tag:1,optional"`
	SaltLength   int                      `asn1:"explicit,tag:2,optional,default:20"`
	TrailerField int                      `asn1:"explicit,tag:3,optional,default:1"`
}

// maxSalt bounds the PSS salt a peer may ask us to verify with.
const maxSalt = 1024

// AlgorithmIdentifier returns the DER AlgorithmIdentifier RFC 7427 puts in
// front of a method 14 signature for a (Scheme, Hash, SaltLength). PSS
// parameters name the hash, MGF1 with the same hash and the salt length
// (the hash length when a.SaltLength is 0); the trailer field keeps its
// default. The result is a new slice.
func AlgorithmIdentifier(a Algorithm) ([]byte, error) {
	if a.Scheme == SchemeRSAPSS {
		h := hashOID(a.Hash)
		if h == nil || a.Hash == HashSHA1 {
			return nil, fmt.Errorf("rsassa-pss with %v: %w", a.Hash, ErrUnsupported)
		}
		salt := a.SaltLength
		if salt == 0 {
			salt = a.Hash.cryptoHash().Size()
		}
		hashAlg := pkix.AlgorithmIdentifier{Algorithm: h, Parameters: asn1.NullRawValue}
		hashDER, err := asn1.Marshal(hashAlg)
		if err != nil {
			return nil, fmt.Errorf("encode pss hash: %w", err)
		}
		params, err := asn1.Marshal(pssParams{
			Hash:         hashAlg,
			MGF:          pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: hashDER}},
			SaltLength:   salt,
			TrailerField: 1,
		})
		if err != nil {
			return nil, fmt.Errorf("encode pss params: %w", err)
		}
		return asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oidRSAPSS, Parameters: asn1.RawValue{FullBytes: params}})
	}
	for _, f := range fixedAlgs {
		if f.scheme == a.Scheme && f.hash == a.Hash {
			ai := pkix.AlgorithmIdentifier{Algorithm: f.oid}
			if f.scheme == SchemeRSAPKCS1 {
				ai.Parameters = asn1.NullRawValue
			}
			return asn1.Marshal(ai)
		}
	}
	return nil, fmt.Errorf("%v with %v: %w", a.Scheme, a.Hash, ErrUnsupported)
}

// ParseAlgorithmIdentifier decodes one DER AlgorithmIdentifier at the start
// of der and returns the algorithm (Method is AuthDigitalSignature) and the
// bytes after it. Unknown algorithms, PSS with a different MGF hash, a
// non-default trailer or an absurd salt give ErrUnsupported; bad DER gives
// ErrMalformed. It never panics.
func ParseAlgorithmIdentifier(der []byte) (Algorithm, []byte, error) {
	var ai pkix.AlgorithmIdentifier
	rest, err := asn1.Unmarshal(der, &ai)
	if err != nil {
		return Algorithm{}, nil, fmt.Errorf("algorithm identifier: %w", ErrMalformed)
	}
	a := Algorithm{Method: wire.AuthDigitalSignature}
	if ai.Algorithm.Equal(oidRSAPSS) {
		a.Scheme = SchemeRSAPSS
		var p pssParams
		if len(ai.Parameters.FullBytes) == 0 {
			return Algorithm{}, nil, fmt.Errorf("rsassa-pss without parameters (SHA-1): %w", ErrUnsupported)
		}
		if r, err := asn1.Unmarshal(ai.Parameters.FullBytes, &p); err != nil || len(r) != 0 {
			return Algorithm{}, nil, fmt.Errorf("rsassa-pss parameters: %w", ErrMalformed)
		}
		a.Hash = hashFromOID(p.Hash.Algorithm)
		if len(p.Hash.Algorithm) == 0 {
			a.Hash = HashSHA1 // the RFC 4055 default
		}
		if a.Hash == 0 || a.Hash == HashSHA1 {
			return Algorithm{}, nil, fmt.Errorf("rsassa-pss hash %v: %w", p.Hash.Algorithm, ErrUnsupported)
		}
		if !p.MGF.Algorithm.Equal(oidMGF1) {
			return Algorithm{}, nil, fmt.Errorf("rsassa-pss mask generation %v: %w", p.MGF.Algorithm, ErrUnsupported)
		}
		var mgfHash pkix.AlgorithmIdentifier
		if r, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || len(r) != 0 {
			return Algorithm{}, nil, fmt.Errorf("rsassa-pss mgf1 hash: %w", ErrMalformed)
		}
		if hashFromOID(mgfHash.Algorithm) != a.Hash {
			return Algorithm{}, nil, fmt.Errorf("rsassa-pss mgf1 hash differs from the message hash: %w", ErrUnsupported)
		}
		if p.TrailerField != 1 || p.SaltLength < 0 || p.SaltLength > maxSalt {
			return Algorithm{}, nil, fmt.Errorf("rsassa-pss salt %d trailer %d: %w", p.SaltLength, p.TrailerField, ErrUnsupported)
		}
		a.SaltLength = p.SaltLength
		return a, rest, nil
	}
	for _, f := range fixedAlgs {
		if f.oid.Equal(ai.Algorithm) {
			// RSA allows absent or NULL parameters; the others none.
			params := ai.Parameters.FullBytes
			ok := len(params) == 0 || (f.scheme == SchemeRSAPKCS1 && string(params) == "\x05\x00")
			if !ok {
				return Algorithm{}, nil, fmt.Errorf("parameters on %v: %w", ai.Algorithm, ErrMalformed)
			}
			a.Scheme, a.Hash = f.scheme, f.hash
			return a, rest, nil
		}
	}
	return Algorithm{}, nil, fmt.Errorf("algorithm %v: %w", ai.Algorithm, ErrUnsupported)
}
