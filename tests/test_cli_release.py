"""open-event: an application's release CI opens a signing event; maintainers sign it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import World, git, init_repo, out, run
from tufjs import check_site_with_both_clients
from webserver import serve_directory

DESCRIPTOR = {
    "image": "ghcr.io/example/oci-prometheus-sd-proxy@sha256:" + "ab" * 32,
    "source_commit": "0123456789abcdef0123456789abcdef01234567",
    "tag": "v1.4.2-rc",
    "built": "2026-11-25T10:00:00Z",
}
TARGET = "oci-prometheus-sd-proxy/releases/v1.4.2-rc.json"
EVENT = "sign/release-1-4-2-rc-24290258383"


def released_repo(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0


def app_job(
    world: World, tmp: Path, content: dict[str, str] | None = None, *extra: str
) -> dict[str, object]:
    src = tmp / "release.json"
    src.write_text(json.dumps(content or DESCRIPTOR, indent=1) + "\n")
    result = run(
        "--json", "open-event", "--remote", f"file://{world.origin}",
        "--release", "1.4.2-rc", "--run-id", "24290258383", "--add", f"{src}={TARGET}", *extra,
        now=world.now,
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    data: dict[str, object] = json.loads(result.stdout.splitlines()[0])
    return data


def test_release_flow_from_an_app_job_to_a_signed_merge(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released_repo(world)
    monkeypatch.chdir(tmp_path)  # the app job runs outside any TUF checkout
    result = app_job(world, tmp_path)
    assert result["event"] == EVENT
    assert result["roles"] == ["targets"]
    git(world.ci, "fetch", "-q")
    targets = json.loads(git(world.ci, "show", f"origin/{EVENT}:metadata/targets.json"))
    assert targets["signed"]["version"] == 2
    assert [s["sig"] for s in targets["signatures"]] == [""]
    assert TARGET in targets["signed"]["targets"]

    update = world.ci_run("--json", "update-targets", "--push", event=EVENT)
    assert json.loads(update.stdout.splitlines()[0])["changed"] is False
    code, status = world.status(EVENT)
    assert code == 3
    assert status["roles"][0]["artifacts"] == [{"path": TARGET, "change": "added"}]

    alice = world.users["alice"]
    assert alice.sign(EVENT).exit_code == 0
    assert world.status(EVENT)[0] == 0
    world.merge(EVENT)
    assert world.ci_run("online-sign", "--push").exit_code == 0
    assert run("-C", str(world.ci), "verify", now=world.now).exit_code == 0
    # published, then fetched by a consumer through both clients
    site = tmp_path / "site"
    assert run("-C", str(world.ci), "publish", str(site), now=world.now).exit_code == 0
    check_site_with_both_clients(site, world.now)
    with serve_directory(site) as base:
        url = f"{base}/metadata"
        got = run("download", TARGET, "--metadata-url", url, "--root", str(site / "metadata" / "1.root.json"),
                  now=world.now)  # fmt: skip
        assert got.exit_code == 0, out(got)
        assert json.loads(got.stdout) == DESCRIPTOR


def test_rerunning_the_app_job_is_a_no_op(world: World, tmp_path: Path) -> None:
    released_repo(world)
    assert app_job(world, tmp_path)["changed"] is True
    tip = git(world.origin, "rev-parse", EVENT)
    assert app_job(world, tmp_path)["changed"] is False
    assert git(world.origin, "rev-parse", EVENT) == tip


def test_new_content_on_an_existing_event_invalidates_signatures(
    world: World, tmp_path: Path
) -> None:
    released_repo(world)
    app_job(world, tmp_path)
    alice = world.users["alice"]
    assert alice.sign(EVENT).exit_code == 0
    assert world.status(EVENT)[0] == 0
    app_job(world, tmp_path, {**DESCRIPTOR, "built": "2026-11-25T11:00:00Z"})
    code, status = world.status(EVENT)
    assert code == 3, "the earlier signature covers other content"
    assert status["roles"][0]["signers"]["missing"] == ["@alice"]


def test_a_modified_artifact_from_main_shows_as_modified(world: World, tmp_path: Path) -> None:
    released_repo(world)
    app_job(world, tmp_path)
    assert world.users["alice"].sign(EVENT).exit_code == 0
    world.merge(EVENT)
    src = tmp_path / "fixed.json"
    src.write_text('{"fixed": true}\n')
    result = run("open-event", "sign/fix", "--remote", f"file://{world.origin}",
                 "--add", f"{src}={TARGET}", now=world.now)  # fmt: skip
    assert result.exit_code == 4, "a release job must not rewrite a released file by accident"
    assert f"error: {TARGET} is already released with other content" in out(result)
    assert git(world.origin, "branch", "--list", "sign/fix") == ""
    result = run("open-event", "sign/fix", "--remote", f"file://{world.origin}", "--replace",
                 "--add", f"{src}={TARGET}", now=world.now)  # fmt: skip
    assert result.exit_code == 0, out(result)
    code, status = world.status("sign/fix")
    assert code == 3
    assert status["roles"][0]["artifacts"] == [{"path": TARGET, "change": "modified"}]


def test_a_second_release_while_the_first_is_unmerged(world: World, tmp_path: Path) -> None:
    released_repo(world)
    app_job(world, tmp_path)
    src = tmp_path / "second.json"
    src.write_text('{"tag": "v1.4.3"}\n')
    result = run("--json", "open-event", "--remote", f"file://{world.origin}", "--release", "1.4.3",
                 "--run-id", "2", "--add", f"{src}=oci-prometheus-sd-proxy/releases/v1.4.3.json",
                 now=world.now)  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[0])["event"] == "sign/release-1-4-3-2"
    assert git(world.origin, "branch", "--list", "sign/release-*").split() == [
        "sign/release-1-4-2-rc-24290258383", "sign/release-1-4-3-2",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("../escape.json", "target path '../escape.json' has an empty, '.' or '..' segment"),
        ("/etc/passwd", "target path '/etc/passwd' is absolute"),
        ("a\\b.json", "target path 'a\\\\b.json' contains a backslash"),
        ("a//b.json", "target path 'a//b.json' has an empty, '.' or '..' segment"),
        ("caf\u0065\u0301.json", "is not in Unicode normal form C"),
    ],
)
def test_open_event_refuses_escaping_paths(
    world: World, tmp_path: Path, target: str, message: str
) -> None:
    released_repo(world)
    src = tmp_path / "x.json"
    src.write_text("{}")
    result = run("open-event", "sign/evil", "--remote", f"file://{world.origin}",
                 "--add", f"{src}={target}", now=world.now)  # fmt: skip
    assert result.exit_code == 4, out(result)
    assert message in out(result)
    assert git(world.origin, "branch", "--list", "sign/evil") == ""


def test_open_event_refuses_a_symlinked_directory(world: World, tmp_path: Path) -> None:
    released_repo(world)
    alice = world.users["alice"]
    git(alice.clone, "pull", "-q", "origin", "main")
    (alice.clone / "targets").mkdir(exist_ok=True)
    (alice.clone / "targets" / "link").symlink_to("/etc")
    git(alice.clone, "add", "targets/link")
    git(alice.clone, "commit", "-q", "-m", "symlink")
    git(alice.clone, "push", "-q", "origin", "main")
    src = tmp_path / "x.json"
    src.write_text("{}")
    result = run("open-event", "sign/evil", "--remote", f"file://{world.origin}",
                 "--add", f"{src}=link/x.json", now=world.now)  # fmt: skip
    assert result.exit_code == 4, out(result)
    assert "goes through the symlink targets/link" in out(result)


def test_credentials_never_appear_in_errors(tmp_path: Path) -> None:
    src = tmp_path / "x.json"
    src.write_text("{}")
    result = run("open-event", "sign/x", "--remote", "http://bot:s3cr3t-token@127.0.0.1:9/tuf.git",
                 "--add", f"{src}=x.json")  # fmt: skip
    assert result.exit_code == 5
    assert "s3cr3t" not in out(result)
    assert "http://***@127.0.0.1:9/tuf.git" in out(result)


def test_open_event_in_a_checkout_without_push(world: World, tmp_path: Path) -> None:
    released_repo(world)
    alice = world.users["alice"]
    src = tmp_path / "x.json"
    src.write_text("{}")
    result = alice.tufrepo("open-event", "sign/local", "--add", f"{src}=x.json", "--no-push")
    assert result.exit_code == 0, out(result)
    assert "saved as local branch sign/local" in result.output
    assert git(alice.clone, "show", "sign/local:targets/x.json") == "{}"
    assert git(world.origin, "branch", "--list", "sign/local") == ""


def test_hostile_app_jobs_are_refused_or_rejected(world: World, tmp_path: Path) -> None:
    """A release job's token can push sign/* branches; what it must not get away with."""
    released_repo(world)
    alice = world.users["alice"]
    assert (
        alice.tufrepo("delegate", "sign/deleg", "other-app", "--key", alice.key_uri).exit_code == 0
    )
    world.merge("sign/deleg")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    # 1. a path outside targets/
    src = tmp_path / "x.json"
    src.write_text("{}")
    escape = run("open-event", "sign/evil-1", "--remote", f"file://{world.origin}",
                 "--add", f"{src}=../metadata/root.json", now=world.now)  # fmt: skip
    assert escape.exit_code == 4
    assert "has an empty, '.' or '..' segment" in out(escape)
    # 1b. a dotfile beside the artifact (red team: .gitattributes changes every checkout)
    dot = run("open-event", "sign/evil-1b", "--remote", f"file://{world.origin}",
              "--add", f"{src}=app/.gitattributes", now=world.now)  # fmt: skip
    assert dot.exit_code == 4
    assert "'app/.gitattributes' is a dotfile or inside a dot-directory: not an artifact" in out(
        dot
    )
    # 2. a file in another application's delegated role: status shows that role
    # changed, so its own signers (not the app's) must sign it
    other = run("--json", "open-event", "sign/evil-2", "--remote", f"file://{world.origin}",
                "--add", f"{src}=other-app/evil.json", now=world.now)  # fmt: skip
    assert json.loads(other.stdout.splitlines()[0])["roles"] == ["other-app"]
    code, status = world.status("sign/evil-2")
    assert code == 3
    assert [r["role"] for r in status["roles"]] == ["other-app"]
    # 3. metadata/root.json edited by hand on the branch: rejected by status
    attacker = tmp_path / "attacker"
    git(tmp_path, "clone", "-q", str(world.origin), str(attacker))
    git(attacker, "switch", "-q", "-c", "sign/evil-3")
    root = json.loads((attacker / "metadata" / "root.json").read_text())
    root["signed"]["roles"]["targets"]["threshold"] = 1
    root["signed"]["x-note"] = "attacker"
    (attacker / "metadata" / "root.json").write_text(json.dumps(root))
    git(attacker, "commit", "-q", "-a", "-m", "root")
    git(attacker, "push", "-q", "origin", "sign/evil-3")
    code, status = world.status("sign/evil-3")
    assert code == 4
    assert {"version-reused", "root-history"} <= {f["code"] for f in status["findings"]}
