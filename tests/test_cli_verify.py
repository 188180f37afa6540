"""tufrepo verify: each invariant holds on a good repository and fails when broken."""

from __future__ import annotations

import json

from conftest import World, git, init_repo, out, run


def setup_main(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0


def verify(world: World, *args: str) -> tuple[int, dict[str, bool], str]:
    result = run("-C", str(world.ci), "--json", "verify", *args, now=world.now)
    data = json.loads(result.stdout.splitlines()[0])
    return result.exit_code, {c["name"]: c["ok"] for c in data["checks"]}, out(result)


def test_verify_accepts_a_good_repository(world: World) -> None:
    setup_main(world)
    code, checks, text = verify(world)
    assert code == 0, text
    assert all(checks.values())
    assert "snapshot lists the current targets versions" in checks
    assert "OK   root chain in root_history verifies from version 1: 1 version(s)" in text


def test_verify_finds_a_tampered_root_history(world: World) -> None:
    setup_main(world)
    path = world.ci / "metadata" / "root_history" / "1.root.json"
    data = json.loads(path.read_text())
    data["signed"]["expires"] = "2030-01-01T00:00:00Z"
    path.write_text(json.dumps(data))
    code, checks, text = verify(world)
    assert code == 4
    assert checks["root chain in root_history verifies from version 1"] is False
    assert "root v1 is not signed by its own threshold" in text


def test_verify_finds_a_root_history_gap(world: World) -> None:
    setup_main(world)
    history = world.ci / "metadata" / "root_history"
    (history / "1.root.json").rename(history / "2.root.json")
    code, _, text = verify(world)
    assert code == 4
    assert "root versions missing: [1]" in text


def test_verify_finds_an_artifact_that_does_not_match(world: World) -> None:
    setup_main(world)
    (world.ci / "targets").mkdir(exist_ok=True)
    (world.ci / "targets" / "unlisted.txt").write_text("not in metadata\n")
    code, checks, text = verify(world)
    assert code == 4
    assert checks["targets metadata matches the files under targets/"] is False
    assert "unlisted.txt is not in targets" in text


def test_verify_finds_a_stale_snapshot_on_main_only(world: World) -> None:
    setup_main(world)
    alice = world.users["alice"]
    assert alice.tufrepo("delegate", "sign/d", "releases", "--key", alice.key_uri).exit_code == 0
    world.merge("sign/d")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    code, checks, text = verify(world)
    assert code == 4
    assert checks["snapshot lists the current targets versions"] is False
    assert "targets (v2, snapshot lists 1)" in text
    code, checks, _ = verify(world, "--event")
    assert code == 0
    assert "snapshot lists the current targets versions" not in checks


def test_verify_history_reports_the_first_broken_commit(world: World) -> None:
    setup_main(world)
    alice = world.users["alice"]
    assert alice.tufrepo("delegate", "sign/d", "releases", "--key", alice.key_uri).exit_code == 0
    world.merge("sign/d")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    result = run("-C", str(world.ci), "verify", "--history", now=world.now)
    assert result.exit_code == 0, out(result)
    assert "OK   4 commit(s) with metadata, every invariant holds" in result.output

    # someone pushes a rewritten root_history straight to main
    git(world.ci, "checkout", "-q", "main")
    path = world.ci / "metadata" / "root_history" / "1.root.json"
    path.write_text(path.read_text().replace('"version": 1', '"version": 1 '))
    git(world.ci, "commit", "-q", "-a", "-m", "Rewrite history")
    git(world.ci, "push", "-q", "origin", "main")
    refused = world.ci_run("online-sign", "--push")
    assert refused.exit_code == 4
    assert "main fails validation: root_history/1.root.json differs from root.json" in out(refused)
    result = run("-C", str(world.ci), "verify", "--history", now=world.now)
    assert result.exit_code == 4
    assert "(Rewrite history): root chain in root_history verifies from version 1" in out(result)
