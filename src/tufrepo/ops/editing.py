"""Changes a maintainer makes on a signing event: roles, signers, periods, keys.

Each function edits a :class:`~tufrepo.ops.event.SigningEvent` in place under the
signing-event rules of :class:`~tufrepo.core.repository.TufRepository`.  A change
to a role's delegation (signers, threshold, paths) also re-versions the
delegated role, so its existing signatures never silently count under the new
delegation (tuf-on-ci #95).

Handles that already own a key in the repository get that key; the invoking
user gets the key they enrolled; anyone else is invited and enrols a key when
they run ``repo-sign``.

Not for: git, prompting, signing (see ``signing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tuf.api.metadata import DelegatedRole, Delegations, Root, Targets

from tufrepo.core import fields, layout
from tufrepo.core.constants import (
    DEFAULT_PERIODS,
    DELEGATED_DEFAULT_PERIODS,
    DELEGATION_DEPTH,
    ONLINE_ROLES,
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    TOP_LEVEL_ROLES,
)
from tufrepo.errors import RejectedError, UsageError
from tufrepo.ops.bins import configure_bins, remove_bins

if TYPE_CHECKING:
    from securesystemslib.signer import Key

    from tufrepo.ops.event import SigningEvent


@dataclass
class RoleChange:
    """What a maintainer asks to change in one role; None means "leave as is"."""

    signers: list[str] | None = None
    threshold: int | None = None
    expiry: int | None = None
    signing_period: int | None = None
    online_key: Key | None = None
    paths: list[str] | None = None
    terminating: bool | None = None
    bins: int | str | None = None  # hash bins: a power of two or "auto" (ops.bins)


@dataclass
class EditResult:
    """What an edit did: roles changed and invitations sent."""

    changed: list[str] = field(default_factory=list)
    invited: dict[str, list[str]] = field(default_factory=dict)


def _given(value: int | None, default: int) -> int:
    """``value`` unless it was not given (0 is given, and then rejected by the checks)."""
    return default if value is None else value


def default_paths(role: str) -> list[str]:
    """Patterns ``ROLE/*``, ``ROLE/*/*``, … down to DELEGATION_DEPTH levels."""
    return [role + "/*" * depth for depth in range(1, DELEGATION_DEPTH + 1)]


def _check_threshold(role: str, threshold: int, signers: int) -> None:
    if threshold < 1 or threshold > signers:
        raise UsageError(
            f"threshold {threshold} for {role} must be between 1 and the number of signers "
            f"({signers})",
            hint="lower the threshold or add --signer",
        )


def _check_periods(role: str, expiry: int, signing: int) -> None:
    if expiry < 1 or signing < 1 or signing >= expiry:
        raise UsageError(
            f"{role}: signing period {signing} must be at least 1 and shorter than the expiry "
            f"period {expiry}",
            hint="for example --expiry 365 --signing-period 60",
        )


def _resolve_signers(
    event: SigningEvent, handles: list[str], user: str, user_key: Key | None
) -> tuple[list[Key], list[str]]:
    """Keys for the handles that have one (or are the user with a key), invites for the rest."""
    known = event.known_handles()
    keys_by_id = _all_keys(event)
    keys: list[Key] = []
    invites: list[str] = []
    for handle in dict.fromkeys(fields.normalize_handle(h) for h in handles):
        if handle in known and known[handle] in keys_by_id:
            keys.append(keys_by_id[known[handle]])
        elif handle == user and user_key is not None:
            keys.append(fields.owned_key(user_key, user))
        else:
            invites.append(handle)
    return keys, invites


def _all_keys(event: SigningEvent) -> dict[str, Key]:
    found: dict[str, Key] = {}
    root = event.repo.root_or_none()
    if root is not None:
        found.update(root.keys)
    for name in event.repo.targets_roles():
        md = event.repo.read_targets(name)
        if md is not None and md.signed.delegations and md.signed.delegations.keys:
            found.update(md.signed.delegations.keys)
    return found


def _set_keys(delegator: Root | Targets, role: str, keys: list[Key], threshold: int) -> None:
    wanted = {k.keyid for k in keys}
    current = list(delegator.get_delegated_role(role).keyids)
    for keyid in current:
        if keyid not in wanted:
            delegator.revoke_key(keyid, role)
    for key in keys:
        if key.keyid not in delegator.get_delegated_role(role).keyids:
            delegator.add_key(key, role)
    delegator.get_delegated_role(role).threshold = threshold


def _signers_need_user_key(handles: list[str], user: str, event: SigningEvent) -> bool:
    normalized = {fields.normalize_handle(h) for h in handles}
    return user in normalized and user not in event.known_handles()


def needs_user_key(event: SigningEvent, changes: dict[str, RoleChange], user: str) -> bool:
    """True when applying ``changes`` needs the invoking user's public key."""
    return any(
        c.signers is not None and _signers_need_user_key(c.signers, user, event)
        for c in changes.values()
    )


def init_repository(
    event: SigningEvent,
    changes: dict[str, RoleChange],
    *,
    user: str,
    user_key: Key | None,
) -> EditResult:
    """Create root and targets v1 on an event (snapshot/timestamp come from online-sign).

    Args:
        event: the event, which must not have a root yet.
        changes: per top-level role settings; signers of root/targets default
            to the user, periods to tuf-on-ci's defaults; the online key is
            taken from the timestamp entry's ``online_key``.
        user: the invoking user's handle.
        user_key: the user's public key, needed when the user is a signer.

    Raises:
        RejectedError: the repository already exists.
        UsageError: bad thresholds or periods, or no online key.
    """
    repo = event.repo
    if repo.exists(ROOT):
        raise RejectedError(
            "this repository is already initialised (metadata/root.json exists)",
            hint="use `tufrepo delegate EVENT ROLE` to change it",
        )
    online = changes.get(TIMESTAMP, RoleChange()).online_key
    if online is None:
        raise UsageError("an online key is required", hint="pass --online-key URI")
    result = EditResult()
    with repo.edit_root() as root:
        for role in (ROOT, TARGETS):
            change = changes.get(role, RoleChange())
            handles = change.signers or [user]
            keys, invites = _resolve_signers(event, handles, user, user_key)
            threshold = _given(change.threshold, 1)
            _check_threshold(role, threshold, len(keys) + len(invites))
            if not keys and not invites:
                raise UsageError(f"{role} needs at least one signer")
            _set_keys(root, role, keys, threshold)
            for handle in invites:
                event.invites.add(handle, role)
                result.invited.setdefault(handle, []).append(role)
        for role in ONLINE_ROLES:
            change = changes.get(role, RoleChange())
            expiry, signing = DEFAULT_PERIODS[role]
            expiry = _given(change.expiry, expiry)
            signing = _given(change.signing_period, signing)
            _check_periods(role, expiry, signing)
            _set_keys(root, role, [online], 1)
            fields.set_periods(root, role, None, fields.Periods(expiry, signing))
        root_change = changes.get(ROOT, RoleChange())
        expiry = _given(root_change.expiry, DEFAULT_PERIODS[ROOT][0])
        signing = _given(root_change.signing_period, DEFAULT_PERIODS[ROOT][1])
        _check_periods(ROOT, expiry, signing)
        fields.set_periods(root, ROOT, root, fields.Periods(expiry, signing))
    with repo.edit_targets() as targets:
        change = changes.get(TARGETS, RoleChange())
        expiry = _given(change.expiry, DEFAULT_PERIODS[TARGETS][0])
        signing = _given(change.signing_period, DEFAULT_PERIODS[TARGETS][1])
        _check_periods(TARGETS, expiry, signing)
        fields.set_periods(repo.root(), TARGETS, targets, fields.Periods(expiry, signing))
    event.save_invites()
    result.changed = [ROOT, TARGETS]
    return result


def configure_role(
    event: SigningEvent, role: str, change: RoleChange, *, user: str, user_key: Key | None
) -> EditResult:
    """Change a top-level role's settings, or create or change a delegated role.

    Raises:
        RejectedError: no repository yet.
        UsageError: an invalid role name, threshold, periods or option for the role.
    """
    repo = event.repo
    if not repo.exists(ROOT):
        raise RejectedError(
            "no TUF repository on this event yet", hint="create one with `tufrepo init sign/init`"
        )
    if role in ONLINE_ROLES:
        return _configure_online(event, role, change)
    if role in (ROOT, TARGETS):
        return _configure_top_level(event, role, change, user=user, user_key=user_key)
    return _configure_delegated(event, role, change, user=user, user_key=user_key)


def _configure_online(event: SigningEvent, role: str, change: RoleChange) -> EditResult:
    if (
        change.signers
        or change.threshold is not None
        or change.paths
        or change.terminating is not None
        or change.bins is not None
    ):
        raise UsageError(
            f"{role} is signed online: only --online-key, --expiry and --signing-period apply"
        )
    repo = event.repo
    with repo.edit_root() as root:
        current = fields.get_periods(root, role, None)
        periods = fields.Periods(
            _given(change.expiry, current.expiry), _given(change.signing_period, current.signing)
        )
        _check_periods(role, periods.expiry, periods.signing)
        fields.set_periods(root, role, None, periods)
        if change.online_key is not None:
            # timestamp and snapshot always share the online key
            for online_role in ONLINE_ROLES:
                _set_keys(root, online_role, [change.online_key], 1)
    return EditResult(
        changed=[ROOT] if repo.root_or_none() != event.repo.known_good_root() else []
    )


def _configure_top_level(
    event: SigningEvent, role: str, change: RoleChange, *, user: str, user_key: Key | None
) -> EditResult:
    repo = event.repo
    if (
        change.paths
        or change.terminating is not None
        or change.online_key is not None
        or change.bins is not None
    ):
        raise UsageError(f"--path, --terminating, --online-key and --bins do not apply to {role}")
    result = EditResult()
    delegation_changed = False
    with repo.edit_root() as root:
        current = root.get_delegated_role(role)
        if change.signers is not None:
            keys, invites = _resolve_signers(event, change.signers, user, user_key)
            threshold = _given(change.threshold, min(current.threshold, len(keys) + len(invites)))
            _check_threshold(role, threshold, len(keys) + len(invites))
            before = (sorted(current.keyids), current.threshold)
            _set_keys(root, role, keys, threshold)
            delegation_changed = before != (sorted(current.keyids), current.threshold)
            event.invites.drop_role(role)
            for handle in invites:
                event.invites.add(handle, role)
                result.invited.setdefault(handle, []).append(role)
                delegation_changed = True
        elif change.threshold is not None:
            count = len(current.keyids) + len(event.invites.handles_for(role))
            _check_threshold(role, change.threshold, count)
            delegation_changed = current.threshold != change.threshold
            current.threshold = change.threshold
        if role == ROOT:
            _apply_periods(root, ROOT, root, change)
    if role == TARGETS:
        with repo.edit_targets() as targets:
            _apply_periods(repo.root(), TARGETS, targets, change)
        if delegation_changed:
            repo.bump(TARGETS)  # #95: new signers must sign a new version
    event.save_invites()
    result.changed = [r for r in (ROOT, TARGETS) if r in event.changed_roles()]
    return result


def _apply_periods(root: Root, role: str, signed: Root | Targets, change: RoleChange) -> None:
    if change.expiry is None and change.signing_period is None:
        return
    current = fields.get_periods(root, role, signed)
    periods = fields.Periods(
        _given(change.expiry, current.expiry), _given(change.signing_period, current.signing)
    )
    _check_periods(role, periods.expiry, periods.signing)
    fields.set_periods(root, role, signed, periods)


def _configure_delegated(
    event: SigningEvent, role: str, change: RoleChange, *, user: str, user_key: Key | None
) -> EditResult:
    repo = event.repo
    if not layout.is_safe_role_name(role) or role in TOP_LEVEL_ROLES:
        raise UsageError(
            f"'{role}' is not a valid role name",
            hint="use letters, digits, '.', '_' and '-' (it becomes metadata/<role>.json)",
        )
    taken = {r.casefold(): r for r in [*TOP_LEVEL_ROLES, *repo.targets_roles()]}
    if taken.get(role.casefold(), role) != role:
        # The checks refuse names that are one file on case-insensitive file systems.
        raise UsageError(
            f"'{role}' differs from the role '{taken[role.casefold()]}' only by case",
            hint="pick another name: role names become file names",
        )
    parent = repo.delegator_name(role)
    if parent not in (None, TARGETS):
        raise UsageError(f"{role} is delegated by {parent}, not by targets")
    existed = repo.exists(role)
    result = EditResult()
    with repo.edit_targets() as targets:
        delegation_changed = _edit_delegation(event, targets, role, change, user, user_key, result)
    md = repo.open(role)
    current = fields.get_periods(repo.root(), role, md.signed) if existed else None
    expiry = _given(change.expiry, current.expiry if current else DELEGATED_DEFAULT_PERIODS[0])
    signing = _given(
        change.signing_period, current.signing if current else DELEGATED_DEFAULT_PERIODS[1]
    )
    _check_periods(role, expiry, signing)
    fields.set_periods(repo.root(), role, md.signed, fields.Periods(expiry, signing))
    repo.close(role, md)
    if existed and delegation_changed:
        repo.bump(role)  # #95: existing signatures must not carry over a delegation change
    event.save_invites()
    bins = configure_bins(event, role, change.bins)  # also keeps existing bins in step
    changed = event.changed_roles()
    result.changed = [r for r in dict.fromkeys((TARGETS, role, *bins.changed)) if r in changed]
    return result


def _edit_delegation(
    event: SigningEvent,
    targets: Targets,
    role: str,
    change: RoleChange,
    user: str,
    user_key: Key | None,
    result: EditResult,
) -> bool:
    """Apply ``change`` to targets' delegation of ``role``; True when it changed."""
    if targets.delegations is None:
        targets.delegations = Delegations(keys={}, roles={})
    roles = targets.delegations.roles
    if roles is None:
        raise RejectedError("targets uses hash-bin delegations; they cannot be edited here")
    delegated = roles.get(role)
    before = delegated.to_dict() if delegated else None
    if delegated is None:
        delegated = DelegatedRole(
            role, [], 1, terminating=True, paths=change.paths or default_paths(role)
        )
        roles[role] = delegated
    if change.paths:
        delegated.paths = list(change.paths)
    if change.terminating is not None:
        delegated.terminating = change.terminating
    if change.online_key is not None:
        if change.signers:
            raise UsageError("a role has either --online-key or --signer, not both")
        _set_keys(targets, role, [change.online_key], 1)
        event.invites.drop_role(role)
    elif change.signers is not None or before is None:
        handles = change.signers if change.signers is not None else [user]
        keys, invites = _resolve_signers(event, handles, user, user_key)
        count = len(keys) + len(invites)
        threshold = _given(change.threshold, min(delegated.threshold, count) or 1)
        _check_threshold(role, threshold, count)
        _set_keys(targets, role, keys, threshold)
        event.invites.drop_role(role)
        for handle in invites:
            event.invites.add(handle, role)
            result.invited.setdefault(handle, []).append(role)
    elif change.threshold is not None:
        count = len(delegated.keyids) + len(event.invites.handles_for(role))
        _check_threshold(role, change.threshold, count)
        delegated.threshold = change.threshold
    return before != delegated.to_dict()


def remove_delegation(event: SigningEvent, role: str) -> EditResult:
    """Remove a delegated role: its delegation, keys no longer used, and its metadata file.

    Raises:
        UsageError: a top-level role, or a role that is not delegated by targets.
    """
    if role in TOP_LEVEL_ROLES:
        raise UsageError(f"{role} is a top-level role and cannot be removed")
    repo = event.repo
    if repo.delegator_name(role) != TARGETS:
        raise UsageError(f"there is no delegation '{role}' in targets to remove")
    with repo.edit_targets() as targets:
        if targets.delegations is None or targets.delegations.roles is None:
            raise UsageError(f"there is no delegation '{role}' in targets to remove")
        for keyid in list(targets.delegations.roles[role].keyids):
            targets.revoke_key(keyid, role)
        del targets.delegations.roles[role]
        if not targets.delegations.roles:
            targets.delegations = None
    remove_bins(event, role)
    repo.delete(role)
    event.invites.drop_role(role)
    event.save_invites()
    return EditResult(changed=[TARGETS, role])


def accept_invites(event: SigningEvent, handle: str, key: Key) -> list[str]:
    """Enrol ``key`` as ``handle``'s key for every role it is invited to.

    Each delegator gets the key; each role whose signer set grew is
    re-versioned so the new signer signs it.  Returns the roles accepted.
    """
    repo = event.repo
    owned = fields.owned_key(key, handle)
    roles = event.invites.roles_for(handle)
    for role in roles:
        parent = repo.delegator_name(role)
        if parent == ROOT or role in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP):
            with repo.edit_root() as root:
                root.add_key(owned, role)
        elif parent is not None:
            with repo.edit_targets(parent) as targets:
                targets.add_key(owned, role)
        event.invites.remove(handle, role)
    for role in roles:
        if role != ROOT and repo.exists(role):
            md = repo.read(role)
            if md is not None and md.signed.version == repo.known_good_version(role):
                repo.bump(role)
            else:
                repo.refresh_placeholders(role)
    event.save_invites()
    return roles
