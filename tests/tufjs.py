"""Run tuf-js (tests/js/client.js), the independent client every published repository meets."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

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
