// Command osimage builds, verifies and serves OS images in the osimage v1
// OCI format. It is the action tool of rules_osimage and a standalone CLI.
//
// Each verb is a func(args []string) error with its own flag set; only main
// prints errors and exits non-zero.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
)

type verb struct {
	run     func(args []string) error
	summary string
}

var verbs = map[string]verb{
	"build":    {runBuild, "build an OS image layout from payload files (Monogon-compatible flags)"},
	"payload":  {runPayload, "compress and hash one payload into a blob and a descriptor (one Bazel action)"},
	"assemble": {runAssemble, "write an OS image layout from processed payloads"},
	"verify":   {runVerify, "check a layout as the consumer does and verify every payload chunk"},
	"serve":    {runServe, "serve OCI image layouts over the OCI Distribution API, read-only"},
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: osimage <verb> [flags] [@paramfile]\n\nverbs:\n")
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", n, verbs[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'osimage <verb> -help' for the flags of a verb.\n")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	if name == "-h" || name == "-help" || name == "--help" || name == "help" {
		usage()
		return
	}
	v, ok := verbs[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "osimage: unknown verb %q\n", name)
		usage()
		os.Exit(2)
	}
	args, err := expandParamFiles(os.Args[2:])
	if err == nil {
		err = v.run(args)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "osimage %s: %v\n", name, err)
		os.Exit(1)
	}
}
