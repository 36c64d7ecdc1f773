package config

import "github.com/esphub/esphub/ike/wire"

// Conversions between the IOS algorithm names of the model and the IANA
// transform IDs the IKE engine puts on the wire (RFC 7296 §3.3.2; AES-GCM
// with a 16-octet ICV per RFC 5282 and RFC 4106, as IOS negotiates it).

// IANA returns the transform ID of e and its key length in bits; the key
// length is 0 for 3DES, which has no Key Length attribute.
func (e Encryption) IANA() (wire.EncrID, uint16) {
	switch e {
	case Encr3DES:
		return wire.EncrDES3, 0
	case EncrAESCBC128, EncrAESCBC192, EncrAESCBC256:
		return wire.EncrAESCBC, uint16(e.KeyBits())
	default:
		return wire.EncrAESGCM16, uint16(e.KeyBits())
	}
}

// EncryptionFromIANA is the inverse of Encryption.IANA; ok is false for
// transforms IOS does not configure.
func EncryptionFromIANA(id wire.EncrID, keyBits uint16) (Encryption, bool) {
	for _, e := range []Encryption{Encr3DES, EncrAESCBC128, EncrAESCBC192, EncrAESCBC256, EncrAESGCM128, EncrAESGCM256} {
		if i, k := e.IANA(); i == id && (k == keyBits || (id == wire.EncrDES3 && keyBits == 0)) {
			return e, true
		}
	}
	return 0, false
}

var integIANA = map[Integrity]wire.IntegID{
	IntegMD5:    wire.IntegHMACMD596,
	IntegSHA1:   wire.IntegHMACSHA196,
	IntegSHA256: wire.IntegHMACSHA2256128,
	IntegSHA384: wire.IntegHMACSHA2384192,
	IntegSHA512: wire.IntegHMACSHA2512256,
}

// IANA returns the integrity transform ID of i.
func (i Integrity) IANA() wire.IntegID { return integIANA[i] }

// IntegrityFromIANA is the inverse of Integrity.IANA.
func IntegrityFromIANA(id wire.IntegID) (Integrity, bool) {
	for k, v := range integIANA {
		if v == id {
			return k, true
		}
	}
	return 0, false
}

var prfIANA = map[PRF]wire.PRFID{
	PRFMD5:    wire.PRFHMACMD5,
	PRFSHA1:   wire.PRFHMACSHA1,
	PRFSHA256: wire.PRFHMACSHA2256,
	PRFSHA384: wire.PRFHMACSHA2384,
	PRFSHA512: wire.PRFHMACSHA2512,
}

// IANA returns the PRF transform ID of p.
func (p PRF) IANA() wire.PRFID { return prfIANA[p] }

// PRFFromIANA is the inverse of PRF.IANA.
func PRFFromIANA(id wire.PRFID) (PRF, bool) {
	for k, v := range prfIANA {
		if v == id {
			return k, true
		}
	}
	return 0, false
}

// IANA returns the key exchange transform ID of g (the group numbers are
// the IANA values).
func (g DHGroup) IANA() wire.DHGroup { return wire.DHGroup(g) }

// ESPTransforms returns the ESP encryption ID, key length in bits and
// integrity ID (IntegNone for AES-GCM) the transform set proposes. IOS's
// esp-aes and esp-gcm default to 128-bit keys.
func (t *TransformSet) ESPTransforms() (wire.EncrID, uint16, wire.IntegID) {
	bits := uint16(t.CipherBits)
	var enc wire.EncrID
	switch t.Cipher {
	case ESPAES:
		enc = wire.EncrAESCBC
		if bits == 0 {
			bits = 128
		}
	case ESPGCM:
		enc = wire.EncrAESGCM16
		if bits == 0 {
			bits = 128
		}
	case ESP3DES:
		enc, bits = wire.EncrDES3, 0
	case ESPNull:
		enc, bits = wire.EncrNull, 0
	}
	integ := wire.IntegNone
	switch t.Integrity {
	case ESPSHAHMAC:
		integ = wire.IntegHMACSHA196
	case ESPSHA256HMAC:
		integ = wire.IntegHMACSHA2256128
	case ESPSHA384HMAC:
		integ = wire.IntegHMACSHA2384192
	case ESPSHA512HMAC:
		integ = wire.IntegHMACSHA2512256
	case ESPMD5HMAC:
		integ = wire.IntegHMACMD596
	}
	return enc, bits, integ
}
