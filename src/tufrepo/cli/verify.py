"""`tufrepo verify`: check every invariant of the repository at HEAD."""

from __future__ import annotations

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.constants import EVENT_BRANCH_PREFIX
from tufrepo.errors import RejectedError
from tufrepo.repository import TufRepository
from tufrepo.store import WorktreeStore
from tufrepo.verify import verify_repository


@click.command("verify")
@click.option(
    "--event/--main",
    "on_event",
    default=None,
    help="Check as a signing event (skip snapshot/timestamp currency) or as main. "
    "Default: an event when the checked-out branch is sign/*.",
)
@pass_app
def verify_command(app: App, on_event: bool | None) -> None:
    """Check every invariant of the repository in this checkout.

    Every metadata file parses; root_history holds a root chain that verifies
    from version 1 to root.json; every role verifies with its delegator's
    threshold; on main, snapshot and timestamp list the current versions;
    targets metadata matches the files under targets/. One line per check;
    exit 4 when any fails.
    """
    git = app.git()
    if on_event is None:
        on_event = (git.current_branch() or "").startswith(EVENT_BRANCH_PREFIX)
    store = WorktreeStore(git.top)
    checks = verify_repository(TufRepository(store, now=app.now()), store, on_main=not on_event)
    for check in checks:
        mark = "OK  " if check.ok else "FAIL"
        app.say(f"{mark} {check.name}" + (f": {check.detail}" if check.detail else ""))
    failed = [c for c in checks if not c.ok]
    app.result({"ok": not failed, "checks": [c.to_dict() for c in checks]})
    if failed:
        raise RejectedError(f"{len(failed)} check(s) failed: {failed[0].name}")
