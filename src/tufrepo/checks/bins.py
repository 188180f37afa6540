"""Rules for hash-bin delegations (classic ``path_hash_prefixes``, see ``ops.bins``).

A well-formed set of bins is what ``tufrepo delegate EVENT ROLE --bins N``
writes, and what every client we name (python-tuf, go-tuf, tough, tuf-js)
reads the same way:

* bins hang off a role that targets delegates by path (never off targets,
  another bin, or beside path delegations of the same role), and have no
  delegations of their own;
* their prefixes are lowercase hex of one length and partition the hash
  space exactly once (no overlap, no gap);
* every bin is terminating and uses its role's keys and threshold (as
  targets delegates them), so only the role's own signers vouch for it;
* each bin lists only paths its prefixes select, within its role's paths.

Succinct hash bins (TAP 15) stay refused by ``checks.rules``: tough cannot
read them.

Pure: metadata in, findings out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tuf.api.metadata import DelegatedRole

from tufrepo.checks.findings import Finding
from tufrepo.core import layout
from tufrepo.core.constants import TARGETS, TOP_LEVEL_ROLES
from tufrepo.core.delegations import delegated_path_test

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata, Targets

    from tufrepo.core.repository import TufRepository

_HEX_PREFIX = re.compile(r"[0-9a-f]{1,4}")
MAX_PREFIX_LENGTH = 4  # 65,536 prefixes: more than the 16,384 bins tufrepo creates


def bins_rule(repo: TufRepository) -> list[Finding]:
    """Every hash-bin delegation in the tree against the shape above.

    When known good was judged in full (``repo.known_good_judged``), the
    entries of a bin unchanged since, under the same delegations, are not
    checked again (#14: one artifact more touches one bin of many).
    """
    by_parent: dict[str, list[DelegatedRole]] = {}
    for parent, child in repo.delegations():
        if child.path_hash_prefixes is not None:
            by_parent.setdefault(parent, []).append(child)
    findings: list[Finding] = []
    for parent, bins in by_parent.items():
        findings += _bins_of(repo, parent, bins)
    return findings


def _bins_of(repo: TufRepository, parent: str, bins: list[DelegatedRole]) -> list[Finding]:
    if parent == TARGETS or repo.delegator_name(parent) != TARGETS:
        # Attack: bins where the tool and signers do not expect them (under
        # targets itself, or under a bin) slip past the role whose paths and
        # signers they are meant to share.
        return [
            Finding(
                child.name,
                "hash-bin-delegation",
                f"{parent} delegates to {child.name} by hash prefix: hash bins are only "
                "supported under a role that targets delegates by path",
            )
            for child in bins
        ]
    md = repo.read_targets(parent)
    if md is None or md.signed.delegations is None:
        return []
    everything = md.signed.delegations.roles or {}
    if len(everything) != len(bins):
        # Mistake: clients walk path and hash delegations in order; a mix makes
        # which role owns an artifact depend on that order, not on its hash.
        return [
            Finding(
                parent,
                "hash-bin-delegation",
                f"{parent} mixes hash-bin and path delegations; delegate to bins only",
            )
        ]
    findings = _partition(parent, bins)
    findings += _same_signers(repo, parent, bins)
    changed = [b for b in bins if not _as_known_good(repo, parent, b)]
    findings += _bin_contents(repo, parent, changed)
    return findings


def _partition(parent: str, bins: list[DelegatedRole]) -> list[Finding]:
    findings: list[Finding] = []
    lengths: set[int] = set()
    owner: dict[str, str] = {}
    for child in bins:
        prefixes = child.path_hash_prefixes or []
        if not child.terminating:
            # Mistake: a non-terminating bin lets the search go on past the one
            # bin a path's hash selects.
            findings.append(
                Finding(child.name, "hash-bin-delegation", f"bin {child.name} is not terminating")
            )
        if not prefixes:
            findings.append(
                Finding(child.name, "hash-bin-prefixes", f"bin {child.name} has no prefixes")
            )
        for prefix in prefixes:
            if not isinstance(prefix, str) or not _HEX_PREFIX.fullmatch(prefix):
                findings.append(
                    Finding(
                        child.name,
                        "hash-bin-prefixes",
                        f"bin {child.name} has prefix {str(prefix)[:20]!r}: expected 1 to "
                        f"{MAX_PREFIX_LENGTH} lowercase hex digits (a client never matches others)",
                    )
                )
                continue
            lengths.add(len(prefix))
            if prefix in owner:
                # Attack: two bins claiming the same hashes: the first one in
                # order wins, so the other's artifacts are shadowed.
                findings.append(
                    Finding(
                        child.name,
                        "hash-bin-overlap",
                        f"bins {owner[prefix]} and {child.name} both claim hash prefix {prefix!r}",
                    )
                )
            owner.setdefault(prefix, child.name)
    if findings:
        return findings
    if len(lengths) != 1:
        return [
            Finding(
                parent,
                "hash-bin-prefixes",
                f"{parent}'s bins use prefixes of different lengths ({sorted(lengths)}); "
                "use one length so they partition the hash space",
            )
        ]
    length = lengths.pop()
    missing = [f"{p:0{length}x}" for p in range(16**length) if f"{p:0{length}x}" not in owner]
    if missing:
        # Mistake: an artifact whose hash falls in the gap is in no bin: clients never find it.
        shown = ", ".join(missing[:4]) + (" …" if len(missing) > 4 else "")
        return [
            Finding(
                parent,
                "hash-bin-gap",
                f"{parent}'s bins leave {len(missing)} hash prefix(es) uncovered ({shown}): "
                "artifacts hashed there could never be found",
            )
        ]
    return []


def _same_signers(repo: TufRepository, parent: str, bins: list[DelegatedRole]) -> list[Finding]:
    targets = repo.read_targets(TARGETS)
    if targets is None:
        return []
    try:
        role = targets.signed.get_delegated_role(parent)
    except ValueError:
        return []
    md = repo.read_targets(parent)
    if md is None or md.signed.delegations is None:
        return []
    findings = []
    for child in bins:
        same_keys = sorted(child.keyids) == sorted(role.keyids) and all(
            _key(md.signed, k) == _key(targets.signed, k) for k in child.keyids
        )
        if not same_keys or child.threshold != role.threshold:
            # Attack: a bin signed by keys (or a threshold) the role's signers
            # never agreed to could add artifacts under the role's paths.
            findings.append(
                Finding(
                    child.name,
                    "hash-bin-keys",
                    f"bin {child.name} must use {parent}'s keys and threshold "
                    f"({role.threshold} of {len(role.keyids)}) as targets delegates them",
                )
            )
    return findings


def _key(signed: Targets, keyid: str) -> object:
    keys = signed.delegations.keys if signed.delegations is not None else None
    key = keys.get(keyid) if keys else None
    return key.to_dict() if key is not None else None


def _as_known_good(repo: TufRepository, parent: str, child: DelegatedRole) -> bool:
    """True when the bin, its delegation and its role's delegation are known good's, byte for byte.

    Only for a known good judged in full (``repo.unchanged_since_judged``).
    """
    if not repo.unchanged_since_judged(child.name):
        return False
    delegated = [_delegation(repo.read_targets(TARGETS), parent)]
    delegated += [_delegation(repo.read_known_good_targets(TARGETS), parent)]
    bins = [_delegation(repo.read_targets(parent), child.name)]
    bins += [_delegation(repo.read_known_good_targets(parent), child.name)]
    return None not in delegated + bins and delegated[0] == delegated[1] and bins[0] == bins[1]


def _delegation(md: Metadata[Targets] | None, name: str) -> dict[str, object] | None:
    delegations = md.signed.delegations if md is not None else None
    role = (delegations.roles or {}).get(name) if delegations is not None else None
    return role.to_dict() if role is not None else None


def _bin_contents(repo: TufRepository, parent: str, bins: list[DelegatedRole]) -> list[Finding]:
    targets = repo.read_targets(TARGETS)
    try:
        found = targets.signed.get_delegated_role(parent) if targets else None
    except ValueError:
        found = None
    parent_role = found if isinstance(found, DelegatedRole) else None
    in_parent = delegated_path_test(parent_role) if parent_role is not None else None
    findings = []
    for child in bins:
        if not layout.is_safe_role_name(child.name) or child.name in TOP_LEVEL_ROLES:
            continue  # reported by checks.rules
        md = repo.read_targets(child.name)
        if md is None:
            continue  # missing-role-file
        if md.signed.delegations is not None:
            findings.append(
                Finding(
                    child.name,
                    "hash-bin-delegation",
                    f"bin {child.name} delegates further; bins must be leaves",
                )
            )
        in_bin = delegated_path_test(child)
        for path in sorted(md.signed.targets):
            if not in_bin(path):
                # Attack: a bin listing a path its prefixes do not select: clients
                # never look for it there, and it could claim another bin's artifacts.
                findings.append(
                    Finding(
                        child.name,
                        "wrong-bin",
                        f"{path!r} is in {child.name} but its hash selects another bin: "
                        "a client would never find it there (run update-targets)",
                    )
                )
            elif in_parent is not None and not in_parent(path):
                # Attack: a bin claiming paths outside its role's delegation.
                findings.append(
                    Finding(
                        child.name,
                        "wrong-bin",
                        f"{path!r} is in {child.name} but outside the paths targets delegates "
                        f"to {parent}: clients never look for it there",
                    )
                )
    return findings


__all__ = ["MAX_PREFIX_LENGTH", "bins_rule"]
