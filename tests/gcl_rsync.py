#!/usr/bin/env python3
"""A stand-in for the `rsync` calls gitlab-ci-local makes, where rsync is not installed.

gitlab-ci-local copies files with rsync: the project's tracked files into its
state directory before a run, and artifacts (paths, dotenv reports) out of and
into jobs.  This implements the subset of rsync those calls use:

* ``-a``/``-r`` (recursive copy, metadata kept), ``-R`` (keep each source's path
  relative to ``./`` or to the ``--files-from`` base), ``--files-from=FILE``;
* ``--exclude PATTERN``/``--exclude-from=FILE`` (``/name`` anchored, ``**`` and
  globs), ``--delete``/``--delete-excluded`` (the destination becomes a mirror);
* a source ending in ``/`` or ``/.`` copies its contents.

Anything else fails with exit 2, so a new kind of call is noticed, not guessed.
"""

from __future__ import annotations

import fnmatch
import shutil
import sys
from pathlib import Path

FLAGS = {"a", "r", "R"}


def _excluded(relative: str, patterns: list[str]) -> bool:
    for raw in patterns:
        anchored = raw.startswith("/")
        pattern = raw.strip("/")
        if not pattern:
            continue
        if anchored:
            if relative == pattern or relative.startswith(pattern + "/"):
                return True
            continue
        parts = relative.split("/")
        candidates = ["/".join(parts[i:]) for i in range(len(parts))] + parts
        if pattern.endswith("/**"):
            base = pattern.removesuffix("/**")
            if relative == base or relative.startswith(base + "/"):
                return True
        if any(fnmatch.fnmatch(c, pattern) for c in candidates) or relative.startswith(
            pattern + "/"
        ):
            return True
    return False


def _copy(source: Path, target: Path, relative: str, excludes: list[str]) -> None:
    if _excluded(relative, excludes):
        return
    if source.is_dir() and not source.is_symlink():
        target.mkdir(parents=True, exist_ok=True)
        for child in sorted(source.iterdir()):
            _copy(child, target / child.name, f"{relative}/{child.name}".lstrip("/"), excludes)
    elif source.exists() or source.is_symlink():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def main(args: list[str]) -> int:
    flags: set[str] = set()
    excludes: list[str] = []
    files_from: Path | None = None
    delete = False
    positional: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--exclude":
            excludes.append(next(items))
        elif arg.startswith("--exclude="):
            excludes.append(arg.split("=", 1)[1])
        elif arg.startswith("--exclude-from="):
            lines = Path(arg.split("=", 1)[1]).read_text().splitlines()
            excludes += [line for line in lines if line.strip() and line.strip() != "/"]
        elif arg.startswith("--files-from="):
            files_from = Path(arg.split("=", 1)[1])
        elif arg in ("--delete", "--delete-excluded"):
            delete = True
        elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) <= FLAGS:
            flags |= set(arg[1:])
        elif arg.startswith("-"):
            print(f"gcl_rsync: unsupported option {arg} in {args}", file=sys.stderr)
            return 2
        else:
            positional.append(arg)
    if len(positional) < 2:
        print(f"gcl_rsync: unsupported call {args}", file=sys.stderr)
        return 2
    *sources, dest_arg = positional
    dest = Path(dest_arg)
    if delete:
        shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True, exist_ok=True)
    if files_from is not None:
        base = Path(sources[0])
        for line in files_from.read_text().splitlines():
            name = line.strip().lstrip("/")
            if name:
                _copy(base / name, dest / name, name, excludes)
        return 0
    for source_arg in sources:
        source = Path(source_arg)
        if "R" in flags:
            relative = source_arg.split("/./", 1)[-1] if "/./" in source_arg else source_arg
            relative = str(Path(relative)).lstrip("/")
            relative = "" if relative == "." else relative
            _copy(source, dest / relative if relative else dest, relative, excludes)
        elif source_arg.endswith(("/", "/.")) or source_arg == ".":
            for child in sorted(source.iterdir()):
                _copy(child, dest / child.name, child.name, excludes)
        else:
            _copy(source, dest / source.name, source.name, excludes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
