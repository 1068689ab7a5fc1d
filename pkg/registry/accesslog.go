package registry

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// loggingWriter records the status and size of a response. It keeps the
// io.ReaderFrom of the underlying writer so that blobs still go out with
// sendfile.
type loggingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *loggingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *loggingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *loggingWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(w.ResponseWriter, src)
	}
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *loggingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (r *Registry) serveLogged(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	lw := &loggingWriter{ResponseWriter: w}
	r.serve(lw, req)
	status := lw.status
	if status == 0 {
		status = http.StatusOK
	}
	line := fmt.Sprintf("%s %s %s %d %d %s\n", req.RemoteAddr, req.Method, req.URL.RequestURI(),
		status, lw.bytes, time.Since(start).Round(time.Microsecond))
	r.logMu.Lock()
	io.WriteString(r.accessLog, line)
	r.logMu.Unlock()
}
