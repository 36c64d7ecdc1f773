package esp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

func key(n int, b byte) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

type algCase struct {
	name     string
	alg      Algorithm
	enc, mac []byte
}

func algCases() []algCase {
	return []algCase{
		{"gcm128", AESGCM16, key(20, 1), nil},
		{"gcm256", AESGCM16, key(36, 2), nil},
		{"cbc-sha1", AESCBCSHA1, key(16, 3), key(20, 4)},
		{"cbc-sha256", AESCBCSHA256, key(32, 5), key(32, 6)},
	}
}

func sealPacket(t testing.TB, c *Cipher, payload []byte, spi uint32, seq uint64, esn bool, next uint8) []byte {
	t.Helper()
	b := make([]byte, c.PayloadOffset()+len(payload)+c.TrailerLen(len(payload)))
	copy(b[c.PayloadOffset():], payload)
	n := c.Seal(b, spi, seq, esn, len(payload), next, new(Scratch))
	if n != len(b) {
		t.Fatalf("Seal returned %d, want %d", n, len(b))
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	s := new(Scratch)
	for _, ac := range algCases() {
		c, err := NewCipher(ac.alg, ac.enc, ac.mac)
		if err != nil {
			t.Fatal(err)
		}
		for _, esn := range []bool{false, true} {
			for _, n := range []int{0, 1, 2, 3, 4, 15, 16, 17, 64, 1400} {
				payload := key(n, byte(n))
				seq := uint64(7)<<32 | uint64(n+1)
				b := sealPacket(t, c, payload, 0xc0ffee, seq, esn, 41)
				if (len(b)-c.PayloadOffset()-c.ICVLen())%c.align != 0 {
					t.Fatalf("%s n=%d: encrypted part not aligned to %d", ac.name, n, c.align)
				}
				if binary.BigEndian.Uint32(b[0:4]) != 0xc0ffee || binary.BigEndian.Uint32(b[4:8]) != uint32(seq) {
					t.Fatalf("%s: header wrong % x", ac.name, b[:8])
				}
				got, next, r := c.Open(b, seq, esn, s)
				if r != OK || next != 41 || !bytes.Equal(got, payload) {
					t.Fatalf("%s esn=%v n=%d: Open = %v next %d payload match %v", ac.name, esn, n, r, next, bytes.Equal(got, payload))
				}
				if esn {
					// Wrong high bits must fail authentication.
					b = sealPacket(t, c, payload, 0xc0ffee, seq, esn, 41)
					if _, _, r := c.Open(b, seq+1<<32, esn, s); r != AuthFail {
						t.Fatalf("%s: wrong ESN high bits gave %v", ac.name, r)
					}
				}
			}
		}
	}
}

// TestGCMOracle checks Seal against RFC 4106 assembled by hand with the
// standard library: nonce = salt || IV, AAD = SPI || Seq (or SPI || SeqHi ||
// SeqLo), plaintext = payload || 1,2,3... || padlen || next header.
func TestGCMOracle(t *testing.T) {
	k := key(20, 9)
	c, _ := NewCipher(AESGCM16, k, nil)
	block, _ := aes.NewCipher(k[:16])
	g, _ := cipher.NewGCM(block)
	for _, esn := range []bool{false, true} {
		payload := []byte("hello esp")
		seq := uint64(0x0102030405060708)
		b := sealPacket(t, c, payload, 0x11223344, seq, esn, 4)
		nonce := append(append([]byte{}, k[16:]...), b[8:16]...)
		if !bytes.Equal(b[8:16], []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
			t.Fatalf("IV is not the sequence number: % x", b[8:16])
		}
		aad := []byte{0x11, 0x22, 0x33, 0x44, 5, 6, 7, 8}
		if esn {
			aad = []byte{0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5, 6, 7, 8}
		}
		pt := append(append([]byte{}, payload...), 1, 1, 4) // pad byte 1, pad length 1, next header
		want := g.Seal(nil, nonce, pt, aad)
		if !bytes.Equal(b[16:], want) {
			t.Fatalf("esn=%v: ciphertext\n got % x\nwant % x", esn, b[16:], want)
		}
	}
}

// TestCBCOracle checks the CBC/HMAC-SHA1-96 encoding by decrypting with the
// standard library and recomputing the ICV independently.
func TestCBCOracle(t *testing.T) {
	ek, ak := key(16, 1), key(20, 2)
	c, _ := NewCipher(AESCBCSHA1, ek, ak)
	payload := key(33, 0)
	b := sealPacket(t, c, payload, 0x100, 5, false, 47)
	m := hmac.New(sha1.New, ak)
	m.Write(b[:len(b)-12])
	if !bytes.Equal(m.Sum(nil)[:12], b[len(b)-12:]) {
		t.Fatal("ICV mismatch")
	}
	block, _ := aes.NewCipher(ek)
	ct := append([]byte{}, b[24:len(b)-12]...)
	cipher.NewCBCDecrypter(block, b[8:24]).CryptBlocks(ct, ct)
	if !bytes.Equal(ct[:33], payload) || ct[len(ct)-1] != 47 || int(ct[len(ct)-2]) != len(ct)-35 {
		t.Fatalf("plaintext % x", ct)
	}
}

func TestOpenRejects(t *testing.T) {
	s := new(Scratch)
	for _, ac := range algCases() {
		c, _ := NewCipher(ac.alg, ac.enc, ac.mac)
		payload := key(100, 0)
		good := sealPacket(t, c, payload, 1, 1, false, 4)
		for i := 0; i < len(good); i += 7 {
			b := append([]byte{}, good...)
			b[i] ^= 0x40
			if _, _, r := c.Open(b, 1, false, s); r == OK {
				t.Fatalf("%s: flipping byte %d accepted", ac.name, i)
			}
		}
		if _, _, r := c.Open(good[:c.PayloadOffset()+c.ICVLen()+1], 1, false, s); r != Malformed {
			t.Fatalf("%s: short packet gave %v", ac.name, r)
		}
	}
	// Bad padding under a valid ICV: build the plaintext by hand.
	k := key(20, 3)
	c, _ := NewCipher(AESGCM16, k, nil)
	block, _ := aes.NewCipher(k[:16])
	g, _ := cipher.NewGCM(block)
	for _, pt := range [][]byte{{0xaa, 9, 9, 2, 4}, {0xaa, 1, 3, 2, 4}, {0xaa, 0xbb, 200, 4}} {
		hdr := []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}
		b := g.Seal(append([]byte{}, hdr...), append(append([]byte{}, k[16:]...), hdr[8:]...), pt, hdr[:8])
		if _, _, r := c.Open(b, 1, false, s); r != BadPad {
			t.Fatalf("plaintext % x: got %v, want BadPad", pt, r)
		}
	}
}

func TestNewCipherKeys(t *testing.T) {
	for _, tc := range []struct {
		alg      Algorithm
		enc, mac int
	}{{AESGCM16, 16, 0}, {AESGCM16, 20, 20}, {AESCBCSHA1, 16, 32}, {AESCBCSHA256, 17, 32}, {99, 16, 0}} {
		if _, err := NewCipher(tc.alg, key(tc.enc, 0), key(tc.mac, 0)); err == nil {
			t.Errorf("%v enc %d mac %d accepted", tc.alg, tc.enc, tc.mac)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	s := new(Scratch)
	for _, ac := range algCases() {
		c, _ := NewCipher(ac.alg, ac.enc, ac.mac)
		b := make([]byte, 2048)
		seq := uint64(1)
		n := testing.AllocsPerRun(200, func() {
			l := c.Seal(b, 5, seq, true, 1000, 4, s)
			if _, _, r := c.Open(b[:l], seq, true, s); r != OK {
				t.Fatal("open failed")
			}
			seq++
		})
		if n != 0 {
			t.Errorf("%s: %v allocs per seal+open", ac.name, n)
		}
	}
}

// FuzzOpen feeds arbitrary bytes to Open for every algorithm: it must not
// panic, and whatever it accepts must be a packet Seal could have produced.
func FuzzOpen(f *testing.F) {
	c, _ := NewCipher(AESGCM16, key(20, 1), nil)
	f.Add(sealPacket(f, c, []byte("seed"), 1, 1, false, 4), uint64(1))
	f.Add(make([]byte, 40), uint64(0))
	hexSeed, _ := hex.DecodeString("000000010000000100000000000000014500")
	f.Add(hexSeed, uint64(1))
	ciphers := []*Cipher{c}
	for _, ac := range algCases()[1:] {
		cc, _ := NewCipher(ac.alg, ac.enc, ac.mac)
		ciphers = append(ciphers, cc)
	}
	s := new(Scratch)
	f.Fuzz(func(t *testing.T, b []byte, seq uint64) {
		for _, c := range ciphers {
			p, _, r := c.Open(append([]byte{}, b...), seq, seq>>32 != 0, s)
			if r == OK && len(p) > len(b) {
				t.Fatal("payload longer than packet")
			}
		}
	})
}

func TestCBCIVsDiffer(t *testing.T) {
	c, _ := NewCipher(AESCBCSHA256, key(16, 1), key(32, 2))
	c2, _ := NewCipher(AESCBCSHA256, key(16, 1), key(32, 2))
	a := sealPacket(t, c, []byte("x"), 1, 1, false, 4)
	b := sealPacket(t, c, []byte("x"), 1, 2, false, 4)
	d := sealPacket(t, c2, []byte("x"), 1, 1, false, 4)
	if bytes.Equal(a[8:24], b[8:24]) || bytes.Equal(a[8:24], d[8:24]) || bytes.Equal(a[8:16], []byte{0, 0, 0, 0, 0, 0, 0, 1}) {
		t.Fatal("CBC IVs repeat or are predictable")
	}
}

func TestMaxPayload(t *testing.T) {
	for _, ac := range algCases() {
		c, _ := NewCipher(ac.alg, ac.enc, ac.mac)
		for n := 60; n < 1600; n++ {
			m := c.MaxPayload(n)
			if c.PayloadOffset()+m+c.TrailerLen(m) > n {
				t.Fatalf("%s n=%d: payload %d does not fit", ac.name, n, m)
			}
			if c.PayloadOffset()+m+1+c.TrailerLen(m+1) <= n {
				t.Fatalf("%s n=%d: payload %d is not the largest", ac.name, n, m)
			}
		}
	}
}
