"""Offline signing by one user: which roles they owe, and signing them.

Not for: choosing or loading the user's key (a ``signer_for`` callable comes
in from the CLI), git, printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tufrepo.core import fields
from tufrepo.core.repository import verifies

if TYPE_CHECKING:
    from collections.abc import Callable

    from securesystemslib.signer import Key, Signature, Signer

    from tufrepo.ops.event import SigningEvent


@dataclass(frozen=True)
class SignResult:
    """One signature made: the role, the signature, and the payload it covers."""

    role: str
    keyid: str
    signature: Signature
    payload: bytes


def reapply(event: SigningEvent, results: list[SignResult]) -> list[str]:
    """Put signatures made on an older tip of the event onto its new tip.

    Only a signature whose role payload is byte-identical on the new tip is
    carried over; anything else means the content changed under the signer.

    Returns:
        Roles whose payload changed (the user must sign those again).
    """
    changed = []
    for result in results:
        current = event.repo.read(result.role)
        if current is None or event.repo.signed_bytes(result.role) != result.payload:
            changed.append(result.role)
            continue
        md = event.repo.open(result.role)
        md.signatures[result.keyid] = result.signature
        event.repo.write(result.role, md)
    return changed


def sign_roles(
    event: SigningEvent, handle: str, signer_for: Callable[[Key], Signer]
) -> list[SignResult]:
    """Sign every changed role where ``handle`` owes a signature.

    For root during a rotation this includes keys the user holds in the
    known-good root.  Each signature is verified against the expected public
    key before it is stored (see ``TufRepository.add_signature``).

    Raises:
        SignerUnavailableError: a signer could not be loaded or produced a
            signature that does not verify.
    """
    results = []
    for role in event.roles_needing_signature(handle):
        for key in event.repo.expected_keys(role).values():
            if fields.keyowner(key) != handle:
                continue
            md = event.repo.read(role)
            sig = md.signatures.get(key.keyid) if md else None
            if (
                md is not None
                and sig is not None
                and verifies(key, sig.signature, event.repo.signed_bytes(role) or b"")
            ):
                continue
            signature = event.repo.add_signature(role, signer_for(key))
            payload = event.repo.signed_bytes(role) or b""
            results.append(SignResult(role, key.keyid, signature, payload))
    return results
