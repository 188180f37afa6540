"""`tufrepo test-client` and `tufrepo download`: the client side of a published repository."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.core.constants import DOWNLOAD_TIMEOUT as DEFAULT_TIMEOUT
from tufrepo.errors import UsageError

timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Give up (exit 4) when all downloads together take longer than this.",
)


def _valid_days(_ctx: click.Context, _param: click.Parameter, value: str) -> int | None:
    """``auto`` -> None (margins derived from each role's signing period), else whole days."""
    text = value.strip()
    if text == "auto":
        return None
    if not (text.isascii() and text.isdigit()):
        raise click.BadParameter(f"{value!r} is neither 'auto' nor a whole number of days")
    return int(text)


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise UsageError(f"--time: not an ISO 8601 time: {value}") from e
    from datetime import UTC

    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@click.command("test-client")
@click.argument("metadata_url")
@click.option(
    "--targets-url", metavar="URL", help="Default: METADATA_URL with metadata -> targets."
)
@click.option(
    "--root",
    "root_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The trusted root to start from (default: trust 1.root.json on first use).",
)
@click.option(
    "--update-from",
    metavar="URL",
    help="First refresh from this (currently deployed) metadata URL, then update from "
    "METADATA_URL as existing clients will.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="PATH",
    help="An artifact that must download and verify (repeat).",
)
@click.option(
    "--valid-days",
    default="auto",
    metavar="auto|DAYS",
    callback=_valid_days,
    show_default=True,
    help="auto: timestamp and snapshot must each be valid for at least half their own "
    "signing period (online-sign re-signs them when it starts; see below). N: refresh "
    "again as if N days had passed (0: no look ahead).",
)
@click.option(
    "--offline-valid-days",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Root and targets must not expire within this many days (time for a signing event).",
)
@click.option(
    "--time",
    "at",
    metavar="ISO8601",
    help="Check as if it were this time (default: now, or the global --now).",
)
@timeout_option
@pass_app
def test_client_command(
    app: App,
    metadata_url: str,
    targets_url: str | None,
    root_file: Path | None,
    update_from: str | None,
    targets: tuple[str, ...],
    valid_days: int | None,
    offline_valid_days: int,
    at: str | None,
    timeout: float,
) -> None:
    """Refresh a published repository with a TUF client and check its margins.

    Prints one line per check (OK or FAIL) and stops at the first failure,
    which exits 4 with the reason. Run it after every publish and on a
    schedule, so that expiry and broken deployments are caught before users
    hit them. A server that sends too slowly fails the run after --timeout
    seconds in all (exit 4) instead of hanging it.

    By default (--valid-days auto) timestamp and snapshot must each still be
    valid for half their own signing period: online-sign re-signs a role once
    it is in its signing period and runs every 6 hours, so a healthy
    repository always has more than that left; the check fails only when
    re-signing is overdue by half the signing period, with the other half
    left before clients fail. For the shipped timestamp (expiry 2 days,
    signing period 1 day): at least 12 hours, while normal operation keeps
    between 48 and about 18 hours. A fixed --valid-days 2 fails right after
    every publish, and 1 whenever a scheduled run starts late.

    \b
    Without --root, 1.root.json is trusted on first use (said so in the
    output); pin the root clients ship with for a real check:
      tufrepo test-client https://example.org/metadata --root root.json \\
          --offline-valid-days 30 --target app/1.0.json

    """
    from tufrepo.client import run_client_checks

    root = root_file.read_bytes() if root_file else None
    report = run_client_checks(
        metadata_url, targets_url=targets_url, root_bytes=root, update_from_url=update_from,
        targets=list(targets), valid_days=valid_days, offline_valid_days=offline_valid_days,
        now=_time(at) or app.now(), timeout=timeout,
    )  # fmt: skip
    for check in report.checks:
        app.say(
            f"{'OK  ' if check.ok else 'FAIL'} {check.name}"
            + (f": {check.detail}" if check.detail else "")
        )
    app.result(
        {
            "ok": report.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks],
        }
    )
    report.require_ok()


@click.command("download")
@click.argument("target_path")
@click.option(
    "--metadata-url", required=True, metavar="URL", help="The repository's metadata URL."
)
@click.option(
    "--targets-url", metavar="URL", help="Default: metadata URL with metadata -> targets."
)
@click.option(
    "--root",
    "root_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The root you trust (pin it; do not download it from the same place).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the artifact here (default: print it when it is JSON).",
)
@timeout_option
@pass_app
def download_command(
    app: App, target_path: str, metadata_url: str, targets_url: str | None,
    root_file: Path, output: Path | None, timeout: float,
) -> None:  # fmt: skip
    """Download TARGET_PATH through TUF and verify it.

    Refreshes from the pinned --root (the root.json you trust, obtained out
    of band), resolves TARGET_PATH through the delegations, downloads the
    artifact and checks its length and hashes against signed metadata. Exit 4
    when anything does not verify or the server has not sent everything
    within --timeout seconds; nothing is written then.

    \b
      tufrepo download app/1.0.json --metadata-url https://example.org/metadata \\
          --root root.json              # JSON is printed
      tufrepo download app/1.0.tar.gz --metadata-url https://example.org/metadata \\
          --root root.json -o app.tar.gz
    """
    from tufrepo.client import download_target

    data = download_target(
        metadata_url, targets_url, root_file.read_bytes(), target_path, now=app.now(),
        timeout=timeout,
    )  # fmt: skip
    if output is not None:
        output.write_bytes(data)
        app.say(f"Verified {target_path} ({len(data)} bytes) -> {output}")
    else:
        try:
            json.loads(data)
        except ValueError as e:
            raise UsageError(f"{target_path} is not JSON", hint="pass -o FILE to save it") from e
        click.echo(data.decode(), nl=False)
    app.result(
        {"target": target_path, "length": len(data), "output": str(output) if output else None}
    )
