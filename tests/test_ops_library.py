"""The operations as a library: no click, handlers injected, frozen results (issue #12)."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys

import pytest
from conftest import NOW, World, git
from test_safety import two_signer_event

from tufrepo.gitrepo import GitRepo
from tufrepo.ops.editing import RoleChange
from tufrepo.ops.expiry import bump_expiring
from tufrepo.ops.handlers import Handlers
from tufrepo.ops.keys import SignerEnv, UserSigners, online_signers
from tufrepo.ops.maintainer import OnlineKeySpec, change_delegation, init_repository
from tufrepo.ops.online import online_sign
from tufrepo.ops.opening import open_event
from tufrepo.ops.signoff import sign_event
from tufrepo.settings import load_settings

OPERATIONS = (
    "tufrepo.ops.signoff",
    "tufrepo.ops.online",
    "tufrepo.ops.expiry",
    "tufrepo.ops.maintainer",
    "tufrepo.ops.opening",
    "tufrepo.ops.keys",
)


def test_the_operations_load_without_click() -> None:
    code = f"import sys, {', '.join(OPERATIONS)}\nprint('click' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_declined_question_signs_and_pushes_nothing(world: World) -> None:
    alice, _ = two_signer_event(world)
    before = git(world.origin, "rev-parse", "sign/files")
    asked: list[str] = []

    def no(question: str) -> bool:
        asked.append(question)
        return False

    with GitRepo(alice.clone) as repo:
        settings = load_settings(repo.top)
        result = sign_event(
            repo, "sign/files", settings, UserSigners(settings, alice.key_uri), now=NOW,
            handlers=Handlers(confirm=no),
        )  # fmt: skip
    assert asked == ["Sign and push?"]
    assert result.declined
    assert (result.signed, result.pushed, result.commit) == ((), False, None)
    assert git(world.origin, "rev-parse", "sign/files") == before
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.pushed = True  # type: ignore[misc]


def test_default_handlers_log_instead_of_printing(
    world: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, _ = two_signer_event(world)
    caplog.set_level(logging.INFO, logger="tufrepo")
    with GitRepo(alice.clone) as repo:
        settings = load_settings(repo.top)
        result = sign_event(
            repo, "sign/files", settings, UserSigners(settings, alice.key_uri), now=NOW
        )
    assert result.signed == ("targets",)
    assert result.where == "origin/sign/files"
    assert "Signed targets as @alice." in caplog.messages
    assert capsys.readouterr().out == ""


def test_a_missing_key_without_anyone_to_ask_is_a_usage_error(world: World) -> None:
    alice, _ = two_signer_event(world)
    with GitRepo(alice.clone) as repo:
        settings = load_settings(repo.top)
        from tufrepo.errors import UsageError  # noqa: PLC0415

        with pytest.raises(UsageError, match="--key URI is required"):
            sign_event(repo, "sign/files", settings, UserSigners(settings), now=NOW)


def test_maintainer_operations_then_online_sign_and_bump(world: World) -> None:
    alice = world.user("alice")
    said: list[str] = []
    handlers = Handlers(say=said.append)
    with GitRepo(alice.clone) as repo:
        settings = load_settings(repo.top)
        signers = UserSigners(settings, alice.key_uri)
        created = init_repository(
            repo, "sign/init", settings=settings, signers=signers, changes={},
            online=OnlineKeySpec(world.online_uri), now=NOW, handlers=handlers,
        )  # fmt: skip
        assert created.signed == ("root", "targets")
        assert created.where == "origin/sign/init"
        assert created.commit == git(world.origin, "rev-parse", "sign/init")
        assert "Created root and targets." in said
        world.merge("sign/init")

        delegated = change_delegation(
            repo, "sign/deleg", ["releases"], RoleChange(signers=["@alice", "@bob"]),
            settings=settings, signers=signers, now=NOW, handlers=handlers,
        )  # fmt: skip
        assert delegated.changed
        assert delegated.invited == {"@bob": ["releases"]}
        again = change_delegation(
            repo, "sign/deleg", ["releases"], RoleChange(signers=["@alice", "@bob"]),
            settings=settings, signers=signers, now=NOW, handlers=handlers,
        )  # fmt: skip
        assert not again.changed
        assert again.commit is None

        opened = open_event(
            "sign/release-1", {"app/v1.json": b"{}\n"}, [], git=repo, now=NOW, handlers=handlers
        )
        assert opened.changed
        assert opened.roles == ("targets",)
        assert opened.commit == git(world.origin, "rev-parse", "sign/release-1")

    with GitRepo(world.ci) as ci:
        git(world.ci, "fetch", "-q", "origin")
        git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
        signed = online_sign(
            ci, now=NOW, signer_for=online_signers(SignerEnv()), push=True, handlers=handlers
        )
        assert signed.signed == ("snapshot", "timestamp")
        assert signed.commit == git(world.origin, "rev-parse", "main")
        assert (
            online_sign(ci, now=NOW, signer_for=online_signers(), handlers=handlers).signed == ()
        )
        bumped = bump_expiring(ci, "origin", NOW.replace(year=NOW.year + 2), push=True)
        assert bumped.events
        assert bumped.events[0].startswith("sign/root-v2")
