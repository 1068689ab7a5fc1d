"""oci_os_payload: one payload, processed once, for several images."""

load(":os_image_payload_info.bzl", "OsImagePayloadInfo")
load(":payload.bzl", "check_compression_level", "payload_name_error", "process_payload", "single_file")
load(":toolchain.bzl", "TOOLCHAIN_TYPE")

def _oci_os_payload_impl(ctx):
    owner = str(ctx.label)
    name = ctx.attr.payload_name or ctx.label.name
    err = payload_name_error(name)
    if err:
        fail("%s: %s" % (owner, err))
    check_compression_level(owner, ctx.attr.compression_level)
    src = single_file(owner, name, ctx.attr.src)
    info = process_payload(
        ctx,
        ctx.toolchains[TOOLCHAIN_TYPE].osimage,
        name,
        src,
        ctx.attr.compression_level,
        ctx.label.name,
    )
    outputs = [info.descriptor]
    if info.blob != src:
        outputs.append(info.blob)
    return [
        DefaultInfo(files = depset(outputs)),
        info,
    ]

oci_os_payload = rule(
    implementation = _oci_os_payload_impl,
    doc = """A payload compressed and hashed once, to be shared by several images.

Use the target as a value in `oci_os_image.srcs`, under its payload name.
Every image that lists it reuses the same blob and descriptor, so the
payload is compressed once however many images contain it (and changing
another payload of those images never touches it).

```starlark
oci_os_payload(
    name = "rootfs_payload",
    src = ":rootfs.img",
    payload_name = "system",
    compression_level = 2,
)

oci_os_image(
    name = "os_image",
    srcs = {"kernel.efi": ":kernel", "system": ":rootfs_payload"},
)

oci_os_image(
    name = "os_image_debug",
    srcs = {"kernel.efi": ":kernel_debug", "system": ":rootfs_payload"},
)
```
""",
    attrs = {
        "src": attr.label(
            doc = "The payload file: a label that provides exactly one regular file.",
            mandatory = True,
            allow_files = True,
        ),
        "payload_name": attr.string(
            doc = "The payload name in the image (osimage v1 payload-name rules). Defaults to the target name. An image must list the target under this name.",
        ),
        "compression_level": attr.int(
            doc = "0 stores the payload uncompressed; 1..4 are zstd fastest, default, better, best.",
            default = 2,
        ),
    },
    provides = [OsImagePayloadInfo],
    toolchains = [str(TOOLCHAIN_TYPE)],
)
