"""WORKSPACE setup for rules_osimage (Bazel without bzlmod).

```starlark
load("@rules_osimage//:repositories.bzl", "rules_osimage_register_toolchains")

rules_osimage_register_toolchains()
```

builds the osimage tool from the rules_osimage sources with the host Go
toolchain and registers it. To use a prebuilt binary instead, skip this and
register your own osimage_toolchain (see docs/rules.md).
"""

load("//internal:host_tool.bzl", _osimage_host_tool = "osimage_host_tool")

osimage_host_tool = _osimage_host_tool

def rules_osimage_register_toolchains(name = "osimage_host_tool"):
    """Builds osimage with the host `go` and registers it as the osimage toolchain.

    Args:
      name: name of the repository holding the tool and the toolchain.
    """
    _osimage_host_tool(name = name)
    native.register_toolchains("@%s//:toolchain" % name)
