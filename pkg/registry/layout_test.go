package registry

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// testLayout writes minimal OCI image layouts by hand, so these tests do not
// depend on the builder.
type testLayout struct {
	t   *testing.T
	dir string
}

func newTestLayout(t *testing.T) *testLayout {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := &testLayout{t: t, dir: dir}
	l.writeFile(v1.ImageLayoutFile, []byte(`{"imageLayoutVersion": "1.0.0"}`+"\n"))
	return l
}

func (l *testLayout) writeFile(name string, data []byte) {
	l.t.Helper()
	if err := os.WriteFile(filepath.Join(l.dir, name), data, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// blob stores data and returns its descriptor.
func (l *testLayout) blob(mediaType string, data []byte) v1.Descriptor {
	l.t.Helper()
	d := digest.FromBytes(data)
	l.writeFile(filepath.Join("blobs", "sha256", d.Encoded()), data)
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func (l *testLayout) json(mediaType string, v any) (v1.Descriptor, []byte) {
	l.t.Helper()
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		l.t.Fatal(err)
	}
	return l.blob(mediaType, data), data
}

// image stores a config, the given layers and a manifest; it returns the
// manifest's descriptor and bytes.
func (l *testLayout) image(config string, layers ...string) (v1.Descriptor, []byte) {
	l.t.Helper()
	m := v1.Manifest{
		MediaType: v1.MediaTypeImageManifest,
		Config:    l.blob("application/vnd.example.config+json", []byte(config)),
	}
	m.SchemaVersion = 2
	for _, layer := range layers {
		m.Layers = append(m.Layers, l.blob("application/octet-stream", []byte(layer)))
	}
	return l.json(v1.MediaTypeImageManifest, m)
}

// index writes index.json listing ds and returns its bytes.
func (l *testLayout) index(ds ...v1.Descriptor) []byte {
	l.t.Helper()
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: ds}
	idx.SchemaVersion = 2
	data, err := json.MarshalIndent(idx, "", "\t")
	if err != nil {
		l.t.Fatal(err)
	}
	l.writeFile(v1.ImageIndexFile, data)
	return data
}

func TestLoadLayoutErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(l *testLayout)
		want  string
	}{
		{
			name: "missing layer",
			setup: func(l *testLayout) {
				m, _ := l.image("{}", "layer-one")
				l.index(m)
				os.Remove(filepath.Join(l.dir, "blobs", "sha256", digest.FromString("layer-one").Encoded()))
			},
			want: "blob " + digest.FromString("layer-one").String(),
		},
		{
			name: "layer size mismatch",
			setup: func(l *testLayout) {
				m, _ := l.image("{}", "layer-one")
				l.index(m)
				l.writeFile(filepath.Join("blobs", "sha256", digest.FromString("layer-one").Encoded()), []byte("layer-one+"))
			},
			want: "size 10, descriptor says 9",
		},
		{
			name: "config digest mismatch",
			setup: func(l *testLayout) {
				m, _ := l.image(`{"a":1}`, "x")
				l.index(m)
				l.writeFile(filepath.Join("blobs", "sha256", digest.FromString(`{"a":1}`).Encoded()), []byte(`{"a":2}`))
			},
			want: "does not match its digest",
		},
		{
			name: "manifest digest mismatch",
			setup: func(l *testLayout) {
				m, data := l.image("{}", "x")
				l.index(m)
				data[len(data)-2] = ' '
				l.writeFile(filepath.Join("blobs", "sha256", m.Digest.Encoded()), data)
			},
			want: "content has digest",
		},
		{
			name: "missing manifest",
			setup: func(l *testLayout) {
				l.index(v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromString("nope"), Size: 4})
			},
			want: "manifest " + digest.FromString("nope").String(),
		},
		{
			name:  "no index.json",
			setup: func(l *testLayout) {},
			want:  "index.json",
		},
		{
			name: "empty index",
			setup: func(l *testLayout) {
				l.index()
			},
			want: "lists no manifests",
		},
		{
			name: "index lists only a plain blob",
			setup: func(l *testLayout) {
				l.index(l.blob("application/vnd.example.thing", []byte("thing")))
			},
			want: "is not a manifest or index",
		},
		{
			name: "bad oci-layout",
			setup: func(l *testLayout) {
				m, _ := l.image("{}", "x")
				l.index(m)
				l.writeFile(v1.ImageLayoutFile, []byte(`{"imageLayoutVersion": "2"}`))
			},
			want: "imageLayoutVersion",
		},
		{
			name: "invalid digest in index",
			setup: func(l *testLayout) {
				l.index(v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: "sha256:../../etc/passwd", Size: 4})
			},
			want: "sha256:../../etc/passwd",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLayout(t)
			tc.setup(l)
			_, err := New(WithImage("os/example", "latest", l.dir))
			if err == nil {
				t.Fatal("New succeeded on a broken layout")
			}
			if !strings.Contains(err.Error(), "image os/example:latest") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the image and %q", err, tc.want)
			}
		})
	}
}

func TestAddImageErrors(t *testing.T) {
	l := newTestLayout(t)
	m, _ := l.image("{}", "x")
	l.index(m)
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"duplicate tag", []Option{WithImage("os/a", "v1", l.dir), WithImage("os/a", "v1", l.dir)}, "listed more than once"},
		{"invalid name", []Option{WithImage("OS/a", "v1", l.dir)}, "invalid repository name"},
		{"invalid tag", []Option{WithImage("os/a", "-v1", l.dir)}, "invalid tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Same layout under two tags and two repositories is fine.
	r, err := New(WithImage("os/a", "v1", l.dir), WithImage("os/a", "v2", l.dir), WithImage("os/b", "v1", l.dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(r.Images()); got != 3 {
		t.Errorf("Images: %d, want 3", got)
	}
}
