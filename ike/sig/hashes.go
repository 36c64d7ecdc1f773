package sig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"fmt"

	"github.com/esphub/esphub/ike/wire"
)

// LocalHashes is what esphub advertises in SIGNATURE_HASH_ALGORITHMS, in
// preference order: the hashes Verify accepts under method 14.
var LocalHashes = []Hash{HashSHA256, HashSHA384, HashSHA512, HashIdentity}

// AppendHashAlgorithms appends the notify data of SIGNATURE_HASH_ALGORITHMS
// (a list of 16-bit identifiers, RFC 7427 §4) for hs to dst.
func AppendHashAlgorithms(dst []byte, hs ...Hash) []byte {
	for _, h := range hs {
		dst = binary.BigEndian.AppendUint16(dst, uint16(h))
	}
	return dst
}

// ParseHashAlgorithms appends the identifiers in SIGNATURE_HASH_ALGORITHMS
// notify data to dst. Unknown identifiers are kept (the peer may know more
// than we do); an odd length is ErrMalformed.
func ParseHashAlgorithms(dst []Hash, data []byte) ([]Hash, error) {
	if len(data)%2 != 0 {
		return dst, fmt.Errorf("signature hash algorithms: %d bytes: %w", len(data), ErrMalformed)
	}
	for i := 0; i < len(data); i += 2 {
		dst = append(dst, Hash(binary.BigEndian.Uint16(data[i:])))
	}
	return dst, nil
}

// preferredHash is the hash that matches a key's strength: the curve's for
// ECDSA (as in RFC 4754), SHA-256 for RSA, Identity for Ed25519.
func preferredHash(pub crypto.PublicKey) (Scheme, Hash, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return SchemeRSAPKCS1, HashSHA256, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			return SchemeECDSA, HashSHA384, nil
		case elliptic.P521():
			return SchemeECDSA, HashSHA512, nil
		}
		return SchemeECDSA, HashSHA256, nil
	case ed25519.PublicKey:
		return SchemeEd25519, HashIdentity, nil
	}
	return 0, 0, fmt.Errorf("key type %T: %w", pub, ErrUnsupported)
}

// Choose picks how to sign our AUTH with a key whose public half is pub.
// peerHashes is the peer's SIGNATURE_HASH_ALGORITHMS list (nil when it sent
// none). With a common SHA-2 hash (or Identity for Ed25519) it returns
// method 14, preferring the hash matching the key's strength, then the
// strongest the peer lists; pss selects RSASSA-PSS over PKCS#1 v1.5 for
// RSA keys. Otherwise it falls back to the classic method for the key
// (1 for RSA, 9/10/11 by curve); Ed25519 without Identity is ErrUnsupported.
func Choose(pub crypto.PublicKey, peerHashes []Hash, pss bool) (Algorithm, error) {
	scheme, pref, err := preferredHash(pub)
	if err != nil {
		return Algorithm{}, fmt.Errorf("choose signature: %w", err)
	}
	if scheme == SchemeRSAPKCS1 && pss {
		scheme = SchemeRSAPSS
	}
	has := func(h Hash) bool {
		for _, p := range peerHashes {
			if p == h {
				return true
			}
		}
		return false
	}
	if has(pref) {
		return Algorithm{Method: wire.AuthDigitalSignature, Scheme: scheme, Hash: pref}, nil
	}
	if scheme != SchemeEd25519 {
		for _, h := range []Hash{HashSHA512, HashSHA384, HashSHA256} {
			if has(h) {
				return Algorithm{Method: wire.AuthDigitalSignature, Scheme: scheme, Hash: h}, nil
			}
		}
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return Classic(wire.AuthRSASig)
	case *ecdsa.PublicKey:
		for _, c := range classicECDSA {
			if c.curve == k.Curve {
				return Classic(c.method)
			}
		}
		return Algorithm{}, fmt.Errorf("choose signature: curve %s has no classic method: %w", k.Curve.Params().Name, ErrUnsupported)
	}
	return Algorithm{}, fmt.Errorf("choose signature: peer offers no hash for %v: %w", scheme, ErrUnsupported)
}
