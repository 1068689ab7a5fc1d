#!/usr/bin/env bash
# A/B of the builder at two revisions of this checkout, interleaved, on the
# corpus of bench/run.sh (run that once first to build it). Prints the
# median wall and CPU time of each side and of the baseline, and checks
# that both sides print the same digests.
#
#   bench/ab.sh                       # HEAD~1 against the working tree, level 0, 7 runs
#   A=origin/main B=HEAD LEVEL=1 REPS=9 bench/ab.sh
#
# A revision is built from `git archive` into $BENCH_DIR; B=. is the
# working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

BENCH_DIR=${BENCH_DIR:-/tmp/osimage-bench}
A=${A:-HEAD~1}
B=${B:-.}
LEVEL=${LEVEL:-0}
REPS=${REPS:-7}
rootfs=$BENCH_DIR/rootfs.img
kernel=$BENCH_DIR/kernel.efi
[[ -f $rootfs && -f $kernel ]] || { echo "ab: no corpus in $BENCH_DIR; run bench/run.sh first" >&2; exit 1; }
mkdir -p "$BENCH_DIR/out"

# build REV BIN: builds payloadbench at REV (. = working tree) into BIN.
build() {
  if [[ $1 == . ]]; then
    go build -o "$2" ./bench/cmd/payloadbench
    return
  fi
  local src=$BENCH_DIR/src-ab
  rm -rf "$src" && mkdir -p "$src"
  git archive "$1" | tar -x -C "$src"
  (cd "$src" && go build -o "$2" ./bench/cmd/payloadbench)
  rm -rf "$src"
}
build "$A" "$BENCH_DIR/payloadbench-a"
build "$B" "$BENCH_DIR/payloadbench-b"
cat "$rootfs" "$kernel" >/dev/null

declare -A wall cpu
echo "ab: level $LEVEL, $REPS reps, A=$A B=$B, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((i = 0; i < REPS; i++)); do
  for side in base a b; do
    bin=$BENCH_DIR/payloadbench-${side/base/a} mode=builder
    [[ $side == base ]] && mode=baseline
    rm -f "$BENCH_DIR"/out/*
    /usr/bin/time -f '%e %U %S' -o "$BENCH_DIR/time.ab" \
      "$bin" -mode "$mode" -level "$LEVEL" -out "$BENCH_DIR/out" "$rootfs" "$kernel" >"$BENCH_DIR/last-ab-$side.log"
    read -r w u s <"$BENCH_DIR/time.ab"
    wall[$side]+="$w " cpu[$side]+="$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }') "
  done
done
echo "ab: load after $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if ! cmp -s "$BENCH_DIR/last-ab-a.log" "$BENCH_DIR/last-ab-b.log"; then
  echo "ab: A and B print different digests" >&2
  exit 1
fi
median() { printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-9s %7s %7s %8s   %s\n' side wall_s cpu_s vs_base "wall times"
for side in base a b; do
  printf '%-9s %7s %7s %8s   %s\n' "$side" "$(median "${wall[$side]}")" "$(median "${cpu[$side]}")" \
    "$(awk -v a="$(median "${wall[$side]}")" -v b="$(median "${wall[base]}")" 'BEGIN { printf "%.2f", a / b }')" "${wall[$side]}"
done
