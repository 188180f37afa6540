"""Artifact entries against files: every listed hash is checked (issue #11)."""

from __future__ import annotations

import hashlib

import pytest
from tuf.api.metadata import TargetFile

from tufrepo.targets import entry_matches, is_artifact_path

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
