"""`tufrepo delegate EVENT ROLE`: change a role or a delegation on a signing event."""

from __future__ import annotations

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import (
    editor_options,
    online_key_from,
    open_session,
    settings_for,
    sign_what_i_owe,
    user_key,
)
from tufrepo.core.constants import DELEGATION_DEPTH
from tufrepo.errors import UsageError
from tufrepo.ops.editing import RoleChange, configure_role, needs_user_key, remove_delegation


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
    names = list(dict.fromkeys([*roles, *extra_roles]))
    if not names:
        names = [app.prompt("Role to change", missing="ROLE")]
    settings = settings_for(app, user)
    me = settings.user_name
    change = RoleChange(
        signers=list(signers) or None,
        threshold=threshold,
        expiry=expiry,
        signing_period=signing_period,
        paths=list(paths) or None,
        terminating=terminating,
    )
    if online_uri:
        change.online_key = online_key_from(
            app, online_uri, sigstore_identity, sigstore_issuer, remote=settings.pull_remote
        )
    if remove and (signers or threshold or expiry or signing_period or online_uri or paths):
        raise UsageError("--remove takes no other role settings")

    session = open_session(app, event, settings)
    evt = session.event
    is_new_role = any(not evt.repo.exists(n) and evt.repo.delegator_name(n) is None for n in names)
    wants_me = needs_user_key(evt, dict.fromkeys(names, change), me) or (
        is_new_role
        and change.signers is None
        and change.online_key is None
        and me not in evt.known_handles()
    )
    my_key = user_key(app, key_uri, settings) if wants_me else None
    invited: dict[str, list[str]] = {}
    for name in names:
        result = (
            remove_delegation(evt, name)
            if remove
            else configure_role(evt, name, change, user=me, user_key=my_key)
        )
        for handle, invited_roles in result.invited.items():
            invited.setdefault(handle, []).extend(invited_roles)
    if (
        session.commit(
            f"Change {', '.join(names)}" if not remove else f"Remove {', '.join(names)}"
        )
        is None
    ):
        app.say("Nothing to do.")
        app.result({"event": event, "changed": False})
        return
    for handle, invited_roles in sorted(invited.items()):
        app.say(f"Invited {handle} to sign {', '.join(invited_roles)}")
    signed = sign_what_i_owe(app, session, settings, key_uri)
    where = session.publish(push=push)
    app.say(f"Pushed to {where}." if push else f"Saved as {where}; push it when ready.")
    app.result(
        {
            "event": event,
            "changed": True,
            "commit": session.base,
            "signed": signed,
            "invited": invited,
            "pushed": push,
        }
    )
