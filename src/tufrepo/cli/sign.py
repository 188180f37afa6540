"""`tufrepo sign EVENT` (also `repo-sign EVENT`): sign what you owe on a signing event."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import (
    key_option,
    open_session,
    push_option,
    settings_for,
    sign_with_retry,
    signer_provider,
    summary_lines,
    user_key,
    user_option,
)
from tufrepo.core.constants import ROOT
from tufrepo.errors import GitStateError, PushRejectedError, RejectedError
from tufrepo.gitrepo import GitTreeStore
from tufrepo.ops.editing import accept_invites
from tufrepo.ops.signing import SignResult, reapply, sign_roles
from tufrepo.ops.status import EventState, event_status
from tufrepo.ops.summary import summarize_event_role

if TYPE_CHECKING:
    from tufrepo.ops.session import EventSession
    from tufrepo.settings import Settings


@click.command("sign")
@click.argument("event")
@key_option
@user_option
@push_option
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="Sign and push without asking (the summary is still shown). Without a terminal "
    "nothing is asked.",
)
@pass_app
def sign_command(
    app: App, event: str, key_uri: str | None, user: str | None, push: bool, yes: bool
) -> None:
    """Sign the signing event EVENT (e.g. sign/add-release).

    Fetches EVENT from your pull remote and validates it as `status` does:
    an invalid event is refused (exit 4) and nothing is signed. Then shows
    every change in each role you sign (versions, expiry, periods, keys,
    thresholds, paths, artifacts), asks "Sign and push?" on a terminal
    (--yes skips it), accepts invitations (enrolling --key), signs, verifies
    each new signature and pushes. Your branch and work tree are left as
    they are. Trust this summary, not the pull request page.
    """
    settings = settings_for(app, user)
    me = settings.user_name
    session = open_session(app, event, settings, must_exist=True)
    evt = session.event
    if not evt.repo.exists(ROOT):
        raise RejectedError(
            f"no TUF repository on {event}", hint="create one with `tufrepo init sign/init`"
        )
    refuse_invalid(app, session)
    accepted: list[str] = []
    if evt.invites.roles_for(me):
        roles = evt.invites.roles_for(me)
        app.say(f"You have been invited to sign {', '.join(roles)}.")
        accepted = accept_invites(evt, me, user_key(app, key_uri, settings))
        session.commit(f"{me} accepted invitation")
    owed = session.event.roles_needing_signature(me)
    if not owed:
        app.say("Nothing to do." if not accepted else "")
        if accepted:
            where = session.publish(push=push)
            app.say(f"Pushed to {where}." if push else f"Saved as {where}.")
        app.result(
            {"event": event, "signed": [], "accepted": accepted, "pushed": push and bool(accepted)}
        )
        return
    for role in owed:
        for line in summary_lines(summarize_event_role(session.event, role)):
            app.say(line)
    question = "Sign and push?" if push else "Sign (and keep the result local)?"
    # On stderr with --json, like the rest of the human output: stdout is the result.
    if not yes and app.interactive and not click.confirm(question, err=app.json_output):
        app.say("Not signed: nothing was saved or pushed.")
        app.result(
            {"event": event, "signed": [], "accepted": [], "pushed": False, "declined": True}
        )
        return
    provider = signer_provider(app, settings, key_uri)
    results: list[SignResult] = []

    def sign_all() -> list[SignResult]:
        # Roles already signed verify now and are skipped when retrying.
        results.extend(sign_roles(session.event, me, provider))
        return results

    sign_with_retry(app, sign_all)
    session.commit(f"Signature from {me}")
    app.say(f"Signed {', '.join(dict.fromkeys(r.role for r in results))} as {me}.")
    where = _publish(app, session, settings, results, push=push, accepted=bool(accepted))
    app.say(f"Pushed to {where}." if push else f"Saved as {where}; push it when ready.")
    app.result(
        {
            "event": event,
            "signed": sorted({r.role for r in results}),
            "accepted": accepted,
            "commit": session.base,
            "pushed": push,
        }
    )


MAX_ATTEMPTS = 3
MAX_FINDINGS = 3


def refuse_invalid(app: App, session: EventSession, *, show_warnings: bool = True) -> None:
    """Validate the event as `status` does; refuse (exit 4) to sign an invalid one.

    Raises:
        RejectedError: the event has errors; the first few are named.
    """
    git, known_good = session.git, session.known_good_rev
    status = event_status(
        session.event,
        changed_files=git.changed_paths(known_good, session.base) if known_good else None,
        main=GitTreeStore(git, session.main) if session.main else None,
    )
    if show_warnings:
        for warning in status.warnings:
            app.warn(warning)
    if status.state is not EventState.INVALID:
        return
    errors = status.errors
    shown = "; ".join(str(f.message) for f in errors[:MAX_FINDINGS])
    more = f" (and {len(errors) - MAX_FINDINGS} more)" if len(errors) > MAX_FINDINGS else ""
    app.say(f"{session.name} is invalid; refusing to sign it.")
    raise RejectedError(
        shown + more,
        hint="nothing was signed or pushed; `tufrepo status` in a checkout of the event "
        "lists all findings",
    )


def _publish(
    app: App,
    session: EventSession,
    settings: Settings,
    results: list[SignResult],
    *,
    push: bool,
    accepted: bool,
) -> str:
    """Push; when another signer pushed first, carry our signatures onto the new tip."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return session.publish(push=push)
        except PushRejectedError:
            if not push or accepted or attempt == MAX_ATTEMPTS:
                raise
        app.warn("someone pushed to the event meanwhile; adding your signatures to their tip")
        session = open_session(app, session.name, settings)
        refuse_invalid(app, session, show_warnings=False)  # their tip is validated too
        changed = reapply(session.event, results)
        if changed:
            raise GitStateError(
                f"{', '.join(changed)} changed while you were signing",
                hint=f"review and sign again: repo-sign {session.name}",
            )
        session.commit(f"Signature from {settings.user_name}")
    raise AssertionError("unreachable")  # pragma: no cover
