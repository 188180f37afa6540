"""Red-team pass s20c: lone surrogates, in metadata and in file names, are judged, never a crash.

Each test fails on the code it was written against and asserts the behaviour
the README promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import NOW, World, git, init_repo


def _push_hostile_event(world: World, event: str, change: Callable[[Path], None]) -> None:
    """A repository with one landed event, then ``change`` pushed as ``event`` by the attacker."""
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.land("sign/init", alice)
    clone = world.attacker()
    git(clone, "checkout", "-q", "-B", event, "origin/main")
    change(clone)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", f"hostile: {event}")
    git(clone, "push", "-q", "origin", event)


def _surrogate_keyid(clone: Path) -> None:
    # a signature entry whose keyid is a lone surrogate (JSON can spell one: "\ud800")
    path = clone / "metadata" / "targets.json"
    data = json.loads(path.read_text())
    data["signatures"].append({"keyid": "KEYID", "sig": ""})
    path.write_text(json.dumps(data, indent=1).replace('"KEYID"', '"\\ud800"'))


def _not_utf8_name(clone: Path) -> None:
    (clone / "targets").mkdir(exist_ok=True)
    Path(os.fsdecode(os.fsencode(clone / "targets") + b"/bad\xff.bin")).write_bytes(b"payload")


def _console(world: World, *args: str) -> tuple[int, str]:
    """The real console script (its own stdout, not click's test runner) in the CI clone."""
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "tufrepo", "--now", NOW.isoformat(), "-C", str(world.ci), *args],
        capture_output=True, env=env, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout.decode("utf-8") + done.stderr.decode("utf-8")


def test_status_of_an_event_with_a_lone_surrogate_signature_keyid_is_a_judgement_not_an_internal_error(
    world: World,
) -> None:
    # README: exit 1 is an internal error; a hostile event is refused (exit 4),
    # as `status --markdown` in the signing-event workflow must report it.
    # Found: the stray-signature warning carried the keyid's lone surrogate to
    # stdout, which cannot encode it: exit 1.
    _push_hostile_event(world, "sign/evil", _surrogate_keyid)
    result = world.ci_run("status", event="sign/evil")
    assert "internal error" not in result.output
    assert result.exit_code == 4, result.output
    assert "a lone surrogate at signatures[1].keyid" in result.output


def test_an_artifact_whose_name_is_not_utf8_is_judged_not_a_crash_of_the_printed_status(
    world: World,
) -> None:
    # A file name that is not UTF-8 reaches Python as a lone surrogate.
    # Found: stdout (strict, unlike stderr) could not print a finding naming
    # it, so the console script exited 1; update-targets listed it in
    # metadata no parser could read back.
    _push_hostile_event(world, "sign/evil", _not_utf8_name)
    git(world.ci, "fetch", "-q", "origin")
    git(world.ci, "checkout", "-q", "-B", "sign/evil", "origin/sign/evil")
    for command in ("status", "update-targets"):
        code, out = _console(world, command)
        assert "internal error" not in out, (command, out)
        assert code == 4, (command, out)
        assert "bad\\udcff.bin" in out, (command, out)
