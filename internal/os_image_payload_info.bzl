"""OsImagePayloadInfo: a payload processed once, reusable by several images."""

DOC = """One OS image payload, compressed and hashed by its own action.

Returned by oci_os_payload. An oci_os_image that lists such a target in its
srcs uses the blob and descriptor as they are, so images sharing a payload
compress it once.
"""

FIELDS = dict(
    name = "(string) The payload name, as it appears in the image config.",
    src = "(File) The uncompressed payload file.",
    compression_level = "(int) 0 (stored uncompressed) or 1..4 (zstd fastest..best).",
    descriptor = "(File) The descriptor JSON written by 'osimage payload': layer descriptor and config entry with chunk hashes.",
    blob = "(File) The layer blob: the zstd file, or the source file itself at level 0.",
)

OsImagePayloadInfo = provider(doc = DOC, fields = FIELDS)
