"""Payload names and the per-payload action, shared by the rules."""

load(":os_image_payload_info.bzl", "OsImagePayloadInfo")

MAX_COMPRESSION_LEVEL = 4

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FIRST = _ALNUM + "-"
_MIDDLE = _ALNUM + "._-"
_LAST = _ALNUM + "_-"

def payload_name_error(name):
    """Checks a payload name against the osimage v1 rule.

    The rule is the regular expression
    `^[0-9A-Za-z-](?:[0-9A-Za-z._-]{0,78}[0-9A-Za-z_-])?$`; Starlark has no
    regular expressions, so it is spelled out here.

    Args:
      name: the payload name.

    Returns:
      None if the name is valid, else a sentence saying why it is not.
    """
    if len(name) == 0:
        return "a payload name must not be empty"
    if len(name) > 80:
        return "payload name %r is %d characters long; at most 80 are allowed" % (name, len(name))
    if name[0] not in _FIRST:
        return "payload name %r must start with a letter, a digit or '-'" % name
    if len(name) > 1 and name[-1] not in _LAST:
        return "payload name %r must end with a letter, a digit, '_' or '-'" % name
    for c in name.elems():
        if c not in _MIDDLE:
            return "payload name %r contains %r; allowed are letters, digits, '.', '_' and '-'" % (name, c)
    return None

def check_compression_level(owner, level):
    """Fails unless level is a valid compression level.

    Args:
      owner: the label of the rule, for error messages.
      level: the compression level.
    """
    if level < 0 or level > MAX_COMPRESSION_LEVEL:
        fail("%s: compression_level %d is out of range: want 0 (uncompressed) to %d (zstd best)" % (owner, level, MAX_COMPRESSION_LEVEL))

def single_file(owner, payload_name, target):
    """The one file of a payload target, failing clearly when it has 0 or 2+.

    Args:
      owner: the label of the rule, for error messages.
      payload_name: the payload the target is for.
      target: the payload target.

    Returns:
      The File.
    """
    files = target.files.to_list()
    if len(files) != 1:
        fail("%s: payload %r: %s must provide exactly one file, but provides %d%s" % (
            owner,
            payload_name,
            target.label,
            len(files),
            (": " + ", ".join([f.short_path for f in files[:5]])) if files else "",
        ))
    f = files[0]
    if f.is_directory:
        fail("%s: payload %r: %s is a directory (%s); a payload must be a regular file" % (owner, payload_name, target.label, f.short_path))
    return f

def process_payload(ctx, osimage, payload_name, src, level, subdir):
    """Declares the action that compresses and hashes one payload.

    Args:
      ctx: the rule context.
      osimage: the toolchain's osimage struct.
      payload_name: the payload name (already validated).
      src: the payload file.
      level: compression level 0..4; 0 writes no blob (the source is the blob).
      subdir: directory (relative to the package) for the outputs.

    Returns:
      An OsImagePayloadInfo.
    """
    descriptor = ctx.actions.declare_file("%s/%s.json" % (subdir, payload_name))
    outputs = [descriptor]
    args = ctx.actions.args()
    args.add("payload")
    args.add("-name", payload_name)
    args.add("-file", src)
    args.add("-compression_level", str(level))
    args.add("-out_descriptor", descriptor)
    blob = src
    if level > 0:
        blob = ctx.actions.declare_file("%s/%s.zst" % (subdir, payload_name))
        args.add("-out_blob", blob)
        outputs.append(blob)
        what = "Compressing (zstd level %d)" % level
    else:
        what = "Hashing (uncompressed)"
    ctx.actions.run(
        executable = osimage.tool,
        arguments = [args],
        inputs = [src],
        outputs = outputs,
        mnemonic = "OsImagePayload",
        progress_message = "%s payload %s of %s" % (what, payload_name, ctx.label),
    )
    return OsImagePayloadInfo(
        name = payload_name,
        src = src,
        compression_level = level,
        descriptor = descriptor,
        blob = blob,
    )
