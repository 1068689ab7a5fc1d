package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/rules-osimage/rules_osimage/pkg/builder"
	"github.com/rules-osimage/rules_osimage/pkg/osimage"
	"github.com/rules-osimage/rules_osimage/pkg/payload"
)

func runBuild(args []string) error {
	fs := newFlagSet("build",
		"-payload_name NAME -payload_file PATH [...] [-compression_level N] [-product_info FILE] -out DIR",
		"Builds an OS image layout from payload files in one step. The flags are those of\n"+
			"Monogon's OS image builder; pairs of -payload_name and -payload_file are repeated,\n"+
			"in payload order.")
	ps := pairs{first: "payload_name", second: "payload_file"}
	ps.register(fs, "name of the next payload (repeated, in order)", "file of the payload named by the preceding -payload_name")
	level := fs.Int("compression_level", payload.LevelDefault, "0 stores payloads uncompressed; 1..4 is zstd fastest..best")
	productInfo := fs.String("product_info", "", "product info JSON `file` (optional; unknown fields are errors)")
	out := fs.String("out", "", "output `directory` (must not exist or be empty)")
	pi, err := parseLayoutFlags(fs, args, &ps, out, productInfo)
	if err != nil {
		return err
	}
	sources := make([]builder.Source, len(ps.list))
	for i, p := range ps.list {
		sources[i] = builder.Source{Name: p[0], Path: p[1]}
	}
	if _, err := builder.Build(*out, sources, *level, pi); err != nil {
		return fmt.Errorf("building %s: %w", *out, err)
	}
	return nil
}

// parseLayoutFlags parses the flags of the verbs that write a layout (build,
// assemble): no positional arguments, complete flag pairs, and -out. It
// returns the product info read from *productInfo, or nil when it is "".
func parseLayoutFlags(fs *flag.FlagSet, args []string, ps *pairs, out, productInfo *string) (*osimage.ProductInfo, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err := ps.done(); err != nil {
		return nil, err
	}
	if *out == "" {
		return nil, errors.New("-out is required")
	}
	if *productInfo == "" {
		return nil, nil
	}
	return osimage.ReadProductInfo(*productInfo)
}
