"""Red team of judging by what changed since a known good judged in full (#14).

Shortcuts attacked: ``TufRepository.unchanged_since_judged`` (per-role rules
skipped, ``_verified_before`` on main), ``delegations._known_leaf``,
``artifacts.artifact_delta`` (only roles owning a changed file judged and
rebuilt), ``manifest.clashes_with_files`` and online-sign's
``versions_from_snapshot``.

Attackers: push to ``sign/*``, push to ``main`` (no keys), a hostile mirror
of the published site (``--anchor``).  Every test asserts the SAFE outcome:
it fails when the attack works.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import User, World, git, out, run
from test_bins import delegate_bins, finding_codes, released, role_json

from tufrepo.core.repository import TufRepository
from tufrepo.ops.bins import bin_for, bin_specs
from tufrepo.ops.manifest import manifest_path

BIG = b"an artifact kept out of git\n" * 50
SHA = hashlib.sha256(BIG).hexdigest()
EXTERNAL = "releases/big/app.bin"  # listed by the manifest only
FOLDED = "releases/big/STRASSE.bin"  # a manifest line; "straße" case-folds to it
BINS = [s.name for s in bin_specs("releases", 4)]


def _line(path: str, **extra: Any) -> str:
    entry: dict[str, Any] = {"path": path, "length": len(BIG), "hashes": {"sha256": SHA}}
    entry.update(extra)
    return json.dumps(entry)


MANIFEST = _line(EXTERNAL, custom={"status": "stable"}) + "\n" + _line(FOLDED) + "\n"


def _main(world: World, manifest: str | None = MANIFEST) -> User:
    """releases in 4 bins with a manifest, merged and online-signed: a vouched main."""
    alice = released(world)
    if manifest is not None:
        alice.push_files("sign/bins", {manifest_path("releases"): manifest})
    delegate_bins(alice, "sign/bins", "4")
    world.land("sign/bins", alice)
    return alice


def _bin_of(path: str) -> str:
    return bin_for(bin_specs("releases", 4), path).name


def _edit_json(clone: Path, role: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = clone / "metadata" / f"{role}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _push_edit(user: User, event: str, edit: Callable[[Path], None]) -> None:
    """``edit`` the event's tip (new from main when it does not exist) and push it."""
    clone = user.clone
    git(clone, "fetch", "-q")
    exists = git(clone, "ls-remote", "--heads", "origin", event)
    git(clone, "switch", "-q", "-C", event, f"origin/{event}" if exists else "origin/main")
    edit(clone)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", f"edit {event}")
    git(clone, "push", "-q", "-f", "origin", event)
    git(clone, "switch", "-q", "main")


def _push_main(path: Path, message: str) -> None:
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    git(path, "push", "-q", "origin", "HEAD:main")  # never forced


def _messages(status: dict[str, Any], needle: str) -> list[dict[str, Any]]:
    return [f for f in status["findings"] if needle in f["message"]]


def _no_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    """The judgement before #14's delta: no known good counts as judged in full."""
    monkeypatch.setattr(
        TufRepository,
        "known_good_judged",
        property(lambda self: False, lambda self, v: None),
        raising=False,
    )


# --- 1. manifest (external) entries in a bin ----------------------------------------


def test_an_external_entrys_hash_changed_in_its_bin_is_reported(world: World) -> None:
    alice = _main(world)
    right = _bin_of(EXTERNAL)
    alice.push_files("sign/hash", {"targets/releases/new.txt": "new\n"})
    assert world.ci_run("update-targets", "--push", event="sign/hash").exit_code == 0
    _push_edit(
        alice,
        "sign/hash",
        lambda c: _edit_json(
            c, right, lambda d: d["signed"]["targets"][EXTERNAL]["hashes"].update(sha256="1" * 64)
        ),
    )
    code, status = world.status("sign/hash")
    assert code != 0
    assert {f["code"] for f in _messages(status, EXTERNAL)} >= {"targets-mismatch"}, status
    # and update-targets puts the manifest's entry back
    assert world.ci_run("update-targets", "--push", event="sign/hash").exit_code == 0
    entry = role_json(world, right, "sign/hash")["signed"]["targets"][EXTERNAL]
    assert entry["hashes"] == {"sha256": SHA}


def test_an_external_entrys_custom_field_changed_in_its_bin_is_reported(world: World) -> None:
    alice = _main(world)
    right = _bin_of(EXTERNAL)
    _push_edit(
        alice,
        "sign/custom",
        lambda c: _edit_json(
            c, right, lambda d: d["signed"]["targets"][EXTERNAL].update(custom={"status": "x"})
        ),
    )
    code, status = world.status("sign/custom")
    assert code != 0
    assert "targets-mismatch" in {f["code"] for f in _messages(status, EXTERNAL)}, status


def test_an_external_entry_dropped_from_its_bin_is_reported(world: World) -> None:
    alice = _main(world)
    right = _bin_of(EXTERNAL)
    _push_edit(
        alice,
        "sign/drop",
        lambda c: _edit_json(c, right, lambda d: d["signed"]["targets"].pop(EXTERNAL)),
    )
    code, status = world.status("sign/drop")
    assert code != 0
    assert "targets-mismatch" in {f["code"] for f in _messages(status, EXTERNAL)}, status


# --- 2. a new file that is also a manifest line: the clash fast path ----------------


@pytest.mark.parametrize(
    "path",
    [EXTERNAL, EXTERNAL.upper(), "releases/big/straße.bin", "Releases/Big/Strasse.BIN"],
    ids=["exact", "upper", "sharp-s", "mixed"],
)
def test_a_new_file_clashing_with_a_manifest_line_is_refused(world: World, path: str) -> None:
    _main(world)
    alice = world.users["alice"]
    alice.push_files("sign/clash", {f"targets/{path}": "a file in git\n"})
    world.ci_run("update-targets", "--push", event="sign/clash")
    code, codes = finding_codes(world, "sign/clash")
    assert code == 4
    assert "manifest-duplicate" in codes


@pytest.mark.parametrize(
    "written",
    [
        '{"path": "releases/big/\\u0061pp2.bin", "length": 1, "hashes": {"sha256": "%s"}}',
        '{"path": "releases\\/big\\/app2.bin", "length": 1, "hashes": {"sha256": "%s"}}',
    ],
    ids=["unicode-escape", "slash-escape"],
)
def test_a_new_file_clashing_with_an_escaped_manifest_line_is_refused(
    world: World, written: str
) -> None:
    _main(world, MANIFEST + (written % SHA) + "\n")
    alice = world.users["alice"]
    alice.push_files("sign/clash", {"targets/releases/big/app2.bin": "x\n"})
    code, codes = finding_codes(world, "sign/clash")
    assert code == 4
    assert "manifest-duplicate" in codes


# --- 3. bins: gaining delegations, swapped files ------------------------------------


def test_a_bin_gaining_delegations_on_an_event_is_refused(world: World) -> None:
    alice = _main(world)

    def delegate_further(d: dict[str, Any]) -> None:
        d["signed"]["delegations"] = {
            "keys": {},
            "roles": [
                {
                    "name": "sub",
                    "keyids": [],
                    "threshold": 1,
                    "terminating": True,
                    "paths": ["releases/*"],
                }
            ],
        }

    _push_edit(alice, "sign/deeper", lambda c: _edit_json(c, BINS[0], delegate_further))
    code, codes = finding_codes(world, "sign/deeper")
    assert code == 4
    assert codes & {"hash-bin-delegation", "missing-role-file", "nested-delegation"}


def test_a_bin_gaining_delegations_pushed_to_main_is_refused(world: World) -> None:
    _main(world)
    evil = world.attacker()

    def delegate_further(d: dict[str, Any]) -> None:
        d["signed"]["delegations"] = {"keys": {}, "roles": []}

    _edit_json(evil, BINS[1], delegate_further)
    _push_main(evil, "bin 01 delegates")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4, out(result)


def test_bin_files_swapped_on_main_are_refused(world: World) -> None:
    _main(world)
    evil = world.attacker()
    a, b = evil / "metadata" / f"{BINS[0]}.json", evil / "metadata" / f"{BINS[1]}.json"
    ab, bb = a.read_bytes(), b.read_bytes()
    a.write_bytes(bb)
    b.write_bytes(ab)
    _push_main(evil, "swap bins")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4, out(result)


# --- 4. main: artifacts changed without metadata ------------------------------------


def test_artifact_bytes_changed_on_main_are_refused(world: World) -> None:
    _main(world)
    evil = world.attacker()
    (evil / "targets" / "releases" / "app-3.txt").write_text("evil 3\n")
    _push_main(evil, "swap bytes")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4, out(result)
    assert "targets-mismatch" in out(result) or "app-3" in out(result)


def test_publish_from_a_dirty_work_tree_is_refused(world: World, tmp_path: Path) -> None:
    """publish judges the work tree by change (no dirty check): untracked and modified files."""
    _main(world)
    git(world.ci, "fetch", "-q")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    (world.ci / "targets" / "releases" / "untracked.txt").write_text("not in git\n")
    (world.ci / "targets" / "releases" / "app-2.txt").write_text("modified\n")
    result = run("-C", str(world.ci), "publish", str(tmp_path / "site"), now=world.now)
    assert result.exit_code == 4, out(result)


# --- 5. events whose known good (merge-base) is vouched but not its files -----------
#
# FINDING.  vouched_state (ops.anchor) compares the merge-base's offline
# metadata with the verified commit's, never its targets/ tree; artifact_delta
# then takes every file whose blob is the merge-base's as judged.  A file
# pushed to main without metadata is neither reported by status nor listed by
# update-targets, so the event main needs to recover is "ready" and does not
# recover it.  (Full judgement: waiting, and update-targets lists the file.)


def _unlisted_file_on_main(world: World) -> str:
    """Someone with push rights on main adds an artifact without metadata.

    The commit keeps every metadata file (and the online-signed snapshot): it
    is "vouched" (vouched_state compares offline metadata only), though its
    targets/ tree is not the verified commit's.  Main refuses it.
    """
    evil = world.attacker()
    (evil / "targets" / "releases" / "unlisted.txt").write_text("nobody signed me\n")
    _push_main(evil, "add an artifact without metadata")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4, out(result)  # main refuses it: denial of service
    return "releases/unlisted.txt"


@pytest.mark.parametrize("shortcut", [True, False], ids=["shortcut", "no-shortcut"])
def test_event_from_a_main_with_an_unlisted_file_is_not_ready(
    world: World, monkeypatch: pytest.MonkeyPatch, shortcut: bool
) -> None:
    """A routine release from that main: status must not call it ready while the
    merged result is one online-sign refuses (the full judgement waits for
    update-targets, which lists the file for the signers to review)."""
    _main(world)
    unlisted = _unlisted_file_on_main(world)
    alice = world.users["alice"]
    alice.push_files("sign/next", {"targets/releases/next.txt": "next\n"})
    if not shortcut:
        _no_shortcut(monkeypatch)
    code, status = world.status("sign/next")
    assert code != 0
    assert _messages(status, unlisted), status["findings"]


@pytest.mark.parametrize("shortcut", [True, False], ids=["shortcut", "no-shortcut"])
def test_update_targets_on_an_event_lists_a_file_main_left_unlisted(
    world: World, monkeypatch: pytest.MonkeyPatch, shortcut: bool
) -> None:
    """The repair README promises for a main refused after a push without keys:
    a signing event.  update-targets must describe every file the event holds."""
    _main(world)
    unlisted = _unlisted_file_on_main(world)
    alice = world.users["alice"]
    alice.push_files("sign/fix", {"targets/releases/next.txt": "next\n"})
    if not shortcut:
        _no_shortcut(monkeypatch)
    assert world.ci_run("update-targets", "--push", event="sign/fix").exit_code == 0
    listed = role_json(world, _bin_of(unlisted), "sign/fix")["signed"]["targets"]
    assert unlisted in listed
    assert alice.sign("sign/fix").exit_code == 0
    assert world.status("sign/fix")[0] == 0
    world.merge("sign/fix")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 0, out(result)


# --- 6. main: a replayed older snapshot ---------------------------------------------


def test_a_replayed_older_snapshot_on_main_is_refused(world: World) -> None:
    alice = _main(world)
    git(world.ci, "fetch", "-q")
    old = _blob(world, "origin/main", "metadata/snapshot.json")
    alice.push_files("sign/r2", {"targets/releases/r2.txt": "r2\n"})
    assert world.ci_run("update-targets", "--push", event="sign/r2").exit_code == 0
    assert alice.sign("sign/r2").exit_code == 0
    world.merge("sign/r2")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    evil = world.attacker()
    (evil / "metadata" / "snapshot.json").write_bytes(old)
    _push_main(evil, "an older snapshot")
    world.tick(1.5)
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4, out(result)


# --- 7. a hostile mirror and the snapshot's stale entries ---------------------------
#
# FINDING.  With --anchor and no online-signed state after the published one,
# ops.anchor._judge_history keeps ``previous = published`` (the store
# published_store builds from the mirror) as HEAD's known good, and online-sign
# takes it as ``verdict.judged_base``.  _is_published checks only the git
# state's own offline role files; published_store also writes a role file for
# every name the snapshot's meta lists, and python-tuf's do_snapshot never
# drops a removed role's entry.  So for a removed-then-re-added role name the
# mirror chooses the known-good bytes: it serves HEAD's own, and
# unchanged_since_judged says "judged" for roles never judged.  Then
# versions_from_snapshot lists the stale version (rollback/freeze), and
# _verified_before skips the signature of a bin whose delegator is mirrored too.


def _mirror_with_stale_roles(world: World, tmp_path: Path) -> tuple[Path, User]:
    """releases (bins) removed then re-added; the site published between the two.

    Snapshot keeps listing removed roles (python-tuf's do_snapshot never drops
    an entry), so the published anchor, read through the snapshot's meta,
    holds role files of the mirror's choosing for those names: the mirror
    serves HEAD's own bytes for them.  Returns the site (the mirror) and alice.
    """
    alice = _main(world, None)
    stale = role_json(world, "snapshot")["signed"]["meta"]
    result = alice.tufrepo("delegate", "sign/drop", "releases", "--remove", "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    assert world.ci_run("update-targets", "--push", event="sign/drop").exit_code == 0
    assert alice.sign("sign/drop").exit_code == 0
    assert world.status("sign/drop")[0] == 0
    world.merge("sign/drop")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    listed = role_json(world, "snapshot")["signed"]["meta"]
    assert "releases.json" in listed  # stale entries stay
    site = tmp_path / "site"
    git(world.ci, "pull", "-q", "--ff-only")
    result = run("-C", str(world.ci), "publish", str(site), now=world.now)
    assert result.exit_code == 0, out(result)
    # releases comes back (new version 1, under new bins), signed and merged
    result = alice.tufrepo("delegate", "sign/readd", "releases", "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    delegate_bins(alice, "sign/readd", "4")
    assert world.ci_run("update-targets", "--push", event="sign/readd").exit_code == 0
    assert alice.sign("sign/readd").exit_code == 0
    assert world.status("sign/readd")[0] == 0
    world.merge("sign/readd")
    assert stale["releases.json"]["version"] != role_json(world, "releases")["signed"]["version"]
    return site, alice


def _mirror(world: World, site: Path, roles: list[str]) -> None:
    """The hostile mirror: serves main's current bytes under the snapshot's stale names."""
    meta = json.loads(_latest_snapshot(site).read_text())["signed"]["meta"]
    git(world.ci, "fetch", "-q")
    for role in roles:
        data = _blob(world, "origin/main", f"metadata/{role}.json")
        (site / "metadata" / f"{meta[role + '.json']['version']}.{role}.json").write_bytes(data)


def _blob(world: World, rev: str, path: str) -> bytes:
    done = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=world.ci, capture_output=True, check=True
    )
    return done.stdout


def _latest_snapshot(site: Path) -> Path:
    return max(
        (site / "metadata").glob("*.snapshot.json"), key=lambda p: int(p.name.split(".")[0])
    )


@pytest.mark.parametrize("mirrored", [True, False], ids=["hostile-mirror", "honest-site"])
def test_online_sign_lists_the_version_of_the_file_not_a_mirrored_stale_entry(
    world: World, tmp_path: Path, mirrored: bool
) -> None:
    site, _alice = _mirror_with_stale_roles(world, tmp_path)
    if mirrored:  # the site's snapshot names releases.json at a stale version
        _mirror(world, site, ["releases"])
    result = world.ci_run("online-sign", "--push", "--anchor", str(site))
    snapshot = role_json(world, "snapshot")["signed"]["meta"]
    actual = role_json(world, "releases")["signed"]["version"]
    # refused (the honest anchor refuses a role whose version went below the
    # snapshot's), or the snapshot lists the role's own version
    assert result.exit_code == 4 or snapshot["releases.json"]["version"] == actual, (
        f"snapshot lists releases v{snapshot['releases.json']['version']}, file is v{actual}: "
        + out(result)
    )


@pytest.mark.parametrize("mirrored", [True, False], ids=["hostile-mirror", "honest-site"])
def test_an_unsigned_bin_under_a_mirrored_stale_entry_is_refused(
    world: World, tmp_path: Path, mirrored: bool
) -> None:
    """Push to main (no keys) + a hostile mirror: a bin listing an artifact nobody signed."""
    site, _alice = _mirror_with_stale_roles(world, tmp_path)
    evil = world.attacker()
    path = next(
        f"releases/evil-{i}.txt"
        for i in range(100)
        if _bin_of(f"releases/evil-{i}.txt") == BINS[0]
    )
    data = b"nobody signed me\n"
    (evil / "targets" / path).write_bytes(data)
    _edit_json(
        evil,
        BINS[0],
        lambda d: d["signed"]["targets"].update(
            {path: {"length": len(data), "hashes": {"sha256": hashlib.sha256(data).hexdigest()}}}
        ),
    )
    _push_main(evil, "an artifact in bin 00, no signature")
    if mirrored:
        _mirror(world, site, ["releases", BINS[0]])
    result = world.ci_run("online-sign", "--push", "--anchor", str(site))
    assert result.exit_code == 4, out(result)
