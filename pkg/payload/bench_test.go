package payload

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkProcess measures Process on 64 MiB of mixed generated data, with
// the file in the page cache, at levels 0..2. bench/run.sh has the
// end-to-end comparison against the baseline and the zstd CLI.
//
//	go test -run=- -bench=Process -benchtime=3x ./pkg/payload
func BenchmarkProcess(b *testing.B) {
	data := testData(1, 64<<20)
	src := writeTemp(b, data)
	blob := filepath.Join(b.TempDir(), "blob")
	for _, level := range []int{LevelNone, LevelFastest, LevelDefault} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				out := blob
				if level == LevelNone {
					out = ""
				}
				d, err := Process("rootfs.img", src, out, Options{CompressionLevel: level})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(d.Layer.Size)/float64(len(data))*100, "%size")
			}
			os.Remove(blob)
		})
	}
}

// BenchmarkChunkHasher measures the chunk hashes alone, fed in writes of
// 2 MiB, as the encoder reads its jobs (whole chunks, hashed in pairs with
// SHA-NI), and of 300 KiB, which does not divide the chunk size.
func BenchmarkChunkHasher(b *testing.B) {
	data := testData(2, 16<<20)
	for _, write := range []int{2 << 20, 300 << 10} {
		b.Run(fmt.Sprintf("write=%dKiB", write>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				c := newChunkHasher(int64(len(data)), 1<<20)
				for off := 0; off < len(data); off += write {
					c.Write(data[off:min(off+write, len(data))])
				}
				c.finish()
			}
		})
	}
}
