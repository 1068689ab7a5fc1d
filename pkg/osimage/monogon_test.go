package osimage_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rules-osimage/rules_osimage/pkg/builder"
	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

var update = flag.Bool("update", false, "regenerate testdata/monogon with the model of Monogon's producer")

// This file checks compatibility with Monogon's OS image producer
// (osbase/build/mkoci) and reader (osbase/oci, osbase/oci/osimage); see
// docs/format.md. mkociLayout models that producer from its observable
// behaviour; testdata/monogon holds layouts it wrote, committed so that the
// reader test does not depend on the model staying in step with the reader.

// monogonProductInfo is a product_info file as Monogon's build writes them:
// it carries the legacy "architecture" field, and its name needs HTML
// escaping, which Go's json.MarshalIndent applies.
const monogonProductInfo = `{
	"id": "exampleos",
	"name": "Example OS <dev> & friends",
	"version": "0.1.0",
	"variant": "x86_64-debug",
	"architecture": "x86_64",
	"commit_hash": "89abcdef0123456789abcdef0123456789abcdef",
	"commit_date": "2026-02-03T04:05:06Z",
	"build_tree_dirty": true,
	"components": []
}
`

type monogonPayload struct {
	name string
	size int
}

// The zstd layout covers every frame shape the producer writes: a frame
// written block by block with the content size (kernel.efi, two chunks), a
// one-block frame that records the content size (small), one that does not
// (tiny, under 256 bytes), and no frame at all (empty).
var (
	monogonZstdPayloads         = []monogonPayload{{"kernel.efi", 1<<20 + 300<<10}, {"small", 700}, {"tiny", 100}, {"empty", 0}}
	monogonUncompressedPayloads = []monogonPayload{{"kernel.efi", 3000}, {"tiny", 100}, {"empty", 0}}
)

// monogonContent returns the deterministic content of a test payload:
// highly compressible, with every 4 KiB block (so every chunk) different.
func monogonContent(name string, size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%s block %08d\n", name, i)
		b.Write(make([]byte, 4096-len(name)-16))
	}
	return b.Bytes()[:size]
}

// monogonConfig is the producer's config type: product_info is a struct
// value, so it is always written.
type monogonConfig struct {
	FormatVersion string                `json:"format_version"`
	ProductInfo   osimage.ProductInfo   `json:"product_info"`
	Payloads      []osimage.PayloadInfo `json:"payloads"`
}

func marshalLikeMkoci(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// mkociLayout writes the payloads to the empty directory dir the way
// Monogon's producer does: 1 MiB chunks; level 0 links each blob to its
// payload file with a relative symlink; levels 1..4 compress each payload
// with klauspost's zstd at that EncoderLevel and otherwise default options
// (of v1.17, the version Monogon pins: no frame for empty input), the
// content size set with ResetContentSize and the payload written in 1 MiB
// pieces; JSON documents are json.MarshalIndent with tabs plus a newline;
// index.json lists the manifest with the config media type as artifactType.
func mkociLayout(t *testing.T, dir string, level int, productInfo string, names []string, paths []string) {
	t.Helper()
	var pi osimage.ProductInfo
	if err := json.Unmarshal([]byte(productInfo), &pi); err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := monogonConfig{FormatVersion: "1", ProductInfo: pi}
	var layers []v1.Descriptor
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		info := osimage.PayloadInfo{Name: names[i], Size: int64(len(data)), HashChunkSize: 1 << 20}
		for rest := data; len(rest) > 0; {
			chunk := rest[:min(len(rest), 1<<20)]
			sum := sha256.Sum256(chunk)
			info.ChunkHashesSHA256 = append(info.ChunkHashesSHA256, base64.RawStdEncoding.EncodeToString(sum[:]))
			rest = rest[len(chunk):]
		}
		cfg.Payloads = append(cfg.Payloads, info)
		if level == 0 {
			d := digest.FromBytes(data)
			rel, err := filepath.Rel(blobs, p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(rel, filepath.Join(blobs, d.Encoded())); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
			layers = append(layers, v1.Descriptor{MediaType: osimage.MediaTypePayloadUncompressed, Digest: d, Size: int64(len(data))})
			continue
		}
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevel(level)), zstd.WithZeroFrames(false))
		if err != nil {
			t.Fatal(err)
		}
		var blob bytes.Buffer
		enc.ResetContentSize(&blob, int64(len(data)))
		for rest := data; len(rest) > 0; {
			chunk := rest[:min(len(rest), 1<<20)]
			if _, err := enc.Write(chunk); err != nil {
				t.Fatal(err)
			}
			rest = rest[len(chunk):]
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		d := writeFileBlob(t, blobs, blob.Bytes())
		layers = append(layers, v1.Descriptor{MediaType: osimage.MediaTypePayloadZstd, Digest: d, Size: int64(blob.Len())})
	}
	cb := marshalLikeMkoci(t, &cfg)
	manifest := v1.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    v1.MediaTypeImageManifest,
		ArtifactType: osimage.ArtifactType,
		Config:       v1.Descriptor{MediaType: osimage.ConfigMediaType, Digest: writeFileBlob(t, blobs, cb), Size: int64(len(cb))},
		Layers:       layers,
	}
	mb := marshalLikeMkoci(t, &manifest)
	index := v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType:    v1.MediaTypeImageManifest,
			ArtifactType: osimage.ConfigMediaType,
			Digest:       writeFileBlob(t, blobs, mb),
			Size:         int64(len(mb)),
		}},
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), marshalLikeMkoci(t, &index), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion": "1.0.0"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFileBlob(t *testing.T, blobs string, b []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(b)
	if err := os.WriteFile(filepath.Join(blobs, d.Encoded()), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// writePayloads writes the payload files into dir and returns names and paths.
func writePayloads(t *testing.T, dir string, payloads []monogonPayload) (names, paths []string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range payloads {
		path := filepath.Join(dir, p.name)
		if err := os.WriteFile(path, monogonContent(p.name, p.size), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, p.name)
		paths = append(paths, path)
	}
	return names, paths
}

const monogonTestdata = "testdata/monogon"

// regenerateMonogonTestdata rewrites testdata/monogon: payloads/ holds the
// uncompressed layout's payload files, its blobs link to them.
func regenerateMonogonTestdata(t *testing.T) {
	if err := os.RemoveAll(monogonTestdata); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(monogonTestdata, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(monogonTestdata, "product_info.json"), []byte(monogonProductInfo), 0o644); err != nil {
		t.Fatal(err)
	}
	names, paths := writePayloads(t, filepath.Join(monogonTestdata, "payloads"), monogonUncompressedPayloads)
	mkociLayout(t, filepath.Join(monogonTestdata, "uncompressed"), 0, monogonProductInfo, names, paths)
	names, paths = writePayloads(t, t.TempDir(), monogonZstdPayloads)
	mkociLayout(t, filepath.Join(monogonTestdata, "zstd"), 2, monogonProductInfo, names, paths)
}

// TestReadsMonogonLayouts reads layouts in the exact shape of Monogon's
// producer, including its small-payload zstd frames and symlinked blobs.
func TestReadsMonogonLayouts(t *testing.T) {
	if *update {
		regenerateMonogonTestdata(t)
	}
	for _, tc := range []struct {
		layout   string
		payloads []monogonPayload
	}{
		{"zstd", monogonZstdPayloads},
		{"uncompressed", monogonUncompressedPayloads},
	} {
		t.Run(tc.layout, func(t *testing.T) {
			dir := filepath.Join(monogonTestdata, tc.layout)
			names, paths := writePayloads(t, t.TempDir(), tc.payloads)
			contents := make(map[string]string)
			for i, n := range names {
				contents[n] = paths[i]
			}
			img, err := osimage.Verify(dir, osimage.VerifyOptions{Payloads: names, Contents: contents})
			if err != nil {
				t.Fatal(err)
			}
			pi := img.Config().ProductInfo
			if pi == nil || pi.Name != "Example OS <dev> & friends" || pi.Architecture() != "x86_64" || pi.Components == nil {
				t.Errorf("product_info %+v", pi)
			}
			if md := img.ManifestDescriptor(); md.ArtifactType != osimage.ConfigMediaType {
				t.Errorf("index.json lists the manifest with artifactType %q", md.ArtifactType)
			}
			for _, p := range tc.payloads {
				l, err := img.Layer(p.name)
				if err != nil {
					t.Fatal(err)
				}
				blob := osimage.BlobPath(dir, l.Digest)
				if tc.layout == "uncompressed" {
					if fi, err := os.Lstat(blob); err != nil || fi.Mode().Type() != os.ModeSymlink {
						t.Errorf("%s: blob %s is not a symlink (%v)", p.name, blob, err)
					}
					continue
				}
				checkMonogonFrame(t, p, blob)
			}
		})
	}
}

// checkMonogonFrame asserts the frame shape the testdata is there for, so
// that a regeneration cannot silently drop a case.
func checkMonogonFrame(t *testing.T, p monogonPayload, blob string) {
	t.Helper()
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	if p.size == 0 {
		if len(b) != 0 {
			t.Errorf("%s: blob has %d bytes, want an empty blob", p.name, len(b))
		}
		return
	}
	var h zstd.Header
	if err := h.Decode(b); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	if wantFCS := p.size >= 256; h.HasFCS != wantFCS {
		t.Errorf("%s: frame header records the content size: %v, want %v", p.name, h.HasFCS, wantFCS)
	}
}

// TestBuildMatchesMonogonProducer builds the same payloads with the builder
// and with the model of Monogon's producer: at level 0 every document and
// blob is the same (the blobs are copies instead of symlinks); at level 2
// the config is the same and the manifest differs only in layer digests
// and sizes (the zstd encoder settings differ, see docs/format.md).
func TestBuildMatchesMonogonProducer(t *testing.T) {
	dir := t.TempDir()
	names, paths := writePayloads(t, filepath.Join(dir, "payloads"), monogonZstdPayloads)
	pi, err := osimage.ParseProductInfo([]byte(monogonProductInfo))
	if err != nil {
		t.Fatal(err)
	}
	var sources []builder.Source
	for i := range names {
		sources = append(sources, builder.Source{Name: names[i], Path: paths[i]})
	}
	for _, level := range []int{0, 2} {
		t.Run(fmt.Sprint("level", level), func(t *testing.T) {
			ours := filepath.Join(dir, fmt.Sprint("ours", level))
			theirs := filepath.Join(dir, fmt.Sprint("theirs", level))
			if _, err := builder.Build(ours, sources, level, pi); err != nil {
				t.Fatal(err)
			}
			mkociLayout(t, theirs, level, monogonProductInfo, names, paths)
			a, b := layoutFiles(t, ours), layoutFiles(t, theirs)
			if level == 0 {
				if !slices.Equal(sortedKeys(a), sortedKeys(b)) {
					t.Fatalf("files differ:\nours   %q\ntheirs %q", sortedKeys(a), sortedKeys(b))
				}
				for name := range a {
					if !bytes.Equal(a[name], b[name]) {
						t.Errorf("%s differs:\nours\n%s\ntheirs\n%s", name, a[name], b[name])
					}
				}
				return
			}
			for _, name := range []string{"oci-layout", configPath(t, ours)} {
				if !bytes.Equal(a[name], b[name]) {
					t.Errorf("%s differs:\nours\n%s\ntheirs\n%s", name, a[name], b[name])
				}
			}
			ma, mb := manifestOf(t, ours), manifestOf(t, theirs)
			for i := range ma.Layers {
				ma.Layers[i].Digest, ma.Layers[i].Size = "", 0
				mb.Layers[i].Digest, mb.Layers[i].Size = "", 0
			}
			if x, y := marshalLikeMkoci(t, ma), marshalLikeMkoci(t, mb); !bytes.Equal(x, y) {
				t.Errorf("manifests differ beyond layer digests and sizes:\nours\n%s\ntheirs\n%s", x, y)
			}
		})
	}
}

// layoutFiles maps the relative path of every file of a layout (following
// symlinks) to its content.
func layoutFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	for _, rel := range []string{"oci-layout", "index.json"} {
		files[rel] = readAll(t, filepath.Join(dir, rel))
	}
	entries, err := os.ReadDir(filepath.Join(dir, osimage.BlobsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		rel := osimage.BlobsDir + "/" + e.Name()
		files[rel] = readAll(t, filepath.Join(dir, rel))
	}
	return files
}

func readAll(t *testing.T, p string) []byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sortedKeys(m map[string][]byte) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func manifestOf(t *testing.T, dir string) v1.Manifest {
	t.Helper()
	img, err := osimage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return img.Manifest()
}

func configPath(t *testing.T, dir string) string {
	t.Helper()
	return osimage.BlobsDir + "/" + manifestOf(t, dir).Config.Digest.Encoded()
}
