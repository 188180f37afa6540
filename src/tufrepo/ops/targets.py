"""Artifacts under ``targets/`` and the targets metadata that lists them.

Ownership (DESIGN §3): a file belongs to the delegated role whose ``paths``
match its target path (first match in delegation order, following nested
delegations); a file no delegation matches belongs to the top-level
``targets`` role, at any depth.  Dotfiles and dot-directories (``.gitkeep``,
``.gitattributes``) are not artifacts, as in tuf-on-ci.

Not for: git, signing, deciding when to run (commands do that).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuf.api.metadata import TargetFile, Targets

from tufrepo.core.constants import TARGETS, TARGETS_DIR
from tufrepo.core.delegations import MAX_DELEGATION_DEPTH
from tufrepo.errors import RejectedError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tufrepo.core.repository import TufRepository
    from tufrepo.core.store import Store


@dataclass(frozen=True)
class Artifact:
    """A file under targets/: its target path and metadata entry."""

    path: str
    target: TargetFile


def owner_of(repo: TufRepository, target_path: str) -> str:
    """The role that owns ``target_path`` under DESIGN §3's rule."""
    role = TARGETS
    for _ in range(MAX_DELEGATION_DEPTH):
        md = repo.read(role)
        if md is None or not isinstance(md.signed, Targets) or md.signed.delegations is None:
            return role
        roles = md.signed.delegations.roles or {}
        match = next((c for c in roles.values() if c.is_delegated_path(target_path)), None)
        if match is None:
            return role
        role = match.name
    return role


def is_artifact_path(target_path: str) -> bool:
    """False for dotfiles and files in dot-directories, which are not artifacts (DESIGN §3)."""
    return not any(part.startswith(".") for part in target_path.split("/"))


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


def scan_artifacts(files: Store) -> list[Artifact]:
    """Hash every file under targets/.

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
        data = files.read(entry.path)
        if data is None:
            raise RejectedError(f"{entry.path} could not be read")
        artifacts.append(
            Artifact(target_path, TargetFile.from_data(target_path, data, ["sha256"]))
        )
    return artifacts


def desired_targets(repo: TufRepository, files: Store) -> dict[str, dict[str, TargetFile]]:
    """Role -> the target entries its files call for (every reachable role present)."""
    wanted: dict[str, dict[str, TargetFile]] = {role: {} for role in repo.targets_roles()}
    wanted.setdefault(TARGETS, {})
    for artifact in scan_artifacts(files):
        wanted.setdefault(owner_of(repo, artifact.path), {})[artifact.path] = artifact.target
    return wanted


def update_targets(repo: TufRepository, files: Store) -> list[str]:
    """Rebuild each targets role's entries from the files; return the roles changed.

    Custom fields of entries whose path still exists are kept.  Changed roles
    are closed under signing-event rules (known-good version + 1, new expiry,
    placeholder signatures).
    """
    changed = []
    for role, entries in desired_targets(repo, files).items():
        current = repo.read_targets(role)
        old = current.signed.targets if current is not None else {}
        for path, entry in list(entries.items()):
            if path in old and entry_matches(old[path], entry, _reader(files, path)) is None:
                entries[path] = old[path]  # unchanged: kept as it is (other hashes, fields)
            elif path in old:
                entry.unrecognized_fields.update(old[path].unrecognized_fields)
        if current is not None and {p: t.to_dict() for p, t in old.items()} == {
            p: t.to_dict() for p, t in entries.items()
        }:
            continue
        if current is None and not entries:
            continue
        with repo.edit_targets(role) as targets:
            targets.targets = entries
        changed.append(role)
    return changed


def _reader(files: Store, target_path: str) -> Callable[[], bytes]:
    return lambda: files.read(f"{TARGETS_DIR}/{target_path}") or b""
