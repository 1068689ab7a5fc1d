// Package registry serves OCI image layouts over the pull side of the OCI
// Distribution API, read-only.
//
// A Registry is an http.Handler. Give it images as (repository, tag, layout
// directory) triples, directly or through a local-registry manifest file
// written by the oci_local_registry Bazel rule, and any OCI client can pull
// them:
//
//	reg, err := registry.New(registry.WithImage("os/example", "latest", dir))
//	if err != nil { ... }
//	srv := httptest.NewServer(reg)
//	// pull srv.Listener.Addr().String() + "/os/example:latest"
//
// Every layout is checked when it is added (digests of indexes, manifests and
// configs; existence and size of every other blob), so a broken layout is an
// error at startup rather than a failure while serving. Requests only ever
// reach files the layouts reference, mapped by digest; blobs are streamed from
// disk (sendfile on Linux), manifests are kept in memory.
package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// Image is one repository:tag served from an OCI image layout directory.
type Image struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// Layout is the layout directory (in a manifest file: a path or a
	// runfiles rlocation path; see LoadManifest).
	Layout string `json:"layout"`
}

// String returns "repository:tag".
func (i Image) String() string { return i.Repository + ":" + i.Tag }

// Option configures a Registry in New.
type Option func(*Registry) error

// WithImage serves the OCI image layout in dir as repo:tag.
func WithImage(repo, tag, dir string) Option {
	return func(r *Registry) error { return r.AddImage(repo, tag, dir) }
}

// WithImages serves each of imgs.
func WithImages(imgs ...Image) Option {
	return func(r *Registry) error {
		for _, img := range imgs {
			if err := r.AddImage(img.Repository, img.Tag, img.Layout); err != nil {
				return err
			}
		}
		return nil
	}
}

// WithManifest serves the images listed in a local-registry manifest file;
// see LoadManifest for how paths are resolved.
func WithManifest(path string) Option {
	return func(r *Registry) error {
		imgs, err := LoadManifest(path)
		if err != nil {
			return err
		}
		return WithImages(imgs...)(r)
	}
}

// WithAccessLog writes one line per request to w: remote address, method,
// path, status, bytes sent and duration.
func WithAccessLog(w io.Writer) Option {
	return func(r *Registry) error {
		r.accessLog = w
		return nil
	}
}

// Registry is a read-only OCI Distribution registry serving image layouts.
// It is safe for concurrent use; images may be added while serving (the
// request path takes no locks: AddImage publishes a new immutable snapshot).
type Registry struct {
	mu        sync.Mutex // serializes AddImage
	repos     atomic.Pointer[map[string]*repository]
	images    []Image
	accessLog io.Writer
	logMu     sync.Mutex
}

// repository holds what the images of one repository reference. Once
// published in Registry.repos it is never modified: AddImage replaces it.
type repository struct {
	tags      map[string]digest.Digest
	manifests map[digest.Digest]*manifestDoc
	blobs     map[digest.Digest]*blobFile
}

// New returns a Registry configured by opts. It fails if any image cannot be
// loaded, naming the image and the faulty file or blob.
func New(opts ...Option) (*Registry, error) {
	r := &Registry{}
	r.repos.Store(&map[string]*repository{})
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Repository names and tags, from the OCI Distribution spec.
var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// maxNameLength bounds repository names (the spec bounds them with the
// registry host at 255 characters).
const maxNameLength = 255

func validName(name string) bool { return len(name) <= maxNameLength && nameRE.MatchString(name) }

// AddImage checks the OCI image layout in dir and serves it as repo:tag. If
// index.json lists exactly one manifest or index, the tag resolves to it;
// otherwise the tag resolves to index.json itself, served as an image index.
func (r *Registry) AddImage(repo, tag, dir string) error {
	img := Image{Repository: repo, Tag: tag, Layout: dir}
	if !validName(repo) {
		return fmt.Errorf("image %s: invalid repository name %q", img, repo)
	}
	if !tagRE.MatchString(tag) {
		return fmt.Errorf("image %s: invalid tag %q", img, tag)
	}
	l, err := loadLayout(dir)
	if err != nil {
		return fmt.Errorf("image %s: layout %s: %w", img, dir, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.repos.Load()
	rp := &repository{
		tags:      map[string]digest.Digest{},
		manifests: map[digest.Digest]*manifestDoc{},
		blobs:     map[digest.Digest]*blobFile{},
	}
	if prev := old[repo]; prev != nil {
		if _, dup := prev.tags[tag]; dup {
			return fmt.Errorf("image %s: listed more than once", img)
		}
		maps.Copy(rp.tags, prev.tags)
		maps.Copy(rp.manifests, prev.manifests)
		maps.Copy(rp.blobs, prev.blobs)
	}
	rp.tags[tag] = l.tagDigest
	for d, m := range l.manifests {
		if _, ok := rp.manifests[d]; !ok {
			rp.manifests[d] = m
		}
	}
	for d, b := range l.blobs {
		if _, ok := rp.blobs[d]; !ok {
			rp.blobs[d] = b
		}
	}
	repos := maps.Clone(old)
	repos[repo] = rp
	r.repos.Store(&repos)
	r.images = append(r.images, img)
	return nil
}

// Images returns the images served, in the order they were added.
func (r *Registry) Images() []Image {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.images)
}

// Error codes of the OCI Distribution spec used by the registry.
const (
	codeNameUnknown     = "NAME_UNKNOWN"
	codeNameInvalid     = "NAME_INVALID"
	codeManifestUnknown = "MANIFEST_UNKNOWN"
	codeBlobUnknown     = "BLOB_UNKNOWN"
	codeDigestInvalid   = "DIGEST_INVALID"
	codeTagInvalid      = "TAG_INVALID"
	codeUnsupported     = "UNSUPPORTED"
	// codePaginationInvalid is the reference registry's code for a bad n.
	codePaginationInvalid = "PAGINATION_NUMBER_INVALID"
)

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: code, Message: message}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

const allowedMethods = "GET, HEAD"

// Header values shared by all responses; net/http never modifies them.
var (
	apiVersion  = []string{"registry/2.0"}
	octetStream = []string{"application/octet-stream"}
)

// ServeHTTP implements the pull side of the OCI Distribution API.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.accessLog != nil {
		r.serveLogged(w, req)
		return
	}
	r.serve(w, req)
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	w.Header()["Docker-Distribution-Api-Version"] = apiVersion
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", allowedMethods)
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported,
			fmt.Sprintf("this registry is read-only: method %s is not allowed (allowed: %s)", req.Method, allowedMethods))
		return
	}
	// Work on the escaped path: names, tags and digests never need escaping,
	// so an escaped character simply fails validation below.
	p := req.URL.EscapedPath()
	if p == "/v2/" || p == "/v2" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "{}")
		return
	}
	// /v2/<name>/<kind>/<ref>, where <name> may contain slashes.
	rest, ok := strings.CutPrefix(p, "/v2/")
	i := strings.LastIndexByte(rest, '/')
	j := -1
	if i > 0 {
		j = strings.LastIndexByte(rest[:i], '/')
	}
	if !ok || j <= 0 {
		writeError(w, http.StatusNotFound, codeUnsupported, "unknown endpoint "+p)
		return
	}
	name, kind, ref := rest[:j], rest[j+1:i], rest[i+1:]
	switch {
	case kind == "tags" && ref == "list":
		if rp := r.repo(w, name); rp != nil {
			r.serveTags(w, req, name, rp)
		}
	case kind == "manifests":
		if rp := r.repo(w, name); rp != nil {
			r.serveManifest(w, req, rp, ref)
		}
	case kind == "blobs":
		if rp := r.repo(w, name); rp != nil {
			r.serveBlob(w, req, rp, ref)
		}
	default:
		writeError(w, http.StatusNotFound, codeUnsupported, "unknown endpoint "+p)
	}
}

// repo looks up a repository, answering the request with an error if it is
// invalid or unknown.
func (r *Registry) repo(w http.ResponseWriter, name string) *repository {
	// Served names were validated when added, so look up first and
	// validate only to explain a miss.
	if rp := (*r.repos.Load())[name]; rp != nil {
		return rp
	}
	if !validName(name) {
		writeError(w, http.StatusBadRequest, codeNameInvalid, fmt.Sprintf("invalid repository name %q", name))
		return nil
	}
	writeError(w, http.StatusNotFound, codeNameUnknown, fmt.Sprintf("repository %q is not served here", name))
	return nil
}

func (r *Registry) serveManifest(w http.ResponseWriter, req *http.Request, rp *repository, ref string) {
	// Known tags and digests were validated when added: look up first and
	// validate only to explain a miss.
	d := digest.Digest(ref)
	if strings.Contains(ref, ":") {
		if _, err := digest.Parse(ref); err != nil && rp.manifests[d] == nil {
			writeError(w, http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("invalid digest %q: %v", ref, err))
			return
		}
	} else {
		d = rp.tags[ref]
		if d == "" {
			if !tagRE.MatchString(ref) {
				writeError(w, http.StatusBadRequest, codeTagInvalid, fmt.Sprintf("invalid tag %q", ref))
				return
			}
			writeError(w, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("tag %q is not known", ref))
			return
		}
	}
	doc := rp.manifests[d]
	if doc == nil {
		writeError(w, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s is not known", d))
		return
	}
	doc.serve(w, req, doc.contentType)
}

func (r *Registry) serveBlob(w http.ResponseWriter, req *http.Request, rp *repository, ref string) {
	d := digest.Digest(ref)
	b := rp.blobs[d]
	if b == nil {
		if doc := rp.manifests[d]; doc != nil {
			// Registries serve manifests from the blob endpoint too.
			doc.serve(w, req, octetStream)
			return
		}
		if _, err := digest.Parse(ref); err != nil {
			writeError(w, http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("invalid digest %q: %v", ref, err))
			return
		}
		writeError(w, http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not known in this repository", d))
		return
	}
	f, err := openBlob(b)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeBlobUnknown, fmt.Sprintf("blob %s: %v", d, err))
		return
	}
	defer f.Close()
	h := w.Header()
	h["Content-Type"] = octetStream
	h["Docker-Content-Digest"] = []string{d.String()}
	h["Etag"] = []string{`"` + d.String() + `"`}
	// ServeContent handles Range, If-None-Match and HEAD; for a single range
	// or the whole file it copies the *os.File into the connection, which
	// net/http turns into sendfile(2).
	http.ServeContent(w, req, "", time.Time{}, f)
}

func (r *Registry) serveTags(w http.ResponseWriter, req *http.Request, name string, rp *repository) {
	q := req.URL.Query()
	tags := make([]string, 0, len(rp.tags))
	for t := range rp.tags {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(tags, last)
		for i < len(tags) && tags[i] <= last {
			i++
		}
		tags = tags[i:]
	}
	if ns := q.Get("n"); ns != "" {
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, codePaginationInvalid, fmt.Sprintf("invalid n %q", ns))
			return
		}
		if n < len(tags) {
			tags = tags[:n]
			if n > 0 {
				next := url.Values{"n": {ns}, "last": {tags[n-1]}}
				w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, name, next.Encode()))
			}
		}
	}
	body, _ := json.Marshal(struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, tags})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		w.Write(body)
	}
}
