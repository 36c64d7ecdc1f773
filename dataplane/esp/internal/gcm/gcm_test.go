package gcm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/esphub/esphub/internal/testenv"

	"golang.org/x/sys/unix"
)

func needAsm(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	// ESPHUB_GCM_OPTIONAL=1 lets CI run on a machine without the features.
	if os.Getenv("ESPHUB_GCM_OPTIONAL") != "" {
		t.Skip("VAES/AVX-512 GCM unavailable")
	}
	testenv.Missing(t, "CPU without AVX-512F/BW/VL, VAES, VPCLMULQDQ and BMI2")
}

func pair(t testing.TB, key []byte) (*GCM, cipher.AEAD) {
	t.Helper()
	g, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	std, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return g, std
}

func TestKeySchedule(t *testing.T) {
	needAsm(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kl := range []int{16, 24, 32} {
		for range 50 {
			key := make([]byte, kl)
			for i := range key {
				key[i] = byte(rng.Uint32())
			}
			g, err := New(key)
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := aes.NewCipher(key)
			var in, want, got [16]byte
			for i := range in {
				in[i] = byte(rng.Uint32())
			}
			blk.Encrypt(want[:], in[:])
			gcmCtr(&g.rk, g.rounds, &in, &got, nil, nil, 0)
			if got != want {
				t.Fatalf("key %x: E(%x) = %x, crypto/aes says %x", key, in, got, want)
			}
		}
	}
}

// TestKnownAnswer checks vectors from the GCM specification (McGrew and
// Viega, test cases 2, 3, 4, 14 and 16) independently of crypto/cipher.
func TestKnownAnswer(t *testing.T) {
	needAsm(t)
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pt4 := "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
	cases := []struct{ key, iv, pt, aad, ct, tag string }{
		{"00000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
			"0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
		{"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", pt4 + "1aafd255", "",
			"42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
			"4d5c2af327cd64a62cf35abd2ba6fab4"},
		{"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", pt4, "feedfacedeadbeeffeedfacedeadbeefabaddad2",
			"42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
			"5bc94fbc3221a5db94fae95ae7121a47"},
		{"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
			"cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
		{"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", pt4, "feedfacedeadbeeffeedfacedeadbeefabaddad2",
			"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
			"76fc6ece0f4e1768cddf8853bb2d551b"},
	}
	for i, c := range cases {
		g, err := New(h(c.key))
		if err != nil {
			t.Fatal(err)
		}
		got := g.Seal(nil, h(c.iv), h(c.pt), h(c.aad))
		want := append(h(c.ct), h(c.tag)...)
		if !bytes.Equal(got, want) {
			t.Errorf("case %d: Seal = %x, want %x", i, got, want)
		}
		pt, err := g.Open(nil, h(c.iv), want, h(c.aad))
		if err != nil || !bytes.Equal(pt, h(c.pt)) {
			t.Errorf("case %d: Open = %x, %v", i, pt, err)
		}
	}
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// check seals and opens pt with both implementations, out of place into
// buffers at offset off and in place, and compares everything.
func check(t *testing.T, g *GCM, std cipher.AEAD, nonce, pt, aad []byte, off int) {
	t.Helper()
	want := std.Seal(nil, nonce, pt, aad)
	buf := make([]byte, off+len(pt)+TagSize+off)
	got := g.Seal(buf[off:off], nonce, pt, aad)
	if !bytes.Equal(got, want) {
		t.Fatalf("len %d aad %d off %d: Seal differs\n got %x\nwant %x", len(pt), len(aad), off, got, want)
	}
	for _, b := range append(buf[:off], buf[off+len(want):]...) {
		if b != 0 {
			t.Fatalf("len %d: Seal wrote outside its output", len(pt))
		}
	}
	// In place.
	inb := make([]byte, off+len(pt)+TagSize)
	in := inb[off : off+len(pt)]
	copy(in, pt)
	got = g.Seal(in[:0], nonce, in, aad)
	if !bytes.Equal(got, want) {
		t.Fatalf("len %d aad %d: in-place Seal differs", len(pt), len(aad))
	}
	// Open out of place and in place.
	opened, err := g.Open(buf[off:off], nonce, want, aad)
	if err != nil || !bytes.Equal(opened, pt) {
		t.Fatalf("len %d aad %d: Open = %v", len(pt), len(aad), err)
	}
	opened, err = g.Open(got[:0], nonce, got, aad)
	if err != nil || !bytes.Equal(opened, pt) {
		t.Fatalf("len %d aad %d: in-place Open = %v", len(pt), len(aad), err)
	}
}

func TestDifferential(t *testing.T) {
	needAsm(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kl := range []int{16, 24, 32} {
		key := make([]byte, kl)
		fill(rng, key)
		g, std := pair(t, key)
		nonce := make([]byte, NonceSize)
		for n := 0; n <= 1600; n++ {
			fill(rng, nonce)
			pt := make([]byte, n)
			fill(rng, pt)
			aad := make([]byte, []int{0, 8, 12, n % 81}[n%4])
			fill(rng, aad)
			check(t, g, std, nonce, pt, aad, n%7)
		}
		for al := 0; al <= 80; al++ {
			fill(rng, nonce)
			aad := make([]byte, al)
			fill(rng, aad)
			pt := make([]byte, rng.IntN(300))
			fill(rng, pt)
			check(t, g, std, nonce, pt, aad, al%5)
		}
		// Around the fused path's AAD limit and the group boundaries.
		for _, al := range []int{224, 225, 239, 240, 241, 255, 256, 257, 1000} {
			for _, n := range []int{0, 1, 16, 17, 200, 239, 240, 241, 255, 256, 257, 1400} {
				fill(rng, nonce)
				aad := make([]byte, al)
				fill(rng, aad)
				pt := make([]byte, n)
				fill(rng, pt)
				check(t, g, std, nonce, pt, aad, n%3)
			}
		}
		for range 200 {
			fill(rng, nonce)
			pt := make([]byte, rng.IntN(9217))
			fill(rng, pt)
			aad := make([]byte, rng.IntN(600))
			fill(rng, aad)
			check(t, g, std, nonce, pt, aad, rng.IntN(64))
		}
	}
}

func TestOpenTampered(t *testing.T) {
	needAsm(t)
	rng := rand.New(rand.NewPCG(5, 6))
	key := make([]byte, 16)
	fill(rng, key)
	g, _ := pair(t, key)
	for _, n := range []int{0, 1, 15, 16, 17, 64, 100, 255, 256, 257, 1400} {
		nonce := make([]byte, NonceSize)
		fill(rng, nonce)
		pt := make([]byte, n)
		fill(rng, pt)
		aad := make([]byte, 12)
		fill(rng, aad)
		sealed := g.Seal(nil, nonce, pt, aad)
		bits := []int{0, 7, 8*len(sealed) - 1, rng.IntN(8 * len(sealed))}
		for _, bit := range bits {
			for part := range 3 {
				ct := bytes.Clone(sealed)
				a, nn := bytes.Clone(aad), bytes.Clone(nonce)
				switch part {
				case 0:
					ct[bit/8] ^= 1 << (bit % 8)
				case 1:
					a[bit%len(a)] ^= 1 << (bit % 8)
				case 2:
					nn[bit%len(nn)] ^= 1 << (bit % 8)
				}
				dst := make([]byte, n)
				fill(rng, dst)
				if _, err := g.Open(dst[:0], nn, ct, a); err == nil {
					t.Fatalf("len %d part %d bit %d: tampered message opened", n, part, bit)
				}
				if !bytes.Equal(dst, make([]byte, n)) {
					t.Fatalf("len %d: dst not wiped after failed Open", n)
				}
				// In place: the ciphertext buffer is zeroed too.
				if _, err := g.Open(ct[:0], nn, ct, a); err == nil {
					t.Fatal("tampered in-place message opened")
				}
				if !bytes.Equal(ct[:n], make([]byte, n)) {
					t.Fatalf("len %d: in-place buffer not wiped", n)
				}
			}
		}
	}
	if _, err := g.Open(nil, make([]byte, 12), make([]byte, 15), nil); err == nil {
		t.Fatal("short ciphertext opened")
	}
}

// guarded returns an n-byte slice that ends right before a PROT_NONE page
// (or, with atStart, starts right after one).
func guarded(t *testing.T, n int, atStart bool) []byte {
	t.Helper()
	ps := os.Getpagesize()
	pages := (n+ps-1)/ps + 2
	mem, err := unix.Mmap(-1, 0, pages*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { _ = unix.Munmap(mem) })
	if err := unix.Mprotect(mem[:ps], unix.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	if err := unix.Mprotect(mem[(pages-1)*ps:], unix.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	if atStart {
		return mem[ps : ps+n : ps+n]
	}
	end := (pages - 1) * ps
	return mem[end-n : end : end]
}

func TestGuardPages(t *testing.T) {
	needAsm(t)
	rng := rand.New(rand.NewPCG(7, 8))
	key := make([]byte, 32)
	fill(rng, key)
	g, std := pair(t, key)
	nonce := make([]byte, NonceSize)
	for _, n := range []int{0, 1, 5, 15, 16, 17, 31, 63, 64, 65, 100, 127, 200, 255, 256, 257, 300, 511, 1400, 1401} {
		for _, atStart := range []bool{false, true} {
			for _, al := range []int{0, 1, 8, 12, 13, 70} {
				fill(rng, nonce)
				pt := make([]byte, n)
				fill(rng, pt)
				aad := guarded(t, al, atStart)
				fill(rng, aad)
				want := std.Seal(nil, nonce, pt, aad)
				// Input ends at the guard page; output (with tag) too.
				src := guarded(t, n, atStart)
				copy(src, pt)
				dst := guarded(t, n+TagSize, atStart)
				got := g.Seal(dst[:0], nonce, src, aad)
				if !bytes.Equal(got, want) {
					t.Fatalf("n %d: guarded Seal differs", n)
				}
				ct := guarded(t, n+TagSize, atStart)
				copy(ct, want)
				out := guarded(t, n, atStart)
				if _, err := g.Open(out[:0], nonce, ct, aad); err != nil || !bytes.Equal(out, pt) {
					t.Fatalf("n %d: guarded Open: %v", n, err)
				}
				// In place in the guarded buffer.
				if _, err := g.Open(ct[:0], nonce, ct, aad); err != nil || !bytes.Equal(ct[:n], pt) {
					t.Fatalf("n %d: guarded in-place Open: %v", n, err)
				}
			}
		}
	}
}

func TestNoAllocs(t *testing.T) {
	needAsm(t)
	g, _ := pair(t, make([]byte, 16))
	nonce := make([]byte, NonceSize)
	aad := make([]byte, 8)
	buf := make([]byte, 1400+TagSize)
	pt := buf[:1400]
	if n := testing.AllocsPerRun(100, func() { g.Seal(pt[:0], nonce, pt, aad) }); n != 0 {
		t.Errorf("Seal allocates %v times", n)
	}
	sealed := g.Seal(pt[:0], nonce, pt, aad)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := g.Open(buf[:0], nonce, sealed, aad); err != nil {
			t.Fatal(err)
		}
		g.Seal(pt[:0], nonce, pt, aad)
	}); n != 0 {
		t.Errorf("Open allocates %v times", n)
	}
}

func TestOverlapPanics(t *testing.T) {
	needAsm(t)
	g, _ := pair(t, make([]byte, 16))
	buf := make([]byte, 100)
	defer func() {
		if recover() == nil {
			t.Fatal("inexact overlap did not panic")
		}
	}()
	g.Seal(buf[1:1], make([]byte, 12), buf[:50], nil)
}

func TestBadKey(t *testing.T) {
	needAsm(t)
	if _, err := New(make([]byte, 20)); err == nil {
		t.Fatal("20-byte key accepted")
	}
}

func FuzzSealOpen(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("nonce-123456"), []byte("plaintext"), []byte("aad"), false)
	f.Add(make([]byte, 32), make([]byte, 12), make([]byte, 1400), make([]byte, 8), true)
	f.Add(make([]byte, 24), make([]byte, 12), make([]byte, 257), make([]byte, 12), false)
	f.Fuzz(func(t *testing.T, key, nonce, pt, aad []byte, tamper bool) {
		if !Available() {
			t.Skip()
		}
		switch {
		case len(key) >= 32:
			key = key[:32]
		case len(key) >= 24:
			key = key[:24]
		case len(key) >= 16:
			key = key[:16]
		default:
			return
		}
		if len(nonce) < NonceSize {
			return
		}
		nonce = nonce[:NonceSize]
		g, std := pair(t, key)
		want := std.Seal(nil, nonce, pt, aad)
		got := g.Seal(nil, nonce, pt, aad)
		if !bytes.Equal(got, want) {
			t.Fatalf("Seal differs")
		}
		if tamper && len(got) > 0 {
			got[len(got)/2] ^= 0x10
		}
		p1, e1 := g.Open(nil, nonce, got, aad)
		p2, e2 := std.Open(nil, nonce, got, aad)
		if (e1 == nil) != (e2 == nil) || !bytes.Equal(p1, p2) {
			t.Fatalf("Open differs: %v vs %v", e1, e2)
		}
	})
}

var sizes = []int{64, 512, 1400, 8192}

func BenchmarkSeal(b *testing.B) {
	needAsm(b)
	g, std := pair(b, make([]byte, 16))
	for _, n := range sizes {
		for _, impl := range []struct {
			name string
			a    cipher.AEAD
		}{{"vaes", g}, {"stdlib", std}} {
			b.Run(fmt.Sprintf("%d/%s", n, impl.name), func(b *testing.B) {
				nonce := make([]byte, NonceSize)
				aad := make([]byte, 8)
				buf := make([]byte, n+TagSize)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					impl.a.Seal(buf[:0], nonce, buf[:n], aad)
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	needAsm(b)
	g, std := pair(b, make([]byte, 16))
	for _, n := range sizes {
		for _, impl := range []struct {
			name string
			a    cipher.AEAD
		}{{"vaes", g}, {"stdlib", std}} {
			b.Run(fmt.Sprintf("%d/%s", n, impl.name), func(b *testing.B) {
				nonce := make([]byte, NonceSize)
				aad := make([]byte, 8)
				sealed := impl.a.Seal(nil, nonce, make([]byte, n), aad)
				out := make([]byte, n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := impl.a.Open(out[:0], nonce, sealed, aad); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
