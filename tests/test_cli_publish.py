"""publish, test-client and download, checked by python-tuf's ngclient and by tuf-js."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import ServeDir, World, day, git, init_repo, out, run
from htmltree import parse
from tuf.api.metadata import Metadata, Targets
from tufjs import check_site_with_both_clients, tufjs_refresh

from tufrepo import signers
from tufrepo.core.repository import serialize


@pytest.fixture
def served(tmp_path: Path, serve_dir: ServeDir) -> tuple[Path, str]:
    site = tmp_path / "site"
    site.mkdir()
    return site, serve_dir(site)


def released(world: World, *, delegate: bool = True) -> None:
    """init, a delegated role with an artifact deep down, a top-level artifact; merged and online-signed."""
    alice = world.user("alice")
    init_repo(world, alice)
    if delegate:
        assert (
            alice.tufrepo("delegate", "sign/init", "releases", "--key", alice.key_uri).exit_code
            == 0
        )
    git(alice.clone, "fetch", "-q")
    git(alice.clone, "switch", "-q", "-c", "sign/init", "origin/sign/init")
    (alice.clone / "targets" / "releases" / "1" / "2").mkdir(parents=True)
    (alice.clone / "targets" / "releases" / "1" / "2" / "app.json").write_text('{"v": 1}\n')
    (alice.clone / "targets" / "readme.txt").write_text("hello\n")
    git(alice.clone, "add", "targets")
    git(alice.clone, "commit", "-q", "-m", "artifacts")
    git(alice.clone, "push", "-q", "origin", "sign/init")
    git(alice.clone, "switch", "-q", "main")
    assert world.ci_run("update-targets", "--push", event="sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    assert world.status("sign/init")[0] == 0
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0


def publish(world: World, site: Path, *args: str) -> Any:
    """Publish; every repository published here is refreshed by ngclient and tuf-js."""
    result = run("-C", str(world.ci), "--json", "publish", str(site), *args, now=world.now)
    if result.exit_code == 0:
        check_site_with_both_clients(site, world.now)
    return result


def both_clients(url: str, root: Path, targets: list[str]) -> None:
    for target in targets:
        result = run("test-client", f"{url}/metadata", "--root", str(root), "--target", target)
        assert result.exit_code == 0, out(result)
    ok, detail = tufjs_refresh(f"{url}/metadata", f"{url}/targets", root, targets)
    assert ok, detail


def test_publish_layout_and_both_clients(world: World, served: tuple[Path, str]) -> None:
    site, url = served
    released(world)
    result = publish(world, site)
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[0])["roles"] == {
        "snapshot": 1,
        "targets": 1,
        "releases": 1,
    }
    names = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    digest = hashlib.sha256(b'{"v": 1}\n').hexdigest()
    assert names == sorted([
        ".tufrepo-site", "index.html", "metadata/index.html",
        "metadata/1.root.json", "metadata/1.snapshot.json", "metadata/1.targets.json",
        "metadata/1.releases.json", "metadata/timestamp.json",
        f"targets/releases/1/2/{digest}.app.json",
        f"targets/{hashlib.sha256(b'hello' + bytes([10])).hexdigest()}.readme.txt",
    ])  # fmt: skip
    both_clients(url, site / "metadata" / "1.root.json", ["releases/1/2/app.json", "readme.txt"])


def test_plain_publish_right_after_init(world: World, served: tuple[Path, str]) -> None:
    site, url = served
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    assert publish(world, site).exit_code == 0
    both_clients(url, site / "metadata" / "1.root.json", [])


def test_index_page(world: World, tmp_path: Path) -> None:
    released(world)
    assert publish(world, tmp_path / "site").exit_code == 0
    doc = parse((tmp_path / "site" / "index.html").read_text())
    rows = {r.attrs["data-role"]: r for r in doc.find("table", cls="roles").find_all("tr")
            if "data-role" in r.attrs}  # fmt: skip
    assert list(rows) == ["root", "timestamp", "snapshot", "targets", "releases"]
    assert [c.text() for c in rows["releases"].elements()][:3] == [
        "releases", "1", "@alice (1 of 1 required)"
    ]  # fmt: skip
    assert [c.text() for c in rows["timestamp"].elements()][:3] == [
        "timestamp", "1", "online key (file2) (1 of 1 required)"
    ]  # fmt: skip
    head = git(world.ci, "rev-parse", "HEAD")
    assert f"Built from commit {head}." in doc.text()
    artifacts = [[c.text() for c in r.elements()]
                 for r in doc.find("table", id="artifacts").find("tbody").find_all("tr")]  # fmt: skip
    assert [
        "releases/1/2/app.json",
        "releases",
        "9",
        hashlib.sha256(b'{"v": 1}\n').hexdigest(),
    ] in (artifacts)
    redirect = (tmp_path / "site" / "metadata" / "index.html").read_text()
    assert '<meta http-equiv="refresh" content="0; url=../">' in redirect


def test_index_page_escapes_hostile_names(world: World, tmp_path: Path) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    git(alice.clone, "fetch", "-q")
    git(alice.clone, "switch", "-q", "-c", "sign/init", "origin/sign/init")
    (alice.clone / "targets").mkdir()
    (alice.clone / "targets" / "<img src=x onerror=alert(1)>.txt").write_text("x")
    git(alice.clone, "add", "targets")
    git(alice.clone, "commit", "-q", "-m", "x")
    git(alice.clone, "push", "-q", "origin", "sign/init")
    git(alice.clone, "switch", "-q", "main")
    world.ci_run("update-targets", "--push", event="sign/init")
    alice.sign("sign/init")
    world.merge("sign/init")
    world.ci_run("online-sign", "--push")
    assert publish(world, tmp_path / "site").exit_code == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in page
    assert parse(page).find_all("img") == []


def test_publish_refuses_a_broken_signature_and_keeps_out(world: World, tmp_path: Path) -> None:
    released(world)
    site = tmp_path / "site"
    assert publish(world, site).exit_code == 0
    before = sorted(p.name for p in site.rglob("*"))
    snapshot = world.ci / "metadata" / "snapshot.json"
    data = json.loads(snapshot.read_text())
    data["signed"]["meta"]["targets.json"]["version"] = (
        5  # content no longer matches the signature
    )
    snapshot.write_text(json.dumps(data))
    result = publish(world, site)
    assert result.exit_code == 4
    assert "snapshot: snapshot is not signed by root's online key" in out(result)
    assert sorted(p.name for p in site.rglob("*")) == before
    assert not list(tmp_path.glob(".site.*")), "no staging directory is left behind"


def test_publish_refuses_an_artifact_that_does_not_match(world: World, tmp_path: Path) -> None:
    released(world)
    (world.ci / "targets" / "readme.txt").write_text("tampered\n")
    result = publish(world, tmp_path / "site")
    assert result.exit_code == 4
    assert "error: refusing to publish: main is not a valid successor" in out(result)
    assert "targets lists targets/readme.txt with length 6 but the file has 9 bytes" in out(result)
    assert not (tmp_path / "site").exists()


def test_publish_refuses_metadata_over_the_size_limit(world: World, tmp_path: Path) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    world.ci_run("online-sign", "--push")
    # alice, holding the root key, signs a root too large for clients
    root_path = world.ci / "metadata" / "root.json"
    md = Metadata.from_file(str(root_path))
    md.signed.unrecognized_fields["x-padding"] = "x" * 600_000
    md.signed.version = 2  # a new root: the old one is history clients already have
    key = next(
        k for k in md.signed.keys.values() if k.unrecognized_fields.get("x-tuf-on-ci-keyowner")
    )
    md.signatures.clear()
    md.sign(signers.load_signer(alice.key_uri, key))
    data = serialize(md)
    root_path.write_bytes(data)
    (world.ci / "metadata" / "root_history" / "2.root.json").write_bytes(data)
    result = publish(world, tmp_path / "site")
    assert result.exit_code == 4
    # main's judgement (the size budget) refuses it before anything is staged
    # (the size depends on the online key's path in root, so on the test's directory)
    assert re.search(
        r"root: root metadata is 60\d,\d{3} bytes, 11\d% of the 512,000-byte budget", out(result)
    ), out(result)
    assert not (tmp_path / "site").exists()


def test_test_client_trust_on_first_use_and_margins(
    world: World, served: tuple[Path, str]
) -> None:
    site, url = served
    released(world)
    assert publish(world, site).exit_code == 0
    result = run("test-client", f"{url}/metadata", "--valid-days", "1", "--offline-valid-days", "30",
                 now=world.now)  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert result.output.splitlines() == [
        "OK   trusted root: 1.root.json (trust on first use, not pinned)",
        f"OK   refresh from {url}/metadata",
        "OK   whole repository valid 1 days ahead",
        f"OK   root valid 30 days ahead: root expires {day(365)[:10]}",
        f"OK   targets valid 30 days ahead: targets expires {day(365)[:10]}",
    ]


def test_test_client_default_margins_follow_each_roles_signing_period(
    world: World, served: tuple[Path, str]
) -> None:
    """The shipped timestamp (2 days, signing period 1 day) and online-sign every 6 h."""
    site, url = served
    released(world)
    assert publish(world, site).exit_code == 0
    published = world.now
    readme = ("test-client", f"{url}/metadata", "--offline-valid-days", "30")

    def at(hours: float, *extra: str) -> Result:
        return run(*readme, *extra, now=published + timedelta(hours=hours))

    # right after publish: 48 h left, 12 h required (a fixed 2 days fails here)
    result = at(0)
    assert result.exit_code == 0, out(result)
    assert result.output.splitlines()[2:4] == [
        (
            f"OK   timestamp re-signed in time: expires {day(2)[:10]} {day(2)[11:16]} UTC, "
            "48.0 h left, at least 12.0 h required (half its 1-day signing period)"
        ),
        (
            f"OK   snapshot re-signed in time: expires {day(365)[:10]} {day(365)[11:16]} UTC, "
            "365.0 days left, at least 30.0 days required (half its 60-day signing period)"
        ),
    ]
    assert at(0, "--valid-days", "2").exit_code == 4, "the explicit override still applies"
    # online-sign is late: 11 h into the signing period, not re-signed yet
    assert at(24 + 11).exit_code == 0
    # more than half the signing period overdue: fails, with advice
    result = at(36 + 0.1)
    assert result.exit_code == 4
    assert (
        f"FAIL timestamp re-signed in time: expires {day(2)[:10]} {day(2)[11:16]} UTC, "
        "11.9 h left, at least 12.0 h required (half its 1-day signing period)"
    ) in result.output
    assert "hint: online-sign has not re-signed timestamp in time" in result.output
    # online-sign runs (a day and a half on), publish again: fine again
    world.tick(1.5)
    assert world.ci_run("online-sign", "--push").exit_code == 0
    assert publish(world, site).exit_code == 0
    assert at(36 + 0.1).exit_code == 0


def test_test_client_valid_days_takes_auto_or_days(world: World) -> None:
    for value in ("-1", "1.5", "soon", "\u00b2"):
        result = run("test-client", "http://127.0.0.1:9/metadata", "--valid-days", value)
        assert result.exit_code == 2, value
        assert "is neither 'auto' nor a whole number of days" in result.output


def test_test_client_fails_on_expiry_ahead(world: World, served: tuple[Path, str]) -> None:
    site, url = served
    released(world)
    assert publish(world, site).exit_code == 0
    result = run("test-client", f"{url}/metadata", "--valid-days", "3", now=world.now)
    assert result.exit_code == 4
    assert (
        "FAIL whole repository valid 3 days ahead: ExpiredMetadataError: timestamp.json is expired"
        in out(result)
    )
    result = run("test-client", f"{url}/metadata", "--time", day(6))
    assert result.exit_code == 4
    assert "ExpiredMetadataError" in out(result)


def test_test_client_and_tufjs_fail_on_a_tampered_artifact(
    world: World, served: tuple[Path, str]
) -> None:
    site, url = served
    released(world)
    assert publish(world, site).exit_code == 0
    artifact = next((site / "targets").glob("*.readme.txt"))
    artifact.write_text("hellO\n")  # same length, other content
    root = site / "metadata" / "1.root.json"
    result = run(
        "test-client",
        f"{url}/metadata",
        "--root",
        str(root),
        "--target",
        "readme.txt",
        now=world.now,
    )
    assert result.exit_code == 4
    assert "FAIL download readme.txt: LengthOrHashMismatchError" in out(result)
    ok, detail = tufjs_refresh(f"{url}/metadata", f"{url}/targets", root, ["readme.txt"])
    assert not ok
    assert "Expected hash" in str(detail)
    result = run("download", "readme.txt", "--metadata-url", f"{url}/metadata", "--root", str(root), "-o",
                 str(site.parent / "got.txt"), now=world.now)  # fmt: skip
    assert result.exit_code == 4
    assert not (site.parent / "got.txt").exists()


def test_test_client_fails_on_a_broken_root_chain(world: World, served: tuple[Path, str]) -> None:
    site, url = served
    alice, bob = world.user("alice"), world.user("bob")
    init_repo(world, alice)
    world.merge("sign/init")
    assert alice.tufrepo("delegate", "sign/rotate", "root", "--signer", "@bob").exit_code == 0
    assert bob.sign("sign/rotate").exit_code == 0
    assert alice.sign("sign/rotate").exit_code == 0
    world.merge("sign/rotate")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    assert publish(world, site).exit_code == 0
    root1 = site / "metadata" / "1.root.json"
    both_clients(url, root1, [])
    rotated = site / "metadata" / "2.root.json"
    data = json.loads(rotated.read_text())
    data["signatures"] = [s for s in data["signatures"] if s["sig"]][:1]  # drop one of old/new
    rotated.write_text(json.dumps(data))
    result = run("test-client", f"{url}/metadata", "--root", str(root1), now=world.now)
    assert result.exit_code == 4
    assert "UnsignedMetadataError" in out(result)
    ok, detail = tufjs_refresh(f"{url}/metadata", f"{url}/targets", root1, [])
    assert not ok
    assert "root was signed by 0/1 keys" in str(detail), detail  # by the old root or the new


def test_update_from_the_deployed_repository(
    world: World, tmp_path: Path, serve_dir: ServeDir
) -> None:
    released(world)
    sites = {}
    for name in ("old", "new"):
        site = tmp_path / name
        assert publish(world, site).exit_code == 0
        sites[name] = site
        world.tick(1.5)  # the new repository has a newer timestamp
        assert world.ci_run("online-sign", "--push").exit_code == 0
    urls = {name: serve_dir(site) for name, site in sites.items()}
    result = run("test-client", f"{urls['new']}/metadata", "--update-from", f"{urls['old']}/metadata",
                 "--root", str(sites["old"] / "metadata" / "1.root.json"), now=world.now)  # fmt: skip
    assert result.exit_code == 0, out(result)
    # the deployed timestamp has expired meanwhile: noted, and the new one fixes it
    assert (
        f"OK   refresh from the deployed repository {urls['old']}/metadata: expired there"
        in result.output
    )
    assert f"OK   refresh from {urls['new']}/metadata" in result.output


def test_download_prints_json_and_writes_files(
    world: World, served: tuple[Path, str], tmp_path: Path
) -> None:
    site, url = served
    released(world)
    assert publish(world, site).exit_code == 0
    root = str(site / "metadata" / "1.root.json")
    result = run("download", "releases/1/2/app.json", "--metadata-url", f"{url}/metadata", "--root", root,
                 now=world.now)  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert result.stdout == '{"v": 1}\n'
    result = run("download", "readme.txt", "--metadata-url", f"{url}/metadata", "--root", root,
                 now=world.now)  # fmt: skip
    assert result.exit_code == 2
    assert "readme.txt is not JSON" in out(result)
    target = tmp_path / "readme.txt"
    result = run("download", "readme.txt", "--metadata-url", f"{url}/metadata", "--root", root,
                 "-o", str(target), now=world.now)  # fmt: skip
    assert result.exit_code == 0
    assert target.read_text() == "hello\n"
    result = run("download", "missing.txt", "--metadata-url", f"{url}/metadata", "--root", root,
                 now=world.now)  # fmt: skip
    assert result.exit_code == 4
    assert "missing.txt is not in the repository" in out(result)


def test_download_fails_on_an_expired_timestamp(world: World, served: tuple[Path, str]) -> None:
    site, url = served
    released(world)
    assert publish(world, site).exit_code == 0
    root = str(site / "metadata" / "1.root.json")
    world.tick(3)
    result = run("download", "releases/1/2/app.json", "--metadata-url", f"{url}/metadata", "--root", root,
                 now=world.now)  # fmt: skip
    assert result.exit_code == 4
    assert "ExpiredMetadataError" in out(result)


def test_build_site_refuses_paths_and_hashes_that_escape(world: World, tmp_path: Path) -> None:
    """Defence in depth: even without the validation engine, nothing is written outside OUT."""
    from tufrepo.core.repository import TufRepository  # noqa: PLC0415
    from tufrepo.core.store import OverlayStore, WorktreeStore  # noqa: PLC0415
    from tufrepo.errors import RejectedError  # noqa: PLC0415
    from tufrepo.ops.publish import build_site  # noqa: PLC0415

    released(world, delegate=False)
    git(world.ci, "checkout", "-q", "main")
    md = Metadata[Targets].from_file(str(world.ci / "metadata" / "targets.json"))
    for name, change in (("../../escape.txt", None), ("readme.txt", "../../../evil")):
        store = OverlayStore(WorktreeStore(world.ci))
        hostile = Metadata[Targets].from_dict(md.to_dict())
        entry = hostile.signed.targets["readme.txt"]
        if change is None:
            hostile.signed.targets[name] = entry
        else:
            entry.hashes["sha512"] = change
        store.write("metadata/targets.json", serialize(hostile))
        with pytest.raises(RejectedError):
            build_site(TufRepository(store, now=world.now), store, tmp_path / "out", now=world.now)
        assert not (tmp_path / "out").exists()
        assert not list(tmp_path.parent.glob("*evil*"))
        assert not list(tmp_path.glob("*escape*"))
