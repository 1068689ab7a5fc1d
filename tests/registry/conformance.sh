#!/usr/bin/env bash
# Runs the OCI Distribution Specification conformance suite, pull workflow in
# read-only mode, against `osimage serve`, and fails unless every pull test
# passes. The suite is pinned as a Go tool in tests/registry/conformance/.
#
# Served (repository os/example, all three tags preloaded for the suite):
#   latest  an osimage layout (zstd payloads, one multi-chunk)
#   v2      an osimage layout (uncompressed payload)
#   multi   an OCI layout written by skopeo holding both manifests, so the tag
#           resolves to its index.json served as an image index
#
# Runtime: ~20 s with a warm Go build cache (first build of the suite ~20 s more).
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo_root/scripts/env.sh"
source "$repo_root/tests/registry/lib.sh"

setup_tmp

echo "conformance: building osimage and the conformance suite"
build_osimage
(cd "$repo_root/tests/registry/conformance" &&
  go build -o "$tmp/conformance" github.com/opencontainers/distribution-spec/conformance)

head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$tmp/kernel.efi"
printf 'root file system\n' >"$tmp/rootfs.img"
"$tmp/osimage" build -compression_level 1 -out "$tmp/a" \
  -payload_name kernel.efi -payload_file "$tmp/kernel.efi" \
  -payload_name rootfs.img -payload_file "$tmp/rootfs.img"
"$tmp/osimage" build -compression_level 0 -out "$tmp/b" \
  -payload_name rootfs.img -payload_file "$tmp/rootfs.img"
skopeo --insecure-policy copy -q "oci:$tmp/a" "oci:$tmp/multi:a"
skopeo --insecure-policy copy -q "oci:$tmp/b" "oci:$tmp/multi:b"

# manifest_digests LAYOUT prints the digests index.json lists.
manifest_digests() {
  grep -o '"digest": *"sha256:[0-9a-f]\{64\}"' "$1/index.json" | grep -o 'sha256:[0-9a-f]*'
}
manifests=$( (manifest_digests "$tmp/a" && manifest_digests "$tmp/b") | sort -u)
manifests+=" sha256:$(sha256sum "$tmp/multi/index.json" | cut -d' ' -f1)"
blobs=$(for f in "$tmp"/a/blobs/sha256/* "$tmp"/b/blobs/sha256/*; do echo "sha256:${f##*/}"; done |
  sort -u | grep -v -F -x -f <(manifest_digests "$tmp/a"; manifest_digests "$tmp/b"))

start_server "$tmp/server.log" \
  -image "os/example:latest=$tmp/a" -image "os/example:v2=$tmp/b" -image "os/example:multi=$tmp/multi"
echo "conformance: osimage serve on $addr"

mkdir -p "$tmp/results"
status=0
(
  cd "$tmp" # no oci-conformance.yaml here: configured by environment only
  for v in $(compgen -e | grep '^OCI_' || true); do unset "$v"; done
  export OCI_RESULTS_DIR="$tmp/results"
  export OCI_VERSION=1.1
  export OCI_LOG=warn
  export OCI_REGISTRY="$addr"
  export OCI_TLS=disabled
  export OCI_REPO1=os/example
  export OCI_REPO2=os/example
  export OCI_API_PULL=true
  export OCI_API_PUSH=false
  export OCI_API_BLOBS_DELETE=false
  export OCI_API_MANIFESTS_DELETE=false
  export OCI_API_TAGS_DELETE=false
  export OCI_API_TAGS_LIST=true
  export OCI_API_REFERRER=false
  export OCI_API_BLOBS_DIGEST_HEADER=true
  # With read-only data the suite does not capture the manifest response it
  # checks this header on, so requiring it fails on any registry; the unit
  # tests in pkg/registry check Docker-Content-Digest instead.
  export OCI_API_MANIFESTS_DIGEST_HEADER=false
  export OCI_RO_DATA_TAGS="latest v2 multi"
  export OCI_RO_DATA_MANIFESTS="$(echo $manifests)"
  export OCI_RO_DATA_BLOBS="$(echo $blobs)"
  timeout 120 ./conformance
) >"$tmp/report.txt" 2>&1 || status=$?

# Every API the pull workflow uses must pass; push/delete/referrers are disabled.
pull_apis=("Ping" "Tag listing" "Blob get" "Blob head" "Manifest get by digest"
  "Manifest get by tag" "Manifest head by digest" "Manifest head by tag")
# This suite version, in read-only mode, prints its report and then panics
# writing results.yaml (run.go ReportResultsYAML: no test data is recorded for
# the skipped blob push tests). Tolerate exactly that, after the report.
if ((status == 2)) && grep -q 'ReportResultsYAML' "$tmp/report.txt" && grep -q '^Data conformance:' "$tmp/report.txt"; then
  echo "conformance: note: the suite panicked writing results.yaml after its report (known read-only-mode bug); judging the report"
  status=0
fi
failed=()
for api in "${pull_apis[@]}"; do
  if ! grep -q -E "^  ${api}\.+: +Pass$" "$tmp/report.txt"; then
    failed+=("$api")
  fi
done
if ((status != 0)) || ((${#failed[@]})) || ! grep -q -E '^OCI Conformance Result: Pass$' "$tmp/report.txt" ||
  ! grep -q -E '^  FAIL\.+: +0$' "$tmp/report.txt"; then
  cat "$tmp/report.txt"
  echo "conformance: FAILED (exit status $status; pull APIs not passing: ${failed[*]:-none})" >&2
  exit 1
fi
sed -n '/^OCI Conformance Result/,/^  Total/p' "$tmp/report.txt"
echo "conformance: every pull API passes: ${pull_apis[*]}"
