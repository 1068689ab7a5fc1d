package payload

import "syscall"

// newBuffer returns n bytes of anonymous memory mapped with MAP_POPULATE, so
// the kernel allocates all its pages in one call instead of one page fault
// per page on first write. The memory is outside the Go heap: it adds
// nothing to the garbage collector's work, and freeBuffer unmaps it. If the
// mapping fails, newBuffer falls back to the heap.
func newBuffer(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_POPULATE)
	if err != nil {
		return make([]byte, n)
	}
	return b[:n:n]
}

// freeBuffer releases a buffer from newBuffer.
func freeBuffer(b []byte) {
	// A heap buffer from the fallback is not a mapping; Munmap then fails
	// with EINVAL, and the garbage collector frees it.
	_ = syscall.Munmap(b)
}
