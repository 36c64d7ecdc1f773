package sig

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

// FuzzParseAlgorithmIdentifier feeds arbitrary DER to the parser: it must
// never panic, and whatever it accepts must re-encode to an identifier that
// parses to the same algorithm (the DER itself may differ: absent versus
// NULL parameters, explicit default salt).
func FuzzParseAlgorithmIdentifier(f *testing.F) {
	for _, h := range []string{
		"300d06092a864886f70d01010b0500", "300b06092a864886f70d01010c",
		"300a06082a8648ce3d040302", "300a06082a8648ce3d040304", "300506032b6570",
		"304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120",
		"300b06092a864886f70d01010a", "3000", "",
	} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		a, rest, err := ParseAlgorithmIdentifier(der)
		if err != nil {
			return
		}
		if len(rest) > len(der) {
			t.Fatalf("rest longer than input")
		}
		if a.Hash == HashSHA1 || (a.Scheme == SchemeRSAPSS && a.SaltLength == 0) {
			return // SHA-1 is parsed for diagnostics only; salt 0 means "hash length" when encoding
		}
		enc, err := AlgorithmIdentifier(a)
		if err != nil {
			t.Fatalf("cannot re-encode %+v: %v", a, err)
		}
		b, rest2, err := ParseAlgorithmIdentifier(enc)
		if err != nil || len(rest2) != 0 || b != a {
			t.Fatalf("round trip %+v -> %x -> %+v %v", a, enc, b, err)
		}
	})
}

// FuzzVerify checks that arbitrary AUTH data never panics Verify and never
// verifies against a key that did not sign it.
func FuzzVerify(f *testing.F) {
	keys(f)
	for _, k := range []struct {
		alg Algorithm
	}{
		{Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeECDSA, Hash: HashSHA256}},
		{Algorithm{Method: wire.AuthECDSA256, Scheme: SchemeECDSA, Hash: HashSHA256}},
	} {
		auth, err := Sign(rand.Reader, p256Key, k.alg, signed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(k.alg.Method), auth)
	}
	for _, g := range loadSwanGolden(f) {
		f.Add(uint8(g.method), g.auth)
	}
	f.Fuzz(func(t *testing.T, method uint8, auth []byte) {
		_, err := Verify(p384Key.Public(), wire.AuthMethod(method), auth, signed)
		if err == nil {
			t.Fatalf("data verified under a key that never signed")
		}
		_, _ = Verify(rsaKey.Public(), wire.AuthMethod(method), auth, signed)
		_, _ = Verify(edKey.Public(), wire.AuthMethod(method), auth, signed)
		a, err := Verify(p256Key.Public(), wire.AuthMethod(method), auth, signed)
		if err == nil && a.Scheme != SchemeECDSA {
			t.Fatalf("p256 key verified %+v", a)
		}
	})
}
