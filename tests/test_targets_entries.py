"""Artifact entries against files: every listed hash is checked (issue #11)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, TargetFile, Targets

from tufrepo.core.artifacts import is_artifact_path
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import WorktreeStore
from tufrepo.ops.targets import entry_matches, update_targets

DATA = b"release\n"
ACTUAL = TargetFile.from_data("a.txt", DATA, ["sha256"])


def entry(**hashes: str) -> TargetFile:
    return TargetFile(len(DATA), hashes, "a.txt")


def test_sha512_beside_sha256_is_checked_not_compared_as_a_set() -> None:
    sha512 = hashlib.sha512(DATA).hexdigest()
    assert (
        entry_matches(entry(sha256=ACTUAL.hashes["sha256"], sha512=sha512), ACTUAL, lambda: DATA)
        is None
    )
    wrong = entry(sha256=ACTUAL.hashes["sha256"], sha512="00" * 64)
    assert entry_matches(wrong, ACTUAL, lambda: DATA) == "a different sha512 hash"


def test_only_sha512_listed_is_enough() -> None:
    listed = entry(sha512=hashlib.sha512(DATA).hexdigest())
    assert entry_matches(listed, ACTUAL, lambda: DATA) is None


@pytest.mark.parametrize(
    ("listed", "why"),
    [
        (
            TargetFile(len(DATA) + 1, {"sha256": "00"}, "a.txt"),
            f"length {len(DATA) + 1} but the file has {len(DATA)} bytes",
        ),
        (entry(sha256="00" * 32), "a different sha256 hash"),
        (
            entry(sha256=hashlib.sha256(DATA).hexdigest(), blake9="00"),
            "a hash of unknown algorithm 'blake9'",
        ),
    ],
    ids=["length", "sha256", "unknown-algorithm"],
)
def test_mismatches_are_named(listed: TargetFile, why: str) -> None:
    assert entry_matches(listed, ACTUAL, lambda: DATA) == why


@pytest.mark.parametrize(
    ("path", "artifact"),
    [("a.txt", True), ("dir/a.txt", True), (".gitkeep", False), ("dir/.gitattributes", False),
     (".hidden/a.txt", False), ("a/.b/c.txt", False)],
)  # fmt: skip
def test_dotfiles_are_not_artifacts(path: str, artifact: bool) -> None:
    assert is_artifact_path(path) is artifact


def test_update_targets_keeps_unchanged_entries_as_they_are(tmp_path: Path) -> None:
    # tuf-on-ci lists sha512 beside sha256 and custom fields: an unchanged
    # file keeps its entry exactly; only changed files get new entries.
    from conftest import NOW  # noqa: PLC0415
    from repo_builder import README, README_DATA, RepoBuilder  # noqa: PLC0415

    builder = RepoBuilder.create(tmp_path / "repo", NOW)
    targets = builder.roles["targets"].signed
    kept = targets.targets[README]
    kept.hashes["sha512"] = hashlib.sha512(README_DATA).hexdigest()
    kept.unrecognized_fields["custom"] = {"tag": "v1"}
    builder.write()
    (builder.top / "targets" / "new.txt").write_bytes(b"new\n")
    store = WorktreeStore(builder.top)
    repo = TufRepository(store, now=NOW, known_good=WorktreeStore(builder.top))
    assert update_targets(repo, store) == ["targets"]
    path = str(builder.top / "metadata" / "targets.json")
    entries = Metadata[Targets].from_file(path).signed.targets
    assert entries[README].to_dict() == kept.to_dict()
    assert set(entries["new.txt"].hashes) == {"sha256"}
