"""The size budget check: metadata every client we name can still download.

The budget (:mod:`tufrepo.core.sizes`) is the strictest default download
limit of python-tuf, go-tuf, tuf-js and tough per role.  A targets role
(top-level, delegated or a hash bin) past ``WARN_FRACTION`` (50%) of its
budget is a ``size-budget`` warning naming the command that fixes it
(``tufrepo delegate EVENT ROLE --bins auto``); past the budget it is a
``size-budget`` error, so the role is never merged or published.  The
snapshot that online-sign will write is estimated from the number of
targets roles (hash bins add one each).

Pure: metadata in, findings out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufrepo.checks.findings import Finding, Severity
from tufrepo.core import layout
from tufrepo.core.constants import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from tufrepo.core.sizes import (
    CLIENT_LIMITS,
    STRICTEST_CLIENTS,
    WARN_FRACTION,
    budget_for,
    expected_size,
    fix_for,
)
from tufrepo.errors import MetadataError

if TYPE_CHECKING:
    from tufrepo.core.repository import TufRepository

# A snapshot entry per targets role, pretty-printed: '  "<role>.json": {"version": N},'
_SNAPSHOT_ENTRY_BYTES = 60
_SNAPSHOT_BASE_BYTES = 1_500


def _finding(repo: TufRepository, role: str, size: int) -> Finding | None:
    budget = budget_for(role)
    share = f"{size:,} bytes, {100 * size // budget}% of the {budget:,}-byte budget"
    clients = STRICTEST_CLIENTS.get(role, STRICTEST_CLIENTS[TARGETS])
    if size > budget:
        # Attack/mistake: metadata clients refuse to download is a denial of
        # service for every user of the repository (and 16 MiB we cannot read back).
        return Finding(
            role,
            "size-budget",
            f"{role} metadata is {share}: {clients} refuse it by default; "
            f"fix: {fix_for(repo, role) if role not in (ROOT, TIMESTAMP, SNAPSHOT) else 'fewer keys or roles'}",
        )
    if size > budget * WARN_FRACTION:
        return Finding(
            role,
            "size-budget",
            f"{role} metadata is {share} ({clients} refuse larger files); "
            f"split it before it breaks clients: {fix_for(repo, role)}",
            Severity.WARNING,
        )
    return None


def budget_rule(repo: TufRepository) -> list[Finding]:
    """Every offline role's metadata size, and the snapshot it makes, against the budget."""
    findings: list[Finding] = []
    roles = repo.targets_roles()
    for role in [ROOT, *roles]:
        if repo.unchanged_since_judged(role):
            continue  # #14: same bytes, same size as in the state judged in full
        data = repo.store.read(layout.role_path(role))
        if data is None:
            continue
        try:
            md = repo.read(role)
        except MetadataError:
            continue  # reported by the other rules
        placeholders = sum(1 for s in md.signatures.values() if not s.signature) if md else 0
        found = _finding(repo, role, expected_size(data, placeholders))
        if found is not None and not (role == ROOT and found.severity is Severity.WARNING):
            findings.append(found)
    # Snapshot is written online, after the merge: judge the size it will have now.
    estimate = _SNAPSHOT_BASE_BYTES + sum(_SNAPSHOT_ENTRY_BYTES + len(r) for r in roles)
    if estimate > CLIENT_LIMITS[SNAPSHOT] * WARN_FRACTION:
        severity = Severity.ERROR if estimate > CLIENT_LIMITS[SNAPSHOT] else Severity.WARNING
        findings.append(
            Finding(
                SNAPSHOT,
                "size-budget",
                f"snapshot will list {len(roles)} targets roles, about {estimate:,} bytes of the "
                f"{CLIENT_LIMITS[SNAPSHOT]:,} tough downloads by default; use fewer hash bins",
                severity,
            )
        )
    return findings


__all__ = ["budget_rule"]
