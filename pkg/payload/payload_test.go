package payload

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

// testData returns n deterministic bytes mixing what OS images hold: text,
// runs of zeros, incompressible data and repeated binary records, switching
// every few KiB so that block and job boundaries fall in all of them.
func testData(seed int64, n int) []byte {
	r := rand.New(rand.NewSource(seed))
	words := strings.Fields("package main import fmt func return if err nil for range struct type int string byte error the of and to in")
	var b bytes.Buffer
	b.Grow(n)
	for b.Len() < n {
		seg := 1 + r.Intn(48<<10)
		switch r.Intn(5) {
		case 0:
			for i := 0; i < seg; {
				w := words[r.Intn(len(words))]
				b.WriteString(w)
				b.WriteByte(" \n\t"[r.Intn(3)])
				i += len(w) + 1
			}
		case 1:
			b.Write(make([]byte, seg))
		case 2:
			p := make([]byte, seg)
			r.Read(p)
			b.Write(p)
		case 3:
			rec := make([]byte, 1+r.Intn(64))
			r.Read(rec)
			for i := 0; i < seg; i += len(rec) {
				b.Write(rec)
			}
		case 4:
			// Copy an earlier stretch from up to 2 MiB back, so matches cross
			// job boundaries and reach into the overlap prefix.
			if b.Len() > 0 {
				from := max(0, b.Len()-r.Intn(2<<20))
				p := append([]byte(nil), b.Bytes()[from:min(from+seg, b.Len())]...)
				b.Write(p)
			}
		}
	}
	return b.Bytes()[:n]
}

func writeTemp(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantChunks is the chunk hash list computed the obvious way.
func wantChunks(data []byte, chunkSize int) []string {
	out := []string{}
	for off := 0; off < len(data); off += chunkSize {
		sum := sha256.Sum256(data[off:min(off+chunkSize, len(data))])
		out = append(out, base64.RawStdEncoding.EncodeToString(sum[:]))
	}
	return out
}

// processBytes runs Process on data and returns the descriptor and blob.
func processBytes(t testing.TB, data []byte, opts Options) (*Descriptor, []byte) {
	t.Helper()
	src := writeTemp(t, data)
	blobPath := ""
	if opts.CompressionLevel > 0 {
		blobPath = filepath.Join(t.TempDir(), "blob")
	}
	d, err := Process("rootfs.img", src, blobPath, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if blobPath == "" {
		return d, data
	}
	blob, err := os.ReadFile(blobPath)
	if err != nil {
		t.Fatal(err)
	}
	return d, blob
}

// checkDescriptor checks d and blob against data as a reader would.
func checkDescriptor(t *testing.T, d *Descriptor, blob, data []byte, opts Options) {
	t.Helper()
	chunkSize := int(opts.chunkSize())
	if d.Payload.Size != int64(len(data)) || d.Payload.HashChunkSize != int64(chunkSize) {
		t.Errorf("payload size %d chunk %d, want %d %d", d.Payload.Size, d.Payload.HashChunkSize, len(data), chunkSize)
	}
	if got, want := d.Payload.ChunkHashesSHA256, wantChunks(data, chunkSize); !equal(got, want) {
		t.Errorf("chunk hashes differ: got %d, want %d", len(got), len(want))
	}
	if got := digest.FromBytes(blob); d.Layer.Digest != got || d.Layer.Size != int64(len(blob)) {
		t.Errorf("layer %s/%d, blob is %s/%d", d.Layer.Digest, d.Layer.Size, got, len(blob))
	}
	if opts.CompressionLevel == LevelNone {
		if d.Layer.MediaType != osimage.MediaTypePayloadUncompressed {
			t.Errorf("media type %q", d.Layer.MediaType)
		}
		return
	}
	if d.Layer.MediaType != osimage.MediaTypePayloadZstd {
		t.Errorf("media type %q", d.Layer.MediaType)
	}
	checkFrame(t, blob, data)
}

// checkFrame checks that blob is exactly one zstd frame recording the
// content size and decoding to data, with the stream and buffer decoders.
func checkFrame(t *testing.T, blob, data []byte) {
	t.Helper()
	var h zstd.Header
	if err := h.Decode(blob); err != nil {
		t.Fatalf("frame header: %v", err)
	}
	if !h.HasFCS || h.FrameContentSize != uint64(len(data)) {
		t.Errorf("frame content size %v/%d, want %d", h.HasFCS, h.FrameContentSize, len(data))
	}
	dec, err := zstd.NewReader(bytes.NewReader(blob), zstd.WithDecoderConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	got, err := io.ReadAll(dec)
	if err != nil {
		t.Fatalf("stream decode: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("stream decode: %d bytes differ from the %d input bytes", len(got), len(data))
	}
	// One frame: the frame ends exactly at the end of the blob.
	frames, err := countFrames(blob)
	if err != nil || frames != 1 {
		t.Errorf("blob has %d frames (%v), want 1", frames, err)
	}
}

// countFrames walks the frames and blocks of a zstd stream.
func countFrames(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		var h zstd.Header
		if err := h.Decode(b); err != nil {
			return n, err
		}
		b = b[h.HeaderSize:]
		for {
			if len(b) < 3 {
				return n, io.ErrUnexpectedEOF
			}
			bh := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			last, typ, size := bh&1 == 1, (bh>>1)&3, int(bh>>3)
			if typ == 1 { // RLE block: one byte
				size = 1
			}
			if len(b) < 3+size {
				return n, io.ErrUnexpectedEOF
			}
			b = b[3+size:]
			if last {
				break
			}
		}
		if h.HasCheckSum {
			if len(b) < 4 {
				return n, io.ErrUnexpectedEOF
			}
			b = b[4:]
		}
		n++
	}
	return n, nil
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestChunkBoundaries(t *testing.T) {
	const mib = 1 << 20
	for _, size := range []int{0, 1, mib - 1, mib, mib + 1, 3*mib + 12345} {
		data := testData(int64(size), size)
		for _, level := range []int{LevelNone, LevelFastest, LevelDefault} {
			t.Run(fmt.Sprintf("size=%d/level=%d", size, level), func(t *testing.T) {
				opts := Options{CompressionLevel: level}
				d, blob := processBytes(t, data, opts)
				checkDescriptor(t, d, blob, data, opts)
				if want := osimage.ChunkCount(int64(size), mib); int64(len(d.Payload.ChunkHashesSHA256)) != want {
					t.Errorf("%d chunk hashes, want %d", len(d.Payload.ChunkHashesSHA256), want)
				}
			})
		}
	}
}

func TestOddChunkSizes(t *testing.T) {
	data := testData(7, 5<<20+3)
	for _, cs := range []int64{1000, 4095, 3 << 20, osimage.MaxHashChunkSize} {
		for _, level := range []int{LevelNone, LevelFastest} {
			t.Run(fmt.Sprintf("chunk=%d/level=%d", cs, level), func(t *testing.T) {
				opts := Options{CompressionLevel: level, HashChunkSize: cs}
				d, blob := processBytes(t, data, opts)
				checkDescriptor(t, d, blob, data, opts)
			})
		}
	}
}

// maxJob is the largest job size of the encoder (four windows).
const maxJob = 4 << 20

// Sizes around the encoder's block (64/128 KiB) and job (2 and 4 MiB)
// boundaries, at every level.
func TestRoundTripAroundJobBoundaries(t *testing.T) {
	sizes := []int{2, 255, 256, 1023, 1024, 64<<10 - 1, 64<<10 + 1, 128<<10 + 1,
		maxJob/2 - 1, maxJob / 2, maxJob/2 + 1, maxJob - 1, maxJob, maxJob + 1, 2*maxJob + 64<<10}
	for i, size := range sizes {
		for level := LevelFastest; level <= MaxLevel; level++ {
			if level == LevelBest && size > maxJob+1 {
				continue // sequential and slow; the job logic is not used
			}
			t.Run(fmt.Sprintf("size=%d/level=%d", size, level), func(t *testing.T) {
				data := testData(int64(100+i), size)
				opts := Options{CompressionLevel: level}
				d, blob := processBytes(t, data, opts)
				checkDescriptor(t, d, blob, data, opts)
			})
		}
	}
}

// The blob must not depend on the number of encoder workers, which follows
// GOMAXPROCS.
func TestDeterministicAcrossConcurrency(t *testing.T) {
	data := testData(42, 3*maxJob+777)
	for level := LevelFastest; level <= LevelBetter; level++ {
		t.Run(fmt.Sprintf("level=%d", level), func(t *testing.T) {
			var first []byte
			for _, n := range []int{2, 3, 4, 8} {
				var out bytes.Buffer
				d, err := processCompressed("p", bytes.NewReader(data), int64(len(data)), &out, Options{CompressionLevel: level}, n)
				if err != nil {
					t.Fatal(err)
				}
				if d.Layer.Digest != digest.FromBytes(out.Bytes()) {
					t.Fatalf("concurrency %d: layer digest does not match the blob", n)
				}
				if first == nil {
					first = out.Bytes()
					checkFrame(t, first, data)
				} else if !bytes.Equal(first, out.Bytes()) {
					t.Fatalf("concurrency %d: blob differs from concurrency 2", n)
				}
			}
		})
	}
}

func TestDeterministicAcrossGOMAXPROCS(t *testing.T) {
	data := testData(43, 2*maxJob+99)
	src := writeTemp(t, data)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, level := range []int{LevelNone, LevelFastest, LevelDefault} {
		var first *Descriptor
		for _, procs := range []int{1, 2, 8} {
			runtime.GOMAXPROCS(procs)
			blob := ""
			if level > 0 {
				blob = filepath.Join(t.TempDir(), "blob")
			}
			d, err := Process("p", src, blob, Options{CompressionLevel: level})
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = d
			} else if d.Layer.Digest != first.Layer.Digest || !equal(d.Payload.ChunkHashesSHA256, first.Payload.ChunkHashesSHA256) {
				t.Errorf("level %d: GOMAXPROCS=%d gives layer %s, GOMAXPROCS=1 gave %s", level, procs, d.Layer.Digest, first.Layer.Digest)
			}
		}
	}
}

// The reference decoder must accept the blobs too.
func TestZstdCLIDecodes(t *testing.T) {
	zstdCLI, err := exec.LookPath("zstd")
	if err != nil {
		t.Skip("zstd CLI not installed")
	}
	data := testData(44, 2*maxJob+4321)
	for _, level := range []int{LevelFastest, LevelDefault, LevelBest} {
		_, blob := processBytes(t, data, Options{CompressionLevel: level})
		cmd := exec.Command(zstdCLI, "-d", "-c", "-q")
		cmd.Stdin = bytes.NewReader(blob)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("level %d: zstd -d: %v: %s", level, err, stderr.String())
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("level %d: zstd -d output differs from the input", level)
		}
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

type failingWriter struct{}

func (failingWriter) Write(p []byte) (int, error) { return 0, errors.New("disk full") }

func TestErrorsNamePayload(t *testing.T) {
	dir := t.TempDir()
	file := writeTemp(t, testData(1, 1000))
	readErr := errors.New("input/output error")
	data := testData(2, 5<<20)
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"missing", func() error {
			_, err := Process("kernel.efi", filepath.Join(dir, "nope"), "", Options{})
			return err
		}, "no such file"},
		{"directory", func() error { _, err := Process("kernel.efi", dir, "", Options{}); return err }, "not a regular file"},
		{"level", func() error {
			_, err := Process("kernel.efi", file, filepath.Join(dir, "b"), Options{CompressionLevel: 9})
			return err
		}, "compression level 9"},
		{"blob path", func() error { _, err := Process("kernel.efi", file, "", Options{CompressionLevel: 1}); return err }, "blob path"},
		{"shrunk stored", func() error {
			_, err := processStored("kernel.efi", bytes.NewReader(data), int64(len(data))+1, Options{})
			return err
		}, "file changed"},
		{"shrunk compressed", func() error {
			_, err := processCompressed("kernel.efi", bytes.NewReader(data), int64(len(data))+1, io.Discard, Options{CompressionLevel: 1}, 2)
			return err
		}, "file changed"},
		{"grown compressed", func() error {
			_, err := processCompressed("kernel.efi", bytes.NewReader(data), int64(len(data))-1, io.Discard, Options{CompressionLevel: 1}, 2)
			return err
		}, "file changed"},
		{"read error stored", func() error {
			_, err := processStored("kernel.efi", &failingReader{data[:3<<20], readErr}, int64(len(data)), Options{})
			return err
		}, "input/output error"},
		{"read error compressed", func() error {
			_, err := processCompressed("kernel.efi", &failingReader{data[:3<<20], readErr}, int64(len(data)), io.Discard, Options{CompressionLevel: 1}, 2)
			return err
		}, "input/output error"},
		{"write error", func() error {
			_, err := processCompressed("kernel.efi", bytes.NewReader(data), int64(len(data)), failingWriter{}, Options{CompressionLevel: 1}, 2)
			return err
		}, "disk full"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), `payload "kernel.efi"`) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name the payload and say %q", err, c.want)
			}
		})
	}
}

func TestFailedProcessRemovesBlob(t *testing.T) {
	dir := t.TempDir()
	blob := filepath.Join(dir, "blob")
	if _, err := Process("kernel.efi", dir, blob, Options{CompressionLevel: 1}); err == nil {
		t.Fatal("no error for a directory payload")
	}
	if _, err := os.Stat(blob); !os.IsNotExist(err) {
		t.Errorf("blob left behind: %v", err)
	}
}

func TestDescriptorRoundTrip(t *testing.T) {
	data := testData(3, 3000)
	d, _ := processBytes(t, data, Options{CompressionLevel: 1})
	p := filepath.Join(t.TempDir(), "d.json")
	if err := WriteDescriptor(p, d); err != nil {
		t.Fatal(err)
	}
	got, err := ReadDescriptor(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Layer.Digest != d.Layer.Digest || !equal(got.Payload.ChunkHashesSHA256, d.Payload.ChunkHashesSHA256) {
		t.Errorf("descriptor changed in a round trip")
	}
}

// FuzzRoundTrip compresses generated inputs of fuzzed size and shape and
// checks the frame decodes back. Run briefly with
// go test -run=- -fuzz=FuzzRoundTrip -fuzztime=60s ./pkg/payload
func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(1), uint32(maxJob+1), uint8(1))
	f.Add(int64(2), uint32(128<<10), uint8(2))
	f.Add(int64(3), uint32(0), uint8(1))
	f.Fuzz(func(t *testing.T, seed int64, size uint32, level uint8) {
		n := int(size % (9 * maxJob / 4))
		lvl := 1 + int(level%MaxLevel)
		data := testData(seed, n)
		var out bytes.Buffer
		d, err := processCompressed("p", bytes.NewReader(data), int64(n), &out, Options{CompressionLevel: lvl}, 2)
		if err != nil {
			t.Fatal(err)
		}
		if d.Layer.Digest != digest.FromBytes(out.Bytes()) {
			t.Fatal("layer digest does not match")
		}
		if !equal(d.Payload.ChunkHashesSHA256, wantChunks(data, osimage.DefaultHashChunkSize)) {
			t.Fatal("chunk hashes differ")
		}
		checkFrame(t, out.Bytes(), data)
	})
}
