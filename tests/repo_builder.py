"""The simulator's repository written to disk, for tests of publish and of the clients.

:class:`RepoBuilder` is :class:`simulator.RepositorySimulator` (every role in
memory with ed25519 ``CryptoSigner`` keys, see ``tests/simulator.py``) plus a
checkout directory: :meth:`RepoBuilder.write` signs every role, refreshes
snapshot and timestamp contents and writes the layout of DESIGN §3::

    metadata/root.json, targets.json, delegated.json, snapshot.json, timestamp.json
    metadata/root_history/<N>.root.json
    targets/readme.txt, targets/delegated/sub/app.json

Tests break things on purpose afterwards.  Serve a written site with
``webserver.serve_directory``.

Not for: signing-event rules (versions, placeholders, git); the CLI tests
in tests/test_cli_*.py cover those through real events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator import (
    APP,
    APP_DATA,
    DELEGATED,
    ONLINE_PERIODS,
    PERIODS,
    README,
    README_DATA,
    RepositorySimulator,
    new_signer,
    sha256,
)

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

__all__ = [
    "APP",
    "APP_DATA",
    "DELEGATED",
    "ONLINE_PERIODS",
    "PERIODS",
    "README",
    "README_DATA",
    "RepoBuilder",
    "new_signer",
    "sha256",
]


class RepoBuilder(RepositorySimulator):
    """A :class:`~simulator.RepositorySimulator` with a checkout directory ``top``.

    Keys are derived from ``top``'s name: builders in ``repo`` and ``other`` are two
    repositories.
    """

    def __init__(self, top: Path, now: datetime, owners: dict[str, str] | None = None) -> None:
        super().__init__(now, seed=top.name, owners=dict(owners or {}))
        self.top = top

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
        builder = cls(top, now, owners)
        builder.write()
        return builder

    def bump_online(self, now: datetime | None = None) -> None:
        """New snapshot and timestamp versions made at ``now`` (an online-sign run)."""
        self.online_sign(now)

    def write(self) -> None:
        """Sign every role, update snapshot and timestamp contents, and write the checkout."""
        self.update_online_meta()
        for path, data in self.files_by_path().items():
            target = self.top / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def root_bytes(self, version: int = 1) -> bytes:
        """A root version as written to root_history."""
        return self.root_history[version]
