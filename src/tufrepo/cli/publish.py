"""`tufrepo publish OUT`: build the static repository site after checking it."""

from __future__ import annotations

from pathlib import Path

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import anchor_option, judge_main_checkout
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import WorktreeStore
from tufrepo.ops.publish import build_site


@click.command("publish")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--metadata-path",
    default="metadata",
    show_default=True,
    help="Where metadata goes inside OUT ('.' for the top level).",
)
@click.option(
    "--targets-path", default="targets", show_default=True, help="Where artifacts go inside OUT."
)
@click.option("--no-targets", is_flag=True, help="Publish metadata only.")
@anchor_option
@pass_app
def publish_command(
    app: App,
    out: Path,
    metadata_path: str,
    targets_path: str,
    no_targets: bool,
    anchor: str | None,
) -> None:
    """Build the consistent-snapshot repository in OUT (e.g. for GitHub Pages).

    Versioned metadata (every root, N.snapshot.json, N.<role>.json),
    timestamp.json, index.html (a readable status page) and hash-prefixed
    artifacts. Before OUT is touched, main is judged from its anchor (--anchor;
    default: OUT itself when it holds a previous publish output, else main's
    history) with the same rules as a signing event, every artifact's
    length and hash are checked against its metadata, metadata sizes are
    checked against default client limits, and the staged result is refreshed
    by a TUF client (python-tuf's ngclient) that resolves every artifact; any
    failure is exit 4 and leaves OUT as it was.

    \b
      tufrepo publish site/                       # site/metadata, site/targets
      tufrepo publish site/ --metadata-path .     # metadata at the top level
      tufrepo publish site/ --no-targets          # artifacts served elsewhere
    """
    top = app.git().top
    store = WorktreeStore(top)
    if anchor is None and (out / metadata_path / "timestamp.json").is_file():
        anchor = str(out / metadata_path)  # the previous publish output: what clients have
    judge_main_checkout(app, anchor, "publish")
    repo = TufRepository(store, now=app.now())
    result = build_site(
        repo, store, out, now=app.now(), metadata_path=metadata_path,
        targets_path=targets_path, include_targets=not no_targets,
    )  # fmt: skip
    versions = ", ".join(f"{role} v{v}" for role, v in result.roles.items())
    app.say(f"Published {versions} and {result.artifacts} artifact(s) to {result.out}")
    app.result({"out": str(result.out), "roles": result.roles, "artifacts": result.artifacts})
