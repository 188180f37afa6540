"""Which artifacts changed since a trusted state, from git's blob ids (#14).

Commands judge the diff, not the world: an artifact whose git blob is the
one a trusted known-good tree has keeps the entry that tree's metadata lists
for it, and only changed files are read and hashed.  This module finds the
trusted tree and the blob ids; :class:`tufrepo.ops.targets.KnownArtifacts`
says why each choice is safe.

* a signing event: its known good (the merge-base with main);
* main: nothing; main is read and hashed in full (see KnownArtifacts: no
  earlier state of main can be told apart from one its pushers forged).

Nothing here is written by, or read from, the tree under judgement except its
files' git blob ids, which are content hashes.

Not for: judging (``checks``), rebuilding entries (``targets``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from tufrepo.core.artifacts import KnownArtifacts, known_entries
from tufrepo.core.constants import TARGETS_DIR

if TYPE_CHECKING:
    from tufrepo.core.repository import TufRepository
    from tufrepo.core.store import OverlayStore
    from tufrepo.gitrepo import GitRepo

_PREFIX = f"{TARGETS_DIR}/"


class _Unchanged(Mapping[str, str]):
    """Target path -> blob id of a git tree, minus what an overlay has changed since.

    Looked up when artifacts are scanned, so files staged into the overlay
    after the session opened (open-event) are read, never taken as unchanged.
    """

    def __init__(self, blobs: dict[str, str], overlay: OverlayStore | None) -> None:
        self._blobs = blobs
        self._overlay = overlay

    def __getitem__(self, target_path: str) -> str:
        if self._overlay is not None and f"{_PREFIX}{target_path}" in self._overlay.changes:
            raise KeyError(target_path)
        return self._blobs[target_path]

    def __iter__(self) -> Iterator[str]:
        return iter(k for k in self._blobs if k in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _target_blobs(blobs: dict[str, str]) -> dict[str, str]:
    return {p[len(_PREFIX) :]: sha for p, sha in blobs.items() if p.startswith(_PREFIX)}


def _known(
    git: GitRepo, base: str, base_repo: TufRepository, current: Mapping[str, str]
) -> KnownArtifacts:
    return KnownArtifacts(
        current=current,
        known_good=_target_blobs(git.list_files(base, TARGETS_DIR)),
        entries=known_entries(base_repo),
    )


def for_event(
    git: GitRepo,
    known_good: str | None,
    known_good_repo: TufRepository | None,
    *,
    rev: str | None = None,
    overlay: OverlayStore | None = None,
) -> KnownArtifacts | None:
    """Known good's entries for an event's unchanged files (None: a new repository).

    Args:
        git: the checkout.
        known_good: the event's known-good commit (merge-base with main).
        known_good_repo: the known-good metadata (the same commit).
        rev: the event's commit when its files are read from git; None for
            the work tree (files it changed are left out and read).
        overlay: edits on top of ``rev`` not yet committed (read, never reused).
    """
    if known_good is None or known_good_repo is None:
        return None
    blobs = git.list_files(rev, TARGETS_DIR) if rev else git.worktree_blobs(TARGETS_DIR)
    return _known(git, known_good, known_good_repo, _Unchanged(_target_blobs(blobs), overlay))


__all__ = ["for_event"]
