#!/usr/bin/env bash
# Runs every test of rules_osimage, as CI does: Go checks and unit tests, lint
# (gofmt, go vet, buildifier, gazelle), the registry against the OCI
# conformance suite and a real client, and the offline Bazel rig.
#
#   scripts/test.sh            # everything
#   scripts/test.sh go lint    # only some steps (names below)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }

steps=(go lint registry-conformance registry-skopeo bazel bazel-cache)
if (($#)); then steps=("$@"); fi

step_go() {
  local unformatted
  unformatted=$(gofmt -l $(git ls-files '*.go'))
  if [[ -n $unformatted ]]; then
    echo "gofmt would change: $unformatted" >&2
    return 1
  fi
  go vet ./... && go test ./...
}
step_lint() { tests/lint.sh; }
step_registry-conformance() { tests/registry/conformance.sh; }
step_registry-skopeo() { tests/registry/skopeo_roundtrip.sh; }
step_bazel() { tests/bazel/run.sh; }
step_bazel-cache() { tests/bazel/cache.sh; }

passed=0 failed=0 failed_steps=()
for s in "${steps[@]}"; do
  if ! declare -F "step_$s" >/dev/null; then
    echo "test.sh: unknown step '$s' (steps: go lint registry-conformance registry-skopeo bazel bazel-cache)" >&2
    exit 2
  fi
  echo "=== test.sh: $s"
  start=$SECONDS
  if "step_$s"; then
    passed=$((passed + 1))
    echo "=== test.sh: $s passed ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failed_steps+=("$s")
    echo "=== test.sh: $s FAILED ($((SECONDS - start)) s)"
  fi
done

echo
if ((failed)); then
  echo "test.sh: failed steps: ${failed_steps[*]}"
fi
echo "steps: $passed passed, $failed failed"
((failed == 0))
