"""Keys in files: ``file2:<path>``, an unencrypted PKCS#8 PEM private key.

:func:`import_key` reads the public key of the file; :func:`load_signer`
checks that the file holds the key listed in the metadata, then opens
securesystemslib's ``CryptoSigner`` for it. Relative paths are resolved
against ``CRYPTO_SIGNER_PATH_PREFIX``, passed in by the caller, exactly as
securesystemslib resolves them when it signs.

Not for: encrypted key files, key generation, prompting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib import parse

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, SSlibKey

from tufrepo.errors import SignerUnavailableError
from tufrepo.signers.base import Backend, same_key, signer_from_uri, uri_scheme

if TYPE_CHECKING:
    from securesystemslib.signer import Key, SecretsHandler, Signer

SCHEME = "file2"


def _file2_path(uri: str, path_prefix: str | None) -> Path:
    path = parse.urlparse(uri).path
    return Path(os.path.join(path_prefix, path) if path_prefix else path)  # noqa: PTH118 - as securesystemslib joins


def import_key(uri: str, *, path_prefix: str | None = None) -> Key:
    """The public key of the PEM file at ``uri``.

    Raises:
        SignerUnavailableError: the file is missing, is not an unencrypted
            PKCS#8 PEM private key, or holds an unsupported key type.
    """
    path = _file2_path(uri, path_prefix)
    try:
        private = load_pem_private_key(path.read_bytes(), None)
    except FileNotFoundError as e:
        raise SignerUnavailableError(
            f"key file {path} does not exist",
            hint="relative file2: paths are resolved against CRYPTO_SIGNER_PATH_PREFIX",
        ) from e
    except (ValueError, TypeError) as e:
        raise SignerUnavailableError(f"{path} is not an unencrypted PKCS#8 PEM private key") from e
    try:
        return CryptoSigner(private).public_key
    except ValueError as e:
        raise SignerUnavailableError(f"unsupported key type in {path}: {e}") from e


def load_signer(
    uri: str, key: Key, secrets_handler: SecretsHandler | None, *, path_prefix: str | None = None
) -> Signer:
    """A signer for ``key`` from the file at ``uri``.

    ``path_prefix`` must be the ``CRYPTO_SIGNER_PATH_PREFIX`` securesystemslib
    itself will use, so that the key compared is the key signed with.

    Raises:
        SignerUnavailableError: the file holds another key, or cannot be read.
    """
    # Compare before loading, so a wrong key gives a clear message.
    if (
        isinstance(key, SSlibKey)
        and uri_scheme(uri) == SCHEME
        and not same_key(import_key(uri, path_prefix=path_prefix), key)
    ):
        raise SignerUnavailableError(
            f"the key at {uri} is not the key {key.keyid[:8]} listed in the metadata",
            hint="pass --key with the key you enrolled, or fix [signing-keys]",
        )
    return signer_from_uri(uri, key, secrets_handler)


BACKEND = Backend(
    import_key=lambda uri, context: import_key(uri, path_prefix=context.path_prefix),
    load_signer=lambda uri, key, secrets_handler, context: load_signer(
        uri, key, secrets_handler, path_prefix=context.path_prefix
    ),
)
