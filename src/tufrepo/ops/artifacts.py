"""Which artifacts changed since a trusted state, from git's blob ids (#14).

Commands judge the diff, not the world: an artifact whose git blob is the
one a trusted known-good tree has keeps the entry that tree's metadata lists
for it, and only changed files are read and hashed.  This module finds the
trusted tree and the blob ids; :class:`tufrepo.ops.targets.KnownArtifacts`
says why each choice is safe.

* a signing event: its known good (the merge-base with main);
* main: the commit that main's current snapshot, signed by the online key,
  names as verified (:func:`for_main`); never a state inferred from main's
  history, which anyone who can push to main can forge.

Nothing here is written by, or read from, the tree under judgement except its
files' git blob ids, which are content hashes.

Not for: judging (``checks``), rebuilding entries (``targets``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from tuf.api.exceptions import UnsignedMetadataError

from tufrepo.core.artifacts import KnownArtifacts, known_entries
from tufrepo.core.constants import SNAPSHOT, TARGETS_DIR, VERIFIED_COMMIT
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import OverlayStore
from tufrepo.gitrepo import GitTreeStore

if TYPE_CHECKING:
    from datetime import datetime

    from tuf.api.metadata import Root

    from tufrepo.core.parsing import ParseCache
    from tufrepo.gitrepo import GitRepo

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")

_PREFIX = f"{TARGETS_DIR}/"


class _Unchanged(Mapping[str, str]):
    """Target path -> blob id of a git tree, minus what an overlay has changed since.

    Looked up when artifacts are scanned, so files staged into the overlay
    after the session opened (open-event) are read, never taken as unchanged.
    """

    def __init__(self, blobs: dict[str, str], overlay: OverlayStore | None) -> None:
        self.blobs = blobs
        self._overlay = overlay

    def __getitem__(self, target_path: str) -> str:
        if self._overlay is not None and f"{_PREFIX}{target_path}" in self._overlay.changes:
            raise KeyError(target_path)
        return self.blobs[target_path]

    def __iter__(self) -> Iterator[str]:
        return iter(k for k in self.blobs if k in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def after_metadata_commit(
    known: KnownArtifacts | None, overlay: OverlayStore
) -> KnownArtifacts | None:
    """``known`` for the event's next tip, when the commit between changed only metadata.

    Every artifact's blob is what it was, so what known good says of the
    unchanged ones still holds (#14: repo-sign does not compute it twice);
    files staged into the new tip's ``overlay`` are still read.  None when
    ``known`` is not an event's (:func:`for_event`).
    """
    if known is None or not isinstance(known.current, _Unchanged):
        return None
    return KnownArtifacts(
        current=_Unchanged(known.current.blobs, overlay),
        known_good=known.known_good,
        entries=known.entries,
    )


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


def verified_commit(git: GitRepo, head: TufRepository, trusted_root: Root | None) -> str | None:
    """The commit main's snapshot vouches for, when the online key really signed that.

    Main's snapshot names, in its signed part, the commit online-sign judged
    in full before signing it (:data:`~tufrepo.core.constants.VERIFIED_COMMIT`).
    That statement is taken only when the snapshot's signature verifies with
    the online key of ``trusted_root`` (a root of main's judged history, not
    the work tree's) and the commit exists.  The statement is about
    content-addressed objects, so a replayed older snapshot only names an
    older verified commit: still true.

    Attack: whoever can push to main, without the online key, cannot name a
    commit of their own (the signature would not verify), and a commit that
    merely looks online-signed vouches for nothing (#14 red team).

    Args:
        git: the checkout.
        head: main's metadata in the work tree.
        trusted_root: root of main's last judged online-signed state, or None
            (then nothing is vouched for).
    """
    snapshot = head.read_snapshot() if trusted_root is not None else None
    if trusted_root is None or snapshot is None:
        return None
    commit = snapshot.signed.unrecognized_fields.get(VERIFIED_COMMIT)
    if not isinstance(commit, str) or not _SHA.fullmatch(commit):
        return None
    try:
        trusted_root.verify_delegate(
            SNAPSHOT, head.signed_bytes(SNAPSHOT) or b"", snapshot.signatures
        )
    except UnsignedMetadataError:
        return None
    if git.rev(commit) != commit:  # the commit exists (rev peels to a commit)
        return None
    return commit


def for_main(
    git: GitRepo, commit: str | None, *, now: datetime, parsed: ParseCache | None = None
) -> KnownArtifacts | None:
    """Entries for main's files unchanged since ``commit``, or None.

    A file whose blob is the one it had in the :func:`verified_commit` keeps
    that commit's entry and is not read again.

    Args:
        git: the checkout; its work tree is what is judged.
        commit: the commit main's snapshot vouches for (:func:`verified_commit`),
            or None (then every file is read).
        now: the time of the judgement.
        parsed: the run's parsed metadata (the commit's roles are mostly main's).
    """
    if commit is None:
        return None
    base = TufRepository(OverlayStore(GitTreeStore(git, commit)), now=now, parsed=parsed)
    current = _Unchanged(_target_blobs(git.worktree_blobs(TARGETS_DIR)), None)
    return _known(git, commit, base, current)


__all__ = ["after_metadata_commit", "for_event", "for_main", "verified_commit"]
