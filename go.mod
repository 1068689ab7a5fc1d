module github.com/rules-osimage/rules_osimage

go 1.26.0

require (
	github.com/bazelbuild/rules_go v0.65.0
	github.com/klauspost/compress v1.20.3
	github.com/opencontainers/go-digest v1.0.0
	github.com/opencontainers/image-spec v1.1.1
)
