"""`tufrepo bump-expiring`: open signing events for offline roles about to expire (CI)."""

from __future__ import annotations

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import remote_option


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
    branch, sign/<role>-v<N>[-<role>-v<N>...] (sign/expiring-<n>-roles-<digest>
    when that would be longer than 100 characters), so their signers sign once.
    Roles whose next version is already on an open event are skipped, so
    scheduled runs are idempotent; an open event whose metadata does not
    parse is reported and ignored. `--json` lists the events created (and,
    under "ignored", the open events ignored and why).
    """
    from tufrepo.ops.expiry import bump_expiring

    result = bump_expiring(app.git(), remote, app.now(), push=push)
    if result.no_repository:
        app.say("No repository yet: nothing to do.")
        app.result({"events": []})
        return
    for ignored in result.ignored:
        app.warn(f"ignoring the signing event {ignored.branch}: {ignored.reason}")
    for role, version in sorted(result.already_open.items()):
        app.say(f"{role} v{version} already has an open signing event.")
    for name in result.events:
        app.say(f"Opened {name}: {', '.join(result.bumped)} need(s) signing before expiry.")
    if not result.events:
        app.say("No role needs re-signing.")
    data: dict[str, object] = {"events": result.events}
    if result.ignored:
        data["ignored"] = [{"branch": i.branch, "reason": i.reason} for i in result.ignored]
    app.result(data)
