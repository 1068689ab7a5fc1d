//go:build amd64 && !purego

package payload

func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// haveSHA2x reports whether the CPU has the SHA extensions and SSSE3,
// which the functions of sha256x2_amd64.s use.
var haveSHA2x = func() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	_, b7, _, _ := cpuid(7, 0)
	const ssse3, sha = 1 << 9, 1 << 29
	return c1&ssse3 != 0 && b7&sha != 0
}()

// sha256Blocks2x runs n 64-byte blocks from pa through state a and n
// blocks from pb through state b, with SHA-NI.
//
//go:noescape
func sha256Blocks2x(a, b *[8]uint32, pa, pb *byte, n int)

// blocks2x runs pa through a and pb through b; both are the same multiple
// of 64 bytes long.
func blocks2x(a, b *[8]uint32, pa, pb []byte) {
	if len(pa) >= 64 {
		sha256Blocks2x(a, b, &pa[0], &pb[0], len(pa)/64)
	}
}

// sha256Blocks1 runs n 64-byte blocks from p through state a, with SHA-NI.
//
//go:noescape
func sha256Blocks1(a *[8]uint32, p *byte, n int)

// blocks1 runs the whole 64-byte blocks of p through a; the caller passes
// a multiple of 64 bytes.
func blocks1(a *[8]uint32, p []byte) {
	if len(p) >= 64 {
		sha256Blocks1(a, &p[0], len(p)/64)
	}
}
