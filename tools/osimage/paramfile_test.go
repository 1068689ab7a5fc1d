package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

func TestExpandParamFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		want    []string
	}{
		{"-a\nb c\n", []string{"-a", "b c"}},
		{"-a\nb", []string{"-a", "b"}},
		{"", nil},
		{"\n", []string{""}},
		{"x\n\ny\n", []string{"x", "", "y"}},
		{"@not-expanded\r\n", []string{"@not-expanded"}},
	} {
		p := write(t, dir, "params", tc.content)
		got, err := expandParamFiles([]string{"first", "@" + p, "last"})
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]string{"first"}, tc.want...), "last")
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", tc.content, got, want)
		}
	}
	missing := filepath.Join(dir, "missing.params")
	_, err := expandParamFiles([]string{"@" + missing})
	if err == nil || !strings.Contains(err.Error(), "param file: open "+missing) {
		t.Errorf("error %v, want it to name %s", err, missing)
	}
}

func TestBuildFromParamFile(t *testing.T) {
	dir := t.TempDir()
	kernel := write(t, dir, "kernel with space", "kernel")
	out := filepath.Join(dir, "out")
	params := write(t, dir, "build.params", strings.Join([]string{
		"-payload_name", "kernel.efi", "-payload_file", kernel, "-compression_level", "0", "-out", out,
	}, "\n")+"\n")
	if err := run(runBuild, "@"+params); err != nil {
		t.Fatal(err)
	}
	if _, err := osimage.Verify(out, osimage.VerifyOptions{Contents: map[string]string{"kernel.efi": kernel}}); err != nil {
		t.Fatal(err)
	}
}
