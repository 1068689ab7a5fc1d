package fileutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadLimited(t *testing.T) {
	p := filepath.Join(t.TempDir(), "index.json")
	if err := os.WriteFile(p, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadLimited(p, 5); err != nil || string(b) != "12345" {
		t.Errorf("ReadLimited at the limit = %q, %v", b, err)
	}
	_, err := ReadLimited(p, 4)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "limit of 4 bytes") {
		t.Errorf("ReadLimited over the limit: error %v, want one naming the file and the limit", err)
	}
	if _, err := ReadLimited(filepath.Join(t.TempDir(), "missing"), 5); !os.IsNotExist(err) {
		t.Errorf("ReadLimited of a missing file: error %v, want not-exist", err)
	}
}
