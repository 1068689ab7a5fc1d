package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

// run runs a verb as main does: param files expanded first.
func run(verb func([]string) error, args ...string) error {
	args, err := expandParamFiles(args)
	if err != nil {
		return err
	}
	return verb(args)
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// noLayout asserts that out holds no complete-looking layout.
func noLayout(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, osimage.IndexFile)); !os.IsNotExist(err) {
		t.Errorf("%s: index.json left behind (stat: %v)", out, err)
	}
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	kernel := write(t, dir, "kernel", strings.Repeat("kernel ", 300000))
	empty := write(t, dir, "empty", "")
	pi := write(t, dir, "pi.json", `{"id": "os", "name": "OS", "version": "1", "variant": "x86_64-test"}`)
	out := filepath.Join(dir, "out")
	if err := run(runBuild, "-payload_name", "kernel.efi", "-payload_file", kernel,
		"-payload_name", "empty", "-payload_file", empty, "-product_info", pi, "-out", out); err != nil {
		t.Fatal(err)
	}
	img, err := osimage.Verify(out, osimage.VerifyOptions{
		Payloads: []string{"kernel.efi", "empty"},
		Contents: map[string]string{"kernel.efi": kernel, "empty": empty},
	})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := img.Layer("kernel.efi"); l.MediaType != osimage.MediaTypePayloadZstd {
		t.Errorf("default level wrote %s, want zstd", l.MediaType)
	}
	if v := img.Config().ProductInfo.Variant; v != "x86_64-test" {
		t.Errorf("variant %q", v)
	}
}

func TestBuildBadInput(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good", "payload")
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	malformed := write(t, dir, "malformed.json", `{"id": "os",`)
	unknown := write(t, dir, "unknown.json", `{"id": "os", "verison": "1"}`)
	aFile := write(t, dir, "a-file", "")
	for _, tc := range []struct {
		name    string
		args    []string // -out is appended unless present
		wantErr string
	}{
		{"invalid name", []string{"-payload_name", "bad/name", "-payload_file", good}, `invalid payload name "bad/name"`},
		{"duplicate name", []string{"-payload_name", "a", "-payload_file", good, "-payload_name", "a", "-payload_file", good}, `duplicate payload name "a"`},
		{"file without name", []string{"-payload_file", good}, `invalid value "` + good + `" for flag -payload_file: no preceding -payload_name`},
		{"two files for one name", []string{"-payload_name", "a", "-payload_file", good, "-payload_file", good}, "no preceding -payload_name"},
		{"name without file", []string{"-payload_name", "a", "-payload_file", good, "-payload_name", "b"}, `-payload_name "b" has no -payload_file`},
		{"two names in a row", []string{"-payload_name", "a", "-payload_name", "b", "-payload_file", good}, `-payload_name "a" has no -payload_file`},
		{"missing file", []string{"-payload_name", "a", "-payload_file", filepath.Join(dir, "nope")}, `payload "a": stat ` + filepath.Join(dir, "nope") + ": no such file"},
		{"directory", []string{"-payload_name", "a", "-payload_file", dir}, `payload "a": ` + dir + " is not a regular file (d"},
		{"fifo", []string{"-payload_name", "a", "-payload_file", fifo}, `payload "a": ` + fifo + " is not a regular file (p"},
		{"level too high", []string{"-payload_name", "a", "-payload_file", good, "-compression_level", "5"}, "compression level 5 out of range"},
		{"level negative", []string{"-payload_name", "a", "-payload_file", good, "-compression_level", "-1"}, "compression level -1 out of range"},
		{"level not a number", []string{"-payload_name", "a", "-payload_file", good, "-compression_level", "best"}, `invalid value "best" for flag -compression_level`},
		{"malformed product_info", []string{"-payload_name", "a", "-payload_file", good, "-product_info", malformed}, malformed + ": product_info: unexpected EOF"},
		{"unknown product_info field", []string{"-payload_name", "a", "-payload_file", good, "-product_info", unknown}, unknown + `: product_info: json: unknown field "verison"`},
		{"missing product_info", []string{"-payload_name", "a", "-payload_file", good, "-product_info", filepath.Join(dir, "nope.json")}, "product_info: open " + filepath.Join(dir, "nope.json")},
		{"no -out", []string{"-payload_name", "a", "-payload_file", good, "-out", ""}, "-out is required"},
		{"out not writable", []string{"-payload_name", "a", "-payload_file", good, "-out", filepath.Join(aFile, "out")}, "output directory: open " + filepath.Join(aFile, "out") + ": not a directory"},
		{"stray argument", []string{"-payload_name", "a", "-payload_file", good, "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"-payload", "a"}, "flag provided but not defined: -payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "-out ") {
				args = append(args, "-out", out)
			}
			err := run(runBuild, args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
			noLayout(t, out)
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s created", out)
			}
		})
	}
}

func TestBuildEmptyPayloadHasNoChunks(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := run(runBuild, "-payload_name", "empty", "-payload_file", write(t, dir, "e", ""), "-compression_level", "4", "-out", out); err != nil {
		t.Fatal(err)
	}
	img, err := osimage.Verify(out, osimage.VerifyOptions{Sizes: map[string]int64{"empty": 0}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(img.Payloads()[0].ChunkHashesSHA256); n != 0 {
		t.Errorf("%d chunk hashes, want 0", n)
	}
}
