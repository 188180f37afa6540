"""tufrepo verify: main judged from its anchor, one line per finding."""

from __future__ import annotations

import json

from conftest import World, git, init_repo, out, run


def setup_main(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0


def verify(world: World, *args: str) -> tuple[int, set[str], str]:
    result = run("-C", str(world.ci), "--json", "verify", *args, now=world.now)
    data = json.loads(result.stdout.splitlines()[0])
    return result.exit_code, {f["code"] for f in data["findings"]}, out(result)


def test_verify_accepts_a_good_repository(world: World) -> None:
    setup_main(world)
    code, codes, text = verify(world)
    assert code == 0, text
    assert codes == set()
    assert "every rule holds" in text


def test_verify_finds_a_tampered_root_history(world: World) -> None:
    setup_main(world)
    path = world.ci / "metadata" / "root_history" / "1.root.json"
    data = json.loads(path.read_text())
    data["signed"]["expires"] = "2030-01-01T00:00:00Z"
    path.write_text(json.dumps(data))
    code, codes, text = verify(world)
    assert code == 4
    assert "root-history" in codes
    assert "metadata/root_history/1.root.json was modified or removed" in text


def test_verify_finds_a_root_history_gap(world: World) -> None:
    setup_main(world)
    history = world.ci / "metadata" / "root_history"
    (history / "1.root.json").rename(history / "2.root.json")
    code, _, text = verify(world)
    assert code == 4
    assert "root_history must hold versions 1..1, found 2..2" in text


def test_verify_finds_an_artifact_that_does_not_match(world: World) -> None:
    setup_main(world)
    (world.ci / "targets").mkdir(exist_ok=True)
    (world.ci / "targets" / "unlisted.txt").write_text("not in metadata\n")
    code, codes, text = verify(world)
    assert code == 4
    assert codes == {"targets-mismatch"}
    assert "targets/unlisted.txt is not listed in targets" in text


def test_verify_finds_a_stale_snapshot_on_main_only(world: World) -> None:
    setup_main(world)
    alice = world.users["alice"]
    assert alice.tufrepo("delegate", "sign/d", "releases", "--key", alice.key_uri).exit_code == 0
    world.merge("sign/d")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    code, codes, text = verify(world)
    assert code == 4
    assert codes == {"snapshot-stale"}
    assert "targets is v2 but snapshot lists v1 (run online-sign)" in text
    git(world.ci, "checkout", "-q", "-B", "sign/d", "origin/sign/d")
    code, codes, _ = verify(world, "--event")
    assert code == 0
    assert "snapshot-stale" not in codes


def test_verify_history_reports_the_broken_commit(world: World) -> None:
    setup_main(world)
    alice = world.users["alice"]
    assert alice.tufrepo("delegate", "sign/d", "releases", "--key", alice.key_uri).exit_code == 0
    world.merge("sign/d")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    result = run("-C", str(world.ci), "verify", "--history", now=world.now)
    assert result.exit_code == 0, out(result)
    assert "OK: main against main's history from commit" in result.output

    # someone pushes a rewritten root_history straight to main, then online-signs
    git(world.ci, "checkout", "-q", "main")
    path = world.ci / "metadata" / "root_history" / "1.root.json"
    path.write_text(path.read_text().replace('"version": 1', '"version": 1 '))
    git(world.ci, "commit", "-q", "-a", "-m", "Rewrite history")
    git(world.ci, "push", "-q", "origin", "main")
    refused = world.ci_run("online-sign", "--push")
    assert refused.exit_code == 4
    assert "root_history/1.root.json was modified or removed" in out(refused)
    result = run("-C", str(world.ci), "verify", "--history", now=world.now)
    assert result.exit_code == 4
    assert "ERROR    root-history: root: metadata/root_history/1.root.json was modified" in out(
        result
    )


def test_fast_forward_merged_events_verify_from_history(world: World) -> None:
    # tuf-on-ci's e2e tests merge events fast-forward: main then holds the
    # event's unsigned intermediate commits, which are not online-signed states
    setup_main(world)
    alice = world.users["alice"]
    assert alice.tufrepo("delegate", "sign/ff", "releases", "--key", alice.key_uri).exit_code == 0
    git(world.ci, "fetch", "-q", "origin")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    git(world.ci, "merge", "-q", "--ff-only", "origin/sign/ff")
    git(world.ci, "push", "-q", "origin", "main")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    result = run("-C", str(world.ci), "verify", "--history", now=world.now)
    assert result.exit_code == 0, out(result)
