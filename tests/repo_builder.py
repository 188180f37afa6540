"""A small, valid tuf-on-ci-format checkout on disk, built with python-tuf's Metadata API.

For tests of publish and of the client that need real metadata without
running signing events through git: :class:`RepoBuilder` holds every role in
memory with ed25519 ``CryptoSigner`` keys, and :meth:`RepoBuilder.write`
signs and stores the checkout layout of DESIGN §3::

    metadata/root.json, targets.json, delegated.json, snapshot.json, timestamp.json
    metadata/root_history/<N>.root.json
    targets/readme.txt, targets/delegated/sub/app.json

Root is held by @alice, @bob and @carol (2 of 3), targets by @alice, the
delegated role ``delegated`` (paths ``delegated/*``, ``delegated/*/*``) by
@bob, snapshot and timestamp by one online key.  Keyids are spec-compliant
(computed with the custom fields).  Tests break things on purpose afterwards.
:func:`served` serves a published site on 127.0.0.1 for the clients.

Not for: signing-event rules (versions, placeholders, git); the CLI tests
in tests/test_cli_*.py cover those through real events.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, Key, SSlibKey
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

from tufrepo.constants import (
    EXPIRY_PERIOD,
    KEYOWNER,
    ONLINE_URI,
    ROOT,
    SIGNING_PERIOD,
    SNAPSHOT,
    SPEC_VERSION,
    TARGETS,
    TIMESTAMP,
)
from tufrepo.fields import spec_keyid
from tufrepo.repository import serialize

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DELEGATED = "delegated"
README = "readme.txt"
README_DATA = b"hello\n"
APP = "delegated/sub/app.json"
APP_DATA = b'{"v": 1}\n'

# (expiry, signing) periods in days
PERIODS = {ROOT: (365, 60), TARGETS: (365, 60), DELEGATED: (365, 60)}
ONLINE_PERIODS = {SNAPSHOT: (365, 60), TIMESTAMP: (2, 1)}


def sha256(data: bytes) -> str:
    """Hex SHA-256, as published file names carry it."""
    return hashlib.sha256(data).hexdigest()


def new_signer(**custom: str) -> CryptoSigner:
    """An ed25519 signer whose public key carries ``custom`` fields and a spec keyid."""
    private = Ed25519PrivateKey.generate()
    plain = SSlibKey.from_crypto(private.public_key())
    draft = SSlibKey("", plain.keytype, plain.scheme, plain.keyval, dict(custom))
    key = SSlibKey(spec_keyid(draft), plain.keytype, plain.scheme, plain.keyval, dict(custom))
    return CryptoSigner(private, key)


def _periods(role: str, table: dict[str, tuple[int, int]]) -> dict[str, Any]:
    expiry, signing = table[role]
    return {EXPIRY_PERIOD: expiry, SIGNING_PERIOD: signing}


@dataclass
class RepoBuilder:
    """Every role of a small repository, its keys and its artifacts.

    Change the metadata objects freely, then call :meth:`write` (which
    re-signs every role and refreshes snapshot and timestamp contents).
    """

    top: Path
    now: datetime
    owners: dict[str, str]
    signers: dict[str, CryptoSigner] = field(default_factory=dict)
    roles: dict[str, Metadata[Any]] = field(default_factory=dict)
    root_history: dict[int, bytes] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    # who signs each role (names in ``signers``); root also lists the old root's signers
    signed_by: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def create(
        cls, top: Path, now: datetime, *, owners: dict[str, str] | None = None
    ) -> RepoBuilder:
        """A repository at version 1 of every role, written to ``top``.

        Args:
            top: the checkout directory (created).
            now: the time metadata is made at (expiry = now + expiry period).
            owners: keyowner handles by signer name (default ``@<name>``).
        """
        names = ("alice", "bob", "carol", "dave")
        handles = {name: f"@{name}" for name in names} | (owners or {})
        builder = cls(top, now, handles)
        for name in names:
            builder.signers[name] = new_signer(**{KEYOWNER: handles[name]})
        builder.signers["online"] = new_signer(**{ONLINE_URI: "file2:online.pem"})
        builder._create_roles()
        builder.files = {README: README_DATA, APP: APP_DATA}
        builder.add_target(TARGETS, README, README_DATA)
        builder.add_target(DELEGATED, APP, APP_DATA)
        builder.write()
        return builder

    def _key(self, name: str) -> Key:
        return self.signers[name].public_key

    def _expires(self, role: str) -> datetime:
        table = ONLINE_PERIODS if role in ONLINE_PERIODS else PERIODS
        return self.now.replace(microsecond=0) + timedelta(days=table[role][0])

    def _create_roles(self) -> None:
        root = Root(
            version=1,
            spec_version=SPEC_VERSION,
            expires=self._expires(ROOT),
            consistent_snapshot=True,
            unrecognized_fields=_periods(ROOT, PERIODS),
        )
        for name in ("alice", "bob", "carol"):
            root.add_key(self._key(name), ROOT)
        root.roles[ROOT].threshold = 2
        root.add_key(self._key("alice"), TARGETS)
        for role in (SNAPSHOT, TIMESTAMP):
            root.add_key(self._key("online"), role)
            root.roles[role].unrecognized_fields.update(_periods(role, ONLINE_PERIODS))
        targets = Targets(
            version=1,
            spec_version=SPEC_VERSION,
            expires=self._expires(TARGETS),
            unrecognized_fields=_periods(TARGETS, PERIODS),
        )
        bob = self._key("bob")
        targets.delegations = Delegations(
            keys={bob.keyid: bob},
            roles={
                DELEGATED: DelegatedRole(
                    DELEGATED, [bob.keyid], 1, terminating=True,
                    paths=[f"{DELEGATED}/*", f"{DELEGATED}/*/*"],
                )
            },
        )  # fmt: skip
        delegated = Targets(
            version=1,
            spec_version=SPEC_VERSION,
            expires=self._expires(DELEGATED),
            unrecognized_fields=_periods(DELEGATED, PERIODS),
        )
        self.roles = {
            ROOT: Metadata(root),
            TARGETS: Metadata(targets),
            DELEGATED: Metadata(delegated),
            SNAPSHOT: Metadata(
                Snapshot(version=1, spec_version=SPEC_VERSION, expires=self._expires(SNAPSHOT))
            ),
            TIMESTAMP: Metadata(
                Timestamp(version=1, spec_version=SPEC_VERSION, expires=self._expires(TIMESTAMP))
            ),
        }
        self.signed_by = {
            ROOT: ["alice", "bob", "carol"],
            TARGETS: ["alice"],
            DELEGATED: ["bob"],
            SNAPSHOT: ["online"],
            TIMESTAMP: ["online"],
        }

    # --- changes -----------------------------------------------------------------

    def add_target(self, role: str, path: str, data: bytes) -> None:
        """List ``path`` in ``role`` and keep ``data`` as its file under targets/."""
        self.files[path] = data
        self.roles[role].signed.targets[path] = TargetFile.from_data(path, data, ["sha256"])

    def rotate_root(self) -> None:
        """Root version 2: carol's root key replaced by dave's; signed by old and new keys."""
        root: Root = self.roles[ROOT].signed
        root.revoke_key(self._key("carol").keyid, ROOT)
        root.add_key(self._key("dave"), ROOT)
        root.version += 1
        self.signed_by[ROOT] = ["alice", "bob", "carol", "dave"]

    def bump_online(self, now: datetime | None = None) -> None:
        """New snapshot and timestamp versions made at ``now`` (an online-sign run)."""
        if now is not None:
            self.now = now
        for role in (SNAPSHOT, TIMESTAMP):
            signed = self.roles[role].signed
            signed.version += 1
            signed.expires = self._expires(role)

    # --- output ------------------------------------------------------------------------

    def _sign(self, role: str) -> bytes:
        md = self.roles[role]
        md.signatures.clear()
        for name in self.signed_by[role]:
            md.sign(self.signers[name], append=True)
        return serialize(md)

    def write(self) -> None:
        """Sign every role, update snapshot and timestamp, and write the checkout."""
        data: dict[str, bytes] = {}
        data[ROOT] = self._sign(ROOT)
        self.root_history[self.roles[ROOT].signed.version] = data[ROOT]
        snapshot: Snapshot = self.roles[SNAPSHOT].signed
        for role in (TARGETS, DELEGATED):
            data[role] = self._sign(role)
            snapshot.meta[f"{role}.json"] = MetaFile(version=self.roles[role].signed.version)
        data[SNAPSHOT] = self._sign(SNAPSHOT)
        timestamp: Timestamp = self.roles[TIMESTAMP].signed
        timestamp.snapshot_meta = MetaFile(version=snapshot.version)
        data[TIMESTAMP] = self._sign(TIMESTAMP)
        metadata = self.top / "metadata"
        (metadata / "root_history").mkdir(parents=True, exist_ok=True)
        for role, content in data.items():
            (metadata / f"{role}.json").write_bytes(content)
        for version, content in self.root_history.items():
            (metadata / "root_history" / f"{version}.root.json").write_bytes(content)
        for path, content in self.files.items():
            target = self.top / "targets" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)

    def root_bytes(self, version: int = 1) -> bytes:
        """A root version as written to root_history."""
        return self.root_history[version]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def served(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) while the block runs; yields the base URL."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
