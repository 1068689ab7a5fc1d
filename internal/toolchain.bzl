"""The osimage toolchain: where the rules get the osimage tool from."""

# A Label, not a string, so that it resolves to this repository whatever the
# user's repository is called (main, WORKSPACE name or bzlmod canonical name).
TOOLCHAIN_TYPE = Label("//toolchains:toolchain_type")

def _osimage_toolchain_impl(ctx):
    default = ctx.attr.tool[DefaultInfo]
    return [platform_common.ToolchainInfo(
        osimage = struct(
            tool = default.files_to_run,
            executable = default.files_to_run.executable,
            runfiles = default.default_runfiles,
        ),
    )]

osimage_toolchain = rule(
    implementation = _osimage_toolchain_impl,
    doc = """Declares an osimage tool for the osimage toolchain type.

The toolchain's ToolchainInfo has one field, `osimage`, a struct with
`tool` (FilesToRunProvider, for ctx.actions.run), `executable` (File) and
`runfiles` (runfiles to ship the tool in a test or a `bazel run` target).

Register your own toolchain to use a prebuilt binary instead of building the
tool from source:

```starlark
load("@rules_osimage//:defs.bzl", "osimage_toolchain")

osimage_toolchain(
    name = "prebuilt_osimage",
    tool = ":osimage_linux_amd64",  # a file or an executable target
)

toolchain(
    name = "prebuilt_toolchain",
    toolchain = ":prebuilt_osimage",
    toolchain_type = "@rules_osimage//toolchains:toolchain_type",
    exec_compatible_with = ["@platforms//os:linux", "@platforms//cpu:x86_64"],
)
```

and `register_toolchains("//:prebuilt_toolchain")` in MODULE.bazel or WORKSPACE.
""",
    attrs = {
        "tool": attr.label(
            doc = "The osimage binary: a file or an executable target (e.g. the go_binary //tools/osimage).",
            mandatory = True,
            executable = True,
            allow_files = True,
            cfg = "exec",
        ),
    },
)

def _osimage_current_tool_impl(ctx):
    osimage = ctx.toolchains[TOOLCHAIN_TYPE].osimage
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(output = out, target_file = osimage.executable, is_executable = True)
    return [DefaultInfo(
        executable = out,
        files = depset([out]),
        runfiles = ctx.runfiles(files = [out]).merge(osimage.runfiles),
    )]

osimage_current_tool = rule(
    implementation = _osimage_current_tool_impl,
    doc = """The osimage binary of the resolved toolchain, as an executable target.

For `bazel run` and for tests that need the tool itself (for example to
verify an image pulled from a registry):

```starlark
sh_test(
    name = "pull_test",
    srcs = ["pull_test.sh"],
    data = ["@rules_osimage//toolchains:current_tool"],
)
```
""",
    executable = True,
    toolchains = [str(TOOLCHAIN_TYPE)],
)
