package suite

import (
	"encoding/binary"
	"fmt"

	"github.com/esphub/esphub/ike/wire"
)

// IKEKeys are the keys of an IKE SA (RFC 7296 §2.14). SKai/SKar are empty for
// AEAD ciphers; SKei/SKer include the 4-byte salt for AES-GCM (RFC 5282 §7).
// The slices are owned by the IKE SA; callers must not log them.
type IKEKeys struct {
	SKd, SKai, SKar, SKei, SKer, SKpi, SKpr []byte
}

// encrParams returns the key length in bytes (salt included) and the block
// size used for padding.
func encrParams(id wire.EncrID, keyBits int) (keyLen, block int, err error) {
	switch id {
	case wire.EncrAESCBC:
		switch keyBits {
		case 128, 192, 256:
			return keyBits / 8, 16, nil
		}
	case wire.EncrAESGCM16:
		switch keyBits {
		case 128, 192, 256:
			return keyBits/8 + 4, 1, nil
		}
	case wire.EncrChaCha20Poly1305:
		// RFC 7634 §2: a fixed 256-bit key (no Key Length attribute is
		// sent) plus a 4-byte salt.
		if keyBits == 0 || keyBits == 256 {
			return 32 + 4, 1, nil
		}
	default:
		return 0, 0, fmt.Errorf("encryption algorithm %d: %w", id, ErrUnsupported)
	}
	return 0, 0, fmt.Errorf("encryption algorithm %d with %d-bit key: %w", id, keyBits, ErrKeyLength)
}

// integParams returns the integrity key length in bytes (0 for IntegNone).
func integParams(id wire.IntegID) (keyLen int, err error) {
	switch id {
	case wire.IntegNone:
		return 0, nil
	case wire.IntegHMACSHA196:
		return 20, nil
	case wire.IntegHMACSHA2256128:
		return 32, nil
	case wire.IntegHMACSHA2384192:
		return 48, nil
	case wire.IntegHMACSHA2512256:
		return 64, nil
	}
	return 0, fmt.Errorf("integrity algorithm %d: %w", id, ErrUnsupported)
}

// keyLengths checks p for use as an IKE or ESP proposal and returns its key lengths.
func keyLengths(p Proposal) (encr, integ int, err error) {
	encr, _, err = encrParams(p.Encr, p.KeyBits)
	if err != nil {
		return 0, 0, err
	}
	if isAEAD(p.Encr) {
		if p.Integ != wire.IntegNone {
			return 0, 0, fmt.Errorf("integrity algorithm %d with AEAD cipher: %w", p.Integ, ErrUnsupported)
		}
		return encr, 0, nil
	}
	if p.Integ == wire.IntegNone {
		return 0, 0, fmt.Errorf("cipher %d needs an integrity algorithm: %w", p.Encr, ErrUnsupported)
	}
	integ, err = integParams(p.Integ)
	return encr, integ, err
}

// DeriveIKEKeys computes the keys of a new IKE SA (RFC 7296 §2.14):
// SKEYSEED = prf(Ni | Nr, g^ir) and
// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
func DeriveIKEKeys(p Proposal, ni, nr, sharedSecret []byte, spii, spir uint64) (IKEKeys, error) {
	prf, err := NewPRF(p.PRF)
	if err != nil {
		return IKEKeys{}, fmt.Errorf("derive ike keys: %w", err)
	}
	nonces := make([]byte, 0, len(ni)+len(nr))
	nonces = append(append(nonces, ni...), nr...)
	skeyseed := prf.Compute(nonces, sharedSecret)
	return expandIKEKeys(p, prf, skeyseed, ni, nr, spii, spir)
}

// DeriveRekeyedIKEKeys computes the keys of an IKE SA that replaces another
// (RFC 7296 §2.18): SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the
// old SA's PRF, then prf+ with the new SA's PRF, SPIs and nonces as in
// DeriveIKEKeys.
func DeriveRekeyedIKEKeys(p Proposal, oldPRF wire.PRFID, oldSKd, sharedSecret, ni, nr []byte, spii, spir uint64) (IKEKeys, error) {
	old, err := NewPRF(oldPRF)
	if err != nil {
		return IKEKeys{}, fmt.Errorf("derive rekeyed ike keys: %w", err)
	}
	prf, err := NewPRF(p.PRF)
	if err != nil {
		return IKEKeys{}, fmt.Errorf("derive rekeyed ike keys: %w", err)
	}
	in := make([]byte, 0, len(sharedSecret)+len(ni)+len(nr))
	in = append(append(append(in, sharedSecret...), ni...), nr...)
	skeyseed := old.Compute(oldSKd, in)
	return expandIKEKeys(p, prf, skeyseed, ni, nr, spii, spir)
}

// SKEYSEED returns prf(Ni | Nr, g^ir) for p's PRF; DeriveIKEKeys computes it
// internally, and tests compare it with what strongSwan logs.
func SKEYSEED(p Proposal, ni, nr, sharedSecret []byte) ([]byte, error) {
	prf, err := NewPRF(p.PRF)
	if err != nil {
		return nil, err
	}
	return prf.Compute(append(append([]byte{}, ni...), nr...), sharedSecret), nil
}

func expandIKEKeys(p Proposal, prf PRF, skeyseed, ni, nr []byte, spii, spir uint64) (IKEKeys, error) {
	encr, integ, err := keyLengths(p)
	if err != nil {
		return IKEKeys{}, fmt.Errorf("derive ike keys: %w", err)
	}
	seed := make([]byte, 0, len(ni)+len(nr)+16)
	seed = append(append(seed, ni...), nr...)
	seed = binary.BigEndian.AppendUint64(seed, spii)
	seed = binary.BigEndian.AppendUint64(seed, spir)
	ps := prf.Size()
	km := PRFPlus(prf, skeyseed, seed, 3*ps+2*integ+2*encr)
	var k IKEKeys
	take := func(n int) []byte {
		b := km[:n:n]
		km = km[n:]
		return b
	}
	k.SKd = take(ps)
	k.SKai = take(integ)
	k.SKar = take(integ)
	k.SKei = take(encr)
	k.SKer = take(encr)
	k.SKpi = take(ps)
	k.SKpr = take(ps)
	return k, nil
}

// ChildKeyMaterial returns n bytes of KEYMAT for a Child SA (RFC 7296 §2.17):
// prf+(SK_d, g^ir (new) | Ni | Nr), where sharedSecret is nil without PFS.
// ni and nr are the nonces of the exchange that created the Child SA (the
// IKE_SA_INIT nonces for the first Child SA).
func ChildKeyMaterial(p PRF, skd, sharedSecret, ni, nr []byte, n int) []byte {
	seed := make([]byte, 0, len(sharedSecret)+len(ni)+len(nr))
	seed = append(append(append(seed, sharedSecret...), ni...), nr...)
	return PRFPlus(p, skd, seed, n)
}

// ChildKeyLengths returns the key lengths of one direction of an ESP SA:
// the encryption key (including the 4-byte salt for AES-GCM, RFC 4106 §8.1)
// and the integrity key (0 for AEAD).
func ChildKeyLengths(esp Proposal) (encrKeyLen, integKeyLen int, err error) {
	encrKeyLen, integKeyLen, err = keyLengths(esp)
	if err != nil {
		return 0, 0, fmt.Errorf("child key lengths: %w", err)
	}
	return encrKeyLen, integKeyLen, nil
}

// ChildKeys are the ESP keys of a Child SA pair. "I" keys protect traffic
// from the initiator of the exchange that created the SA to the responder,
// "R" keys the other direction. Encryption keys include the GCM salt.
type ChildKeys struct {
	EncrI, IntegI, EncrR, IntegR []byte
}

// DeriveChildKeys takes KEYMAT from ChildKeyMaterial and splits it in the
// order RFC 7296 §2.17 fixes: initiator-to-responder encryption and
// integrity keys, then responder-to-initiator.
func DeriveChildKeys(p PRF, skd, sharedSecret, ni, nr []byte, esp Proposal) (ChildKeys, error) {
	encr, integ, err := ChildKeyLengths(esp)
	if err != nil {
		return ChildKeys{}, err
	}
	km := ChildKeyMaterial(p, skd, sharedSecret, ni, nr, 2*(encr+integ))
	return ChildKeys{
		EncrI:  km[0:encr:encr],
		IntegI: km[encr : encr+integ : encr+integ],
		EncrR:  km[encr+integ : 2*encr+integ : 2*encr+integ],
		IntegR: km[2*encr+integ : 2*(encr+integ) : 2*(encr+integ)],
	}, nil
}

// Wipe overwrites the keys with zeros. The IKE SA calls it when it is
// deleted or replaced, so that key material does not linger in memory.
func (k *IKEKeys) Wipe() {
	for _, b := range [][]byte{k.SKd, k.SKai, k.SKar, k.SKei, k.SKer, k.SKpi, k.SKpr} {
		clear(b)
	}
}

// Wipe overwrites the keys with zeros once they are installed in the
// dataplane (which keeps its own copies) or the Child SA is gone.
func (k *ChildKeys) Wipe() {
	for _, b := range [][]byte{k.EncrI, k.IntegI, k.EncrR, k.IntegR} {
		clear(b)
	}
}

// isAEAD reports whether id is a combined-mode cipher (no INTEG transform).
func isAEAD(id wire.EncrID) bool {
	return id == wire.EncrAESGCM16 || id == wire.EncrChaCha20Poly1305
}
