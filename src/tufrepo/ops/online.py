"""Online signing of snapshot and timestamp on main.

The gate comes first: main is judged from its anchor
(:func:`judge_checkout`, :mod:`tufrepo.ops.anchor`, :mod:`tufrepo.checks`), so
CI never vouches for metadata the key holders did not sign.
:func:`refresh_online_roles` then decides and signs: snapshot when a targets
role's version changed, when it is in its signing period, or when it no
longer verifies (e.g. the online key changed), and timestamp when snapshot
changed, when it is in its signing period, or when it no longer verifies.
python-tuf's ``Repository.do_snapshot``/``do_timestamp`` decide on versions
and verification; only the signing period is tufrepo's policy.

:func:`online_sign` is the operation behind ``tufrepo online-sign``: judge,
refresh, commit, and push to main; when the push loses a race with another
push (:class:`~tufrepo.errors.TransientGitError`) it moves to the new main,
judges it, and signs again, under a :class:`~tufrepo.ops.handlers.RetryPolicy`::

    result = online_sign(git, now=now, signer_for=online_signers(env), push=True)
    result.signed  # ("snapshot", "timestamp"), or () when nothing was due

Not for: choosing signers (a ``signer_for`` callable is injected), printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from tuf.api.metadata import Root

from tufrepo.core import fields
from tufrepo.core.constants import (
    EVENT_BRANCH_PREFIX,
    MAIN_BRANCH,
    METADATA_DIR,
    SNAPSHOT,
    TARGETS_DIR,
    TIMESTAMP,
)
from tufrepo.core.layout import role_path
from tufrepo.core.parsing import ParseCache
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import OverlayStore, WorktreeStore, apply_overlay
from tufrepo.errors import GitStateError, RejectedError
from tufrepo.ops.anchor import MainVerdict, judge_main_state, require_main
from tufrepo.ops.handlers import Handlers, RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from securesystemslib.signer import Key, Signer

    from tufrepo.gitrepo import GitRepo


@dataclass(frozen=True)
class OnlineResult:
    """New versions signed in this run (None: unchanged)."""

    snapshot: int | None
    timestamp: int | None

    @property
    def changed(self) -> bool:
        """True when anything was signed."""
        return self.timestamp is not None or self.snapshot is not None


def in_signing_period(repo: TufRepository, role: str, now: datetime) -> bool:
    """True when ``now`` is within the role's signing period before its expiry."""
    md = repo.read(role)
    if md is None:
        return True
    root = md.signed if isinstance(md.signed, Root) else repo.root()
    periods = fields.get_periods(root, role, md.signed)
    return bool(now >= md.signed.expires - timedelta(days=periods.signing))


def refresh_online_roles(repo: TufRepository, now: datetime) -> OnlineResult:
    """Refresh snapshot and timestamp as needed (see module docstring).

    The caller judges main first (:func:`tufrepo.ops.anchor.judge_main_state`):
    this function only decides what to re-sign.

    Args:
        repo: main's metadata, with an online ``signer_for``.
        now: the current time.

    Raises:
        RejectedError: a targets role's version went down (rollback).
        SignerUnavailableError: the online key cannot sign or its signature
            does not verify with root.
    """
    # Forced only for the signing period: do_snapshot/do_timestamp already sign
    # a new version when the current one is missing or does not verify with
    # root, and when what it lists changed.
    force_snapshot = in_signing_period(repo, SNAPSHOT, now)
    try:
        snapshot_changed, _ = repo.do_snapshot(force=force_snapshot)
    except ValueError as e:  # python-tuf's "version rollback"
        raise RejectedError(f"refusing to sign snapshot: {e}") from e
    force_timestamp = in_signing_period(repo, TIMESTAMP, now)
    try:
        timestamp_changed, _ = repo.do_timestamp(force=force_timestamp)
    except ValueError as e:
        raise RejectedError(f"refusing to sign timestamp: {e}") from e
    return OnlineResult(
        snapshot=repo.snapshot_info.version if snapshot_changed else None,
        timestamp=repo.timestamp().version if timestamp_changed else None,
    )


@dataclass(frozen=True)
class OnlineSignResult:
    """What one :func:`online_sign` run did.

    Attributes:
        signed: the roles signed (snapshot, timestamp), empty when nothing was due.
        snapshot: snapshot's new version, or None.
        timestamp: timestamp's new version, or None.
        commit: the new commit on main, or None when nothing was signed.
        pushed: the commit went to ``<remote>/main``.
        message: the commit message.
    """

    signed: tuple[str, ...] = ()
    snapshot: int | None = None
    timestamp: int | None = None
    commit: str | None = None
    pushed: bool = False
    message: str | None = None


def judge_checkout(
    git: GitRepo,
    anchor: str | None,
    action: str,
    *,
    now: datetime,
    handlers: Handlers,
    parsed: ParseCache | None = None,
    pristine: bool | None = None,
) -> MainVerdict:
    """Judge the checkout (main) from its anchor; refuse on any error, warn about the rest.

    Raises:
        RejectedError: main is not a valid successor of its anchor.
    """
    head = git.head()  # None: no history yet, the work tree is the first state
    store = WorktreeStore(git.top)
    repo = TufRepository(store, now=now, parsed=parsed)
    verdict = judge_main_state(
        repo, store, git=git, rev=head, anchor_source=anchor, now=now, parsed=parsed,
        pristine=pristine,
    )  # fmt: skip
    for finding in require_main(verdict, action):
        handlers.warn(str(finding))
    handlers.say(f"Main is a valid successor of {verdict.anchor}.")
    return verdict


def online_sign(
    git: GitRepo,
    *,
    now: datetime,
    signer_for: Callable[[Key], Signer],
    remote: str = "origin",
    anchor: str | None = None,
    push: bool = False,
    handlers: Handlers | None = None,
    retry: RetryPolicy | None = None,
) -> OnlineSignResult:
    """Judge main, refresh snapshot and timestamp as needed, commit, and push.

    Args:
        git: the checkout of main; its work tree changes only once all is signed.
        now: the current time.
        signer_for: the online signers (:func:`tufrepo.ops.keys.online_signers`).
        remote: where main is pushed to and fetched from after a lost race.
        anchor: published metadata (URL or directory) to judge main from, or None.
        push: push the commit to ``<remote>/main``.
        handlers: progress and warnings.
        retry: how often to sign again on a new main after a push lost a race.

    Raises:
        RejectedError: the checkout is a signing event or has uncommitted
            changes, main is not a valid successor of its anchor, or a rollback.
        GitStateError: the push failed (also after the last retry).
        SignerUnavailableError: the online key cannot sign.
    """
    handlers = handlers or Handlers()
    retry = retry or RetryPolicy()
    branch = git.current_branch()
    if branch is not None and branch.startswith(EVENT_BRANCH_PREFIX):
        raise RejectedError(
            f"online-sign runs on {MAIN_BRANCH}, not on the signing event {branch}",
            hint=f"git switch {MAIN_BRANCH}",
        )
    if git.is_dirty([]):
        raise RejectedError("the checkout has uncommitted changes", hint="commit or stash them")
    paths = [role_path(SNAPSHOT), role_path(TIMESTAMP)]
    attempt = 0
    while True:
        attempt += 1
        worktree = WorktreeStore(git.top)
        overlay = OverlayStore(worktree)  # the work tree changes only once all is signed
        parsed = ParseCache()  # the roles judged are the roles signed (#14)
        pristine = git.worktree_pristine(METADATA_DIR, TARGETS_DIR)  # asked once
        verdict = judge_checkout(
            git, anchor, "online-sign", now=now, handlers=handlers, parsed=parsed,
            pristine=pristine,
        )  # fmt: skip
        # #14: main judged by what changed since a state judged in full: roles
        # unchanged since keep the version main's snapshot (which vouches for
        # that state) lists, and are not parsed to be listed again.
        repo = TufRepository(
            overlay, now=now, signer_for=signer_for, parsed=parsed, known_good=verdict.judged_base
        )
        repo.known_good_judged = repo.versions_from_snapshot = verdict.judged_base is not None
        # The clean work tree just judged, every artifact checked: HEAD's
        # state, when the work tree is exactly HEAD's blobs (red team: bytes
        # converted on checkout were judged, not the blobs a later checkout
        # without the conversion would hold).
        repo.verified_commit = git.head() if pristine else None
        result = refresh_online_roles(repo, now)
        if not result.changed:
            return OnlineSignResult()
        signed = tuple(
            r for r, v in ((SNAPSHOT, result.snapshot), (TIMESTAMP, result.timestamp)) if v
        )
        message = f"Online sign ({' & '.join(signed)})"
        apply_overlay(overlay, worktree)
        try:
            sha = git.commit_worktree(paths, message)
        except BaseException:
            git.restore(paths)
            raise
        done = OnlineSignResult(
            signed, result.snapshot, result.timestamp, sha, pushed=push, message=message
        )
        if not push or sha is None:
            return done
        try:
            git.push(remote, sha, MAIN_BRANCH)
        except GitStateError as e:
            if not retry.should_retry(e, attempt):
                raise
            handlers.warn(f"{remote}/{MAIN_BRANCH} moved; signing again on top of it")
            git.fetch(remote)
            target = git.rev(f"refs/remotes/{remote}/{MAIN_BRANCH}")
            if target is None:
                raise GitStateError(f"{remote}/{MAIN_BRANCH} disappeared") from None
            git.reset_hard(target)
            continue
        return done
