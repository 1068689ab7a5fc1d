#!/usr/bin/env bash
# Round trip through a client nobody here wrote: builds an OS image with
# `osimage build`, serves it with `osimage serve`, pulls it with
# `skopeo copy docker://... oci:...`, and checks the copy with `osimage verify`
# (payload names, order and content). Also fetches a blob range with curl and
# checks that writes are refused.
#
# Runtime: ~10 s.
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo_root/scripts/env.sh"
source "$repo_root/tests/registry/lib.sh"

setup_tmp

fail() {
  echo "skopeo_roundtrip: FAILED: $*" >&2
  if [[ -f $tmp/server.log ]]; then
    echo "--- server log" >&2
    tail -n 50 "$tmp/server.log" >&2
  fi
  exit 1
}

echo "skopeo_roundtrip: building osimage and an OS image"
build_osimage
head -c $((6 * 1024 * 1024 + 123)) /dev/urandom >"$tmp/kernel.efi"
seq 1 20000 >"$tmp/rootfs.img"
: >"$tmp/empty.bin"
cat >"$tmp/product_info.json" <<'JSON'
{"id": "example", "name": "Example OS", "version": "1.0.0", "variant": "x86_64-test",
 "commit_hash": "0000000000000000000000000000000000000000", "commit_date": "2026-01-01T00:00:00Z",
 "build_tree_dirty": false}
JSON
"$tmp/osimage" build -compression_level 2 -product_info "$tmp/product_info.json" -out "$tmp/layout" \
  -payload_name kernel.efi -payload_file "$tmp/kernel.efi" \
  -payload_name rootfs.img -payload_file "$tmp/rootfs.img" \
  -payload_name empty.bin -payload_file "$tmp/empty.bin"

start_server "$tmp/server.log" -access_log -image "os/example:latest=$tmp/layout"
echo "skopeo_roundtrip: osimage serve on $addr"
url="http://$addr/v2/os/example"

echo "skopeo_roundtrip: skopeo copy docker://$addr/os/example:latest"
timeout 60 skopeo --insecure-policy copy -q --src-tls-verify=false \
  "docker://$addr/os/example:latest" "oci:$tmp/copy:latest" || fail "skopeo copy"

echo "skopeo_roundtrip: osimage verify on the copy"
"$tmp/osimage" verify -allow_index_without_media_type -payloads kernel.efi,rootfs.img,empty.bin \
  -expect_content "kernel.efi=$tmp/kernel.efi" \
  -expect_content "rootfs.img=$tmp/rootfs.img" \
  -expect_content "empty.bin=$tmp/empty.bin" \
  "$tmp/copy" || fail "osimage verify of the pulled copy"

# The pulled manifest is byte-identical: same digest as served.
served=$(curl -sS -f -I "$url/manifests/latest" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
copied=$(grep -o 'sha256:[0-9a-f]\{64\}' "$tmp/copy/index.json" | head -n 1)
[[ -n $served && $served == "$copied" ]] || fail "served manifest $served, copied manifest $copied"

# A Range request on the largest blob returns exactly those bytes.
big=$(ls -S "$tmp/layout/blobs/sha256" | head -n 1)
status=$(curl -sS -o "$tmp/range.out" -D "$tmp/range.hdr" -w '%{http_code}' \
  -H 'Range: bytes=1000-66535' "$url/blobs/sha256:$big")
[[ $status == 206 ]] || fail "range request: status $status"
grep -qi "^content-range: bytes 1000-66535/$(stat -c %s "$tmp/layout/blobs/sha256/$big")" "$tmp/range.hdr" ||
  fail "range request: bad Content-Range: $(grep -i content-range "$tmp/range.hdr")"
cmp -s -i 1000:0 -n 65536 "$tmp/layout/blobs/sha256/$big" "$tmp/range.out" && [[ $(stat -c %s "$tmp/range.out") == 65536 ]] ||
  fail "range request: wrong bytes"
status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Range: bytes=999999999-" "$url/blobs/sha256:$big")
[[ $status == 416 ]] || fail "unsatisfiable range: status $status, want 416"

# Writes are refused.
status=$(curl -sS -o "$tmp/put.out" -w '%{http_code}' -X PUT --data-binary @"$tmp/layout/index.json" \
  -H 'Content-Type: application/vnd.oci.image.index.v1+json' "$url/manifests/latest")
[[ $status == 405 ]] && grep -q '"UNSUPPORTED"' "$tmp/put.out" || fail "PUT manifest: status $status, want 405 UNSUPPORTED"

echo "skopeo_roundtrip: $(wc -l <"$tmp/server.log") lines of server output, e.g.:"
grep ' GET ' "$tmp/server.log" | head -n 3 || true
echo "skopeo_roundtrip: passed"
