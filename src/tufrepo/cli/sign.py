"""`tufrepo sign EVENT` (also `repo-sign EVENT`): sign what you owe on a signing event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import (
    cli_handlers,
    key_option,
    push_option,
    settings_for,
    user_option,
    user_signers,
)

if TYPE_CHECKING:
    from tufrepo.ops.signoff import SignEventResult


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
    each new signature and pushes. When another signer's push wins the race,
    your signatures are carried onto their tip (after validating it). Your
    branch and work tree are left as they are. Trust this summary, not the
    pull request page. After a push to a fork (push-remote differs from
    pull-remote) it prints the page that opens the pull request.
    """
    from tufrepo.ops.signoff import sign_event

    settings = settings_for(app, user)
    result = sign_event(
        app.git(), event, settings, user_signers(app, settings, key_uri), now=app.now(),
        push=push, handlers=cli_handlers(app, yes=yes),
    )  # fmt: skip
    render(app, result, push=push)


def render(app: App, result: SignEventResult, *, push: bool) -> None:
    """The lines after the run, and the result: the JSON keys are the contract of `sign --json`."""
    data: dict[str, Any] = {"event": result.event, "accepted": list(result.accepted)}
    if result.declined:
        app.say("Not signed: nothing was saved or pushed.")
        data.update(signed=[], accepted=[], pushed=False, declined=True)
    elif not result.signed:
        if result.accepted:
            app.say(f"Pushed to {result.where}." if push else f"Saved as {result.where}.")
        data.update(signed=[], pushed=push and bool(result.accepted))
    else:
        app.say(
            f"Pushed to {result.where}."
            if push
            else f"Saved as {result.where}; push it when ready."
        )
        data.update(signed=sorted(result.signed), commit=result.commit, pushed=push)
    if result.review is not None:
        app.say(f"Open a {result.review.kind} for {result.event}: {result.review.url}")
        data["review_url"] = result.review.url
    app.result(data)
