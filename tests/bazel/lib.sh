# Shared by the Bazel rig scripts (run.sh, cache.sh): how to run Debian's
# Bazel 4.2.3 offline on this checkout. Source it from the repo root.
#
#   rig_bazel build //examples/...
#
# RIG_BAZEL overrides the bazel binary; RIG_STARTUP_FLAGS adds startup flags
# (e.g. --output_user_root=/tmp/cold for a cold run); RIG_BAZEL_FLAGS adds
# flags to every build/test/run/query command (e.g. --disk_cache=...).

rig_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${RIG_BAZEL:=bazel}"

# Flags valid for Bazel 4.2 (and later): keep the rig quiet, deterministic
# and offline. processwrapper-sandbox avoids linux-sandbox debug chatter in
# containers; --noshow_progress keeps logs readable in CI.
rig_flags=(
  --noshow_progress
  --spawn_strategy=processwrapper-sandbox,local
  --test_output=errors
  --verbose_failures
)

rig_bazel() {
  local cmd=$1
  shift
  case $cmd in
    build | test | run | cquery | aquery)
      (cd "$rig_root" && "$RIG_BAZEL" ${RIG_STARTUP_FLAGS:-} "$cmd" "${rig_flags[@]}" ${RIG_BAZEL_FLAGS:-} "$@")
      ;;
    *)
      (cd "$rig_root" && "$RIG_BAZEL" ${RIG_STARTUP_FLAGS:-} "$cmd" "$@")
      ;;
  esac
}

rig_check_bazel() {
  if ! command -v "$RIG_BAZEL" >/dev/null 2>&1; then
    echo "rig: $RIG_BAZEL not found; run scripts/install-deps.sh (Debian package bazel-bootstrap)" >&2
    return 1
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "rig: go not found on PATH (scripts/env.sh puts /usr/local/go/bin there)" >&2
    return 1
  fi
}
