"""The client side: run_client_checks, download_target, test-client and download.

Sites are built with tests/repo_builder.py, published with build_site and
served on 127.0.0.1.  Wherever python-tuf's ngclient accepts or rejects a
site, tuf-js is asked too.
"""

from __future__ import annotations

import inspect
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import NOW, ServeDir, run
from repo_builder import APP, APP_DATA, README, README_DATA, RepoBuilder, sha256
from tuf.api.exceptions import ExpiredMetadataError
from tuf.ngclient import Updater
from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tufjs import tufjs_refresh

from tufrepo.client import (
    Check,
    ClientReport,
    DirectoryFetcher,
    default_targets_url,
    download_target,
    new_updater,
    run_client_checks,
    set_reference_time,
)
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import WorktreeStore
from tufrepo.errors import RejectedError
from tufrepo.ops.publish import build_site


def publish(builder: RepoBuilder, site: Path) -> Path:
    store = WorktreeStore(builder.top)
    build_site(TufRepository(store, now=NOW), store, site, now=NOW)
    return site


@pytest.fixture
def builder(tmp_path: Path) -> RepoBuilder:
    return RepoBuilder.create(tmp_path / "repo", NOW)


@pytest.fixture
def site(builder: RepoBuilder, tmp_path: Path) -> Path:
    return publish(builder, tmp_path / "site")


@pytest.fixture
def url(site: Path, serve_dir: ServeDir) -> str:
    return serve_dir(site)


def root_file(site: Path) -> str:
    return str(site / "metadata" / "1.root.json")


def tufjs(url: str, site: Path, targets: list[str]) -> tuple[bool, object]:
    return tufjs_refresh(f"{url}/metadata", f"{url}/targets", Path(root_file(site)), targets)


# --- the reference-time hook into python-tuf ------------------------------------------


def test_python_tuf_still_has_the_reference_time_hook(site: Path, tmp_path: Path) -> None:
    """Fails loudly when python-tuf changes what set_reference_time relies on.

    client.set_reference_time writes ``Updater._trusted_set.reference_time``,
    a private attribute; if this test fails after upgrading python-tuf, adapt
    that one function (or use a public option, should python-tuf grow one).
    """
    source = inspect.getsource(TrustedMetadataSet)
    assert "self.reference_time = " in source
    for role in ("root", "timestamp", "snapshot"):
        assert f"self.{role}.is_expired(self.reference_time)" in source
    assert "new_delegate.is_expired(self.reference_time)" in source
    root = (site / "metadata" / "1.root.json").read_bytes()
    updater = Updater(
        str(tmp_path / "cache"),
        DirectoryFetcher.BASE + "metadata/",
        fetcher=DirectoryFetcher(site),
        bootstrap=root,
    )
    assert isinstance(updater._trusted_set, TrustedMetadataSet)
    assert isinstance(updater._trusted_set.reference_time, datetime)
    ahead = NOW + timedelta(days=3)
    set_reference_time(updater, ahead)
    assert updater._trusted_set.reference_time == ahead
    with pytest.raises(ExpiredMetadataError, match=r"timestamp\.json is expired"):
        updater.refresh()


def test_the_hook_refuses_to_run_without_the_attribute(site: Path, tmp_path: Path) -> None:
    root = (site / "metadata" / "1.root.json").read_bytes()
    fetcher = DirectoryFetcher(site)
    updater = new_updater(
        DirectoryFetcher.BASE + "metadata", None, root, tmp_path, now=NOW, fetcher=fetcher
    )
    del updater._trusted_set.reference_time
    with pytest.raises(RuntimeError, match=r"no longer has TrustedMetadataSet\.reference_time"):
        set_reference_time(updater, NOW)


def test_reference_time_decides_expiry(site: Path, tmp_path: Path) -> None:
    root = (site / "metadata" / "1.root.json").read_bytes()
    fetcher = DirectoryFetcher(site)
    base = DirectoryFetcher.BASE + "metadata"
    new_updater(base, None, root, tmp_path / "a", now=NOW, fetcher=fetcher).refresh()
    just_before = NOW + timedelta(days=2) - timedelta(seconds=1)
    new_updater(base, None, root, tmp_path / "b", now=just_before, fetcher=fetcher).refresh()
    at_expiry = NOW + timedelta(days=2)
    with pytest.raises(ExpiredMetadataError):
        new_updater(base, None, root, tmp_path / "c", now=at_expiry, fetcher=fetcher).refresh()


# --- library --------------------------------------------------------------------------


def test_default_targets_url() -> None:
    assert default_targets_url("https://x.org/repo/metadata") == "https://x.org/repo/targets"
    assert default_targets_url("https://x.org/repo/metadata/") == "https://x.org/repo/targets"
    assert default_targets_url("https://x.org/repo") == "https://x.org/repo/targets"
    assert default_targets_url("https://x.org/metadata-v2") == "https://x.org/metadata-v2/targets"


def test_report_of_a_valid_repository(url: str, tmp_path: Path) -> None:
    report = run_client_checks(
        f"{url}/metadata", targets=[README, APP], valid_days=1, offline_valid_days=30,
        now=NOW, work_dir=tmp_path / "work",
    )  # fmt: skip
    assert report
    assert report.failure is None
    report.require_ok()
    expires = f"{NOW + timedelta(days=365):%Y-%m-%d}"
    assert report.checks == (
        Check("trusted root: 1.root.json (trust on first use, not pinned)", ok=True),
        Check(f"refresh from {url}/metadata", ok=True),
        Check("whole repository valid 1 days ahead", ok=True),
        Check("root valid 30 days ahead", ok=True, detail=f"root expires {expires}"),
        Check("targets valid 30 days ahead", ok=True, detail=f"targets expires {expires}"),
        Check(f"download {README} (length and hashes verified)", ok=True),
        Check(f"download {APP} (length and hashes verified)", ok=True),
    )
    # the caller's work dir holds the client caches
    assert (tmp_path / "work" / "cache" / "metadata" / "timestamp.json").exists()
    assert (tmp_path / "work" / "download" / APP.replace("/", "_")).read_bytes() == APP_DATA


def test_report_stops_at_the_first_failure_with_advice(url: str, site: Path) -> None:
    report = run_client_checks(
        f"{url}/metadata", root_bytes=Path(root_file(site)).read_bytes(),
        targets=[README], valid_days=3, now=NOW,
    )  # fmt: skip
    assert not report
    assert [c.ok for c in report.checks] == [True, True, False]
    failed = report.failure
    assert failed is not None
    assert failed.name == "whole repository valid 3 days ahead"
    assert failed.detail == "ExpiredMetadataError: timestamp.json is expired"
    assert failed.hint is not None
    assert "tufrepo online-sign" in failed.hint
    with pytest.raises(RejectedError) as e:
        report.require_ok()
    assert str(e.value) == f"{failed.name}: {failed.detail}"
    assert e.value.hint == failed.hint


def test_offline_roles_must_outlive_the_margin(url: str) -> None:
    report = run_client_checks(f"{url}/metadata", offline_valid_days=366, now=NOW)
    expires = f"{NOW + timedelta(days=365):%Y-%m-%d}"
    assert report.failure == Check(
        "root valid 366 days ahead", ok=False, detail=f"root expires {expires}",
        hint="sign the root event `tufrepo bump-expiring` opens",
    )  # fmt: skip


def test_a_missing_target_is_named(url: str) -> None:
    report = run_client_checks(f"{url}/metadata", targets=["nope.txt"], now=NOW)
    assert report.failure == Check(
        "download nope.txt", ok=False, detail="nope.txt is not in the repository",
        hint="no targets role that delegates this path lists it",
    )  # fmt: skip


def test_a_trusted_root_must_be_root_metadata(url: str, site: Path) -> None:
    for data, problem in [
        (b"{}", "not TUF metadata (missing 'signed')"),
        ((site / "metadata" / "1.targets.json").read_bytes(), "targets metadata, not root"),
    ]:
        report = run_client_checks(f"{url}/metadata", root_bytes=data, now=NOW)
        assert report.checks == (
            Check("trusted root", ok=False, detail=problem,
                  hint="pass the root.json you trust with --root"),
        )  # fmt: skip
    (site / "metadata" / "1.root.json").write_bytes(
        (site / "metadata" / "1.targets.json").read_bytes()
    )
    report = run_client_checks(f"{url}/metadata", now=NOW)
    assert report.failure is not None
    assert report.failure.detail == (
        f"cannot get the first root from {url}/metadata/1.root.json: targets metadata, not root"
    )


def test_trust_on_first_use_needs_a_first_root(tmp_path: Path, serve_dir: ServeDir) -> None:
    (tmp_path / "empty" / "metadata").mkdir(parents=True)
    url = serve_dir(tmp_path / "empty")
    report = run_client_checks(f"{url}/metadata", now=NOW)
    failed = report.failure
    assert failed is not None
    assert failed.name == "trusted root: 1.root.json (trust on first use)"
    assert failed.detail.startswith(f"cannot get the first root from {url}/metadata/1.root.json")
    report = run_client_checks("file:///etc/metadata", now=NOW)
    assert report.failure is not None
    assert "is not an http(s) URL" in report.failure.detail


def test_download_target_returns_verified_bytes(url: str, site: Path) -> None:
    root = Path(root_file(site)).read_bytes()
    assert download_target(f"{url}/metadata", None, root, APP, now=NOW) == APP_DATA
    with pytest.raises(RejectedError) as e:
        download_target(f"{url}/metadata", None, root, APP, now=NOW + timedelta(days=3))
    assert str(e.value) == (
        f"{APP} does not verify: ExpiredMetadataError: timestamp.json is expired"
    )
    assert e.value.hint is not None
    assert "online-sign" in e.value.hint


# --- test-client ----------------------------------------------------------------------


# The default margins (--valid-days auto) of a site published at NOW.
MARGINS_OK = [
    (
        f"OK   timestamp re-signed in time: expires {NOW + timedelta(days=2):%Y-%m-%d %H:%M} UTC, "
        "48.0 h left, at least 12.0 h required (half its 1-day signing period)"
    ),
    (
        f"OK   snapshot re-signed in time: expires {NOW + timedelta(days=365):%Y-%m-%d %H:%M} UTC, "
        "365.0 days left, at least 30.0 days required (half its 60-day signing period)"
    ),
]


def test_test_client_trust_on_first_use(url: str, site: Path) -> None:
    result = run("test-client", f"{url}/metadata", "--target", README, "--target", APP)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "OK   trusted root: 1.root.json (trust on first use, not pinned)",
        f"OK   refresh from {url}/metadata",
        *MARGINS_OK,
        f"OK   download {README} (length and hashes verified)",
        f"OK   download {APP} (length and hashes verified)",
    ]
    ok, detail = tufjs(url, site, [README, APP])
    assert ok, detail


def test_test_client_with_a_pinned_root_and_json(url: str, site: Path) -> None:
    result = run(
        "--json", "test-client", f"{url}/metadata", "--root", root_file(site),
        "--targets-url", f"{url}/targets", "--valid-days", "1", "--offline-valid-days", "300",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == "OK   trusted root: version 1 (pinned)"
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert [c["name"] for c in data["checks"]] == [
        "trusted root: version 1 (pinned)",
        f"refresh from {url}/metadata",
        "whole repository valid 1 days ahead",
        "root valid 300 days ahead",
        "targets valid 300 days ahead",
    ]


def test_test_client_fails_on_expired_metadata(url: str, site: Path) -> None:
    result = run("test-client", f"{url}/metadata", "--root", root_file(site), "--valid-days", "2")
    assert result.exit_code == 4
    assert (
        "FAIL whole repository valid 2 days ahead: ExpiredMetadataError: timestamp.json is expired"
        in result.stdout
    )
    assert result.stderr.splitlines()[0] == (
        "error: whole repository valid 2 days ahead: "
        "ExpiredMetadataError: timestamp.json is expired"
    )
    assert result.stderr.splitlines()[1].startswith("hint: metadata expires before the checked")
    later = (NOW + timedelta(days=3)).isoformat()
    result = run("test-client", f"{url}/metadata", "--time", later)
    assert result.exit_code == 4
    assert (
        f"FAIL refresh from {url}/metadata: ExpiredMetadataError: timestamp.json is expired"
    ) in result.stdout
    result = run("test-client", f"{url}/metadata", "--time", "yesterday")
    assert result.exit_code == 2
    assert "error: --time: not an ISO 8601 time: yesterday" in result.stderr


def test_test_client_and_tufjs_reject_a_tampered_artifact(url: str, site: Path) -> None:
    artifact = site / "targets" / f"{sha256(README_DATA)}.{README}"
    artifact.write_bytes(b"hellO\n")  # same length, other content
    result = run("test-client", f"{url}/metadata", "--root", root_file(site), "--target", README)
    assert result.exit_code == 4
    assert f"FAIL download {README}: LengthOrHashMismatchError" in result.stdout
    assert "hint: a file served differs from what signed metadata lists" in result.stderr
    ok, detail = tufjs(url, site, [README])
    assert not ok
    assert f"Expected hash {sha256(README_DATA)} but got" in str(detail)
    # the other artifact is still fine for both
    assert run("test-client", f"{url}/metadata", "--target", APP).exit_code == 0
    ok, detail = tufjs(url, site, [APP])
    assert ok, detail


def test_test_client_and_tufjs_reject_a_broken_root_chain(
    builder: RepoBuilder, tmp_path: Path, serve_dir: ServeDir
) -> None:
    builder.rotate_root()
    builder.write()
    site = publish(builder, tmp_path / "site")
    url = serve_dir(site)
    assert run("test-client", f"{url}/metadata", "--root", root_file(site)).exit_code == 0
    ok, detail = tufjs(url, site, [APP])
    assert ok, detail
    rotated = site / "metadata" / "2.root.json"
    data = json.loads(rotated.read_text())
    # keep only the new keys' signatures: the old root's threshold (2) is no longer met
    new_keys = {builder.signers[n].public_key.keyid for n in ("dave",)}
    data["signatures"] = [s for s in data["signatures"] if s["keyid"] in new_keys]
    rotated.write_text(json.dumps(data))
    result = run("test-client", f"{url}/metadata", "--root", root_file(site))
    assert result.exit_code == 4
    assert f"FAIL refresh from {url}/metadata: UnsignedMetadataError: " in result.stdout
    assert "hint: a signature does not verify with the keys its delegator lists" in result.stderr
    ok, detail = tufjs(url, site, [])
    assert not ok
    assert "root was signed by 0/2 keys" in str(detail)


def test_test_client_updates_from_the_deployed_repository(
    builder: RepoBuilder, tmp_path: Path, serve_dir: ServeDir
) -> None:
    old = serve_dir(publish(builder, tmp_path / "old"))
    builder.rotate_root()
    builder.roles["delegated"].signed.version = 2
    builder.bump_online()
    builder.write()
    new = serve_dir(publish(builder, tmp_path / "new"))
    root = root_file(tmp_path / "old")
    result = run(
        "test-client", f"{new}/metadata", "--update-from", f"{old}/metadata", "--root", root,
        "--target", APP,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "OK   trusted root: version 1 (pinned)",
        f"OK   refresh from the deployed repository {old}/metadata",
        f"OK   refresh from {new}/metadata",
        *MARGINS_OK,
        f"OK   download {APP} (length and hashes verified)",
    ]
    # going back from the new deployment to the old one is a rollback
    result = run(
        "test-client", f"{old}/metadata", "--update-from", f"{new}/metadata", "--root", root
    )
    assert result.exit_code == 4
    assert f"FAIL refresh from {old}/metadata: BadVersionNumberError" in result.stdout
    assert "hint: the server offers other versions than the client already trusts" in (
        result.stderr
    )


def test_update_from_an_expired_deployment_is_noted_not_failed(
    url: str, site: Path, tmp_path: Path, serve_dir: ServeDir
) -> None:
    builder = RepoBuilder.create(tmp_path / "other", NOW)  # another repository entirely
    other = serve_dir(publish(builder, tmp_path / "other-site"))
    later = NOW + timedelta(days=3)
    result = run("test-client", f"{url}/metadata", "--update-from", f"{url}/metadata",
                 "--root", root_file(site), "--time", later.isoformat())  # fmt: skip
    assert result.exit_code == 4  # the new one is expired too
    assert (
        f"OK   refresh from the deployed repository {url}/metadata: expired there, "
        "as a new deployment would fix"
    ) in result.stdout
    # a deployed repository that does not chain from the root fails
    result = run("test-client", f"{url}/metadata", "--update-from", f"{other}/metadata",
                 "--root", root_file(site))  # fmt: skip
    assert result.exit_code == 4
    assert f"FAIL refresh from the deployed repository {other}/metadata: " in result.stdout


def test_test_client_targets_url_default_and_override(
    builder: RepoBuilder, tmp_path: Path, serve_dir: ServeDir
) -> None:
    site = tmp_path / "site"
    store = WorktreeStore(builder.top)
    build_site(TufRepository(store, now=NOW), store, site, now=NOW,
               metadata_path="tuf", targets_path="files")  # fmt: skip
    url = serve_dir(site)
    root = str(site / "tuf" / "1.root.json")
    result = run("test-client", f"{url}/tuf", "--root", root, "--target", APP)
    assert result.exit_code == 4  # default: {url}/tuf/targets, which does not exist
    assert f"FAIL download {APP}: DownloadHTTPError" in result.stdout
    assert "hint: the server does not have this file" in result.stderr
    result = run("test-client", f"{url}/tuf", "--root", root, "--target", APP,
                 "--targets-url", f"{url}/files")  # fmt: skip
    assert result.exit_code == 0, result.output
    ok, detail = tufjs_refresh(f"{url}/tuf", f"{url}/files", Path(root), [APP])
    assert ok, detail


# --- download ---------------------------------------------------------------------------


def test_download_writes_the_file_or_prints_json(url: str, site: Path, tmp_path: Path) -> None:
    args = ("--metadata-url", f"{url}/metadata", "--root", root_file(site))
    result = run("download", APP, *args)
    assert result.exit_code == 0, result.output
    assert result.stdout == APP_DATA.decode()
    out = tmp_path / "readme.txt"
    result = run("download", README, *args, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == README_DATA
    assert result.stdout == f"Verified {README} (6 bytes) -> {out}\n"
    result = run("download", README, *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {README} is not JSON",
        "hint: pass -o FILE to save it",
    ]
    result = run("download", "nope.json", *args)
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "error: nope.json does not verify: nope.json is not in the repository",
        "hint: no targets role that delegates this path lists it",
    ]


def test_download_refuses_a_tampered_target_and_writes_nothing(
    url: str, site: Path, tmp_path: Path
) -> None:
    served_file = site / "targets" / "delegated" / "sub" / f"{sha256(APP_DATA)}.app.json"
    served_file.write_bytes(b'{"v": 2}\n')
    out = tmp_path / "app.json"
    args = ("--metadata-url", f"{url}/metadata", "--root", root_file(site))
    result = run("download", APP, *args, "-o", str(out))
    assert result.exit_code == 4
    assert f"error: {APP} does not verify: LengthOrHashMismatchError" in result.stderr
    assert not out.exists()
    result = run("download", APP, *args)
    assert result.exit_code == 4
    assert result.stdout == ""
    ok, detail = tufjs(url, site, [APP])
    assert not ok
    assert f"Expected hash {sha256(APP_DATA)} but got" in str(detail)


def test_download_refuses_another_repositorys_root(url: str, tmp_path: Path) -> None:
    other = RepoBuilder.create(tmp_path / "other", NOW)
    (tmp_path / "other-root.json").write_bytes(other.root_bytes())
    result = run("download", APP, "--metadata-url", f"{url}/metadata",
                 "--root", str(tmp_path / "other-root.json"))  # fmt: skip
    assert result.exit_code == 4
    assert "UnsignedMetadataError" in result.stderr


def test_client_report_is_a_value() -> None:
    report = ClientReport((Check("a", ok=True), Check("b", ok=False, detail="why", hint="do")))
    assert not report
    assert report.failure == Check("b", ok=False, detail="why", hint="do")
    assert ClientReport(()).ok
