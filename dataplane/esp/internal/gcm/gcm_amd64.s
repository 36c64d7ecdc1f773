//go:build !purego

#include "textflag.h"

// Register conventions shared by the routines below:
//   Z31  byte-reversal mask (every 128-bit lane reversed)
//   Z30  GHASH reduction constant (0xc2 << 56 in both quadwords)
//
// GHASH runs in the byte-reflected domain: a block is byte-reversed so that
// the GCM polynomial's x^0 is bit 127 of the lane. Table entries are
// H^i * x^-1 in that domain, which makes a plain carry-less product come
// out already aligned, and the 256-bit product is reduced by two folds with
// the constant above. See gcm.go for the derivation.

DATA bswapMask<>+0x00(SB)/8, $0x08090a0b0c0d0e0f
DATA bswapMask<>+0x08(SB)/8, $0x0001020304050607
DATA bswapMask<>+0x10(SB)/8, $0x08090a0b0c0d0e0f
DATA bswapMask<>+0x18(SB)/8, $0x0001020304050607
DATA bswapMask<>+0x20(SB)/8, $0x08090a0b0c0d0e0f
DATA bswapMask<>+0x28(SB)/8, $0x0001020304050607
DATA bswapMask<>+0x30(SB)/8, $0x08090a0b0c0d0e0f
DATA bswapMask<>+0x38(SB)/8, $0x0001020304050607
GLOBL bswapMask<>(SB), RODATA|NOPTR, $64

DATA polyConst<>+0x00(SB)/8, $0xc200000000000000
DATA polyConst<>+0x08(SB)/8, $0xc200000000000000
GLOBL polyConst<>(SB), RODATA|NOPTR, $16

// Lane offsets for the first four counters after J0: 1, 2, 3, 4.
DATA ctrInit<>+0x00(SB)/8, $1
DATA ctrInit<>+0x08(SB)/8, $0
DATA ctrInit<>+0x10(SB)/8, $2
DATA ctrInit<>+0x18(SB)/8, $0
DATA ctrInit<>+0x20(SB)/8, $3
DATA ctrInit<>+0x28(SB)/8, $0
DATA ctrInit<>+0x30(SB)/8, $4
DATA ctrInit<>+0x38(SB)/8, $0
GLOBL ctrInit<>(SB), RODATA|NOPTR, $64

// Step of four blocks in every lane.
DATA ctrFour<>+0x00(SB)/8, $4
DATA ctrFour<>+0x08(SB)/8, $0
DATA ctrFour<>+0x10(SB)/8, $4
DATA ctrFour<>+0x18(SB)/8, $0
DATA ctrFour<>+0x20(SB)/8, $4
DATA ctrFour<>+0x28(SB)/8, $0
DATA ctrFour<>+0x30(SB)/8, $4
DATA ctrFour<>+0x38(SB)/8, $0
GLOBL ctrFour<>(SB), RODATA|NOPTR, $64

// func subWord(w uint32) uint32
// Applies the AES S-box to each byte of w with AESENCLAST (constant time):
// with the word in all four columns ShiftRows is a no-op.
TEXT ·subWord(SB), NOSPLIT, $0-12
	MOVL    w+0(FP), AX
	MOVQ    AX, X0
	PSHUFD  $0, X0, X0
	PXOR    X1, X1
	AESENCLAST X1, X0
	MOVQ    X0, AX
	MOVL    AX, ret+8(FP)
	RET

// One AES round with key k on four registers.
#define ENC4(k) \
	VAESENC k, Z0, Z0; \
	VAESENC k, Z1, Z1; \
	VAESENC k, Z2, Z2; \
	VAESENC k, Z3, Z3

// Loads the round keys of the schedule at AX (BX rounds) into
// Z16..Z29 and the last one into Z30 (always).
#define LOADKEYS \
	VBROADCASTI32X4 0(AX), Z16; \
	VBROADCASTI32X4 16(AX), Z17; \
	VBROADCASTI32X4 32(AX), Z18; \
	VBROADCASTI32X4 48(AX), Z19; \
	VBROADCASTI32X4 64(AX), Z20; \
	VBROADCASTI32X4 80(AX), Z21; \
	VBROADCASTI32X4 96(AX), Z22; \
	VBROADCASTI32X4 112(AX), Z23; \
	VBROADCASTI32X4 128(AX), Z24; \
	VBROADCASTI32X4 144(AX), Z25; \
	VBROADCASTI32X4 160(AX), Z26; \
	VBROADCASTI32X4 176(AX), Z27; \
	VBROADCASTI32X4 192(AX), Z28; \
	VBROADCASTI32X4 208(AX), Z29; \
	MOVQ BX, R9; \
	SHLQ $4, R9; \
	VBROADCASTI32X4 (AX)(R9*1), Z30

// Rounds 0..9 on one register.
#define ENC1FIRST(r) \
	VPXORD  Z16, r, r; \
	VAESENC Z17, r, r; \
	VAESENC Z18, r, r; \
	VAESENC Z19, r, r; \
	VAESENC Z20, r, r; \
	VAESENC Z21, r, r; \
	VAESENC Z22, r, r; \
	VAESENC Z23, r, r; \
	VAESENC Z24, r, r; \
	VAESENC Z25, r, r

// func gcmCtr(rk *[240]byte, rounds int, j0, ekj0 *[16]byte, dst, src *byte, n int)
// Writes E(K, J0) to ekj0 and XORs n bytes of src with the keystream that
// starts at counter inc32(J0) into dst. dst and src may be equal. Bytes past
// n are neither read nor written.
TEXT ·gcmCtr(SB), NOSPLIT, $0-56
	MOVQ rk+0(FP), AX
	MOVQ rounds+8(FP), BX
	MOVQ j0+16(FP), CX
	MOVQ ekj0+24(FP), DX
	MOVQ dst+32(FP), DI
	MOVQ src+40(FP), SI
	MOVQ n+48(FP), R8

	LOADKEYS
	VMOVDQU64 bswapMask<>(SB), Z31

	// E(K, J0), in lane 0 of Z0.
	VBROADCASTI32X4 (CX), Z12
	VMOVDQA64 Z12, Z0
	ENC1FIRST(Z0)
	CMPQ BX, $10
	JEQ  j0last
	VAESENC Z26, Z0, Z0
	VAESENC Z27, Z0, Z0
	CMPQ BX, $12
	JEQ  j0last
	VAESENC Z28, Z0, Z0
	VAESENC Z29, Z0, Z0
j0last:
	VAESENCLAST Z30, Z0, Z0
	VMOVDQU X0, (DX)

	// Counters in little-endian lanes: the 32-bit counter is dword 0.
	VPSHUFB Z31, Z12, Z12
	VPADDD  ctrInit<>(SB), Z12, Z12
	VMOVDQU64 ctrFour<>(SB), Z13

loop256:
	CMPQ R8, $256
	JB   loop64
	VPSHUFB Z31, Z12, Z0
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z1
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z2
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z3
	VPADDD  Z13, Z12, Z12
	VPXORD  Z16, Z0, Z0
	VPXORD  Z16, Z1, Z1
	VPXORD  Z16, Z2, Z2
	VPXORD  Z16, Z3, Z3
	ENC4(Z17)
	ENC4(Z18)
	ENC4(Z19)
	ENC4(Z20)
	ENC4(Z21)
	ENC4(Z22)
	ENC4(Z23)
	ENC4(Z24)
	ENC4(Z25)
	CMPQ BX, $10
	JEQ  last256
	ENC4(Z26)
	ENC4(Z27)
	CMPQ BX, $12
	JEQ  last256
	ENC4(Z28)
	ENC4(Z29)
last256:
	VAESENCLAST Z30, Z0, Z0
	VAESENCLAST Z30, Z1, Z1
	VAESENCLAST Z30, Z2, Z2
	VAESENCLAST Z30, Z3, Z3
	VPXORD    0(SI), Z0, Z0
	VPXORD    64(SI), Z1, Z1
	VPXORD    128(SI), Z2, Z2
	VPXORD    192(SI), Z3, Z3
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $256, R8
	JMP  loop256

loop64:
	TESTQ R8, R8
	JZ    done
	VPSHUFB Z31, Z12, Z0
	VPADDD  Z13, Z12, Z12
	ENC1FIRST(Z0)
	CMPQ BX, $10
	JEQ  last64
	VAESENC Z26, Z0, Z0
	VAESENC Z27, Z0, Z0
	CMPQ BX, $12
	JEQ  last64
	VAESENC Z28, Z0, Z0
	VAESENC Z29, Z0, Z0
last64:
	VAESENCLAST Z30, Z0, Z0
	CMPQ R8, $64
	JB   partial
	VPXORD    (SI), Z0, Z0
	VMOVDQU64 Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $64, R8
	JMP  loop64

partial:
	// 1..63 bytes: masked load and store touch only those bytes.
	MOVQ  $-1, R10
	BZHIQ R8, R10, R10
	KMOVQ R10, K1
	VMOVDQU8.Z (SI), K1, Z1
	VPXORD     Z1, Z0, Z0
	VMOVDQU8   Z0, K1, (DI)

done:
	VZEROUPPER
	RET

// Multiplies four data registers D1..D4 (already byte-reversed, the
// accumulator folded into D1) by table registers t1..t4 and leaves the
// unreduced sums in Z5 (low), Z6 (high), Z7 (middle).
#define MUL16(t1, t2, t3, t4) \
	VPCLMULQDQ $0x00, t1, Z1, Z5; \
	VPCLMULQDQ $0x11, t1, Z1, Z6; \
	VPCLMULQDQ $0x01, t1, Z1, Z7; \
	VPCLMULQDQ $0x10, t1, Z1, Z8; \
	VPXORD     Z8, Z7, Z7; \
	VPCLMULQDQ $0x00, t2, Z2, Z8; \
	VPCLMULQDQ $0x11, t2, Z2, Z9; \
	VPCLMULQDQ $0x01, t2, Z2, Z10; \
	VPCLMULQDQ $0x10, t2, Z2, Z11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7; \
	VPCLMULQDQ $0x00, t3, Z3, Z8; \
	VPCLMULQDQ $0x11, t3, Z3, Z9; \
	VPCLMULQDQ $0x01, t3, Z3, Z10; \
	VPCLMULQDQ $0x10, t3, Z3, Z11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7; \
	VPCLMULQDQ $0x00, t4, Z4, Z8; \
	VPCLMULQDQ $0x11, t4, Z4, Z9; \
	VPCLMULQDQ $0x01, t4, Z4, Z10; \
	VPCLMULQDQ $0x10, t4, Z4, Z11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7

// Folds the middle into Z5/Z6, reduces every lane modulo the GCM polynomial
// and XORs the four lanes together into X0 (upper lanes of Z0 cleared).
#define REDUCE \
	VPSLLDQ    $8, Z7, Z8; \
	VPSRLDQ    $8, Z7, Z9; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPCLMULQDQ $0x00, Z30, Z5, Z8; \
	VPSHUFD    $0x4e, Z5, Z5; \
	VPXORD     Z8, Z5, Z5; \
	VPCLMULQDQ $0x00, Z30, Z5, Z8; \
	VPSHUFD    $0x4e, Z5, Z5; \
	VPTERNLOGD $0x96, Z8, Z5, Z6; \
	VEXTRACTI64X4 $1, Z6, Y8; \
	VPXOR      Y8, Y6, Y6; \
	VEXTRACTI128 $1, Y6, X8; \
	VPXOR      X8, X6, X0

// func gcmGhash(htab *[512]byte, acc *[16]byte, p *byte, n int)
// Folds n bytes at p into the GHASH accumulator acc (byte-reflected), the
// last partial block padded with zeros. Bytes past n are not read.
TEXT ·gcmGhash(SB), NOSPLIT, $0-32
	MOVQ htab+0(FP), AX
	MOVQ acc+8(FP), BX
	MOVQ p+16(FP), SI
	MOVQ n+24(FP), R8

	VMOVDQU64 bswapMask<>(SB), Z31
	VBROADCASTI32X4 polyConst<>(SB), Z30
	VMOVDQU (BX), X0
	VMOVDQU64 0(AX), Z16
	VMOVDQU64 64(AX), Z17
	VMOVDQU64 128(AX), Z18
	VMOVDQU64 192(AX), Z19

ghloop:
	CMPQ R8, $256
	JB   ghtail
	VMOVDQU64 0(SI), Z1
	VMOVDQU64 64(SI), Z2
	VMOVDQU64 128(SI), Z3
	VMOVDQU64 192(SI), Z4
	VPSHUFB Z31, Z1, Z1
	VPSHUFB Z31, Z2, Z2
	VPSHUFB Z31, Z3, Z3
	VPSHUFB Z31, Z4, Z4
	VPXORD  Z0, Z1, Z1
	MUL16(Z16, Z17, Z18, Z19)
	REDUCE
	ADDQ $256, SI
	SUBQ $256, R8
	JMP  ghloop

ghtail:
	TESTQ R8, R8
	JZ    ghdone
	// m = ceil(n/16) blocks pair with H^m..H^1: table entry 16-m onwards.
	LEAQ  15(R8), R9
	SHRQ  $4, R9
	MOVQ  $16, R10
	SUBQ  R9, R10
	SHLQ  $4, R10
	ADDQ  AX, R10
	VMOVDQU64 0(R10), Z20
	VMOVDQU64 64(R10), Z21
	VMOVDQU64 128(R10), Z22
	VMOVDQU64 192(R10), Z23
	// Byte masks for the four 64-byte slices of the tail.
	MOVQ  $-1, R11
	XORQ  R14, R14
	MOVQ  R8, R12
	BZHIQ R12, R11, R13
	KMOVQ R13, K1
	SUBQ  $64, R12
	CMOVQLT R14, R12
	BZHIQ R12, R11, R13
	KMOVQ R13, K2
	SUBQ  $64, R12
	CMOVQLT R14, R12
	BZHIQ R12, R11, R13
	KMOVQ R13, K3
	SUBQ  $64, R12
	CMOVQLT R14, R12
	BZHIQ R12, R11, R13
	KMOVQ R13, K4
	VMOVDQU8.Z 0(SI), K1, Z1
	VMOVDQU8.Z 64(SI), K2, Z2
	VMOVDQU8.Z 128(SI), K3, Z3
	VMOVDQU8.Z 192(SI), K4, Z4
	VPSHUFB Z31, Z1, Z1
	VPSHUFB Z31, Z2, Z2
	VPSHUFB Z31, Z3, Z3
	VPSHUFB Z31, Z4, Z4
	VPXORD  Z0, Z1, Z1
	MUL16(Z20, Z21, Z22, Z23)
	REDUCE

ghdone:
	VMOVDQU X0, (BX)
	VZEROUPPER
	RET

// Byte masks K1..K4 for the four 64-byte slices of a len-byte (< 256)
// region. Clobbers R11..R14.
#define MASKS(len) \
	MOVQ    $-1, R11; \
	XORQ    R14, R14; \
	MOVQ    len, R12; \
	BZHIQ   R12, R11, R13; \
	KMOVQ   R13, K1; \
	SUBQ    $64, R12; \
	CMOVQLT R14, R12; \
	BZHIQ   R12, R11, R13; \
	KMOVQ   R13, K2; \
	SUBQ    $64, R12; \
	CMOVQLT R14, R12; \
	BZHIQ   R12, R11, R13; \
	KMOVQ   R13, K3; \
	SUBQ    $64, R12; \
	CMOVQLT R14, R12; \
	BZHIQ   R12, R11, R13; \
	KMOVQ   R13, K4

// Adds the products of D1..D4 and t1..t4 to Z5 (low), Z6 (high), Z7 (middle).
#define ACC16(t1, t2, t3, t4) \
	VPCLMULQDQ $0x00, t1, Z1, Z8; \
	VPCLMULQDQ $0x11, t1, Z1, Z9; \
	VPCLMULQDQ $0x01, t1, Z1, Z10; \
	VPCLMULQDQ $0x10, t1, Z1, Z11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7; \
	VPCLMULQDQ $0x00, t2, Z2, Z8; \
	VPCLMULQDQ $0x11, t2, Z2, Z9; \
	VPCLMULQDQ $0x01, t2, Z2, Z10; \
	VPCLMULQDQ $0x10, t2, Z2, Z11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7; \
	VPCLMULQDQ $0x00, t3, Z3, Z8; \
	VPCLMULQDQ $0x11, t3, Z3, Z9; \
	VPCLMULQDQ $0x01, t3, Z3, Z10; \
	VPCLMULQDQ $0x10, t3, Z3, Z11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7; \
	VPCLMULQDQ $0x00, t4, Z4, Z8; \
	VPCLMULQDQ $0x11, t4, Z4, Z9; \
	VPCLMULQDQ $0x01, t4, Z4, Z10; \
	VPCLMULQDQ $0x10, t4, Z4, Z11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7

// Adds len (< 256) bytes at ptr, zero-padded to blocks, times the table
// entries from tab on, to Z5..Z7; the accumulator X0 is folded into the
// first block. Clobbers Z1..Z4, Z8..Z11, Z20..Z23, K1..K4, R11..R14.
#define ACCUM(ptr, len, tab) \
	MASKS(len); \
	VMOVDQU64  0(tab), Z20; \
	VMOVDQU64  64(tab), Z21; \
	VMOVDQU64  128(tab), Z22; \
	VMOVDQU64  192(tab), Z23; \
	VMOVDQU8.Z 0(ptr), K1, Z1; \
	VMOVDQU8.Z 64(ptr), K2, Z2; \
	VMOVDQU8.Z 128(ptr), K3, Z3; \
	VMOVDQU8.Z 192(ptr), K4, Z4; \
	VPSHUFB    Z31, Z1, Z1; \
	VPSHUFB    Z31, Z2, Z2; \
	VPSHUFB    Z31, Z3, Z3; \
	VPSHUFB    Z31, Z4, Z4; \
	VPXORD     Z0, Z1, Z1; \
	ACC16(Z20, Z21, Z22, Z23)

DATA polyWide<>+0x00(SB)/8, $0xc200000000000000
DATA polyWide<>+0x08(SB)/8, $0xc200000000000000
DATA polyWide<>+0x10(SB)/8, $0xc200000000000000
DATA polyWide<>+0x18(SB)/8, $0xc200000000000000
DATA polyWide<>+0x20(SB)/8, $0xc200000000000000
DATA polyWide<>+0x28(SB)/8, $0xc200000000000000
DATA polyWide<>+0x30(SB)/8, $0xc200000000000000
DATA polyWide<>+0x38(SB)/8, $0xc200000000000000
GLOBL polyWide<>(SB), RODATA|NOPTR, $64

// Folds the hash X15 into Z4, multiplies the byte-reversed blocks in Z4..Z7
// by H^16..H^1 at DX (memory operands, so the AES round keys can stay in
// Z16..Z30) and leaves low, high and middle sums in Z8, Z9, Z10. Clobbers
// Z11. Z4, the only register that depends on the hash, goes last to keep
// the loop-carried chain short.
#define MULMEM \
	VPCLMULQDQ $0x00, 64(DX), Z5, Z8; \
	VPCLMULQDQ $0x11, 64(DX), Z5, Z9; \
	VPCLMULQDQ $0x01, 64(DX), Z5, Z10; \
	VPCLMULQDQ $0x10, 64(DX), Z5, Z11; \
	VPXORD     Z11, Z10, Z10; \
	VPCLMULQDQ $0x00, 128(DX), Z6, Z11; \
	VPXORD     Z11, Z8, Z8; \
	VPCLMULQDQ $0x11, 128(DX), Z6, Z11; \
	VPXORD     Z11, Z9, Z9; \
	VPCLMULQDQ $0x01, 128(DX), Z6, Z11; \
	VPXORD     Z11, Z10, Z10; \
	VPCLMULQDQ $0x10, 128(DX), Z6, Z11; \
	VPXORD     Z11, Z10, Z10; \
	VPCLMULQDQ $0x00, 192(DX), Z7, Z11; \
	VPXORD     Z11, Z8, Z8; \
	VPCLMULQDQ $0x11, 192(DX), Z7, Z11; \
	VPXORD     Z11, Z9, Z9; \
	VPCLMULQDQ $0x01, 192(DX), Z7, Z11; \
	VPXORD     Z11, Z10, Z10; \
	VPCLMULQDQ $0x10, 192(DX), Z7, Z11; \
	VPXORD     Z11, Z10, Z10; \
	VPXORD     Z15, Z4, Z4; \
	VPCLMULQDQ $0x00, 0(DX), Z4, Z11; \
	VPXORD     Z11, Z8, Z8; \
	VPCLMULQDQ $0x11, 0(DX), Z4, Z11; \
	VPXORD     Z11, Z9, Z9; \
	VPCLMULQDQ $0x01, 0(DX), Z4, Z11; \
	VPXORD     Z11, Z10, Z10; \
	VPCLMULQDQ $0x10, 0(DX), Z4, Z11; \
	VPXORD     Z11, Z10, Z10

// REDUCE for MULMEM's registers; the result goes to X15.
#define REDUCEMEM \
	VPSLLDQ    $8, Z10, Z11; \
	VPSRLDQ    $8, Z10, Z10; \
	VPXORD     Z11, Z8, Z8; \
	VPXORD     Z10, Z9, Z9; \
	VPCLMULQDQ $0x00, polyWide<>(SB), Z8, Z11; \
	VPSHUFD    $0x4e, Z8, Z8; \
	VPXORD     Z11, Z8, Z8; \
	VPCLMULQDQ $0x00, polyWide<>(SB), Z8, Z11; \
	VPSHUFD    $0x4e, Z8, Z8; \
	VPTERNLOGD $0x96, Z11, Z8, Z9; \
	VEXTRACTI64X4 $1, Z9, Y11; \
	VPXOR      Y11, Y9, Y9; \
	VEXTRACTI128 $1, Y9, X11; \
	VPXOR      X11, X9, X15

// ACCUM for len <= 128: two registers.
#define ACCUM2(ptr, len, tab) \
	MOVQ       $-1, R11; \
	XORQ       R14, R14; \
	MOVQ       len, R12; \
	BZHIQ      R12, R11, R13; \
	KMOVQ      R13, K1; \
	SUBQ       $64, R12; \
	CMOVQLT    R14, R12; \
	BZHIQ      R12, R11, R13; \
	KMOVQ      R13, K2; \
	VMOVDQU64  0(tab), Z20; \
	VMOVDQU64  64(tab), Z21; \
	VMOVDQU8.Z 0(ptr), K1, Z1; \
	VMOVDQU8.Z 64(ptr), K2, Z2; \
	VPSHUFB    Z31, Z1, Z1; \
	VPSHUFB    Z31, Z2, Z2; \
	VPXORD     Z0, Z1, Z1; \
	VPCLMULQDQ $0x00, Z20, Z1, Z8; \
	VPCLMULQDQ $0x11, Z20, Z1, Z9; \
	VPCLMULQDQ $0x01, Z20, Z1, Z10; \
	VPCLMULQDQ $0x10, Z20, Z1, Z11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7; \
	VPCLMULQDQ $0x00, Z21, Z2, Z8; \
	VPCLMULQDQ $0x11, Z21, Z2, Z9; \
	VPCLMULQDQ $0x01, Z21, Z2, Z10; \
	VPCLMULQDQ $0x10, Z21, Z2, Z11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7

// ACCUM for len <= 16: one block, 128-bit registers (upper lanes zeroed).
#define ACCUMX(ptr, len, tab) \
	MOVQ       $-1, R11; \
	BZHIQ      len, R11, R13; \
	KMOVQ      R13, K1; \
	VMOVDQU8.Z 0(ptr), K1, X1; \
	VMOVDQU64  0(tab), X20; \
	VPSHUFB    X31, X1, X1; \
	VPXORD     X0, X1, X1; \
	VPCLMULQDQ $0x00, X20, X1, X8; \
	VPCLMULQDQ $0x11, X20, X1, X9; \
	VPCLMULQDQ $0x01, X20, X1, X10; \
	VPCLMULQDQ $0x10, X20, X1, X11; \
	VPXORD     Z8, Z5, Z5; \
	VPXORD     Z9, Z6, Z6; \
	VPTERNLOGD $0x96, Z10, Z11, Z7

// func gcmAEAD(rk *[240]byte, rounds int, htab *[512]byte, j0, tag *[16]byte, dst, src *byte, n int, aad *byte, naad int, seal int)
// One whole GCM operation for naad <= 240. seal != 0: encrypts src into
// dst and authenticates aad and dst. seal == 0: authenticates aad and src
// and decrypts src into dst. Either way the computed tag goes to tag. dst
// and src may be equal. Nothing outside the n (naad) bytes is touched.
//
// GHASH works in groups of at most sixteen blocks with one reduction each.
// When aad, ciphertext and length block fit in sixteen blocks they are one
// group, hashed after counter mode (seal) or before it (open). Longer
// messages hash the aad alone, then run one loop over 256-byte chunks that
// encrypts or decrypts and hashes each chunk, then treat the tail (under 256
// bytes) and the length block like a short message. The running hash is
// multiplied in with the first block of each group.
//
// Between the blocks below the state lives in: X15 the hash (byte-reflected),
// X14 E(K, J0), Z12 the next counters, Z13 the counter step, Z31 the byte
// reversal mask; the frame holds what each block still has to do.
TEXT ·gcmAEAD(SB), NOSPLIT, $80-88
	VMOVDQU64 bswapMask<>(SB), Z31
	VPXOR     X15, X15, X15
	MOVQ $0, ctrdone-8(SP)
	MOVQ $0, ghdone-16(SP)
	MOVQ src+48(FP), SI
	MOVQ dst+40(FP), DI
	MOVQ n+56(FP), R8
	MOVQ SI, csrc-24(SP)
	MOVQ DI, cdst-32(SP)
	MOVQ R8, clen-40(SP)
	MOVQ SI, R11
	MOVQ seal+80(FP), R10
	TESTQ R10, R10
	CMOVQNE DI, R11
	MOVQ R11, gptr-48(SP)
	MOVQ R8, glen-56(SP)
	MOVQ naad+72(FP), DX
	MOVQ DX, gnaad-64(SP)
	// Length block, byte-reflected: low quadword ciphertext bits, high aad bits.
	MOVQ R8, R9
	SHLQ $3, R9
	MOVQ R9, lenlo-80(SP)
	MOVQ DX, R9
	SHLQ $3, R9
	MOVQ R9, lenhi-72(SP)

	// E(K, J0) into X14, counters from inc32(J0) in little-endian lanes.
	MOVQ rk+0(FP), AX
	MOVQ rounds+8(FP), BX
	MOVQ j0+24(FP), CX
	LOADKEYS
	VBROADCASTI32X4 (CX), Z12
	VMOVDQA64 Z12, Z14
	ENC1FIRST(Z14)
	CMPQ BX, $10
	JEQ  aj0last
	VAESENC Z26, Z14, Z14
	VAESENC Z27, Z14, Z14
	CMPQ BX, $12
	JEQ  aj0last
	VAESENC Z28, Z14, Z14
	VAESENC Z29, Z14, Z14
aj0last:
	VAESENCLAST Z30, Z14, Z14
	VPSHUFB Z31, Z12, Z12
	VPADDD  ctrInit<>(SB), Z12, Z12
	VMOVDQU64 ctrFour<>(SB), Z13

	// a = aad blocks (BX), c = ciphertext blocks (CX), m = a + c + 1.
	LEAQ 15(DX), BX
	SHRQ $4, BX
	LEAQ 15(R8), CX
	SHRQ $4, CX
	LEAQ 1(BX)(CX*1), R9
	CMPQ R9, $16
	JA   long
	TESTQ R10, R10
	JNZ  ctrbody
	JMP  ghbody

long:
	MOVQ  htab+16(FP), AX
	TESTQ BX, BX
	JZ    stitch
	// The aad alone (a <= 15 blocks): hash into X15.
	MOVQ  aad+64(FP), SI
	VBROADCASTI32X4 polyConst<>(SB), Z30
	VPXOR X0, X0, X0
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ  $16, R10
	SUBQ  BX, R10
	SHLQ  $4, R10
	ADDQ  AX, R10
	ACCUM(SI, DX, R10)
	REDUCE
	VMOVDQA X0, X15
	MOVQ  $0, gnaad-64(SP)

stitch:
	MOVQ rk+0(FP), AX
	MOVQ rounds+8(FP), BX
	LOADKEYS
	MOVQ htab+16(FP), DX
	MOVQ src+48(FP), SI
	MOVQ dst+40(FP), DI
	MOVQ n+56(FP), R8
	MOVQ seal+80(FP), R10
	TESTQ R10, R10
	JNZ   ssfirst

	// Open: hash each chunk of ciphertext as it is loaded for decryption.
stloop:
	CMPQ R8, $256
	JB   sttail
	VPSHUFB Z31, Z12, Z0
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z1
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z2
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z3
	VPADDD  Z13, Z12, Z12
	VPXORD  Z16, Z0, Z0
	VPXORD  Z16, Z1, Z1
	VPXORD  Z16, Z2, Z2
	VPXORD  Z16, Z3, Z3
	ENC4(Z17)
	ENC4(Z18)
	ENC4(Z19)
	ENC4(Z20)
	ENC4(Z21)
	ENC4(Z22)
	ENC4(Z23)
	ENC4(Z24)
	ENC4(Z25)
	CMPQ BX, $10
	JEQ  stlast
	ENC4(Z26)
	ENC4(Z27)
	CMPQ BX, $12
	JEQ  stlast
	ENC4(Z28)
	ENC4(Z29)
stlast:
	VAESENCLAST Z30, Z0, Z0
	VAESENCLAST Z30, Z1, Z1
	VAESENCLAST Z30, Z2, Z2
	VAESENCLAST Z30, Z3, Z3
	VMOVDQU64 0(SI), Z4
	VMOVDQU64 64(SI), Z5
	VMOVDQU64 128(SI), Z6
	VMOVDQU64 192(SI), Z7
	VPXORD    Z4, Z0, Z0
	VPXORD    Z5, Z1, Z1
	VPXORD    Z6, Z2, Z2
	VPXORD    Z7, Z3, Z3
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	VPSHUFB   Z31, Z4, Z4
	VPSHUFB   Z31, Z5, Z5
	VPSHUFB   Z31, Z6, Z6
	VPSHUFB   Z31, Z7, Z7
	MULMEM
	REDUCEMEM
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $256, R8
	JMP  stloop

	// Seal, software-pipelined: each step encrypts a chunk while it hashes
	// the ciphertext of the previous one (kept byte-reversed in Z4..Z7), so
	// the carry-less multiplies do not wait for this chunk's AES.
ssfirst:
	CMPQ R8, $256
	JB   sttail
	VPSHUFB Z31, Z12, Z0
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z1
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z2
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z3
	VPADDD  Z13, Z12, Z12
	VPXORD  Z16, Z0, Z0
	VPXORD  Z16, Z1, Z1
	VPXORD  Z16, Z2, Z2
	VPXORD  Z16, Z3, Z3
	ENC4(Z17)
	ENC4(Z18)
	ENC4(Z19)
	ENC4(Z20)
	ENC4(Z21)
	ENC4(Z22)
	ENC4(Z23)
	ENC4(Z24)
	ENC4(Z25)
	CMPQ BX, $10
	JEQ  ssfirstlast
	ENC4(Z26)
	ENC4(Z27)
	CMPQ BX, $12
	JEQ  ssfirstlast
	ENC4(Z28)
	ENC4(Z29)
ssfirstlast:
	VAESENCLAST Z30, Z0, Z0
	VAESENCLAST Z30, Z1, Z1
	VAESENCLAST Z30, Z2, Z2
	VAESENCLAST Z30, Z3, Z3
	VPXORD    0(SI), Z0, Z0
	VPXORD    64(SI), Z1, Z1
	VPXORD    128(SI), Z2, Z2
	VPXORD    192(SI), Z3, Z3
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	VPSHUFB   Z31, Z0, Z4
	VPSHUFB   Z31, Z1, Z5
	VPSHUFB   Z31, Z2, Z6
	VPSHUFB   Z31, Z3, Z7
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $256, R8

ssloop:
	CMPQ R8, $256
	JB   ssdrain
	VPSHUFB Z31, Z12, Z0
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z1
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z2
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z3
	VPADDD  Z13, Z12, Z12
	VPXORD  Z16, Z0, Z0
	VPXORD  Z16, Z1, Z1
	VPXORD  Z16, Z2, Z2
	VPXORD  Z16, Z3, Z3
	ENC4(Z17)
	ENC4(Z18)
	MULMEM
	ENC4(Z19)
	ENC4(Z20)
	ENC4(Z21)
	REDUCEMEM
	ENC4(Z22)
	ENC4(Z23)
	ENC4(Z24)
	ENC4(Z25)
	CMPQ BX, $10
	JEQ  sslast
	ENC4(Z26)
	ENC4(Z27)
	CMPQ BX, $12
	JEQ  sslast
	ENC4(Z28)
	ENC4(Z29)
sslast:
	VAESENCLAST Z30, Z0, Z0
	VAESENCLAST Z30, Z1, Z1
	VAESENCLAST Z30, Z2, Z2
	VAESENCLAST Z30, Z3, Z3
	VPXORD    0(SI), Z0, Z0
	VPXORD    64(SI), Z1, Z1
	VPXORD    128(SI), Z2, Z2
	VPXORD    192(SI), Z3, Z3
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	VPSHUFB   Z31, Z0, Z4
	VPSHUFB   Z31, Z1, Z5
	VPSHUFB   Z31, Z2, Z6
	VPSHUFB   Z31, Z3, Z7
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $256, R8
	JMP  ssloop

ssdrain:
	MULMEM
	REDUCEMEM

sttail:
	// Under 256 bytes left: a short message without aad.
	MOVQ SI, csrc-24(SP)
	MOVQ DI, cdst-32(SP)
	MOVQ R8, clen-40(SP)
	MOVQ SI, R11
	TESTQ R10, R10
	CMOVQNE DI, R11
	MOVQ R11, gptr-48(SP)
	MOVQ R8, glen-56(SP)
	TESTQ R10, R10
	JNZ  ctrbody
	JMP  ghbody

ctrbody:
	// Counter mode over clen bytes from csrc to cdst, continuing Z12. The
	// round keys are still in place unless GHASH ran in between.
	MOVQ rk+0(FP), AX
	MOVQ rounds+8(FP), BX
	CMPQ ghdone-16(SP), $0
	JEQ  ckeys
	LOADKEYS
ckeys:
	MOVQ csrc-24(SP), SI
	MOVQ cdst-32(SP), DI
	MOVQ clen-40(SP), R8
aloop256:
	CMPQ R8, $256
	JB   aloop64
	VPSHUFB Z31, Z12, Z0
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z1
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z2
	VPADDD  Z13, Z12, Z12
	VPSHUFB Z31, Z12, Z3
	VPADDD  Z13, Z12, Z12
	VPXORD  Z16, Z0, Z0
	VPXORD  Z16, Z1, Z1
	VPXORD  Z16, Z2, Z2
	VPXORD  Z16, Z3, Z3
	ENC4(Z17)
	ENC4(Z18)
	ENC4(Z19)
	ENC4(Z20)
	ENC4(Z21)
	ENC4(Z22)
	ENC4(Z23)
	ENC4(Z24)
	ENC4(Z25)
	CMPQ BX, $10
	JEQ  alast256
	ENC4(Z26)
	ENC4(Z27)
	CMPQ BX, $12
	JEQ  alast256
	ENC4(Z28)
	ENC4(Z29)
alast256:
	VAESENCLAST Z30, Z0, Z0
	VAESENCLAST Z30, Z1, Z1
	VAESENCLAST Z30, Z2, Z2
	VAESENCLAST Z30, Z3, Z3
	VPXORD    0(SI), Z0, Z0
	VPXORD    64(SI), Z1, Z1
	VPXORD    128(SI), Z2, Z2
	VPXORD    192(SI), Z3, Z3
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $256, R8
	JMP  aloop256

aloop64:
	TESTQ R8, R8
	JZ    actrdone
	VPSHUFB Z31, Z12, Z0
	VPADDD  Z13, Z12, Z12
	ENC1FIRST(Z0)
	CMPQ BX, $10
	JEQ  alast64
	VAESENC Z26, Z0, Z0
	VAESENC Z27, Z0, Z0
	CMPQ BX, $12
	JEQ  alast64
	VAESENC Z28, Z0, Z0
	VAESENC Z29, Z0, Z0
alast64:
	VAESENCLAST Z30, Z0, Z0
	CMPQ R8, $64
	JB   apartial
	VPXORD    (SI), Z0, Z0
	VMOVDQU64 Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $64, R8
	JMP  aloop64

apartial:
	MOVQ  $-1, R10
	BZHIQ R8, R10, R10
	KMOVQ R10, K1
	VMOVDQU8.Z (SI), K1, Z1
	VPXORD     Z1, Z0, Z0
	VMOVDQU8   Z0, K1, (DI)

actrdone:
	MOVQ $1, ctrdone-8(SP)
	CMPQ ghdone-16(SP), $0
	JNE  finish

ghbody:
	// GHASH of gnaad aad bytes, glen ciphertext bytes at gptr and the
	// length block, at most seventeen blocks, continuing X15.
	MOVQ htab+16(FP), AX
	MOVQ aad+64(FP), SI
	MOVQ gnaad-64(SP), DX
	MOVQ gptr-48(SP), DI
	MOVQ glen-56(SP), R8
	VBROADCASTI32X4 polyConst<>(SB), Z30
	VMOVDQA X15, X0
	VMOVDQU lenlo-80(SP), X15

	LEAQ 15(DX), BX
	SHRQ $4, BX
	LEAQ 15(R8), CX
	SHRQ $4, CX
	LEAQ 1(BX)(CX*1), R9
	CMPQ R9, $16
	JBE  group
	// Sixteen ciphertext blocks and the length: the blocks form a group.
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	ACCUM(DI, R8, AX)
	REDUCE
	XORQ R8, R8
	XORQ CX, CX
	MOVQ $1, R9

group:
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ  $16, R10
	SUBQ  R9, R10
	SHLQ  $4, R10
	ADDQ  AX, R10
	TESTQ BX, BX
	JZ    gct
	CMPQ  BX, $1
	JNE   gaad4
	ACCUMX(SI, DX, R10)
	ADDQ  $16, R10
	JMP   gct
gaad4:
	ACCUM(SI, DX, R10)
	SHLQ  $4, BX
	ADDQ  BX, R10
gct:
	TESTQ CX, CX
	JZ    gnoct
	CMPQ  R8, $16
	JA    gct2
	ACCUMX(DI, R8, R10)
	JMP   glen
gct2:
	CMPQ  R8, $128
	JA    gct4
	ACCUM2(DI, R8, R10)
	JMP   glen
gct4:
	ACCUM(DI, R8, R10)
	JMP   glen
gnoct:
	VPXORD X0, X15, X15
glen:
	VMOVDQU64  240(AX), X20
	VPCLMULQDQ $0x00, X20, X15, X8
	VPCLMULQDQ $0x11, X20, X15, X9
	VPCLMULQDQ $0x01, X20, X15, X10
	VPCLMULQDQ $0x10, X20, X15, X11
	VPXORD     Z8, Z5, Z5
	VPXORD     Z9, Z6, Z6
	VPTERNLOGD $0x96, Z10, Z11, Z7
	REDUCE
	VMOVDQA X0, X15
	MOVQ $1, ghdone-16(SP)
	CMPQ ctrdone-8(SP), $0
	JEQ  ctrbody

finish:
	VPSHUFB X31, X15, X15
	VPXORD  X14, X15, X15
	MOVQ    tag+32(FP), DX
	VMOVDQU X15, (DX)
	VZEROUPPER
	RET
