"""Target paths are URL paths: the ones clients would fetch from another URL are refused early.

python-tuf and tuf-js build a download URL as ``base + path`` and only
percent-encode what a URL cannot hold (spaces, non-ASCII), which servers
decode back; ``#``, ``?`` and ``%`` keep their URL meaning, so
``dir/%2e%2e/app.json`` is fetched as ``app.json`` one level up.  Such paths
are refused by ``status`` (finding ``unsafe-target-path``) and ``open-event``
(exit 4) before anyone signs them, not discovered at publish; ordinary
names with spaces and Unicode letters stay allowed (both clients download
them: tests/test_publish.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import World, git, init_repo, out, run

from tufrepo.core.artifacts import check_target_path
from tufrepo.errors import RejectedError

URL_HOSTILE = [
    ("dir/%2e%2e/app.json", "contains '#', '?' or '%', which change the URL clients download"),
    ("app%20v1.json", "contains '#', '?' or '%', which change the URL clients download"),
    ("app.json#frag", "contains '#', '?' or '%', which change the URL clients download"),
    ("app.json?v=1", "contains '#', '?' or '%', which change the URL clients download"),
    ("app.json ", "has a segment that starts or ends with whitespace"),
    (" dir/app.json", "has a segment that starts or ends with whitespace"),
    ("dir /app.json", "has a segment that starts or ends with whitespace"),
    ("a\u00a0b.json", "contains whitespace other than a plain space"),
    ("a\u2028b.json", "contains whitespace other than a plain space"),
    ("a\tb.json", "contains control characters"),
    ("a\u200bb.json", "contains control characters"),  # zero-width space: a format character
]


@pytest.mark.parametrize(("path", "problem"), URL_HOSTILE)
def test_url_hostile_paths_are_refused(path: str, problem: str) -> None:
    with pytest.raises(RejectedError) as e:
        check_target_path(path)
    assert str(e.value) == f"target path {path!r} {problem}"


@pytest.mark.parametrize(
    "path",
    ["my docs/na\u00efve file.json", "\u65e5\u672c/\u30ea\u30ea\u30fc\u30b9.tar.gz",
     "app/v1.0+build.1@x~y.json", "a b/c d.txt", "[1]/(x)=y,z;!$&'*.json"],
)  # fmt: skip
def test_ordinary_names_stay_allowed(path: str) -> None:
    assert check_target_path(path) == path


def test_status_refuses_a_url_hostile_artifact_on_an_event(world: World) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    alice.push_files("sign/evil", {"targets/dir/%2e%2e/app.json": "{}\n"})
    code, status = world.status("sign/evil")
    assert code == 4, status
    findings = [f for f in status["findings"] if f["code"] == "unsafe-target-path"]
    assert findings, status["findings"]
    assert (
        "target path 'dir/%2e%2e/app.json' contains '#', '?' or '%', which change the URL "
        "clients download"
    ) in findings[0]["message"]


@pytest.mark.parametrize(("target", "problem"), [URL_HOSTILE[0], URL_HOSTILE[2], URL_HOSTILE[4]])
def test_open_event_refuses_url_hostile_paths(
    world: World, tmp_path: Path, target: str, problem: str
) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    src = tmp_path / "x.json"
    src.write_text("{}")
    result = run("open-event", "sign/evil", "--remote", f"file://{world.origin}",
                 "--add", f"{src}={target}", now=world.now)  # fmt: skip
    assert result.exit_code == 4, out(result)
    assert f"error: target path {target!r} {problem}" in out(result)
    assert git(world.origin, "branch", "--list", "sign/evil") == ""
