"""SoftHSM2 tokens standing in for YubiKeys.

The PKCS#11 module reads its token directory once per process, so all the
tokens a test session needs are created up front, in one private
SOFTHSM2_CONF, before the module is first loaded.  Under `make test` a
missing SoftHSM2 is a failure, not a skip: `.ci/run` installs it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PIN = "1234"
SO_PIN = "12345678"
TOKENS = ("alice-token", "bob-token", "carol-token")
_LIBRARY_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


def library() -> str:
    """The SoftHSM2 PKCS#11 module (fails the test when SoftHSM2 is not installed)."""
    found = next((p for p in _LIBRARY_PATHS if Path(p).is_file()), None)
    if found is None or shutil.which("softhsm2-util") is None:
        pytest.fail("SoftHSM2 is required: apt-get install softhsm2 (as .ci/run does)")
    return found


def create_tokens(directory: Path) -> Path:
    """Initialise one token per name in TOKENS, each with an EC P-256 key with id 2; return the conf."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    env = {"SOFTHSM2_CONF": str(conf), "PATH": "/usr/bin:/bin"}
    for label in TOKENS:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN,
                        "--pin", PIN], env=env, check=True, capture_output=True)  # fmt: skip
    return conf


def generate_keys(lib_path: str) -> None:
    """A P-256 key pair with CKA_ID 0x02 (YubiKey PIV slot 9c) on every token."""
    import pkcs11  # noqa: PLC0415
    from pkcs11 import Attribute, KeyType  # noqa: PLC0415
    from pkcs11.util.ec import encode_named_curve_parameters  # noqa: PLC0415

    lib = pkcs11.lib(lib_path)
    for label in TOKENS:
        with lib.get_token(token_label=label).open(rw=True, user_pin=PIN) as session:
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            params.generate_keypair(store=True, label="tuf-key", id=b"\x02")
