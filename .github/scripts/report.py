"""Open, comment on or close the issue that tracks a workflow's failures.

A failing scheduled or publishing run opens an issue labelled with the
workflow's name (or comments on the open one); the next success closes it.

    python .github/scripts/report.py --workflow online-sign --result failure --run-url URL
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ghcli import GhError, gh, gh_json


def open_issue(label: str) -> int | None:
    """The open issue carrying ``label``, if any."""
    found = gh_json("issue", "list", "--label", label, "--state", "open", "--json", "number")
    return int(found[0]["number"]) if found else None


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", required=True, help="workflow name, used as the label")
    parser.add_argument("--result", required=True, help="success, failure, cancelled or skipped")
    parser.add_argument("--run-url", required=True)
    args = parser.parse_args(argv)
    failed = args.result not in ("success", "skipped")
    number = open_issue(args.workflow)
    if failed and number is None:
        # the label may exist already, or labels may be managed elsewhere
        with contextlib.suppress(GhError):
            gh("label", "create", args.workflow, "--force", "--description", "tufrepo failures")
        gh("issue", "create", "--title", f"Failure in {args.workflow}", "--label", args.workflow,
           "--body", f"The {args.workflow} workflow failed: {args.run_url}")  # fmt: skip
    elif failed:
        gh("issue", "comment", str(number), "--body", f"Failed again: {args.run_url}")
    elif number is not None:
        gh("issue", "close", str(number), "--comment", f"Succeeded again: {args.run_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
