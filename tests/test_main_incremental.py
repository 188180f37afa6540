"""Main judged on what changed (#14): the snapshot online-sign signs names the
commit whose every artifact it checked, and later judgements of main read only
the files changed since.  The statement counts only with the online key's
signature: whoever can push to main cannot make one of their own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import World, git, init_repo

from tufrepo.checks import Finding, errors
from tufrepo.core.constants import VERIFIED_COMMIT
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import WorktreeStore
from tufrepo.gitrepo import GitRepo
from tufrepo.ops.anchor import judge_main_state

GOOD = b"GOOD release bytes\n"
EVIL = b"EVIL release bytes\n"  # same length: only hashing tells them apart


class CountingWorktree(WorktreeStore):
    """The work tree, counting reads of artifacts."""

    def __init__(self, top: Path) -> None:
        super().__init__(top)
        self.artifact_reads: list[str] = []

    def read(self, path: str) -> bytes | None:
        if path.startswith("targets/"):
            self.artifact_reads.append(path)
        return super().read(path)


@pytest.fixture
def signed(world: World) -> World:
    """main with two artifacts, merged, online-signed (snapshot names the merge)."""
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    alice.push_files(
        "sign/init",
        {"targets/app.bin": GOOD, "targets/other.bin": b"other\n"},
        start="origin/sign/init",
    )
    assert world.ci_run("update-targets", "--push", event="sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    return world


def judge(world: World, checkout: Path | None = None) -> tuple[list[Finding], list[str]]:
    with GitRepo(checkout or world.ci) as repo:
        store = CountingWorktree(repo.top)
        verdict = judge_main_state(
            TufRepository(store, now=world.now),
            store,
            git=repo,
            rev=repo.head(),
            anchor_source=None,
            now=world.now,
        )
    return verdict.findings, sorted(store.artifact_reads)


def push_to_main(world: World, message: str) -> None:
    git(world.ci, "commit", "-q", "-am", message)
    git(world.ci, "push", "-q", "origin", "HEAD:main")


def test_online_sign_names_the_commit_it_checked(signed: World) -> None:
    snapshot = json.loads((signed.ci / "metadata" / "snapshot.json").read_bytes())
    merge = git(signed.ci, "rev-parse", "HEAD~1")
    assert git(signed.ci, "log", "-1", "--format=%s", merge) == "Merge sign/init"
    assert snapshot["signed"][VERIFIED_COMMIT] == merge


def test_main_unchanged_since_online_sign_reads_no_artifact(signed: World) -> None:
    findings, reads = judge(signed)
    assert errors(findings) == []
    assert reads == []


def test_a_swapped_artifact_is_read_and_refused(signed: World) -> None:
    # Attack: push rights on main, no keys: other bytes under a signed entry.
    (signed.ci / "targets" / "app.bin").write_bytes(EVIL)
    push_to_main(signed, "Update docs")
    findings, reads = judge(signed)
    assert reads == ["targets/app.bin"]
    assert [f.message for f in errors(findings)] == [
        "targets lists targets/app.bin with a different sha256 hash"
    ]


def test_a_verified_commit_named_without_the_online_key_vouches_for_nothing(
    signed: World,
) -> None:
    # Attack: swap the artifact, then make the snapshot name the attacker's own
    # commit as verified; without the online key the signature no longer holds.
    (signed.ci / "targets" / "app.bin").write_bytes(EVIL)
    push_to_main(signed, "Update docs")
    swapped = git(signed.ci, "rev-parse", "HEAD")
    path = signed.ci / "metadata" / "snapshot.json"
    document = json.loads(path.read_bytes())
    document["signed"][VERIFIED_COMMIT] = swapped
    path.write_text(json.dumps(document, indent=1))
    push_to_main(signed, "Online sign")
    findings, reads = judge(signed)
    assert reads == ["targets/app.bin", "targets/other.bin"]  # every file read again
    assert "targets lists targets/app.bin with a different sha256 hash" in [
        f.message for f in errors(findings)
    ]


@pytest.mark.parametrize("attributes", ["*.bin eol=crlf", "*.bin working-tree-encoding=UTF-16LE"])
def test_attributes_that_convert_on_checkout_disable_reuse(signed: World, attributes: str) -> None:
    # Attack (#14 red team): a .gitattributes pushed to main makes a fresh
    # checkout (what CI runs on) write other bytes for an unchanged blob.
    (signed.ci / ".gitattributes").write_text(attributes + "\n")
    git(signed.ci, "add", ".gitattributes")
    git(signed.ci, "commit", "-q", "-m", "Line endings")
    git(signed.ci, "push", "-q", "origin", "HEAD:main")
    fresh = signed.root / "fresh"
    git(signed.root, "clone", "-q", str(signed.origin), str(fresh))
    assert (fresh / "targets" / "app.bin").read_bytes() != GOOD  # converted on checkout
    findings, reads = judge(signed, fresh)
    assert reads == ["targets/app.bin", "targets/other.bin"]  # nothing reused
    assert any("targets/app.bin" in f.message for f in errors(findings))
