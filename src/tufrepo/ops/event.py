"""The signing-event model: an event's state compared with known good.

A signing event is a ``sign/*`` branch.  Its *known-good* state is the
merge-base with the remote's main.  :class:`SigningEvent` wraps a
:class:`~tufrepo.core.repository.TufRepository` over the event's files with the
known-good store beside it, and the open invitations kept in
``metadata/.signing-event-state``.

Not for: git (stores come in), signing (see ``signing``), rendering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tufrepo.core import fields, layout
from tufrepo.core.constants import EVENT_STATE_FILE, METADATA_DIR, ONLINE_ROLES, ROOT, TARGETS
from tufrepo.core.repository import TufRepository, dumps_json, verifies
from tufrepo.core.store import OverlayStore
from tufrepo.errors import MetadataError

if TYPE_CHECKING:
    from datetime import datetime

    from tufrepo.checks.findings import Finding
    from tufrepo.core.artifacts import KnownArtifacts
    from tufrepo.core.store import Store, WritableStore


@dataclass
class Invites:
    """Open invitations: ``@handle`` -> roles the handle is invited to sign."""

    by_handle: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes | None) -> Invites:
        """Parse the state file (None means no file, no invites).

        Raises:
            MetadataError: the file is not the expected JSON shape.
        """
        if data is None:
            return cls()
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise MetadataError(f"{EVENT_STATE_FILE}: not valid JSON") from e
        invites = raw.get("invites", {}) if isinstance(raw, dict) else None
        if not isinstance(invites, dict) or not all(
            isinstance(h, str) and isinstance(r, list) and all(isinstance(x, str) for x in r)
            for h, r in invites.items()
        ):
            raise MetadataError(
                f'{EVENT_STATE_FILE}: expected {{"invites": {{"@handle": ["role", ...]}}}}'
            )
        return cls({fields.normalize_handle(h): list(r) for h, r in invites.items() if r})

    def to_bytes(self) -> bytes | None:
        """The state file's content, or None when there are no invites (file removed)."""
        cleaned = {h: sorted(set(r)) for h, r in sorted(self.by_handle.items()) if r}
        return dumps_json({"invites": cleaned}) if cleaned else None

    def roles_for(self, handle: str) -> list[str]:
        """Roles ``handle`` is invited to."""
        return list(self.by_handle.get(handle, []))

    def handles_for(self, role: str) -> list[str]:
        """Handles invited to ``role``."""
        return sorted(h for h, roles in self.by_handle.items() if role in roles)

    def add(self, handle: str, role: str) -> None:
        """Invite ``handle`` to ``role``."""
        roles = self.by_handle.setdefault(handle, [])
        if role not in roles:
            roles.append(role)

    def remove(self, handle: str, role: str | None = None) -> None:
        """Withdraw one invitation (or all of a handle's with role=None)."""
        if role is None:
            self.by_handle.pop(handle, None)
            return
        roles = self.by_handle.get(handle, [])
        if role in roles:
            roles.remove(role)
        if not roles:
            self.by_handle.pop(handle, None)

    def drop_role(self, role: str) -> None:
        """Withdraw every invitation to ``role`` (the role was removed or reconfigured)."""
        for handle in list(self.by_handle):
            self.remove(handle, role)


class SigningEvent:
    """An event's metadata (writable) beside its known-good state.

    Args:
        store: the event's files (work tree or an overlay on the event commit).
        known_good: the known-good files, or None for a new repository.
        now: the current time.
        known_artifacts: known good's entries for the files the event leaves
            unchanged (not read again; see :class:`tufrepo.core.artifacts.KnownArtifacts`).

    ``known_good_judged`` (set by whoever knows the git history): known good
    is a state online-sign judged in full (:func:`tufrepo.ops.anchor.vouched_state`),
    so what did not change since is not judged again (#14).
    """

    def __init__(
        self,
        store: WritableStore,
        known_good: Store | None,
        *,
        now: datetime,
        known_artifacts: KnownArtifacts | None = None,
    ) -> None:
        self.store = store
        self.known_good = known_good
        self.now = now
        self.known_artifacts = known_artifacts
        # tree_rules' findings for this event's signed content and files, once
        # judged (carried over a commit that only added signatures, #14)
        self.tree_findings: list[Finding] | None = None
        self.repo = TufRepository(store, now=now, known_good=known_good)
        # id(store) -> (store, role -> bytes) for stores that do not change (_read_once)
        self._files: dict[int, tuple[Store, dict[str, bytes]]] = {}
        self.invites = Invites.from_bytes(store.read(EVENT_STATE_FILE))

    @property
    def known_good_judged(self) -> bool:
        """Known good is a state judged in full (``TufRepository.known_good_judged``)."""
        return self.repo.known_good_judged

    @known_good_judged.setter
    def known_good_judged(self, value: bool) -> None:
        self.repo.known_good_judged = value

    def save_invites(self) -> None:
        """Write (or remove) the invitation state file."""
        data = self.invites.to_bytes()
        if data is None:
            self.store.delete(EVENT_STATE_FILE)
        else:
            self.store.write(EVENT_STATE_FILE, data)

    def _metadata_files(self, store: Store | None) -> dict[str, bytes]:
        """Role -> its file's bytes in ``store``.

        #14: the known good and an overlay's base do not change while the
        event lives (a commit makes a new event), so they are read once;
        repo-sign asks for the changed roles several times.
        """
        if store is None:
            return {}
        if isinstance(store, OverlayStore) and store.base is not None:
            found = dict(self._read_once(store.base))
            for path, data in store.changes.items():
                role = layout.role_from_metadata_path(path)
                if role and data is None:
                    found.pop(role, None)
                elif role and data is not None:
                    found[role] = data
            return found
        if store is self.known_good:
            return self._read_once(store)
        return self._read_metadata(store)

    def _read_once(self, store: Store) -> dict[str, bytes]:
        key = id(store)
        if key not in self._files:
            self._files[key] = (store, self._read_metadata(store))
        return self._files[key][1]

    @staticmethod
    def _read_metadata(store: Store) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for entry in store.walk(METADATA_DIR):
            role = layout.role_from_metadata_path(entry.path)
            data = store.read(entry.path) if role else None
            if role and data is not None:
                found[role] = data
        return found

    def changed_roles(self) -> list[str]:
        """Roles whose metadata file was added, modified or removed, root and targets first.

        Roles with open invitations count as changed too (through their delegator).
        """
        now_files = self._metadata_files(self.store)
        kg_files = self._metadata_files(self.known_good)
        changed = {
            r for r in now_files.keys() | kg_files.keys() if now_files.get(r) != kg_files.get(r)
        }
        for roles in self.invites.by_handle.values():
            for role in roles:
                changed.add(ROOT if role in (ROOT, TARGETS, *ONLINE_ROLES) else TARGETS)
        return sort_roles(changed)

    def known_handles(self) -> dict[str, str]:
        """Handle -> keyid of every offline key in the event (root and delegations)."""
        found: dict[str, str] = {}
        for name in self.repo.targets_roles():
            md = self.repo.read_targets(name)
            if md is not None and md.signed.delegations and md.signed.delegations.keys:
                for keyid, key in md.signed.delegations.keys.items():
                    if (owner := fields.keyowner(key)) is not None:
                        found.setdefault(owner, keyid)
        root = self.repo.root_or_none()
        if root is not None:
            for keyid, key in root.keys.items():
                if (owner := fields.keyowner(key)) is not None:
                    found[owner] = keyid
        return found

    def roles_needing_signature(self, handle: str) -> list[str]:
        """Changed offline roles where ``handle`` owns an expected key without a valid signature."""
        needed = []
        for role in self.changed_roles():
            if role in ONLINE_ROLES or not self.repo.exists(role):
                continue
            md = self.repo.read(role)
            if md is None:
                continue
            for key in self.repo.expected_keys(role).values():
                if fields.keyowner(key) != handle:
                    continue
                sig = md.signatures.get(key.keyid)
                if sig is None or not verifies(
                    key, sig.signature, self.repo.signed_bytes(role) or b""
                ):
                    needed.append(role)
                    break
        return needed


def sort_roles(roles: set[str] | list[str]) -> list[str]:
    """Root, targets, snapshot, timestamp first, then delegated roles by name."""
    order = {ROOT: 0, TARGETS: 1, "snapshot": 2, "timestamp": 3}
    return sorted(set(roles), key=lambda r: (order.get(r, 9), r))


__all__ = ["Invites", "SigningEvent", "sort_roles"]
