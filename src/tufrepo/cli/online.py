"""`tufrepo online-sign`: the scheduled CI job that refreshes snapshot and timestamp on main."""

from __future__ import annotations

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import anchor_option, cli_handlers, remote_option, signer_env
from tufrepo.core.constants import SNAPSHOT, TIMESTAMP


@click.command("online-sign")
@click.option(
    "--push/--no-push",
    default=False,
    show_default=True,
    help="Push the new snapshot/timestamp commit to <remote>/main.",
)
@remote_option
@anchor_option
@pass_app
def online_sign_command(app: App, push: bool, remote: str, anchor: str | None) -> None:
    """Refresh snapshot and timestamp on main with the online key (CI).

    Refuses (exit 4) unless main is a valid successor of its anchor (--anchor:
    what clients already trust) under the same rules as a signing event, with
    every offline role signed by its threshold. Snapshot is re-signed when a targets role changed, in its
    signing period, or no longer valid; timestamp when snapshot changed, in its
    signing period, or no longer valid. A refused push (main moved) is
    retried on top of the new main, never forced. Nothing to do is exit 0.
    """
    from tufrepo.ops.keys import online_signers
    from tufrepo.ops.online import online_sign

    result = online_sign(
        app.git(), now=app.now(), signer_for=online_signers(signer_env(app)), remote=remote,
        anchor=anchor, push=push, handlers=cli_handlers(app),
    )  # fmt: skip
    if not result.signed:
        app.say("Online signing not needed.")
        app.result({"signed": [], "snapshot": None, "timestamp": None})
        return
    versions = ((SNAPSHOT, result.snapshot), (TIMESTAMP, result.timestamp))
    app.say(f"{result.message}: " + ", ".join(f"{r} v{v}" for r, v in versions if v))
    app.result(
        {
            "signed": list(result.signed),
            "snapshot": result.snapshot,
            "timestamp": result.timestamp,
            "commit": result.commit,
            "pushed": result.pushed,
        }
    )
