"""Command results in the files each CI reads: GitHub's step outputs, GitLab's dotenv reports.

A command's result (the keys of its ``--json`` document) goes

* to ``$GITHUB_OUTPUT`` on GitHub Actions (``key=value``, multi-line values
  as heredocs), read by later steps as ``steps.<id>.outputs.<key>``;
* to the file ``$TUFREPO_DOTENV`` names on GitLab CI, in the format of an
  ``artifacts:reports:dotenv`` report: ``TUFREPO_<KEY>=value`` per line (keys
  upper-cased, ``-`` as ``_``), values on one line (JSON for lists and
  objects), which later jobs of the pipeline receive as variables.

GitLab has no job summary: the Markdown status goes to the merge request
comment and the job log instead.

Run as ``python -m tufrepo.ci_output --result result.json --dotenv FILE`` to
turn a ``tufrepo --json`` document into a dotenv report.

Not for: deciding what a command reports (the commands do), reading the
environment (the caller passes it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

DOTENV_ENV = "TUFREPO_DOTENV"
DOTENV_PREFIX = "TUFREPO_"
_HEREDOC = "TUFREPO_EOF"
_KEY = re.compile(r"[^A-Za-z0-9_]")
# GitLab refuses a dotenv report with a value over this many characters (and the
# whole report over 5 KiB): longer values are left out, not truncated.
DOTENV_MAX_VALUE = 1024


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def github_output(data: Mapping[str, Any]) -> str:
    """``data`` in the format of ``$GITHUB_OUTPUT``."""
    lines = []
    for key, value in data.items():
        text = _text(value)
        if "\n" in text:
            lines.append(f"{key}<<{_HEREDOC}\n{text}\n{_HEREDOC}\n")
        else:
            lines.append(f"{key}={text}\n")
    return "".join(lines)


def dotenv_key(key: str, prefix: str = DOTENV_PREFIX) -> str:
    """The variable name for a result key: ``commit`` -> ``TUFREPO_COMMIT``."""
    return prefix + _KEY.sub("_", key).upper()


def dotenv(data: Mapping[str, Any], prefix: str = DOTENV_PREFIX) -> str:
    """``data`` as a GitLab dotenv report (values that cannot be one left out)."""
    lines = []
    for key, value in data.items():
        text = "" if value is None else _text(value)
        if "\n" in text or len(text) > DOTENV_MAX_VALUE:
            continue
        lines.append(f"{dotenv_key(key, prefix)}={text}\n")
    return "".join(lines)


def write(data: Mapping[str, Any], env: Mapping[str, str]) -> list[Path]:
    """Append ``data`` to every CI output file ``env`` names; the files written."""
    written = []
    for variable, render in (("GITHUB_OUTPUT", github_output), (DOTENV_ENV, dotenv)):
        path = env.get(variable)
        if path:
            with Path(path).open("a", encoding="utf-8") as f:
                f.write(render(data))
            written.append(Path(path))
    return written


def main(argv: list[str] | None = None) -> int:
    """Append a ``tufrepo --json`` document to a dotenv report."""
    parser = argparse.ArgumentParser(prog="python -m tufrepo.ci_output", description=main.__doc__)
    parser.add_argument("--result", type=Path, help="a `tufrepo --json` document")
    parser.add_argument("--dotenv", type=Path, required=True, help="the report to append to")
    parser.add_argument("--prefix", default=DOTENV_PREFIX)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="also set KEY"
    )
    args = parser.parse_args(argv)
    text = args.result.read_text(encoding="utf-8").strip() if args.result else ""
    data: dict[str, Any] = json.loads(text) if text else {}
    if not isinstance(data, dict):
        parser.error("stdin is not a JSON object")
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item}: expected KEY=VALUE")
        data[key] = value
    with args.dotenv.open("a", encoding="utf-8") as f:
        f.write(dotenv(data, args.prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
