//go:build amd64 && !purego

#include "textflag.h"

// SHA-256 block functions with SHA-NI for level 0 (stored_shani.go):
// sha256Blocks2x runs two states over two inputs; sha256Blocks1 runs one
// state. sha256rnds2 is bound by its latency, so the independent chains of
// two states overlap in the pipeline. The states are the words h0..h7; each
// call converts them to and from the ABEF/CDGH layout of the instructions.
//
// Registers: X0 holds W+K for sha256rnds2; X1/X2 are state a as ABEF/CDGH,
// X11/X12 state b; X3..X6 are the message schedule of a, used in rotation;
// X7 is scratch; X8 is the byte-swap mask. sha256Blocks2x keeps the
// schedule of b in X9, X10, X13 and X14; sha256Blocks1 keeps the state at
// the start of the block in X9/X10. X15 is left alone by both functions.

// LOAD puts the big-endian words at off(SI) into m.
#define LOAD(m, off) \
	MOVOU off(SI), m \
	PSHUFB X8, m

// SCHED turns m, holding W[i-4..i-1] of the quad four back, into the next
// quad, from the quads m1, m2, m3 that follow it.
#define SCHED(m, m1, m2, m3) \
	SHA256MSG1 m1, m \
	MOVOU m3, X7 \
	PALIGNR $4, m2, X7 \
	PADDD X7, m \
	SHA256MSG2 m3, m

// TOSHANI turns the words a..h at (R) into ABEF in lo and CDGH in hi.
#define TOSHANI(R, lo, hi) \
	MOVOU (R), X7 \
	MOVOU 16(R), hi \
	PSHUFD $0x1b, X7, X7 \
	PSHUFD $0x1b, hi, hi \
	MOVOU hi, lo \
	PUNPCKHQDQ X7, lo \
	PUNPCKLQDQ X7, hi

// FROMSHANI stores ABEF in lo and CDGH in hi as the words a..h at (R).
#define FROMSHANI(R, lo, hi) \
	MOVOU hi, X7 \
	PUNPCKHQDQ lo, X7 \
	PSHUFD $0x1b, X7, X7 \
	MOVOU X7, (R) \
	PUNPCKLQDQ lo, hi \
	PSHUFD $0x1b, hi, hi \
	MOVOU hi, 16(R)

// ROUNDS4X runs four rounds of the state lo/hi on the quad m.
#define ROUNDS4X(m, koff, lo, hi) \
	MOVOU m, X0 \
	PADDD koff(AX), X0 \
	SHA256RNDS2 X0, lo, hi \
	PSHUFD $0x0e, X0, X0 \
	SHA256RNDS2 X0, hi, lo

// func sha256Blocks2x(a, b *[8]uint32, pa, pb *byte, n int)
//
// State a runs over pa and state b over pb, each with its own message
// schedule (X3..X6 for a, X9, X10, X13, X14 for b).
// The states at the start of the block are kept on the stack.
TEXT ·sha256Blocks2x(SB), NOSPLIT, $64-40
	MOVQ a+0(FP), DI
	MOVQ b+8(FP), DX
	MOVQ pa+16(FP), SI
	MOVQ pb+24(FP), BX
	MOVQ n+32(FP), CX
	TESTQ CX, CX
	JEQ donex
	TOSHANI(DI, X1, X2)
	TOSHANI(DX, X11, X12)
	MOVOU bswap<>(SB), X8
	LEAQ k256<>(SB), AX

loopx:
	MOVOU X1, 0(SP)
	MOVOU X2, 16(SP)
	MOVOU X11, 32(SP)
	MOVOU X12, 48(SP)
	MOVOU 0(SI), X3
	PSHUFB X8, X3
	ROUNDS4X(X3, 0, X1, X2)
	MOVOU 0(BX), X9
	PSHUFB X8, X9
	ROUNDS4X(X9, 0, X11, X12)
	MOVOU 16(SI), X4
	PSHUFB X8, X4
	ROUNDS4X(X4, 16, X1, X2)
	MOVOU 16(BX), X10
	PSHUFB X8, X10
	ROUNDS4X(X10, 16, X11, X12)
	MOVOU 32(SI), X5
	PSHUFB X8, X5
	ROUNDS4X(X5, 32, X1, X2)
	MOVOU 32(BX), X13
	PSHUFB X8, X13
	ROUNDS4X(X13, 32, X11, X12)
	MOVOU 48(SI), X6
	PSHUFB X8, X6
	ROUNDS4X(X6, 48, X1, X2)
	MOVOU 48(BX), X14
	PSHUFB X8, X14
	ROUNDS4X(X14, 48, X11, X12)
	SCHED(X3, X4, X5, X6)
	ROUNDS4X(X3, 64, X1, X2)
	SCHED(X9, X10, X13, X14)
	ROUNDS4X(X9, 64, X11, X12)
	SCHED(X4, X5, X6, X3)
	ROUNDS4X(X4, 80, X1, X2)
	SCHED(X10, X13, X14, X9)
	ROUNDS4X(X10, 80, X11, X12)
	SCHED(X5, X6, X3, X4)
	ROUNDS4X(X5, 96, X1, X2)
	SCHED(X13, X14, X9, X10)
	ROUNDS4X(X13, 96, X11, X12)
	SCHED(X6, X3, X4, X5)
	ROUNDS4X(X6, 112, X1, X2)
	SCHED(X14, X9, X10, X13)
	ROUNDS4X(X14, 112, X11, X12)
	SCHED(X3, X4, X5, X6)
	ROUNDS4X(X3, 128, X1, X2)
	SCHED(X9, X10, X13, X14)
	ROUNDS4X(X9, 128, X11, X12)
	SCHED(X4, X5, X6, X3)
	ROUNDS4X(X4, 144, X1, X2)
	SCHED(X10, X13, X14, X9)
	ROUNDS4X(X10, 144, X11, X12)
	SCHED(X5, X6, X3, X4)
	ROUNDS4X(X5, 160, X1, X2)
	SCHED(X13, X14, X9, X10)
	ROUNDS4X(X13, 160, X11, X12)
	SCHED(X6, X3, X4, X5)
	ROUNDS4X(X6, 176, X1, X2)
	SCHED(X14, X9, X10, X13)
	ROUNDS4X(X14, 176, X11, X12)
	SCHED(X3, X4, X5, X6)
	ROUNDS4X(X3, 192, X1, X2)
	SCHED(X9, X10, X13, X14)
	ROUNDS4X(X9, 192, X11, X12)
	SCHED(X4, X5, X6, X3)
	ROUNDS4X(X4, 208, X1, X2)
	SCHED(X10, X13, X14, X9)
	ROUNDS4X(X10, 208, X11, X12)
	SCHED(X5, X6, X3, X4)
	ROUNDS4X(X5, 224, X1, X2)
	SCHED(X13, X14, X9, X10)
	ROUNDS4X(X13, 224, X11, X12)
	SCHED(X6, X3, X4, X5)
	ROUNDS4X(X6, 240, X1, X2)
	SCHED(X14, X9, X10, X13)
	ROUNDS4X(X14, 240, X11, X12)
	MOVOU 0(SP), X7
	PADDD X7, X1
	MOVOU 16(SP), X7
	PADDD X7, X2
	MOVOU 32(SP), X7
	PADDD X7, X11
	MOVOU 48(SP), X7
	PADDD X7, X12
	ADDQ $64, SI
	ADDQ $64, BX
	DECQ CX
	JNZ loopx

	FROMSHANI(DI, X1, X2)
	FROMSHANI(DX, X11, X12)

donex:
	RET

// func sha256Blocks1(a *[8]uint32, p *byte, n int)
//
// One state over p, for the blocks that have no second state to share.
TEXT ·sha256Blocks1(SB), NOSPLIT, $0-24
	MOVQ a+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JEQ done1
	TOSHANI(DI, X1, X2)
	MOVOU bswap<>(SB), X8
	LEAQ k256<>(SB), AX

loop1:
	MOVOU X1, X9
	MOVOU X2, X10
	LOAD(X3, 0)
	ROUNDS4X(X3, 0, X1, X2)
	LOAD(X4, 16)
	ROUNDS4X(X4, 16, X1, X2)
	LOAD(X5, 32)
	ROUNDS4X(X5, 32, X1, X2)
	LOAD(X6, 48)
	ROUNDS4X(X6, 48, X1, X2)
	SCHED(X3, X4, X5, X6)
	ROUNDS4X(X3, 64, X1, X2)
	SCHED(X4, X5, X6, X3)
	ROUNDS4X(X4, 80, X1, X2)
	SCHED(X5, X6, X3, X4)
	ROUNDS4X(X5, 96, X1, X2)
	SCHED(X6, X3, X4, X5)
	ROUNDS4X(X6, 112, X1, X2)
	SCHED(X3, X4, X5, X6)
	ROUNDS4X(X3, 128, X1, X2)
	SCHED(X4, X5, X6, X3)
	ROUNDS4X(X4, 144, X1, X2)
	SCHED(X5, X6, X3, X4)
	ROUNDS4X(X5, 160, X1, X2)
	SCHED(X6, X3, X4, X5)
	ROUNDS4X(X6, 176, X1, X2)
	SCHED(X3, X4, X5, X6)
	ROUNDS4X(X3, 192, X1, X2)
	SCHED(X4, X5, X6, X3)
	ROUNDS4X(X4, 208, X1, X2)
	SCHED(X5, X6, X3, X4)
	ROUNDS4X(X5, 224, X1, X2)
	SCHED(X6, X3, X4, X5)
	ROUNDS4X(X6, 240, X1, X2)
	PADDD X9, X1
	PADDD X10, X2
	ADDQ $64, SI
	DECQ CX
	JNZ loop1

	FROMSHANI(DI, X1, X2)

done1:
	RET

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

DATA bswap<>+0(SB)/8, $0x0405060700010203
DATA bswap<>+8(SB)/8, $0x0c0d0e0f08090a0b
GLOBL bswap<>(SB), RODATA|NOPTR, $16

// The round constants, four to a quad.
DATA k256<>+0(SB)/4, $0x428a2f98
DATA k256<>+4(SB)/4, $0x71374491
DATA k256<>+8(SB)/4, $0xb5c0fbcf
DATA k256<>+12(SB)/4, $0xe9b5dba5
DATA k256<>+16(SB)/4, $0x3956c25b
DATA k256<>+20(SB)/4, $0x59f111f1
DATA k256<>+24(SB)/4, $0x923f82a4
DATA k256<>+28(SB)/4, $0xab1c5ed5
DATA k256<>+32(SB)/4, $0xd807aa98
DATA k256<>+36(SB)/4, $0x12835b01
DATA k256<>+40(SB)/4, $0x243185be
DATA k256<>+44(SB)/4, $0x550c7dc3
DATA k256<>+48(SB)/4, $0x72be5d74
DATA k256<>+52(SB)/4, $0x80deb1fe
DATA k256<>+56(SB)/4, $0x9bdc06a7
DATA k256<>+60(SB)/4, $0xc19bf174
DATA k256<>+64(SB)/4, $0xe49b69c1
DATA k256<>+68(SB)/4, $0xefbe4786
DATA k256<>+72(SB)/4, $0x0fc19dc6
DATA k256<>+76(SB)/4, $0x240ca1cc
DATA k256<>+80(SB)/4, $0x2de92c6f
DATA k256<>+84(SB)/4, $0x4a7484aa
DATA k256<>+88(SB)/4, $0x5cb0a9dc
DATA k256<>+92(SB)/4, $0x76f988da
DATA k256<>+96(SB)/4, $0x983e5152
DATA k256<>+100(SB)/4, $0xa831c66d
DATA k256<>+104(SB)/4, $0xb00327c8
DATA k256<>+108(SB)/4, $0xbf597fc7
DATA k256<>+112(SB)/4, $0xc6e00bf3
DATA k256<>+116(SB)/4, $0xd5a79147
DATA k256<>+120(SB)/4, $0x06ca6351
DATA k256<>+124(SB)/4, $0x14292967
DATA k256<>+128(SB)/4, $0x27b70a85
DATA k256<>+132(SB)/4, $0x2e1b2138
DATA k256<>+136(SB)/4, $0x4d2c6dfc
DATA k256<>+140(SB)/4, $0x53380d13
DATA k256<>+144(SB)/4, $0x650a7354
DATA k256<>+148(SB)/4, $0x766a0abb
DATA k256<>+152(SB)/4, $0x81c2c92e
DATA k256<>+156(SB)/4, $0x92722c85
DATA k256<>+160(SB)/4, $0xa2bfe8a1
DATA k256<>+164(SB)/4, $0xa81a664b
DATA k256<>+168(SB)/4, $0xc24b8b70
DATA k256<>+172(SB)/4, $0xc76c51a3
DATA k256<>+176(SB)/4, $0xd192e819
DATA k256<>+180(SB)/4, $0xd6990624
DATA k256<>+184(SB)/4, $0xf40e3585
DATA k256<>+188(SB)/4, $0x106aa070
DATA k256<>+192(SB)/4, $0x19a4c116
DATA k256<>+196(SB)/4, $0x1e376c08
DATA k256<>+200(SB)/4, $0x2748774c
DATA k256<>+204(SB)/4, $0x34b0bcb5
DATA k256<>+208(SB)/4, $0x391c0cb3
DATA k256<>+212(SB)/4, $0x4ed8aa4a
DATA k256<>+216(SB)/4, $0x5b9cca4f
DATA k256<>+220(SB)/4, $0x682e6ff3
DATA k256<>+224(SB)/4, $0x748f82ee
DATA k256<>+228(SB)/4, $0x78a5636f
DATA k256<>+232(SB)/4, $0x84c87814
DATA k256<>+236(SB)/4, $0x8cc70208
DATA k256<>+240(SB)/4, $0x90befffa
DATA k256<>+244(SB)/4, $0xa4506ceb
DATA k256<>+248(SB)/4, $0xbef9a3f7
DATA k256<>+252(SB)/4, $0xc67178f2
GLOBL k256<>(SB), RODATA|NOPTR, $256
