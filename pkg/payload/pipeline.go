package payload

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

// How the work is spread over the cores (docs/performance.md has the
// measurements behind these choices):
//
//   - Level 0 has two independent SHA-256 streams over the same bytes, the
//     blob digest and the chunk hashes, so on two cores the wall time is
//     about one hash pass. With SHA-NI (stored_shani.go) the reading
//     goroutine hashes the chunks two at a time and a second one hashes the
//     whole file; otherwise one goroutine reads into a ring of buffers, one
//     hashes the whole file and one the chunks. Read buffers come from a
//     pool of pre-faulted mappings (buffers.go).
//   - Levels 1..3 use klauspost's job-parallel stream encoder: the input is
//     cut into jobs of four windows, each compressed by one of two workers
//     with the tail of the previous job as history, and the blocks are written
//     in order into one frame. The job boundaries depend only on the window
//     size, never on the number of workers or on scheduling
//     (TestDeterministicAcrossConcurrency), so the blob is the same at any
//     GOMAXPROCS. The caller goroutine reads and hashes the chunks (two at
//     a time with SHA-NI); the encoder's flusher goroutine writes the blob
//     and hashes it. Level 4 runs klauspost's sequential encoder (memory,
//     see workers).

const (
	// storedBufSize is the read size of the level-0 pipeline, rounded to a
	// whole number of chunks; storedBufs buffers are in flight.
	storedBufSize = 1 << 20
	storedBufs    = 8
	// encoderWorkers is the number of zstd job workers for levels 1..3. It
	// is pinned rather than following GOMAXPROCS: the bytes do not depend on
	// it, but memory does (each worker holds about three jobs), and Bazel
	// runs the payload actions of an image side by side anyway. With 1 the
	// encoder falls back to its sequential mode, which writes other bytes.
	encoderWorkers = 2
)

// windowSize is the zstd window (the farthest back-reference) of a level.
// It bounds memory: a job is four windows, and klauspost keeps up to about
// three jobs per worker plus pooled buffers per P. 512 KiB is what Debian's
// zstd uses at -1; at level 2 it costs about 3 % of size against the 8 MiB
// default (154.9 MB against 150.6 MB for the bench rootfs), and 1 MiB would
// exceed the 64 MiB RSS budget at GOMAXPROCS=8.
// Level 4 is sequential, so its window only sets the history.
func windowSize(level int) int {
	if level == LevelBest {
		return 1 << 20
	}
	return 512 << 10
}

// workers is the number of zstd job workers for a level. Level 4's match
// finder has 34 MiB of tables per worker, so it runs one sequential encoder
// to stay within the memory budget.
func workers(level int) int {
	if level == LevelBest {
		return 1
	}
	return encoderWorkers
}

// newEncoder returns the encoder for a compression level 1..4 with the given
// number of job workers. The options other than the worker count (for counts
// of 2 and more) fix the bytes of the blob: changing them changes every
// compressed payload.
func newEncoder(level, workers int) (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(EncoderLevel(level)),
		zstd.WithWindowSize(windowSize(level)),
		zstd.WithEncoderConcurrency(workers),
		zstd.WithConcurrentBlocks(true),
		// Frames of up to one block record their content size only as
		// single segments; empty payloads need an explicit frame (see
		// processCompressed).
		zstd.WithSingleSegment(true),
		zstd.WithZeroFrames(true))
}

// process reads size bytes from in and returns the payload's descriptor,
// writing the zstd blob to out for levels 1..4.
func process(name string, in io.Reader, size int64, out io.Writer, opts Options) (*Descriptor, error) {
	if opts.CompressionLevel == LevelNone {
		return processStored(name, in, size, opts)
	}
	return processCompressed(name, in, size, out, opts, workers(opts.CompressionLevel))
}

// processStored hashes an uncompressed payload: the layer digest is the
// sha256 of the whole file, computed next to the chunk hashes. With SHA-NI
// it takes processStoredSHANI (stored_shani.go), otherwise the ring of two
// hashers.
func processStored(name string, in io.Reader, size int64, opts Options) (*Descriptor, error) {
	if useSHANI && shaniChunkSize(opts.chunkSize()) {
		return processStoredSHANI(name, in, size, opts)
	}
	return processStoredRing(name, in, size, opts)
}

// processStoredRing hashes an uncompressed payload on two goroutines, one
// for the whole file and one for the chunks, fed from a ring of buffers.
func processStoredRing(name string, in io.Reader, size int64, opts Options) (*Descriptor, error) {
	chunkSize := opts.chunkSize()
	bufSize := max(storedBufSize/chunkSize, 1) * chunkSize

	type slot struct {
		buf  []byte
		n    int
		busy sync.WaitGroup // one count per hashing goroutine still reading buf
	}
	slots := make([]slot, storedBufs)
	defer func() {
		// The hashers are done with the buffers by the time this runs.
		for i := range slots {
			putBuffer(slots[i].buf)
		}
	}()
	toWhole := make(chan *slot, storedBufs)
	toChunks := make(chan *slot, storedBufs)

	whole := sha256.New()
	chunks := newChunkHasher(size, chunkSize)
	var hashers sync.WaitGroup
	hashers.Add(2)
	go func() {
		defer hashers.Done()
		for s := range toWhole {
			whole.Write(s.buf[:s.n])
			s.busy.Done()
		}
	}()
	go func() {
		defer hashers.Done()
		for s := range toChunks {
			chunks.Write(s.buf[:s.n])
			s.busy.Done()
		}
	}()

	var total int64
	var readErr error
	for i := 0; ; i++ {
		s := &slots[i%len(slots)]
		s.busy.Wait()
		if s.buf == nil {
			s.buf = getBuffer(int(bufSize))
		}
		n, err := io.ReadFull(in, s.buf)
		if n > 0 {
			s.n = n
			total += int64(n)
			s.busy.Add(2)
			toWhole <- s
			toChunks <- s
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(toWhole)
	close(toChunks)
	hashers.Wait()
	chunks.finish()
	if readErr != nil {
		return nil, fmt.Errorf("payload %q: reading: %w", name, readErr)
	}
	if total != size {
		return nil, changedError(name, total, size)
	}
	return descriptor(name, osimage.MediaTypePayloadUncompressed, whole.Sum(nil), total, total, chunkSize, chunks.hashes), nil
}

// processCompressed compresses a payload into one zstd frame on out,
// hashing the chunks as they are read and the blob as it is written.
func processCompressed(name string, in io.Reader, size int64, out io.Writer, opts Options, workers int) (*Descriptor, error) {
	chunkSize := opts.chunkSize()
	enc, err := newEncoder(opts.CompressionLevel, workers)
	if err != nil {
		return nil, fmt.Errorf("payload %q: %w", name, err)
	}
	blob := &blobWriter{w: out, h: sha256.New()}
	src := &hashingReader{r: in, chunks: newChunkHasher(size, chunkSize)}

	if size == 0 {
		// The stream encoder writes no content size for empty input;
		// EncodeAll with zero frames writes a frame that records size 0.
		if _, err := io.Copy(io.Discard, src); err != nil {
			return nil, fmt.Errorf("payload %q: reading: %w", name, err)
		}
		if src.n != 0 {
			return nil, changedError(name, src.n, size)
		}
		if _, err := blob.Write(enc.EncodeAll(nil, nil)); err != nil {
			return nil, fmt.Errorf("payload %q: writing blob: %w", name, err)
		}
		return descriptor(name, osimage.MediaTypePayloadZstd, blob.h.Sum(nil), blob.n, 0, chunkSize, src.chunks.hashes), nil
	}

	enc.ResetContentSize(blob, size)
	_, err = enc.ReadFrom(src)
	// Close also stops the encoder's goroutines after an error.
	cerr := enc.Close()
	switch {
	case src.err != nil:
		return nil, fmt.Errorf("payload %q: reading: %w", name, src.err)
	case blob.err != nil:
		return nil, fmt.Errorf("payload %q: writing blob: %w", name, blob.err)
	case src.n != size:
		return nil, changedError(name, src.n, size)
	case err != nil:
		return nil, fmt.Errorf("payload %q: compressing: %w", name, err)
	case cerr != nil:
		return nil, fmt.Errorf("payload %q: compressing: %w", name, cerr)
	}
	return descriptor(name, osimage.MediaTypePayloadZstd, blob.h.Sum(nil), blob.n, src.n, chunkSize, src.chunks.hashes), nil
}

func changedError(name string, read, size int64) error {
	return fmt.Errorf("payload %q: file changed while reading: read %d bytes, expected %d", name, read, size)
}

func descriptor(name, mediaType string, blobDigest []byte, blobSize, size, chunkSize int64, hashes []string) *Descriptor {
	return &Descriptor{
		Layer: v1.Descriptor{
			MediaType: mediaType,
			Digest:    digest.NewDigestFromBytes(digest.SHA256, blobDigest),
			Size:      blobSize,
		},
		Payload: osimage.PayloadInfo{
			Name:              name,
			Size:              size,
			HashChunkSize:     chunkSize,
			ChunkHashesSHA256: hashes,
		},
	}
}

// chunkHasher computes the sha256 of each consecutive chunkSize piece of
// everything written to it, whatever the sizes of the writes.
type chunkHasher struct {
	chunkSize int64
	pairs     bool      // whole chunks are hashed two at a time with SHA-NI
	partial   hash.Hash // the current incomplete chunk, if partialN > 0
	partialN  int64
	hashes    []string
}

func newChunkHasher(size, chunkSize int64) *chunkHasher {
	return &chunkHasher{
		chunkSize: chunkSize,
		pairs:     useSHANI && shaniChunkSize(chunkSize),
		partial:   sha256.New(),
		hashes:    make([]string, 0, osimage.ChunkCount(size, chunkSize)),
	}
}

func (c *chunkHasher) Write(p []byte) {
	if c.partialN > 0 {
		k := min(int64(len(p)), c.chunkSize-c.partialN)
		c.partial.Write(p[:k])
		c.partialN += k
		p = p[k:]
		if c.partialN < c.chunkSize {
			return
		}
		c.add(c.partial.Sum(nil))
		c.partial.Reset()
		c.partialN = 0
	}
	if whole := int64(len(p)) / c.chunkSize * c.chunkSize; whole > 0 && c.pairs {
		// The encoder reads whole jobs of two chunks, so the chunks pair up
		// (stored_shani.go).
		hashPairs(p[:whole], 0, int(c.chunkSize), func(_ int64, sum []byte) { c.add(sum) })
		p = p[whole:]
	}
	for int64(len(p)) >= c.chunkSize {
		sum := sha256.Sum256(p[:c.chunkSize])
		c.add(sum[:])
		p = p[c.chunkSize:]
	}
	if len(p) > 0 {
		c.partial.Write(p)
		c.partialN = int64(len(p))
	}
}

// finish hashes the last, shorter chunk.
func (c *chunkHasher) finish() {
	if c.partialN > 0 {
		c.add(c.partial.Sum(nil))
		c.partial.Reset()
		c.partialN = 0
	}
}

func (c *chunkHasher) add(sum []byte) {
	c.hashes = append(c.hashes, base64.RawStdEncoding.EncodeToString(sum))
}

// hashingReader feeds everything read through it to a chunkHasher and
// remembers the first read error (the encoder may wrap or drop it).
type hashingReader struct {
	r      io.Reader
	chunks *chunkHasher
	n      int64
	err    error
	done   bool
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.chunks.Write(p[:n])
	h.n += int64(n)
	if err == io.EOF && !h.done {
		h.done = true
		h.chunks.finish()
	} else if err != nil && err != io.EOF && h.err == nil {
		h.err = err
	}
	return n, err
}

// blobWriter writes the blob and hashes and counts it; it remembers the
// first write error.
type blobWriter struct {
	w   io.Writer
	h   hash.Hash
	n   int64
	err error
}

func (b *blobWriter) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.w.Write(p)
	b.h.Write(p[:n])
	b.n += int64(n)
	if err != nil {
		b.err = err
	}
	return n, err
}
