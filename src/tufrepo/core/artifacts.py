"""What a trusted earlier state says about artifacts that did not change since (#14).

Commands judge the diff, not the world: a file under ``targets/`` whose git
blob is the blob it had in a trusted known-good tree keeps the entry that
tree's metadata lists for it, and is not read or hashed again.  Which tree is
trusted is decided by :mod:`tufrepo.ops.artifacts`; the reasoning is in
:class:`KnownArtifacts` and in README's security model.

Not for: git (blob ids come in as plain maps), judging entries (``checks``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuf.api.metadata import TargetFile

from tufrepo.core.constants import TARGETS_DIR
from tufrepo.errors import RejectedError

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata, Targets

    from tufrepo.core.repository import TufRepository
    from tufrepo.core.store import Store

# Manifests (targets/.manifests/<role>.jsonl, ops.manifest) as target paths.
MANIFEST_DIRNAME = ".manifests"


MAX_TARGET_PATH = 512
# Paths made only of these characters need no Unicode checks (the common case).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._+@~-]+(?:/[A-Za-z0-9._+@~-]+)*")
# Characters with a meaning in a URL that clients do not escape in target paths.
_URL_SPECIAL = frozenset("#?%")


def check_target_path(path: str) -> str:
    """Return ``path`` if it is a safe target path, else refuse it.

    A target path is also a URL path: python-tuf and tuf-js put it into the
    download URL as it is (``base + path``), and only percent-encode what
    URLs cannot hold (spaces, non-ASCII), which every static server decodes
    back.  So ordinary names with spaces or Unicode letters are fine, while
    ``#`` (a fragment), ``?`` (a query) and ``%`` (``dir/%2e%2e/app.json``
    is ``dir/../app.json`` to a URL parser or a server) would make clients
    fetch another file, and whitespace at either end of a segment is trimmed
    or invisible.  Refused here, so that status and open-event reject them
    instead of publish or the clients.

    Raises:
        RejectedError: absolute, ``..``/``.``/empty segments, backslashes,
            control or format characters, not NFC-normalised, or too long:
            each could make the file land outside ``targets/`` or under
            another name; ``#``, ``?``, ``%``, whitespace other than a plain
            space, or a segment starting or ending with whitespace: clients
            would download another URL than the file's.
    """
    if (
        len(path) <= MAX_TARGET_PATH
        and _PLAIN_PATH.fullmatch(path)
        and not any(seg in (".", "..") for seg in path.split("/"))
    ):
        return path
    problem = None
    if not path or len(path) > MAX_TARGET_PATH:
        problem = "is empty or too long"
    elif path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        problem = "is absolute"
    elif "\\" in path:
        problem = "contains a backslash"
    elif any(seg in ("", ".", "..") for seg in path.split("/")):
        problem = "has an empty, '.' or '..' segment"
    elif any(unicodedata.category(c).startswith("C") for c in path):
        problem = "contains control characters"
    elif unicodedata.normalize("NFC", path) != path:
        problem = "is not in Unicode normal form C"
    elif any(c in _URL_SPECIAL for c in path):
        # Attack: dir/%2e%2e/app.json signs one file and serves another.
        problem = "contains '#', '?' or '%', which change the URL clients download"
    elif any(c.isspace() and c != " " for c in path):
        problem = "contains whitespace other than a plain space"
    elif any(seg != seg.strip() for seg in path.split("/")):
        problem = "has a segment that starts or ends with whitespace"
    if problem:
        raise RejectedError(
            f"target path {path!r} {problem}",
            hint="use a relative path below targets/ such as app/releases/v1.0.json",
        )
    return path


def is_artifact_path(target_path: str) -> bool:
    """False for dotfiles and files in dot-directories, which are not artifacts (DESIGN §3)."""
    return not any(part.startswith(".") for part in target_path.split("/"))


@dataclass(frozen=True)
class KnownArtifacts:
    """What a trusted known-good state says about the files that did not change since.

    Security (#14): an entry is reused only for a file whose git blob now is
    the blob it had in the known-good tree, and the entry comes from that
    tree's metadata (the role owning the path there), never from the tree
    under judgement.  Git blob ids are content hashes (SHA-1 with collision
    detection), so an unchanged blob is unchanged content.  That entry
    describes the blob only if known good was itself judged against its files:

    * signing events: known good is the merge-base with main, a state of main,
      which main's own judgement (online-sign, publish, verify) covers; the
      event is judged on what it changes, and a file it does not change keeps
      the entry that main already vouches for;
    * main: only the commit its online-signed snapshot names as checked in
      full (``ops.artifacts.verified_commit``, under the online key's
      signature).  Anyone who can push to main can make a commit of their
      own *look* like the state online-sign judged (a re-serialised or
      re-signed copy of the signed timestamp committed after swapping an
      artifact's bytes), so no state inferred from main's history vouches
      for its files (red-team finding, #14).

    Args:
        current: target path -> blob id, for files known to hold exactly that blob now.
        known_good: target path -> blob id in the known-good tree.
        entries: target path -> the entry the known-good metadata lists for it.
    """

    current: Mapping[str, str]
    known_good: Mapping[str, str]
    entries: Mapping[str, TargetFile] = field(default_factory=dict)

    def entry(self, target_path: str) -> TargetFile | None:
        """The known-good entry for an unchanged file (length and hashes only), or None."""
        blob = self.current.get(target_path)
        if blob is None or self.known_good.get(target_path) != blob:
            return None
        known = self.entries.get(target_path)
        if known is None or "sha256" not in known.hashes:
            return None
        return TargetFile(known.length, dict(known.hashes), target_path)


class KnownEntries(Mapping[str, TargetFile]):
    """Target path -> entry, from the role owning the path in a known-good state.

    Looked up path by path (#14): only the roles owning the paths asked for
    are read, so one changed artifact among a million reads one hash bin.
    """

    def __init__(self, repo: TufRepository) -> None:
        self._repo = repo

    def __getitem__(self, target_path: str) -> TargetFile:
        role = self._repo.owner_of(target_path)
        md = self._repo.read_targets(role)
        if md is None:
            raise KeyError(target_path)
        return md.signed.targets[target_path]

    def __iter__(self) -> Iterator[str]:
        index = self._repo.delegation_index()
        for role in index.roles:
            md = self._repo.read_targets(role)
            listed = md.signed.targets if md is not None else {}
            yield from (p for p in listed if index.owner_of(p) == role)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def known_entries(repo: TufRepository) -> Mapping[str, TargetFile]:
    """Target path -> entry, from the role owning each path in ``repo`` (a known-good state)."""
    return KnownEntries(repo)


@dataclass(frozen=True)
class ArtifactDelta:
    """What a state changed in artifacts since a known good judged in full (#14).

    Attributes:
        paths: artifact paths whose file (or manifest line) was added,
            changed or removed.
        roles: the targets roles to judge (or rebuild) entry by entry, in
            tree order: every role whose file changed, and the owner of every
            changed path.  Every other role is byte-identical to known good's,
            under the same delegations, and owns only unchanged files and
            manifest lines: what known good's judgement found of it still holds.
        manifests: manifests that changed (target paths under ``.manifests/``):
            their changed lines are in ``paths`` only once a caller has read
            them (``ops.targets.change_since_judged``).
    """

    paths: frozenset[str]
    roles: list[str]
    manifests: frozenset[str] = frozenset()

    def base_entries(self, repo: TufRepository, role: str) -> dict[str, TargetFile]:
        """Known good's entries of ``role`` for the paths it owns, less the changed paths.

        With the same delegations and the same manifests, this is exactly
        what the role should list for its unchanged files and manifest lines.
        """
        md = repo.read_known_good_targets(role)
        if md is None:
            return {}
        index = repo.delegation_index()
        return {
            p: t
            for p, t in md.signed.targets.items()
            if p not in self.paths and index.owner_of(p) == role
        }


def artifact_delta(
    repo: TufRepository, files: Store, known: KnownArtifacts | None
) -> ArtifactDelta | None:
    """The artifacts and roles a state changed since its known good, or None: judge everything.

    None unless known good was judged in full (``repo.known_good_judged``)
    and every targets role keeps known good's delegations (ownership of every
    path is then known good's).  A file counts as unchanged only when
    ``known`` shows its blob is known good's; every other file under
    targets/ is a change.  Changed manifests are named, not read.
    """
    if known is None or not repo.known_good_judged or repo.known_good is None:
        return None
    prefix = f"{TARGETS_DIR}/"
    present: set[str] = set()
    changed: set[str] = set()
    for entry in files.walk(TARGETS_DIR):
        path = entry.path[len(prefix) :]
        present.add(path)
        blob = known.current.get(path)
        if blob is None or blob != known.known_good.get(path):
            if entry.kind != "file" and is_artifact_path(path):
                return None  # a symlink or special file: refused by the whole judgement
            changed.add(path)
    changed.update(p for p in known.known_good if p not in present)
    manifests = frozenset(p for p in changed if p.startswith(f"{MANIFEST_DIRNAME}/"))
    for role in repo.targets_roles():
        if repo.unchanged_since_judged(role):
            continue
        md, kg = repo.read_targets(role), repo.read_known_good_targets(role)
        if md is None or kg is None or _delegations(md) != _delegations(kg):
            return None  # a new, removed or re-delegating role moves paths between roles
    return with_paths(repo, frozenset(p for p in changed if is_artifact_path(p)), manifests)


def with_paths(
    repo: TufRepository, paths: frozenset[str], manifests: frozenset[str] = frozenset()
) -> ArtifactDelta:
    """The delta of ``paths``: their owners and every changed role are judged."""
    owners = {repo.owner_of(p) for p in paths}
    roles = [r for r in repo.targets_roles() if r in owners or not repo.unchanged_since_judged(r)]
    return ArtifactDelta(paths, roles, manifests)


def _delegations(md: Metadata[Targets]) -> dict[str, Any] | None:
    delegations = md.signed.delegations
    return delegations.to_dict() if delegations is not None else None


__all__ = [
    "MAX_TARGET_PATH",
    "ArtifactDelta",
    "KnownArtifacts",
    "KnownEntries",
    "artifact_delta",
    "check_target_path",
    "is_artifact_path",
    "known_entries",
    "with_paths",
]
