"""Checks of a signing event against known good, returning findings.

Pure: metadata and time come in, :class:`Finding` objects come out.  Each check
names the attack or mistake it stops.  Missing signatures are not findings
(they make an event *wait*, see ``status``); findings make it *invalid*.

Not for: git, printing, deciding exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tuf.api.metadata import Metadata, Root, Targets

from tufrepo import fields, layout
from tufrepo.constants import ONLINE_ROLES, ROOT, SNAPSHOT, TIMESTAMP
from tufrepo.errors import MetadataError

if TYPE_CHECKING:
    from tufrepo.event import SigningEvent


@dataclass(frozen=True)
class Finding:
    """One problem found in a role (``role`` is "" for repository-wide findings)."""

    role: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"role": self.role, "code": self.code, "message": self.message}


def check_event(event: SigningEvent) -> list[Finding]:
    """Every finding for a signing event, role by role.

    Metadata that cannot be parsed is itself a finding (never an exception).
    """
    findings: list[Finding] = []
    for role in ONLINE_ROLES:
        findings += _online_unchanged(event, role)
    for role in event.changed_roles():
        if role in ONLINE_ROLES:
            continue
        try:
            findings += check_role(event, role)
        except MetadataError as e:
            findings.append(Finding(role, "malformed", str(e)))
    return findings


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
