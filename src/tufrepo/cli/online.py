"""`tufrepo online-sign` and `tufrepo bump-expiring`: the scheduled CI jobs on main."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tufrepo import fields, signers
from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import PATH_PREFIX_ENV, remote_option
from tufrepo.constants import EVENT_BRANCH_PREFIX, MAIN_BRANCH, SNAPSHOT, TIMESTAMP
from tufrepo.errors import GitStateError, PushRejectedError, RejectedError, SignerUnavailableError
from tufrepo.expiry import already_open, event_name, expiring_roles
from tufrepo.gitrepo import GitTreeStore
from tufrepo.layout import role_path
from tufrepo.online import online_sign
from tufrepo.repository import TufRepository
from tufrepo.store import OverlayStore, WorktreeStore, apply_overlay

if TYPE_CHECKING:
    from collections.abc import Callable

    from securesystemslib.signer import Key, Signer

MAX_ATTEMPTS = 3


def online_signer(app: App) -> Callable[[Key], Signer]:
    """Signers for online keys, from the URI stored with each key in root."""

    def signer_for(key: Key) -> Signer:
        uri = fields.online_uri(key)
        if uri is None:
            raise SignerUnavailableError(f"key {key.keyid[:8]} has no online signer URI in root")
        return signers.load_signer(uri, key, None, path_prefix=app.env(PATH_PREFIX_ENV))

    return signer_for


@click.command("online-sign")
@click.option(
    "--push/--no-push",
    default=False,
    show_default=True,
    help="Push the new snapshot/timestamp commit to <remote>/main.",
)
@remote_option
@pass_app
def online_sign_command(app: App, push: bool, remote: str) -> None:
    """Refresh snapshot and timestamp on main with the online key (CI).

    Refuses (exit 4) unless root and every targets role on main verify with
    their thresholds. Snapshot is re-signed when a targets role changed, in its
    signing period, or no longer valid; timestamp when snapshot changed, in its
    signing period, or no longer valid. A refused push (main moved) is
    retried on top of the new main, never forced. Nothing to do is exit 0.
    """
    git = app.git()
    branch = git.current_branch()
    if branch is not None and branch.startswith(EVENT_BRANCH_PREFIX):
        raise RejectedError(
            f"online-sign runs on {MAIN_BRANCH}, not on the signing event {branch}",
            hint=f"git switch {MAIN_BRANCH}",
        )
    if git.is_dirty([]):
        raise RejectedError("the checkout has uncommitted changes", hint="commit or stash them")
    paths = [role_path(SNAPSHOT), role_path(TIMESTAMP)]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        worktree = WorktreeStore(git.top)
        overlay = OverlayStore(worktree)  # the work tree changes only once all is signed
        repo = TufRepository(overlay, now=app.now(), signer_for=online_signer(app))
        result = online_sign(repo, app.now(), worktree)
        if not result.changed:
            app.say("Online signing not needed.")
            app.result({"signed": [], "snapshot": None, "timestamp": None})
            return
        signed = [r for r, v in ((SNAPSHOT, result.snapshot), (TIMESTAMP, result.timestamp)) if v]
        message = f"Online sign ({' & '.join(signed)})"
        apply_overlay(overlay, worktree)
        try:
            sha = git.commit_worktree(paths, message)
        except BaseException:
            git.restore(paths)
            raise
        if not push or sha is None:
            break
        try:
            git.push(remote, sha, MAIN_BRANCH)
        except PushRejectedError:
            if attempt == MAX_ATTEMPTS:
                raise
            app.warn(f"{remote}/{MAIN_BRANCH} moved; signing again on top of it")
            git.fetch(remote)
            target = git.rev(f"refs/remotes/{remote}/{MAIN_BRANCH}")
            if target is None:
                raise GitStateError(f"{remote}/{MAIN_BRANCH} disappeared") from None
            git.reset_hard(target)
            continue
        break
    app.say(
        f"{message}: "
        + ", ".join(
            f"{r} v{v}"
            for r, v in ((SNAPSHOT, result.snapshot), (TIMESTAMP, result.timestamp))
            if v
        )
    )
    app.result(
        {
            "signed": signed,
            "snapshot": result.snapshot,
            "timestamp": result.timestamp,
            "commit": sha,
            "pushed": push,
        }
    )


@click.command("bump-expiring")
@click.option(
    "--push/--no-push",
    default=False,
    show_default=True,
    help="Push each new event branch to the remote (else create local branches).",
)
@remote_option
@pass_app
def bump_expiring_command(app: App, push: bool, remote: str) -> None:
    """Open signing events for offline roles inside their signing period (CI).

    All such roles get a new, unsigned version with a fresh expiry on one
    branch, sign/<role>-v<N>[-<role>-v<N>...], so their signers sign once.
    Roles whose next version is already on an open event are skipped, so
    scheduled runs are idempotent. `--json` lists the events created.
    """
    git = app.git()
    git.fetch(remote)
    main = git.rev(f"refs/remotes/{remote}/{MAIN_BRANCH}")
    if main is None:
        raise GitStateError(f"{remote} has no {MAIN_BRANCH} branch")
    now = app.now()
    current = TufRepository(OverlayStore(GitTreeStore(git, main)), now=now)
    if not current.exists("root"):
        app.say("No repository yet: nothing to do.")
        app.result({"events": []})
        return
    versions = {}
    for role in expiring_roles(current, now):
        md = current.read(role)
        versions[role] = (md.signed.version if md else 0) + 1
    open_events = git.refs(f"refs/remotes/{remote}/sign", "refs/heads/sign")
    covered = already_open([GitTreeStore(git, sha) for sha in open_events.values()], versions)
    for role in sorted(covered):
        app.say(f"{role} v{versions.pop(role)} already has an open signing event.")
    created = []
    if versions:
        name = event_name(versions)
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
        app.say(f"Opened {name}: {', '.join(versions)} need(s) signing before expiry.")
        created.append(name)
    if not created:
        app.say("No role needs re-signing.")
    app.result({"events": created})
