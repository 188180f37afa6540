"""`tufrepo update-targets`: regenerate targets metadata from the files under targets/."""

from __future__ import annotations

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import checkout_known_good, remote_option
from tufrepo.core.constants import METADATA_DIR
from tufrepo.core.store import OverlayStore, WorktreeStore, apply_overlay
from tufrepo.errors import GitStateError, RejectedError


@click.command("update-targets")
@click.option(
    "--push/--no-push",
    default=False,
    show_default=True,
    help="Push the commit to the checked-out branch on the remote.",
)
@remote_option
@pass_app
def update_targets_command(app: App, push: bool, remote: str) -> None:
    """Rebuild targets metadata on the checked-out signing event (CI).

    Every file under targets/ is listed in the targets role that owns it (the
    first delegation whose paths match, else the top-level targets role).
    Roles whose entries change get a new unsigned version (known good + 1),
    committed to the branch. `--json` says which roles changed.
    """
    from tufrepo.core.repository import TufRepository
    from tufrepo.gitrepo import GitTreeStore
    from tufrepo.ops import artifacts
    from tufrepo.ops.anchor import vouched_state
    from tufrepo.ops.targets import update_targets

    git = app.git()
    if git.is_dirty([METADATA_DIR]):
        raise RejectedError("metadata/ has uncommitted changes", hint="commit or stash them first")
    known_good = checkout_known_good(app, remote)
    worktree = WorktreeStore(git.top)
    store = OverlayStore(worktree)  # nothing touches the work tree until all is computed
    repo = TufRepository(
        store, now=app.now(), known_good=GitTreeStore(git, known_good) if known_good else None
    )
    if not repo.exists("root"):
        app.say("No repository yet (metadata/root.json is missing): nothing to do.")
        app.result({"changed": False, "roles": []})
        return
    # #14: files unchanged since known good are not read again, and when
    # online-sign judged known good in full, only roles owning a change are rebuilt
    known = artifacts.for_event(git, known_good, repo.known_good_repo())
    repo.known_good_judged = known_good is not None and vouched_state(
        git, known_good, now=app.now()
    )
    changed = update_targets(repo, store, known)
    if not changed:
        app.say("Targets metadata is up to date.")
        app.result({"changed": False, "roles": []})
        return
    paths = apply_overlay(store, worktree)
    try:
        sha = git.commit_worktree(paths, f"Update targets metadata for {', '.join(changed)}")
    except BaseException:
        git.restore(paths)  # leave the work tree as it was
        raise
    app.say(f"Committed metadata changes for role(s) {', '.join(changed)}.")
    if push:
        branch = git.current_branch()
        if branch is None or sha is None:
            raise GitStateError("HEAD is detached; cannot tell which branch to push")
        git.push(remote, sha, branch)
        app.say(f"Pushed to {remote}/{branch}.")
    app.result({"changed": True, "roles": changed, "commit": sha, "pushed": push})
