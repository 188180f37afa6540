"""Hardware keys end to end with SoftHSM2 tokens standing in for YubiKeys.

Signers keep their own tokens (labels alice-token, bob-token, carol-token),
root needs two of them, and a rotation moves root from one token's key to
another's.  PINs are piped on stdin, as a script would do; on a terminal
they are asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import World, out
from softhsm import PIN, create_tokens, generate_keys, library


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SoftHSM2 library path, with three tokens; SOFTHSM2_CONF set for the session."""
    lib = library()
    conf = create_tokens(tmp_path_factory.mktemp("softhsm"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        generate_keys(lib)
        yield lib


def hsm(label: str) -> str:
    return f"hsm:2?label={label}"


def settings_with_library(world: World, name: str, lib: str) -> None:
    ini = world.user(name).clone / ".tuf-on-ci-sign.ini"
    ini.write_text(ini.read_text() + f"pykcs11lib = {lib}\n")


def test_two_hardware_signers_and_a_root_rotation(world: World, softhsm: str) -> None:
    alice, bob, carol = world.user("alice"), world.user("bob"), world.user("carol")
    for name in ("alice", "bob", "carol"):
        settings_with_library(world, name, softhsm)
    result = alice.tufrepo(
        "init", "sign/init", "--signer", "root=@alice", "--signer", "root=@bob", "--threshold", "root=2",
        "--online-key", world.online_uri, "--key", hsm("alice-token"), input=f"{PIN}\n",
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    result = bob.tufrepo("sign", "sign/init", "--key", hsm("bob-token"), input=f"{PIN}\n")
    assert result.exit_code == 0, out(result)
    result = alice.tufrepo("sign", "sign/init", "--key", hsm("alice-token"), input=f"{PIN}\n")
    assert result.exit_code == 0, out(result)
    code, status = world.status("sign/init")
    assert code == 0, status
    assert status["roles"][0]["signers"]["signed"] == ["@alice", "@bob"]
    world.merge("sign/init")

    # rotate root from bob's token to carol's: the old root's two signers and carol sign
    result = alice.tufrepo("delegate", "sign/rotate", "root", "--signer", "@alice", "--signer", "@carol",
                           "--key", hsm("alice-token"), input=f"{PIN}\n")  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert (
        carol.tufrepo(
            "sign", "sign/rotate", "--key", hsm("carol-token"), input=f"{PIN}\n"
        ).exit_code
        == 0
    )
    assert (
        alice.tufrepo(
            "sign", "sign/rotate", "--key", hsm("alice-token"), input=f"{PIN}\n"
        ).exit_code
        == 0
    )
    code, status = world.status("sign/rotate")
    assert code == 3, "bob, a signer of the old root, must sign too"
    assert status["roles"][0]["known_good_signers"]["missing"] == ["@bob"]
    assert (
        bob.tufrepo("sign", "sign/rotate", "--key", hsm("bob-token"), input=f"{PIN}\n").exit_code
        == 0
    )
    code, status = world.status("sign/rotate")
    assert code == 0, status


def test_wrong_pin_and_missing_token(world: World, softhsm: str) -> None:
    alice = world.user("alice")
    settings_with_library(world, "alice", softhsm)
    result = alice.tufrepo("init", "sign/init", "--online-key", world.online_uri,
                           "--key", hsm("alice-token"), input="0000\n")  # fmt: skip
    assert result.exit_code == 6, out(result)
    assert "error: wrong PIN for the hardware key" in out(result)
    result = alice.tufrepo("init", "sign/init", "--online-key", world.online_uri,
                           "--key", hsm("nobody-token"), input=f"{PIN}\n")  # fmt: skip
    assert result.exit_code == 6
    assert (
        "error: no hardware key labelled 'nobody-token' (found: alice-token, bob-token, carol-token)"
        in out(result)
    )
    result = alice.tufrepo(
        "init", "sign/init", "--online-key", world.online_uri, "--key", "hsm", input=f"{PIN}\n"
    )
    assert result.exit_code == 6
    assert "error: several hardware keys found: alice-token, bob-token, carol-token" in out(result)
    assert "hint: choose one with --key hsm:2?label=<label>" in out(result)


def test_missing_library_and_missing_pin(world: World, softhsm: str, tmp_path: Path) -> None:
    alice = world.user("alice")
    ini = alice.clone / ".tuf-on-ci-sign.ini"
    ini.write_text(ini.read_text() + f"pykcs11lib = {tmp_path / 'nope.so'}\n")
    result = alice.tufrepo(
        "init", "sign/init", "--online-key", world.online_uri, "--key", hsm("alice-token")
    )
    assert result.exit_code == 6
    assert f"error: PKCS#11 library {tmp_path / 'nope.so'} does not exist" in out(result)
    ini.write_text(ini.read_text().replace(str(tmp_path / "nope.so"), softhsm))
    result = alice.tufrepo(
        "init", "sign/init", "--online-key", world.online_uri, "--key", hsm("alice-token")
    )
    assert result.exit_code == 6
    assert "the signer needs a" in out(result)
    assert "pipe the" in out(result)
