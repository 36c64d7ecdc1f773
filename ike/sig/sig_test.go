package sig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/wire"
)

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	p256Key  *ecdsa.PrivateKey
	p384Key  *ecdsa.PrivateKey
	p521Key  *ecdsa.PrivateKey
	edKey    ed25519.PrivateKey
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		p256Key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p384Key, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		p521Key, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		_, edKey, _ = ed25519.GenerateKey(rand.Reader)
	})
}

var signed = []byte("IKE_SA_INIT message | Ni | prf(SK_pi, IDi') -- stand-in signed octets")

func TestSignVerifyRoundTrip(t *testing.T) {
	keys(t)
	m14 := wire.AuthDigitalSignature
	cases := []struct {
		name string
		key  crypto.Signer
		alg  Algorithm
	}{
		{"rsa-method1", rsaKey, Algorithm{Method: wire.AuthRSASig, Scheme: SchemeRSAPKCS1, Hash: HashSHA1}},
		{"ecdsa256-method9", p256Key, Algorithm{Method: wire.AuthECDSA256, Scheme: SchemeECDSA, Hash: HashSHA256}},
		{"ecdsa384-method10", p384Key, Algorithm{Method: wire.AuthECDSA384, Scheme: SchemeECDSA, Hash: HashSHA384}},
		{"ecdsa521-method11", p521Key, Algorithm{Method: wire.AuthECDSA521, Scheme: SchemeECDSA, Hash: HashSHA512}},
		{"rsa-pkcs1-sha256", rsaKey, Algorithm{Method: m14, Scheme: SchemeRSAPKCS1, Hash: HashSHA256}},
		{"rsa-pkcs1-sha384", rsaKey, Algorithm{Method: m14, Scheme: SchemeRSAPKCS1, Hash: HashSHA384}},
		{"rsa-pkcs1-sha512", rsaKey, Algorithm{Method: m14, Scheme: SchemeRSAPKCS1, Hash: HashSHA512}},
		{"rsa-pss-sha256", rsaKey, Algorithm{Method: m14, Scheme: SchemeRSAPSS, Hash: HashSHA256}},
		{"rsa-pss-sha384", rsaKey, Algorithm{Method: m14, Scheme: SchemeRSAPSS, Hash: HashSHA384}},
		{"rsa-pss-sha512-salt0x11", rsaKey, Algorithm{Method: m14, Scheme: SchemeRSAPSS, Hash: HashSHA512, SaltLength: 17}},
		{"ecdsa256-sha256", p256Key, Algorithm{Method: m14, Scheme: SchemeECDSA, Hash: HashSHA256}},
		{"ecdsa256-sha512", p256Key, Algorithm{Method: m14, Scheme: SchemeECDSA, Hash: HashSHA512}},
		{"ecdsa384-sha384", p384Key, Algorithm{Method: m14, Scheme: SchemeECDSA, Hash: HashSHA384}},
		{"ecdsa521-sha512", p521Key, Algorithm{Method: m14, Scheme: SchemeECDSA, Hash: HashSHA512}},
		{"ed25519", edKey, Algorithm{Method: m14, Scheme: SchemeEd25519, Hash: HashIdentity}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auth, err := Sign(rand.Reader, c.key, c.alg, signed)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(c.key.Public(), c.alg.Method, auth, signed)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			want := c.alg
			if want.Scheme == SchemeRSAPSS && want.SaltLength == 0 {
				want.SaltLength = want.Hash.cryptoHash().Size()
			}
			if got != want {
				t.Fatalf("verify reports %+v, want %+v", got, want)
			}
			// The same data over other octets must not verify.
			other := append(bytes.Clone(signed), 'x')
			if _, err := Verify(c.key.Public(), c.alg.Method, auth, other); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("verify of other octets: %v, want ErrBadSignature", err)
			}
			// Classic ECDSA: fixed r||s length.
			if c.alg.Method >= wire.AuthECDSA256 && c.alg.Method <= wire.AuthECDSA521 {
				size := (c.key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
				if len(auth) != 2*size {
					t.Fatalf("r||s is %d bytes, want %d", len(auth), 2*size)
				}
			}
		})
	}
}

// TestMethod14AgainstX509 uses crypto/x509 as an independent oracle: the
// AlgorithmIdentifier we emit must equal the one x509 writes into a
// certificate for the same algorithm, and our signature value (after the
// prefix) must pass x509's CheckSignature.
func TestMethod14AgainstX509(t *testing.T) {
	keys(t)
	cases := []struct {
		key  crypto.Signer
		alg  Algorithm
		x509 x509.SignatureAlgorithm
	}{
		{rsaKey, Algorithm{Scheme: SchemeRSAPKCS1, Hash: HashSHA256}, x509.SHA256WithRSA},
		{rsaKey, Algorithm{Scheme: SchemeRSAPKCS1, Hash: HashSHA384}, x509.SHA384WithRSA},
		{rsaKey, Algorithm{Scheme: SchemeRSAPKCS1, Hash: HashSHA512}, x509.SHA512WithRSA},
		{rsaKey, Algorithm{Scheme: SchemeRSAPSS, Hash: HashSHA256}, x509.SHA256WithRSAPSS},
		{rsaKey, Algorithm{Scheme: SchemeRSAPSS, Hash: HashSHA384}, x509.SHA384WithRSAPSS},
		{rsaKey, Algorithm{Scheme: SchemeRSAPSS, Hash: HashSHA512}, x509.SHA512WithRSAPSS},
		{p256Key, Algorithm{Scheme: SchemeECDSA, Hash: HashSHA256}, x509.ECDSAWithSHA256},
		{p384Key, Algorithm{Scheme: SchemeECDSA, Hash: HashSHA384}, x509.ECDSAWithSHA384},
		{p521Key, Algorithm{Scheme: SchemeECDSA, Hash: HashSHA512}, x509.ECDSAWithSHA512},
		{edKey, Algorithm{Scheme: SchemeEd25519, Hash: HashIdentity}, x509.PureEd25519},
	}
	for _, c := range cases {
		t.Run(c.x509.String(), func(t *testing.T) {
			c.alg.Method = wire.AuthDigitalSignature
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "oracle"},
				NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1e9, 0), SignatureAlgorithm: c.x509}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, c.key.Public(), c.key)
			if err != nil {
				t.Fatal(err)
			}
			var outer struct {
				TBS    asn1.RawValue
				SigAlg asn1.RawValue
				Sig    asn1.BitString
			}
			if _, err := asn1.Unmarshal(der, &outer); err != nil {
				t.Fatal(err)
			}
			ai, err := AlgorithmIdentifier(c.alg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ai, outer.SigAlg.FullBytes) {
				t.Fatalf("AlgorithmIdentifier\n got %x\nwant %x (crypto/x509)", ai, outer.SigAlg.FullBytes)
			}
			// x509's own AlgorithmIdentifier parses to the same algorithm.
			got, rest, err := ParseAlgorithmIdentifier(outer.SigAlg.FullBytes)
			if err != nil || len(rest) != 0 {
				t.Fatalf("parse x509's identifier: %v (rest %d)", err, len(rest))
			}
			if got.Scheme != c.alg.Scheme || got.Hash != c.alg.Hash {
				t.Fatalf("parsed %+v, want %+v", got, c.alg)
			}
			auth, err := Sign(rand.Reader, c.key, c.alg, signed)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignature(c.x509, signed, auth[1+int(auth[0]):]); err != nil {
				t.Fatalf("crypto/x509 rejects our signature value: %v", err)
			}
		})
	}
}

// TestAlgorithmIdentifierGolden pins the DER of RFC 7427 Appendix A.
func TestAlgorithmIdentifierGolden(t *testing.T) {
	cases := []struct {
		alg Algorithm
		hex string
	}{
		{Algorithm{Scheme: SchemeRSAPKCS1, Hash: HashSHA256}, "300d06092a864886f70d01010b0500"},
		{Algorithm{Scheme: SchemeRSAPKCS1, Hash: HashSHA384}, "300d06092a864886f70d01010c0500"},
		{Algorithm{Scheme: SchemeRSAPKCS1, Hash: HashSHA512}, "300d06092a864886f70d01010d0500"},
		{Algorithm{Scheme: SchemeECDSA, Hash: HashSHA256}, "300a06082a8648ce3d040302"},
		{Algorithm{Scheme: SchemeECDSA, Hash: HashSHA384}, "300a06082a8648ce3d040303"},
		{Algorithm{Scheme: SchemeECDSA, Hash: HashSHA512}, "300a06082a8648ce3d040304"},
		{Algorithm{Scheme: SchemeRSAPSS, Hash: HashSHA256},
			"304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120"},
		{Algorithm{Scheme: SchemeEd25519, Hash: HashIdentity}, "300506032b6570"},
	}
	for _, c := range cases {
		got, err := AlgorithmIdentifier(c.alg)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != c.hex {
			t.Errorf("%v: got %x want %s", c.alg, got, c.hex)
		}
		back, rest, err := ParseAlgorithmIdentifier(got)
		if err != nil || len(rest) != 0 || back.Scheme != c.alg.Scheme || back.Hash != c.alg.Hash {
			t.Errorf("%v: parse back %+v %v", c.alg, back, err)
		}
	}
}

func TestVerifyNegative(t *testing.T) {
	keys(t)
	m14 := wire.AuthDigitalSignature
	ecAuth, err := Sign(rand.Reader, p256Key, Algorithm{Method: m14, Scheme: SchemeECDSA, Hash: HashSHA256}, signed)
	if err != nil {
		t.Fatal(err)
	}
	rsaAuth, err := Sign(rand.Reader, rsaKey, Algorithm{Method: m14, Scheme: SchemeRSAPKCS1, Hash: HashSHA256}, signed)
	if err != nil {
		t.Fatal(err)
	}
	classic9, err := Sign(rand.Reader, p256Key, Algorithm{Method: wire.AuthECDSA256, Scheme: SchemeECDSA, Hash: HashSHA256}, signed)
	if err != nil {
		t.Fatal(err)
	}
	// The RSA signature relabelled as SHA-384: the hash differs.
	wrongHash := bytes.Clone(rsaAuth)
	wrongHash[13] = 0x0c // last OID byte: sha256WithRSA → sha384WithRSA
	sha1ID, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oidSHA1WithRSA, Parameters: asn1.NullRawValue})
	sha1Auth := append(append([]byte{byte(len(sha1ID))}, sha1ID...), rsaAuth[1+int(rsaAuth[0]):]...)
	otherP256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	cases := []struct {
		name   string
		pub    crypto.PublicKey
		method wire.AuthMethod
		auth   []byte
		want   error
	}{
		{"wrong key", otherP256.Public(), m14, ecAuth, ErrBadSignature},
		{"wrong key classic", otherP256.Public(), wire.AuthECDSA256, classic9, ErrBadSignature},
		{"wrong hash", rsaKey.Public(), m14, wrongHash, ErrBadSignature},
		{"ecdsa id with rsa key", rsaKey.Public(), m14, ecAuth, ErrKeyMismatch},
		{"rsa id with ecdsa key", p256Key.Public(), m14, rsaAuth, ErrKeyMismatch},
		{"method 10 with p256 key", p256Key.Public(), wire.AuthECDSA384, classic9, ErrKeyMismatch},
		{"method 1 with ecdsa key", p256Key.Public(), wire.AuthRSASig, rsaAuth, ErrKeyMismatch},
		{"classic r||s truncated", p256Key.Public(), wire.AuthECDSA256, classic9[:63], ErrMalformed},
		{"classic data read as method 14", p256Key.Public(), m14, classic9, ErrMalformed},
		{"empty", p256Key.Public(), m14, nil, ErrMalformed},
		{"length beyond data", p256Key.Public(), m14, ecAuth[:5], ErrMalformed},
		{"truncated asn1", p256Key.Public(), m14, append([]byte{ecAuth[0] - 1}, ecAuth[1:ecAuth[0]]...), ErrMalformed},
		{"no signature", p256Key.Public(), m14, ecAuth[:1+int(ecAuth[0])], ErrMalformed},
		{"sha1 under method 14", rsaKey.Public(), m14, sha1Auth, ErrUnsupported},
		{"psk method", rsaKey.Public(), wire.AuthSharedKeyMIC, rsaAuth, ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.pub, c.method, c.auth, signed)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	keys(t)
	cases := []struct {
		name string
		key  crypto.Signer
		alg  Algorithm
		want error
	}{
		{"method 9 with p384", p384Key, Algorithm{Method: wire.AuthECDSA256, Scheme: SchemeECDSA, Hash: HashSHA256}, ErrKeyMismatch},
		{"method 9 with sha384", p256Key, Algorithm{Method: wire.AuthECDSA256, Scheme: SchemeECDSA, Hash: HashSHA384}, ErrUnsupported},
		{"rsa scheme with ec key", p256Key, Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeRSAPKCS1, Hash: HashSHA256}, ErrKeyMismatch},
		{"sha1 method 14", rsaKey, Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeRSAPKCS1, Hash: HashSHA1}, ErrUnsupported},
		{"ed25519 with sha256", edKey, Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeEd25519, Hash: HashSHA256}, ErrUnsupported},
	}
	for _, c := range cases {
		if _, err := Sign(rand.Reader, c.key, c.alg, signed); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestParsePSSRejects(t *testing.T) {
	mk := func(p pssParams) []byte {
		params, err := asn1.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oidRSAPSS, Parameters: asn1.RawValue{FullBytes: params}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	h := func(o asn1.ObjectIdentifier) pkix.AlgorithmIdentifier {
		return pkix.AlgorithmIdentifier{Algorithm: o, Parameters: asn1.NullRawValue}
	}
	mgf := func(o asn1.ObjectIdentifier) pkix.AlgorithmIdentifier {
		d, _ := asn1.Marshal(h(o))
		return pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: d}}
	}
	good := pssParams{Hash: h(oidSHA256), MGF: mgf(oidSHA256), SaltLength: 32, TrailerField: 1}
	if a, _, err := ParseAlgorithmIdentifier(mk(good)); err != nil || a.SaltLength != 32 || a.Hash != HashSHA256 {
		t.Fatalf("good params: %+v %v", a, err)
	}
	bad := map[string]pssParams{
		"mgf hash differs": {Hash: h(oidSHA256), MGF: mgf(oidSHA384), SaltLength: 32, TrailerField: 1},
		"sha1 default":     {MGF: mgf(oidSHA1), SaltLength: 20, TrailerField: 1},
		"trailer 2":        {Hash: h(oidSHA256), MGF: mgf(oidSHA256), SaltLength: 32, TrailerField: 2},
		"huge salt":        {Hash: h(oidSHA256), MGF: mgf(oidSHA256), SaltLength: 100000, TrailerField: 1},
		"mgf not mgf1":     {Hash: h(oidSHA256), MGF: h(oidSHA256), SaltLength: 32, TrailerField: 1},
	}
	for name, p := range bad {
		if _, _, err := ParseAlgorithmIdentifier(mk(p)); !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	// An ECDSA identifier with parameters is malformed.
	withParams, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA56, Parameters: asn1.NullRawValue})
	if _, _, err := ParseAlgorithmIdentifier(withParams); !errors.Is(err, ErrMalformed) {
		t.Errorf("ecdsa with NULL params: %v", err)
	}
	unknown, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 3}})
	if _, _, err := ParseAlgorithmIdentifier(unknown); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown oid: %v", err)
	}
}

func TestHashAlgorithmsNotify(t *testing.T) {
	data := AppendHashAlgorithms(nil, LocalHashes...)
	if hex.EncodeToString(data) != "0002000300040005" {
		t.Fatalf("notify data %x", data)
	}
	// The wire package's notify builder agrees.
	if n := wire.NewSignatureHashAlgorithms(2, 3, 4, 5); !bytes.Equal(n.Data, data) {
		t.Fatalf("wire builds %x", n.Data)
	}
	got, err := ParseHashAlgorithms(nil, append(data, 0x12, 0x34))
	if err != nil || len(got) != 5 || got[4] != 0x1234 || got[0] != HashSHA256 {
		t.Fatalf("parse: %v %v", got, err)
	}
	if _, err := ParseHashAlgorithms(nil, []byte{0, 2, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("odd length: %v", err)
	}
}

func TestChoose(t *testing.T) {
	keys(t)
	all := []Hash{HashSHA256, HashSHA384, HashSHA512, HashIdentity}
	cases := []struct {
		name  string
		pub   crypto.PublicKey
		peer  []Hash
		pss   bool
		want  Algorithm
		isErr bool
	}{
		{"p256 rfc7427", p256Key.Public(), all, false, Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeECDSA, Hash: HashSHA256}, false},
		{"p384 rfc7427", p384Key.Public(), all, false, Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeECDSA, Hash: HashSHA384}, false},
		{"p521 only sha256", p521Key.Public(), []Hash{HashSHA256}, false, Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeECDSA, Hash: HashSHA256}, false},
		{"rsa pss", rsaKey.Public(), all, true, Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeRSAPSS, Hash: HashSHA256}, false},
		{"rsa strongest when preferred missing", rsaKey.Public(), []Hash{HashSHA384, HashSHA512}, false, Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeRSAPKCS1, Hash: HashSHA512}, false},
		{"rsa classic", rsaKey.Public(), nil, false, Algorithm{Method: wire.AuthRSASig, Scheme: SchemeRSAPKCS1, Hash: HashSHA1}, false},
		{"p384 classic", p384Key.Public(), []Hash{HashSHA1}, false, Algorithm{Method: wire.AuthECDSA384, Scheme: SchemeECDSA, Hash: HashSHA384}, false},
		{"ed25519", edKey.Public(), all, false, Algorithm{Method: wire.AuthDigitalSignature, Scheme: SchemeEd25519, Hash: HashIdentity}, false},
		{"ed25519 without identity", edKey.Public(), []Hash{HashSHA256}, false, Algorithm{}, true},
	}
	for _, c := range cases {
		got, err := Choose(c.pub, c.peer, c.pss)
		if c.isErr {
			if err == nil {
				t.Errorf("%s: no error, got %+v", c.name, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %+v %v, want %+v", c.name, got, err, c.want)
		}
	}
}
