"""Per-role signing status of a signing event, and what each role's change is.

Pure queries over a :class:`~tufrepo.ops.event.SigningEvent`: which signers signed
and which are missing against the delegator's threshold (for root both the
known-good root's threshold and its own), open invitations, artifact changes
and delegation changes.  :func:`event_status` adds the validation findings and
decides whether the event is ready, waiting or invalid.

Not for: rendering (the CLI renders Markdown/JSON from these objects).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tuf.api.metadata import Root, Targets

from tufrepo.checks import Finding, Severity, errors, judge_event, waiting, warnings
from tufrepo.core import fields
from tufrepo.core.constants import ONLINE_ROLES, ROOT, TARGETS
from tufrepo.core.delegations import delegated_keys
from tufrepo.core.parsing import canonical_bytes
from tufrepo.errors import MetadataError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from securesystemslib.signer import Signature
    from tuf.api.metadata import Role, Signed

    from tufrepo.core.parsing import AnyMetadata
    from tufrepo.core.store import Store
    from tufrepo.ops.event import SigningEvent


@dataclass(frozen=True)
class Signers:
    """Signature count for one role against one delegator."""

    threshold: int
    signed: list[str]
    missing: list[str]
    invalid: list[str] = field(default_factory=list)
    sigstore_only: bool = False

    @property
    def ok(self) -> bool:
        """True when the threshold is met by valid signatures."""
        return len(self.signed) >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "threshold": self.threshold,
            "signed": self.signed,
            "missing": self.missing,
            "invalid": self.invalid,
        }


class Change(enum.StrEnum):
    """How something changed compared with known good."""

    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"


@dataclass(frozen=True)
class TargetChange:
    """An artifact added, modified or removed in a targets role."""

    path: str
    change: Change


@dataclass(frozen=True)
class DelegationChange:
    """A role whose signers, threshold or paths changed in its delegator."""

    role: str
    change: Change
    signers: list[str]
    threshold: int | None
    old_signers: list[str]
    old_threshold: int | None
    invited: list[str] = field(default_factory=list)
    """Handles invited to the role who have not accepted yet (they hold no key in it)."""


@dataclass(frozen=True)
class RoleStatus:
    """Everything a status report or a signer's summary says about one role."""

    role: str
    version: int | None
    known_good_version: int | None
    expires: datetime | None
    known_good_expires: datetime | None
    periods: fields.Periods | None
    known_good_periods: fields.Periods | None
    signers: Signers | None
    known_good_signers: Signers | None
    invites: list[str] = field(default_factory=list)
    target_changes: list[TargetChange] = field(default_factory=list)
    delegation_changes: list[DelegationChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    removed: bool = False
    blocked_by: str | None = None

    @property
    def signed(self) -> bool:
        """True when every threshold that applies is met."""
        if self.removed:
            return True
        if self.signers is None or not self.signers.ok:
            return False
        return self.known_good_signers is None or self.known_good_signers.ok

    @property
    def ready(self) -> bool:
        """Signed, its delegator's change signed too, no invitations pending, nothing wrong."""
        blocking = [f for f in self.findings if f.severity is not Severity.WARNING]
        return self.signed and not self.blocked_by and not self.invites and not blocking


class EventState(enum.Enum):
    """The verdict on a signing event."""

    READY = "ready"
    WAITING = "waiting"
    INVALID = "invalid"
    EMPTY = "empty"


@dataclass(frozen=True)
class EventStatus:
    """Status of a whole signing event."""

    roles: list[RoleStatus]
    findings: list[Finding]

    @property
    def warnings(self) -> list[str]:
        """Things that do not make the event invalid but that signers should know."""
        return [
            f"{r.role}: its threshold can only be met with Sigstore signatures, which tuf-js "
            "and most non-Python TUF clients cannot verify"
            for r in self.roles
            if r.signers is not None and r.signers.sigstore_only
        ] + [str(f) for f in warnings(self.findings)]

    @property
    def errors(self) -> list[Finding]:
        """The findings that make the event invalid."""
        return errors(self.findings)

    @property
    def state(self) -> EventState:
        """Invalid on any error; empty with no changes; waiting until every role is ready."""
        if self.errors:
            return EventState.INVALID
        if not self.roles:
            return EventState.WAITING if waiting(self.findings) else EventState.EMPTY
        if waiting(self.findings):
            return EventState.WAITING
        return EventState.READY if all(r.ready for r in self.roles) else EventState.WAITING

    @property
    def owed(self) -> list[str]:
        """The ``@handles`` whose action the event waits for: signatures and invitations.

        Empty unless the event is waiting: nobody should sign an invalid event.
        For a role not yet signed, the signers missing against every threshold
        that applies (for root the known-good root's and its own); for every
        role, the handles invited to a delegation it makes.  Online keys and
        keys without an owner are not people and are left out.
        """
        if self.state is not EventState.WAITING:
            return []
        owed: set[str] = set()
        for role in self.roles:
            owed.update(role.invites)
            if role.signed:
                continue
            for count in (role.signers, role.known_good_signers):
                if count is not None:
                    owed.update(count.missing)
        return sorted(h for h in owed if h.startswith("@"))


def count_signers(
    delegator: Root | Targets,
    role: str,
    md: AnyMetadata,
    payload: bytes | Callable[[], bytes | None] | None = None,
) -> Signers:
    """Who of the delegator's keys for ``role`` validly signed ``md``.

    ``payload`` is ``md``'s canonical bytes, or how the caller gets them;
    they are computed only when a key of the role has a signature to verify
    (#14: a role of 10,000 artifacts waiting for its first signature).
    """
    delegated = delegator.get_delegated_role(role)
    threshold = delegated.threshold
    if not any(_to_verify(md.signatures[k]) for k in delegated.keyids if k in md.signatures):
        payload = b""  # nothing to verify: every signature of the role's keys is a placeholder
    else:
        given = payload() if callable(payload) else payload
        payload = given if given is not None else canonical_bytes(md.signed)
    result = delegator.get_verification_result(role, payload, md.signatures)
    signed = sorted(fields.key_label(k) for k in result.signed.values())
    missing = sorted(fields.key_label(k) for k in result.unsigned.values())
    # A signature that is there but does not verify (wrong key, identity or
    # issuer, other content) never counts; name it so signers can see why.
    invalid = sorted(
        fields.key_label(k)
        for keyid, k in result.unsigned.items()
        if keyid in md.signatures and md.signatures[keyid].signature
    )
    keys = delegated_keys(delegator, role)
    classic = [k for k in keys if k.keytype != "sigstore-oidc"]
    sigstore_only = len(classic) < threshold <= len(keys)
    return Signers(threshold, signed, missing, invalid, sigstore_only)


def _to_verify(signature: Signature) -> bool:
    # Red team: a Sigstore signature is its bundle (an extra field) and may
    # leave ``sig`` empty; only an empty ``sig`` with nothing else is a placeholder.
    return bool(signature.signature or signature.unrecognized_fields)


def _delegates(delegator: Root | Targets, role: str) -> bool:
    try:
        delegator.get_delegated_role(role)
    except ValueError:
        return False
    return True


def role_status(event: SigningEvent, role: str, findings: list[Finding]) -> RoleStatus:
    """The status of one changed role."""
    repo = event.repo
    md = repo.read(role)
    kg = repo.read_known_good(role)
    if md is None:
        return RoleStatus(
            role, None, kg.signed.version if kg else None, None, None, None, None, None, None,
            findings=findings, removed=True,
        )  # fmt: skip
    signers = kg_signers = None
    delegator = repo.delegator(role)
    if role == ROOT and isinstance(md.signed, Root):
        signers = count_signers(md.signed, ROOT, md, lambda: repo.signed_bytes(role))
        kg_root = repo.known_good_root()
        if kg_root is not None:
            kg_signers = count_signers(kg_root, ROOT, md, lambda: repo.signed_bytes(role))
    elif delegator is not None and _delegates(delegator, role):
        signers = count_signers(delegator, role, md, lambda: repo.signed_bytes(role))
    root = md.signed if isinstance(md.signed, Root) else repo.root_or_none()
    kg_root_for_periods = (
        kg.signed if kg is not None and isinstance(kg.signed, Root) else repo.known_good_root()
    )
    return RoleStatus(
        role=role,
        version=md.signed.version,
        known_good_version=kg.signed.version if kg else None,
        expires=md.signed.expires,
        known_good_expires=kg.signed.expires if kg else None,
        periods=_periods(root, role, md),
        known_good_periods=_periods(kg_root_for_periods, role, kg) if kg else None,
        signers=signers,
        known_good_signers=kg_signers,
        invites=_invites_for(event, role),
        target_changes=target_changes(kg, md),
        delegation_changes=[
            replace(d, invited=event.invites.handles_for(d.role))
            for d in delegation_changes(kg, md)
        ],
        findings=findings,
    )


def _periods(root: Root | None, role: str, md: AnyMetadata | None) -> fields.Periods | None:
    try:
        return fields.get_periods(root, role, md.signed if md else None)
    except MetadataError:
        return None


def _invites_for(event: SigningEvent, role: str) -> list[str]:
    """Handles invited to a delegation *of* this role (root: root and top-level roles)."""
    handles: set[str] = set()
    for handle, roles in event.invites.by_handle.items():
        for invited in roles:
            delegator = ROOT if invited in (ROOT, TARGETS, *ONLINE_ROLES) else TARGETS
            if delegator == role:
                handles.add(handle)
    return sorted(handles)


def target_changes(kg: AnyMetadata | None, md: AnyMetadata) -> list[TargetChange]:
    """Artifacts added, modified or removed in a targets role."""
    if not isinstance(md.signed, Targets):
        return []
    before = kg.signed.targets if kg is not None and isinstance(kg.signed, Targets) else {}
    after = md.signed.targets
    changes = [TargetChange(p, Change.ADDED) for p in after if p not in before]
    changes += [TargetChange(p, Change.REMOVED) for p in before if p not in after]
    changes += [
        TargetChange(p, Change.MODIFIED)
        for p in after
        if p in before and after[p].to_dict() != before[p].to_dict()
    ]
    return sorted(changes, key=lambda c: c.path)


def _delegation_view(signed: Signed) -> dict[str, tuple[list[str], int, dict[str, Any]]]:
    """Role -> (signer labels, threshold, other settings) for what ``signed`` delegates."""
    if isinstance(signed, Root):
        roles: dict[str, Role] = dict(signed.roles)
    elif isinstance(signed, Targets) and signed.delegations and signed.delegations.roles:
        roles = dict(signed.delegations.roles)
    else:
        return {}
    delegator: Root | Targets = signed
    return {
        name: (
            sorted(fields.key_label(k) for k in delegated_keys(delegator, name)),
            role.threshold,
            role.to_dict(),
        )
        for name, role in roles.items()
    }


def delegation_changes(kg: AnyMetadata | None, md: AnyMetadata) -> list[DelegationChange]:
    """Roles whose delegation (signers, threshold, paths, periods) changed in this role."""
    before = _delegation_view(kg.signed) if kg is not None else {}
    after = _delegation_view(md.signed)
    changes: list[DelegationChange] = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old is not None and new is not None and old == new:
            continue
        change = (
            Change.ADDED if old is None else Change.REMOVED if new is None else Change.MODIFIED
        )
        changes.append(
            DelegationChange(
                name,
                change,
                new[0] if new else [],
                new[1] if new else None,
                old[0] if old else [],
                old[1] if old else None,
            )
        )
    return changes


def event_status(
    event: SigningEvent,
    *,
    changed_files: list[str] | None = None,
    main: Store | None = None,
    refuse_outside: bool = False,
) -> EventStatus:
    """Status of every changed role plus all findings (see ``checks.judge_event``).

    A role counts as ready only when the change of its delegator (if any)
    is signed too, chained back to root: a delegated role's signatures are
    counted with keys from the event's own targets, which mean nothing until
    the targets signers signed that targets.
    """
    findings = judge_event(
        event, changed_files=changed_files, main=main, refuse_outside=refuse_outside
    )
    statuses: dict[str, RoleStatus] = {}
    for role in event.changed_roles():
        if role in ONLINE_ROLES:
            continue
        try:
            statuses[role] = role_status(event, role, [f for f in findings if f.role == role])
        except MetadataError as e:
            findings.append(Finding(role, "malformed", str(e)))
    for role, status in statuses.items():  # root first: dict order is tree order
        parent = event.repo.delegator_name(role) if role != ROOT else None
        if parent in statuses and not (
            statuses[parent].signed and not statuses[parent].blocked_by
        ):
            statuses[role] = replace(status, blocked_by=parent)
    return EventStatus(list(statuses.values()), findings)
