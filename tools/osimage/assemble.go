package main

import (
	"fmt"

	"github.com/rules-osimage/rules_osimage/pkg/builder"
	"github.com/rules-osimage/rules_osimage/pkg/osimage"
	"github.com/rules-osimage/rules_osimage/pkg/payload"
)

func runAssemble(args []string) error {
	fs := newFlagSet("assemble",
		"-out DIR [-product_info FILE] [-out_digest FILE] [-out_manifest_descriptor FILE] -descriptor D1 -blob B1 [-descriptor D2 -blob B2 ...]",
		"Writes an OS image layout from payloads processed by 'osimage payload', in the\n"+
			"order of the -descriptor/-blob pairs. For an uncompressed payload the blob is the\n"+
			"payload file itself.")
	ps := pairs{first: "descriptor", second: "blob"}
	ps.register(fs, "payload descriptor JSON `file` (repeated, in payload order)", "blob `file` of the payload described by the preceding -descriptor")
	out := fs.String("out", "", "output `directory` (must not exist or be empty)")
	productInfo := fs.String("product_info", "", "product info JSON `file` (optional; unknown fields are errors)")
	outDigest := fs.String("out_digest", "", "`file` to receive the manifest digest, sha256:<hex> without newline")
	outManifestDesc := fs.String("out_manifest_descriptor", "", "`file` to receive the manifest's OCI descriptor JSON")
	pi, err := parseLayoutFlags(fs, args, &ps, out, productInfo)
	if err != nil {
		return err
	}
	inputs := make([]builder.Input, len(ps.list))
	for i, p := range ps.list {
		d, err := payload.ReadDescriptor(p[0])
		if err != nil {
			return err
		}
		inputs[i] = builder.Input{Descriptor: d, BlobPath: p[1]}
	}
	md, err := builder.Assemble(*out, inputs, pi)
	if err != nil {
		return fmt.Errorf("assembling %s: %w", *out, err)
	}
	if *outDigest != "" {
		if err := writeFileAtomic(*outDigest, []byte(md.Digest.String())); err != nil {
			return err
		}
	}
	if *outManifestDesc != "" {
		b, err := osimage.MarshalIndent(&md)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(*outManifestDesc, b); err != nil {
			return err
		}
	}
	return nil
}
