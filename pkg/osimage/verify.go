package osimage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// VerifyOptions are the expectations Verify checks beyond the format.
type VerifyOptions struct {
	// Payloads, if not nil, are the exact payload names expected, in order.
	Payloads []string
	// Sizes maps payload names to their expected uncompressed sizes.
	Sizes map[string]int64
	// Contents maps payload names to files whose content the payload must equal.
	Contents map[string]string
	// Open relaxes the layout checks for layouts written by other tools.
	Open OpenOptions
}

// Verify opens the layout in dir, checks the expectations in opts, and
// streams every payload through the chunk and blob checks of
// (*Image).Open. Every error names the layout and the payload or blob.
func Verify(dir string, opts VerifyOptions) (*Image, error) {
	img, err := OpenWithOptions(dir, opts.Open)
	if err != nil {
		return nil, err
	}
	if err := img.verify(opts); err != nil {
		return nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	return img, nil
}

func (img *Image) verify(opts VerifyOptions) error {
	var names []string
	for _, p := range img.config.Payloads {
		names = append(names, p.Name)
	}
	if opts.Payloads != nil && !slices.Equal(names, opts.Payloads) {
		return fmt.Errorf("payloads are %q, want %q", names, opts.Payloads)
	}
	for _, m := range []map[string]int64{opts.Sizes, sizesOf(opts.Contents)} {
		for name := range m {
			if _, ok := img.layers[name]; !ok {
				return fmt.Errorf("payload %q not in image (payloads: %q)", name, names)
			}
		}
	}
	for _, p := range img.config.Payloads {
		if want, ok := opts.Sizes[p.Name]; ok && p.Size != want {
			return fmt.Errorf("payload %q: size %d, want %d", p.Name, p.Size, want)
		}
		if err := img.verifyPayload(p.Name, opts.Contents[p.Name]); err != nil {
			return err
		}
	}
	return nil
}

func sizesOf(m map[string]string) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k := range m {
		out[k] = 0
	}
	return out
}

// verifyPayload streams the payload and, if want is not empty, compares it
// with the content of the file want.
func (img *Image) verifyPayload(name, want string) error {
	r, err := img.Open(name)
	if err != nil {
		return err
	}
	defer r.Close()
	if want == "" {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	f, err := os.Open(want)
	if err != nil {
		return fmt.Errorf("payload %q: expected content: %w", name, err)
	}
	defer f.Close()
	exp := bufio.NewReaderSize(f, 1<<20)
	buf := make([]byte, 1<<20)
	expBuf := make([]byte, 1<<20)
	var off int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			m, eerr := io.ReadFull(exp, expBuf[:n])
			if i := firstDiff(buf[:m], expBuf[:m]); i >= 0 {
				return fmt.Errorf("payload %q: content differs from %s at byte %d", name, want, off+int64(i))
			}
			if eerr != nil {
				return fmt.Errorf("payload %q: content is longer than %s (%d bytes)", name, want, off+int64(m))
			}
			off += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if _, err := exp.ReadByte(); err == nil {
		return fmt.Errorf("payload %q: content is shorter than %s (%d bytes)", name, want, off)
	} else if !errors.Is(err, io.EOF) {
		return fmt.Errorf("payload %q: expected content %s: %w", name, want, err)
	}
	return nil
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

// ReadProductInfo reads and parses a product_info JSON file with
// ParseProductInfo.
func ReadProductInfo(path string) (*ProductInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("product_info: %w", err)
	}
	p, err := ParseProductInfo(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
