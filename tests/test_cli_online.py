"""online-sign and bump-expiring on main, with time moved through --now."""

from __future__ import annotations

import json
from typing import Any

from conftest import World, day, git, init_repo, out, run


def md(world: World, role: str, ref: str = "origin/main") -> dict[str, Any]:
    git(world.ci, "fetch", "-q")
    data: dict[str, Any] = json.loads(git(world.ci, "show", f"{ref}:metadata/{role}.json"))
    return data


def online_sign(world: World, *args: str) -> tuple[int, dict[str, Any]]:
    result = world.ci_run("--json", "online-sign", "--push", *args)
    assert result.exit_code in (0, 4), out(result)
    return result.exit_code, json.loads(
        result.stdout.splitlines()[0]
    ) if result.exit_code == 0 else {}


def test_first_online_sign_and_a_no_op_second_run(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    code, result = online_sign(world)
    assert code == 0
    assert result["signed"] == ["snapshot", "timestamp"]
    snapshot = md(world, "snapshot")["signed"]
    assert snapshot["version"] == 1
    assert snapshot["meta"] == {"targets.json": {"version": 1}}
    assert snapshot["expires"] == day(365)
    timestamp = md(world, "timestamp")["signed"]
    assert timestamp["expires"] == day(2)
    assert timestamp["meta"] == {"snapshot.json": {"version": 1}}

    code, result = online_sign(world)
    assert code == 0
    assert result == {"signed": [], "snapshot": None, "timestamp": None}


def test_online_roles_are_refreshed_in_their_signing_periods(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice, "--expiry", "snapshot=10", "--signing-period", "snapshot=4")
    world.merge("sign/init")
    online_sign(world)
    world.tick(11)
    assert online_sign(world)[1]["signed"] == ["snapshot", "timestamp"]
    assert md(world, "snapshot")["signed"]["version"] == 2
    assert md(world, "snapshot")["signed"]["expires"] == day(11 + 10)
    world.tick(2)
    assert online_sign(world)[1]["signed"] == ["timestamp"]
    assert md(world, "timestamp")["signed"]["version"] == 3
    assert md(world, "timestamp")["signed"]["expires"] == day(13 + 2)
    assert md(world, "snapshot")["signed"]["version"] == 2


def test_a_merged_targets_change_gets_a_new_snapshot(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    online_sign(world)
    assert (
        alice.tufrepo("delegate", "sign/deleg", "releases", "--key", alice.key_uri).exit_code == 0
    )
    world.merge("sign/deleg")
    assert online_sign(world)[1]["signed"] == ["snapshot", "timestamp"]
    assert md(world, "snapshot")["signed"]["meta"] == {
        "releases.json": {"version": 1},
        "targets.json": {"version": 2},
    }


def test_online_sign_refuses_an_unsigned_targets_role_on_main(world: World) -> None:
    alice = world.user("alice")
    bob = world.user("bob")
    init_repo(world, alice)
    world.merge("sign/init")
    online_sign(world)
    # bob (not a signer) changes targets' expiry period; merged without alice's signature
    assert bob.tufrepo("delegate", "sign/sneaky", "targets", "--expiry", "100").exit_code == 0
    world.merge("sign/sneaky")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4
    assert "targets: targets is not signed by its threshold of keys" in out(result)
    assert md(world, "timestamp")["signed"]["version"] == 1


def test_online_sign_survives_a_concurrent_push_to_main(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    online_sign(world)
    world.tick(1.5)  # timestamp enters its signing period
    git(world.ci, "fetch", "-q")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    # someone else lands a commit on main after CI checked out
    git(alice.clone, "pull", "-q", "origin", "main")
    (alice.clone / "README.md").write_text("changed meanwhile\n")
    git(alice.clone, "commit", "-q", "-a", "-m", "Concurrent change")
    git(alice.clone, "push", "-q", "origin", "main")

    result = run("-C", str(world.ci), "--json", "online-sign", "--push", now=world.now)
    assert result.exit_code == 0, out(result)
    assert "origin/main moved; signing again on top of it" in out(result)
    log = git(world.ci, "log", "--format=%s", "origin/main", "-3").splitlines()
    assert log[:2] == ["Online sign (timestamp)", "Concurrent change"]
    assert md(world, "timestamp")["signed"]["version"] == 2


def test_bump_expiring_opens_events_once(world: World) -> None:
    alice = world.user("alice")
    init_repo(
        world, alice, "--expiry", "root=7", "--signing-period", "root=6",
        "--expiry", "targets=7", "--signing-period", "targets=6",
    )  # fmt: skip
    world.merge("sign/init")
    online_sign(world)
    result = world.ci_run("--json", "bump-expiring", "--push")
    assert json.loads(result.stdout.splitlines()[0]) == {"events": []}

    world.tick(2)
    result = world.ci_run("--json", "bump-expiring", "--push")
    assert result.exit_code == 0, out(result)
    # one event for both roles: their signers sign once (tuf-on-ci #230)
    event = "sign/root-v2-targets-v2"
    assert json.loads(result.stdout.splitlines()[0]) == {"events": [event]}
    result = world.ci_run("--json", "bump-expiring", "--push")
    assert json.loads(result.stdout.splitlines()[0]) == {"events": []}, "a second run is a no-op"

    assert world.status(event)[0] == 3
    result = alice.sign(event)
    assert result.exit_code == 0
    assert "Signed root, targets as @alice." in result.output
    assert world.status(event)[0] == 0
    world.merge(event)
    online_sign(world)
    assert md(world, "root")["signed"]["version"] == 2
    assert md(world, "targets")["signed"]["expires"] == day(2 + 7)
    assert md(world, "snapshot")["signed"]["meta"] == {"targets.json": {"version": 2}}
    result = world.ci_run("--json", "bump-expiring", "--push")
    assert json.loads(result.stdout.splitlines()[0]) == {"events": []}
    assert "sign/root-v3" not in git(world.origin, "branch", "--list")


def test_bump_expiring_skips_roles_with_an_open_event(world: World) -> None:
    alice = world.user("alice")
    init_repo(
        world, alice, "--expiry", "root=7", "--signing-period", "root=6",
        "--expiry", "targets=10", "--signing-period", "targets=6",
    )  # fmt: skip
    world.merge("sign/init")
    online_sign(world)
    world.tick(2)
    result = world.ci_run("--json", "bump-expiring", "--push")
    assert json.loads(result.stdout.splitlines()[0]) == {"events": ["sign/root-v2"]}
    world.tick(3)  # now targets too; root v2 is still waiting on its event
    result = world.ci_run("--json", "bump-expiring", "--push")
    assert json.loads(result.stdout.splitlines()[0]) == {"events": ["sign/targets-v2"]}
    assert "root v2 already has an open signing event." in out(result)


def test_online_sign_refuses_a_main_that_fails_validation(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    online_sign(world)
    # an artifact committed to main without going through a signing event (#343)
    git(alice.clone, "pull", "-q", "origin", "main")
    (alice.clone / "targets").mkdir(exist_ok=True)
    (alice.clone / "targets" / "smuggled.bin").write_bytes(b"\x7fELF")
    git(alice.clone, "add", "targets")
    git(alice.clone, "commit", "-q", "-m", "smuggle")
    git(alice.clone, "push", "-q", "origin", "main")
    world.tick(1.5)
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4
    assert "error: refusing to online-sign: main is not a valid successor" in out(result)
    assert "targets/smuggled.bin is not listed in targets" in out(result)
