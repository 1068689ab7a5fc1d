//go:build !amd64 || purego

package payload

const haveSHA2x = false

func blocks2x(a, b *[8]uint32, pa, pb []byte) {
	panic("payload: blocks2x without SHA-NI")
}

func blocks1(a *[8]uint32, p []byte) {
	panic("payload: blocks1 without SHA-NI")
}
