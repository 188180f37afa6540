"""The delegation tree: which role delegates which, and the keys a role needs.

Functions over a :class:`MetadataReader` (``TufRepository`` is one), walking
``targets`` and its delegations breadth first::

    for parent, child in delegations(repo):     # ("targets", DelegatedRole("releases")), ...
        ...
    targets_roles(repo)                          # ["targets", "releases", ...]
    expected_keys(repo, "root")                  # keyid -> Key, old root's keys too

The walk is safe on hostile metadata: cycles, role names that are not safe
file names and trees deeper than MAX_DELEGATION_DEPTH are not followed (the
checks in :mod:`tufrepo.checks.rules` report them; python-tuf already refuses
to parse a delegation named after a top-level role).  Which keys a delegator
assigns to a role is python-tuf's answer (``get_delegated_role``, ``get_key``).

Not for: reading or parsing files (the reader does), judging the tree's
shape (``checks.rules``), editing delegations (``editing``).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

from tufrepo.core import layout
from tufrepo.core.constants import ROOT, TARGETS, TOP_LEVEL_ROLES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from securesystemslib.signer import Key
    from tuf.api.metadata import DelegatedRole, Metadata, Root, Targets

MAX_DELEGATION_DEPTH = 32


class MetadataReader(Protocol):
    """Where the tree's metadata comes from (``TufRepository`` implements it)."""

    def read_root(self) -> Metadata[Root] | None:
        """The current root, or None."""
        ...

    def read_known_good_root(self) -> Metadata[Root] | None:
        """The known-good root, or None (a new repository)."""
        ...

    def read_targets(self, role: str) -> Metadata[Targets] | None:
        """A targets role's metadata, or None when there is no file."""
        ...

    def exists(self, role: str) -> bool:
        """True when the role has a metadata file."""
        ...


def delegations(reader: MetadataReader) -> Iterator[tuple[str, DelegatedRole]]:
    """Yield (delegator, delegated role) for every delegation, breadth first, in order.

    Roles whose metadata is missing are yielded but not descended; cycles and
    trees deeper than MAX_DELEGATION_DEPTH are cut off (a hostile branch must
    not make us loop).

    Raises:
        MetadataError: a role's metadata cannot be parsed.
    """
    seen: set[str] = {TARGETS}
    queue: deque[tuple[str, int]] = deque([(TARGETS, 0)])
    order: list[tuple[str, DelegatedRole]] = []
    while queue:
        parent, depth = queue.popleft()
        md = reader.read_targets(parent)
        if md is None or md.signed.delegations is None or depth >= MAX_DELEGATION_DEPTH:
            continue
        for child in (md.signed.delegations.roles or {}).values():
            order.append((parent, child))
            if child.name not in seen and layout.is_safe_role_name(child.name):
                seen.add(child.name)
                queue.append((child.name, depth + 1))
    yield from order


def targets_roles(reader: MetadataReader) -> list[str]:
    """``targets`` and every delegated role reachable from it, in tree order."""
    roles = [TARGETS] if reader.exists(TARGETS) else []
    for _, child in delegations(reader):
        if child.name not in roles and layout.is_safe_role_name(child.name):
            roles.append(child.name)
    return roles


def delegator_name(reader: MetadataReader, role: str) -> str | None:
    """The name of the role that delegates ``role`` (root for top-level roles), or None."""
    if role in TOP_LEVEL_ROLES:
        return ROOT
    for parent, child in delegations(reader):
        if child.name == role:
            return parent
    return None


def delegator(reader: MetadataReader, role: str) -> Root | Targets | None:
    """The metadata that delegates ``role`` (root for top-level roles), or None."""
    name = delegator_name(reader, role)
    if name is None:
        return None
    md = reader.read_root() if name == ROOT else reader.read_targets(name)
    return md.signed if md is not None else None


def delegated_keys(delegator: Root | Targets, role: str) -> list[Key]:
    """The keys ``delegator`` assigns to ``role``; empty when it does not delegate ``role``.

    A keyid the delegator lists without its key is left out: no signature
    can count for it.
    """
    try:
        delegated = delegator.get_delegated_role(role)
    except ValueError:
        return []
    keys = []
    for keyid in delegated.keyids:
        try:
            keys.append(delegator.get_key(keyid))
        except ValueError:
            continue
    return keys


def expected_keys(reader: MetadataReader, role: str) -> dict[str, Key]:
    """Keys whose signatures the role needs: for root also the known-good root's."""
    keys: dict[str, Key] = {}
    if role == ROOT:
        kg_root = reader.read_known_good_root()
        if kg_root is not None:
            keys.update({k.keyid: k for k in delegated_keys(kg_root.signed, ROOT)})
    parent = delegator(reader, role)
    if parent is not None:
        keys.update({k.keyid: k for k in delegated_keys(parent, role)})
    return keys


__all__ = [
    "MAX_DELEGATION_DEPTH",
    "MetadataReader",
    "delegated_keys",
    "delegations",
    "delegator",
    "delegator_name",
    "expected_keys",
    "targets_roles",
]
