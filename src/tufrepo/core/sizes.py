"""The size budget: metadata every client we name can still download.

TUF clients refuse metadata larger than a configured limit, and their
defaults differ (``../shared/reference/peers.md`` §12).  The budget is the
strictest default of python-tuf, go-tuf, tuf-js and tough:

==========  =============  ==========================================
role        budget         strictest client
==========  =============  ==========================================
root        512,000 B      python-tuf, go-tuf, tuf-js
timestamp   16,384 B       python-tuf, go-tuf, tuf-js
snapshot    1,048,576 B    tough (the others take 2,000,000 B)
targets     5,000,000 B    python-tuf, go-tuf, tuf-js (tough 10 MiB)
==========  =============  ==========================================

Placeholder signatures count as :data:`SIGNATURE_ALLOWANCE` bytes each, what
a real signature may add.  The targets budget can only be *lowered* (tests
exercise bins with small numbers; a repository may want to stay within a
stricter client): :func:`configure` takes the value the CLI reads from
``TUFREPO_SIZE_BUDGET``.  ``update-targets`` refuses to write a role over
its budget (:func:`require_within_budget`); the findings are
:mod:`tufrepo.checks.budget`'s.

Pure apart from that one process-wide setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufrepo.core import layout
from tufrepo.core.constants import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from tufrepo.errors import ConfigError, RejectedError

if TYPE_CHECKING:
    from tufrepo.core.repository import TufRepository

# Strictest default download limits of the clients we name (bytes).
CLIENT_LIMITS: dict[str, int] = {
    ROOT: 512_000,
    TIMESTAMP: 16_384,
    SNAPSHOT: 1_048_576,
    TARGETS: 5_000_000,
}
STRICTEST_CLIENTS = {
    ROOT: "python-tuf, go-tuf and tuf-js",
    TIMESTAMP: "python-tuf, go-tuf and tuf-js",
    SNAPSHOT: "tough",
    TARGETS: "python-tuf, go-tuf and tuf-js",
}
WARN_FRACTION = 0.5
# What a real signature may add to an empty placeholder (RSA-4096: 1024 hex digits).
SIGNATURE_ALLOWANCE = 1_100
ENV_VAR = "TUFREPO_SIZE_BUDGET"

_targets_budget: int = CLIENT_LIMITS[TARGETS]


def configure(value: str | None) -> None:
    """Set the targets-role budget from ``TUFREPO_SIZE_BUDGET`` (None: the client default).

    Raises:
        ConfigError: not a positive whole number of bytes.
    """
    global _targets_budget  # noqa: PLW0603 - one process-wide setting, like the Sigstore instance
    if value is None:
        _targets_budget = CLIENT_LIMITS[TARGETS]
        return
    try:
        budget = int(value)
    except ValueError:
        budget = 0
    if budget < 1:
        raise ConfigError(
            f"{ENV_VAR} must be a positive number of bytes, not {value[:40]!r}",
            hint=f"unset {ENV_VAR} to use the clients' default ({CLIENT_LIMITS[TARGETS]} bytes)",
        )
    # Only lower: a larger budget would let us write what clients refuse.
    _targets_budget = min(budget, CLIENT_LIMITS[TARGETS])


def budget_for(role: str) -> int:
    """The budget in bytes of ``role``'s metadata file (any delegated role: targets')."""
    if role in (ROOT, TIMESTAMP, SNAPSHOT):
        return CLIENT_LIMITS[role]
    return _targets_budget


def expected_size(data: bytes, placeholders: int) -> int:
    """The size a metadata file will have once its ``placeholders`` are signed."""
    return len(data) + SIGNATURE_ALLOWANCE * placeholders


def fix_for(repo: TufRepository, role: str) -> str:
    """The command that brings ``role`` back within its budget."""
    if role == TARGETS:
        return (
            "move top-level artifacts into a delegated role (`tufrepo delegate EVENT ROLE`), "
            "then split it with `tufrepo delegate EVENT ROLE --bins auto`"
        )
    parent = repo.delegator_name(role)
    binned = role
    if parent not in (None, TARGETS):
        delegator = repo.read_targets(parent)
        roles = (
            delegator.signed.delegations.roles
            if delegator and delegator.signed.delegations
            else None
        )
        if roles and role in roles and roles[role].path_hash_prefixes is not None:
            binned = parent  # a full bin: more bins for its role
    return f"`tufrepo delegate EVENT {binned} --bins auto`"


def require_within_budget(repo: TufRepository, role: str) -> None:
    """Refuse to write a role over its budget (``update-targets``, before committing).

    Raises:
        RejectedError: the role as stored in ``repo`` is larger than clients download.
    """
    data = repo.store.read(layout.role_path(role))
    md = repo.read(role)
    if data is None or md is None:
        return
    placeholders = sum(1 for s in md.signatures.values() if not s.signature)
    size = expected_size(data, placeholders)
    budget = budget_for(role)
    if size > budget:
        raise RejectedError(
            f"{role} would be {size:,} bytes, over the {budget:,}-byte budget TUF clients "
            "download by default; refusing to write it",
            hint=f"fix: {fix_for(repo, role)}",
        )


__all__ = [
    "CLIENT_LIMITS",
    "ENV_VAR",
    "SIGNATURE_ALLOWANCE",
    "STRICTEST_CLIENTS",
    "WARN_FRACTION",
    "budget_for",
    "configure",
    "expected_size",
    "fix_for",
    "require_within_budget",
]
