"""End-to-end scenarios of the core issue through the real CLI and local git."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import World, git, init_repo, out


def metadata(clone: Path, ref: str, role: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(git(clone, "show", f"{ref}:metadata/{role}.json"))
    return data


def test_init_sign_and_merge(world: World) -> None:
    alice = world.user("alice")
    result = init_repo(world, alice)
    assert result.exit_code == 0, out(result)
    assert "Signed root, targets as @alice." in result.output

    code, status = world.status("sign/init")
    assert code == 0, status
    assert status["state"] == "ready"
    assert [r["role"] for r in status["roles"]] == ["root", "targets"]
    root = metadata(world.ci, "HEAD", "root")
    assert root["signed"]["version"] == 1
    assert root["signed"]["consistent_snapshot"] is True
    assert root["signed"]["roles"]["timestamp"]["x-tuf-on-ci-expiry-period"] == 2
    assert root["signed"]["roles"]["timestamp"]["x-tuf-on-ci-signing-period"] == 1
    assert git(world.ci, "show", "HEAD:metadata/root_history/1.root.json") == git(
        world.ci, "show", "HEAD:metadata/root.json"
    )
    world.merge("sign/init")


def test_init_leaves_the_users_branch_and_work_tree_alone(world: World) -> None:
    alice = world.user("alice")
    git(alice.clone, "switch", "-q", "-c", "feature")
    (alice.clone / "README.md").write_text("local edit\n")
    (alice.clone / "notes.txt").write_text("untracked\n")
    before = git(alice.clone, "status", "--porcelain")
    head = git(alice.clone, "rev-parse", "HEAD")

    assert init_repo(world, alice).exit_code == 0

    assert git(alice.clone, "branch", "--show-current") == "feature"
    assert git(alice.clone, "rev-parse", "HEAD") == head
    assert git(alice.clone, "status", "--porcelain") == before
    assert (alice.clone / "notes.txt").read_text() == "untracked\n"
    assert not (alice.clone / "metadata" / "root.json").exists()


def test_no_push_keeps_the_event_local(world: World) -> None:
    alice = world.user("alice")
    result = init_repo(world, alice, "--no-push")
    assert result.exit_code == 0, out(result)
    assert "Saved as local branch sign/init" in result.output
    assert git(world.origin, "branch", "--list", "sign/init") == ""
    assert git(alice.clone, "show", "sign/init:metadata/root.json").startswith("{")


def test_delegated_role_is_created_and_signed(world: World) -> None:
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")

    result = alice.tufrepo("delegate", "sign/releases", "releases", "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    assert " * releases: new delegation\n * releases: key added: @alice" in result.output
    assert " * releases: threshold 1\n * releases: path added: 'releases/*'\n" in result.output

    code, status = world.status("sign/releases")
    assert code == 0, status
    assert [r["role"] for r in status["roles"]] == ["targets", "releases"]
    targets = metadata(world.ci, "HEAD", "targets")["signed"]
    role = targets["delegations"]["roles"][0]
    assert role["name"] == "releases"
    assert role["paths"] == ["releases/*", "releases/*/*", "releases/*/*/*", "releases/*/*/*/*"]
    assert role["terminating"] is True
    assert targets["version"] == 2
    assert metadata(world.ci, "HEAD", "releases")["signed"]["version"] == 1


def test_multi_user_signing_with_invite_and_threshold_two(world: World) -> None:
    alice = world.user("alice")
    bob = world.user("bob", handle="@BOB")
    result = init_repo(
        world, alice, "--signer", "targets=@alice", "--signer", "targets=@Bob",
        "--threshold", "targets=2",
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert "Invited @bob to sign targets" in result.output

    code, status = world.status("sign/init")
    assert code == 3
    root = next(r for r in status["roles"] if r["role"] == "root")
    assert root["invites"] == ["@bob"]

    result = bob.sign("sign/init")
    assert result.exit_code == 0, out(result)
    assert "You have been invited to sign targets." in result.output
    code, status = world.status("sign/init")
    assert code == 3  # root changed (bob's key) and needs alice again
    roles = {r["role"]: r for r in status["roles"]}
    assert roles["root"]["signers"]["missing"] == ["@alice"]
    # alice's signature over the unchanged targets payload still counts
    assert roles["targets"]["signers"]["signed"] == ["@alice", "@bob"]

    assert alice.sign("sign/init").exit_code == 0
    code, status = world.status("sign/init")
    assert code == 0, status
    targets = metadata(world.ci, "HEAD", "targets")
    assert len([s for s in targets["signatures"] if s["sig"]]) == 2


def test_artifact_changes_invalidate_earlier_signatures(world: World) -> None:
    alice = world.user("alice")
    bob = world.user("bob")
    init_repo(
        world, alice, "--signer", "targets=@alice", "--signer", "targets=@bob",
        "--threshold", "targets=2",
    )  # fmt: skip
    assert bob.sign("sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    world.merge("sign/init")

    alice.push_files(
        "sign/new-targets", {"targets/file1.txt": "hello\n", "targets/file2.txt": "world\n"}
    )

    result = world.ci_run("--json", "update-targets", "--push", event="sign/new-targets")
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[0])["roles"] == ["targets"]
    git(alice.clone, "switch", "-q", "main")
    assert alice.sign("sign/new-targets").exit_code == 0
    code, status = world.status("sign/new-targets")
    assert code == 3
    assert status["roles"][0]["artifacts"] == [
        {"path": "file1.txt", "change": "added"},
        {"path": "file2.txt", "change": "added"},
    ]

    git(bob.clone, "fetch", "-q")
    git(bob.clone, "switch", "-q", "-c", "sign/new-targets", "origin/sign/new-targets")
    (bob.clone / "targets" / "file1.txt").write_text("hello again\n")
    (bob.clone / "targets" / "file2.txt").unlink()
    git(bob.clone, "commit", "-q", "-a", "-m", "Change files")
    git(bob.clone, "push", "-q", "origin", "sign/new-targets")
    assert world.ci_run("update-targets", "--push", event="sign/new-targets").exit_code == 0
    git(bob.clone, "switch", "-q", "main")
    assert bob.sign("sign/new-targets").exit_code == 0

    code, status = world.status("sign/new-targets")
    assert code == 3, "alice's signature is over the old content and must not count"
    assert status["roles"][0]["signers"]["missing"] == ["@alice"]
    assert alice.sign("sign/new-targets").exit_code == 0
    code, status = world.status("sign/new-targets")
    assert code == 0, status
    targets = metadata(world.ci, "HEAD", "targets")["signed"]
    assert targets["version"] == 2
    assert list(targets["targets"]) == ["file1.txt"]
    assert targets["targets"]["file1.txt"]["length"] == 12


def test_artifacts_deep_in_a_delegated_role(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    assert alice.tufrepo("delegate", "sign/deleg", "delegated").exit_code == 0
    git(alice.clone, "fetch", "-q")
    git(alice.clone, "switch", "-q", "-c", "sign/deleg", "origin/sign/deleg")
    deep = alice.clone / "targets" / "delegated" / "1" / "2" / "3"
    deep.mkdir(parents=True)
    (alice.clone / "targets" / "delegated" / "file1.txt").write_text("one\n")
    (deep / "file2.txt").write_text("two\n")
    (deep / "4").mkdir()
    (deep / "4" / "too-deep.txt").write_text("three\n")
    git(alice.clone, "add", "targets")
    git(alice.clone, "commit", "-q", "-m", "artifacts")
    git(alice.clone, "push", "-q", "origin", "sign/deleg")
    git(alice.clone, "switch", "-q", "main")

    result = world.ci_run("--json", "update-targets", "--push", event="sign/deleg")
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[0])["roles"] == ["targets", "delegated"]
    delegated = metadata(world.ci, "HEAD", "delegated")["signed"]["targets"]
    assert sorted(delegated) == ["delegated/1/2/3/file2.txt", "delegated/file1.txt"]
    # Deeper than the delegation's patterns: owned by the top-level role, never ignored.
    assert list(metadata(world.ci, "HEAD", "targets")["signed"]["targets"]) == [
        "delegated/1/2/3/4/too-deep.txt"
    ]
    assert alice.sign("sign/deleg").exit_code == 0
    assert world.status("sign/deleg")[0] == 0


def test_root_rotation_needs_old_and_new_thresholds(world: World) -> None:
    alice = world.user("alice")
    bob = world.user("bob")
    init_repo(world, alice)
    world.merge("sign/init")

    result = alice.tufrepo("delegate", "sign/rotate", "root", "--signer", "@bob")
    assert result.exit_code == 0, out(result)
    assert "Invited @bob to sign root" in result.output
    code, status = world.status("sign/rotate")
    assert code == 3
    assert status["roles"][0]["invites"] == ["@bob"]

    assert bob.sign("sign/rotate").exit_code == 0
    code, status = world.status("sign/rotate")
    assert code == 3
    root = status["roles"][0]
    assert root["signers"]["signed"] == ["@bob"]
    assert root["known_good_signers"] == {
        "missing": ["@alice"],
        "signed": [],
        "threshold": 1,
        "invalid": [],
    }

    result = alice.sign("sign/rotate")
    assert result.exit_code == 0, out(result)
    code, status = world.status("sign/rotate")
    assert code == 0, status
    root_md = metadata(world.ci, "HEAD", "root")
    keys = root_md["signed"]["keys"]
    assert [
        keys[k]["x-tuf-on-ci-keyowner"] for k in root_md["signed"]["roles"]["root"]["keyids"]
    ] == ["@bob"]
    assert len([s for s in root_md["signatures"] if s["sig"]]) == 2
    assert root_md["signed"]["version"] == 2


def test_non_signer_changes_timestamp_expiry(world: World) -> None:
    alice = world.user("alice")
    bob = world.user("bob")
    init_repo(world, alice)
    world.merge("sign/init")

    result = bob.tufrepo(
        "delegate", "sign/timestamp", "timestamp", "--expiry", "5", "--signing-period", "4"
    )
    assert result.exit_code == 0, out(result)
    assert "Signed" not in result.output
    code, status = world.status("sign/timestamp")
    assert code == 3
    assert status["roles"][0]["signers"]["missing"] == ["@alice"]
    assert alice.sign("sign/timestamp").exit_code == 0
    assert world.status("sign/timestamp")[0] == 0
    roles = metadata(world.ci, "HEAD", "root")["signed"]["roles"]
    assert roles["timestamp"]["x-tuf-on-ci-expiry-period"] == 5
    assert roles["timestamp"]["x-tuf-on-ci-signing-period"] == 4


def test_delegate_changes_several_roles_in_one_event(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    result = alice.tufrepo(
        "delegate", "sign/two", "--role", "apps", "--role", "docs", "--key", alice.key_uri
    )
    assert result.exit_code == 0, out(result)
    assert "Signed targets, apps, docs as @alice." in result.output
    code, status = world.status("sign/two")
    assert code == 0, status
    assert [r["role"] for r in status["roles"]] == ["targets", "apps", "docs"]
    # running delegate again on the same event adds to it (version stays known good + 1)
    assert alice.tufrepo("delegate", "sign/two", "tools", "--key", alice.key_uri).exit_code == 0
    assert metadata(world.ci, "origin/sign/two", "targets")["signed"]["version"] == 2
    assert world.status("sign/two")[0] == 0
