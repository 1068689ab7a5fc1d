#!/usr/bin/env bash
# Cache checks of the offline Bazel rig (issue 4). With the rig's Bazel and
# flags (tests/bazel/lib.sh), it asserts on which actions Bazel executes,
# read from --execution_log_json_file, and prints timings only as figures:
#   (a) changing only the small payload of an image reruns only that
#       payload's OsImagePayload action and the assembly; the 128 MiB rootfs
#       payload is an action-cache hit;
#   (b) with --disk_cache, after `bazel clean` a rebuild of the examples runs
#       no OsImagePayload action (all disk-cache hits), and the layouts are
#       byte-identical;
#   (c) two images sharing an oci_os_payload (//examples:os_image_a and _b)
#       compress it once.
# Everything runs under an output root of its own, so `bazel clean` never
# touches the rig's outputs. Usage: tests/bazel/cache.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
source tests/bazel/lib.sh
rig_check_bazel

tmp=$(mktemp -d /tmp/osimage-cache.XXXXXX)
export RIG_STARTUP_FLAGS="--output_user_root=$tmp/root"
ws=$tmp/ws
cleanup() {
  rig_bazel shutdown >/dev/null 2>&1 || true
  [[ -d $ws ]] && (cd "$ws" && "$RIG_BAZEL" $RIG_STARTUP_FLAGS shutdown >/dev/null 2>&1 || true)
  chmod -R u+w "$tmp" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
check() { # DESCRIPTION COND...
  local what=$1
  shift
  if "$@"; then
    echo "cache: ok    $what"
  else
    echo "cache: FAIL  $what"
    failures=$((failures + 1))
  fi
}

# spawns LOG MNEMONIC [OUTPUT_SUFFIX]: "executed cache_hits" among the spawns
# of LOG with that mnemonic (and an output ending in OUTPUT_SUFFIX). Local
# action-cache hits are not spawns and do not appear in the log at all.
spawns() {
  perl -MJSON::PP -e '
    my ($log, $mnemonic, $suffix) = @ARGV;
    open(my $fh, "<", $log) or die "$log: $!";
    my $text = do { local $/; <$fh> };
    my ($run, $hit) = (0, 0);
    for my $s (JSON::PP->new->incr_parse($text)) {
      next unless ($s->{mnemonic} // "") eq $mnemonic;
      next if $suffix ne "" && !grep { /\Q$suffix\E$/ } @{ $s->{listedOutputs} // [] };
      if ($s->{remoteCacheHit}) { $hit++ } else { $run++ }
    }
    print "$run $hit\n";
  ' "$1" "$2" "${3:-}"
}

# layout_sums DIR: one line per file of a layout tree, with its sha256.
layout_sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum); }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- (a) incremental: a user's workspace whose image holds the examples'
# 128 MiB rootfs and a small kernel file that the test edits.
mkdir -p "$ws"
sed "s|path = \"../../..\"|path = \"$rig_root\"|" tests/bazel/external/WORKSPACE >"$ws/WORKSPACE"
cat >"$ws/BUILD.bazel" <<'EOF'
load("@rules_osimage//:defs.bzl", "oci_os_image")

oci_os_image(
    name = "image",
    srcs = {
        "kernel.efi": "kernel.efi",
        "system": "@rules_osimage//examples:rootfs",
    },
    compression_level = 2,
    product_info = "@rules_osimage//examples:product_info.json",
)
EOF
head -c 1000000 /dev/zero | tr '\0' k >"$ws/kernel.efi"
wsbazel() { (cd "$ws" && "$RIG_BAZEL" $RIG_STARTUP_FLAGS build "${rig_flags[@]}" --symlink_prefix=/ "$@"); }

echo "=== cache (a): rebuild after changing only the small payload"
# The payload sources and the tool first, so the full build can be told
# apart from the image's own actions; together they are a cold build.
t0=$(now)
wsbazel @rules_osimage//examples:rootfs @rules_osimage//toolchains:current_tool
t1=$(now)
wsbazel --execution_log_json_file="$tmp/a-full.json" //:image
t2=$(now)
echo "appended" >>"$ws/kernel.efi"
wsbazel --execution_log_json_file="$tmp/a-incr.json" //:image
t3=$(now)
read -r full_run _ < <(spawns "$tmp/a-full.json" OsImagePayload)
read -r incr_run _ < <(spawns "$tmp/a-incr.json" OsImagePayload)
read -r incr_kernel _ < <(spawns "$tmp/a-incr.json" OsImagePayload /kernel.efi.json)
read -r incr_asm _ < <(spawns "$tmp/a-incr.json" OsImageAssemble)
cold_s=$(elapsed "$t0" "$t2")
image_s=$(elapsed "$t1" "$t2")
incr_s=$(elapsed "$t2" "$t3")
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", 100 * a / b }'; }
echo "cache: cold build ${cold_s} s, of which the image's own actions ${image_s} s ($full_run payload actions)"
echo "cache: rebuild after the kernel.efi change ${incr_s} s ($incr_run payload action, $incr_asm assembly):" \
  "$(pct "$incr_s" "$cold_s") % of the cold build, $(pct "$incr_s" "$image_s") % of the image's own actions"
check "full build ran both payload actions" test "$full_run" -eq 2
check "rebuild ran only the kernel.efi payload action" test "$incr_run" -eq 1 -a "$incr_kernel" -eq 1
check "rebuild reassembled the image once" test "$incr_asm" -eq 1

# --- (b) and (c) on the examples, with a disk cache.
echo "=== cache (b): --disk_cache hits after bazel clean"
examples=(//examples:os_image //examples:os_image_uncompressed //examples:os_image_a //examples:os_image_b)
disk=(--disk_cache="$tmp/disk" --symlink_prefix=/)
rig_bazel build "${disk[@]}" //toolchains:current_tool
rig_bazel build "${disk[@]}" --execution_log_json_file="$tmp/b-first.json" //examples:os_image_a //examples:os_image_b
read -r shared_run _ < <(spawns "$tmp/b-first.json" OsImagePayload /system.json)
read -r ab_run _ < <(spawns "$tmp/b-first.json" OsImagePayload)
rig_bazel build "${disk[@]}" --execution_log_json_file="$tmp/b-cold.json" "${examples[@]}"
bin=$(rig_bazel info "${disk[@]}" bazel-bin 2>/dev/null)
for img in os_image os_image_uncompressed os_image_a os_image_b; do
  layout_sums "$bin/examples/$img" >"$tmp/$img.before"
done
rig_bazel clean
t0=$(now)
rig_bazel build "${disk[@]}" --execution_log_json_file="$tmp/b-warm.json" "${examples[@]}"
t1=$(now)
read -r warm_run warm_hit < <(spawns "$tmp/b-warm.json" OsImagePayload)
read -r warm_asm_run warm_asm_hit < <(spawns "$tmp/b-warm.json" OsImageAssemble)
echo "cache: rebuild after clean $(elapsed "$t0" "$t1") s: OsImagePayload $warm_run run, $warm_hit disk-cache hits; OsImageAssemble $warm_asm_run run, $warm_asm_hit hits"
check "no OsImagePayload action ran after bazel clean" test "$warm_run" -eq 0 -a "$warm_hit" -gt 0
same=1
for img in os_image os_image_uncompressed os_image_a os_image_b; do
  if ! layout_sums "$bin/examples/$img" | cmp -s - "$tmp/$img.before"; then
    echo "cache: //examples:$img differs after the disk-cache rebuild" >&2
    same=0
  fi
done
check "layouts byte-identical after the disk-cache rebuild" test "$same" -eq 1

echo "=== cache (c): a payload shared by two images is compressed once"
echo "cache: building os_image_a and os_image_b ran $ab_run payload actions, $shared_run for the shared system payload"
check "shared oci_os_payload compressed once" test "$shared_run" -eq 1

echo
if ((failures)); then
  echo "cache: $failures check(s) failed"
  exit 1
fi
echo "cache: all checks passed"
