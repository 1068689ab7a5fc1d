"""Public API of rules_osimage: build OS images as OCI artifacts (osimage v1).

Load everything from here; internal/ is private and may change.
"""

load("//internal:local_registry.bzl", _oci_local_registry = "oci_local_registry")
load("//internal:os_image.bzl", _oci_os_image = "oci_os_image")
load("//internal:os_image_info.bzl", _OsImageInfo = "OsImageInfo")
load("//internal:os_image_payload_info.bzl", _OsImagePayloadInfo = "OsImagePayloadInfo")
load("//internal:os_image_test.bzl", _oci_os_image_test = "oci_os_image_test")
load("//internal:os_payload.bzl", _oci_os_payload = "oci_os_payload")
load("//internal:toolchain.bzl", _osimage_current_tool = "osimage_current_tool", _osimage_toolchain = "osimage_toolchain")

oci_os_image = _oci_os_image
oci_os_payload = _oci_os_payload
oci_os_image_test = _oci_os_image_test
oci_local_registry = _oci_local_registry
osimage_toolchain = _osimage_toolchain
osimage_current_tool = _osimage_current_tool
OsImageInfo = _OsImageInfo
OsImagePayloadInfo = _OsImagePayloadInfo
