"""Online keys in a cloud KMS or HashiCorp Vault: ``gcpkms:``, ``awskms:``, ``azurekms:``, ``hv:``.

A maintainer enrols the online key once: :func:`import_key` reads its public
key from the service, and the CLI stores that key in root together with the
URI. CI later signs snapshot and timestamp through :func:`load_signer`, which
goes through securesystemslib's signer for the URI's scheme::

    key = import_key("gcpkms:projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1")
    signer = load_signer(stored_uri, key_from_root)

The URI is stored as given, so it must be the one that signs: a
``gcpkms:`` URI names a key *version*, and ``azurekms:`` and ``hv:`` URIs must
end with the key version that was imported (the error says which one). An
``awskms:`` URI takes a key id, key ARN, alias name or alias ARN.

Errors: a malformed URI is a :class:`~tufrepo.errors.UsageError` showing the
expected form; a backend whose SDK is not installed, and every service
failure (credentials, permissions, no such key, unsupported key type), is a
:class:`~tufrepo.errors.SignerUnavailableError` with the service's own
message on one line (never a traceback) and a hint about the extra or the
permission needed.

This module imports no SDK and names a securesystemslib signer class only
when its scheme is used. (securesystemslib itself imports every installed SDK
when ``securesystemslib.signer`` is first imported, which
``tufrepo.signers.base`` already does.) It is this package's backend for the
four schemes (``BACKEND``), loaded by the registry in ``tufrepo.signers``.

Not for: authentication (each SDK uses its usual ambient credentials), key
creation, or choosing the online key's roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib import parse

from securesystemslib.exceptions import UnsupportedAlgorithmError, UnsupportedLibraryError
from securesystemslib.signer import Signer

from tufrepo.errors import SignerUnavailableError, UsageError
from tufrepo.signers.base import Backend, WrappedSigner

if TYPE_CHECKING:
    from collections.abc import Callable

    from securesystemslib.signer import Key, SecretsHandler, Signature, SSlibKey


@dataclass(frozen=True)
class Service:
    """One KMS scheme's service: its extra, URI form and what its credentials need."""

    scheme: str
    extra: str
    form: str
    credentials: str  # where the SDK finds credentials
    read_permission: str  # needed by import_key
    sign_permission: str  # needed by the online signer


SERVICES = {
    "gcpkms": Service(
        "gcpkms",
        "gcpkms",
        "gcpkms:projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>/cryptoKeyVersions/<version>",
        "gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS",
        "the role roles/cloudkms.publicKeyViewer",
        "the role roles/cloudkms.signer",
    ),
    "awskms": Service(
        "awskms",
        "awskms",
        "awskms:<key id | key ARN | alias/<name> | alias ARN>",
        "AWS credentials and region (e.g. AWS_PROFILE or AWS_ACCESS_KEY_ID, and AWS_REGION)",
        "kms:GetPublicKey",
        "kms:Sign",
    ),
    "azurekms": Service(
        "azurekms",
        "azurekms",
        "azurekms://<vault>.vault.azure.net/keys/<name>/<version>",
        "az login, or AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET",
        "the Key Vault Crypto User role",
        "the Key Vault Crypto User role",
    ),
    "hv": Service(
        "hv",
        "vault",
        "hv:<transit key name>/<version>",
        "VAULT_ADDR and VAULT_TOKEN",
        "read on transit/keys/<name>",
        "update on transit/sign/<name>",
    ),
}

_NAME = r"[A-Za-z0-9_.:-]+"
_GCP = re.compile(
    rf"projects/{_NAME}/locations/{_NAME}/keyRings/{_NAME}/cryptoKeys/{_NAME}/cryptoKeyVersions/\d+"
)
_AWS_ALIAS = r"alias/[A-Za-z0-9/_-]+"
_AWS = re.compile(
    rf"[A-Za-z0-9-]+|{_AWS_ALIAS}"
    rf"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{{12}}:(key/[A-Za-z0-9-]+|{_AWS_ALIAS})"
)
_AZURE_VAULT = re.compile(r"([A-Za-z0-9-]{3,24})\.vault\.azure\.net")
_VAULT = re.compile(r"([A-Za-z0-9_.-]+)(?:/(\d+))?")
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class _Request:
    """A parsed URI: how to import its key, and whether the URI pins a key version."""

    service: Service
    call: Callable[[], tuple[str, SSlibKey]]
    versioned: bool = True


def _service(uri: str) -> Service:
    scheme = uri.split(":", 1)[0]
    if ":" not in uri or scheme not in SERVICES:
        raise UsageError(
            f"'{uri}' is not a KMS key URI",
            hint="use one of: " + ", ".join(b.form for b in SERVICES.values()),
        )
    return SERVICES[scheme]


def _parse(uri: str) -> _Request:
    """Check ``uri``'s form and bind the backend's import_ to its parts.

    Raises:
        UsageError: ``uri`` is not of its scheme's form.
    """
    from securesystemslib import signer  # noqa: PLC0415 - a backend only when its URI is used

    service = _service(uri)
    rest = uri.split(":", 1)[1]
    malformed = UsageError(
        f"'{uri}' is not a valid {service.scheme} key URI", hint=f"expected {service.form}"
    )
    if service.scheme == "gcpkms":
        if not _GCP.fullmatch(rest):
            raise malformed
        return _Request(service, lambda: signer.GCPSigner.import_(rest))
    if service.scheme == "awskms":
        if not _AWS.fullmatch(rest):
            raise malformed
        return _Request(service, lambda: signer.AWSSigner.import_(rest))
    if service.scheme == "azurekms":
        parsed = parse.urlparse(uri)
        vault = _AZURE_VAULT.fullmatch(parsed.netloc)
        parts = parsed.path.split("/")[1:]  # /keys/<name>[/<version>]
        if (
            not vault
            or parsed.query
            or parsed.fragment
            or len(parts) not in (2, 3)
            or parts[0] != "keys"
            or not all(parts)
        ):
            raise malformed
        return _Request(
            service,
            lambda: signer.AzureSigner.import_(vault.group(1), parts[1]),
            versioned=len(parts) == 3,
        )
    match = _VAULT.fullmatch(rest)
    if not match:
        raise malformed
    return _Request(
        service,
        lambda: signer.VaultSigner.import_(match.group(1)),
        versioned=match.group(2) is not None,
    )


def _one_line(error: BaseException) -> str:
    """The first line of an SDK's message, whitespace collapsed and length bounded."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    text = " ".join(lines[0].split()) if lines else ""
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _missing_extra(service: Service, error: Exception) -> SignerUnavailableError:
    return SignerUnavailableError(
        f"{service.scheme} keys need the {service.extra} extra ({_one_line(error)})",
        hint=f"pip install 'tufrepo[{service.extra}]'",
    )


def _is_unsupported_key(error: Exception) -> bool:
    # AzureSigner raises its own UnsupportedKeyType, defined in the backend module.
    return isinstance(error, UnsupportedAlgorithmError) or type(error).__name__ == (
        "UnsupportedKeyType"
    )


def import_key(uri: str) -> Key:
    """The public key of the KMS key at ``uri``, read from the service.

    Args:
        uri: a ``gcpkms:``, ``awskms:``, ``azurekms:`` or ``hv:`` URI (forms in
            :data:`SERVICES`).

    Returns:
        The plain public key (without tufrepo's custom fields).

    Raises:
        UsageError: ``uri`` is malformed, or (Azure, Vault) names no key
            version or not the key's current version.
        SignerUnavailableError: the backend's extra is not installed, the
            key's type cannot sign TUF metadata, or the service refused
            (credentials, permissions, no such key).
    """
    request = _parse(uri)
    service = request.service
    try:
        signer_uri, key = request.call()
    except (UnsupportedLibraryError, ImportError) as e:
        raise _missing_extra(service, e) from e
    except Exception as e:  # each SDK raises its own types: auth, permission, not found
        if _is_unsupported_key(e):
            raise SignerUnavailableError(
                f"the key at {uri} cannot sign TUF metadata ({_one_line(e)})",
                hint="use an ECDSA P-256/P-384 or RSA signing key (Ed25519 in Vault)",
            ) from e
        raise SignerUnavailableError(
            f"cannot read the public key of {uri}: {_one_line(e)}",
            hint=f"check {service.credentials}, that the key exists, "
            f"and that you have {service.read_permission}",
        ) from e
    if signer_uri.lower() != uri.lower():  # Azure and Vault report the current version
        if not request.versioned:
            raise UsageError(
                f"'{uri}' names no key version",
                hint=f"use {signer_uri} (the key's current version)",
            )
        raise UsageError(
            f"'{uri}' is not the current version of the key",
            hint=f"use {signer_uri}; only the current version can be enrolled",
        )
    return key


class ServiceSigner(WrappedSigner):
    """Wraps a KMS backend's signer so that a failed signature is one line with a hint."""

    def __init__(self, inner: Signer, uri: str, service: Service) -> None:
        super().__init__(inner)
        self._uri = uri
        self._service = service

    def sign(self, payload: bytes) -> Signature:
        """Sign through the service.

        Raises:
            SignerUnavailableError: the service refused or failed.
        """
        try:
            return self._inner.sign(payload)
        except Exception as e:  # each SDK raises its own types
            raise SignerUnavailableError(
                f"{self._uri} failed to sign: {_one_line(e)}",
                hint=f"check {self._service.credentials} in this job, "
                f"and that it has {self._service.sign_permission}",
            ) from e


def load_signer(uri: str, key: Key, secrets_handler: SecretsHandler | None = None) -> Signer:
    """The signer for the online ``key`` at ``uri``, through securesystemslib's scheme registry.

    Raises:
        UsageError: ``uri`` is malformed.
        SignerUnavailableError: the backend's extra is not installed, or its
            client cannot be created (e.g. no credentials or region).
    """
    service = _parse(uri).service
    try:
        inner = Signer.from_priv_key_uri(uri, key, secrets_handler)
    except (UnsupportedLibraryError, ImportError) as e:
        raise _missing_extra(service, e) from e
    except Exception as e:  # client construction: credentials, region, endpoint
        raise SignerUnavailableError(
            f"cannot use the online key {uri}: {_one_line(e)}",
            hint=f"check {service.credentials} in this job",
        ) from e
    return ServiceSigner(inner, uri, service)


BACKEND = Backend(
    import_key=lambda uri, _context: import_key(uri),
    load_signer=lambda uri, key, secrets_handler, _context: load_signer(uri, key, secrets_handler),
)
