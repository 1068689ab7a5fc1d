package payload

import "testing"

// TestBufferPool checks that a buffer given back, even as a shorter slice,
// is handed out again whole, and that the pool keeps at most poolMax
// buffers of a size.
func TestBufferPool(t *testing.T) {
	const n = 3 << 16 // a size nothing else in the package uses
	b := getBuffer(n)
	if len(b) != n || cap(b) != n {
		t.Fatalf("getBuffer(%d): len %d, cap %d", n, len(b), cap(b))
	}
	b[0], b[n-1] = 1, 2
	putBuffer(b[:100])
	again := getBuffer(n)
	if len(again) != n || &again[0] != &b[0] {
		t.Fatalf("getBuffer after putBuffer did not reuse the buffer")
	}
	if again[0] != 1 || again[n-1] != 2 {
		t.Errorf("reused buffer lost its contents")
	}

	bufs := make([][]byte, poolMax+3)
	for i := range bufs {
		bufs[i] = getBuffer(n)
		bufs[i][n/2] = byte(i) // every page is writable
	}
	for _, b := range append(bufs, again) {
		putBuffer(b)
	}
	pool.Lock()
	kept := len(pool.free[n])
	pool.Unlock()
	if kept != poolMax {
		t.Errorf("pool keeps %d buffers of one size, want %d", kept, poolMax)
	}
	putBuffer(nil)
}

// TestFreeHeapBuffer checks that freeBuffer accepts a heap buffer, which
// newBuffer returns when it cannot map memory.
func TestFreeHeapBuffer(t *testing.T) {
	freeBuffer(make([]byte, 4096))
}
