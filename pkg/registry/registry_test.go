package registry

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// fixture is a registry serving:
//
//	os/example:latest  one image (config + 2 layers)
//	os/example:v2      the same layout
//	os/multi:latest    index.json with two manifests, one of them a nested index
//	other/repo:latest  an unrelated image
type fixture struct {
	srv                  *httptest.Server
	manifest             []byte
	manifestDigest       digest.Digest
	layer                []byte
	layerDigest          digest.Digest
	multiIndex           []byte
	nestedManifestDigest digest.Digest
	otherLayerDigest     digest.Digest
	nestedIndexDigest    digest.Digest
}

func newFixture(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{}

	l := newTestLayout(t)
	f.layer = bytes.Repeat([]byte("0123456789"), 1000)
	m, data := l.image(`{"config":true}`, string(f.layer), "second layer")
	l.index(m)
	f.manifest, f.manifestDigest, f.layerDigest = data, m.Digest, digest.FromBytes(f.layer)

	ml := newTestLayout(t)
	m1, _ := ml.image(`{"n":1}`, "multi one")
	m2, _ := ml.image(`{"n":2}`, "multi two")
	f.nestedManifestDigest = m2.Digest
	nested := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{m2}}
	nested.SchemaVersion = 2
	ni, _ := ml.json(v1.MediaTypeImageIndex, nested)
	f.nestedIndexDigest = ni.Digest
	f.multiIndex = ml.index(m1, ni)

	ol := newTestLayout(t)
	om, _ := ol.image(`{"other":true}`, "other layer")
	ol.index(om)
	f.otherLayerDigest = digest.FromString("other layer")

	opts = append([]Option{
		WithImage("os/example", "latest", l.dir),
		WithImage("os/example", "v2", l.dir),
		WithImage("os/multi", "latest", ml.dir),
		WithImage("other/repo", "latest", ol.dir),
	}, opts...)
	r, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil || len(eb.Errors) != 1 {
		t.Fatalf("error body %q is not a spec error document: %v", body, err)
	}
	if eb.Errors[0].Message == "" {
		t.Errorf("error %s has no message", eb.Errors[0].Code)
	}
	return eb.Errors[0].Code
}

func TestEndpoints(t *testing.T) {
	f := newFixture(t)
	multiDigest := digest.FromBytes(f.multiIndex)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		header  http.Header
		status  int
		code    string            // expected error code, for errors
		body    []byte            // expected body, if not nil
		headers map[string]string // expected response headers
	}{
		{name: "ping", method: "GET", path: "/v2/", status: 200,
			headers: map[string]string{"Docker-Distribution-API-Version": "registry/2.0"}},
		{name: "manifest by tag", method: "GET", path: "/v2/os/example/manifests/latest", status: 200, body: f.manifest,
			headers: map[string]string{
				"Content-Type":          v1.MediaTypeImageManifest,
				"Docker-Content-Digest": f.manifestDigest.String(),
				"Content-Length":        strconv.Itoa(len(f.manifest)),
				"ETag":                  `"` + f.manifestDigest.String() + `"`,
			}},
		{name: "manifest by second tag", method: "GET", path: "/v2/os/example/manifests/v2", status: 200, body: f.manifest},
		{name: "manifest head", method: "HEAD", path: "/v2/os/example/manifests/latest", status: 200, body: []byte{},
			headers: map[string]string{
				"Content-Type":          v1.MediaTypeImageManifest,
				"Docker-Content-Digest": f.manifestDigest.String(),
				"Content-Length":        strconv.Itoa(len(f.manifest)),
			}},
		{name: "manifest by digest", method: "GET", path: "/v2/os/example/manifests/" + f.manifestDigest.String(), status: 200, body: f.manifest},
		{name: "manifest not modified", method: "GET", path: "/v2/os/example/manifests/latest", status: 304,
			header: hdr("If-None-Match", `"`+f.manifestDigest.String()+`"`)},
		{name: "multi-manifest layout tag is index.json", method: "GET", path: "/v2/os/multi/manifests/latest", status: 200, body: f.multiIndex,
			headers: map[string]string{"Content-Type": v1.MediaTypeImageIndex, "Docker-Content-Digest": multiDigest.String()}},
		{name: "index.json by digest", method: "HEAD", path: "/v2/os/multi/manifests/" + multiDigest.String(), status: 200,
			headers: map[string]string{"Content-Type": v1.MediaTypeImageIndex}},
		{name: "nested index", method: "GET", path: "/v2/os/multi/manifests/" + f.nestedIndexDigest.String(), status: 200,
			headers: map[string]string{"Content-Type": v1.MediaTypeImageIndex}},
		{name: "manifest in nested index", method: "GET", path: "/v2/os/multi/manifests/" + f.nestedManifestDigest.String(), status: 200,
			headers: map[string]string{"Content-Type": v1.MediaTypeImageManifest}},
		{name: "unknown tag", method: "GET", path: "/v2/os/example/manifests/nope", status: 404, code: codeManifestUnknown},
		{name: "unknown tag head", method: "HEAD", path: "/v2/os/example/manifests/nope", status: 404},
		{name: "unknown manifest digest", method: "GET", path: "/v2/os/example/manifests/" + digest.FromString("x").String(), status: 404, code: codeManifestUnknown},
		{name: "manifest of another repo", method: "GET", path: "/v2/os/example/manifests/" + f.nestedManifestDigest.String(), status: 404, code: codeManifestUnknown},
		{name: "invalid manifest digest", method: "GET", path: "/v2/os/example/manifests/sha256:baddigeststring", status: 400, code: codeDigestInvalid},
		{name: "invalid tag", method: "GET", path: "/v2/os/example/manifests/-tag", status: 400, code: codeTagInvalid},
		{name: "unknown repository", method: "GET", path: "/v2/os/nope/manifests/latest", status: 404, code: codeNameUnknown},
		{name: "invalid repository", method: "GET", path: "/v2/OS/example/manifests/latest", status: 400, code: codeNameInvalid},
		{name: "dot-dot repository", method: "GET", path: "/v2/os/../example/manifests/latest", status: 400, code: codeNameInvalid},
		{name: "blob", method: "GET", path: "/v2/os/example/blobs/" + f.layerDigest.String(), status: 200, body: f.layer,
			headers: map[string]string{
				"Content-Type":          "application/octet-stream",
				"Content-Length":        strconv.Itoa(len(f.layer)),
				"Docker-Content-Digest": f.layerDigest.String(),
				"ETag":                  `"` + f.layerDigest.String() + `"`,
				"Accept-Ranges":         "bytes",
			}},
		{name: "blob head", method: "HEAD", path: "/v2/os/example/blobs/" + f.layerDigest.String(), status: 200, body: []byte{},
			headers: map[string]string{"Content-Length": strconv.Itoa(len(f.layer)), "Docker-Content-Digest": f.layerDigest.String()}},
		{name: "blob range", method: "GET", path: "/v2/os/example/blobs/" + f.layerDigest.String(), header: hdr("Range", "bytes=5-14"),
			status: 206, body: f.layer[5:15],
			headers: map[string]string{"Content-Range": "bytes 5-14/10000", "Content-Length": "10"}},
		{name: "blob suffix range", method: "GET", path: "/v2/os/example/blobs/" + f.layerDigest.String(), header: hdr("Range", "bytes=-3"),
			status: 206, body: f.layer[9997:]},
		{name: "blob open range", method: "GET", path: "/v2/os/example/blobs/" + f.layerDigest.String(), header: hdr("Range", "bytes=9990-"),
			status: 206, body: f.layer[9990:], headers: map[string]string{"Content-Range": "bytes 9990-9999/10000"}},
		{name: "blob range past end", method: "GET", path: "/v2/os/example/blobs/" + f.layerDigest.String(), header: hdr("Range", "bytes=10000-20000"),
			status: 416, headers: map[string]string{"Content-Range": "bytes */10000"}},
		{name: "blob reversed range", method: "GET", path: "/v2/os/example/blobs/" + f.layerDigest.String(), header: hdr("Range", "bytes=500-0"),
			status: 416},
		{name: "blob not modified", method: "GET", path: "/v2/os/example/blobs/" + f.layerDigest.String(), status: 304,
			header: hdr("If-None-Match", `"`+f.layerDigest.String()+`"`)},
		{name: "manifest from blob endpoint", method: "GET", path: "/v2/os/example/blobs/" + f.manifestDigest.String(), status: 200, body: f.manifest},
		{name: "unknown blob", method: "GET", path: "/v2/os/example/blobs/" + digest.FromString("x").String(), status: 404, code: codeBlobUnknown},
		{name: "blob of another repository", method: "GET", path: "/v2/os/example/blobs/" + f.otherLayerDigest.String(), status: 404, code: codeBlobUnknown},
		{name: "invalid blob digest", method: "GET", path: "/v2/os/example/blobs/sha256:..%2F..%2Fetc", status: 400, code: codeDigestInvalid},
		{name: "blob in unknown repository", method: "GET", path: "/v2/nope/blobs/" + f.layerDigest.String(), status: 404, code: codeNameUnknown},
		{name: "tags", method: "GET", path: "/v2/os/example/tags/list", status: 200,
			body:    []byte(`{"name":"os/example","tags":["latest","v2"]}`),
			headers: map[string]string{"Content-Type": "application/json"}},
		{name: "tags n=1", method: "GET", path: "/v2/os/example/tags/list?n=1", status: 200,
			body:    []byte(`{"name":"os/example","tags":["latest"]}`),
			headers: map[string]string{"Link": `</v2/os/example/tags/list?last=latest&n=1>; rel="next"`}},
		{name: "tags last", method: "GET", path: "/v2/os/example/tags/list?n=1&last=latest", status: 200,
			body:    []byte(`{"name":"os/example","tags":["v2"]}`),
			headers: map[string]string{"Link": ""}},
		{name: "tags n=0", method: "GET", path: "/v2/os/example/tags/list?n=0", status: 200,
			body: []byte(`{"name":"os/example","tags":[]}`)},
		{name: "tags last past end", method: "GET", path: "/v2/os/example/tags/list?last=zzz", status: 200,
			body: []byte(`{"name":"os/example","tags":[]}`)},
		{name: "tags bad n", method: "GET", path: "/v2/os/example/tags/list?n=-1", status: 400, code: codePaginationInvalid},
		{name: "tags unknown repository", method: "GET", path: "/v2/nope/tags/list", status: 404, code: codeNameUnknown},
		{name: "unknown endpoint", method: "GET", path: "/v2/os/example/referrers/" + f.manifestDigest.String(), status: 404, code: codeUnsupported},
		{name: "too short", method: "GET", path: "/v2/os", status: 404, code: codeUnsupported},
		{name: "trailing slash", method: "GET", path: "/v2/os/example/tags/list/", status: 404, code: codeUnsupported},
		{name: "upper-case digest", method: "GET", path: "/v2/os/example/blobs/" + strings.ToUpper(f.layerDigest.String()), status: 400, code: codeDigestInvalid},
		{name: "not v2", method: "GET", path: "/v1/os/example/manifests/latest", status: 404, code: codeUnsupported},
		{name: "push manifest", method: "PUT", path: "/v2/os/example/manifests/latest", status: 405, code: codeUnsupported,
			headers: map[string]string{"Allow": "GET, HEAD"}},
		{name: "start upload", method: "POST", path: "/v2/os/example/blobs/uploads/", status: 405, code: codeUnsupported,
			headers: map[string]string{"Allow": "GET, HEAD"}},
		{name: "patch upload", method: "PATCH", path: "/v2/os/example/blobs/uploads/x", status: 405, code: codeUnsupported},
		{name: "delete manifest", method: "DELETE", path: "/v2/os/example/manifests/" + f.manifestDigest.String(), status: 405, code: codeUnsupported},
		{name: "delete blob", method: "DELETE", path: "/v2/os/example/blobs/" + f.layerDigest.String(), status: 405, code: codeUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.do(t, tc.method, tc.path, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: status %d, want %d (body %q)", tc.method, tc.path, resp.StatusCode, tc.status, body)
			}
			if tc.code != "" {
				if got := errorCode(t, body); got != tc.code {
					t.Errorf("error code %s, want %s", got, tc.code)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("error Content-Type %q", ct)
				}
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("body %.200q, want %.200q", body, tc.body)
			}
			for k, v := range tc.headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	f := newFixture(t, WithAccessLog(&buf))
	f.do(t, "GET", "/v2/os/example/blobs/"+f.layerDigest.String(), nil)
	f.do(t, "PUT", "/v2/os/example/manifests/latest", nil)
	// The log line is written after the response; wait for it briefly.
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if lines = strings.Split(strings.TrimSpace(buf.String()), "\n"); len(lines) >= 2 {
			break
		}
	}
	if len(lines) != 2 {
		t.Fatalf("access log has %d lines, want 2:\n%s", len(lines), buf.String())
	}
	if want := "GET /v2/os/example/blobs/" + f.layerDigest.String() + " 200 10000 "; !strings.Contains(lines[0], want) {
		t.Errorf("access log line %q does not contain %q", lines[0], want)
	}
	if want := "PUT /v2/os/example/manifests/latest 405 "; !strings.Contains(lines[1], want) {
		t.Errorf("access log line %q does not contain %q", lines[1], want)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
