"""Open, comment on or close the issue that tracks a pipeline's failures (either forge).

A failing scheduled or publishing run opens an issue labelled with the
workflow's name (or comments on the open one); the next success closes it.

    python .github/scripts/report.py --workflow online-sign --result failure [--run-url URL]

Without --run-url, the forge's own link to the current run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import forge


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", required=True, help="workflow name, used as the label")
    parser.add_argument("--result", required=True, help="success, failure, cancelled or skipped")
    parser.add_argument("--run-url", help="default: the current run's page")
    args = parser.parse_args(argv)
    hub = forge.from_env()
    run_url = args.run_url or hub.run_url()
    failed = args.result not in ("success", "skipped")
    number = hub.find_issue(args.workflow)
    if failed and number is None:
        hub.open_issue(
            args.workflow,
            f"Failure in {args.workflow}",
            f"The {args.workflow} workflow failed: {run_url}",
        )
    elif failed and number is not None:
        hub.comment_issue(number, f"Failed again: {run_url}")
    elif number is not None:
        hub.close_issue(number, f"Succeeded again: {run_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
