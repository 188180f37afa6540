"""Red team of main judged by change (#14): the history walk's refresh/vouched
shortcuts, HEAD judged "as verified", the shared ParseCache and the new
WorktreeStore.read.

Every test asserts the SAFE outcome: it fails when the attack succeeds.
Attacker: push to sign/* and main (no force push, no keys), or a hostile mirror.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import World, git, init_repo, out, run
from test_main_incremental import judge as judge_main

from tufrepo.checks import Finding, errors
from tufrepo.core import parsing
from tufrepo.ops import anchor, online

GOOD = b"GOOD release bytes\n"


@pytest.fixture
def signed(world: World) -> World:
    """main with one artifact, merged, online-signed (snapshot names the merge)."""
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    alice.push_files("sign/init", {"targets/app.bin": GOOD}, start="origin/sign/init")
    assert world.ci_run("update-targets", "--push", event="sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    return world


def judge(world: World, checkout: Path, *, by_change: bool = True) -> list[Finding]:
    return judge_main(world, checkout, by_change=by_change)[0]


def push(path: Path, message: str) -> str:
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", message)
    git(path, "push", "-q", "origin", "HEAD:main")  # never forced
    return git(path, "rev-parse", "HEAD")


def fresh_clone(world: World, name: str) -> Path:
    """What CI runs on: a fresh checkout of origin/main."""
    path = world.root / name
    git(world.root, "clone", "-q", str(world.origin), str(path))
    return path


def release(world: World, name: str, files: dict[str, str | bytes | None]) -> None:
    alice = world.users["alice"]
    alice.push_files(f"sign/{name}", files, start="origin/main")
    assert world.ci_run("update-targets", "--push", event=f"sign/{name}").exit_code == 0
    assert alice.sign(f"sign/{name}").exit_code == 0, "alice signs"
    world.merge(f"sign/{name}")


# --- 1. HEAD as verified: a checkout conversion present when V was judged ------------


@pytest.mark.parametrize("path", ["as-verified", "known-entries"])
@pytest.mark.parametrize("attribute", ["eol=crlf", "ident"])
def test_conversion_at_the_verified_commit_then_removed_is_judged(
    signed: World, attribute: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: .gitattributes (outside metadata/targets, not judged on main) makes
    CI's checkout write other bytes than the blob; the signers sign those bytes
    (update-targets hashes the checkout) and online-sign V judges the converted
    work tree.  Removing .gitattributes afterwards leaves the targets tree (and
    offline metadata) identical to V's and a pristine, non-converting work tree:
    HEAD "as verified" skips the artifact check although the work tree now holds
    the raw blob, not what was signed.

    ``known-entries``: with HEAD's shortcut off, for_main's reuse of V's entries
    for unchanged blobs has the same hole (the entry describes V's converted
    bytes, not the blob)."""
    world = signed
    if path == "known-entries":
        monkeypatch.setattr(anchor, "_as_verified", lambda *a: False)
    evil = world.attacker()
    (evil / ".gitattributes").write_text(f"targets/r1.txt {attribute}\n")
    push(evil, "Line endings for docs")
    assert world.ci_run("online-sign", "--push").exit_code == 0  # nothing to judge outside
    # an honest release of a text file; CI (fresh checkout) hashes converted bytes
    alice = world.users["alice"]
    alice.push_files("sign/r1", {"targets/r1.txt": "one $Id$\n"}, start="origin/main")
    ci_event = fresh_clone(world, "ci-event")
    git(ci_event, "checkout", "-q", "-B", "sign/r1", "origin/sign/r1")
    raw = git(ci_event, "cat-file", "-p", "HEAD:targets/r1.txt").encode() + b"\n"
    assert (ci_event / "targets" / "r1.txt").read_bytes() != raw  # converted
    assert run("-C", str(ci_event), "update-targets", "--push", now=world.now).exit_code == 0
    git(alice.clone, "fetch", "-q", "origin")
    result = alice.sign("sign/r1")
    assert result.exit_code == 0, out(result)
    world.merge("sign/r1")
    ci1 = fresh_clone(world, "ci1")
    result = run("-C", str(ci1), "online-sign", "--push", now=world.now)
    assert result.exit_code == 0, out(result)
    site = world.root / "site"
    git(ci1, "pull", "-q", "--ff-only")
    result = run("-C", str(ci1), "publish", str(site), now=world.now)
    assert result.exit_code == 0, out(result)
    # the attacker removes the conversion: the blob is what a checkout writes now
    evil = world.attacker()
    git(evil, "rm", "-q", ".gitattributes")  # only that file: the blob stays as signed
    git(evil, "commit", "-q", "-m", "Remove line endings")
    git(evil, "push", "-q", "origin", "HEAD:main")
    ci2 = fresh_clone(world, "ci2")
    assert (ci2 / "targets" / "r1.txt").read_bytes() == raw
    full = judge(world, ci2, by_change=False)
    assert any(f.code == "targets-mismatch" for f in errors(full)), "full judgement refuses"
    findings = judge(world, ci2)
    world.tick(1.5)  # timestamp in its signing period: online-sign would sign
    # as CI runs it: judged from the published site
    result = run("-C", str(ci2), "online-sign", "--push", "--anchor", str(site), now=world.now)
    assert (
        any(f.code == "targets-mismatch" for f in errors(findings)),
        result.exit_code,
    ) == (True, 4), (
        f"by-change judgement skipped the artifact check: {out(result)}; publish: "
        + out(run("-C", str(ci2), "publish", str(world.root / "site2"), now=world.now))
    )


# --- 2. the history walk: a vouched state judged against a newer previous state ---------


def _checkpoint_again(path: Path, message: str) -> str:
    """Remove timestamp.json, then restore it: the restoring commit is a checkpoint."""
    stamp = (path / "metadata" / "timestamp.json").read_bytes()
    (path / "metadata" / "timestamp.json").unlink()
    push(path, f"{message} (1/2)")
    (path / "metadata" / "timestamp.json").write_bytes(stamp)
    return push(path, f"{message} (2/2)")


@pytest.mark.parametrize("walk", ["by-change", "full"])
def test_a_vouched_state_rolling_back_a_judged_state_is_refused(
    signed: World, walk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: merge rights on main, no keys.  A release (targets v+1) is merged;
    before online-sign runs, the attacker makes it a checkpoint of main's history
    (timestamp removed, then restored unchanged: judged in full, it is signed),
    then restores every metadata file of the last online-signed state (targets
    v) in another checkpoint.  That state's snapshot is unchanged from the one
    before, so no online version rule runs, and it vouches for the older
    commit whose offline metadata is exactly the restored one: ``_vouched``
    skips the targets roles' version rule, which would report the rollback."""
    world = signed
    if walk == "full":
        monkeypatch.setattr(anchor, "_vouched", lambda *a: False)
    published = git(world.ci, "rev-parse", "origin/main")  # online-signed, targets v1
    release(world, "r1", {"targets/r1.bin": b"one\n"})  # targets v2, not online-signed
    evil = world.attacker()
    _checkpoint_again(evil, "Tidy")
    git(evil, "checkout", "-q", published, "--", "metadata")
    git(evil, "rm", "-q", "targets/r1.bin")
    rolled = _checkpoint_again(evil, "Restore")
    ci = fresh_clone(world, f"ci-{walk}")
    findings = judge(world, ci)
    # main's history as the anchor (no --anchor).  With --anchor (the published
    # state before the release) both walks accept: HEAD is judged against what
    # clients have, and the release was never published.
    result = run("-C", str(ci), "online-sign", "--push", now=world.now)
    assert (
        ("targets", "rollback") in {(f.role, f.code) for f in errors(findings)},
        any(rolled[:7] in f.message for f in errors(findings) if f.code == "rollback"),
        result.exit_code,
    ) == (True, True, 4), out(result)


# --- 3. ParseCache: shared parsed objects are never modified ---------------------------


def test_online_sign_modifies_no_shared_parsed_metadata(
    signed: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack surface: online-sign shares the judgement's parsed metadata with the
    repository it signs with.  Any in-place edit of a cached object (a signature
    appended, a version bumped, verified-commit set) would leak into the other
    repositories of the run (known good, the verified commit) and change what
    is judged.  Every cached object must still equal a fresh parse of its bytes."""

    caches: list[parsing.ParseCache] = []

    class Recording(parsing.ParseCache):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            caches.append(self)

    monkeypatch.setattr(online, "ParseCache", Recording)
    release(signed, "r1", {"targets/r1.bin": b"one\n"})
    signed.tick(1.5)
    result = signed.ci_run("online-sign", "--push")
    assert result.exit_code == 0, out(result)
    assert "snapshot" in out(result)
    checked = 0
    for cache in caches:
        for (data, kind), md in cache._parsed.items():
            fresh = parsing.parse_metadata(data, "x", kind)
            assert md.to_dict() == fresh.to_dict(), f"a shared {kind} object was modified"
            assert cache.canonical(md) == parsing.canonical_bytes(fresh.signed)
            checked += 1
    assert checked > 0


# --- 4. HEAD as verified: what git object ids of regular files do not describe ----------


def test_a_symlink_added_to_metadata_is_judged_as_by_full_judgement(signed: World) -> None:
    """Attack: push rights on main: a symlink committed under metadata/.  The
    offline metadata compared by ``_offline_metadata`` lists regular files only
    (ls-tree filtered to modes 100644/100755), so HEAD's offline metadata still
    equals V's and the work tree is pristine (the symlink is committed): the
    tree rules that the full judgement runs over the work tree's metadata/
    (``_role_files``: a role file nobody delegates to) are skipped."""
    world = signed
    evil = world.attacker()
    (evil / "metadata" / "evil.json").symlink_to("targets.json")
    push(evil, "Alias")
    ci = fresh_clone(world, "ci-symlink")
    full = {(f.role, f.code) for f in errors(judge(world, ci, by_change=False))}
    by_change = {(f.role, f.code) for f in errors(judge(world, ci))}
    assert full, "the full judgement refuses the symlink"
    assert by_change == full
