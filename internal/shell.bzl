"""Small helpers for the launcher scripts the rules write."""

def shell_quote(s):
    """Quotes s for a POSIX shell."""
    return "'" + s.replace("'", "'\\''") + "'"

def rlocation(ctx, f):
    """The runfiles path (rlocation) of file f.

    short_path is "pkg/x" for files of the current repository and "../repo/x"
    for files of repository "repo"; the rlocation is "<workspace>/pkg/x" or
    "repo/x". Works for WORKSPACE names and bzlmod canonical names alike.
    """
    if f.short_path.startswith("../"):
        return f.short_path[3:]
    return ctx.workspace_name + "/" + f.short_path

# Sets RUNFILES_DIR when the launcher is run directly (bazel run, or
# bazel-bin/...): tests and `bazel run` of Bazel 7+ already set it.
RUNFILES_PRELUDE = """\
if [[ -z "${RUNFILES_DIR:-}" ]]; then
  if [[ -d "$0.runfiles" ]]; then
    export RUNFILES_DIR="$0.runfiles"
  elif [[ -n "${TEST_SRCDIR:-}" ]]; then
    export RUNFILES_DIR="$TEST_SRCDIR"
  else
    echo "$0: cannot find the runfiles directory (set RUNFILES_DIR)" >&2
    exit 1
  fi
fi
"""
