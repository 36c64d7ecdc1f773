// Package suite implements the cryptographic suites of IKEv2 (RFC 7296): the
// pseudorandom functions and prf+, Diffie-Hellman key exchange with the
// RFC 6989 checks on received public values, SKEYSEED and SK_* derivation,
// Child SA key material, the protection of the Encrypted (SK) payload with
// AES-CBC + HMAC (RFC 7296 §3.14) or AES-GCM (RFC 5282), PSK authentication
// (§2.15) and the NAT detection hash (§2.23).
//
// It depends on the standard library and golang.org/x/crypto only, and on
// ike/wire for the IANA identifiers. Nothing here logs: keys and pre-shared
// keys never leave the package except as return values.
package suite

import (
	"errors"
	"fmt"

	"github.com/esphub/esphub/ike/wire"
)

// Proposal names the transforms negotiated for an IKE SA or a Child SA.
// Integ is IntegNone for AEAD ciphers; DH may be DHNone for a Child SA
// created without PFS; PRF is unused for a Child SA (the IKE SA's PRF
// derives its keys).
type Proposal struct {
	Encr    wire.EncrID
	KeyBits int // the Key Length attribute (RFC 7296 §3.3.5), in bits
	Integ   wire.IntegID
	PRF     wire.PRFID
	DH      wire.DHGroup
	ESN     bool
}

// String renders p in strongSwan's proposal notation (aes256gcm16-prfsha256-ecp256),
// which is also what operators type.
func (p Proposal) String() string {
	s := ""
	switch p.Encr {
	case wire.EncrAESCBC:
		s = fmt.Sprintf("aes%d", p.KeyBits)
	case wire.EncrAESGCM16:
		s = fmt.Sprintf("aes%dgcm16", p.KeyBits)
	case wire.EncrChaCha20Poly1305:
		s = "chacha20poly1305"
	default:
		s = fmt.Sprintf("encr%d-%d", p.Encr, p.KeyBits)
	}
	switch p.Integ {
	case wire.IntegNone:
	case wire.IntegHMACSHA196:
		s += "-sha1"
	case wire.IntegHMACSHA2256128:
		s += "-sha256"
	case wire.IntegHMACSHA2384192:
		s += "-sha384"
	case wire.IntegHMACSHA2512256:
		s += "-sha512"
	default:
		s += fmt.Sprintf("-integ%d", p.Integ)
	}
	switch p.PRF {
	case 0:
	case wire.PRFHMACSHA1:
		s += "-prfsha1"
	case wire.PRFHMACSHA2256:
		s += "-prfsha256"
	case wire.PRFHMACSHA2384:
		s += "-prfsha384"
	case wire.PRFHMACSHA2512:
		s += "-prfsha512"
	default:
		s += fmt.Sprintf("-prf%d", p.PRF)
	}
	switch p.DH {
	case wire.DHNone:
	case wire.DHMODP1024:
		s += "-modp1024"
	case wire.DHMODP1536:
		s += "-modp1536"
	case wire.DHMODP2048:
		s += "-modp2048"
	case wire.DHMODP3072:
		s += "-modp3072"
	case wire.DHMODP4096:
		s += "-modp4096"
	case wire.DHECP256:
		s += "-ecp256"
	case wire.DHECP384:
		s += "-ecp384"
	case wire.DHECP521:
		s += "-ecp521"
	case wire.DHCurve25519:
		s += "-x25519"
	default:
		s += fmt.Sprintf("-dh%d", p.DH)
	}
	if p.ESN {
		s += "-esn"
	}
	return s
}

// Errors returned by the constructors. They wrap with context; test with errors.Is.
var (
	ErrUnsupported = errors.New("unsupported transform")
	ErrKeyLength   = errors.New("wrong key length")
	// ErrAuth is returned by SKCipher.Open when the ICV does not verify or the
	// decrypted padding is malformed. The message must be dropped silently
	// (RFC 7296 §2.21.1 forbids answering it).
	ErrAuth = errors.New("integrity check failed")
	// ErrShortBody is returned by SKCipher.Open for a body too short to hold
	// the IV, a block and the ICV.
	ErrShortBody = errors.New("encrypted body too short")
)

// NotifyError is a failure caused by a value received from the peer; Notify is
// the error notification the engine answers a request with.
type NotifyError struct {
	Notify wire.NotifyType
	Reason string
}

func (e *NotifyError) Error() string { return e.Reason }

// NotifyOf returns the notify type carried by err (or any error it wraps),
// and false if err was not caused by peer input.
func NotifyOf(err error) (wire.NotifyType, bool) {
	var ne *NotifyError
	if errors.As(err, &ne) {
		return ne.Notify, true
	}
	return 0, false
}

// Supported reports whether the transforms in p (those that are set) are
// implemented here, with a wrapped ErrUnsupported or ErrKeyLength otherwise.
// The engine uses it to filter configured proposals.
func Supported(p Proposal) error {
	if _, _, err := encrParams(p.Encr, p.KeyBits); err != nil {
		return err
	}
	if !isAEAD(p.Encr) {
		if _, err := integParams(p.Integ); err != nil {
			return err
		}
	} else if p.Integ != wire.IntegNone {
		return fmt.Errorf("integrity %d with an AEAD cipher: %w", p.Integ, ErrUnsupported)
	}
	if p.PRF != 0 {
		if _, err := NewPRF(p.PRF); err != nil {
			return err
		}
	}
	if p.DH != wire.DHNone {
		if _, err := groupOf(p.DH); err != nil {
			return err
		}
	}
	return nil
}

// Weak reports whether p uses a transform RFC 8247 says not to use any
// more (here: DH groups 2 and 5, kept for peers on IOS default proposals).
// The configuration layer warns about, or refuses, such proposals.
func Weak(p Proposal) bool {
	return p.DH == wire.DHMODP1024 || p.DH == wire.DHMODP1536
}
