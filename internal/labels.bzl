"""Helpers for the macros that stand in for string-keyed label dicts.

Bazel 4 has no attr.string_keyed_label_dict, so the public macros take
{string: label} and pass the rule an attr.label_keyed_string_dict
{label: "key1 key2"} plus the keys in order. Keys never contain spaces
(payload names and image references cannot), so a label used under several
keys keeps all of them and the rule decides whether that is allowed.
"""

def normalize_label(label):
    """Spells a label string relative to the current package the same way every time.

    ":x", "x" and "//pkg:x" (in package pkg) become "//pkg:x", and "//a/b"
    becomes "//a/b:b", so that one target written two ways is one key.
    Labels in other repositories and Label objects are returned unchanged.

    Args:
      label: a label string (or Label) as written in a BUILD file.

    Returns:
      The normalized label.
    """
    if type(label) != "string":
        return label
    if label.startswith("@"):
        return label
    if label.startswith("//"):
        if ":" not in label:
            return label + ":" + label.split("/")[-1]
        return label
    if label.startswith(":"):
        label = label[1:]
    return "//%s:%s" % (native.package_name(), label)

def invert(keyed):
    """Inverts a string-keyed label dict for an attr.label_keyed_string_dict.

    Args:
      keyed: dict key -> label.

    Returns:
      ({label: "key1 key2"}, [keys in order]).
    """
    inverted = {}
    for key, label in keyed.items():
        label = normalize_label(label)
        if label in inverted:
            inverted[label] = inverted[label] + " " + key
        else:
            inverted[label] = key
    return inverted, list(keyed.keys())

def by_key(owner, attr_name, label_dict, keys):
    """The rule-side inverse of invert().

    Fails when a key of keys is missing or a target carries an unknown key.

    Args:
      owner: the label of the rule, for error messages.
      attr_name: the user-facing attribute name, for error messages.
      label_dict: the label_keyed_string_dict attribute value.
      keys: the keys in order.

    Returns:
      dict key -> Target.
    """
    result = {}
    for target, joined in label_dict.items():
        for key in joined.split(" "):
            if key not in keys:
                fail("%s: %s: key %r for %s is not in the key list %r" % (owner, attr_name, key, target.label, keys))
            result[key] = target
    for key in keys:
        if key not in result:
            fail("%s: %s: no label for %r" % (owner, attr_name, key))
    return result
