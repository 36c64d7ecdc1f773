package sig

import (
	"crypto"
	"crypto/rand"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

// BenchmarkSign and BenchmarkVerify measure one AUTH signature per
// operation: the cost an IKE_AUTH adds per session setup.
func BenchmarkSign(b *testing.B) {
	keys(b)
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sign(rand.Reader, c.key, c.alg, signed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	keys(b)
	for _, c := range benchCases() {
		auth, err := Sign(rand.Reader, c.key, c.alg, signed)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(c.key.Public(), c.alg.Method, auth, signed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type benchCase struct {
	name string
	key  crypto.Signer
	alg  Algorithm
}

func benchCases() []benchCase {
	m14 := wire.AuthDigitalSignature
	return []benchCase{
		{"ecdsa-p256-sha256", p256Key, Algorithm{Method: m14, Scheme: SchemeECDSA, Hash: HashSHA256}},
		{"ecdsa-p384-sha384", p384Key, Algorithm{Method: m14, Scheme: SchemeECDSA, Hash: HashSHA384}},
		{"rsa2048-pkcs1-sha256", rsaKey, Algorithm{Method: m14, Scheme: SchemeRSAPKCS1, Hash: HashSHA256}},
		{"rsa2048-pss-sha256", rsaKey, Algorithm{Method: m14, Scheme: SchemeRSAPSS, Hash: HashSHA256}},
		{"ed25519", edKey, Algorithm{Method: m14, Scheme: SchemeEd25519, Hash: HashIdentity}},
	}
}
