# Helpers shared by the registry test scripts. Source after `set -euo pipefail`,
# then call setup_tmp.

# setup_tmp makes the temporary directory $tmp and arranges for the server
# to be stopped and $tmp removed when the script exits.
setup_tmp() {
  tmp=$(mktemp -d)
  server_pid=
  trap 'stop_server; rm -rf "$tmp"' EXIT
}

# build_osimage builds the osimage CLI into $tmp/osimage.
build_osimage() {
  (cd "$repo_root" && go build -o "$tmp/osimage" ./tools/osimage)
}

# start_server LOG ARGS... starts `osimage serve` on 127.0.0.1:0 with ARGS,
# waits (at most 30 s) until it has written its address, and sets
# $server_pid and $addr. Its stdout/stderr go to LOG.
start_server() {
  local log=$1
  shift
  rm -f "$tmp/addr"
  "$tmp/osimage" serve -listen 127.0.0.1:0 -addr_file "$tmp/addr" "$@" >"$log" 2>&1 &
  server_pid=$!
  local i
  for ((i = 0; i < 300; i++)); do
    if [[ -s $tmp/addr ]]; then
      addr=$(<"$tmp/addr")
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "osimage serve exited before listening:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "osimage serve did not listen within 30 s" >&2
  cat "$log" >&2
  return 1
}

# stop_server stops the server started by start_server, if it still runs.
stop_server() {
  if [[ -n ${server_pid:-} ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
