package registry

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bazelbuild/rules_go/go/runfiles"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rules-osimage/rules_osimage/pkg/internal/fileutil"
)

// ManifestVersion is the only local-registry manifest version understood.
const ManifestVersion = 1

// Manifest is a local-registry manifest file, as written by the
// oci_local_registry rule:
//
//	{"version": 1, "images": [{"repository": "os/example", "tag": "latest", "layout": "_main/examples/os_image"}]}
type Manifest struct {
	Version int     `json:"version"`
	Images  []Image `json:"images"`
}

// LoadManifest reads a local-registry manifest and returns its images with
// Layout resolved to a directory.
//
// path is used as given if it exists, and is otherwise looked up as a
// runfiles rlocation path. Each layout is used as given if it is absolute, or
// if it exists relative to the manifest's directory; otherwise it is a
// runfiles rlocation path ("<repository>/<path>", e.g.
// "_main/examples/os_image" or "rules_osimage+/examples/os_image"), resolved
// with rules_go's runfiles library, which honours RUNFILES_DIR,
// RUNFILES_MANIFEST_FILE and the repository mapping of Bazel launchers.
func LoadManifest(path string) ([]Image, error) {
	var rf *runfiles.Runfiles
	var rfErr error
	rlocation := func(p string) (string, error) {
		if rf == nil && rfErr == nil {
			rf, rfErr = runfiles.New()
		}
		if rfErr != nil {
			return "", fmt.Errorf("%q does not exist and runfiles are not available: %w", p, rfErr)
		}
		r, err := rf.Rlocation(p)
		if err != nil {
			return "", fmt.Errorf("resolving %q in runfiles: %w", p, err)
		}
		if _, err := os.Stat(r); err != nil {
			return "", fmt.Errorf("%q resolved in runfiles to %s: %w", p, r, err)
		}
		return r, nil
	}
	// rlocationDir resolves a layout directory. A runfiles manifest may list
	// only the files of a tree artifact, not the directory: then the layout
	// is where its index.json is.
	rlocationDir := func(p string) (string, error) {
		r, err := rlocation(p)
		if err == nil || rf == nil {
			return r, err
		}
		if idx, ierr := rlocation(p + "/" + v1.ImageIndexFile); ierr == nil {
			return filepath.Dir(idx), nil
		}
		return "", err
	}

	resolved := path
	if _, err := os.Stat(path); err != nil {
		if filepath.IsAbs(path) {
			return nil, fmt.Errorf("registry manifest: %w", err)
		}
		if resolved, err = rlocation(path); err != nil {
			return nil, fmt.Errorf("registry manifest: %w", err)
		}
	}
	data, err := fileutil.ReadLimited(resolved, 16<<20)
	if err != nil {
		return nil, fmt.Errorf("registry manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("registry manifest %s: %w", resolved, err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("registry manifest %s: version %d, want %d", resolved, m.Version, ManifestVersion)
	}
	dir := filepath.Dir(resolved)
	imgs := make([]Image, 0, len(m.Images))
	for i, img := range m.Images {
		if img.Layout == "" {
			return nil, fmt.Errorf("registry manifest %s: image %d (%s): no layout", resolved, i, img)
		}
		layout := img.Layout
		if filepath.IsAbs(layout) {
			if _, err := os.Stat(layout); err != nil {
				return nil, fmt.Errorf("registry manifest %s: image %s: %w", resolved, img, err)
			}
		} else if p := filepath.Join(dir, layout); exists(p) {
			layout = p
		} else if layout, err = rlocationDir(img.Layout); err != nil {
			return nil, fmt.Errorf("registry manifest %s: image %s: layout %w", resolved, img, err)
		}
		img.Layout = layout
		imgs = append(imgs, img)
	}
	return imgs, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
