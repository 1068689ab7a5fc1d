package registry

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLayoutAt writes a one-image layout into dir.
func writeLayoutAt(t *testing.T, dir, config string) {
	t.Helper()
	l := newTestLayout(t)
	m, _ := l.image(config, "layer of "+config)
	l.index(m)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(l.dir, dir); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeRunfiles makes a runfiles tree holding layouts in the main repository
// and in an external one (bzlmod canonical name), and points the runfiles
// library at it as a Bazel launcher would.
func fakeRunfiles(t *testing.T) string {
	t.Helper()
	rf := t.TempDir()
	writeLayoutAt(t, filepath.Join(rf, "_main", "examples", "os_image"), `{"repo":"main"}`)
	writeLayoutAt(t, filepath.Join(rf, "rules_osimage+", "examples", "os_image"), `{"repo":"external"}`)
	writeFile(t, filepath.Join(rf, "_main", "examples", "registry.json"), `{"version": 1, "images": [
		{"repository": "os/example", "tag": "latest", "layout": "_main/examples/os_image"},
		{"repository": "os/external", "tag": "v1", "layout": "rules_osimage+/examples/os_image"}
	]}`)
	t.Setenv("RUNFILES_DIR", rf)
	t.Setenv("RUNFILES_MANIFEST_FILE", "")
	t.Setenv("TEST_SRCDIR", "")
	return rf
}

func TestLoadManifestRunfiles(t *testing.T) {
	rf := fakeRunfiles(t)
	for _, tc := range []struct {
		name, path string
	}{
		{"manifest by rlocation path", "_main/examples/registry.json"},
		{"manifest by file path", filepath.Join(rf, "_main", "examples", "registry.json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs, err := LoadManifest(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			want := []Image{
				{"os/example", "latest", filepath.Join(rf, "_main", "examples", "os_image")},
				{"os/external", "v1", filepath.Join(rf, "rules_osimage+", "examples", "os_image")},
			}
			if len(imgs) != len(want) {
				t.Fatalf("LoadManifest: %v, want %v", imgs, want)
			}
			for i := range want {
				if imgs[i] != want[i] {
					t.Errorf("image %d: %+v, want %+v", i, imgs[i], want[i])
				}
			}
		})
	}

	r, err := New(WithManifest("_main/examples/registry.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()
	for _, p := range []string{"/v2/os/example/manifests/latest", "/v2/os/external/manifests/v1"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
	}
}

func TestLoadManifestRelativeLayout(t *testing.T) {
	t.Setenv("RUNFILES_DIR", "")
	t.Setenv("RUNFILES_MANIFEST_FILE", "")
	dir := t.TempDir()
	writeLayoutAt(t, filepath.Join(dir, "layouts", "a"), "{}")
	mf := filepath.Join(dir, "registry.json")
	writeFile(t, mf, `{"version": 1, "images": [{"repository": "a", "tag": "t", "layout": "layouts/a"}]}`)
	imgs, err := LoadManifest(mf)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Layout != filepath.Join(dir, "layouts", "a") {
		t.Errorf("LoadManifest: %+v", imgs)
	}
}

func TestLoadManifestErrors(t *testing.T) {
	fakeRunfiles(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"version", `{"version": 2, "images": []}`, "version 2, want 1"},
		{"json", `{"version": 1,`, "registry manifest"},
		{"no layout", `{"version": 1, "images": [{"repository": "a", "tag": "t"}]}`, "a:t): no layout"},
		{"missing rlocation", `{"version": 1, "images": [{"repository": "a", "tag": "t", "layout": "_main/nope"}]}`, `image a:t: layout "_main/nope"`},
		{"missing absolute", `{"version": 1, "images": [{"repository": "a", "tag": "t", "layout": "/nonexistent/layout"}]}`, "/nonexistent/layout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mf := filepath.Join(dir, tc.name+".json")
			writeFile(t, mf, tc.content)
			_, err := LoadManifest(mf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadManifest: error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := LoadManifest("_main/no/such/registry.json"); err == nil || !strings.Contains(err.Error(), "_main/no/such/registry.json") {
		t.Errorf("LoadManifest of a missing manifest: error %v", err)
	}
}

// TestLoadManifestRunfilesManifestFile resolves layouts through a runfiles
// manifest that lists the files of each tree artifact but not the directory.
func TestLoadManifestRunfilesManifestFile(t *testing.T) {
	out := t.TempDir() // stands for bazel-out
	layout := filepath.Join(out, "examples", "os_image")
	writeLayoutAt(t, layout, "{}")
	mf := filepath.Join(out, "examples", "registry.json")
	writeFile(t, mf, `{"version": 1, "images": [{"repository": "os/example", "tag": "latest", "layout": "_main/examples/os_image"}]}`)
	var lines []string
	lines = append(lines, "_main/examples/registry.json "+mf)
	err := filepath.WalkDir(layout, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(layout, p)
			lines = append(lines, "_main/examples/os_image/"+filepath.ToSlash(rel)+" "+p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(t.TempDir(), "MANIFEST")
	writeFile(t, manifest, strings.Join(lines, "\n")+"\n")
	t.Setenv("RUNFILES_DIR", "")
	t.Setenv("RUNFILES_MANIFEST_FILE", manifest)
	t.Setenv("TEST_SRCDIR", "")

	imgs, err := LoadManifest("_main/examples/registry.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Layout != layout {
		t.Errorf("LoadManifest: %+v, want layout %s", imgs, layout)
	}
}
