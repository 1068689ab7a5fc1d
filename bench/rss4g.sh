#!/usr/bin/env bash
# Peak-RSS check for issue 4: the builder on a 4 GiB payload (the 512 MiB
# corpus of bench/run.sh repeated eight times) at levels 0, 1 and 2, with
# GOMAXPROCS 2 and 8. Prints wall time, CPU time and peak RSS per run; the
# budget is 64 MiB whatever the payload size.
#
#   bench/rss4g.sh        # needs bench/run.sh's corpus and 4 GiB free in $BENCH_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

BENCH_DIR=${BENCH_DIR:-/tmp/osimage-bench}
rootfs=$BENCH_DIR/rootfs.img
big=$BENCH_DIR/rootfs-4g.img
[[ -f $rootfs ]] || { echo "rss4g: run bench/run.sh first to build the corpus" >&2; exit 1; }
if [[ ! -f $big || $(stat -c %s "$big") != $((8 * $(stat -c %s "$rootfs"))) ]]; then
  for _ in 1 2 3 4 5 6 7 8; do cat "$rootfs"; done >"$big.tmp"
  mv "$big.tmp" "$big"
fi
bin=$BENCH_DIR/payloadbench
go build -o "$bin" ./bench/cmd/payloadbench
mkdir -p "$BENCH_DIR/out"
# Warm the page cache (if memory allows), so that the first run's times are
# not those of a cold read.
cat "$big" >/dev/null

printf '%-6s %-10s %8s %8s %9s\n' level gomaxprocs wall_s cpu_s rss_mib
worst=0
for level in 0 1 2; do
  for procs in 2 8; do
    rm -f "$BENCH_DIR"/out/*
    GOMAXPROCS=$procs /usr/bin/time -f '%e %U %S %M' -o "$BENCH_DIR/time.rss" \
      "$bin" -mode builder -level "$level" -out "$BENCH_DIR/out" "$big" >/dev/null
    read -r w u s m <"$BENCH_DIR/time.rss"
    printf '%-6s %-10s %8s %8s %9s\n' "$level" "$procs" "$w" "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')" "$((m / 1024))"
    ((m > worst)) && worst=$m
  done
done
rm -f "$BENCH_DIR"/out/*
echo "rss4g: peak RSS $((worst / 1024)) MiB (budget 64 MiB)"
((worst <= 64 * 1024))
