// Package osimage defines the osimage v1 artifact format: an OS image stored
// as an OCI image whose config lists named payloads with per-chunk SHA-256
// hashes, and whose layers hold the payloads (zstd-compressed or not).
//
// The format is shared with an existing consumer; every rule below mirrors a
// check that consumer performs, so images that pass Validate are installable.
package osimage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
)

// Media and artifact types of the format.
const (
	// ArtifactType is the manifest artifactType of an OS image.
	ArtifactType = "application/vnd.monogon.os.image.v1"
	// ConfigMediaType is the media type of the config blob.
	ConfigMediaType = "application/vnd.monogon.os.image.config.v1+json"
	// MediaTypePayloadZstd is the layer media type of a zstd-compressed payload.
	MediaTypePayloadZstd = "application/zstd"
	// MediaTypePayloadUncompressed is the layer media type of a payload stored as is.
	MediaTypePayloadUncompressed = "application/octet-stream"
)

// Limits and defaults of the format.
const (
	// FormatVersion is the only config format_version this package reads and writes.
	FormatVersion = "1"
	// DefaultHashChunkSize is the chunk size the builder hashes payloads in.
	DefaultHashChunkSize = 1 << 20
	// MaxHashChunkSize is the largest hash_chunk_size a reader accepts.
	MaxHashChunkSize = 16 << 20
	// MaxConfigSize is the largest config blob a reader accepts.
	MaxConfigSize = 50 << 20
)

// Config is the config blob of an OS image.
type Config struct {
	// FormatVersion is always "1".
	FormatVersion string `json:"format_version"`
	// ProductInfo describes the product; optional in the oldest producer.
	ProductInfo *ProductInfo `json:"product_info,omitempty"`
	// Payloads lists the payloads in layer order.
	Payloads []PayloadInfo `json:"payloads"`
}

// ProductInfo describes the product an OS image belongs to.
type ProductInfo struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Version        string `json:"version"`
	Variant        string `json:"variant"`
	CommitHash     string `json:"commit_hash"`
	CommitDate     string `json:"commit_date"`
	BuildTreeDirty bool   `json:"build_tree_dirty"`
	// Components is omitted when nil; an empty list given as [] is kept,
	// as the known producer does.
	Components []Component `json:"components,omitzero"`
}

// Component is one versioned component of a product.
type Component struct {
	ID      string `json:"id"`
	Version string `json:"version"`
}

// PayloadInfo describes one payload of an OS image.
type PayloadInfo struct {
	// Name identifies the payload; see ValidatePayloadName.
	Name string `json:"name"`
	// Size is the uncompressed size of the payload in bytes.
	Size int64 `json:"size"`
	// HashChunkSize is the size of the chunks the payload is hashed in.
	HashChunkSize int64 `json:"hash_chunk_size"`
	// ChunkHashesSHA256 holds the SHA-256 of each chunk of the uncompressed
	// payload, base64 standard encoding without padding.
	ChunkHashesSHA256 []string `json:"chunk_hashes_sha256"`
}

var payloadNameRE = regexp.MustCompile(`^[0-9A-Za-z-](?:[0-9A-Za-z._-]{0,78}[0-9A-Za-z_-])?$`)

var variantRE = regexp.MustCompile(`^[a-zA-Z0-9._-]*$`)

// ValidatePayloadName reports whether name is a valid payload name: 1 to 80
// characters of [0-9A-Za-z._-], not starting with '.' or '_' and not ending
// with '.'.
func ValidatePayloadName(name string) error {
	if !payloadNameRE.MatchString(name) {
		return fmt.Errorf("invalid payload name %q: must be 1 to 80 characters of [0-9A-Za-z._-], not starting with '.' or '_', not ending with '.'", name)
	}
	return nil
}

// ChunkCount returns the number of hash chunks of a payload of size bytes.
func ChunkCount(size, chunkSize int64) int64 {
	if size <= 0 {
		return 0
	}
	return (size + chunkSize - 1) / chunkSize
}

// Validate checks the payload description as the known reader does.
func (p *PayloadInfo) Validate() error {
	if err := ValidatePayloadName(p.Name); err != nil {
		return err
	}
	if p.Size < 0 {
		return fmt.Errorf("payload %q: negative size %d", p.Name, p.Size)
	}
	if p.HashChunkSize <= 0 || p.HashChunkSize > MaxHashChunkSize {
		return fmt.Errorf("payload %q: hash_chunk_size %d out of range (1..%d)", p.Name, p.HashChunkSize, MaxHashChunkSize)
	}
	if want := ChunkCount(p.Size, p.HashChunkSize); int64(len(p.ChunkHashesSHA256)) != want {
		return fmt.Errorf("payload %q: %d chunk hashes, want %d for size %d and chunk size %d",
			p.Name, len(p.ChunkHashesSHA256), want, p.Size, p.HashChunkSize)
	}
	return nil
}

// Validate checks the product info fields the format constrains.
func (p *ProductInfo) Validate() error {
	if !variantRE.MatchString(p.Variant) {
		return fmt.Errorf("product_info: invalid variant %q: allowed characters are [a-zA-Z0-9._-]", p.Variant)
	}
	return nil
}

// Architecture returns the architecture named by the variant (its first
// '-'-separated component), or "" when the variant is empty.
func (p *ProductInfo) Architecture() string {
	arch, _, _ := bytes.Cut([]byte(p.Variant), []byte("-"))
	return string(arch)
}

// Validate checks the config as the known reader does (format version,
// size, chunk size and chunk count of every payload) and, beyond it, that
// payload names are valid and unique, which the known producer guarantees.
// It does not check the product info: neither the known reader nor the
// known producer does, so a reader must accept any variant; the build side
// calls ProductInfo.Validate itself.
func (c *Config) Validate() error {
	if c.FormatVersion != FormatVersion {
		return fmt.Errorf("unsupported config format_version %q, want %q", c.FormatVersion, FormatVersion)
	}
	seen := make(map[string]bool, len(c.Payloads))
	for i := range c.Payloads {
		p := &c.Payloads[i]
		if err := p.Validate(); err != nil {
			return err
		}
		if seen[p.Name] {
			return fmt.Errorf("duplicate payload name %q", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// MarshalIndent encodes v the way the known producer writes JSON documents:
// json.MarshalIndent with one tab per level (so '<', '>' and '&' in strings
// are escaped as \u003c, \u003e and \u0026), followed by a newline. Equal
// documents thus have equal bytes and digests whichever tool wrote them.
func MarshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
