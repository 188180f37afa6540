"""Edges of the checks that mutation testing (mutmut on ``tufrepo.checks``) found untested.

Each test pins one behaviour a plausible slip would break: a ``continue``
that must not stop the walk, a boundary (``>`` against ``>=``), a finding
that must not replace the ones before it, or a message people act on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from securesystemslib.signer import CryptoSigner, SSlibKey
from simulator import APP, DELEGATED, README, RepositorySimulator
from tuf.api.metadata import DelegatedRole, TargetFile

from tufrepo.checks import Finding, Severity, errors, judge_event, judge_main, waiting, warnings
from tufrepo.checks.history import chain_start, check_history
from tufrepo.checks.keys import check_key_set
from tufrepo.checks.rules import guard, root_rules
from tufrepo.core.constants import (
    EXPIRY_PERIOD,
    ROOT,
    SIGNING_PERIOD,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
)
from tufrepo.errors import MetadataError, UnsupportedKeyError

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
ERROR, WAITING, WARNING = Severity.ERROR, Severity.WAITING, Severity.WARNING
Change = Callable[[RepositorySimulator], None]


def found(findings: list[Finding]) -> list[tuple[str, str, Severity]]:
    return sorted((f.role, f.code, f.severity) for f in findings)


def event_findings(
    change: Change, *, before: Change | None = None, **kwargs: object
) -> list[Finding]:
    sim = RepositorySimulator(NOW)
    if before is not None:
        before(sim)
    good = sim.store()
    change(sim)
    return judge_event(sim.event(good), **kwargs)  # type: ignore[arg-type]


def delegations_of(sim: RepositorySimulator, role: str = TARGETS) -> dict[str, DelegatedRole]:
    delegations = sim.targets(role).delegations
    assert delegations is not None
    assert delegations.roles is not None
    return delegations.roles


def put_first(sim: RepositorySimulator, role: DelegatedRole) -> None:
    """``role`` as targets' first delegation (walks meet it before the others)."""
    roles = delegations_of(sim)
    rest = dict(roles)
    roles.clear()
    roles[role.name] = role
    roles.update(rest)


# --- findings ---------------------------------------------------------------------------


def test_a_finding_as_json_and_as_text() -> None:
    finding = Finding("targets", "expired", "targets expired on 2030-01-01", Severity.WAITING)
    assert finding.to_dict() == {
        "role": "targets",
        "code": "expired",
        "message": "targets expired on 2030-01-01",
        "severity": "waiting",
    }
    assert str(finding) == "targets: targets expired on 2030-01-01"
    assert str(Finding("", "x", "the whole thing")) == "repository: the whole thing"
    assert Finding("r", "c", "m").severity is ERROR
    mixed = [
        Finding("a", "1", "m"),
        Finding("b", "2", "m", WAITING),
        Finding("c", "3", "m", WARNING),
    ]
    assert [f.role for f in errors(mixed)] == ["a"]
    assert [f.role for f in waiting(mixed)] == ["b"]
    assert [f.role for f in warnings(mixed)] == ["c"]


def test_guard_turns_unparsable_metadata_into_findings() -> None:
    def unsupported() -> list[Finding]:
        raise UnsupportedKeyError("metadata/root.json: key type x is not supported")

    def malformed() -> list[Finding]:
        raise MetadataError("metadata/targets.json: not valid TUF metadata")

    assert guard("root", unsupported) == [
        Finding("root", "key-unusable", "metadata/root.json: key type x is not supported")
    ]
    assert guard("targets", malformed) == [
        Finding("targets", "malformed", "metadata/targets.json: not valid TUF metadata")
    ]
    assert guard("r", lambda a, *, b: [Finding(a, b, "m")], "x", b="y") == [Finding("x", "y", "m")]


def test_root_rules_on_a_root_without_a_top_level_role() -> None:
    root = RepositorySimulator(NOW).root
    del root.roles[SNAPSHOT]  # python-tuf refuses to parse such a root; the rule still copes
    assert root_rules(root) == [Finding(ROOT, "malformed", "root does not delegate snapshot")]


# --- periods and expiry: boundaries -------------------------------------------------------


def online_expiry(days: int) -> Change:
    def change(sim: RepositorySimulator) -> None:
        sim.root.roles[TIMESTAMP].unrecognized_fields[EXPIRY_PERIOD] = days
        sim.bump(ROOT)

    return change


def test_timestamp_expiry_period_up_to_366_days() -> None:
    assert event_findings(online_expiry(366)) == []
    (finding,) = event_findings(online_expiry(367))
    assert (finding.role, finding.code) == (ROOT, "periods")
    assert finding.message == (
        "timestamp: expiry period 367 days is longer than the 366 days tufrepo allows for timestamp"
    )


def test_other_roles_may_live_ten_years() -> None:
    def long_targets(sim: RepositorySimulator) -> None:
        sim.targets().unrecognized_fields[EXPIRY_PERIOD] = 3650  # sigstore/root-signing's
        sim.bump(TARGETS)

    assert event_findings(long_targets) == []


def test_an_unreadable_online_period_belongs_to_root() -> None:
    def text_period(sim: RepositorySimulator) -> None:
        sim.root.roles[TIMESTAMP].unrecognized_fields[SIGNING_PERIOD] = "1"
        sim.bump(ROOT)

    (finding,) = event_findings(text_period)
    assert (finding.role, finding.code, finding.severity) == (ROOT, "periods", ERROR)
    assert finding.message == (
        f'timestamp: {SIGNING_PERIOD} must be a whole number of days between 1 and 3660, found "1"'
    )


def test_a_role_expiring_right_now_is_expired() -> None:
    def now(sim: RepositorySimulator) -> None:
        sim.bump(TARGETS, expires=NOW)

    assert found(event_findings(now)) == [(TARGETS, "expired", ERROR)]


def test_only_new_content_is_judged_for_expiry() -> None:
    # known good expired meanwhile; an event that only changes signatures is not refused for it
    sim = RepositorySimulator(NOW)
    good = sim.store()
    sim.sign(TARGETS)
    later = NOW + timedelta(days=400)
    assert judge_event(sim.event(good, now=later)) == []


def test_an_online_role_past_the_timestamp_limit_on_main() -> None:
    sim = RepositorySimulator(NOW)
    anchor = sim.store()
    sim.root.roles[TIMESTAMP].unrecognized_fields[EXPIRY_PERIOD] = 400
    sim.bump(ROOT)
    sim.online_sign()  # timestamp now expires in 400 days: the policy allows 366
    repo = sim.repository(anchor)
    assert found(judge_main(repo, repo.store, anchor, now=NOW)) == [
        (ROOT, "periods", ERROR),
        (TIMESTAMP, "expiry-too-far", ERROR),
    ]


def test_a_root_version_skip_names_the_expected_version() -> None:
    def plus_two(sim: RepositorySimulator) -> None:
        sim.bump(ROOT)
        sim.files_by_path()
        sim.bump(ROOT)

    (finding,) = event_findings(plus_two)
    assert finding.message == "root version 3 is not valid: expected 2 (known good is 1)"


# --- walks that must go on after a finding --------------------------------------------------


def test_an_unsafe_role_name_does_not_stop_the_tree_checks() -> None:
    def change(sim: RepositorySimulator) -> None:
        put_first(sim, DelegatedRole("../evil", [], 1, True, paths=["evil/*"]))
        delegations_of(sim)["ghost"] = DelegatedRole("ghost", [], 1, True, paths=["ghost/*"])
        sim.targets(DELEGATED).targets["other/x.txt"] = TargetFile.from_data("other/x.txt", b"x")
        sim.files["other/x.txt"] = b"x"
        sim.bump(TARGETS)
        sim.bump(DELEGATED)

    assert found(event_findings(change)) == [
        (DELEGATED, "path-outside-delegation", ERROR),
        (DELEGATED, "targets-mismatch", WAITING),
        (TARGETS, "missing-role-file", ERROR),
        (TARGETS, "targets-mismatch", WAITING),
        (TARGETS, "unsafe-role-name", ERROR),
    ]


def test_a_missing_role_file_does_not_stop_the_entry_checks() -> None:
    def change(sim: RepositorySimulator) -> None:
        put_first(sim, DelegatedRole("a-ghost", [], 1, True, paths=["ghost/*"]))
        sim.bump(TARGETS)
        sim.files[APP] = b"changed"

    assert found(event_findings(change)) == [
        (DELEGATED, "targets-mismatch", WAITING),
        (TARGETS, "missing-role-file", ERROR),
    ]


def test_a_dotfile_does_not_stop_the_artifact_checks() -> None:
    def change(sim: RepositorySimulator) -> None:
        sim.files[".gitattributes"] = b"* -text\n"
        sim.add_target(TARGETS, "A.txt", b"1")
        sim.add_target(TARGETS, "a.txt", b"2")
        sim.bump(TARGETS)

    (finding,) = event_findings(change)
    assert (finding.code, finding.message) == (
        "path-collision",
        "'A.txt' and 'a.txt' differ only by case or Unicode form",
    )


def test_a_role_name_collision_names_both_roles() -> None:
    def change(sim: RepositorySimulator) -> None:
        sim.add_delegation("Delegated", ["carol"], paths=["other/*"])

    (finding,) = event_findings(change)
    assert (
        finding.message
        == "delegated role 'Delegated' collides with 'delegated' (names differ only by case)"
    )


def test_a_hash_nobody_can_check_does_not_hide_other_mismatches() -> None:
    def change(sim: RepositorySimulator) -> None:
        sim.targets().targets[README].hashes["shake_128"] = "00"
        sim.add_target(TARGETS, "z.txt", b"z")
        sim.files["z.txt"] = b"other"
        sim.bump(TARGETS)

    assert found(event_findings(change)) == [
        (TARGETS, "targets-mismatch", ERROR),
        (TARGETS, "targets-mismatch", WAITING),
    ]


def test_extra_hashes_are_checked_against_the_file() -> None:
    def sha512(data: bytes) -> Change:
        def change(sim: RepositorySimulator) -> None:
            entry = TargetFile.from_data(README, data, ["sha256", "sha512"])
            sim.targets().targets[README].hashes["sha512"] = entry.hashes["sha512"]
            sim.bump(TARGETS)

        return change

    assert event_findings(sha512(sim_readme())) == []
    (finding,) = event_findings(sha512(b"hellO\n"))
    assert (finding.code, finding.severity) == ("targets-mismatch", WAITING)
    assert finding.message == (
        "targets lists targets/readme.txt with a different sha512 hash (run update-targets)"
    )


def sim_readme() -> bytes:
    return RepositorySimulator(NOW).files[README]


def test_a_waiting_mismatch_says_what_to_run_and_an_error_does_not() -> None:
    sim = RepositorySimulator(NOW)
    anchor = sim.store()
    sim.files["extra.txt"] = b"x"
    (event,) = judge_event(sim.event(anchor))
    assert event.message == "targets/extra.txt is not listed in targets (run update-targets)"
    repo = sim.repository(anchor)
    (main,) = judge_main(repo, repo.store, anchor, now=NOW)
    assert (main.severity, main.message) == (ERROR, "targets/extra.txt is not listed in targets")


# --- delegation changes (#95) -------------------------------------------------------------


def test_a_changed_delegation_in_root_needs_a_new_targets_version() -> None:
    def change(sim: RepositorySimulator) -> None:
        sim.root.add_key(sim.key("bob"), TARGETS)
        sim.root.roles[TARGETS].threshold = 2
        sim.bump(ROOT)

    assert found(event_findings(change)) == [(TARGETS, "delegation-not-resigned", WAITING)]


def test_every_changed_delegation_is_judged() -> None:
    def change(sim: RepositorySimulator) -> None:
        sim.root.add_key(sim.key("bob"), TARGETS)  # still verifies: alice signed, threshold 1
        sim.bump(ROOT)
        delegated = delegations_of(sim)[DELEGATED]
        delegated.threshold = 2
        sim.targets().add_key(sim.key("carol"), DELEGATED)
        sim.bump(TARGETS)  # targets re-versioned; delegated is not

    assert found(event_findings(change)) == [(DELEGATED, "delegation-not-resigned", WAITING)]


def test_a_delegation_that_still_verifies_does_not_end_the_walk() -> None:
    def second_role(sim: RepositorySimulator) -> None:
        sim.add_delegation("zz", ["bob"], paths=["zz/*"], bump=False)

    def change(sim: RepositorySimulator) -> None:
        delegations_of(sim)[DELEGATED].paths = [f"{DELEGATED}/*", f"{DELEGATED}/*/*", "more/*"]
        delegations_of(sim)["zz"].threshold = 2
        sim.targets().add_key(sim.key("carol"), "zz")
        sim.bump(TARGETS)

    assert found(event_findings(change, before=second_role)) == [
        ("zz", "delegation-not-resigned", WAITING)
    ]


def test_a_new_role_does_not_end_the_delegation_walk() -> None:
    def change(sim: RepositorySimulator) -> None:
        sim.add_delegation("new", ["carol"], paths=["new/*"], bump=False)
        put_first(sim, delegations_of(sim).pop("new"))
        delegations_of(sim)[DELEGATED].threshold = 2
        sim.targets().add_key(sim.key("carol"), DELEGATED)
        sim.bump(TARGETS)

    assert found(event_findings(change)) == [(DELEGATED, "delegation-not-resigned", WAITING)]


def test_a_key_replaced_under_its_keyid_changes_the_delegation() -> None:
    # the attack a keyid check alone reports only as "not the hash": targets' signer swapped
    def change(sim: RepositorySimulator) -> None:
        alice, mallory = sim.key("alice"), sim.key("mallory")
        sim.root.keys[alice.keyid] = SSlibKey(
            alice.keyid, mallory.keytype, mallory.scheme, mallory.keyval,
            dict(alice.unrecognized_fields),
        )  # fmt: skip
        sim.sign(ROOT, "bob", "carol")
        sim.bump(ROOT)

    assert found(event_findings(change)) == [
        (ROOT, "keyid", ERROR),
        (TARGETS, "delegation-not-resigned", WAITING),
    ]


def test_a_malformed_online_role_on_main_is_that_roles_finding() -> None:
    sim = RepositorySimulator(NOW)
    anchor = sim.store()
    sim.extra[f"metadata/{SNAPSHOT}.json"] = b"{"
    repo = sim.repository(anchor)
    (finding,) = judge_main(repo, repo.store, anchor, now=NOW)
    assert (finding.role, finding.code) == (SNAPSHOT, "malformed")
    assert finding.message.startswith("metadata/snapshot.json: ")


def test_unsafe_target_paths_say_why() -> None:
    def change(sim: RepositorySimulator) -> None:
        sim.add_target(TARGETS, "a\\b", b"x")
        sim.bump(TARGETS)

    messages = {
        f.role: f.message for f in event_findings(change) if f.code == "unsafe-target-path"
    }
    assert set(messages) == {"", TARGETS}
    assert all("'a\\\\b'" in m for m in messages.values()), messages


def test_a_changed_delegation_that_still_verifies_needs_nothing() -> None:
    def change(sim: RepositorySimulator) -> None:
        delegations_of(sim)[DELEGATED].paths = [f"{DELEGATED}/*", f"{DELEGATED}/*/*", "more/*"]
        sim.bump(TARGETS)

    assert event_findings(change) == []


def test_a_first_delegation_is_judged_like_any_other() -> None:
    def no_delegations(sim: RepositorySimulator) -> None:
        sim.remove_delegation(DELEGATED, bump=False)
        sim.files.pop(APP)

    def first(sim: RepositorySimulator) -> None:
        sim.add_delegation("releases", ["carol"])

    assert event_findings(first, before=no_delegations) == []


# --- findings add up ------------------------------------------------------------------


def test_outside_changes_and_stale_roles_add_to_other_findings() -> None:
    sim = RepositorySimulator(NOW)
    good = sim.store()
    main = sim.copy()
    main.bump(TARGETS)
    sim.bump(TARGETS)
    sim.online_sign()
    findings = judge_event(sim.event(good), changed_files=["Makefile"], main=main.store())
    assert found(findings) == [
        ("", "outside-change", WARNING),
        (SNAPSHOT, "online-role-changed", ERROR),
        (TARGETS, "stale-event", ERROR),
        (TIMESTAMP, "online-role-changed", ERROR),
    ]


@pytest.mark.parametrize(("count", "more"), [(5, False), (6, True)])
def test_outside_changes_show_five_paths(count: int, more: bool) -> None:
    (finding,) = event_findings(lambda sim: None, changed_files=[f"f{i}" for i in range(count)])
    assert finding.message.startswith(
        "the event also changes files that are not metadata or artifacts: f0, f1, f2, f3, f4"
    )
    assert ("f4 …;" in finding.message) is more


def test_an_event_without_known_good_or_targets() -> None:
    sim = RepositorySimulator(NOW)
    sim.extra |= {f"metadata/{r}.json": None for r in (TARGETS, DELEGATED, SNAPSHOT, TIMESTAMP)}
    sim.files.clear()
    assert found(judge_event(sim.event(None))) == [(TARGETS, "role-removed", ERROR)]


def test_the_first_state_of_main_may_lack_snapshot_and_timestamp() -> None:
    sim = RepositorySimulator(NOW)
    sim.extra |= {f"metadata/{SNAPSHOT}.json": None, f"metadata/{TIMESTAMP}.json": None}
    assert judge_main(sim.repository(None), None, None, now=NOW) == []


def test_a_role_file_nobody_delegates_on_main() -> None:
    sim = RepositorySimulator(NOW)
    anchor = sim.store()
    sim.extra["metadata/rogue.json"] = sim.signed_bytes(DELEGATED)
    repo = sim.repository(anchor)
    assert found(judge_main(repo, repo.store, anchor, now=NOW)) == [
        ("rogue", "not-delegated", ERROR)
    ]


# --- keys -----------------------------------------------------------------------------


def rekeyed(sim: RepositorySimulator) -> None:
    """Alice's root key under a keyid an older tool computed (not the spec hash)."""
    alice = sim.signers["alice"]
    old = SSlibKey("f" * 64, alice.public_key.keytype, alice.public_key.scheme,
                   alice.public_key.keyval, dict(alice.public_key.unrecognized_fields))  # fmt: skip
    for role in (ROOT, TARGETS):
        sim.root.revoke_key(alice.public_key.keyid, role)
        sim.root.add_key(old, role)
    sim.signers["alice (old keyid)"] = CryptoSigner(alice._private_key, old)
    sim.sign(ROOT, "alice (old keyid)", "bob", "carol")
    sim.sign(TARGETS, "alice (old keyid)")


def test_a_carried_keyid_is_a_warning_beside_other_key_findings() -> None:
    def duplicate(sim: RepositorySimulator) -> None:
        bob = sim.key("bob")
        copy = SSlibKey("e" * 64, bob.keytype, bob.scheme, bob.keyval, {})
        sim.targets().add_key(copy, DELEGATED)
        sim.bump(TARGETS)

    findings = event_findings(duplicate, before=rekeyed)
    assert found(findings) == [
        (ROOT, "keyid", WARNING),
        (TARGETS, "duplicate-key", ERROR),
        (TARGETS, "keyid", ERROR),
    ]
    carried = next(f for f in findings if f.role == ROOT)
    assert (
        carried.message == f"key {'f' * 16} (@alice): legacy keyid (carried from known good); kept"
    )


def test_an_unusable_key_does_not_stop_the_key_checks() -> None:
    sim = RepositorySimulator(NOW)
    alice = sim.key("alice")
    unusable = SSlibKey("0" * 64, "ed25519", "ed25519", {"public": "00"}, {})
    forged = SSlibKey("f" * 64, alice.keytype, alice.scheme, alice.keyval, {})
    assert [f.code for f in check_key_set(ROOT, {k.keyid: k for k in (unusable, forged)}, {})] == [
        "key-unusable",
        "keyid",
    ]


# --- root history -----------------------------------------------------------------------


def test_roots_known_good_holds_are_not_judged_again() -> None:
    # a legacy v1 under its threshold, already trusted: a new, well-signed v2 is fine
    sim = RepositorySimulator(NOW)
    sim.sign(ROOT, "alice", "bob")
    good = sim.store()
    sim.rotate_root(remove=(), add=())
    assert check_history(good, sim.store()) == []
    sim_legacy = RepositorySimulator(NOW)
    sim_legacy.sign(ROOT, "alice")  # 1 of 2: only known good makes it acceptable
    legacy_good = sim_legacy.store()
    sim_legacy.rotate_root(remove=(), add=())
    sim_legacy.sign(ROOT, "alice", "bob", "carol")
    assert check_history(legacy_good, sim_legacy.store()) == []


def history_after_legacy(first: bytes | None) -> tuple[RepositorySimulator, list[Finding]]:
    """v1 replaced by ``first`` (None: v1 under its threshold), v2 fine, v3 not signed by v2."""
    sim = RepositorySimulator(NOW)
    if first is None:
        sim.sign(ROOT, "alice")
    sim.files_by_path()
    sim.rotate_root(remove=(), add=())
    sim.sign(ROOT, "alice", "bob", "carol")
    sim.files_by_path()
    sim.rotate_root(remove=("alice", "bob", "carol"), add=("dave", "erin"))
    sim.sign(ROOT, "alice", "dave")  # under v2's threshold and under its own
    store = sim.store()
    if first is not None:
        store.write("metadata/root_history/1.root.json", first)
    return sim, check_history(None, store)


@pytest.mark.parametrize("first", [b"{}", None], ids=["unparsable-v1", "unverifiable-v1"])
def test_legacy_history_does_not_end_the_walk(first: bytes | None) -> None:
    _, findings = history_after_legacy(first)
    assert found(findings) == [(ROOT, "legacy-root", WARNING), (ROOT, "root-chain", ERROR)]


def test_the_chain_start_goes_on_after_an_unparsable_root() -> None:
    sim = RepositorySimulator(NOW)
    for _ in range(2):
        sim.files_by_path()
        sim.rotate_root(remove=(), add=())
    sim.files_by_path()
    sim.rotate_root(remove=("alice", "bob", "carol"), add=("dave", "erin"))
    sim.sign(ROOT, "dave", "erin")  # v4 stands on its own
    store = sim.store()
    store.write("metadata/root_history/2.root.json", b"{")
    assert chain_start(store) == 4


@pytest.mark.parametrize(
    ("present", "shown"),
    [
        ([*range(1, 20), 30], ", ".join(map(str, [*range(1, 20), 30]))),
        ([*range(1, 21), 30], ", ".join(map(str, range(1, 21))) + " …"),
    ],
)
def test_a_long_gap_list_is_cut_after_twenty(present: list[int], shown: str) -> None:
    sim = RepositorySimulator(NOW)
    store = sim.store()
    top = store.read("metadata/root.json") or b""
    for version in present:
        store.write(f"metadata/root_history/{version}.root.json", top)
    (finding,) = check_history(None, store)
    assert finding.message == f"root_history must hold versions 1..1, found {shown}"


def test_a_malformed_root_names_its_file() -> None:
    store = RepositorySimulator(NOW).store()
    store.write("metadata/root.json", b"{")
    (finding,) = check_history(None, store)
    assert finding.message.startswith("metadata/root.json: ")
    store = RepositorySimulator(NOW).store()
    store.write("metadata/root_history/1.root.json", b"{")
    store.write("metadata/root.json", b"{")
    (finding,) = check_history(None, store)
    assert finding.message.startswith("metadata/root.json: ")
