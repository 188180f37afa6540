"""Move every workflow's pin of tufrepo's actions to one release commit (tufrepo's own release step).

The TUF workflows call ``<home>/.github/actions/<name>@<commit> # vX.Y.Z``.
A release is a tag; the commit after it pins the workflows to the tag's
commit, so that repositories created from the template start at a release
and dependabot proposes the next ones.

    python .github/scripts/pin_tufrepo.py 0123…cdef v0.2.0 [--home owner/tufrepo]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
PIN = re.compile(
    r"(?P<home>[\w.-]+/tufrepo)(?P<path>/\.github/actions/[\w-]+)@[0-9a-f]{40}(?:\s*#\s*v\S*)?"
)


def repin(text: str, commit: str, version: str, home: str | None = None) -> str:
    """``text`` with every tufrepo action pin moved to ``commit`` (and ``home``, if given)."""

    def replace(match: re.Match[str]) -> str:
        return f"{home or match.group('home')}{match.group('path')}@{commit} # {version}"

    pinned = PIN.sub(replace, text)
    if home:  # ci.yml runs tufrepo's own tests only in its home repository
        pinned = re.sub(
            r"github\.repository == '[\w.-]+/tufrepo'", f"github.repository == '{home}'", pinned
        )
    return pinned


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the release's full commit sha")
    parser.add_argument("version", help="the release tag, e.g. v0.2.0")
    parser.add_argument("--home", help="owner/tufrepo, when it moved")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[0-9a-f]{40}", args.commit) or not re.fullmatch(
        r"v\d+\.\d+\.\d+\S*", args.version
    ):
        parser.error("give the full 40-character commit sha and a tag like v1.2.3")
    for path in sorted(WORKFLOWS.glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        pinned = repin(text, args.commit, args.version, args.home)
        if pinned != text:
            path.write_text(pinned, encoding="utf-8")
            print(f"pinned {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
