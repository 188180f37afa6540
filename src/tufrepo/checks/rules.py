"""The rules a transition from known good to a candidate state must follow.

Pure: metadata and time come in, :class:`~tufrepo.checks.findings.Finding`
objects come out.  Each rule names the attack or mistake it stops.  Which
rules run on which path (a signing event or main) is decided in
:mod:`tufrepo.checks.transition`; missing signatures on an event are not
findings (they make it *wait*, see ``status``).

Not for: git, printing, deciding exit codes.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Root, Targets

from tufrepo.checks.bins import bins_rule
from tufrepo.checks.findings import Finding, Severity
from tufrepo.checks.keys import check_key_set, key_set_of
from tufrepo.checks.manifest import (
    checked_manifests,
    manifest_role,
    moved_out_of_git,
    not_as_written,
)
from tufrepo.core import fields, layout
from tufrepo.core.artifacts import check_target_path, is_artifact_path
from tufrepo.core.constants import (
    METADATA_DIR,
    ONLINE_ROLES,
    ROOT,
    SNAPSHOT,
    TARGETS,
    TARGETS_DIR,
    TIMESTAMP,
    TOP_LEVEL_ROLES,
)
from tufrepo.core.delegations import delegated_path_test
from tufrepo.core.parsing import canonical_bytes
from tufrepo.errors import MetadataError, RejectedError, UnsupportedKeyError
from tufrepo.ops.manifest import clashes_with_files
from tufrepo.ops.targets import (
    change_since_judged,
    desired_targets,
    entry_matches,
    manifest_side,
    read_files,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from tuf.api.metadata import Signed, TargetFile

    from tufrepo.core.artifacts import ArtifactDelta, KnownArtifacts
    from tufrepo.core.parsing import AnyMetadata
    from tufrepo.core.repository import TufRepository
    from tufrepo.core.store import Store
    from tufrepo.ops.manifest import LineChanges, ManifestEntry

# Policy bounds for expiry periods (days).  Timestamp is signed by a key CI
# holds and is what bounds a freeze: a long timestamp expiry turns a stolen
# online key into a long freeze (the attack of a 36500-day period).  Other
# roles may live up to ten years: real repositories (sigstore/root-signing)
# use 3650 days for root, targets and snapshot.
MAX_TIMESTAMP_EXPIRY_DAYS = 366
MAX_EXPIRY_DAYS = 3660


def guard(
    role: str, check: Callable[..., list[Finding]], *args: Any, **kwargs: Any
) -> list[Finding]:
    """Run one rule; metadata that cannot be parsed becomes a finding, never a crash."""
    try:
        return check(*args, **kwargs)
    except UnsupportedKeyError as e:
        return [Finding(role, "key-unusable", str(e))]
    except MetadataError as e:
        return [Finding(role, "malformed", str(e))]


def same_signed(a: AnyMetadata | None, b: AnyMetadata | None) -> bool:
    """True when both exist and their signed parts are equal (signatures may differ)."""
    if a is None or b is None:
        return False
    if a.signed.version != b.signed.version or a.signed.expires != b.signed.expires:
        return False  # differ already: no need to build both dicts (#14)
    return a.signed.to_dict() == b.signed.to_dict()


# --- one role ---------------------------------------------------------------------


def version_rule(
    role: str, md: AnyMetadata, kg: AnyMetadata | None, *, exact_root: bool
) -> list[Finding]:
    """Versions only grow, and content changes only with a new version.

    Root grows by exactly one per step when ``exact_root`` (a signing event);
    other roles may skip versions (tuf-on-ci's update-targets does).
    """
    if kg is None or same_signed(md, kg):
        return []
    version, kg_version = md.signed.version, kg.signed.version
    if version == kg_version:
        # Attack: a second, different content under a version clients already
        # trust (publish would write a second, different N.role.json).
        return [
            Finding(role, "version-reused", f"{role} v{version} changed without a new version")
        ]
    if version < kg_version:
        # Attack: rollback to an older, perhaps vulnerable, state.
        return [Finding(role, "rollback", f"{role} went back from v{kg_version} to v{version}")]
    if exact_root and role == ROOT and version != kg_version + 1:
        return [
            Finding(
                role,
                "version",
                f"root version {version} is not valid: expected {kg_version + 1} "
                f"(known good is {kg_version})",
            )
        ]
    return []


def periods_rule(role: str, root: Root | None, md: AnyMetadata | None) -> list[Finding]:
    """A role's periods are whole days within policy bounds, signing shorter than expiry."""
    try:
        periods = fields.get_periods(root, role, md.signed if md is not None else None)
    except MetadataError as e:
        return [Finding(ROOT if role in ONLINE_ROLES else role, "periods", str(e))]
    limit = _expiry_limit(role)
    owner = ROOT if role in ONLINE_ROLES else role
    findings = []
    if periods.expiry > limit:
        findings.append(
            Finding(
                owner,
                "periods",
                f"{role}: expiry period {periods.expiry} days is longer than the "
                f"{limit} days tufrepo allows for {role}",
            )
        )
    if not 1 <= periods.signing < periods.expiry:
        findings.append(
            Finding(
                owner,
                "periods",
                f"{role}: signing period {periods.signing} must be at least 1 and shorter than "
                f"the expiry period {periods.expiry}",
            )
        )
    return findings


def _expiry_limit(role: str) -> int:
    return MAX_TIMESTAMP_EXPIRY_DAYS if role == TIMESTAMP else MAX_EXPIRY_DAYS


def expiry_rule(
    role: str, md: AnyMetadata, root: Root | None, now: datetime, *, expired: Severity | None
) -> list[Finding]:
    """A changed role expires no later than its policy allows (and, optionally, not yet)."""
    try:
        periods = fields.get_periods(root, role, md.signed if role not in ONLINE_ROLES else None)
    except MetadataError:
        return []  # periods_rule reports it
    findings = []
    limit = _expiry_limit(role)
    # Attack: metadata valid for years longer than its policy allows (a long
    # window for a compromised key or a freeze).
    if md.signed.expires > now + timedelta(days=min(periods.expiry, limit)):
        findings.append(
            Finding(
                role,
                "expiry-too-far",
                f"{role} expires on {md.signed.expires:%Y-%m-%d}, further than its "
                f"{periods.expiry}-day expiry period allows",
            )
        )
    if expired is not None and md.signed.expires <= now:
        findings.append(
            Finding(role, "expired", f"{role} expired on {md.signed.expires:%Y-%m-%d}", expired)
        )
    return findings


def stray_signatures_rule(role: str, md: AnyMetadata, expected: set[str]) -> list[Finding]:
    """Signatures from keys the role no longer lists never count; tufrepo drops them."""
    stray = sorted(k for k in md.signatures if k not in expected)
    if not stray:
        return []
    return [
        Finding(
            role,
            "stray-signature",
            f"signature(s) from keys {role} does not list, which do not count: "
            f"{', '.join(k[:8] for k in stray)}",
            Severity.WARNING,
        )
    ]


def signed_rule(repo: TufRepository, role: str, md: AnyMetadata) -> list[Finding]:
    """On main, every role verifies with its delegator's threshold."""
    delegator = repo.delegator(role) if role != ROOT else md.signed
    if not isinstance(delegator, Root | Targets):
        return [Finding(role, "not-delegated", f"no role delegates to {role}")]
    payload = repo.signed_bytes(role) if repo.read(role) is md else canonical_bytes(md.signed)
    try:
        delegator.verify_delegate(role, payload or b"", md.signatures)
    except (UnsignedMetadataError, ValueError) as e:
        # Attack: an unsigned or under-signed role merged into main must not
        # be vouched for by the online key or published.
        return [
            Finding(
                role,
                "unsigned",
                f"{role} is not signed by its threshold of keys ({e})",
            )
        ]
    return []


def online_signed_rule(repo: TufRepository, role: str, md: AnyMetadata) -> list[Finding]:
    """Snapshot and timestamp that changed on main verify with root's online keys."""
    try:
        payload = repo.signed_bytes(role) if repo.read(role) is md else canonical_bytes(md.signed)
        repo.root().verify_delegate(role, payload or b"", md.signatures)
    except (UnsignedMetadataError, ValueError) as e:
        # Attack: someone with push rights on main but without the online key
        # writing their own snapshot/timestamp.
        return [Finding(role, "online-forged", f"{role} is not signed by root's online key ({e})")]
    return []


def root_rules(root: Root) -> list[Finding]:
    """Consistent snapshot, one set of online signers with URIs, sane online periods."""
    findings = []
    if not root.consistent_snapshot:
        findings.append(Finding(ROOT, "consistent-snapshot", "consistent snapshot is not enabled"))
    for role in TOP_LEVEL_ROLES:
        if role not in root.roles:
            findings.append(Finding(ROOT, "malformed", f"root does not delegate {role}"))
            return findings
    ts, sn = root.roles[TIMESTAMP], root.roles[SNAPSHOT]
    if sorted(ts.keyids) != sorted(sn.keyids) or ts.threshold != sn.threshold:
        findings.append(Finding(ROOT, "online-signers", "timestamp and snapshot signers differ"))
    for role in ONLINE_ROLES:
        findings += periods_rule(role, root, None)
        for keyid in root.roles[role].keyids:
            key = root.keys.get(keyid)
            if key is not None and fields.online_uri(key) is None:
                findings.append(
                    Finding(ROOT, "online-key", f"{role} key {keyid[:8]} has no online signer URI")
                )
    return findings


# --- the delegation tree and the artifacts ----------------------------------------


def tree_rules(
    repo: TufRepository,
    files: Store | None,
    *,
    mismatch: Severity,
    known: KnownArtifacts | None = None,
) -> list[Finding]:
    """Delegation shapes, key sets and (with ``files``) artifacts against metadata.

    When known good was judged in full (``repo.known_good_judged``), what
    did not change since is not judged again (#14): roles byte-identical
    to known good's, and, when no manifest and no delegation changed, the
    entries of every role but those owning a changed file
    (:func:`tufrepo.core.artifacts.artifact_delta`).

    Args:
        repo: the candidate, with its known good beside it.
        files: the candidate's files (None: metadata only, no artifacts).
        mismatch: the severity of artifacts that differ from their entries
            (WAITING on an event, where update-targets fixes them).
        known: entries of a trusted known good for files unchanged since
            (not read again, see :class:`tufrepo.core.artifacts.KnownArtifacts`).

    Raises:
        MetadataError: a role file cannot be parsed.
    """
    findings = _delegation_tree(repo)
    findings += _key_sets(repo)
    findings += _delegated_paths(repo)
    findings += bins_rule(repo)
    if files is not None:
        change = change_since_judged(repo, files, known)
        findings += _role_files(repo, files)
        findings += _artifact_files(files)
        if change is None:
            found, manifest_entries = checked_manifests(repo, files, mismatch, known)
            findings += found
            findings += _target_entries(repo, files, mismatch, known, manifest_entries)
        else:
            findings += _changed_entries(repo, files, mismatch, known, *change)
    return findings


def _key_sets(repo: TufRepository) -> list[Finding]:
    findings = []
    for role in [ROOT, *repo.targets_roles()]:
        if repo.unchanged_since_judged(role):
            continue  # #14: the key set known good has, judged then
        md, kg = repo.read(role), repo.read_known_good(role)
        if md is not None:
            kg_keys = key_set_of(kg.signed) if kg is not None else {}
            findings += check_key_set(role, key_set_of(md.signed), kg_keys)
    return findings


def _delegation_tree(repo: TufRepository) -> list[Finding]:
    findings = []
    seen: dict[str, str] = {r.casefold(): r for r in TOP_LEVEL_ROLES}
    for role in repo.targets_roles():
        if repo.unchanged_since_judged(role):
            continue  # #14: its delegations were judged in known good
        md = repo.read_targets(role)
        delegations = md.signed.delegations if md is not None else None
        if delegations is not None and delegations.succinct_roles is not None:
            # Attack: a delegation the tool does not walk passes unchecked
            # while clients follow it to an outsider's key.
            findings.append(
                Finding(
                    role,
                    "succinct-delegation",
                    f"{role} uses succinct hash-bin delegations (TAP 15), which tufrepo "
                    "cannot check; use classic delegations",
                )
            )
    for parent, child in repo.delegations():
        name = child.name
        if not layout.is_safe_role_name(name) or name in TOP_LEVEL_ROLES:
            # Attack: a role name that escapes metadata/ or shadows a top-level role.
            findings.append(
                Finding(parent, "unsafe-role-name", f"delegated role name {name!r} is not allowed")
            )
            continue
        folded = name.casefold()
        if folded in seen and seen[folded] != name:
            # Attack: two roles that are one file on case-insensitive file systems.
            findings.append(
                Finding(
                    parent,
                    "role-name-collision",
                    f"delegated role {name!r} collides with {seen[folded]!r} "
                    "(names differ only by case)",
                )
            )
        seen.setdefault(folded, name)
        if not repo.exists(name):
            findings.append(
                Finding(
                    parent,
                    "missing-role-file",
                    f"{parent} delegates to {name} but metadata/{name}.json is missing",
                )
            )
        if parent != TARGETS and child.path_hash_prefixes is None:  # bins: checks.bins
            findings.append(
                Finding(
                    name,
                    "nested-delegation",
                    f"{parent} delegates to {name}: nested delegations are not supported",
                )
            )
    return findings


def _role_files(repo: TufRepository, files: Store) -> list[Finding]:
    findings = []
    reachable = set(repo.targets_roles())
    for entry in files.walk(METADATA_DIR):
        role = layout.role_from_metadata_path(entry.path)
        if role and role not in (ROOT, SNAPSHOT, TIMESTAMP) and role not in reachable:
            # Attack: a role file nobody delegates to is signed by nobody that counts.
            findings.append(Finding(role, "not-delegated", f"no role delegates to {role}"))
    return findings


def _delegated_paths(repo: TufRepository) -> list[Finding]:
    findings = []
    for parent, child in repo.delegations():
        if not layout.is_safe_role_name(child.name) or child.name in TOP_LEVEL_ROLES:
            continue  # reported by _delegation_tree
        if child.path_hash_prefixes is not None:
            continue  # a hash bin: checks.bins reports artifacts in the wrong bin
        if repo.unchanged_since_judged(parent) and repo.unchanged_since_judged(child.name):
            continue  # #14: the same entries under the same delegation, judged in known good
        md = repo.read_targets(child.name)
        delegated = delegated_path_test(child)
        for path in md.signed.targets if md is not None else {}:
            if not delegated(path):
                # Attack: a delegated role listing artifacts its delegation does not cover.
                findings.append(
                    Finding(child.name, "path-outside-delegation",
                            f"{path!r} is outside the paths {parent} delegates to {child.name}")
                )  # fmt: skip
    return findings


def _artifact_files(files: Store) -> list[Finding]:
    findings = []
    seen: dict[str, str] = {}
    prefix = f"{TARGETS_DIR}/"
    for entry in files.walk(TARGETS_DIR):
        path = entry.path[len(prefix) :]
        if not is_artifact_path(path):
            continue
        if entry.kind != "file":
            # Attack: a symlink or device could publish a file from outside the repository.
            findings.append(
                Finding(
                    "",
                    "artifact-file",
                    f"{entry.path} is a {'special file' if entry.kind == 'other' else entry.kind}, not a regular file",
                )
            )
            continue
        try:
            check_target_path(path)
        except RejectedError as e:
            findings.append(Finding("", "unsafe-target-path", str(e)))
        # Attack: two names that look the same on case-insensitive or
        # normalising file systems, so signers see one file and users get another.
        folded = unicodedata.normalize("NFC", path).casefold()
        if folded in seen:
            findings.append(
                Finding(
                    "",
                    "path-collision",
                    f"{seen[folded]!r} and {path!r} differ only by case or Unicode form",
                )
            )
        seen.setdefault(folded, path)
    return findings


def _target_entries(
    repo: TufRepository,
    files: Store,
    mismatch: Severity,
    known: KnownArtifacts | None,
    manifest_entries: list[ManifestEntry] | None,
) -> list[Finding]:
    findings = []
    try:
        wanted: dict[str, dict[str, TargetFile]] | None = desired_targets(
            repo, files, known, manifest_entries=manifest_entries
        )
    except RejectedError:
        wanted = None  # reported by _artifact_files
    for role in repo.targets_roles():
        md = repo.read_targets(role)
        if md is None:
            continue
        for path in md.signed.targets:
            try:
                check_target_path(path)
            except RejectedError as e:
                findings.append(Finding(role, "unsafe-target-path", str(e)))
        if wanted is not None:
            findings += _entries_match(
                role, md.signed.targets, wanted.get(role, {}), files, mismatch
            )
    return findings


def _changed_entries(
    repo: TufRepository,
    files: Store,
    mismatch: Severity,
    known: KnownArtifacts | None,
    delta: ArtifactDelta,
    lines: LineChanges,
) -> list[Finding]:
    """:func:`_target_entries` and the manifests' rules for what changed since known good (#14).

    Known good was judged in full, with the same delegations: a role outside
    ``delta.roles`` lists what it listed then, for the same files and
    manifest lines.  The roles in it are held to known good's entries for
    unchanged paths, to the files and the new manifest lines (``lines``,
    checked as :func:`checked_manifests` checks every line) for changed ones.
    """
    findings = []
    kg_files = known.known_good if known is not None else {}
    actual = read_files(files, delta.paths)
    # Attack: two descriptions of one path (a new file and a manifest line);
    # signers review one, clients get the other.
    for problem in lines.problems + clashes_with_files(files, actual):
        findings.append(Finding(manifest_role(problem.manifest), problem.code, str(problem)))
    for role in delta.roles:
        md = repo.read_targets(role)
        if md is None:
            continue
        listed = md.signed.targets
        wanted, external = manifest_side(repo, role, delta, lines, kg_files)
        for path in external:
            line = lines.added.get(path)
            if line is not None and path in kg_files:
                findings += moved_out_of_git(repo, role, path, line.manifest)
            source = line.manifest if line is not None else "its manifest"
            findings += not_as_written(role, listed.get(path), wanted[path], source, mismatch)
        wanted.update((p, t) for p, t in actual.items() if repo.owner_of(p) == role)
        for path in listed:
            try:
                check_target_path(path)
            except RejectedError as e:
                findings.append(Finding(role, "unsafe-target-path", str(e)))
        findings += _entries_match(role, listed, wanted, files, mismatch)
    return findings


def _entries_match(
    role: str,
    listed: dict[str, TargetFile],
    actual: dict[str, TargetFile],
    files: Store,
    mismatch: Severity,
) -> list[Finding]:
    # Attack: metadata that vouches for content other than the files the
    # signers reviewed (or for files that are not there).
    findings = []
    for path in sorted(set(listed) | set(actual)):
        if path not in actual:
            problem = f"{path!r} is listed in {role} but there is no such file under targets/"
        elif path not in listed:
            problem = f"targets/{path} is not listed in {role}"
        else:
            why = entry_matches(listed[path], actual[path], _reader(files, path))
            if why is None:
                continue
            problem = f"{role} lists targets/{path} with {why}"
            if "unknown algorithm" in why:
                # No client could check it: never just "waiting".
                findings.append(Finding(role, "targets-mismatch", problem))
                continue
        if mismatch is Severity.WAITING:
            problem += " (run update-targets)"
        findings.append(Finding(role, "targets-mismatch", problem, mismatch))
    return findings


def _reader(files: Store, target_path: str) -> Callable[[], bytes]:
    return lambda: files.read(f"{TARGETS_DIR}/{target_path}") or b""


# --- delegation changes ----------------------------------------------------------


def _key_dicts(keys: dict[str, Any], keyids: list[str]) -> list[str]:
    return sorted(
        json.dumps(keys[k].to_dict() if k in keys else None, sort_keys=True) for k in keyids
    )


def _delegation_view(signed: Signed, role: str) -> dict[str, Any] | None:
    if isinstance(signed, Root):
        entry = signed.roles.get(role)
        if entry is None:
            return None
        return {"keys": _key_dicts(signed.keys, entry.keyids), **entry.to_dict()}
    if isinstance(signed, Targets) and signed.delegations and signed.delegations.roles:
        child = signed.delegations.roles.get(role)
        if child is None:
            return None
        keys = signed.delegations.keys
        return {"keys": _key_dicts(keys, child.keyids), **child.to_dict()}
    return None


def delegations_rule(repo: TufRepository, *, not_verifying: Severity) -> list[Finding]:
    """A changed delegation needs a new version of its role only when the role no longer verifies.

    #95: signatures made under the old delegation must not count under a new
    one that they do not satisfy.  A role that still verifies under the new
    delegation (threshold 2 -> 1, a signer removed who had not signed) is
    what clients accept, and what tuf-on-ci-delegate produces.
    """
    findings = []
    pairs = [(ROOT, TARGETS)] + [
        (p, c.name)
        for p, c in repo.delegations()
        if layout.is_safe_role_name(c.name) and c.name not in TOP_LEVEL_ROLES
    ]
    for parent, role in pairs:
        if repo.unchanged_since_judged(parent):
            continue  # #14: the delegation is known good's
        md, kg_parent = repo.read(parent), repo.read_known_good(parent)
        child, kg_child = repo.read(role), repo.read_known_good(role)
        if md is None or kg_parent is None or child is None or kg_child is None:
            continue
        before = _delegation_view(kg_parent.signed, role)
        if before is None or before == _delegation_view(md.signed, role):
            continue
        if not same_signed(child, kg_child):
            continue  # a new version: its signatures are counted as usual
        if not signed_rule(repo, role, child):
            continue
        findings.append(
            Finding(
                role,
                "delegation-not-resigned",
                f"the delegation of {role} changed in {parent} and {role} no longer verifies "
                f"under it: give {role} a new version for its signers to sign",
                not_verifying,
            )
        )
    return findings


def currency_rule(repo: TufRepository) -> list[Finding]:
    """After online signing: snapshot lists every targets role's version, timestamp the snapshot's.

    Not a transition rule: main is legitimately behind between a merge and
    the online-sign run after it; ``verify`` on main asks for it.
    """
    snapshot, timestamp = repo.read_snapshot(), repo.read_timestamp()
    if snapshot is None or timestamp is None:
        return [Finding(SNAPSHOT, "not-online-signed", "snapshot and timestamp do not exist yet")]
    findings = []
    for name, info in repo.targets_infos.items():
        listed = snapshot.signed.meta.get(name)
        if listed is None or listed.version != info.version:
            role = name.removesuffix(".json")
            findings.append(
                Finding(
                    SNAPSHOT,
                    "snapshot-stale",
                    f"{role} is v{info.version} but snapshot lists "
                    f"{'v' + str(listed.version) if listed else 'nothing'} (run online-sign)",
                )
            )
    if timestamp.signed.snapshot_meta.version != snapshot.signed.version:
        findings.append(
            Finding(
                TIMESTAMP,
                "timestamp-stale",
                f"timestamp lists snapshot v{timestamp.signed.snapshot_meta.version}, snapshot is "
                f"v{snapshot.signed.version} (run online-sign)",
            )
        )
    return findings
