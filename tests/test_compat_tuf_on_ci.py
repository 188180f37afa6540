"""Format compatibility: tuf-on-ci's own signer signs a tufrepo signing event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import World, git, init_repo, out


def _tuf_on_ci_sign(clone: Path, event: str) -> subprocess.CompletedProcess[str]:
    # tuf-on-ci-sign checks PyPI once a day for a newer release: pretend it just did.
    cache = Path(os.environ["HOME"]) / ".cache" / "tuf-on-ci-sign"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "pypi_release_version").write_text("0.0.1")
    exe = Path(sys.executable).parent / "tuf-on-ci-sign"
    return subprocess.run(
        [str(exe), event], cwd=clone, input="\n", capture_output=True, text=True, check=False,
        env={**os.environ, "XDG_CACHE_HOME": str(cache.parent)},
    )  # fmt: skip


def test_tuf_on_ci_sign_signs_a_tufrepo_event(world: World) -> None:
    alice = world.user("alice")
    carol = world.user("carol")
    result = init_repo(
        world, alice, "--signer", "targets=@alice", "--signer", "targets=@carol",
        "--threshold", "targets=2",
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert carol.sign("sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    world.merge("sign/init")

    # carol's tuf-on-ci settings map her keyid to her file2: key; tuf-on-ci
    # insists on a PKCS#11 module path even when no hardware key is used.
    git(world.ci, "fetch", "-q")
    keys = json.loads(git(world.ci, "show", "origin/main:metadata/root.json"))["signed"]["keys"]
    keyid = next(k for k, v in keys.items() if v.get("x-tuf-on-ci-keyowner") == "@carol")
    ini = carol.clone / ".tuf-on-ci-sign.ini"
    ini.write_text(
        ini.read_text().replace("[settings]\n", "[settings]\npykcs11lib = /nonexistent.so\n")
        + f"\n[signing-keys]\n{keyid} = {carol.key_uri}\n"
    )

    git(alice.clone, "fetch", "-q")
    git(alice.clone, "switch", "-q", "-c", "sign/files", "origin/main")
    (alice.clone / "targets").mkdir()
    (alice.clone / "targets" / "release.json").write_text('{"version": "1.0"}\n')
    git(alice.clone, "add", "targets")
    git(alice.clone, "commit", "-q", "-m", "release")
    git(alice.clone, "push", "-q", "origin", "sign/files")
    git(alice.clone, "switch", "-q", "main")
    assert world.ci_run("update-targets", "--push", event="sign/files").exit_code == 0
    assert alice.sign("sign/files").exit_code == 0

    done = _tuf_on_ci_sign(carol.clone, "sign/files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Your signature is requested for role(s) {'targets'}" in done.stdout

    code, status = world.status("sign/files")
    assert code == 0, status
    assert status["roles"][0]["signers"]["signed"] == ["@alice", "@carol"]
