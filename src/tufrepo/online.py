"""Online signing of snapshot and timestamp on main.

:func:`check_offline_roles` is the gate: every offline role (root, targets,
delegated roles) must verify with its delegator's threshold before anything is
online-signed, so CI never vouches for metadata the key holders did not sign.
:func:`online_sign` then refreshes snapshot when a targets role's version
changed, when it is in its signing period, or when it no longer verifies (e.g.
the online key changed), and timestamp when snapshot changed, when it is in
its signing period, or when it no longer verifies.

Not for: git (commit/push happens in the command), choosing signers (a
``signer_for`` callable is injected through the repository).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tuf.api.exceptions import UnsignedMetadataError

from tufrepo import fields
from tufrepo.constants import ROOT, SNAPSHOT, TIMESTAMP
from tufrepo.errors import RejectedError
from tufrepo.validation import check_repository

if TYPE_CHECKING:
    from datetime import datetime

    from tuf.api.metadata import Metadata

    from tufrepo.repository import TufRepository
    from tufrepo.store import Store


@dataclass(frozen=True)
class OnlineResult:
    """New versions signed in this run (None: unchanged)."""

    snapshot: int | None
    timestamp: int | None

    @property
    def changed(self) -> bool:
        """True when anything was signed."""
        return self.timestamp is not None or self.snapshot is not None


def check_offline_roles(repo: TufRepository) -> None:
    """Refuse to go on unless root and every targets role verify with their thresholds.

    Raises:
        RejectedError: a role is missing, malformed, or under its threshold.
    """
    root_md = repo.read(ROOT)
    if root_md is None:
        raise RejectedError("metadata/root.json does not exist")
    _verify(root_md.signed, ROOT, root_md)
    for role in repo.targets_roles():
        md = repo.read(role)
        delegator = repo.delegator(role)
        if md is None or delegator is None:
            raise RejectedError(f"metadata/{role}.json is delegated but missing")
        _verify(delegator, role, md)


def _verify(delegator: Any, role: str, md: Metadata[Any]) -> None:
    # Attack: an unsigned or under-signed role merged into main (a rogue
    # maintainer, a bypassed review) must not be vouched for by the online key.
    try:
        delegator.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError as e:
        raise RejectedError(
            f"{role} is not signed by its threshold of keys on main: {e}",
            hint="merge only signing events whose status is ready",
        ) from e


def verifies(repo: TufRepository, role: str) -> bool:
    """True when the online role exists and verifies with root."""
    md = repo.read(role)
    if md is None:
        return False
    try:
        repo.root().verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError:
        return False
    return True


def in_signing_period(repo: TufRepository, role: str, now: datetime) -> bool:
    """True when ``now`` is within the role's signing period before its expiry."""
    md = repo.read(role)
    if md is None:
        return True
    root = repo.root() if role != ROOT else md.signed
    periods = fields.get_periods(root, role, md.signed)
    return bool(now >= md.signed.expires - timedelta(days=periods.signing))


def online_sign(repo: TufRepository, now: datetime, files: Store | None = None) -> OnlineResult:
    """Refresh snapshot and timestamp as needed (see module docstring).

    Args:
        repo: main's metadata, with an online ``signer_for``.
        now: the current time.
        files: main's files, to run the validation engine first (None: skip).

    Raises:
        RejectedError: main fails the offline check or validation, or a targets role's
            version went down (rollback).
        SignerUnavailableError: the online key cannot sign or its signature
            does not verify with root.
    """
    check_offline_roles(repo)
    if files is not None:
        findings = check_repository(repo, files)
        if findings:
            # #343: never vouch for a main that fails the signing-event rules.
            raise RejectedError(
                f"main fails validation: {findings[0].message}"
                + (f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""),
                hint="fix main with a signing event; `tufrepo verify` lists every problem",
            )
    force_snapshot = not verifies(repo, SNAPSHOT) or in_signing_period(repo, SNAPSHOT, now)
    try:
        snapshot_changed, _ = repo.do_snapshot(force=force_snapshot)
    except ValueError as e:  # python-tuf's "version rollback"
        raise RejectedError(f"refusing to sign snapshot: {e}") from e
    force_timestamp = not verifies(repo, TIMESTAMP) or in_signing_period(repo, TIMESTAMP, now)
    try:
        timestamp_changed, _ = repo.do_timestamp(force=force_timestamp)
    except ValueError as e:
        raise RejectedError(f"refusing to sign timestamp: {e}") from e
    return OnlineResult(
        snapshot=repo.snapshot_info.version if snapshot_changed else None,
        timestamp=repo.timestamp().version if timestamp_changed else None,
    )
