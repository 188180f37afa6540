"""``judge_main`` and ``currency_rule``: main judged from the anchor clients already trust.

The same rules as an event, with main's severities: missing signatures and
artifacts that differ are errors, an expired offline role is a warning, and
snapshot and timestamp must verify with root's online key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from simulator import DELEGATED, README, RepositorySimulator

from tufrepo.checks import Finding, Severity, judge_main
from tufrepo.checks.rules import currency_rule
from tufrepo.core.constants import ROOT, SNAPSHOT, TARGETS, TIMESTAMP

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
ERROR, WAITING, WARNING = Severity.ERROR, Severity.WAITING, Severity.WARNING
Found = list[tuple[str, str, Severity]]


def found(findings: list[Finding]) -> Found:
    """Each finding's role, code and severity, sorted; every finding says what is wrong."""
    assert all(isinstance(f.message, str) and f.message.strip() for f in findings), findings
    return sorted((f.role, f.code, f.severity) for f in findings)


def judge(change: Callable[[RepositorySimulator], None], *, files: bool = True) -> list[Finding]:
    """Findings for main after ``change`` and an online-sign run, against the first state."""
    sim = RepositorySimulator(NOW)
    anchor = sim.store()
    change(sim)
    repo = sim.repository(anchor)
    return judge_main(repo, repo.store if files else None, anchor, now=sim.now)


def merged(change: Callable[[RepositorySimulator], None]) -> Callable[[RepositorySimulator], None]:
    """``change`` merged, then online-signed as main always is before it is judged."""

    def apply(sim: RepositorySimulator) -> None:
        change(sim)
        sim.online_sign()

    return apply


def new_artifact(sim: RepositorySimulator) -> None:
    sim.add_target(TARGETS, "new.txt", b"new\n")
    sim.bump(TARGETS)


def test_the_anchor_itself_has_no_findings() -> None:
    sim = RepositorySimulator(NOW)
    assert judge_main(sim.repository(None), sim.store(), None, now=NOW) == []


@pytest.mark.parametrize(
    "change",
    [
        merged(new_artifact),
        merged(lambda sim: sim.rotate_root()),
        merged(lambda sim: sim.add_delegation("releases", ["carol"])),
        lambda sim: sim.online_sign(),
        lambda sim: None,
    ],
    ids=["artifact", "root-rotation", "new-delegation", "online-sign-only", "unchanged"],
)
def test_honest_main_has_no_findings(change: Callable[[RepositorySimulator], None]) -> None:
    assert judge(change) == []


def unsigned(sim: RepositorySimulator) -> None:
    new_artifact(sim)
    sim.sign(TARGETS)


def forged_timestamp(sim: RepositorySimulator) -> None:
    sim.online_sign()
    sim.sign(TIMESTAMP, "alice")


def snapshot_removed(sim: RepositorySimulator) -> None:
    sim.online_sign()
    sim.extra["metadata/snapshot.json"] = None


def expired_targets(sim: RepositorySimulator) -> None:
    sim.bump(TARGETS, expires=NOW - timedelta(days=1))
    sim.online_sign()


def snapshot_rollback(sim: RepositorySimulator) -> None:
    sim.online_sign()
    sim.roles[SNAPSHOT].signed.version = 1
    sim.roles[SNAPSHOT].signed.meta["x.json"] = sim.roles[SNAPSHOT].signed.meta["targets.json"]


def timestamp_too_far(sim: RepositorySimulator) -> None:
    sim.online_sign()
    sim.bump(TIMESTAMP, expires=NOW + timedelta(days=3))


def delegation_not_resigned(sim: RepositorySimulator) -> None:
    delegations = sim.targets().delegations
    assert delegations is not None
    assert delegations.roles is not None
    delegations.roles[DELEGATED].threshold = 2
    delegations.roles[DELEGATED].keyids.append(sim.key("carol").keyid)
    delegations.keys[sim.key("carol").keyid] = sim.key("carol")
    sim.bump(TARGETS)
    sim.online_sign()


def root_by_new_keys_only(sim: RepositorySimulator) -> None:
    sim.rotate_root(remove=("alice", "bob", "carol"), add=("dave", "erin"))
    sim.sign(ROOT, "dave", "erin")
    sim.online_sign()


def root_history_rewritten(sim: RepositorySimulator) -> None:
    sim.online_sign()
    sim.extra["metadata/root_history/1.root.json"] = b"{}"


def stray_root_history_file(sim: RepositorySimulator) -> None:
    sim.online_sign()
    sim.extra["metadata/root_history/notes.txt"] = b"x"


def file_differs(sim: RepositorySimulator) -> None:
    sim.files[README] = b"tampered"


def replace_file(path: str, data: bytes | None) -> Callable[[RepositorySimulator], None]:
    def change(sim: RepositorySimulator) -> None:
        sim.extra[path] = data

    return change


CASES: dict[str, tuple[Callable[[RepositorySimulator], None], Found]] = {
    "offline-role-unsigned": (merged(unsigned), [(TARGETS, "unsigned", ERROR)]),
    "timestamp-not-by-the-online-key": (
        forged_timestamp,
        [(TIMESTAMP, "online-forged", ERROR)],
    ),
    "snapshot-removed": (
        snapshot_removed,
        [(SNAPSHOT, "role-removed", ERROR)],
    ),
    "offline-role-expired": (expired_targets, [(TARGETS, "expired", WARNING)]),
    "snapshot-rollback": (snapshot_rollback, [(SNAPSHOT, "version-reused", ERROR)]),
    "timestamp-expires-too-far": (timestamp_too_far, [(TIMESTAMP, "expiry-too-far", ERROR)]),
    "delegation-not-resigned": (
        delegation_not_resigned,
        [(DELEGATED, "delegation-not-resigned", ERROR), (DELEGATED, "unsigned", ERROR)],
    ),
    "root-without-the-old-keys": (root_by_new_keys_only, [(ROOT, "root-chain", ERROR)]),
    "root-history-rewritten": (
        root_history_rewritten,
        # rewritten, no longer root.json (v1 is the newest), and not parsable: legacy
        [
            (ROOT, "legacy-root", WARNING),
            (ROOT, "root-history", ERROR),
            (ROOT, "root-history", ERROR),
        ],
    ),
    "stray-root-history-file": (stray_root_history_file, [(ROOT, "root-history", ERROR)]),
    "artifact-differs": (file_differs, [(TARGETS, "targets-mismatch", ERROR)]),
    "delegated-role-malformed": (
        replace_file(f"metadata/{DELEGATED}.json", b"{"),
        [("", "malformed", ERROR)],
    ),
    "targets-malformed": (replace_file("metadata/targets.json", b"{"), [("", "malformed", ERROR)]),
    "root-removed": (
        replace_file("metadata/root.json", None),
        [
            (ROOT, "malformed", ERROR),
            (ROOT, "role-removed", ERROR),
            (ROOT, "root-history", ERROR),
            (TARGETS, "not-delegated", ERROR),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_main_has_exactly_its_findings(name: str) -> None:
    change, expected = CASES[name]
    assert found(judge(change)) == sorted(expected)


def test_without_files_artifacts_are_not_judged() -> None:
    assert judge(file_differs, files=False) == []


def test_a_malformed_history_stops_the_judgement() -> None:
    def broken(sim: RepositorySimulator) -> None:
        sim.extra["metadata/root.json"] = b"{"

    assert found(judge(broken)) == [(ROOT, "malformed", ERROR)]


def test_unsigned_snapshot_and_timestamp_on_main_are_reported_per_role() -> None:
    def unsigned_online(sim: RepositorySimulator) -> None:
        sim.online_sign()
        sim.sign(SNAPSHOT)
        sim.sign(TIMESTAMP)

    assert found(judge(unsigned_online)) == [
        (SNAPSHOT, "online-forged", ERROR),
        (TIMESTAMP, "online-forged", ERROR),
    ]


def test_unchanged_online_roles_are_not_judged_again() -> None:
    # an anchor with an expired timestamp: main without changes is judged by what changed
    sim = RepositorySimulator(NOW)
    anchor = sim.store()
    later = NOW + timedelta(days=30)
    repo = sim.repository(anchor, now=later)
    assert judge_main(repo, repo.store, anchor, now=later) == []


# --- currency_rule: is main online-signed? ---------------------------------------


def currency(sim: RepositorySimulator) -> Found:
    return found(currency_rule(sim.repository(None)))


def test_online_signed_main_is_current() -> None:
    sim = RepositorySimulator(NOW)
    assert currency(sim) == []
    sim.online_sign()
    assert currency(sim) == []


def test_a_merge_not_yet_online_signed_is_stale() -> None:
    sim = RepositorySimulator(NOW)
    sim.bump(TARGETS)
    assert currency(sim) == [(SNAPSHOT, "snapshot-stale", ERROR)]
    (finding,) = currency_rule(sim.repository(None))
    assert finding.message == "targets is v2 but snapshot lists v1 (run online-sign)"


def test_a_role_snapshot_does_not_list_is_stale() -> None:
    sim = RepositorySimulator(NOW)
    sim.add_delegation("releases", ["carol"], bump=False)
    (finding,) = currency_rule(sim.repository(None))
    assert (finding.role, finding.code) == (SNAPSHOT, "snapshot-stale")
    assert finding.message == "releases is v1 but snapshot lists nothing (run online-sign)"


def test_a_timestamp_behind_the_snapshot_is_stale() -> None:
    sim = RepositorySimulator(NOW)
    sim.bump(SNAPSHOT)
    assert currency(sim) == [(TIMESTAMP, "timestamp-stale", ERROR)]


def test_a_repository_never_online_signed() -> None:
    sim = RepositorySimulator(NOW)
    sim.extra["metadata/timestamp.json"] = None
    assert currency(sim) == [(SNAPSHOT, "not-online-signed", ERROR)]
