package osimage

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rules-osimage/rules_osimage/pkg/internal/fileutil"
)

// File names and limits of an OCI image layout.
const (
	// LayoutFile is the name of the layout marker file.
	LayoutFile = "oci-layout"
	// IndexFile is the name of the layout's image index.
	IndexFile = "index.json"
	// BlobsDir is the directory holding sha256 blobs, relative to the layout.
	BlobsDir = "blobs/sha256"
	// LayoutVersion is the imageLayoutVersion this package reads and writes.
	LayoutVersion = "1.0.0"
	// MaxManifestSize bounds the index and manifest documents a reader loads.
	MaxManifestSize = 4 << 20
)

// Image is an OS image opened from an OCI image layout. Open has checked
// everything the known consumer checks before it streams a payload; the
// payload blobs themselves are verified while they are streamed by
// (*Image).Open.
type Image struct {
	dir          string
	manifestDesc v1.Descriptor
	manifest     v1.Manifest
	config       Config
	layers       map[string]int // payload name -> index into config.Payloads and manifest.Layers
}

// BlobPath returns the path of the blob with digest d inside the layout dir.
// d must be a validated sha256 digest.
func BlobPath(dir string, d digest.Digest) string {
	return filepath.Join(dir, BlobsDir, d.Encoded())
}

// ValidateDigest checks that d is a sha256 digest with 64 lowercase hex
// characters, the only kind the format allows.
func ValidateDigest(d digest.Digest) error {
	if d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("digest %q: algorithm must be sha256", d)
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w", d, err)
	}
	return nil
}

// Open reads the OCI image layout in dir as the known consumer does: the
// layout marker, the index with exactly one manifest, the manifest (digest,
// artifact type, config media type, one layer per payload), and the config
// (size limit, digest, Config.Validate). It also checks that every layer
// blob exists with its descriptor's size. Unknown JSON fields are ignored;
// the mediaType fields of the index and the manifest, optional in OCI, are
// required, as the known reader requires them.
func Open(dir string) (*Image, error) {
	return OpenWithOptions(dir, OpenOptions{})
}

// ErrIndexMediaTypeMissing is wrapped by the error Open returns for an
// index.json without its top-level mediaType. OCI makes that field optional
// and some tools (skopeo's oci: transport) leave it out, but the known
// consumer rejects such a layout; OpenOptions.AllowIndexWithoutMediaType
// accepts it.
var ErrIndexMediaTypeMissing = errors.New("mediaType missing (the osimage consumer requires it)")

// OpenOptions relax checks of Open for layouts written by other tools.
type OpenOptions struct {
	// AllowIndexWithoutMediaType accepts an index.json that has no
	// top-level mediaType, as written by skopeo's oci: transport. A layout
	// opened this way may still be rejected by the known consumer; every
	// other check, including the manifest's mediaType, stays.
	AllowIndexWithoutMediaType bool
}

// OpenWithOptions is Open with some checks relaxed by opts.
func OpenWithOptions(dir string, opts OpenOptions) (*Image, error) {
	img, err := open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	return img, nil
}

func open(dir string, opts OpenOptions) (*Image, error) {
	b, err := os.ReadFile(filepath.Join(dir, LayoutFile))
	if err != nil {
		return nil, err
	}
	var layout v1.ImageLayout
	if err := json.Unmarshal(b, &layout); err != nil {
		return nil, fmt.Errorf("%s: %w", LayoutFile, err)
	}
	if layout.Version != LayoutVersion {
		return nil, fmt.Errorf("%s: imageLayoutVersion %q, want %q", LayoutFile, layout.Version, LayoutVersion)
	}

	b, err = fileutil.ReadLimited(filepath.Join(dir, IndexFile), MaxManifestSize)
	if err != nil {
		return nil, err
	}
	var index v1.Index
	if err := json.Unmarshal(b, &index); err != nil {
		return nil, fmt.Errorf("%s: %w", IndexFile, err)
	}
	if index.SchemaVersion != 2 {
		return nil, fmt.Errorf("%s: schemaVersion %d, want 2", IndexFile, index.SchemaVersion)
	}
	// The known reader requires the optional mediaType fields of the index
	// and the manifest, so this reader does too.
	switch {
	case index.MediaType == v1.MediaTypeImageIndex:
	case index.MediaType == "" && opts.AllowIndexWithoutMediaType:
	case index.MediaType == "":
		return nil, fmt.Errorf("%s: %w, want %q", IndexFile, ErrIndexMediaTypeMissing, v1.MediaTypeImageIndex)
	default:
		return nil, fmt.Errorf("%s: mediaType %q, want %q", IndexFile, index.MediaType, v1.MediaTypeImageIndex)
	}
	if len(index.Manifests) != 1 {
		return nil, fmt.Errorf("%s: %d manifests, want exactly 1", IndexFile, len(index.Manifests))
	}
	img := &Image{dir: dir, manifestDesc: index.Manifests[0]}
	md := img.manifestDesc
	if md.MediaType != v1.MediaTypeImageManifest {
		return nil, fmt.Errorf("%s: manifest %s has mediaType %q, want %q", IndexFile, md.Digest, md.MediaType, v1.MediaTypeImageManifest)
	}
	if md.Size > MaxManifestSize {
		return nil, fmt.Errorf("manifest %s: size %d exceeds the limit of %d bytes", md.Digest, md.Size, MaxManifestSize)
	}
	b, err = readBlob(dir, md)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m := &img.manifest
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", md.Digest, err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest %s: schemaVersion %d, want 2", md.Digest, m.SchemaVersion)
	}
	if m.MediaType != v1.MediaTypeImageManifest {
		return nil, fmt.Errorf("manifest %s: mediaType %q, want %q", md.Digest, m.MediaType, v1.MediaTypeImageManifest)
	}
	if m.ArtifactType != ArtifactType {
		return nil, fmt.Errorf("manifest %s: artifactType %q, want %q", md.Digest, m.ArtifactType, ArtifactType)
	}
	cd := m.Config
	if cd.MediaType != ConfigMediaType {
		return nil, fmt.Errorf("manifest %s: config mediaType %q, want %q", md.Digest, cd.MediaType, ConfigMediaType)
	}
	if err := checkEmbeddedData(cd); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if cd.Size > MaxConfigSize {
		return nil, fmt.Errorf("config %s: size %d exceeds the limit of %d bytes", cd.Digest, cd.Size, MaxConfigSize)
	}
	b, err = readBlob(dir, cd)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(b, &img.config); err != nil {
		return nil, fmt.Errorf("config %s: %w", cd.Digest, err)
	}
	if err := img.config.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", cd.Digest, err)
	}
	if len(m.Layers) != len(img.config.Payloads) {
		return nil, fmt.Errorf("manifest %s: %d layers but config %s lists %d payloads", md.Digest, len(m.Layers), cd.Digest, len(img.config.Payloads))
	}
	img.layers = make(map[string]int, len(m.Layers))
	for i, l := range m.Layers {
		p := &img.config.Payloads[i]
		img.layers[p.Name] = i
		if err := ValidateDigest(l.Digest); err != nil {
			return nil, fmt.Errorf("payload %q: layer: %w", p.Name, err)
		}
		if err := checkEmbeddedData(l); err != nil {
			return nil, fmt.Errorf("payload %q: layer: %w", p.Name, err)
		}
		switch l.MediaType {
		case MediaTypePayloadZstd:
		case MediaTypePayloadUncompressed:
			if l.Size != p.Size {
				return nil, fmt.Errorf("payload %q: uncompressed layer %s has size %d, payload size is %d", p.Name, l.Digest, l.Size, p.Size)
			}
		default:
			return nil, fmt.Errorf("payload %q: layer %s has unsupported mediaType %q", p.Name, l.Digest, l.MediaType)
		}
		fi, err := os.Stat(BlobPath(dir, l.Digest))
		if err != nil {
			return nil, fmt.Errorf("payload %q: blob %s: %w", p.Name, l.Digest, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("payload %q: blob %s is not a regular file", p.Name, l.Digest)
		}
		if fi.Size() != l.Size {
			return nil, fmt.Errorf("payload %q: blob %s has %d bytes, descriptor says %d", p.Name, l.Digest, fi.Size(), l.Size)
		}
	}
	return img, nil
}

// checkEmbeddedData checks the data field of a config or layer descriptor.
// The known reader takes a blob's content from data when its length equals
// the size and fails when data is neither empty nor of that length; this
// reader reads the blob file in any case, so it requires embedded data to
// be the blob's content.
func checkEmbeddedData(d v1.Descriptor) error {
	if len(d.Data) == 0 {
		return nil
	}
	if int64(len(d.Data)) != d.Size {
		return fmt.Errorf("descriptor %s embeds %d bytes of data, its size is %d", d.Digest, len(d.Data), d.Size)
	}
	if got := digest.FromBytes(d.Data); got != d.Digest {
		return fmt.Errorf("descriptor %s embeds data with digest %s", d.Digest, got)
	}
	return nil
}

// readBlob reads the small blob described by d and checks its size and
// digest. The caller bounds d.Size.
func readBlob(dir string, d v1.Descriptor) ([]byte, error) {
	if err := ValidateDigest(d.Digest); err != nil {
		return nil, err
	}
	if d.Size < 0 {
		return nil, fmt.Errorf("blob %s: negative size %d", d.Digest, d.Size)
	}
	f, err := os.Open(BlobPath(dir, d.Digest))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, d.Size+1))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if int64(len(b)) != d.Size {
		return nil, fmt.Errorf("blob %s: size differs from descriptor size %d", d.Digest, d.Size)
	}
	if got := digest.FromBytes(b); got != d.Digest {
		return nil, fmt.Errorf("blob %s: content has digest %s", d.Digest, got)
	}
	return b, nil
}

// Dir returns the layout directory the image was opened from.
func (img *Image) Dir() string { return img.dir }

// ManifestDescriptor returns the index's descriptor of the image manifest.
func (img *Image) ManifestDescriptor() v1.Descriptor { return img.manifestDesc }

// Manifest returns the image manifest.
func (img *Image) Manifest() v1.Manifest { return img.manifest }

// Config returns the image config.
func (img *Image) Config() Config { return img.config }

// Payloads returns the payloads in layer order.
func (img *Image) Payloads() []PayloadInfo {
	return append([]PayloadInfo(nil), img.config.Payloads...)
}

// Layer returns the layer descriptor of the named payload.
func (img *Image) Layer(name string) (v1.Descriptor, error) {
	i, ok := img.layers[name]
	if !ok {
		return v1.Descriptor{}, fmt.Errorf("payload %q not in image", name)
	}
	return img.manifest.Layers[i], nil
}

// Open streams the uncompressed payload name. Every chunk is checked
// against its SHA-256 from the config before any of its bytes are returned;
// before the bytes of the last chunk are returned, the whole layer blob has
// been read and its size and digest checked. Truncation, trailing data, a
// wrong size and, for zstd layers, a frame content size that differs from
// the payload size are errors naming the payload and its blob.
//
// As the known reader, Open accepts what the known producer writes for small
// payloads: a zstd frame whose header omits the content size (payloads
// under 256 bytes) and an empty zstd blob for an empty payload.
func (img *Image) Open(name string) (io.ReadCloser, error) {
	i, ok := img.layers[name]
	if !ok {
		return nil, fmt.Errorf("payload %q not in image", name)
	}
	info := img.config.Payloads[i]
	layer := img.manifest.Layers[i]
	f, err := os.Open(BlobPath(img.dir, layer.Digest))
	if err != nil {
		return nil, fmt.Errorf("payload %q: blob %s: %w", name, layer.Digest, err)
	}
	r := &payloadReader{
		info:      info,
		layer:     layer,
		file:      f,
		blobHash:  sha256.New(),
		remaining: info.Size,
	}
	r.blob = bufio.NewReaderSize(io.TeeReader(f, &hashCounter{h: r.blobHash, n: &r.blobRead}), 256<<10)
	r.src = r.blob
	if layer.MediaType == MediaTypePayloadZstd {
		empty, err := r.checkFrameHeader()
		if err != nil {
			f.Close()
			return nil, err
		}
		if empty {
			// An empty blob holds an empty payload; finish checks the size.
			return r, nil
		}
		dec, err := zstd.NewReader(r.blob, zstd.WithDecoderConcurrency(1))
		if err != nil {
			f.Close()
			return nil, r.errorf("zstd: %v", err)
		}
		r.dec = dec
		r.src = dec
	}
	return r, nil
}

type hashCounter struct {
	h hash.Hash
	n *int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	*c.n += int64(len(p))
	return c.h.Write(p)
}

// payloadReader hands out one verified chunk at a time.
type payloadReader struct {
	info      PayloadInfo
	layer     v1.Descriptor
	file      *os.File
	blob      *bufio.Reader // the raw blob, hashed as it is read
	blobHash  hash.Hash
	blobRead  int64
	dec       *zstd.Decoder // nil for uncompressed layers
	src       io.Reader     // the uncompressed payload
	remaining int64         // payload bytes not yet read from src
	chunk     int           // index of the next chunk to read
	buf       []byte        // the current verified chunk
	pos       int           // unread offset in buf
	err       error         // sticky: io.EOF or the first error
}

func (r *payloadReader) errorf(format string, args ...any) error {
	return fmt.Errorf("payload %q: blob %s: %s", r.info.Name, r.layer.Digest, fmt.Sprintf(format, args...))
}

// checkFrameHeader checks the header of the first zstd frame, or reports
// that the blob is empty.
func (r *payloadReader) checkFrameHeader() (empty bool, err error) {
	b, err := r.blob.Peek(zstd.HeaderMaxSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return false, r.errorf("reading zstd frame header: %v", err)
	}
	if len(b) == 0 {
		if r.info.Size != 0 {
			return false, r.errorf("truncated: empty blob for a payload of size %d", r.info.Size)
		}
		return true, nil
	}
	var h zstd.Header
	if err := h.Decode(b); err != nil {
		return false, r.errorf("invalid zstd frame header: %v", err)
	}
	if h.Skippable {
		return false, r.errorf("starts with a skippable zstd frame, want one data frame")
	}
	if h.HasFCS && h.FrameContentSize != uint64(r.info.Size) {
		return false, r.errorf("zstd frame content size %d differs from payload size %d", h.FrameContentSize, r.info.Size)
	}
	return false, nil
}

func (r *payloadReader) Read(p []byte) (int, error) {
	for r.pos == len(r.buf) {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	return n, nil
}

// next reads and verifies the next chunk into r.buf, or returns io.EOF
// after checking the end of the payload and of the blob.
func (r *payloadReader) next() error {
	r.buf, r.pos = r.buf[:0], 0
	if r.chunk == len(r.info.ChunkHashesSHA256) {
		if err := r.finish(); err != nil {
			return err
		}
		return io.EOF
	}
	n := min(r.remaining, r.info.HashChunkSize)
	if int64(cap(r.buf)) < n {
		r.buf = make([]byte, 0, n)
	}
	buf := r.buf[:n] // r.buf stays empty until buf is verified
	if _, err := io.ReadFull(r.src, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return r.errorf("truncated: payload ends in chunk %d, before its size %d", r.chunk, r.info.Size)
		}
		return r.errorf("reading chunk %d: %v", r.chunk, err)
	}
	want, err := base64.RawStdEncoding.DecodeString(r.info.ChunkHashesSHA256[r.chunk])
	if err != nil {
		return r.errorf("chunk %d: invalid hash %q in config: %v", r.chunk, r.info.ChunkHashesSHA256[r.chunk], err)
	}
	sum := sha256.Sum256(buf)
	if !bytes.Equal(sum[:], want) {
		return r.errorf("chunk %d (bytes %d..%d): sha256 mismatch", r.chunk, int64(r.chunk)*r.info.HashChunkSize, int64(r.chunk)*r.info.HashChunkSize+n)
	}
	r.chunk++
	r.remaining -= n
	if r.chunk == len(r.info.ChunkHashesSHA256) {
		// Check the blob as a whole before handing out the last chunk.
		if err := r.finish(); err != nil {
			return err
		}
	}
	r.buf = buf
	return nil
}

// finish checks that the payload and the blob end where they should and
// that the blob's digest matches.
func (r *payloadReader) finish() error {
	var one [1]byte
	n, err := io.ReadFull(r.src, one[:])
	if n > 0 {
		return r.errorf("payload is longer than its size %d", r.info.Size)
	}
	if err != io.EOF {
		return r.errorf("reading past the end of the payload: %v", err)
	}
	extra, err := io.Copy(io.Discard, r.blob)
	if err != nil {
		return r.errorf("reading: %v", err)
	}
	if extra > 0 {
		return r.errorf("%d bytes of trailing data after the payload", extra)
	}
	if r.blobRead != r.layer.Size {
		return r.errorf("blob has %d bytes, descriptor says %d", r.blobRead, r.layer.Size)
	}
	if got := digest.NewDigestFromBytes(digest.SHA256, r.blobHash.Sum(nil)); got != r.layer.Digest {
		return r.errorf("content has digest %s", got)
	}
	return nil
}

func (r *payloadReader) Close() error {
	if r.dec != nil {
		r.dec.Close()
		r.dec = nil
	}
	if r.err == nil {
		r.err = errors.New("read after close")
	}
	return r.file.Close()
}

// ParseProductInfo decodes a product_info JSON document for the build side.
// Unlike the reader, it rejects unknown fields, naming them, so that a typo
// such as "verison" does not silently vanish from the image; it also
// validates the variant. One field outside ProductInfo is accepted and
// dropped, as the known producer drops it: "architecture", which older
// product_info files carry next to the variant that now holds it.
func ParseProductInfo(b []byte) (*ProductInfo, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var doc *struct {
		ProductInfo
		LegacyArchitecture json.RawMessage `json:"architecture"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("product_info: %w", err)
	}
	if doc == nil {
		return nil, errors.New("product_info: want a JSON object, got null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("product_info: trailing data after the JSON object")
	}
	p := &doc.ProductInfo
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}
