package payload

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

// Level 0 with SHA-NI (docs/performance.md, "Level 0: chunk pairs"). The
// SHA-NI round instruction is bound by its latency, so one core runs two
// independent SHA-256 streams in about 1.5 times the time of one
// (sha256x2_amd64.s). The reading goroutine hashes each buffer's chunks two
// at a time right after reading it, while the data is in its own cache; a
// second goroutine hashes the whole file, one dependent chain that sets the
// wall time. The reader has about a fifth of its core to spare, so the
// whole-file goroutine does nothing else.

const (
	// shaniSlots is the number of buffers in flight: one being hashed by
	// the whole-file goroutine, one being read and hashed by the reader.
	// A third one measured no faster, and its pages cost 1.5 ms to map.
	shaniSlots = 2
	// shaniMinChunkSize keeps the SHA-NI path to chunk sizes where the
	// per-chunk finishing costs nothing next to the hashing.
	shaniMinChunkSize = 4 << 10
)

// useSHANI reports whether level 0 takes processStoredSHANI: the CPU has
// SHA-NI and the assembly agrees with crypto/sha256 on a known input.
var useSHANI = haveSHA2x && shaniSelfTest()

// shaniChunkSize reports whether processStoredSHANI handles a chunk size:
// chunks of whole 64-byte blocks, at most one buffer long.
func shaniChunkSize(chunkSize int64) bool {
	return chunkSize%64 == 0 && chunkSize >= shaniMinChunkSize && chunkSize <= storedBufSize
}

// sha256IV is the initial SHA-256 state.
var sha256IV = [8]uint32{
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
}

// resume returns a crypto/sha256 hash holding state h after n bytes (a
// multiple of 64), through the hash's binary marshaling, so that the tail
// and the padding go through the standard library.
func resume(h *[8]uint32, n uint64) (hash.Hash, error) {
	b := make([]byte, 0, 4+32+64+8)
	b = append(b, "sha\x03"...)
	for _, w := range h {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	b = append(b, make([]byte, 64)...)
	b = binary.BigEndian.AppendUint64(b, n)
	d := sha256.New()
	if err := d.(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return d, nil
}

// shaniSum returns the sha256 of a stream whose first n bytes (a multiple
// of 64) left state h, followed by tail.
func shaniSum(h *[8]uint32, n uint64, tail []byte) []byte {
	d, err := resume(h, n)
	if err != nil {
		// shaniSelfTest checked this at start-up.
		panic(fmt.Sprintf("payload: resuming sha256: %v", err))
	}
	d.Write(tail)
	return d.Sum(nil)
}

// shaniSelfTest checks the two assembly functions and resume against
// crypto/sha256.
func shaniSelfTest() bool {
	data := make([]byte, 64*9+7)
	for i := range data {
		data[i] = byte(i*7 + i>>3)
	}
	if _, err := resume(&sha256IV, 0); err != nil {
		return false
	}
	check := func(h *[8]uint32, n int, tail, whole []byte) bool {
		want := sha256.Sum256(whole)
		return bytes.Equal(shaniSum(h, uint64(n), tail), want[:])
	}
	// blocks1 runs the stream in two calls; blocks2x runs two others.
	whole := sha256IV
	blocks1(&whole, data[:64*5])
	blocks1(&whole, data[64*5:64*9])
	a, b := sha256IV, sha256IV
	blocks2x(&a, &b, data[:64*4], data[64*4:64*8])
	return check(&whole, 64*9, data[64*9:], data) &&
		check(&a, 64*4, nil, data[:64*4]) && check(&b, 64*4, nil, data[64*4:64*8])
}

// processStoredSHANI is processStored for chunk sizes that shaniChunkSize
// accepts, on a CPU with SHA-NI.
func processStoredSHANI(name string, in io.Reader, size int64, opts Options) (*Descriptor, error) {
	chunkSize := opts.chunkSize()
	cs := int(chunkSize)
	// Buffers hold an even number of chunks, so that they pair up. All
	// sizes come from one pool size, the largest buffer: two chunks of
	// storedBufSize.
	perBuf := max(storedBufSize/cs, 1)
	perBuf += perBuf % 2
	bufSize := perBuf * cs

	type slot struct {
		buf  []byte
		n    int
		free chan struct{}
	}
	var slots [shaniSlots]slot
	for i := range slots {
		slots[i].free = make(chan struct{}, 1)
		slots[i].free <- struct{}{}
	}
	defer func() {
		// Both goroutines are done with the buffers by the time this runs.
		for i := range slots {
			putBuffer(slots[i].buf)
		}
	}()
	full := make(chan *slot, shaniSlots)

	var wholeSum []byte
	var hasher sync.WaitGroup
	hasher.Add(1)
	go func() {
		defer hasher.Done()
		whole := sha256IV
		var n uint64 // bytes in whole
		var tail []byte
		for s := range full {
			p := s.buf[:s.n]
			k := len(p) &^ 63
			blocks1(&whole, p[:k])
			n += uint64(k)
			// Only the last buffer, at the end of the file, has a tail.
			tail = append(tail[:0], p[k:]...)
			s.free <- struct{}{}
		}
		wholeSum = shaniSum(&whole, n, tail)
	}()

	// Only the reader stores chunk hashes.
	hashes := make([]string, osimage.ChunkCount(size, chunkSize))
	setHash := func(off int64, sum []byte) {
		hashes[off/chunkSize] = base64.RawStdEncoding.EncodeToString(sum)
	}
	var total int64
	var readErr error
	for i := 0; ; i++ {
		s := &slots[i%len(slots)]
		<-s.free
		if s.buf == nil {
			s.buf = getBuffer(2 * storedBufSize)[:bufSize]
		}
		n, err := io.ReadFull(in, s.buf)
		if total+int64(n) > size {
			// The file grew; hashes has no room for the excess.
			total += int64(n)
			break
		}
		if n > 0 {
			s.n = n
			off := total
			total += int64(n)
			full <- s
			hashPairs(s.buf[:n], off, cs, setHash)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(full)
	hasher.Wait()
	if readErr != nil {
		return nil, fmt.Errorf("payload %q: reading: %w", name, readErr)
	}
	if total != size {
		return nil, changedError(name, total, size)
	}
	return descriptor(name, osimage.MediaTypePayloadUncompressed, wholeSum, total, total, chunkSize, hashes), nil
}

// hashPairs hashes the chunks of p, which starts at file offset off on a
// chunk boundary, two at a time; a last odd or partial chunk is hashed on
// its own.
func hashPairs(p []byte, off int64, cs int, setHash func(int64, []byte)) {
	for len(p) >= 2*cs {
		a, b := sha256IV, sha256IV
		blocks2x(&a, &b, p[:cs], p[cs:2*cs])
		setHash(off, shaniSum(&a, uint64(cs), nil))
		setHash(off+int64(cs), shaniSum(&b, uint64(cs), nil))
		p = p[2*cs:]
		off += 2 * int64(cs)
	}
	for len(p) > 0 {
		piece := p[:min(len(p), cs)]
		sum := sha256.Sum256(piece)
		setHash(off, sum[:])
		p = p[len(piece):]
		off += int64(len(piece))
	}
}
