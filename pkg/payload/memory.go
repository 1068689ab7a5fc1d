package payload

import (
	"os"
	"runtime/debug"
)

// MemoryLimit is the Go soft memory limit under which one Process call
// stays within a 64 MiB peak RSS for any payload size and GOMAXPROCS
// (bench/rss4g.sh). The live heap is about 25 MiB; without a limit the
// encoder's per-P buffer pools let the heap grow to twice that before a
// collection, 70 MiB RSS at GOMAXPROCS=8.
const MemoryLimit = 40 << 20

// LimitMemory sets the runtime's soft memory limit to MemoryLimit unless
// the GOMEMLIMIT environment variable already sets one. It is meant for
// one-shot tools such as the osimage payload verb; a program that imports
// this package for other work keeps its own settings by not calling it.
func LimitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}
