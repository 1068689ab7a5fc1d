package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	// Register the digest algorithms that layouts may use.
	_ "crypto/sha256"
	_ "crypto/sha512"

	"github.com/rules-osimage/rules_osimage/pkg/internal/fileutil"
)

// MaxManifestSize is the largest manifest or index the registry loads. The
// distribution spec asks registries to accept at least 4 MiB.
const MaxManifestSize = 4 << 20

// Media types of Docker's schema 2, accepted in layouts from other tools.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// manifestDoc is a manifest or index held in memory, exactly as stored,
// with its response headers prepared.
type manifestDoc struct {
	data        []byte
	digest      digest.Digest
	contentType []string
	length      []string
	digestHdr   []string
	etag        []string
}

func newManifestDoc(data []byte, mediaType string, d digest.Digest) *manifestDoc {
	return &manifestDoc{
		data:        data,
		digest:      d,
		contentType: []string{mediaType},
		length:      []string{strconv.Itoa(len(data))},
		digestHdr:   []string{d.String()},
		etag:        []string{`"` + d.String() + `"`},
	}
}

// serve answers a GET or HEAD for the document. Plain requests, the common
// case, are written directly; conditional and range requests go through
// http.ServeContent.
func (m *manifestDoc) serve(w http.ResponseWriter, req *http.Request, contentType []string) {
	h := w.Header()
	h["Content-Type"] = contentType
	h["Docker-Content-Digest"] = m.digestHdr
	h["Etag"] = m.etag
	if req.Header.Get("Range") != "" || req.Header.Get("If-None-Match") != "" ||
		req.Header.Get("If-Match") != "" || req.Header.Get("If-Range") != "" {
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(m.data))
		return
	}
	h["Content-Length"] = m.length
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		w.Write(m.data)
	}
}

// blobFile is a blob served from disk.
type blobFile struct {
	path string
	size int64
}

// layout is what one image (repository:tag) contributes to its repository.
type layout struct {
	tagDigest digest.Digest
	manifests map[digest.Digest]*manifestDoc
	blobs     map[digest.Digest]*blobFile
}

// loadLayout reads and checks the OCI image layout in dir: every index,
// manifest and config must match its digest and size, and every other
// referenced blob must exist with the size its descriptor records.
func loadLayout(dir string) (*layout, error) {
	l := &layout{
		manifests: map[digest.Digest]*manifestDoc{},
		blobs:     map[digest.Digest]*blobFile{},
	}
	if err := checkOCILayoutFile(dir); err != nil {
		return nil, err
	}
	indexPath := filepath.Join(dir, v1.ImageIndexFile)
	data, err := fileutil.ReadLimited(indexPath, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	var idx v1.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%s: parsing index: %w", indexPath, err)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("%s: schemaVersion %d, want 2", indexPath, idx.SchemaVersion)
	}
	if idx.MediaType != "" && idx.MediaType != v1.MediaTypeImageIndex {
		return nil, fmt.Errorf("%s: mediaType %q, want %q", indexPath, idx.MediaType, v1.MediaTypeImageIndex)
	}
	if len(idx.Manifests) == 0 {
		return nil, fmt.Errorf("%s: the index lists no manifests", indexPath)
	}
	for _, d := range idx.Manifests {
		if err := l.loadManifest(dir, d, 0); err != nil {
			return nil, err
		}
	}
	if len(idx.Manifests) == 1 {
		l.tagDigest = idx.Manifests[0].Digest
		if l.manifests[l.tagDigest] == nil {
			return nil, fmt.Errorf("%s: its only descriptor (%s, media type %q) is not a manifest or index", indexPath, l.tagDigest, idx.Manifests[0].MediaType)
		}
	} else {
		// Several manifests: the tag names index.json itself, served as an
		// image index.
		doc := newManifestDoc(data, v1.MediaTypeImageIndex, digest.Canonical.FromBytes(data))
		l.manifests[doc.digest] = doc
		l.tagDigest = doc.digest
	}
	return l, nil
}

func checkOCILayoutFile(dir string) error {
	p := filepath.Join(dir, v1.ImageLayoutFile)
	data, err := fileutil.ReadLimited(p, 4096)
	if err != nil {
		return err
	}
	var ol v1.ImageLayout
	if err := json.Unmarshal(data, &ol); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if ol.Version != v1.ImageLayoutVersion {
		return fmt.Errorf("%s: imageLayoutVersion %q, want %q", p, ol.Version, v1.ImageLayoutVersion)
	}
	return nil
}

// blobPath maps a validated digest to its file in the layout. Only digests
// that passed validateDigest reach this, so the result stays inside dir.
func blobPath(dir string, d digest.Digest) string {
	return filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
}

func validateDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w", d, err)
	}
	return nil
}

// isIndexType reports whether a media type names an image index.
func isIndexType(mt string) bool {
	return mt == v1.MediaTypeImageIndex || mt == mediaTypeDockerManifestList
}

// isManifestType reports whether a media type names an image manifest.
func isManifestType(mt string) bool {
	return mt == v1.MediaTypeImageManifest || mt == mediaTypeDockerManifest
}

// loadManifest loads the manifest or index d points to, and everything it
// references.
func (l *layout) loadManifest(dir string, d v1.Descriptor, depth int) error {
	if depth > 8 {
		return fmt.Errorf("blob %s: indexes nested too deeply", d.Digest)
	}
	if err := validateDigest(d.Digest); err != nil {
		return err
	}
	if _, ok := l.manifests[d.Digest]; ok {
		return nil
	}
	if !isIndexType(d.MediaType) && !isManifestType(d.MediaType) {
		// An index may list other artifacts; they are served as manifests
		// only when they look like one, otherwise they are plain blobs.
		if d.MediaType != "" {
			return l.addBlob(dir, d)
		}
	}
	if d.Size > MaxManifestSize {
		return fmt.Errorf("manifest %s: size %d exceeds the limit of %d bytes", d.Digest, d.Size, MaxManifestSize)
	}
	p := blobPath(dir, d.Digest)
	data, err := fileutil.ReadLimited(p, MaxManifestSize)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if int64(len(data)) != d.Size {
		return fmt.Errorf("manifest %s: size %d, descriptor says %d", d.Digest, len(data), d.Size)
	}
	if got := d.Digest.Algorithm().FromBytes(data); got != d.Digest {
		return fmt.Errorf("manifest %s: content has digest %s", d.Digest, got)
	}
	// The document's own mediaType wins over the descriptor's.
	var head struct {
		MediaType string          `json:"mediaType"`
		Manifests []v1.Descriptor `json:"manifests"`
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("manifest %s: parsing: %w", d.Digest, err)
	}
	mt := head.MediaType
	if mt == "" {
		mt = d.MediaType
	}
	if mt == "" {
		if head.Manifests != nil {
			mt = v1.MediaTypeImageIndex
		} else {
			mt = v1.MediaTypeImageManifest
		}
	}
	l.manifests[d.Digest] = newManifestDoc(data, mt, d.Digest)
	switch {
	case isIndexType(mt):
		for _, c := range head.Manifests {
			if err := l.loadManifest(dir, c, depth+1); err != nil {
				return err
			}
		}
	case isManifestType(mt):
		if head.Config == nil {
			return fmt.Errorf("manifest %s: no config descriptor", d.Digest)
		}
		if err := l.addBlob(dir, *head.Config); err != nil {
			return fmt.Errorf("manifest %s: config: %w", d.Digest, err)
		}
		if err := l.verifyBlobDigest(*head.Config); err != nil {
			return fmt.Errorf("manifest %s: config: %w", d.Digest, err)
		}
		for _, ld := range head.Layers {
			if err := l.addBlob(dir, ld); err != nil {
				return fmt.Errorf("manifest %s: layer: %w", d.Digest, err)
			}
		}
	default:
		return fmt.Errorf("manifest %s: unsupported media type %q", d.Digest, mt)
	}
	return nil
}

// addBlob records a blob after checking it exists with the expected size.
// Layers with URLs (non-distributable) may be absent: clients fetch them
// elsewhere.
func (l *layout) addBlob(dir string, d v1.Descriptor) error {
	if err := validateDigest(d.Digest); err != nil {
		return err
	}
	if _, ok := l.blobs[d.Digest]; ok {
		return nil
	}
	p := blobPath(dir, d.Digest)
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && len(d.URLs) > 0 {
			return nil
		}
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("blob %s: %s is not a regular file", d.Digest, p)
	}
	if fi.Size() != d.Size {
		return fmt.Errorf("blob %s: size %d, descriptor says %d", d.Digest, fi.Size(), d.Size)
	}
	l.blobs[d.Digest] = &blobFile{path: p, size: fi.Size()}
	return nil
}

// verifyBlobDigest hashes a recorded blob from disk, streaming.
func (l *layout) verifyBlobDigest(d v1.Descriptor) error {
	b := l.blobs[d.Digest]
	if b == nil {
		return nil
	}
	f, err := os.Open(b.path)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	defer f.Close()
	v := d.Digest.Verifier()
	if _, err := io.Copy(v, f); err != nil {
		return fmt.Errorf("blob %s: reading %s: %w", d.Digest, b.path, err)
	}
	if !v.Verified() {
		return fmt.Errorf("blob %s: content of %s does not match its digest", d.Digest, b.path)
	}
	return nil
}

// openBlob opens a blob for serving and checks it still has the size seen at
// startup, so a layout changed underneath the server is an error, not a
// truncated download.
func openBlob(b *blobFile) (*os.File, error) {
	f, err := os.Open(b.path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() != b.size {
		f.Close()
		return nil, fmt.Errorf("%s changed size since startup (%d, was %d)", b.path, fi.Size(), b.size)
	}
	return f, nil
}
