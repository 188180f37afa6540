"""Hostile states of main: what someone with push or merge rights on main, but
without the offline keys (or holding only one signer's key), can commit.

Every command that signs or publishes (`online-sign`, `publish`) and `verify`
judges main as a transition from its anchor and must refuse (exit 4) with the
specific finding; nothing is signed, pushed or written.  One world per test:
root and targets held by @alice, online-signed and published once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import World, git, init_repo, out, run
from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import Metadata, Root, Signature

from tufrepo import signers
from tufrepo.core import fields
from tufrepo.core.repository import serialize


@dataclass
class Main:
    world: World
    site: Path
    attacker: Path

    def commit(self, message: str) -> None:
        git(self.attacker, "add", "-A")
        git(self.attacker, "commit", "-q", "-m", message)
        git(self.attacker, "push", "-q", "-f", "origin", "HEAD:main")

    def refusals(self, *extra: str) -> dict[str, tuple[int, str]]:
        """online-sign --push, publish and verify on the new main: exit code and output."""
        world = self.world
        before = git(world.root, "--git-dir", str(world.origin), "rev-parse", "main")
        results = {
            "online-sign": world.ci_run("online-sign", "--push", *extra),
            "publish": world.ci_run("publish", str(self.site), *extra),
            "verify": world.ci_run("verify", *extra),
        }
        after = git(world.root, "--git-dir", str(world.origin), "rev-parse", "main")
        assert before == after, "nothing may be pushed"
        return {name: (r.exit_code, out(r)) for name, r in results.items()}


@pytest.fixture
def main(world: World) -> Main:
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    site = world.root / "site"
    assert world.ci_run("publish", str(site)).exit_code == 0
    attacker = world.root / "attacker"
    git(world.root, "clone", "-q", str(world.origin), str(attacker))
    return Main(world, site, attacker)


def _alice(main: Main, md: Metadata[Any]) -> Signer:
    """alice's signer for her key in ``md`` (a real signer, tricked or careless)."""
    keys = md.signed.keys if isinstance(md.signed, Root) else {}
    key = next(k for k in keys.values() if fields.keyowner(k) == "@alice")
    return signers.load_signer(main.world.users["alice"].key_uri, key)


def _edit(main: Main, role: str, change: Callable[[Metadata[Any]], None], *, sign: bool) -> None:
    path = main.attacker / "metadata" / f"{role}.json"
    md = Metadata.from_file(str(path))
    root = Metadata[Root].from_file(str(main.attacker / "metadata" / "root.json"))
    change(md)
    md.signatures.clear()
    if sign:
        md.sign(_alice(main, root))
    data = serialize(md)
    path.write_bytes(data)
    if role == "root":
        history = main.attacker / "metadata" / "root_history" / f"{md.signed.version}.root.json"
        history.write_bytes(data)


def _assert_refused(results: dict[str, tuple[int, str]], finding: str) -> None:
    for command, (code, text) in results.items():
        assert code == 4, (command, text)
        assert finding in text, (command, text)


def test_own_root_v1_rewritten_in_place_is_refused(main: Main) -> None:
    # a self-signed root v1 of the attacker's own, replacing history and root.json
    own = CryptoSigner.generate_ed25519()

    def takeover(md: Metadata[Any]) -> None:
        root = md.signed
        for role in ("root", "targets"):
            for keyid in list(root.roles[role].keyids):
                root.revoke_key(keyid, role)
            root.add_key(own.public_key, role)

    path = main.attacker / "metadata" / "root.json"
    md = Metadata[Root].from_file(str(path))
    takeover(md)
    md.signatures.clear()
    md.sign(own)
    data = serialize(md)
    path.write_bytes(data)
    (main.attacker / "metadata" / "root_history" / "1.root.json").write_bytes(data)
    main.commit("Replace root")
    _assert_refused(main.refusals(), "metadata/root_history/1.root.json was modified or removed")


def test_root_v2_signed_only_by_its_own_new_key_is_refused(main: Main) -> None:
    own = CryptoSigner.generate_ed25519()
    path = main.attacker / "metadata" / "root.json"
    md = Metadata[Root].from_file(str(path))
    md.signed.version = 2
    for keyid in list(md.signed.roles["root"].keyids):
        md.signed.revoke_key(keyid, "root")
    md.signed.add_key(own.public_key, "root")
    md.signatures.clear()
    md.sign(own)
    data = serialize(md)
    path.write_bytes(data)
    (main.attacker / "metadata" / "root_history" / "2.root.json").write_bytes(data)
    main.commit("Root v2")
    _assert_refused(main.refusals(), "root v2 is not signed by the previous root's threshold")


def test_signed_targets_reusing_a_published_version_is_refused(main: Main) -> None:
    # signed by the real targets signer, but v1 with new content: clients that
    # cached v1 never see it, and publish would write a second 1.targets.json
    def reuse(md: Metadata[Any]) -> None:
        md.signed.unrecognized_fields["x-note"] = "new content, same version"

    _edit(main, "targets", reuse, sign=True)
    main.commit("Merge a signed event")
    _assert_refused(main.refusals(), "targets v1 changed without a new version")


def test_signed_targets_expiring_in_2099_is_refused(main: Main) -> None:
    def far(md: Metadata[Any]) -> None:
        md.signed.version += 1
        md.signed.expires = md.signed.expires.replace(year=2099)

    _edit(main, "targets", far, sign=True)
    main.commit("Merge a signed event")
    _assert_refused(main.refusals(), "targets expires on 2099-")


def test_signed_root_with_a_huge_timestamp_period_is_refused(main: Main) -> None:
    def forever(md: Metadata[Any]) -> None:
        md.signed.version += 1
        md.signed.roles["timestamp"].unrecognized_fields["x-tuf-on-ci-expiry-period"] = 36500

    _edit(main, "root", forever, sign=True)
    main.commit("Merge a signed event")
    _assert_refused(main.refusals(), "root: timestamp: x-tuf-on-ci-expiry-period")
    _assert_refused(main.refusals(), "found 36500")


def test_snapshot_without_the_online_key_is_refused(main: Main) -> None:
    def forged(md: Metadata[Any]) -> None:
        md.signed.version += 1

    _edit(main, "snapshot", forged, sign=False)
    main.commit("Snapshot of my own")
    results = main.refusals()
    for command in ("publish", "verify"):
        assert results[command][0] == 4
        assert "snapshot is not signed by root's online key" in results[command][1]
    # online-sign refuses too rather than re-signing over a forged state
    assert results["online-sign"][0] == 4


def test_rewritten_history_is_caught_by_the_published_anchor(main: Main) -> None:
    # With push --force rights, main's whole history can be replaced by a
    # repository of the attacker's own; the published site is what clients
    # trust, so it is the anchor that catches it.
    world, attacker = main.world, main.attacker
    git(attacker, "checkout", "-q", "--orphan", "fresh")
    git(attacker, "rm", "-q", "-r", "--cached", ".")
    for name in ("metadata", "targets"):
        if (attacker / name).exists():
            git(attacker, "clean", "-q", "-f", "-d", "-x", name)
    forger = world.user("mallory")
    (forger.clone / ".tuf-on-ci-sign.ini").write_text(
        "[settings]\nuser-name = @mallory\npull-remote = origin\npush-remote = origin\n"
    )
    git(attacker, "commit", "-q", "--allow-empty", "-m", "Start over")
    git(attacker, "push", "-q", "-f", "origin", "HEAD:main")
    git(forger.clone, "fetch", "-q", "origin")
    created = init_repo(world, forger, event="sign/mine")
    assert created.exit_code == 0, out(created)
    world.merge("sign/mine")
    anchored = world.ci_run("online-sign", "--push", "--anchor", str(main.site))
    assert anchored.exit_code == 4, out(anchored)
    assert "main is not a valid successor of published metadata" in out(anchored)
    assert "metadata/root_history/1.root.json was modified or removed" in out(anchored)
    published = run("-C", str(world.ci), "publish", str(main.site), now=world.now)
    assert published.exit_code == 4, "publish uses OUT's previous site as its anchor"


def test_published_anchor_accepts_the_honest_successor(main: Main) -> None:
    world = main.world
    alice = world.users["alice"]
    assert alice.tufrepo("delegate", "sign/d", "releases", "--key", alice.key_uri).exit_code == 0
    world.merge("sign/d")
    result = world.ci_run("online-sign", "--push", "--anchor", str(main.site))
    assert result.exit_code == 0, out(result)
    assert "Main is a valid successor of published metadata at" in out(result)
    assert world.ci_run("publish", str(main.site)).exit_code == 0
    data = json.loads((main.site / "metadata" / "timestamp.json").read_text())
    assert data["signed"]["version"] == 2


# --- found by attacking the product (red team) ------------------------------------


def test_a_merged_history_of_the_attackers_own_is_refused_without_force_push(main: Main) -> None:
    # Without --anchor: the attacker's own repository becomes main's
    # first-parent history by merging the real main as a second parent
    # (`git merge -s ours`): a fast-forward push, no force needed.
    world, attacker = main.world, main.attacker
    mallory = world.user("mallory")
    own = world.root / "own.git"
    git(world.root, "init", "-q", "--bare", "-b", "main", str(own))
    git(mallory.clone, "remote", "set-url", "origin", str(own))
    git(mallory.clone, "checkout", "-q", "--orphan", "fresh")
    git(mallory.clone, "rm", "-q", "-r", "-f", ".")
    git(mallory.clone, "commit", "-q", "--allow-empty", "-m", "Mine")
    git(mallory.clone, "push", "-q", "origin", "HEAD:main")
    assert init_repo(world, mallory).exit_code == 0
    git(mallory.clone, "fetch", "-q", "origin")
    git(mallory.clone, "checkout", "-q", "-B", "main", "origin/sign/init")
    online = run("-C", str(mallory.clone), "online-sign", now=world.now)
    assert online.exit_code == 0, out(online)
    git(mallory.clone, "fetch", "-q", str(world.origin), "main:real")
    git(
        mallory.clone,
        "merge",
        "-q",
        "-s",
        "ours",
        "--allow-unrelated-histories",
        "-m",
        "Merge",
        "real",
    )
    git(mallory.clone, "push", "-q", str(world.origin), "HEAD:main")  # a fast-forward
    del attacker
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4, out(result)
    assert "another repository's history was merged into main" in out(result)


def test_deleting_snapshot_and_timestamp_on_main_is_refused(main: Main) -> None:
    # online-sign would otherwise recreate them at version 1: a rollback signed by CI
    for role in ("snapshot", "timestamp"):
        (main.attacker / "metadata" / f"{role}.json").unlink()
    main.commit("Remove the online roles")
    result = main.world.ci_run("online-sign", "--push", "--anchor", str(main.site))
    assert result.exit_code == 4, out(result)
    assert "metadata/snapshot.json is missing: top-level roles stay" in out(result)


def test_a_mirror_serving_another_repository_is_refused(main: Main, tmp_path: Path) -> None:
    # a hostile mirror: a published site that is not one of main's online-signed states
    other = World(tmp_path / "other")
    (other.root / "keys").mkdir(parents=True)
    (other.root / "keys" / "online.pem").write_bytes(CryptoSigner.generate_ed25519().private_bytes)
    git(other.root, "init", "-q", "--bare", "-b", "main", "origin.git")
    seed = other.root / "seed"
    git(other.root, "clone", "-q", str(other.origin), str(seed))
    git(seed, "commit", "-q", "--allow-empty", "-m", "Initial commit")
    git(seed, "push", "-q", "origin", "main")
    git(other.root, "clone", "-q", str(other.origin), str(other.ci))
    assert init_repo(other, other.user("eve")).exit_code == 0
    other.merge("sign/init")
    assert other.ci_run("online-sign", "--push").exit_code == 0
    fake = tmp_path / "fake-site"
    assert other.ci_run("publish", str(fake)).exit_code == 0
    result = main.world.ci_run("online-sign", "--push", "--anchor", str(fake))
    assert result.exit_code == 4, out(result)
    assert "the published timestamp.json is not an online-signed state of main" in out(result)


@pytest.mark.parametrize("disguise", ["reserialised", "extra-signature"])
def test_an_artifact_swapped_under_a_disguised_timestamp_is_refused(
    world: World, disguise: str
) -> None:
    # Attack (#14 red team): push rights on main, no keys. Swap an artifact's
    # bytes, then commit a timestamp.json with the same signed part but new bytes,
    # so that commit looks like the one online-sign judged. Main must still hash
    # the swapped file, on every path that signs or publishes.
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    alice.push_files(
        "sign/init", {"targets/app.bin": b"GOOD release bytes\n"}, start="origin/sign/init"
    )
    assert world.ci_run("update-targets", "--push", event="sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    site = world.root / "site"
    assert world.ci_run("publish", str(site)).exit_code == 0

    main = Main(world, site, world.root / "attacker")
    git(world.root, "clone", "-q", str(world.origin), str(main.attacker))
    (main.attacker / "targets" / "app.bin").write_bytes(
        b"EVIL release bytes\n"
    )  # same length: only hashing tells
    main.commit("Update docs")
    timestamp = main.attacker / "metadata" / "timestamp.json"
    if disguise == "reserialised":
        document = json.loads(timestamp.read_bytes())
        timestamp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    else:
        md = Metadata.from_bytes(timestamp.read_bytes())
        md.signatures["ab" * 32] = Signature("ab" * 32, "00" * 64)
        timestamp.write_bytes(serialize(md))
    main.commit("Online sign")
    for results in (main.refusals(), main.refusals("--anchor", str(site))):
        _assert_refused(results, "targets lists targets/app.bin with")
