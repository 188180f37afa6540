"""Key enrolment and signer resolution, addressed by securesystemslib signer URIs.

* :func:`import_key` turns a signer URI into the public key to store in
  metadata (``file2:`` PEM files here; hardware and cloud schemes by their
  backends' ``import_``).
* :func:`load_signer` turns a URI and the expected public key into a signer.
* :func:`same_key` compares key material, ignoring tufrepo's custom fields.

Secrets (PINs, passphrases) come from a ``SecretsHandler`` that the caller
supplies; environment variables are passed in by the CLI, never read here.

Not for: choosing which key a user signs with (see ``signing``), prompting.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib import parse

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, Key, SecretsHandler, Signer, SSlibKey

from tufrepo.errors import SignerUnavailableError, UsageError


def uri_scheme(uri: str) -> str:
    """The scheme of a signer URI (``file2``, ``hsm``, ``gcpkms``…)."""
    return uri.split(":", 1)[0] if ":" in uri else ""


def _file2_path(uri: str, path_prefix: str | None) -> Path:
    path = parse.urlparse(uri).path
    return Path(os.path.join(path_prefix, path) if path_prefix else path)  # noqa: PTH118 - as securesystemslib joins


KMS_SCHEMES = ("gcpkms", "awskms", "azurekms", "hv")


def import_key(uri: str, *, path_prefix: str | None = None, pykcs11lib: str | None = None) -> Key:
    """Read the public key that the signer at ``uri`` signs with.

    Args:
        uri: a signer URI (``file2:<path>``: an unencrypted PKCS#8 PEM).
        path_prefix: base directory for relative ``file2:`` paths
            (``CRYPTO_SIGNER_PATH_PREFIX``, as securesystemslib resolves them).
        pykcs11lib: the PKCS#11 module for ``hsm:`` URIs (settings file or
            ``PYKCS11LIB``, passed in by the CLI), or None to probe.

    Raises:
        UsageError: the URI is malformed or its scheme cannot be imported.
        SignerUnavailableError: the key cannot be read.
    """
    scheme = uri.split(":", 1)[0]
    if scheme == "file2":
        path = _file2_path(uri, path_prefix)
        try:
            private = load_pem_private_key(path.read_bytes(), None)
        except FileNotFoundError as e:
            raise SignerUnavailableError(
                f"key file {path} does not exist",
                hint="relative file2: paths are resolved against CRYPTO_SIGNER_PATH_PREFIX",
            ) from e
        except (ValueError, TypeError) as e:
            raise SignerUnavailableError(
                f"{path} is not an unencrypted PKCS#8 PEM private key"
            ) from e
        try:
            return CryptoSigner(private).public_key
        except ValueError as e:
            raise SignerUnavailableError(f"unsupported key type in {path}: {e}") from e
    if scheme == "hsm":
        from tufrepo import hsm  # noqa: PLC0415 - PKCS#11 loads only when used

        return hsm.import_key(uri, library=pykcs11lib)
    if scheme in KMS_SCHEMES:
        from tufrepo import kms  # noqa: PLC0415 - cloud SDKs load only when used

        return kms.import_key(uri)
    if ":" not in uri:
        raise UsageError(
            f"'{uri}' is not a signer URI", hint="use a URI such as file2:path/to/key.pem"
        )
    raise UsageError(
        f"cannot import a public key from '{scheme}:' URIs",
        hint="supported: file2:<path to PKCS#8 PEM>",
    )


def same_key(a: Key, b: Key) -> bool:
    """True when two keys have the same type, scheme and key material."""
    return (a.keytype, a.scheme, a.keyval) == (b.keytype, b.scheme, b.keyval)


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
        SignerUnavailableError: the URI's key does not match ``key``, the
            scheme is unknown, or the signer cannot be opened.
    """
    # Compare before loading, so a wrong key gives a clear message.
    if (
        isinstance(key, SSlibKey)
        and uri_scheme(uri) == "file2"
        and not same_key(import_key(uri, path_prefix=path_prefix), key)
    ):
        raise SignerUnavailableError(
            f"the key at {uri} is not the key {key.keyid[:8]} listed in the metadata",
            hint="pass --key with the key you enrolled, or fix [signing-keys]",
        )
    if uri.split(":", 1)[0] == "sigstore":
        from tufrepo import sigstore_keys  # noqa: PLC0415 - sigstore loads only when used

        if sigstore_token and "ambient=false" in uri:
            return sigstore_keys.InstanceSigstoreSigner.with_token(sigstore_token, key)
    if uri.split(":", 1)[0] in KMS_SCHEMES:
        from tufrepo import kms  # noqa: PLC0415 - cloud SDKs load only when used

        return kms.load_signer(uri, key, secrets_handler)
    if uri.split(":", 1)[0] == "hsm":
        from tufrepo import hsm  # noqa: PLC0415 - PKCS#11 loads only when used

        return hsm.load_signer(uri, key, secrets_handler, library=pykcs11lib)
    try:
        return Signer.from_priv_key_uri(uri, key, secrets_handler)
    except (ValueError, OSError, RuntimeError) as e:
        raise SignerUnavailableError(f"cannot load signer {uri}: {e}") from e


class WrappedSigner(Signer):
    """A backend signer wrapped so that its failures become SignerUnavailableError.

    Subclasses implement ``sign`` around ``self._inner.sign``; they are built
    by their module's ``load_signer``, never through the URI registry.
    """

    def __init__(self, inner: Signer) -> None:
        self._inner = inner

    @property
    def public_key(self) -> Key:
        """The wrapped signer's public key (as listed in the metadata)."""
        return self._inner.public_key

    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: SecretsHandler | None = None
    ) -> Signer:
        """Not registered for a scheme: built by ``load_signer`` of its module."""
        raise NotImplementedError(f"{cls.__name__} is built by its module's load_signer")
