"""Open, comment on or close the issue that tracks a pipeline's failures (either forge).

A failing scheduled or publishing run opens an issue labelled
``tufrepo:<workflow>-failure`` (or comments on the open one); the next success
closes it.  The label names tufrepo and the workflow, so that no label a
repository already uses for its own issues (``publish``, ``test``) is taken
over, and each workflow has its own issue.

Only the workflow run that started a chain reports: online-sign calls
publish, which calls test, and the called workflows leave reporting to their
caller (their ``caller-reports`` input), so one failure opens one issue.

    python .github/scripts/report.py --workflow online-sign --result failure [--run-url URL]

Without --run-url, the forge's own link to the current run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import forge


def label_for(workflow: str) -> str:
    """The failure label of ``workflow``: unique to tufrepo and to the workflow."""
    return f"tufrepo:{workflow}-failure"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", required=True, help="workflow name (labels the issue)")
    parser.add_argument("--result", required=True, help="success, failure, cancelled or skipped")
    parser.add_argument("--run-url", help="default: the current run's page")
    args = parser.parse_args(argv)
    hub = forge.from_env()
    run_url = args.run_url or hub.run_url()
    failed = args.result not in ("success", "skipped")
    label = label_for(args.workflow)
    number = hub.find_issue(label)
    if failed and number is None:
        hub.open_issue(
            label,
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
