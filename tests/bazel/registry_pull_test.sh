#!/usr/bin/env bash
# Starts the registry built by oci_local_registry (//examples:registry) on a
# free port and pulls example images through it with skopeo, a client
# nobody here wrote; then checks the pulled layouts with `osimage verify`
# and that the manifest skopeo received is the one Bazel built.
#
# Args: REGISTRY_LAUNCHER OSIMAGE_TOOL EXAMPLE_DIGEST_FILE
set -euo pipefail

registry=$1 osimage=$2 digest_file=$3
tmp=${TEST_TMPDIR:-$(mktemp -d)}
export HOME=$tmp # skopeo keeps its state under $HOME

if ! command -v skopeo >/dev/null; then
  echo "registry_pull_test: skopeo not found (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

"$registry" -listen 127.0.0.1:0 -addr_file "$tmp/addr" >"$tmp/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 200); do
  [[ -s $tmp/addr ]] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "registry_pull_test: the registry exited before listening:" >&2
    cat "$tmp/serve.log" >&2
    exit 1
  fi
  sleep 0.05
done
if [[ ! -s $tmp/addr ]]; then
  echo "registry_pull_test: no address in $tmp/addr after 10 s" >&2
  cat "$tmp/serve.log" >&2
  exit 1
fi
addr=$(cat "$tmp/addr")
echo "registry at $addr"

tags=$(skopeo list-tags --tls-verify=false "docker://$addr/os/example")
for tag in latest uncompressed; do
  if ! grep -q "\"$tag\"" <<<"$tags"; then
    echo "registry_pull_test: tag $tag missing from os/example tags: $tags" >&2
    exit 1
  fi
done

# skopeo's oci: transport (1.9) writes index.json without the optional
# top-level mediaType, which the osimage consumer requires; verify checks
# everything else of the pulled copy with -allow_index_without_media_type.
pull() { # REF PAYLOADS
  local ref=$1 payloads=$2 dir
  dir="$tmp/pulled-${ref//[\/:]/_}"
  skopeo copy --quiet --insecure-policy --src-tls-verify=false "docker://$addr/$ref" "oci:$dir"
  "$osimage" verify -allow_index_without_media_type -payloads "$payloads" "$dir"
  echo "$dir"
}

dir=$(pull os/example:latest kernel.efi,initramfs.cpio,system | tail -n1)
want=$(cat "$digest_file")
if ! grep -q "\"$want\"" "$dir/index.json"; then
  echo "registry_pull_test: pulled index.json does not reference the built manifest $want:" >&2
  cat "$dir/index.json" >&2
  exit 1
fi
pull os/shared:b kernel.efi,initramfs.cpio,system >/dev/null

if ! grep -q "os/example:latest" "$tmp/serve.log"; then
  echo "registry_pull_test: the registry did not print its image references:" >&2
  cat "$tmp/serve.log" >&2
  exit 1
fi
echo "PASS: pulled os/example:latest ($want) and os/shared:b through $addr"
