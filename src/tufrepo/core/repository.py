"""A ``tuf.repository.Repository`` over the files of one checkout state.

:class:`TufRepository` reads and writes ``metadata/`` through a store (work
tree, or an in-memory overlay committed later) and applies the signing-event
rules when a role is closed after an edit:

* offline roles (root, targets, delegated): version = known-good version + 1
  (once per event, however many edits), expiry = now + the role's expiry period,
  and the signatures replaced by empty placeholders for every expected key;
* online roles (snapshot, timestamp): version + 1, expiry = now + period,
  signed with the online keys and verified against root *before* writing.

Reads are typed (:meth:`TufRepository.read_root`, :meth:`~TufRepository.read_targets`,
:meth:`~TufRepository.read_snapshot`, :meth:`~TufRepository.read_timestamp`);
every write goes through :meth:`TufRepository.write`, which serialises the
metadata pretty-printed with sorted keys and mirrors root into ``root_history``.

Not for: parsing and hostile-input checks (``parsing``), walking the
delegation tree (``delegations``; the methods here forward to it), git,
signer lookup (a ``signer_for`` callable is injected), printing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from securesystemslib.signer import Key, Signature, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Signed,
    Snapshot,
    Targets,
    Timestamp,
)
from tuf.api.serialization import SignedSerializer
from tuf.repository import AbortEdit, Repository

from tufrepo.core import delegations as tree
from tufrepo.core import fields, layout
from tufrepo.core.constants import (
    ONLINE_ROLES,
    ROOT,
    SNAPSHOT,
    SPEC_VERSION,
    TARGETS,
    TIMESTAMP,
    VERIFIED_COMMIT,
)
from tufrepo.core.parsing import (
    CANONICAL,
    AnyMetadata,
    ParseCache,
    canonical_bytes,
    narrow,
    parse_header,
    parse_metadata,
    role_type,
    serialize,
)
from tufrepo.core.store import OverlayStore
from tufrepo.errors import MetadataError, SignerUnavailableError, TufRepoError

if TYPE_CHECKING:
    from tuf.api.metadata import DelegatedRole

    from tufrepo.core.store import Store, WritableStore

SignerFor = Callable[[Key], Signer]

_T = TypeVar("_T", Root, Targets, Snapshot, Timestamp)


def new_metadata(role: str) -> AnyMetadata:
    """Empty metadata of the role's type (close() sets its version)."""
    if role == ROOT:
        return Metadata(Root(consistent_snapshot=True, spec_version=SPEC_VERSION))
    if role == SNAPSHOT:
        return Metadata(Snapshot(spec_version=SPEC_VERSION))
    if role == TIMESTAMP:
        return Metadata(Timestamp(spec_version=SPEC_VERSION))
    return Metadata(Targets(spec_version=SPEC_VERSION))


def payload_without_bookkeeping(signed: Signed) -> dict[str, Any]:
    """The signed dict without version and expiry: what an edit really changed."""
    data = signed.to_dict()
    data.pop("version", None)
    data.pop("expires", None)
    return data


def _typed(md: AnyMetadata | None, signed_type: type[_T], role: str) -> Metadata[_T] | None:
    return None if md is None else narrow(md, signed_type, layout.role_path(role))


class TufRepository(Repository):
    """Metadata of one repository state, with signing-event rules applied on close.

    Args:
        store: where metadata is read and written.
        now: the current time (a parameter, so tests and --now can move it).
        known_good: the known-good state, or None for a new repository.
        signer_for: returns the signer for an online key (online roles only).
        parsed: metadata parsed once per content, shared with other
            repositories of the same run (and always with the known-good one).
    """

    def __init__(
        self,
        store: WritableStore,
        *,
        now: datetime,
        known_good: Store | None = None,
        signer_for: SignerFor | None = None,
        parsed: ParseCache | None = None,
    ) -> None:
        self.store = store
        self.parsed = parsed or ParseCache()
        self.now = now.replace(microsecond=0)
        self.known_good = known_good
        self.signer_for = signer_for
        self._kg_repo: TufRepository | None = None
        self._cache: dict[str, AnyMetadata | None] = {}
        # Per role, of the metadata in _cache: the file's bytes and the canonical
        # bytes signatures cover, each computed once per version (#14).
        self._raw: dict[str, bytes] = {}
        self._canonical: dict[str, bytes] = {}
        self._index: tree.DelegationIndex | None = None  # dropped when a targets role changes
        # Set by whoever knows the history: known good is a state judged in
        # full (a vouched merge-base, or main's last judged state).  Then a
        # role whose file is byte-identical to known good's need not be
        # judged again (#14, :meth:`unchanged_since_judged`).
        self.known_good_judged = False
        self._unchanged: dict[str, bool] = {}
        # Set by online-sign when the current snapshot vouches for known good
        # (its online-sign judged that state and listed its roles): a role
        # unchanged since keeps the version the snapshot lists (targets_infos).
        self.versions_from_snapshot = False
        # The commit whose artifacts were all checked before online signing:
        # recorded in the snapshot signed now (constants.VERIFIED_COMMIT).
        self.verified_commit: str | None = None

    # --- reading ---------------------------------------------------------------
    # Metadata read here is shared and parsed once: callers must not modify it
    # (use open() to edit).  The typed reads raise MetadataError when the file
    # holds another type of metadata.

    def read(self, role: str) -> AnyMetadata | None:
        """The role's current metadata, whatever its type, or None when there is no file.

        Raises:
            MetadataError: the role name is not a safe file name, or the file
                is not valid metadata of the role's type.
        """
        if role not in self._cache:
            if not layout.is_safe_role_name(role):
                # Attack: a delegation named "../x" must not make us read outside metadata/.
                raise MetadataError(f"role name {role!r} is not a safe file name")
            path = layout.role_path(role)
            data = self.store.read(path)
            self._cache[role] = (
                None if data is None else self.parsed.parse(data, path, role_type(role))
            )
            if data is not None:
                self._raw[role] = data
        return self._cache[role]

    def signed_bytes(self, role: str) -> bytes | None:
        """The canonical bytes of the role's current ``signed`` (what signatures cover).

        Computed once per version of the role (``Metadata.signed_bytes``
        recomputes them on every call); None when the role has no file.

        Raises:
            MetadataError: as :meth:`read`.
        """
        if role not in self._canonical:
            md = self.read(role)
            if md is None:
                return None
            self._canonical[role] = self.parsed.canonical(md)
        return self._canonical[role]

    def read_root(self) -> Metadata[Root] | None:
        """The current root metadata, or None."""
        return _typed(self.read(ROOT), Root, ROOT)

    def read_targets(self, role: str = TARGETS) -> Metadata[Targets] | None:
        """The current metadata of ``targets`` or a delegated role, or None."""
        return _typed(self.read(role), Targets, role)

    def read_snapshot(self) -> Metadata[Snapshot] | None:
        """The current snapshot metadata, or None."""
        return _typed(self.read(SNAPSHOT), Snapshot, SNAPSHOT)

    def read_timestamp(self) -> Metadata[Timestamp] | None:
        """The current timestamp metadata, or None."""
        return _typed(self.read(TIMESTAMP), Timestamp, TIMESTAMP)

    def read_known_good(self, role: str) -> AnyMetadata | None:
        """The role's known-good metadata, or None (new role or new repository)."""
        kg = self.known_good_repo()
        if kg is None or not layout.is_safe_role_name(role):
            return None
        return kg.read(role)

    def known_good_repo(self) -> TufRepository | None:
        """The known-good state as a (read-only) repository, parsed once; None when new."""
        if self.known_good is None:
            return None
        if self._kg_repo is None:
            self._kg_repo = TufRepository(
                OverlayStore(self.known_good), now=self.now, parsed=self.parsed
            )
        return self._kg_repo

    def read_known_good_root(self) -> Metadata[Root] | None:
        """The known-good root metadata, or None for a new repository."""
        return _typed(self.read_known_good(ROOT), Root, ROOT)

    def read_known_good_targets(self, role: str = TARGETS) -> Metadata[Targets] | None:
        """The known-good metadata of ``targets`` or a delegated role, or None."""
        return _typed(self.read_known_good(role), Targets, role)

    def exists(self, role: str) -> bool:
        """True when ``metadata/<role>.json`` exists."""
        if role in self._cache:
            return self._cache[role] is not None
        return self.store.read(layout.role_path(role)) is not None

    def unchanged_since_judged(self, role: str) -> bool:
        """True when known good was judged in full and the role's file is byte-identical there.

        What such a role says was judged then: its signatures under the same
        delegation, its entries against the same files, its own delegations
        (#14: a change judges what it changed).  The file is compared, never
        parsed.  False for a role written in this run.
        """
        if not self.known_good_judged or self.known_good is None:
            return False
        if role not in self._unchanged:
            if not layout.is_safe_role_name(role):
                return False
            path = layout.role_path(role)
            data = self._raw.get(role) if role in self._cache else self.store.read(path)
            self._unchanged[role] = data is not None and data == self.known_good.read(path)
        return self._unchanged[role]

    def read_for_display(self, role: str) -> AnyMetadata | None:
        """The role's metadata to show, its entries left out when it was judged before.

        A role unchanged since a known good judged in full is read from its
        header lines (:func:`~tufrepo.core.parsing.parse_header`, #14), and
        its targets entries are empty; any other role is :meth:`read`.  For
        pages and summaries only: never judge what this returns.
        """
        if role not in self._cache and self.unchanged_since_judged(role):
            data = self.store.read(layout.role_path(role))
            header = parse_header(data) if data is not None else None
            if header is not None:
                return header
        return self.read(role)

    def open(self, role: str) -> AnyMetadata:
        """A private copy of the role's metadata for editing; new when it does not exist."""
        md = self.read(role)
        if md is None:
            return new_metadata(role)
        # Parsed again from the file's bytes: a private object sharing nothing
        # with the cache, at a third of a deep copy's cost (#14).
        path = layout.role_path(role)
        return parse_metadata(self._raw[role], path, role_type(role))

    def known_good_version(self, role: str) -> int:
        """Version of the role in known good; 0 when it is new."""
        md = self.read_known_good(role)
        return md.signed.version if md is not None else 0

    def known_good_root(self) -> Root | None:
        """Known-good root, or None for a new repository."""
        md = self.read_known_good_root()
        return md.signed if md is not None else None

    def root_or_none(self) -> Root | None:
        """The current root, or None when the repository has none yet."""
        md = self.read_root()
        return md.signed if md is not None else None

    # --- delegation tree (see tufrepo.core.delegations) -----------------------------------

    def delegation_index(self) -> tree.DelegationIndex:
        """The delegation tree walked once; rebuilt after a targets role is written."""
        if self._index is None:
            self._index = tree.build_index(self)
        return self._index

    def owner_of(self, target_path: str) -> str:
        """The role owning ``target_path`` (DESIGN §3): first matching delegation, nested."""
        return self.delegation_index().owner_of(target_path)

    def delegations(self) -> Iterator[tuple[str, DelegatedRole]]:
        """Every (delegator, delegated role), breadth first: :func:`tufrepo.core.delegations.delegations`."""
        return tree.delegations(self)

    def targets_roles(self) -> list[str]:
        """``targets`` and every delegated role reachable from it, in tree order."""
        return tree.targets_roles(self)

    def delegator_name(self, role: str) -> str | None:
        """The name of the role that delegates ``role`` (root for top-level roles)."""
        return tree.delegator_name(self, role)

    def delegator(self, role: str) -> Root | Targets | None:
        """The metadata that delegates ``role`` (root for top-level roles), or None."""
        return tree.delegator(self, role)

    def expected_keys(self, role: str) -> dict[str, Key]:
        """Keys whose signatures the role needs: for root also the known-good root's."""
        return tree.expected_keys(self, role)

    # --- writing ---------------------------------------------------------------

    def write(self, role: str, md: AnyMetadata) -> None:
        """Serialise and store ``md``; root is mirrored into root_history.

        ``md`` becomes what :meth:`read` returns (no copy is made): callers
        hand over a private object (from :meth:`open`) and do not change it
        afterwards.
        """
        data = serialize(md)
        self.store.write(layout.role_path(role), data)
        if role == ROOT:
            self.store.write(layout.root_history_path(md.signed.version), data)
        self._set(role, md, data)

    def _set(self, role: str, md: AnyMetadata | None, data: bytes | None) -> None:
        if role_type(role) == TARGETS:
            self._index = None
        self._unchanged[role] = False  # written in this run: judged as a change
        self._cache[role] = md
        self._canonical.pop(role, None)
        if data is None:
            self._raw.pop(role, None)
        else:
            self._raw[role] = data

    def delete(self, role: str) -> None:
        """Remove a delegated role's metadata file."""
        self.store.delete(layout.role_path(role))
        self._set(role, None, None)

    def close(self, role: str, md: AnyMetadata) -> None:
        """Store an edited role under the rules of its kind (see module docstring)."""
        if role in ONLINE_ROLES:
            self._close_online(role, md)
        else:
            self._close_offline(role, md)

    def _close_offline(self, role: str, md: AnyMetadata, *, force: bool = False) -> None:
        current = self.read(role)
        if (
            not force
            and current is not None
            and payload_without_bookkeeping(current.signed)
            == payload_without_bookkeeping(md.signed)
        ):
            return  # nothing changed: keep version, expiry and signatures
        md.signed.version = self.known_good_version(role) + 1
        root = md.signed if isinstance(md.signed, Root) else self.root_or_none()
        periods = fields.get_periods(root, role, md.signed)
        md.signed.expires = self.now + timedelta(days=periods.expiry)
        if role == ROOT:
            # expected keys from the new root (write() below replaces the entry)
            self._set(ROOT, md, serialize(md))
        md.signatures.clear()
        for keyid in sorted(self.expected_keys(role)):
            md.signatures[keyid] = Signature(keyid, "")
        self.write(role, md)

    def bump(self, role: str) -> None:
        """A new version of an offline role with the same payload (expiry refresh)."""
        md = self.open(role)
        self._close_offline(role, md, force=True)

    def refresh_placeholders(self, role: str) -> None:
        """Re-derive the role's placeholder signatures after its delegator changed keys.

        Real signatures by keys that are still expected are kept; signatures by
        keys no longer expected are dropped (no leftover empty signatures).
        """
        if not self.exists(role):
            return
        md = self.open(role)
        expected = self.expected_keys(role)
        kept = {k: s for k, s in md.signatures.items() if k in expected and s.signature}
        md.signatures.clear()
        for keyid in sorted(expected):
            md.signatures[keyid] = kept.get(keyid, Signature(keyid, ""))
        self.write(role, md)

    def _close_online(self, role: str, md: AnyMetadata) -> None:
        root = self.root()
        current = self.read(role)
        md.signed.version = current.signed.version + 1 if current is not None else 1
        periods = fields.get_periods(root, role, None)
        md.signed.expires = self.now + timedelta(days=periods.expiry)
        if role == SNAPSHOT:
            # Never carried over from the snapshot before: it vouches only for
            # the state judged in this run.
            md.signed.unrecognized_fields.pop(VERIFIED_COMMIT, None)
            if self.verified_commit is not None:
                md.signed.unrecognized_fields[VERIFIED_COMMIT] = self.verified_commit
        md.signatures.clear()
        if self.signer_for is None:
            raise SignerUnavailableError(f"no online signer available to sign {role}")
        for key in tree.delegated_keys(root, role):
            try:
                md.sign(self.signer_for(key), append=True, signed_serializer=CANONICAL)
            except UnsignedMetadataError as e:  # python-tuf wraps the signer's own error
                if isinstance(e.__cause__, TufRepoError):
                    raise e.__cause__ from None
                raise SignerUnavailableError(f"signing {role} failed: {e.__cause__ or e}") from e
        # Verify before write: never store an online role its delegator rejects.
        try:
            root.verify_delegate(role, canonical_bytes(md.signed), md.signatures)
        except UnsignedMetadataError as e:
            raise SignerUnavailableError(
                f"the online signature on {role} does not verify with the key in root",
                hint="the online key URI may point at a different key than root lists",
            ) from e
        self.write(role, md)

    def add_signature(self, role: str, signer: Signer) -> Signature:
        """Sign the role's current payload with ``signer`` and store it (no version change).

        Raises:
            SignerUnavailableError: the new signature does not verify with the
                signer's public key (wrong key, or a broken token).
        """
        current = self.read(role)
        payload = self.signed_bytes(role)
        if current is None or payload is None:
            raise MetadataError(f"{layout.role_path(role)} does not exist")
        # A new object with its own signatures around the same ``signed``:
        # signing never changes signed, so it is shared, not parsed again, and
        # its canonical bytes are those already computed (#14: 100,000 entries).
        # Signatures of keys the role no longer lists never count (clients
        # ignore them); they are dropped whenever tufrepo signs the role.
        expected = self.expected_keys(role)
        md = cast(
            "AnyMetadata",
            Metadata(
                current.signed,
                {k: s for k, s in current.signatures.items() if k in expected},
                dict(current.unrecognized_fields),
            ),
        )
        try:
            sig = md.sign(signer, append=True, signed_serializer=_Payload(payload))
        except UnsignedMetadataError as e:  # python-tuf wraps the signer's own error
            if isinstance(e.__cause__, TufRepoError):
                raise e.__cause__ from None
            raise SignerUnavailableError(f"signing {role} failed: {e.__cause__ or e}") from e
        try:
            signer.public_key.verify_signature(sig, payload)
        except Exception as e:  # securesystemslib raises several types here
            raise SignerUnavailableError(
                f"the signature made for {role} does not verify with key {sig.keyid[:8]}",
                hint="is this the correct key?",
            ) from e
        self.write(role, md)
        self._canonical[role] = payload  # signing changed the signatures, not signed
        return sig

    # --- for do_snapshot / do_timestamp ------------------------------------------------

    @property
    def targets_infos(self) -> dict[str, MetaFile]:
        """Version of every targets role reachable in the delegation tree."""
        infos: dict[str, MetaFile] = {}
        snapshot = self.read_snapshot() if self.versions_from_snapshot else None
        listed = snapshot.signed.meta if snapshot is not None else {}
        for role in self.targets_roles():
            name = f"{role}.json"
            if name in listed and self.unchanged_since_judged(role):
                # #14: the version the snapshot listed for these very bytes
                infos[name] = MetaFile(version=listed[name].version)
                continue
            md = self.read_targets(role)
            if md is not None:
                infos[name] = MetaFile(version=md.signed.version)
        return infos

    @property
    def snapshot_info(self) -> MetaFile:
        """The current snapshot version."""
        md = self.read_snapshot()
        return MetaFile(version=md.signed.version if md is not None else 0)


class _Payload(SignedSerializer):
    """A serializer returning bytes already computed (``Metadata.sign`` wants one)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def serialize(self, signed_obj: Signed) -> bytes:  # noqa: ARG002 - the bytes are known
        """The known canonical bytes."""
        return self.data


def verifies(key: Key, signature: str, payload: bytes) -> bool:
    """True when ``signature`` (hex/base64 as stored) is ``key``'s valid signature of ``payload``."""
    if not signature:
        return False
    try:
        key.verify_signature(Signature(key.keyid, signature), payload)
    except Exception:  # noqa: BLE001 - any failure means "not a valid signature"
        return False
    return True


def dumps_json(data: object) -> bytes:
    """JSON for tufrepo's own files: indented, keys sorted, trailing newline."""
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


# parse_metadata and serialize live in tufrepo.core.parsing; re-exported for existing importers.
__all__ = [
    "AbortEdit",
    "MetadataError",
    "TufRepository",
    "parse_metadata",
    "serialize",
]
