"""Artifacts under ``targets/`` and the targets metadata that lists them.

Ownership (DESIGN §3): a file belongs to the delegated role whose ``paths``
match its target path (first match in delegation order, following nested
delegations); a file no delegation matches belongs to the top-level
``targets`` role, at any depth.  Dotfiles and dot-directories (``.gitkeep``,
``.gitattributes``) are not artifacts, as in tuf-on-ci.

Only what changed is read (#14): a file whose git blob is the same as in a
*trusted* known-good tree keeps the entry known good lists for it, which
was checked against that very blob when known good was judged.  Which tree is
trusted is the caller's decision (:class:`tufrepo.core.artifacts.KnownArtifacts`);
the reasoning is in its docstring and in README's security model.

Not for: git, signing, deciding when to run (commands do that).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuf.api.metadata import TargetFile

from tufrepo import progress
from tufrepo.core.artifacts import artifact_delta, check_target_path, is_artifact_path, with_paths
from tufrepo.core.constants import TARGETS, TARGETS_DIR
from tufrepo.core.sizes import require_within_budget
from tufrepo.errors import RejectedError
from tufrepo.ops.bins import is_bin_of
from tufrepo.ops.manifest import (
    LineChanges,
    Manifests,
    add_manifest_artifacts,
    as_written,
    clashes_with_files,
    external_paths,
    line_changes,
    place_manifest_entries,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from collections.abc import Set as AbstractSet

    from tufrepo.core.artifacts import ArtifactDelta, KnownArtifacts
    from tufrepo.core.repository import TufRepository
    from tufrepo.core.store import Store
    from tufrepo.ops.manifest import ManifestEntry


@dataclass(frozen=True)
class Artifact:
    """A file under targets/: its target path and metadata entry."""

    path: str
    target: TargetFile


def owner_of(repo: TufRepository, target_path: str) -> str:
    """The role that owns ``target_path`` under DESIGN §3's rule."""
    return repo.owner_of(target_path)


# Fixed-length digests hashlib knows everywhere (shake_* need a length: no client checks them).
_CHECKABLE = frozenset(a for a in hashlib.algorithms_guaranteed if not a.startswith("shake_"))


def entry_matches(listed: TargetFile, actual: TargetFile, data: Callable[[], bytes]) -> str | None:
    """Why a listed entry does not describe a file, or None when it does.

    Every hash the entry lists is checked (``sha256`` from ``actual``, others
    from the file's bytes); an algorithm hashlib does not know is a mismatch,
    since nobody could check it.
    """
    if listed.length != actual.length:
        return f"length {listed.length} but the file has {actual.length} bytes"
    if not listed.hashes:
        return "no hashes"
    for algorithm, digest in sorted(listed.hashes.items()):
        if algorithm in actual.hashes:
            if actual.hashes[algorithm] != digest:
                return f"a different {algorithm} hash"
            continue
        if algorithm not in _CHECKABLE:
            return f"a hash of unknown algorithm {algorithm!r}"
        if hashlib.new(algorithm, data()).hexdigest() != digest:
            return f"a different {algorithm} hash"
    return None


def fresh_entry(target_path: str, actual: TargetFile) -> TargetFile:
    """The entry update-targets writes for a new or changed file: its length and sha256."""
    return TargetFile(actual.length, {"sha256": actual.hashes["sha256"]}, target_path)


def scan_artifacts(files: Store, known: KnownArtifacts | None = None) -> list[Artifact]:
    """Every file under targets/ with its length and hashes.

    Files ``known`` shows unchanged carry their known-good length and hashes
    without being read; every other file is read and hashed (sha256).

    Raises:
        RejectedError: a symlink or special file is under targets/ (it could
            make us publish a file from outside the repository).
    """
    artifacts = []
    prefix = f"{TARGETS_DIR}/"
    for entry in files.walk(TARGETS_DIR):
        target_path = entry.path[len(prefix) :]
        if not is_artifact_path(target_path):
            continue
        if entry.kind != "file":
            raise RejectedError(
                f"{entry.path} is a {'special file' if entry.kind == 'other' else entry.kind}, not a regular file",
                hint="only regular files may be published as artifacts",
            )
        # Attack: a path clients would fetch from another URL, or one no
        # metadata can hold (a name that is not UTF-8): refused before listing it
        check_target_path(target_path)
        reused = known.entry(target_path) if known is not None else None
        if reused is not None:
            artifacts.append(Artifact(target_path, reused))
            continue
        data = files.read(entry.path)
        if data is None:
            raise RejectedError(f"{entry.path} could not be read")
        digest = hashlib.sha256(data).hexdigest()
        artifacts.append(
            Artifact(target_path, TargetFile(len(data), {"sha256": digest}, target_path))
        )
        progress.advance("hashing artifacts", len(artifacts))
    return artifacts


def read_files(files: Store, paths: Iterable[str]) -> dict[str, TargetFile]:
    """Target path -> length and sha256 of each of ``paths`` that is a file (read and hashed)."""
    found = {}
    for path in sorted(paths):
        data = files.read(f"{TARGETS_DIR}/{path}")
        if data is not None:
            found[path] = TargetFile(len(data), {"sha256": hashlib.sha256(data).hexdigest()}, path)
    return found


def desired_targets(
    repo: TufRepository,
    files: Store,
    known: KnownArtifacts | None = None,
    *,
    manifest_entries: Iterable[ManifestEntry] | None = None,
) -> dict[str, dict[str, TargetFile]]:
    """Role -> what its files are (length and every known hash), every reachable role present.

    An entry here describes a file; update-targets lists only length and
    sha256 of new and changed files (:func:`fresh_entry`).  The manifests'
    entries are read and checked here, unless ``manifest_entries`` holds
    them already checked (``checks.manifest.checked_manifests``).
    """
    wanted: dict[str, dict[str, TargetFile]] = {role: {} for role in repo.targets_roles()}
    wanted.setdefault(TARGETS, {})
    for artifact in scan_artifacts(files, known):
        wanted.setdefault(owner_of(repo, artifact.path), {})[artifact.path] = artifact.target
    # artifacts kept out of git (ops.manifest); each path is placed like a file's
    if manifest_entries is not None:
        place_manifest_entries(wanted, manifest_entries, lambda p: owner_of(repo, p))
    else:
        add_manifest_artifacts(
            files, wanted, lambda p: owner_of(repo, p), lambda r, p: is_bin_of(repo, r, p)
        )
    return wanted


def change_since_judged(
    repo: TufRepository, files: Store, known: KnownArtifacts | None
) -> tuple[ArtifactDelta, LineChanges] | None:
    """What changed since a known good judged in full, files and manifest lines; None: judge all.

    :func:`tufrepo.core.artifacts.artifact_delta`, with the changed lines of
    changed manifests read (:func:`tufrepo.ops.manifest.line_changes`): their
    paths are changed paths too, owned and judged like files.
    """
    delta = artifact_delta(repo, files, known)
    if delta is None or not delta.manifests:
        return None if delta is None else (delta, LineChanges())
    prefix = f"{TARGETS_DIR}/"
    lines = line_changes(
        files,
        repo.known_good or files,
        [f"{prefix}{m}" for m in delta.manifests],
        file_paths=[
            e.path[len(prefix) :]
            for e in files.walk(TARGETS_DIR)
            if is_artifact_path(e.path[len(prefix) :])
        ],
        owner=lambda p: owner_of(repo, p),
        is_bin_of=lambda r, p: is_bin_of(repo, r, p),
    )
    if lines is None:
        return None
    return with_paths(repo, delta.paths | lines.paths, delta.manifests), lines


def update_targets(
    repo: TufRepository, files: Store, known: KnownArtifacts | None = None
) -> list[str]:
    """Rebuild each targets role's entries from the files; return the roles changed.

    Custom fields of entries whose path still exists are kept.  Changed roles
    are closed under signing-event rules (known-good version + 1, new expiry,
    placeholder signatures).  With ``known``, files unchanged since a trusted
    known good are not read (see :class:`KnownArtifacts`); when that known
    good was judged in full, only the roles owning a changed file are
    rebuilt (:func:`tufrepo.core.artifacts.artifact_delta`).
    """
    change = change_since_judged(repo, files, known)
    if change is not None:
        return _update_changed(repo, files, known, *change)
    changed = []
    external = external_paths(files)  # manifest entries are taken as written
    for role, entries in desired_targets(repo, files, known).items():
        if _rewrite(repo, files, role, entries, external):
            changed.append(role)
    return changed


def _update_changed(
    repo: TufRepository,
    files: Store,
    known: KnownArtifacts | None,
    delta: ArtifactDelta,
    lines: LineChanges,
) -> list[str]:
    """:func:`update_targets` for the roles a change since a judged known good touches (#14)."""
    kg_files = known.known_good if known is not None else {}
    actual = read_files(files, delta.paths)
    for path in actual:
        check_target_path(path)  # as scan_artifacts: before listing it
    Manifests([], lines.problems + clashes_with_files(files, actual)).require_valid()
    changed = []
    for role in delta.roles:
        entries, external = manifest_side(repo, role, delta, lines, kg_files)
        entries.update((p, t) for p, t in actual.items() if owner_of(repo, p) == role)
        if _rewrite(repo, files, role, entries, external):
            changed.append(role)
    return changed


def manifest_side(
    repo: TufRepository,
    role: str,
    delta: ArtifactDelta,
    lines: LineChanges,
    kg_files: Mapping[str, str],
) -> tuple[dict[str, TargetFile], set[str]]:
    """What ``role`` lists, after a change since a judged known good, but for changed files.

    Known good's entries for its unchanged paths and the new manifest lines
    it owns; and which of them are manifest lines (taken as written): the
    paths that were no file in known good's tree (``kg_files``), and the new
    lines.  The changed files it owns come on top (:func:`read_files`).
    """
    entries = delta.base_entries(repo, role)
    external = {p for p in entries if p not in kg_files}
    for path, line in lines.added.items():
        if owner_of(repo, path) == role:
            entries[path] = line.target
            external.add(path)
    return entries, external


def _rewrite(
    repo: TufRepository,
    files: Store,
    role: str,
    entries: dict[str, TargetFile],
    external: AbstractSet[str],
) -> bool:
    """Write ``role`` with ``entries`` unless it lists them already; True when written.

    ``entries`` describe the files (length and hashes) and the manifests'
    lines (``external``, taken as written); a file's entry listed already
    is kept as it is (other hashes, custom fields).
    """
    current = repo.read_targets(role)
    old = current.signed.targets if current is not None else {}
    # unchanged: every entry kept as listed and none removed (#14: no to_dict of every entry)
    same = current is not None and len(old) == len(entries)
    for path, entry in list(entries.items()):
        if path in external:
            same = same and path in old and as_written(old[path], entry)
            continue
        if path in old and entry_matches(old[path], entry, _reader(files, path)) is None:
            entries[path] = old[path]  # unchanged: kept as it is (other hashes, fields)
            continue
        same = False
        entries[path] = fresh = fresh_entry(path, entry)
        if path in old:
            fresh.unrecognized_fields.update(old[path].unrecognized_fields)
    if same or (current is None and not entries):
        return False
    with repo.edit_targets(role) as targets:
        targets.targets = entries
    require_within_budget(repo, role)  # never commit what clients (or we) cannot read
    return True


def _reader(files: Store, target_path: str) -> Callable[[], bytes]:
    return lambda: files.read(f"{TARGETS_DIR}/{target_path}") or b""
