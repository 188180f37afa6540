"""Sigstore's key type and URI scheme, registered without loading Sigstore support (#14).

:func:`tufrepo.signers.sigstore.register` binds every Sigstore key and signer
of the process to one instance, but importing that module costs about 0.1 s
(its fetcher, urllib3, http.client): most commands never meet a Sigstore key.
:func:`register` here installs placeholders under the same key type and URI
scheme.  The first Sigstore key parsed (or signer opened) imports the real
module, which registers its classes for the instance chosen here, and the
placeholder hands the work to them.  A placeholder is never an instance: what
metadata holds is always the real, instance-bound key.

Not for: anything a Sigstore key does (``tufrepo.signers.sigstore``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn, cast

from securesystemslib.signer import KEY_FOR_TYPE_AND_SCHEME, SIGNER_FOR_URI_SCHEME, Key, Signer

from tufrepo.signers.base import SigstoreInstance

if TYPE_CHECKING:
    from pathlib import Path

    from securesystemslib.signer import SecretsHandler, Signature

# securesystemslib's SigstoreKey.DEFAULT_KEY_TYPE / DEFAULT_SCHEME and SigstoreSigner.SCHEME
KEY_TYPE = "sigstore-oidc"
KEY_SCHEME = "Fulcio"
URI_SCHEME = "sigstore"


def register(trust_config_path: Path | None) -> None:
    """Choose the Sigstore instance of this process; load its support on first use."""
    SigstoreInstance.path = trust_config_path
    KEY_FOR_TYPE_AND_SCHEME[(KEY_TYPE, KEY_SCHEME)] = _SigstoreKeyPlaceholder
    SIGNER_FOR_URI_SCHEME[URI_SCHEME] = _SigstoreSignerPlaceholder


def _load() -> None:
    from tufrepo.signers import sigstore  # noqa: PLC0415 - the point of this module

    sigstore.register(SigstoreInstance.path)


def _never() -> NoReturn:
    raise TypeError("a Sigstore placeholder is never instantiated")


class _SigstoreKeyPlaceholder(Key):
    @classmethod
    def from_dict(cls, keyid: str, key_dict: dict[str, Any]) -> Key:
        _load()
        real = cast("type[Key]", KEY_FOR_TYPE_AND_SCHEME[(KEY_TYPE, KEY_SCHEME)])
        return real.from_dict(keyid, key_dict)

    def to_dict(self) -> dict[str, Any]:
        _never()

    def verify_signature(self, signature: Signature, data: bytes) -> None:  # noqa: ARG002
        _never()


class _SigstoreSignerPlaceholder(Signer):
    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: SecretsHandler | None = None
    ) -> Signer:
        _load()
        real = cast("type[Signer]", SIGNER_FOR_URI_SCHEME[URI_SCHEME])
        return real.from_priv_key_uri(priv_key_uri, public_key, secrets_handler)

    @property
    def public_key(self) -> Key:
        _never()

    def sign(self, payload: bytes) -> Signature:  # noqa: ARG002
        _never()
