"""Cloud KMS and Vault online keys: ``gcpkms:``, ``awskms:``, ``azurekms:``, ``hv:``.

:func:`import_key` reads the public key from the service once, when the key
is configured; it is then stored in root with its URI, and CI signs through
securesystemslib's signer for the scheme.  Each backend's SDK comes with an
extra (``pip install 'tufrepo[gcpkms]'``); a missing one is an error naming it.

Not for: authentication (the SDKs use their usual credentials), signing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib import parse

from securesystemslib.exceptions import UnsupportedLibraryError

from tufrepo.errors import SignerUnavailableError, UsageError

if TYPE_CHECKING:
    from securesystemslib.signer import Key

EXTRAS = {"gcpkms": "gcpkms", "awskms": "awskms", "azurekms": "azurekms", "hv": "vault"}
FORMS = {
    "gcpkms": "gcpkms:projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>/cryptoKeyVersions/<n>",
    "awskms": "awskms:<key id, key ARN or alias/name>",
    "azurekms": "azurekms://<vault>.vault.azure.net/keys/<name>[/<version>]",
    "hv": "hv:<key name>",
}
_GCP = re.compile(
    r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+/cryptoKeyVersions/\d+$"
)
_AZURE = re.compile(r"^([a-z0-9-]+)\.vault\.azure\.net$")


def _malformed(scheme: str, uri: str) -> UsageError:
    return UsageError(f"'{uri}' is not a valid {scheme} key URI", hint=f"expected {FORMS[scheme]}")


def _call(scheme: str, uri: str) -> tuple[str, Key]:
    """Dispatch to the backend's import_ (imported here, so its SDK loads only when used)."""
    from securesystemslib import signer  # noqa: PLC0415

    rest = uri.split(":", 1)[1]
    result: Any
    if scheme == "gcpkms":
        if not _GCP.match(rest):
            raise _malformed(scheme, uri)
        result = signer.GCPSigner.import_(rest)
    elif scheme == "awskms":
        if not rest or ("/" in rest.split("alias/", 1)[-1] and not rest.startswith("arn:")):
            raise _malformed(scheme, uri)
        result = signer.AWSSigner.import_(rest)
    elif scheme == "azurekms":
        parsed = parse.urlparse(uri)
        vault = _AZURE.match(parsed.netloc)
        parts = [p for p in parsed.path.split("/") if p]
        if not vault or len(parts) not in (2, 3) or parts[0] != "keys":
            raise _malformed(scheme, uri)
        result = signer.AzureSigner.import_(vault.group(1), parts[1])
    else:
        if not rest:
            raise _malformed(scheme, uri)
        result = signer.VaultSigner.import_(rest)
    return result  # type: ignore[no-any-return]


def import_key(uri: str) -> Key:
    """The public key of the KMS key at ``uri``, read from the service.

    Raises:
        UsageError: the URI is malformed.
        SignerUnavailableError: the backend's extra is not installed, or the
            service refused (credentials, permissions, no such key).
    """
    scheme = uri.split(":", 1)[0]
    if scheme not in EXTRAS:
        raise UsageError(
            f"'{uri}' is not a KMS key URI", hint=f"use one of: {', '.join(FORMS.values())}"
        )
    try:
        _, key = _call(scheme, uri)
    except (UsageError, SignerUnavailableError):
        raise
    except (UnsupportedLibraryError, ImportError) as e:
        raise SignerUnavailableError(
            f"{scheme} keys need the {EXTRAS[scheme]} extra",
            hint=f"pip install 'tufrepo[{EXTRAS[scheme]}]'",
        ) from e
    except Exception as e:  # each SDK raises its own types: auth, permission, not found
        raise SignerUnavailableError(
            f"cannot read the public key of {uri}: {type(e).__name__}: {e}",
            hint="check your credentials for the service and that the key exists",
        ) from e
    return key
