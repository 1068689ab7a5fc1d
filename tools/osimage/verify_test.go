package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	kernel := write(t, dir, "kernel", strings.Repeat("k", 3<<20))
	initrd := write(t, dir, "initrd", "initrd")
	longer := write(t, dir, "longer", "initrd and more")
	out := filepath.Join(dir, "out")
	if err := run(runBuild, "-payload_name", "kernel.efi", "-payload_file", kernel, "-payload_name", "initrd", "-payload_file", initrd, "-out", out); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	stdout = &buf
	defer func() { stdout = os.Stdout }()

	// Flags may follow the layout directory.
	if err := run(runVerify, out, "-payloads", "kernel.efi,initrd", "-expect_size", "kernel.efi=3145728", "-expect_content", "initrd="+initrd); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "kernel.efi: OK 3145728 bytes, 3 chunks, application/zstd sha256:") || !strings.HasPrefix(lines[1], "initrd: OK 6 bytes, 1 chunks") {
		t.Errorf("output:\n%s", buf.String())
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"payload order", []string{"-payloads", "initrd,kernel.efi", out}, `layout ` + out + `: payloads are ["kernel.efi" "initrd"], want ["initrd" "kernel.efi"]`},
		{"size", []string{"-expect_size", "initrd=7", out}, `payload "initrd": size 6, want 7`},
		{"bad size flag", []string{"-expect_size", "initrd", out}, `invalid value "initrd" for flag -expect_size: want NAME=BYTES`},
		{"content", []string{"-expect_content", "initrd=" + kernel, out}, `payload "initrd": content differs from ` + kernel + " at byte 0"},
		{"content shorter", []string{"-expect_content", "initrd=" + longer, out}, `payload "initrd": content is shorter than ` + longer},
		{"no layout", []string{}, "want exactly one layout directory, got 0"},
		{"two layouts", []string{out, out}, "want exactly one layout directory, got 2"},
		{"not a layout", []string{dir}, "layout " + dir + ": open " + filepath.Join(dir, "oci-layout")},
		{"index without mediaType", []string{skopeoLike(t, out)}, "mediaType missing (the osimage consumer requires it), want \"application/vnd.oci.image.index.v1+json\"; pass -allow_index_without_media_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(runVerify, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}

	// The same layout with skopeo's index.json verifies when allowed.
	if err := run(runVerify, "-allow_index_without_media_type", skopeoLike(t, out)); err != nil {
		t.Errorf("-allow_index_without_media_type: %v", err)
	}

	// A corrupted payload blob fails naming the payload and the blob.
	img, err := osimage.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := img.Layer("kernel.efi")
	p := osimage.BlobPath(out, l.Digest)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	os.WriteFile(p, b, 0o644)
	err = run(runVerify, out)
	if err == nil || !strings.Contains(err.Error(), `payload "kernel.efi": blob `+l.Digest.String()) {
		t.Fatalf("error %v, want it to name payload kernel.efi and blob %s", err, l.Digest)
	}
}

// skopeoLike copies the layout in dir with index.json rewritten the way
// skopeo's oci: transport writes it: compact, without the top-level
// mediaType, with a ref.name annotation.
func skopeoLike(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "skopeo")
	if err := os.CopyFS(out, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	var index map[string]any
	b, err := os.ReadFile(filepath.Join(out, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatal(err)
	}
	delete(index, "mediaType")
	m := index["manifests"].([]any)[0].(map[string]any)
	m["annotations"] = map[string]any{"org.opencontainers.image.ref.name": "latest"}
	if b, err = json.Marshal(index); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
