package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
	"github.com/rules-osimage/rules_osimage/pkg/payload"
)

func TestPayloadBadInput(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good", "payload")
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no name", []string{"-file", good}, "-name is required"},
		{"no file", []string{"-name", "a"}, `payload "a": -file is required`},
		{"blob at level 0", []string{"-name", "a", "-file", good, "-compression_level", "0", "-out_blob", "b"}, `payload "a": -out_blob must be absent at compression level 0`},
		{"no blob at level 2", []string{"-name", "a", "-file", good}, `payload "a": -out_blob is required at compression level 2`},
		{"directory", []string{"-name", "kernel.efi", "-file", dir, "-out_blob", filepath.Join(dir, "blob")}, `payload "kernel.efi": ` + dir + " is not a regular file"},
		{"invalid name", []string{"-name", ".a", "-file", good, "-out_blob", filepath.Join(dir, "blob")}, `invalid payload name ".a"`},
		{"level", []string{"-name", "a", "-file", good, "-compression_level", "9", "-out_blob", filepath.Join(dir, "blob")}, `payload "a": compression level 9 out of range`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desc := filepath.Join(t.TempDir(), "desc.json")
			args := append(tc.args, "-out_descriptor", desc)
			err := run(runPayload, args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			if _, err := os.Stat(desc); err == nil {
				t.Error("descriptor written despite the error")
			}
			if _, err := os.Stat(filepath.Join(dir, "blob")); err == nil {
				t.Error("blob left behind")
			}
		})
	}
}

// TestPayloadAssemble runs the Bazel path (one payload action per payload,
// then assemble) and checks it matches build byte for byte, plus the side
// outputs.
func TestPayloadAssemble(t *testing.T) {
	dir := t.TempDir()
	kernel := write(t, dir, "kernel", strings.Repeat("kernel ", 200000))
	system := write(t, dir, "system", strings.Repeat("system\x00", 300000))
	pi := write(t, dir, "pi.json", `{"id": "os", "variant": "aarch64-x"}`)

	built := filepath.Join(dir, "built")
	if err := run(runBuild, "-payload_name", "kernel.efi", "-payload_file", kernel, "-payload_name", "system", "-payload_file", system,
		"-compression_level", "0", "-product_info", pi, "-out", built); err != nil {
		t.Fatal(err)
	}
	built2 := filepath.Join(dir, "built2")
	if err := run(runBuild, "-payload_name", "kernel.efi", "-payload_file", kernel, "-payload_name", "system", "-payload_file", system,
		"-compression_level", "3", "-product_info", pi, "-out", built2); err != nil {
		t.Fatal(err)
	}

	for _, level := range []string{"0", "3"} {
		var assembleArgs []string
		for _, p := range []struct{ name, file string }{{"kernel.efi", kernel}, {"system", system}} {
			desc := filepath.Join(dir, p.name+level+".json")
			blob := p.file
			args := []string{"-name", p.name, "-file", p.file, "-compression_level", level, "-out_descriptor", desc}
			if level != "0" {
				blob = filepath.Join(dir, p.name+level+".zst")
				args = append(args, "-out_blob", blob)
			}
			if err := run(runPayload, args...); err != nil {
				t.Fatal(err)
			}
			if _, err := payload.ReadDescriptor(desc); err != nil {
				t.Fatal(err)
			}
			assembleArgs = append(assembleArgs, "-descriptor", desc, "-blob", blob)
		}
		out := filepath.Join(dir, "assembled"+level)
		if err := os.Mkdir(out, 0o755); err != nil { // as Bazel precreates tree artifacts
			t.Fatal(err)
		}
		digestFile := filepath.Join(dir, "digest"+level)
		descFile := filepath.Join(dir, "manifest"+level+".json")
		params := write(t, dir, "assemble"+level+".params", strings.Join(append([]string{"-out", out, "-product_info", pi,
			"-out_digest", digestFile, "-out_manifest_descriptor", descFile}, assembleArgs...), "\n")+"\n")
		if err := run(runAssemble, "@"+params); err != nil {
			t.Fatal(err)
		}
		want := built
		if level != "0" {
			want = built2
		}
		if a, b := snapshot(t, want), snapshot(t, out); !mapsEqual(a, b) {
			t.Errorf("level %s: assemble output differs from build output:\n%v\n%v", level, a, b)
		}
		img, err := osimage.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		md := img.ManifestDescriptor()
		if got, _ := os.ReadFile(digestFile); string(got) != md.Digest.String() {
			t.Errorf("-out_digest wrote %q, want %q", got, md.Digest)
		}
		var desc v1.Descriptor
		b, _ := os.ReadFile(descFile)
		if err := json.Unmarshal(b, &desc); err != nil || desc.Digest != md.Digest || desc.Size != md.Size || desc.MediaType != v1.MediaTypeImageManifest {
			t.Errorf("-out_manifest_descriptor wrote %s (%v), want %+v", b, err, md)
		}
	}
}

func TestAssembleBadInput(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good", "payload")
	desc := filepath.Join(dir, "desc.json")
	if err := run(runPayload, "-name", "a", "-file", good, "-compression_level", "0", "-out_descriptor", desc); err != nil {
		t.Fatal(err)
	}
	bad := write(t, dir, "bad.json", `{"layer": {}, "payload": {"name": "a"}, "extra": 1}`)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"blob without descriptor", []string{"-blob", good}, "no preceding -descriptor"},
		{"descriptor without blob", []string{"-descriptor", desc}, `-descriptor "` + desc + `" has no -blob`},
		{"bad descriptor", []string{"-descriptor", bad, "-blob", good}, "payload descriptor " + bad + `: json: unknown field "extra"`},
		{"missing descriptor", []string{"-descriptor", filepath.Join(dir, "nope"), "-blob", good}, "reading payload descriptor: open " + filepath.Join(dir, "nope")},
		{"wrong blob", []string{"-descriptor", desc, "-blob", desc}, `payload "a": blob ` + desc + " has"},
		{"duplicate", []string{"-descriptor", desc, "-blob", good, "-descriptor", desc, "-blob", good}, `duplicate payload name "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			err := run(runAssemble, append([]string{"-out", out}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			noLayout(t, out)
		})
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, _ := d.Info()
		m[rel] = info.Mode().String()
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] += " " + digest.FromBytes(b).String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
