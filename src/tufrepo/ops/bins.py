"""Hash-bin delegations: a role's artifacts spread over N bin roles by their path's sha256.

``tufrepo delegate EVENT ROLE --bins N`` turns a role delegated by targets
into the delegator of N = 2**k classic hash bins (``path_hash_prefixes``,
which python-tuf, go-tuf, tough and tuf-js all read)::

    targets --(ROLE/* ...)--> ROLE --(prefixes 0..7)--> ROLE-bin-00
                                   --(prefixes 8..f)--> ROLE-bin-01

* ROLE keeps its delegation in targets (paths, keys, threshold, periods) and
  its own artifact list becomes empty; each artifact moves to the bin its
  target path's sha256 selects (the TUF specification's rule).
* Bins are named ``ROLE-bin-XX`` (the bin's index in hex, at least two
  digits): valid role and file names for tufrepo and tuf-on-ci.
* Bins are offline roles signed by ROLE's own keys with ROLE's threshold, so
  the role's signers sign ROLE and the changed bins in one ``repo-sign``.
  The checks (:mod:`tufrepo.checks.bins`) hold bins to exactly that.
* Each bin covers 16**L / N consecutive hex prefixes of length L = ceil(k/4):
  the prefixes partition the hash space exactly once, every bin is
  ``terminating`` (a path whose hash selects a bin is found there or nowhere).
* ``--bins auto`` picks N from ROLE's current artifact count and the size
  budget (:mod:`tufrepo.checks.budget`); giving a binned role another N
  moves every artifact into the new bins in the same event.
* When ROLE's signers or threshold change, :func:`configure_bins` with no
  count puts the bins in step (new versions: #95).

Not for: judging bins (``checks.bins``), placing new artifacts
(``ops.targets`` does it through the delegation walk), git, prompting.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuf.api.metadata import DelegatedRole, Delegations, Targets

from tufrepo.core import fields, layout
from tufrepo.core.constants import TARGETS, TOP_LEVEL_ROLES
from tufrepo.core.delegations import delegated_keys
from tufrepo.core.sizes import budget_for
from tufrepo.errors import UsageError
from tufrepo.ops.manifest import line_path, manifest_path

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata, TargetFile

    from tufrepo.core.repository import TufRepository
    from tufrepo.ops.event import SigningEvent

BIN_SEPARATOR = "-bin-"
MIN_BINS = 2
# 16,384 bins (PEP 458) keep snapshot under tough's 1 MiB.
MAX_BINS = 16_384
AUTO = "auto"
# --bins auto aims bins at this share of the budget: room to double before the warning.
AUTO_TARGET_FRACTION = 0.25
# --bins auto keeps each bin at or under this many entries: tuf-js (@tufjs/models
# 4.x) parses a targets role in time quadratic in its entries (1.5 MB, 10k
# entries: over a minute), far below the byte budget.
AUTO_MAX_ENTRIES_PER_BIN = 2048
# Serialized bytes of an artifact entry when the role has none to measure.
ENTRY_BYTES_ESTIMATE = 200
# Serialized bytes of an empty bin (signed fields and one signature).
BIN_OVERHEAD_BYTES = 700


@dataclass(frozen=True)
class BinSpec:
    """One bin: its role name and the hex prefixes of the path hashes it holds."""

    name: str
    prefixes: tuple[str, ...]

    def holds(self, target_path: str) -> bool:
        """True when ``target_path``'s hash falls in this bin."""
        return path_hash(target_path).startswith(self.prefixes)


def path_hash(target_path: str) -> str:
    """The hash the TUF specification bins a target path by: sha256 of its UTF-8 bytes."""
    return hashlib.sha256(target_path.encode("utf-8")).hexdigest()


def is_valid_count(count: int) -> bool:
    """True for a power of two between MIN_BINS and MAX_BINS."""
    return MIN_BINS <= count <= MAX_BINS and count & (count - 1) == 0


def prefix_length(count: int) -> int:
    """Hex digits per prefix for ``count`` bins: ceil(log2(count) / 4)."""
    return max(1, math.ceil((count.bit_length() - 1) / 4))


def bin_name(role: str, index: int, count: int) -> str:
    """``ROLE-bin-XX``: the bin's index in hex, as many digits as the last index needs (>= 2)."""
    width = max(2, len(f"{count - 1:x}"))
    return f"{role}{BIN_SEPARATOR}{index:0{width}x}"


def bin_specs(role: str, count: int) -> list[BinSpec]:
    """The ``count`` bins of ``role``, in hash order.

    Raises:
        UsageError: ``count`` is not a power of two between MIN_BINS and MAX_BINS.
    """
    if not is_valid_count(count):
        raise UsageError(
            f"--bins must be a power of two between {MIN_BINS} and {MAX_BINS}, not {count}",
            hint="for example --bins 16, or --bins auto",
        )
    length = prefix_length(count)
    per_bin = 16**length // count
    return [
        BinSpec(
            bin_name(role, i, count),
            tuple(f"{p:0{length}x}" for p in range(i * per_bin, (i + 1) * per_bin)),
        )
        for i in range(count)
    ]


def bin_for(specs: list[BinSpec], target_path: str) -> BinSpec:
    """The bin ``target_path`` belongs to (bins from :func:`bin_specs` cover every hash)."""
    digest = path_hash(target_path)
    return next(s for s in specs if digest.startswith(s.prefixes))


def hash_bins(targets: Targets) -> dict[str, DelegatedRole]:
    """The hash-bin delegations of a role (empty when it delegates nothing by hash prefix)."""
    delegations = targets.delegations
    if delegations is None or not delegations.roles:
        return {}
    return {n: r for n, r in delegations.roles.items() if r.path_hash_prefixes is not None}


def auto_count(entries: int, role_bytes: int, size_budget: int) -> int:
    """The fewest bins that keep each bin near AUTO_TARGET_FRACTION of the budget.

    Args:
        entries: artifacts of the role (and its current bins).
        role_bytes: their serialized size now (0: estimated).
        size_budget: the targets budget in bytes.
    """
    per_entry = role_bytes / entries if entries and role_bytes else ENTRY_BYTES_ESTIMATE
    aim = size_budget * AUTO_TARGET_FRACTION
    count = MIN_BINS
    while count < MAX_BINS and (
        BIN_OVERHEAD_BYTES + entries * per_entry / count > aim
        or entries / count > AUTO_MAX_ENTRIES_PER_BIN
    ):
        count *= 2
    return count


def is_bin_of(repo: TufRepository, role: str, parent: str) -> bool:
    """True when ``role`` is one of ``parent``'s hash bins."""
    md = repo.read_targets(parent) if parent not in TOP_LEVEL_ROLES else None
    delegations = md.signed.delegations if md is not None else None
    child = (delegations.roles or {}).get(role) if delegations is not None else None
    return child is not None and child.path_hash_prefixes is not None  # one lookup per call


@dataclass(frozen=True)
class BinsResult:
    """What :func:`configure_bins` did: the bins now, and the roles it changed."""

    bins: list[str]
    changed: list[str]


def configure_bins(event: SigningEvent, role: str, count: int | str | None) -> BinsResult:
    """Split ``role`` into ``count`` hash bins, or keep its bins in step with it.

    Args:
        event: the signing event, edited in place.
        role: a role delegated by targets.
        count: a power of two, ``"auto"``, or None: only put existing bins in
            step with the role's keys, threshold and periods.

    Raises:
        UsageError: an invalid count, a role that cannot be binned, or bin
            names that collide with other roles.
    """
    repo = event.repo
    md = repo.read_targets(role) if role not in TOP_LEVEL_ROLES else None
    current = hash_bins(md.signed) if md is not None else {}
    if count is None:
        if not current:
            return BinsResult([], [])
        count = len(current)
    _check_binnable(event, role, md)
    assert md is not None  # noqa: S101 - _check_binnable refuses a missing role
    entries = dict(md.signed.targets)
    sizes = 0
    for name in current:
        bin_md = repo.read_targets(name)
        if bin_md is not None:
            entries.update(bin_md.signed.targets)
            sizes += len(repo.store.read(layout.role_path(name)) or b"")
    if count == AUTO:
        own = len(repo.store.read(layout.role_path(role)) or b"")
        # Artifacts the role's manifest lists count too: update-targets adds them later.
        listed = repo.store.read(manifest_path(role)) or b""
        upcoming = {line_path(line) for line in listed.splitlines() if line.strip()}
        upcoming -= {None, *entries}
        count = auto_count(len(entries) + len(upcoming), sizes + own, budget_for(role))
    if not isinstance(count, int):
        raise UsageError(f"--bins takes a power of two or 'auto', not {count!r}")
    specs = bin_specs(role, count)
    _check_names(event, specs, set(current))

    delegator = repo.read_targets(TARGETS)
    assert delegator is not None  # noqa: S101 - _check_binnable checked the delegation
    keys = delegated_keys(delegator.signed, role)
    threshold = delegator.signed.get_delegated_role(role).threshold
    periods = fields.get_periods(repo.root(), role, md.signed)
    before = {n: r.to_dict() for n, r in current.items()}
    with repo.edit_targets(role) as targets:
        targets.targets = {}
        targets.delegations = Delegations(
            keys={k.keyid: k for k in keys},
            roles={
                s.name: DelegatedRole(
                    s.name,
                    sorted(k.keyid for k in keys),
                    threshold,
                    terminating=True,
                    path_hash_prefixes=list(s.prefixes),
                )
                for s in specs
            },
        )
        after = {n: r.to_dict() for n, r in (targets.delegations.roles or {}).items()}
    for name in sorted(set(current) - {s.name for s in specs}):
        repo.delete(name)
        event.invites.drop_role(name)
    placed: dict[str, dict[str, TargetFile]] = {s.name: {} for s in specs}
    for path, entry in entries.items():
        placed[bin_for(specs, path).name][path] = entry
    for spec in specs:
        edited = repo.open(spec.name)
        assert isinstance(edited.signed, Targets)  # noqa: S101 - open() of a targets role
        edited.signed.targets = placed[spec.name]
        fields.set_periods(repo.root(), spec.name, edited.signed, periods)
        repo.close(spec.name, edited)
        if spec.name in before and before[spec.name] != after[spec.name]:
            repo.bump(spec.name)  # #95: old signatures never count under a new delegation
        # handles invited to ROLE are invited to its bins: accepting adds their key to both
        event.invites.drop_role(spec.name)
        for handle in event.invites.handles_for(role):
            event.invites.add(handle, spec.name)
    event.save_invites()
    changed = [r for r in [role, *current, *(s.name for s in specs)] if r in event.changed_roles()]
    return BinsResult([s.name for s in specs], list(dict.fromkeys(changed)))


def remove_bins(event: SigningEvent, role: str) -> list[str]:
    """Delete ``role``'s bins (before the role itself is removed); the bins removed."""
    repo = event.repo
    md = repo.read_targets(role) if role not in TOP_LEVEL_ROLES else None
    removed = sorted(hash_bins(md.signed)) if md is not None else []
    for name in removed:
        repo.delete(name)
        event.invites.drop_role(name)
    if removed:
        event.save_invites()
    return removed


def _check_binnable(event: SigningEvent, role: str, md: Metadata[Targets] | None) -> None:
    repo = event.repo
    if role in TOP_LEVEL_ROLES:
        raise UsageError(
            f"{role} cannot be split into hash bins",
            hint="bin a delegated role: `tufrepo delegate EVENT ROLE --bins N`",
        )
    if md is None or repo.delegator_name(role) != TARGETS:
        raise UsageError(
            f"{role} is not a role delegated by targets",
            hint=f"create it first: `tufrepo delegate EVENT {role}`",
        )
    signed = md.signed
    roles = signed.delegations.roles if signed.delegations is not None else None
    if signed.delegations is not None and signed.delegations.succinct_roles is not None:
        raise UsageError(f"{role} uses succinct hash bins, which tufrepo does not manage")
    if roles and any(r.path_hash_prefixes is None for r in roles.values()):
        raise UsageError(
            f"{role} delegates to other roles by path; hash bins would replace them",
            hint="remove those delegations first",
        )


def _check_names(event: SigningEvent, specs: list[BinSpec], own: set[str]) -> None:
    taken = {
        r.casefold(): r for r in [*TOP_LEVEL_ROLES, *event.repo.targets_roles()] if r not in own
    }
    for spec in specs:
        if not layout.is_safe_role_name(spec.name):
            raise UsageError(
                f"the bin name {spec.name!r} is not a valid role name",
                hint="use a shorter role name (bins are named ROLE-bin-XX)",
            )
        if spec.name.casefold() in taken:
            raise UsageError(
                f"the bin {spec.name} would collide with the role {taken[spec.name.casefold()]}"
            )


__all__ = [
    "AUTO",
    "BIN_SEPARATOR",
    "MAX_BINS",
    "MIN_BINS",
    "BinSpec",
    "BinsResult",
    "auto_count",
    "bin_for",
    "bin_name",
    "bin_specs",
    "configure_bins",
    "hash_bins",
    "is_bin_of",
    "is_valid_count",
    "path_hash",
    "prefix_length",
    "remove_bins",
]
