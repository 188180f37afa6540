"""`tufrepo online-sign`: the scheduled CI job that refreshes snapshot and timestamp on main."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tufrepo import signers
from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import PATH_PREFIX_ENV, anchor_option, judge_main_checkout, remote_option
from tufrepo.core import fields
from tufrepo.core.constants import EVENT_BRANCH_PREFIX, MAIN_BRANCH, SNAPSHOT, TIMESTAMP
from tufrepo.core.layout import role_path
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import OverlayStore, WorktreeStore, apply_overlay
from tufrepo.errors import GitStateError, PushRejectedError, RejectedError, SignerUnavailableError
from tufrepo.ops.online import online_sign

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
@anchor_option
@pass_app
def online_sign_command(app: App, push: bool, remote: str, anchor: str | None) -> None:
    """Refresh snapshot and timestamp on main with the online key (CI).

    Refuses (exit 4) unless main is a valid successor of its anchor (--anchor:
    what clients already trust) under the same rules as a signing event, with
    every offline role signed by its threshold. Snapshot is re-signed when a targets role changed, in its
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
        judge_main_checkout(app, anchor, "online-sign")
        repo = TufRepository(overlay, now=app.now(), signer_for=online_signer(app))
        result = online_sign(repo, app.now())
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
