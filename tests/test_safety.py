"""Failures and races never lose signatures or leave partial state (issue 7).

Crashes are injected by replacing one write or git step with a function that
raises; races by running another user's command at the moment before a push.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import World, git, init_repo, out, run

from tufrepo.core.store import WorktreeStore
from tufrepo.errors import GitStateError
from tufrepo.gitrepo import GitRepo
from tufrepo.ops.session import EventSession


def two_signer_event(world: World) -> tuple[Any, Any]:
    alice, bob = world.user("alice"), world.user("bob")
    init_repo(world, alice, "--signer", "targets=@alice", "--signer", "targets=@bob",
              "--threshold", "targets=2")  # fmt: skip
    assert bob.sign("sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    world.merge("sign/init")
    alice.push_files("sign/files", {"targets/a.txt": "a\n"})
    assert world.ci_run("update-targets", "--push", event="sign/files").exit_code == 0
    return alice, bob


def before_first_push(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    original = EventSession.publish
    calls = {"n": 0}

    def publish(self: EventSession, *, push: bool) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            monkeypatch.setattr(EventSession, "publish", original)  # the racer pushes normally
            action()
            monkeypatch.setattr(EventSession, "publish", publish)
        return original(self, push=push)

    monkeypatch.setattr(EventSession, "publish", publish)


def test_racing_signers_lose_no_signature(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob = two_signer_event(world)

    def bob_signs() -> None:
        assert bob.sign("sign/files").exit_code == 0

    before_first_push(monkeypatch, bob_signs)
    result = alice.sign("sign/files")
    assert result.exit_code == 0, out(result)
    assert "adding your signatures to their tip" in out(result)
    code, status = world.status("sign/files")
    assert code == 0, status
    assert status["roles"][0]["signers"]["signed"] == ["@alice", "@bob"]


def test_a_change_during_signing_is_not_signed_blindly(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = two_signer_event(world)

    def change_content() -> None:
        git(bob.clone, "fetch", "-q")
        git(bob.clone, "switch", "-q", "-c", "sign/files", "origin/sign/files")
        (bob.clone / "targets" / "a.txt").write_text("changed\n")
        git(bob.clone, "commit", "-q", "-a", "-m", "change")
        git(bob.clone, "push", "-q", "origin", "sign/files")
        assert world.ci_run("update-targets", "--push", event="sign/files").exit_code == 0

    before_first_push(monkeypatch, change_content)
    result = alice.sign("sign/files")
    assert result.exit_code == 5
    assert "error: targets changed while you were signing" in out(result)
    assert "hint: review and sign again: repo-sign sign/files" in out(result)
    # bob's change is on the remote; nothing of alice's over it
    assert git(world.origin, "log", "-1", "--format=%s", "sign/files").startswith("Update targets")


def test_push_failure_leaves_nothing_behind(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, _ = two_signer_event(world)
    remote_before = git(world.origin, "rev-parse", "sign/files")
    local_before = git(alice.clone, "rev-parse", "sign/files")

    def fail(self: GitRepo, remote: str, sha: str, branch: str, **_: object) -> None:
        raise GitStateError("network down")

    monkeypatch.setattr(GitRepo, "push", fail)
    result = alice.sign("sign/files")
    assert result.exit_code == 5
    assert git(world.origin, "rev-parse", "sign/files") == remote_before
    assert git(alice.clone, "rev-parse", "sign/files") == local_before
    assert git(alice.clone, "status", "--porcelain") == "?? .tuf-on-ci-sign.ini"


def crash_on_write(monkeypatch: pytest.MonkeyPatch, nth: int) -> None:
    original = WorktreeStore.write
    calls = {"n": 0}

    def write(self: WorktreeStore, path: str, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == nth:
            raise OSError(28, "No space left on device")
        original(self, path, data)

    monkeypatch.setattr(WorktreeStore, "write", write)


def test_update_targets_crash_restores_the_work_tree(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    assert (
        alice.tufrepo("delegate", "sign/init", "releases", "--key", alice.key_uri).exit_code == 0
    )
    git(alice.clone, "fetch", "-q")
    git(alice.clone, "switch", "-q", "-c", "sign/x", "origin/sign/init")
    (alice.clone / "targets" / "releases").mkdir(parents=True)
    (alice.clone / "targets" / "top.txt").write_text("top\n")
    (alice.clone / "targets" / "releases" / "r.txt").write_text("r\n")
    git(alice.clone, "add", "targets")
    git(alice.clone, "commit", "-q", "-m", "files")
    git(alice.clone, "push", "-q", "origin", "sign/x")
    world.merge("sign/init")  # known good has root/targets/releases
    world.ci_run("status", event="sign/x")  # check out sign/x in CI
    head = git(world.ci, "rev-parse", "HEAD")
    crash_on_write(monkeypatch, 2)  # the second metadata file fails to write
    result = world.ci_run("update-targets", event="sign/x")
    assert result.exit_code == 1
    assert "internal error: OSError" in out(result)
    assert git(world.ci, "status", "--porcelain") == ""
    assert git(world.ci, "rev-parse", "HEAD") == head


def test_online_sign_crash_restores_the_work_tree(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    world.tick(1.5)
    git(world.ci, "checkout", "-q", "main")
    snapshot_before = (world.ci / "metadata" / "snapshot.json").read_bytes()
    crash_on_write(monkeypatch, 1)
    world.tick(400)  # both snapshot and timestamp need signing
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 1
    assert (world.ci / "metadata" / "snapshot.json").read_bytes() == snapshot_before
    assert git(world.ci, "status", "--porcelain") == ""
    assert (
        json.loads(git(world.origin, "show", "main:metadata/timestamp.json"))["signed"]["version"]
        == 1
    )


def test_racing_online_sign_runs_never_go_backwards(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    world.tick(1.5)  # timestamp in its signing period
    other = world.root / "ci-2"
    git(world.root, "clone", "-q", str(world.origin), str(other))
    git(world.ci, "fetch", "-q")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    # both runners have main; the second one wins the push
    second = run("-C", str(other), "--json", "online-sign", "--push", now=world.now)
    assert second.exit_code == 0, out(second)
    # a minute later (a different commit, not an identical one)
    first = run(
        "-C",
        str(world.ci),
        "--json",
        "online-sign",
        "--push",
        now=world.now + timedelta(minutes=1),
    )
    assert first.exit_code == 0, out(first)
    assert "origin/main moved; signing again on top of it" in out(first)
    assert json.loads(first.stdout.splitlines()[-1])["signed"] == [], "nothing left to do"
    log = git(world.origin, "log", "--format=%s", "main").splitlines()
    assert log.count("Online sign (timestamp)") == 1
    assert (
        json.loads(git(world.origin, "show", "main:metadata/timestamp.json"))["signed"]["version"]
        == 2
    )


def test_a_crash_while_committing_a_signature_pushes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, _ = two_signer_event(world)
    remote_before = git(world.origin, "rev-parse", "sign/files")

    def crash(
        self: GitRepo, parent: str | None, changes: dict[str, bytes | None], msg: str
    ) -> str:
        raise GitStateError("git commit-tree failed: disk full")

    monkeypatch.setattr(GitRepo, "commit_changes", crash)
    result = alice.sign("sign/files")
    assert result.exit_code == 5
    assert "error: git commit-tree failed: disk full" in out(result)
    assert git(world.origin, "rev-parse", "sign/files") == remote_before


def test_a_failed_publish_leaves_the_previous_site(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    site = tmp_path / "out" / "site"
    assert run("-C", str(world.ci), "publish", str(site), now=world.now).exit_code == 0
    before = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    world.tick(1.5)
    assert world.ci_run("online-sign", "--push").exit_code == 0

    # The file system refuses to move the new site into place (the real replace
    # runs: the old site was already moved aside, and must come back).
    real_rename = Path.rename
    renames: list[tuple[str, str]] = []

    def rename(self: Path, target: str | Path) -> Path:
        target = Path(target)
        renames.append((self.name, target.name))
        if self.name.startswith(".site.staging-") and target == site.resolve():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    result = run("-C", str(world.ci), "publish", str(site), now=world.now)
    # the file system's refusal, not a bug: exit 4 with advice (issue #13)
    assert result.exit_code == 4, out(result)
    assert out(result).splitlines()[-2:] == [
        f"error: cannot write the site {site.resolve()}: No space left on device",
        "hint: the disk is full: free some space and run the command again",
    ]
    moved_aside, failed, restored = renames
    assert moved_aside[0] == "site"
    assert moved_aside[1].startswith(".site.old-")
    assert failed[0].startswith(".site.staging-")
    assert failed[1] == "site"
    assert restored == (moved_aside[1], "site")
    assert {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in site.parent.iterdir()) == ["site"], (
        "no staging directory left behind"
    )
