package suite

import (
	"crypto/ecdh"
	"crypto/subtle"
	"fmt"
	"io"
	"math/big"

	"github.com/esphub/esphub/ike/wire"
)

// KeyExchange is one side of a Diffie-Hellman exchange in a group. A value is
// used for a single exchange (a fresh one per IKE_SA_INIT, per rekey) and is
// safe for concurrent use once built.
type KeyExchange interface {
	Group() wire.DHGroup
	// Public returns the Key Exchange Data this side sends in its KE payload:
	// the big-endian value padded to the prime's length for MODP groups,
	// x | y for ECP groups (RFC 5903 §7), the 32-byte u-coordinate for X25519
	// (RFC 8031). The slice must not be modified.
	Public() []byte
	// SharedSecret validates peerPublic (RFC 6989) and returns g^ir as IKE
	// uses it: padded to the prime's length for MODP, the x coordinate for
	// ECP (RFC 5903 §7), the 32-byte output for X25519. Errors caused by the
	// peer's value are *NotifyError with INVALID_SYNTAX.
	SharedSecret(peerPublic []byte) ([]byte, error)
}

// NewKeyExchange generates a key pair in group g from rand.
func NewKeyExchange(g wire.DHGroup, rand io.Reader) (KeyExchange, error) {
	grp, err := groupOf(g)
	if err != nil {
		return nil, err
	}
	return grp.generate(rand)
}

// PublicLen returns the length of the Key Exchange Data for group g, which
// the engine checks before anything else (a mismatch is INVALID_SYNTAX).
func PublicLen(g wire.DHGroup) (int, error) {
	grp, err := groupOf(g)
	if err != nil {
		return 0, err
	}
	return grp.publicLen(), nil
}

type group interface {
	generate(rand io.Reader) (KeyExchange, error)
	publicLen() int
}

func groupOf(g wire.DHGroup) (group, error) {
	switch g {
	case wire.DHMODP1024:
		return modp1024, nil
	case wire.DHMODP1536:
		return modp1536, nil
	case wire.DHMODP2048:
		return modp2048, nil
	case wire.DHMODP3072:
		return modp3072, nil
	case wire.DHMODP4096:
		return modp4096, nil
	case wire.DHECP256:
		return ecpGroup{g, ecdh.P256(), 32}, nil
	case wire.DHECP384:
		return ecpGroup{g, ecdh.P384(), 48}, nil
	case wire.DHECP521:
		return ecpGroup{g, ecdh.P521(), 66}, nil
	case wire.DHCurve25519:
		return x25519Group{}, nil
	}
	return nil, fmt.Errorf("dh group %d: %w", g, ErrUnsupported)
}

func badPublic(g wire.DHGroup, format string, args ...any) error {
	return &NotifyError{Notify: wire.NotifyInvalidSyntax,
		Reason: fmt.Sprintf("dh group %d: %s", g, fmt.Sprintf(format, args...))}
}

// --- MODP (RFC 3526) ---

type modpGroup struct {
	id      wire.DHGroup
	p       *big.Int
	pMinus1 *big.Int
	size    int // bytes
	expBits int // private exponent length
}

func newMODP(id wire.DHGroup, hexPrime string, expBits int) *modpGroup {
	p, ok := new(big.Int).SetString(hexPrime, 16)
	if !ok {
		panic("suite: bad built-in prime")
	}
	return &modpGroup{id: id, p: p, pMinus1: new(big.Int).Sub(p, big.NewInt(1)),
		size: (p.BitLen() + 7) / 8, expBits: expBits}
}

func (g *modpGroup) publicLen() int { return g.size }

type modpKE struct {
	g   *modpGroup
	x   *big.Int
	pub []byte
}

func (g *modpGroup) generate(rand io.Reader) (KeyExchange, error) {
	// A private exponent of twice the group's security strength or more,
	// as RFC 3526 §8 and strongSwan do; a full-length exponent adds cost,
	// not security.
	buf := make([]byte, g.expBits/8)
	for {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("dh group %d: read random: %w", g.id, err)
		}
		x := new(big.Int).SetBytes(buf)
		if x.Cmp(big.NewInt(1)) <= 0 {
			continue
		}
		y := new(big.Int).Exp(big.NewInt(2), x, g.p)
		return &modpKE{g: g, x: x, pub: y.FillBytes(make([]byte, g.size))}, nil
	}
}

// fromExponent builds a key pair from a fixed private exponent, for
// known-answer tests.
func (g *modpGroup) fromExponent(x []byte) KeyExchange {
	xi := new(big.Int).SetBytes(x)
	y := new(big.Int).Exp(big.NewInt(2), xi, g.p)
	return &modpKE{g: g, x: xi, pub: y.FillBytes(make([]byte, g.size))}
}

func (k *modpKE) Group() wire.DHGroup { return k.g.id }
func (k *modpKE) Public() []byte      { return k.pub }

func (k *modpKE) SharedSecret(peer []byte) ([]byte, error) {
	if len(peer) != k.g.size {
		return nil, badPublic(k.g.id, "public value is %d bytes, want %d", len(peer), k.g.size)
	}
	y := new(big.Int).SetBytes(peer)
	// RFC 6989 §2.1: 1 < y < p-1. These groups are safe primes, so that
	// check is all that is needed to exclude small subgroups.
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(k.g.pMinus1) >= 0 {
		return nil, badPublic(k.g.id, "public value out of range")
	}
	z := new(big.Int).Exp(y, k.x, k.g.p)
	return z.FillBytes(make([]byte, k.g.size)), nil
}

// --- ECP (RFC 5903) ---

type ecpGroup struct {
	id    wire.DHGroup
	curve ecdh.Curve
	coord int // bytes per coordinate
}

func (g ecpGroup) publicLen() int { return 2 * g.coord }

type ecpKE struct {
	g    ecpGroup
	priv *ecdh.PrivateKey
	pub  []byte
}

func (g ecpGroup) generate(rand io.Reader) (KeyExchange, error) {
	priv, err := g.curve.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("dh group %d: generate key: %w", g.id, err)
	}
	// crypto/ecdh encodes points uncompressed: 0x04 | x | y. IKE carries x | y.
	return &ecpKE{g: g, priv: priv, pub: priv.PublicKey().Bytes()[1:]}, nil
}

// newECPFromScalar builds a key pair from a fixed private scalar, for the
// RFC 5903 known-answer tests.
func newECPFromScalar(g wire.DHGroup, scalar []byte) (KeyExchange, error) {
	grp, err := groupOf(g)
	if err != nil {
		return nil, err
	}
	eg, ok := grp.(ecpGroup)
	if !ok {
		return nil, fmt.Errorf("dh group %d is not ECP: %w", g, ErrUnsupported)
	}
	priv, err := eg.curve.NewPrivateKey(scalar)
	if err != nil {
		return nil, err
	}
	return &ecpKE{g: eg, priv: priv, pub: priv.PublicKey().Bytes()[1:]}, nil
}

func (k *ecpKE) Group() wire.DHGroup { return k.g.id }
func (k *ecpKE) Public() []byte      { return k.pub }

func (k *ecpKE) SharedSecret(peer []byte) ([]byte, error) {
	if len(peer) != 2*k.g.coord {
		return nil, badPublic(k.g.id, "public value is %d bytes, want %d", len(peer), 2*k.g.coord)
	}
	var buf [1 + 2*66]byte
	buf[0] = 4
	n := 1 + copy(buf[1:], peer)
	// NewPublicKey rejects points not on the curve and the point at
	// infinity: the RFC 6989 §2.3 checks.
	pub, err := k.g.curve.NewPublicKey(buf[:n])
	if err != nil {
		return nil, badPublic(k.g.id, "public value is not a point on the curve")
	}
	z, err := k.priv.ECDH(pub)
	if err != nil {
		return nil, badPublic(k.g.id, "key agreement: %v", err)
	}
	return z, nil
}

// --- Curve25519 (RFC 8031, RFC 7748) ---

type x25519Group struct{}

func (x25519Group) publicLen() int { return 32 }

type x25519KE struct {
	priv *ecdh.PrivateKey
	pub  []byte
}

func (x25519Group) generate(rand io.Reader) (KeyExchange, error) {
	priv, err := ecdh.X25519().GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("dh group 31: generate key: %w", err)
	}
	return &x25519KE{priv: priv, pub: priv.PublicKey().Bytes()}, nil
}

func (k *x25519KE) Group() wire.DHGroup { return wire.DHCurve25519 }
func (k *x25519KE) Public() []byte      { return k.pub }

func (k *x25519KE) SharedSecret(peer []byte) ([]byte, error) {
	if len(peer) != 32 {
		return nil, badPublic(wire.DHCurve25519, "public value is %d bytes, want 32", len(peer))
	}
	pub, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return nil, badPublic(wire.DHCurve25519, "bad public value")
	}
	z, err := k.priv.ECDH(pub)
	// RFC 8031 §2: an all-zero result (a low-order peer value) must be
	// rejected. crypto/ecdh already refuses it; check again in case that
	// ever changes.
	var zero [32]byte
	if err != nil || subtle.ConstantTimeCompare(z, zero[:]) == 1 {
		return nil, badPublic(wire.DHCurve25519, "low-order public value (all-zero shared secret)")
	}
	return z, nil
}
