"""``judge_event``: every rule a signing event must follow, one minimal bad case each.

Each case starts from the simulator's known-good repository, makes one change
as a signing event (or an attacker with push access to ``sign/*``) would, and
expects exactly the findings listed: role, code and severity.  An honest event
of the same shape has no findings at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from simulator import APP, DELEGATED, ONLINE, README, RepositorySimulator, new_signer
from tuf.api.metadata import DelegatedRole, Delegations, Metadata, SuccinctRoles, TargetFile

from tufrepo.checks import Finding, Severity, judge_event
from tufrepo.core.constants import (
    EXPIRY_PERIOD,
    ROOT,
    SIGNING_PERIOD,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
)
from tufrepo.core.store import WorktreeStore
from tufrepo.ops.event import SigningEvent

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
ERROR, WAITING, WARNING = Severity.ERROR, Severity.WAITING, Severity.WARNING
Found = list[tuple[str, str, Severity]]


def found(findings: list[Finding]) -> Found:
    """Each finding's role, code and severity, sorted; every finding says what is wrong."""
    assert all(isinstance(f.message, str) and f.message.strip() for f in findings), findings
    return sorted((f.role, f.code, f.severity) for f in findings)


def judge(
    change: Callable[[RepositorySimulator], None],
    *,
    before: Callable[[RepositorySimulator], None] | None = None,
    **kwargs: object,
) -> list[Finding]:
    """Findings for an event that makes ``change`` on the simulator's known good.

    ``before`` changes known good first (as earlier events merged into main did).
    """
    sim = RepositorySimulator(NOW)
    if before is not None:
        before(sim)
    good = sim.store()
    change(sim)
    return judge_event(sim.event(good), **kwargs)  # type: ignore[arg-type]


# --- changes ----------------------------------------------------------------------


def add_artifact(sim: RepositorySimulator) -> None:
    sim.add_target(TARGETS, "new.txt", b"new\n")
    sim.bump(TARGETS)


def note(role: str, *, bump: bool) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.roles[role].signed.unrecognized_fields["x-note"] = "changed"
        if bump:
            sim.bump(role)

    return change


def root_plus_two(sim: RepositorySimulator) -> None:
    sim.bump(ROOT)
    sim.files_by_path()  # v2 goes to root_history as a real event would write it
    sim.bump(ROOT)


def expires(days: float) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.bump(TARGETS, expires=NOW + timedelta(days=days))

    return change


def period(role: str, field: str, value: object) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.bump(role)
        if role in (SNAPSHOT, TIMESTAMP):
            sim.root.roles[role].unrecognized_fields[field] = value
        else:
            sim.roles[role].signed.unrecognized_fields[field] = value

    return change


def online_period(role: str, field: str, value: int) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.root.roles[role].unrecognized_fields[field] = value
        sim.bump(ROOT)

    return change


def stray_signature(sim: RepositorySimulator) -> None:
    sim.sign(TARGETS, "alice", "mallory")  # mallory's real signature; targets does not list her


def rogue_role(sim: RepositorySimulator) -> None:
    sim.roles["rogue"] = Metadata.from_bytes(sim.signed_bytes(DELEGATED))
    sim.sign("rogue")  # unsigned: a signature would also be a stray one


def remove(path: str) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.extra[path] = None

    return change


def write(path: str, data: bytes) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.extra[path] = data

    return change


def online_sign(sim: RepositorySimulator) -> None:
    sim.online_sign()


def root_change(
    edit: Callable[[RepositorySimulator], None],
) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        edit(sim)
        sim.bump(ROOT)

    return change


def no_consistent_snapshot(sim: RepositorySimulator) -> None:
    sim.root.consistent_snapshot = False


def online_threshold(sim: RepositorySimulator) -> None:
    sim.root.roles[SNAPSHOT].threshold = 2


def online_key_without_uri(sim: RepositorySimulator) -> None:
    plain = new_signer("plain online key").public_key
    for role in (SNAPSHOT, TIMESTAMP):
        sim.root.revoke_key(sim.key(ONLINE).keyid, role)
        sim.root.add_key(plain, role)


def delegation(
    name: str, *, parent: str = TARGETS, paths: list[str] | None = None, file: bool = True
) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.add_delegation(name, ["carol"], parent=parent, paths=paths)
        if parent != TARGETS:
            sim.bump(TARGETS)  # not needed for the rule; keeps the case to one finding
        if not file:
            del sim.roles[name]

    return change


def raw_delegation(role: DelegatedRole) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        delegations = sim.targets().delegations
        assert delegations is not None
        assert delegations.roles is not None
        delegations.roles[role.name] = role
        sim.bump(TARGETS)

    return change


def succinct(sim: RepositorySimulator) -> None:
    outsider = sim.key("mallory")
    sim.targets().delegations = Delegations(
        keys={outsider.keyid: outsider},
        succinct_roles=SuccinctRoles([outsider.keyid], 1, bit_length=1, name_prefix="bin"),
    )
    sim.bump(TARGETS)
    del sim.roles[DELEGATED]
    sim.files.pop(APP)


def entry(
    role: str, path: str, data: bytes, *, file: bool
) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.add_target(role, path, data)
        if not file:
            del sim.files[path]
        sim.bump(role)

    return change


def artifact(path: str, data: bytes) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.files[path] = data

    return change


def unknown_hash(sim: RepositorySimulator) -> None:
    sim.targets().targets[README].hashes["shake_128"] = "00"
    sim.bump(TARGETS)


def delegation_threshold(sim: RepositorySimulator) -> None:
    delegations = sim.targets().delegations
    assert delegations is not None
    assert delegations.roles is not None
    delegations.roles[DELEGATED].threshold = 2
    delegations.roles[DELEGATED].keyids.append(sim.key("carol").keyid)
    delegations.keys[sim.key("carol").keyid] = sim.key("carol")
    sim.bump(TARGETS)


def both(*changes: Callable[[RepositorySimulator], None]) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        for one in changes:
            one(sim)

    return change


# --- the cases --------------------------------------------------------------------


def targets_plus_two(sim: RepositorySimulator) -> None:
    sim.bump(TARGETS)
    sim.bump(TARGETS)  # tuf-on-ci's update-targets skips versions; the spec only asks for more


def delegation_removed(sim: RepositorySimulator) -> None:
    sim.remove_delegation(DELEGATED)
    sim.files.pop(APP)


HONEST: dict[str, Callable[[RepositorySimulator], None]] = {
    "new-artifact": add_artifact,
    "targets-version-plus-two": targets_plus_two,
    "root-rotation": lambda sim: sim.rotate_root(),
    "new-delegation": delegation("releases"),
    "new-delegation-two-of-two": lambda sim: sim.add_delegation(
        "two", ["bob", "carol"], threshold=2
    ),
    "removed-delegation": delegation_removed,
    "only-signatures": lambda sim: sim.sign(TARGETS, "alice"),
    "dotfile-in-targets": artifact(".gitkeep", b""),
    "periods-changed": both(
        period(TARGETS, EXPIRY_PERIOD, 200), period(TARGETS, SIGNING_PERIOD, 30)
    ),
}


@pytest.mark.parametrize("name", sorted(HONEST))
def test_an_honest_event_has_no_findings(name: str) -> None:
    assert judge(HONEST[name]) == []


CASES: dict[str, tuple[Callable[[RepositorySimulator], None], Found]] = {
    # versions
    "content-changed-same-version": (
        note(TARGETS, bump=False),
        [(TARGETS, "version-reused", ERROR)],
    ),
    "root-changed-same-version": (
        note(ROOT, bump=False),
        [(ROOT, "root-history", ERROR), (ROOT, "version-reused", ERROR)],
    ),
    "root-plus-two": (root_plus_two, [(ROOT, "version", ERROR)]),
    # expiry and periods
    "expired": (expires(-1), [(TARGETS, "expired", ERROR)]),
    "expires-too-far": (expires(366), [(TARGETS, "expiry-too-far", ERROR)]),
    "expiry-period-zero": (period(TARGETS, EXPIRY_PERIOD, 0), [(TARGETS, "periods", ERROR)]),
    "expiry-period-a-string": (
        period(TARGETS, EXPIRY_PERIOD, "365"),
        [(TARGETS, "periods", ERROR)],
    ),
    "signing-period-not-shorter": (
        period(TARGETS, SIGNING_PERIOD, 365),
        [(TARGETS, "periods", ERROR)],
    ),
    "timestamp-expiry-over-policy": (
        online_period(TIMESTAMP, EXPIRY_PERIOD, 367),
        [(ROOT, "periods", ERROR)],
    ),
    "timestamp-signing-not-shorter": (
        online_period(TIMESTAMP, SIGNING_PERIOD, 2),
        [(ROOT, "periods", ERROR)],
    ),
    # signatures and roles
    "stray-signature": (stray_signature, [(TARGETS, "stray-signature", WARNING)]),
    "role-file-nobody-delegates": (rogue_role, [("rogue", "not-delegated", ERROR)]),
    "top-level-role-removed": (
        both(remove("metadata/targets.json"), remove(f"metadata/{DELEGATED}.json")),
        [(TARGETS, "role-removed", ERROR)],
    ),
    "snapshot-and-timestamp-changed": (
        online_sign,
        [(SNAPSHOT, "online-role-changed", ERROR), (TIMESTAMP, "online-role-changed", ERROR)],
    ),
    "malformed-metadata": (
        write("metadata/targets.json", b"{"),
        [("", "malformed", ERROR), (TARGETS, "malformed", ERROR)],
    ),
    # root
    "consistent-snapshot-off": (
        root_change(no_consistent_snapshot),
        [(ROOT, "consistent-snapshot", ERROR)],
    ),
    "online-signers-differ": (root_change(online_threshold), [(ROOT, "online-signers", ERROR)]),
    "online-key-without-uri": (
        root_change(online_key_without_uri),
        [(ROOT, "online-key", ERROR), (ROOT, "online-key", ERROR)],
    ),
    # the delegation tree
    "delegation-without-role-file": (
        delegation("ghost", file=False),
        [(TARGETS, "missing-role-file", ERROR)],
    ),
    "nested-delegation": (
        delegation("sub", parent=DELEGATED, paths=[f"{DELEGATED}/other/*"]),
        [("sub", "nested-delegation", ERROR)],
    ),
    "hash-bin-delegation": (
        raw_delegation(DelegatedRole("bins", [], 1, True, path_hash_prefixes=["00"])),
        [("bins", "hash-bin-delegation", ERROR), (TARGETS, "missing-role-file", ERROR)],
    ),
    "succinct-delegation": (succinct, [(TARGETS, "succinct-delegation", ERROR)]),
    "unsafe-role-name": (
        raw_delegation(DelegatedRole("../evil", [], 1, True, paths=["evil/*"])),
        [(TARGETS, "unsafe-role-name", ERROR)],
    ),
    "role-name-shadows-top-level": (
        raw_delegation(DelegatedRole("Root", [], 1, True, paths=["r/*"])),
        [(TARGETS, "missing-role-file", ERROR), (TARGETS, "role-name-collision", ERROR)],
    ),
    "role-names-differ-by-case": (
        delegation(DELEGATED.capitalize(), paths=["other/*"]),
        [(TARGETS, "role-name-collision", ERROR)],
    ),
    "delegated-role-lists-foreign-path": (
        entry(DELEGATED, "other/x.txt", b"x", file=False),
        [
            (DELEGATED, "path-outside-delegation", ERROR),
            (DELEGATED, "targets-mismatch", WAITING),
        ],
    ),
    "delegation-not-resigned": (
        delegation_threshold,
        [(DELEGATED, "delegation-not-resigned", WAITING)],
    ),
    # artifacts
    "unsafe-target-path": (
        entry(TARGETS, "../x", b"x", file=False),
        [(TARGETS, "targets-mismatch", WAITING), (TARGETS, "unsafe-target-path", ERROR)],
    ),
    "names-differ-by-case": (
        both(entry(TARGETS, "A.txt", b"1", file=True), entry(TARGETS, "a.txt", b"2", file=True)),
        [("", "path-collision", ERROR)],
    ),
    "names-differ-by-unicode-form": (
        both(
            entry(TARGETS, "caf\u00e9.txt", b"1", file=True),
            entry(TARGETS, "cafe\u0301.txt", b"2", file=True),
        ),
        # a name not in normal form C is refused on its own too
        [
            ("", "path-collision", ERROR),
            ("", "unsafe-target-path", ERROR),
            (TARGETS, "unsafe-target-path", ERROR),
        ],
    ),
    "file-not-listed": (artifact("extra.txt", b"x"), [(TARGETS, "targets-mismatch", WAITING)]),
    "file-differs": (artifact(README, b"tampered"), [(TARGETS, "targets-mismatch", WAITING)]),
    "listed-without-file": (
        entry(TARGETS, "ghost.txt", b"x", file=False),
        [(TARGETS, "targets-mismatch", WAITING)],
    ),
    "hash-nobody-can-check": (unknown_hash, [(TARGETS, "targets-mismatch", ERROR)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_event_has_exactly_its_finding(name: str) -> None:
    change, expected = CASES[name]
    assert found(judge(change)) == sorted(expected)


def test_a_role_going_back_a_version_is_a_rollback() -> None:
    def merged_twice(sim: RepositorySimulator) -> None:
        sim.bump(TARGETS)
        sim.bump(TARGETS)

    def back_to_v2(sim: RepositorySimulator) -> None:
        sim.targets().version = 2

    assert found(judge(back_to_v2, before=merged_twice)) == [(TARGETS, "rollback", ERROR)]


def test_outside_changes_warn_or_are_refused() -> None:
    changed = [".github/workflows/x.yml", "targets/.gitattributes", "metadata/targets.json"]
    warned = judge(add_artifact, changed_files=changed)
    assert found(warned) == [("", "outside-change", WARNING)]
    assert warned[0].message == (
        "the event also changes files that are not metadata or artifacts: "
        ".github/workflows/x.yml, targets/.gitattributes; review them: signing vouches only "
        "for metadata"
    )
    refused = judge(add_artifact, changed_files=changed, refuse_outside=True)
    assert found(refused) == [("", "outside-change", ERROR)]
    assert judge(add_artifact, changed_files=["metadata/targets.json", "targets/new.txt"]) == []


def test_outside_changes_are_listed_five_at_most() -> None:
    changed = [f"f{i}" for i in range(7)]
    (finding,) = judge(add_artifact, changed_files=changed)
    assert "f0, f1, f2, f3, f4 …;" in finding.message


def test_an_event_that_main_overtook_is_stale() -> None:
    sim = RepositorySimulator(NOW)
    good = sim.store()
    main = sim.copy()
    main.bump(TARGETS)  # meanwhile on main
    add_artifact(sim)
    findings = judge_event(sim.event(good), main=main.store())
    assert found(findings) == [(TARGETS, "stale-event", ERROR)]
    # a role main did not change is not stale
    assert judge_event(sim.event(good), main=good) == []


def test_a_new_repository_is_judged_without_known_good() -> None:
    # an init event: root, targets and delegations; snapshot and timestamp come from online-sign
    sim = RepositorySimulator(NOW)
    sim.extra |= {f"metadata/{SNAPSHOT}.json": None, f"metadata/{TIMESTAMP}.json": None}
    assert judge_event(sim.event(None)) == []
    sim.root.consistent_snapshot = False
    assert found(judge_event(sim.event(None))) == [(ROOT, "consistent-snapshot", ERROR)]


def test_an_init_event_must_not_hold_snapshot_or_timestamp() -> None:
    assert found(judge_event(RepositorySimulator(NOW).event(None))) == [
        (SNAPSHOT, "online-role-changed", ERROR),
        (TIMESTAMP, "online-role-changed", ERROR),
    ]


def test_a_targets_file_under_a_new_name_is_an_artifact_of_its_delegation() -> None:
    # the file belongs to the delegated role by its path: listing it in targets is a mismatch
    def change(sim: RepositorySimulator) -> None:
        sim.add_target(TARGETS, f"{DELEGATED}/new.txt", b"n")
        sim.bump(TARGETS)

    assert found(judge(change)) == [
        (DELEGATED, "targets-mismatch", WAITING),
        (TARGETS, "targets-mismatch", WAITING),
    ]


def test_a_listed_entry_with_extra_custom_fields_still_matches() -> None:
    def change(sim: RepositorySimulator) -> None:
        target: TargetFile = sim.targets().targets[README]
        target.unrecognized_fields["x-custom"] = "kept"
        sim.bump(TARGETS)

    assert judge(change) == []


def test_links_and_special_files_are_never_artifacts(tmp_path: Path) -> None:
    sim = RepositorySimulator(NOW)
    good = sim.store()
    top = tmp_path / "checkout"
    for path, data in sim.files_by_path().items():
        (top / path).parent.mkdir(parents=True, exist_ok=True)
        (top / path).write_bytes(data)
    (top / "targets" / "passwd").symlink_to("/etc/passwd")
    os.mkfifo(top / "targets" / "fifo")
    findings = judge_event(SigningEvent(WorktreeStore(top), good, now=NOW))
    assert [(f.role, f.code, f.severity, f.message) for f in findings] == [
        ("", "artifact-file", ERROR, "targets/fifo is a special file, not a regular file"),
        ("", "artifact-file", ERROR, "targets/passwd is a symlink, not a regular file"),
    ]
