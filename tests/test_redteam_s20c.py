"""Red-team pass s20c: lone surrogates outside ``signed`` (the #14 check covers only ``signed``).

Each test fails on the code it was written against and asserts the behaviour
the README promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import NOW, World, git, init_repo


def _push_stray_surrogate_signature(world: World, event: str) -> None:
    # Someone with push access to sign/* adds a signature entry whose keyid is
    # a lone surrogate (JSON can spell one: "\ud800").  It is outside
    # ``signed``, so parse_metadata's new lone-surrogate check never sees it.
    clone = world.attacker()
    git(clone, "checkout", "-q", "-B", event, "origin/main")
    path = clone / "metadata" / "targets.json"
    data = json.loads(path.read_text())
    data["signatures"].append({"keyid": "KEYID", "sig": ""})
    path.write_text(json.dumps(data, indent=1).replace('"KEYID"', '"\\ud800"'))
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "hostile: lone surrogate keyid")
    git(clone, "push", "-q", "origin", event)


def test_status_of_an_event_with_a_lone_surrogate_signature_keyid_is_a_judgement_not_an_internal_error(
    world: World,
) -> None:
    # README: exit 1 is an internal error; a hostile event is judged (exit 0
    # with a warning, or 4 refused), as `status --markdown` in the signing-event
    # workflow must report it.  Found: the stray-signature warning carries the
    # keyid's lone surrogate to stdout, which cannot encode it: exit 1.
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.land("sign/init", alice)
    _push_stray_surrogate_signature(world, "sign/evil")
    result = world.ci_run("status", event="sign/evil")
    assert "internal error" not in result.output
    assert result.exit_code == 4, result.output
    assert "a lone surrogate at signatures[1].keyid" in result.output


def test_an_artifact_whose_name_is_not_utf8_is_judged_not_a_crash_of_the_printed_status(
    world: World,
) -> None:
    # Red team (#14): a file name that is not UTF-8 reaches Python as a lone
    # surrogate; stdout (strict, unlike stderr) could not print a finding
    # naming it, and the real console script exited 1 instead of refusing.
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.land("sign/init", alice)
    clone = world.attacker()
    git(clone, "checkout", "-q", "-B", "sign/evil", "origin/main")
    (clone / "targets").mkdir(exist_ok=True)
    Path(os.fsdecode(os.fsencode(clone / "targets") + b"/bad\xff.bin")).write_bytes(b"payload")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "hostile: a file name that is not UTF-8")
    git(clone, "push", "-q", "origin", "sign/evil")
    git(world.ci, "fetch", "-q", "origin")
    git(world.ci, "checkout", "-q", "-B", "sign/evil", "origin/sign/evil")
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "tufrepo", "--now", NOW.isoformat(), "-C", str(world.ci),
         "-v", "status"],
        capture_output=True, env=env, check=False,
    )  # fmt: skip
    out = done.stdout.decode("utf-8") + done.stderr.decode("utf-8")
    assert "internal error" not in out, out
    assert done.returncode == 4, out
    assert "bad\\udcff.bin" in out, out
    # and CI's update-targets refuses it the same way
    done = subprocess.run(
        [sys.executable, "-m", "tufrepo", "--now", NOW.isoformat(), "-C", str(world.ci),
         "update-targets"],
        capture_output=True, env=env, check=False,
    )  # fmt: skip
    out = done.stdout.decode("utf-8") + done.stderr.decode("utf-8")
    assert "internal error" not in out, out
    assert done.returncode == 4, out
    assert "bad\\udcff.bin" in out, out
