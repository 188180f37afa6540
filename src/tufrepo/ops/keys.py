"""Which key a user signs with, and which signer signs for an online key.

:class:`UserSigners` is the signer-resolution chain of ``repo-sign``: for each
of the user's keys it tries the key URI the user gave, then the settings
file's ``[signing-keys]`` entry, then (for a Sigstore identity key) a browser
sign-in, and last asks the caller for a URI.  Secrets (PINs, passphrases) come
from the caller's ``SecretsHandler``; environment values come in as a
:class:`SignerEnv`, never read here::

    signers = UserSigners(settings, key_uri="file2:/home/alice/alice.pem")
    signer = signers.signer_for(key)

:func:`online_key` enrols an online key from its URI and :func:`online_signers`
loads the signer named by the URI stored with each online key.

Not for: prompting or reading stdin (``ask`` and the secrets handler come
from the caller), deciding which roles to sign (see ``signing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tufrepo import signers
from tufrepo.core import fields
from tufrepo.errors import SignerUnavailableError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from securesystemslib.signer import Key, SecretsHandler, Signer

    from tufrepo.settings import Settings

SIGSTORE_PERSON = "sigstore"  # a user's --key for their Sigstore identity (browser sign-in)
_SIGSTORE_PERSON_URI = "sigstore:?ambient=false"


@dataclass(frozen=True)
class SignerEnv:
    """What the environment says about signers (the CLI reads the variables).

    Attributes:
        path_prefix: base directory of relative ``file2:`` paths (``CRYPTO_SIGNER_PATH_PREFIX``).
        pykcs11lib: the PKCS#11 module (``PYKCS11LIB``), when the settings name none.
        sigstore_token: an OIDC identity token instead of the browser flow
            (``SIGSTORE_IDENTITY_TOKEN``).
    """

    path_prefix: str | None = None
    pykcs11lib: str | None = None
    sigstore_token: str | None = None


def _missing_uri() -> UsageError:
    # The same words as the CLI's own "no terminal to ask on" error.
    return UsageError("--key URI is required", hint="pass --key URI (no terminal to ask on)")


class UserSigners:
    """The invoking user's keys and signers (the resolution chain, see the module docstring).

    Args:
        settings: the user's settings (``[signing-keys]``, ``pykcs11lib``).
        key_uri: the signer URI the user gave (``--key``), or None.
        env: environment values for the signer backends.
        secrets: asks for a PIN or passphrase; None when no backend may ask.
        ask: asks the user for a signer URI (the question is its argument);
            None when there is nobody to ask, and then a missing URI is an error.
    """

    def __init__(
        self,
        settings: Settings,
        key_uri: str | None = None,
        *,
        env: SignerEnv | None = None,
        secrets: SecretsHandler | None = None,
        ask: Callable[[str], str] | None = None,
    ) -> None:
        self.settings = settings
        self.key_uri = key_uri
        self.env = env or SignerEnv()
        self.secrets = secrets
        self.ask = ask
        self._cache: dict[str, Signer] = {}

    @property
    def pykcs11lib(self) -> str | None:
        """The PKCS#11 module: the settings file's pykcs11lib, else the environment's."""
        return self.settings.pykcs11lib or self.env.pykcs11lib

    def _ask(self, question: str) -> str:
        if self.ask is None:
            raise _missing_uri()
        return self.ask(question)

    def import_key(self, uri: str) -> Key:
        """The public key of a signer URI (relative file2: paths use the path prefix)."""
        return signers.import_key(
            uri, path_prefix=self.env.path_prefix, pykcs11lib=self.pykcs11lib
        )

    def public_key(self) -> Key:
        """The user's public key, to enrol when accepting an invitation or becoming a signer.

        ``sigstore`` enrols the user's Sigstore identity (from the token in
        :class:`SignerEnv`, else through a browser sign-in).

        Raises:
            UsageError: no key URI given and nobody to ask.
            SignerUnavailableError: the key cannot be read.
        """
        uri = self.key_uri or self._ask(
            "Signer URI of your key (e.g. file2:key.pem, hsm, sigstore)"
        )
        self.key_uri = uri  # the answer also signs: asked once per run
        if uri in (SIGSTORE_PERSON, _SIGSTORE_PERSON_URI):
            from tufrepo.signers import sigstore  # noqa: PLC0415 - sigstore loads only when used

            return sigstore.enrol_person(self.env.sigstore_token)[1]
        return self.import_key(uri)

    def can_sign(self, keyids: set[str]) -> bool:
        """True when a signer for these keys can be found without failing for want of a URI."""
        return bool(
            self.key_uri or self.ask is not None or keyids <= self.settings.signing_keys.keys()
        )

    def signer_for(self, key: Key) -> Signer:
        """The signer for one of the user's keys: the key URI, then [signing-keys], then asking.

        Raises:
            UsageError: no URI for the key and nobody to ask.
            SignerUnavailableError: no candidate URI gives a signer for the key.
        """
        if key.keyid in self._cache:
            return self._cache[key.keyid]
        configured = self.settings.signing_keys.get(key.keyid)
        candidates = [u for u in (self.key_uri, configured) if u]
        if not candidates and key.keytype == "sigstore-oidc":
            candidates = [SIGSTORE_PERSON]  # the key says who signs: sign in as that identity
        if not candidates:
            candidates = [self._ask(f"Signer URI for your key {key.keyid[:8]}")]
        error: SignerUnavailableError | None = None
        for candidate in candidates:
            uri = _SIGSTORE_PERSON_URI if candidate == SIGSTORE_PERSON else candidate
            try:
                signer = signers.load_signer(
                    uri, key, self.secrets, path_prefix=self.env.path_prefix,
                    pykcs11lib=self.pykcs11lib, sigstore_token=self.env.sigstore_token,
                )  # fmt: skip
            except SignerUnavailableError as e:
                error = error or e
                continue
            self._cache[key.keyid] = signer
            return signer
        if error is None:  # pragma: no cover - candidates is never empty
            raise SignerUnavailableError(f"no signer for key {key.keyid[:8]}")
        raise error


def online_key(
    uri: str,
    *,
    env: SignerEnv | None = None,
    identity: str | None = None,
    issuer: str | None = None,
    remote_url: str | None = None,
) -> Key:
    """The online key for a signer URI, tagged with the URI for CI.

    ``sigstore`` means this repository's online-sign workflow identity
    (derived from ``remote_url``, the pull remote's URL, unless ``identity``
    and ``issuer`` say otherwise).

    Raises:
        UsageError: ``sigstore`` and no identity can be derived from the remote URL.
        SignerUnavailableError: the key cannot be read.
    """
    env = env or SignerEnv()
    if uri in ("sigstore", "sigstore:"):
        from tufrepo.signers import sigstore  # noqa: PLC0415 - sigstore loads only when used

        if identity is None:
            identity = sigstore.workflow_identity(remote_url)
        signer_uri, key = sigstore.enrol_workflow(identity, issuer)
        return fields.online_key(key, signer_uri)
    key = signers.import_key(uri, path_prefix=env.path_prefix, pykcs11lib=env.pykcs11lib)
    return fields.online_key(key, uri)


def online_signers(env: SignerEnv | None = None) -> Callable[[Key], Signer]:
    """Signers for online keys, from the URI stored with each key in root."""
    prefix = (env or SignerEnv()).path_prefix

    def signer_for(key: Key) -> Signer:
        uri = fields.online_uri(key)
        if uri is None:
            raise SignerUnavailableError(f"key {key.keyid[:8]} has no online signer URI in root")
        return signers.load_signer(uri, key, None, path_prefix=prefix)

    return signer_for


__all__ = ["SignerEnv", "UserSigners", "online_key", "online_signers"]
