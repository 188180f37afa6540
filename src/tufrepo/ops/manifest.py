"""Artifacts kept out of git: manifests of path, length, hashes and custom fields.

A role lists artifacts that are not files in the repository (large or
frequently built ones, tuf-on-ci #59) through a manifest committed on the
signing event, ``targets/.manifests/<role>.jsonl``: JSON Lines, one artifact
per line::

    {"path": "app/v1.2/app.tar.gz", "length": 1048576, "hashes": {"sha256": "…"}, "custom": {…}}

* ``path`` (required): the target path, owned by ``<role>`` (or one of its
  hash bins) under the usual rules; letters, digits and ``._+~-`` in
  ``/``-separated segments, no dot-segments or dotfiles, at most
  :data:`MAX_PATH` characters;
* ``length`` (required): a JSON integer, 0 to 2**53 - 1 bytes;
* ``hashes`` (required): ``sha256`` and optionally ``sha384``/``sha512``,
  lowercase hex of the algorithm's length;
* ``custom`` (optional): a JSON object, copied into the metadata entry.

Nothing else is accepted: no other keys, duplicate keys, blank lines,
``NaN``, non-UTF-8, lines over :data:`MAX_LINE` bytes, or a path listed twice
(in any manifest, or also a file under ``targets/``).  ``update-targets``
lists each entry in the role that owns its path; ``publish`` writes metadata
only for them, and clients download them from the store their target base
URL points at (README, "Releasing from another repository").

The manifest directory is a dot-directory, so neither tufrepo nor tuf-on-ci
takes the manifests for artifacts.

Not for: judging (``checks.manifest`` turns problems into findings), git.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuf.api.metadata import TargetFile
from tuf.api.serialization import SerializationError

from tufrepo.core import layout
from tufrepo.core.artifacts import MANIFEST_DIRNAME
from tufrepo.core.constants import TARGETS_DIR
from tufrepo.core.parsing import canonical_dict_bytes
from tufrepo.errors import RejectedError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from tufrepo.core.store import Store

MANIFEST_DIR = f"{TARGETS_DIR}/{MANIFEST_DIRNAME}"
MANIFEST_SUFFIX = ".jsonl"
MAX_LINE = 65_536
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_PATH = 1_024
MAX_LENGTH = 2**53 - 1  # the largest integer every client's JSON reads exactly (tuf-js)
HASH_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
REQUIRED_HASH = "sha256"
_FIELDS = frozenset({"path", "length", "hashes", "custom"})
_SEGMENT_RE = r"[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*"
# the whole path at once: segments as above, "/"-separated, none empty
_PATH = re.compile(rf"{_SEGMENT_RE}(?:/{_SEGMENT_RE})*")


@dataclass(frozen=True)
class ManifestProblem:
    """Why one line (0: the whole file) of a manifest is refused, with a finding code."""

    manifest: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.manifest}:{self.line}" if self.line else self.manifest
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ManifestEntry:
    """One valid manifest line: the role whose manifest lists it, and its metadata entry."""

    role: str
    manifest: str
    line: int
    target: TargetFile

    @property
    def path(self) -> str:
        """The target path."""
        return self.target.path


@dataclass(frozen=True)
class Manifests:
    """Every manifest of a checkout: the valid entries and the problems found."""

    entries: list[ManifestEntry] = field(default_factory=list)
    problems: list[ManifestProblem] = field(default_factory=list)

    @property
    def paths(self) -> frozenset[str]:
        """Target paths of the valid entries."""
        return frozenset(e.path for e in self.entries)

    def require_valid(self) -> None:
        """Refuse manifests with any problem (``update-targets``).

        Raises:
            RejectedError: naming the first problem and how many there are.
        """
        if self.problems:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            raise RejectedError(
                f"invalid artifact manifest: {self.problems[0]}{more}",
                hint="run `tufrepo status` to see every problem; each line is "
                '{"path": …, "length": …, "hashes": {"sha256": …}, "custom": {…}}',
            )


class _LineError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def manifest_path(role: str) -> str:
    """``targets/.manifests/<role>.jsonl``."""
    return f"{MANIFEST_DIR}/{role}{MANIFEST_SUFFIX}"


def is_manifest_path(path: str) -> bool:
    """True for any path under the manifest directory (a repository path)."""
    return path.startswith(f"{MANIFEST_DIR}/")


def read_manifests(files: Store, *, private: bool = True) -> Manifests:
    """Parse every manifest under :data:`MANIFEST_DIR`; never raises on hostile content.

    ``private=False`` returns the run's shared parse (#14): for readers that
    never modify an entry (checks, the list of paths).
    """
    result = Manifests()
    seen: dict[str, str] = {}
    for entry in sorted(files.walk(MANIFEST_DIR), key=lambda e: e.path):
        name = entry.path[len(MANIFEST_DIR) + 1 :]
        role = name.removesuffix(MANIFEST_SUFFIX)
        if entry.kind != "file" or not _is_manifest_name(name):
            # Mistake/attack: a file that looks like a manifest but is never read
            # (or a symlink that would read one from outside the repository).
            result.problems.append(
                ManifestProblem(
                    entry.path,
                    0,
                    "manifest-name",
                    f"not a manifest: expected a regular file {MANIFEST_DIR}/<role>{MANIFEST_SUFFIX}",
                )
            )
            continue
        data = files.read(entry.path)
        if data is None:
            continue
        entries, problems = parse_manifest(role, entry.path, data, private=private)
        for item in entries:
            folded = item.path.casefold()
            if folded in seen:
                # Attack: one path listed twice with different hashes: which one
                # signers reviewed would depend on the order lines are read.
                problems.append(
                    ManifestProblem(
                        entry.path,
                        item.line,
                        "manifest-duplicate",
                        f"{item.path!r} is listed more than once (also as {seen[folded]})",
                    )
                )
                continue
            seen[folded] = f"{entry.path}:{item.line}"
            result.entries.append(item)
        result.problems.extend(problems)
    return result


def _is_manifest_name(name: str) -> bool:
    """``<role>.jsonl`` directly in the manifest directory, for a role name that is safe."""
    return (
        name.endswith(MANIFEST_SUFFIX)
        and "/" not in name
        and layout.is_safe_role_name(name.removesuffix(MANIFEST_SUFFIX))
    )


# Parsed manifests by content (role, file, sha256 of the bytes): one judgement
# reads a manifest several times (checks, update-targets).  Keyed by content, so
# nothing the tree under judgement writes can change what a key means.
_PARSED: dict[tuple[str, str, bytes], tuple[list[ManifestEntry], list[ManifestProblem]]] = {}
_PARSED_MAX = 8


def parse_manifest(
    role: str, manifest: str, data: bytes, *, private: bool = True
) -> tuple[list[ManifestEntry], list[ManifestProblem]]:
    """The valid entries and the problems of one manifest file.

    Fresh objects each call, unless ``private`` is False: then the parsed
    entries are shared, and must not be modified.
    """
    key = (role, manifest, hashlib.sha256(data).digest())
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _parse_manifest(role, manifest, data)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = parsed
    entries, problems = parsed
    if not private:
        return list(entries), list(problems)
    return [
        ManifestEntry(e.role, e.manifest, e.line, _copy_target(e.target)) for e in entries
    ], list(problems)


def _copy_target(target: TargetFile) -> TargetFile:
    return TargetFile(
        target.length,
        dict(target.hashes),
        target.path,
        copy.deepcopy(target.unrecognized_fields) if target.unrecognized_fields else None,
    )


def _parse_manifest(
    role: str, manifest: str, data: bytes
) -> tuple[list[ManifestEntry], list[ManifestProblem]]:
    if len(data) > MAX_MANIFEST_BYTES:
        return [], [
            ManifestProblem(
                manifest, 0, "manifest-malformed", f"larger than {MAX_MANIFEST_BYTES} bytes"
            )
        ]
    entries: list[ManifestEntry] = []
    problems: list[ManifestProblem] = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline
    for number, raw in enumerate(lines, start=1):
        try:
            target = parse_line(raw)
        except _LineError as e:
            problems.append(ManifestProblem(manifest, number, e.code, str(e)))
            continue
        entries.append(ManifestEntry(role, manifest, number, target))
    return entries, problems


def parse_line(raw: bytes) -> TargetFile:
    """One manifest line as a metadata entry.

    Raises:
        _LineError: with the finding code of the first problem.
    """
    if len(raw) > MAX_LINE:
        raise _LineError("manifest-malformed", f"line longer than {MAX_LINE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _LineError("manifest-malformed", "not UTF-8") from None
    if not text.strip():
        raise _LineError("manifest-malformed", "blank line")
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError) as e:
        raise _LineError("manifest-malformed", f"not JSON: {str(e)[:80]}") from None
    if not isinstance(value, dict):
        raise _LineError("manifest-malformed", "not a JSON object")
    unknown = sorted(set(value) - _FIELDS)
    if unknown:
        raise _LineError("manifest-malformed", f"unknown field(s) {', '.join(unknown)[:80]}")
    path = _path(value.get("path"))
    length = _length(value.get("length"))
    hashes = _hashes(value.get("hashes"))
    extra: dict[str, Any] = {}
    if "custom" in value:
        if not isinstance(value["custom"], dict):
            raise _LineError("manifest-bad-custom", "custom must be a JSON object")
        try:
            canonical_dict_bytes(value["custom"])
        except SerializationError:
            # Mistake/attack: what signers sign must have a canonical form
            # (a lone surrogate has none: signing would fail after the merge).
            raise _LineError("manifest-bad-custom", "custom has no canonical JSON form") from None
        extra["custom"] = value["custom"]
    return TargetFile(length, hashes, path, unrecognized_fields=extra)


def line_path(raw: bytes) -> str | None:
    """A manifest line's path, or None for a line the manifest checks refuse."""
    try:
        return parse_line(raw).path
    except (_LineError, ValueError):
        return None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        # Attack: {"length": 1, "length": 2}: parsers disagree about which one counts.
        raise ValueError("a key appears twice")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every line (#14: json.loads with hooks builds a decoder per call).
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def _path(path: object) -> str:
    # Attack: a path that escapes targets/ or names another file on a client's
    # disk or in a URL (.., absolute, backslash, %, ?, #, control characters).
    if not isinstance(path, str) or not path:
        raise _LineError("manifest-bad-path", "path must be a non-empty string")
    if len(path) > MAX_PATH or not _PATH.fullmatch(path):
        raise _LineError(
            "manifest-bad-path",
            f"path {path[:80]!r} is not a safe target path (letters, digits and ._+~- in "
            "/-separated segments, none empty or starting with '.')",
        )
    return path


def _length(length: object) -> int:
    # Attack: a length clients cannot compare exactly (a float, a huge or
    # negative number) would let another file pass or make every download fail.
    if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= MAX_LENGTH:
        raise _LineError(
            "manifest-bad-length",
            f"length must be a whole number of bytes from 0 to {MAX_LENGTH}, "
            f"not {str(length)[:40]}",
        )
    return length


def _hashes(hashes: object) -> dict[str, str]:
    # Attack: a missing, short or unknown hash would leave the artifact unchecked
    # by some client, or make every client refuse it.
    if not isinstance(hashes, dict) or REQUIRED_HASH not in hashes:
        raise _LineError("manifest-bad-hash", f"hashes must be an object with {REQUIRED_HASH}")
    checked = {}
    for algorithm, digest in hashes.items():
        if algorithm not in HASH_HEX_LENGTHS:
            raise _LineError(
                "manifest-bad-hash",
                f"hash algorithm {str(algorithm)[:20]!r} is not one of "
                f"{', '.join(HASH_HEX_LENGTHS)}",
            )
        if not (
            isinstance(digest, str)
            and len(digest) == HASH_HEX_LENGTHS[algorithm]
            and re.fullmatch(r"[0-9a-f]+", digest)
        ):
            raise _LineError(
                "manifest-bad-hash",
                f"{algorithm} must be {HASH_HEX_LENGTHS[algorithm]} lowercase hex digits",
            )
        checked[algorithm] = digest
    return checked


def external_paths(files: Store) -> frozenset[str]:
    """Target paths that manifests list (publish writes no file for them)."""
    return read_manifests(files, private=False).paths


def add_manifest_artifacts(
    files: Store,
    wanted: dict[str, dict[str, TargetFile]],
    owner: Callable[[str], str],
    is_bin_of: Callable[[str, str], bool],
) -> None:
    """Add every manifest entry to the role that owns its path (``wanted``: role -> entries).

    Args:
        files: the checkout (manifests and the files under targets/).
        wanted: role -> entries the files under targets/ call for; updated in place.
        owner: the role owning a target path.
        is_bin_of: whether the first role is a hash bin of the second.

    Raises:
        RejectedError: any manifest problem (see :func:`read_manifests`, :func:`conflicts`).
    """
    manifests = read_manifests(files)
    file_paths = [p for entries in wanted.values() for p in entries]
    problems = manifests.problems + conflicts(manifests, file_paths, owner, is_bin_of)
    Manifests(manifests.entries, problems).require_valid()
    place_manifest_entries(wanted, manifests.entries, owner)


def clashes_with_files(files: Store, file_paths: Iterable[str]) -> list[ManifestProblem]:
    """Manifest lines whose path is also one of ``file_paths``, exactly or but for case.

    :func:`conflicts` for a few changed files beside large manifests that
    did not change (#14), found by :func:`_named`.
    """
    return [
        ManifestProblem(
            manifest, line, "manifest-duplicate", f"{path!r} is also a file under targets/"
        )
        for manifest, line, path in _named(files, file_paths)
    ]


def listed_in_manifests(files: Store, paths: Iterable[str]) -> set[str]:
    """Those of ``paths`` a valid manifest line lists, exactly (found by :func:`_named`)."""
    wanted = set(paths)
    return {path for _, _, path in _named(files, wanted) if path in wanted}


def _named(files: Store, paths: Iterable[str]) -> list[tuple[str, int, str]]:
    """(manifest, line, path) of the valid lines whose path is one of ``paths`` but for case.

    Without reading every line of large manifests (#14): a manifest with no
    backslash (so no JSON escape) is searched as case-folded text for each
    path as a JSON string, and only the lines found are parsed.  Folding maps
    character by character and never makes or removes a newline, so a line
    listing such a path always contains the needle.  Any other manifest is
    parsed whole.
    """
    wanted = {p.casefold() for p in paths}
    found: list[tuple[str, int, str]] = []
    if not wanted:
        return found
    for entry in files.walk(MANIFEST_DIR):
        name = entry.path[len(MANIFEST_DIR) + 1 :]
        role = name.removesuffix(MANIFEST_SUFFIX)
        if not _is_manifest_name(name) or entry.kind != "file":
            continue  # never read as a manifest (read_manifests reports it)
        data = files.read(entry.path)
        if data is None:
            continue
        text = data.decode("utf-8", errors="replace")
        if "\\" in text:
            lines = [
                (e.line, e.path) for e in parse_manifest(role, entry.path, data, private=False)[0]
            ]
        else:
            lines = _lines_naming(data, text.casefold(), wanted)
        found += [(entry.path, n, p) for n, p in lines if p.casefold() in wanted]
    return found


_FEW = 16  # paths searched one by one; more are found in one pass of _PATH_KEY
_PATH_KEY = re.compile(r'"path"\s*:\s*"([^"]*)"')


def _lines_naming(data: bytes, folded: str, wanted: set[str]) -> list[tuple[int, str]]:
    """(line number, path) of the lines whose case-folded text holds a wanted path as a JSON string."""
    starts: list[int] = []
    if len(wanted) > _FEW:
        # one pass for many paths: every string after a "path" key (a superset
        # of the lines' paths: parsing the lines found drops the others)
        starts = [m.start() for m in _PATH_KEY.finditer(folded) if m.group(1) in wanted]
    for path in wanted if len(wanted) <= _FEW else ():
        needle = json.dumps(path, ensure_ascii=False)
        start = folded.find(needle)
        while start != -1:
            starts.append(start)
            start = folded.find(needle, start + 1)
    if not starts:
        return []
    if len(starts) <= _FEW:  # a count per line found, in C, beats listing every newline
        numbers = {folded.count("\n", 0, start) for start in starts}
    else:
        newlines = [m.start() for m in re.finditer("\n", folded)]
        numbers = {bisect.bisect_left(newlines, start) for start in starts}
    lines = data.split(b"\n")
    found = []
    for index in sorted(numbers):
        named = line_path(lines[index])
        if named is not None:
            found.append((index + 1, named))
    return found


@dataclass(frozen=True)
class LineChanges:
    """What changed manifests changed, line by line, since a known good judged in full.

    Attributes:
        added: target path -> the entry of each valid line that is new.
        removed: target paths of the lines that are gone.
        problems: why new lines are refused (the codes :func:`read_manifests`
            and :func:`conflicts` give).
    """

    added: dict[str, ManifestEntry] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    problems: list[ManifestProblem] = field(default_factory=list)

    @property
    def paths(self) -> frozenset[str]:
        """Every target path a changed line names."""
        return frozenset(self.added) | frozenset(self.removed)


def line_changes(
    files: Store,
    known_good: Store,
    manifests: Iterable[str],
    *,
    file_paths: Iterable[str],
    owner: Callable[[str], str],
    is_bin_of: Callable[[str, str], bool],
) -> LineChanges | None:
    """The lines ``manifests`` (repository paths) added and removed since ``known_good``.

    #14: a release pipeline adds one line to a manifest of a million; only
    the new lines are parsed and checked, each as :func:`read_manifests` and
    :func:`conflicts` would: valid, its path listed once in every manifest
    (searched by :func:`_named`), not a file under targets/ (``file_paths``),
    and owned by the manifest's role or one of its bins.  Known good's lines
    were checked when it was judged in full.  None when this cannot be
    decided line by line (a manifest new, removed or renamed, too large, or
    holding one line twice): then every manifest is read.
    """
    changes = LineChanges()
    for path in sorted(manifests):
        name = path[len(MANIFEST_DIR) + 1 :]
        before, now = known_good.read(path), files.read(path)
        if not _is_manifest_name(name) or before is None or now is None:
            return None
        if len(now) > MAX_MANIFEST_BYTES:
            return None
        old_lines, new_lines = _lines(before), _lines(now)
        now_set, kept = set(new_lines), set(old_lines)
        if len(now_set) != len(new_lines):
            return None  # a line twice: read_manifests names both
        role = name.removesuffix(MANIFEST_SUFFIX)
        for number, raw in _numbered(new_lines, now_set - kept):
            try:
                target = parse_line(raw)
            except _LineError as e:
                changes.problems.append(ManifestProblem(path, number, e.code, str(e)))
                continue
            if target.path in changes.added:
                return None
            changes.added[target.path] = ManifestEntry(role, path, number, target)
        for raw in kept - now_set:
            if (listed := line_path(raw)) is not None:
                changes.removed.add(listed)
    changes.problems.extend(_added_conflicts(files, changes.added, file_paths, owner, is_bin_of))
    return changes


def _numbered(lines: list[bytes], new: set[bytes]) -> list[tuple[int, bytes]]:
    """(line number, line) of the ``new`` lines, in file order; lines are unique."""
    if len(new) <= _FEW:  # one search in C per line (#14: one line more of a million)
        return sorted((lines.index(raw) + 1, raw) for raw in new)
    return [(n, raw) for n, raw in enumerate(lines, start=1) if raw in new]


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline
    return lines


def _added_conflicts(
    files: Store,
    added: dict[str, ManifestEntry],
    file_paths: Iterable[str],
    owner: Callable[[str], str],
    is_bin_of: Callable[[str, str], bool],
) -> list[ManifestProblem]:
    """:func:`read_manifests`' duplicates and :func:`conflicts` for the new lines only."""
    problems = []
    naming: dict[str, list[tuple[str, int]]] = {}
    for manifest, line, path in _named(files, added):
        naming.setdefault(path.casefold(), []).append((manifest, line))
    folded_files = {p.casefold() for p in file_paths}
    for path, entry in added.items():
        others = [w for w in naming.get(path.casefold(), []) if w != (entry.manifest, entry.line)]
        if others:
            # Attack: one path listed twice with different hashes.
            where = ", ".join(f"{m}:{n}" for m, n in others)
            problems.append(
                ManifestProblem(
                    entry.manifest, entry.line, "manifest-duplicate",
                    f"{path!r} is listed more than once (also as {where})",
                )
            )  # fmt: skip
            continue
        if path.casefold() in folded_files:
            problems.append(
                ManifestProblem(
                    entry.manifest, entry.line, "manifest-duplicate",
                    f"{path!r} is also a file under targets/",
                )
            )  # fmt: skip
            continue
        role = owner(path)
        if role != entry.role and not is_bin_of(role, entry.role):
            # Attack: a manifest adding artifacts under another role's paths.
            problems.append(
                ManifestProblem(
                    entry.manifest, entry.line, "manifest-role",
                    f"{path!r} belongs to {role}, not to {entry.role}",
                )
            )  # fmt: skip
    return problems


def as_written(listed: TargetFile, line: TargetFile) -> bool:
    """True when ``listed`` is a manifest line's entry exactly: length, hashes and custom fields.

    Compared as canonical JSON would compare them (red team: ``1 == True``
    in Python, and an entry dropping one of the line's hashes still matched
    the others): the length with its type, the hashes as equal dicts of
    strings (python-tuf accepts no other), custom fields as canonical JSON,
    built only when there are any (#14: a first event of 100,000 lines).
    """
    if type(listed.length) is not type(line.length) or listed.length != line.length:
        return False
    if listed.hashes != line.hashes:
        return False
    if not listed.unrecognized_fields and not line.unrecognized_fields:
        return True
    try:
        return canonical_dict_bytes(listed.unrecognized_fields) == canonical_dict_bytes(
            line.unrecognized_fields
        )
    except SerializationError:  # no canonical form (a lone surrogate): nothing to compare
        return False


def place_manifest_entries(
    wanted: dict[str, dict[str, TargetFile]],
    entries: Iterable[ManifestEntry],
    owner: Callable[[str], str],
) -> None:
    """Add entries already checked (:func:`add_manifest_artifacts`) to their owners in ``wanted``."""
    for entry in entries:
        wanted.setdefault(owner(entry.path), {})[entry.path] = entry.target


def conflicts(
    manifests: Manifests,
    file_paths: Iterable[str],
    owner: Callable[[str], str],
    is_bin_of: Callable[[str, str], bool],
) -> list[ManifestProblem]:
    """Entries whose path is also a file, or is owned by another role than their manifest's."""
    files = {p.casefold() for p in file_paths}
    problems = []
    bins: dict[tuple[str, str], bool] = {}  # (role, manifest's role): asked once per pair
    for entry in manifests.entries:
        if entry.path.casefold() in files:
            # Attack: two descriptions of one path; signers review one, clients get the other.
            problems.append(
                ManifestProblem(
                    entry.manifest,
                    entry.line,
                    "manifest-duplicate",
                    f"{entry.path!r} is also a file under targets/",
                )
            )
            continue
        role = owner(entry.path)
        pair = (role, entry.role)
        if pair not in bins:
            bins[pair] = role == entry.role or is_bin_of(role, entry.role)
        if not bins[pair]:
            # Attack: a manifest adding artifacts under another role's paths.
            problems.append(
                ManifestProblem(
                    entry.manifest,
                    entry.line,
                    "manifest-role",
                    f"{entry.path!r} belongs to {role}, not to {entry.role}",
                )
            )
    return problems


__all__ = [
    "MANIFEST_DIR",
    "LineChanges",
    "ManifestEntry",
    "ManifestProblem",
    "Manifests",
    "add_manifest_artifacts",
    "as_written",
    "clashes_with_files",
    "conflicts",
    "external_paths",
    "is_manifest_path",
    "line_changes",
    "line_path",
    "listed_in_manifests",
    "manifest_path",
    "parse_line",
    "parse_manifest",
    "place_manifest_entries",
    "read_manifests",
]
