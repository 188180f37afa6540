"""What `repo-sign` shows and refuses (issue #10 item 7).

Unit tests of :mod:`tufrepo.ops.summary` on metadata built with python-tuf's API:
every kind of change a signer vouches for yields its own line, and no line
shows an old value equal to the new one.  CLI tests through the World
fixture: an event that `status` rejects is refused by `repo-sign` (exit 4,
nothing pushed), the summary names path/terminating/threshold and online
period changes, and a terminal run asks before signing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import World, git, init_repo, out
from repo_builder import new_signer
from securesystemslib.signer import Key, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    Root,
    TargetFile,
    Targets,
)

from tufrepo.cli.app import App
from tufrepo.cli.common import summary_lines
from tufrepo.core.constants import (
    EXPIRY_PERIOD,
    KEYOWNER,
    ONLINE_URI,
    ROOT,
    SIGNING_PERIOD,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
)
from tufrepo.ops.summary import Kind, RoleSummary, summarize

EXPIRES = datetime(2030, 1, 1, 12, tzinfo=UTC)
ALICE = new_signer(**{KEYOWNER: "@alice"}).public_key
BOB = new_signer(**{KEYOWNER: "@bob"}).public_key
ONLINE = new_signer(**{ONLINE_URI: "gcpkms:projects/p/key"}).public_key
RELEASES = "releases"


def _periods(expiry: int, signing: int) -> dict[str, Any]:
    return {EXPIRY_PERIOD: expiry, SIGNING_PERIOD: signing}


def root_md() -> Metadata[Root]:
    root = Root(
        version=1, expires=EXPIRES, consistent_snapshot=True, unrecognized_fields=_periods(365, 60)
    )
    root.add_key(ALICE, ROOT)
    root.add_key(ALICE, TARGETS)
    for role in (SNAPSHOT, TIMESTAMP):
        root.add_key(ONLINE, role)
    root.roles[SNAPSHOT].unrecognized_fields.update(_periods(365, 60))
    root.roles[TIMESTAMP].unrecognized_fields.update(_periods(2, 1))
    return Metadata(root)


def targets_md() -> Metadata[Targets]:
    targets = Targets(version=1, expires=EXPIRES, unrecognized_fields=_periods(365, 60))
    targets.delegations = Delegations(
        keys={ALICE.keyid: ALICE},
        roles={RELEASES: DelegatedRole(RELEASES, [ALICE.keyid], 1, True, paths=["releases/*"])},
    )
    targets.targets["readme.txt"] = TargetFile.from_data("readme.txt", b"hello\n", ["sha256"])
    return Metadata(targets)


def summary_of(
    role: str, old: Metadata[Any], edit: Callable[[Any], None], *, bump: bool = True
) -> RoleSummary:
    new = copy.deepcopy(old)
    edit(new.signed)
    if bump:
        new.signed.version += 1
    summary = summarize(role, old, new)
    for change in summary.changes:  # never "X -> X"
        assert change.old is None or change.old != change.new, change
    return summary


def texts(role: str, old: Metadata[Any], edit: Callable[[Any], None]) -> list[str]:
    summary = summary_of(role, old, edit)
    return [c.text for c in summary.changes if c.kind is not Kind.VERSION]


def releases(signed: Targets) -> DelegatedRole:
    assert signed.delegations is not None
    assert signed.delegations.roles is not None
    return signed.delegations.roles[RELEASES]


def short(key: Key) -> str:
    return key.keyid[:8]


# --- summary.py --------------------------------------------------------------------------


def test_nothing_but_the_version() -> None:
    summary = summary_of(TARGETS, targets_md(), lambda _: None)
    assert [(c.kind, c.old, c.new) for c in summary.changes] == [(Kind.VERSION, "1", "2")]
    assert (summary.version, summary.known_good_version) == (2, 1)
    assert summary_lines(summary) == [
        "targets v2 (known good: v1)",
        " * no change besides the version",
    ]


def test_expiry_and_own_periods() -> None:
    def edit(signed: Targets) -> None:
        signed.expires = EXPIRES + timedelta(days=1, seconds=1)
        signed.unrecognized_fields.update(_periods(200, 30))

    assert texts(TARGETS, targets_md(), edit) == [
        "expires 2030-01-01 12:00:00 UTC -> 2030-01-02 12:00:01 UTC",
        "expiry period 365 -> 200 days",
        "signing period 60 -> 30 days",
    ]


def test_a_missing_period_is_read_with_tuf_on_ci_defaults() -> None:
    # no signing period means half the expiry period (365 // 2)
    assert texts(TARGETS, targets_md(), lambda s: s.unrecognized_fields.pop(SIGNING_PERIOD)) == [
        "signing period 60 -> 182 days"
    ]


@pytest.mark.parametrize("role", [TIMESTAMP, SNAPSHOT])
def test_online_roles_periods_live_in_root(role: str) -> None:
    def edit(signed: Root) -> None:
        signed.roles[role].unrecognized_fields.update(_periods(7, 6))

    old = {TIMESTAMP: (2, 1), SNAPSHOT: (365, 60)}[role]
    assert texts(ROOT, root_md(), edit) == [
        f"{role}: expiry period {old[0]} -> 7 days",
        f"{role}: signing period {old[1]} -> 6 days",
    ]


def test_keys_added_and_removed_name_their_owner_or_online_uri() -> None:
    other_online = new_signer(**{ONLINE_URI: "awskms:arn:aws:kms:key/2"}).public_key

    def edit(signed: Root) -> None:
        signed.add_key(BOB, ROOT)
        signed.revoke_key(ALICE.keyid, ROOT)
        signed.revoke_key(ONLINE.keyid, TIMESTAMP)
        signed.add_key(other_online, TIMESTAMP)

    assert texts(ROOT, root_md(), edit) == [
        f"root: key added: @bob (key {short(BOB)})",
        f"root: key removed: @alice (key {short(ALICE)})",
        f"timestamp: key added: online key awskms:arn:aws:kms:key/2 (key {short(other_online)})",
        f"timestamp: key removed: online key gcpkms:projects/p/key (key {short(ONLINE)})",
    ]


def test_a_key_whose_owner_changed_under_the_same_keyid() -> None:
    # Legacy keyids do not cover the custom fields: the owner can change in place.
    def edit(signed: Root) -> None:
        signed.keys[ALICE.keyid].unrecognized_fields[KEYOWNER] = "@mallory"

    assert texts(ROOT, root_md(), edit) == [f"key {short(ALICE)}: keyowner @alice -> @mallory"]


def test_the_same_public_key_under_a_new_keyid_and_owner() -> None:
    mallory = SSlibKey(
        "f" * 64, ALICE.keytype, ALICE.scheme, dict(ALICE.keyval), {KEYOWNER: "@mallory"}
    )

    def edit(signed: Root) -> None:
        signed.revoke_key(ALICE.keyid, ROOT)
        signed.add_key(mallory, ROOT)

    lines = texts(ROOT, root_md(), edit)
    assert (
        f"key {short(ALICE)} -> ffffffff (same public key): keyowner @alice -> @mallory" in lines
    )
    assert "root: key added: @mallory (key ffffffff)" in lines


def test_key_material_changed_under_the_same_keyid() -> None:
    def edit(signed: Root) -> None:
        signed.keys[ALICE.keyid].keyval["public"] = "00" * 32

    [line] = texts(ROOT, root_md(), edit)
    assert line.startswith(f"key {short(ALICE)} keyval ")


def test_thresholds() -> None:
    def edit_root(signed: Root) -> None:
        signed.add_key(BOB, TARGETS)
        signed.roles[TARGETS].threshold = 2

    assert texts(ROOT, root_md(), edit_root) == [
        f"targets: key added: @bob (key {short(BOB)})",
        "targets: threshold 1 -> 2",
    ]

    def edit_targets(signed: Targets) -> None:
        releases(signed).threshold = 3

    assert texts(TARGETS, targets_md(), edit_targets) == ["releases: threshold 1 -> 3"]


def test_paths_hash_prefixes_and_terminating() -> None:
    def edit(signed: Targets) -> None:
        role = releases(signed)
        role.paths = ["releases/*", "*"]
        role.terminating = False

    assert texts(TARGETS, targets_md(), edit) == [
        "releases: path added: '*'",
        "releases: terminating yes -> no",
    ]

    def to_prefixes(signed: Targets) -> None:
        role = releases(signed)
        role.paths = None
        role.path_hash_prefixes = ["00", "01"]

    assert texts(TARGETS, targets_md(), to_prefixes) == [
        "releases: path removed: 'releases/*'",
        "releases: path hash prefix added: '00'",
        "releases: path hash prefix added: '01'",
    ]


def test_consistent_snapshot() -> None:
    assert texts(ROOT, root_md(), lambda s: setattr(s, "consistent_snapshot", False)) == [
        "consistent_snapshot true -> false"
    ]


def test_delegations_added_removed_and_reordered() -> None:
    def add(signed: Targets) -> None:
        assert signed.delegations is not None
        signed.delegations.keys[BOB.keyid] = BOB
        assert signed.delegations.roles is not None
        signed.delegations.roles = {
            "docs": DelegatedRole("docs", [BOB.keyid], 1, False, paths=["docs/*"]),
            **signed.delegations.roles,
        }

    assert texts(TARGETS, targets_md(), add) == [
        "docs: new delegation",
        f"docs: key added: @bob (key {short(BOB)})",
        "docs: threshold 1",
        "docs: path added: 'docs/*'",
        "docs: terminating no",
    ]

    def remove(signed: Targets) -> None:
        signed.delegations = None

    assert texts(TARGETS, targets_md(), remove) == ["releases: delegation removed"]

    with_two = targets_md()
    add(with_two.signed)

    def swap(signed: Targets) -> None:
        assert signed.delegations is not None
        assert signed.delegations.roles is not None
        signed.delegations.roles = dict(reversed(signed.delegations.roles.items()))

    assert texts(TARGETS, with_two, swap) == ["delegation order docs, releases -> releases, docs"]


def test_top_level_role_removed_from_root() -> None:
    assert texts(ROOT, root_md(), lambda s: s.roles.pop(SNAPSHOT)) == [
        "snapshot: delegation removed"
    ]


def test_artifacts_added_modified_removed() -> None:
    def edit(signed: Targets) -> None:
        signed.targets["a.txt"] = TargetFile.from_data("a.txt", b"a", ["sha256"])
        signed.targets["readme.txt"] = TargetFile.from_data("readme.txt", b"bye\n", ["sha256"])

    old_hash = TargetFile.from_data("x", b"hello\n", ["sha256"]).hashes["sha256"][:12]
    new_hash = TargetFile.from_data("x", b"bye\n", ["sha256"]).hashes["sha256"][:12]
    a_hash = TargetFile.from_data("x", b"a", ["sha256"]).hashes["sha256"][:12]
    assert texts(TARGETS, targets_md(), edit) == [
        f"artifact added: 'a.txt' (1 byte, sha256 {a_hash})",
        (
            f"artifact modified: 'readme.txt' (6 bytes, sha256 {old_hash} -> "
            f"4 bytes, sha256 {new_hash})"
        ),
    ]
    assert texts(TARGETS, targets_md(), lambda s: s.targets.clear()) == [
        f"artifact removed: 'readme.txt' (was 6 bytes, sha256 {old_hash})"
    ]


def test_artifact_with_only_custom_fields_changed_never_looks_unchanged() -> None:
    def edit(signed: Targets) -> None:
        signed.targets["readme.txt"].unrecognized_fields["custom"] = {"x": 1}

    [line] = texts(TARGETS, targets_md(), edit)
    assert line.startswith("artifact modified: 'readme.txt' (")
    assert '"custom"' in line


def test_other_fields_are_not_hidden() -> None:
    def edit(signed: Root) -> None:
        signed.unrecognized_fields["x-note"] = "hello"
        signed.roles[TARGETS].unrecognized_fields["x-extra"] = 1

    assert texts(ROOT, root_md(), edit) == ['x-note set to "hello"', "targets: x-extra set to 1"]


def test_long_values_that_differ_late_are_told_apart() -> None:
    def edit(signed: Root) -> None:
        signed.unrecognized_fields["x-list"] = ["a" * 100, "b"]

    old = copy.deepcopy(root_md())
    old.signed.unrecognized_fields["x-list"] = ["a" * 100, "c"]
    [line] = texts(ROOT, old, edit)
    left, right = line.removeprefix("x-list ").split(" -> ")
    assert left != right


def test_new_and_removed_roles() -> None:
    summary = summarize(RELEASES, None, Metadata(Targets(version=1, expires=EXPIRES)))
    assert summary.is_new
    lines = summary_lines(summary)
    assert lines[0] == "releases v1 (new)"
    assert " * expiry period 365 days" in lines
    removed = summarize(RELEASES, Metadata(Targets(version=3, expires=EXPIRES)), None)
    assert removed.removed
    assert summary_lines(removed) == ["releases: removed (known good: v3)"]


def test_rendering_groups_by_role_and_never_repeats_the_old_value() -> None:
    # The old summary said "changed delegation releases: @alice (1 required)
    # (was: @alice (1 required))" and hid what changed.
    def edit(signed: Targets) -> None:
        releases(signed).paths = ["releases/new/*"]
        signed.targets["b.txt"] = TargetFile.from_data("b.txt", b"b", ["sha256"])
        signed.unrecognized_fields[EXPIRY_PERIOD] = 300

    lines = summary_lines(summary_of(TARGETS, targets_md(), edit))
    assert lines[0] == "targets v2 (known good: v1)"
    assert lines[1:4] == [
        " * expiry period 365 -> 300 days",
        " * releases: path added: 'releases/new/*'",
        " * releases: path removed: 'releases/*'",
    ]
    assert lines[4].startswith(" * artifact added: 'b.txt'")
    assert not any("(was:" in line for line in lines)


# --- repo-sign through the CLI --------------------------------------------------------------


def _repo_with_releases(world: World) -> None:
    """alice holds root, targets and a delegated role `releases`; snapshot is online-signed."""
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    result = alice.tufrepo("delegate", "sign/deleg", RELEASES, "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    world.merge("sign/deleg")
    assert world.ci_run("online-sign", "--push").exit_code == 0


def _push_edit(world: World, event: str, role: str, edit: Callable[[dict[str, Any]], None]) -> str:
    """An attacker (no keys) edits metadata/<role>.json on a new event; returns its tip."""
    mallory = world.user("mallory")
    git(mallory.clone, "fetch", "-q")
    git(mallory.clone, "switch", "-q", "-c", event, "origin/main")
    path = mallory.clone / "metadata" / f"{role}.json"
    data = json.loads(path.read_text())
    edit(data["signed"])
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
    git(mallory.clone, "commit", "-q", "-a", "-m", "hostile")
    git(mallory.clone, "push", "-q", "origin", event)
    git(mallory.clone, "switch", "-q", "main")
    return git(world.origin, "rev-parse", event)


@pytest.mark.parametrize(
    ("role", "edit"),
    [
        # the payload changes but the version is reused: alice's old signature is void
        (TARGETS, lambda s: s.update({"x-note": "swapped"})),
        (RELEASES, lambda s: s["targets"].update(
            {"releases/evil": {"length": 1, "hashes": {"sha256": "00" * 32}}})),
        # snapshot content only the online key may produce
        (SNAPSHOT, lambda s: s.update(version=s["version"] + 1)),
    ],
    ids=["targets-version-reused", "releases-version-reused", "snapshot-changed"],
)  # fmt: skip
def test_repo_sign_refuses_what_status_rejects(
    world: World, role: str, edit: Callable[[dict[str, Any]], None]
) -> None:
    _repo_with_releases(world)
    alice = world.users["alice"]
    event = f"sign/hostile-{role}"
    tip = _push_edit(world, event, role, edit)
    code, status = world.status(event)
    assert code == 4, status
    errors = [f["message"] for f in status["findings"]]

    result = alice.sign(event, "--yes")
    assert result.exit_code == 4, out(result)
    assert f"error: {errors[0]}" in out(result)
    assert "tufrepo status" in out(result)  # where the full list is
    assert "Signed" not in out(result)
    assert git(world.origin, "rev-parse", event) == tip


def test_delegation_paths_terminating_and_threshold_are_in_the_summary(world: World) -> None:
    _repo_with_releases(world)
    alice, carol = world.users["alice"], world.user("carol")
    result = carol.tufrepo(
        "delegate", "sign/paths", RELEASES, "--signer", "@alice", "--signer", "@bob",
        "--threshold", "2", "--path", "releases/new/*", "--no-terminating",
    )  # fmt: skip
    assert result.exit_code == 0, out(result)

    result = alice.sign("sign/paths")
    assert result.exit_code == 0, out(result)
    text = out(result)
    assert "targets v3 (known good: v2)" in text
    assert " * releases: threshold 1 -> 2" in text
    assert " * releases: path added: 'releases/new/*'" in text
    assert " * releases: path removed: 'releases/*'" in text
    assert " * releases: terminating yes -> no" in text
    assert "(was:" not in text


def test_timestamp_periods_are_in_the_root_signers_summary(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    result = bob.tufrepo(
        "delegate", "sign/ts", TIMESTAMP, "--expiry", "7", "--signing-period", "6"
    )
    assert result.exit_code == 0, out(result)

    result = alice.sign("sign/ts", "--yes")
    assert result.exit_code == 0, out(result)
    text = out(result)
    assert "root v2 (known good: v1)" in text
    assert " * timestamp: expiry period 2 -> 7 days" in text
    assert " * timestamp: signing period 1 -> 6 days" in text
    assert "Signed root as @alice." in text
    assert world.status("sign/ts")[0] == 0


def test_delegate_summary_never_shows_an_unchanged_was(world: World) -> None:
    _repo_with_releases(world)
    alice = world.users["alice"]
    result = alice.tufrepo(
        "delegate", "sign/p", RELEASES, "--path", "releases/x/*", "--key", alice.key_uri
    )
    assert result.exit_code == 0, out(result)
    assert "(was: @alice (1 required))" not in out(result)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands believe they run on a terminal; answers come from CliRunner's input."""
    monkeypatch.setattr(App, "interactive", property(lambda _self: True))


def _event_to_sign(world: World) -> str:
    alice, bob = world.user("alice"), world.user("bob")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    assert bob.tufrepo("delegate", "sign/t", TARGETS, "--expiry", "200").exit_code == 0
    return git(world.origin, "rev-parse", "sign/t")


@pytest.mark.parametrize("answer", ["n\n", "\n"], ids=["no", "default"])
def test_on_a_terminal_no_means_nothing_signed_or_pushed(
    world: World, terminal: None, answer: str
) -> None:
    tip = _event_to_sign(world)
    alice = world.users["alice"]
    result = alice.tufrepo("sign", "sign/t", "--key", alice.key_uri, input=answer)
    assert result.exit_code == 0, out(result)
    assert "Sign and push? [y/N]" in out(result)
    assert " * expiry period 365 -> 200 days" in out(result)
    assert "Not signed: nothing was saved or pushed." in out(result)
    assert git(world.origin, "rev-parse", "sign/t") == tip


def test_on_a_terminal_yes_signs_and_pushes(world: World, terminal: None) -> None:
    tip = _event_to_sign(world)
    alice = world.users["alice"]
    result = alice.tufrepo("sign", "sign/t", "--key", alice.key_uri, input="y\n")
    assert result.exit_code == 0, out(result)
    assert "Sign and push? [y/N]" in out(result)
    assert "Signed targets as @alice." in out(result)
    assert git(world.origin, "rev-parse", "sign/t") != tip
    assert world.status("sign/t")[0] == 0


def test_yes_skips_the_question(world: World, terminal: None) -> None:
    _event_to_sign(world)
    alice = world.users["alice"]
    result = alice.sign("sign/t", "--yes")
    assert result.exit_code == 0, out(result)
    assert "[y/N]" not in out(result)
    assert "Signed targets as @alice." in out(result)


def test_without_a_terminal_nothing_is_asked(world: World) -> None:
    _event_to_sign(world)
    alice = world.users["alice"]
    result = alice.tufrepo("--json", "sign", "sign/t", "--key", alice.key_uri, "-y")
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[-1])["signed"] == ["targets"]
    result = world.user("bob").tufrepo("sign", "sign/t")  # nothing owed, nothing asked
    assert result.exit_code == 0, out(result)
    assert "[y/N]" not in out(result)


def test_with_json_the_question_goes_to_stderr(world: World, terminal: None) -> None:
    tip = _event_to_sign(world)
    alice = world.users["alice"]
    result = alice.tufrepo("--json", "sign", "sign/t", "--key", alice.key_uri, input="n\n")
    assert result.exit_code == 0, out(result)
    assert "Sign and push? [y/N]" in result.stderr
    [line] = result.stdout.splitlines()
    assert json.loads(line) | {
        "event": "sign/t",
        "signed": [],
        "pushed": False,
        "declined": True,
    } == json.loads(line)
    assert git(world.origin, "rev-parse", "sign/t") == tip


def test_warnings_of_status_are_shown_before_signing(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    assert bob.tufrepo("delegate", "sign/t", TARGETS, "--expiry", "200").exit_code == 0
    git(bob.clone, "fetch", "-q")
    git(bob.clone, "switch", "-q", "-c", "sign/t", "origin/sign/t")
    (bob.clone / "README.md").write_text("changed outside metadata/ and targets/\n")
    git(bob.clone, "commit", "-q", "-a", "-m", "readme")
    git(bob.clone, "push", "-q", "origin", "sign/t")
    code, status = world.status("sign/t")
    assert code == 3, status  # a warning, not an error: the event waits for alice
    assert status["warnings"], status

    result = alice.sign("sign/t")
    assert result.exit_code == 0, out(result)
    assert f"warning: {status['warnings'][0]}" in result.stderr
    assert "Signed targets as @alice." in result.stdout
