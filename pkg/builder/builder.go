// Package builder writes OS images as OCI image layouts in the osimage v1
// format: Assemble puts processed payloads (see package payload) together
// into a layout, Build does the whole job from payload files.
//
// Output is deterministic (no timestamps, no annotations, fixed file modes)
// and atomic: a layout only looks complete (has index.json) once every
// other file of it is in place, and every error path removes what was
// written.
package builder

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
	"github.com/rules-osimage/rules_osimage/pkg/payload"
)

// File modes of everything the builder writes.
const (
	fileMode = 0o644
	dirMode  = 0o755
)

// layoutMarker is the content of the oci-layout file, as the known
// producer writes it.
const layoutMarker = `{"imageLayoutVersion": "` + osimage.LayoutVersion + `"}` + "\n"

// Input is one processed payload to assemble.
type Input struct {
	// Descriptor is the payload's descriptor from payload.Process.
	Descriptor *payload.Descriptor
	// BlobPath holds the layer blob: the zstd blob, or for an uncompressed
	// layer the payload file itself.
	BlobPath string
}

// Source is one payload file to build.
type Source struct {
	// Name is the payload name; see osimage.ValidatePayloadName.
	Name string
	// Path is the payload file; it must be a regular file.
	Path string
}

// Assemble writes an OS image layout to outDir from processed payloads, in
// the given order, and returns the descriptor of the image manifest.
// outDir must not exist or be an empty directory (as Bazel precreates a
// tree artifact). productInfo may be nil.
func Assemble(outDir string, inputs []Input, productInfo *osimage.ProductInfo) (v1.Descriptor, error) {
	if err := checkInputs(inputs, productInfo); err != nil {
		return v1.Descriptor{}, err
	}
	w, err := begin(outDir)
	if err != nil {
		return v1.Descriptor{}, err
	}
	md, err := w.assemble(inputs, productInfo, false)
	if err != nil {
		w.abort()
		return v1.Descriptor{}, err
	}
	return md, nil
}

// Build processes the payload files with the given compression level
// (0 none, 1..4 zstd fastest..best) and writes an OS image layout to
// outDir, as Assemble does. Payloads are processed concurrently; the
// output does not depend on the concurrency. Invalid or duplicate names
// and payload files that are not regular files are rejected before
// anything is written.
func Build(outDir string, sources []Source, level int, productInfo *osimage.ProductInfo) (v1.Descriptor, error) {
	opts := payload.Options{CompressionLevel: level}
	if err := opts.Validate(); err != nil {
		return v1.Descriptor{}, err
	}
	if productInfo != nil {
		if err := productInfo.Validate(); err != nil {
			return v1.Descriptor{}, err
		}
	}
	seen := make(map[string]bool, len(sources))
	for _, s := range sources {
		if err := osimage.ValidatePayloadName(s.Name); err != nil {
			return v1.Descriptor{}, err
		}
		if seen[s.Name] {
			return v1.Descriptor{}, fmt.Errorf("duplicate payload name %q", s.Name)
		}
		seen[s.Name] = true
		f, _, err := payload.OpenSource(s.Name, s.Path)
		if err != nil {
			return v1.Descriptor{}, err
		}
		f.Close()
	}

	w, err := begin(outDir)
	if err != nil {
		return v1.Descriptor{}, err
	}
	md, err := w.build(sources, opts, productInfo)
	if err != nil {
		w.abort()
		return v1.Descriptor{}, err
	}
	return md, nil
}

// maxParallel bounds the payloads processed at once; each zstd encoder
// holds tens of MiB at the higher levels.
func maxParallel() int { return min(runtime.GOMAXPROCS(0), 4) }

func (w *writer) build(sources []Source, opts payload.Options, productInfo *osimage.ProductInfo) (v1.Descriptor, error) {
	work := filepath.Join(w.tmp, "work")
	if err := os.Mkdir(work, dirMode); err != nil {
		return v1.Descriptor{}, err
	}
	inputs := make([]Input, len(sources))
	errs := make([]error, len(sources))
	sem := make(chan struct{}, maxParallel())
	var wg sync.WaitGroup
	for i, s := range sources {
		blob := ""
		if opts.CompressionLevel != payload.LevelNone {
			blob = filepath.Join(work, fmt.Sprintf("%d.zst", i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := payload.Process(s.Name, s.Path, blob, opts)
			if err != nil {
				errs[i] = err
				return
			}
			inputs[i] = Input{Descriptor: d, BlobPath: blob}
			if blob == "" {
				inputs[i].BlobPath = s.Path
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return v1.Descriptor{}, err
	}
	return w.assemble(inputs, productInfo, opts.CompressionLevel != payload.LevelNone)
}

func checkInputs(inputs []Input, productInfo *osimage.ProductInfo) error {
	if productInfo != nil {
		if err := productInfo.Validate(); err != nil {
			return err
		}
	}
	seen := make(map[string]bool, len(inputs))
	for i, in := range inputs {
		d := in.Descriptor
		if d == nil {
			return fmt.Errorf("input %d: no payload descriptor", i)
		}
		if err := d.Validate(); err != nil {
			return err
		}
		name := d.Payload.Name
		if seen[name] {
			return fmt.Errorf("duplicate payload name %q", name)
		}
		seen[name] = true
		fi, err := os.Stat(in.BlobPath)
		if err != nil {
			return fmt.Errorf("payload %q: blob: %w", name, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("payload %q: blob %s is not a regular file (%s)", name, in.BlobPath, fi.Mode().Type())
		}
		if fi.Size() != d.Layer.Size {
			return fmt.Errorf("payload %q: blob %s has %d bytes, descriptor says %d", name, in.BlobPath, fi.Size(), d.Layer.Size)
		}
	}
	return nil
}

// writer stages a layout in a temporary directory inside outDir and moves
// its entries into outDir on commit, index.json last.
type writer struct {
	outDir  string
	tmp     string
	created bool                    // outDir was created by begin
	blobs   map[digest.Digest]int64 // blobs written, with their sizes
}

func begin(outDir string) (*writer, error) {
	w := &writer{outDir: outDir, blobs: make(map[digest.Digest]int64)}
	entries, err := os.ReadDir(outDir)
	switch {
	case err == nil:
		if len(entries) > 0 {
			return nil, fmt.Errorf("output directory %s is not empty (found %s)", outDir, entries[0].Name())
		}
	case errors.Is(err, os.ErrNotExist):
		if err := os.Mkdir(outDir, dirMode); err != nil {
			return nil, fmt.Errorf("creating output directory: %w", err)
		}
		if err := os.Chmod(outDir, dirMode); err != nil {
			os.Remove(outDir)
			return nil, fmt.Errorf("creating output directory: %w", err)
		}
		w.created = true
	default:
		return nil, fmt.Errorf("output directory: %w", err)
	}
	w.tmp, err = os.MkdirTemp(outDir, ".tmp-")
	if err != nil {
		w.abort()
		return nil, fmt.Errorf("output directory %s is not writable: %w", outDir, err)
	}
	if err := w.mkdir(osimage.BlobsDir); err != nil {
		w.abort()
		return nil, err
	}
	return w, nil
}

// abort removes everything the writer wrote.
func (w *writer) abort() {
	if w.tmp != "" {
		os.RemoveAll(w.tmp)
	}
	if w.created {
		os.RemoveAll(w.outDir)
		return
	}
	// Entries moved by a failed commit; index.json goes first.
	for _, e := range []string{osimage.IndexFile, osimage.LayoutFile, "blobs"} {
		os.RemoveAll(filepath.Join(w.outDir, e))
	}
}

// mkdir creates the staging directory's subdirectory rel and its parents.
func (w *writer) mkdir(rel string) error {
	p := w.tmp
	for _, part := range strings.Split(rel, "/") {
		p = filepath.Join(p, part)
		if err := os.Mkdir(p, dirMode); err != nil {
			return fmt.Errorf("output directory %s: %w", w.outDir, err)
		}
		if err := os.Chmod(p, dirMode); err != nil {
			return fmt.Errorf("output directory %s: %w", w.outDir, err)
		}
	}
	return nil
}

func (w *writer) assemble(inputs []Input, productInfo *osimage.ProductInfo, move bool) (v1.Descriptor, error) {
	cfg := osimage.Config{
		FormatVersion: osimage.FormatVersion,
		ProductInfo:   productInfo,
		Payloads:      make([]osimage.PayloadInfo, len(inputs)),
	}
	layers := make([]v1.Descriptor, len(inputs))
	for i, in := range inputs {
		d := in.Descriptor
		cfg.Payloads[i] = d.Payload
		if len(d.Payload.ChunkHashesSHA256) == 0 {
			// An empty payload has no chunk hashes: the known producer
			// writes null for them, and so the same config bytes.
			cfg.Payloads[i].ChunkHashesSHA256 = nil
		}
		layers[i] = v1.Descriptor{MediaType: d.Layer.MediaType, Digest: d.Layer.Digest, Size: d.Layer.Size}
		if err := w.addBlob(in.BlobPath, layers[i], move); err != nil {
			return v1.Descriptor{}, fmt.Errorf("payload %q: %w", d.Payload.Name, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return v1.Descriptor{}, fmt.Errorf("config: %w", err)
	}
	configDesc, err := w.addJSON(osimage.ConfigMediaType, &cfg)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("config: %w", err)
	}
	manifest := v1.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    v1.MediaTypeImageManifest,
		ArtifactType: osimage.ArtifactType,
		Config:       configDesc,
		Layers:       layers,
	}
	md, err := w.addJSON(v1.MediaTypeImageManifest, &manifest)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("manifest: %w", err)
	}
	// The known producer lists the manifest in index.json with the config
	// media type as artifactType (the value OCI gives an image manifest's
	// descriptor); readers ignore it, but it makes index.json the same bytes.
	md.ArtifactType = osimage.ConfigMediaType
	index := v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{md},
	}
	ib, err := osimage.MarshalIndent(&index)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := w.writeFile(osimage.LayoutFile, []byte(layoutMarker)); err != nil {
		return v1.Descriptor{}, err
	}
	if err := w.writeFile(osimage.IndexFile, ib); err != nil {
		return v1.Descriptor{}, err
	}
	if err := w.commit(); err != nil {
		return v1.Descriptor{}, err
	}
	return md, nil
}

// addBlob puts the blob src with descriptor d into the staged layout,
// renaming it when move is set, copying it otherwise (io.Copy between two
// files uses copy_file_range, free on reflink filesystems). A digest that
// is already present is written once.
func (w *writer) addBlob(src string, d v1.Descriptor, move bool) error {
	if size, ok := w.blobs[d.Digest]; ok {
		if size != d.Size {
			return fmt.Errorf("blob %s: listed with sizes %d and %d", d.Digest, size, d.Size)
		}
		return nil
	}
	dst := osimage.BlobPath(w.tmp, d.Digest)
	if move {
		if err := os.Rename(src, dst); err != nil {
			return fmt.Errorf("blob %s: %w", d.Digest, err)
		}
		if err := os.Chmod(dst, fileMode); err != nil {
			return fmt.Errorf("blob %s: %w", d.Digest, err)
		}
	} else if err := copyFile(dst, src, d.Size); err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if fi.Size() != d.Size {
		return fmt.Errorf("blob %s: %s has %d bytes, descriptor says %d", d.Digest, src, fi.Size(), d.Size)
	}
	w.blobs[d.Digest] = d.Size
	return nil
}

func copyFile(dst, src string, size int64) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if err := out.Chmod(fileMode); err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if n != size {
		return fmt.Errorf("copying %s: copied %d bytes, descriptor says %d", src, n, size)
	}
	return nil
}

// addJSON writes v as a JSON blob and returns its descriptor.
func (w *writer) addJSON(mediaType string, v any) (v1.Descriptor, error) {
	b, err := osimage.MarshalIndent(v)
	if err != nil {
		return v1.Descriptor{}, err
	}
	d := v1.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if _, ok := w.blobs[d.Digest]; ok {
		return d, nil
	}
	if err := w.writeFile(filepath.Join(osimage.BlobsDir, d.Digest.Encoded()), b); err != nil {
		return v1.Descriptor{}, err
	}
	w.blobs[d.Digest] = d.Size
	return d, nil
}

func (w *writer) writeFile(rel string, b []byte) error {
	p := filepath.Join(w.tmp, rel)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	return nil
}

// commit moves the staged entries into outDir, index.json last, and
// removes the staging directory.
func (w *writer) commit() error {
	for _, e := range []string{osimage.LayoutFile, "blobs", osimage.IndexFile} {
		if err := os.Rename(filepath.Join(w.tmp, e), filepath.Join(w.outDir, e)); err != nil {
			return fmt.Errorf("output directory %s: %w", w.outDir, err)
		}
	}
	if err := os.RemoveAll(w.tmp); err != nil {
		return fmt.Errorf("output directory %s: removing staging directory: %w", w.outDir, err)
	}
	w.tmp = ""
	return nil
}
