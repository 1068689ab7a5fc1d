package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rules-osimage/rules_osimage/pkg/builder"
)

func TestServeFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing to serve", nil, "nothing to serve"},
		{"image without dir", []string{"-image", "os/example:latest"}, "is not REPO:TAG=DIR"},
		{"image without tag", []string{"-image", "os/example=/x"}, "is not REPO:TAG=DIR"},
		{"positional", []string{"-image", "a:b=/x", "extra"}, `unexpected argument "extra"`},
		{"broken layout", []string{"-image", "os/example:latest=" + t.TempDir()}, "image os/example:latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runServe(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("runServe(%q): error %v, want one containing %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestServe starts the verb on port 0, pulls a manifest through the address
// it wrote to -addr_file, and stops it with SIGTERM.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "kernel.efi")
	if err := os.WriteFile(src, []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "layout")
	md, err := builder.Build(layout, []builder.Source{{Name: "kernel.efi", Path: src}}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, "addr")
	errc := make(chan error, 1)
	go func() {
		errc <- runServe([]string{"-image", "os/example:latest=" + layout, "-addr_file", addrFile, "-access_log"})
	}()

	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-errc:
			t.Fatalf("serve exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not write -addr_file within 10s")
		}
		if b, err := os.ReadFile(addrFile); err == nil {
			addr = string(b)
		}
	}

	resp, err := http.Get("http://" + addr + "/v2/os/example/manifests/latest")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != v1.MediaTypeImageManifest ||
		resp.Header.Get("Docker-Content-Digest") != md.Digest.String() {
		t.Errorf("GET manifest: %s, Content-Type %q, digest %q (want %s)", resp.Status,
			resp.Header.Get("Content-Type"), resp.Header.Get("Docker-Content-Digest"), md.Digest)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15s of SIGTERM")
	}
}
