"""publish: the static site's layout, its index page, and every refusal that keeps OUT as it was.

The repository comes from tests/repo_builder.py (python-tuf's Metadata API,
no signing events), so each test can break exactly one thing.  Every site
published successfully here is refreshed by python-tuf's ngclient and tuf-js.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import NOW, git, run
from repo_builder import APP, APP_DATA, DELEGATED, README, README_DATA, RepoBuilder, sha256
from tuf.api.metadata import DelegatedRole
from tufjs import tufjs_refresh
from webserver import serve_directory

from tufrepo.client import download_target
from tufrepo.core.repository import TufRepository, serialize
from tufrepo.core.store import WorktreeStore
from tufrepo.errors import RejectedError
from tufrepo.ops.publish import PublishResult, build_site, render_index

SITE_NAMES = sorted([
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
        tmp_path / "site", {"snapshot": 1, "targets": 1, DELEGATED: 1}, artifacts=2
    )
    site = tree(tmp_path / "site")
    assert sorted(site) == SITE_NAMES
    metadata = built.top / "metadata"
    assert site["metadata/1.root.json"] == (metadata / "root_history" / "1.root.json").read_bytes()
    assert site["metadata/timestamp.json"] == (metadata / "timestamp.json").read_bytes()
    assert site[f"metadata/1.{DELEGATED}.json"] == (metadata / f"{DELEGATED}.json").read_bytes()
    assert site[f"targets/delegated/sub/{sha256(APP_DATA)}.app.json"] == APP_DATA
    both_clients_accept(tmp_path / "site", {README: README_DATA, APP: APP_DATA})


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
    assert [n for n in names if n.startswith("metadata/")] == [
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
    both_clients_accept(
        site, {README: README_DATA, APP: APP_DATA}, metadata="meta", files="files/v1"
    )


def test_no_targets_publishes_metadata_only(built: RepoBuilder, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = publish_cli(built, site, "--no-targets")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["artifacts"] == 0
    assert sorted(tree(site)) == [n for n in SITE_NAMES if n.startswith("metadata/")]
    both_clients_accept(site, {})


def test_a_new_publish_replaces_out_as_a_whole(built: RepoBuilder, tmp_path: Path) -> None:
    site = tmp_path / "site"
    publish(built, site)
    (site / "stale.txt").write_text("from an older deployment")
    built.bump_online()
    built.write()
    publish(built, site)
    assert sorted(tree(site)) == sorted(n.replace("1.snapshot", "2.snapshot") for n in SITE_NAMES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "repo", "site"], (
        "no staging or old copy is left next to OUT"
    )


# --- index.html -------------------------------------------------------------------------


def test_index_lists_roles_signers_thresholds_dates_and_artifacts(
    built: RepoBuilder, tmp_path: Path
) -> None:
    publish(built, tmp_path / "site")
    page = (tmp_path / "site" / "metadata" / "index.html").read_text()

    def row(*cells: str) -> str:
        return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    def date(days: int) -> str:
        return f"{NOW + timedelta(days=days):%Y-%m-%d}"

    expires = f"{NOW + timedelta(days=365):%Y-%m-%d %H:%M} UTC"
    ts_expires = f"{NOW + timedelta(days=2):%Y-%m-%d %H:%M} UTC"
    assert row("root", "1", "@alice, @bob, @carol (2 of 3 required)", date(305), expires) in page
    assert (
        row("timestamp", "1", "online key (file2) (1 of 1 required)", date(1), ts_expires) in page
    )
    assert row("snapshot", "1", "online key (file2) (1 of 1 required)", date(305), expires) in page
    assert row("targets", "1", "@alice (1 of 1 required)", date(305), expires) in page
    assert row(DELEGATED, "1", "@bob (1 of 1 required)", date(305), expires) in page
    assert (
        f"<tr><td><code>{README}</code></td><td>targets</td><td>6</td>"
        f"<td><code>{sha256(README_DATA)}</code></td></tr>"
    ) in page
    assert (
        f"<tr><td><code>{APP}</code></td><td>{DELEGATED}</td><td>9</td>"
        f"<td><code>{sha256(APP_DATA)}</code></td></tr>"
    ) in page
    assert f"Generated {NOW:%Y-%m-%d %H:%M} UTC by tufrepo" in page
    assert "<script" not in page


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
    page = (tmp_path / "site" / "metadata" / "index.html").read_text()
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (1 of 1 required)" in page
    assert "delegated/&lt;img src=x onerror=alert(2)&gt;.txt" in page


def test_render_index_is_pure(built: RepoBuilder) -> None:
    repo = TufRepository(WorktreeStore(built.top), now=NOW)
    assert render_index(repo, NOW) == render_index(repo, NOW)
    later = render_index(repo, NOW + timedelta(hours=1))
    assert f"Generated {NOW + timedelta(hours=1):%Y-%m-%d %H:%M} UTC" in later


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
    assert result.stderr.splitlines()[-2:] == [
        (
            "error: 1.targets.json is 5000001 bytes, over the 5000000 bytes TUF clients "
            "download by default"
        ),
        "hint: split the artifacts over delegated roles (tufrepo delegate EVENT ROLE)",
    ]
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
