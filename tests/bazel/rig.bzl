"""Offline stand-ins for the repositories Bazel 4.2 would download.

Only the test rig (Debian's bazel-bootstrap 4.2.3, no network) uses these;
they are never part of what users load.
"""

def _stub_repository_impl(repository_ctx):
    repository_ctx.file("WORKSPACE", "workspace(name = %r)\n" % repository_ctx.name)
    for path, content in repository_ctx.attr.files.items():
        repository_ctx.file(path, content)

_stub_repository = repository_rule(
    implementation = _stub_repository_impl,
    doc = "A repository made of the given files.",
    attrs = {
        "files": attr.string_dict(doc = "Path in the repository -> file content."),
    },
)

_RULES_CC_DEFS = '''"""rules_cc stand-in: forwards to the native rules."""

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)
'''

_COVERAGE_BUILD = '''package(default_visibility = ["//visibility:public"])

sh_binary(
    name = "coverage_report_generator",
    srcs = ["coverage_report_generator.sh"],
)

filegroup(
    name = "coverage_output_generator",
    srcs = ["coverage_report_generator.sh"],
)
'''

_RULES_SHELL_SH_TEST = '''"""rules_shell stand-in: forwards to the native rule."""

def sh_test(**kwargs):
    native.sh_test(**kwargs)
'''

_RULES_SHELL_SH_BINARY = '''"""rules_shell stand-in: forwards to the native rule."""

def sh_binary(**kwargs):
    native.sh_binary(**kwargs)
'''

# buildifier: disable=unnamed-macro
def rig_offline_repositories():
    """Declares every repository the rig needs without a network.

    rules_java and bazel_skylib come from Debian's bazel-rules-java and
    bazel-skylib packages; rules_cc, rules_shell and remote_coverage_tools
    are local stand-ins.
    """
    native.local_repository(
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )
    native.local_repository(
        name = "bazel_skylib",
        path = "/usr/share/bazel/tools/skylib",
    )
    _stub_repository(
        name = "rules_cc",
        files = {
            "BUILD.bazel": "",
            "cc/BUILD.bazel": "",
            "cc/defs.bzl": _RULES_CC_DEFS,
        },
    )
    _stub_repository(
        name = "rules_shell",
        files = {
            "BUILD.bazel": "",
            "shell/BUILD.bazel": "",
            "shell/sh_binary.bzl": _RULES_SHELL_SH_BINARY,
            "shell/sh_test.bzl": _RULES_SHELL_SH_TEST,
        },
    )
    _stub_repository(
        name = "remote_coverage_tools",
        files = {
            "BUILD.bazel": _COVERAGE_BUILD,
            "coverage_report_generator.sh": "#!/bin/sh\necho 'coverage is not available in the offline rig' >&2\nexit 1\n",
        },
    )
