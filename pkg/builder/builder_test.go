package builder

import (
	"bytes"
	"encoding/binary"
	"flag"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
	"github.com/rules-osimage/rules_osimage/pkg/payload"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testData returns n deterministic, somewhat compressible bytes: words
// drawn by a xorshift generator seeded with seed.
func testData(n int, seed uint64) []byte {
	words := []string{"kernel ", "initramfs ", "system ", "0x7f454c46 ", "libc.so.6 ", "\n", "usr/lib/", "\x00\x00\x00\x00", "\xff"}
	x := seed | 1
	var b bytes.Buffer
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if x%5 == 0 {
			var raw [8]byte
			binary.LittleEndian.PutUint64(raw[:], x)
			b.Write(raw[:])
			continue
		}
		b.WriteString(words[x%uint64(len(words))])
	}
	return b.Bytes()[:n]
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var testProductInfo = &osimage.ProductInfo{
	ID:             "com.example.os",
	Name:           "Example OS",
	Version:        "1.2.3",
	Variant:        "x86_64-generic",
	CommitHash:     "0123456789abcdef0123456789abcdef01234567",
	CommitDate:     "2026-01-02T03:04:05Z",
	Components:     []osimage.Component{{ID: "linux", Version: "6.12.1"}},
	BuildTreeDirty: false,
}

// goldenSources writes the payloads of the golden image.
func goldenSources(t *testing.T) []Source {
	dir := t.TempDir()
	return []Source{
		{"kernel.efi", writeFile(t, dir, "kernel", testData(1<<20+4321, 1))},
		{"system", writeFile(t, dir, "system", testData(2<<20+17, 2))},
		{"empty", writeFile(t, dir, "empty", nil)},
		{"tiny", writeFile(t, dir, "tiny", []byte("x"))},
	}
}

// TestGolden pins the bytes of index.json, the manifest and the config,
// and the manifest digest, at levels 0 and 2. Regenerate with
// go test ./pkg/builder -run TestGolden -update.
func TestGolden(t *testing.T) {
	for _, level := range []int{0, 2} {
		t.Run("level"+string(rune('0'+level)), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			md, err := Build(out, goldenSources(t), level, testProductInfo)
			if err != nil {
				t.Fatal(err)
			}
			img, err := osimage.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			m := img.Manifest()
			got := map[string][]byte{
				"index.json":    readFile(t, filepath.Join(out, osimage.IndexFile)),
				"manifest.json": readFile(t, osimage.BlobPath(out, md.Digest)),
				"config.json":   readFile(t, osimage.BlobPath(out, m.Config.Digest)),
				"digest":        []byte(md.Digest.String() + "\n"),
			}
			dir := filepath.Join("testdata", "golden", "level"+string(rune('0'+level)))
			for name, b := range got {
				p := filepath.Join(dir, name)
				if *update {
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, b, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(p)
				if err != nil {
					t.Fatalf("%v (run with -update to create)", err)
				}
				if !bytes.Equal(b, want) {
					t.Errorf("%s differs from %s (run with -update if the change is intended):\n%s", name, p, b)
				}
			}
		})
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// treeOf returns every file and directory under dir with its mode and
// content, for byte-for-byte comparison of layouts.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		entry := fi.Mode().String()
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + digest.FromBytes(b).String()
		}
		tree[rel] = entry
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func equalTrees(t *testing.T, a, b map[string]string) {
	t.Helper()
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %q vs %q", k, v, b[k])
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: missing vs %q", k, v)
		}
	}
}

func TestDeterministicAcrossGOMAXPROCS(t *testing.T) {
	srcs := goldenSources(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var trees []map[string]string
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		out := filepath.Join(t.TempDir(), "out")
		if _, err := Build(out, srcs, 3, testProductInfo); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, treeOf(t, out))
	}
	equalTrees(t, trees[0], trees[1])
	if want := "-rw-r--r--"; trees[0][osimage.IndexFile][:len(want)] != want {
		t.Errorf("index.json mode %s, want %s", trees[0][osimage.IndexFile], want)
	}
	if want := "drwxr-xr-x"; trees[0]["blobs"] != want {
		t.Errorf("blobs mode %s, want %s", trees[0]["blobs"], want)
	}
}

// TestAssembleMatchesBuild checks that one payload action per payload plus
// Assemble (the Bazel path) writes the same layout as Build, into an
// existing empty directory as Bazel precreates it.
func TestAssembleMatchesBuild(t *testing.T) {
	srcs := goldenSources(t)
	tmp := t.TempDir()
	built := filepath.Join(tmp, "built")
	if _, err := Build(built, srcs, 1, testProductInfo); err != nil {
		t.Fatal(err)
	}
	var inputs []Input
	for i, s := range srcs {
		blob := filepath.Join(tmp, "blob"+string(rune('0'+i)))
		d, err := payload.Process(s.Name, s.Path, blob, payload.Options{CompressionLevel: 1})
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, Input{Descriptor: d, BlobPath: blob})
	}
	assembled := filepath.Join(tmp, "assembled")
	if err := os.Mkdir(assembled, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Assemble(assembled, inputs, testProductInfo); err != nil {
		t.Fatal(err)
	}
	equalTrees(t, treeOf(t, built), treeOf(t, assembled))
}

func TestAssembleDedupesBlobs(t *testing.T) {
	dir := t.TempDir()
	data := testData(5000, 7)
	srcs := []Source{{"a", writeFile(t, dir, "a", data)}, {"b", writeFile(t, dir, "b", data)}}
	out := filepath.Join(dir, "out")
	if _, err := Build(out, srcs, 2, nil); err != nil {
		t.Fatal(err)
	}
	img, err := osimage.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	m := img.Manifest()
	if len(m.Layers) != 2 || m.Layers[0].Digest != m.Layers[1].Digest {
		t.Fatalf("layers %v, want two equal ones", m.Layers)
	}
	blobs, err := os.ReadDir(filepath.Join(out, osimage.BlobsDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 3 { // payload, config, manifest
		t.Errorf("%d blobs, want 3", len(blobs))
	}
	for _, name := range []string{"a", "b"} {
		streamEquals(t, img, name, data)
	}
}

func streamEquals(t *testing.T, img *osimage.Image, name string, want []byte) {
	t.Helper()
	r, err := img.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("streaming %s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("payload %s: %d bytes differ from the %d input bytes", name, len(got), len(want))
	}
}

var roundTripSizes = []int{0, 1, 1 << 20, 1<<20 + 1, 7 << 19}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var srcs []Source
	inputs := map[string][]byte{}
	for i, n := range roundTripSizes {
		name := "p" + string(rune('0'+i))
		inputs[name] = testData(n, uint64(i+10))
		srcs = append(srcs, Source{name, writeFile(t, dir, name, inputs[name])})
	}
	for level := 0; level <= payload.MaxLevel; level++ {
		out := filepath.Join(dir, "out"+string(rune('0'+level)))
		if _, err := Build(out, srcs, level, nil); err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		img, err := osimage.Open(out)
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		for i, p := range img.Payloads() {
			if p.Name != srcs[i].Name {
				t.Errorf("level %d: payload %d is %q, want %q", level, i, p.Name, srcs[i].Name)
			}
			if want := osimage.ChunkCount(int64(len(inputs[p.Name])), osimage.DefaultHashChunkSize); int64(len(p.ChunkHashesSHA256)) != want {
				t.Errorf("level %d: payload %s has %d chunks, want %d", level, p.Name, len(p.ChunkHashesSHA256), want)
			}
			streamEquals(t, img, p.Name, inputs[p.Name])
			l, _ := img.Layer(p.Name)
			wantType := osimage.MediaTypePayloadZstd
			if level == 0 {
				wantType = osimage.MediaTypePayloadUncompressed
			}
			if l.MediaType != wantType {
				t.Errorf("level %d: payload %s has media type %s", level, p.Name, l.MediaType)
			}
			if level > 0 {
				checkOneFrame(t, osimage.BlobPath(out, l.Digest), int64(len(inputs[p.Name])))
			}
		}
	}
}

// checkOneFrame asserts that the zstd blob at path is exactly one frame
// whose header records the content size want.
func checkOneFrame(t *testing.T, path string, want int64) {
	t.Helper()
	b := readFile(t, path)
	var h zstd.Header
	if err := h.Decode(b); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if h.Skippable || !h.HasFCS || h.FrameContentSize != uint64(want) {
		t.Errorf("%s: header skippable=%v hasFCS=%v contentSize=%d, want content size %d", path, h.Skippable, h.HasFCS, h.FrameContentSize, want)
	}
	// Walk the blocks (RFC 8878 3.1.1.2) to find where the frame ends.
	off := h.HeaderSize
	for {
		if off+3 > len(b) {
			t.Fatalf("%s: frame truncated at block header %d", path, off)
		}
		bh := uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16
		off += 3
		size := int(bh >> 3)
		if (bh>>1)&3 == 1 { // RLE block: one byte
			size = 1
		}
		off += size
		if bh&1 == 1 {
			break
		}
	}
	if h.HasCheckSum {
		off += 4
	}
	if off != len(b) {
		t.Errorf("%s: first frame ends at %d of %d bytes, want exactly one frame", path, off, len(b))
	}
}

func TestZstdCLIReadsBlobs(t *testing.T) {
	zstdPath, err := exec.LookPath("zstd")
	if err != nil {
		t.Skip("zstd not on PATH")
	}
	dir := t.TempDir()
	for i, n := range []int{0, 1, 3 << 20} {
		data := testData(n, uint64(i+20))
		src := writeFile(t, dir, "in"+string(rune('0'+i)), data)
		blob := filepath.Join(dir, "blob"+string(rune('0'+i)))
		if _, err := payload.Process("p", src, blob, payload.Options{CompressionLevel: 2}); err != nil {
			t.Fatal(err)
		}
		got, err := exec.Command(zstdPath, "-d", "-c", blob).Output()
		if err != nil {
			t.Fatalf("zstd -d of a %d-byte payload: %v", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("zstd -d of a %d-byte payload: got %d bytes that differ", n, len(got))
		}
		if n > 0 {
			// zstd -l reports the decompressed size only from the frame header.
			list, err := exec.Command(zstdPath, "-lv", blob).CombinedOutput()
			if err != nil {
				t.Fatalf("zstd -lv: %v\n%s", err, list)
			}
			if !strings.Contains(string(list), "Decompressed Size:") || strings.Contains(string(list), "Decompressed Size: unknown") {
				t.Errorf("zstd -lv does not see the content size:\n%s", list)
			}
		}
	}
}

// noLayout asserts that no complete-looking layout was left in out.
func noLayout(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, osimage.IndexFile)); !os.IsNotExist(err) {
		t.Errorf("%s left behind (stat: %v)", osimage.IndexFile, err)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		t.Errorf("%s left behind in %s", e.Name(), out)
	}
}

func TestBuildBadInput(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good", []byte("payload"))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	notDir := writeFile(t, dir, "file", nil)
	tests := []struct {
		name    string
		out     string // relative to a fresh temp dir unless absolute
		srcs    []Source
		level   int
		pi      *osimage.ProductInfo
		wantErr string
	}{
		{"invalid name", "out", []Source{{".hidden", good}}, 2, nil, `".hidden"`},
		{"name too long", "out", []Source{{strings.Repeat("a", 81), good}}, 2, nil, "invalid payload name"},
		{"duplicate name", "out", []Source{{"a", good}, {"a", good}}, 2, nil, `duplicate payload name "a"`},
		{"missing file", "out", []Source{{"a", filepath.Join(dir, "nope")}}, 2, nil, `payload "a": stat ` + filepath.Join(dir, "nope")},
		{"directory", "out", []Source{{"a", dir}}, 2, nil, `payload "a": ` + dir + " is not a regular file"},
		{"fifo", "out", []Source{{"a", fifo}}, 2, nil, `payload "a": ` + fifo + " is not a regular file"},
		{"level -1", "out", []Source{{"a", good}}, -1, nil, "compression level -1 out of range"},
		{"level 5", "out", []Source{{"a", good}}, 5, nil, "compression level 5 out of range"},
		{"bad variant", "out", []Source{{"a", good}}, 2, &osimage.ProductInfo{Variant: "x86_64/evil"}, `invalid variant "x86_64/evil"`},
		{"out under a file", filepath.Join(notDir, "out"), []Source{{"a", good}}, 2, nil, "not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out
			if !filepath.IsAbs(out) {
				out = filepath.Join(t.TempDir(), out)
			}
			_, err := Build(out, tc.srcs, tc.level, tc.pi)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			if _, err := os.Stat(out); err == nil {
				noLayout(t, out)
			}
		})
	}
}

func TestBuildOutputDir(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good", []byte("payload"))
	t.Run("not empty", func(t *testing.T) {
		out := t.TempDir()
		writeFile(t, out, "stale", nil)
		_, err := Build(out, []Source{{"a", good}}, 2, nil)
		if err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("error %v, want 'not empty'", err)
		}
	})
	t.Run("parent not writable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			runAsNobody(t)
			return
		}
		parent := t.TempDir()
		if err := os.Chmod(parent, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(parent, 0o755)
		out := filepath.Join(parent, "out")
		_, err := Build(out, []Source{{"a", good}}, 2, nil)
		if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), out) {
			t.Fatalf("error %v, want permission denied naming %s", err, out)
		}
	})
	t.Run("existing empty dir not writable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			runAsNobody(t)
			return
		}
		out := t.TempDir()
		if err := os.Chmod(out, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(out, 0o755)
		_, err := Build(out, []Source{{"a", good}}, 2, nil)
		if err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Fatalf("error %v, want 'not writable'", err)
		}
		noLayout(t, out)
	})
	t.Run("empty payload is valid", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		empty := writeFile(t, t.TempDir(), "empty", nil)
		if _, err := Build(out, []Source{{"empty", empty}}, 2, nil); err != nil {
			t.Fatal(err)
		}
		img, err := osimage.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		// No chunk hashes, written as null as the known producer does.
		if p := img.Payloads()[0]; p.Size != 0 || p.ChunkHashesSHA256 != nil {
			t.Errorf("empty payload: %+v, want size 0 and a null chunk list", p)
		}
		streamEquals(t, img, "empty", nil)
	})
}

// runAsNobody runs the current test in a copy of the test binary as user
// nobody, since root ignores directory permissions.
func runAsNobody(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	for p := dir; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "test.bin")
	if err := os.WriteFile(bin, readFile(t, exe), 0o755); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.Command(bin, "-test.run="+strings.Join(parts, "/"), "-test.v")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=/tmp"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("as nobody: the test did not run:\n%s", out)
	}
}

func TestAssembleRejectsInconsistentInput(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "src", testData(3000, 3))
	d, err := payload.Process("a", src, "", payload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	short := writeFile(t, dir, "short", testData(2999, 3))
	for _, tc := range []struct {
		name    string
		inputs  []Input
		wantErr string
	}{
		{"blob size", []Input{{d, short}}, `payload "a": blob ` + short + " has 2999 bytes, descriptor says 3000"},
		{"missing blob", []Input{{d, filepath.Join(dir, "nope")}}, `payload "a": blob: stat`},
		{"duplicate", []Input{{d, src}, {d, src}}, `duplicate payload name "a"`},
		{"nil descriptor", []Input{{nil, src}}, "input 0: no payload descriptor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			_, err := Assemble(out, tc.inputs, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			noLayout(t, out)
		})
	}
}
