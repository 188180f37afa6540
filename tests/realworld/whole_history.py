"""Judge every signing event of a real tuf-on-ci repository with tufrepo (a script, not a test).

For every signing event merged into the mirror's ``main`` since ``--since`` it builds a
throwaway origin (main = the event's known good, the event branch = its head on top),
runs ``tufrepo status`` at the merge time from a clone on the event branch, and then
runs ``tufrepo verify --main`` and ``tufrepo publish`` on the head of ``main`` at its
commit time.  Real events were merged and served to clients: each should be ready.

    .venv/bin/python tests/realworld/whole_history.py \\
        [/work/.mirror/sigstore+root-signing/repo] [--since 2025-01-01] [--warnings]

Prints one line per event, each failure's findings, and "ready N / total M".  Exit 0 when
everything passed, 1 otherwise.  Runs offline: connections beyond loopback are refused.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from build_corpus import Event, changed, export_tree, find_events, git, list_tree, repo_name
from click.testing import CliRunner

from tufrepo.cli import cli

DEFAULT_MIRROR = "/work/.mirror/sigstore+root-signing/repo"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def offline() -> None:
    """Refuse connections and name lookups beyond loopback for the rest of the run."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in _LOOPBACK:
            raise OSError(f"whole_history must not reach the network: {address}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and host not in _LOOPBACK:
            raise OSError(f"whole_history must not resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo


def isolate(home: Path) -> None:
    """A hermetic git identity and no CI variables, as the tests have."""
    os.environ.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "whole-history",
            "GIT_AUTHOR_EMAIL": "whole-history@example.com",
            "GIT_COMMITTER_NAME": "whole-history",
            "GIT_COMMITTER_EMAIL": "whole-history@example.com",
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "TZ": "UTC",
        }
    )
    for key in (
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_ACTIONS",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "SIGSTORE_ID_TOKEN",
        "TUFREPO_SIGSTORE_TRUST_CONFIG",
    ):
        os.environ.pop(key, None)


def run_git(cwd: Path, *args: str) -> None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")


def tufrepo(now: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--now", now, *args], catch_exceptions=True)
    text = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += f"\n(exception) {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, text


def commit_rev(mirror: Path, rev: str, clone: Path, extra: list[str], message: str) -> None:
    """Make the clone's tree metadata/, targets/ (and ``extra`` paths) as at ``rev``."""
    run_git(clone, "rm", "-r", "-q", "--ignore-unmatch", "metadata", "targets", *extra)
    export_tree(mirror, rev, clone, "metadata", "targets")
    present = [e.path for e in list_tree(mirror, rev, *extra)] if extra else []
    if present:
        export_tree(mirror, rev, clone, *present)
    run_git(clone, "add", "-A")
    run_git(clone, "commit", "-q", "--allow-empty", "-m", message)


def world(mirror: Path, root: Path, main_rev: str, extra: list[str]) -> tuple[Path, Path]:
    origin, seed = root / "origin.git", root / "seed"
    run_git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    run_git(root, "clone", "-q", str(origin), str(seed))
    run_git(seed, "switch", "-q", "-c", "main")
    commit_rev(mirror, main_rev, seed, extra, f"main at {main_rev}")
    run_git(seed, "push", "-q", "origin", "main")
    return origin, seed


def judge_event(mirror: Path, event: Event, root: Path) -> tuple[int, str]:
    extra = changed(mirror, event.known_good, event.head, ".github")
    origin, seed = world(mirror, root, event.known_good, extra)
    run_git(seed, "switch", "-q", "-c", event.branch)
    commit_rev(mirror, event.head, seed, extra, f"{event.branch} at {event.head}")
    run_git(seed, "push", "-q", "origin", event.branch)
    ci = root / "ci"
    run_git(root, "clone", "-q", str(origin), str(ci))
    run_git(ci, "switch", "-q", "-c", event.branch, f"origin/{event.branch}")
    return tufrepo(event.merge_time, "-C", str(ci), "status")


def findings(text: str, warnings: bool) -> list[str]:
    keep: tuple[str, ...] = ("**Error**", "error:", "ERROR", "FAIL", "(exception)", "hint:")
    if warnings:
        keep += ("**Warning**", "WARNING")
    return [line.strip() for line in text.splitlines() if line.strip().startswith(keep)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("mirror", nargs="?", default=DEFAULT_MIRROR)
    parser.add_argument("--since", default="2025-01-01", help="merge date (YYYY-MM-DD)")
    parser.add_argument("--warnings", action="store_true", help="also print warnings")
    args = parser.parse_args(argv)
    repo, mirror = repo_name(args.mirror)
    since = datetime.fromisoformat(args.since).replace(tzinfo=UTC)
    offline()
    events = [
        e for e in find_events(mirror, repo) if datetime.fromisoformat(e.merge_time) >= since
    ]
    passed, total, head_ok = 0, 0, True
    with tempfile.TemporaryDirectory(prefix="whole-history-") as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        isolate(base / "home")
        for n, event in enumerate(events):
            root = base / f"event-{n}"
            root.mkdir()
            code, text = judge_event(mirror, event, root)
            total += 1
            ready = code == 0 and "Ready" in text
            passed += ready
            verdict = "ready" if ready else f"NOT READY (exit {code})"
            print(f"{repo} {event.branch} merged {event.merge_time}: {verdict}")
            if not ready:
                for line in findings(text, args.warnings):
                    print(f"    {line}")

        head = git(mirror, "rev-parse", "main").strip()
        head_time = git(mirror, "log", "-1", "--format=%cI", head).strip()
        root = base / "head"
        root.mkdir()
        origin, _ = world(mirror, root, head, [])
        ci = root / "ci"
        run_git(root, "clone", "-q", str(origin), str(ci))
        for label, command in (
            ("verify --main", ["verify", "--main"]),
            ("publish", ["publish", str(root / "site")]),
        ):
            code, text = tufrepo(head_time, "-C", str(ci), *command)
            head_ok = head_ok and code == 0
            verdict = "ok" if code == 0 else f"FAILED (exit {code})"
            print(f"{repo} main {head[:8]} at {head_time}: {label}: {verdict}")
            if code != 0:
                for line in findings(text, args.warnings):
                    print(f"    {line}")
    print(f"ready {passed} / total {total} (signing events since {args.since})")
    print(f"main at HEAD: {'verify and publish ok' if head_ok else 'verify/publish FAILED'}")
    return 0 if passed == total and head_ok else 1


if __name__ == "__main__":
    sys.exit(main())
