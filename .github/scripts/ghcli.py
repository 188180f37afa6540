"""The one place the workflow glue scripts call the GitHub CLI (`gh`).

Decisions live in the scripts' Python (tested with a recording stand-in for
`gh`); this module only runs `gh` and decodes its JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any


class GhError(RuntimeError):
    """`gh` failed."""


def gh(*args: str, stdin: str | None = None) -> str:
    """Run `gh ARGS` (the repository comes from $GH_REPO) and return stdout."""
    done = subprocess.run(
        [os.environ.get("GH", "gh"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise GhError(f"gh {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def gh_json(*args: str) -> Any:
    """Run `gh` and decode its JSON output (empty output is None)."""
    out = gh(*args).strip()
    return json.loads(out) if out else None
