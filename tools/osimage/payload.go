package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/rules-osimage/rules_osimage/pkg/payload"
)

func runPayload(args []string) error {
	fs := newFlagSet("payload",
		"-name NAME -file PATH [-compression_level N] -out_descriptor FILE [-out_blob FILE]",
		"Compresses and hashes one payload: the work of one Bazel action per payload.\n"+
			"Writes the payload descriptor JSON and, for levels 1..4, the zstd blob; at level 0\n"+
			"the blob is the payload file itself and -out_blob must be absent.")
	name := fs.String("name", "", "payload `name`")
	file := fs.String("file", "", "payload `file`")
	level := fs.Int("compression_level", payload.LevelDefault, "0 stores the payload uncompressed; 1..4 is zstd fastest..best")
	outDesc := fs.String("out_descriptor", "", "descriptor JSON `file` to write")
	outBlob := fs.String("out_blob", "", "zstd blob `file` to write (levels 1..4 only)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	switch {
	case *name == "":
		return errors.New("-name is required")
	case *file == "":
		return fmt.Errorf("payload %q: -file is required", *name)
	case *outDesc == "":
		return fmt.Errorf("payload %q: -out_descriptor is required", *name)
	case *level == payload.LevelNone && *outBlob != "":
		return fmt.Errorf("payload %q: -out_blob must be absent at compression level 0 (the blob is the payload file)", *name)
	case *level != payload.LevelNone && *outBlob == "":
		return fmt.Errorf("payload %q: -out_blob is required at compression level %d", *name, *level)
	}
	payload.LimitMemory()
	d, err := payload.Process(*name, *file, *outBlob, payload.Options{CompressionLevel: *level})
	if err != nil {
		return err
	}
	if err := payload.WriteDescriptor(*outDesc, d); err != nil {
		if *outBlob != "" {
			os.Remove(*outBlob)
		}
		return fmt.Errorf("payload %q: %w", *name, err)
	}
	return nil
}
