"""`open-event --release TAG`: the event branch a release gets (a tag's leading `v` dropped)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import World, git, init_repo, out, run

from tufrepo.errors import UsageError
from tufrepo.ops.release import release_event_name


@pytest.mark.parametrize(
    ("version", "branch"),
    [
        ("v1.4.2-rc", "sign/release-1-4-2-rc-7"),
        ("1.4.2-rc", "sign/release-1-4-2-rc-7"),
        ("V2.0", "sign/release-2-0-7"),
        ("vendor-1.0", "sign/release-vendor-1-0-7"),  # a word, not a tag's v
        ("v", "sign/release-v-7"),
    ],
)
def test_release_event_name(version: str, branch: str) -> None:
    assert release_event_name(version, "7") == branch


def test_release_event_name_refuses_branch_unsafe_versions() -> None:
    with pytest.raises(UsageError):
        release_event_name("v1..2/../x", "7")


def test_open_event_with_a_v_tag(world: World, tmp_path: Path) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    src = tmp_path / "release.json"
    src.write_text('{"tag": "v1.4.2-rc"}\n')
    result = run("--json", "open-event", "--remote", f"file://{world.origin}",
                 "--release", "v1.4.2-rc", "--run-id", "24290258383",
                 "--add", f"{src}=app/releases/v1.4.2-rc.json", now=world.now)  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[0])["event"] == (
        "sign/release-1-4-2-rc-24290258383"
    )
    assert "sign/release-1-4-2-rc-24290258383" in git(world.origin, "branch", "--list")
