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

import fnmatch
import hashlib
import re
from collections import deque
from collections.abc import Callable
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

    def delegation_index(self) -> DelegationIndex:
        """The tree's index (:func:`build_index`), kept while the tree does not change."""
        ...

    def unchanged_since_judged(self, role: str) -> bool:
        """True when the role's file is byte-identical to a state judged in full."""
        ...


def _known_leaf(reader: MetadataReader, parent: str, child: DelegatedRole) -> bool:
    """True for a hash bin known to delegate nothing without reading its file (#14).

    The bin and its delegator are byte-identical to a state judged in full,
    where the delegator delegated to it as a bin and ``checks.bins`` refused
    a bin with delegations of its own: so the bin has none, and its (large)
    file is not parsed to walk the tree or to find a path's owner.
    """
    return (
        child.path_hash_prefixes is not None
        and reader.unchanged_since_judged(child.name)
        and reader.unchanged_since_judged(parent)
    )


_GLOB = frozenset("*?[")


class _Matcher:
    """First matching child of one delegator for a target path, by index, not by scanning.

    tuf's path patterns match segment by segment with the same number of
    segments, so a pattern whose first segment has no wildcard can only match
    paths starting with that segment: children are indexed by it, and only
    the candidates for a path's first segment (plus the children with a
    wildcard first segment) are tried, in delegation order; hash bins are
    indexed by prefix, the path hashed once.
    """

    def __init__(self, children: list[DelegatedRole]) -> None:
        self._by_first: dict[str, list[int]] = {}
        self._by_prefix: dict[str, list[int]] = {}  # hash bins: the path's hash prefix
        self._always: list[int] = []
        self._children = children
        # per child: its path patterns compiled (None: ask python-tuf)
        self._patterns: list[list[list[_Segment]] | None] = []
        for i, child in enumerate(children):
            prefixes = child.path_hash_prefixes
            paths = child.paths if prefixes is None else None
            self._patterns.append(_compile(paths))
            if isinstance(prefixes, list) and all(isinstance(x, str) for x in prefixes):
                for prefix in set(prefixes):
                    self._by_prefix.setdefault(prefix, []).append(i)
                continue
            if paths is None or not isinstance(paths, list):
                self._always.append(i)
                continue
            firsts = {p.split("/", 1)[0] if isinstance(p, str) else "*" for p in paths}
            if any(_GLOB & set(first) for first in firsts):
                self._always.append(i)
                continue
            for first in firsts:
                self._by_first.setdefault(first, []).append(i)
        self._lengths = sorted({len(prefix) for prefix in self._by_prefix})

    def first_match(self, target_path: str) -> DelegatedRole | None:
        candidates = self._by_first.get(target_path.split("/", 1)[0], [])
        if self._by_prefix:
            # the spec's rule: sha256 of the path, computed once rather than per bin
            digest = hashlib.sha256(target_path.encode("utf-8")).hexdigest()
            binned = [i for n in self._lengths for i in self._by_prefix.get(digest[:n], [])]
            candidates = sorted({*candidates, *binned})
            if not self._by_first and not self._always:
                # only bins: a bin indexed by the path's own prefix matches
                return self._children[candidates[0]] if candidates else None
        if self._always:
            candidates = sorted({*candidates, *self._always})
        parts = target_path.split("/")
        for i in candidates:
            patterns = self._patterns[i]
            if patterns is None:
                matched = self._children[i].is_delegated_path(target_path)
            else:
                matched = any(_matches(parts, pattern) for pattern in patterns)
            if matched:
                return self._children[i]
        return None


# One segment of a path pattern: a literal, None for "*" (any segment), or a
# compiled fnmatch pattern's match method.
_Segment = str | None | Callable[[str], object]


def _compile(paths: object) -> list[list[_Segment]] | None:
    """``paths`` compiled for :func:`_matches`; None when python-tuf must decide.

    The same rule as python-tuf's ``DelegatedRole._is_target_in_pathpattern``:
    as many segments as the pattern, each matching with ``fnmatch.fnmatchcase``
    (whose compiled form, ``re.compile(fnmatch.translate(p)).match``, is used
    here once per pattern instead of once per call).
    """
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return None
    compiled: list[list[_Segment]] = []
    for pattern in paths:
        segments: list[_Segment] = []
        for part in pattern.split("/"):
            if part == "*":
                segments.append(None)
            elif _GLOB & set(part):
                segments.append(re.compile(fnmatch.translate(part)).match)
            else:
                segments.append(part)
        compiled.append(segments)
    return compiled


def _matches(parts: list[str], pattern: list[_Segment]) -> bool:
    if len(parts) != len(pattern):
        return False
    for part, segment in zip(parts, pattern, strict=True):
        if segment is None:
            continue
        if isinstance(segment, str):
            if part != segment:
                return False
        elif segment(part) is None:
            return False
    return True


def delegated_path_test(role: DelegatedRole) -> Callable[[str], bool]:
    """``role.is_delegated_path``, with its patterns compiled or its prefixes indexed once.

    The same rule as python-tuf's (see :func:`_compile`; a hash bin selects a
    path whose sha256 hex digest starts with one of its prefixes), for
    checks that test every entry of a role (#14: 100,000 entries in bins).
    Anything unusual (prefixes or paths that are not lists of strings) is
    left to python-tuf.
    """
    prefixes = role.path_hash_prefixes
    if prefixes is not None:
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            return role.is_delegated_path
        wanted = frozenset(prefixes)
        lengths = sorted({len(p) for p in wanted})

        def in_bin(path: str) -> bool:
            digest = hashlib.sha256(path.encode("utf-8")).hexdigest()
            return any(digest[:n] in wanted for n in lengths)

        return in_bin
    patterns = _compile(role.paths)
    if patterns is None:
        return role.is_delegated_path

    def in_paths(path: str) -> bool:
        parts = path.split("/")
        return any(_matches(parts, pattern) for pattern in patterns)

    return in_paths


_OWNERS: dict[tuple[tuple[str, str, str, str, bool], ...], dict[str, str]] = {}
_OWNERS_KEPT = 4


class DelegationIndex:
    """The delegation tree walked once: its order, its roles, each role's delegator.

    Lookups are dictionary reads (#14: a tree of thousands of roles was walked
    once per lookup, which made ``status`` super-quadratic).
    """

    def __init__(self, reader: MetadataReader) -> None:
        self.order = _walk(reader)
        self.roles = [TARGETS] if reader.exists(TARGETS) else []
        listed = set(self.roles)
        self.parent: dict[str, str] = {}
        for parent, child in self.order:
            self.parent.setdefault(child.name, parent)
            if child.name not in listed and layout.is_safe_role_name(child.name):
                listed.add(child.name)
                self.roles.append(child.name)
        self._reader = reader
        leaves = {child.name for parent, child in self.order if _known_leaf(reader, parent, child)}
        self._matchers: dict[str, _Matcher | None] = dict.fromkeys(leaves)
        # Which role owns a path depends only on the delegations walked: an
        # event and its known good (or two states of main) with the same
        # delegations share their answers (#14).  Keyed by that content, so
        # no tree can make another tree's answer its own.
        shape = tuple(
            (
                parent,
                child.name,
                repr(child.paths),
                repr(child.path_hash_prefixes),
                child.name in leaves,
            )
            for parent, child in self.order
        )
        owners = _OWNERS.pop(shape, None)
        self._owners: dict[str, str] = {} if owners is None else owners
        _OWNERS[shape] = self._owners  # most recent last
        while len(_OWNERS) > _OWNERS_KEPT:
            _OWNERS.pop(next(iter(_OWNERS)))

    def owner_of(self, target_path: str) -> str:
        """The role that owns ``target_path``: first matching delegation, nested, else targets."""
        owner = self._owners.get(target_path)
        if owner is None:
            owner = self._owners[target_path] = self._find_owner(target_path)
        return owner

    def _find_owner(self, target_path: str) -> str:
        role = TARGETS
        for _ in range(MAX_DELEGATION_DEPTH):
            if role not in self._matchers:
                md = self._reader.read_targets(role)
                delegated = md.signed.delegations if md is not None else None
                children = list((delegated.roles or {}).values()) if delegated else []
                self._matchers[role] = _Matcher(children) if children else None
            matcher = self._matchers[role]
            match = matcher.first_match(target_path) if matcher is not None else None
            if match is None:
                return role
            role = match.name
        return role


def build_index(reader: MetadataReader) -> DelegationIndex:
    """Walk the tree once (see :class:`DelegationIndex`)."""
    return DelegationIndex(reader)


def delegations(reader: MetadataReader) -> Iterator[tuple[str, DelegatedRole]]:
    """Yield (delegator, delegated role) for every delegation, breadth first, in order.

    Roles whose metadata is missing are yielded but not descended; cycles and
    trees deeper than MAX_DELEGATION_DEPTH are cut off (a hostile branch must
    not make us loop).

    Raises:
        MetadataError: a role's metadata cannot be parsed.
    """
    yield from reader.delegation_index().order


def _walk(reader: MetadataReader) -> list[tuple[str, DelegatedRole]]:
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
                if not _known_leaf(reader, parent, child):
                    queue.append((child.name, depth + 1))
    return order


def targets_roles(reader: MetadataReader) -> list[str]:
    """``targets`` and every delegated role reachable from it, in tree order."""
    return list(reader.delegation_index().roles)


def delegator_name(reader: MetadataReader, role: str) -> str | None:
    """The name of the role that delegates ``role`` (root for top-level roles), or None."""
    if role in TOP_LEVEL_ROLES:
        return ROOT
    return reader.delegation_index().parent.get(role)


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
    "DelegationIndex",
    "MetadataReader",
    "build_index",
    "delegated_keys",
    "delegated_path_test",
    "delegations",
    "delegator",
    "delegator_name",
    "expected_keys",
    "targets_roles",
]
