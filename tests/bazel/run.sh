#!/usr/bin/env bash
# The offline Bazel rig: Debian's bazel-bootstrap 4.2.3 (no bzlmod, no
# network) on this checkout's WORKSPACE. It
#   1. builds the examples exactly as users load the rules (//:defs.bzl,
#      and @rules_osimage//:defs.bzl from a separate workspace),
#   2. runs the Starlark analysis tests (tests/analysis),
#   3. runs every oci_os_image_test and the registry pull test (skopeo),
#   4. runs the built registry the way `bazel run` does and queries it.
# Installs nothing: scripts/install-deps.sh does. Usage: tests/bazel/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
source tests/bazel/lib.sh
rig_check_bazel

# Only packages that do not load rules_go: Bazel 4 cannot run rules_go.
patterns=(//examples/... //tests/... //internal/... //:defs //:repositories)
results=()
start=$SECONDS
tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
step() { # NAME CMD...
  local name=$1 t=$SECONDS
  shift
  echo "=== rig: $name"
  if "$@"; then
    results+=("PASS  $name ($((SECONDS - t)) s)")
  else
    results+=("FAIL  $name ($((SECONDS - t)) s)")
    summary
    exit 1
  fi
}
summary() {
  echo
  echo "=== rig summary (Bazel $("$RIG_BAZEL" --version 2>/dev/null | head -n1 || echo '?'), $((SECONDS - start)) s)"
  printf '  %s\n' "${results[@]}"
}

step "build examples and tests" rig_bazel build "${patterns[@]}"

step "analysis tests" rig_bazel test //tests/analysis/...

step "oci_os_image_test and registry pull tests" rig_bazel test //examples/... //tests/bazel/...

# oci_os_image_test must be able to fail: each of these asserts something
# false about //examples:os_image and must fail, naming the payload.
must_fail() {
  local t name ok=1 testlogs
  testlogs=$(rig_bazel info bazel-testlogs 2>/dev/null)
  for t in size:system order:system content:kernel.efi; do
    name=${t%%:*}
    if rig_bazel test "//tests/bazel:must_fail_${name}_test" >/dev/null 2>&1; then
      echo "rig: //tests/bazel:must_fail_${name}_test passed but must fail" >&2
      ok=0
    elif ! grep -q "${t#*:}" "$testlogs/tests/bazel/must_fail_${name}_test/test.log"; then
      echo "rig: //tests/bazel:must_fail_${name}_test failed without naming payload ${t#*:}:" >&2
      cat "$testlogs/tests/bazel/must_fail_${name}_test/test.log" >&2
      ok=0
    else
      grep -h "osimage verify" "$testlogs/tests/bazel/must_fail_${name}_test/test.log" | head -n1
    fi
  done
  ((ok))
}
step "oci_os_image_test fails on a wrong image" must_fail

# A prebuilt binary registered as the user's own toolchain takes over.
prebuilt_toolchain() {
  local flag=--extra_toolchains=//tests/bazel/prebuilt:toolchain
  rig_bazel build "$flag" //tests/analysis:level0 &&
    rig_bazel aquery "$flag" 'mnemonic("OsImage.*", //tests/analysis:level0)' 2>/dev/null >"$tmpdir/aquery" &&
    grep -q 'tests/bazel/prebuilt/bin/osimage' "$tmpdir/aquery" &&
    ! grep -q 'osimage_host_tool/osimage' "$tmpdir/aquery"
}
step "prebuilt osimage as the user's own toolchain" prebuilt_toolchain

# The launcher as `bazel run` starts it: no RUNFILES_DIR, runfiles next to it.
run_registry() {
  local bin tmp pid addr ok=0
  bin=$(rig_bazel info bazel-bin 2>/dev/null)
  tmp=$(mktemp -d)
  env -u RUNFILES_DIR -u TEST_SRCDIR "$bin/examples/registry.sh" -listen 127.0.0.1:0 -addr_file "$tmp/addr" >"$tmp/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do [[ -s $tmp/addr ]] && break; sleep 0.05; done
  if [[ -s $tmp/addr ]]; then
    addr=$(cat "$tmp/addr")
    if skopeo list-tags --tls-verify=false "docker://$addr/os/example" | grep -q latest; then ok=1; fi
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if ((!ok)); then
    echo "rig: registry launcher failed:" >&2
    cat "$tmp/log" >&2
  else
    head -n 2 "$tmp/log"
  fi
  rm -rf "$tmp"
  ((ok))
}
step "registry launcher outside bazel test" run_registry

step "rules loaded as @rules_osimage from another workspace" tests/bazel/external/run.sh

summary
