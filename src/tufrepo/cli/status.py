"""`tufrepo status`: validate the checked-out signing event and report per role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tufrepo.checks import Severity
from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import checkout_known_good, remote_option, signer_count
from tufrepo.core.store import WorktreeStore
from tufrepo.errors import ExitCode
from tufrepo.gitrepo import GitTreeStore
from tufrepo.ops.event import SigningEvent
from tufrepo.ops.status import EventState, EventStatus, RoleStatus, event_status

MAX_LISTED = 100
_LABEL = {Severity.ERROR: "Error", Severity.WAITING: "Waiting", Severity.WARNING: "Warning"}

_EXIT = {
    EventState.READY: ExitCode.OK,
    EventState.WAITING: ExitCode.NOT_READY,
    EventState.EMPTY: ExitCode.NOT_READY,
    EventState.INVALID: ExitCode.REJECTED,
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
    git = app.git()
    known_good = checkout_known_good(app, remote)
    event = SigningEvent(
        WorktreeStore(git.top),
        GitTreeStore(git, known_good) if known_good else None,
        now=app.now(),
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
    app.say(markdown)
    app.result(_as_json(status, branch, head))
    ctx.exit(int(_EXIT[status.state]))


def render_markdown(status: EventStatus, event: str, commit: str) -> str:
    """The pull-request comment for an event."""
    lines = ["### Signing event status", "", f"Event `{event}` (commit {commit})", ""]
    if status.state is EventState.EMPTY:
        lines.append("This signing event contains no changes yet.")
    for role in status.roles:
        lines += _role_markdown(role, event)
    lines += [f"**Warning**: {w}" for w in status.warnings]
    general = [
        f
        for f in status.findings
        if f.severity is not Severity.WARNING and not any(f.role == r.role for r in status.roles)
    ]
    for finding in general:
        lines.append(
            f"**{_LABEL[finding.severity]}** ({finding.role or 'repository'}): {finding.message}"
        )
    lines.append("")
    verdict = {
        EventState.READY: "**Ready**: every role is signed; the event can be reviewed and merged.",
        EventState.WAITING: "**Waiting** for signatures, invitations or update-targets.",
        EventState.EMPTY: "**Waiting** for changes.",
        EventState.INVALID: "**Invalid**: fix the errors above before signing.",
    }[status.state]
    lines.append(verdict)
    return "\n".join(lines) + "\n"


def _role_markdown(role: RoleStatus, event: str) -> list[str]:
    mark = ":white_check_mark:" if role.ready else ":x:"
    lines = [f"#### {mark} {role.role}", ""]
    if role.removed:
        return [*lines, f"Role `{role.role}` is removed.", ""]
    if role.invites:
        lines.append(f"Role `{role.role}` has open invitations ({', '.join(role.invites)}).")
        lines.append(f"Invitees accept by running `repo-sign {event}`.")
    if role.target_changes:
        lines.append(f"Role `{role.role}` contains these artifact changes:")
        shown = role.target_changes[:MAX_LISTED]
        lines += [f" * `{c.path}`: {c.change.value}" for c in shown]
        if len(role.target_changes) > MAX_LISTED:
            # A pull-request comment holds 65,536 characters; --json lists everything.
            lines.append(
                f" * … and {len(role.target_changes) - MAX_LISTED} more (see `status --json`)"
            )
    for d in role.delegation_changes:
        lines.append(
            f"Delegation `{d.role}` {d.change.value}: "
            f"{', '.join(d.signers) or '-'} ({d.threshold or '-'} required)"
        )
    count = signer_count(role)
    names = ", ".join(role.signers.signed) if role.signers else ""
    if role.signed:
        lines.append(f"Role `{role.role}` is verified and signed by {count} signers ({names}).")
    elif role.signers and role.signers.signed:
        lines.append(
            f"Role `{role.role}` is not yet verified. It is signed by {count} signers ({names})."
        )
    else:
        lines.append(f"Role `{role.role}` is unsigned and not yet verified.")
    missing = sorted(
        set(role.signers.missing if role.signers else [])
        | set(role.known_good_signers.missing if role.known_good_signers else [])
    )
    if role.signers and role.signers.invalid:
        lines.append(
            f"Invalid signature(s) from {', '.join(role.signers.invalid)}: they do not count."
        )
    if missing and not role.signed:
        lines.append(f"Still missing signatures from {', '.join(missing)}.")
        lines.append(f"Signers sign by running `repo-sign {event}`.")
    if role.blocked_by and role.signed:
        lines.append(f"Its signatures count once the `{role.blocked_by}` change is signed.")
    lines += [
        f"**{_LABEL[f.severity]}**: {f.message}"
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
    }
