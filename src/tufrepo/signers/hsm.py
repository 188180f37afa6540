"""Hardware signing keys over PKCS#11: YubiKey PIV, and SoftHSM2 in the tests.

A signer enrols the key on their token once (:func:`import_key` reads its
public key, no PIN needed) and later signs with it (:func:`load_signer`; the
PIN comes from the caller's secrets handler)::

    library = find_library(settings.pykcs11lib, os.environ.get("PYKCS11LIB"))  # in the CLI
    key = import_key("hsm:2?label=YubiKey+PIV+%2315835999", library=library)
    signer = load_signer("hsm:2?label=...", key, ask_pin, library=library)

URIs are securesystemslib's: ``hsm``, ``hsm:``, ``hsm:<key id>`` and
``hsm:<key id>?label=<token label>``. Key id 2 (the default) is YubiKey PIV
slot 9c, "Digital Signature". Without a label the only initialised token is
used. Every failure a user can fix (no module, no token, several tokens, no
key, an RSA key, a wrong PIN) is a :class:`~tufrepo.errors.SignerUnavailableError`
with a hint.

Two facts about PKCS#11 from Python shape this module and its tests:

* securesystemslib's ``HSMSigner`` finds the module only through the
  ``PYKCS11LIB`` environment variable. This module sets it around each call
  into ``HSMSigner`` and restores the previous value, so the module the
  caller chose is the module used, and the process environment is left as it
  was (the library never owns configuration; DESIGN §5).
* python-pkcs11 loads and initialises each module path once per process and
  keeps it. A module such as SoftHSM2 reads its configuration (``SOFTHSM2_CONF``)
  and its list of tokens at that moment, so tokens created later in the same
  process stay invisible. Tests therefore create every token before the
  first use, or run the CLI in a subprocess to see another set of tokens.

Not for: prompting for the PIN, choosing which key a user signs with
(``signing``), or key generation on the token (``ykman``'s job).
"""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib import parse

from securesystemslib.signer import HSMSigner, Signer

from tufrepo.errors import SignerUnavailableError, UsageError
from tufrepo.signers.base import Backend, WrappedSigner, same_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pkcs11
    from securesystemslib.signer import Key, SecretsHandler, Signature

SCHEME = "hsm"
DEFAULT_KEY_ID = 2  # YubiKey PIV slot 9c, "Digital Signature"
LIBRARY_ENV = "PYKCS11LIB"  # securesystemslib reads it; set here only around HSMSigner calls

# Where Yubico's ykcs11 module is installed by distribution packages and Homebrew.
WELL_KNOWN_LIBRARIES: dict[str, tuple[str, ...]] = {
    "Linux": (
        "/usr/lib/x86_64-linux-gnu/libykcs11.so",
        "/usr/lib/aarch64-linux-gnu/libykcs11.so",
        "/usr/lib64/libykcs11.so",
        "/usr/lib/libykcs11.so",
        "/usr/local/lib/libykcs11.so",
    ),
    "Darwin": (
        "/opt/homebrew/lib/libykcs11.dylib",
        "/usr/local/lib/libykcs11.dylib",
    ),
}

LIBRARY_HINT = (
    "set pykcs11lib in .tuf-on-ci-sign.ini (or the PYKCS11LIB environment variable) "
    "to the PKCS#11 module of your key, e.g. /usr/lib/x86_64-linux-gnu/libykcs11.so "
    "from the ykcs11 package"
)
_KEY_HINT = (
    "YubiKeys sign with the PIV slot 9c key (hsm:2); create one with "
    "`ykman piv keys generate -a ECCP256 9c pubkey.pem`"
)


@dataclass(frozen=True)
class HsmUri:
    """A parsed ``hsm:`` URI."""

    key_id: int = DEFAULT_KEY_ID
    label: str | None = None

    def __str__(self) -> str:
        query = f"?{parse.urlencode({'label': self.label})}" if self.label else ""
        return f"{SCHEME}:{self.key_id}{query}"

    @property
    def token_name(self) -> str:
        """How the token is named in messages."""
        return f"hardware key {self.label!r}" if self.label else "the hardware key"


def parse_uri(uri: str) -> HsmUri:
    """Parse ``hsm``, ``hsm:``, ``hsm:<key id>`` or ``hsm:<key id>?label=<token label>``.

    Raises:
        UsageError: ``uri`` is not of that form.
    """
    if uri == SCHEME:
        return HsmUri()
    parsed = parse.urlparse(uri)
    query = parse.parse_qs(parsed.query, keep_blank_values=True)
    if (
        parsed.scheme != SCHEME
        or parsed.netloc
        or parsed.fragment
        or (parsed.path and not parsed.path.isdigit())
        or set(query) - {"label"}
        or len(query.get("label", [])) > 1
    ):
        raise UsageError(
            f"'{uri}' is not a hardware key URI",
            hint="use hsm, hsm:2 or hsm:2?label=<token label> (2 is YubiKey PIV slot 9c)",
        )
    label = query["label"][0] if "label" in query else None
    return HsmUri(int(parsed.path) if parsed.path else DEFAULT_KEY_ID, label or None)


def find_library(configured: str | None, env: str | None) -> str:
    """The PKCS#11 module to load.

    Args:
        configured: ``pykcs11lib`` from the settings file, if set.
        env: the value of ``PYKCS11LIB``, if set.

    Returns:
        ``configured``, else ``env``, else the first ykcs11 module installed in
        a well-known location for this operating system.

    Raises:
        SignerUnavailableError: the chosen path does not exist, or nothing is
            configured and no ykcs11 module is installed.
    """
    for source, path in (("pykcs11lib in .tuf-on-ci-sign.ini", configured), (LIBRARY_ENV, env)):
        if path:
            if not Path(path).is_file():
                raise SignerUnavailableError(
                    f"PKCS#11 library {path} does not exist (from {source})", hint=LIBRARY_HINT
                )
            return path
    for candidate in WELL_KNOWN_LIBRARIES.get(platform.system(), ()):
        if Path(candidate).is_file():
            return candidate
    raise SignerUnavailableError("PKCS#11 library not found", hint=LIBRARY_HINT)


def _resolve_library(library: str | None) -> str:
    """``library`` (already the settings value or PYKCS11LIB) if given, else probe."""
    if library and not Path(library).is_file():
        raise SignerUnavailableError(
            f"PKCS#11 library {library} does not exist", hint=LIBRARY_HINT
        )
    return find_library(library, None)


@contextlib.contextmanager
def _library_env(path: str) -> Iterator[None]:
    """Make securesystemslib's HSMSigner load ``path`` during the block only.

    HSMSigner reads ``PYKCS11LIB`` on every token lookup, with no parameter to
    pass the module instead. Restoring the variable keeps this library free of
    lasting side effects on the process environment.
    """
    before = os.environ.get(LIBRARY_ENV)
    os.environ[LIBRARY_ENV] = path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(LIBRARY_ENV, None)
        else:
            os.environ[LIBRARY_ENV] = before


def _require_pkcs11() -> None:
    """Check that python-pkcs11 (the ``hsm`` extra) is installed."""
    try:
        import pkcs11  # noqa: F401, PLC0415 - only hardware-key users need the extra
    except ImportError as e:
        raise SignerUnavailableError(
            "hardware keys need python-pkcs11", hint="pip install 'tufrepo[hsm]'"
        ) from e


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _select_token(library: str, uri: HsmUri) -> pkcs11.Token:
    """The initialised token ``uri`` names (its label, or the only one)."""
    import pkcs11  # noqa: PLC0415 - checked by _require_pkcs11()

    try:
        tokens = list(
            pkcs11.lib(library).get_tokens(token_flags=pkcs11.TokenFlag.TOKEN_INITIALIZED)
        )
    except (pkcs11.PKCS11Error, OSError) as e:  # not a PKCS#11 module, or it failed to start
        raise SignerUnavailableError(
            f"cannot use PKCS#11 library {library}: {_one_line(e)}", hint=LIBRARY_HINT
        ) from e
    labels = sorted(str(t.label) for t in tokens)
    if not tokens:
        raise SignerUnavailableError(
            "no hardware key (PKCS#11 token) found",
            hint=f"insert your YubiKey; tokens are looked for through {library}",
        )
    if uri.label is None:
        if len(tokens) > 1:
            raise SignerUnavailableError(
                f"several hardware keys found: {', '.join(labels)}",
                hint="choose one by its label: --key 'hsm:2?label=<label>' "
                "(or the same URI in [signing-keys] of .tuf-on-ci-sign.ini)",
            )
        return tokens[0]
    matching = [t for t in tokens if str(t.label) == uri.label]
    if not matching:
        raise SignerUnavailableError(
            f"no hardware key labelled {uri.label!r} (found: {', '.join(labels)})",
            hint="insert that key, or use the label of the key you have",
        )
    if len(matching) > 1:
        raise SignerUnavailableError(
            f"several hardware keys are labelled {uri.label!r}",
            hint="insert only the one you sign with",
        )
    return matching[0]


def _missing_key_error(token: pkcs11.Token, uri: HsmUri) -> SignerUnavailableError:
    """Explain HSMSigner's "could not find ECDSA key" by what the token holds instead."""
    import pkcs11  # noqa: PLC0415 - checked by _require_pkcs11()

    found: list[str] = []
    with contextlib.suppress(pkcs11.PKCS11Error), token.open() as session:
        for obj in session.get_objects(
            {
                pkcs11.Attribute.ID: pkcs11.util.biginteger(uri.key_id),
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PUBLIC_KEY,
            }
        ):
            key_type = getattr(obj, "key_type", None)
            found.append(key_type.name if key_type is not None else "of an unknown type")
    if found and "EC" not in found:
        return SignerUnavailableError(
            f"unsupported key type on {uri.token_name}: key {uri.key_id} is {found[0]}",
            hint=f"hardware keys must be ECDSA P-256 or P-384. {_KEY_HINT}",
        )
    if len(found) > 1:
        return SignerUnavailableError(
            f"several keys with id {uri.key_id} on {uri.token_name}",
            hint="keep one key per id on the token",
        )
    return SignerUnavailableError(
        f"no key with id {uri.key_id} on {uri.token_name}", hint=_KEY_HINT
    )


def _read_public_key(library: str, uri: HsmUri) -> tuple[HsmUri, Key]:
    """The public key at ``uri``, and ``uri`` with the label of the token it is on."""
    token = _select_token(library, uri)
    selected = HsmUri(uri.key_id, str(token.label))
    with _library_env(library):
        try:
            _, key = HSMSigner.import_(hsm_keyid=uri.key_id, token_label=selected.label)
        except ValueError as e:
            message = str(e)
            if "not a supported EC curve" in message:
                raise SignerUnavailableError(
                    f"unsupported key type on {selected.token_name}: {message}",
                    hint=f"hardware keys must be ECDSA P-256 or P-384. {_KEY_HINT}",
                ) from e
            raise _missing_key_error(token, selected) from e
    return selected, key


def import_key(uri: str, *, library: str | None) -> Key:
    """The public key of the token key at ``uri``, to enrol in metadata.

    Reading a public key needs no PIN.

    Args:
        uri: an ``hsm`` URI (see the module docstring).
        library: the PKCS#11 module (settings file or ``PYKCS11LIB``), or None
            to probe well-known ykcs11 locations.

    Raises:
        UsageError: ``uri`` is not an ``hsm`` URI.
        SignerUnavailableError: python-pkcs11 is missing; the module is missing
            or cannot be loaded; no token, several without a label, or none
            with that label; no key with that id; a key other than ECDSA
            P-256/P-384.
    """
    parsed = parse_uri(uri)
    _require_pkcs11()
    _, key = _read_public_key(_resolve_library(library), parsed)
    return key


class _RememberedPin:
    """A secrets handler that asks until a PIN has signed, then gives that PIN again.

    securesystemslib's HSMSigner asks for the PIN at every signature; one run
    signing root and targets should ask once, as tuf-on-ci does.  A wrong PIN
    is forgotten, so a retry asks again.
    """

    def __init__(self, ask: SecretsHandler) -> None:
        self._ask = ask
        self._last: str | None = None
        self._good: str | None = None

    def __call__(self, secret: str) -> str:
        if self._good is not None:
            return self._good
        self._last = self._ask(secret)
        return self._last

    def worked(self, *, ok: bool) -> None:
        """Remember the PIN just given when it signed; forget it when it did not."""
        self._good = self._last if ok else None


class TokenSigner(WrappedSigner):
    """An HSMSigner whose token failures become SignerUnavailableError with advice."""

    def __init__(
        self, inner: HSMSigner, library: str, uri: HsmUri, pin: _RememberedPin | None = None
    ) -> None:
        super().__init__(inner)
        self._library = library
        self._uri = uri
        self._pin = pin

    def sign(self, payload: bytes) -> Signature:
        """Sign on the token, asking the secrets handler for the PIN.

        Raises:
            SignerUnavailableError: wrong or locked PIN, token removed, no
                private key with the id, or any other token failure.
        """
        from pkcs11 import exceptions as p11  # noqa: PLC0415 - checked by load_signer

        name = self._uri.token_name
        with _library_env(self._library):
            try:
                signature = self._inner.sign(payload)
            except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange) as e:
                if self._pin is not None:
                    self._pin.worked(ok=False)
                raise SignerUnavailableError(
                    f"wrong PIN for {name}",
                    hint="try again; a PIV PIN locks after 3 wrong attempts",
                ) from e
            except p11.PinLocked as e:
                raise SignerUnavailableError(
                    f"the PIN of {name} is locked",
                    hint="unblock it with the PUK: ykman piv access",
                ) from e
            except p11.PinExpired as e:
                raise SignerUnavailableError(
                    f"the PIN of {name} has expired", hint="change it: ykman piv access change-pin"
                ) from e
            except p11.UserNotLoggedIn as e:
                raise SignerUnavailableError(
                    f"{name} refused to sign without authentication (PIN or touch)",
                    hint="touch the key when it blinks",
                ) from e
            except (p11.TokenNotPresent, p11.DeviceRemoved, p11.SessionHandleInvalid) as e:
                raise SignerUnavailableError(
                    f"{name} was removed while signing", hint="insert it and sign again"
                ) from e
            except ValueError as e:  # securesystemslib: token or private key not found
                raise SignerUnavailableError(
                    f"{name} cannot sign: {_one_line(e)}", hint="insert the key you enrolled"
                ) from e
            except p11.PKCS11Error as e:
                raise SignerUnavailableError(
                    f"{name} failed to sign ({type(e).__name__})",
                    hint="remove and insert the key, then sign again",
                ) from e
        if self._pin is not None:
            self._pin.worked(ok=True)
        return signature


def load_signer(
    uri: str, key: Key, secrets_handler: SecretsHandler | None, *, library: str | None
) -> Signer:
    """A signer for ``key`` on the token at ``uri``.

    The token's public key is compared with ``key`` first, so a wrong token
    fails before any PIN is asked for; the caller still verifies each
    signature (``TufRepository.add_signature``).

    Args:
        uri: an ``hsm`` URI.
        key: the public key listed in the metadata.
        secrets_handler: asked for the ``"pin"`` at signing time, until a PIN
            has signed; later signatures of this signer reuse that PIN.
        library: the PKCS#11 module (settings file or ``PYKCS11LIB``), or None
            to probe.

    Raises:
        UsageError: ``uri`` is not an ``hsm`` URI.
        SignerUnavailableError: as for :func:`import_key`; the token holds
            another key; there is no way to ask for the PIN.
    """
    parsed = parse_uri(uri)
    _require_pkcs11()
    path = _resolve_library(library)
    selected, on_token = _read_public_key(path, parsed)
    if not same_key(on_token, key):
        raise SignerUnavailableError(
            f"the key with id {selected.key_id} on {selected.token_name} is not "
            f"the key {key.keyid[:8]} listed in the metadata",
            hint="insert the hardware key you enrolled, or fix --key / [signing-keys]",
        )
    if secrets_handler is None:
        raise SignerUnavailableError(
            f"signing with {selected.token_name} needs its PIN and there is no way to ask for it"
        )
    pin = _RememberedPin(secrets_handler)
    try:
        inner = HSMSigner.from_priv_key_uri(str(selected), key, pin)
    except ValueError as e:
        raise SignerUnavailableError(f"cannot use {selected.token_name}: {_one_line(e)}") from e
    if not isinstance(inner, HSMSigner):  # pragma: no cover - securesystemslib's contract
        raise SignerUnavailableError(f"unexpected signer {type(inner).__name__} for {uri}")
    return TokenSigner(inner, path, selected, pin)


BACKEND = Backend(
    import_key=lambda uri, context: import_key(uri, library=context.pykcs11lib),
    load_signer=lambda uri, key, secrets_handler, context: load_signer(
        uri, key, secrets_handler, library=context.pykcs11lib
    ),
)
