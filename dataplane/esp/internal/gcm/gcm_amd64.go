//go:build !purego

package gcm

import "github.com/klauspost/cpuid/v2"

// cpuid checks XCR0 for the opmask and ZMM state before it reports any
// AVX-512 feature, so this also covers OS support.
var available = cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL,
	cpuid.VAES, cpuid.VPCLMULQDQ, cpuid.AESNI, cpuid.BMI2)

//go:noescape
func gcmCtr(rk *[240]byte, rounds int, j0, ekj0 *[16]byte, dst, src *byte, n int)

//go:noescape
func gcmGhash(htab *[512]byte, acc *[16]byte, p *byte, n int)

//go:noescape
func gcmAEAD(rk *[240]byte, rounds int, htab *[512]byte, j0, tag *[16]byte, dst, src *byte, n int, aad *byte, naad int, seal int)

func subWord(w uint32) uint32
