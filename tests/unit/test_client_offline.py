"""The simulator's repository through python-tuf's ngclient, with no network.

Checks the simulator itself (its metadata is what a TUF client accepts) and
``tufrepo.client.new_updater`` with an injected fetcher.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from simulator import (
    APP,
    APP_DATA,
    METADATA_URL,
    README,
    TARGETS_URL,
    RepositorySimulator,
    sha256,
)
from tuf.api.exceptions import ExpiredMetadataError, LengthOrHashMismatchError
from tuf.ngclient import Updater

from tufrepo.client import new_updater
from tufrepo.core.constants import ROOT, TARGETS

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def updater(sim: RepositorySimulator, work: Path, *, now: datetime = NOW) -> Updater:
    return new_updater(
        METADATA_URL, TARGETS_URL, sim.root_history[1], work, now=now, fetcher=sim.fetcher()
    )


def download(client: Updater, path: str) -> bytes:
    info = client.get_targetinfo(path)
    assert info is not None, path
    return Path(client.download_target(info)).read_bytes()


def test_a_client_refreshes_and_downloads_every_artifact(tmp_path: Path) -> None:
    sim = RepositorySimulator(NOW)
    fetcher = sim.fetcher()
    client = new_updater(
        METADATA_URL, TARGETS_URL, sim.root_history[1], tmp_path, now=NOW, fetcher=fetcher
    )
    client.refresh()
    assert download(client, APP) == APP_DATA
    assert download(client, README) == sim.files[README]
    assert fetcher.fetched[:5] == [
        f"{METADATA_URL}/2.root.json",  # 404: no newer root
        f"{METADATA_URL}/timestamp.json",
        f"{METADATA_URL}/1.snapshot.json",
        f"{METADATA_URL}/1.targets.json",
        f"{METADATA_URL}/1.delegated.json",
    ]


def test_a_client_follows_a_root_rotation_and_new_versions(tmp_path: Path) -> None:
    sim = RepositorySimulator(NOW)
    sim.rotate_root()
    sim.add_target(TARGETS, "new.txt", b"new\n")
    sim.bump(TARGETS)
    sim.online_sign()
    client = updater(sim, tmp_path)
    client.refresh()
    assert download(client, "new.txt") == b"new\n"
    trusted = client._trusted_set
    assert trusted.root.version == sim.root.version == 2
    assert sim.roles[ROOT].signed.version == 2


def test_a_client_refuses_an_artifact_that_differs(tmp_path: Path) -> None:
    sim = RepositorySimulator(NOW)
    fetcher = sim.fetcher()
    client = new_updater(
        METADATA_URL, TARGETS_URL, sim.root_history[1], tmp_path, now=NOW, fetcher=fetcher
    )
    client.refresh()
    fetcher.tampered[f"targets/{sha256(sim.files[README])}.{README}"] = b"HELLO\n"  # same length
    info = client.get_targetinfo(README)
    assert info is not None
    with pytest.raises(LengthOrHashMismatchError):
        client.download_target(info)


def test_a_client_refuses_expired_metadata(tmp_path: Path) -> None:
    sim = RepositorySimulator(NOW)
    client = updater(sim, tmp_path, now=NOW + timedelta(days=3))  # timestamp lasts 2 days
    with pytest.raises(ExpiredMetadataError, match=r"timestamp\.json is expired"):
        client.refresh()
