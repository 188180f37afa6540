"""Offline roles entering their signing period, and the events that renew them.

:func:`expiring_roles` lists root, targets and delegated roles whose expiry is
within their signing period at ``now``.  :func:`TufRepository.bump` writes a new,
unsigned version of roles (same payload, new version and expiry): one
signing event for every role that enters its signing period in the same run.

Not for: git (the command creates and pushes the branches).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tufrepo.constants import ROOT
from tufrepo.layout import role_path
from tufrepo.online import in_signing_period

if TYPE_CHECKING:
    from datetime import datetime

    from tufrepo.repository import TufRepository
    from tufrepo.store import Store


def expiring_roles(repo: TufRepository, now: datetime) -> list[str]:
    """Offline roles (root, targets, delegated) inside their signing period."""
    roles = [ROOT, *repo.targets_roles()]
    return [role for role in roles if repo.exists(role) and in_signing_period(repo, role, now)]


def event_name(versions: dict[str, int]) -> str:
    """The periodic event for roles' next versions: ``sign/root-v3`` or ``sign/root-v3-targets-v5``.

    All roles that enter their signing period in one run share one event, so
    their signers sign once (tuf-on-ci #230).
    """
    return "sign/" + "-".join(f"{role}-v{version}" for role, version in versions.items())


def already_open(stores: list[Store], versions: dict[str, int]) -> set[str]:
    """Roles whose next version is already on some open event (one of ``stores``)."""
    covered = set()
    for store in stores:
        for role, version in versions.items():
            data = store.read(role_path(role))
            try:
                found = json.loads(data)["signed"]["version"] if data else None
            except (ValueError, KeyError, TypeError, RecursionError):
                continue  # not our business here: status reports broken events
            if found == version:
                covered.add(role)
    return covered
