"""Only what changed is read (#14): artifacts unchanged since a trusted state are not hashed again.

The tests count reads of artifact files, and show whose entry is trusted: the
known-good state's, never the one of the tree under judgement.
"""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from tuf.api.metadata import TargetFile

from tufrepo.checks import Severity
from tufrepo.checks.rules import tree_rules
from tufrepo.core.artifacts import KnownArtifacts
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import OverlayStore
from tufrepo.gitrepo import GitRepo
from tufrepo.ops.artifacts import _Unchanged, after_metadata_commit
from tufrepo.ops.targets import update_targets

NOW = datetime(2025, 1, 1, tzinfo=UTC)
FILES = {"a.txt": b"alpha\n", "b.txt": b"beta\n"}


class CountingStore(OverlayStore):
    """An in-memory store that counts reads of artifacts."""

    def __init__(self) -> None:
        super().__init__()
        self.artifact_reads: list[str] = []

    def read(self, path: str) -> bytes | None:
        if path.startswith("targets/"):
            self.artifact_reads.append(path)
        return super().read(path)


def entry(path: str, data: bytes, **extra: str) -> TargetFile:
    return TargetFile(len(data), {"sha256": hashlib.sha256(data).hexdigest(), **extra}, path)


def make(listed: dict[str, TargetFile]) -> tuple[TufRepository, CountingStore]:
    store = CountingStore()
    for path, data in FILES.items():
        store.write(f"targets/{path}", data)
    repo = TufRepository(store, now=NOW)
    with repo.edit_targets() as targets:
        targets.targets = dict(listed)
    store.artifact_reads.clear()
    return repo, store


def known(entries: dict[str, TargetFile], *, changed: tuple[str, ...] = ()) -> KnownArtifacts:
    blobs = {p: f"blob-{p}" for p in FILES}
    current = {p: ("other-blob" if p in changed else b) for p, b in blobs.items()}
    return KnownArtifacts(current=current, known_good=blobs, entries=entries)


def test_update_targets_reads_only_the_changed_file() -> None:
    good = {p: entry(p, d) for p, d in FILES.items()}
    repo, store = make({"a.txt": good["a.txt"]})
    assert update_targets(repo, store, known(good, changed=("b.txt",))) == ["targets"]
    assert store.artifact_reads == ["targets/b.txt"]
    listed = repo.read_targets()
    assert listed is not None
    assert {p: t.hashes for p, t in listed.signed.targets.items()} == {
        p: t.hashes for p, t in good.items()
    }


def test_without_a_known_state_every_file_is_read() -> None:
    repo, store = make({})
    update_targets(repo, store)
    assert sorted(store.artifact_reads) == ["targets/a.txt", "targets/b.txt"]


def test_an_unchanged_blob_keeps_the_known_good_entry_without_hashing() -> None:
    # Documented behaviour: the known-good entry is trusted for an unchanged
    # blob (known good was judged against that very blob).  This wrong entry
    # would be caught by hashing; it is not, which proves the file is not read.
    wrong = {"a.txt": TargetFile(6, {"sha256": "00" * 32}, "a.txt")}
    repo, store = make(wrong)
    update_targets(repo, store, known(wrong, changed=("b.txt",)))
    assert "targets/a.txt" not in store.artifact_reads


def test_a_changed_blob_is_hashed_whatever_known_good_says() -> None:
    wrong = {"a.txt": TargetFile(6, {"sha256": "00" * 32}, "a.txt")}
    repo, store = make(wrong)
    update_targets(repo, store, known(wrong, changed=("a.txt", "b.txt")))
    listed = repo.read_targets()
    assert listed is not None
    assert listed.signed.targets["a.txt"].hashes == entry("a.txt", FILES["a.txt"]).hashes


def test_the_judged_tree_never_vouches_for_its_own_entries() -> None:
    # The event lists a forged hash for a file it did not change: the
    # known-good entry decides, so the forgery is replaced (and reported).
    good = {p: entry(p, d) for p, d in FILES.items()}
    forged = {**good, "a.txt": TargetFile(6, {"sha256": "11" * 32}, "a.txt")}
    repo, store = make(forged)
    findings = tree_rules(repo, store, mismatch=Severity.WAITING, known=known(good))
    assert [f.code for f in findings] == ["targets-mismatch"]
    assert store.artifact_reads == []
    assert update_targets(repo, store, known(good)) == ["targets"]
    listed = repo.read_targets()
    assert listed is not None
    assert listed.signed.targets["a.txt"].hashes == good["a.txt"].hashes


def test_a_hash_known_good_does_not_have_is_computed_from_the_file() -> None:
    good = {p: entry(p, d) for p, d in FILES.items()}
    sha512 = hashlib.sha512(FILES["a.txt"]).hexdigest()
    repo, store = make({**good, "a.txt": entry("a.txt", FILES["a.txt"], sha512=sha512)})
    assert tree_rules(repo, store, mismatch=Severity.WAITING, known=known(good)) == []
    assert store.artifact_reads == ["targets/a.txt"]


# --- git: which blobs are unchanged, and which state online-sign judged ------------------


def git(top: Path, *args: str) -> str:
    env = {
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", *args], cwd=top, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(top: Path, files: dict[str, str | None], message: str) -> str:
    for path, text in files.items():
        target = top / path
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    git(top, "add", "--all")
    git(top, "commit", "-q", "-m", message)
    return git(top, "rev-parse", "HEAD")


def test_worktree_blobs_leave_out_changed_and_untracked_files(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, {"targets/a": "a", "targets/b": "b"}, "files")
    (tmp_path / "targets" / "b").write_text("changed")
    (tmp_path / "targets" / "c").write_text("new")
    with GitRepo(tmp_path) as repo:
        blobs = repo.worktree_blobs("targets")
    assert list(blobs) == ["targets/a"]
    assert blobs["targets/a"] == git(tmp_path, "hash-object", "targets/a")


def test_a_listing_is_kept_for_a_commit_id_never_for_a_ref_that_moves(tmp_path: Path) -> None:
    # #14: a history walk lists each commit's metadata once; a branch name may
    # point elsewhere the next time, so its listing is never kept
    git(tmp_path, "init", "-q", "-b", "main")
    first = commit(tmp_path, {"targets/a": "a"}, "one")
    with GitRepo(tmp_path) as repo:
        assert list(repo.tree_entries("main", "targets")) == ["targets/a"]
        assert list(repo.tree_entries(first, "targets")) == ["targets/a"]
        commit(tmp_path, {"targets/b": "b"}, "two")
        assert list(repo.tree_entries("main", "targets")) == ["targets/a", "targets/b"]
        assert list(repo.tree_entries(first, "targets")) == ["targets/a"]


def test_a_branch_switched_to_brings_its_own_gitattributes(tmp_path: Path) -> None:
    # Attack (#14 red team): a .gitattributes filter makes the checked-out bytes
    # differ from the blob.  The answer for plain paths is kept, but not across
    # a switch to a branch whose .gitattributes says otherwise.
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, {"targets/a": "a"}, "plain")
    git(tmp_path, "switch", "-q", "-c", "sign/other")
    commit(tmp_path, {".gitattributes": "targets/* ident\n"}, "ident")
    git(tmp_path, "switch", "-q", "main")
    with GitRepo(tmp_path) as repo:
        assert list(repo.worktree_blobs("targets")) == ["targets/a"]
        repo.switch("sign/other")
        assert repo.worktree_blobs("targets") == {}, "every file is read again"


def test_entries_kept_after_a_metadata_commit_still_read_files_staged_since() -> None:
    # #14: repo-sign keeps known good's entries across its signature commit;
    # a file staged into the new tip afterwards must be read, never reused.
    blob = "1" * 40
    entry = TargetFile(3, {"sha256": "0" * 64}, "a.bin")
    known = KnownArtifacts(
        current=_Unchanged({"a.bin": blob}, OverlayStore()),
        known_good={"a.bin": blob},
        entries={"a.bin": entry},
    )
    overlay = OverlayStore()
    kept = after_metadata_commit(known, overlay)
    assert kept is not None
    assert kept.entry("a.bin") == entry
    overlay.write("targets/a.bin", b"new")
    assert kept.entry("a.bin") is None
    assert after_metadata_commit(KnownArtifacts({}, {}), overlay) is None  # not an event's
