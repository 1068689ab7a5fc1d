package osimage_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/rules-osimage/rules_osimage/pkg/builder"
	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

// pattern returns n bytes that differ in every 1 MiB chunk.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x>>24) & 0x3f
	}
	return b
}

var (
	payloadA = pattern(3<<20+512, 1) // three full chunks and a short one
	payloadB = []byte("tiny data!")  // 10 bytes
)

// buildImage builds a layout with payloads "a" and "b" at level and
// returns its directory.
func buildImage(t *testing.T, level int) string {
	t.Helper()
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	b := filepath.Join(dir, "b")
	if err := os.WriteFile(a, payloadA, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, payloadB, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "layout")
	pi := &osimage.ProductInfo{ID: "os", Name: "OS", Version: "1", Variant: "x86_64-test"}
	if _, err := builder.Build(out, []builder.Source{{Name: "a", Path: a}, {Name: "b", Path: b}}, level, pi); err != nil {
		t.Fatal(err)
	}
	return out
}

// copyLayout returns a fresh copy of the layout src.
func copyLayout(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "layout")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

type doc = map[string]any

func readJSON(t *testing.T, p string) doc {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// writeBlob stores b as a blob of the layout and returns its digest.
func writeBlob(t *testing.T, dir string, b []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(b)
	if err := os.WriteFile(osimage.BlobPath(dir, d), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// edit rewrites the config, manifest and index of the layout with
// consistent digests after applying the given edits (any may be nil).
func edit(t *testing.T, dir string, config, manifest, index func(doc)) {
	t.Helper()
	indexPath := filepath.Join(dir, osimage.IndexFile)
	idx := readJSON(t, indexPath)
	md := idx["manifests"].([]any)[0].(doc)
	m := readJSON(t, osimage.BlobPath(dir, digest.Digest(md["digest"].(string))))
	cd := m["config"].(doc)
	c := readJSON(t, osimage.BlobPath(dir, digest.Digest(cd["digest"].(string))))
	if config != nil {
		config(c)
	}
	b, _ := json.Marshal(c)
	cd["digest"], cd["size"] = writeBlob(t, dir, b), len(b)
	if manifest != nil {
		manifest(m)
	}
	b, _ = json.Marshal(m)
	md["digest"], md["size"] = writeBlob(t, dir, b), len(b)
	if index != nil {
		index(idx)
	}
	b, _ = json.Marshal(idx)
	if err := os.WriteFile(indexPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceLayer stores b as the blob of layer i, with a consistent
// descriptor.
func replaceLayer(t *testing.T, dir string, i int, b []byte) {
	t.Helper()
	d := writeBlob(t, dir, b)
	edit(t, dir, nil, func(m doc) {
		l := m["layers"].([]any)[i].(doc)
		l["digest"], l["size"] = d, len(b)
	}, nil)
}

func layerBlob(t *testing.T, dir string, name string) (digest.Digest, []byte) {
	t.Helper()
	img, err := osimage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := img.Layer(name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(osimage.BlobPath(dir, l.Digest))
	if err != nil {
		t.Fatal(err)
	}
	return l.Digest, b
}

func payloadEntry(c doc, i int) doc { return c["payloads"].([]any)[i].(doc) }

// A layout whose index.json lacks the top-level mediaType, as skopeo's oci:
// transport writes it, fails Open with ErrIndexMediaTypeMissing and opens
// with AllowIndexWithoutMediaType; the manifest's mediaType stays required.
func TestOpenIndexWithoutMediaType(t *testing.T) {
	dir := buildImage(t, 2)
	edit(t, dir, nil, nil, func(i doc) { delete(i, "mediaType") })
	if _, err := osimage.Open(dir); !errors.Is(err, osimage.ErrIndexMediaTypeMissing) {
		t.Fatalf("Open: error %v, want ErrIndexMediaTypeMissing", err)
	}
	lenient := osimage.VerifyOptions{Open: osimage.OpenOptions{AllowIndexWithoutMediaType: true}}
	if _, err := osimage.Verify(dir, lenient); err != nil {
		t.Fatalf("Verify with AllowIndexWithoutMediaType: %v", err)
	}
	edit(t, dir, nil, func(m doc) { delete(m, "mediaType") }, nil)
	if _, err := osimage.Verify(dir, lenient); err == nil || !strings.Contains(err.Error(), `manifest sha256:`) {
		t.Fatalf("Verify of a manifest without mediaType: error %v, want one naming the manifest", err)
	}
}

func TestOpenChecks(t *testing.T) {
	zstdImage := buildImage(t, 2)
	tests := []struct {
		name    string
		mutate  func(t *testing.T, dir string)
		wantErr string // "" means Open and Verify succeed
	}{
		{"unmodified", func(t *testing.T, dir string) {}, ""},
		{"unknown fields are ignored", func(t *testing.T, dir string) {
			edit(t, dir, func(c doc) {
				c["future"] = true
				payloadEntry(c, 0)["future"] = 1
				c["product_info"].(doc)["future"] = "x"
			}, func(m doc) {
				m["future"] = []any{}
				m["layers"].([]any)[0].(doc)["annotations"] = doc{"a": "b"}
			}, func(i doc) { i["future"] = "x" })
		}, ""},
		{"layout version", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, osimage.LayoutFile), []byte(`{"imageLayoutVersion": "2.0.0"}`), 0o644)
		}, `imageLayoutVersion "2.0.0"`},
		{"no index", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, osimage.IndexFile))
		}, "index.json: no such file"},
		{"two manifests", func(t *testing.T, dir string) {
			edit(t, dir, nil, nil, func(i doc) {
				ms := i["manifests"].([]any)
				i["manifests"] = append(ms, ms[0])
			})
		}, "2 manifests, want exactly 1"},
		{"manifest media type in index", func(t *testing.T, dir string) {
			edit(t, dir, nil, nil, func(i doc) {
				i["manifests"].([]any)[0].(doc)["mediaType"] = "application/vnd.oci.image.index.v1+json"
			})
		}, `has mediaType "application/vnd.oci.image.index.v1+json"`},
		{"manifest digest", func(t *testing.T, dir string) {
			edit(t, dir, nil, nil, func(i doc) {
				i["manifests"].([]any)[0].(doc)["digest"] = digest.FromString("other").String()
			})
		}, "manifest: blob " + digest.FromString("other").String()},
		{"artifact type", func(t *testing.T, dir string) {
			edit(t, dir, nil, func(m doc) { m["artifactType"] = "application/vnd.example" }, nil)
		}, `artifactType "application/vnd.example"`},
		{"config media type", func(t *testing.T, dir string) {
			edit(t, dir, nil, func(m doc) { m["config"].(doc)["mediaType"] = "application/json" }, nil)
		}, `config mediaType "application/json"`},
		{"config too large", func(t *testing.T, dir string) {
			edit(t, dir, nil, nil, nil)
			// Claim a size over the limit; the reader must not read it.
			idx := readJSON(t, filepath.Join(dir, osimage.IndexFile))
			md := idx["manifests"].([]any)[0].(doc)
			m := readJSON(t, osimage.BlobPath(dir, digest.Digest(md["digest"].(string))))
			m["config"].(doc)["size"] = osimage.MaxConfigSize + 1
			b, _ := json.Marshal(m)
			md["digest"], md["size"] = writeBlob(t, dir, b), len(b)
			b, _ = json.Marshal(idx)
			os.WriteFile(filepath.Join(dir, osimage.IndexFile), b, 0o644)
		}, "exceeds the limit of 52428800 bytes"},
		{"format version", func(t *testing.T, dir string) {
			edit(t, dir, func(c doc) { c["format_version"] = "2" }, nil, nil)
		}, `format_version "2"`},
		{"fewer layers than payloads", func(t *testing.T, dir string) {
			edit(t, dir, nil, func(m doc) { m["layers"] = m["layers"].([]any)[:1] }, nil)
		}, "1 layers but config"},
		{"layer media type", func(t *testing.T, dir string) {
			edit(t, dir, nil, func(m doc) { m["layers"].([]any)[1].(doc)["mediaType"] = "application/x-tar" }, nil)
		}, `payload "b": layer sha256:`},
		{"hash chunk size zero", func(t *testing.T, dir string) {
			edit(t, dir, func(c doc) { payloadEntry(c, 0)["hash_chunk_size"] = 0 }, nil, nil)
		}, `payload "a": hash_chunk_size 0 out of range`},
		{"hash chunk size too large", func(t *testing.T, dir string) {
			edit(t, dir, func(c doc) { payloadEntry(c, 0)["hash_chunk_size"] = 16<<20 + 1 }, nil, nil)
		}, `payload "a": hash_chunk_size 16777217 out of range`},
		{"chunk count", func(t *testing.T, dir string) {
			edit(t, dir, func(c doc) {
				p := payloadEntry(c, 0)
				p["chunk_hashes_sha256"] = p["chunk_hashes_sha256"].([]any)[1:]
			}, nil, nil)
		}, `payload "a": 3 chunk hashes, want 4`},
		{"negative size", func(t *testing.T, dir string) {
			edit(t, dir, func(c doc) { payloadEntry(c, 1)["size"] = -1 }, nil, nil)
		}, `payload "b": negative size`},
		{"duplicate names", func(t *testing.T, dir string) {
			edit(t, dir, func(c doc) { payloadEntry(c, 1)["name"] = "a" }, nil, nil)
		}, `duplicate payload name "a"`},
		{"invalid name", func(t *testing.T, dir string) {
			edit(t, dir, func(c doc) { payloadEntry(c, 1)["name"] = "../b" }, nil, nil)
		}, `invalid payload name "../b"`},
		{"variant outside the build-side character set is read", func(t *testing.T, dir string) {
			// Neither the known reader nor the known producer checks it.
			edit(t, dir, func(c doc) { c["product_info"].(doc)["variant"] = "x86_64-debug build" }, nil, nil)
		}, ""},
		{"index without mediaType", func(t *testing.T, dir string) {
			edit(t, dir, nil, nil, func(i doc) { delete(i, "mediaType") })
		}, `index.json: mediaType missing (the osimage consumer requires it), want "application/vnd.oci.image.index.v1+json"`},
		{"manifest without mediaType", func(t *testing.T, dir string) {
			edit(t, dir, nil, func(m doc) { delete(m, "mediaType") }, nil)
		}, `mediaType "", want "application/vnd.oci.image.manifest.v1+json"`},
		{"config embeds data of the wrong length", func(t *testing.T, dir string) {
			edit(t, dir, nil, func(m doc) { m["config"].(doc)["data"] = base64.StdEncoding.EncodeToString([]byte("{}")) }, nil)
		}, "config: descriptor sha256:"},
		{"layer embeds other data", func(t *testing.T, dir string) {
			edit(t, dir, nil, func(m doc) {
				l := m["layers"].([]any)[1].(doc)
				l["data"] = base64.StdEncoding.EncodeToString(make([]byte, int(l["size"].(float64))))
			}, nil)
		}, `payload "b": layer: descriptor sha256:`},
		{"layer embeds its own data", func(t *testing.T, dir string) {
			_, b := layerBlob(t, dir, "b")
			edit(t, dir, nil, func(m doc) { m["layers"].([]any)[1].(doc)["data"] = base64.StdEncoding.EncodeToString(b) }, nil)
		}, ""},
		{"empty zstd blob for a non-empty payload", func(t *testing.T, dir string) {
			replaceLayer(t, dir, 1, nil)
		}, "truncated: empty blob for a payload of size 10"},
		{"uppercase digest", func(t *testing.T, dir string) {
			edit(t, dir, nil, func(m doc) {
				l := m["layers"].([]any)[1].(doc)
				l["digest"] = strings.ToUpper(l["digest"].(string))
			}, nil)
		}, `payload "b": layer: digest "SHA256:`},
		{"sha512 digest", func(t *testing.T, dir string) {
			edit(t, dir, nil, func(m doc) {
				m["layers"].([]any)[1].(doc)["digest"] = "sha512:" + strings.Repeat("ab", 64)
			}, nil)
		}, "algorithm must be sha256"},
		{"missing layer blob", func(t *testing.T, dir string) {
			d, _ := layerBlob(t, dir, "b")
			os.Remove(osimage.BlobPath(dir, d))
		}, `payload "b": blob sha256:`},
		{"truncated layer blob", func(t *testing.T, dir string) {
			d, b := layerBlob(t, dir, "a")
			os.WriteFile(osimage.BlobPath(dir, d), b[:len(b)-1], 0o644)
		}, "bytes, descriptor says"},
		{"zstd frame without content size", func(t *testing.T, dir string) {
			// The known producer writes these for payloads under 256 bytes.
			enc, _ := zstd.NewWriter(nil, zstd.WithSingleSegment(false))
			replaceLayer(t, dir, 1, enc.EncodeAll(payloadB, nil))
		}, ""},
		{"zstd frame without content size, longer than the payload", func(t *testing.T, dir string) {
			enc, _ := zstd.NewWriter(nil, zstd.WithSingleSegment(false))
			replaceLayer(t, dir, 1, enc.EncodeAll(append(payloadB, '!'), nil))
		}, "payload is longer than its size 10"},
		{"zstd frame without content size, shorter than the payload", func(t *testing.T, dir string) {
			enc, _ := zstd.NewWriter(nil, zstd.WithSingleSegment(false))
			replaceLayer(t, dir, 1, enc.EncodeAll(payloadB[:9], nil))
		}, "truncated"},
		{"zstd content size differs", func(t *testing.T, dir string) {
			enc, _ := zstd.NewWriter(nil, zstd.WithSingleSegment(true))
			replaceLayer(t, dir, 1, enc.EncodeAll(append(payloadB, '!'), nil))
		}, "zstd frame content size 11 differs from payload size 10"},
		{"not zstd", func(t *testing.T, dir string) {
			replaceLayer(t, dir, 1, payloadB)
		}, "invalid zstd frame header"},
		{"zstd truncated", func(t *testing.T, dir string) {
			_, b := layerBlob(t, dir, "a")
			replaceLayer(t, dir, 0, b[:len(b)/2])
		}, `payload "a": blob sha256:`},
		{"zstd trailing garbage", func(t *testing.T, dir string) {
			_, b := layerBlob(t, dir, "b")
			replaceLayer(t, dir, 1, append(b, "garbage"...))
		}, `payload "b": blob sha256:`},
		{"second zstd frame", func(t *testing.T, dir string) {
			_, b := layerBlob(t, dir, "b")
			enc, _ := zstd.NewWriter(nil)
			replaceLayer(t, dir, 1, enc.EncodeAll([]byte("more"), b))
		}, "payload is longer than its size 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyLayout(t, zstdImage)
			tc.mutate(t, dir)
			img, err := osimage.Verify(dir, osimage.VerifyOptions{Payloads: []string{"a", "b"}})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := img.Config().ProductInfo.Architecture(); got != "x86_64" {
					t.Errorf("architecture %q", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), "layout "+dir) {
				t.Errorf("error %q does not name the layout", err)
			}
		})
	}
}

// TestCorruptEveryBlob flips one byte in each blob in turn; verification
// must fail naming that blob.
func TestCorruptEveryBlob(t *testing.T) {
	for _, level := range []int{0, 2} {
		src := buildImage(t, level)
		blobs, err := os.ReadDir(filepath.Join(src, osimage.BlobsDir))
		if err != nil {
			t.Fatal(err)
		}
		if len(blobs) != 4 {
			t.Fatalf("%d blobs, want 4", len(blobs))
		}
		for _, offset := range []string{"first", "middle", "last"} {
			for _, blob := range blobs {
				dir := copyLayout(t, src)
				p := filepath.Join(dir, osimage.BlobsDir, blob.Name())
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				i := map[string]int{"first": 0, "middle": len(b) / 2, "last": len(b) - 1}[offset]
				b[i] ^= 0x01
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				_, err = osimage.Verify(dir, osimage.VerifyOptions{})
				if err == nil {
					t.Errorf("level %d: flipping the %s byte of blob %s: verify passed", level, offset, blob.Name())
				} else if !strings.Contains(err.Error(), "sha256:"+blob.Name()) {
					t.Errorf("level %d: flipping the %s byte of blob %s: error %q does not name it", level, offset, blob.Name(), err)
				}
			}
		}
	}
}

// TestChunkVerifiedBeforeRead corrupts the second chunk of an uncompressed
// payload: the reader hands out exactly the first chunk, then fails.
func TestChunkVerifiedBeforeRead(t *testing.T) {
	dir := copyLayout(t, buildImage(t, 0))
	_, b := layerBlob(t, dir, "a")
	b = bytes.Clone(b)
	b[1<<20+100] ^= 0x20
	replaceLayer(t, dir, 0, b)
	img, err := osimage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := img.Open("a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err == nil || !strings.Contains(err.Error(), `payload "a": blob sha256:`) || !strings.Contains(err.Error(), "chunk 1 ") {
		t.Fatalf("error %v, want a chunk 1 mismatch naming payload and blob", err)
	}
	if !bytes.Equal(got, payloadA[:1<<20]) {
		t.Errorf("read %d bytes before the error, want exactly the first chunk", len(got))
	}
	if _, err2 := r.Read(make([]byte, 10)); err2 == nil {
		t.Error("read after an error succeeded")
	}
}

// TestLastChunkWaitsForBlobDigest changes an uncompressed blob and its
// chunk hash but not the layer digest: the chunk verifies, the blob does
// not, and not one byte of the (single, last) chunk may come out.
func TestLastChunkWaitsForBlobDigest(t *testing.T) {
	dir := copyLayout(t, buildImage(t, 0))
	d, b := layerBlob(t, dir, "b")
	b = bytes.Clone(b)
	b[0] ^= 0x01
	if err := os.WriteFile(osimage.BlobPath(dir, d), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	edit(t, dir, func(c doc) {
		payloadEntry(c, 1)["chunk_hashes_sha256"] = []any{base64.RawStdEncoding.EncodeToString(sum[:])}
	}, nil, nil)
	img, err := osimage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := img.Open("b")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err == nil || len(got) != 0 || !strings.Contains(err.Error(), "content has digest") {
		t.Fatalf("read %q, error %v; want no bytes and a digest error", got, err)
	}
}

func TestVerifyExpectations(t *testing.T) {
	dir := buildImage(t, 1)
	fileA := filepath.Join(t.TempDir(), "a")
	os.WriteFile(fileA, payloadA, 0o644)
	other := filepath.Join(t.TempDir(), "other")
	os.WriteFile(other, append(bytes.Clone(payloadA[:2<<20]), 0xff), 0o644)
	longer := filepath.Join(t.TempDir(), "longer")
	os.WriteFile(longer, append(bytes.Clone(payloadA), 0), 0o644)
	for _, tc := range []struct {
		name    string
		opts    osimage.VerifyOptions
		wantErr string
	}{
		{"all good", osimage.VerifyOptions{
			Payloads: []string{"a", "b"},
			Sizes:    map[string]int64{"b": 10},
			Contents: map[string]string{"a": fileA},
		}, ""},
		{"order", osimage.VerifyOptions{Payloads: []string{"b", "a"}}, `payloads are ["a" "b"], want ["b" "a"]`},
		{"none", osimage.VerifyOptions{Payloads: []string{}}, `want []`},
		{"size", osimage.VerifyOptions{Sizes: map[string]int64{"b": 11}}, `payload "b": size 10, want 11`},
		{"unknown name", osimage.VerifyOptions{Sizes: map[string]int64{"c": 1}}, `payload "c" not in image`},
		{"content", osimage.VerifyOptions{Contents: map[string]string{"a": other}}, `payload "a": content differs from ` + other + " at byte 2097152"},
		{"content longer", osimage.VerifyOptions{Contents: map[string]string{"a": longer}}, `content is shorter than ` + longer},
		{"content missing", osimage.VerifyOptions{Contents: map[string]string{"a": "/nonexistent"}}, `payload "a": expected content: open /nonexistent`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := osimage.Verify(dir, tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseProductInfo(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string
	}{
		{`{"id": "os", "variant": "x86_64-generic", "components": [{"id": "linux", "version": "6"}]}`, ""},
		{`{}`, ""},
		{`{"verison": "1"}`, `unknown field "verison"`},
		{`{"components": [{"id": "a", "vesion": "1"}]}`, `unknown field "vesion"`},
		{`{"id": "os",}`, "product_info: invalid character"},
		{`{"id": 1}`, "product_info: json: cannot unmarshal number"},
		{`null`, "want a JSON object"},
		{`{} {}`, "trailing data"},
		{``, "product_info: EOF"},
		{`{"variant": "x86_64 generic"}`, `invalid variant "x86_64 generic"`},
		// Older product_info files, such as Monogon's test file, carry the
		// architecture next to the variant; the known producer drops it.
		{`{"id": "os", "variant": "x86_64", "architecture": "x86_64"}`, ""},
		{`{"architecture": "x86_64", "architecure": "x86_64"}`, `unknown field "architecure"`},
	} {
		p, err := osimage.ParseProductInfo([]byte(tc.in))
		if tc.wantErr == "" {
			if err != nil || p == nil {
				t.Errorf("%s: %v", tc.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want it to contain %q", tc.in, err, tc.wantErr)
		}
	}
}
