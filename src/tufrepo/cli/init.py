"""`tufrepo init EVENT`: create a new repository on a signing event."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import (
    cli_handlers,
    editor_options,
    parse_int,
    parse_role_values,
    settings_for,
    user_signers,
)
from tufrepo.core.constants import ONLINE_ROLES, ROOT, TARGETS, TOP_LEVEL_ROLES
from tufrepo.errors import UsageError

if TYPE_CHECKING:
    from tufrepo.ops.editing import RoleChange


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
    from tufrepo.ops.maintainer import OnlineKeySpec, init_repository

    settings = settings_for(app, user)
    changes = _changes(signer_opts, threshold_opts, expiry_opts, signing_opts)
    uri = online_uri or app.prompt(
        "Online key URI for snapshot and timestamp", missing="--online-key URI"
    )
    result = init_repository(
        app.git(), event, settings=settings, signers=user_signers(app, settings, key_uri),
        changes=changes, online=OnlineKeySpec(uri, sigstore_identity, sigstore_issuer),
        now=app.now(), push=push, handlers=cli_handlers(app),
    )  # fmt: skip
    app.say(
        f"Pushed to {result.where}." if push else f"Saved as {result.where}; push it when ready."
    )
    app.result(
        {
            "event": event,
            "commit": result.commit,
            "signed": list(result.signed),
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
    from tufrepo.ops.editing import RoleChange

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
