#!/usr/bin/env bash
# Lint of the Bazel files: buildifier (format and lint warnings) and gazelle
# (the Go BUILD files are exactly what gazelle generates) must report
# nothing to change. Exits non-zero, naming the files, otherwise.
#
# Both tools run with `go run tool@version` (module cache, no install).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# Keep in step with MODULE.bazel (gazelle) and the buildtools release in use.
gazelle=github.com/bazelbuild/bazel-gazelle/cmd/gazelle@v0.51.3
buildifier=github.com/bazelbuild/buildtools/buildifier@v0.0.0-20260904073137-eaa4d125b423

status=0

echo "=== lint: buildifier"
if ! out=$(go run "$buildifier" -mode=check -lint=warn -r . 2>&1); then
  grep -v '^go: ' <<<"$out" >&2
  echo "lint: buildifier reports changes; fix with: go run $buildifier -mode=fix -lint=fix -r ." >&2
  status=1
fi

echo "=== lint: gazelle"
if ! out=$(go run "$gazelle" -mode=diff 2>&1) || [[ -n $(grep -v '^go: ' <<<"$out") ]]; then
  grep -v '^go: ' <<<"$out" >&2
  echo "lint: gazelle would change BUILD files; run: go run $gazelle" >&2
  status=1
fi

if ((status == 0)); then
  echo "lint: buildifier and gazelle report nothing to change"
fi
exit "$status"
