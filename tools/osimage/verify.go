package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/rules-osimage/rules_osimage/pkg/osimage"
)

// stdout receives the report of verify; tests replace it.
var stdout io.Writer = os.Stdout

func runVerify(args []string) error {
	fs := newFlagSet("verify",
		"[-payloads a,b,c] [-expect_size NAME=BYTES]... [-expect_content NAME=FILE]... [-allow_index_without_media_type] DIR",
		"Checks the OS image layout DIR as the known consumer reads it and streams every\n"+
			"payload, verifying every chunk hash and every blob digest. Prints one line per\n"+
			"payload on success.")
	var opts osimage.VerifyOptions
	fs.Func("payloads", "comma-separated payload `names` the image must have, in order", func(v string) error {
		opts.Payloads = []string{}
		if v != "" {
			opts.Payloads = strings.Split(v, ",")
		}
		return nil
	})
	fs.Func("expect_size", "`NAME=BYTES`: the uncompressed size payload NAME must have (repeatable)", func(v string) error {
		name, n, ok := strings.Cut(v, "=")
		size, err := strconv.ParseInt(n, 10, 64)
		if !ok || name == "" || err != nil || size < 0 {
			return fmt.Errorf("want NAME=BYTES")
		}
		if opts.Sizes == nil {
			opts.Sizes = map[string]int64{}
		}
		opts.Sizes[name] = size
		return nil
	})
	fs.Func("expect_content", "`NAME=FILE`: payload NAME must equal the content of FILE (repeatable)", func(v string) error {
		name, file, ok := strings.Cut(v, "=")
		if !ok || name == "" || file == "" {
			return fmt.Errorf("want NAME=FILE")
		}
		if opts.Contents == nil {
			opts.Contents = map[string]string{}
		}
		opts.Contents[name] = file
		return nil
	})
	fs.BoolVar(&opts.Open.AllowIndexWithoutMediaType, "allow_index_without_media_type", false,
		"accept an index.json without its top-level mediaType, as skopeo's oci: transport\n"+
			"writes it (the osimage consumer rejects such a layout; all other checks stay)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want exactly one layout directory, got %d arguments", len(pos))
	}
	img, err := osimage.Verify(pos[0], opts)
	if errors.Is(err, osimage.ErrIndexMediaTypeMissing) {
		return fmt.Errorf("%w; pass -allow_index_without_media_type to verify a layout written by another tool (e.g. skopeo copy ... oci:DIR)", err)
	}
	if err != nil {
		return err
	}
	for _, p := range img.Payloads() {
		l, _ := img.Layer(p.Name)
		fmt.Fprintf(stdout, "%s: OK %d bytes, %d chunks, %s %s (%d bytes)\n",
			p.Name, p.Size, len(p.ChunkHashesSHA256), l.MediaType, l.Digest, l.Size)
	}
	return nil
}
