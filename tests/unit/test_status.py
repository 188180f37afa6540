"""``tufrepo.ops.status``: who signed, who is missing, and whether an event is ready."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from securesystemslib.signer import Signature, SigstoreKey
from simulator import APP, DELEGATED, README, RepositorySimulator
from tuf.api.metadata import Metadata, Targets

from tufrepo.checks import Finding, Severity
from tufrepo.core.constants import ROOT, TARGETS
from tufrepo.ops.event import SigningEvent
from tufrepo.ops.status import (
    Change,
    DelegationChange,
    EventState,
    EventStatus,
    RoleStatus,
    Signers,
    TargetChange,
    count_signers,
    delegation_changes,
    event_status,
    target_changes,
)

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def sim() -> RepositorySimulator:
    return RepositorySimulator(NOW)


def status_of(sim: RepositorySimulator, good: object) -> EventStatus:
    event = sim.event(good)  # type: ignore[arg-type]
    return event_status(event)


def roles(status: EventStatus) -> dict[str, RoleStatus]:
    return {r.role: r for r in status.roles}


def new_artifact(sim: RepositorySimulator) -> None:
    sim.add_target(TARGETS, "new.txt", b"new\n")
    sim.bump(TARGETS)


# --- count_signers ------------------------------------------------------------------


def test_signers_are_counted_by_their_owners(sim: RepositorySimulator) -> None:
    md = Metadata.from_bytes(sim.signed_bytes(ROOT))
    signers = count_signers(sim.root, ROOT, md)
    assert signers == Signers(2, ["@alice", "@bob", "@carol"], [], [], sigstore_only=False)
    assert signers.ok
    sim.sign(ROOT, "alice")
    md = Metadata.from_bytes(sim.signed_bytes(ROOT))
    signers = count_signers(sim.root, ROOT, md)
    assert (signers.signed, signers.missing, signers.invalid) == (
        ["@alice"],
        ["@bob", "@carol"],
        [],
    )
    assert not signers.ok
    assert signers.to_dict() == {
        "threshold": 2,
        "signed": ["@alice"],
        "missing": ["@bob", "@carol"],
        "invalid": [],
    }


def test_a_signature_that_does_not_verify_is_named_invalid(sim: RepositorySimulator) -> None:
    sim.sign(ROOT, "alice", "bob")
    md = Metadata.from_bytes(sim.signed_bytes(ROOT))
    bob = sim.key("bob").keyid
    md.signatures[bob] = Signature(bob, md.signatures[sim.key("alice").keyid].signature)
    carol = sim.key("carol").keyid
    md.signatures[carol] = Signature(carol, "")  # a placeholder is missing, not invalid
    signers = count_signers(sim.root, ROOT, md)
    assert (signers.signed, signers.missing, signers.invalid) == (
        ["@alice"],
        ["@bob", "@carol"],
        ["@bob"],
    )


def test_a_threshold_only_sigstore_keys_can_meet_is_flagged(sim: RepositorySimulator) -> None:
    sigstore = SigstoreKey(
        "s" * 64, "sigstore-oidc", "Fulcio", {"identity": "a@example.com", "issuer": "https://x"}
    )
    sim.root.add_key(sigstore, TARGETS)
    sim.root.roles[TARGETS].threshold = 2
    md = Metadata.from_bytes(sim.signed_bytes(TARGETS))
    assert count_signers(sim.root, TARGETS, md).sigstore_only
    sim.root.roles[TARGETS].threshold = 1
    assert not count_signers(sim.root, TARGETS, md).sigstore_only


# --- event_status -------------------------------------------------------------------


def test_a_fully_signed_event_is_ready(sim: RepositorySimulator) -> None:
    good = sim.store()
    new_artifact(sim)
    status = status_of(sim, good)
    assert status.state is EventState.READY
    (targets,) = status.roles
    assert (targets.role, targets.version, targets.known_good_version) == (TARGETS, 2, 1)
    assert targets.signed
    assert targets.ready
    assert targets.target_changes == [TargetChange("new.txt", Change.ADDED)]
    assert status.errors == []
    assert status.warnings == []


def test_a_missing_signature_makes_the_event_wait(sim: RepositorySimulator) -> None:
    good = sim.store()
    new_artifact(sim)
    sim.sign(TARGETS)
    status = status_of(sim, good)
    assert status.state is EventState.WAITING
    targets = roles(status)[TARGETS]
    assert targets.signers is not None
    assert (targets.signers.signed, targets.signers.missing) == ([], ["@alice"])
    assert not targets.signed
    assert not targets.ready


def test_an_event_without_changes_is_empty(sim: RepositorySimulator) -> None:
    good = sim.store()
    assert status_of(sim, good).state is EventState.EMPTY


def test_an_error_makes_the_event_invalid(sim: RepositorySimulator) -> None:
    good = sim.store()
    sim.online_sign()
    status = status_of(sim, good)
    assert status.state is EventState.INVALID
    assert {f.code for f in status.errors} == {"online-role-changed"}
    assert status.roles == []  # snapshot and timestamp are not signed in an event


def test_waiting_findings_make_the_event_wait_even_when_signed(sim: RepositorySimulator) -> None:
    good = sim.store()
    sim.files["extra.txt"] = b"x"  # update-targets has not run yet
    status = status_of(sim, good)
    assert status.roles == []
    assert status.state is EventState.WAITING
    sim.files.pop("extra.txt")
    new_artifact(sim)
    sim.files["extra.txt"] = b"x"
    status = status_of(sim, good)
    assert roles(status)[TARGETS].signed
    assert not roles(status)[TARGETS].ready
    assert status.state is EventState.WAITING


def test_root_needs_both_the_old_and_the_new_threshold(sim: RepositorySimulator) -> None:
    good = sim.store()
    sim.rotate_root(remove=("carol",), add=("dave",))
    sim.sign(ROOT, "alice", "dave")  # new root: 2 of alice, bob, dave; old: 1 of 2
    root = roles(status_of(sim, good))[ROOT]
    assert root.signers is not None
    assert root.known_good_signers is not None
    assert (root.signers.signed, root.signers.ok) == (["@alice", "@dave"], True)
    assert (root.known_good_signers.signed, root.known_good_signers.ok) == (["@alice"], False)
    assert not root.signed
    sim.sign(ROOT, "alice", "bob")
    assert roles(status_of(sim, good))[ROOT].signed


def test_a_delegated_role_waits_for_its_delegator(sim: RepositorySimulator) -> None:
    good = sim.store()
    sim.add_delegation("releases", ["carol"])
    sim.sign(TARGETS)  # targets, which now lists carol's key, is not signed yet
    status = status_of(sim, good)
    by_role = roles(status)
    assert list(by_role) == [TARGETS, "releases"]
    assert by_role["releases"].signed
    assert by_role["releases"].blocked_by == TARGETS
    assert not by_role["releases"].ready
    assert by_role[TARGETS].blocked_by is None
    assert status.state is EventState.WAITING
    sim.sign(TARGETS, "alice")
    status = status_of(sim, good)
    assert roles(status)["releases"].blocked_by is None
    assert status.state is EventState.READY


def test_an_open_invitation_keeps_the_delegator_waiting(sim: RepositorySimulator) -> None:
    good = sim.store()
    event = sim.event(good)
    event.invites.add("@erin", DELEGATED)
    event.save_invites()
    event = SigningEvent(event.store, good, now=NOW)
    status = event_status(event)
    targets = roles(status)[TARGETS]
    assert targets.invites == ["@erin"]
    assert targets.signed
    assert not targets.ready
    assert status.state is EventState.WAITING


def test_a_removed_role_needs_no_signature(sim: RepositorySimulator) -> None:
    good = sim.store()
    sim.remove_delegation(DELEGATED)
    sim.files.pop(APP)
    status = status_of(sim, good)
    removed = roles(status)[DELEGATED]
    assert removed.removed
    assert removed.signed
    assert (removed.version, removed.known_good_version) == (None, 1)
    assert status.state is EventState.READY


def test_role_status_reports_periods_and_expiry(sim: RepositorySimulator) -> None:
    good = sim.store()
    sim.targets().unrecognized_fields["x-tuf-on-ci-expiry-period"] = 100
    sim.bump(TARGETS)
    targets = roles(status_of(sim, good))[TARGETS]
    assert targets.periods is not None
    assert targets.known_good_periods is not None
    assert (targets.periods.expiry, targets.known_good_periods.expiry) == (100, 365)
    assert targets.expires == sim.targets().expires
    assert targets.known_good_expires is not None
    assert targets.expires is not None
    assert targets.known_good_expires > targets.expires


def test_warnings_name_sigstore_only_thresholds_and_warning_findings() -> None:
    only = Signers(1, [], ["x"], sigstore_only=True)
    role = RoleStatus("releases", 1, None, None, None, None, None, only, None)
    warning = Finding("targets", "stray-signature", "a stray", Severity.WARNING)
    status = EventStatus([role], [warning])
    assert status.warnings == [
        (
            "releases: its threshold can only be met with Sigstore signatures, which tuf-js "
            "and most non-Python TUF clients cannot verify"
        ),
        "targets: a stray",
    ]
    assert status.errors == []


# --- what changed ---------------------------------------------------------------------


def test_target_changes_are_added_removed_and_modified(sim: RepositorySimulator) -> None:
    before = Metadata.from_bytes(sim.signed_bytes(DELEGATED))
    sim.add_target(DELEGATED, "delegated/new.txt", b"n")
    sim.add_target(DELEGATED, APP, b"changed")
    sim.targets(DELEGATED).targets["delegated/x.txt"] = sim.targets(DELEGATED).targets.pop(
        "delegated/new.txt"
    )
    after = Metadata.from_bytes(sim.signed_bytes(DELEGATED))
    assert target_changes(before, after) == [
        TargetChange(APP, Change.MODIFIED),
        TargetChange("delegated/x.txt", Change.ADDED),
    ]
    assert target_changes(after, before) == [
        TargetChange(APP, Change.MODIFIED),
        TargetChange("delegated/x.txt", Change.REMOVED),
    ]
    assert target_changes(None, before) == [TargetChange(APP, Change.ADDED)]
    assert target_changes(before, Metadata.from_bytes(sim.signed_bytes(ROOT))) == []


def test_unchanged_targets_have_no_changes(sim: RepositorySimulator) -> None:
    md = Metadata[Targets].from_bytes(sim.signed_bytes(TARGETS))
    assert README in md.signed.targets
    assert target_changes(md, md) == []


def test_delegation_changes_name_signers_and_thresholds(sim: RepositorySimulator) -> None:
    before = Metadata[Targets].from_bytes(sim.signed_bytes(TARGETS))
    sim.add_delegation("releases", ["carol", "dave"], threshold=2)
    delegations = sim.targets().delegations
    assert delegations is not None
    assert delegations.roles is not None
    delegations.roles[DELEGATED].threshold = 1
    delegations.roles[DELEGATED].paths = ["delegated/*"]
    after = Metadata[Targets].from_bytes(sim.signed_bytes(TARGETS))
    assert delegation_changes(before, after) == [
        DelegationChange(DELEGATED, Change.MODIFIED, ["@bob"], 1, ["@bob"], 1),
        DelegationChange("releases", Change.ADDED, ["@carol", "@dave"], 2, [], None),
    ]
    assert delegation_changes(after, before)[1] == DelegationChange(
        "releases", Change.REMOVED, [], None, ["@carol", "@dave"], 2
    )
    assert delegation_changes(after, after) == []


def test_root_delegation_changes(sim: RepositorySimulator) -> None:
    before = Metadata.from_bytes(sim.signed_bytes(ROOT))
    sim.rotate_root(remove=("carol",), add=("dave",))
    after = Metadata.from_bytes(sim.signed_bytes(ROOT))
    assert delegation_changes(before, after) == [
        DelegationChange(ROOT, Change.MODIFIED, ["@alice", "@bob", "@dave"], 2,
                         ["@alice", "@bob", "@carol"], 2),
    ]  # fmt: skip
    assert [c.role for c in delegation_changes(None, after)] == [
        ROOT, "snapshot", "targets", "timestamp",
    ]  # fmt: skip
