"""Key enrolment and signer resolution, addressed by securesystemslib signer URIs.

* :func:`import_key` turns a signer URI into the public key to store in
  metadata.
* :func:`load_signer` turns a URI and the expected public key into a signer.
* :func:`same_key` compares key material, ignoring tufrepo's custom fields.

Each URI scheme is handled by one backend module of this package, named once
in :data:`BACKENDS` and imported only when a URI of its scheme is used, so
that PKCS#11, the cloud SDKs' wrappers and Sigstore cost nothing otherwise::

    key = import_key("file2:keys/alice.pem", path_prefix=prefix)
    signer = load_signer("hsm:2?label=alice", key, ask_pin, pykcs11lib=library)

Schemes no backend names go to securesystemslib's ``Signer.from_priv_key_uri``.
Secrets (PINs, passphrases) come from a ``SecretsHandler`` that the caller
supplies; environment variables are passed in by the CLI, never read here.
The Sigstore instance is chosen once at start-up by
``tufrepo.signers.sigstore.register``.

Not for: choosing which key a user signs with (see ``signing``), prompting.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from tufrepo.errors import UsageError
from tufrepo.signers.base import (
    Backend,
    SignerContext,
    WrappedSigner,
    same_key,
    signer_from_uri,
    uri_scheme,
)

if TYPE_CHECKING:
    from securesystemslib.signer import Key, SecretsHandler, Signer

KMS_SCHEMES = ("gcpkms", "awskms", "azurekms", "hv")

# The one registry: URI scheme -> the module whose BACKEND handles it.
BACKENDS: dict[str, str] = {
    "file2": "tufrepo.signers.file",
    "hsm": "tufrepo.signers.hsm",
    **dict.fromkeys(KMS_SCHEMES, "tufrepo.signers.kms"),
    "sigstore": "tufrepo.signers.sigstore",
}

__all__ = [
    "BACKENDS",
    "KMS_SCHEMES",
    "Backend",
    "SignerContext",
    "WrappedSigner",
    "import_key",
    "load_signer",
    "same_key",
    "uri_scheme",
]


def _backend(uri: str) -> Backend | None:
    """The backend registered for ``uri``'s scheme (imported now), or None."""
    module_name = BACKENDS.get(uri.split(":", 1)[0])  # "hsm" alone is an hsm URI
    if module_name is None:
        return None
    backend = importlib.import_module(module_name).BACKEND
    if not isinstance(backend, Backend):  # pragma: no cover - a registry mistake
        raise TypeError(f"{module_name}.BACKEND is not a signers.base.Backend")
    return backend


def import_key(uri: str, *, path_prefix: str | None = None, pykcs11lib: str | None = None) -> Key:
    """Read the public key that the signer at ``uri`` signs with.

    Args:
        uri: a signer URI (``file2:<path>``: an unencrypted PKCS#8 PEM;
            ``hsm:``, ``gcpkms:``, ``awskms:``, ``azurekms:``, ``hv:``).
        path_prefix: base directory for relative ``file2:`` paths
            (``CRYPTO_SIGNER_PATH_PREFIX``, as securesystemslib resolves them).
        pykcs11lib: the PKCS#11 module for ``hsm:`` URIs (settings file or
            ``PYKCS11LIB``, passed in by the CLI), or None to probe.

    Raises:
        UsageError: the URI is malformed or its scheme cannot be imported.
        SignerUnavailableError: the key cannot be read.
    """
    backend = _backend(uri)
    if backend is not None and backend.import_key is not None:
        return backend.import_key(uri, SignerContext(path_prefix, pykcs11lib))
    if ":" not in uri:
        raise UsageError(
            f"'{uri}' is not a signer URI", hint="use a URI such as file2:path/to/key.pem"
        )
    raise UsageError(
        f"cannot import a public key from '{uri.split(':', 1)[0]}:' URIs",
        hint="supported: file2:<path to PKCS#8 PEM>",
    )


def load_signer(
    uri: str,
    key: Key,
    secrets_handler: SecretsHandler | None = None,
    *,
    path_prefix: str | None = None,
    pykcs11lib: str | None = None,
    sigstore_token: str | None = None,
) -> Signer:
    """A signer for ``key`` from its URI.

    ``path_prefix`` must be the ``CRYPTO_SIGNER_PATH_PREFIX`` securesystemslib
    itself will use, so that the key compared is the key signed with;
    ``sigstore_token`` is an identity token to sign with instead of a browser
    sign-in (``SIGSTORE_IDENTITY_TOKEN``).

    Raises:
        UsageError: the URI is malformed for its scheme.
        SignerUnavailableError: the URI's key does not match ``key``, the
            scheme is unknown, or the signer cannot be opened.
    """
    backend = _backend(uri)
    if backend is None:
        return signer_from_uri(uri, key, secrets_handler)
    context = SignerContext(path_prefix, pykcs11lib, sigstore_token)
    return backend.load_signer(uri, key, secrets_handler, context)
