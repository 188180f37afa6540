"""The published status page (index.html) as a real browser builds it: headless Chromium.

The page is rendered from a repository with hostile names (a target path, a
key owner and a delegation name that are markup), published by build_site, and
opened from disk.  ``--dump-dom`` prints the DOM after the page's own script
ran (or with scripts off): the assertions are on that DOM, parsed back with
tests/htmltree.py, so markup in metadata must have stayed text.  One browser
launch per group of assertions; ``.ci/run`` installs Chromium, and a missing
one fails these tests rather than skipping them.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import NOW
from htmltree import Element, parse
from repo_builder import APP, DELEGATED, README, RepoBuilder
from tuf.api.metadata import DelegatedRole

from tufrepo.core.repository import TufRepository
from tufrepo.core.store import WorktreeStore
from tufrepo.ops import site_page
from tufrepo.ops.publish import build_site

HOSTILE_PATH = "<script>alert(1)</script>"  # a directory "<script>alert(1)<" and a file "script>"
HOSTILE_OWNER = "@<img src=x onerror=alert(2)>"
HOSTILE_ROLE = "<script>alert(3)</script>"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is required for the status page tests: apt-get install -y chromium")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once with its own profile; fails the test on a crash."""
    profile = tmp_path / "chromium-profile"
    done = subprocess.run(
        [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:"},  # no desktop bus here
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published site whose metadata holds markup in a path, an owner and a role name."""
    tmp = tmp_path_factory.mktemp("status-page")
    builder = RepoBuilder.create(tmp / "repo", NOW, owners={"bob": HOSTILE_OWNER})
    builder.add_target("targets", HOSTILE_PATH, b"hostile\n")
    delegations = builder.roles["targets"].signed.delegations
    assert delegations is not None
    assert delegations.roles is not None
    keyids = delegations.roles[DELEGATED].keyids
    delegations.roles[HOSTILE_ROLE] = DelegatedRole(
        HOSTILE_ROLE, keyids, 1, terminating=True, paths=["evil/*"]
    )
    builder.write()
    store = WorktreeStore(builder.top)
    # 1.25 days on: timestamp (2 days, signing period 1 day) is in its signing period
    now = NOW + timedelta(days=1, hours=6)
    build_site(TufRepository(store, now=now), store, tmp / "site", now=now,
               source_commit="0123456789abcdef0123456789abcdef01234567")  # fmt: skip
    return tmp / "site"


def dom(tmp_path: Path, page: Path) -> Element:
    done = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "<html" in done.stdout, done.stderr[-2000:]
    return parse(done.stdout)


def role_rows(doc: Element) -> dict[str, list[str]]:
    rows = doc.find("table", cls="roles").find_all("tr")
    return {
        str(r.attrs["data-role"]): [c.text() for c in r.elements()]
        for r in rows
        if "data-role" in r.attrs
    }


def test_the_browser_builds_role_rows_and_keeps_hostile_names_as_text(
    site: Path, tmp_path: Path
) -> None:
    doc = dom(tmp_path, site / "index.html")
    rows = role_rows(doc)
    assert list(rows) == ["root", "timestamp", "snapshot", "targets", DELEGATED]
    assert rows["timestamp"][4] == "in signing period"
    assert rows["root"][4] == "valid"
    assert rows[DELEGATED][2] == f"{HOSTILE_OWNER} (1 of 1 required)"
    # the only script element is the page's own; no element came from metadata
    scripts = doc.find_all("script")
    assert len(scripts) == 1
    assert "alert" not in scripts[0].raw_text()
    assert doc.find_all("img") == []
    artifacts = doc.find("table", id="artifacts").find("tbody").find_all("tr")
    assert [r.elements()[0].text() for r in artifacts] == [HOSTILE_PATH, README, APP]
    assert f"{HOSTILE_ROLE}: paths evil/*" in doc.text()
    # the page's script ran: the search box is shown, the examples name this site
    assert "hidden" not in doc.find("input", id="filter").attrs
    urls = {e.text() for e in doc.find_all("span", cls="site-url")}
    assert urls == {site.as_uri()}


def test_the_page_works_without_javascript(site: Path, tmp_path: Path) -> None:
    # The same page with its policy allowing no script at all: the browser
    # blocks the inline script, as a browser with JavaScript off would not run it.
    page = (site / "index.html").read_text()
    allowed = re.search(r"script-src '(sha256-[^']+)'", page)
    assert allowed is not None, "the page's policy allows its script by hash only"
    copy = tmp_path / "no-script" / "index.html"
    copy.parent.mkdir()
    copy.write_text(page.replace(f"'{allowed.group(1)}'", "'none'"))
    doc = dom(tmp_path, copy)
    assert list(role_rows(doc)) == ["root", "timestamp", "snapshot", "targets", DELEGATED]
    artifacts = doc.find("table", id="artifacts").find("tbody").find_all("tr")
    assert len(artifacts) == 3
    assert "hidden" in doc.find("input", id="filter").attrs, "no search box without script"
    assert {e.text() for e in doc.find_all("span", cls="site-url")} == {"https://<this site>"}
    assert len(doc.find("ol", cls="timeline").find_all("li")) == 5


def test_a_screenshot_is_a_real_png(site: Path, tmp_path: Path) -> None:
    shot = tmp_path / "status.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1800",
             "--hide-scrollbars", (site / "index.html").as_uri())  # fmt: skip
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1800)
    assert len(data) > 20_000, "more than a blank page"


def test_a_large_repository_lists_the_first_artifacts_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#14: a page of 100,000 rows is downloaded, not read; the metadata lists every one."""
    builder = RepoBuilder.create(tmp_path / "repo", NOW)
    for i in range(3):
        builder.add_target("targets", f"many/a{i}.txt", b"%d\n" % i)
    builder.write()
    store = WorktreeStore(builder.top)
    repo = TufRepository(store, now=NOW)
    page = site_page.render_status_page(repo, NOW)
    assert "Artifacts (5)" in page  # README and APP, and three more
    assert "are listed here" not in page
    monkeypatch.setattr(site_page, "MAX_ARTIFACT_ROWS", 2)
    page = site_page.render_status_page(repo, NOW)
    assert "Artifacts (2+)" in page
    assert "The first 2 artifacts are listed here" in page
    table = page[page.index("<table id=artifacts>") :]
    assert table[: table.index("</table>")].count("<tr><td>") == 2
