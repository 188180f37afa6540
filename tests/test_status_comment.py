"""The status report a pull request shows: who is invited, who still owes what, one verdict.

Rendered by `tufrepo status` (Markdown for the comment, `owed` in --json);
the comment's upkeep is tested in tests/test_workflows.py.
"""

from __future__ import annotations

import json

from conftest import World, init_repo

from tufrepo.cli.status import STATUS_MARKER

VERDICTS = ("**Ready**", "**Waiting", "**The event is invalid**")


def status_of(world: World, event: str) -> tuple[int, str, list[str]]:
    markdown = world.ci / ".." / "status.md"
    result = world.ci_run("--json", "status", "--markdown", str(markdown), event=event)
    owed = json.loads(result.stdout.splitlines()[0])["owed"]
    return result.exit_code, markdown.read_text(), owed


def test_invited_signers_are_shown_as_invited(world: World) -> None:
    alice = world.user("alice")
    world.user("bob")
    init_repo(world, alice, "--signer", "root=@alice", "--signer", "root=@bob",
              "--threshold", "root=2")  # fmt: skip
    code, markdown, owed = status_of(world, "sign/init")
    assert code == 3
    assert "Delegation `root` added: @alice, @bob (invited) (2 required)." in markdown
    assert "Invited, not yet accepted: @bob (accept by running `repo-sign sign/init`)." in markdown
    assert owed == ["@bob"]
    assert "Still needed: @bob" in markdown
    assert sum(markdown.count(v) for v in VERDICTS) == 1, "one verdict line"
    assert markdown.splitlines()[-1] == f"{STATUS_MARKER} state=waiting owed=@bob -->"


def test_signers_asked_again_are_named(world: World) -> None:
    alice = world.user("alice")
    bob = world.user("bob")
    init_repo(world, alice, "--signer", "root=@alice", "--signer", "root=@bob",
              "--threshold", "root=2")  # fmt: skip
    assert bob.sign("sign/init").exit_code == 0
    # bob's key is now in root: alice's earlier root signature no longer counts
    code, markdown, owed = status_of(world, "sign/init")
    assert code == 3
    assert owed == ["@alice"]
    assert "Signatures: 1/2 (@bob)." in markdown
    assert (
        "Signatures still needed from @alice (sign by running `repo-sign sign/init`)." in markdown
    )
    assert alice.sign("sign/init").exit_code == 0
    code, markdown, owed = status_of(world, "sign/init")
    assert (code, owed) == (0, [])
    assert sum(markdown.count(v) for v in VERDICTS) == 1
    assert "**Ready**: every role is signed" in markdown
    assert "repo-sign" not in markdown, "nothing left to sign"


def test_root_rotation_counts_are_labelled(world: World) -> None:
    alice = world.user("alice")
    bob = world.user("bob")
    init_repo(world, alice)
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    rotate = alice.tufrepo("delegate", "sign/rotate", "root", "--signer", "@bob",
                           "--key", alice.key_uri)  # fmt: skip
    assert rotate.exit_code == 0, rotate.output
    assert bob.sign("sign/rotate").exit_code == 0
    code, markdown, owed = status_of(world, "sign/rotate")
    assert "Signatures: old root 0/1, new root 1/1 (@bob)" in markdown, markdown
    assert "0/1 (1/1)" not in markdown, "the unlabelled form of old"
    assert (code, owed) == (3, ["@alice"]), "the old root's signer is named"
    assert alice.sign("sign/rotate").exit_code == 0
    code, markdown, owed = status_of(world, "sign/rotate")
    assert "Signatures: old root 1/1 (@alice), new root 1/1 (@bob)" in markdown, markdown
    assert (code, owed) == (0, [])


def test_an_invalid_event_asks_nobody_to_sign(world: World) -> None:
    alice = world.user("alice")
    world.user("bob")
    init_repo(world, alice, "--signer", "root=@alice", "--signer", "root=@bob",
              "--threshold", "root=2")  # fmt: skip
    world.merge("sign/init")  # merged unsigned: main is not the point here
    alice.push_files("sign/bad", {"metadata/snapshot.json": '{"signed": {}}\n'})
    code, markdown, owed = status_of(world, "sign/bad")
    assert code == 4
    assert owed == []
    assert "repo-sign" not in markdown, "no instructions to sign an invalid event"
    assert "**The event is invalid**" in markdown
    assert sum(markdown.count(v) for v in VERDICTS) == 1
