"""Start the signing-event pipeline for each event `tufrepo bump-expiring` opened.

Pushes made by CI start no pipeline (GitHub: the default token never does;
GitLab: the pipeline pushes with ``ci.skip``), so the bump-expiring job
starts one for each new branch.

    python .github/scripts/dispatch_events.py --result bump.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import forge


def events(result: dict[str, object]) -> list[str]:
    """The events in `tufrepo --json bump-expiring` output (only sign/* branches)."""
    found = result.get("events", [])
    if not isinstance(found, list):
        return []
    return [e for e in found if isinstance(e, str) and e.startswith("sign/")]


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    hub = forge.from_env()
    for event in events(json.loads(args.result.read_text(encoding="utf-8"))):
        hub.start_event_pipeline(event)
        print(f"Started the signing-event pipeline for {event}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
