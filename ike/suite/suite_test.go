package suite

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestPRFPublishedVectors checks the PRFs against RFC 2202 (HMAC-SHA1) and
// RFC 4231 (HMAC-SHA2) test cases 1 and 2.
func TestPRFPublishedVectors(t *testing.T) {
	key1 := bytes.Repeat([]byte{0x0b}, 20)
	tests := []struct {
		name string
		id   wire.PRFID
		key  []byte
		data string
		want string
	}{
		{"sha1/rfc2202-1", wire.PRFHMACSHA1, key1, "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"},
		{"sha1/rfc2202-2", wire.PRFHMACSHA1, []byte("Jefe"), "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{"sha256/rfc4231-1", wire.PRFHMACSHA2256, key1, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"sha256/rfc4231-2", wire.PRFHMACSHA2256, []byte("Jefe"), "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"sha384/rfc4231-1", wire.PRFHMACSHA2384, key1, "Hi There", "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
		{"sha512/rfc4231-1", wire.PRFHMACSHA2512, key1, "Hi There", "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPRF(tt.id)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Compute(tt.key, []byte(tt.data))
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("got %x, want %s", got, tt.want)
			}
			if p.Size() != len(got) {
				t.Errorf("Size() = %d, output %d bytes", p.Size(), len(got))
			}
		})
	}
	if _, err := NewPRF(wire.PRFHMACMD5); !errors.Is(err, ErrUnsupported) {
		t.Errorf("NewPRF(MD5) error = %v, want ErrUnsupported", err)
	}
}

// TestPRFPlusOracle compares PRFPlus with the definition written out for
// three blocks, at lengths that end inside, at and past block edges.
func TestPRFPlusOracle(t *testing.T) {
	p, _ := NewPRF(wire.PRFHMACSHA2256)
	key, seed := []byte("key"), []byte("seed")
	mac := func(d ...[]byte) []byte {
		m := hmac.New(sha256.New, key)
		for _, x := range d {
			m.Write(x)
		}
		return m.Sum(nil)
	}
	t1 := mac(seed, []byte{1})
	t2 := mac(t1, seed, []byte{2})
	t3 := mac(t2, seed, []byte{3})
	want := append(append(append([]byte{}, t1...), t2...), t3...)
	for _, n := range []int{0, 1, 31, 32, 33, 64, 65, 96} {
		got := PRFPlus(p, key, seed, n)
		if !bytes.Equal(got, want[:n]) {
			t.Errorf("n=%d: got %x, want %x", n, got, want[:n])
		}
		// The generic path, for PRFs that are not our HMAC type.
		if got := PRFPlus(wrappedPRF{p}, key, seed, n); !bytes.Equal(got, want[:n]) {
			t.Errorf("generic n=%d: got %x, want %x", n, got, want[:n])
		}
	}
}

type wrappedPRF struct{ PRF }

type katVector struct {
	Name     string            `json:"name"`
	Encr     wire.EncrID       `json:"encr"`
	KeyBits  int               `json:"keyBits"`
	Integ    wire.IntegID      `json:"integ"`
	PRF      wire.PRFID        `json:"prf"`
	Ni       string            `json:"ni"`
	NrHex    string            `json:"nr"`
	Gir      string            `json:"gir"`
	SPIi     uint64            `json:"spii"`
	SPIrVal  uint64            `json:"spir"`
	SKEYSEED string            `json:"skeyseed"`
	Keys     map[string]string `json:"keys"`
	Rekey    struct {
		Gir, Ni, Nr, SKEYSEED, Keymat string
	} `json:"rekey"`
	ChildKeymat    string `json:"childKeymat"`
	ChildKeymatPFS string `json:"childKeymatPFS"`
	SK             struct {
		AAD, Plaintext, Body string
	} `json:"sk"`
	Auth struct {
		Message, IDBody, PSK, Auth string
	} `json:"auth"`
}

func loadKAT(t testing.TB) []katVector {
	t.Helper()
	b, err := os.ReadFile("testdata/kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var v []katVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v) == 0 {
		t.Fatal("no vectors")
	}
	return v
}

func (v katVector) proposal() Proposal {
	return Proposal{Encr: v.Encr, KeyBits: v.KeyBits, Integ: v.Integ, PRF: v.PRF}
}

// fixedReader returns its bytes, then errors: a deterministic IV source.
type fixedReader struct{ b []byte }

func (r *fixedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, errors.New("fixedReader exhausted")
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// TestKnownAnswers checks key derivation, SK protection and PSK AUTH against
// testdata/kat.json, computed independently by testdata/genkat.py (Python
// hmac + the cryptography package).
func TestKnownAnswers(t *testing.T) {
	for _, v := range loadKAT(t) {
		t.Run(v.Name, func(t *testing.T) {
			p := v.proposal()
			ni, nr, gir := unhex(t, v.Ni), unhex(t, v.NrHex), unhex(t, v.Gir)
			seed, err := SKEYSEED(p, ni, nr, gir)
			if err != nil || hex.EncodeToString(seed) != v.SKEYSEED {
				t.Fatalf("SKEYSEED = %x, %v; want %s", seed, err, v.SKEYSEED)
			}
			k, err := DeriveIKEKeys(p, ni, nr, gir, v.SPIi, v.SPIrVal)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]byte{"SKd": k.SKd, "SKai": k.SKai, "SKar": k.SKar, "SKei": k.SKei, "SKer": k.SKer, "SKpi": k.SKpi, "SKpr": k.SKpr}
			for name, want := range v.Keys {
				if hex.EncodeToString(got[name]) != want {
					t.Errorf("%s = %x, want %s", name, got[name], want)
				}
			}
			// Rekey: concatenating the new keys in order must give the KEYMAT.
			rk, err := DeriveRekeyedIKEKeys(p, v.PRF, k.SKd, unhex(t, v.Rekey.Gir), unhex(t, v.Rekey.Ni), unhex(t, v.Rekey.Nr), v.SPIi+1, v.SPIrVal+1)
			if err != nil {
				t.Fatal(err)
			}
			var cat []byte
			for _, b := range [][]byte{rk.SKd, rk.SKai, rk.SKar, rk.SKei, rk.SKer, rk.SKpi, rk.SKpr} {
				cat = append(cat, b...)
			}
			if hex.EncodeToString(cat) != v.Rekey.Keymat {
				t.Errorf("rekeyed keys = %x, want %s", cat, v.Rekey.Keymat)
			}
			prf, _ := NewPRF(v.PRF)
			esp := Proposal{Encr: v.Encr, KeyBits: v.KeyBits, Integ: v.Integ}
			ck, err := DeriveChildKeys(prf, k.SKd, nil, ni, nr, esp)
			if err != nil {
				t.Fatal(err)
			}
			cat = append(append(append(append([]byte{}, ck.EncrI...), ck.IntegI...), ck.EncrR...), ck.IntegR...)
			if hex.EncodeToString(cat) != v.ChildKeymat {
				t.Errorf("child keys = %x, want %s", cat, v.ChildKeymat)
			}
			km := ChildKeyMaterial(prf, k.SKd, unhex(t, v.Rekey.Gir), unhex(t, v.Rekey.Ni), unhex(t, v.Rekey.Nr), len(cat))
			if hex.EncodeToString(km) != v.ChildKeymatPFS {
				t.Errorf("PFS KEYMAT = %x, want %s", km, v.ChildKeymatPFS)
			}
			// SK payload: Open the oracle's body, and Seal with the same IV must reproduce it.
			c, err := NewSKCipher(p, k.SKei, k.SKai)
			if err != nil {
				t.Fatal(err)
			}
			aad, pt, body := unhex(t, v.SK.AAD), unhex(t, v.SK.Plaintext), unhex(t, v.SK.Body)
			opened, err := c.Open(nil, aad, body)
			if err != nil || !bytes.Equal(opened, pt) {
				t.Errorf("Open = %x, %v; want %x", opened, err, pt)
			}
			ivLen := 16
			if isAEAD(v.Encr) {
				ivLen = 8
			}
			sealed, err := c.Seal([]byte("prefix"), aad, pt, &fixedReader{body[:ivLen]})
			if err != nil || !bytes.Equal(sealed, append([]byte("prefix"), body...)) {
				t.Errorf("Seal = %x, %v; want prefix|%x", sealed, err, body)
			}
			if c.Overhead(len(pt)) != len(body)-len(pt) {
				t.Errorf("Overhead(%d) = %d, body adds %d", len(pt), c.Overhead(len(pt)), len(body)-len(pt))
			}
			// AUTH: the initiator signs its IKE_SA_INIT request, the responder's nonce and its ID.
			signed := SignedOctets(prf, k.SKpi, unhex(t, v.Auth.Message), nr, unhex(t, v.Auth.IDBody))
			auth := PSKAuth(prf, []byte(v.Auth.PSK), signed)
			if got := PSKAuthWithPad(prf, PSKPadKey(prf, []byte(v.Auth.PSK)), k.SKpi, unhex(t, v.Auth.Message), nr,
				unhex(t, v.Auth.IDBody)); !bytes.Equal(got, auth) {
				t.Errorf("PSKAuthWithPad = %x, PSKAuth = %x", got, auth)
			}
			if hex.EncodeToString(auth) != v.Auth.Auth {
				t.Errorf("AUTH = %x, want %s", auth, v.Auth.Auth)
			}
			if !VerifyPSKAuth(prf, []byte(v.Auth.PSK), signed, auth) || VerifyPSKAuth(prf, []byte("wrong"), signed, auth) {
				t.Error("VerifyPSKAuth disagrees with PSKAuth")
			}
		})
	}
}

// TestMODPPrimes checks the built-in RFC 3526 primes: safe primes of the
// right size with 64 leading and trailing one bits.
func TestMODPPrimes(t *testing.T) {
	for _, g := range []*modpGroup{modp1024, modp1536, modp2048, modp3072, modp4096} {
		bits := int(g.id)
		switch g.id {
		case wire.DHMODP1024:
			bits = 1024
		case wire.DHMODP1536:
			bits = 1536
		case wire.DHMODP2048:
			bits = 2048
		case wire.DHMODP3072:
			bits = 3072
		case wire.DHMODP4096:
			bits = 4096
		}
		if g.p.BitLen() != bits {
			t.Errorf("group %d: %d bits, want %d", g.id, g.p.BitLen(), bits)
		}
		ones := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
		if new(big.Int).And(g.p, ones).Cmp(ones) != 0 || new(big.Int).Rsh(g.p, uint(bits-64)).Cmp(ones) != 0 {
			t.Errorf("group %d: leading/trailing 64 bits are not all ones", g.id)
		}
		q := new(big.Int).Rsh(g.p, 1)
		if !g.p.ProbablyPrime(4) || !q.ProbablyPrime(4) {
			t.Errorf("group %d: not a safe prime", g.id)
		}
	}
}

var allGroups = []wire.DHGroup{wire.DHMODP1024, wire.DHMODP1536, wire.DHMODP2048, wire.DHMODP3072, wire.DHMODP4096, wire.DHECP256, wire.DHECP384, wire.DHECP521, wire.DHCurve25519}

func TestKeyExchangeAgreement(t *testing.T) {
	for _, g := range allGroups {
		a, err := NewKeyExchange(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewKeyExchange(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := PublicLen(g)
		if a.Group() != g || len(a.Public()) != n || len(b.Public()) != n {
			t.Errorf("group %d: Group()=%d, public %d/%d bytes, want %d", g, a.Group(), len(a.Public()), len(b.Public()), n)
		}
		za, err := a.SharedSecret(b.Public())
		if err != nil {
			t.Fatalf("group %d: %v", g, err)
		}
		zb, err := b.SharedSecret(a.Public())
		if err != nil {
			t.Fatalf("group %d: %v", g, err)
		}
		if !bytes.Equal(za, zb) {
			t.Errorf("group %d: shared secrets differ", g)
		}
	}
	if _, err := NewKeyExchange(wire.DHMODP768, rand.Reader); !errors.Is(err, ErrUnsupported) {
		t.Errorf("group 1: %v, want ErrUnsupported", err)
	}
	if !Weak(Proposal{DH: wire.DHMODP1536}) || Weak(Proposal{DH: wire.DHMODP2048}) {
		t.Error("Weak disagrees with RFC 8247 for groups 5/14")
	}
}

// TestECP256RFC5903 is the test vector of RFC 5903 §8.1: the public values
// in IKE's x | y form and the shared secret x coordinate.
func TestECP256RFC5903(t *testing.T) {
	i := unhex(t, "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433")
	gi := unhex(t, "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"+
		"5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3")
	r := unhex(t, "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53")
	gr := unhex(t, "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"+
		"56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB")
	want := unhex(t, "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE")
	ki, err := newECPFromScalar(wire.DHECP256, i)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := newECPFromScalar(wire.DHECP256, r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ki.Public(), gi) || !bytes.Equal(kr.Public(), gr) {
		t.Fatalf("public values differ from RFC 5903:\n%x\n%x", ki.Public(), kr.Public())
	}
	for _, k := range []struct {
		ke   KeyExchange
		peer []byte
	}{{ki, gr}, {kr, gi}} {
		z, err := k.ke.SharedSecret(k.peer)
		if err != nil || !bytes.Equal(z, want) {
			t.Errorf("shared secret %x, %v; want %x", z, err, want)
		}
	}
}

// TestX25519RFC7748 is the Diffie-Hellman example of RFC 7748 §6.1.
func TestX25519RFC7748(t *testing.T) {
	alice := unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	alicePub := unhex(t, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	bobPub := unhex(t, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
	want := unhex(t, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
	ke, err := newKeyExchangeFromReader(wire.DHCurve25519, bytes.NewReader(alice))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ke.Public(), alicePub) {
		t.Fatalf("public %x, want %x", ke.Public(), alicePub)
	}
	z, err := ke.SharedSecret(bobPub)
	if err != nil || !bytes.Equal(z, want) {
		t.Errorf("shared secret %x, %v; want %x", z, err, want)
	}
}

// newKeyExchangeFromReader builds a key pair whose private key is read from
// r verbatim (crypto/ecdh's X25519 GenerateKey reads exactly 32 bytes).
func newKeyExchangeFromReader(g wire.DHGroup, r *bytes.Reader) (KeyExchange, error) {
	ke, err := x25519FromScalar(r)
	if err != nil {
		return nil, err
	}
	return ke, nil
}

// TestRFC6989Checks feeds invalid public values to every group: each must be
// refused with INVALID_SYNTAX and never panic.
func TestRFC6989Checks(t *testing.T) {
	for _, g := range allGroups {
		ke, err := NewKeyExchange(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := PublicLen(g)
		bad := map[string][]byte{
			"empty":     nil,
			"short":     make([]byte, n-1),
			"long":      make([]byte, n+1),
			"all-zero":  make([]byte, n),
			"all-ones":  bytes.Repeat([]byte{0xff}, n),
			"off-curve": append(bytes.Repeat([]byte{0}, n-1), 1),
		}
		switch g {
		case wire.DHMODP1024, wire.DHMODP1536, wire.DHMODP2048, wire.DHMODP3072, wire.DHMODP4096:
			grp, _ := groupOf(g)
			m := grp.(*modpGroup)
			bad["p-1"] = m.pMinus1.FillBytes(make([]byte, n))
			bad["p"] = m.p.FillBytes(make([]byte, n))
			delete(bad, "off-curve") // y = 1
		case wire.DHCurve25519:
			// Small-order u-coordinates (RFC 7748 §7): 0 and 1 give an
			// all-zero shared secret.
			one := make([]byte, 32)
			one[0] = 1
			bad["u=1"] = one
			delete(bad, "off-curve")
			delete(bad, "all-ones") // 2^255-1 reduces to a valid u; not small order
		}
		for name, v := range bad {
			_, err := ke.SharedSecret(v)
			if nt, ok := NotifyOf(err); !ok || nt != wire.NotifyInvalidSyntax {
				t.Errorf("group %d, %s: err = %v, want INVALID_SYNTAX", g, name, err)
			}
		}
	}
}

var skSuites = []Proposal{
	{Encr: wire.EncrChaCha20Poly1305},
	{Encr: wire.EncrAESGCM16, KeyBits: 128},
	{Encr: wire.EncrAESGCM16, KeyBits: 256},
	{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA196},
	{Encr: wire.EncrAESCBC, KeyBits: 192, Integ: wire.IntegHMACSHA2256128},
	{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2384192},
	{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2512256},
}

func newTestCipher(t testing.TB, p Proposal) SKCipher {
	t.Helper()
	el, il, err := ChildKeyLengths(p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewSKCipher(p, bytes.Repeat([]byte{0x42}, el), bytes.Repeat([]byte{0x24}, il))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSKRoundTrip seals and opens every length across block edges, checks
// Overhead, and that flipping any byte of aad or body is refused.
func TestSKRoundTrip(t *testing.T) {
	aad := []byte("IKE header and SK payload header")
	for _, p := range skSuites {
		t.Run(p.String(), func(t *testing.T) {
			c := newTestCipher(t, p)
			for n := 0; n <= 67; n++ {
				pt := bytes.Repeat([]byte{byte(n)}, n)
				body, err := c.Seal(nil, aad, pt, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				if len(body) != n+c.Overhead(n) {
					t.Fatalf("n=%d: body %d bytes, Overhead says %d", n, len(body), n+c.Overhead(n))
				}
				got, err := c.Open([]byte{9}, aad, body)
				if err != nil || !bytes.Equal(got, append([]byte{9}, pt...)) {
					t.Fatalf("n=%d: Open = %x, %v", n, got, err)
				}
				if n != 17 {
					continue
				}
				for i := range body {
					b := bytes.Clone(body)
					b[i] ^= 0x01
					if _, err := c.Open(nil, aad, b); !errors.Is(err, ErrAuth) {
						t.Errorf("flipped body byte %d: err = %v, want ErrAuth", i, err)
					}
				}
				for i := range aad {
					a := bytes.Clone(aad)
					a[i] ^= 0x80
					if _, err := c.Open(nil, a, body); !errors.Is(err, ErrAuth) {
						t.Errorf("flipped aad byte %d: err = %v, want ErrAuth", i, err)
					}
				}
				for cut := 0; cut < len(body); cut++ {
					if _, err := c.Open(nil, aad, body[:cut]); err == nil {
						t.Errorf("truncated to %d bytes: accepted", cut)
					}
				}
			}
		})
	}
}

func TestNewSKCipherRejects(t *testing.T) {
	gcm := Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256}
	if _, err := NewSKCipher(gcm, make([]byte, 32), nil); !errors.Is(err, ErrKeyLength) {
		t.Errorf("GCM key without salt: %v, want ErrKeyLength", err)
	}
	cbc := Proposal{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2256128}
	if _, err := NewSKCipher(cbc, make([]byte, 16), make([]byte, 16)); !errors.Is(err, ErrKeyLength) {
		t.Errorf("short integrity key: %v, want ErrKeyLength", err)
	}
	if _, err := NewSKCipher(Proposal{Encr: wire.EncrAESCBC, KeyBits: 100, Integ: wire.IntegHMACSHA196}, nil, nil); !errors.Is(err, ErrKeyLength) {
		t.Errorf("100-bit AES: %v, want ErrKeyLength", err)
	}
	if _, err := NewSKCipher(Proposal{Encr: wire.EncrDES3, Integ: wire.IntegHMACSHA196}, nil, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("3DES: %v, want ErrUnsupported", err)
	}
	if err := Supported(Proposal{Encr: wire.EncrAESGCM16, KeyBits: 128, Integ: wire.IntegHMACSHA196}); err == nil {
		t.Error("GCM with an integrity algorithm accepted")
	}
	if err := Supported(Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: wire.DHECP256}); err != nil {
		t.Errorf("aes256gcm16-prfsha256-ecp256: %v", err)
	}
}

func TestChildKeyLengths(t *testing.T) {
	tests := []struct {
		p           Proposal
		encr, integ int
	}{
		{Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256}, 36, 0},
		{Proposal{Encr: wire.EncrAESGCM16, KeyBits: 128}, 20, 0},
		{Proposal{Encr: wire.EncrChaCha20Poly1305}, 36, 0},
		{Proposal{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2256128}, 16, 32},
		{Proposal{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA196}, 32, 20},
	}
	for _, tt := range tests {
		e, i, err := ChildKeyLengths(tt.p)
		if err != nil || e != tt.encr || i != tt.integ {
			t.Errorf("%v: %d, %d, %v; want %d, %d", tt.p, e, i, err, tt.encr, tt.integ)
		}
	}
}

func TestProposalString(t *testing.T) {
	p := Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: wire.DHECP256}
	if s := p.String(); s != "aes256gcm16-prfsha256-ecp256" {
		t.Errorf("String() = %q", s)
	}
	p = Proposal{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2256128, PRF: wire.PRFHMACSHA2256, DH: wire.DHMODP2048}
	if s := p.String(); s != "aes128-sha256-prfsha256-modp2048" {
		t.Errorf("String() = %q", s)
	}
}

// TestSKAllocs: with room in dst, Seal and Open allocate nothing.
func TestSKAllocs(t *testing.T) {
	aad := make([]byte, 32)
	pt := make([]byte, 200)
	for _, p := range skSuites {
		c := newTestCipher(t, p)
		buf := make([]byte, 0, 512)
		out := make([]byte, 0, 512)
		body, _ := c.Seal(nil, aad, pt, rand.Reader)
		limit := 0.0
		seal := testing.AllocsPerRun(50, func() { _, _ = c.Seal(buf[:0], aad, pt, zeroReader{}) })
		open := testing.AllocsPerRun(50, func() { _, _ = c.Open(out[:0], aad, body) })
		if seal > limit || open > limit {
			t.Errorf("%v: Seal %.0f allocs, Open %.0f allocs, want <= %.0f", p, seal, open, limit)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestNATDetectionHash(t *testing.T) {
	// Written out: SHA-1 over 0102030405060708 | 0000000000000000 | c6120001 | 01f4.
	want := unhex(t, "0102030405060708"+"0000000000000000"+"c6120001"+"01f4")
	sum := sha1Sum(want)
	a4 := mustAddrPort(t, "198.18.0.1:500")
	if got := NATDetectionHash(0x0102030405060708, 0, a4); !bytes.Equal(got, sum) {
		t.Errorf("v4: %x, want %x", got, sum)
	}
	if got := NATDetectionHash(0x0102030405060708, 0, mustAddrPort(t, "[::ffff:198.18.0.1]:500")); !bytes.Equal(got, sum) {
		t.Errorf("v4-mapped hashed differently from v4: %x", got)
	}
	v6 := NATDetectionHash(1, 2, mustAddrPort(t, "[2001:db8::1]:4500"))
	want6 := sha1Sum(unhex(t, "0000000000000001"+"0000000000000002"+"20010db8000000000000000000000001"+"1194"))
	if !bytes.Equal(v6, want6) {
		t.Errorf("v6: %x, want %x", v6, want6)
	}
}

func TestWipe(t *testing.T) {
	k, err := DeriveIKEKeys(Proposal{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA196, PRF: wire.PRFHMACSHA1},
		[]byte("ni-ni-ni"), []byte("nr-nr-nr"), []byte("g^ir"), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	prf, _ := NewPRF(wire.PRFHMACSHA1)
	ck, err := DeriveChildKeys(prf, k.SKd, nil, []byte("ni"), []byte("nr"), Proposal{Encr: wire.EncrAESGCM16, KeyBits: 128})
	if err != nil {
		t.Fatal(err)
	}
	k.Wipe()
	ck.Wipe()
	for i, b := range [][]byte{k.SKd, k.SKai, k.SKar, k.SKei, k.SKer, k.SKpi, k.SKpr, ck.EncrI, ck.EncrR} {
		if len(b) == 0 || !bytes.Equal(b, make([]byte, len(b))) {
			t.Errorf("key %d not wiped: %x", i, b)
		}
	}
}

// TestSKInPlace: decrypting a receive buffer into itself and sealing a
// plaintext that sits where the output goes must give the right result.
func TestSKInPlace(t *testing.T) {
	aad := []byte("header")
	for _, p := range skSuites {
		c := newTestCipher(t, p)
		pt := []byte("the plaintext of an IKE_AUTH message, 50 bytes..")
		body, _ := c.Seal(nil, aad, pt, rand.Reader)
		buf := bytes.Clone(body)
		got, err := c.Open(buf[:0], aad, buf)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("%v: in-place Open = %q, %v", p, got, err)
		}
		// Plaintext at the start of the buffer the ciphertext is written to.
		buf = make([]byte, 0, 256)
		buf = append(buf, pt...)
		sealed, err := c.Seal(buf[:0], aad, buf[:len(pt)], rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Open(nil, aad, sealed); err != nil || !bytes.Equal(got, pt) {
			t.Errorf("%v: Seal over its own plaintext: %q, %v", p, got, err)
		}
	}
}

// TestKeyExchangeKnownAnswers checks public values and shared secrets of
// every group against testdata/dh.json, computed independently by
// testdata/gendh.py (Python integers for MODP, the cryptography package
// for ECP and X25519).
func TestKeyExchangeKnownAnswers(t *testing.T) {
	b, err := os.ReadFile("testdata/dh.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		Group                            wire.DHGroup
		PrivI, PrivR, PubI, PubR, Shared string
	}
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	seen := map[wire.DHGroup]bool{}
	for _, v := range vs {
		mk := func(priv string) KeyExchange {
			switch v.Group {
			case wire.DHCurve25519:
				ke, err := x25519FromScalar(bytes.NewReader(unhex(t, priv)))
				if err != nil {
					t.Fatal(err)
				}
				return ke
			case wire.DHECP256, wire.DHECP384, wire.DHECP521:
				ke, err := newECPFromScalar(v.Group, unhex(t, priv))
				if err != nil {
					t.Fatal(err)
				}
				return ke
			}
			g, err := groupOf(v.Group)
			if err != nil {
				t.Fatal(err)
			}
			return g.(*modpGroup).fromExponent(unhex(t, priv))
		}
		ki, kr := mk(v.PrivI), mk(v.PrivR)
		if hex.EncodeToString(ki.Public()) != v.PubI || hex.EncodeToString(kr.Public()) != v.PubR {
			t.Errorf("group %d: public values differ from the oracle", v.Group)
		}
		zi, err := ki.SharedSecret(unhex(t, v.PubR))
		if err != nil || hex.EncodeToString(zi) != v.Shared {
			t.Errorf("group %d: initiator's shared secret %x, %v", v.Group, zi, err)
		}
		zr, err := kr.SharedSecret(unhex(t, v.PubI))
		if err != nil || hex.EncodeToString(zr) != v.Shared {
			t.Errorf("group %d: responder's shared secret %x, %v", v.Group, zr, err)
		}
		seen[v.Group] = true
	}
	for _, g := range allGroups {
		if !seen[g] {
			t.Errorf("no known answer for group %d", g)
		}
	}
}
