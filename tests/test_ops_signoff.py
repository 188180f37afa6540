"""sign_event's retry policy against a real bare origin (issue #13 item 5).

A push can lose a race in two ways: the branch moved (non-fast-forward, the
remote says "rejected"), or the remote could not lock or update the ref
because another push to the same branch was in flight ("cannot lock ref",
"failed to update ref", "failed to lock").  Both are transient: repo-sign
fetches again, validates the new tip and carries the signatures over.

The races here are real git failures, produced by the bare origin itself: a
pre-receive hook that, on the first push only, either leaves a stale
``<ref>.lock`` file behind (git then cannot lock the ref) or lets another
signer's push land first (git then finds the ref moved under its lock).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, World, git, out
from test_safety import two_signer_event
from tuf.api.metadata import Targets

from tufrepo.checks import errors, judge_event, transition
from tufrepo.errors import GitStateError, PushRejectedError, RefLockError, TransientGitError
from tufrepo.gitrepo import GitRepo
from tufrepo.ops.handlers import Handlers, RetryPolicy
from tufrepo.ops.keys import UserSigners
from tufrepo.ops.session import open_session
from tufrepo.ops.signoff import sign_event
from tufrepo.settings import load_settings

EVENT = "sign/files"


def install_hook(origin: Path, first: str, later: str = "  :") -> Path:
    """A pre-receive hook on origin: ``first`` runs on the first push, ``later`` on the others.

    Returns the marker file the hook leaves once the first push came.
    """
    marker = origin / "hook-ran"
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "cat >/dev/null\n"
        f'if [ ! -e "{marker}" ]; then\n  touch "{marker}"\n{first}\nelse\n{later}\nfi\n'
    )
    hook.chmod(0o755)
    return marker


def signers_on(world: World, name: str) -> list[str]:
    code, status = world.status(EVENT)
    assert code in (0, 3), status
    return [s for r in status["roles"] for s in r["signers"]["signed"]]


def test_a_stale_ref_lock_is_retried_and_no_signature_is_lost(world: World) -> None:
    alice, _ = two_signer_event(world)
    lock = world.origin / "refs" / "heads" / "sign" / "files.lock"
    # git itself then fails the push: "cannot lock ref ... File exists" / "(failed to update ref)";
    # the lock is gone by the time the signer pushes again (the other push finished).
    marker = install_hook(world.origin, f'  touch "{lock}"', f'  rm -f "{lock}"')
    before = git(world.origin, "rev-parse", EVENT)

    result = alice.sign(EVENT)

    assert result.exit_code == 0, out(result)
    assert marker.exists()  # the first push really failed on the lock
    assert "warning: another push to the event was in progress" in out(result)
    assert "Pushed to origin/sign/files." in out(result)
    assert git(world.origin, "rev-parse", f"{EVENT}~1") == before
    assert signers_on(world, "alice") == ["@alice"]


def test_a_concurrent_push_landing_first_is_retried_onto_its_tip(world: World) -> None:
    alice, bob = two_signer_event(world)
    # bob signs; his commit reaches origin's object store but not the branch yet
    assert bob.sign(EVENT, "--no-push").exit_code == 0
    git(bob.clone, "push", "-q", "origin", f"{EVENT}:refs/pending/bob")
    bob_tip = git(world.origin, "rev-parse", "refs/pending/bob")
    # while alice's push is being received, bob's push lands: git finds the ref
    # moved under its lock ("cannot lock ref ... is at X but expected Y")
    marker = install_hook(
        world.origin,
        f"  env -u GIT_QUARANTINE_PATH git update-ref refs/heads/{EVENT} {bob_tip}",
    )

    result = alice.tufrepo("--json", "sign", EVENT, "--key", alice.key_uri)

    assert result.exit_code == 0, out(result)
    assert marker.exists()
    assert "warning: another push to the event was in progress" in result.stderr
    data = json.loads(result.stdout)
    assert data["pushed"] is True
    assert data["commit"] == git(world.origin, "rev-parse", EVENT)  # the commit really pushed
    assert git(world.origin, "rev-parse", f"{EVENT}~1") == bob_tip  # on top of bob's
    assert signers_on(world, "alice") == ["@alice", "@bob"]


def test_a_refused_push_that_is_no_race_is_not_retried(world: World) -> None:
    alice, _ = two_signer_event(world)
    hook = world.origin / "hooks" / "pre-receive"
    count = world.origin / "pushes"
    hook.write_text(f'#!/bin/sh\necho x >> "{count}"\necho "protected branch" >&2\nexit 1\n')
    hook.chmod(0o755)
    before = git(world.origin, "rev-parse", EVENT)

    result = alice.sign(EVENT)

    assert result.exit_code == 5, out(result)
    assert "protected branch" in out(result)
    assert count.read_text().count("x") == 1  # one push, no retry
    assert git(world.origin, "rev-parse", EVENT) == before


def test_the_retry_policy_bounds_the_attempts(world: World) -> None:
    alice, _ = two_signer_event(world)
    # every push finds the ref locked: the operation gives up after its attempts
    lock = world.origin / "refs" / "heads" / "sign" / "files.lock"
    count = world.origin / "pushes"
    hook = world.origin / "hooks" / "pre-receive"
    hook.write_text(f'#!/bin/sh\necho x >> "{count}"\ntouch "{lock}"\n')
    hook.chmod(0o755)
    warnings: list[str] = []
    with GitRepo(alice.clone) as repo:
        settings = load_settings(repo.top)
        with pytest.raises(RefLockError) as raised:
            sign_event(
                repo, EVENT, settings, UserSigners(settings, alice.key_uri), now=NOW,
                handlers=Handlers(warn=warnings.append, say=lambda _: None),
                retry=RetryPolicy(attempts=2),
            )  # fmt: skip
    assert isinstance(raised.value, TransientGitError)
    assert isinstance(raised.value, GitStateError)  # still exit 5
    assert count.read_text().count("x") == 2
    assert len(warnings) == 1


def test_push_errors_are_classified(tmp_path: Path) -> None:
    """gitrepo turns git's own lock and non-fast-forward failures into transient errors."""
    origin = tmp_path / "origin.git"
    GitRepo.init_bare(origin, branch="main")
    clones = []
    for name in ("a", "b"):
        git(tmp_path, "clone", "-q", str(origin), name)
        git(tmp_path / name, "commit", "-q", "--allow-empty", "-m", name)
        clones.append(tmp_path / name)
    with GitRepo(clones[0]) as a, GitRepo(clones[1]) as b:
        a_head, b_head = a.head(), b.head()
        assert a_head is not None
        assert b_head is not None
        a.push("origin", a_head, "main")
        with pytest.raises(PushRejectedError):
            b.push("origin", b_head, "main")
        (origin / "refs" / "heads" / "main.lock").touch()
        git(clones[0], "commit", "-q", "--allow-empty", "-m", "again")
        new_head = a.head()
        assert new_head is not None
        with pytest.raises(RefLockError, match="another push was updating it"):
            a.push("origin", new_head, "main")


def test_signing_judges_the_tree_once_and_again_after_other_edits(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # #14: a commit that only adds signatures leaves what tree_rules judges
    # (signed content, files) as it was: the pushed tip is not judged twice.
    alice, _ = two_signer_event(world)
    calls: list[str] = []
    real = getattr(transition, "tree_rules")  # noqa: B009 - the name judge_event calls

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("tree")
        return real(*args, **kwargs)

    monkeypatch.setattr(transition, "tree_rules", counting)
    assert alice.sign(EVENT).exit_code == 0
    assert calls == ["tree"]


def test_a_commit_changing_signed_content_is_judged_again(world: World) -> None:
    # Attack/mistake: anything beyond signatures (an accepted invitation, a
    # changed entry) must be judged on the tip that is pushed.
    alice, _ = two_signer_event(world)
    with GitRepo(alice.clone) as repo:
        session = open_session(
            repo, EVENT, pull_remote="origin", push_remote="origin", now=world.now
        )
        assert errors(judge_event(session.event)) == []
        assert session.event.tree_findings == []
        md = session.event.repo.open("targets")
        assert isinstance(md.signed, Targets)
        md.signed.targets["a.txt"].length += 1  # signed content changed, no new version
        session.event.repo.write("targets", md)
        session.commit("edit")
        judged_again = session.event.tree_findings is None
        assert judged_again
        assert "targets-mismatch" in {f.code for f in judge_event(session.event)}
