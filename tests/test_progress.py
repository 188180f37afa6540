"""Long work shows progress on a terminal, and nothing in CI logs unless -v asks.

The library announces progress through ``tufrepo.progress`` (no click, no
printing); the CLI draws it on stderr.  The terminal case runs the real
console script under a pseudo-terminal (python's ``pty``).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from conftest import World, git, init_repo

from tufrepo import progress

TUFREPO = str(Path(sys.executable).parent / "tufrepo")
ARTIFACTS = 40


def _event_with_artifacts(world: World) -> None:
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    alice.push_files(
        "sign/many", {f"targets/app/{i:03}.json": f'{{"n": {i}}}\n' for i in range(ARTIFACTS)}
    )
    git(world.ci, "fetch", "-q", "origin")
    git(world.ci, "checkout", "-q", "-B", "sign/many", "origin/sign/many")


def _args(world: World, *extra: str) -> list[str]:
    return [TUFREPO, "--now", world.now.isoformat(), *extra, "-C", str(world.ci), "update-targets"]


def _run_in_pty(args: list[str]) -> tuple[int, str]:
    """Run ``args`` with stdin, stdout and stderr on a pseudo-terminal; (exit code, output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_progress_is_drawn_on_a_terminal(world: World) -> None:
    _event_with_artifacts(world)
    code, output = _run_in_pty(_args(world))
    assert code == 0, output
    assert "\rhashing artifacts: 1" in output.replace("\x1b[K", "")
    assert "\r\x1b[K" in output, "the progress line is cleared before the result"
    assert "targets" in output.rsplit("\r\x1b[K", 1)[1], "the result follows on a clean line"


def test_no_progress_in_logs_unless_verbose(world: World) -> None:
    _event_with_artifacts(world)
    quiet = subprocess.run(_args(world), capture_output=True, text=True, check=False)
    assert quiet.returncode == 0, quiet.stderr
    assert "hashing" not in quiet.stderr + quiet.stdout
    assert "\x1b" not in quiet.stderr
    git(world.ci, "reset", "-q", "--hard", "origin/sign/many")
    verbose = subprocess.run(_args(world, "-v"), capture_output=True, text=True, check=False)
    assert verbose.returncode == 0, verbose.stderr
    lines = [ln for ln in verbose.stderr.splitlines() if ln.startswith("progress: hashing")]
    assert lines, verbose.stderr
    assert len(lines) < ARTIFACTS, "occasional lines, not one per artifact"
    assert "\r" not in verbose.stderr


def test_library_progress_needs_no_receiver() -> None:
    progress.advance("nothing listens", 1, 2)  # no callback installed: nothing happens
    seen: list[tuple[str, int, int | None]] = []
    inner: list[tuple[str, int, int | None]] = []
    with progress.reporting(lambda *a: seen.append(a)):
        progress.advance("outer", 1)
        with progress.reporting(lambda *a: inner.append(a)):
            progress.advance("inner", 2, 3)
        progress.advance("outer", 2)
    progress.advance("after", 1)
    assert seen == [("outer", 1, None), ("outer", 2, None)]
    assert inner == [("inner", 2, 3)]
