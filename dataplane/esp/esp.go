// Package esp seals and opens ESP packets (RFC 4303) in place: AES-GCM with
// a 16-byte ICV (RFC 4106) and, for older peers, AES-CBC with HMAC-SHA1-96 or
// HMAC-SHA-256-128 (RFC 3602, RFC 2404, RFC 4868).
//
// The package knows the ESP header, IV, payload, padding, next header and
// ICV. It does not know outer IP or UDP headers, replay windows or SAs; the
// dataplane composes those. It does no I/O and allocates nothing per packet.
//
// # AES-GCM implementation
//
// On amd64 CPUs with AVX-512 (F, BW, VL), VAES and VPCLMULQDQ, AES-GCM runs
// on the package's own assembly (internal/gcm, "vaes-avx512"), about twice
// as fast as crypto/cipher at 1400 bytes; elsewhere it uses crypto/cipher
// ("stdlib"). The environment variable ESPHUB_GCM=stdlib, read once at
// program start, forces crypto/cipher (to compare, or to rule the assembly
// out). GCMImplementation and Cipher.Implementation report the choice.
package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"os"
	"sync"

	"github.com/esphub/esphub/dataplane/esp/internal/gcm"
)

// Names of the AES-GCM implementations, as Implementation reports them.
const (
	ImplVAES   = "vaes-avx512"
	ImplStdlib = "stdlib"
)

// useVAES is decided once: the CPU supports the assembly and ESPHUB_GCM
// does not ask for the standard library.
var useVAES = gcm.Available() && os.Getenv("ESPHUB_GCM") != "stdlib"

// GCMImplementation returns the AES-GCM implementation NewCipher uses for
// AESGCM16 in this process: ImplVAES or ImplStdlib.
func GCMImplementation() string {
	if useVAES {
		return ImplVAES
	}
	return ImplStdlib
}

// Algorithm identifies an ESP transform combination.
type Algorithm uint8

// Supported algorithms.
const (
	// AESGCM16 is ENCR_AES_GCM_16 (IKEv2 transform 20): the key material is
	// the AES key (16, 24 or 32 bytes) followed by the 4-byte salt.
	AESGCM16 Algorithm = iota + 1
	// AESCBCSHA1 is ENCR_AES_CBC with AUTH_HMAC_SHA1_96 (20-byte auth key).
	AESCBCSHA1
	// AESCBCSHA256 is ENCR_AES_CBC with AUTH_HMAC_SHA2_256_128 (32-byte auth key).
	AESCBCSHA256
)

func (a Algorithm) String() string {
	switch a {
	case AESGCM16:
		return "esp-gcm"
	case AESCBCSHA1:
		return "esp-aes esp-sha-hmac"
	case AESCBCSHA256:
		return "esp-aes esp-sha256-hmac"
	}
	return fmt.Sprintf("Algorithm(%d)", uint8(a))
}

// Sizes of the fixed parts.
const (
	HeaderLen  = 8  // SPI + sequence number
	SaltLen    = 4  // RFC 4106 salt at the end of the GCM key material
	gcmIVLen   = 8  // RFC 4106 explicit IV
	gcmICVLen  = 16 // ENCR_AES_GCM_16
	cbcIVLen   = aes.BlockSize
	MaxICVLen  = 16
	MaxIVLen   = 16
	MaxPadding = 255
)

// ErrKey reports key material of the wrong size for the algorithm.
var ErrKey = errors.New("esp: wrong key length")

// Result is the outcome of Open. The packet path turns it into a drop
// reason; it is not an error value so that it costs nothing.
type Result uint8

// Open results.
const (
	OK        Result = iota
	Malformed        // shorter than header+IV+trailer+ICV, or not block-aligned
	AuthFail         // the ICV did not verify
	BadPad           // padding length or bytes wrong after a good ICV
)

// Scratch is per-worker memory the cipher uses for nonces, AAD and ICVs so
// that nothing escapes to the heap per packet. A Scratch must not be used
// by two goroutines at once; allocate one per worker with new(Scratch).
type Scratch struct {
	nonce [12]byte
	aad   [12]byte
	icv   [64]byte
}

type ivSetter interface{ SetIV([]byte) }

// Cipher is the transform state of one SA in one direction, built once when
// the SA is installed. GCM sealing and opening are safe for concurrent use
// (each call brings its own Scratch); the CBC path serialises on a mutex
// because its block modes and HMAC state are stateful.
type Cipher struct {
	alg    Algorithm
	aead   cipher.AEAD
	salt   [SaltLen]byte
	ivLen  int
	icvLen int
	align  int // padding alignment of payload+2

	impl  string       // GCM: ImplVAES or ImplStdlib
	ivGen cipher.Block // CBC: encrypts the sequence number into the IV

	mu     sync.Mutex // guards the CBC/HMAC state below
	cbcEnc cipher.BlockMode
	cbcDec cipher.BlockMode
	mac    hash.Hash
}

// NewCipher builds the transform. For AESGCM16, encKey is the key followed
// by the salt and authKey must be empty; for the CBC algorithms encKey is the
// AES key and authKey the HMAC key. The keys are copied into the cipher
// state; the caller may wipe its copies.
func NewCipher(alg Algorithm, encKey, authKey []byte) (*Cipher, error) {
	c := &Cipher{alg: alg}
	switch alg {
	case AESGCM16:
		k := len(encKey) - SaltLen
		if (k != 16 && k != 24 && k != 32) || len(authKey) != 0 {
			return nil, fmt.Errorf("aes-gcm key of %d bytes (want 20, 28 or 36 incl. salt): %w", len(encKey), ErrKey)
		}
		if err := c.newGCM(encKey[:k]); err != nil {
			return nil, err
		}
		copy(c.salt[:], encKey[k:])
		c.ivLen, c.icvLen, c.align = gcmIVLen, gcmICVLen, 4
	case AESCBCSHA1, AESCBCSHA256:
		if k := len(encKey); k != 16 && k != 24 && k != 32 {
			return nil, fmt.Errorf("aes-cbc key of %d bytes: %w", len(encKey), ErrKey)
		}
		block, err := aes.NewCipher(encKey)
		if err != nil {
			return nil, fmt.Errorf("aes-cbc: %w", err)
		}
		// CBC IVs must be unpredictable (RFC 3602 §3): encrypt the sequence
		// number under a random key of this SA's own (NIST SP 800-38A
		// appendix C), which needs no randomness per packet.
		var ivKey [16]byte
		_, _ = rand.Read(ivKey[:])
		if c.ivGen, err = aes.NewCipher(ivKey[:]); err != nil {
			return nil, fmt.Errorf("aes-cbc iv: %w", err)
		}
		var zero [aes.BlockSize]byte
		c.cbcEnc = cipher.NewCBCEncrypter(block, zero[:])
		c.cbcDec = cipher.NewCBCDecrypter(block, zero[:])
		if _, ok := c.cbcEnc.(ivSetter); !ok {
			return nil, errors.New("aes-cbc: block mode cannot reset its IV")
		}
		if alg == AESCBCSHA1 {
			if len(authKey) != sha1.Size {
				return nil, fmt.Errorf("hmac-sha1 key of %d bytes: %w", len(authKey), ErrKey)
			}
			c.mac, c.icvLen = hmac.New(sha1.New, authKey), 12
		} else {
			if len(authKey) != sha256.Size {
				return nil, fmt.Errorf("hmac-sha256 key of %d bytes: %w", len(authKey), ErrKey)
			}
			c.mac, c.icvLen = hmac.New(sha256.New, authKey), 16
		}
		c.ivLen, c.align = cbcIVLen, aes.BlockSize
	default:
		return nil, fmt.Errorf("esp: unknown algorithm %d", alg)
	}
	return c, nil
}

// newGCM sets c.aead for the AES key, on the assembly when useVAES.
func (c *Cipher) newGCM(key []byte) error {
	if useVAES {
		g, err := gcm.New(key)
		if err != nil {
			return fmt.Errorf("aes-gcm: %w", err)
		}
		c.aead, c.impl = g, ImplVAES
		return nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("aes-gcm: %w", err)
	}
	if c.aead, err = cipher.NewGCM(block); err != nil {
		return fmt.Errorf("aes-gcm: %w", err)
	}
	c.impl = ImplStdlib
	return nil
}

// NewAEAD returns the AES-GCM AEAD that NewCipher would use for an AES key
// of 16, 24 or 32 bytes (no salt), for benchmarks and tools that want the
// dataplane's implementation without ESP framing; GCMImplementation names it.
func NewAEAD(key []byte) (cipher.AEAD, error) {
	var c Cipher
	if err := c.newGCM(key); err != nil {
		return nil, err
	}
	return c.aead, nil
}

// Implementation returns the AES-GCM implementation of a GCM cipher
// (ImplVAES or ImplStdlib), or "" for the CBC algorithms.
func (c *Cipher) Implementation() string { return c.impl }

// Algorithm returns the transform.
func (c *Cipher) Algorithm() Algorithm { return c.alg }

// IVLen returns the length of the IV that follows the ESP header.
func (c *Cipher) IVLen() int { return c.ivLen }

// ICVLen returns the length of the integrity check value.
func (c *Cipher) ICVLen() int { return c.icvLen }

// PayloadOffset returns where the payload starts in an ESP packet: after
// the ESP header and the IV.
func (c *Cipher) PayloadOffset() int { return HeaderLen + c.ivLen }

// TrailerLen returns the bytes Seal appends after a payload of n bytes:
// padding, pad length, next header and ICV.
func (c *Cipher) TrailerLen(n int) int {
	return c.padLen(n) + 2 + c.icvLen
}

// MaxPayload returns the largest payload whose ESP packet (header, IV,
// payload, padding, trailer, ICV) fits in n bytes, or 0.
func (c *Cipher) MaxPayload(n int) int {
	l := n - HeaderLen - c.ivLen - c.icvLen
	x := (l/c.align)*c.align - 2
	return max(x, 0)
}

// MaxTrailerLen is an upper bound of TrailerLen for any payload.
const MaxTrailerLen = aes.BlockSize - 1 + 2 + MaxICVLen

func (c *Cipher) padLen(n int) int {
	return (c.align - (n+2)%c.align) % c.align
}

// Seal turns b into an ESP packet in place. On entry b[PayloadOffset():
// PayloadOffset()+n] holds the payload and b has room for TrailerLen(n)
// more bytes after it (len(b) may be larger). Seal writes the SPI, the low
// 32 bits of seq, the IV, the trailer and the ICV, and returns the length of
// the ESP packet. With esn the high 32 bits of seq are authenticated too
// (RFC 4303 §2.2.1). For GCM the IV is seq itself, which the SA never
// repeats under one key (RFC 4106 §3.1).
func (c *Cipher) Seal(b []byte, spi uint32, seq uint64, esn bool, n int, next uint8, s *Scratch) int {
	po := HeaderLen + c.ivLen
	pad := c.padLen(n)
	end := po + n + pad + 2
	total := end + c.icvLen
	_ = b[total-1]
	binary.BigEndian.PutUint32(b[0:4], spi)
	binary.BigEndian.PutUint32(b[4:8], uint32(seq))
	tr := b[po+n : end]
	for i := 0; i < pad; i++ {
		tr[i] = byte(i + 1)
	}
	tr[pad] = byte(pad)
	tr[pad+1] = next
	if c.aead != nil {
		binary.BigEndian.PutUint64(b[HeaderLen:po], seq)
		copy(s.nonce[:SaltLen], c.salt[:])
		copy(s.nonce[SaltLen:], b[HeaderLen:po])
		aad := b[0:8]
		if esn {
			binary.BigEndian.PutUint32(s.aad[0:4], spi)
			binary.BigEndian.PutUint32(s.aad[4:8], uint32(seq>>32))
			binary.BigEndian.PutUint32(s.aad[8:12], uint32(seq))
			aad = s.aad[:12]
		}
		c.aead.Seal(b[po:po], s.nonce[:], b[po:end], aad)
		return total
	}
	iv := b[HeaderLen:po]
	clear(iv)
	binary.BigEndian.PutUint64(iv, seq)
	c.ivGen.Encrypt(iv, iv)
	c.mu.Lock()
	c.cbcEnc.(ivSetter).SetIV(b[HeaderLen:po])
	c.cbcEnc.CryptBlocks(b[po:end], b[po:end])
	icv := c.macLocked(b[:end], seq, esn, s)
	c.mu.Unlock()
	copy(b[end:total], icv)
	return total
}

// macLocked computes the HMAC over the ESP packet (and the ESN high bits,
// RFC 4303 §2.2.1) into s; c.mu must be held.
func (c *Cipher) macLocked(b []byte, seq uint64, esn bool, s *Scratch) []byte {
	c.mac.Reset()
	c.mac.Write(b)
	if esn {
		binary.BigEndian.PutUint32(s.aad[0:4], uint32(seq>>32))
		c.mac.Write(s.aad[0:4])
	}
	return c.mac.Sum(s.icv[:0])[:c.icvLen]
}

// Open authenticates and decrypts the ESP packet b in place. seq is the
// full sequence number the caller inferred (the low 32 bits must match the
// header; the high bits matter only with esn). On OK it returns the payload
// (aliasing b, padding and trailer removed) and the next header.
func (c *Cipher) Open(b []byte, seq uint64, esn bool, s *Scratch) (payload []byte, next uint8, r Result) {
	po := HeaderLen + c.ivLen
	if len(b) < po+2+c.icvLen {
		return nil, 0, Malformed
	}
	end := len(b) - c.icvLen
	if c.aead != nil {
		copy(s.nonce[:SaltLen], c.salt[:])
		copy(s.nonce[SaltLen:], b[HeaderLen:po])
		aad := b[0:8]
		if esn {
			copy(s.aad[0:4], b[0:4])
			binary.BigEndian.PutUint32(s.aad[4:8], uint32(seq>>32))
			copy(s.aad[8:12], b[4:8])
			aad = s.aad[:12]
		}
		if _, err := c.aead.Open(b[po:po], s.nonce[:], b[po:], aad); err != nil {
			return nil, 0, AuthFail
		}
	} else {
		if (end-po)%aes.BlockSize != 0 {
			return nil, 0, Malformed
		}
		c.mu.Lock()
		icv := c.macLocked(b[:end], seq, esn, s)
		if subtle.ConstantTimeCompare(icv, b[end:]) != 1 {
			c.mu.Unlock()
			return nil, 0, AuthFail
		}
		c.cbcDec.(ivSetter).SetIV(b[HeaderLen:po])
		c.cbcDec.CryptBlocks(b[po:end], b[po:end])
		c.mu.Unlock()
	}
	pt := b[po:end]
	padLen := int(pt[len(pt)-2])
	next = pt[len(pt)-1]
	if padLen+2 > len(pt) {
		return nil, 0, BadPad
	}
	n := len(pt) - 2 - padLen
	for i := 0; i < padLen; i++ {
		if pt[n+i] != byte(i+1) {
			return nil, 0, BadPad
		}
	}
	return pt[:n], next, OK
}
