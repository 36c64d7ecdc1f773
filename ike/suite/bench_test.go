package suite

import (
	"crypto/rand"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

func BenchmarkKeyExchange(b *testing.B) {
	for _, g := range []wire.DHGroup{wire.DHMODP2048, wire.DHECP256, wire.DHCurve25519} {
		peer, _ := NewKeyExchange(g, rand.Reader)
		b.Run(Proposal{DH: g, Encr: wire.EncrAESGCM16, KeyBits: 128}.String()[len("aes128gcm16-"):], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ke, err := NewKeyExchange(g, rand.Reader)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ke.SharedSecret(peer.Public()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDeriveIKEKeys(b *testing.B) {
	p := Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: wire.DHECP256}
	ni, nr, z := make([]byte, 32), make([]byte, 32), make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DeriveIKEKeys(p, ni, nr, z, 1, 2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSK(b *testing.B) {
	aad := make([]byte, 32)
	pt := make([]byte, 1024)
	for _, p := range []Proposal{skSuites[0], skSuites[2], skSuites[4]} {
		c := newTestCipher(b, p)
		buf := make([]byte, 0, 2048)
		body, _ := c.Seal(nil, aad, pt, rand.Reader)
		b.Run(p.String()+"/seal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				_, _ = c.Seal(buf[:0], aad, pt, zeroReader{})
			}
		})
		b.Run(p.String()+"/open", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				if _, err := c.Open(buf[:0], aad, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
