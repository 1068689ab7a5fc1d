#!/usr/bin/env bash
# Pulls both images of :registry with skopeo and verifies them.
set -euo pipefail
registry=$1 osimage=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
export HOME=$tmp
"$registry" -addr_file "$tmp/addr" >"$tmp/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do [[ -s $tmp/addr ]] && break; sleep 0.05; done
[[ -s $tmp/addr ]] || { cat "$tmp/log" >&2; exit 1; }
addr=$(cat "$tmp/addr")
# skopeo (1.9) omits the optional index mediaType the consumer requires.
skopeo copy --quiet --insecure-policy --src-tls-verify=false "docker://$addr/user/image:latest" "oci:$tmp/a"
"$osimage" verify -allow_index_without_media_type -payloads kernel.efi,system "$tmp/a"
skopeo copy --quiet --insecure-policy --src-tls-verify=false "docker://$addr/upstream/level0:v1" "oci:$tmp/b"
"$osimage" verify -allow_index_without_media_type -payloads kernel.efi,system "$tmp/b"
