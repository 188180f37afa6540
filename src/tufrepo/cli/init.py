"""`tufrepo init EVENT`: create a new repository on a signing event."""

from __future__ import annotations

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import (
    editor_options,
    online_key_from,
    open_session,
    parse_int,
    parse_role_values,
    settings_for,
    sign_what_i_owe,
    user_key,
)
from tufrepo.core.constants import ONLINE_ROLES, ROOT, TARGETS, TIMESTAMP, TOP_LEVEL_ROLES
from tufrepo.errors import UsageError
from tufrepo.ops.editing import RoleChange, init_repository, needs_user_key

TEMPLATE_READMES = ("metadata/README.md", "targets/README.md")


@click.command("init")
@click.argument("event")
@click.option(
    "--signer",
    "signer_opts",
    multiple=True,
    metavar="ROLE=@HANDLE",
    help="A signer of root or targets (repeat; default: you).",
)
@click.option(
    "--threshold",
    "threshold_opts",
    multiple=True,
    metavar="ROLE=N",
    help="Signatures required for root or targets (default 1).",
)
@click.option(
    "--expiry",
    "expiry_opts",
    multiple=True,
    metavar="ROLE=DAYS",
    help="Expiry period of a role (defaults: root/targets/snapshot 365, timestamp 2).",
)
@click.option(
    "--signing-period",
    "signing_opts",
    multiple=True,
    metavar="ROLE=DAYS",
    help="Days before expiry when re-signing starts (defaults: 60, timestamp 1).",
)
@click.option(
    "--online-key",
    "online_uri",
    metavar="URI",
    help="Signer URI of the online key for snapshot and timestamp; its public key "
    "is imported now.",
)
@editor_options
@pass_app
def init_command(
    app: App,
    event: str,
    signer_opts: tuple[str, ...],
    threshold_opts: tuple[str, ...],
    expiry_opts: tuple[str, ...],
    signing_opts: tuple[str, ...],
    online_uri: str | None,
    sigstore_identity: str | None,
    sigstore_issuer: str | None,
    key_uri: str | None,
    user: str | None,
    push: bool,
) -> None:
    """Create a new TUF repository on the signing event EVENT (e.g. sign/init).

    Root and targets are signed by you unless --signer says otherwise; other
    handles are invited and accept with `repo-sign EVENT`. Snapshot and
    timestamp are created later by `tufrepo online-sign` on main.

    \b
    Example:
      tufrepo init sign/init --signer root=@alice --signer root=@bob \\
          --threshold root=2 --online-key gcpkms:projects/p/.../cryptoKeyVersions/1
    """
    settings = settings_for(app, user)
    me = settings.user_name
    changes = _changes(signer_opts, threshold_opts, expiry_opts, signing_opts)
    for role in (ROOT, TARGETS):  # default signer: the invoking user
        change = changes.setdefault(role, RoleChange())
        change.signers = change.signers or [me]
    uri = online_uri or app.prompt(
        "Online key URI for snapshot and timestamp", missing="--online-key URI"
    )
    changes.setdefault(TIMESTAMP, RoleChange()).online_key = online_key_from(
        app, uri, sigstore_identity, sigstore_issuer, remote=settings.pull_remote
    )

    session = open_session(app, event, settings)
    evt = session.event
    my_key = user_key(app, key_uri, settings) if needs_user_key(evt, changes, me) else None
    result = init_repository(evt, changes, user=me, user_key=my_key)
    for path in TEMPLATE_READMES:
        session.store.delete(path)
    session.commit("Initial root and targets")
    app.say("Created root and targets.")
    for handle, roles in sorted(result.invited.items()):
        app.say(f"Invited {handle} to sign {', '.join(roles)}")

    signed = sign_what_i_owe(app, session, settings, key_uri)
    where = session.publish(push=push)
    app.say(f"Pushed to {where}." if push else f"Saved as {where}; push it when ready.")
    app.result(
        {
            "event": event,
            "commit": session.base,
            "signed": signed,
            "invited": result.invited,
            "pushed": push,
        }
    )


def _changes(
    signer_opts: tuple[str, ...],
    threshold_opts: tuple[str, ...],
    expiry_opts: tuple[str, ...],
    signing_opts: tuple[str, ...],
) -> dict[str, RoleChange]:
    changes: dict[str, RoleChange] = {}
    for role, handles in parse_role_values(signer_opts, "--signer", (ROOT, TARGETS)).items():
        changes.setdefault(role, RoleChange()).signers = handles
    for role, values in parse_role_values(threshold_opts, "--threshold", (ROOT, TARGETS)).items():
        changes.setdefault(role, RoleChange()).threshold = _last_int(values, "--threshold")
    for role, values in parse_role_values(expiry_opts, "--expiry", TOP_LEVEL_ROLES).items():
        changes.setdefault(role, RoleChange()).expiry = _last_int(values, "--expiry")
    for role, values in parse_role_values(
        signing_opts, "--signing-period", TOP_LEVEL_ROLES
    ).items():
        changes.setdefault(role, RoleChange()).signing_period = _last_int(
            values, "--signing-period"
        )
    for role in ONLINE_ROLES:
        if role in changes and changes[role].signers:
            raise UsageError(f"{role} is signed by the online key; --signer does not apply")
    return changes


def _last_int(values: list[str], option: str) -> int:
    if len(values) > 1:
        raise UsageError(f"{option} given more than once for the same role")
    return parse_int(values[0], option)
