"""`tufrepo verify`: judge the repository in this checkout with the trust model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import anchor_option, checkout_known_good, remote_option
from tufrepo.core.constants import EVENT_BRANCH_PREFIX
from tufrepo.core.store import WorktreeStore
from tufrepo.errors import RejectedError

if TYPE_CHECKING:
    from tufrepo.checks import Finding


@click.command("verify")
@click.option(
    "--event/--main",
    "on_event",
    default=None,
    help="Judge as a signing event (against its merge-base with <remote>/main) or as main "
    "(against its anchor). Default: an event when the checked-out branch is sign/*.",
)
@click.option(
    "--history",
    is_flag=True,
    help="Judge main from its own first-parent history even when --anchor is given: every "
    "online-signed state from the one before it, then the work tree.",
)
@anchor_option
@remote_option
@pass_app
def verify_command(
    app: App, on_event: bool | None, history: bool, anchor: str | None, remote: str
) -> None:
    """Judge the repository in this checkout; exit 4 on any error.

    On main: the work tree must be a valid successor of the anchor (the
    published metadata with --anchor, else main's history): root_history
    append-only and one verified chain, versions only growing and content
    changing only with a version, expiry within policy, every role signed by
    its delegator's threshold, snapshot and timestamp current and signed by the
    online key, targets metadata matching the files under targets/ (every
    file read and hashed: an audit, where online-sign and publish read only
    what changed since the commit main's snapshot vouches for). On a signing
    event: the rules of `tufrepo status`, without counting signatures. One
    line per finding.

    \b
      tufrepo verify                                  # main, judged from its history
      tufrepo verify --anchor https://example.github.io/repo/metadata
      tufrepo verify --event                          # a checked-out sign/* branch
    """
    from tufrepo.checks import judge_event
    from tufrepo.checks.rules import currency_rule, guard
    from tufrepo.core.repository import TufRepository
    from tufrepo.gitrepo import GitTreeStore
    from tufrepo.ops.anchor import judge_main_state
    from tufrepo.ops.event import SigningEvent

    git = app.git()
    head = git.head()
    if on_event is None:
        on_event = (git.current_branch() or "").startswith(EVENT_BRANCH_PREFIX)
    store = WorktreeStore(git.top)
    if on_event:
        known_good = checkout_known_good(app, remote)
        event = SigningEvent(
            store, GitTreeStore(git, known_good) if known_good else None, now=app.now()
        )
        findings = judge_event(event)
        judged = f"the event against {known_good[:7] if known_good else 'a new repository'}"
    else:
        repo = TufRepository(store, now=app.now())
        verdict = judge_main_state(
            repo, store, git=git, rev=head, anchor_source=None if history else anchor,
            now=app.now(), by_change=False,
        )  # fmt: skip
        findings = verdict.findings + guard("", currency_rule, repo)
        judged = f"main against {verdict.anchor}"
    _report(app, findings, judged)


def _report(app: App, findings: list[Finding], judged: str) -> None:
    from tufrepo.checks import Severity, errors

    for finding in findings:
        app.say(f"{finding.severity.value.upper():8} {finding.code}: {finding}")
    failed = [f for f in findings if f.severity is not Severity.WARNING]
    app.result({"ok": not failed, "judged": judged, "findings": [f.to_dict() for f in findings]})
    if failed:
        first = (errors(failed) or failed)[0]
        raise RejectedError(f"{len(failed)} finding(s) judging {judged}: {first}")
    app.say(f"OK: {judged}: every rule holds.")
