"""Offline roles entering their signing period, and the events that renew them.

:func:`expiring_roles` lists root, targets and delegated roles whose expiry is
within their signing period at ``now``.  :func:`bump_role` writes a new,
unsigned version of one role (same payload, new version and expiry) into a
repository, ready to be committed as a signing event ``sign/<role>-v<N>``.

Not for: git (the command creates and pushes the branches).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufrepo.constants import ROOT
from tufrepo.online import in_signing_period

if TYPE_CHECKING:
    from datetime import datetime

    from tufrepo.repository import TufRepository


def expiring_roles(repo: TufRepository, now: datetime) -> list[str]:
    """Offline roles (root, targets, delegated) inside their signing period."""
    roles = [ROOT, *repo.targets_roles()]
    return [role for role in roles if repo.exists(role) and in_signing_period(repo, role, now)]


def event_name(role: str, version: int) -> str:
    """The periodic event branch for a role's next version."""
    return f"sign/{role}-v{version}"
