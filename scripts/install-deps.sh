#!/usr/bin/env bash
# Installs what the main job and the tests need, idempotently: Debian's
# Bazel 4.2.3 (bazel-bootstrap) with its Java rules and skylib, real OCI
# clients (skopeo, umoci), the reference registry, nginx and zstd. Go is
# expected at /usr/local/go (or on PATH); Go modules come from the module
# proxy configured for the go command.
set -euo pipefail

packages=(bazel-bootstrap bazel-rules-java bazel-skylib skopeo umoci docker-registry nginx zstd time)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then
    echo "install-deps: add /usr/local/go/bin to PATH (scripts source scripts/env.sh for that)" >&2
  else
    echo "install-deps: no Go toolchain found; install Go 1.26 at /usr/local/go" >&2
    exit 1
  fi
fi
