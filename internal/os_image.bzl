"""oci_os_image: an OS image as an OCI image layout (osimage v1)."""

load(":labels.bzl", "invert")
load(":os_image_info.bzl", "OsImageInfo")
load(":os_image_payload_info.bzl", "OsImagePayloadInfo")
load(":payload.bzl", "check_compression_level", "payload_name_error", "process_payload", "single_file")
load(":toolchain.bzl", "TOOLCHAIN_TYPE")

def _payloads(ctx, owner, osimage):
    names = ctx.attr.payload_names
    if not names:
        fail("%s: srcs is empty; an OS image needs at least one payload" % owner)
    seen = {}
    for name in names:
        err = payload_name_error(name)
        if err:
            fail("%s: %s" % (owner, err))
        if name in seen:
            fail("%s: payload %r is listed twice" % (owner, name))
        seen[name] = True

    target_of = {}
    for target, joined in ctx.attr.payload_srcs.items():
        keys = joined.split(" ")
        if len(keys) > 1:
            fail("%s: %s is used for payloads %s; each payload needs its own label (an image holds a payload once; use a copy if two payloads must be equal)" % (
                owner,
                target.label,
                " and ".join(["%r" % k for k in keys]),
            ))
        if keys[0] not in seen:
            fail("%s: payload_srcs names %r, which is not in payload_names" % (owner, keys[0]))
        target_of[keys[0]] = target
    for name in names:
        if name not in target_of:
            fail("%s: payload %r has no label in payload_srcs" % (owner, name))

    payloads = []
    for name in names:
        target = target_of[name]
        if OsImagePayloadInfo in target:
            info = target[OsImagePayloadInfo]
            if info.name != name:
                fail("%s: payload %r: %s is the oci_os_payload of payload %r; list it under that name or set its payload_name" % (owner, name, target.label, info.name))
            payloads.append(info)
            continue
        src = single_file(owner, name, target)
        payloads.append(process_payload(ctx, osimage, name, src, ctx.attr.compression_level, ctx.label.name + ".payloads"))
    return payloads

def _oci_os_image_impl(ctx):
    owner = str(ctx.label)
    check_compression_level(owner, ctx.attr.compression_level)
    osimage = ctx.toolchains[TOOLCHAIN_TYPE].osimage
    payloads = _payloads(ctx, owner, osimage)

    layout = ctx.actions.declare_directory(ctx.label.name)
    digest = ctx.actions.declare_file(ctx.label.name + ".digest")
    manifest_descriptor = ctx.actions.declare_file(ctx.label.name + ".manifest_descriptor.json")

    verb = ctx.actions.args()
    verb.add("assemble")
    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    args.add("-out", layout.path)
    args.add("-out_digest", digest)
    args.add("-out_manifest_descriptor", manifest_descriptor)
    inputs = []
    if ctx.file.product_info:
        args.add("-product_info", ctx.file.product_info)
        inputs.append(ctx.file.product_info)
    for p in payloads:
        args.add("-descriptor", p.descriptor)
        args.add("-blob", p.blob)
        inputs.append(p.descriptor)
        inputs.append(p.blob)

    ctx.actions.run(
        executable = osimage.tool,
        arguments = [verb, args],
        inputs = inputs,
        outputs = [layout, digest, manifest_descriptor],
        mnemonic = "OsImageAssemble",
        progress_message = "Assembling OS image %s (%d payloads)" % (ctx.label, len(payloads)),
    )

    return [
        DefaultInfo(files = depset([layout])),
        OsImageInfo(
            layout = layout,
            manifest_digest = digest,
            manifest_descriptor = manifest_descriptor,
            payload_names = [p.name for p in payloads],
            payload_descriptors = [p.descriptor for p in payloads],
            payload_blobs = [p.blob for p in payloads],
        ),
        OutputGroupInfo(
            digest = depset([digest]),
            manifest_descriptor = depset([manifest_descriptor]),
            payload_descriptors = depset([p.descriptor for p in payloads]),
        ),
    ]

oci_os_image_rule = rule(
    implementation = _oci_os_image_impl,
    doc = """Builds an OS image: an OCI image layout in the osimage v1 format.

Use the oci_os_image macro, which takes srcs as {payload name: label}; this
rule receives them as payload_srcs/payload_names because Bazel 4 has no
string-keyed label dict attribute.

```starlark
load("@rules_osimage//:defs.bzl", "oci_os_image")

oci_os_image(
    name = "os_image",
    srcs = {
        "kernel.efi": ":kernel",
        "system": ":rootfs",
    },
    product_info = ":product_info.json",
    compression_level = 2,
)
```

Each payload gets its own action (mnemonic OsImagePayload): it hashes the
payload in 1 MiB chunks and, for levels 1..4, writes the zstd blob. One
cheap action (OsImageAssemble) then writes the layout directory. Changing one
payload reruns its action and the assembly only.
""",
    attrs = {
        "payload_srcs": attr.label_keyed_string_dict(
            doc = "Payload label -> payload name (written by the oci_os_image macro from srcs). Each label provides exactly one regular file, or is an oci_os_payload.",
            allow_files = True,
            mandatory = True,
        ),
        "payload_names": attr.string_list(
            doc = "Payload names in payload (layer) order (written by the oci_os_image macro from srcs).",
            mandatory = True,
        ),
        "product_info": attr.label(
            doc = "Optional product info JSON (osimage v1 product_info object), stored in the image config.",
            allow_single_file = True,
        ),
        "compression_level": attr.int(
            doc = "0 stores payloads uncompressed (the layout holds copies of the source files); 1..4 are zstd fastest, default, better, best. oci_os_payload targets keep their own level.",
            default = 2,
        ),
    },
    provides = [OsImageInfo],
    toolchains = [str(TOOLCHAIN_TYPE)],
)

def oci_os_image(name, srcs, product_info = None, compression_level = 2, **kwargs):
    """Builds an OS image: an OCI image layout in the osimage v1 format.

    ```starlark
    oci_os_image(
        name = "os_image",
        srcs = {"kernel.efi": ":kernel", "system": ":rootfs"},
        product_info = ":product_info.json",
        compression_level = 2,
    )
    ```

    The target's default output is the layout directory; it provides
    OsImageInfo (layout, manifest digest, manifest descriptor, payload
    descriptors) and output groups digest, manifest_descriptor and
    payload_descriptors.

    Args:
      name: target name; also the name of the layout directory.
      srcs: dict payload name -> label, in payload order. Each label provides
        exactly one regular file, or is an oci_os_payload (listed under its
        payload_name). One label cannot serve two payload names.
      product_info: optional label of the product info JSON file.
      compression_level: 0 (uncompressed) or 1..4 (zstd fastest..best); default 2.
      **kwargs: common attributes (visibility, tags, testonly, ...).
    """
    if type(srcs) != "dict":
        fail("oci_os_image %s: srcs must be a dict {payload name: label}, got %s" % (name, type(srcs)))
    payload_srcs, payload_names = invert(srcs)
    oci_os_image_rule(
        name = name,
        payload_srcs = payload_srcs,
        payload_names = payload_names,
        product_info = product_info,
        compression_level = compression_level,
        **kwargs
    )
