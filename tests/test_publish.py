"""publish: the static site's layout, its index page, and every refusal that keeps OUT as it was.

The repository comes from tests/repo_builder.py (python-tuf's Metadata API,
no signing events), so each test can break exactly one thing.  Every site
published successfully here is refreshed by python-tuf's ngclient and tuf-js.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import NOW, git, run
from htmltree import Element, parse
from repo_builder import APP, APP_DATA, DELEGATED, README, README_DATA, RepoBuilder, sha256
from tuf.api.metadata import DelegatedRole
from tuf.ngclient import Updater
from tufjs import tufjs_refresh
from webserver import serve_directory

from tufrepo.client import download_target
from tufrepo.core.repository import TufRepository, serialize
from tufrepo.core.store import WorktreeStore
from tufrepo.errors import RejectedError
from tufrepo.ops.anchor import published_store
from tufrepo.ops.publish import PublishResult, build_site
from tufrepo.ops.site_page import SiteLinks, render_status_page

SITE_NAMES = sorted([
    ".tufrepo-site",
    "index.html",
    "metadata/1.delegated.json",
    "metadata/1.root.json",
    "metadata/1.snapshot.json",
    "metadata/1.targets.json",
    "metadata/index.html",
    "metadata/timestamp.json",
    f"targets/delegated/sub/{sha256(APP_DATA)}.app.json",
    f"targets/{sha256(README_DATA)}.{README}",
])  # fmt: skip


@pytest.fixture
def built(tmp_path: Path) -> RepoBuilder:
    builder = RepoBuilder.create(tmp_path / "repo", NOW)
    git(tmp_path, "init", "-q", str(builder.top))  # publish (the CLI) works on a checkout
    return builder


def publish(builder: RepoBuilder, out: Path, **options: Any) -> PublishResult:
    """The library call the CLI makes, without the CLI's validation first."""
    now = options.pop("now", NOW)
    store = WorktreeStore(builder.top)
    return build_site(TufRepository(store, now=now), store, out, now=now, **options)


def publish_cli(builder: RepoBuilder, out: Path, *args: str) -> Result:
    return run("-C", str(builder.top), "--json", "publish", str(out), *args)


def tree(site: Path) -> dict[str, bytes]:
    """Every file below ``site`` with its content."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def both_clients_accept(
    site: Path, targets: dict[str, bytes], *, metadata: str = "metadata", files: str = "targets"
) -> None:
    """ngclient and tuf-js refresh from 1.root.json and download every target in ``targets``."""
    root = site / metadata / "1.root.json"
    with serve_directory(site) as url:
        for path, data in targets.items():
            got = download_target(
                f"{url}/{metadata}", f"{url}/{files}", root.read_bytes(), path, now=NOW
            )
            assert got == data
        ok, detail = tufjs_refresh(f"{url}/{metadata}", f"{url}/{files}", root, list(targets))
    assert ok, detail
    assert isinstance(detail, dict)
    assert detail["targets"] == {path: sha256(data) for path, data in targets.items()}


def save_json(path: Path, change: Any) -> None:
    """Edit a metadata file's JSON in place, keeping its signatures (which then break)."""
    data = json.loads(path.read_bytes())
    change(data)
    path.write_text(json.dumps(data))


# --- layout ------------------------------------------------------------------------


def test_layout_has_exactly_the_consistent_snapshot_files(
    built: RepoBuilder, tmp_path: Path
) -> None:
    result = publish(built, tmp_path / "site")
    assert result == PublishResult(
        tmp_path / "site", {"snapshot": 1, "targets": 1, DELEGATED: 1}, artifacts=2, previous="new"
    )
    site = tree(tmp_path / "site")
    assert sorted(site) == SITE_NAMES
    metadata = built.top / "metadata"
    assert site["metadata/1.root.json"] == (metadata / "root_history" / "1.root.json").read_bytes()
    assert site["metadata/timestamp.json"] == (metadata / "timestamp.json").read_bytes()
    assert site[f"metadata/1.{DELEGATED}.json"] == (metadata / f"{DELEGATED}.json").read_bytes()
    assert site[f"targets/delegated/sub/{sha256(APP_DATA)}.app.json"] == APP_DATA
    both_clients_accept(tmp_path / "site", {README: README_DATA, APP: APP_DATA})


def test_names_with_spaces_and_unicode_download_with_both_clients(
    built: RepoBuilder, tmp_path: Path
) -> None:
    # both clients percent-encode them in the URL and the server decodes them back
    names = {"my docs/na\u00efve file.json": b"{}\n", "\u65e5\u672c/a b.txt": b"x\n"}
    for path, data in names.items():
        built.add_target("targets", path, data)
    built.write()
    publish(built, tmp_path / "site")
    both_clients_accept(tmp_path / "site", names)


def test_every_root_version_and_new_role_versions_are_published(
    built: RepoBuilder, tmp_path: Path
) -> None:
    built.rotate_root()
    built.roles[DELEGATED].signed.version = 2
    built.bump_online()
    built.write()
    result = publish(built, tmp_path / "site")
    assert result.roles == {"snapshot": 2, "targets": 1, DELEGATED: 2}
    names = sorted(tree(tmp_path / "site"))
    assert [n for n in names if n.startswith("metadata/")] == [  # every root, new versions
        "metadata/1.root.json",
        "metadata/1.targets.json",
        "metadata/2.delegated.json",
        "metadata/2.root.json",
        "metadata/2.snapshot.json",
        "metadata/index.html",
        "metadata/timestamp.json",
    ]
    # a client that only knows root v1 walks to v2
    both_clients_accept(tmp_path / "site", {APP: APP_DATA})


def test_cli_paths_json_result_and_both_clients(built: RepoBuilder, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = publish_cli(built, site, "--metadata-path", "meta", "--targets-path", "files/v1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "artifacts": 2,
        "out": str(site),
        "roles": {DELEGATED: 1, "snapshot": 1, "targets": 1},
    }
    assert (
        f"Published snapshot v1, targets v1, delegated v1 and 2 artifact(s) to {site}"
        in result.stderr
    )
    assert sorted(tree(site)) == sorted(
        n.replace("metadata/", "meta/").replace("targets/", "files/v1/") for n in SITE_NAMES
    )
    assert b'url=../"' in tree(site)["meta/index.html"], "redirects to the page at the top"
    both_clients_accept(
        site, {README: README_DATA, APP: APP_DATA}, metadata="meta", files="files/v1"
    )


def test_no_targets_publishes_metadata_only(built: RepoBuilder, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = publish_cli(built, site, "--no-targets")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["artifacts"] == 0
    assert sorted(tree(site)) == [n for n in SITE_NAMES if not n.startswith("targets/")]
    both_clients_accept(site, {})


def test_a_new_publish_replaces_an_earlier_site_as_a_whole(
    built: RepoBuilder, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    publish(built, site)
    built.bump_online()
    built.write()
    result = publish(built, site)
    assert result.previous == "site"
    assert sorted(tree(site)) == sorted(n.replace("1.snapshot", "2.snapshot") for n in SITE_NAMES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "repo", "site"], (
        "no staging or old copy is left next to OUT"
    )


# --- index.html -------------------------------------------------------------------------


def role_rows(page: str) -> dict[str, Element]:
    """The status page's role table: role name -> its row."""
    rows = parse(page).find("table", cls="roles").find_all("tr")
    return {str(r.attrs["data-role"]): r for r in rows if "data-role" in r.attrs}


def cells(row: Element) -> list[str]:
    return [c.text() for c in row.elements()]


def test_index_lists_roles_signers_thresholds_dates_and_artifacts(
    built: RepoBuilder, tmp_path: Path
) -> None:
    publish(built, tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    rows = role_rows(page)
    expires = f"{NOW + timedelta(days=365):%Y-%m-%d %H:%M} UTC (365 days left)"
    ts_expires = f"{NOW + timedelta(days=2):%Y-%m-%d %H:%M} UTC (2 days left)"
    assert list(rows) == ["root", "timestamp", "snapshot", "targets", DELEGATED]
    assert cells(rows["root"]) == [
        "root", "1", "@alice, @bob, @carol (2 of 3 required)", expires, "valid", "JSON"
    ]  # fmt: skip
    assert cells(rows["timestamp"]) == [
        "timestamp", "1", "online key (file2) (1 of 1 required)", ts_expires, "valid", "JSON"
    ]  # fmt: skip
    assert cells(rows["snapshot"])[1:4] == ["1", "online key (file2) (1 of 1 required)", expires]
    assert cells(rows["targets"])[1:3] == ["1", "@alice (1 of 1 required)"]
    assert cells(rows[DELEGATED])[1:3] == ["1", "@bob (1 of 1 required)"]
    links = {r: row.find_all("a")[-1].attrs["href"] for r, row in rows.items()}
    assert links == {
        "root": "metadata/1.root.json",
        "timestamp": "metadata/timestamp.json",
        "snapshot": "metadata/1.snapshot.json",
        "targets": "metadata/1.targets.json",
        DELEGATED: f"metadata/1.{DELEGATED}.json",
    }
    site = tree(tmp_path / "site")
    assert all(href in site for href in links.values()), "every link leads to a published file"
    artifacts = parse(page).find("table", id="artifacts").find("tbody").find_all("tr")
    assert [cells(r) for r in artifacts] == [
        [README, "targets", "6", sha256(README_DATA)],
        [APP, DELEGATED, "9", sha256(APP_DATA)],
    ]
    hrefs = [r.find("a").attrs["href"] for r in artifacts]
    assert hrefs == [f"targets/{sha256(README_DATA)}.{README}",
                     f"targets/delegated/sub/{sha256(APP_DATA)}.app.json"]  # fmt: skip
    assert all(href in site for href in hrefs)
    assert f"Generated {NOW:%Y-%m-%d %H:%M} UTC by tufrepo" in page


def test_index_shows_roles_in_their_signing_period_and_expiring(
    built: RepoBuilder, tmp_path: Path
) -> None:
    # timestamp: 2 days, signing period 1 day; 1.25 days on it is in its signing
    # period, 1.75 days on more than half of that is gone
    for days, state in ((1.25, "in signing period"), (1.75, "expires soon")):
        now = NOW + timedelta(days=days)
        page = render_status_page(TufRepository(WorktreeStore(built.top), now=now), now)
        rows = role_rows(page)
        assert cells(rows["timestamp"])[4] == state
        assert rows["timestamp"].attrs["class"] == (
            "state-signing" if days < 1.5 else "state-expiring"
        )
        assert cells(rows["root"])[4] == "valid"
        status = parse(page).find("p", id="status").text()
        assert status == f"Needs attention: timestamp ({state})"


def test_index_escapes_hostile_owners_roles_and_paths(tmp_path: Path) -> None:
    hostile = "@<script>alert(1)</script>"
    builder = RepoBuilder.create(tmp_path / "repo", NOW, owners={"bob": hostile})
    builder.add_target(DELEGATED, "delegated/<img src=x onerror=alert(2)>.txt", b"x")
    # a delegation whose name is markup: never a file name, never raw in the page
    delegations = builder.roles["targets"].signed.delegations
    assert delegations is not None
    assert delegations.roles is not None
    keyids = delegations.roles[DELEGATED].keyids
    delegations.roles["<script>alert(3)</script>"] = DelegatedRole(
        "<script>alert(3)</script>", keyids, 1, terminating=True, paths=["evil/*"]
    )
    builder.write()
    publish(builder, tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    doc = parse(page)
    assert [s.raw_text() for s in doc.find_all("script")] == [doc.find_all("script")[0].raw_text()]
    assert "alert" not in doc.find_all("script")[0].raw_text()
    assert doc.find_all("img") == []
    assert "<img" not in page
    assert cells(role_rows(page)[DELEGATED])[2] == f"{hostile} (1 of 1 required)"
    paths = [r.elements()[0].text() for r in doc.find("table", id="artifacts").find_all("tr")]
    assert "delegated/<img src=x onerror=alert(2)>.txt" in paths
    assert "<script>alert(3)</script>: paths evil/*" in doc.text()


def test_render_status_page_is_pure(built: RepoBuilder) -> None:
    repo = TufRepository(WorktreeStore(built.top), now=NOW)
    links = SiteLinks("meta", None)
    assert render_status_page(repo, NOW, links=links) == render_status_page(repo, NOW, links=links)
    later = render_status_page(repo, NOW + timedelta(hours=1), source_commit="abc123")
    assert f"Generated {NOW + timedelta(hours=1):%Y-%m-%d %H:%M} UTC" in later
    assert "Built from commit abc123." in parse(later).text()


# --- refusals: exit 4, OUT unchanged ----------------------------------------------------


@pytest.fixture
def deployed(built: RepoBuilder, tmp_path: Path) -> dict[str, bytes]:
    """A first, good publish into tmp_path/site: what must survive a refused one."""
    publish(built, tmp_path / "site")
    return tree(tmp_path / "site")


def assert_unchanged(site: Path, before: dict[str, bytes]) -> None:
    assert tree(site) == before
    leftovers = [p.name for p in site.parent.iterdir() if p.name.startswith(".site")]
    assert leftovers == [], "no staging directory is left behind"


def test_refuses_a_broken_signature(
    built: RepoBuilder, tmp_path: Path, deployed: dict[str, bytes]
) -> None:
    save_json(
        built.top / "metadata" / "snapshot.json",
        lambda d: d["signed"]["meta"]["targets.json"].update(version=5),
    )
    with pytest.raises(RejectedError) as e:
        publish(built, tmp_path / "site")
    assert str(e.value).startswith("a TUF client rejects the result: UnsignedMetadataError")
    assert_unchanged(tmp_path / "site", deployed)
    result = publish_cli(built, tmp_path / "site")
    assert result.exit_code == 4
    # the CLI judges main first: the forged snapshot never reaches the client check
    assert "snapshot: snapshot is not signed by root's online key" in result.stderr
    assert_unchanged(tmp_path / "site", deployed)


def test_refuses_an_offline_role_under_its_threshold(
    built: RepoBuilder, tmp_path: Path, deployed: dict[str, bytes]
) -> None:
    save_json(built.top / "metadata" / f"{DELEGATED}.json", lambda d: d.update(signatures=[]))
    with pytest.raises(RejectedError, match=r"UnsignedMetadataError: .*delegated"):
        publish(built, tmp_path / "site")
    result = publish_cli(built, tmp_path / "site")
    assert result.exit_code == 4
    assert "delegated: delegated is not signed by its threshold of keys" in result.stderr
    assert "delegation-not-resigned" not in result.stderr  # only the real finding
    assert_unchanged(tmp_path / "site", deployed)


def test_refuses_an_artifact_that_does_not_match_its_metadata(
    built: RepoBuilder, tmp_path: Path, deployed: dict[str, bytes]
) -> None:
    (built.top / "targets" / README).write_bytes(b"hellO\n")  # same length, other hash
    with pytest.raises(RejectedError) as e:
        publish(built, tmp_path / "site")
    assert str(e.value) == f"targets lists targets/{README} with a different sha256 hash"
    result = publish_cli(built, tmp_path / "site")
    assert result.exit_code == 4
    assert f"targets lists targets/{README} with a different sha256 hash" in result.stderr
    assert_unchanged(tmp_path / "site", deployed)


def test_refuses_a_listed_artifact_that_is_missing(
    built: RepoBuilder, tmp_path: Path, deployed: dict[str, bytes]
) -> None:
    (built.top / "targets" / APP).unlink()
    with pytest.raises(RejectedError) as e:
        publish(built, tmp_path / "site")
    assert str(e.value) == f"targets/{APP} listed in {DELEGATED} does not exist"
    assert_unchanged(tmp_path / "site", deployed)


def test_refuses_metadata_expired_at_the_reference_time(
    built: RepoBuilder, tmp_path: Path, deployed: dict[str, bytes]
) -> None:
    with pytest.raises(RejectedError, match=r"ExpiredMetadataError: timestamp\.json is expired"):
        publish(built, tmp_path / "site", now=NOW + timedelta(days=3))
    assert_unchanged(tmp_path / "site", deployed)


def _pad(builder: RepoBuilder, role: str, size: int) -> int:
    """Pad ``role`` so that its signed file is exactly ``size`` bytes; returns the file size."""
    signed = builder.roles[role].signed
    signed.unrecognized_fields["x-padding"] = ""
    builder.write()
    base = len((builder.top / "metadata" / f"{role}.json").read_bytes())
    signed.unrecognized_fields["x-padding"] = "x" * (size - base)
    builder.write()
    return len((builder.top / "metadata" / f"{role}.json").read_bytes())


@pytest.mark.parametrize(
    ("role", "limit", "hint"),
    [
        ("timestamp", 16_384, "fewer keys or roles"),
        ("snapshot", 1_048_576, "fewer keys or roles"),
        ("root", 512_000, "fewer keys or roles"),
        ("targets", 5_000_000, "split the artifacts over delegated roles"),
        (DELEGATED, 5_000_000, "split the artifacts over delegated roles"),
    ],
)
def test_size_limits_of_default_clients(
    built: RepoBuilder, tmp_path: Path, role: str, limit: int, hint: str
) -> None:
    assert _pad(built, role, limit) == limit
    if role == "root":  # history holds the same bytes
        assert len(built.root_bytes()) == limit
    publish(built, tmp_path / "site")  # exactly at the limit: accepted by clients
    before = tree(tmp_path / "site")
    assert _pad(built, role, limit + 1) == limit + 1
    with pytest.raises(RejectedError) as e:
        publish(built, tmp_path / "site")
    name = {"timestamp": "timestamp.json", "root": "1.root.json"}.get(role, f"1.{role}.json")
    assert str(e.value) == (
        f"{name} is {limit + 1} bytes, over the {limit} bytes TUF clients download by default"
    )
    assert e.value.hint is not None
    assert hint in e.value.hint
    assert_unchanged(tmp_path / "site", before)


def test_cli_names_the_size_limit_and_what_to_do(built: RepoBuilder, tmp_path: Path) -> None:
    _pad(built, "targets", 5_000_001)
    result = publish_cli(built, tmp_path / "site")
    assert result.exit_code == 4
    # main's judgement (the size budget, checks.budget) refuses it before staging
    error = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert error.startswith("error: refusing to publish: main is not a valid successor")
    assert "targets metadata is 5,000,001 bytes" in error
    assert "tufrepo delegate EVENT ROLE" in error
    assert not (tmp_path / "site").exists()


def test_refuses_a_repository_that_is_not_online_signed(
    built: RepoBuilder, tmp_path: Path
) -> None:
    (built.top / "metadata" / "timestamp.json").unlink()
    with pytest.raises(RejectedError) as e:
        publish(built, tmp_path / "site")
    assert str(e.value) == "metadata/timestamp.json does not exist"
    assert e.value.hint == "run `tufrepo online-sign` first"
    assert not (tmp_path / "site").exists()


def test_a_hostile_root_history_name_is_not_published(built: RepoBuilder, tmp_path: Path) -> None:
    history = built.top / "metadata" / "root_history"
    (history / "x.root.json").write_bytes(b"{}")
    (history / "01.root.json").write_bytes(serialize(built.roles["root"]))
    publish(built, tmp_path / "site")
    assert sorted(tree(tmp_path / "site")) == SITE_NAMES


# --- OUT: publish never deletes what it did not write (issue #13) ------------------------


def test_publish_dot_in_a_checkout_is_refused_and_deletes_nothing(
    built: RepoBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sorted(p.relative_to(built.top).as_posix() for p in built.top.rglob("*"))
    monkeypatch.chdir(built.top)
    result = run("--json", "publish", ".")
    assert result.exit_code == 4, result.output
    assert f"error: {built.top} is the checkout {built.top}: publishing would replace it" in (
        result.stderr
    )
    assert "hint: publish into a directory of its own" in result.stderr
    assert sorted(p.relative_to(built.top).as_posix() for p in built.top.rglob("*")) == before
    assert (built.top / ".git" / "HEAD").is_file()


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ("..", "contains the checkout"),
        ("link-to-checkout", "is the checkout"),
        ("repo/.git/site", "is inside a .git directory"),
        ("repo/metadata", "is inside the checkout's metadata/"),
        ("repo/targets/site", "is inside the checkout's targets/"),
    ],
)
def test_out_is_never_the_checkout_its_parent_git_or_sources(
    built: RepoBuilder, tmp_path: Path, where: str, problem: str
) -> None:
    (tmp_path / "link-to-checkout").symlink_to(built.top)
    out = tmp_path / where
    before = {p: p.stat().st_mtime_ns for p in built.top.rglob("*")}
    for force in (False, True):
        with pytest.raises(RejectedError) as e:
            publish(built, out, force=force)
        assert problem in str(e.value)
    assert {p: p.stat().st_mtime_ns for p in built.top.rglob("*")} == before
    assert not list(tmp_path.rglob(".*.staging-*")), "nothing was staged"


def test_a_directory_publish_did_not_write_is_refused_unless_forced(
    built: RepoBuilder, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "docs" / "notes.txt").write_text("mine")
    (site / "CNAME").write_text("example.org")
    result = publish_cli(built, site)
    assert result.exit_code == 4
    assert result.stderr.splitlines()[-2:] == [
        f"error: {site} holds files publish did not write: CNAME, docs",
        (
            "hint: publish into a new or empty directory, move those files away, "
            "or pass --force to replace everything in it"
        ),
    ]
    assert tree(site) == {"CNAME": b"example.org", "docs/notes.txt": b"mine"}
    result = publish_cli(built, site, "--force")
    assert result.exit_code == 0, result.output
    assert sorted(tree(site)) == SITE_NAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "repo", "site"]


def test_an_empty_directory_is_published_into(built: RepoBuilder, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    assert publish(built, tmp_path / "site").previous == "empty"
    assert sorted(tree(tmp_path / "site")) == SITE_NAMES


@pytest.mark.parametrize("extra", ["stale.txt", "metadata/notes.txt", "targets/empty-dir/"])
def test_a_file_added_to_an_earlier_site_is_never_deleted(
    built: RepoBuilder, tmp_path: Path, deployed: dict[str, bytes], extra: str
) -> None:
    site = tmp_path / "site"
    if extra.endswith("/"):
        (site / extra).mkdir()
    else:
        (site / extra).write_text("someone's file")
    before = tree(site)
    built.bump_online()
    built.write()
    with pytest.raises(RejectedError) as e:
        publish(built, site)
    assert str(e.value) == f"{site} holds files publish did not write: {extra}"
    assert tree(site) == before
    assert (site / extra).exists()
    assert publish(built, site, force=True).previous == "forced"
    assert not (site / extra).exists()


def test_the_marker_lists_exactly_what_publish_wrote(
    built: RepoBuilder, tmp_path: Path, deployed: dict[str, bytes]
) -> None:
    marker = json.loads(deployed[".tufrepo-site"])
    assert marker["format"] == 1
    assert marker["metadata_path"] == "metadata"
    assert marker["targets_path"] == "targets"
    assert marker["files"] == [n for n in SITE_NAMES if n != ".tufrepo-site"]
    # a marker of another format (or none that parses) is not understood: not a site
    (tmp_path / "site" / ".tufrepo-site").write_text(json.dumps({**marker, "format": 2}))
    with pytest.raises(
        RejectedError, match=r"did not write: \.tufrepo-site, index\.html, metadata, targets$"
    ):
        publish(built, tmp_path / "site")


def test_a_symlink_in_place_of_a_written_file_is_not_deleted_through(
    built: RepoBuilder, tmp_path: Path, deployed: dict[str, bytes]
) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (tmp_path / "site" / "index.html").unlink()
    (tmp_path / "site" / "index.html").symlink_to(precious)
    with pytest.raises(RejectedError, match=r"holds files publish did not write: index\.html$"):
        publish(built, tmp_path / "site")
    publish(built, tmp_path / "site", force=True)
    assert precious.read_text() == "keep me"
    assert not (tmp_path / "site" / "index.html").is_symlink()


@pytest.mark.parametrize("escape", ["relative", "absolute", "through-a-link"])
def test_a_planted_marker_never_deletes_outside_out(
    built: RepoBuilder, tmp_path: Path, escape: str
) -> None:
    # Attack: a marker left in a reused OUT lists files outside it; publish
    # must not delete what it never wrote (red-team finding).
    victims = tmp_path / "precious"
    victims.mkdir()
    victim = victims / "keep.txt"
    victim.write_text("keep me")
    out = tmp_path / "deep" / "site"
    out.mkdir(parents=True)
    listed = {
        "relative": "../../precious/keep.txt",
        "absolute": str(victim),
        "through-a-link": "link/keep.txt",
    }[escape]
    if escape == "through-a-link":
        (out / "link").symlink_to(victims)
    marker = {"format": 1, "metadata_path": "metadata", "targets_path": "targets"}
    (out / ".tufrepo-site").write_text(json.dumps({**marker, "files": [listed]}))
    if escape == "through-a-link":
        with pytest.raises(RejectedError, match=r"did not write: link/?$"):
            publish(built, out)
    else:
        publish(built, out)
        assert (out / "index.html").is_file()
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--metadata-path", "../outside", "leaves OUT"),
        ("--metadata-path", "a/../../outside", "leaves OUT"),
        ("--targets-path", "/tmp/outside", "is absolute"),
        ("--targets-path", ".git", "is not a plain relative path"),
        ("--metadata-path", "meta data", "is not a plain relative path"),
        ("--targets-path", "files#1", "is not a plain relative path"),
    ],
)
def test_path_options_stay_inside_out(
    built: RepoBuilder, tmp_path: Path, option: str, value: str, problem: str
) -> None:
    result = publish_cli(built, tmp_path / "site", option, value)
    assert result.exit_code == 2, result.output
    assert f"error: {option} {value!r} {problem}" in result.stderr
    assert not (tmp_path / "site").exists()
    assert not (tmp_path / "outside").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "repo"]


def test_metadata_at_the_top_level_has_one_page(built: RepoBuilder, tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert publish_cli(built, site, "--metadata-path", ".").exit_code == 0
    names = sorted(tree(site))
    assert "index.html" in names
    assert "1.root.json" in names
    assert not any(n.startswith("metadata/") for n in names)
    rows = role_rows((site / "index.html").read_text())
    assert rows["root"].find_all("a")[-1].attrs["href"] == "1.root.json"
    both_clients_accept(site, {README: README_DATA, APP: APP_DATA}, metadata=".")


def test_modes_are_0755_and_0644_whatever_the_umask(built: RepoBuilder, tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        publish(built, tmp_path / "site")
    finally:
        os.umask(old)
    site = tmp_path / "site"
    modes = {
        p.relative_to(site).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in site.rglob("*")
    }
    assert stat.S_IMODE(site.stat().st_mode) == 0o755
    assert {n: m for n, m in modes.items() if (site / n).is_dir()} == {
        "metadata": 0o755, "targets": 0o755, "targets/delegated": 0o755,
        "targets/delegated/sub": 0o755,
    }  # fmt: skip
    assert {m for n, m in modes.items() if (site / n).is_file()} == {0o644}


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (errno.ENOSPC, "hint: the disk is full: free some space and run the command again"),
        (errno.EROFS, "hint: the file system is read-only"),
    ],
)
def test_a_full_disk_while_staging_is_a_clear_refusal_and_out_stays(
    built: RepoBuilder,
    tmp_path: Path,
    deployed: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    hint: str,
) -> None:
    real_write = Path.write_bytes
    writes = []

    def write_bytes(self: Path, data: bytes) -> int:
        # the file system fills up while the artifacts are staged
        if ".staging-" in str(self) and "/targets/" in str(self):
            writes.append(self.name)
            raise OSError(code, os.strerror(code), str(self))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    with pytest.raises(RejectedError) as e:
        publish(built, tmp_path / "site")
    assert writes, "the injected failure was reached"
    assert str(e.value) == f"cannot write the site {tmp_path / 'site'}: {os.strerror(code)}"
    assert_unchanged(tmp_path / "site", deployed)
    result = publish_cli(built, tmp_path / "new-site")
    assert result.exit_code == 4, result.output
    lines = result.stderr.splitlines()
    assert (
        lines[-2] == f"error: cannot write the site {tmp_path / 'new-site'}: {os.strerror(code)}"
    )
    assert lines[-1].startswith(hint)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "repo", "site"]


def counted_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every target path publish's client check resolves from now on."""
    looked: list[str] = []
    real = Updater.get_targetinfo

    def counting(self: Updater, target_path: str) -> Any:
        looked.append(target_path)
        return real(self, target_path)

    monkeypatch.setattr(Updater, "get_targetinfo", counting)
    return looked


def republish(built: RepoBuilder, out: Path) -> None:
    """Publish again over ``out``, judged from it, as publish_site does."""
    store = WorktreeStore(built.top)
    published = published_store(str(out / "metadata"))
    build_site(TufRepository(store, now=NOW), store, out, now=NOW, published=published)


def test_publishing_again_resolves_only_the_roles_that_changed(
    built: RepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # #14: one artifact more in a site of 100,000 must not cost 100,000 client lookups.
    out = tmp_path / "site"
    publish(built, out)
    built.add_target(DELEGATED, "delegated/sub/new.json", b"new\n")
    built.bump(DELEGATED)
    built.bump_online()
    built.write()
    looked = counted_lookups(monkeypatch)
    republish(built, out)
    assert sorted(looked) == [APP, "delegated/sub/new.json"]  # not targets' readme.txt


def test_a_changed_delegation_resolves_every_artifact_again(
    built: RepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Attack/mistake: a delegation changed (here: another role claims paths
    # first); every artifact may now resolve elsewhere, or nowhere.
    out = tmp_path / "site"
    publish(built, out)
    built.add_delegation("other", ["bob"], paths=["other/*"])
    built.bump_online()
    built.write()
    looked = counted_lookups(monkeypatch)
    republish(built, out)
    assert sorted(looked) == [APP, README]


def test_a_previous_site_under_another_root_resolves_every_artifact_again(
    built: RepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    publish(built, out)
    built.rotate_root()
    built.bump_online()
    built.write()
    looked = counted_lookups(monkeypatch)
    republish(built, out)
    assert sorted(looked) == [APP, README]
