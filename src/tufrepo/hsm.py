"""Hardware keys over PKCS#11 (YubiKey PIV, SoftHSM2 in tests).

Placeholder interface, implemented by the hardware-keys work (issue 5).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufrepo.errors import SignerUnavailableError

if TYPE_CHECKING:
    from securesystemslib.signer import Key, SecretsHandler, Signer


def import_key(uri: str, *, library: str | None) -> Key:
    """The public key of the token key at ``uri`` (``hsm``, ``hsm:``, ``hsm:2?label=X``)."""
    raise SignerUnavailableError(f"hardware keys are not supported yet ({uri}, {library})")


def load_signer(
    uri: str,
    key: Key,
    secrets_handler: SecretsHandler | None,  # noqa: ARG001 - placeholder
    *,
    library: str | None,
) -> Signer:
    """A signer for the token key at ``uri`` that must match ``key``."""
    raise SignerUnavailableError(
        f"hardware keys are not supported yet ({uri}, {key.keyid}, {library})"
    )
