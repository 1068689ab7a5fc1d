"""Analysis tests of rules_osimage: the actions the rules create and their errors."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")
load("//:defs.bzl", "OsImageInfo", "OsImagePayloadInfo")

def _actions(env, mnemonic):
    return [a for a in analysistest.target_actions(env) if a.mnemonic == mnemonic]

def _flag_values(argv, flag):
    return [argv[i + 1] for i in range(len(argv) - 1) if argv[i] == flag]

def _basenames(files):
    return sorted([f.basename for f in files.to_list()])

# An image with three payloads at level 2: one action per payload, one
# assembly, and the outputs each of them declares.
def _three_payloads_impl(ctx):
    env = analysistest.begin(ctx)
    payload_actions = _actions(env, "OsImagePayload")
    assemble = _actions(env, "OsImageAssemble")
    asserts.equals(env, 3, len(payload_actions), "one OsImagePayload action per payload")
    asserts.equals(env, 1, len(assemble), "one OsImageAssemble action")

    names = sorted([_flag_values(a.argv, "-name")[0] for a in payload_actions])
    asserts.equals(env, ["initrd", "kernel.efi", "system"], names)
    for a in payload_actions:
        asserts.equals(env, "payload", a.argv[1], "the verb comes first")
        asserts.equals(env, ["2"], _flag_values(a.argv, "-compression_level"))

        # Its only input besides the tool (and, on newer Bazel, the tool's
        # runfiles) is its own payload: no other payload, no product info.
        payload_inputs = [f.basename for f in a.inputs.to_list() if f.basename in ["p1.bin", "p2.bin", "p3.bin", "product_info.json"]]
        asserts.equals(env, [_flag_values(a.argv, "-file")[0].split("/")[-1]], payload_inputs, "a payload action reads only its own payload")
        asserts.equals(env, 2, len(a.outputs.to_list()), "descriptor and blob")
        asserts.true(env, len(_flag_values(a.argv, "-out_blob")) == 1, "level 2 writes a blob")

    a = assemble[0]
    asserts.equals(env, "assemble", a.argv[1])

    # Payloads are passed in srcs order, as descriptor/blob pairs. Bazel 4
    # shows the param file's arguments expanded in argv; should a Bazel show
    # only "@file", the order cannot be read here and the check is skipped.
    if not (len(a.argv) == 3 and a.argv[2].startswith("@")):
        asserts.equals(env, ["three.payloads/kernel.efi.json", "three.payloads/initrd.json", "three.payloads/system.json"], ["/".join(d.split("/")[-2:]) for d in _flag_values(a.argv, "-descriptor")])
        asserts.equals(env, ["kernel.efi.zst", "initrd.zst", "system.zst"], [b.split("/")[-1] for b in _flag_values(a.argv, "-blob")])
    outs = a.outputs.to_list()
    asserts.equals(env, 1, len([f for f in outs if f.is_directory]), "the layout is a tree artifact")
    asserts.equals(env, ["three", "three.digest", "three.manifest_descriptor.json"], _basenames(a.outputs))
    blobs_and_descriptors = []
    for p in payload_actions:
        blobs_and_descriptors += p.outputs.to_list()
    inputs = a.inputs.to_list()
    for f in blobs_and_descriptors:
        asserts.true(env, f in inputs, "assembly reads %s" % f.short_path)
    asserts.true(env, "product_info.json" in [f.basename for f in inputs], "assembly reads product_info")

    target = analysistest.target_under_test(env)
    info = target[OsImageInfo]
    asserts.equals(env, ["kernel.efi", "initrd", "system"], info.payload_names, "payload order is srcs order")
    asserts.equals(env, ["kernel.efi.json", "initrd.json", "system.json"], [f.basename for f in info.payload_descriptors])
    asserts.true(env, info.layout.is_directory)
    asserts.equals(env, [info.layout], target[DefaultInfo].files.to_list(), "the default output is the layout only")
    return analysistest.end(env)

three_payloads_test = analysistest.make(_three_payloads_impl)

# Level 0: payload actions hash only; the source file itself is the blob.
def _level0_impl(ctx):
    env = analysistest.begin(ctx)
    payload_actions = _actions(env, "OsImagePayload")
    asserts.equals(env, 2, len(payload_actions))
    for a in payload_actions:
        asserts.equals(env, [], _flag_values(a.argv, "-out_blob"), "no -out_blob at level 0")
        outs = a.outputs.to_list()
        asserts.equals(env, 1, len(outs), "only the descriptor: %s" % outs)
        asserts.true(env, outs[0].basename.endswith(".json"))
    assemble = _actions(env, "OsImageAssemble")[0]
    inputs = [f.basename for f in assemble.inputs.to_list()]
    asserts.true(env, "p1.bin" in inputs and "p2.bin" in inputs, "the sources are the blobs: %s" % inputs)
    info = analysistest.target_under_test(env)[OsImageInfo]
    asserts.equals(env, ["p1.bin", "p2.bin"], [f.basename for f in info.payload_blobs])
    return analysistest.end(env)

level0_test = analysistest.make(_level0_impl)

# An image using an oci_os_payload compresses only its own payloads.
def _shared_payload_impl(ctx):
    env = analysistest.begin(ctx)
    payload_actions = _actions(env, "OsImagePayload")
    asserts.equals(env, 1, len(payload_actions), "the shared payload is not processed again")
    asserts.equals(env, ["kernel.efi"], _flag_values(payload_actions[0].argv, "-name"))
    assemble = _actions(env, "OsImageAssemble")[0]
    inputs = [f.short_path for f in assemble.inputs.to_list()]
    asserts.true(env, "tests/analysis/shared_system/system.zst" in inputs, "assembly uses the shared blob: %s" % inputs)
    return analysistest.end(env)

shared_payload_test = analysistest.make(_shared_payload_impl)

def _payload_rule_impl(ctx):
    env = analysistest.begin(ctx)
    actions = _actions(env, "OsImagePayload")
    asserts.equals(env, 1, len(actions))
    asserts.equals(env, ["4"], _flag_values(actions[0].argv, "-compression_level"))
    info = analysistest.target_under_test(env)[OsImagePayloadInfo]
    asserts.equals(env, "system", info.name)
    asserts.equals(env, 4, info.compression_level)
    asserts.equals(env, "system.zst", info.blob.basename)
    return analysistest.end(env)

payload_rule_test = analysistest.make(_payload_rule_impl)

# The registry writes its manifest with runfiles paths and a launcher.
def _registry_impl(ctx):
    env = analysistest.begin(ctx)
    writes = [a for a in analysistest.target_actions(env) if a.mnemonic == "FileWrite"]
    manifests = [a for a in writes if a.outputs.to_list()[0].basename == "registry.registry.json"]
    asserts.equals(env, 1, len(manifests), "one manifest")
    data = json.decode(manifests[0].content)
    asserts.equals(env, 1, data["version"])
    prefix = ctx.workspace_name + "/tests/analysis/"
    asserts.equals(env, [
        {"layout": prefix + "three", "repository": "os/three", "tag": "latest"},
        {"layout": prefix + "three", "repository": "os/three", "tag": "v1"},
        {"layout": prefix + "level0", "repository": "os/level0", "tag": "v1"},
    ], data["images"])
    target = analysistest.target_under_test(env)
    runfiles = [f.short_path for f in target[DefaultInfo].default_runfiles.files.to_list()]
    for want in ["tests/analysis/three", "tests/analysis/level0", "tests/analysis/registry.registry.json"]:
        asserts.true(env, want in runfiles, "%s in runfiles: %s" % (want, runfiles))
    return analysistest.end(env)

registry_test = analysistest.make(_registry_impl)

# Failure cases: each target under test must fail analysis with a message
# naming what is wrong. (Bazel 4 has no nested functions, so the expected
# message is an attribute.)
def _failure_impl(ctx):
    env = analysistest.begin(ctx)
    asserts.expect_failure(env, ctx.attr.message)
    return analysistest.end(env)

failure_test = analysistest.make(
    _failure_impl,
    expect_failure = True,
    attrs = {"message": attr.string(mandatory = True, doc = "A substring of the expected error.")},
)
