#!/usr/bin/env bash
# Benchmark (not a test): a 512 MiB blob and manifest GETs per second on
# loopback, side by side in one run, for
#   - osimage serve        (this repository's registry),
#   - nginx                (the same blob file served statically, sendfile on),
#   - docker-registry      (Debian's reference registry, filesystem storage,
#                           the same image pushed to it with skopeo).
# Prints a table with ratios; targets: >= 0.9x nginx, >= 2x docker-registry.
#
#   bench/registry/run.sh                 # 512 MiB blob, best of 5 rounds, 3 s of manifest GETs
#   BLOB_MIB=64 ROUNDS=1 SECONDS_PER_RUN=2 bench/registry/run.sh   # quick
#
# Clients run on the same machine as the servers, so figures include client
# CPU; on a shared machine, compare the ratios rather than absolute numbers.
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo_root/scripts/env.sh"

blob_mib=${BLOB_MIB:-512}
rounds=${ROUNDS:-5}
run_seconds=${SECONDS_PER_RUN:-3}
conns=${CONNS:-4}

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"

# free_port prints a free TCP port on 127.0.0.1.
free_port() {
  local p
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "no free port" >&2
  return 1
}

# wait_http URL waits (at most 30 s) until URL answers.
wait_http() {
  for ((i = 0; i < 300; i++)); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "bench: $1 did not answer within 30 s" >&2
  return 1
}

echo "bench: building osimage, loadgen and a ${blob_mib} MiB image"
(cd "$repo_root" && go build -o "$tmp/osimage" ./tools/osimage && go build -o "$tmp/loadgen" ./bench/registry/loadgen)
head -c $((blob_mib * 1024 * 1024)) /dev/urandom >"$tmp/payload.bin"
# Level 0: the layer blob is the payload as is, blob size == payload size.
"$tmp/osimage" build -compression_level 0 -out "$tmp/layout" -payload_name payload.bin -payload_file "$tmp/payload.bin"
rm "$tmp/payload.bin"
blob=$(ls -S "$tmp/layout/blobs/sha256" | head -n 1)
manifest=$(grep -o 'sha256:[0-9a-f]\{64\}' "$tmp/layout/index.json" | head -n 1)
accept="application/vnd.oci.image.manifest.v1+json"

# osimage serve
"$tmp/osimage" serve -image "os/example:latest=$tmp/layout" -addr_file "$tmp/osimage.addr" >"$tmp/osimage.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 300; i++)); do [[ -s $tmp/osimage.addr ]] && break; sleep 0.1; done
osimage_addr=$(<"$tmp/osimage.addr")

# nginx, serving the layout directory statically
nginx_port=$(free_port)
mkdir -p "$tmp/nginx"
user_directive=""
if ((EUID == 0)); then user_directive="user root;"; fi
cat >"$tmp/nginx/nginx.conf" <<CONF
$user_directive
daemon off;
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $tmp/layout;
  }
}
CONF
nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" 2>"$tmp/nginx/stderr.log" &
pids+=($!)

# docker-registry, filesystem storage, the image pushed with skopeo
dr_port=$(free_port)
cat >"$tmp/registry.yml" <<CONF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/registry-data
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$dr_port
CONF
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
pids+=($!)

wait_http "http://$osimage_addr/v2/"
wait_http "http://127.0.0.1:$nginx_port/index.json"
wait_http "http://127.0.0.1:$dr_port/v2/"
echo "bench: pushing the image to docker-registry with skopeo"
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$tmp/layout" "docker://127.0.0.1:$dr_port/os/example:latest"

blob_url_osimage="http://$osimage_addr/v2/os/example/blobs/sha256:$blob"
blob_url_nginx="http://127.0.0.1:$nginx_port/blobs/sha256/$blob"
blob_url_dr="http://127.0.0.1:$dr_port/v2/os/example/blobs/sha256:$blob"
man_url_osimage="http://$osimage_addr/v2/os/example/manifests/latest"
man_url_nginx="http://127.0.0.1:$nginx_port/blobs/sha256/${manifest#sha256:}"
man_url_dr="http://127.0.0.1:$dr_port/v2/os/example/manifests/latest"

# download URL prints the speed of one download, in MiB/s.
download() {
  local speed size
  read -r speed size < <(curl -sS -f -o /dev/null -w '%{speed_download} %{size_download}\n' "$1")
  if ((size != blob_mib * 1024 * 1024)); then
    echo "bench: $1 returned $size bytes" >&2
    return 1
  fi
  echo $((${speed%.*} / 1024 / 1024))
}

# rps URL prints manifest GETs per second.
rps() {
  "$tmp/loadgen" -url "$1" -accept "$accept" -conns "$conns" -duration "${run_seconds}s" | sed -n 's/.*, \([0-9]*\) req\/s$/\1/p'
}

max() { echo $(($1 > $2 ? $1 : $2)); }

echo "bench: best of $rounds rounds; each round downloads the blob and runs manifest GETs"
echo "bench: ($conns connections, ${run_seconds} s) against each server in turn, so that drifting"
echo "bench: machine load hits all of them alike"
tp_osimage=0 tp_nginx=0 tp_dr=0 rps_osimage=0 rps_nginx=0 rps_dr=0
for ((r = 1; r <= rounds; r++)); do
  tp_osimage=$(max "$tp_osimage" "$(download "$blob_url_osimage")")
  tp_nginx=$(max "$tp_nginx" "$(download "$blob_url_nginx")")
  tp_dr=$(max "$tp_dr" "$(download "$blob_url_dr")")
  rps_osimage=$(max "$rps_osimage" "$(rps "$man_url_osimage")")
  rps_nginx=$(max "$rps_nginx" "$(rps "$man_url_nginx")")
  rps_dr=$(max "$rps_dr" "$(rps "$man_url_dr")")
  echo "bench: round $r: blob MiB/s $tp_osimage/$tp_nginx/$tp_dr, manifest GETs/s $rps_osimage/$rps_nginx/$rps_dr (best so far: osimage/nginx/docker-registry)"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), ${blob_mib} MiB blob, loopback"
printf '%-18s %16s %18s\n' "server" "blob MiB/s" "manifest GETs/s"
printf '%-18s %16s %18s\n' "osimage serve" "$tp_osimage" "$rps_osimage"
printf '%-18s %16s %18s\n' "nginx (static)" "$tp_nginx" "$rps_nginx"
printf '%-18s %16s %18s\n' "docker-registry" "$tp_dr" "$rps_dr"
printf '%-18s %16s %18s\n' "osimage / nginx" "$(ratio "$tp_osimage" "$tp_nginx")" "$(ratio "$rps_osimage" "$rps_nginx")"
printf '%-18s %16s %18s\n' "osimage / d-reg" "$(ratio "$tp_osimage" "$tp_dr")" "$(ratio "$rps_osimage" "$rps_dr")"
echo "targets: osimage >= 0.9x nginx, >= 2x docker-registry"
