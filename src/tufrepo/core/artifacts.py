"""What a trusted earlier state says about artifacts that did not change since (#14).

Commands judge the diff, not the world: a file under ``targets/`` whose git
blob is the blob it had in a trusted known-good tree keeps the entry that
tree's metadata lists for it, and is not read or hashed again.  Which tree is
trusted is decided by :mod:`tufrepo.ops.artifacts`; the reasoning is in
:class:`KnownArtifacts` and in README's security model.

Not for: git (blob ids come in as plain maps), judging entries (``checks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tuf.api.metadata import TargetFile

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tufrepo.core.repository import TufRepository


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


def known_entries(repo: TufRepository) -> dict[str, TargetFile]:
    """Target path -> entry, from the role owning each path in ``repo`` (a known-good state)."""
    entries: dict[str, TargetFile] = {}
    index = repo.delegation_index()
    for role in index.roles:
        md = repo.read_targets(role)
        listed = md.signed.targets if md is not None else {}
        entries.update((p, t) for p, t in listed.items() if index.owner_of(p) == role)
    return entries


__all__ = ["KnownArtifacts", "known_entries"]
