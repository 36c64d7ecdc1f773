package config

import (
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

func TestIANARoundTrip(t *testing.T) {
	for _, a := range encryptionNames {
		e := Encryption(a.v)
		id, bits := e.IANA()
		if back, ok := EncryptionFromIANA(id, bits); !ok || back != e {
			t.Errorf("%s: IANA %d/%d maps back to %v,%v", e, id, bits, back, ok)
		}
	}
	for _, a := range integrityNames {
		i := Integrity(a.v)
		if back, ok := IntegrityFromIANA(i.IANA()); !ok || back != i {
			t.Errorf("%s does not round-trip", i)
		}
	}
	for _, a := range prfNames {
		p := PRF(a.v)
		if back, ok := PRFFromIANA(p.IANA()); !ok || back != p {
			t.Errorf("%s does not round-trip", p)
		}
	}
	if id, bits := EncrAESGCM256.IANA(); id != wire.EncrAESGCM16 || bits != 256 {
		t.Errorf("aes-gcm-256 = %d/%d", id, bits)
	}
	if _, ok := EncryptionFromIANA(wire.EncrChaCha20Poly1305, 256); ok {
		t.Error("chacha20 is not an IOS proposal transform")
	}
}

func TestTransformSetIANA(t *testing.T) {
	c := mustParse(t, "crypto ipsec transform-set g esp-gcm 256\ncrypto ipsec transform-set a esp-aes esp-sha256-hmac\n")
	tests := []struct {
		name  string
		enc   wire.EncrID
		bits  uint16
		integ wire.IntegID
	}{
		{"g", wire.EncrAESGCM16, 256, wire.IntegNone},
		{"a", wire.EncrAESCBC, 128, wire.IntegHMACSHA2256128},
		{"default", wire.EncrAESCBC, 128, wire.IntegHMACSHA196}, // G:640: esp-aes esp-sha-hmac
	}
	for _, tc := range tests {
		e, b, i := c.TransformSet(tc.name).ESPTransforms()
		if e != tc.enc || b != tc.bits || i != tc.integ {
			t.Errorf("%s: got %d/%d/%d", tc.name, e, b, i)
		}
	}
}
