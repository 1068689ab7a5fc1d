package main

import "errors"

// Placeholders, each replaced by its own file.

func runBuild(args []string) error                     { return errors.New("not implemented") }
func runPayload(args []string) error                   { return errors.New("not implemented") }
func runAssemble(args []string) error                  { return errors.New("not implemented") }
func runVerify(args []string) error                    { return errors.New("not implemented") }
func runServe(args []string) error                     { return errors.New("not implemented") }
func expandParamFiles(args []string) ([]string, error) { return args, nil }
