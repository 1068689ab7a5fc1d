// Package payload turns one payload file into the pieces of an OS image that
// depend only on that file: the layer blob (zstd-compressed or the file
// itself), its OCI descriptor, and the payload's config entry with per-chunk
// SHA-256 hashes. It is the work of one Bazel action per payload, so a
// changed payload never recompresses the others.
package payload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

// Compression levels accepted by Process.
const (
	LevelNone    = 0 // store the payload uncompressed
	LevelFastest = 1 // zstd SpeedFastest
	LevelDefault = 2 // zstd SpeedDefault
	LevelBetter  = 3 // zstd SpeedBetterCompression
	LevelBest    = 4 // zstd SpeedBestCompression
	MaxLevel     = LevelBest
)

// Options control how a payload is processed.
type Options struct {
	// CompressionLevel is 0 (none) or 1..4 (zstd fastest..best).
	CompressionLevel int
	// HashChunkSize is the chunk size for chunk hashes; 0 means
	// osimage.DefaultHashChunkSize.
	HashChunkSize int64
}

func (o Options) chunkSize() int64 {
	if o.HashChunkSize == 0 {
		return osimage.DefaultHashChunkSize
	}
	return o.HashChunkSize
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.CompressionLevel < LevelNone || o.CompressionLevel > MaxLevel {
		return fmt.Errorf("compression level %d out of range: want 0 (none) to %d (best)", o.CompressionLevel, MaxLevel)
	}
	if cs := o.chunkSize(); cs <= 0 || cs > osimage.MaxHashChunkSize {
		return fmt.Errorf("hash chunk size %d out of range (1..%d)", cs, osimage.MaxHashChunkSize)
	}
	return nil
}

// EncoderLevel maps a compression level 1..4 to the klauspost zstd level.
func EncoderLevel(level int) zstd.EncoderLevel {
	switch level {
	case LevelFastest:
		return zstd.SpeedFastest
	case LevelBetter:
		return zstd.SpeedBetterCompression
	case LevelBest:
		return zstd.SpeedBestCompression
	default:
		return zstd.SpeedDefault
	}
}

// Descriptor is everything the image assembly needs to know about one
// processed payload. It is written as JSON by the per-payload action.
type Descriptor struct {
	// Layer describes the blob: media type, digest and stored size.
	Layer v1.Descriptor `json:"layer"`
	// Payload is the payload's entry in the image config.
	Payload osimage.PayloadInfo `json:"payload"`
}

// Validate checks that the descriptor is internally consistent.
func (d *Descriptor) Validate() error {
	if err := d.Payload.Validate(); err != nil {
		return err
	}
	switch d.Layer.MediaType {
	case osimage.MediaTypePayloadZstd:
	case osimage.MediaTypePayloadUncompressed:
		if d.Layer.Size != d.Payload.Size {
			return fmt.Errorf("payload %q: uncompressed layer size %d differs from payload size %d", d.Payload.Name, d.Layer.Size, d.Payload.Size)
		}
	default:
		return fmt.Errorf("payload %q: unsupported layer media type %q", d.Payload.Name, d.Layer.MediaType)
	}
	if d.Layer.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("payload %q: layer digest %q is not sha256", d.Payload.Name, d.Layer.Digest)
	}
	if err := d.Layer.Digest.Validate(); err != nil {
		return fmt.Errorf("payload %q: layer digest: %w", d.Payload.Name, err)
	}
	if d.Layer.Size < 0 {
		return fmt.Errorf("payload %q: negative layer size %d", d.Payload.Name, d.Layer.Size)
	}
	return nil
}

// WriteDescriptor writes d to path as JSON.
func WriteDescriptor(path string, d *Descriptor) error {
	b, err := osimage.MarshalIndent(d)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing payload descriptor: %w", err)
	}
	return nil
}

// ReadDescriptor reads and validates a descriptor written by WriteDescriptor.
func ReadDescriptor(path string) (*Descriptor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading payload descriptor: %w", err)
	}
	var d Descriptor
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("payload descriptor %s: %w", path, err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("payload descriptor %s: %w", path, err)
	}
	return &d, nil
}

// OpenSource opens a payload file for reading, rejecting anything that is
// not a regular file (directories, FIFOs, devices) with an error naming it.
func OpenSource(name, path string) (*os.File, int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("payload %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("payload %q: %s is not a regular file (%s)", name, path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("payload %q: %w", name, err)
	}
	return f, fi.Size(), nil
}

// Process reads the payload file src and returns its descriptor. For a
// compression level above 0 it writes the zstd blob to blobPath; for level 0
// the blob is src itself and blobPath must be empty. On error, blobPath is
// removed.
func Process(name, src, blobPath string, opts Options) (d *Descriptor, err error) {
	if err := osimage.ValidatePayloadName(name); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("payload %q: %w", name, err)
	}
	if (opts.CompressionLevel == LevelNone) != (blobPath == "") {
		return nil, fmt.Errorf("payload %q: a blob path is needed exactly when compressing", name)
	}
	in, size, err := OpenSource(name, src)
	if err != nil {
		return nil, err
	}
	defer in.Close()

	var out *os.File
	if blobPath != "" {
		out, err = os.OpenFile(blobPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("payload %q: creating blob: %w", name, err)
		}
		defer func() {
			if cerr := out.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("payload %q: writing blob: %w", name, cerr)
			}
			if err != nil {
				os.Remove(blobPath)
			}
		}()
	}
	d, err = process(name, in, size, out, opts)
	if err != nil {
		return nil, err
	}
	return d, nil
}
