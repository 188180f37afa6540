"""What a signer vouches for: every change of one role's metadata against known good.

Pure: python-tuf :class:`~tuf.api.metadata.Metadata` in, a :class:`RoleSummary`
out.  A summary lists, one :class:`Change` each, the version, the expiry, the
expiry and signing periods (root's also for timestamp and snapshot, which
live in root's role entries), keys added and removed per role (named by owner
or online URI, with a keyid prefix), keys whose owner or content changed,
thresholds, delegated paths and path-hash prefixes, terminating, the
delegation order, consistent_snapshot, roles added and removed, artifacts
added, modified and removed, and any other field that changed.  Nothing that
changed is left out, so a signer can trust the summary.

Not for: deciding whether a change is allowed (see ``validation``), printing
(the CLI renders ``Change.text``), git.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuf.api.metadata import Root, Targets

from tufrepo.core import fields
from tufrepo.core.constants import (
    EXPIRY_PERIOD,
    KEYOWNER,
    ONLINE_ROLES,
    ROOT,
    SIGNING_PERIOD,
    TARGETS,
)
from tufrepo.errors import MetadataError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime

    from securesystemslib.signer import Key
    from tuf.api.metadata import Signed, TargetFile

    from tufrepo.core.parsing import AnyMetadata
    from tufrepo.ops.event import SigningEvent

KEYID_PREFIX = 8
HASH_PREFIX = 12
MAX_VALUE = 60  # characters of a JSON value shown for a generic field change

_TOP_ORDER = {ROOT: 0, TARGETS: 1, "snapshot": 2, "timestamp": 3}
_PERIOD_FIELDS = (EXPIRY_PERIOD, SIGNING_PERIOD)
# Fields of ``signed`` that have their own kind of change (the rest are generic).
_HANDLED_SIGNED = {
    "_type", "version", "spec_version", "expires", "keys", "roles", "consistent_snapshot",
    "delegations", "targets", *_PERIOD_FIELDS,
}  # fmt: skip
_HANDLED_ENTRY = {"name", "keyids", "threshold", "terminating", "paths", "path_hash_prefixes"}
_KEY_MATERIAL = ("keytype", "scheme", "keyval")


class Kind(enum.StrEnum):
    """What kind of change a :class:`Change` is."""

    VERSION = "version"
    EXPIRES = "expires"
    EXPIRY_PERIOD = "expiry-period"
    SIGNING_PERIOD = "signing-period"
    CONSISTENT_SNAPSHOT = "consistent-snapshot"
    ROLE_ADDED = "role-added"
    ROLE_REMOVED = "role-removed"
    DELEGATION_ORDER = "delegation-order"
    KEY_ADDED = "key-added"
    KEY_REMOVED = "key-removed"
    KEY_OWNER = "key-owner"
    KEY_CHANGED = "key-changed"
    THRESHOLD = "threshold"
    PATH_ADDED = "path-added"
    PATH_REMOVED = "path-removed"
    HASH_PREFIX_ADDED = "hash-prefix-added"
    HASH_PREFIX_REMOVED = "hash-prefix-removed"
    TERMINATING = "terminating"
    ARTIFACT_ADDED = "artifact-added"
    ARTIFACT_MODIFIED = "artifact-modified"
    ARTIFACT_REMOVED = "artifact-removed"
    FIELD = "field"


@dataclass(frozen=True)
class Change:
    """One change a signer vouches for.

    Attributes:
        kind: what changed.
        subject: the role the change is about when it is not the summarised
            role itself (a delegated role, or timestamp in root), else None.
        item: the path, key, artifact or field name concerned, if any.
        old: the known-good value shown to humans (None: there was none).
        new: the event's value shown to humans (None: there is none).
    """

    kind: Kind
    subject: str | None = None
    item: str | None = None
    old: str | None = None
    new: str | None = None

    @property
    def text(self) -> str:
        """The change as one line for humans, prefixed by its subject."""
        body = _TEXT[self.kind](self)
        return f"{self.subject}: {body}" if self.subject else body


def _arrow(change: Change, unit: str = "") -> str:
    if change.old is None:
        return f"{change.new}{unit}"
    if change.new is None:
        return f"{change.old}{unit} -> (none)"
    return f"{change.old} -> {change.new}{unit}"


_TEXT: dict[Kind, Callable[[Change], str]] = {
    Kind.VERSION: lambda c: f"version {_arrow(c)}",
    Kind.EXPIRES: lambda c: f"expires {_arrow(c)}",
    Kind.EXPIRY_PERIOD: lambda c: f"expiry period {_arrow(c, ' days')}",
    Kind.SIGNING_PERIOD: lambda c: f"signing period {_arrow(c, ' days')}",
    Kind.CONSISTENT_SNAPSHOT: lambda c: f"consistent_snapshot {_arrow(c)}",
    Kind.ROLE_ADDED: lambda _: "new delegation",
    Kind.ROLE_REMOVED: lambda _: "delegation removed",
    Kind.DELEGATION_ORDER: lambda c: f"delegation order {_arrow(c)}",
    Kind.KEY_ADDED: lambda c: f"key added: {c.item}",
    Kind.KEY_REMOVED: lambda c: f"key removed: {c.item}",
    Kind.KEY_OWNER: lambda c: f"{c.item}: keyowner {_arrow(c)}",
    Kind.KEY_CHANGED: lambda c: f"{c.item} {_arrow(c)}",
    Kind.THRESHOLD: lambda c: f"threshold {_arrow(c)}",
    Kind.PATH_ADDED: lambda c: f"path added: {c.item!r}",
    Kind.PATH_REMOVED: lambda c: f"path removed: {c.item!r}",
    Kind.HASH_PREFIX_ADDED: lambda c: f"path hash prefix added: {c.item!r}",
    Kind.HASH_PREFIX_REMOVED: lambda c: f"path hash prefix removed: {c.item!r}",
    Kind.TERMINATING: lambda c: f"terminating {_arrow(c)}",
    Kind.ARTIFACT_ADDED: lambda c: f"artifact added: {c.item!r} ({c.new})",
    Kind.ARTIFACT_MODIFIED: lambda c: f"artifact modified: {c.item!r} ({c.old} -> {c.new})",
    Kind.ARTIFACT_REMOVED: lambda c: f"artifact removed: {c.item!r} (was {c.old})",
    Kind.FIELD: lambda c: (
        f"{c.item} set to {c.new}"
        if c.old is None
        else f"{c.item} removed (was {c.old})"
        if c.new is None
        else f"{c.item} {c.old} -> {c.new}"
    ),
}


@dataclass(frozen=True)
class RoleSummary:
    """Every change of one role in a signing event.

    Attributes:
        role: the role whose metadata changed.
        version: its version in the event (None: the role is removed).
        known_good_version: its known-good version (None: the role is new).
        changes: what changed, the role's own settings first, then per
            delegated role, then artifacts.
    """

    role: str
    version: int | None
    known_good_version: int | None
    changes: tuple[Change, ...]

    @property
    def removed(self) -> bool:
        """True when the event removes the role's metadata."""
        return self.version is None

    @property
    def is_new(self) -> bool:
        """True when the role has no known-good metadata."""
        return self.known_good_version is None


def summarize_event_role(event: SigningEvent, role: str) -> RoleSummary:
    """The summary of ``role`` in a signing event against its known-good state."""
    return summarize(role, event.repo.read_known_good(role), event.repo.read(role))


def summarize(role: str, old: AnyMetadata | None, new: AnyMetadata | None) -> RoleSummary:
    """Every change from ``old`` (known good, None: new role) to ``new`` (None: removed)."""
    before = old.signed if old is not None else None
    if new is None:
        return RoleSummary(role, None, before.version if before else None, ())
    after = new.signed
    changes = _own_changes(role, before, after)
    if isinstance(after, Root):
        changes += _root_changes(before if isinstance(before, Root) else None, after)
    elif isinstance(after, Targets):
        changes += _targets_changes(before if isinstance(before, Targets) else None, after)
    return RoleSummary(role, after.version, before.version if before else None, tuple(changes))


# --- the role's own settings ------------------------------------------------------


def _own_changes(role: str, before: Signed | None, after: Signed) -> list[Change]:
    changes: list[Change] = []
    old_version = before.version if before else None
    if old_version != after.version:
        changes.append(Change(Kind.VERSION, old=_opt(old_version), new=str(after.version)))
    if before is None or before.expires != after.expires:
        changes.append(
            Change(
                Kind.EXPIRES,
                old=_date(before.expires) if before else None,
                new=_date(after.expires),
            )
        )
    if role not in ONLINE_ROLES:
        old_periods = _periods(None, role, before) if before is not None else None
        changes += _period_changes(None, old_periods, _periods(None, role, after))
    if isinstance(after, Root):
        old_cs = before.consistent_snapshot if isinstance(before, Root) else None
        if old_cs != after.consistent_snapshot:
            changes.append(
                Change(
                    Kind.CONSISTENT_SNAPSHOT,
                    old=_opt(old_cs, _json),
                    new=_json(after.consistent_snapshot),
                )
            )
    if before is not None and before.spec_version != after.spec_version:
        changes.append(
            Change(
                Kind.FIELD, item="spec_version", old=before.spec_version, new=after.spec_version
            )
        )
    old_fields = before.to_dict() if before else {}
    changes += _field_changes(None, "", old_fields, after.to_dict(), skip=_HANDLED_SIGNED)
    return changes


def _period_changes(
    subject: str | None,
    old: tuple[str, str] | None,
    new: tuple[str, str],
) -> list[Change]:
    changes = []
    for kind, old_value, new_value in zip(
        (Kind.EXPIRY_PERIOD, Kind.SIGNING_PERIOD), old or (None, None), new, strict=True
    ):
        if old_value != new_value:
            changes.append(Change(kind, subject, old=old_value, new=new_value))
    return changes


def _periods(root: Root | None, role: str, signed: Signed | None) -> tuple[str, str]:
    """Effective periods as tuf-on-ci reads them (defaults filled in); raw when malformed."""
    try:
        periods = fields.get_periods(root, role, signed)
    except MetadataError:
        holder = root.roles[role] if root is not None and role in root.roles else signed
        raw = holder.unrecognized_fields if holder is not None else {}
        expiry, signing = (_json(raw[n]) if n in raw else "(default)" for n in _PERIOD_FIELDS)
        return expiry, signing
    return str(periods.expiry), str(periods.signing)


# --- delegations: root's roles and targets' delegations ---------------------------------


def _root_changes(before: Root | None, after: Root) -> list[Change]:
    old_roles = {n: r.to_dict() for n, r in before.roles.items()} if before else {}
    new_roles = {n: r.to_dict() for n, r in after.roles.items()}
    old_keys = before.keys if before else {}
    changes = _key_changes(old_keys, after.keys, old_roles.values(), new_roles.values())
    names = sorted(old_roles.keys() | new_roles.keys(), key=lambda n: (_TOP_ORDER.get(n, 9), n))
    for name in names:
        online = name in ONLINE_ROLES
        changes += _entry_changes(
            name, old_roles.get(name), new_roles.get(name), old_keys, after.keys,
            online=online, known_good_exists=before is not None,
        )  # fmt: skip
        if online and name in after.roles:
            # timestamp's and snapshot's policy lives in root: root's signers vouch for it.
            old_periods = (
                _periods(before, name, None)
                if before is not None and name in before.roles
                else None
            )
            changes += _period_changes(name, old_periods, _periods(after, name, None))
    return changes


def _targets_changes(before: Targets | None, after: Targets) -> list[Change]:
    old_d, new_d = (before.delegations if before else None), after.delegations
    old_keys: dict[str, Key] = dict(old_d.keys) if old_d else {}
    new_keys: dict[str, Key] = dict(new_d.keys) if new_d else {}
    old_roles = _delegated_entries(old_d)
    new_roles = _delegated_entries(new_d)
    changes = _key_changes(old_keys, new_keys, old_roles.values(), new_roles.values())
    old_order = [n for n in old_roles if n in new_roles]
    new_order = [n for n in new_roles if n in old_roles]
    if old_order != new_order:
        # Clients search delegations in order: the first match decides who signs a path.
        changes.append(
            Change(Kind.DELEGATION_ORDER, old=", ".join(old_order), new=", ".join(new_order))
        )
    for name in [*new_roles, *(n for n in old_roles if n not in new_roles)]:
        changes += _entry_changes(
            name, old_roles.get(name), new_roles.get(name), old_keys, new_keys,
            online=False, known_good_exists=True,
        )  # fmt: skip
    old_extra = old_d.unrecognized_fields if old_d else {}
    new_extra = new_d.unrecognized_fields if new_d else {}
    changes += _field_changes(None, "delegations.", old_extra, new_extra)
    changes += _artifact_changes(before.targets if before else {}, after.targets)
    return changes


def _delegated_entries(delegations: Any) -> dict[str, dict[str, Any]]:
    """Delegated role name -> its entry as JSON, in delegation order."""
    if delegations is None:
        return {}
    entries = {n: r.to_dict() for n, r in (delegations.roles or {}).items()}
    if delegations.succinct_roles is not None:
        succinct = delegations.succinct_roles
        entries[f"{succinct.name_prefix}-* (succinct)"] = succinct.to_dict()
    return entries


def _entry_changes(
    subject: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    old_keys: Mapping[str, Key],
    new_keys: Mapping[str, Key],
    *,
    online: bool,
    known_good_exists: bool,
) -> list[Change]:
    """Changes of one delegation entry (a root role entry or a delegated role)."""
    if after is None:
        return [Change(Kind.ROLE_REMOVED, subject)]
    changes: list[Change] = []
    if before is None and known_good_exists:
        changes.append(Change(Kind.ROLE_ADDED, subject))
    old = before or {}
    old_ids, new_ids = _str_list(old.get("keyids")), _str_list(after.get("keyids"))
    changes += [
        Change(Kind.KEY_ADDED, subject, item=_key_label(k, new_keys))
        for k in new_ids
        if k not in old_ids
    ]
    changes += [
        Change(Kind.KEY_REMOVED, subject, item=_key_label(k, old_keys))
        for k in old_ids
        if k not in new_ids
    ]
    if old.get("threshold") != after.get("threshold"):
        changes.append(
            Change(
                Kind.THRESHOLD,
                subject,
                old=_opt(old.get("threshold"), _json),
                new=_json(after.get("threshold")),
            )
        )
    for field, added, removed in (
        ("paths", Kind.PATH_ADDED, Kind.PATH_REMOVED),
        ("path_hash_prefixes", Kind.HASH_PREFIX_ADDED, Kind.HASH_PREFIX_REMOVED),
    ):
        old_list, new_list = _str_list(old.get(field)), _str_list(after.get(field))
        changes += [Change(added, subject, item=p) for p in new_list if p not in old_list]
        changes += [Change(removed, subject, item=p) for p in old_list if p not in new_list]
    if "terminating" in after and old.get("terminating") != after.get("terminating"):
        changes.append(
            Change(
                Kind.TERMINATING,
                subject,
                old=_opt(old.get("terminating"), _yes_no),
                new=_yes_no(after["terminating"]),
            )
        )
    skip = _HANDLED_ENTRY | set(_PERIOD_FIELDS) if online else _HANDLED_ENTRY
    changes += _field_changes(subject, "", old, after, skip=skip)
    return changes


def _key_changes(
    old_keys: Mapping[str, Key],
    new_keys: Mapping[str, Key],
    old_entries: Iterable[dict[str, Any]],
    new_entries: Iterable[dict[str, Any]],
) -> list[Change]:
    """Keys whose owner or content changed, and keys listed that no role uses."""
    changes: list[Change] = []
    for keyid in [k for k in new_keys if k in old_keys]:
        old, new = old_keys[keyid].to_dict(), new_keys[keyid].to_dict()
        name = f"key {keyid[:KEYID_PREFIX]}"
        if old.get(KEYOWNER) != new.get(KEYOWNER):
            changes.append(
                Change(
                    Kind.KEY_OWNER,
                    item=name,
                    old=_opt(old.get(KEYOWNER), str),
                    new=_opt(new.get(KEYOWNER), str) or "(none)",
                )
            )
        for field in sorted((old.keys() | new.keys()) - {KEYOWNER}):
            if old.get(field) != new.get(field):
                old_text, new_text = _show_pair(old.get(field), new.get(field))
                changes.append(
                    Change(Kind.KEY_CHANGED, item=f"{name} {field}", old=old_text, new=new_text)
                )
    # A known public key under a new keyid with another owner: say so explicitly.
    known = {_material(k): k for k in old_keys.values()}
    for keyid, key in new_keys.items():
        previous = known.get(_material(key)) if keyid not in old_keys else None
        if previous is not None and fields.keyowner(previous) != fields.keyowner(key):
            changes.append(
                Change(
                    Kind.KEY_OWNER,
                    item=f"key {previous.keyid[:KEYID_PREFIX]} -> {keyid[:KEYID_PREFIX]} "
                    "(same public key)",
                    old=fields.keyowner(previous) or "(none)",
                    new=fields.keyowner(key) or "(none)",
                )
            )
    old_used = {k for e in old_entries for k in _str_list(e.get("keyids"))}
    new_used = {k for e in new_entries for k in _str_list(e.get("keyids"))}
    changes += [
        Change(Kind.KEY_ADDED, item=f"{_key_label(k, new_keys)}, used by no role")
        for k in new_keys
        if k not in old_keys and k not in new_used
    ]
    changes += [
        Change(Kind.KEY_REMOVED, item=f"{_key_label(k, old_keys)}, used by no role")
        for k in old_keys
        if k not in new_keys and k not in old_used
    ]
    return changes


def _material(key: Key) -> str:
    return json.dumps([key.keytype, key.scheme, key.keyval], sort_keys=True)


def _key_label(keyid: str, keys: Mapping[str, Key]) -> str:
    """``@alice (key 1a2b3c4d)``, ``online key <uri> (key …)``, ``unknown key …``."""
    short = keyid[:KEYID_PREFIX]
    key = keys.get(keyid)
    if key is None:
        return f"unknown key {short} (not in the key list)"
    owner, uri = fields.keyowner(key), fields.online_uri(key)
    if key.keytype == "sigstore-oidc":
        identity = key.keyval.get("identity", "?")
        issuer = key.keyval.get("issuer", "?")
        who = f"{owner} " if owner else ""
        return f"{who}(sigstore {identity} from {issuer}, key {short})"
    if owner and uri:
        return f"{owner}, online key {uri} (key {short})"
    if owner:
        return f"{owner} (key {short})"
    if uri:
        return f"online key {uri} (key {short})"
    return f"key {short} (no owner)"


# --- artifacts ------------------------------------------------------------------------


def _artifact_changes(
    before: Mapping[str, TargetFile], after: Mapping[str, TargetFile]
) -> list[Change]:
    changes: list[Change] = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if new is None and old is not None:
            changes.append(Change(Kind.ARTIFACT_REMOVED, item=path, old=_artifact(old)))
        elif old is None and new is not None:
            changes.append(Change(Kind.ARTIFACT_ADDED, item=path, new=_artifact(new)))
        elif old is not None and new is not None and old.to_dict() != new.to_dict():
            old_text, new_text = _artifact(old), _artifact(new)
            if old_text == new_text:  # other hashes or custom fields changed
                old_text, new_text = _show_pair(old.to_dict(), new.to_dict())
            changes.append(Change(Kind.ARTIFACT_MODIFIED, item=path, old=old_text, new=new_text))
    return changes


def _artifact(target: TargetFile) -> str:
    """``12 bytes, sha256 1a2b3c4d5e6f``."""
    hashes = target.hashes or {}
    algorithm = "sha256" if "sha256" in hashes else min(hashes, default=None)
    digest = f", {algorithm} {hashes[algorithm][:HASH_PREFIX]}" if algorithm else ", no hash"
    unit = "byte" if target.length == 1 else "bytes"
    return f"{target.length} {unit}{digest}"


# --- generic fields -------------------------------------------------------------------


def _field_changes(
    subject: str | None,
    prefix: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    skip: set[str] | frozenset[str] = frozenset(),
) -> list[Change]:
    """Every other field that differs, by dotted name (dicts are compared per key)."""
    changes: list[Change] = []
    for name in sorted((before.keys() | after.keys()) - skip):
        old, new = before.get(name), after.get(name)
        missing_old, missing_new = name not in before, name not in after
        if not missing_old and not missing_new and old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changes += _field_changes(subject, f"{prefix}{name}.", old, new)
            continue
        old_text, new_text = _show_pair(old, new)
        changes.append(
            Change(
                Kind.FIELD,
                subject,
                item=f"{prefix}{name}",
                old=None if missing_old else old_text,
                new=None if missing_new else new_text,
            )
        )
    return changes


def _show_pair(old: object, new: object) -> tuple[str, str]:
    """Two different values shown so that they never look the same."""
    old_text, new_text = _json(old), _json(new)
    if old_text == new_text:
        return old_text, new_text  # equal values; callers only pass different ones
    short_old, short_new = _truncate(old_text), _truncate(new_text)
    if short_old == short_new:
        short_old += f" (sha256 {_digest(old_text)})"
        short_new += f" (sha256 {_digest(new_text)})"
    return short_old, short_new


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_PREFIX]


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _opt(value: Any, show: Any = str) -> str | None:
    return None if value is None else str(show(value))


def _yes_no(value: object) -> str:
    return "yes" if value is True else "no" if value is False else _json(value)


def _date(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _str_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


__all__ = ["Change", "Kind", "RoleSummary", "summarize", "summarize_event_role"]
