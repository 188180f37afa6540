"""A ``tuf.repository.Repository`` over the files of one checkout state.

:class:`TufRepository` reads and writes ``metadata/`` through a store (work
tree, or an in-memory overlay committed later) and applies the signing-event
rules when a role is closed after an edit:

* offline roles (root, targets, delegated): version = known-good version + 1
  (once per event, however many edits), expiry = now + the role's expiry period,
  and the signatures replaced by empty placeholders for every expected key;
* online roles (snapshot, timestamp): version + 1, expiry = now + period,
  signed with the online keys and verified against root *before* writing.

Every write goes through :meth:`TufRepository.write`, which serialises the
metadata pretty-printed with sorted keys and mirrors root into ``root_history``.

Not for: git, signer lookup (a ``signer_for`` callable is injected), printing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from securesystemslib.signer import Key, Signature, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    DelegatedRole,
    Metadata,
    MetaFile,
    Root,
    Signed,
    Snapshot,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError
from tuf.api.serialization.json import JSONSerializer
from tuf.repository import AbortEdit, Repository

from tufrepo import fields, layout
from tufrepo.constants import ONLINE_ROLES, ROOT, SNAPSHOT, SPEC_VERSION, TARGETS, TIMESTAMP
from tufrepo.errors import (
    MetadataError,
    SignerUnavailableError,
    TufRepoError,
    UnsupportedKeyError,
)

if TYPE_CHECKING:
    from tufrepo.store import Store, WritableStore

SignerFor = Callable[[Key], Signer]

# Refuse metadata larger than any default client would download (root 512 kB,
# targets 5 MB): a hostile branch must not make us parse gigabytes.
MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_DELEGATION_DEPTH = 32

_SERIALIZER = JSONSerializer(compact=False)


def serialize(md: Metadata[Any]) -> bytes:
    """Metadata bytes as written to disk: pretty-printed (indent 1), keys sorted."""
    return _SERIALIZER.serialize(md)


def parse_metadata(data: bytes, path: str, expected_type: str) -> Metadata[Any]:
    """Parse metadata bytes, naming the file in every error.

    Raises:
        MetadataError: the bytes are too large, not JSON, not TUF metadata, or
            of another type than ``expected_type``.
    """
    if len(data) > MAX_METADATA_BYTES:
        raise MetadataError(f"{path}: {len(data)} bytes is larger than {MAX_METADATA_BYTES}")
    try:
        md = _deserialize(data, path)
    except DeserializationError as e:
        cause = e.__cause__ or e
        if "Unsupported public key" in str(cause):
            # Attack/compat: a key no client can verify (see validation.SUPPORTED_KEYS).
            raise UnsupportedKeyError(f"{path}: {_short(cause)}") from e
        raise MetadataError(f"{path}: not valid TUF metadata ({_short(cause)})") from e
    except (RecursionError, MemoryError) as e:  # deeply nested JSON
        raise MetadataError(f"{path}: not valid TUF metadata (nested too deeply)") from e
    if md.signed.type != expected_type:
        raise MetadataError(f"{path}: expected {expected_type} metadata, found {md.signed.type}")
    problem = _type_problem(md)
    if problem:
        # python-tuf leaves some field types unchecked; a wrongly typed field
        # must be a clear rejection, not a crash deep inside a check.
        raise MetadataError(f"{path}: not valid TUF metadata ({problem})")
    return md


def _deserialize(data: bytes, path: str) -> Metadata[Any]:
    """``Metadata.from_bytes`` in two steps, checking the JSON in between.

    Raises:
        DeserializationError: as python-tuf's JSONDeserializer raises it.
        MetadataError: ``signed`` holds a floating-point number.
    """
    has_float = False

    def parse_float(text: str) -> float:  # also NaN and Infinity, which json accepts
        nonlocal has_float
        has_float = True
        return float(text)

    try:
        text = data.decode("utf-8")
        document = json.loads(text, parse_float=parse_float, parse_constant=parse_float)
    except Exception as e:  # as JSONDeserializer: any decoding failure is malformed input
        raise DeserializationError("Failed to deserialize JSON") from e
    if has_float and isinstance(document, dict):
        # Canonical JSON (what is signed) has no floats: one in signed would
        # fail only when signing, much later.  Walked only when there is one.
        where = _float_path(document.get("signed"), "signed")
        if where is not None:
            raise MetadataError(
                f"{path}: not valid TUF metadata (floating-point value at {where}; "
                "canonical JSON allows only integers)"
            )
    try:
        return Metadata.from_dict(document)
    except Exception as e:  # as JSONDeserializer
        raise DeserializationError("Failed to deserialize JSON") from e


# A value met while walking parsed JSON: (value, its key or index, its container's entry).
_Entry = tuple[object, str | int, "_Entry | None"]


def _float_path(value: object, name: str) -> str | None:
    """Where the first float in ``value`` is (``signed.x-foo``, ``signed.a[2]``), or None.

    One pass over the parsed JSON without recursion; a path is built only for the float found.
    """
    stack: list[_Entry] = [(value, name, None)]
    while stack:
        entry = stack.pop()
        item = entry[0]
        if isinstance(item, float):
            parts: list[str] = []
            node: _Entry | None = entry
            while node is not None:
                key = node[1]
                parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
                node = node[2]
            return _short_path("".join(reversed(parts))[1:])
        if isinstance(item, dict):
            stack.extend((v, str(k), entry) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((item[i], i, entry) for i in range(len(item) - 1, -1, -1))
    return None


def _short_path(text: str) -> str:
    return text if len(text) <= 120 else text[:120] + "…"


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _targets_problem(signed: Targets) -> str | None:
    for name, target in signed.targets.items():
        if (
            not isinstance(target.length, int)
            or isinstance(target.length, bool)
            or target.length < 0
        ):
            return f"target {name!r} has an invalid length"
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in target.hashes.items()):
            return f"target {name!r} has invalid hashes"
    return None


def _type_problem(md: Metadata[Any]) -> str | None:
    # The annotations say str; hostile JSON says otherwise (null, numbers).
    raw: list[tuple[object, object]] = [(k, s.signature) for k, s in md.signatures.items()]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in raw):
        return "signature keyid and sig must be strings"
    signed = md.signed
    if not _is_count(signed.version):
        return "version must be a positive integer"
    roles: list[Any] = []
    if isinstance(signed, Root):
        roles = list(signed.roles.values())
    elif isinstance(signed, Targets):
        if signed.delegations and signed.delegations.roles:
            roles = list(signed.delegations.roles.values())
        problem = _targets_problem(signed)
        if problem:
            return problem
    for role in roles:
        if not _is_str_list(role.keyids) or not _is_count(role.threshold):
            return "a role needs a list of keyids and a positive threshold"
        paths = getattr(role, "paths", None)
        if paths is not None and not _is_str_list(paths):
            return "delegation paths must be strings"
        if not isinstance(getattr(role, "terminating", False), bool):
            return "terminating must be true or false"
    return None


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) < 200 else text[:200] + "…"


def role_type(role: str) -> str:
    """The metadata type of a role: its own name for top-level roles, else targets."""
    return role if role in (ROOT, SNAPSHOT, TIMESTAMP) else TARGETS


def new_signed(role: str) -> Signed:
    """Empty metadata of the role's type (close() sets its version)."""
    signed: Signed
    if role == ROOT:
        signed = Root(consistent_snapshot=True, spec_version=SPEC_VERSION)
    elif role == SNAPSHOT:
        signed = Snapshot(spec_version=SPEC_VERSION)
    elif role == TIMESTAMP:
        signed = Timestamp(spec_version=SPEC_VERSION)
    else:
        signed = Targets(spec_version=SPEC_VERSION)
    return signed


def payload_without_bookkeeping(signed: Signed) -> dict[str, Any]:
    """The signed dict without version and expiry: what an edit really changed."""
    data = signed.to_dict()
    data.pop("version", None)
    data.pop("expires", None)
    return data


class TufRepository(Repository):
    """Metadata of one repository state, with signing-event rules applied on close.

    Args:
        store: where metadata is read and written.
        now: the current time (a parameter, so tests and --now can move it).
        known_good: the known-good state, or None for a new repository.
        signer_for: returns the signer for an online key (online roles only).
    """

    def __init__(
        self,
        store: WritableStore,
        *,
        now: datetime,
        known_good: Store | None = None,
        signer_for: SignerFor | None = None,
    ) -> None:
        self.store = store
        self.now = now.replace(microsecond=0)
        self.known_good = known_good
        self.signer_for = signer_for
        self._kg_cache: dict[str, Metadata[Any] | None] = {}
        self._cache: dict[str, Metadata[Any] | None] = {}

    # --- reading ---------------------------------------------------------------

    def read(self, role: str) -> Metadata[Any] | None:
        """The role's current metadata (read-only, shared), or None when there is no file."""
        if role not in self._cache:
            if not layout.is_safe_role_name(role):
                # Attack: a delegation named "../x" must not make us read outside metadata/.
                raise MetadataError(f"role name {role!r} is not a safe file name")
            path = layout.role_path(role)
            data = self.store.read(path)
            self._cache[role] = (
                None if data is None else parse_metadata(data, path, role_type(role))
            )
        # Shared and parsed once: callers must not modify it (use open() to edit).
        return self._cache[role]

    def read_known_good(self, role: str) -> Metadata[Any] | None:
        """The role's known-good metadata, or None (new role or new repository)."""
        if self.known_good is None:
            return None
        if role not in self._kg_cache:
            path = layout.role_path(role)
            data = self.known_good.read(path)
            self._kg_cache[role] = (
                None if data is None else parse_metadata(data, path, role_type(role))
            )
        return self._kg_cache[role]

    def exists(self, role: str) -> bool:
        """True when ``metadata/<role>.json`` exists."""
        return self.store.read(layout.role_path(role)) is not None

    def open(self, role: str) -> Metadata[Any]:
        """A private copy of the role's metadata for editing; new when it does not exist."""
        md = self.read(role)
        # A deep copy: to_dict/from_dict would share lists such as keyids with the cache.
        return copy.deepcopy(md) if md is not None else Metadata(new_signed(role))

    def known_good_version(self, role: str) -> int:
        """Version of the role in known good; 0 when it is new."""
        md = self.read_known_good(role)
        return md.signed.version if md is not None else 0

    def known_good_root(self) -> Root | None:
        """Known-good root, or None for a new repository."""
        md = self.read_known_good(ROOT)
        return md.signed if md is not None else None

    def root_or_none(self) -> Root | None:
        """The current root, or None when the repository has none yet."""
        md = self.read(ROOT)
        return md.signed if md is not None else None

    # --- delegation tree ------------------------------------------------------------

    def delegations(self) -> Iterator[tuple[str, DelegatedRole]]:
        """Yield (delegator, delegated role) for every delegation, depth first, in order.

        Roles whose metadata is missing are yielded but not descended; cycles and
        trees deeper than MAX_DELEGATION_DEPTH are cut off (a hostile branch must
        not make us loop).
        """
        seen: set[str] = {TARGETS}
        stack: list[tuple[str, int]] = [(TARGETS, 0)]
        order: list[tuple[str, DelegatedRole]] = []
        while stack:
            parent, depth = stack.pop(0)
            md = self.read(parent)
            if md is None or md.signed.delegations is None or depth >= MAX_DELEGATION_DEPTH:
                continue
            for child in (md.signed.delegations.roles or {}).values():
                order.append((parent, child))
                if child.name not in seen and layout.is_safe_role_name(child.name):
                    seen.add(child.name)
                    stack.append((child.name, depth + 1))
        yield from order

    def targets_roles(self) -> list[str]:
        """``targets`` and every delegated role reachable from it, in tree order."""
        roles = [TARGETS] if self.exists(TARGETS) else []
        for _, child in self.delegations():
            if child.name not in roles and layout.is_safe_role_name(child.name):
                roles.append(child.name)
        return roles

    def delegator_name(self, role: str) -> str | None:
        """The name of the role that delegates ``role`` (root for top-level roles)."""
        if role in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP):
            return ROOT
        for parent, child in self.delegations():
            if child.name == role:
                return parent
        return None

    def delegator(self, role: str) -> Root | Targets | None:
        """The metadata that delegates ``role`` (root for top-level roles), or None."""
        name = self.delegator_name(role)
        if name is None:
            return None
        md = self.read(name)
        if md is None:
            return None
        signed = md.signed
        return signed if isinstance(signed, Root | Targets) else None

    def expected_keys(self, role: str) -> dict[str, Key]:
        """Keys whose signatures the role needs: for root also the known-good root's."""
        keys: dict[str, Key] = {}
        if role == ROOT:
            kg_root = self.known_good_root()
            if kg_root is not None:
                keys.update({k.keyid: k for k in _role_keys(kg_root, ROOT)})
        delegator = self.delegator(role)
        if delegator is None and role == ROOT:
            md = self.read(ROOT)
            delegator = md.signed if md is not None else None
        if delegator is not None:
            keys.update({k.keyid: k for k in _role_keys(delegator, role)})
        return keys

    # --- writing ---------------------------------------------------------------

    def write(self, role: str, md: Metadata[Any]) -> None:
        """Serialise and store ``md``; root is mirrored into root_history."""
        data = serialize(md)
        self.store.write(layout.role_path(role), data)
        if role == ROOT:
            self.store.write(layout.root_history_path(md.signed.version), data)
        self._cache[role] = copy.deepcopy(md)

    def delete(self, role: str) -> None:
        """Remove a delegated role's metadata file."""
        self.store.delete(layout.role_path(role))
        self._cache[role] = None

    def close(self, role: str, md: Metadata[Any]) -> None:
        """Store an edited role under the rules of its kind (see module docstring)."""
        if role in ONLINE_ROLES:
            self._close_online(role, md)
        else:
            self._close_offline(role, md)

    def _close_offline(self, role: str, md: Metadata[Any], *, force: bool = False) -> None:
        current = self.read(role)
        if (
            not force
            and current is not None
            and payload_without_bookkeeping(current.signed)
            == payload_without_bookkeeping(md.signed)
        ):
            return  # nothing changed: keep version, expiry and signatures
        md.signed.version = self.known_good_version(role) + 1
        root = self.root_or_none() if role != ROOT else md.signed
        periods = fields.get_periods(root, role, md.signed)
        md.signed.expires = self.now + timedelta(days=periods.expiry)
        if role == ROOT:
            self._cache[ROOT] = copy.deepcopy(md)  # expected keys from new root
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

    def _close_online(self, role: str, md: Metadata[Any]) -> None:
        root = self.root()
        current = self.read(role)
        md.signed.version = current.signed.version + 1 if current is not None else 1
        periods = fields.get_periods(root, role, None)
        md.signed.expires = self.now + timedelta(days=periods.expiry)
        md.signatures.clear()
        if self.signer_for is None:
            raise SignerUnavailableError(f"no online signer available to sign {role}")
        for key in _role_keys(root, role):
            try:
                md.sign(self.signer_for(key), append=True)
            except UnsignedMetadataError as e:  # python-tuf wraps the signer's own error
                if isinstance(e.__cause__, TufRepoError):
                    raise e.__cause__ from None
                raise SignerUnavailableError(f"signing {role} failed: {e.__cause__ or e}") from e
        # Verify before write: never store an online role its delegator rejects.
        try:
            root.verify_delegate(role, md.signed_bytes, md.signatures)
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
        if not self.exists(role):
            raise MetadataError(f"{layout.role_path(role)} does not exist")
        md = self.open(role)
        # Signatures of keys the role no longer lists never count (clients
        # ignore them); they are dropped whenever tufrepo signs the role.
        expected = self.expected_keys(role)
        for keyid in [k for k in md.signatures if k not in expected]:
            del md.signatures[keyid]
        try:
            sig = md.sign(signer, append=True)
        except UnsignedMetadataError as e:  # python-tuf wraps the signer's own error
            if isinstance(e.__cause__, TufRepoError):
                raise e.__cause__ from None
            raise SignerUnavailableError(f"signing {role} failed: {e.__cause__ or e}") from e
        try:
            signer.public_key.verify_signature(sig, md.signed_bytes)
        except Exception as e:  # securesystemslib raises several types here
            raise SignerUnavailableError(
                f"the signature made for {role} does not verify with key {sig.keyid[:8]}",
                hint="is this the correct key?",
            ) from e
        self.write(role, md)
        return sig

    # --- for do_snapshot / do_timestamp ------------------------------------------------

    @property
    def targets_infos(self) -> dict[str, MetaFile]:
        """Version of every targets role reachable in the delegation tree."""
        infos: dict[str, MetaFile] = {}
        for role in self.targets_roles():
            md = self.read(role)
            if md is not None:
                infos[f"{role}.json"] = MetaFile(version=md.signed.version)
        return infos

    @property
    def snapshot_info(self) -> MetaFile:
        """The current snapshot version."""
        md = self.read(SNAPSHOT)
        return MetaFile(version=md.signed.version if md is not None else 0)


def _role_keys(delegator: Root | Targets, role: str) -> list[Key]:
    """The keys a delegator assigns to ``role`` (empty when it does not delegate it)."""
    if isinstance(delegator, Root):
        if role not in delegator.roles:
            return []
        return [delegator.keys[k] for k in delegator.roles[role].keyids if k in delegator.keys]
    if delegator.delegations is None or delegator.delegations.roles is None:
        return []
    child = delegator.delegations.roles.get(role)
    if child is None:
        return []
    return [delegator.delegations.keys[k] for k in child.keyids if k in delegator.delegations.keys]


def verifies(key: Key, signature: str, payload: bytes) -> bool:
    """True when ``signature`` (hex/base64 as stored) is ``key``'s valid signature of ``payload``."""
    if not signature:
        return False
    try:
        key.verify_signature(Signature(key.keyid, signature), payload)
    except Exception:  # noqa: BLE001 - any failure means "not a valid signature"
        return False
    return True


def role_keys(delegator: Root | Targets, role: str) -> list[Key]:
    """Public accessor for the keys a delegator assigns to a role."""
    return _role_keys(delegator, role)


def dumps_json(data: object) -> bytes:
    """JSON for tufrepo's own files: indented, keys sorted, trailing newline."""
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


__all__ = [
    "AbortEdit",
    "MetadataError",
    "TufRepository",
    "parse_metadata",
    "role_keys",
    "serialize",
]
