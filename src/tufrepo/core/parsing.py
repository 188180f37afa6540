"""Metadata bytes in and out: parsing hostile input into typed metadata, and serialising it.

Every metadata file tufrepo reads (work tree, git trees, a published site)
comes through :func:`parse_metadata`, which names the file in every error and
rejects what python-tuf would accept but a client or a later step would choke
on: files larger than any client downloads, deeply nested JSON,
floating-point numbers (canonical JSON has none) and wrongly typed fields.
Callers get ``Metadata[Root]``/``Metadata[Targets]``/... through
:func:`parse_typed` or :func:`narrow`, checked with ``isinstance`` (an
``assert`` would vanish under ``python -O``)::

    root = parse_typed(data, "metadata/root.json", Root)   # Metadata[Root]
    root.signed.roles  # type-checked

This is the only module where metadata is untyped; past it, a role's
metadata is :data:`AnyMetadata` (one of the four typed forms) or narrower.

Not for: where the bytes come from (stores), signing rules (``repository``),
the delegation tree (``delegations``).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, TypeVar, cast

from securesystemslib.formats import encode_canonical
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp
from tuf.api.serialization import DeserializationError, SerializationError, SignedSerializer
from tuf.api.serialization.json import JSONSerializer

from tufrepo.core.constants import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from tufrepo.errors import MetadataError, UnsupportedKeyError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuf.api.metadata import Role, Signed

# A role's metadata of any type.  python-tuf's ``Metadata`` is generic over a
# type variable constrained to the four types, so ``Metadata[Signed]`` is not a
# valid type: this union is its typed equivalent (``md.signed`` is one of the four).
AnyMetadata = Metadata[Root] | Metadata[Targets] | Metadata[Snapshot] | Metadata[Timestamp]

_T = TypeVar("_T", Root, Targets, Snapshot, Timestamp)

# Refuse metadata larger than any default client would download (root 512 kB,
# targets 5 MB): a hostile branch must not make us parse gigabytes.
MAX_METADATA_BYTES = 16 * 1024 * 1024

_SERIALIZER = JSONSerializer(compact=False)


def serialize(md: AnyMetadata) -> bytes:
    """Metadata bytes as written to disk: pretty-printed (indent 1), keys sorted."""
    return _SERIALIZER.serialize(md)


# --- canonical JSON (what signatures cover) ----------------------------------------
#
# securesystemslib's encode_canonical is pure Python and costs about 1 s for a
# role of 100,000 artifacts.  For JSON made only of dicts with string keys,
# lists, strings, ints, booleans and null, ``json.dumps(sort_keys=True,
# separators=(",", ":"), ensure_ascii=False)`` produces the same text, with one
# exception: canonical JSON escapes only backslash and double quote and emits
# every other character raw, while json.dumps escapes the control characters
# U+0000..U+001F.  So the fast text is used only when (a) every value has one
# of those exact types (no float, no int or str subclass, no non-string key)
# and (b) it holds no escape other than \\ and \".  Anything else takes
# encode_canonical, which also keeps its refusals (floats).  Tests compare
# both on adversarial strings (tests/unit/test_canonical.py).

_SCALARS = frozenset({str, int, bool, type(None)})
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _plain_json(value: object) -> bool:
    """True when ``value`` holds only the exact types canonical and json.dumps agree on."""
    stack = [value]
    scalars = _SCALARS
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            items = cast("dict[object, object]", item)
            if not all(type(k) is str for k in items):
                return False
            stack.extend(items.values())
        elif kind is list or kind is tuple:
            stack.extend(cast("list[object]", item))
        elif kind not in scalars:
            return False
    return True


def _only_quote_escapes(text: str) -> bool:
    """True when json.dumps escaped nothing but backslash and quote (no control characters)."""
    if "\\" not in text:
        return True
    # Outside strings JSON has no backslash, so pairs scanned left to right
    # are exactly the escapes.
    return all(m.group(1) in '\\"' for m in _ESCAPE.finditer(text))


def canonical_dict_bytes(data: dict[str, Any], *, from_json: bool = False) -> bytes:
    """The canonical JSON (OLPC, as securesystemslib) of ``data``, UTF-8 encoded.

    ``from_json``: ``data`` is the ``to_dict()`` of metadata parsed by
    :func:`parse_metadata` and never changed since, so it holds only the
    exact types json.loads makes, and no float (refused when parsing): the
    type walk of condition (a) above is known to pass and is skipped (#14:
    two thirds of the cost).  Condition (b) is still checked on the text.

    Raises:
        SerializationError: ``data`` cannot be canonicalised (a float, an
            unknown type, a lone surrogate).
    """
    try:
        if from_json or _plain_json(data):
            text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            if _only_quote_escapes(text):
                return text.encode("utf-8")
    except Exception as e:  # a lone surrogate: as python-tuf's CanonicalJSONSerializer
        raise SerializationError("canonical encoding failed") from e
    try:
        slow = encode_canonical(data)
    except Exception as e:  # as python-tuf's CanonicalJSONSerializer
        raise SerializationError("canonical encoding failed") from e
    if not isinstance(slow, str):  # str unless given an output callable
        raise SerializationError("canonical encoding failed")
    try:
        return slow.encode("utf-8")
    except UnicodeError as e:  # a lone surrogate
        raise SerializationError("canonical encoding failed") from e


def canonical_bytes(signed: Signed) -> bytes:
    """What signatures over ``signed`` cover: ``Metadata.signed_bytes``, computed fast.

    Raises:
        SerializationError: as :func:`canonical_dict_bytes`.
    """
    return canonical_dict_bytes(signed.to_dict())


class CanonicalSerializer(SignedSerializer):
    """python-tuf's ``CanonicalJSONSerializer`` with the fast path, for ``Metadata.sign``."""

    def serialize(self, signed_obj: Signed) -> bytes:
        """Canonical JSON bytes of ``signed_obj``."""
        return canonical_bytes(signed_obj)


CANONICAL = CanonicalSerializer()


def role_type(role: str) -> str:
    """The metadata type of a role: its own name for top-level roles, else targets."""
    return role if role in (ROOT, SNAPSHOT, TIMESTAMP) else TARGETS


def narrow(md: AnyMetadata, signed_type: type[_T], path: str) -> Metadata[_T]:
    """``md`` typed as ``Metadata[signed_type]``.

    Raises:
        MetadataError: ``md`` holds another type of metadata.
    """
    if isinstance(md.signed, signed_type):
        return md
    raise MetadataError(f"{path}: expected {signed_type.type} metadata, found {md.signed.type}")


def parse_typed(data: bytes, path: str, signed_type: type[_T]) -> Metadata[_T]:
    """Parse metadata bytes of one type (see :func:`parse_metadata`).

    Raises:
        MetadataError: as :func:`parse_metadata`.
        UnsupportedKeyError: as :func:`parse_metadata`.
    """
    return narrow(parse_metadata(data, path, signed_type.type), signed_type, path)


def parse_metadata(data: bytes, path: str, expected_type: str) -> AnyMetadata:
    """Parse metadata bytes, naming the file in every error.

    Raises:
        MetadataError: the bytes are too large, not JSON, not TUF metadata, or
            of another type than ``expected_type``.
        UnsupportedKeyError: a key no client can verify.
    """
    if len(data) > MAX_METADATA_BYTES:
        raise MetadataError(f"{path}: {len(data)} bytes is larger than {MAX_METADATA_BYTES}")
    try:
        md = _deserialize(data, path)
    except DeserializationError as e:
        cause = e.__cause__ or e
        if "Unsupported public key" in str(cause):
            # Attack/compat: a key no client can verify (see validation.SUPPORTED_KEYS).
            raise UnsupportedKeyError(f"{path}: {_short(cause)}") from e
        raise MetadataError(f"{path}: not valid TUF metadata ({_short(cause)})") from e
    except (RecursionError, MemoryError) as e:  # deeply nested JSON
        raise MetadataError(f"{path}: not valid TUF metadata (nested too deeply)") from e
    if md.signed.type != expected_type:
        raise MetadataError(f"{path}: expected {expected_type} metadata, found {md.signed.type}")
    problem = _type_problem(md)
    if problem:
        # python-tuf leaves some field types unchecked; a wrongly typed field
        # must be a clear rejection, not a crash deep inside a check.
        raise MetadataError(f"{path}: not valid TUF metadata ({problem})")
    return md


def parse_header(data: bytes) -> Metadata[Targets] | None:
    """A targets role's ``signed`` without its entries, for roles parsed and judged before.

    For showing roles judged in full before (#14: the status page of a
    million artifacts does not build every hash bin's entries to show its
    version and expiry).  The JSON is read as :func:`parse_metadata` reads it
    (a key given twice counts once, last), but the entries are dropped
    unbuilt and unchecked.  None for anything but a targets role without
    delegations (then parse the whole file).  Never for judging.
    """
    try:
        signed = json.loads(data)["signed"]
        if signed.get("_type") != TARGETS or signed.get("delegations") is not None:
            return None
        return Metadata(Targets.from_dict({**signed, "targets": {}}))
    except Exception:  # noqa: BLE001 - any surprise: parse the whole file
        return None


class ParseCache:
    """Metadata parsed once per content, shared by the repositories of one run (#14).

    Keyed by the file's exact bytes and the expected type: the same bytes
    always parse to the same metadata, so a role unchanged between known good
    and the state judged (or between two states of main's history) is parsed,
    and its canonical bytes computed, once.  What it returns is shared:
    callers must not modify it (``TufRepository.read``'s contract; editing
    goes through ``open()``, a private parse).  Bounded by the source bytes
    held, oldest forgotten first; an error is never cached.
    """

    def __init__(self, max_bytes: int = 48 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._held = 0
        self._parsed: dict[tuple[bytes, str], AnyMetadata] = {}
        # id() -> canonical bytes, for objects in _parsed only: those stay
        # alive while cached, so their id() is never another object's.
        self._canonical: dict[int, bytes] = {}
        self._owned: dict[int, AnyMetadata] = {}

    def parse(self, data: bytes, path: str, expected_type: str) -> AnyMetadata:
        """:func:`parse_metadata`, once per (bytes, type)."""
        key = (data, expected_type)
        md = self._parsed.get(key)
        if md is None:
            md = parse_metadata(data, path, expected_type)
            self._parsed[key] = md
            self._owned[id(md)] = md
            self._held += len(data)
            while self._held > self._max_bytes and len(self._parsed) > 1:
                oldest = next(iter(self._parsed))
                old = self._parsed.pop(oldest)
                del self._owned[id(old)]
                self._canonical.pop(id(old), None)
                self._held -= len(oldest[0])
        return md

    def canonical(self, md: AnyMetadata) -> bytes:
        """:func:`canonical_bytes` of ``md.signed``, once for an object this cache parsed."""
        if self._owned.get(id(md)) is not md:
            return canonical_bytes(md.signed)  # written or edited: not ours to remember
        if id(md) not in self._canonical:
            # parsed here from JSON, shared read-only (see TufRepository.read)
            self._canonical[id(md)] = canonical_dict_bytes(md.signed.to_dict(), from_json=True)
        return self._canonical[id(md)]


def _deserialize(data: bytes, path: str) -> AnyMetadata:
    """``Metadata.from_bytes`` in two steps, checking the JSON in between.

    Raises:
        DeserializationError: as python-tuf's JSONDeserializer raises it.
        MetadataError: ``signed`` holds a floating-point number.
    """
    has_float = False

    def parse_float(text: str) -> float:  # also NaN and Infinity, which json accepts
        nonlocal has_float
        has_float = True
        return float(text)

    try:
        text = data.decode("utf-8")
        document = json.loads(text, parse_float=parse_float, parse_constant=parse_float)
    except Exception as e:  # as JSONDeserializer: any decoding failure is malformed input
        raise DeserializationError("Failed to deserialize JSON") from e
    if has_float and isinstance(document, dict):
        # Canonical JSON (what is signed) has no floats: one in signed would
        # fail only when signing, much later.  Walked only when there is one.
        where = _path_of(document.get("signed"), "signed", _is_float)
        if where is not None:
            raise MetadataError(
                f"{path}: not valid TUF metadata (floating-point value at {where}; "
                "canonical JSON allows only integers)"
            )
    if _SURROGATE_ESCAPE.search(text):
        # Nor can it encode a lone surrogate, which JSON can spell (\ud800):
        # in signed, such a role could never be signed or verified; anywhere
        # (a signature's keyid), no output can print it (red team, #14).
        # UTF-8 bytes cannot hold one, so only a text with such an escape is walked.
        where = _path_of(document, "", _is_lone_surrogate)
        if where is not None:
            raise MetadataError(
                f"{path}: not valid TUF metadata (a lone surrogate at {where}; "
                "canonical JSON cannot encode it)"
            )
    try:
        return Metadata.from_dict(document)
    except Exception as e:  # as JSONDeserializer
        raise DeserializationError("Failed to deserialize JSON") from e


# A value met while walking parsed JSON: (value, its key or index, its container's entry).
_Entry = tuple[object, str | int, "_Entry | None"]


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_float(item: object) -> bool:
    return isinstance(item, float)


def _is_lone_surrogate(item: object) -> bool:
    # json.loads joins an escaped pair into one character: what is left is alone
    return isinstance(item, str) and not item.isascii() and _SURROGATE.search(item) is not None


def _path_of(value: object, name: str, bad: Callable[[object], bool]) -> str | None:
    """Where the first ``bad`` value or key in ``value`` is (``signed.x-foo``, ``signed.a[2]``).

    One pass over the parsed JSON without recursion; a path is built only for what is found.
    """
    stack: list[_Entry] = [(value, name, None)]
    while stack:
        entry = stack.pop()
        item = entry[0]
        if bad(item) or (entry[2] is not None and bad(entry[1])):
            parts: list[str] = []
            node: _Entry | None = entry
            while node is not None:
                key = node[1]
                if isinstance(key, int):
                    parts.append(f"[{key}]")
                else:  # a lone surrogate cannot be printed: written as its escape
                    parts.append("." + key.encode("utf-8", "backslashreplace").decode("utf-8"))
                node = node[2]
            return _short_path("".join(reversed(parts)).lstrip("."))
        if isinstance(item, dict):
            stack.extend((v, str(k), entry) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((item[i], i, entry) for i in range(len(item) - 1, -1, -1))
    return None


def _short_path(text: str) -> str:
    return text if len(text) <= 120 else text[:120] + "…"


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _targets_problem(signed: Targets) -> str | None:
    for name, target in signed.targets.items():
        if (
            not isinstance(target.length, int)
            or isinstance(target.length, bool)
            or target.length < 0
        ):
            return f"target {name!r} has an invalid length"
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in target.hashes.items()):
            return f"target {name!r} has invalid hashes"
    return None


def _type_problem(md: AnyMetadata) -> str | None:
    # The annotations say str; hostile JSON says otherwise (null, numbers).
    raw: list[tuple[object, object]] = [(k, s.signature) for k, s in md.signatures.items()]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in raw):
        return "signature keyid and sig must be strings"
    signed = md.signed
    if not _is_count(signed.version):
        return "version must be a positive integer"
    roles: list[Role] = []
    if isinstance(signed, Root):
        roles = list(signed.roles.values())
    elif isinstance(signed, Targets):
        if signed.delegations and signed.delegations.roles:
            roles = list(signed.delegations.roles.values())
        problem = _targets_problem(signed)
        if problem:
            return problem
    for role in roles:
        if not _is_str_list(role.keyids) or not _is_count(role.threshold):
            return "a role needs a list of keyids and a positive threshold"
        paths = getattr(role, "paths", None)
        if paths is not None and not _is_str_list(paths):
            return "delegation paths must be strings"
        if not isinstance(getattr(role, "terminating", False), bool):
            return "terminating must be true or false"
    return None


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) < 200 else text[:200] + "…"


__all__ = [
    "CANONICAL",
    "MAX_METADATA_BYTES",
    "AnyMetadata",
    "CanonicalSerializer",
    "canonical_bytes",
    "canonical_dict_bytes",
    "narrow",
    "parse_metadata",
    "parse_typed",
    "role_type",
    "serialize",
]
