#!/usr/bin/env bash
# Builds and tests tests/bazel/external, a workspace that loads
# @rules_osimage//:defs.bzl like a WORKSPACE user: labels, toolchain
# resolution and runfiles paths must work from another repository.
set -euo pipefail
cd "$(dirname "$0")"
source ../../../scripts/env.sh
: "${RIG_BAZEL:=bazel}"
status=0
"$RIG_BAZEL" ${RIG_STARTUP_FLAGS:-} test --noshow_progress --spawn_strategy=processwrapper-sandbox,local \
  --test_output=errors --verbose_failures --symlink_prefix=/ ${RIG_BAZEL_FLAGS:-} //:all || status=$?
# A second Bazel server for this workspace: do not keep it around.
"$RIG_BAZEL" ${RIG_STARTUP_FLAGS:-} shutdown || true
exit "$status"
