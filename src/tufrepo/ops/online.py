"""Online signing of snapshot and timestamp on main.

The gate is elsewhere: main is judged from its anchor first
(:mod:`tufrepo.ops.anchor`, :mod:`tufrepo.checks`), so CI never vouches for
metadata the key holders did not sign.  :func:`online_sign` refreshes snapshot when a targets role's version
changed, when it is in its signing period, or when it no longer verifies (e.g.
the online key changed), and timestamp when snapshot changed, when it is in
its signing period, or when it no longer verifies.  python-tuf's
``Repository.do_snapshot``/``do_timestamp`` decide on versions and
verification; only the signing period is tufrepo's policy.

Not for: git (commit/push happens in the command), choosing signers (a
``signer_for`` callable is injected through the repository).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from tuf.api.metadata import Root

from tufrepo.core import fields
from tufrepo.core.constants import SNAPSHOT, TIMESTAMP
from tufrepo.errors import RejectedError

if TYPE_CHECKING:
    from datetime import datetime

    from tufrepo.core.repository import TufRepository


@dataclass(frozen=True)
class OnlineResult:
    """New versions signed in this run (None: unchanged)."""

    snapshot: int | None
    timestamp: int | None

    @property
    def changed(self) -> bool:
        """True when anything was signed."""
        return self.timestamp is not None or self.snapshot is not None


def in_signing_period(repo: TufRepository, role: str, now: datetime) -> bool:
    """True when ``now`` is within the role's signing period before its expiry."""
    md = repo.read(role)
    if md is None:
        return True
    root = md.signed if isinstance(md.signed, Root) else repo.root()
    periods = fields.get_periods(root, role, md.signed)
    return bool(now >= md.signed.expires - timedelta(days=periods.signing))


def online_sign(repo: TufRepository, now: datetime) -> OnlineResult:
    """Refresh snapshot and timestamp as needed (see module docstring).

    The caller judges main first (:func:`tufrepo.ops.anchor.judge_main_state`):
    this function only decides what to re-sign.

    Args:
        repo: main's metadata, with an online ``signer_for``.
        now: the current time.

    Raises:
        RejectedError: a targets role's version went down (rollback).
        SignerUnavailableError: the online key cannot sign or its signature
            does not verify with root.
    """
    # Forced only for the signing period: do_snapshot/do_timestamp already sign
    # a new version when the current one is missing or does not verify with
    # root, and when what it lists changed.
    force_snapshot = in_signing_period(repo, SNAPSHOT, now)
    try:
        snapshot_changed, _ = repo.do_snapshot(force=force_snapshot)
    except ValueError as e:  # python-tuf's "version rollback"
        raise RejectedError(f"refusing to sign snapshot: {e}") from e
    force_timestamp = in_signing_period(repo, TIMESTAMP, now)
    try:
        timestamp_changed, _ = repo.do_timestamp(force=force_timestamp)
    except ValueError as e:
        raise RejectedError(f"refusing to sign timestamp: {e}") from e
    return OnlineResult(
        snapshot=repo.snapshot_info.version if snapshot_changed else None,
        timestamp=repo.timestamp().version if timestamp_changed else None,
    )
