package sig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"

	"github.com/esphub/esphub/ike/wire"
)

// classicECDSA describes methods 9, 10 and 11 (RFC 4754): each fixes the
// curve and the hash.
var classicECDSA = []struct {
	method wire.AuthMethod
	curve  elliptic.Curve
	hash   Hash
}{
	{wire.AuthECDSA256, elliptic.P256(), HashSHA256},
	{wire.AuthECDSA384, elliptic.P384(), HashSHA384},
	{wire.AuthECDSA521, elliptic.P521(), HashSHA512},
}

// Classic returns the Algorithm of a classic signature method: 1 (RSA,
// PKCS#1 v1.5 over SHA-1), 9, 10 or 11 (ECDSA per RFC 4754).
func Classic(m wire.AuthMethod) (Algorithm, error) {
	if m == wire.AuthRSASig {
		return Algorithm{Method: m, Scheme: SchemeRSAPKCS1, Hash: HashSHA1}, nil
	}
	for _, c := range classicECDSA {
		if c.method == m {
			return Algorithm{Method: m, Scheme: SchemeECDSA, Hash: c.hash}, nil
		}
	}
	return Algorithm{}, fmt.Errorf("auth method %d: %w", uint8(m), ErrUnsupported)
}

// curveFor returns the curve a classic ECDSA method requires.
func curveFor(m wire.AuthMethod) elliptic.Curve {
	for _, c := range classicECDSA {
		if c.method == m {
			return c.curve
		}
	}
	return nil
}

// checkKey reports whether pub can make or check signatures of a.
func checkKey(pub crypto.PublicKey, a Algorithm) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if a.Scheme == SchemeRSAPKCS1 || a.Scheme == SchemeRSAPSS {
			return nil
		}
	case *ecdsa.PublicKey:
		if a.Scheme == SchemeECDSA {
			if c := curveFor(a.Method); c != nil && c != k.Curve {
				return fmt.Errorf("method %d needs %s, key is %s: %w", uint8(a.Method), c.Params().Name, k.Curve.Params().Name, ErrKeyMismatch)
			}
			return nil
		}
	case ed25519.PublicKey:
		if a.Scheme == SchemeEd25519 {
			return nil
		}
	default:
		return fmt.Errorf("key type %T: %w", pub, ErrUnsupported)
	}
	return fmt.Errorf("%v with a %T key: %w", a.Scheme, pub, ErrKeyMismatch)
}

// digest hashes msg with h; Identity returns msg itself.
func digest(h Hash, msg []byte) ([]byte, crypto.Hash, error) {
	if h == HashIdentity {
		return msg, 0, nil
	}
	ch := h.cryptoHash()
	if ch == 0 || !ch.Available() {
		return nil, 0, fmt.Errorf("hash %v: %w", h, ErrUnsupported)
	}
	hh := ch.New()
	hh.Write(msg)
	return hh.Sum(nil), ch, nil
}

// valid checks that a names a combination Sign and Verify accept: method 14
// with SHA-2 (or Identity for Ed25519), or a classic method with its fixed
// scheme and hash.
func (a Algorithm) valid() error {
	switch a.Method {
	case wire.AuthDigitalSignature:
		switch {
		case a.Scheme == SchemeEd25519 && a.Hash == HashIdentity:
			return nil
		case a.Scheme != SchemeEd25519 && (a.Hash == HashSHA256 || a.Hash == HashSHA384 || a.Hash == HashSHA512):
			return nil
		}
		return fmt.Errorf("%v under method 14: %w", a, ErrUnsupported)
	default:
		c, err := Classic(a.Method)
		if err != nil {
			return err
		}
		if c.Scheme != a.Scheme || c.Hash != a.Hash {
			return fmt.Errorf("method %d is %v, not %v: %w", uint8(a.Method), c, a, ErrUnsupported)
		}
		return nil
	}
}

// Sign returns the AUTH payload data (without the payload's method byte and
// reserved octets) that authenticates signedOctets with key under a.
// key.Public() must fit a (ErrKeyMismatch otherwise). rand feeds ECDSA and
// PSS; nil uses crypto/rand. The result is a new slice.
func Sign(rand io.Reader, key crypto.Signer, a Algorithm, signedOctets []byte) ([]byte, error) {
	if err := a.valid(); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if err := checkKey(key.Public(), a); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	d, ch, err := digest(a.Hash, signedOctets)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	var opts crypto.SignerOpts = ch
	if a.Scheme == SchemeRSAPSS {
		salt := a.SaltLength
		if salt == 0 {
			salt = ch.Size()
		}
		a.SaltLength = salt
		opts = &rsa.PSSOptions{SaltLength: salt, Hash: ch}
	}
	s, err := key.Sign(rand, d, opts)
	if err != nil {
		return nil, fmt.Errorf("sign %v: %w", a, err)
	}
	if a.Method != wire.AuthDigitalSignature {
		if a.Scheme == SchemeECDSA {
			return derToRaw(s, key.Public().(*ecdsa.PublicKey).Curve)
		}
		return s, nil
	}
	ai, err := AlgorithmIdentifier(a)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	out := make([]byte, 0, 1+len(ai)+len(s))
	out = append(out, byte(len(ai)))
	out = append(out, ai...)
	return append(out, s...), nil
}

// Verify checks AUTH payload data auth of the given method over
// signedOctets with the peer's public key (from its end-entity
// certificate). It returns the algorithm the peer used, so the caller can
// refuse one it did not advertise and show it ("Auth verify: ECDSA").
// Method 14 accepts SHA-256/384/512 and Ed25519, never SHA-1; method 1 is
// SHA-1 by definition. Errors wrap ErrMalformed, ErrUnsupported,
// ErrKeyMismatch or ErrBadSignature.
func Verify(pub crypto.PublicKey, method wire.AuthMethod, auth, signedOctets []byte) (Algorithm, error) {
	var a Algorithm
	s := auth
	if method == wire.AuthDigitalSignature {
		if len(auth) < 1 || len(auth) < 1+int(auth[0]) {
			return Algorithm{}, fmt.Errorf("verify: truncated AlgorithmIdentifier: %w", ErrMalformed)
		}
		n := int(auth[0])
		var rest []byte
		var err error
		a, rest, err = ParseAlgorithmIdentifier(auth[1 : 1+n])
		if err != nil {
			return Algorithm{}, fmt.Errorf("verify: %w", err)
		}
		if len(rest) != 0 {
			return Algorithm{}, fmt.Errorf("verify: %d bytes after the AlgorithmIdentifier inside its length: %w", len(rest), ErrMalformed)
		}
		s = auth[1+n:]
	} else {
		var err error
		if a, err = Classic(method); err != nil {
			return Algorithm{}, fmt.Errorf("verify: %w", err)
		}
	}
	if err := a.valid(); err != nil {
		return a, fmt.Errorf("verify: %w", err)
	}
	if err := checkKey(pub, a); err != nil {
		return a, fmt.Errorf("verify: %w", err)
	}
	if len(s) == 0 {
		return a, fmt.Errorf("verify: empty signature: %w", ErrMalformed)
	}
	d, ch, err := digest(a.Hash, signedOctets)
	if err != nil {
		return a, fmt.Errorf("verify: %w", err)
	}
	ok := false
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if a.Scheme == SchemeRSAPSS {
			ok = rsa.VerifyPSS(k, ch, d, s, &rsa.PSSOptions{SaltLength: a.SaltLength, Hash: ch}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(k, ch, d, s) == nil
		}
	case *ecdsa.PublicKey:
		if method == wire.AuthDigitalSignature {
			ok = ecdsa.VerifyASN1(k, d, s)
		} else {
			size := (k.Curve.Params().BitSize + 7) / 8
			if len(s) != 2*size {
				return a, fmt.Errorf("verify: r||s is %d bytes, want %d: %w", len(s), 2*size, ErrMalformed)
			}
			r, ss := new(big.Int).SetBytes(s[:size]), new(big.Int).SetBytes(s[size:])
			ok = ecdsa.Verify(k, d, r, ss)
		}
	case ed25519.PublicKey:
		ok = len(k) == ed25519.PublicKeySize && ed25519.Verify(k, d, s)
	}
	if !ok {
		return a, fmt.Errorf("verify %v: %w", a, ErrBadSignature)
	}
	return a, nil
}

// derToRaw converts an ASN.1 Ecdsa-Sig-Value into RFC 4754's fixed-length
// r||s for curve.
func derToRaw(der []byte, curve elliptic.Curve) ([]byte, error) {
	var v struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &v); err != nil || len(rest) != 0 || v.R == nil || v.S == nil {
		return nil, fmt.Errorf("sign: signer returned a bad ECDSA signature: %w", ErrMalformed)
	}
	size := (curve.Params().BitSize + 7) / 8
	if v.R.Sign() <= 0 || v.S.Sign() <= 0 || v.R.BitLen() > 8*size || v.S.BitLen() > 8*size {
		return nil, fmt.Errorf("sign: ECDSA signature out of range: %w", ErrMalformed)
	}
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out, nil
}
