package main

import "errors"

// Placeholders for the core verbs, replaced by build.go, payload.go,
// assemble.go, verify.go and paramfile.go.

func runBuild(args []string) error                     { return errors.New("not implemented") }
func runPayload(args []string) error                   { return errors.New("not implemented") }
func runAssemble(args []string) error                  { return errors.New("not implemented") }
func runVerify(args []string) error                    { return errors.New("not implemented") }
func expandParamFiles(args []string) ([]string, error) { return args, nil }
