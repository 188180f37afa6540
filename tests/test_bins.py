"""Hash-bin delegations: the bin math, `delegate --bins`, update-targets, the checks, both clients.

Every published bins repository here is refreshed by python-tuf's ngclient
and by tuf-js, which download artifacts through a bin.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import User, World, git, init_repo, out, run
from test_publish import counted_lookups
from tuf.api.metadata import DelegatedRole, Metadata, Targets
from tufjs import check_site_with_both_clients

from tufrepo.checks import bins as checks_bins
from tufrepo.core import layout
from tufrepo.ops.bins import (
    MAX_BINS,
    auto_count,
    bin_for,
    bin_name,
    bin_specs,
    is_valid_count,
    path_hash,
)
from tufrepo.ops.publish import BIN_SAMPLE

ARTIFACTS = {f"targets/releases/app-{i}.txt": f"release {i}\n" for i in range(8)}


# --- the bin math ------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 4, 8, 16, 32, 256, 512, 4096, MAX_BINS])
def test_bins_partition_the_hash_space_exactly_once(count: int) -> None:
    """A gap would hide artifacts from clients; an overlap would let one bin shadow another."""
    specs = bin_specs("releases", count)
    prefixes = [p for s in specs for p in s.prefixes]
    length = len(prefixes[0])
    assert {len(p) for p in prefixes} == {length}
    assert sorted(prefixes) == [f"{i:0{length}x}" for i in range(16**length)]
    assert len(specs) == count
    assert len({s.name for s in specs}) == count


@pytest.mark.parametrize("count", [1, 3, 6, 0, -2, MAX_BINS * 2])
def test_bin_counts_must_be_powers_of_two_in_range(count: int) -> None:
    assert not is_valid_count(count)


def test_bin_names_are_valid_role_names_in_hash_order() -> None:
    assert [s.name for s in bin_specs("releases", 4)] == [
        "releases-bin-00",
        "releases-bin-01",
        "releases-bin-02",
        "releases-bin-03",
    ]
    assert bin_name("releases", 4095, 4096) == "releases-bin-fff"
    assert all(layout.is_safe_role_name(s.name) for s in bin_specs("a" * 90, 4096))


@pytest.mark.parametrize("count", [2, 16, 32, 1024])
def test_our_bin_choice_is_the_one_every_client_makes(count: int) -> None:
    """Clients pick the bin by sha256 of the target path (python-tuf's rule is the reference)."""
    specs = bin_specs("releases", count)
    roles = [
        DelegatedRole(s.name, [], 1, True, path_hash_prefixes=list(s.prefixes)) for s in specs
    ]
    for i in range(200):
        path = f"releases/{i}/app-{i}.tar.gz"
        chosen = bin_for(specs, path)
        assert [r.name for r in roles if r.is_delegated_path(path)] == [chosen.name]
        assert chosen.holds(path)
        assert path_hash(path).startswith(chosen.prefixes)


def test_auto_count_grows_with_artifacts_and_with_a_smaller_budget() -> None:
    assert auto_count(0, 0, 5_000_000) == 2
    assert auto_count(10, 2_000, 5_000_000) == 2
    many = auto_count(100_000, 16_000_000, 5_000_000)
    assert many >= 8  # each bin at most a quarter of the budget
    assert 16_000_000 / many <= 5_000_000 / 4
    assert auto_count(100_000, 16_000_000, 1_000_000) > many
    assert auto_count(10**9, 10**12, 1_000) == MAX_BINS
    # tiny entries: the entry cap (tuf-js parses roles in quadratic time) decides
    assert auto_count(5_000, 5_000, 5_000_000) == 4
    assert auto_count(1_000_000, 10**6, 5_000_000) == 512


# --- helpers -------------------------------------------------------------------------


def released(world: World, files: dict[str, str | bytes | None] | None = None) -> User:
    """alice creates the repository with a role `releases` holding ``files``; merged, online-signed."""
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    result = alice.tufrepo("delegate", "sign/init", "releases", "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    alice.push_files("sign/init", dict(files or ARTIFACTS), start="origin/sign/init")
    assert world.ci_run("update-targets", "--push", event="sign/init").exit_code == 0
    assert alice.sign("sign/init").exit_code == 0
    assert world.status("sign/init")[0] == 0
    world.merge("sign/init")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    return alice


def delegate_bins(user: User, event: str, count: str, *extra: str) -> dict[str, Any]:
    result = user.tufrepo(
        "--json", "delegate", event, "releases", "--bins", count, "--key", user.key_uri, *extra
    )
    assert result.exit_code == 0, out(result)
    data: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return data


def role_json(world: World, role: str, event: str | None = None) -> dict[str, Any]:
    git(world.ci, "fetch", "-q", "origin")
    ref = f"origin/{event or 'main'}"
    data: dict[str, Any] = json.loads(git(world.ci, "show", f"{ref}:metadata/{role}.json"))
    return data


def tamper(user: User, event: str, role: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit a role's JSON on the event by hand (what a hostile contributor can push)."""
    git(user.clone, "fetch", "-q")
    git(user.clone, "switch", "-q", "-C", event, f"origin/{event}")
    path = user.clone / "metadata" / f"{role}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
    git(user.clone, "commit", "-q", "-am", f"tamper with {role}")
    git(user.clone, "push", "-q", "-f", "origin", event)
    git(user.clone, "switch", "-q", "main")


def finding_codes(world: World, event: str) -> tuple[int, set[str]]:
    code, status = world.status(event)
    return code, {f["code"] for f in status["findings"] if f["severity"] == "error"}


def publish(world: World, site: Path) -> None:
    result = run("-C", str(world.ci), "--json", "publish", str(site), now=world.now)
    assert result.exit_code == 0, out(result)
    check_site_with_both_clients(site, world.now)  # ngclient and tuf-js, every artifact


# --- delegate --bins, update-targets, publish, both clients ----------------------------


def test_bins_are_signed_in_one_go_published_and_read_by_both_clients(
    world: World, tmp_path: Path
) -> None:
    alice = released(world)
    result = delegate_bins(alice, "sign/bins", "4")
    bins = [f"releases-bin-0{i}" for i in range(4)]
    # the role's signer signed the role and every bin in one command
    assert sorted(result["signed"]) == sorted(["releases", *bins])
    releases = role_json(world, "releases", "sign/bins")["signed"]
    assert releases["targets"] == {}
    delegated = {r["name"]: r for r in releases["delegations"]["roles"]}
    assert sorted(delegated) == bins
    targets = role_json(world, "targets", "sign/bins")["signed"]
    outer = next(r for r in targets["delegations"]["roles"] if r["name"] == "releases")
    for role in delegated.values():
        # same keys and threshold as targets gives the role; terminating
        assert sorted(role["keyids"]) == sorted(outer["keyids"])
        assert role["threshold"] == outer["threshold"]
        assert role["terminating"] is True
    placed: dict[str, str] = {}
    for name in bins:
        for path in role_json(world, name, "sign/bins")["signed"]["targets"]:
            placed[path] = name
    assert sorted(placed) == sorted(p.removeprefix("targets/") for p in ARTIFACTS)
    for path, name in placed.items():
        prefixes = delegated[name]["path_hash_prefixes"]
        assert path_hash(path).startswith(tuple(prefixes))
    assert world.status("sign/bins")[0] == 0
    world.merge("sign/bins")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    site = tmp_path / "site"
    publish(world, site)
    names = {p.name for p in (site / "metadata").iterdir()}
    assert {f"1.{b}.json" for b in bins} <= names
    assert "2.releases.json" in names


def test_update_targets_changes_only_the_bin_an_artifact_hashes_to(world: World) -> None:
    alice = released(world)
    delegate_bins(alice, "sign/bins", "8")
    world.merge("sign/bins")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    path = "releases/new/app-9.txt"
    expected = bin_for(bin_specs("releases", 8), path).name
    alice.push_files("sign/add", {f"targets/{path}": "nine\n"})
    result = world.ci_run("--json", "update-targets", "--push", event="sign/add")
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[-1])["roles"] == [expected]
    code, status = world.status("sign/add")
    assert code == 3  # waiting for alice
    assert [r["role"] for r in status["roles"]] == [expected]  # only the changed bin
    assert alice.sign("sign/add").exit_code == 0
    assert world.status("sign/add")[0] == 0


def test_an_event_judges_the_entries_of_the_bins_it_changes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # #14: the other bins are known good's, judged on main; one artifact more
    # re-checks one bin of many (main re-checks every bin once merged).
    alice = released(world)
    delegate_bins(alice, "sign/bins", "8")
    world.merge("sign/bins")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    path = "releases/new/app-9.txt"
    alice.push_files("sign/add", {f"targets/{path}": "nine\n"})
    assert world.ci_run("update-targets", "--push", event="sign/add").exit_code == 0
    judged: list[list[str]] = []
    real = checks_bins._bin_contents

    def spy(repo: Any, parent: str, bins: list[DelegatedRole]) -> Any:
        judged.append([b.name for b in bins])
        return real(repo, parent, bins)

    monkeypatch.setattr(checks_bins, "_bin_contents", spy)
    assert world.status("sign/add")[0] == 3
    assert judged == [[bin_for(bin_specs("releases", 8), path).name]]
    judged.clear()
    assert world.ci_run("verify", "--main").exit_code == 0  # main: every bin, every state
    assert judged
    assert all(len(names) == 8 for names in judged)


def test_rebinning_moves_every_artifact_and_removing_the_role_removes_its_bins(
    world: World, tmp_path: Path
) -> None:
    alice = released(world)
    delegate_bins(alice, "sign/bins", "2")
    world.merge("sign/bins")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    delegate_bins(alice, "sign/more-bins", "16")
    assert world.status("sign/more-bins")[0] == 0
    listed = set()
    for spec in bin_specs("releases", 16):
        listed |= set(role_json(world, spec.name, "sign/more-bins")["signed"]["targets"])
    assert listed == {p.removeprefix("targets/") for p in ARTIFACTS}
    world.merge("sign/more-bins")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    publish(world, tmp_path / "site")
    result = alice.tufrepo("delegate", "sign/drop", "releases", "--remove", "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    git(world.ci, "fetch", "-q", "origin")
    files = git(world.ci, "ls-tree", "--name-only", "origin/sign/drop", "metadata/")
    assert "bin" not in files


def test_bins_follow_a_change_of_the_roles_signers(world: World) -> None:
    """A bin keeping a removed signer's key would let that signer alone vouch for artifacts."""
    alice = released(world)
    delegate_bins(alice, "sign/bins", "2")
    world.merge("sign/bins")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    bob = world.user("bob")
    result = alice.tufrepo(
        "delegate", "sign/signers", "releases", "--signer", "@alice", "--signer", "@bob",
        "--threshold", "2", "--key", alice.key_uri,
    )  # fmt: skip
    assert result.exit_code == 0, out(result)
    assert world.status("sign/signers")[0] == 3  # bob is invited
    assert bob.sign("sign/signers").exit_code == 0
    assert alice.sign("sign/signers").exit_code == 0
    code, status = world.status("sign/signers")
    assert code == 0, status["findings"]
    releases = role_json(world, "releases", "sign/signers")["signed"]
    targets = role_json(world, "targets", "sign/signers")["signed"]
    outer = next(r for r in targets["delegations"]["roles"] if r["name"] == "releases")
    assert len(outer["keyids"]) == 2
    for role in releases["delegations"]["roles"]:
        assert sorted(role["keyids"]) == sorted(outer["keyids"])
        assert role["threshold"] == 2


def test_bins_refused_for_top_level_roles_and_bad_counts(world: World) -> None:
    alice = released(world)
    result = alice.tufrepo("delegate", "sign/x", "targets", "--bins", "4", "--key", alice.key_uri)
    assert result.exit_code == 2
    assert "--bins do not apply to targets" in out(result)
    result = alice.tufrepo("delegate", "sign/x", "timestamp", "--bins", "4")
    assert result.exit_code == 2
    assert "timestamp is signed online: only --online-key" in out(result)
    result = alice.tufrepo("delegate", "sign/x", "releases", "--bins", "3")
    assert result.exit_code == 2
    assert "power of two" in out(result)


# --- malformed bins are refused ----------------------------------------------------------


def _bins_event(world: World) -> User:
    alice = released(world)
    delegate_bins(alice, "sign/bins", "4")
    assert world.status("sign/bins")[0] == 0
    return alice


def _bin(data: dict[str, Any], name: str) -> dict[str, Any]:
    roles: list[dict[str, Any]] = data["signed"]["delegations"]["roles"]
    return next(r for r in roles if r["name"] == name)


def test_overlapping_bins_are_refused_they_would_shadow_each_other(world: World) -> None:
    alice = _bins_event(world)
    tamper(
        alice, "sign/bins", "releases",
        lambda d: _bin(d, "releases-bin-01")["path_hash_prefixes"].append("0"),
    )  # fmt: skip
    code, codes = finding_codes(world, "sign/bins")
    assert code == 4
    assert "hash-bin-overlap" in codes


def test_a_gap_in_the_bins_is_refused_clients_could_not_find_those_artifacts(
    world: World,
) -> None:
    alice = _bins_event(world)
    tamper(
        alice, "sign/bins", "releases",
        lambda d: _bin(d, "releases-bin-03")["path_hash_prefixes"].remove("f"),
    )  # fmt: skip
    code, codes = finding_codes(world, "sign/bins")
    assert code == 4
    assert "hash-bin-gap" in codes


def test_bad_prefixes_are_refused(world: World) -> None:
    alice = _bins_event(world)
    tamper(
        alice, "sign/bins", "releases",
        lambda d: _bin(d, "releases-bin-00")["path_hash_prefixes"].__setitem__(0, "G"),
    )  # fmt: skip
    code, codes = finding_codes(world, "sign/bins")
    assert code == 4
    assert "hash-bin-prefixes" in codes


def test_a_bin_signed_by_other_keys_is_refused_outsider_cannot_add_artifacts(
    world: World,
) -> None:
    alice = _bins_event(world)
    mallory = world.user("mallory")
    key = json.loads(
        Metadata.from_file(str(world.ci / "metadata" / "root.json")).to_bytes()
    )  # any other key: the online key from root
    online_keyid = key["signed"]["roles"]["timestamp"]["keyids"][0]
    online_key = key["signed"]["keys"][online_keyid]

    def swap(d: dict[str, Any]) -> None:
        d["signed"]["delegations"]["keys"][online_keyid] = online_key
        _bin(d, "releases-bin-02")["keyids"] = [online_keyid]

    assert mallory  # the outsider holding that key
    tamper(alice, "sign/bins", "releases", swap)
    code, codes = finding_codes(world, "sign/bins")
    assert code == 4
    assert "hash-bin-keys" in codes


def test_an_artifact_in_the_wrong_bin_is_refused(world: World) -> None:
    alice = _bins_event(world)
    path = "releases/app-0.txt"
    right = bin_for(bin_specs("releases", 4), path).name
    entry = role_json(world, right, "sign/bins")["signed"]["targets"][path]
    wrong = next(s.name for s in bin_specs("releases", 4) if not s.holds(path))
    tamper(alice, "sign/bins", wrong, lambda d: d["signed"]["targets"].update({path: entry}))
    tamper(alice, "sign/bins", right, lambda d: d["signed"]["targets"].pop(path))
    code, status = world.status("sign/bins")
    assert code == 4
    wrong_bin = [f for f in status["findings"] if f["code"] == "wrong-bin"]
    assert wrong_bin
    assert "would never find it" in wrong_bin[0]["message"]


def test_a_bin_claiming_paths_outside_its_role_is_refused(world: World) -> None:
    alice = _bins_event(world)
    path = next(
        f"other/{i}.txt" for i in range(100) if bin_specs("releases", 4)[1].holds(f"other/{i}.txt")
    )
    entry = {"length": 1, "hashes": {"sha256": "0" * 64}}
    tamper(
        alice, "sign/bins", "releases-bin-01",
        lambda d: d["signed"]["targets"].update({path: entry}),
    )  # fmt: skip
    code, status = world.status("sign/bins")
    assert code == 4
    assert any(
        f["code"] == "wrong-bin" and "outside the paths" in f["message"]
        for f in status["findings"]
    )


def test_mixing_bins_with_path_delegations_is_refused(world: World) -> None:
    alice = _bins_event(world)

    def add_path_role(d: dict[str, Any]) -> None:
        first = d["signed"]["delegations"]["roles"][0]
        d["signed"]["delegations"]["roles"].append(
            {
                **first,
                "name": "releases-extra",
                "paths": ["releases/*"],
                "path_hash_prefixes": None,
            }
        )
        del d["signed"]["delegations"]["roles"][-1]["path_hash_prefixes"]

    tamper(alice, "sign/bins", "releases", add_path_role)
    code, codes = finding_codes(world, "sign/bins")
    assert code == 4
    assert "hash-bin-delegation" in codes


def test_succinct_bins_stay_refused_tough_cannot_read_them(world: World) -> None:
    alice = _bins_event(world)

    def succinct(d: dict[str, Any]) -> None:
        keyids = d["signed"]["delegations"]["roles"][0]["keyids"]
        d["signed"]["delegations"] = {
            "keys": d["signed"]["delegations"]["keys"],
            "succinct_roles": {
                "bit_length": 2, "name_prefix": "releases-bin", "keyids": keyids, "threshold": 1,
            },
        }  # fmt: skip

    tamper(alice, "sign/bins", "releases", succinct)
    code, codes = finding_codes(world, "sign/bins")
    assert code == 4
    assert "succinct-delegation" in codes


def test_bins_directly_under_targets_are_refused(world: World) -> None:
    alice = released(world)
    result = alice.tufrepo("delegate", "sign/top", "other", "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)

    def hash_prefixed(d: dict[str, Any]) -> None:
        role = next(r for r in d["signed"]["delegations"]["roles"] if r["name"] == "other")
        del role["paths"]
        role["path_hash_prefixes"] = [f"{i:x}" for i in range(16)]

    tamper(alice, "sign/top", "targets", hash_prefixed)
    code, codes = finding_codes(world, "sign/top")
    assert code == 4
    assert "hash-bin-delegation" in codes


def test_bins_roles_are_targets_metadata_clients_parse(world: World) -> None:
    """Every bin file parses as Targets with python-tuf (what ngclient does before trusting it)."""
    _bins_event(world)
    for spec in bin_specs("releases", 4):
        data = json.dumps(role_json(world, spec.name, "sign/bins")).encode()
        assert isinstance(Metadata.from_bytes(data).signed, Targets)


def test_publish_resolves_a_sample_of_each_bin_through_the_client(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # #14: placement in a bin is python-tuf's own rule, applied to every entry
    # by checks.bins; the client's walk (one hash per bin per artifact) checks
    # that every bin is reached and trusted, from a sample of each.
    alice = released(world, {f"targets/releases/r{i}.bin": f"r{i}\n" for i in range(40)})
    delegate_bins(alice, "sign/bins", "4")
    assert world.status("sign/bins")[0] == 0
    world.merge("sign/bins")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    looked = counted_lookups(monkeypatch)
    result = run("-C", str(world.ci), "publish", str(tmp_path / "site"), now=world.now)
    assert result.exit_code == 0, out(result)
    by_bin: dict[str, int] = {}
    for name in [f"releases-bin-0{i}" for i in range(4)]:
        listed = role_json(world, name)["signed"]["targets"]
        by_bin[name] = len([p for p in looked if p in listed])
        assert len(listed) > BIN_SAMPLE  # there was more to resolve
    assert by_bin == dict.fromkeys(by_bin, BIN_SAMPLE)
