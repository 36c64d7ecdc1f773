package suite

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
	"unsafe"

	"github.com/esphub/esphub/ike/wire"
	"golang.org/x/crypto/chacha20poly1305"
)

// SKCipher protects the body of an Encrypted payload (SK, RFC 7296 §3.14) or
// an Encrypted Fragment payload (SKF, RFC 7383). One SKCipher serves one
// direction of one IKE SA (built from SK_ei/SK_ai or SK_er/SK_ar).
//
// aad is the message from the first byte of the IKE header through the SK
// (or SKF, including Fragment Number and Total Fragments) payload header,
// with the final lengths already filled in: it is authenticated, not
// encrypted. body is IV | ciphertext | ICV, the SK payload's content.
//
// An SKCipher is not safe for concurrent use (it keeps its HMAC state); the
// IKE SA that owns it serialises its messages. Inputs may alias dst's
// spare capacity (say, a receive buffer decrypted into itself): Seal and
// Open then work on a copy instead of corrupting their input.
type SKCipher interface {
	// Overhead is the number of bytes Seal adds to a plaintext of the given
	// length: IV, padding, the Pad Length byte and the ICV.
	Overhead(plaintextLen int) int
	// Seal appends IV | encrypted(plaintext | padding | pad length) | ICV
	// to dst and returns the extended slice. The IV is read from rand.
	Seal(dst, aad, plaintext []byte, rand io.Reader) ([]byte, error)
	// Open verifies and decrypts body, appends the plaintext without padding
	// to dst and returns the extended slice. It returns ErrAuth if the ICV
	// does not verify or the padding is malformed, ErrShortBody if body
	// cannot be a valid SK body; the caller then drops the message.
	Open(dst, aad, body []byte) ([]byte, error)
}

// NewSKCipher builds the SK payload protection for proposal p (its Encr,
// KeyBits and Integ) with the given keys: encKey is SK_e (including the
// 4-byte salt for AES-GCM), integKey is SK_a (empty for AES-GCM).
func NewSKCipher(p Proposal, encKey, integKey []byte) (SKCipher, error) {
	encrLen, integLen, err := keyLengths(p)
	if err != nil {
		return nil, fmt.Errorf("sk cipher: %w", err)
	}
	if len(encKey) != encrLen {
		return nil, fmt.Errorf("sk cipher: encryption key is %d bytes, want %d: %w", len(encKey), encrLen, ErrKeyLength)
	}
	if len(integKey) != integLen {
		return nil, fmt.Errorf("sk cipher: integrity key is %d bytes, want %d: %w", len(integKey), integLen, ErrKeyLength)
	}
	switch p.Encr {
	case wire.EncrAESGCM16:
		block, err := aes.NewCipher(encKey[:len(encKey)-4])
		if err != nil {
			return nil, fmt.Errorf("sk cipher: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sk cipher: %w", err)
		}
		c := &gcmSK{aead: aead}
		copy(c.nonce[:4], encKey[len(encKey)-4:])
		return c, nil
	case wire.EncrChaCha20Poly1305:
		// RFC 7634 uses the construction of RFC 5282: salt | 8-byte IV
		// as the 96-bit nonce, a 16-byte tag.
		aead, err := chacha20poly1305.New(encKey[:32])
		if err != nil {
			return nil, fmt.Errorf("sk cipher: %w", err)
		}
		c := &gcmSK{aead: aead}
		copy(c.nonce[:4], encKey[32:])
		return c, nil
	case wire.EncrAESCBC:
		block, err := aes.NewCipher(encKey)
		if err != nil {
			return nil, fmt.Errorf("sk cipher: %w", err)
		}
		var h func() hash.Hash
		var icv int
		switch p.Integ {
		case wire.IntegHMACSHA196:
			h, icv = sha1.New, 12
		case wire.IntegHMACSHA2256128:
			h, icv = sha256.New, 16
		case wire.IntegHMACSHA2384192:
			h, icv = sha512.New384, 24
		case wire.IntegHMACSHA2512256:
			h, icv = sha512.New, 32
		}
		return &cbcSK{block: block, mac: hmac.New(h, integKey), icv: icv}, nil
	}
	return nil, fmt.Errorf("sk cipher: encryption algorithm %d: %w", p.Encr, ErrUnsupported)
}

// grow extends b by n bytes, reallocating only when capacity is short, and
// returns the extended slice.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*len(b)+n)
	copy(nb, b)
	return nb
}

// unalias returns in, or a copy of it when in overlaps the n bytes that
// appending to dst will write.
func unalias(dst, in []byte, n int) []byte {
	if len(in) == 0 || cap(dst)-len(dst) == 0 {
		return in
	}
	spare := dst[len(dst):cap(dst)]
	if n < len(spare) {
		spare = spare[:n]
	}
	if len(spare) == 0 {
		return in
	}
	s0 := uintptr(unsafe.Pointer(unsafe.SliceData(spare)))
	s1 := s0 + uintptr(len(spare))
	i0 := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	i1 := i0 + uintptr(len(in))
	if i0 < s1 && s0 < i1 {
		return bytes.Clone(in)
	}
	return in
}

// --- AEAD with an 8-byte explicit IV and a 16-byte ICV: AES-GCM
// (RFC 5282) and ChaCha20-Poly1305 (RFC 7634) ---

const (
	gcmIVLen  = 8
	gcmICVLen = 16
)

type gcmSK struct {
	aead  cipher.AEAD
	nonce [12]byte // salt | IV; the salt half is fixed
}

func (c *gcmSK) Overhead(n int) int { return gcmIVLen + 1 + gcmICVLen }

func (c *gcmSK) Seal(dst, aad, plaintext []byte, rand io.Reader) ([]byte, error) {
	plaintext = unalias(dst, plaintext, gcmIVLen+len(plaintext)+1+gcmICVLen)
	start := len(dst)
	dst = grow(dst, gcmIVLen+len(plaintext)+1+gcmICVLen)
	iv := dst[start : start+gcmIVLen]
	if _, err := io.ReadFull(rand, iv); err != nil {
		return dst[:start], fmt.Errorf("sk seal: read iv: %w", err)
	}
	copy(c.nonce[4:], iv)
	pt := dst[start+gcmIVLen : start+gcmIVLen+len(plaintext)+1]
	copy(pt, plaintext)
	pt[len(pt)-1] = 0 // Pad Length: GCM needs no padding
	out := c.aead.Seal(pt[:0], c.nonce[:], pt, aad)
	return dst[:start+gcmIVLen+len(out)], nil
}

func (c *gcmSK) Open(dst, aad, body []byte) ([]byte, error) {
	if len(body) < gcmIVLen+1+gcmICVLen {
		return dst, ErrShortBody
	}
	body = unalias(dst, body, len(body))
	copy(c.nonce[4:], body[:gcmIVLen])
	start := len(dst)
	out, err := c.aead.Open(dst, c.nonce[:], body[gcmIVLen:], aad)
	if err != nil {
		return dst, ErrAuth
	}
	pad := int(out[len(out)-1])
	if pad+1 > len(out)-start {
		return dst, ErrAuth
	}
	return out[:len(out)-pad-1], nil
}

// --- AES-CBC with HMAC (RFC 7296 §3.14, RFC 3602) ---

const cbcBlock = aes.BlockSize

type cbcSK struct {
	block cipher.Block
	mac   hash.Hash
	icv   int
	sum   [64]byte
}

func (c *cbcSK) Overhead(n int) int {
	padded := (n + 1 + cbcBlock - 1) / cbcBlock * cbcBlock
	return cbcBlock + padded - n + c.icv
}

func (c *cbcSK) Seal(dst, aad, plaintext []byte, rand io.Reader) ([]byte, error) {
	plaintext = unalias(dst, plaintext, c.Overhead(len(plaintext))+len(plaintext))
	start := len(dst)
	padded := (len(plaintext) + 1 + cbcBlock - 1) / cbcBlock * cbcBlock
	dst = grow(dst, cbcBlock+padded+c.icv)
	iv := dst[start : start+cbcBlock]
	if _, err := io.ReadFull(rand, iv); err != nil {
		return dst[:start], fmt.Errorf("sk seal: read iv: %w", err)
	}
	ct := dst[start+cbcBlock : start+cbcBlock+padded]
	n := copy(ct, plaintext)
	padLen := padded - n - 1
	clear(ct[n : n+padLen])
	ct[padded-1] = byte(padLen)
	// CBC by hand: cipher.NewCBCEncrypter would allocate per message.
	prev := iv
	for i := 0; i < padded; i += cbcBlock {
		blk := ct[i : i+cbcBlock]
		subtle.XORBytes(blk, blk, prev)
		c.block.Encrypt(blk, blk)
		prev = blk
	}
	c.mac.Reset()
	c.mac.Write(aad)
	c.mac.Write(dst[start : start+cbcBlock+padded])
	sum := c.mac.Sum(c.sum[:0])
	copy(dst[start+cbcBlock+padded:], sum[:c.icv])
	return dst, nil
}

func (c *cbcSK) Open(dst, aad, body []byte) ([]byte, error) {
	ctLen := len(body) - cbcBlock - c.icv
	if ctLen < cbcBlock || ctLen%cbcBlock != 0 {
		return dst, ErrShortBody
	}
	c.mac.Reset()
	c.mac.Write(aad)
	c.mac.Write(body[:cbcBlock+ctLen])
	sum := c.mac.Sum(c.sum[:0])
	if !hmac.Equal(sum[:c.icv], body[cbcBlock+ctLen:]) {
		return dst, ErrAuth
	}
	body = unalias(dst, body, ctLen)
	start := len(dst)
	dst = grow(dst, ctLen)
	pt := dst[start:]
	prev := body[:cbcBlock]
	for i := 0; i < ctLen; i += cbcBlock {
		ctBlk := body[cbcBlock+i : cbcBlock+i+cbcBlock]
		c.block.Decrypt(pt[i:i+cbcBlock], ctBlk)
		subtle.XORBytes(pt[i:i+cbcBlock], pt[i:i+cbcBlock], prev)
		prev = ctBlk
	}
	pad := int(pt[ctLen-1])
	if pad+1 > ctLen {
		return dst[:start], ErrAuth
	}
	return dst[:start+ctLen-pad-1], nil
}
