"""Hardware keys over PKCS#11: YubiKey PIV (and SoftHSM2 in tests).

* :func:`find_library` picks the PKCS#11 module: the settings file's
  ``pykcs11lib``, else ``PYKCS11LIB`` (both passed in by the CLI), else a
  well-known ykcs11 location.
* :func:`import_key` reads the public key of a token's key
  (``hsm``, ``hsm:2``, ``hsm:2?label=<token label>``; key id 2 is PIV slot 9c).
* :func:`load_signer` returns a signer whose failures (wrong PIN, missing
  token, touch not given) are :class:`~tufrepo.errors.SignerUnavailableError`.

securesystemslib's HSMSigner finds the module through ``PYKCS11LIB``; it is
set only for the duration of each call and restored afterwards.  The PKCS#11
module itself is loaded once per process (python-pkcs11 caches it).

Not for: prompting (the PIN comes from the caller's secrets handler).
"""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING
from urllib import parse

from securesystemslib.signer import HSMSigner, Signer

from tufrepo.errors import SignerUnavailableError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from securesystemslib.signer import Key, SecretsHandler, Signature

WELL_KNOWN_LIBRARIES = {
    "Linux": [
        "/usr/lib/x86_64-linux-gnu/libykcs11.so",
        "/usr/lib/aarch64-linux-gnu/libykcs11.so",
        "/usr/lib64/libykcs11.so",
        "/usr/local/lib/libykcs11.so",
    ],
    "Darwin": ["/opt/homebrew/lib/libykcs11.dylib", "/usr/local/lib/libykcs11.dylib"],
}
DEFAULT_KEY_ID = 2  # YubiKey PIV slot 9c, "Digital Signature"
_LIBRARY_HINT = (
    "set pykcs11lib in .tuf-on-ci-sign.ini or PYKCS11LIB to your PKCS#11 module (libykcs11)"
)


def find_library(configured: str | None) -> str:
    """The PKCS#11 module to use.

    Raises:
        SignerUnavailableError: none is configured and none is installed.
    """
    if configured:
        if not Path(configured).is_file():
            raise SignerUnavailableError(
                f"PKCS#11 library {configured} does not exist", hint=_LIBRARY_HINT
            )
        return configured
    for candidate in WELL_KNOWN_LIBRARIES.get(platform.system(), []):
        if Path(candidate).is_file():
            return candidate
    raise SignerUnavailableError("PKCS#11 library not found", hint=_LIBRARY_HINT)


@contextlib.contextmanager
def _library(path: str) -> Iterator[None]:
    """Point securesystemslib's HSMSigner at ``path`` for the duration of a call."""
    before = os.environ.get("PYKCS11LIB")
    os.environ["PYKCS11LIB"] = path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYKCS11LIB", None)
        else:
            os.environ["PYKCS11LIB"] = before


def parse_uri(uri: str) -> tuple[int, str | None]:
    """(key id, token label) of ``hsm``, ``hsm:``, ``hsm:2`` or ``hsm:2?label=X``.

    Raises:
        UsageError: not an hsm URI.
    """
    if uri == "hsm":
        return DEFAULT_KEY_ID, None
    parsed = parse.urlparse(uri)
    if parsed.scheme != "hsm" or (parsed.path and not parsed.path.isdigit()):
        raise UsageError(
            f"'{uri}' is not an hsm URI", hint="use hsm, hsm:2 or hsm:2?label=<token>"
        )
    label = dict(parse.parse_qsl(parsed.query)).get("label")
    return int(parsed.path) if parsed.path else DEFAULT_KEY_ID, label


def _token_labels(library: str) -> list[str]:
    import pkcs11  # noqa: PLC0415 - only with the [hsm] extra

    try:
        tokens = pkcs11.lib(library).get_tokens(token_flags=pkcs11.TokenFlag.TOKEN_INITIALIZED)
        return sorted(str(t.label).strip() for t in tokens)
    except (pkcs11.PKCS11Error, RuntimeError, OSError) as e:
        raise SignerUnavailableError(
            f"cannot use PKCS#11 library {library}: {e}", hint=_LIBRARY_HINT
        ) from e


def _check_token(library: str, label: str | None) -> None:
    labels = _token_labels(library)
    if not labels:
        raise SignerUnavailableError(
            "no hardware key (PKCS#11 token) found", hint="insert your YubiKey"
        )
    if label is None and len(labels) > 1:
        raise SignerUnavailableError(
            f"several hardware keys found: {', '.join(labels)}",
            hint="choose one with --key hsm:2?label=<label>",
        )
    if label is not None and label not in labels:
        raise SignerUnavailableError(
            f"no hardware key labelled {label!r} (found: {', '.join(labels)})",
            hint="insert that key, or use the label of the one you have",
        )


def import_key(uri: str, *, library: str | None) -> Key:
    """The public key of the token key at ``uri``.

    Raises:
        SignerUnavailableError: no library, no token or several without a
            label, no key with that id, or a key type other than ECDSA P-256/P-384.
    """
    try:
        import pkcs11  # noqa: F401, PLC0415 - only with the [hsm] extra
    except ImportError as e:
        raise SignerUnavailableError(
            "hardware keys need python-pkcs11", hint="pip install 'tufrepo[hsm]'"
        ) from e
    keyid, label = parse_uri(uri)
    path = find_library(library)
    _check_token(path, label)
    with _library(path):
        try:
            _, key = HSMSigner.import_(hsm_keyid=keyid, token_label=label)
        except ValueError as e:
            if "not a supported EC curve" in str(e):
                raise SignerUnavailableError(
                    f"unsupported key type on the hardware key: {e}",
                    hint="use an ECDSA P-256 key (ykman piv keys generate -a ECCP256 9c …)",
                ) from e
            raise SignerUnavailableError(
                f"no usable key with id {keyid} on the hardware key: {e}",
                hint="YubiKeys sign with the PIV slot 9c key (id 2)",
            ) from e
    return key


class _Guarded(Signer):
    """An HSMSigner whose failures become SignerUnavailableError with advice."""

    def __init__(self, inner: HSMSigner, library: str) -> None:
        self._inner = inner
        self._library = library

    @property
    def public_key(self) -> Key:
        return self._inner.public_key

    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: SecretsHandler | None = None
    ) -> Signer:
        raise NotImplementedError("use tufrepo.hsm.load_signer")

    def sign(self, payload: bytes) -> Signature:
        import pkcs11.exceptions as errors  # noqa: PLC0415

        with _library(self._library):
            try:
                return self._inner.sign(payload)
            except (errors.PinIncorrect, errors.PinInvalid, errors.PinLenRange) as e:
                raise SignerUnavailableError(
                    "wrong PIN for the hardware key", hint="try again"
                ) from e
            except errors.PinLocked as e:
                raise SignerUnavailableError(
                    "the hardware key's PIN is locked", hint="unblock it with the PUK"
                ) from e
            except errors.UserNotLoggedIn as e:
                raise SignerUnavailableError(
                    "required authentication (e.g. touch) did not happen",
                    hint="touch the key when it blinks",
                ) from e
            except ValueError as e:  # securesystemslib: token or key not found
                raise SignerUnavailableError(
                    f"hardware key not available: {e}", hint="insert your YubiKey"
                ) from e
            except errors.PKCS11Error as e:
                raise SignerUnavailableError(
                    f"the hardware key failed to sign: {type(e).__name__}"
                ) from e


def load_signer(
    uri: str, key: Key, secrets_handler: SecretsHandler | None, *, library: str | None
) -> Signer:
    """A signer for the token key at ``uri``; the caller verifies that it signs as ``key``.

    Raises:
        SignerUnavailableError: no library, no token, or no PIN handler.
    """
    keyid, label = parse_uri(uri)
    path = find_library(library)
    _check_token(path, label)
    if secrets_handler is None:
        raise SignerUnavailableError(
            "a hardware key needs a PIN and there is no way to ask for it"
        )
    normalized = f"hsm:{keyid}" + (f"?{parse.urlencode({'label': label})}" if label else "")
    try:
        inner = HSMSigner.from_priv_key_uri(normalized, key, secrets_handler)
    except ValueError as e:
        raise SignerUnavailableError(f"cannot use the hardware key: {e}") from e
    if not isinstance(inner, HSMSigner):
        raise SignerUnavailableError("unexpected signer for an hsm URI")
    return _Guarded(inner, path)
