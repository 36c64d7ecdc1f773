// Package gcm is an AES-GCM (NIST SP 800-38D) of our own for the ESP
// packet path, written in Go assembly for amd64 CPUs with VAES and
// VPCLMULQDQ on 512-bit registers (AVX-512F/BW/VL). It exists because Go's
// crypto/cipher has no VAES path: counter mode here encrypts four blocks per
// ZMM register and four registers at a time, and GHASH multiplies sixteen
// blocks per step against precomputed powers of H with one reduction, the
// two interleaved over each 256-byte chunk, in one assembly call per Seal or
// Open. A short message (AAD, ciphertext and length block within sixteen
// blocks, which covers ESP packets up to about 220 bytes) costs a single
// reduction. Partial blocks use AVX-512 masked loads and stores, so nothing is read or
// written outside the caller's buffers.
//
// New returns a cipher.AEAD with exactly the contract of crypto/cipher's
// NewGCM (12-byte nonce, 16-byte tag, in-place operation when dst and the
// input overlap exactly, Open zeroes its output on failure). Available
// reports whether the CPU and OS support it; on other CPUs, other
// architectures and purego builds New returns ErrUnavailable and callers
// use crypto/cipher.
//
// # GHASH representation
//
// A block is byte-reversed on load, so a GCM field element a(x) becomes the
// 128-bit integer rev(a) whose bit 127-i holds the coefficient of x^i. A
// carry-less multiply of two such integers gives rev256(a·b·x): one factor
// of x too many, so the table stores H^i·x^-1 instead of H^i. The 256-bit
// product is then reduced modulo x^128+x^7+x^2+x+1, which in the reflected
// domain means clearing the low 128 bits by two 64-bit folds with the
// constant 0xc2<<56 (the reflected x^7+x^2+x+1 without its x^128 and 1).
package gcm

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"unsafe"
)

// Sizes of the AEAD, as crypto/cipher's GCM.
const (
	NonceSize = 12
	TagSize   = 16

	// maxPlaintext is the SP 800-38D limit for a 96-bit nonce: the 32-bit
	// block counter must not wrap.
	maxPlaintext = ((1 << 32) - 2) * 16

	// maxFusedAAD is the longest AAD gcmAEAD takes (fifteen blocks); ESP
	// uses 8 or 12 bytes. Longer AAD goes through gcmCtr and gcmGhash.
	maxFusedAAD = 240
)

// ErrUnavailable is returned by New where the assembly cannot run.
var ErrUnavailable = errors.New("gcm: VAES/VPCLMULQDQ AVX-512 implementation not available on this CPU or build")

// errOpen is the error of a failed Open; crypto/cipher uses the same text.
var errOpen = errors.New("cipher: message authentication failed")

// Available reports whether New works here: an amd64 build without the
// purego tag on a CPU with AVX-512F, BW and VL, VAES, VPCLMULQDQ and BMI2,
// whose OS saves the AVX-512 register state.
func Available() bool { return available }

// GCM is AES-GCM with a 12-byte nonce and a 16-byte tag. It is immutable
// after New and safe for concurrent use.
type GCM struct {
	rk     [15 * 16]byte // round keys, one 16-byte key per round
	rounds int           // 10, 12 or 14
	// htab holds H^16 … H^1 (times x^-1, byte-reflected), then zeros: the
	// GHASH tail reads sixteen entries from entry 16-m for m blocks.
	htab [32 * 16]byte
}

var _ cipher.AEAD = (*GCM)(nil)

// New returns AES-GCM for a 16, 24 or 32-byte key, or ErrUnavailable.
// The key is copied into the expanded schedule; the caller may wipe it.
func New(key []byte) (*GCM, error) {
	if !available {
		return nil, ErrUnavailable
	}
	g := new(GCM)
	switch len(key) {
	case 16:
		g.rounds = 10
	case 24:
		g.rounds = 12
	case 32:
		g.rounds = 14
	default:
		return nil, errors.New("gcm: invalid AES key size")
	}
	expandKey(&g.rk, key)

	// H = E(K, 0^128): the counter routine's E(K, J0) with J0 = 0.
	var zero, h [16]byte
	gcmCtr(&g.rk, g.rounds, &zero, &h, nil, nil, 0)
	hv := elem{binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:])}
	p := hv
	for i := 1; i <= 16; i++ {
		e := mul(p, xInverse)
		putReflected(g.htab[(16-i)*16:], e)
		p = mul(p, hv)
	}
	clear(h[:])
	return g, nil
}

// NonceSize returns 12.
func (g *GCM) NonceSize() int { return NonceSize }

// Overhead returns the tag size, 16.
func (g *GCM) Overhead() int { return TagSize }

// Seal encrypts and authenticates plaintext, authenticates aad and appends
// the result to dst. It panics, like crypto/cipher, on a wrong nonce length,
// an oversized plaintext, or dst overlapping plaintext other than exactly.
func (g *GCM) Seal(dst, nonce, plaintext, aad []byte) []byte {
	if len(nonce) != NonceSize {
		panic("crypto/cipher: incorrect nonce length given to GCM")
	}
	if uint64(len(plaintext)) > maxPlaintext {
		panic("crypto/cipher: message too large for GCM")
	}
	ret, out := sliceForAppend(dst, len(plaintext)+TagSize)
	if inexactOverlap(out, plaintext) {
		panic("crypto/cipher: invalid buffer overlap of output and input")
	}
	n := len(plaintext)
	var j0, ek, acc [16]byte
	copy(j0[:], nonce)
	j0[15] = 1
	if len(aad) <= maxFusedAAD {
		gcmAEAD(&g.rk, g.rounds, &g.htab, &j0, (*[16]byte)(out[n:]), unsafe.SliceData(out), unsafe.SliceData(plaintext), n,
			unsafe.SliceData(aad), len(aad), 1)
		return ret
	}
	gcmCtr(&g.rk, g.rounds, &j0, &ek, unsafe.SliceData(out), unsafe.SliceData(plaintext), n)
	g.auth(&acc, aad, out[:n])
	tag := out[n : n+TagSize]
	for i := range TagSize {
		tag[i] = acc[15-i] ^ ek[i]
	}
	return ret
}

// Open authenticates ciphertext (with its trailing tag) and aad, decrypts
// it and appends the plaintext to dst. On failure it returns an error and
// zeroes the output it may have written, as crypto/cipher does.
func (g *GCM) Open(dst, nonce, ciphertext, aad []byte) ([]byte, error) {
	if len(nonce) != NonceSize {
		panic("crypto/cipher: incorrect nonce length given to GCM")
	}
	if len(ciphertext) < TagSize || uint64(len(ciphertext)) > maxPlaintext+TagSize {
		return nil, errOpen
	}
	n := len(ciphertext) - TagSize
	tag := ciphertext[n:]
	ret, out := sliceForAppend(dst, n)
	if inexactOverlap(out, ciphertext) {
		panic("crypto/cipher: invalid buffer overlap of output and input")
	}
	var j0, ek, acc, want [16]byte
	copy(j0[:], nonce)
	j0[15] = 1
	if len(aad) <= maxFusedAAD {
		gcmAEAD(&g.rk, g.rounds, &g.htab, &j0, &want, unsafe.SliceData(out), unsafe.SliceData(ciphertext), n,
			unsafe.SliceData(aad), len(aad), 0)
	} else {
		g.auth(&acc, aad, ciphertext[:n])
		gcmCtr(&g.rk, g.rounds, &j0, &ek, unsafe.SliceData(out), unsafe.SliceData(ciphertext), n)
		for i := range TagSize {
			want[i] = acc[15-i] ^ ek[i]
		}
	}
	if !tagEqual(&want, tag) {
		clear(out)
		return nil, errOpen
	}
	return ret, nil
}

// tagEqual compares the computed tag with the received one in constant
// time: the differences of both halves are ORed before the one branch.
func tagEqual(want *[16]byte, got []byte) bool {
	_ = got[15]
	d := binary.LittleEndian.Uint64(want[:8]) ^ binary.LittleEndian.Uint64(got[:8])
	d |= binary.LittleEndian.Uint64(want[8:]) ^ binary.LittleEndian.Uint64(got[8:16])
	return subtle.ConstantTimeEq(int32(uint32(d)|uint32(d>>32)), 0) == 1
}

// auth folds aad, ct and the length block into acc (byte-reflected).
func (g *GCM) auth(acc *[16]byte, aad, ct []byte) {
	var lens [16]byte
	binary.BigEndian.PutUint64(lens[:8], uint64(len(aad))*8)
	binary.BigEndian.PutUint64(lens[8:], uint64(len(ct))*8)
	if len(aad) > 0 {
		gcmGhash(&g.htab, acc, unsafe.SliceData(aad), len(aad))
	}
	if len(ct) > 0 {
		gcmGhash(&g.htab, acc, unsafe.SliceData(ct), len(ct))
	}
	gcmGhash(&g.htab, acc, &lens[0], 16)
}

// elem is a GF(2^128) element in GCM's bit order: hi holds bytes 0..7 of
// the block big-endian, so the coefficient of x^0 is hi's top bit.
type elem struct{ hi, lo uint64 }

// xInverse is x^-1 = x^127 + x^6 + x + 1 modulo the GCM polynomial.
var xInverse = elem{0xc200000000000000, 1}

// mul multiplies in GF(2^128) bit by bit (SP 800-38D algorithm 1). It runs
// only in New, on H and its powers, and its branches depend on H: it is not
// for per-packet use.
func mul(x, y elem) elem {
	var z elem
	v := y
	for i := range 128 {
		var bit uint64
		if i < 64 {
			bit = x.hi >> (63 - i) & 1
		} else {
			bit = x.lo >> (127 - i) & 1
		}
		mask := -bit
		z.hi ^= v.hi & mask
		z.lo ^= v.lo & mask
		carry := v.lo & 1
		v.lo = v.lo>>1 | v.hi<<63
		v.hi >>= 1
		v.hi ^= 0xe100000000000000 & -carry
	}
	return z
}

// putReflected stores e byte-reversed (the integer rev(e), little-endian).
func putReflected(b []byte, e elem) {
	binary.LittleEndian.PutUint64(b[8:16], e.hi)
	binary.LittleEndian.PutUint64(b[0:8], e.lo)
}

// expandKey writes the AES key schedule (FIPS 197 §5.2) of key into rk.
// SubWord uses AESENCLAST (subWord works bytewise, so the word's byte order
// does not matter), so no table is indexed by key bytes.
func expandKey(rk *[240]byte, key []byte) {
	nk := len(key) / 4
	total := 4 * (nk + 7) // 4 words per round key, rounds+1 keys
	var w [60]uint32
	for i := range nk {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := uint32(1)
	for i := nk; i < total; i++ {
		t := w[i-1]
		switch {
		case i%nk == 0:
			t = subWord(t<<8|t>>24) ^ rcon<<24
			rcon <<= 1
			if rcon&0x100 != 0 {
				rcon ^= 0x11b
			}
		case nk > 6 && i%nk == 4:
			t = subWord(t)
		}
		w[i] = w[i-nk] ^ t
	}
	for i := range total {
		binary.BigEndian.PutUint32(rk[4*i:], w[i])
	}
	clear(w[:])
}

// sliceForAppend extends in by n bytes, reusing its capacity when it can,
// and returns the whole slice and the new tail.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}

// inexactOverlap reports whether x and y share memory at different offsets.
func inexactOverlap(x, y []byte) bool {
	if len(x) == 0 || len(y) == 0 || &x[0] == &y[0] {
		return false
	}
	xs, ys := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return xs <= ys+uintptr(len(y)-1) && ys <= xs+uintptr(len(x)-1)
}
