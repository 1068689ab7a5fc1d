package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rules-osimage/rules_osimage/pkg/registry"
)

// imageFlags collects repeated -image REPO:TAG=DIR flags.
type imageFlags []registry.Image

func (f *imageFlags) String() string {
	s := make([]string, len(*f))
	for i, img := range *f {
		s[i] = img.String() + "=" + img.Layout
	}
	return strings.Join(s, " ")
}

func (f *imageFlags) Set(v string) error {
	ref, dir, ok := strings.Cut(v, "=")
	if !ok || dir == "" {
		return fmt.Errorf("%q is not REPO:TAG=DIR", v)
	}
	i := strings.LastIndex(ref, ":")
	if i <= 0 || i == len(ref)-1 {
		return fmt.Errorf("%q is not REPO:TAG=DIR", v)
	}
	*f = append(*f, registry.Image{Repository: ref[:i], Tag: ref[i+1:], Layout: dir})
	return nil
}

// Server timeouts. There is no write timeout: a large blob over a slow link
// may legitimately take long.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
)

func runServe(args []string) error {
	fs := newFlagSet("serve",
		"[-manifest FILE] [-image REPO:TAG=DIR]... [-listen ADDR] [-addr_file FILE] [-access_log]",
		"Serves OCI image layouts read-only over the OCI Distribution API until SIGINT or\n"+
			"SIGTERM. Prints \"serving on http://ADDR\", then one ADDR/REPO:TAG line per image.")
	manifest := fs.String("manifest", "", "local-registry manifest `FILE` (path, or runfiles rlocation path) listing the images to serve")
	var images imageFlags
	fs.Var(&images, "image", "serve the OCI image layout `REPO:TAG=DIR` (repeatable)")
	listen := fs.String("listen", "127.0.0.1:0", "`ADDR` to listen on (port 0 picks a free port)")
	addrFile := fs.String("addr_file", "", "write the bound host:port to `FILE` once listening")
	accessLog := fs.Bool("access_log", false, "log every request to stderr")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if *manifest == "" && len(images) == 0 {
		return errors.New("nothing to serve: give -manifest and/or -image")
	}

	var opts []registry.Option
	if *manifest != "" {
		opts = append(opts, registry.WithManifest(*manifest))
	}
	opts = append(opts, registry.WithImages(images...))
	if *accessLog {
		opts = append(opts, registry.WithAccessLog(os.Stderr))
	}
	reg, err := registry.New(opts...)
	if err != nil {
		return err
	}

	// Catch signals before announcing the address, so a client that saw the
	// address can always stop the server cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           reg,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	addr := ln.Addr().String()
	if *addrFile != "" {
		if err := writeFileAtomic(*addrFile, []byte(addr)); err != nil {
			srv.Close()
			return fmt.Errorf("-addr_file: %w", err)
		}
	}
	fmt.Printf("serving on http://%s\n", addr)
	for _, img := range reg.Images() {
		fmt.Printf("%s/%s\n", addr, img)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
