"""Artifacts kept out of git: strict manifest lines, update-targets, publish, and both clients
downloading from a separate artifact store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ServeDir, World, out, run
from test_bins import delegate_bins, released, role_json
from tufjs import tufjs_refresh

from tufrepo.client import download_target
from tufrepo.core.store import OverlayStore
from tufrepo.errors import RejectedError
from tufrepo.ops.manifest import MANIFEST_DIR, manifest_path, parse_line, read_manifests

BIG = b"an artifact too large for git\n" * 2000
SHA = hashlib.sha256(BIG).hexdigest()
PATH = "releases/big/app.bin"


def line(**fields: Any) -> str:
    entry: dict[str, Any] = {"path": PATH, "length": len(BIG), "hashes": {"sha256": SHA}}
    entry.update(fields)
    return json.dumps({k: v for k, v in entry.items() if v is not None})


# --- every line validated strictly ---------------------------------------------------


def test_a_valid_line_becomes_a_metadata_entry() -> None:
    target = parse_line(line(custom={"build": "ci-42"}).encode())
    assert (target.path, target.length, target.hashes) == (PATH, len(BIG), {"sha256": SHA})
    assert target.custom == {"build": "ci-42"}
    sha512 = hashlib.sha512(BIG).hexdigest()
    assert parse_line(line(hashes={"sha256": SHA, "sha512": sha512}).encode()).hashes["sha512"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json", "manifest-malformed"),
        (b"", "manifest-malformed"),  # blank line
        (b"[1, 2]", "manifest-malformed"),
        (b'{"path": "a", "path": "b", "length": 1, "hashes": {}}', "manifest-malformed"),
        (line(url="https://elsewhere").encode(), "manifest-malformed"),  # unknown field
        (line().replace(str(len(BIG)), "NaN").encode(), "manifest-malformed"),
        (b"\xff\xfe" + line().encode(), "manifest-malformed"),  # not UTF-8
        (line(custom={"pad": "x" * 70_000}).encode(), "manifest-malformed"),  # too long
        (line(path="../etc/passwd").encode(), "manifest-bad-path"),
        (line(path="/releases/app").encode(), "manifest-bad-path"),
        (line(path="releases\\app").encode(), "manifest-bad-path"),
        (line(path="releases/.hidden").encode(), "manifest-bad-path"),
        (line(path="releases//app").encode(), "manifest-bad-path"),
        (line(path="releases/app%2e%2e").encode(), "manifest-bad-path"),
        (line(path="releases/app?x=1").encode(), "manifest-bad-path"),
        (line(path=7).encode(), "manifest-bad-path"),
        (line(length=-1).encode(), "manifest-bad-length"),
        (line(length=1.5).encode(), "manifest-bad-length"),
        (line(length=True).encode(), "manifest-bad-length"),
        (line(length=2**64).encode(), "manifest-bad-length"),
        (line(length="12").encode(), "manifest-bad-length"),
        (line(hashes={"sha512": hashlib.sha512(BIG).hexdigest()}).encode(), "manifest-bad-hash"),
        (line(hashes={"sha256": SHA[:-1]}).encode(), "manifest-bad-hash"),
        (line(hashes={"sha256": SHA.upper()}).encode(), "manifest-bad-hash"),
        (line(hashes={"sha256": SHA, "md5": "0" * 32}).encode(), "manifest-bad-hash"),
        (line(hashes=[SHA]).encode(), "manifest-bad-hash"),
        (line(custom=["not", "an", "object"]).encode(), "manifest-bad-custom"),
        (line(custom={"x": "\ud800"}).encode(), "manifest-bad-custom"),  # a lone surrogate
    ],
)
def test_hostile_lines_are_refused_with_a_specific_code(raw: bytes, code: str) -> None:
    """Signers vouch for these entries with no file to compare: nothing ambiguous may pass."""
    store = OverlayStore()
    store.write(manifest_path("releases"), raw + b"\n")
    manifests = read_manifests(store)
    assert manifests.entries == []
    assert [p.code for p in manifests.problems] == [code]
    assert manifests.problems[0].line == 1
    with pytest.raises(RejectedError, match="invalid artifact manifest"):
        manifests.require_valid()


def test_a_path_listed_twice_is_refused_even_by_case() -> None:
    """Two entries for one path: which one signers reviewed would depend on reading order."""
    store = OverlayStore()
    store.write(manifest_path("releases"), f"{line()}\n{line()}\n".encode())
    other = line(path=PATH.upper().replace("RELEASES", "releases"))
    store.write(manifest_path("other"), f"{other}\n".encode())
    manifests = read_manifests(store)
    assert [p.code for p in manifests.problems] == ["manifest-duplicate", "manifest-duplicate"]


def test_manifest_files_must_be_named_after_a_role() -> None:
    store = OverlayStore()
    store.write(f"{MANIFEST_DIR}/notes.txt", b"hello\n")
    store.write(f"{MANIFEST_DIR}/..jsonl", f"{line()}\n".encode())
    assert [p.code for p in read_manifests(store).problems] == ["manifest-name", "manifest-name"]


# --- on an event, and through publish to both clients ----------------------------------


def add_manifest(world: World, event: str, content: str) -> None:
    alice = world.user("alice")
    alice.push_files(event, {manifest_path("releases"): content})


def test_manifest_artifact_published_as_metadata_and_downloaded_from_a_store(
    world: World, tmp_path: Path, serve_dir: ServeDir
) -> None:
    alice = released(world)
    add_manifest(world, "sign/big", line(custom={"build": "ci-42"}) + "\n")
    result = world.ci_run("--json", "update-targets", "--push", event="sign/big")
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[-1])["roles"] == ["releases"]
    code, status = world.status("sign/big")
    assert code == 3, status["findings"]  # waiting for alice, nothing else
    assert not [f for f in status["findings"] if f["code"] == "outside-change"]
    assert alice.sign("sign/big").exit_code == 0
    assert world.status("sign/big")[0] == 0
    world.merge("sign/big")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    site = tmp_path / "site"
    result = run("-C", str(world.ci), "--json", "publish", str(site), now=world.now)
    assert result.exit_code == 0, out(result)
    entry = _latest(site, "releases")["signed"]["targets"][PATH]
    assert entry == {"length": len(BIG), "hashes": {"sha256": SHA}, "custom": {"build": "ci-42"}}
    assert not list((site / "targets").rglob("*app.bin"))  # metadata only
    store = tmp_path / "store"
    (store / "releases" / "big").mkdir(parents=True)
    (store / "releases" / "big" / f"{SHA}.app.bin").write_bytes(BIG)
    root = site / "metadata" / "1.root.json"
    site_url, store_url = serve_dir(site), serve_dir(store)
    assert (
        download_target(f"{site_url}/metadata", store_url, root.read_bytes(), PATH, now=world.now)
        == BIG
    )
    ok, detail = tufjs_refresh(f"{site_url}/metadata", store_url, root, [PATH])
    assert ok, detail


def _latest(site: Path, role: str) -> dict[str, Any]:
    files = sorted(
        (site / "metadata").glob(f"*.{role}.json"), key=lambda p: int(p.name.split(".")[0])
    )
    data: dict[str, Any] = json.loads(files[-1].read_text())
    return data


def test_manifest_artifacts_in_bins_both_clients_verify_against_the_store(
    world: World, tmp_path: Path, serve_dir: ServeDir
) -> None:
    alice = released(world)
    add_manifest(world, "sign/big", line(custom={"build": "ci-42"}) + "\n")
    delegate_bins(alice, "sign/big", "4")
    result = world.ci_run("--json", "update-targets", "--push", event="sign/big")
    assert result.exit_code == 0, out(result)
    assert alice.sign("sign/big").exit_code == 0
    code, status = world.status("sign/big")
    assert code == 0, status["findings"]
    world.merge("sign/big")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    site = tmp_path / "site"
    result = run("-C", str(world.ci), "--json", "publish", str(site), now=world.now)
    assert result.exit_code == 0, out(result)
    # metadata only: no file for the manifest artifact in the site
    assert not list((site / "targets").rglob("*app.bin"))
    # the artifact store: the consistent-snapshot name clients ask for, on another server
    store = tmp_path / "store"
    (store / "releases" / "big").mkdir(parents=True)
    (store / "releases" / "big" / f"{SHA}.app.bin").write_bytes(BIG)
    site_url, store_url = serve_dir(site), serve_dir(store)
    root_file = site / "metadata" / "1.root.json"
    got = download_target(
        f"{site_url}/metadata", store_url, root_file.read_bytes(), PATH, now=world.now
    )
    assert got == BIG
    ok, detail = tufjs_refresh(f"{site_url}/metadata", store_url, root_file, [PATH])
    assert ok, detail
    assert isinstance(detail, dict)
    assert detail["targets"] == {PATH: SHA}
    # a store serving other bytes under that name: both clients refuse them
    (store / "releases" / "big" / f"{SHA}.app.bin").write_bytes(BIG[:-1] + b"!")
    with pytest.raises(Exception, match=r"(?i)hash|length"):
        download_target(
            f"{site_url}/metadata", store_url, root_file.read_bytes(), PATH, now=world.now
        )
    ok, detail = tufjs_refresh(f"{site_url}/metadata", store_url, root_file, [PATH])
    assert not ok, detail


def test_bins_auto_counts_the_artifacts_a_manifest_lists(world: World) -> None:
    # 5,000 artifacts listed only in the manifest (update-targets has not run):
    # auto must see them, and keep bins at or under 2,048 entries for tuf-js.
    alice = released(world)
    lines = "".join(
        line(path=f"releases/many/a{i}.bin", hashes={"sha256": f"{i:064x}"}) + "\n"
        for i in range(5000)
    )
    add_manifest(world, "sign/many", lines)
    delegate_bins(alice, "sign/many", "auto")
    releases = role_json(world, "releases", "sign/many")["signed"]
    assert len(releases["delegations"]["roles"]) == 4  # 5,000 / 4 = 1,250 per bin


def test_a_hostile_manifest_is_refused_by_status_and_update_targets(world: World) -> None:
    released(world)
    add_manifest(world, "sign/bad", line(hashes={"sha256": "0" * 63}) + "\n")
    result = world.ci_run("update-targets", "--push", event="sign/bad")
    assert result.exit_code == 4
    assert "invalid artifact manifest" in out(result)
    code, status = world.status("sign/bad")
    assert code == 4
    assert {"manifest-bad-hash"} <= {f["code"] for f in status["findings"]}


def test_a_manifest_cannot_list_another_roles_paths_or_shadow_a_file(world: World) -> None:
    """A manifest adding artifacts under another role's paths, or describing a file in git twice."""
    released(world)
    content = line(path="readme.txt") + "\n" + line(path="releases/app-1.txt") + "\n"
    add_manifest(world, "sign/bad", content)
    code, status = world.status("sign/bad")
    assert code == 4
    codes = {f["code"] for f in status["findings"]}
    assert {"manifest-role", "manifest-duplicate"} <= codes
