"""SoftHSM2 tokens standing in for YubiKeys, for the hardware-key tests.

What it provides: the path of the SoftHSM2 PKCS#11 module, a private
``SOFTHSM2_CONF`` with its own token directory, tokens initialised with
``softhsm2-util``, and keys generated on them with python-pkcs11 (no OpenSC).
Not for: anything but tests, or real YubiKey specifics (PIV slots, touch).

How the tokens reach the code under test (the choice, and why):

* The :func:`softhsm` session fixture creates every token the hardware tests
  need (``alice-token``, ``bob-token``, ``carol-token``) and sets
  ``SOFTHSM2_CONF`` for the whole session *before* the module is first
  loaded. python-pkcs11 loads and initialises a PKCS#11 module once per
  process, and SoftHSM2 reads its configuration and lists its tokens only
  then, so tokens created afterwards, or another ``SOFTHSM2_CONF``, would
  never be seen in this process. CLI calls then run in-process, fast.
* A test that needs a different set of tokens (none at all, say) runs the
  CLI in a subprocess with its own environment (:meth:`SoftHSM.subprocess_env`).

Tokens get random slot ids once initialised, so everything addresses them by
label; SoftHSM2 always adds one uninitialised slot, which python-pkcs11 and
HSMSigner skip because they ask for initialised tokens only.

Under ``make test`` a missing SoftHSM2 fails the tests (``pytest.fail``, never
a skip): ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PIN = "1234"
SO_PIN = "12345678"
TOKENS = ("alice-token", "bob-token", "carol-token")
KEY_ID = 2  # YubiKey PIV slot 9c, HSMSigner's default
P521_KEY_ID = 3  # on carol-token: an EC curve HSMSigner does not support
RSA_KEY_ID = 4  # on carol-token: not an EC key at all
_KNOWN_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
_MISSING = (
    "SoftHSM2 is required for the hardware-key tests: apt-get install -y softhsm2 "
    "(.ci/run installs it before make test)"
)


def library_path() -> str:
    """The SoftHSM2 PKCS#11 module; fails the test when SoftHSM2 is not installed."""
    if shutil.which("softhsm2-util") is None:
        pytest.fail(_MISSING)
    candidates: list[str] = []
    if shutil.which("dpkg") is not None:
        listing = subprocess.run(
            ["dpkg", "-L", "libsofthsm2"], capture_output=True, text=True, check=False
        )
        candidates += [p for p in listing.stdout.splitlines() if p.endswith("/libsofthsm2.so")]
    found = next((p for p in (*candidates, *_KNOWN_PATHS) if Path(p).is_file()), None)
    if found is None:
        pytest.fail(_MISSING)
    return found


def write_conf(directory: Path) -> Path:
    """A SoftHSM2 configuration with its own, empty token directory under ``directory``."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    return conf


def init_token(conf: Path, label: str) -> None:
    """Initialise a token on SoftHSM2's free slot (user PIN :data:`PIN`)."""
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label,
         "--so-pin", SO_PIN, "--pin", PIN],
        env={**os.environ, "SOFTHSM2_CONF": str(conf)}, check=True, capture_output=True,
    )  # fmt: skip


def generate_keys(library: str, label: str, *, unsupported: bool = False) -> None:
    """An EC P-256 key pair with CKA_ID 0x02 on the token; with ``unsupported``, P-521 and RSA keys too.

    Loads the module, so ``SOFTHSM2_CONF`` must already name the token's configuration.
    """
    import pkcs11  # noqa: PLC0415 - the hsm extra
    from pkcs11 import Attribute, KeyType  # noqa: PLC0415
    from pkcs11.util.ec import encode_named_curve_parameters  # noqa: PLC0415

    with pkcs11.lib(library).get_token(token_label=label).open(rw=True, user_pin=PIN) as session:
        curves = [("secp256r1", KEY_ID)]
        if unsupported:
            curves.append(("secp521r1", P521_KEY_ID))
        for curve, key_id in curves:
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)},
                local=True,
            )
            params.generate_keypair(store=True, label=f"{curve}-key", id=bytes([key_id]))
        if unsupported:
            session.generate_keypair(
                KeyType.RSA, 2048, store=True, label="rsa-key", id=bytes([RSA_KEY_ID])
            )


@dataclass(frozen=True)
class SoftHSM:
    """The session's SoftHSM2: module path and configuration."""

    library: str
    conf: Path

    def subprocess_env(self, conf: Path | None = None) -> dict[str, str]:
        """The current environment with ``conf`` (default: the session's) and PYKCS11LIB set."""
        return {
            **os.environ,
            "SOFTHSM2_CONF": str(conf or self.conf),
            "PYKCS11LIB": self.library,
        }


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    """Three initialised tokens with a P-256 key each (carol's also holds P-521 and RSA keys)."""
    library = library_path()
    conf = write_conf(tmp_path_factory.mktemp("softhsm"))
    for label in TOKENS:
        init_token(conf, label)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))  # before the module's first load: see above
        import pkcs11  # noqa: PLC0415 - the hsm extra

        # Should anything have loaded the module earlier in this process, make it
        # read SOFTHSM2_CONF again (finalize + initialize).
        pkcs11.lib(library).reinitialize()
        for label in TOKENS:
            generate_keys(library, label, unsupported=label == "carol-token")
        yield SoftHSM(library, conf)
