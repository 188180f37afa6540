"""Hardware keys: SoftHSM2 tokens stand in for the signers' YubiKeys.

End to end through the CLI: two signers with their own tokens hold root
(threshold 2), a rotation moves root from one token's key to another's, and
every failure a signer can meet (wrong PIN, missing or ambiguous token, no
key or an unsupported key, a wrong token, no PKCS#11 module) ends with exit 6
and a one-line message. Unit tests cover URI parsing and module discovery.

PINs are piped on stdin: without a terminal, the CLI's secrets handler reads
one line per secret (``tufrepo.cli.common.secrets_handler``), as a script
would provide it. The PKCS#11 module reaches the CLI through ``pykcs11lib``
in each signer's ``.tuf-on-ci-sign.ini``, or ``PYKCS11LIB`` (subprocess test).
See ``softhsm.py`` for why tokens are created once per session.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import World, git, out, run
from softhsm import P521_KEY_ID, PIN, RSA_KEY_ID, SoftHSM, softhsm, write_conf

from tufrepo.errors import SignerUnavailableError, UsageError
from tufrepo.signers import hsm

__all__ = ["softhsm"]  # the session fixture, used by name below

ALL_LABELS = "alice-token, bob-token, carol-token"


def token(label: str, key_id: int = 2) -> str:
    return f"hsm:{key_id}?label={label}"


def use_library(world: World, name: str, library: str) -> None:
    """Point the user's settings file at a PKCS#11 module."""
    ini = world.user(name).clone / ".tuf-on-ci-sign.ini"
    ini.write_text(ini.read_text() + f"pykcs11lib = {library}\n")


def init_with(world: World, uri: str, pin: str | None = PIN) -> tuple[int, str]:
    """Alice starts a repository signing root with ``uri``; returns (exit code, output)."""
    alice = world.user("alice")
    result = alice.tufrepo(
        "init", "sign/init", "--online-key", world.online_uri, "--key", uri,
        input=None if pin is None else f"{pin}\n",
    )  # fmt: skip
    return result.exit_code, out(result)


@pytest.fixture
def alice_hsm(world: World, softhsm: SoftHSM) -> World:
    """The world, with alice's settings naming the SoftHSM2 module."""
    use_library(world, "alice", softhsm.library)
    return world


# --- end to end --------------------------------------------------------------------------


def test_two_hardware_signers_and_a_root_rotation(world: World, softhsm: SoftHSM) -> None:
    alice, bob, carol = world.user("alice"), world.user("bob"), world.user("carol")
    for name in ("alice", "bob", "carol"):
        use_library(world, name, softhsm.library)

    result = alice.tufrepo(
        "init", "sign/init", "--signer", "root=@alice", "--signer", "root=@bob",
        "--threshold", "root=2", "--online-key", world.online_uri,
        "--key", token("alice-token"), input=f"{PIN}\n",
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    code, status = world.status("sign/init")
    assert code == 3
    assert status["roles"][0]["signers"]["signed"] == ["@alice"]

    # Bob's acceptance adds his key to root, so alice signs the new content again.
    result = bob.tufrepo("sign", "sign/init", "--key", token("bob-token"), input=f"{PIN}\n")
    assert result.exit_code == 0, out(result)
    result = alice.tufrepo("sign", "sign/init", "--key", token("alice-token"), input=f"{PIN}\n")
    assert result.exit_code == 0, out(result)
    code, status = world.status("sign/init")
    assert code == 0, status
    assert status["roles"][0]["signers"]["signed"] == ["@alice", "@bob"]
    world.merge("sign/init")

    # Bob keeps his token's URI in [signing-keys], as tuf-on-ci's settings allow.
    root = json.loads(git(world.ci, "show", "main:metadata/root.json"))
    (bob_keyid,) = [k for k, v in root["signed"]["keys"].items() if v.get("x-tuf-on-ci-keyowner") == "@bob"]  # fmt: skip
    ini = bob.clone / ".tuf-on-ci-sign.ini"
    ini.write_text(ini.read_text() + f"\n[signing-keys]\n{bob_keyid} = {token('bob-token')}\n")

    # Root moves from bob's token to carol's: carol accepts, and the old root's
    # signers (alice and bob) must sign too.
    result = alice.tufrepo(
        "delegate", "sign/rotate", "root", "--signer", "@alice", "--signer", "@carol",
        "--key", token("alice-token"), input=f"{PIN}\n",
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    result = carol.tufrepo("sign", "sign/rotate", "--key", token("carol-token"), input=f"{PIN}\n")
    assert result.exit_code == 0, out(result)
    result = alice.tufrepo("sign", "sign/rotate", "--key", token("alice-token"), input=f"{PIN}\n")
    assert result.exit_code == 0, out(result)
    code, status = world.status("sign/rotate")
    assert code == 3, status
    assert status["roles"][0]["known_good_signers"]["missing"] == ["@bob"]
    result = bob.tufrepo("sign", "sign/rotate", input=f"{PIN}\n")  # from [signing-keys]
    assert result.exit_code == 0, out(result)
    code, status = world.status("sign/rotate")
    assert code == 0, status

    world.merge("sign/rotate")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 0, out(result)
    assert run("-C", str(world.ci), "verify", now=world.now).exit_code == 0


def test_a_signer_holding_another_token_is_refused_before_the_pin(
    world: World, softhsm: SoftHSM
) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    for name in ("alice", "bob"):
        use_library(world, name, softhsm.library)
    result = alice.tufrepo(
        "init", "sign/init", "--signer", "root=@alice", "--signer", "root=@bob",
        "--threshold", "root=2", "--online-key", world.online_uri,
        "--key", token("alice-token"), input=f"{PIN}\n",
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    result = bob.tufrepo("sign", "sign/init", "--key", token("bob-token"), input=f"{PIN}\n")
    assert result.exit_code == 0, out(result)

    result = alice.tufrepo("sign", "sign/init", "--key", token("bob-token"))  # no PIN given
    assert result.exit_code == 6, out(result)
    assert "error: the key with id 2 on hardware key 'bob-token' is not the key" in out(result)
    assert "listed in the metadata" in out(result)


# --- what a signer can get wrong ---------------------------------------------------------


def test_wrong_pin(alice_hsm: World) -> None:
    code, output = init_with(alice_hsm, token("alice-token"), pin="0000")
    assert code == 6, output
    assert "error: wrong PIN for hardware key 'alice-token'" in output
    assert "hint: try again; a PIV PIN locks after 3 wrong attempts" in output
    assert "internal error" not in output


def test_no_pin_without_a_terminal(alice_hsm: World) -> None:
    code, output = init_with(alice_hsm, token("alice-token"), pin=None)
    assert code == 6, output
    assert "error: the signer needs a pin but there is no terminal to ask on" in output


def test_a_label_no_token_has(alice_hsm: World) -> None:
    code, output = init_with(alice_hsm, token("nobody-token"))
    assert code == 6, output
    assert f"error: no hardware key labelled 'nobody-token' (found: {ALL_LABELS})" in output
    assert "hint: insert that key, or use the label of the key you have" in output


@pytest.mark.parametrize("uri", ["hsm", "hsm:", "hsm:2"])
def test_several_tokens_and_no_label(alice_hsm: World, uri: str) -> None:
    code, output = init_with(alice_hsm, uri)
    assert code == 6, output
    assert f"error: several hardware keys found: {ALL_LABELS}" in output
    assert "hint: choose one by its label: --key 'hsm:2?label=<label>'" in output


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (token("alice-token", 5), "error: no key with id 5 on hardware key 'alice-token'"),
        (
            token("carol-token", P521_KEY_ID),
            (
                "error: unsupported key type on hardware key 'carol-token': "
                "secp521r1 is not a supported EC curve"
            ),
        ),
        (
            token("carol-token", RSA_KEY_ID),
            f"error: unsupported key type on hardware key 'carol-token': key {RSA_KEY_ID} is RSA",
        ),
    ],
    ids=["no-key", "p521", "rsa"],
)
def test_keys_that_cannot_sign(alice_hsm: World, uri: str, message: str) -> None:
    code, output = init_with(alice_hsm, uri)
    assert code == 6, output
    assert message in output
    assert "ykman piv keys generate -a ECCP256 9c" in output


def test_malformed_hsm_uri(alice_hsm: World) -> None:
    code, output = init_with(alice_hsm, "hsm:slot9c")
    assert code == 2, output
    assert "error: 'hsm:slot9c' is not a hardware key URI" in output


def test_pkcs11_module_missing_or_unloadable(
    world: World, softhsm: SoftHSM, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.so"
    use_library(world, "alice", str(missing))
    code, output = init_with(world, token("alice-token"))
    assert code == 6, output
    assert f"error: PKCS#11 library {missing} does not exist" in output
    assert "hint: set pykcs11lib in .tuf-on-ci-sign.ini (or the PYKCS11LIB" in output

    garbage = tmp_path / "garbage.so"
    garbage.write_bytes(b"not a shared object")
    ini = world.user("alice").clone / ".tuf-on-ci-sign.ini"
    ini.write_text(ini.read_text().replace(str(missing), str(garbage)))
    code, output = init_with(world, token("alice-token"))
    assert code == 6, output
    assert f"error: cannot use PKCS#11 library {garbage}: " in output


def test_no_pkcs11_module_configured_or_installed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(hsm.WELL_KNOWN_LIBRARIES, platform.system(), ())
    code, output = init_with(world, token("alice-token"))
    assert code == 6, output
    assert "error: PKCS#11 library not found" in output
    assert "hint: set pykcs11lib in .tuf-on-ci-sign.ini (or the PYKCS11LIB" in output


def test_no_token_at_all_in_a_fresh_process(
    world: World, softhsm: SoftHSM, tmp_path: Path
) -> None:
    """A subprocess sees an empty token directory; the module comes from PYKCS11LIB."""
    empty = write_conf(tmp_path / "empty-softhsm")
    alice = world.user("alice")
    done = subprocess.run(
        [sys.executable, "-m", "tufrepo", "-C", str(alice.clone), "init", "sign/init",
         "--online-key", world.online_uri, "--key", "hsm"],
        env=softhsm.subprocess_env(empty), input=f"{PIN}\n",
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 6, done.stderr
    assert "error: no hardware key (PKCS#11 token) found" in done.stderr
    assert f"hint: insert your YubiKey; tokens are looked for through {softhsm.library}" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


# --- units -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "key_id", "label", "normalized"),
    [
        ("hsm", 2, None, "hsm:2"),
        ("hsm:", 2, None, "hsm:2"),
        ("hsm:3", 3, None, "hsm:3"),
        ("hsm:?label=alice-token", 2, "alice-token", "hsm:2?label=alice-token"),
        (
            "hsm:2?label=YubiKey+PIV+%2315835999",
            2,
            "YubiKey PIV #15835999",
            "hsm:2?label=YubiKey+PIV+%2315835999",
        ),
    ],
)
def test_parse_uri(uri: str, key_id: int, label: str | None, normalized: str) -> None:
    parsed = hsm.parse_uri(uri)
    assert (parsed.key_id, parsed.label) == (key_id, label)
    assert str(parsed) == normalized


@pytest.mark.parametrize(
    "uri", ["hsm:x", "hsm:-1", "hsm:2?lable=a", "hsm://host/2", "hsm:2#frag", "file2:k.pem"]
)
def test_parse_uri_rejects(uri: str) -> None:
    with pytest.raises(UsageError, match="is not a hardware key URI"):
        hsm.parse_uri(uri)


def test_find_library_prefers_settings_then_environment_then_probing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured, env, probed = (tmp_path / n for n in ("configured.so", "env.so", "libykcs11.so"))
    for path in (configured, env, probed):
        path.write_bytes(b"")
    monkeypatch.setitem(hsm.WELL_KNOWN_LIBRARIES, platform.system(), (str(probed),))
    assert hsm.find_library(str(configured), str(env)) == str(configured)
    assert hsm.find_library(None, str(env)) == str(env)
    assert hsm.find_library(None, None) == str(probed)

    with pytest.raises(SignerUnavailableError, match=r"\(from PYKCS11LIB\)$"):
        hsm.find_library(None, str(tmp_path / "gone.so"))
    with pytest.raises(SignerUnavailableError, match=r"\(from pykcs11lib in .tuf-on-ci-sign.ini\)$"):  # fmt: skip
        hsm.find_library(str(tmp_path / "gone.so"), str(env))
    probed.unlink()
    with pytest.raises(SignerUnavailableError, match=r"^PKCS#11 library not found$") as e:
        hsm.find_library(None, None)
    assert e.value.hint is not None
    assert "pykcs11lib in .tuf-on-ci-sign.ini" in e.value.hint
    assert "PYKCS11LIB" in e.value.hint


def test_library_environment_is_restored(
    softhsm: SoftHSM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYKCS11LIB", "/elsewhere/libykcs11.so")
    key = hsm.import_key(token("bob-token"), library=softhsm.library)
    assert key.scheme == "ecdsa-sha2-nistp256"
    assert os.environ["PYKCS11LIB"] == "/elsewhere/libykcs11.so"
    monkeypatch.delenv("PYKCS11LIB")
    hsm.import_key(token("bob-token"), library=softhsm.library)
    assert "PYKCS11LIB" not in os.environ
