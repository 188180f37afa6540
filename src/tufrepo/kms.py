"""Cloud KMS and Vault online keys (gcpkms:, awskms:, azurekms:, hv:).

Placeholder interface, implemented by the KMS work (issue 5).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufrepo.errors import SignerUnavailableError

if TYPE_CHECKING:
    from securesystemslib.signer import Key


def import_key(uri: str) -> Key:
    """The public key of the KMS key at ``uri``, read from the service once."""
    raise SignerUnavailableError(f"KMS keys are not supported yet ({uri})")
