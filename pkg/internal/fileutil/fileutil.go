// Package fileutil holds file helpers shared by pkg/osimage and
// pkg/registry, which otherwise do not depend on each other.
package fileutil

import (
	"fmt"
	"io"
	"os"
)

// ReadLimited reads a whole file of at most limit bytes. A larger file is
// an error naming the path and the limit; nothing past limit+1 bytes is
// read.
func ReadLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s exceeds the limit of %d bytes", path, limit)
	}
	return b, nil
}
