package payload

import "sync"

// Read buffers of the level-0 paths.
//
// On the bench machine, the first write to a fresh page of anonymous memory
// costs about 12 µs (a page fault in a VM), so the 8 MiB of buffers a
// payload needed used to cost 25 ms, more than the read of a 512 MiB file
// out of the page cache (31 ms). Two things keep that down:
//
//   - newBuffer maps buffers with their pages already present where it can
//     (buffers_linux.go), about 3 µs a page in all;
//   - buffers go back to a pool when a payload is done, so that the next
//     payload of the same process (osimage build, the benchmark) writes to
//     pages it already has.
//
// The pool is per size and keeps at most poolMax buffers of each; the rest
// are released.

// poolMax is how many buffers of one size the pool keeps between payloads:
// the level-0 ring's slots for one payload.
const poolMax = storedBufs

var pool = struct {
	sync.Mutex
	free map[int][][]byte
}{free: map[int][][]byte{}}

// getBuffer returns a buffer of n bytes from the pool, or a new one.
func getBuffer(n int) []byte {
	pool.Lock()
	free := pool.free[n]
	if k := len(free); k > 0 {
		b := free[k-1]
		pool.free[n] = free[:k-1]
		pool.Unlock()
		return b
	}
	pool.Unlock()
	return newBuffer(n)
}

// putBuffer gives back a buffer from getBuffer, or a slice of one, that
// nothing uses anymore.
func putBuffer(b []byte) {
	if b == nil {
		return
	}
	b = b[:cap(b)]
	pool.Lock()
	if free := pool.free[len(b)]; len(free) < poolMax {
		pool.free[len(b)] = append(free, b)
		b = nil
	}
	pool.Unlock()
	if b != nil {
		freeBuffer(b)
	}
}
