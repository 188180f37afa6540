"""Bad input: one `error:` line, a hint, the documented exit code, nothing pushed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import World, git, init_repo, out, run


def assert_error(result: object, code: int, message: str) -> None:
    text = out(result)  # type: ignore[arg-type]
    assert result.exit_code == code, text  # type: ignore[attr-defined]
    assert f"error: {message}" in text
    assert "internal error" not in text  # the CLI reports a bug as one, never a traceback


def remote_branches(world: World) -> str:
    return git(world.origin, "branch", "--list", "sign/*")


def test_not_a_git_repository(tmp_path: Path) -> None:
    result = run("-C", str(tmp_path), "status")
    assert_error(result, 5, f"{tmp_path} is not inside a git repository")
    assert "hint: run the command inside a clone" in out(result)


def test_no_settings_file(world: World) -> None:
    alice = world.user("alice")
    (alice.clone / ".tuf-on-ci-sign.ini").unlink()
    result = init_repo(world, alice)
    assert_error(result, 2, "no signer settings file .tuf-on-ci-sign.ini")
    assert "hint: create .tuf-on-ci-sign.ini" in out(result)
    assert remote_branches(world) == ""


def test_settings_without_user_name(world: World) -> None:
    alice = world.user("alice")
    (alice.clone / ".tuf-on-ci-sign.ini").write_text("[settings]\npull-remote = origin\n")
    assert_error(init_repo(world, alice), 2, ".tuf-on-ci-sign.ini has no user-name")


@pytest.mark.parametrize(
    "content",
    [b"user-name = @alice\n", b"[settings]\nuser-name = @a\nuser-name = @b\n", b"\xff\xfe["],
    ids=["no-section-header", "duplicate-option", "not-utf8"],
)
def test_garbled_settings_file_is_a_usage_error(world: World, content: bytes) -> None:
    """The signer's own setup is wrong, not the repository: exit 2 (DESIGN §5), nothing pushed."""
    alice = world.user("alice")
    (alice.clone / ".tuf-on-ci-sign.ini").write_bytes(content)
    result = init_repo(world, alice)
    assert_error(result, 2, ".tuf-on-ci-sign.ini is not a valid settings file")
    assert "hint: fix or recreate .tuf-on-ci-sign.ini" in out(result)
    assert remote_branches(world) == ""


def test_status_on_main_names_verify(world: World) -> None:
    """main is no signing event: status refuses it as a usage error and names `tufrepo verify`."""
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    result = world.ci_run("status")
    assert_error(result, 2, "status judges a signing event (a sign/* branch)")
    assert "hint: check main with `tufrepo verify`" in out(result)
    git(world.ci, "checkout", "-q", "--detach", "origin/main")
    detached = run("-C", str(world.ci), "--json", "status")
    assert detached.exit_code == 2
    assert json.loads(detached.stdout)["exit_code"] == 2
    # an event without commits of its own is still an event: it waits for changes
    git(world.ci, "checkout", "-q", "-b", "sign/empty", "origin/main")
    assert run("-C", str(world.ci), "status").exit_code == 3


def test_missing_remote(world: World) -> None:
    alice = world.user("alice")
    (alice.clone / ".tuf-on-ci-sign.ini").write_text(
        "[settings]\nuser-name = @alice\npull-remote = upstream\n"
    )
    assert_error(init_repo(world, alice), 5, "git remote 'upstream' is not configured")


def test_push_refused_leaves_nothing_behind(world: World) -> None:
    alice = world.user("alice")
    hook = world.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are closed' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    result = init_repo(world, alice)
    assert_error(result, 5, "push of sign/init to origin failed")
    assert "pushes are closed" in out(result)
    assert remote_branches(world) == ""
    assert git(alice.clone, "branch", "--list", "sign/init") == ""


def test_push_refused_because_the_event_moved(world: World) -> None:
    alice = world.user("alice")
    bob = world.user("bob")
    assert init_repo(world, alice, "--no-push").exit_code == 0
    assert init_repo(world, bob).exit_code == 0  # bob's event lands first
    git(alice.clone, "fetch", "-q")
    # alice's local event diverged from the remote one
    result = alice.sign("sign/init")
    assert_error(result, 5, "local branch sign/init and origin/sign/init have diverged")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--signer", "snapshots=@bob"), "--signer: unknown role 'snapshots'"),
        (("--signer", "timestamp=@bob"), "--signer: unknown role 'timestamp'"),
        (
            ("--threshold", "root=0"),
            "threshold 0 for root must be between 1 and the number of signers (1)",
        ),
        (
            ("--threshold", "root=2"),
            "threshold 2 for root must be between 1 and the number of signers (1)",
        ),
        (("--signer", "root=not a handle"), "'not a handle' is not a valid signer handle"),
        (
            ("--expiry", "root=10", "--signing-period", "root=10"),
            "root: signing period 10 must be at least 1 and shorter",
        ),
    ],
)
def test_init_rejects_bad_options(world: World, args: tuple[str, ...], message: str) -> None:
    alice = world.user("alice")
    assert_error(init_repo(world, alice, *args), 2, message)
    assert remote_branches(world) == ""


def test_bad_event_name(world: World) -> None:
    alice = world.user("alice")
    result = init_repo(world, alice, event="init")
    assert_error(result, 2, "'init' is not a signing-event branch name")
    assert "hint: signing events are branches named sign/<something>" in out(result)


def test_init_twice_is_rejected(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    assert_error(
        init_repo(world, alice, event="sign/again"), 4, "this repository is already initialised"
    )


@pytest.mark.parametrize("role", ["../evil", "a/b", ".hidden", "root.json/.."])
def test_delegate_rejects_unsafe_role_names(world: World, role: str) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    result = alice.tufrepo("delegate", "sign/x", role, "--key", alice.key_uri)
    assert_error(result, 2, f"'{role}' is not a valid role name")
    assert remote_branches(world) == "sign/init"


def test_delegate_threshold_above_signers(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    result = alice.tufrepo("delegate", "sign/x", "targets", "--threshold", "3")
    assert_error(
        result, 2, "threshold 3 for targets must be between 1 and the number of signers (1)"
    )


def test_signing_with_a_key_that_does_not_match(world: World) -> None:
    alice = world.user("alice")
    bob = world.user("bob")
    init_repo(world, alice, "--no-push")
    git(alice.clone, "push", "-q", "origin", "sign/init")
    git(alice.clone, "branch", "-q", "-D", "sign/init")
    before = git(world.origin, "rev-parse", "sign/init")
    # invalidate alice's signature so she owes one, then sign with bob's key
    assert alice.tufrepo("delegate", "sign/init", "targets", "--expiry", "100").exit_code == 0
    moved = git(world.origin, "rev-parse", "sign/init")
    assert moved != before
    result = alice.tufrepo("sign", "sign/init", "--key", bob.key_uri)
    assert_error(result, 6, f"the key at {bob.key_uri} is not the key")
    assert git(world.origin, "rev-parse", "sign/init") == moved


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "metadata/targets.json: not valid TUF metadata"),
        (b"[]", "metadata/targets.json: not valid TUF metadata"),
        (
            b'{"signed": {"_type": "targets"}, "signatures": []}',
            "metadata/targets.json: not valid TUF metadata",
        ),
        (None, "metadata/targets.json: expected targets metadata, found root"),
        (b"{" * 100000, "metadata/targets.json: not valid TUF metadata"),
    ],
)
def test_malformed_metadata_is_rejected(world: World, content: bytes | None, message: str) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    root = git(world.origin, "show", "main:metadata/root.json")
    alice.push_files(
        "sign/bad", {"metadata/targets.json": content if content is not None else root}
    )

    code, status = world.status("sign/bad")
    assert code == 4
    assert any(message in f["message"] for f in status["findings"]), status
    result = alice.sign("sign/bad")
    assert_error(result, 4, message)


def test_status_json_is_one_object(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    result = world.ci_run("--json", "status", event="sign/init")
    assert json.loads(result.stdout.splitlines()[0])["state"] == "ready"
    assert result.exit_code == 0


def test_results_go_to_github_output_and_step_summary(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    output, summary = tmp_path / "output", tmp_path / "summary"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = world.ci_run("status", event="sign/init")
    assert result.exit_code == 0
    lines = output.read_text().splitlines()
    assert "state=ready" in lines
    assert "event=sign/init" in lines
    assert summary.read_text().startswith("### Signing event status")
    # "changed or not" is in the output, never in the exit code
    result = world.ci_run("update-targets", event="sign/init")
    assert result.exit_code == 0
    assert "changed=false" in output.read_text().splitlines()


def test_signing_an_event_that_does_not_exist_is_an_error(world: World) -> None:
    # a mistyped event used to say "Nothing to do" and exit 0
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    result = alice.sign("sign/doesnotexist")
    assert result.exit_code == 5
    assert "error: there is no signing event sign/doesnotexist on origin" in out(result)
    assert "git ls-remote --heads origin 'sign/*'" in out(result)
