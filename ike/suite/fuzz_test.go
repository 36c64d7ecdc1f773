package suite

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

// FuzzOpen feeds arbitrary bodies and aad to every SK cipher: Open must never
// panic, must refuse what it did not seal, and a body sealed with the fuzzed
// plaintext must open to it.
func FuzzOpen(f *testing.F) {
	for _, v := range loadKATForFuzz(f) {
		f.Add(v.aad, v.body, uint8(v.suite))
	}
	f.Add([]byte{}, []byte{}, uint8(0))
	f.Add(make([]byte, 28), make([]byte, 8+1+16), uint8(1))
	f.Add(make([]byte, 28), make([]byte, 16+16+12), uint8(2))
	f.Fuzz(func(t *testing.T, aad, body []byte, which uint8) {
		p := skSuites[int(which)%len(skSuites)]
		c := newTestCipher(t, p)
		if out, err := c.Open(nil, aad, body); err == nil {
			t.Fatalf("%v: forged body accepted (%x)", p, out)
		}
		sealed, err := c.Seal(nil, aad, body, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Open(nil, aad, sealed)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%v: round trip = %x, %v", p, got, err)
		}
	})
}

type fuzzSeed struct {
	aad, body []byte
	suite     int
}

// loadKATForFuzz turns the known-answer SK bodies into seeds; their keys
// differ from newTestCipher's, so they exercise the ICV-failure path.
func loadKATForFuzz(f *testing.F) []fuzzSeed {
	var out []fuzzSeed
	for _, v := range loadKAT(f) {
		idx := 0
		for i, p := range skSuites {
			if p.Encr == v.Encr && p.KeyBits == v.KeyBits && p.Integ == v.Integ {
				idx = i
			}
		}
		out = append(out, fuzzSeed{unhex(f, v.SK.AAD), unhex(f, v.SK.Body), idx})
	}
	return out
}

// FuzzSharedSecret feeds arbitrary peer public values to every group:
// never a panic, and any error is an INVALID_SYNTAX NotifyError.
func FuzzSharedSecret(f *testing.F) {
	kes := make([]KeyExchange, len(allGroups))
	for i, g := range allGroups {
		ke, err := NewKeyExchange(g, rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		kes[i] = ke
		f.Add(uint8(i), ke.Public())
	}
	f.Fuzz(func(t *testing.T, which uint8, peer []byte) {
		ke := kes[int(which)%len(kes)]
		if ke.Group() == wire.DHMODP4096 && len(peer) == 512 {
			t.Skip("slow exponentiation; covered by the unit tests")
		}
		if _, err := ke.SharedSecret(peer); err != nil {
			if nt, ok := NotifyOf(err); !ok || nt != wire.NotifyInvalidSyntax {
				t.Fatalf("group %d: error %v is not INVALID_SYNTAX", ke.Group(), err)
			}
		}
	})
}
