"""Format compatibility: tuf-on-ci's own tools work on a tufrepo repository.

The real ``tuf-on-ci-sign`` and ``tuf-on-ci-delegate`` (PyPI tuf-on-ci-sign,
pinned in pyproject) run as subprocesses in the simulated users' clones, with
their prompts answered on stdin; ``tufrepo status`` must judge what they wrote
as tuf-on-ci's own CI would.

Driving them without a terminal:

* Both tools check PyPI once a day for a newer release: a fresh cache entry
  says they just did (no network).
* Both insist on a PKCS#11 module (``pykcs11lib`` in the settings file) even
  when no hardware key is used.
* An existing key is found through the settings file's ``[signing-keys]``
  section (keyid = signer URI), so a ``file2:`` key signs without prompts.
* A new key (accepting an invitation) can only be enrolled from the prompt
  "Sigstore / Yubikey / TKey" -- the tools have no option for it
  (``--help`` lists only ``--push/--no-push`` and ``-v``). Sigstore needs a
  browser and a TKey a device, so the invitee picks "Yubikey" and a SoftHSM2
  token with one P-256 key at CKA_ID 2 (PIV slot 9c) stands in: tuf-on-ci
  imports it with ``HSMSigner.import_()``, which requires the token to be the
  only one present, so each invitee gets a SoftHSM2 configuration of their own.
  The PIN is read from stdin when signing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conftest import User, World, git, init_repo, out
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from softhsm import KEY_ID, PIN, init_token, library_path, write_conf

Env = dict[str, str]


def _tuf_on_ci(
    tool: str, clone: Path, *args: str, stdin: str = "\n", env: Env | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``tuf-on-ci-<tool>`` in ``clone`` with ``stdin`` answering its prompts."""
    # The tools check PyPI once a day for a newer release: pretend they just did.
    cache = Path(os.environ["HOME"]) / ".cache" / "tuf-on-ci-sign"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "pypi_release_version").write_text("0.0.1")
    exe = Path(sys.executable).parent / f"tuf-on-ci-{tool}"
    return subprocess.run(
        [str(exe), *args], cwd=clone, input=stdin, capture_output=True, text=True,
        check=False, timeout=300,
        env={**os.environ, "XDG_CACHE_HOME": str(cache.parent), **(env or {})},
    )  # fmt: skip


def _tuf_on_ci_sign(
    clone: Path, event: str, stdin: str = "\n", env: Env | None = None
) -> subprocess.CompletedProcess[str]:
    return _tuf_on_ci("sign", clone, event, stdin=stdin, env=env)


def _shown(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def _configure(user: User, pykcs11lib: str = "/nonexistent.so", **keys: str) -> None:
    """Give ``user``'s settings file a PKCS#11 module and ``[signing-keys]`` (keyid = URI)."""
    ini = user.clone / ".tuf-on-ci-sign.ini"
    text = ini.read_text().replace("[settings]\n", f"[settings]\npykcs11lib = {pykcs11lib}\n")
    if keys:
        text += "\n[signing-keys]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())
    ini.write_text(text)


def _metadata(world: World, ref: str, role: str) -> dict[str, Any]:
    git(world.ci, "fetch", "-q")
    data: dict[str, Any] = json.loads(git(world.ci, "show", f"{ref}:metadata/{role}.json"))
    return data


def _keyid(world: World, owner: str, ref: str = "origin/main", role: str = "root") -> str:
    """The keyid of ``owner``'s key in ``role``'s metadata at ``ref``."""
    signed = _metadata(world, ref, role)["signed"]
    keys: dict[str, dict[str, Any]] = (
        signed["keys"] if role == "root" else signed["delegations"]["keys"]
    )
    return next(k for k, v in keys.items() if v.get("x-tuf-on-ci-keyowner") == owner)


def _hsm_token(directory: Path, label: str) -> Env:
    """A SoftHSM2 configuration holding one token ``label`` with a P-256 key at CKA_ID 2.

    Returns the environment that makes it the only token tuf-on-ci sees.
    """
    library = library_path()
    conf = write_conf(directory)
    init_token(conf, label)
    pem = directory / "key.pem"
    pem.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    subprocess.run(
        ["softhsm2-util", "--import", str(pem), "--token", label, "--label", label,
         "--id", f"{KEY_ID:02x}", "--pin", PIN],
        env={**os.environ, "SOFTHSM2_CONF": str(conf)}, check=True, capture_output=True,
    )  # fmt: skip
    pem.unlink()
    return {"SOFTHSM2_CONF": str(conf), "PYKCS11LIB": library}


def _catch_up(world: World) -> None:
    """Move the test clock up to the real clock, which tuf-on-ci's tools use.

    They set ``expires = now + period`` with the real time; a status check at the
    test's fixed noon would see that as further than the period allows when the
    tests run in the afternoon. CI runs after the signer, so its clock is later.
    """
    world.now = max(world.now, datetime.now(UTC))


def _ready(world: World, event: str) -> dict[str, Any]:
    """``tufrepo status`` judges ``event`` ready (exit 0), with nothing to warn about."""
    code, status = world.status(event)
    assert code == 0, status
    assert status["state"] == "ready"
    assert status["findings"] == []
    assert status["warnings"] == []
    return status


# Answers to tuf-on-ci-sign for an invitee enrolling a "Yubikey": key type 2,
# "insert your Yubikey and press enter", the PIN when signing, "press enter to push".
ACCEPT_WITH_YUBIKEY = f"2\n\n{PIN}\n\n"


def _accept_with_yubikey(
    user: User, event: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """``user`` accepts an invitation on ``event`` with tuf-on-ci-sign and a new (SoftHSM2) key."""
    token = _hsm_token(tmp_path / f"{user.name}-hsm", f"{user.name}-token")
    _configure(user, token["PYKCS11LIB"])
    done = _tuf_on_ci_sign(user.clone, event, ACCEPT_WITH_YUBIKEY, token)
    assert done.returncode == 0, _shown(done)
    assert f"Press enter to push changes to origin/{event}" in done.stdout
    return done


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

    # carol's tuf-on-ci settings map her keyid to her file2: key.
    _configure(carol, **{_keyid(world, "@carol"): carol.key_uri})

    alice.push_files("sign/files", {"targets/release.json": '{"version": "1.0"}\n'})
    assert world.ci_run("update-targets", "--push", event="sign/files").exit_code == 0
    assert alice.sign("sign/files").exit_code == 0

    done = _tuf_on_ci_sign(carol.clone, "sign/files")
    assert done.returncode == 0, _shown(done)
    assert "Your signature is requested for role(s) {'targets'}" in done.stdout

    status = _ready(world, "sign/files")
    assert status["roles"][0]["signers"]["signed"] == ["@alice", "@carol"]


def test_tuf_on_ci_sign_accepts_a_tufrepo_delegation_invite(world: World, tmp_path: Path) -> None:
    alice = world.user("alice")
    carol = world.user("carol")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")

    result = alice.tufrepo(
        "delegate", "sign/releases", "releases", "--signer", "@alice", "--signer", "@carol",
        "--threshold", "2", "--key", alice.key_uri,
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert "Invited @carol to sign releases" in out(result)
    code, status = world.status("sign/releases")
    assert code == 3, status

    done = _accept_with_yubikey(carol, "sign/releases", tmp_path)
    assert "You have been invited to become a signer for role(s) ['releases']." in done.stdout
    assert "Your signature is requested for role(s) {'releases'}." in done.stdout

    # tuf-on-ci rewrote targets (carol's key in the delegation): alice signs it again.
    _catch_up(world)
    code, status = world.status("sign/releases")
    assert code == 3, status
    roles = {r["role"]: r for r in status["roles"]}
    assert roles["targets"]["signers"]["missing"] == ["@alice"]
    assert roles["targets"]["invites"] == []
    assert roles["releases"]["signers"]["signed"] == ["@alice", "@carol"]

    result = alice.sign("sign/releases")
    assert result.exit_code == 0, out(result)
    _ready(world, "sign/releases")
    targets = _metadata(world, "origin/sign/releases", "targets")["signed"]
    carol_key = targets["delegations"]["keys"][
        _keyid(world, "@carol", "origin/sign/releases", "targets")
    ]
    assert carol_key["keytype"] == "ecdsa"
    assert targets["delegations"]["roles"][0]["threshold"] == 2
    world.merge("sign/releases")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 0, out(result)


def test_tuf_on_ci_sign_accepts_a_tufrepo_init_invite(world: World, tmp_path: Path) -> None:
    alice = world.user("alice")
    carol = world.user("carol")
    result = init_repo(
        world, alice, "--signer", "targets=@alice", "--signer", "targets=@carol",
        "--threshold", "targets=2",
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert "Invited @carol to sign targets" in out(result)

    done = _accept_with_yubikey(carol, "sign/init", tmp_path)
    assert "You have been invited to become a signer for role(s) ['targets']." in done.stdout

    # carol's key changed root (tuf-on-ci wiped its signatures): alice signs it
    # again with tufrepo. Targets' payload is unchanged, so her signature stands.
    _catch_up(world)
    code, status = world.status("sign/init")
    assert code == 3, status
    roles = {r["role"]: r for r in status["roles"]}
    assert roles["root"]["invites"] == []
    assert roles["root"]["signers"]["missing"] == ["@alice"]
    assert roles["targets"]["signers"]["signed"] == ["@alice", "@carol"]

    result = alice.sign("sign/init")
    assert result.exit_code == 0, out(result)
    _ready(world, "sign/init")
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0


def _two_targets_signers(world: World) -> tuple[User, User]:
    """A merged repository: root @alice; targets @alice and @bob, threshold 2."""
    alice, bob = world.user("alice"), world.user("bob")
    result = init_repo(
        world, alice, "--signer", "targets=@alice", "--signer", "targets=@bob",
        "--threshold", "targets=2",
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert bob.sign("sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    world.merge("sign/init")
    return alice, bob


def _merge_online_sign_and_publish(world: World, event: str, site: Path) -> None:
    """Merge ``event``; CI validates main from its first root, online-signs and publishes."""
    world.merge(event)
    result = world.ci_run("--json", "online-sign", "--push")
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[0])["signed"] == ["snapshot", "timestamp"]
    result = world.ci_run("--json", "publish", str(site))
    assert result.exit_code == 0, out(result)
    assert (site / "metadata" / "2.root.json").is_file()
    assert (site / "metadata" / "timestamp.json").is_file()


def test_tuf_on_ci_delegate_removes_a_signer(world: World, tmp_path: Path) -> None:
    alice, bob = _two_targets_signers(world)

    # bob leaves targets: option 1 (signers), offline signers, the new list; with
    # one signer left the threshold is 1 without asking; enter to finish and to push.
    _configure(bob)
    answers = "1\n1\n@alice\n\n\n"
    done = _tuf_on_ci("delegate", bob.clone, "sign/fewer-signers", "targets", stdin=answers)
    assert done.returncode == 0, _shown(done)
    assert "Remote branch not found: branching off from main" in done.stdout
    assert "Modifying delegation for targets" in done.stdout
    assert "Your signature is required" not in done.stdout

    _catch_up(world)
    code, status = world.status("sign/fewer-signers")
    assert code == 3, status
    assert [r["role"] for r in status["roles"]] == ["root"]
    assert status["roles"][0]["signers"]["missing"] == ["@alice"]
    root = _metadata(world, "origin/sign/fewer-signers", "root")["signed"]
    assert root["version"] == 2
    assert root["roles"]["targets"]["threshold"] == 1
    assert [
        root["keys"][k]["x-tuf-on-ci-keyowner"] for k in root["roles"]["targets"]["keyids"]
    ] == ["@alice"]

    # alice signs root with tuf-on-ci-sign too (her file2: key from [signing-keys]).
    _configure(alice, **{_keyid(world, "@alice"): alice.key_uri})
    done = _tuf_on_ci_sign(alice.clone, "sign/fewer-signers")
    assert done.returncode == 0, _shown(done)
    assert "Your signature is requested for role(s) {'root'}" in done.stdout
    assert "(was: 2/2 of ['@alice', '@bob'])" in done.stdout

    status = _ready(world, "sign/fewer-signers")
    assert status["roles"][0]["signers"]["signed"] == ["@alice"]
    _merge_online_sign_and_publish(world, "sign/fewer-signers", tmp_path / "site")


def test_tuf_on_ci_delegate_lowers_a_threshold(world: World, tmp_path: Path) -> None:
    alice, _ = _two_targets_signers(world)

    # dave (a maintainer, no signer) keeps the signers (enter takes the default)
    # and sets threshold 1; alice signs root with tufrepo.
    dave = world.user("dave")
    _configure(dave)
    answers = "1\n1\n\n1\n\n\n"
    done = _tuf_on_ci("delegate", dave.clone, "sign/threshold", "targets", stdin=answers)
    assert done.returncode == 0, _shown(done)
    assert " 1. Configure signers: [@alice, @bob], requiring 2 signatures" in done.stdout
    assert " 1. Configure signers: [@alice, @bob], requiring 1 signatures" in done.stdout

    _catch_up(world)
    code, status = world.status("sign/threshold")
    assert code == 3, status
    assert status["roles"][0]["signers"]["missing"] == ["@alice"]
    result = alice.sign("sign/threshold")
    assert result.exit_code == 0, out(result)
    assert "targets: threshold 2 -> 1" in out(result)
    _ready(world, "sign/threshold")
    root = _metadata(world, "origin/sign/threshold", "root")["signed"]
    assert root["roles"]["targets"]["threshold"] == 1
    assert len(root["roles"]["targets"]["keyids"]) == 2
    _merge_online_sign_and_publish(world, "sign/threshold", tmp_path / "site")


def _rotate_root_to_bob(world: World) -> tuple[User, User]:
    """A merged repository of alice's, and an event replacing her as root signer by bob."""
    alice, bob = world.user("alice"), world.user("bob")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    result = alice.tufrepo("delegate", "sign/rotate", "root", "--signer", "@bob")
    assert result.exit_code == 0, out(result)
    assert "Invited @bob to sign root" in out(result)
    return alice, bob


def _assert_rotated(world: World) -> None:
    status = _ready(world, "sign/rotate")
    root = status["roles"][0]
    assert root["role"] == "root"
    assert root["signers"]["signed"] == ["@bob"]
    assert root["known_good_signers"]["signed"] == ["@alice"]
    root_md = _metadata(world, "origin/sign/rotate", "root")
    signed = root_md["signed"]
    assert signed["version"] == 2
    assert [
        signed["keys"][k]["x-tuf-on-ci-keyowner"] for k in signed["roles"]["root"]["keyids"]
    ] == ["@bob"]
    assert len([s for s in root_md["signatures"] if s["sig"]]) == 2
    world.merge("sign/rotate")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 0, out(result)


def test_root_rotation_new_signer_uses_tuf_on_ci_old_signer_tufrepo(
    world: World, tmp_path: Path
) -> None:
    alice, bob = _rotate_root_to_bob(world)

    done = _accept_with_yubikey(bob, "sign/rotate", tmp_path)
    assert "You have been invited to become a signer for role(s) ['root']." in done.stdout
    assert "Your signature is requested for role(s) {'root'}." in done.stdout
    _catch_up(world)
    code, status = world.status("sign/rotate")
    assert code == 3, status
    assert status["roles"][0]["signers"]["signed"] == ["@bob"]
    assert status["roles"][0]["known_good_signers"]["missing"] == ["@alice"]

    result = alice.sign("sign/rotate")
    assert result.exit_code == 0, out(result)
    assert "Signed root as @alice." in out(result)
    _assert_rotated(world)


def test_root_rotation_new_signer_uses_tufrepo_old_signer_tuf_on_ci(world: World) -> None:
    alice, bob = _rotate_root_to_bob(world)

    result = bob.sign("sign/rotate")
    assert result.exit_code == 0, out(result)
    code, status = world.status("sign/rotate")
    assert code == 3, status
    assert status["roles"][0]["known_good_signers"]["missing"] == ["@alice"]

    # As a signer of the known-good root, alice's signature is requested by tuf-on-ci.
    _configure(alice, **{_keyid(world, "@alice"): alice.key_uri})
    done = _tuf_on_ci_sign(alice.clone, "sign/rotate")
    assert done.returncode == 0, _shown(done)
    assert "Your signature is requested for role(s) {'root'}." in done.stdout
    _assert_rotated(world)
