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


def judge(
    world: World,
    checkout: Path | None = None,
    *,
    site: Path | None = None,
    by_change: bool = True,
) -> tuple[list[Finding], list[str]]:
    """Main in ``checkout`` (default: CI's) judged from its history, or from a published ``site``."""
    with GitRepo(checkout or world.ci) as repo:
        store = CountingWorktree(repo.top)
        verdict = judge_main_state(
            TufRepository(store, now=world.now),
            store,
            git=repo,
            rev=repo.head(),
            anchor_source=str(site / "metadata") if site else None,
            now=world.now,
            by_change=by_change,
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


def refresh(world: World, times: int) -> None:
    """``times`` online-sign runs in the timestamp's signing period: refresh-only states."""
    for _ in range(times):
        world.tick(1.5)
        result = world.ci_run("online-sign", "--push")
        assert result.exit_code == 0, result.output


def test_refreshes_in_main_history_do_not_parse_targets_again(
    signed: World, parsed: list[str]
) -> None:
    # #14: a year of timestamp refreshes must not cost a parse of every
    # targets role each; they are byte-identical to the state judged before.
    refresh(signed, 4)
    checkpoints = git(
        signed.ci, "rev-list", "--first-parent", "HEAD", "--", "metadata/timestamp.json"
    )
    assert len(checkpoints.split()) == 5  # the merge, 4 refreshes
    parsed.clear()
    findings, _ = judge(signed)
    assert errors(findings) == []
    # parsed once: for the merge, judged in full; the refreshes are judged on
    # root's history and their online roles; HEAD, its known good and the
    # commit its snapshot vouches for hold the same bytes
    assert parsed.count("metadata/targets.json") == 1


def test_a_forged_timestamp_between_refreshes_is_still_refused(signed: World) -> None:
    # Attack: push rights on main, no online key: a timestamp of one's own in
    # a state that changes nothing else; the refreshes around it stay honest.
    refresh(signed, 2)
    path = signed.ci / "metadata" / "timestamp.json"
    honest = path.read_bytes()
    document = json.loads(honest)
    document["signed"]["expires"] = "2099-01-01T00:00:00Z"
    path.write_text(json.dumps(document, indent=1))
    push_to_main(signed, "Online sign (timestamp)")
    forged = git(signed.ci, "rev-parse", "HEAD")
    path.write_bytes(honest)
    push_to_main(signed, "Online sign (timestamp)")
    findings, _ = judge(signed)
    found = {(f.code, f.message.split(":")[0]) for f in errors(findings)}
    assert ("online-forged", f"at commit {forged[:7]}") in found


def test_a_pristine_main_as_verified_is_judged_without_parsing_targets(
    signed: World, parsed: list[str]
) -> None:
    # #14: a cron's online-sign on an unchanged main judges only the online
    # roles: the work tree is the commit online-sign judged in full.
    refresh(signed, 1)
    parsed.clear()
    findings, reads = judge(signed)
    assert errors(findings) == []
    assert reads == []
    assert parsed.count("metadata/targets.json") == 1  # the merge's state, judged in full


def test_an_uncommitted_swap_in_the_work_tree_is_read_and_refused(signed: World) -> None:
    # Attack: the files judged (and published) are the work tree's, not HEAD's.
    (signed.ci / "targets" / "app.bin").write_bytes(EVIL)
    findings, reads = judge(signed)
    assert "targets/app.bin" in reads
    assert [f.message for f in errors(findings)] == [
        "targets lists targets/app.bin with a different sha256 hash"
    ]


@pytest.mark.parametrize("ignored", [False, True])
def test_an_untracked_artifact_in_the_work_tree_is_judged(signed: World, ignored: bool) -> None:
    # Attack: a file git does not track (or ignores) still sits where publish reads.
    if ignored:
        (signed.ci / ".git" / "info" / "exclude").write_text("extra.bin\n")
    (signed.ci / "targets" / "extra.bin").write_bytes(EVIL)
    findings, _ = judge(signed)
    assert [(f.code, f.message) for f in errors(findings)] == [
        ("targets-mismatch", "targets/extra.bin is not listed in targets")
    ]


def test_autocrlf_in_the_checkout_disables_judging_by_change(signed: World) -> None:
    # Attack: core.autocrlf rewrites text files on checkout; the blob proves nothing.
    git(signed.ci, "config", "core.autocrlf", "true")
    findings, reads = judge(signed)
    assert reads == ["targets/app.bin", "targets/other.bin"]
    assert errors(findings) == []


def release(world: World, name: str, data: bytes) -> None:
    """One more artifact through a whole signing event, merged and online-signed."""
    alice = world.users["alice"]
    git(alice.clone, "fetch", "-q", "origin")
    alice.push_files(f"sign/{name}", {f"targets/{name}.bin": data}, start="origin/main")
    assert world.ci_run("update-targets", "--push", event=f"sign/{name}").exit_code == 0
    assert alice.sign(f"sign/{name}").exit_code == 0
    world.merge(f"sign/{name}")
    assert world.ci_run("online-sign", "--push").exit_code == 0


def test_releases_vouched_for_by_online_sign_are_not_judged_again(
    signed: World, parsed: list[str]
) -> None:
    # #14: every state online-sign judged names itself in the snapshot it
    # signed; a history of many releases then costs no parse of their roles.
    release(signed, "r1", b"one\n")
    release(signed, "r2", b"two\n")
    parsed.clear()
    findings, reads = judge(signed)
    assert errors(findings) == []
    assert reads == []
    assert parsed.count("metadata/targets.json") == 1  # main's first state, the anchor


def test_a_rollback_to_a_state_online_sign_once_vouched_for_is_refused(signed: World) -> None:
    # Attack: push rights on main, no keys: restore every metadata file of an
    # older online-signed state (its snapshot still names its verified commit).
    old = git(signed.ci, "rev-parse", "HEAD")
    release(signed, "r1", b"one\n")
    git(signed.ci, "checkout", "-q", old, "--", "metadata")
    push_to_main(signed, "Restore")
    findings, _ = judge(signed)
    assert {(f.role, f.code) for f in errors(findings)} >= {
        ("snapshot", "rollback"),
        ("timestamp", "rollback"),
    }


def test_publishing_the_published_state_again_reads_no_artifact(
    signed: World, tmp_path: Path
) -> None:
    # #14: the published state's snapshot vouches for it; nothing is new.
    site = tmp_path / "site"
    assert signed.ci_run("publish", str(site)).exit_code == 0
    findings, reads = judge(signed, site=site)
    assert errors(findings) == []
    assert reads == []


def test_a_swap_after_the_published_state_is_read_and_refused(
    signed: World, tmp_path: Path
) -> None:
    # Attack: push rights on main; the published anchor vouches only for its own state.
    site = tmp_path / "site"
    assert signed.ci_run("publish", str(site)).exit_code == 0
    (signed.ci / "targets" / "app.bin").write_bytes(EVIL)
    push_to_main(signed, "Update docs")
    findings, reads = judge(signed, site=site)
    assert reads == ["targets/app.bin"]
    assert [f.message for f in errors(findings)] == [
        "targets lists targets/app.bin with a different sha256 hash"
    ]
