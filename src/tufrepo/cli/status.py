"""`tufrepo status`: validate the checked-out signing event and report per role."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import checkout_known_good, remote_option
from tufrepo.core.constants import MAIN_BRANCH
from tufrepo.core.store import WorktreeStore
from tufrepo.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from tufrepo.ops.status import DelegationChange, EventStatus, RoleStatus, Signers

MAX_LISTED = 100
# Keyed by value: the enums' modules load python-tuf, which --help must not (#14).
_LABEL = {"error": "Error", "waiting": "Waiting", "warning": "Warning"}

_EXIT = {
    "ready": ExitCode.OK,
    "waiting": ExitCode.NOT_READY,
    "empty": ExitCode.NOT_READY,
    "invalid": ExitCode.REJECTED,
}


@click.command("status")
@click.option(
    "--markdown",
    "markdown_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the Markdown report (for a pull request comment) to FILE.",
)
@click.option(
    "--refuse-outside-changes",
    is_flag=True,
    help="Reject (exit 4) an event that changes files outside metadata/ and targets/ "
    "(default: a prominent warning, since real events update workflows too).",
)
@remote_option
@pass_app
@click.pass_context
def status_command(
    ctx: click.Context,
    app: App,
    markdown_file: Path | None,
    refuse_outside_changes: bool,
    remote: str,
) -> None:
    """Validate the checked-out signing event against known good (CI).

    Known good is the merge-base of HEAD and <remote>/main. For every changed
    role it reports signers who signed and who are missing (for root both the
    old and new thresholds), open invitations, artifact changes and errors.

    Exit 0: ready to merge. 3: waiting for signatures or invitations.
    4: invalid (the errors say why).
    """
    from tufrepo.gitrepo import GitTreeStore
    from tufrepo.ops import artifacts
    from tufrepo.ops.anchor import vouched_state
    from tufrepo.ops.event import SigningEvent
    from tufrepo.ops.status import event_status

    git = app.git()
    _require_event(git.current_branch(), git.head(), git.rev(f"refs/remotes/{remote}/main"))
    known_good = checkout_known_good(app, remote)
    event = SigningEvent(
        WorktreeStore(git.top),
        GitTreeStore(git, known_good) if known_good else None,
        now=app.now(),
    )
    # #14: files unchanged since known good are not read again
    event.known_artifacts = artifacts.for_event(git, known_good, event.repo.known_good_repo())
    event.known_good_judged = known_good is not None and vouched_state(
        git, known_good, now=app.now()
    )
    branch = git.current_branch() or "HEAD"
    head = git.head() or ""
    main = git.rev(f"refs/remotes/{remote}/main")
    status = event_status(
        event,
        changed_files=git.changed_paths(known_good, head) if known_good else None,
        main=GitTreeStore(git, main) if main else None,
        refuse_outside=refuse_outside_changes,
    )
    markdown = render_markdown(status, branch, head[:7])
    if markdown_file:
        markdown_file.write_text(markdown, encoding="utf-8")
    app.step_summary(markdown)
    # The hidden line is for the CI glue; a terminal shows the report without it.
    app.say(
        "".join(
            line
            for line in markdown.splitlines(keepends=True)
            if not line.startswith(STATUS_MARKER)
        )
    )
    app.result(_as_json(status, branch, head))
    ctx.exit(int(_EXIT[status.state.value]))


def _require_event(branch: str | None, head: str | None, main: str | None) -> None:
    """Refuse to judge main as if it were an event (it would only ever "wait for changes").

    Main has no merge-base to be judged against: `tufrepo verify` judges it
    from its anchor, with the same rules.
    """
    on_main = branch == MAIN_BRANCH or (branch is None and head is not None and head == main)
    if on_main:
        raise UsageError(
            "status judges a signing event (a sign/* branch), and this checkout is on main",
            hint="check main with `tufrepo verify`; for an event, check out its sign/* branch",
        )


STATUS_MARKER = "<!-- tufrepo-status-report"
"""Opens the hidden last line of the report: the state and the handles owed, for CI glue."""


def render_markdown(status: EventStatus, event: str, commit: str) -> str:
    """The pull-request comment for an event: per-role details and one verdict line.

    The verdict is the last visible line.  A hidden line after it
    (``<!-- tufrepo-status-report state=waiting owed=@bob,@carol -->``) lets
    the CI glue notice when someone new is asked to act and notify them
    (see .github/scripts/event_pr.py).
    """
    from tufrepo.checks import Severity
    from tufrepo.ops.status import EventState

    invalid = status.state is EventState.INVALID
    lines = ["### Signing event status", "", f"Event `{event}` (commit {commit})", ""]
    if status.state is EventState.EMPTY:
        lines += ["This signing event contains no changes yet.", ""]
    for role in status.roles:
        lines += _role_markdown(role, event, invalid=invalid)
    lines += [f"**Warning**: {w}" for w in status.warnings]
    general = [
        f
        for f in status.findings
        if f.severity is not Severity.WARNING and not any(f.role == r.role for r in status.roles)
    ]
    for finding in general:
        lines.append(
            f"**{_LABEL[finding.severity.value]}** ({finding.role or 'repository'}): {finding.message}"
        )
    if lines[-1]:
        lines.append("")
    lines.append(_verdict(status, event))
    owed = ",".join(status.owed)
    lines.append(f"{STATUS_MARKER} state={status.state.value} owed={owed} -->")
    return "\n".join(lines) + "\n"


def _verdict(status: EventStatus, event: str) -> str:
    from tufrepo.ops.status import EventState

    if status.state is EventState.READY:
        return "**Ready**: every role is signed; the event can be reviewed and merged."
    if status.state is EventState.INVALID:
        return "**The event is invalid**: fix the errors above. Do not sign it as it is."
    if status.state is EventState.EMPTY:
        return "**Waiting for changes**: push changes to metadata/ or targets/."
    if status.owed:
        return (
            f"**Waiting for signatures or invitations.** Still needed: {', '.join(status.owed)} "
            f"(run `repo-sign {event}`)."
        )
    return "**Waiting for signatures or invitations.** (or for `update-targets`: see above)"


def _count(signers: Signers) -> str:
    names = f" ({', '.join(signers.signed)})" if signers.signed else ""
    return f"{len(signers.signed)}/{signers.threshold}{names}"


def _signature_line(role: RoleStatus) -> str:
    """``Signatures: 1/2 (@alice)``; for a root rotation both roots, labelled."""
    if role.signers is None:
        return "Signatures: no delegator to count them against."
    if role.known_good_signers is not None:
        old, new = role.known_good_signers, role.signers
        return (
            f"Signatures: old {role.role} {_count(old)}, new {role.role} {_count(new)} "
            "(a new root needs both thresholds)."
        )
    return f"Signatures: {_count(role.signers)}."


def _delegation_line(d: DelegationChange) -> str:
    from tufrepo.ops.status import Change

    signers = [*d.signers, *(f"{h} (invited)" for h in d.invited if h not in d.signers)]
    needed = f"{d.threshold} required" if d.threshold is not None else "no threshold"
    if d.change is Change.REMOVED:
        return f"Delegation `{d.role}` removed."
    return f"Delegation `{d.role}` {d.change.value}: {', '.join(signers) or '-'} ({needed})."


def _role_markdown(role: RoleStatus, event: str, *, invalid: bool) -> list[str]:
    from tufrepo.checks import Severity

    mark = ":white_check_mark:" if role.ready else ":x:"
    lines = [f"#### {mark} {role.role}", ""]
    if role.removed:
        return [*lines, f"Role `{role.role}` is removed.", ""]
    if role.target_changes:
        lines.append(f"Role `{role.role}` contains these artifact changes:")
        shown = role.target_changes[:MAX_LISTED]
        lines += [f" * `{c.path}`: {c.change.value}" for c in shown]
        if len(role.target_changes) > MAX_LISTED:
            # A pull-request comment holds 65,536 characters; --json lists everything.
            lines.append(
                f" * … and {len(role.target_changes) - MAX_LISTED} more (see `status --json`)"
            )
    lines += [_delegation_line(d) for d in role.delegation_changes]
    if role.invites:
        lines.append(
            f"Invited, not yet accepted: {', '.join(role.invites)}"
            + ("" if invalid else f" (accept by running `repo-sign {event}`)")
            + "."
        )
    lines.append(_signature_line(role))
    if role.signers and role.signers.invalid:
        lines.append(
            f"Invalid signature(s) from {', '.join(role.signers.invalid)}: they do not count."
        )
    if role.signed and not role.blocked_by:
        lines.append(f"Role `{role.role}` is verified.")
    elif role.signed:
        lines.append(f"Its signatures count once the `{role.blocked_by}` change is signed.")
    else:
        missing = sorted(
            set(role.signers.missing if role.signers else [])
            | set(role.known_good_signers.missing if role.known_good_signers else [])
        )
        if missing and not invalid:
            lines.append(
                f"Signatures still needed from {', '.join(missing)} "
                f"(sign by running `repo-sign {event}`)."
            )
        elif missing:
            lines.append(f"Not signed yet by {', '.join(missing)}.")
    lines += [
        f"**{_LABEL[f.severity.value]}**: {f.message}"
        for f in role.findings
        if f.severity is not Severity.WARNING
    ]
    lines.append("")
    return lines


def _as_json(status: EventStatus, event: str, commit: str) -> dict[str, Any]:
    return {
        "event": event,
        "commit": commit,
        "state": status.state.value,
        "findings": [f.to_dict() for f in status.findings],
        "warnings": status.warnings,
        "roles": [
            {
                "role": r.role,
                "ready": r.ready,
                "version": r.version,
                "known_good_version": r.known_good_version,
                "signers": r.signers.to_dict() if r.signers else None,
                "known_good_signers": r.known_good_signers.to_dict()
                if r.known_good_signers
                else None,
                "invites": r.invites,
                "artifacts": [
                    {"path": c.path, "change": c.change.value} for c in r.target_changes
                ],
                "removed": r.removed,
                "blocked_by": r.blocked_by,
            }
            for r in status.roles
        ],
        "owed": status.owed,
    }
