"""Red team of publish's shortcuts (#14): ``resolved_before`` (the client check
skips roles the published site lists at the same version) and the published
anchor's state counting as judged when its own snapshot vouches for it.

Every test asserts the SAFE outcome: it fails when the attack succeeds.
Attackers: push to main (no force push, no keys), or a hostile mirror.
"""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import World, git, init_repo, out, run
from test_redteam_by_change import push

from tufrepo.checks import Finding, errors
from tufrepo.client import DirectoryFetcher, new_updater
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import WorktreeStore
from tufrepo.gitrepo import GitRepo
from tufrepo.ops import anchor as anchor_ops
from tufrepo.ops import publish as publish_ops
from tufrepo.ops.anchor import judge_main_state

A = b"release A\n"
B = b"release B (the honest v2)\n"
C = b"release C (a stale event's v2)\n"


# --- helpers -------------------------------------------------------------------------


def show(repo: Path, rev: str, path: str) -> bytes:
    """A file's bytes at ``rev``."""
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True, check=True
    ).stdout


def with_releases(world: World) -> World:
    """alice creates the repository with a role `releases` holding releases/a.bin; merged, online-signed."""
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    result = alice.tufrepo("delegate", "sign/init", "releases", "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    alice.push_files("sign/init", {"targets/releases/a.bin": A}, start="origin/sign/init")
    assert world.ci_run("update-targets", "--push", event="sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    return world


def event(world: World, name: str, files: dict[str, str | bytes | None]) -> None:
    """A signing event from main with ``files``, update-targets'd and signed by alice (not merged)."""
    alice = world.users["alice"]
    alice.push_files(name, files, start="origin/main")
    assert world.ci_run("update-targets", "--push", event=name).exit_code == 0
    assert alice.sign(name).exit_code == 0
    assert world.status(name)[0] == 0


def publish(world: World, site: Path, *args: str) -> int:
    git(world.ci, "fetch", "-q", "--prune", "origin")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    result = run("-C", str(world.ci), "publish", str(site), *args, now=world.now)
    return result.exit_code


def judge_from(world: World, anchor: str, *, by_change: bool = True) -> list[Finding]:
    git(world.ci, "fetch", "-q", "--prune", "origin")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    with GitRepo(world.ci) as repo:
        store = WorktreeStore(repo.top)
        verdict = judge_main_state(
            TufRepository(store, now=world.now), store, git=repo, rev=repo.head(),
            anchor_source=anchor, now=world.now, by_change=by_change,
        )  # fmt: skip
    return verdict.findings


def client_resolves(world: World, site: Path, path: str, tmp: Path) -> str:
    """What a fresh python-tuf client makes of ``path`` on ``site`` (served from disk)."""
    work = tmp / "client"
    shutil.rmtree(work, ignore_errors=True)
    updater = new_updater(
        DirectoryFetcher.BASE + "metadata", DirectoryFetcher.BASE + "targets",
        (site / "metadata" / "1.root.json").read_bytes(), work, now=world.now,
        fetcher=DirectoryFetcher(site),
    )  # fmt: skip
    try:
        updater.refresh()
        info = updater.get_targetinfo(path)
    except Exception as e:  # noqa: BLE001 - a diagnostic: whatever the client says
        return f"fails: {type(e).__name__}: {e}"
    return "missing" if info is None else f"resolved {info.hashes}"


# --- 1. main push: snapshot ahead of a role, the role equal to the published one -------


@pytest.mark.parametrize("shortcut", [True, False])
def test_a_role_behind_its_snapshot_is_never_published(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shortcut: bool
) -> None:
    """Attack (push to main, no keys; the site lags the last online-sign by one run):
    main's snapshot lists releases v2 (honest release, online-signed, not yet
    published); the attacker puts releases.json (and its files) back to v1, the
    version the site lists.  Judged from the site, releases did not change (a
    timestamp equal to the published one is committed first, so that commit is
    the anchor and the walk never sees the honest v2 state).  resolved_before
    then skipped releases (v1 == the published v1) although the snapshot the
    client walks lists v2: publish wrote a site with 1.releases.json only, so
    no client could resolve releases/a.bin.  Without the shortcut (the control)
    the client check asks for 2.releases.json and refuses."""
    if not shortcut:
        monkeypatch.setattr(publish_ops, "resolved_before", lambda repo, published: set())
    with_releases(world)
    site = tmp_path / "site"
    assert publish(world, site) == 0  # P: releases v1
    published_ts = (site / "metadata" / "timestamp.json").read_bytes()
    event(world, "sign/r2", {"targets/releases/b.bin": B})
    world.merge("sign/r2")
    assert world.ci_run("online-sign", "--push").exit_code == 0  # Y: snapshot lists releases v2
    evil = world.attacker()
    y = git(evil, "rev-parse", "HEAD")
    honest_ts = (evil / "metadata" / "timestamp.json").read_bytes()
    # Z1: the published timestamp again: the latest match becomes the anchor state
    (evil / "metadata" / "timestamp.json").write_bytes(published_ts)
    push(evil, "Online sign (timestamp)")
    # Z2: Y's timestamp back, releases at the published v1
    (evil / "metadata" / "timestamp.json").write_bytes(honest_ts)
    v1 = (site / "metadata" / "1.releases.json").read_bytes()  # what the site serves
    (evil / "metadata" / "releases.json").write_bytes(v1)
    (evil / "targets" / "releases" / "b.bin").unlink()
    push(evil, "Online sign (timestamp)")
    snapshot = json.loads(show(evil, y, "metadata/snapshot.json"))
    assert snapshot["signed"]["meta"]["releases.json"]["version"] == 2

    code = publish(world, site)
    outcome = client_resolves(world, site, "releases/a.bin", tmp_path)
    assert code == 4, (
        f"publish accepted a site whose snapshot lists releases v2 beside 1.releases.json; "
        f"a client on the published site: {outcome}"
    )


# --- 2. main push: the anchor state vouched for by its own (older) snapshot ------------


def reset_known_good(world: World, site: Path) -> Path:
    """The attack of test 2 up to publishing; returns the attacker's clone.

    Before: releases v1 (a.bin) online-signed at S1 (its snapshot names M1);
    a signing event sign/alt with releases v2 = {a.bin, c.bin}, signed by
    alice, never merged (stale: another v2 was merged first); sign/r2 with
    releases v2 = {a.bin, b.bin} merged, online-signed and published (P).
    """
    with_releases(world)
    s1 = git(world.ci, "rev-parse", "origin/main")
    event(world, "sign/alt", {"targets/releases/c.bin": C})  # signed, never merged
    event(world, "sign/r2", {"targets/releases/b.bin": B})
    world.merge("sign/r2")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    assert publish(world, site) == 0  # P: releases v2 = {a.bin, b.bin}
    published_ts = (site / "metadata" / "timestamp.json").read_bytes()
    evil = world.attacker()
    reserialised = json.dumps(json.loads(published_ts), indent=4).encode()
    assert reserialised != published_ts
    # Z0: main's tip holds the published timestamp; any other bytes first, so
    # that Z1 changes timestamp.json (an "online-signed state" of the walk)
    (evil / "metadata" / "timestamp.json").write_bytes(reserialised)
    push(evil, "Online sign (timestamp)")
    # Z1: S1's metadata (snapshot naming M1, offline metadata = M1's) under the
    # published timestamp: the latest state matching the site, never judged,
    # yet "vouched for" by its own snapshot, so its offline metadata counts as judged.
    git(evil, "checkout", s1, "--", "metadata")
    (evil / "metadata" / "timestamp.json").write_bytes(published_ts)
    push(evil, "Online sign (timestamp)")
    # Z2: the published snapshot and the published timestamp re-serialised
    # (same signed part, other bytes): a new online-signed state whose
    # offline metadata equals Z1's, so its targets roles are not judged
    # against the site (releases went back from v2 to v1).
    (evil / "metadata" / "snapshot.json").write_bytes(
        show(evil, "origin/main~1", "metadata/snapshot.json")
    )
    (evil / "metadata" / "timestamp.json").write_bytes(reserialised)
    push(evil, "Online sign (timestamp)")
    # Z3 (HEAD): the stale event's releases v2 and its files, judged from Z2 only
    (evil / "metadata" / "releases.json").write_bytes(
        show(evil, "origin/sign/alt", "metadata/releases.json")
    )
    (evil / "targets" / "releases" / "b.bin").unlink(missing_ok=True)
    (evil / "targets" / "releases" / "c.bin").write_bytes(C)
    push(evil, "Merge sign/alt")
    return evil


def without_anchor_vouching(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk as before 85990a9: the published anchor's state is never taken as judged."""
    real = anchor_ops._vouching_commit

    def vouching(git_: GitRepo, state: TufRepository, offline: dict[str, str]) -> str | None:
        if inspect.stack()[1].function == "_judge_history":
            return None  # the call deciding judged_offline for the anchor state
        return real(git_, state, offline)

    monkeypatch.setattr(anchor_ops, "_vouching_commit", vouching)


def test_a_second_releases_v2_is_refused_without_anchor_vouching(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: with the anchor state not counted as judged, the walk refuses this main."""
    site = tmp_path / "site"
    reset_known_good(world, site)
    without_anchor_vouching(monkeypatch)
    found = {(f.role, f.code) for f in errors(judge_from(world, str(site / "metadata")))}
    assert ("releases", "rollback") in found
    assert publish(world, site) == 4


def test_a_second_releases_v2_is_never_accepted_after_the_published_one(
    world: World, tmp_path: Path
) -> None:
    """Attack (push to main, no keys): equivocation.  The site serves releases
    v2 = {a.bin, b.bin}; main ends with another releases v2 = {a.bin, c.bin}
    (a signed, stale, never-merged event).  Before 85990a9 the walk refuses it
    (releases went back from v2 to v1 at Z2).  Now the walk takes the
    attacker's Z1 (published timestamp, S1's metadata, S1's snapshot naming
    M1) as judged, Z2 (= Z1's offline metadata) skips its targets roles, and
    HEAD is judged only from Z2.  by_change=False (``verify``) walks the same
    way: the anchor's judged_offline is not gated by by_change."""
    site = tmp_path / "site"
    reset_known_good(world, site)
    assert errors(judge_from(world, str(site / "metadata"))), "by change: accepted"
    assert errors(judge_from(world, str(site / "metadata"), by_change=False)), (
        "by_change=False (verify, the audit): accepted"
    )


def test_a_second_releases_v2_is_never_published(world: World, tmp_path: Path) -> None:
    """The same attack, end to end as CI runs it: online-sign, publish and verify
    anchored on the site."""
    site = tmp_path / "site"
    reset_known_good(world, site)
    before = (site / "metadata" / "2.releases.json").read_bytes()
    anchor = str(site / "metadata")
    online = world.ci_run("online-sign", "--anchor", anchor)  # not pushed: publish sees HEAD
    verify = world.ci_run("verify", "--anchor", anchor)
    code = publish(world, site)
    after = (site / "metadata" / "2.releases.json").read_bytes()
    assert (online.exit_code, verify.exit_code, code, after) == (4, 4, 4, before), (
        f"online-sign exit {online.exit_code}, verify exit {verify.exit_code}, publish exit "
        f"{code}; the site's releases v2 now lists "
        f"{sorted(json.loads(after)['signed']['targets'])}, "
        f"was {sorted(json.loads(before)['signed']['targets'])}"
    )


# --- 3. hostile mirror: a published snapshot of its own -------------------------------


@pytest.mark.parametrize("shortcut", [True, False])
def test_a_mirror_cannot_make_publish_skip_a_stale_role(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shortcut: bool
) -> None:
    """Attack (hostile mirror serving --anchor): main is honest but stale (a
    release merged, online-sign not run yet: its snapshot lists releases v2,
    releases.json is v3).  The client check refuses to publish that.  The
    mirror serves the real timestamp and roots, and under the snapshot name
    the timestamp gives an unsigned snapshot of its own (version 1, listing
    releases v3): nothing checks its signature or hash, resolved_before takes
    releases as resolved before, and publish writes a site whose snapshot
    lists releases v2 beside 3.releases.json only."""
    if not shortcut:
        monkeypatch.setattr(publish_ops, "resolved_before", lambda repo, published: set())
    with_releases(world)
    event(world, "sign/r1", {"targets/releases/b.bin": B})
    world.merge("sign/r1")
    assert world.ci_run("online-sign", "--push").exit_code == 0  # snapshot v2: releases v2
    site = tmp_path / "site"
    assert publish(world, site) == 0
    event(world, "sign/r2", {"targets/releases/c.bin": C})
    world.merge("sign/r2")  # stale: releases v3, snapshot still lists v2
    mirror = tmp_path / "mirror"
    shutil.copytree(site / "metadata", mirror)
    snapshot = json.loads((mirror / "2.snapshot.json").read_bytes())
    snapshot["signed"]["version"] = 1
    snapshot["signed"]["meta"]["releases.json"]["version"] = 3
    (mirror / "2.snapshot.json").write_text(json.dumps(snapshot))
    code = publish(world, tmp_path / "out", "--anchor", str(mirror))
    outcome = (
        client_resolves(world, tmp_path / "out", "releases/a.bin", tmp_path) if code == 0 else ""
    )
    assert code == 4, f"published a stale site; a client on it: {outcome}"
