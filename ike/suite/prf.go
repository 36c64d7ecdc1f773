package suite

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	"github.com/esphub/esphub/ike/wire"
)

// PRF is an IKEv2 pseudorandom function (RFC 7296 §2.13). The implementations
// here are HMAC-based, accept keys of any length and are safe for concurrent use.
type PRF interface {
	// Size is the output length in bytes (and the preferred key length).
	Size() int
	// Compute returns a new slice holding prf(key, data).
	Compute(key, data []byte) []byte
}

type hmacPRF struct {
	h    func() hash.Hash
	size int
}

func (p hmacPRF) Size() int { return p.size }

func (p hmacPRF) Compute(key, data []byte) []byte {
	m := hmac.New(p.h, key)
	m.Write(data)
	return m.Sum(make([]byte, 0, p.size))
}

// NewPRF returns the PRF for id: HMAC-SHA1 or HMAC-SHA2-256/384/512.
func NewPRF(id wire.PRFID) (PRF, error) {
	switch id {
	case wire.PRFHMACSHA1:
		return hmacPRF{sha1.New, sha1.Size}, nil
	case wire.PRFHMACSHA2256:
		return hmacPRF{sha256.New, sha256.Size}, nil
	case wire.PRFHMACSHA2384:
		return hmacPRF{sha512.New384, sha512.Size384}, nil
	case wire.PRFHMACSHA2512:
		return hmacPRF{sha512.New, sha512.Size}, nil
	}
	return nil, fmt.Errorf("prf %d: %w", id, ErrUnsupported)
}

// PRFPlus returns n bytes of prf+(key, seed) (RFC 7296 §2.13):
// T1 = prf(K, S | 0x01), Tk = prf(K, Tk-1 | S | k), output T1 | T2 | ...
// prf+ is defined for at most 255 iterations; PRFPlus panics if n asks for
// more, which no IKE or Child SA key set comes close to.
func PRFPlus(p PRF, key, seed []byte, n int) []byte {
	size := p.Size()
	if n > 255*size {
		panic("suite: prf+ output longer than 255 blocks")
	}
	out := make([]byte, 0, n+size)
	if hp, ok := p.(hmacPRF); ok {
		// One keyed HMAC for all blocks: the key schedule is the
		// expensive part of short HMACs.
		m := hmac.New(hp.h, key)
		var t []byte
		for i := 1; len(out) < n; i++ {
			m.Reset()
			m.Write(t)
			m.Write(seed)
			m.Write([]byte{byte(i)})
			out = m.Sum(out)
			t = out[len(out)-size:]
		}
		return out[:n:n]
	}
	in := make([]byte, 0, size+len(seed)+1)
	var t []byte
	for i := 1; len(out) < n; i++ {
		in = append(in[:0], t...)
		in = append(in, seed...)
		in = append(in, byte(i))
		t = p.Compute(key, in)
		out = append(out, t...)
	}
	return out[:n:n]
}
