// Command payloadbench runs one side of the payload benchmark (bench/run.sh):
// the builder (payload.Process) or the straightforward baseline kept here for
// comparison, over one or more payload files. It prints one line per payload
// so the script can check that both sides agree on the chunk hashes.
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
	"github.com/rules-osimage/rules_osimage/pkg/payload"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "payloadbench: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("payloadbench", flag.ContinueOnError)
	mode := fs.String("mode", "builder", "builder (payload.Process) or baseline (single-pass reference)")
	level := fs.Int("level", 1, "compression level 0..4")
	outDir := fs.String("out", "", "directory for the blobs (required for levels 1..4)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() == 0 {
		return errors.New("no payload files given")
	}
	if *mode == "builder" {
		payload.LimitMemory() // as the osimage payload verb does
	}
	for _, src := range fs.Args() {
		name := filepath.Base(src)
		blob := ""
		if *level > 0 {
			if *outDir == "" {
				return errors.New("-out is required when compressing")
			}
			blob = filepath.Join(*outDir, name+"."+*mode+".zst")
		}
		var d *payload.Descriptor
		var err error
		switch *mode {
		case "builder":
			d, err = payload.Process(name, src, blob, payload.Options{CompressionLevel: *level})
		case "baseline":
			d, err = baseline(name, src, blob, *level)
		default:
			return fmt.Errorf("unknown mode %q", *mode)
		}
		if err != nil {
			return err
		}
		chunks := sha256.Sum256([]byte(strings.Join(d.Payload.ChunkHashesSHA256, ",")))
		fmt.Printf("%s size=%d chunks=%x layer=%s layer_size=%d\n",
			name, d.Payload.Size, chunks[:8], d.Layer.Digest, d.Layer.Size)
	}
	return nil
}

// baseline is the straightforward implementation the builder is measured
// against: one sequential pass over the file feeding a whole-blob sha256, a
// sha256 per 1 MiB chunk, and (levels 1..4) one zstd encoder with default
// options apart from the level.
func baseline(name, src, blobPath string, level int) (*payload.Descriptor, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	blobHash := sha256.New()
	var enc *zstd.Encoder
	var out *os.File
	var counter countingWriter
	sink := io.Writer(blobHash)
	if level > 0 {
		out, err = os.Create(blobPath)
		if err != nil {
			return nil, err
		}
		defer out.Close()
		enc, err = zstd.NewWriter(io.MultiWriter(out, blobHash, &counter), zstd.WithEncoderLevel(payload.EncoderLevel(level)))
		if err != nil {
			return nil, err
		}
		sink = enc
	}
	const chunkSize = osimage.DefaultHashChunkSize
	var hashes []string
	var size int64
	var chunk hash.Hash = sha256.New()
	var inChunk int
	buf := make([]byte, 1<<20)
	for {
		n, rerr := in.Read(buf)
		p := buf[:n]
		size += int64(n)
		if _, err := sink.Write(p); err != nil {
			return nil, err
		}
		for len(p) > 0 {
			k := min(len(p), chunkSize-inChunk)
			chunk.Write(p[:k])
			inChunk += k
			p = p[k:]
			if inChunk == chunkSize {
				hashes = append(hashes, base64.RawStdEncoding.EncodeToString(chunk.Sum(nil)))
				chunk.Reset()
				inChunk = 0
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	if inChunk > 0 {
		hashes = append(hashes, base64.RawStdEncoding.EncodeToString(chunk.Sum(nil)))
	}
	d := &payload.Descriptor{}
	d.Payload = osimage.PayloadInfo{Name: name, Size: size, HashChunkSize: chunkSize, ChunkHashesSHA256: hashes}
	d.Layer.Size = size
	if enc != nil {
		if err := enc.Close(); err != nil {
			return nil, err
		}
		d.Layer.Size = counter.n
	}
	d.Layer.Digest = digest.NewDigestFromBytes(digest.SHA256, blobHash.Sum(nil))
	return d, nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
