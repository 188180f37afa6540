"""Run tuf-js (tests/js/client.js), the independent client every published repository meets."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tuf.api.metadata import Metadata, Targets
from webserver import serve_directory

from tufrepo.client import download_target

CLIENT = Path(__file__).parent / "js" / "client.js"
MODULES = Path(__file__).parent / "js" / "node_modules" / "tuf-js"


def tufjs_refresh(
    metadata_url: str, targets_url: str, root: Path, targets: list[str]
) -> tuple[bool, dict[str, Any] | str]:
    """Refresh and download with tuf-js: (True, result) or (False, error text)."""
    node = shutil.which("node")
    if node is None or not MODULES.exists():
        pytest.fail("tuf-js is required: install Node.js and run `npm ci --prefix tests/js`")
    with tempfile.TemporaryDirectory(prefix="tufjs-") as out:
        done = subprocess.run(
            [node, str(CLIENT), metadata_url, targets_url, str(root), out, *targets],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        return False, done.stderr.strip()
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return True, result


def check_site_with_both_clients(site: Path, now: datetime) -> None:
    """Serve a published site on 127.0.0.1; ngclient (at ``now``) and tuf-js both refresh
    and download every artifact it lists."""
    metadata = site / "metadata"
    targets: list[str] = []
    for path in metadata.glob("*.json"):
        signed: object = Metadata.from_file(str(path)).signed
        if isinstance(signed, Targets):
            targets += list(signed.targets)
    root = (metadata / "1.root.json").read_bytes()
    with serve_directory(site) as url:
        for target in targets:
            download_target(f"{url}/metadata", None, root, target, now=now)
        ok, detail = tufjs_refresh(
            f"{url}/metadata", f"{url}/targets", metadata / "1.root.json", targets
        )
        assert ok, detail
