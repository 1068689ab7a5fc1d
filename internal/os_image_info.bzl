"""OsImageInfo: what an oci_os_image target provides."""

DOC = """An OS image built as an OCI image layout in the osimage v1 format.

Downstream rules that only need the identity of the image (a digest to pin,
a descriptor to reference) use the small files and never depend on the
layout's blobs.
"""

FIELDS = dict(
    layout = "(File, directory) The OCI image layout tree artifact: oci-layout, index.json and blobs/sha256/.",
    manifest_digest = "(File) 'sha256:<hex>' of the image manifest, without a trailing newline.",
    manifest_descriptor = "(File) The OCI descriptor (JSON) of the image manifest, as listed in index.json.",
    payload_names = "(list of string) The payload names, in payload (layer) order.",
    payload_descriptors = "(list of File) Per-payload descriptor JSON files written by 'osimage payload', in payload order.",
    payload_blobs = "(list of File) Per-payload layer blobs, in payload order; for an uncompressed payload this is the source file itself.",
)

OsImageInfo = provider(doc = DOC, fields = FIELDS)
