package main

import "errors"

// Placeholder for the serve verb, replaced by serve.go.

func runServe(args []string) error { return errors.New("not implemented") }
