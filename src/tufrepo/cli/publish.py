"""`tufrepo publish OUT`: build the static repository site after checking it."""

from __future__ import annotations

from pathlib import Path

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.cli.common import anchor_option
from tufrepo.core.constants import SITE_MARKER


@click.command("publish")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--metadata-path",
    default="metadata",
    show_default=True,
    help="Where metadata goes inside OUT ('.' for the top level); a relative path, no '..'.",
)
@click.option(
    "--targets-path",
    default="targets",
    show_default=True,
    help="Where artifacts go inside OUT; a relative path, no '..'.",
)
@click.option("--no-targets", is_flag=True, help="Publish metadata only.")
@click.option(
    "--force",
    is_flag=True,
    help=f"Replace OUT even when it holds files publish did not write (no {SITE_MARKER} "
    "accounts for them). Never the checkout itself.",
)
@anchor_option
@pass_app
def publish_command(
    app: App,
    out: Path,
    metadata_path: str,
    targets_path: str,
    no_targets: bool,
    force: bool,
    anchor: str | None,
) -> None:
    """Build the consistent-snapshot repository in OUT (e.g. for GitHub Pages).

    Versioned metadata (every root, N.snapshot.json, N.<role>.json),
    timestamp.json, hash-prefixed artifacts, and index.html at the top of OUT:
    a status page (roles, signers, expiry and signing periods, artifacts, how
    to verify); metadata/index.html redirects to it. Before OUT is touched,
    main is judged from its anchor (--anchor; default: OUT itself when it
    holds a previous publish output, else main's history) with the same rules
    as a signing event, every artifact's length and hash are checked against
    its metadata, metadata sizes are checked against default client limits,
    and the staged result is refreshed by a TUF client (python-tuf's ngclient)
    that resolves every artifact; any failure is exit 4 and leaves OUT as it
    was.

    OUT must be new, empty, or a site publish wrote before (its .tufrepo-site
    lists every file it wrote): anything else in it is refused (exit 4) unless
    --force, so publish never deletes files it did not write. OUT is never the
    checkout, a directory containing it, or inside .git, metadata/ or
    targets/. The site is staged next to OUT and renamed into place;
    directories are 0755 and files 0644 whatever the umask.

    \b
      tufrepo publish site/                       # site/metadata, site/targets
      tufrepo publish site/ --metadata-path .     # metadata at the top level
      tufrepo publish site/ --no-targets          # artifacts served elsewhere
    """
    from tufrepo.ops.publish import publish_site

    result = publish_site(
        app.git(), out, now=app.now(), anchor=anchor, metadata_path=metadata_path,
        targets_path=targets_path, include_targets=not no_targets, force=force,
    )  # fmt: skip
    for warning in result.warnings:
        app.warn(warning)
    app.say(f"Main is a valid successor of {result.anchor}.")
    versions = ", ".join(f"{role} v{v}" for role, v in result.roles.items())
    app.say(f"Published {versions} and {result.artifacts} artifact(s) to {result.out}")
    app.result({"out": str(result.out), "roles": result.roles, "artifacts": result.artifacts})
