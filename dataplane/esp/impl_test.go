package esp

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/esphub/esphub/dataplane/esp/internal/gcm"
)

// withImpl builds an AESGCM16 cipher on the named implementation,
// whatever the process-wide choice is.
func withImpl(t testing.TB, impl string, encKey []byte) *Cipher {
	t.Helper()
	if impl == ImplVAES && !gcm.Available() {
		t.Skip("VAES/AVX-512 GCM unavailable on this CPU")
	}
	saved := useVAES
	useVAES = impl == ImplVAES
	defer func() { useVAES = saved }()
	c, err := NewCipher(AESGCM16, encKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Implementation() != impl {
		t.Fatalf("Implementation() = %q, want %q", c.Implementation(), impl)
	}
	return c
}

func TestGCMImplementationChoice(t *testing.T) {
	want := ImplStdlib
	if gcm.Available() && os.Getenv("ESPHUB_GCM") != "stdlib" {
		want = ImplVAES
	}
	if got := GCMImplementation(); got != want {
		t.Fatalf("GCMImplementation() = %q, want %q", got, want)
	}
	c, err := NewCipher(AESGCM16, key(20, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Implementation() != want {
		t.Fatalf("cipher uses %q, want %q", c.Implementation(), want)
	}
	cbc, _ := NewCipher(AESCBCSHA1, key(16, 1), key(20, 2))
	if cbc.Implementation() != "" {
		t.Fatalf("CBC cipher reports GCM implementation %q", cbc.Implementation())
	}
}

func TestNewAEAD(t *testing.T) {
	for _, kl := range []int{16, 24, 32} {
		a, err := NewAEAD(key(kl, 3))
		if err != nil {
			t.Fatal(err)
		}
		_, isVAES := a.(*gcm.GCM)
		if isVAES != (GCMImplementation() == ImplVAES) {
			t.Fatalf("NewAEAD gave %T, GCMImplementation says %s", a, GCMImplementation())
		}
		c, _ := NewCipher(AESGCM16, append(key(kl, 3), 9, 9, 9, 9), nil)
		nonce := append([]byte{9, 9, 9, 9}, 0, 0, 0, 0, 0, 0, 0, 5)
		pkt := sealPacket(t, c, []byte("payload"), 7, 5, false, 4)
		pt, err := a.Open(nil, nonce, pkt[16:], pkt[:8])
		if err != nil || !bytes.Equal(pt[:7], []byte("payload")) {
			t.Fatalf("NewAEAD cannot open NewCipher's packet: %v", err)
		}
	}
	if _, err := NewAEAD(make([]byte, 20)); err == nil {
		t.Fatal("20-byte key accepted")
	}
}

// TestGCMCrossImplementation seals with one implementation and opens with
// the other, for every key size, with and without ESN, and checks that both
// produce the same packet bytes.
func TestGCMCrossImplementation(t *testing.T) {
	s := new(Scratch)
	for _, kl := range []int{20, 28, 36} {
		k := key(kl, byte(kl))
		v, std := withImpl(t, ImplVAES, k), withImpl(t, ImplStdlib, k)
		for _, esn := range []bool{false, true} {
			for _, n := range []int{0, 1, 13, 46, 64, 100, 255, 256, 1000, 1400, 1438, 9000} {
				payload := key(n, byte(n*7))
				seq := uint64(3)<<32 | uint64(n+9)
				a := sealPacket(t, v, payload, 0xabc, seq, esn, 4)
				b := sealPacket(t, std, payload, 0xabc, seq, esn, 4)
				if !bytes.Equal(a, b) {
					t.Fatalf("key %d esn %v n %d: implementations seal differently", kl, esn, n)
				}
				if p, _, r := std.Open(a, seq, esn, s); r != OK || !bytes.Equal(p, payload) {
					t.Fatalf("stdlib cannot open vaes packet: %v", r)
				}
				if p, _, r := v.Open(b, seq, esn, s); r != OK || !bytes.Equal(p, payload) {
					t.Fatalf("vaes cannot open stdlib packet: %v", r)
				}
				c := sealPacket(t, std, payload, 0xabc, seq, esn, 4)
				c[len(c)-1] ^= 1
				if _, _, r := v.Open(c, seq, esn, s); r != AuthFail {
					t.Fatalf("vaes opened a corrupted packet: %v", r)
				}
			}
		}
	}
}

// BenchmarkGCMImpl seals and opens ESP packets with each implementation.
func BenchmarkGCMImpl(b *testing.B) {
	for _, n := range []int{64, 512, 1400, 8192} {
		for _, impl := range []string{ImplVAES, ImplStdlib} {
			c := withImpl(b, impl, key(20, 1))
			buf := make([]byte, c.PayloadOffset()+n+c.TrailerLen(n))
			s := new(Scratch)
			b.Run(fmt.Sprintf("seal/%d/%s", n, impl), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				seq := uint64(1)
				for b.Loop() {
					c.Seal(buf, 1, seq, false, n, 4, s)
					seq++
				}
			})
			l := c.Seal(buf, 1, 7, false, n, 4, s)
			pkt := make([]byte, l)
			b.Run(fmt.Sprintf("open/%d/%s", n, impl), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					copy(pkt, buf[:l])
					if _, _, r := c.Open(pkt, 7, false, s); r != OK {
						b.Fatal(r)
					}
				}
			})
		}
	}
}
