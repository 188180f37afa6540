"""`tufrepo open-event`: another project's release CI adds artifacts on a signing event."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.core.constants import DEFAULT_REMOTE, ROOT
from tufrepo.errors import RejectedError, UsageError
from tufrepo.gitrepo import GitRepo, redact
from tufrepo.ops.release import check_target_path, release_event_name, stage_artifacts
from tufrepo.ops.session import EventSession


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
    for path in removes:
        check_target_path(path)
    with tempfile.TemporaryDirectory(prefix="tufrepo-open-event-") as tmp:
        if remote_url:
            app.say(f"Cloning {redact(remote_url)}")
            git = GitRepo.clone_shallow(remote_url, Path(tmp) / "repo")
        else:
            git = app.git()
        try:
            _open_event(
                app, git, event, contents, list(removes), message,
                push=push, local=not remote_url, replace=replace,
            )  # fmt: skip
        finally:
            if remote_url:
                git.close()


def _read_sources(adds: tuple[str, ...]) -> dict[str, bytes]:
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


def _open_event(
    app: App,
    git: GitRepo,
    event: str,
    contents: dict[str, bytes],
    removes: list[str],
    message: str | None,
    *,
    push: bool,
    local: bool,
    replace: bool,
) -> None:
    session = EventSession(
        git, event, pull_remote=DEFAULT_REMOTE, push_remote=DEFAULT_REMOTE, now=app.now()
    )
    app.say(f"{'New' if session.is_new else 'Existing'} signing event {event}")
    if not session.event.repo.exists(ROOT):
        raise RejectedError("the repository has no metadata/root.json yet")
    roles = stage_artifacts(session.event, session.store, contents, removes, replace=replace)
    default = "Add " + ", ".join(contents) if contents else "Remove " + ", ".join(removes)
    sha = session.commit(message or default)
    if sha is None:
        app.say("Nothing to do: the event already has this content.")
        app.result({"event": event, "changed": False, "roles": [], "pushed": False})
        return
    app.say(f"Updated {', '.join(roles) or 'artifacts'}: new unsigned version(s) for signing.")
    if push:
        session.publish(push=True)
        app.say(f"Pushed {event}; its signers sign it with `repo-sign {event}`.")
    elif local:
        app.say(f"Not pushed (--no-push): saved as {session.publish(push=False)}.")
    else:
        app.say(f"Not pushed (--no-push): commit {sha[:7]} is discarded with the clone.")
    app.result({"event": event, "changed": True, "roles": roles, "commit": sha, "pushed": push})
