"""The fast canonical JSON equals securesystemslib's, and falls back where they differ (#14)."""

from __future__ import annotations

import enum
import re
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from securesystemslib.formats import encode_canonical
from tuf.api.metadata import Metadata, TargetFile, Targets
from tuf.api.serialization import SerializationError

from tufrepo.core.parsing import ParseCache, canonical_bytes, canonical_dict_bytes, serialize
from tufrepo.errors import MetadataError


def slow(data: Any) -> bytes:
    text = encode_canonical(data)
    assert isinstance(text, str)
    return text.encode("utf-8")


ADVERSARIAL = [
    "",
    "plain",
    'quote " inside',
    "back\\slash",
    "\\n written out",  # backslash then n: not a newline
    '\\"',
    "\\\\\n",
    "new\nline",
    "\x00nul",
    "\x1f\x7f\x80",
    "\u2028\u2029",  # JSON-in-JS separators: json.dumps leaves them raw too
    "\ufeffbom",
    "😀 astral",
    "\\u0000 spelled out",
    "tab\there",
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=repr)
def test_adversarial_strings_as_values_and_keys(text: str) -> None:
    data = {"k": text, text: [text, {"n": 1}], "t": True, "f": False, "z": None}
    assert canonical_dict_bytes(data) == slow(data)


def test_every_code_point_alone() -> None:
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(chars), 4096):
        chunk = chars[start : start + 4096]
        data = {"values": chunk, "keys": dict.fromkeys(chunk, 0)}
        assert canonical_dict_bytes(data) == slow(data)


class Level(enum.IntEnum):
    ONE = 1


def test_types_json_would_write_differently_take_the_slow_path() -> None:
    for data in ({"v": Level.ONE}, {"v": (1, 2)}, {"v": [True, 10**40, -5]}):
        assert canonical_dict_bytes(data) == slow(data)


@pytest.mark.parametrize(
    "data", [{"v": 1.5}, {"v": float("nan")}, {"v": "\ud800"}, {1: "int key"}, {"v": b"x"}]
)
def test_what_canonical_json_refuses_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(SerializationError):
        canonical_dict_bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_any_json_document(data: dict[str, object]) -> None:
    assert canonical_dict_bytes(data) == slow(data)


def test_metadata_signed_bytes() -> None:
    md = Metadata(Targets())
    for i in range(50):
        name = f'dir/"{i}"\\file\n{i}'
        md.signed.targets[name] = TargetFile(i, {"sha256": f"{i:064x}"}, name)
    md.signed.unrecognized_fields["x-custom"] = {"nested": ["\x01", 2]}
    assert canonical_bytes(md.signed) == md.signed_bytes


def _parsed_targets(custom: object, name: str = "a") -> tuple[ParseCache, Metadata[Targets]]:
    md = Metadata(Targets())
    md.signed.targets[name] = TargetFile(1, {"sha256": "0" * 64}, name)
    md.signed.unrecognized_fields["x-custom"] = custom
    cache = ParseCache()
    parsed = cache.parse(serialize(md), "metadata/targets.json", "targets")
    assert isinstance(parsed.signed, Targets)
    return cache, parsed


@pytest.mark.parametrize("text", ADVERSARIAL, ids=repr)
def test_parsed_metadata_skips_the_type_walk_and_still_matches(text: str) -> None:
    # #14: what parse_metadata made holds only json.loads's exact types (no
    # float: refused when parsing); the text check for escapes still applies
    cache, md = _parsed_targets({"k": text, text: [text, True, 10**40, None]}, name=text or "a")
    assert cache.canonical(md) == slow(md.signed.to_dict()) == md.signed_bytes


@given(json_values)
def test_any_parsed_custom_value(value: object) -> None:
    cache, md = _parsed_targets(value)
    assert cache.canonical(md) == slow(md.signed.to_dict())


def _with_signed_field(field: bytes) -> bytes:
    return serialize(Metadata(Targets())).replace(b'"targets": {}', b'"targets": {}, ' + field)


@pytest.mark.parametrize(
    ("field", "where"),
    [
        (b'"x": "\\ud800"', "signed.x"),
        (b'"x": ["ok", {"y": "a\\uDFFFb"}]', "signed.x[1].y"),
        (b'"\\udbff": 1', "signed.\\udbff"),
    ],
)
def test_a_lone_surrogate_in_signed_is_malformed_when_parsed(field: bytes, where: str) -> None:
    # Red team (#14): JSON can spell one, canonical JSON cannot encode it, so
    # such a role could never be signed or verified: refused as malformed
    # metadata when parsed, not a crash when its signatures are checked
    with pytest.raises(MetadataError, match=f"lone surrogate at {re.escape(where)};"):
        ParseCache().parse(_with_signed_field(field), "metadata/targets.json", "targets")


def test_an_escaped_surrogate_pair_is_one_character_and_parses() -> None:
    cache = ParseCache()
    md = cache.parse(_with_signed_field(b'"x": "\\ud83d\\ude00"'), "metadata/t.json", "targets")
    assert md.signed.unrecognized_fields == {"x": "\U0001f600"}
    assert cache.canonical(md) == slow(md.signed.to_dict())


def test_a_float_never_reaches_the_parsed_path() -> None:
    with pytest.raises(MetadataError, match="floating-point"):
        ParseCache().parse(_with_signed_field(b'"x": 1.0'), "metadata/targets.json", "targets")
