package main

// Argument handling shared by the verbs: Bazel param files, flag sets,
// ordered flag pairs, and atomic writes of small outputs.

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// expandParamFiles replaces every argument of the form @FILE with the
// arguments in FILE, one per line (Bazel's multiline param file format,
// which does not quote; the final newline is optional).
func expandParamFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		path, ok := strings.CutPrefix(a, "@")
		if !ok {
			out = append(out, a)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("param file: %w", err)
		}
		if len(b) == 0 {
			continue
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			out = append(out, strings.TrimSuffix(line, "\r"))
		}
	}
	return out, nil
}

// newFlagSet returns a flag set for a verb that returns errors to the
// caller instead of exiting. Parse errors are not printed (main prints the
// returned error in one line); -help prints the usage text to stderr.
func newFlagSet(name, synopsis, doc string) *flag.FlagSet {
	fs := flag.NewFlagSet("osimage "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		if helpRequested {
			fs.SetOutput(os.Stderr)
			fmt.Fprintf(os.Stderr, "usage: osimage %s %s\n\n%s\n\nflags:\n", name, synopsis, doc)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	return fs
}

// helpRequested is set while parsing arguments that ask for help, so that
// only -help prints the usage text.
var helpRequested bool

// parseFlags parses flags that may come before or after positional
// arguments and returns the positional arguments. Everything after "--" is
// positional.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		helpRequested = slices.ContainsFunc(args, func(a string) bool {
			return a == "-h" || a == "-help" || a == "--help" || a == "--h"
		})
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// pairs collects ordered pairs of flags such as repeated
// -payload_name N -payload_file P: each second flag completes the pair
// opened by the most recent first flag.
type pairs struct {
	first, second string // flag names
	list          [][2]string
	open          bool // the last pair has no second value yet
}

func (p *pairs) register(fs *flag.FlagSet, firstUsage, secondUsage string) {
	fs.Func(p.first, firstUsage, p.setFirst)
	fs.Func(p.second, secondUsage, p.setSecond)
}

func (p *pairs) setFirst(v string) error {
	if err := p.done(); err != nil {
		return err
	}
	p.list = append(p.list, [2]string{v, ""})
	p.open = true
	return nil
}

func (p *pairs) setSecond(v string) error {
	if !p.open {
		return fmt.Errorf("no preceding -%s", p.first)
	}
	p.list[len(p.list)-1][1] = v
	p.open = false
	return nil
}

// done reports a dangling first flag.
func (p *pairs) done() error {
	if p.open {
		return fmt.Errorf("-%s %q has no -%s after it", p.first, p.list[len(p.list)-1][0], p.second)
	}
	return nil
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory, so that path never holds partial content.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(0o644)
	if err == nil {
		_, err = f.Write(b)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
