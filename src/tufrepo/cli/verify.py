"""`tufrepo verify`: check every invariant of the repository at HEAD."""

from __future__ import annotations

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.constants import EVENT_BRANCH_PREFIX
from tufrepo.errors import RejectedError
from tufrepo.gitrepo import GitTreeStore
from tufrepo.repository import TufRepository
from tufrepo.store import OverlayStore, WorktreeStore
from tufrepo.verify import compare_versions, verify_state


@click.command("verify")
@click.option(
    "--event/--main",
    "on_event",
    default=None,
    help="Check as a signing event (skip snapshot/timestamp currency) or as main. "
    "Default: an event when the checked-out branch is sign/*.",
)
@click.option(
    "--history",
    is_flag=True,
    help="Check every commit of the current branch's first-parent history (main) and "
    "report the first commit where an invariant broke.",
)
@pass_app
def verify_command(app: App, on_event: bool | None, history: bool) -> None:
    """Check every invariant of the repository in this checkout.

    Every metadata file parses; root_history holds a root chain that verifies
    from version 1 to root.json; every role verifies with its delegator's
    threshold; on main, snapshot and timestamp list the current versions;
    targets metadata matches the files under targets/. One line per check;
    exit 4 when any fails.
    """
    git = app.git()
    if history:
        _verify_history(app)
        return
    if on_event is None:
        on_event = (git.current_branch() or "").startswith(EVENT_BRANCH_PREFIX)
    store = WorktreeStore(git.top)
    checks = verify_state(TufRepository(store, now=app.now()), store, on_main=not on_event)
    for check in checks:
        mark = "OK  " if check.ok else "FAIL"
        app.say(f"{mark} {check.name}" + (f": {check.detail}" if check.detail else ""))
    failed = [c for c in checks if not c.ok]
    app.result({"ok": not failed, "checks": [c.to_dict() for c in checks]})
    if failed:
        raise RejectedError(f"{len(failed)} check(s) failed: {failed[0].name}")


def _verify_history(app: App) -> None:
    git = app.git()
    previous: TufRepository | None = None
    checked = 0
    for sha, subject in git.first_parent_log("HEAD"):
        store = GitTreeStore(git, sha)
        repo = TufRepository(OverlayStore(store), now=app.now())
        if not repo.exists("root"):
            continue
        # Snapshot currency is skipped: between a merge and the online-sign
        # commit after it, main is legitimately behind.
        checks = verify_state(repo, store, on_main=False)
        if previous is not None:
            checks += compare_versions(previous, repo)
        failed = [c for c in checks if not c.ok]
        checked += 1
        if failed:
            app.say(f"FAIL {sha[:7]} {subject}")
            for check in failed:
                app.say(f"     {check.name}: {check.detail}")
            app.result({"ok": False, "commit": sha, "failed": [c.to_dict() for c in failed]})
            raise RejectedError(
                f"invariant broken at commit {sha[:7]} ({subject}): {failed[0].name}"
            )
        previous = repo
    app.say(f"OK   {checked} commit(s) with metadata, every invariant holds")
    app.result({"ok": True, "commits": checked})
