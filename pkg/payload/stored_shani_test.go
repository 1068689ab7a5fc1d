package payload

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// TestSHANISelfTest checks that the SHA-NI level-0 path is taken wherever
// the CPU has SHA-NI, so that a failing self-test cannot hide behind the
// fallback.
func TestSHANISelfTest(t *testing.T) {
	if useSHANI != haveSHA2x {
		t.Fatalf("useSHANI = %v with haveSHA2x = %v: the self-test failed", useSHANI, haveSHA2x)
	}
	if !haveSHA2x {
		t.Log("no SHA-NI: level 0 uses the ring of two hashers")
	}
}

// TestSHANIMatchesRing compares the SHA-NI level-0 path with the ring of
// two hashers around block, chunk and buffer boundaries, over enough
// buffers to reuse every slot.
func TestSHANIMatchesRing(t *testing.T) {
	if !useSHANI {
		t.Skip("no SHA-NI")
	}
	data := testData(5, 7*storedBufSize+3<<16+100)
	for _, chunkSize := range []int64{64, 128, 4096, 192 << 10, 768 << 10, 1 << 20} {
		cs := int(chunkSize)
		for _, n := range []int{0, 1, 63, 64, 65, 127, 128, cs - 1, cs, cs + 1, 2*cs - 64, 2 * cs, 3*cs + 55,
			storedBufSize - 1, storedBufSize, storedBufSize + 64, 2*storedBufSize + 1, len(data)} {
			if n < 0 || n > len(data) {
				continue
			}
			t.Run(fmt.Sprintf("chunk=%d/size=%d", chunkSize, n), func(t *testing.T) {
				opts := Options{HashChunkSize: chunkSize}
				got, err := processStoredSHANI("rootfs.img", bytes.NewReader(data[:n]), int64(n), opts)
				if err != nil {
					t.Fatal(err)
				}
				want, err := processStoredRing("rootfs.img", bytes.NewReader(data[:n]), int64(n), opts)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("SHA-NI %+v\nring   %+v", got, want)
				}
			})
		}
	}
}

// TestSHANIChunkSizes checks which chunk sizes take the SHA-NI path; the
// others fall back to the ring.
func TestSHANIChunkSizes(t *testing.T) {
	for cs, want := range map[int64]bool{
		1 << 20: true, 4 << 10: true, 192 << 10: true,
		64: false, 1000: false, 4<<10 + 1: false, 2 << 20: false, 16 << 20: false,
	} {
		if got := shaniChunkSize(cs); got != want {
			t.Errorf("shaniChunkSize(%d) = %v, want %v", cs, got, want)
		}
	}
}

// TestSHANIErrors checks the SHA-NI path's read errors and size checks.
func TestSHANIErrors(t *testing.T) {
	if !useSHANI {
		t.Skip("no SHA-NI")
	}
	data := testData(6, 5<<20)
	readErr := errors.New("input/output error")
	for _, c := range []struct {
		name string
		in   func() *failingReader
		size int64
		want string
	}{
		{"shrunk", nil, int64(len(data)) + 1, "file changed"},
		{"grown", nil, int64(len(data)) - 1, "file changed"},
		{"grown by a chunk", nil, int64(len(data)) - 1<<20, "file changed"},
		{"read error", func() *failingReader { return &failingReader{data[:3<<20], readErr} }, int64(len(data)), "input/output error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.in != nil {
				_, err = processStoredSHANI("kernel.efi", c.in(), c.size, Options{})
			} else {
				_, err = processStoredSHANI("kernel.efi", bytes.NewReader(data), c.size, Options{})
			}
			if err == nil || !strings.Contains(err.Error(), `payload "kernel.efi"`) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one naming the payload and saying %q", err, c.want)
			}
		})
	}
}

// BenchmarkStored compares the two level-0 paths on 64 MiB in memory
// (bench/run.sh has the end-to-end figures).
//
//	go test -run=- -bench=Stored -benchtime=5x ./pkg/payload
func BenchmarkStored(b *testing.B) {
	data := testData(1, 64<<20)
	paths := []struct {
		name string
		run  func(string, io.Reader, int64, Options) (*Descriptor, error)
	}{{"ring", processStoredRing}}
	if useSHANI {
		paths = append(paths, struct {
			name string
			run  func(string, io.Reader, int64, Options) (*Descriptor, error)
		}{"shani", processStoredSHANI})
	}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := p.run("rootfs.img", bytes.NewReader(data), int64(len(data)), Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestChunkHasherPairs checks the chunk hashes of the compressed levels,
// which hash whole chunks in pairs with SHA-NI, against crypto/sha256 for
// writes that start and end on and off chunk boundaries.
func TestChunkHasherPairs(t *testing.T) {
	data := testData(8, 9<<20+100)
	for _, cs := range []int64{4 << 10, 192 << 10, 1 << 20} {
		var want []string
		for off := int64(0); off < int64(len(data)); off += cs {
			sum := sha256.Sum256(data[off:min(off+cs, int64(len(data)))])
			want = append(want, base64.RawStdEncoding.EncodeToString(sum[:]))
		}
		for _, write := range []int{2 << 20, 3 << 20, 1<<20 + 64, 300 << 10, 4096, len(data)} {
			t.Run(fmt.Sprintf("chunk=%d/write=%d", cs, write), func(t *testing.T) {
				c := newChunkHasher(int64(len(data)), cs)
				if c.pairs != useSHANI {
					t.Errorf("pairs = %v with useSHANI = %v", c.pairs, useSHANI)
				}
				for off := 0; off < len(data); off += write {
					c.Write(data[off:min(off+write, len(data))])
				}
				c.finish()
				if !reflect.DeepEqual(c.hashes, want) {
					t.Errorf("chunk hashes differ from crypto/sha256")
				}
			})
		}
	}
}
