"""Checks of a signing event against known good, returning findings.

Pure: metadata and time come in, :class:`Finding` objects come out.  Each check
names the attack or mistake it stops.  Missing signatures are not findings
(they make an event *wait*, see ``status``); findings make it *invalid*.

Not for: git, printing, deciding exit codes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tuf.api.metadata import Metadata, Root, TargetFile, Targets

from tufrepo import fields, layout
from tufrepo.constants import (
    METADATA_DIR,
    ONLINE_ROLES,
    ROOT,
    ROOT_HISTORY_DIR,
    SNAPSHOT,
    TARGETS,
    TARGETS_DIR,
    TIMESTAMP,
)
from tufrepo.errors import MetadataError, RejectedError, UnsupportedKeyError
from tufrepo.release import check_target_path
from tufrepo.repository import parse_metadata
from tufrepo.targets import desired_targets

if TYPE_CHECKING:
    from collections.abc import Callable

    from securesystemslib.signer import Key

    from tufrepo.event import SigningEvent
    from tufrepo.repository import TufRepository
    from tufrepo.store import Store


@dataclass(frozen=True)
class Finding:
    """One problem found in a role (``role`` is "" for repository-wide findings)."""

    role: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"role": self.role, "code": self.code, "message": self.message}


def check_event(
    event: SigningEvent,
    *,
    changed_files: list[str] | None = None,
    main: Store | None = None,
) -> list[Finding]:
    """Every finding for a signing event.

    Args:
        event: the event beside its known-good state.
        changed_files: paths the event's commits changed since known good
            (None when unknown: the check for files outside metadata/ and
            targets/ is skipped).
        main: the current main, to find a stale event (None: skipped).

    Metadata that cannot be parsed is itself a finding (never an exception).
    """
    findings: list[Finding] = []
    for role in ONLINE_ROLES:
        findings += _guard(role, _online_unchanged, event, role)
    findings += _guard(ROOT, _history_immutable, event)
    if changed_files is not None:
        findings += _outside_changes(changed_files)
    for role in event.changed_roles():
        if role not in ONLINE_ROLES:
            findings += _guard(role, check_role, event, role)
    findings += _guard("", check_tree, event.repo, event.store)
    findings += _guard("", _delegations_resigned, event)
    if main is not None:
        findings += _guard("", _stale, event, main)
    return _unique(findings)


def _guard(role: str, check: Callable[..., list[Finding]], *args: Any) -> list[Finding]:
    """Run one check; metadata that cannot be parsed becomes a finding, never a crash."""
    try:
        return check(*args)
    except UnsupportedKeyError as e:
        return [Finding(role, "key-type", str(e))]
    except MetadataError as e:
        return [Finding(role, "malformed", str(e))]


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


def _online_unchanged(event: SigningEvent, role: str) -> list[Finding]:
    # Attack: a signing-event branch smuggling in snapshot/timestamp content,
    # which only the online key on main may produce.
    path = layout.role_path(role)
    before = event.known_good.read(path) if event.known_good else None
    if event.store.read(path) != before:
        return [Finding(role, "online-role-changed", f"{path} must not change in a signing event")]
    return []


def check_role(event: SigningEvent, role: str) -> list[Finding]:
    """Findings for one changed offline role."""
    repo = event.repo
    md = repo.read(role)
    if md is None:
        return []  # a removed role: its delegator's change is what gets checked
    if not layout.is_safe_role_name(role):
        return [Finding(role, "unsafe-role-name", f"role name {role!r} is not a safe file name")]
    findings = _version(role, md, repo.read_known_good(role))
    findings += _expiry(event, role, md)
    findings += _keyids(role, md.signed)
    findings += _key_types(role, md.signed)
    findings += _stray_signatures(repo, role, md)
    if role == ROOT and isinstance(md.signed, Root):
        findings += _root_rules(md.signed)
        findings += _root_history(event, md)
    if role != ROOT and repo.delegator(role) is None:
        # Attack: a role file nobody delegates to would be signed but never trusted.
        findings.append(Finding(role, "not-delegated", f"no role delegates to {role}"))
    return findings


def _version(role: str, md: Metadata[Any], kg: Metadata[Any] | None) -> list[Finding]:
    # Attack: rollback or freeze, and replacing signed content without a new version.
    kg_version = kg.signed.version if kg is not None else 0
    version = md.signed.version
    if kg is not None and kg.signed.to_dict() == md.signed.to_dict():
        return []  # only signatures changed
    if version != kg_version + 1:
        return [
            Finding(
                role,
                "version",
                f"version {version} is not valid for {role}: expected {kg_version + 1} "
                f"(known good is {kg_version or 'new'})",
            )
        ]
    return []


def _expiry(event: SigningEvent, role: str, md: Metadata[Any]) -> list[Finding]:
    root = event.repo.root_or_none() if role != ROOT else md.signed
    try:
        periods = fields.get_periods(root if isinstance(root, Root) else None, role, md.signed)
    except MetadataError as e:
        return [Finding(role, "periods", str(e))]
    findings = []
    if periods.signing >= periods.expiry:
        findings.append(
            Finding(
                role,
                "periods",
                f"signing period {periods.signing} must be shorter than expiry period "
                f"{periods.expiry}",
            )
        )
    # Attack: metadata valid for years longer than its policy allows (a long
    # window for a compromised key or a freeze).
    limit = event.now + timedelta(days=periods.expiry)
    if md.signed.expires > limit:
        findings.append(
            Finding(
                role,
                "expiry-too-far",
                f"expiry date is further than expected {periods.expiry} days ahead",
            )
        )
    if md.signed.expires <= event.now:
        findings.append(
            Finding(role, "expired", f"{role} expired on {md.signed.expires:%Y-%m-%d}")
        )
    return findings


def _keyids(role: str, signed: Any) -> list[Finding]:
    # Attack/compat: a keyid that is not the key's hash lets two "different"
    # keys count twice and is rejected by strict clients (tough, sigstore-rs).
    keys = {}
    if isinstance(signed, Root):
        keys = signed.keys
    elif isinstance(signed, Targets) and signed.delegations and signed.delegations.keys:
        keys = signed.delegations.keys
    return [
        Finding(role, "keyid", f"key {keyid[:16]} keyid does not match its content hash")
        for keyid, key in keys.items()
        if fields.spec_keyid(key) != keyid
    ]


def _root_rules(root: Root) -> list[Finding]:
    findings = []
    if not root.consistent_snapshot:
        findings.append(Finding(ROOT, "consistent-snapshot", "consistent snapshot is not enabled"))
    ts, sn = root.roles[TIMESTAMP], root.roles[SNAPSHOT]
    if sorted(ts.keyids) != sorted(sn.keyids) or ts.threshold != sn.threshold:
        findings.append(Finding(ROOT, "online-signers", "timestamp and snapshot signers differ"))
    for role in ONLINE_ROLES:
        try:
            periods = fields.get_periods(root, role, None)
        except MetadataError as e:
            findings.append(Finding(ROOT, "online-periods", str(e)))
            continue
        if periods.signing < 1 or periods.signing >= periods.expiry:
            findings.append(
                Finding(
                    ROOT,
                    "online-periods",
                    f"{role}: signing period {periods.signing} must be at least 1 and shorter "
                    f"than the expiry period {periods.expiry}",
                )
            )
        for keyid in root.roles[role].keyids:
            key = root.keys.get(keyid)
            if key is not None and fields.online_uri(key) is None:
                findings.append(
                    Finding(ROOT, "online-key", f"{role} key {keyid[:8]} has no online signer URI")
                )
    return findings


def _root_history(event: SigningEvent, md: Metadata[Any]) -> list[Finding]:
    # Attack (#164): a root.json that differs from the versioned copy clients
    # walk through, or history rewritten under clients' feet.
    path = layout.root_history_path(md.signed.version)
    copy = event.store.read(path)
    current = event.store.read(layout.role_path(ROOT))
    if copy is None:
        return [Finding(ROOT, "root-history", f"{path} is missing")]
    if copy != current:
        return [Finding(ROOT, "root-history", f"{path} differs from metadata/root.json")]
    return []


# Key types and schemes that the clients we test with (python-tuf, tuf-js) can
# verify; Sigstore keys verify only in python-tuf with Sigstore support.
SUPPORTED_KEYS = frozenset(
    {
        ("ed25519", "ed25519"),
        ("ecdsa", "ecdsa-sha2-nistp256"),
        ("ecdsa", "ecdsa-sha2-nistp384"),
        ("rsa", "rsassa-pss-sha256"),
        ("rsa", "rsassa-pss-sha384"),
        ("rsa", "rsassa-pss-sha512"),
        ("sigstore-oidc", "Fulcio"),
    }
)


def _key_types(role: str, signed: Any) -> list[Finding]:
    # Attack/compat: a key no client can verify turns a threshold into one
    # that can never be met (or is met only by a tool that skips checks).
    return [
        Finding(
            role,
            "key-type",
            f"key {keyid[:16]} has type {key.keytype}/{key.scheme}, "
            "which TUF clients cannot verify",
        )
        for keyid, key in _keys_of(signed).items()
        if (key.keytype, key.scheme) not in SUPPORTED_KEYS
    ]


def _keys_of(signed: Any) -> dict[str, Key]:
    if isinstance(signed, Root):
        return dict(signed.keys)
    if isinstance(signed, Targets) and signed.delegations and signed.delegations.keys:
        return dict(signed.delegations.keys)
    return {}


def _stray_signatures(
    repo: TufRepository, role: str, md: Metadata[Any], also: frozenset[str] = frozenset()
) -> list[Finding]:
    # #157: signatures (even empty ones) from keys the role no longer expects
    # are at best noise and at worst let a removed key look like a signer.
    expected = set(repo.expected_keys(role)) | also
    stray = sorted(k for k in md.signatures if k not in expected)
    if not stray:
        return []
    return [
        Finding(
            role,
            "stray-signature",
            f"signature(s) from keys {role} does not expect: {', '.join(k[:8] for k in stray)}",
        )
    ]


def _history_immutable(event: SigningEvent) -> list[Finding]:
    # Attack (#164): rewriting or deleting old roots that clients walk through,
    # or a gap that breaks the chain.
    findings = []
    if event.known_good is not None:
        for entry in event.known_good.walk(ROOT_HISTORY_DIR):
            if event.store.read(entry.path) != event.known_good.read(entry.path):
                findings.append(
                    Finding(ROOT, "root-history", f"{entry.path} was modified or removed")
                )
    versions = sorted(
        v for e in event.store.walk(ROOT_HISTORY_DIR)
        if (v := layout.root_history_version(e.path.rsplit("/", 1)[-1])) is not None
    )  # fmt: skip
    root = event.repo.read(ROOT)
    if root is not None and versions != list(range(1, root.signed.version + 1)):
        findings.append(
            Finding(
                ROOT,
                "root-history",
                f"root_history must hold versions 1..{root.signed.version}, found {versions}",
            )
        )
    return findings


def _outside_changes(changed_files: list[str]) -> list[Finding]:
    # Attack: an event that also edits workflows or code (.github/, Makefile)
    # rides on the signers' approval of the metadata change.
    outside = sorted(
        p for p in changed_files if not p.startswith((f"{METADATA_DIR}/", f"{TARGETS_DIR}/"))
    )
    if not outside:
        return []
    shown = ", ".join(outside[:5]) + (" …" if len(outside) > 5 else "")
    return [
        Finding(
            "",
            "outside-change",
            f"the event changes files outside metadata/ and targets/: {shown}",
        )
    ]


def check_tree(repo: TufRepository, files: Store) -> list[Finding]:
    """Findings about the delegation tree and the artifacts (event or main).

    Raises:
        MetadataError: a role file cannot be parsed.
    """
    findings = _delegation_tree(repo, files)
    findings += _artifact_files(files)
    findings += _target_entries(repo, files)
    return findings


def _delegation_tree(repo: TufRepository, files: Store) -> list[Finding]:
    findings = []
    reachable = set(repo.targets_roles())
    for parent, child in repo.delegations():
        if not layout.is_safe_role_name(child.name) or child.name in (
            ROOT,
            SNAPSHOT,
            TIMESTAMP,
            TARGETS,
        ):
            findings.append(
                Finding(
                    parent,
                    "unsafe-role-name",
                    f"delegated role name {child.name!r} is not a safe file name",
                )
            )
            continue
        if not repo.exists(child.name):
            findings.append(
                Finding(
                    parent,
                    "missing-role-file",
                    f"{parent} delegates to {child.name} but metadata/{child.name}.json is missing",
                )
            )
        if parent != TARGETS:
            # tufrepo manages one level of delegations; deeper trees are an extension.
            findings.append(
                Finding(
                    child.name,
                    "nested-delegation",
                    f"{parent} delegates to {child.name}: nested delegations are not supported",
                )
            )
        if child.path_hash_prefixes is not None:
            findings.append(
                Finding(
                    child.name, "hash-bin-delegation", "hash-prefix delegations are not supported"
                )
            )
    for entry in files.walk(METADATA_DIR):
        role = layout.role_from_metadata_path(entry.path)
        if role and role not in (ROOT, SNAPSHOT, TIMESTAMP) and role not in reachable:
            # Attack: a role file nobody delegates to is signed by nobody that counts.
            findings.append(Finding(role, "not-delegated", f"no role delegates to {role}"))
    return findings


def _artifact_files(files: Store) -> list[Finding]:
    findings = []
    seen: dict[str, str] = {}
    prefix = f"{TARGETS_DIR}/"
    for entry in files.walk(TARGETS_DIR):
        path = entry.path[len(prefix) :]
        if entry.kind != "file":
            # Attack: a symlink or device could publish a file from outside the repository.
            findings.append(
                Finding("", "artifact-file", f"{entry.path} is a {entry.kind}, not a regular file")
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


def _target_entries(repo: TufRepository, files: Store) -> list[Finding]:
    findings = []
    for parent, child in repo.delegations():
        if not layout.is_safe_role_name(child.name):
            continue  # reported by _delegation_tree
        md = repo.read(child.name)
        for path in md.signed.targets if md is not None else {}:
            if not child.is_delegated_path(path):
                # Attack: a delegated role listing artifacts its delegation does not cover.
                findings.append(
                    Finding(child.name, "path-outside-delegation",
                            f"{path!r} is outside the paths {parent} delegates to {child.name}")
                )  # fmt: skip
    try:
        wanted: dict[str, dict[str, TargetFile]] | None = desired_targets(repo, files)
    except RejectedError:
        wanted = None  # reported by _artifact_files
    for role in repo.targets_roles():
        md = repo.read(role)
        if md is None:
            continue
        for path in md.signed.targets:
            try:
                check_target_path(path)
            except RejectedError as e:
                findings.append(Finding(role, "unsafe-target-path", str(e)))
        if wanted is not None:
            findings += _entries_match(role, md.signed.targets, wanted.get(role, {}))
    return findings


def _entries_match(
    role: str, listed: dict[str, TargetFile], actual: dict[str, TargetFile]
) -> list[Finding]:
    # Attack: metadata that vouches for content other than the files the
    # signers reviewed (or for files that are not there).
    findings = []
    for path in sorted(set(listed) | set(actual)):
        if path not in actual:
            problem = f"{path!r} is listed in {role} but there is no such file under targets/"
        elif path not in listed:
            problem = f"targets/{path} is not listed in {role} (run update-targets)"
        elif (listed[path].length, listed[path].hashes) != (
            actual[path].length,
            actual[path].hashes,
        ):
            problem = f"targets/{path} does not match the length or hash listed in {role}"
        else:
            continue
        findings.append(Finding(role, "targets-mismatch", problem))
    return findings


def _delegation_view(signed: Any, role: str) -> dict[str, Any] | None:
    if isinstance(signed, Root):
        entry = signed.roles.get(role)
        if entry is None:
            return None
        return {
            "keys": sorted(
                (k, signed.keys[k].to_dict().__repr__()) for k in entry.keyids if k in signed.keys
            ),
            "threshold": entry.threshold,
        }
    if isinstance(signed, Targets) and signed.delegations and signed.delegations.roles:
        child = signed.delegations.roles.get(role)
        if child is None:
            return None
        keys = signed.delegations.keys
        return {
            "keys": sorted((k, keys[k].to_dict().__repr__()) for k in child.keyids if k in keys),
            "threshold": child.threshold,
            "paths": child.paths,
            "terminating": child.terminating,
        }
    return None


def _delegations_resigned(event: SigningEvent) -> list[Finding]:
    # #95: when a delegation's keys, threshold or paths change, the delegated
    # role must get a new version, or signatures made under the old
    # delegation keep counting under the new one without anyone re-signing.
    repo = event.repo
    findings = []
    pairs = [(ROOT, TARGETS)] + [
        (p, c.name) for p, c in repo.delegations() if layout.is_safe_role_name(c.name)
    ]
    for parent, role in pairs:
        md, kg_parent = repo.read(parent), repo.read_known_good(parent)
        child, kg_child = repo.read(role), repo.read_known_good(role)
        if md is None or kg_parent is None or child is None or kg_child is None:
            continue
        before = _delegation_view(kg_parent.signed, role)
        after = _delegation_view(md.signed, role)
        if (
            before is not None
            and before != after
            and child.signed.to_dict() == kg_child.signed.to_dict()
        ):
            findings.append(
                Finding(
                    role,
                    "delegation-not-resigned",
                    f"the delegation of {role} changed in {parent} but {role} has no new version",
                )
            )
    return findings


def _stale(event: SigningEvent, main: Store) -> list[Finding]:
    # Attack/mistake: main changed a role after this event branched; merging
    # the event would silently roll that change back.
    if event.known_good is None:
        return []
    findings = []
    for role in event.changed_roles():
        path = layout.role_path(role)
        if main.read(path) != event.known_good.read(path):
            findings.append(
                Finding(
                    role,
                    "stale-event",
                    f"main changed {role} since this event branched; start the event again from main",
                )
            )
    return findings


def check_repository(repo: TufRepository, files: Store) -> list[Finding]:
    """Findings for a repository state outside an event: main before online-sign or publish.

    The same rules as for events where they apply to a single state (#343):
    the delegation tree, artifacts against metadata, root_history, keyids, key
    types and stray signatures.  Thresholds are checked by the callers.
    """
    findings = _guard("", check_tree, repo, files)
    findings += _guard(ROOT, _history_consistent, repo, files)
    for role in [ROOT, *repo.targets_roles()]:
        findings += _guard(role, _role_keys_sane, repo, files, role)
    return _unique(findings)


def _history_consistent(repo: TufRepository, files: Store) -> list[Finding]:
    root = repo.read(ROOT)
    if root is None:
        return [Finding(ROOT, "root-history", "metadata/root.json is missing")]
    versions = sorted(
        v for e in files.walk(ROOT_HISTORY_DIR)
        if (v := layout.root_history_version(e.path.rsplit("/", 1)[-1])) is not None
    )  # fmt: skip
    findings = []
    if versions != list(range(1, root.signed.version + 1)):
        findings.append(
            Finding(
                ROOT,
                "root-history",
                f"root_history must hold versions 1..{root.signed.version}, found {versions}",
            )
        )
    latest = files.read(layout.root_history_path(root.signed.version))
    if latest is not None and latest != files.read(layout.role_path(ROOT)):
        findings.append(
            Finding(
                ROOT,
                "root-history",
                f"root_history/{root.signed.version}.root.json differs from root.json",
            )
        )
    return findings


def _role_keys_sane(repo: TufRepository, files: Store, role: str) -> list[Finding]:
    md = repo.read(role)
    if md is None:
        return []
    findings = _keyids(role, md.signed) + _key_types(role, md.signed)
    previous: frozenset[str] = frozenset()
    if role == ROOT and md.signed.version > 1:
        # A new root also carries the signatures of the root before it.
        data = files.read(layout.root_history_path(md.signed.version - 1))
        if data is not None:
            old = parse_metadata(data, layout.root_history_path(md.signed.version - 1), ROOT)
            previous = frozenset(old.signed.roles[ROOT].keyids)
    findings += _stray_signatures(repo, role, md, previous)
    if role == ROOT and isinstance(md.signed, Root):
        findings += _root_rules(md.signed)
    return findings
