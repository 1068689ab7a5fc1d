#!/usr/bin/env bash
# Payload benchmark for issue 4: the builder (pkg/payload) against the
# straightforward baseline (bench/cmd/payloadbench -mode baseline) and, at
# level 1, against `zstd -T2 -1 | sha256sum`, in one run on one corpus.
#
#   bench/run.sh                 # levels 0 1 2, 3 repetitions, median
#   LEVELS="1" REPS=5 bench/run.sh
#   BENCH_DIR=/somewhere bench/run.sh
#
# The corpus (cached in $BENCH_DIR, outside git) is a 512 MiB rootfs-like tar
# of Go's tree and the system libraries, truncated, plus the 15 MiB Go binary
# as a kernel-like payload. Each measurement is one process over both
# payloads, timed with GNU time; the sides run interleaved, and the table
# shows medians of wall time, CPU time (user+sys) and peak RSS, and
# wall-time ratios of the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

BENCH_DIR=${BENCH_DIR:-/tmp/osimage-bench}
LEVELS=${LEVELS:-0 1 2}
REPS=${REPS:-3}
ROOTFS_SIZE=${ROOTFS_SIZE:-$((512 << 20))}
mkdir -p "$BENCH_DIR/out"

rootfs=$BENCH_DIR/rootfs.img
kernel=$BENCH_DIR/kernel.efi
if [[ ! -f $rootfs || $(stat -c %s "$rootfs") != "$ROOTFS_SIZE" ]]; then
  echo "bench: generating $rootfs ($ROOTFS_SIZE bytes)" >&2
  # Sorted names and fixed metadata so the corpus is the same on every run.
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - \
    -C / usr/local/go usr/lib/x86_64-linux-gnu usr/lib 2>/dev/null |
    head -c "$ROOTFS_SIZE" >"$rootfs.tmp" || true
  # Pad with zeros if the machine has less than that to tar.
  truncate -s "$ROOTFS_SIZE" "$rootfs.tmp"
  mv "$rootfs.tmp" "$rootfs"
fi
if [[ ! -f $kernel ]]; then
  cp "$(command -v go)" "$kernel.tmp" && mv "$kernel.tmp" "$kernel"
fi

bin=$BENCH_DIR/payloadbench
go build -o "$bin" ./bench/cmd/payloadbench

# Warm the page cache.
cat "$rootfs" "$kernel" >/dev/null

# run1 LABEL CMD...: runs CMD once under GNU time and appends its wall time,
# CPU time and peak RSS (KiB) to the arrays wall_LABEL, cpu_LABEL, rss_LABEL.
run1() {
  local label=$1 tf=$BENCH_DIR/time.$$ w u s m
  shift
  rm -f "$BENCH_DIR"/out/*
  /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$BENCH_DIR/last-$label.log" 2>&1 ||
    { echo "bench: $label failed:" >&2; cat "$BENCH_DIR/last-$label.log" >&2; exit 1; }
  read -r w u s m <"$tf"
  eval "wall_$label+=($w); cpu_$label+=($(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')); rss_$label+=($m)"
}
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# stats LABEL: "wall cpu rss_mib" medians.
stats() {
  local w="wall_$1[@]" c="cpu_$1[@]" r="rss_$1[@]"
  echo "$(median "${!w}") $(median "${!c}") $(($(median "${!r}") / 1024))"
}
row() { printf '%-6s %-9s %8s %8s %9s %8s %8s\n' "$@"; }

# The reference pipeline: Debian's zstd on both cores, hashing its output.
zstd_pipeline='for f; do zstd -q -T2 -1 -c "$f" | sha256sum; done'

echo "bench: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $REPS reps, corpus $(stat -c %s "$rootfs")+$(stat -c %s "$kernel") bytes" >&2
row level impl wall_s cpu_s rss_mib vs_base vs_zstd
for level in $LEVELS; do
  wall_base=() cpu_base=() rss_base=() wall_builder=() cpu_builder=() rss_builder=() wall_cli=() cpu_cli=() rss_cli=()
  # Interleaved, so that a change in the machine's load hits all sides alike.
  for ((i = 0; i < REPS; i++)); do
    run1 base "$bin" -mode baseline -level "$level" -out "$BENCH_DIR/out" "$rootfs" "$kernel"
    run1 builder "$bin" -mode builder -level "$level" -out "$BENCH_DIR/out" "$rootfs" "$kernel"
    if [[ $level == 1 ]]; then
      run1 cli bash -c "$zstd_pipeline" _ "$rootfs" "$kernel"
    fi
  done
  # Both sides must agree on the payload sizes and chunk hashes.
  if ! diff <(sed 's/ layer=.*//' "$BENCH_DIR/last-base.log") <(sed 's/ layer=.*//' "$BENCH_DIR/last-builder.log") >&2; then
    echo "bench: builder and baseline disagree on chunk hashes" >&2
    exit 1
  fi
  read -r bw bc bm < <(stats base)
  read -r ow oc om < <(stats builder)
  row "$level" baseline "$bw" "$bc" "$bm" 1.00 -
  if [[ $level == 1 ]]; then
    read -r zw zc zm < <(stats cli)
    row "$level" builder "$ow" "$oc" "$om" "$(ratio "$ow" "$bw")" "$(ratio "$ow" "$zw")"
    row "$level" zstd-cli "$zw" "$zc" "$zm" "$(ratio "$zw" "$bw")" 1.00
  else
    row "$level" builder "$ow" "$oc" "$om" "$(ratio "$ow" "$bw")" -
  fi
done
echo "bench: load after $(cut -d' ' -f1-3 /proc/loadavg)" >&2
