"""An in-memory TUF repository for unit tests, in the style of python-tuf's RepositorySimulator.

Every role lives in memory as python-tuf ``Metadata`` with ed25519
``CryptoSigner`` keys (derived from the signer's name, so runs repeat exactly);
time is a parameter; nothing touches git or the disk.
A test builds a known-good state, changes it the way a signing event or an
attacker would, and hands both states to the code under test as
:class:`~tufrepo.core.store.OverlayStore` objects::

    sim = RepositorySimulator(NOW)
    good = sim.store()                       # known good
    sim.add_target(TARGETS, "new.txt", b"new")
    sim.bump(TARGETS)                        # an event changes a role: version + 1
    event = sim.event(good)                  # SigningEvent over an overlay on ``good``
    assert judge_event(event) == []

The repository is the one DESIGN §3 describes and tuf-on-ci creates: root
held by @alice, @bob and @carol (2 of 3), targets by @alice, a delegated role
``delegated`` (paths ``delegated/*``, ``delegated/*/*``) by @bob, snapshot and
timestamp by one online key, artifacts ``targets/readme.txt`` and
``targets/delegated/sub/app.json``.  Keyids are spec-compliant (computed with
the custom fields).  :meth:`RepositorySimulator.files_by_path` signs every role
with the signers in :attr:`RepositorySimulator.signed_by`; tests break things
on purpose by changing metadata, signers or files before asking for a store.
:class:`SimulatorFetcher` serves the published layout to python-tuf's ngclient.

Snapshot and timestamp change only through :meth:`RepositorySimulator.online_sign`
(or :meth:`~RepositorySimulator.update_online_meta`), so an event state leaves
them alone as a real signing event must.

Not for: git (see ``tests/conftest.py``'s ``World``), the CLI.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, Key, SSlibKey
from tuf.api.exceptions import DownloadHTTPError
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.ngclient import FetcherInterface

from tufrepo.core import fields
from tufrepo.core.constants import (
    EXPIRY_PERIOD,
    KEYOWNER,
    ONLINE_ROLES,
    ONLINE_URI,
    ROOT,
    SIGNING_PERIOD,
    SNAPSHOT,
    SPEC_VERSION,
    TARGETS,
    TIMESTAMP,
)
from tufrepo.core.fields import spec_keyid
from tufrepo.core.repository import TufRepository, serialize
from tufrepo.core.store import OverlayStore
from tufrepo.ops.event import SigningEvent

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tufrepo.core.store import Store

DELEGATED = "delegated"
README = "readme.txt"
README_DATA = b"hello\n"
APP = "delegated/sub/app.json"
APP_DATA = b'{"v": 1}\n'
ONLINE = "online"
ONLINE_KEY_URI = "file2:online.pem"
METADATA_URL = "https://simulator.invalid/metadata"
TARGETS_URL = "https://simulator.invalid/targets"

# (expiry, signing) periods in days
PERIODS = {ROOT: (365, 60), TARGETS: (365, 60), DELEGATED: (365, 60)}
ONLINE_PERIODS = {SNAPSHOT: (365, 60), TIMESTAMP: (2, 1)}
DELEGATED_PERIODS = (365, 60)


def sha256(data: bytes) -> str:
    """Hex SHA-256, as published file names carry it."""
    return hashlib.sha256(data).hexdigest()


def new_signer(seed: str | None = None, **custom: str) -> CryptoSigner:
    """An ed25519 signer whose public key carries ``custom`` fields and a spec keyid.

    The key is new unless ``seed`` is given: the same seed gives the same key, so a
    failing test fails the same way on the next run.
    """
    if seed is None:
        private = Ed25519PrivateKey.generate()
    else:
        private = Ed25519PrivateKey.from_private_bytes(
            hashlib.sha256(f"tufrepo tests: {seed}".encode()).digest()
        )
    plain = SSlibKey.from_crypto(private.public_key())
    draft = SSlibKey("", plain.keytype, plain.scheme, plain.keyval, dict(custom))
    key = SSlibKey(spec_keyid(draft), plain.keytype, plain.scheme, plain.keyval, dict(custom))
    return CryptoSigner(private, key)


def period_fields(expiry: int, signing: int) -> dict[str, Any]:
    """The custom fields holding a role's periods."""
    return {EXPIRY_PERIOD: expiry, SIGNING_PERIOD: signing}


@dataclass
class RepositorySimulator:
    """Every role of a small repository, its keys and its artifacts, in memory.

    Change :attr:`roles` (python-tuf metadata), :attr:`signed_by`,
    :attr:`files` or :attr:`extra` freely, or use the helpers; then ask for
    :meth:`files_by_path`, :meth:`store`, :meth:`overlay`, :meth:`event`,
    :meth:`repository` or (for clients) :meth:`published` and :meth:`fetcher`.

    Attributes:
        now: the time metadata is made at and judged at.
        seed: keys are derived from it and the signer's name: simulators with the same
            seed share keys (known good and candidate), another seed is another repository.
        signers: signer name -> signer (``alice``… own offline keys, ``online`` CI's).
        roles: role name -> metadata.
        signed_by: role name -> signer names that sign it (root: old and new root's).
        files: artifacts, target path (under ``targets/``) -> bytes.
        extra: other checkout files (``.github/x.yml``) -> bytes, or None to leave out a
            file the simulator would write (``metadata/targets.json``: a removed role).
        root_history: root version -> the bytes of that root as last written out (by
            :meth:`files_by_path` or :meth:`rotate_root`): a root changed and bumped
            without being written out leaves its old version's entry as it was.
    """

    now: datetime
    seed: str = ""
    owners: dict[str, str] = field(default_factory=dict)
    signers: dict[str, CryptoSigner] = field(default_factory=dict)
    roles: dict[str, Metadata[Any]] = field(default_factory=dict)
    signed_by: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    extra: dict[str, bytes | None] = field(default_factory=dict)
    root_history: dict[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.now = self.now.replace(microsecond=0)
        if not self.roles:
            self._create()

    # --- the initial repository -------------------------------------------------------

    def _create(self) -> None:
        for name in ("alice", "bob", "carol", "dave"):
            self.signer(name)
        self.signers[ONLINE] = new_signer(f"{self.seed} {ONLINE}", **{ONLINE_URI: ONLINE_KEY_URI})
        root = Root(
            version=1,
            spec_version=SPEC_VERSION,
            expires=self.now + timedelta(days=PERIODS[ROOT][0]),
            consistent_snapshot=True,
            unrecognized_fields=period_fields(*PERIODS[ROOT]),
        )
        for name in ("alice", "bob", "carol"):
            root.add_key(self.key(name), ROOT)
        root.roles[ROOT].threshold = 2
        root.add_key(self.key("alice"), TARGETS)
        for role in ONLINE_ROLES:
            root.add_key(self.key(ONLINE), role)
            root.roles[role].unrecognized_fields.update(period_fields(*ONLINE_PERIODS[role]))
        self.roles[ROOT] = Metadata(root)
        self.roles[TARGETS] = Metadata(
            Targets(
                version=1,
                spec_version=SPEC_VERSION,
                expires=self.now + timedelta(days=PERIODS[TARGETS][0]),
                unrecognized_fields=period_fields(*PERIODS[TARGETS]),
            )
        )
        self.roles[SNAPSHOT] = Metadata(
            Snapshot(version=1, spec_version=SPEC_VERSION, expires=self._expires(SNAPSHOT))
        )
        self.roles[TIMESTAMP] = Metadata(
            Timestamp(version=1, spec_version=SPEC_VERSION, expires=self._expires(TIMESTAMP))
        )
        self.signed_by = {
            ROOT: ["alice", "bob", "carol"],
            TARGETS: ["alice"],
            SNAPSHOT: [ONLINE],
            TIMESTAMP: [ONLINE],
        }
        self.add_delegation(
            DELEGATED, ["bob"], paths=[f"{DELEGATED}/*", f"{DELEGATED}/*/*"], bump=False
        )
        self.add_target(TARGETS, README, README_DATA)
        self.add_target(DELEGATED, APP, APP_DATA)
        self.update_online_meta()
        self._record_root()

    # --- keys --------------------------------------------------------------------------

    def signer(self, name: str) -> CryptoSigner:
        """The offline signer ``name`` (owned by ``@name``), created on first use."""
        if name not in self.signers:
            handle = self.owners.setdefault(name, f"@{name}")
            self.signers[name] = new_signer(f"{self.seed} {name} {handle}", **{KEYOWNER: handle})
        return self.signers[name]

    def key(self, name: str) -> Key:
        """The public key of signer ``name``."""
        return self.signer(name).public_key

    # --- reading -----------------------------------------------------------------------

    @property
    def root(self) -> Root:
        """The current root."""
        signed: Root = self.roles[ROOT].signed
        return signed

    def targets(self, role: str = TARGETS) -> Targets:
        """The current ``targets`` or delegated role."""
        signed: Targets = self.roles[role].signed
        return signed

    def targets_roles(self) -> list[str]:
        """Every targets role held, targets first."""
        return [TARGETS, *sorted(r for r in self.roles if r not in (ROOT, TARGETS, *ONLINE_ROLES))]

    def _expires(self, role: str) -> datetime:
        signed = self.roles[role].signed if role in self.roles else None
        periods = fields.get_periods(self.root if ROOT in self.roles else None, role, signed)
        return self.now + timedelta(days=periods.expiry)

    # --- changes -----------------------------------------------------------------------

    def add_target(self, role: str, path: str, data: bytes, *, listed: bool = True) -> None:
        """Keep ``data`` as ``targets/<path>`` and (``listed``) list it in ``role``."""
        self.files[path] = data
        if listed:
            self.targets(role).targets[path] = TargetFile.from_data(path, data, ["sha256"])

    def remove_target(self, role: str, path: str) -> None:
        """Remove the artifact and its entry."""
        self.files.pop(path, None)
        self.targets(role).targets.pop(path, None)

    def add_delegation(
        self,
        name: str,
        signers: Iterable[str],
        *,
        threshold: int = 1,
        paths: list[str] | None = None,
        parent: str = TARGETS,
        bump: bool = True,
    ) -> None:
        """``parent`` delegates ``name`` to ``signers``; ``name`` v1 is created, signed by them.

        ``bump`` gives ``parent`` a new version (as a signing event must).
        """
        delegator = self.targets(parent)
        if delegator.delegations is None:
            delegator.delegations = Delegations(keys={}, roles={})
        assert delegator.delegations.roles is not None
        delegator.delegations.roles[name] = DelegatedRole(
            name, [], threshold, terminating=True, paths=paths or [f"{name}/*"]
        )
        for signer in signers:
            delegator.add_key(self.key(signer), name)
        self.roles[name] = Metadata(
            Targets(
                version=1,
                spec_version=SPEC_VERSION,
                expires=self.now + timedelta(days=DELEGATED_PERIODS[0]),
                unrecognized_fields=period_fields(*DELEGATED_PERIODS),
            )
        )
        self.signed_by[name] = list(signers)
        if bump:
            self.bump(parent)

    def remove_delegation(self, name: str, *, parent: str = TARGETS, bump: bool = True) -> None:
        """Remove ``name``: its delegation, its keys and its metadata (files stay)."""
        delegator = self.targets(parent)
        assert delegator.delegations is not None
        assert delegator.delegations.roles is not None
        for keyid in list(delegator.delegations.roles[name].keyids):
            delegator.revoke_key(keyid, name)
        del delegator.delegations.roles[name]
        if not delegator.delegations.roles:
            delegator.delegations = None
        del self.roles[name]
        del self.signed_by[name]
        if bump:
            self.bump(parent)

    def rotate_root(
        self, remove: Iterable[str] = ("carol",), add: Iterable[str] = ("dave",)
    ) -> None:
        """A new root version: ``remove``'s keys replaced by ``add``'s, signed by old and new."""
        self._record_root()
        removed, added = list(remove), list(add)
        for name in removed:
            self.root.revoke_key(self.key(name).keyid, ROOT)
        for name in added:
            self.root.add_key(self.key(name), ROOT)
        self.bump(ROOT)
        self.signed_by[ROOT] = list(dict.fromkeys([*self.signed_by[ROOT], *added]))

    def sign(self, role: str, *by: str) -> None:
        """From now on ``role`` is signed by exactly the signers ``by`` (none: unsigned).

        A signer not seen before gets a new key (one that no role lists yet).
        """
        for name in by:
            self.signer(name)
        self.signed_by[role] = list(by)

    def bump(self, role: str, *, expires: datetime | None = None) -> None:
        """A new version of ``role`` that expires its expiry period from now (or at ``expires``)."""
        signed = self.roles[role].signed
        signed.version += 1
        signed.expires = expires if expires is not None else self._expires(role)

    def update_online_meta(self) -> None:
        """Snapshot lists every targets role's version, timestamp the snapshot's (no new versions)."""
        snapshot: Snapshot = self.roles[SNAPSHOT].signed
        snapshot.meta = {
            f"{role}.json": MetaFile(version=self.roles[role].signed.version)
            for role in self.targets_roles()
        }
        timestamp: Timestamp = self.roles[TIMESTAMP].signed
        timestamp.snapshot_meta = MetaFile(version=snapshot.version)

    def online_sign(self, now: datetime | None = None) -> None:
        """What ``online-sign`` does at ``now``: new snapshot and timestamp versions."""
        if now is not None:
            self.now = now.replace(microsecond=0)
        for role in ONLINE_ROLES:
            self.bump(role)
        self.update_online_meta()

    def tick(self, days: float) -> None:
        """Move the clock."""
        self.now += timedelta(days=days)

    def copy(self) -> RepositorySimulator:
        """An independent copy (same keys), to change one state without touching another."""
        clone = copy.copy(self)
        clone.owners = dict(self.owners)
        clone.signers = dict(self.signers)
        clone.roles = {role: copy.deepcopy(md) for role, md in self.roles.items()}
        clone.signed_by = {role: list(names) for role, names in self.signed_by.items()}
        clone.files = dict(self.files)
        clone.extra = dict(self.extra)
        clone.root_history = dict(self.root_history)
        return clone

    # --- output ------------------------------------------------------------------------

    def signed_bytes(self, role: str) -> bytes:
        """``role`` signed by the signers in :attr:`signed_by`, as tufrepo writes it."""
        md = self.roles[role]
        md.signatures.clear()
        for name in self.signed_by.get(role, []):
            md.sign(self.signers[name], append=True)
        return serialize(md)

    def _record_root(self) -> None:
        self.root_history[self.root.version] = self.signed_bytes(ROOT)

    def files_by_path(self) -> dict[str, bytes]:
        """Every file of the checkout, by checkout path, every role freshly signed."""
        self._record_root()
        found = {f"metadata/{role}.json": self.signed_bytes(role) for role in self.roles}
        found[f"metadata/{ROOT}.json"] = self.root_history[self.root.version]
        for version, data in self.root_history.items():
            found[f"metadata/root_history/{version}.root.json"] = data
        for path, content in self.files.items():
            found[f"targets/{path}"] = content
        for path, extra in self.extra.items():
            if extra is None:
                found.pop(path, None)
            else:
                found[path] = extra
        return found

    def store(self) -> OverlayStore:
        """The current state as a store of its own (a known-good state, or main)."""
        store = OverlayStore()
        store.changes.update(self.files_by_path())
        return store

    def overlay(self, base: Store) -> OverlayStore:
        """The current state as changes on top of ``base`` (an event on its known good)."""
        overlay = OverlayStore(base)
        now = self.files_by_path()
        for directory in ("metadata", "targets"):
            for entry in base.walk(directory):
                if entry.path not in now:
                    overlay.delete(entry.path)
        for path, data in now.items():
            if base.read(path) != data:
                overlay.write(path, data)
        return overlay

    def event(self, known_good: Store | None, *, now: datetime | None = None) -> SigningEvent:
        """A signing event holding the current state beside ``known_good``."""
        store = self.overlay(known_good) if known_good is not None else self.store()
        return SigningEvent(store, known_good, now=now or self.now)

    def published(self) -> dict[str, bytes]:
        """The current state as ``publish`` lays it out for clients (consistent snapshot).

        Metadata under ``metadata/`` (``N.root.json``, ``timestamp.json``,
        ``N.<role>.json``), artifacts under ``targets/`` as ``<dir>/<sha256>.<name>``.
        """
        files = self.files_by_path()
        site = {
            f"metadata/{version}.root.json": data for version, data in self.root_history.items()
        }
        site["metadata/timestamp.json"] = files[f"metadata/{TIMESTAMP}.json"]
        for role, md in self.roles.items():
            if role not in (ROOT, TIMESTAMP):
                site[f"metadata/{md.signed.version}.{role}.json"] = files[f"metadata/{role}.json"]
        for path, data in self.files.items():
            head, _, name = path.rpartition("/")
            site[f"targets/{head + '/' if head else ''}{sha256(data)}.{name}"] = data
        return site

    def fetcher(self) -> SimulatorFetcher:
        """A python-tuf fetcher serving :meth:`published` at METADATA_URL and TARGETS_URL."""
        return SimulatorFetcher(self)

    def repository(
        self, known_good: Store | None, *, now: datetime | None = None
    ) -> TufRepository:
        """The current state as main, with ``known_good`` as its anchor."""
        store = self.overlay(known_good) if known_good is not None else self.store()
        return TufRepository(store, now=now or self.now, known_good=known_good)


class SimulatorFetcher(FetcherInterface):
    """Serves a simulator's published site to python-tuf's ngclient, without a network.

    Each fetch serves the simulator's state at that moment (change the
    simulator between refreshes to publish a new state); ``tampered`` replaces
    files of the site (``targets/<sha256>.readme.txt``: a mirror serving other
    content); ``fetched`` lists the URLs asked for, in order.
    """

    def __init__(self, sim: RepositorySimulator) -> None:
        self.sim = sim
        self.tampered: dict[str, bytes] = {}
        self.fetched: list[str] = []

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.fetched.append(url)
        base = METADATA_URL.rsplit("/", 1)[0] + "/"
        site = self.sim.published() | self.tampered
        data = site.get(url.removeprefix(base)) if url.startswith(base) else None
        if data is None:
            raise DownloadHTTPError(f"{url} not found", 404)
        return iter([data])
