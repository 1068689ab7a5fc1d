#!/usr/bin/env bash
# The main job, end to end, on a fresh machine:
#   1. build the example OS image (//examples:os_image) with Bazel,
#   2. serve it from the local registry (//examples:registry, as `bazel run`
#      would start it),
#   3. pull it back with skopeo, a client nobody here wrote, and verify the
#      pulled copy chunk by chunk with `osimage verify`.
# Output goes to out/demo/ (pulled layout, registry log).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-deps.sh
source tests/bazel/lib.sh
rig_check_bazel

out=$PWD/out/demo
rm -rf "$out"
mkdir -p "$out"

echo "=== demo: building //examples:os_image and //examples:registry with Bazel"
rig_bazel build //examples:os_image //examples:registry
bin=$(rig_bazel info bazel-bin 2>/dev/null)
built_digest=$(cat "$bin/examples/os_image.digest")
echo "built image manifest digest: $built_digest"

echo "=== demo: serving it from the local registry"
"$bin/examples/registry.sh" -listen 127.0.0.1:0 -addr_file "$out/addr" >"$out/registry.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do [[ -s $out/addr ]] && break; sleep 0.05; done
if [[ ! -s $out/addr ]]; then
  echo "demo: the registry did not start:" >&2
  cat "$out/registry.log" >&2
  exit 1
fi
addr=$(cat "$out/addr")
cat "$out/registry.log"

echo "=== demo: pulling $addr/os/example:latest with skopeo"
skopeo --insecure-policy copy --quiet --src-tls-verify=false \
  "docker://$addr/os/example:latest" "oci:$out/pulled:latest"
pulled_digest=$(skopeo --insecure-policy inspect --raw --tls-verify=false "docker://$addr/os/example:latest" | sha256sum | cut -d' ' -f1)
echo "pulled manifest digest: sha256:$pulled_digest"
if [[ sha256:$pulled_digest != "$built_digest" ]]; then
  echo "demo: the pulled manifest differs from the built one" >&2
  exit 1
fi

echo "=== demo: verifying the pulled copy (every chunk of every payload)"
go build -o "$out/osimage" ./tools/osimage
"$out/osimage" verify -allow_index_without_media_type -payloads kernel.efi,initramfs.cpio,system "$out/pulled"

echo "=== demo: done: built, served, pulled and verified $addr/os/example:latest ($built_digest)"
