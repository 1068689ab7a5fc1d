# Sourced by the project's scripts: puts Go on PATH and fixes the locale.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
export PATH="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"
export LC_ALL=C.UTF-8
