"""`repo-sign`: its own usage line, --version, tufrepo's global options, fork links (#13 item 5)."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner, Result
from conftest import NOW, User, World, git, out
from test_safety import before_first_push, two_signer_event

from tufrepo import __version__
from tufrepo.cli import repo_sign_command, sign_main

EVENT = "sign/files"


def repo_sign(*args: str) -> Result:
    return CliRunner().invoke(repo_sign_command(), list(args), prog_name="repo-sign")


def test_the_entry_point_shows_its_own_usage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["repo-sign", "--help"])
    with pytest.raises(SystemExit) as done:
        sign_main()
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith("Usage: repo-sign [OPTIONS] EVENT\n")
    for option in ("-C, --repo DIR", "--json", "-v, --verbose", "--now ISO8601", "--key URI"):
        assert option in help_text
    assert "repo-sign sign" not in help_text

    monkeypatch.setattr(sys, "argv", ["repo-sign"])
    with pytest.raises(SystemExit) as done:
        sign_main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: repo-sign [OPTIONS] EVENT\n")
    assert "Missing argument 'EVENT'" in err


def test_version() -> None:
    result = repo_sign("--version")
    assert result.exit_code == 0
    assert result.output == f"repo-sign, version {__version__}\n"


def test_global_options_before_the_event(world: World) -> None:
    alice, _ = two_signer_event(world)
    result = repo_sign(
        "-C", str(alice.clone), "--json", "--now", NOW.isoformat(), "--no-color",
        EVENT, "--key", alice.key_uri,
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    data = json.loads(result.stdout)
    assert data["signed"] == ["targets"]
    assert data["pushed"] is True
    assert "review_url" not in data  # pushed to the pull remote: no fork, no link
    assert "Signed targets as @alice." in result.stderr  # --json: human output on stderr
    assert data["commit"] == git(world.origin, "rev-parse", EVENT)


def test_a_mistyped_event_exits_5(world: World) -> None:
    alice, _ = two_signer_event(world)
    result = repo_sign("-C", str(alice.clone), "--json", "sign/flies", "--key", alice.key_uri)
    assert result.exit_code == 5, out(result)
    assert "error: there is no signing event sign/flies on origin" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 5


def test_a_usage_error_still_gives_one_json_document() -> None:
    result = repo_sign("--json", "--no-such-option", "sign/x")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["exit_code"] == 2


def _github_remotes(world: World, user: User) -> str:
    """origin is github.com/org/tuf-repo, `fork` github.com/<user>/tuf-repo (both local bare repos)."""
    fork = world.root / f"{user.name}-fork.git"
    git(world.root, "clone", "-q", "--bare", str(world.origin), str(fork))
    upstream_url = "https://github.com/org/tuf-repo.git"
    fork_url = f"https://github.com/{user.name}/tuf-repo.git"
    git(user.clone, "remote", "set-url", "origin", upstream_url)
    git(user.clone, "remote", "add", "fork", fork_url)
    git(user.clone, "config", f"url.{world.origin}.insteadOf", upstream_url)
    git(user.clone, "config", f"url.{fork}.insteadOf", fork_url)
    (user.clone / ".tuf-on-ci-sign.ini").write_text(
        f"[settings]\nuser-name = @{user.name}\npull-remote = origin\npush-remote = fork\n"
    )
    return str(fork)


def test_after_pushing_to_a_fork_the_pull_request_page_is_shown(world: World) -> None:
    alice, _ = two_signer_event(world)
    fork = _github_remotes(world, alice)
    upstream_tip = git(world.origin, "rev-parse", EVENT)

    result = repo_sign("-C", str(alice.clone), EVENT, "--key", alice.key_uri)

    assert result.exit_code == 0, out(result)
    url = "https://github.com/org/tuf-repo/compare/main...alice:sign/files"
    assert result.stdout.splitlines()[-2:] == [
        "Pushed to fork/sign/files.",
        f"Open a pull request for {EVENT}: {url}",
    ]
    assert git(world.origin, "rev-parse", EVENT) == upstream_tip  # upstream untouched
    assert git(world.root, "--git-dir", fork, "rev-parse", f"{EVENT}~1") == upstream_tip


def test_a_stale_copy_of_the_event_on_the_fork_is_replaced(world: World) -> None:
    # The fork still holds an older copy of the event (an earlier signature,
    # merged upstream since, or superseded): signing replaces it rather than
    # failing on a push that can never fast-forward.
    alice, _ = two_signer_event(world)
    fork = _github_remotes(world, alice)
    stale = world.root / "stale"
    git(world.root, "clone", "-q", "-b", EVENT, fork, str(stale))
    git(stale, "commit", "-q", "--allow-empty", "-m", "an older signature")
    git(stale, "push", "-q", "origin", EVENT)
    upstream_tip = git(world.origin, "rev-parse", EVENT)

    result = repo_sign("-C", str(alice.clone), EVENT, "--key", alice.key_uri)

    assert result.exit_code == 0, out(result)
    assert git(world.root, "--git-dir", fork, "rev-parse", f"{EVENT}~1") == upstream_tip
    assert git(world.origin, "rev-parse", EVENT) == upstream_tip  # upstream never forced


def test_the_pull_request_page_is_in_the_json_result(world: World) -> None:
    alice, _ = two_signer_event(world)
    _github_remotes(world, alice)
    result = repo_sign("-C", str(alice.clone), "--json", EVENT, "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    data = json.loads(result.stdout)
    assert data["review_url"] == "https://github.com/org/tuf-repo/compare/main...alice:sign/files"
    assert data["pushed"] is True


@pytest.mark.parametrize("spelling", ["same", "file-url", "trailing-slash"])
def test_another_name_for_the_pull_remote_is_never_force_pushed(
    world: World, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    # Accident (#13 red team): push-remote names the pull remote's repository
    # under another spelling; a force push would drop bob's concurrent signature.
    alice, bob = two_signer_event(world)
    url = {
        "same": str(world.origin),
        "file-url": f"file://{world.origin}",
        "trailing-slash": f"{world.origin}/",
    }[spelling]
    git(alice.clone, "remote", "add", "upstream", url)
    (alice.clone / ".tuf-on-ci-sign.ini").write_text(
        "[settings]\nuser-name = @alice\npull-remote = origin\npush-remote = upstream\n"
    )
    before_first_push(monkeypatch, lambda: bob.sign(EVENT))
    result = alice.sign(EVENT)
    assert result.exit_code == 0, out(result)
    code, status = world.status(EVENT)
    assert code == 0, status
    assert sorted(status["roles"][0]["signers"]["signed"]) == ["@alice", "@bob"]
