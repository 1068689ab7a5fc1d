// Command loadgen measures GET requests per second against one URL over
// keep-alive connections, for bench/registry/run.sh. It is a benchmark tool,
// not a test.
//
//	loadgen -url http://127.0.0.1:5000/v2/os/example/manifests/latest -conns 4 -duration 5s
//
// It prints one line: "<requests> requests, <errors> errors, <bytes> bytes, <req/s> req/s".
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "URL to GET")
	accept := flag.String("accept", "", "Accept header to send")
	conns := flag.Int("conns", 4, "concurrent keep-alive connections")
	duration := flag.Duration("duration", 5*time.Second, "how long to run")
	maxRequests := flag.Int64("max", 1_000_000, "stop after this many requests")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -url is required")
		os.Exit(2)
	}
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: *conns, DisableCompression: true},
		Timeout:   10 * time.Second,
	}
	var requests, errors, bytes atomic.Int64
	deadline := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && requests.Add(1) <= *maxRequests {
				req, err := http.NewRequest(http.MethodGet, *url, nil)
				if err != nil {
					errors.Add(1)
					return
				}
				if *accept != "" {
					req.Header.Set("Accept", *accept)
				}
				resp, err := client.Do(req)
				if err != nil {
					errors.Add(1)
					continue
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				bytes.Add(n)
				if err != nil || resp.StatusCode != http.StatusOK {
					errors.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	done := min(requests.Load(), *maxRequests)
	fmt.Printf("%d requests, %d errors, %d bytes, %.0f req/s\n", done, errors.Load(), bytes.Load(), float64(done)/elapsed.Seconds())
	if errors.Load() > 0 {
		os.Exit(1)
	}
}
