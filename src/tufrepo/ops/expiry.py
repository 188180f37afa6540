"""Offline roles entering their signing period, and the events that renew them.

:func:`expiring_roles` lists root, targets and delegated roles whose expiry is
within their signing period at ``now``.  :func:`bump_expiring` is the job
behind ``tufrepo bump-expiring``: it writes a new, unsigned version of every
such role (same payload, new version and expiry, see
:meth:`TufRepository.bump`) on one signing event, so their signers sign once,
and creates or pushes that event's branch::

    result = bump_expiring(git, "origin", now, push=True)
    result.events    # ["sign/root-v3-targets-v5"], or [] when nothing is due

Roles whose next version is already on an open ``sign/*`` branch are left
alone, so scheduled runs are idempotent; an open branch whose metadata does
not parse covers nothing and is reported in :attr:`BumpResult.ignored`.

Not for: printing (the command renders the result).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tufrepo.core.constants import EVENT_BRANCH_PREFIX, MAIN_BRANCH, ROOT
from tufrepo.core.layout import role_path
from tufrepo.core.parsing import parse_metadata, role_type
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import OverlayStore
from tufrepo.errors import GitStateError, MetadataError
from tufrepo.gitrepo import GitTreeStore
from tufrepo.ops.online import in_signing_period

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from tufrepo.core.store import Store
    from tufrepo.gitrepo import GitRepo

# Event names longer than this are replaced by a short name with a digest: a
# branch name is one file name under .git/refs/heads/sign/ (255 bytes at most
# on common file systems), and 22 roles named in full do not fit.
MAX_READABLE_EVENT_NAME = 100


def expiring_roles(repo: TufRepository, now: datetime) -> list[str]:
    """Offline roles (root, targets, delegated) inside their signing period."""
    roles = [ROOT, *repo.targets_roles()]
    return [role for role in roles if repo.exists(role) and in_signing_period(repo, role, now)]


def event_name(versions: dict[str, int]) -> str:
    """The periodic event for roles' next versions: ``sign/root-v3`` or ``sign/root-v3-targets-v5``.

    All roles that enter their signing period in one run share one event, so
    their signers sign once (tuf-on-ci #230).  When that name is longer than
    MAX_READABLE_EVENT_NAME it becomes ``sign/expiring-<n>-roles-<digest>``,
    the digest being the first 12 hex digits of the SHA-256 of the full name:
    the same roles and versions always give the same name.
    """
    full = EVENT_BRANCH_PREFIX + "-".join(
        f"{role}-v{version}" for role, version in versions.items()
    )
    if len(full) <= MAX_READABLE_EVENT_NAME:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:12]
    return f"{EVENT_BRANCH_PREFIX}expiring-{len(versions)}-roles-{digest}"


@dataclass(frozen=True)
class IgnoredEvent:
    """An open signing event whose metadata does not parse: it covers no role."""

    branch: str
    reason: str


@dataclass(frozen=True)
class OpenEvents:
    """What the open signing events already cover."""

    covered: set[str] = field(default_factory=set)
    ignored: list[IgnoredEvent] = field(default_factory=list)


def already_open(stores: Mapping[str, Store], versions: dict[str, int]) -> OpenEvents:
    """Roles whose next version is already on some open event (``stores``: branch -> files).

    A branch whose metadata for one of these roles does not parse covers
    nothing and is returned in ``ignored`` with the reason, for the caller to
    report: a broken event must neither stop the renewal nor pass unnoticed.
    """
    covered: set[str] = set()
    ignored: list[IgnoredEvent] = []
    for branch, store in stores.items():
        found: dict[str, int] = {}
        try:
            for role in versions:
                path = role_path(role)
                data = store.read(path)
                if data is not None:
                    found[role] = parse_metadata(data, path, role_type(role)).signed.version
        except MetadataError as e:
            ignored.append(IgnoredEvent(branch, str(e)))
            continue
        covered.update(role for role, v in versions.items() if found.get(role) == v)
    return OpenEvents(covered, ignored)


@dataclass(frozen=True)
class BumpResult:
    """What one bump-expiring run did.

    Attributes:
        events: the event branches created (at most one).
        bumped: role -> new version, on the created event.
        already_open: role -> version, for roles an open event already renews.
        ignored: open events whose metadata does not parse.
        no_repository: main has no metadata yet (nothing to do).
    """

    events: list[str] = field(default_factory=list)
    bumped: dict[str, int] = field(default_factory=dict)
    already_open: dict[str, int] = field(default_factory=dict)
    ignored: list[IgnoredEvent] = field(default_factory=list)
    no_repository: bool = False


def bump_expiring(git: GitRepo, remote: str, now: datetime, *, push: bool) -> BumpResult:
    """Open one signing event renewing every offline role in its signing period.

    Args:
        git: the checkout (its work tree is not touched).
        remote: fetched first; its ``main`` is the state renewed, and its
            ``sign/*`` branches (with the local ones) are the open events.
        now: the current time.
        push: push the new event branch to ``remote``; else only set a local branch.

    Raises:
        GitStateError: fetch or push failed, or ``remote`` has no main.
        MetadataError: main's metadata cannot be read (a period out of bounds, ...).
    """
    git.fetch(remote)
    main = git.rev(f"refs/remotes/{remote}/{MAIN_BRANCH}")
    if main is None:
        raise GitStateError(f"{remote} has no {MAIN_BRANCH} branch")
    current = TufRepository(OverlayStore(GitTreeStore(git, main)), now=now)
    if not current.exists(ROOT):
        return BumpResult(no_repository=True)
    versions = {}
    for role in expiring_roles(current, now):
        md = current.read(role)
        versions[role] = (md.signed.version if md else 0) + 1
    remote_prefix = f"refs/remotes/{remote}/"
    events = EVENT_BRANCH_PREFIX.rstrip("/")
    refs = git.refs(f"{remote_prefix}{events}", f"refs/heads/{events}")
    # origin/sign/x and the local sign/x may differ: each is an open event of its own
    shown = {ref: ref.removeprefix("refs/remotes/").removeprefix("refs/heads/") for ref in refs}
    opened = already_open(
        {shown[ref]: GitTreeStore(git, sha) for ref, sha in refs.items()}, versions
    )
    covered = {role: versions.pop(role) for role in list(versions) if role in opened.covered}
    if not versions:
        return BumpResult(already_open=covered, ignored=opened.ignored)
    taken = {ref.removeprefix(remote_prefix).removeprefix("refs/heads/") for ref in refs}
    name = _free_name(event_name(versions), taken)
    overlay = OverlayStore(GitTreeStore(git, main))
    repo = TufRepository(overlay, now=now, known_good=GitTreeStore(git, main))
    for role in versions:
        repo.bump(role)
    message = "Periodic version bump: " + ", ".join(f"{r} v{v}" for r, v in versions.items())
    sha = git.commit_changes(main, overlay.effective_changes(), message)
    if push:
        git.push(remote, sha, name)
    else:
        git.set_branch(name, sha)
    return BumpResult([name], versions, covered, opened.ignored)


def _free_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... when an (ignored, broken) event holds it."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    return candidate
