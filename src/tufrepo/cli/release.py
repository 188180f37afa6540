"""`tufrepo open-event`: another project's release CI adds artifacts on a signing event."""

from __future__ import annotations

from pathlib import Path

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import cli_handlers
from tufrepo.errors import UsageError


@click.command("open-event")
@click.argument("event", required=False)
@click.option(
    "--remote",
    "remote_url",
    metavar="URL",
    help="Work on this TUF repository from anywhere (a temporary shallow clone). "
    "Credentials come from the URL or git's credential helper and are never printed.",
)
@click.option(
    "--add",
    "adds",
    multiple=True,
    metavar="SRC=TARGET_PATH",
    help="Add or replace the artifact TARGET_PATH with the local file SRC (repeat).",
)
@click.option(
    "--remove",
    "removes",
    multiple=True,
    metavar="TARGET_PATH",
    help="Remove the artifact TARGET_PATH (repeat).",
)
@click.option("--message", help="The commit message.")
@click.option(
    "--replace", is_flag=True, help="Allow changing an artifact that is already released on main."
)
@click.option(
    "--release",
    "release_version",
    metavar="VERSION",
    help="With --run-id instead of EVENT: use sign/release-<VERSION, dots as hyphens>-<RUN_ID>.",
)
@click.option("--run-id", metavar="ID", help="The CI run id for --release.")
@click.option(
    "--push/--no-push",
    default=True,
    show_default=True,
    help="Push the event branch (with --no-push nothing leaves this machine).",
)
@pass_app
def open_event_command(
    app: App,
    event: str | None,
    remote_url: str | None,
    adds: tuple[str, ...],
    removes: tuple[str, ...],
    message: str | None,
    release_version: str | None,
    run_id: str | None,
    replace: bool,
    push: bool,
) -> None:
    """Add or remove artifacts on the signing event EVENT and push it.

    The files are written under targets/ and the targets roles that own
    them get a new unsigned version, as `update-targets` would do; the
    maintainers then sign the event and merge it. Running it again with the
    same content does nothing. This command can push the branch but can
    never sign or merge.

    \b
    Example (an application's release job):
      tufrepo open-event --remote https://x-access-token:$TOKEN@github.com/org/tuf-repo \\
          --release 1.4.2-rc --run-id "$GITHUB_RUN_ID" \\
          --add release.json=app/releases/v1.4.2-rc.json
    """
    from tufrepo.ops.opening import open_event
    from tufrepo.ops.release import release_event_name

    if (event is None) == (release_version is None):
        raise UsageError("give either EVENT or --release VERSION --run-id ID")
    if release_version is not None:
        if not run_id:
            raise UsageError("--release needs --run-id")
        event = release_event_name(release_version, run_id)
    assert event is not None  # noqa: S101 - narrowed above
    if not adds and not removes:
        raise UsageError("nothing to do: give --add SRC=TARGET_PATH or --remove TARGET_PATH")
    contents = _read_sources(adds)
    result = open_event(
        event, contents, list(removes), now=app.now(), git=None if remote_url else app.git(),
        remote_url=remote_url, message=message, replace=replace, push=push,
        handlers=cli_handlers(app),
    )  # fmt: skip
    if not result.changed:
        app.say("Nothing to do: the event already has this content.")
        app.result({"event": event, "changed": False, "roles": [], "pushed": False})
        return
    if push:
        app.say(f"Pushed {event}; its signers sign it with `repo-sign {event}`.")
    elif result.where is not None:
        app.say(f"Not pushed (--no-push): saved as {result.where}.")
    else:
        app.say(
            f"Not pushed (--no-push): commit {result.commit_short} is discarded with the clone."
        )
    app.result(
        {
            "event": event,
            "changed": True,
            "roles": list(result.roles),
            "commit": result.commit,
            "pushed": push,
        }
    )


def _read_sources(adds: tuple[str, ...]) -> dict[str, bytes]:
    from tufrepo.core.artifacts import check_target_path

    contents: dict[str, bytes] = {}
    for item in adds:
        src, sep, target = item.partition("=")
        if not sep or not src or not target:
            raise UsageError(f"--add {item!r} is not SRC=TARGET_PATH")
        check_target_path(target)
        try:
            contents[target] = Path(src).read_bytes()
        except OSError as e:
            raise UsageError(f"--add: cannot read {src}: {e.strerror}") from e
    return contents
