"""``check_history`` and ``chain_start``: root_history is append-only, contiguous and one chain."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from simulator import RepositorySimulator

from tufrepo.checks import Finding, Severity
from tufrepo.checks.history import chain_start, check_history
from tufrepo.core.constants import ROOT
from tufrepo.core.store import OverlayStore

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
ERROR, WARNING = Severity.ERROR, Severity.WARNING
ROOT_JSON = "metadata/root.json"
LEGACY = " (legacy history before the first root clients can start from; published as it is)"


def history(version: int) -> str:
    return f"metadata/root_history/{version}.root.json"


def messages(findings: list[Finding]) -> list[tuple[str, Severity, str]]:
    assert {f.role for f in findings} <= {ROOT}
    return [(f.code, f.severity, f.message) for f in findings]


@pytest.fixture
def sim() -> RepositorySimulator:
    return RepositorySimulator(NOW)


def rotated(sim: RepositorySimulator, times: int = 1) -> OverlayStore:
    for _ in range(times):
        sim.rotate_root(remove=(), add=())
    return sim.store()


def test_an_honest_history_has_no_findings(sim: RepositorySimulator) -> None:
    good = sim.store()
    assert check_history(None, good) == []
    assert check_history(good, good) == []
    assert check_history(good, rotated(sim, 2)) == []
    assert chain_start(sim.store()) == 1


def test_no_root_and_no_history_is_a_new_repository() -> None:
    assert check_history(None, OverlayStore()) == []


def test_known_good_history_is_never_rewritten_or_removed(sim: RepositorySimulator) -> None:
    good = rotated(sim)
    store = rotated(sim)
    store.write(history(1), store.read(history(1)) + b"\n")  # type: ignore[operator]
    assert messages(check_history(good, store)) == [
        ("root-history", ERROR, f"{history(1)} was modified or removed"),
    ]
    store.delete(history(1))
    assert messages(check_history(good, store)) == [
        ("root-history", ERROR, f"{history(1)} was modified or removed"),
        ("root-history", ERROR, "root_history must hold versions 1..3, found 2..3"),
    ]


def test_a_file_that_is_not_an_entry_is_refused(sim: RepositorySimulator) -> None:
    store = sim.store()
    store.write("metadata/root_history/README", b"x")
    store.write("metadata/root_history/01.root.json", b"x")
    assert messages(check_history(None, store)) == [
        ("root-history", ERROR, "metadata/root_history/01.root.json is not a root_history entry"),
        ("root-history", ERROR, "metadata/root_history/README is not a root_history entry"),
    ]


def test_history_without_root_json(sim: RepositorySimulator) -> None:
    store = sim.store()
    store.delete(ROOT_JSON)
    assert messages(check_history(None, store)) == [
        ("root-history", ERROR, "metadata/root.json is missing")
    ]


def test_a_malformed_root_json_stops_the_walk(sim: RepositorySimulator) -> None:
    store = sim.store()
    store.write(ROOT_JSON, b"{")
    ((code, severity, _),) = messages(check_history(None, store))
    assert (code, severity) == ("malformed", ERROR)


@pytest.mark.parametrize(
    ("present", "shown"),
    [
        ([1, 3], "1, 3"),
        ([2, 3], "2..3"),
        ([], "none"),
        ([1, 2, 3, 4], "1..4"),
        (list(range(1, 25)), "1..24"),
        ([*range(1, 22), 30], ", ".join(map(str, range(1, 21))) + " …"),
    ],
)
def test_history_must_run_from_1_to_root_json(
    sim: RepositorySimulator, present: list[int], shown: str
) -> None:
    store = rotated(sim, 2)  # root v3
    top = store.read(ROOT_JSON)
    for version in (1, 2, 3):
        store.delete(history(version))
    for version in present:
        store.write(history(version), top or b"")
    assert messages(check_history(None, store)) == [
        ("root-history", ERROR, f"root_history must hold versions 1..3, found {shown}")
    ]


def test_the_newest_entry_is_root_json(sim: RepositorySimulator) -> None:
    store = rotated(sim)
    store.write(ROOT_JSON, store.read(ROOT_JSON) + b" ")  # type: ignore[operator]
    assert messages(check_history(None, store)) == [
        ("root-history", ERROR, f"{history(2)} differs from metadata/root.json")
    ]


def test_an_entry_holds_its_own_version(sim: RepositorySimulator) -> None:
    store = rotated(sim)
    store.write(history(1), store.read(history(2)) or b"")
    assert messages(check_history(None, store)) == [
        ("root-history", ERROR, f"{history(1)} holds root version 2")
    ]


def test_a_new_root_needs_the_previous_roots_threshold(sim: RepositorySimulator) -> None:
    good = sim.store()
    sim.rotate_root(remove=("alice", "bob", "carol"), add=("dave", "erin"))
    sim.sign(ROOT, "alice", "dave", "erin")  # one old key of two
    store = sim.store()
    assert messages(check_history(good, store)) == [
        ("root-chain", ERROR, "root v2 is not signed by the previous root's threshold (1 of 2)")
    ]
    # still collecting signatures in an event: not judged here
    assert check_history(good, store, final_pending=True) == []


def test_a_new_root_needs_its_own_threshold(sim: RepositorySimulator) -> None:
    good = sim.store()
    sim.rotate_root(remove=("carol",), add=("dave",))
    sim.sign(ROOT, "alice", "carol")  # dave and bob would be the new threshold
    assert messages(check_history(good, sim.store())) == [
        ("root-chain", ERROR, "root v2 is not signed by its own threshold (1 of 2)")
    ]


def test_an_unparsable_new_entry_is_malformed(sim: RepositorySimulator) -> None:
    good = rotated(sim)
    store = rotated(sim)
    store.write(history(3), b"{")
    store.write(ROOT_JSON, b"{")
    ((code, _, _),) = messages(check_history(good, store))
    assert code == "malformed"
    # an older entry, beyond known good, that cannot be parsed
    store = rotated(sim)  # v4
    store.write(history(3), b"[]")
    findings = messages(check_history(good, store))
    assert [c for c, _, _ in findings] == ["malformed"]
    assert findings[0][2].startswith(f"{history(3)}: ")


def test_legacy_history_before_the_first_verifiable_root(sim: RepositorySimulator) -> None:
    # sigstore/root-signing: old roots python-tuf cannot parse or verify; clients start later
    store = rotated(sim)
    store.write(history(1), b'{"legacy": true}')
    assert messages(check_history(None, store)) == [
        (
            "legacy-root",
            WARNING,
            f"{history(1)}: not valid TUF metadata ('signed'){LEGACY}",
        )
    ]
    assert chain_start(store) == 2


def test_without_known_good_the_chain_restarts_at_a_self_signed_root(
    sim: RepositorySimulator,
) -> None:
    sim.rotate_root(remove=("alice", "bob", "carol"), add=("dave", "erin"))
    sim.sign(ROOT, "dave", "erin")  # not signed by v1's keys at all
    store = sim.store()
    assert messages(check_history(None, store)) == [
        (
            "legacy-root",
            WARNING,
            f"root v2 is not signed by the previous root's threshold (0 of 2): the chain starts here{LEGACY}",
        )
    ]
    assert chain_start(store) == 2
    # with known good at v1, the same root is a takeover
    good = RepositorySimulator(NOW).store()
    good.changes[history(1)] = store.read(history(1))
    good.changes[ROOT_JSON] = store.read(history(1))
    assert [c for c, _, _ in messages(check_history(good, store))] == ["root-chain"]


def test_without_known_good_an_old_unverifiable_root_is_legacy(sim: RepositorySimulator) -> None:
    sim.sign(ROOT, "alice")  # v1 under its threshold of 2
    sim.files_by_path()
    sim.rotate_root(remove=(), add=())
    sim.sign(ROOT, "alice", "bob", "carol")
    store = sim.store()
    assert messages(check_history(None, store)) == [
        (
            "legacy-root",
            WARNING,
            f"root v1 is not signed by its own threshold (1 of 2){LEGACY}",
        )
    ]
    assert chain_start(store) == 2


def test_the_newest_root_must_verify_without_known_good(sim: RepositorySimulator) -> None:
    sim.rotate_root(remove=(), add=())
    sim.sign(ROOT, "alice")
    assert messages(check_history(None, sim.store())) == [
        ("root-chain", ERROR, "root v2 is not signed by the previous root's threshold (1 of 2)")
    ]


def test_chain_start_skips_unparsable_entries(sim: RepositorySimulator) -> None:
    store = rotated(sim, 2)
    store.write(history(2), b"{")
    assert chain_start(store) == 3
    assert chain_start(OverlayStore()) == 1
