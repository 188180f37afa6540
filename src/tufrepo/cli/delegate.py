"""`tufrepo delegate EVENT ROLE`: change a role or a delegation on a signing event."""

from __future__ import annotations

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import cli_handlers, editor_options, settings_for, user_signers
from tufrepo.core.constants import DELEGATION_DEPTH


def _bins_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> object:
    from tufrepo.ops.bins import AUTO, MAX_BINS, MIN_BINS, is_valid_count

    if value is None or value == AUTO:
        return value
    try:
        count = int(value)
    except ValueError:
        raise click.BadParameter(f"a power of two or '{AUTO}', not {value!r}") from None
    if not is_valid_count(count):
        raise click.BadParameter(f"a power of two from {MIN_BINS} to {MAX_BINS}, not {count}")
    return count


@click.command("delegate")
@click.argument("event")
@click.argument("roles", nargs=-1)
@click.option(
    "--role",
    "extra_roles",
    multiple=True,
    metavar="ROLE",
    help="Another role to change the same way in this event (repeatable).",
)
@click.option(
    "--signer",
    "signers",
    multiple=True,
    metavar="@HANDLE",
    help="The role's signers (repeat; replaces the current list).",
)
@click.option("--threshold", type=int, metavar="N", help="Signatures required.")
@click.option("--expiry", type=int, metavar="DAYS", help="Expiry period in days.")
@click.option(
    "--signing-period", type=int, metavar="DAYS", help="Days before expiry when re-signing starts."
)
@click.option(
    "--online-key",
    "online_uri",
    metavar="URI",
    help="Signer URI of an online key (timestamp/snapshot, or an online delegation).",
)
@click.option(
    "--path",
    "paths",
    multiple=True,
    metavar="PATTERN",
    help=f"Target path pattern of a delegation (repeat; default ROLE/* down to "
    f"{DELEGATION_DEPTH} levels).",
)
@click.option(
    "--terminating/--no-terminating",
    default=None,
    help="Whether clients stop searching after this delegation (new ones: terminating).",
)
@click.option(
    "--bins",
    callback=_bins_option,
    metavar="N|auto",
    help="Split the role's artifacts over N hash bins (a power of two; auto: from its "
    "artifact count and the size budget), signed by the role's signers.",
)
@click.option("--remove", is_flag=True, help="Remove the delegated role.")
@editor_options
@pass_app
def delegate_command(
    app: App,
    event: str,
    roles: tuple[str, ...],
    extra_roles: tuple[str, ...],
    signers: tuple[str, ...],
    threshold: int | None,
    expiry: int | None,
    signing_period: int | None,
    online_uri: str | None,
    paths: tuple[str, ...],
    terminating: bool | None,
    bins: int | str | None,
    remove: bool,
    sigstore_identity: str | None,
    sigstore_issuer: str | None,
    key_uri: str | None,
    user: str | None,
    push: bool,
) -> None:
    """Change ROLE on the signing event EVENT.

    ROLE is root, targets, timestamp, snapshot or a delegated role. A role
    that does not exist is created as a delegation from targets covering
    ROLE/... (signed by you unless --signer says otherwise). Handles without
    a key yet are invited; they accept with `repo-sign EVENT`.

    \b
    Examples:
      tufrepo delegate sign/add-releases releases --signer @alice --signer @bob --threshold 2
      tufrepo delegate sign/ts timestamp --expiry 7 --signing-period 6
      tufrepo delegate sign/cleanup old-role --remove
    """
    from tufrepo.ops.editing import RoleChange
    from tufrepo.ops.maintainer import OnlineKeySpec, change_delegation

    names = list(dict.fromkeys([*roles, *extra_roles]))
    if not names:
        names = [app.prompt("Role to change", missing="ROLE")]
    settings = settings_for(app, user)
    change = RoleChange(
        signers=list(signers) or None,
        threshold=threshold,
        expiry=expiry,
        signing_period=signing_period,
        paths=list(paths) or None,
        terminating=terminating,
        bins=bins,
    )
    online = OnlineKeySpec(online_uri, sigstore_identity, sigstore_issuer) if online_uri else None
    result = change_delegation(
        app.git(), event, names, change, settings=settings,
        signers=user_signers(app, settings, key_uri), now=app.now(), online=online,
        remove=remove, push=push, handlers=cli_handlers(app),
    )  # fmt: skip
    if not result.changed:
        app.result({"event": event, "changed": False})
        return
    app.say(
        f"Pushed to {result.where}." if push else f"Saved as {result.where}; push it when ready."
    )
    app.result(
        {
            "event": event,
            "changed": True,
            "commit": result.commit,
            "signed": list(result.signed),
            "invited": result.invited,
            "pushed": push,
        }
    )
