//go:build !linux

package payload

// newBuffer returns n bytes from the heap.
func newBuffer(n int) []byte { return make([]byte, n) }

// freeBuffer leaves a buffer to the garbage collector.
func freeBuffer([]byte) {}
