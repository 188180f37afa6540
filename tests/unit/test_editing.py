"""``tufrepo.ops.editing``: the changes ``init`` and ``delegate`` make on a signing event.

Every edit is checked twice: for what it wrote (keys, thresholds, periods,
invitations, versions) and by the checks themselves, which must find nothing
wrong with the result (an edit never produces an event the checks reject).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from securesystemslib.signer import Key
from simulator import APP, DELEGATED, ONLINE_KEY_URI, RepositorySimulator, new_signer
from tuf.api.metadata import Root, Targets

from tufrepo.checks import errors, judge_event
from tufrepo.core import fields
from tufrepo.core.constants import (
    EVENT_STATE_FILE,
    EXPIRY_PERIOD,
    ROOT,
    SIGNING_PERIOD,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
)
from tufrepo.core.store import OverlayStore
from tufrepo.errors import RejectedError, UsageError
from tufrepo.ops.editing import (
    RoleChange,
    accept_invites,
    configure_role,
    default_paths,
    init_repository,
    needs_user_key,
    remove_delegation,
)
from tufrepo.ops.event import SigningEvent

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
ALICE_KEY = new_signer("editing alice").public_key  # as enrolled: no custom fields yet
ERIN_KEY = new_signer("editing erin").public_key
ONLINE_KEY = fields.online_key(new_signer("editing online").public_key, ONLINE_KEY_URI)


def root_of(event: SigningEvent) -> Root:
    root = event.repo.root_or_none()
    assert root is not None
    return root


def targets_of(event: SigningEvent, role: str = TARGETS) -> Targets:
    md = event.repo.read(role)
    assert md is not None
    assert isinstance(md.signed, Targets)
    return md.signed


def owners(keys: dict[str, Key], keyids: list[str]) -> list[str]:
    return sorted(fields.key_label(keys[k]) for k in keyids)


def overlay(event: SigningEvent) -> OverlayStore:
    assert isinstance(event.store, OverlayStore)
    return event.store


def no_errors(event: SigningEvent) -> None:
    assert errors(judge_event(event)) == []


@pytest.fixture
def sim() -> RepositorySimulator:
    return RepositorySimulator(NOW)


@pytest.fixture
def event(sim: RepositorySimulator) -> SigningEvent:
    """An event on the simulator's repository, nothing changed yet."""
    return sim.event(sim.store())


def test_default_paths_cover_four_levels() -> None:
    assert default_paths("r") == ["r/*", "r/*/*", "r/*/*/*", "r/*/*/*/*"]


# --- init ---------------------------------------------------------------------------


def new_event() -> SigningEvent:
    return SigningEvent(OverlayStore(), None, now=NOW)


def test_init_creates_root_and_targets_v1_held_by_the_user() -> None:
    event = new_event()
    result = init_repository(
        event, {TIMESTAMP: RoleChange(online_key=ONLINE_KEY)}, user="@alice", user_key=ALICE_KEY
    )
    assert result.changed == [ROOT, TARGETS]
    assert result.invited == {}
    root = root_of(event)
    assert root.version == 1
    assert root.consistent_snapshot
    for role in (ROOT, TARGETS):
        assert owners(root.keys, root.roles[role].keyids) == ["@alice"]
        assert root.roles[role].threshold == 1
    for role in (SNAPSHOT, TIMESTAMP):
        assert root.roles[role].keyids == [ONLINE_KEY.keyid]
    assert fields.get_periods(root, TIMESTAMP, None) == fields.Periods(2, 1)
    assert fields.get_periods(root, SNAPSHOT, None) == fields.Periods(365, 60)
    assert fields.get_periods(root, ROOT, root) == fields.Periods(365, 60)
    assert fields.get_periods(root, TARGETS, targets_of(event)) == fields.Periods(365, 60)
    assert event.store.read(EVENT_STATE_FILE) is None
    assert sorted(overlay(event).effective_changes()) == [
        "metadata/root.json",
        "metadata/root_history/1.root.json",
        "metadata/targets.json",
    ]
    no_errors(event)


def test_init_invites_signers_without_keys_and_takes_settings() -> None:
    event = new_event()
    changes = {
        ROOT: RoleChange(signers=["@alice", "bob"], threshold=2, expiry=200, signing_period=20),
        TARGETS: RoleChange(signers=["@carol"], expiry=90, signing_period=9),
        TIMESTAMP: RoleChange(online_key=ONLINE_KEY, expiry=3, signing_period=2),
    }
    result = init_repository(event, changes, user="@alice", user_key=ALICE_KEY)
    assert result.invited == {"@bob": [ROOT], "@carol": [TARGETS]}
    assert event.invites.by_handle == {"@bob": [ROOT], "@carol": [TARGETS]}
    assert event.store.read(EVENT_STATE_FILE) == (
        b'{\n "invites": {\n  "@bob": [\n   "root"\n  ],\n  "@carol": [\n   "targets"\n  ]\n }\n}\n'
    )
    root = root_of(event)
    assert owners(root.keys, root.roles[ROOT].keyids) == ["@alice"]
    assert root.roles[ROOT].threshold == 2
    assert root.roles[TARGETS].keyids == []
    assert fields.get_periods(root, ROOT, root) == fields.Periods(200, 20)
    assert fields.get_periods(root, TIMESTAMP, None) == fields.Periods(3, 2)
    assert fields.get_periods(root, TARGETS, targets_of(event)) == fields.Periods(90, 9)
    assert root.expires == NOW + timedelta(days=200)
    assert targets_of(event).expires == NOW + timedelta(days=90)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({}, "an online key is required"),
        ({ROOT: RoleChange(threshold=2)}, "threshold 2 for root must be between 1 and the number of signers (1)"),
        ({ROOT: RoleChange(threshold=0)}, "threshold 0 for root must be between 1"),
        ({ROOT: RoleChange(expiry=10, signing_period=10)}, "root: signing period 10 must be at least 1 and shorter than the expiry period 10"),
        ({TARGETS: RoleChange(expiry=0)}, "targets: signing period 60 must be at least 1 and shorter than the expiry period 0"),
        ({SNAPSHOT: RoleChange(signing_period=0)}, "snapshot: signing period 0 must be"),
    ],
)  # fmt: skip
def test_init_refuses_bad_settings(changes: dict[str, RoleChange], error: str) -> None:
    if error != "an online key is required":
        changes = {TIMESTAMP: RoleChange(online_key=ONLINE_KEY), **changes}
    with pytest.raises(UsageError) as caught:
        init_repository(new_event(), changes, user="@alice", user_key=ALICE_KEY)
    assert str(caught.value).startswith(error)


def test_init_refuses_an_existing_repository(event: SigningEvent) -> None:
    with pytest.raises(RejectedError, match="already initialised"):
        init_repository(
            event, {TIMESTAMP: RoleChange(online_key=ONLINE_KEY)}, user="@alice", user_key=None
        )


def test_init_without_the_users_key_invites_the_user() -> None:
    event = new_event()
    result = init_repository(
        event, {TIMESTAMP: RoleChange(online_key=ONLINE_KEY)}, user="@alice", user_key=None
    )
    assert result.invited == {"@alice": [ROOT, TARGETS]}
    assert needs_user_key(event, {ROOT: RoleChange(signers=["@alice"])}, "@alice")


# --- delegate: top-level roles ------------------------------------------------------------


def test_changing_targets_signers_gives_targets_a_new_version(event: SigningEvent) -> None:
    result = configure_role(
        event, TARGETS, RoleChange(signers=["@bob"]), user="@alice", user_key=None
    )
    assert result.changed == [ROOT, TARGETS]
    root = root_of(event)
    assert owners(root.keys, root.roles[TARGETS].keyids) == ["@bob"]
    assert root.version == 2
    assert targets_of(event).version == 2  # #95: bob signs a new version
    assert event.invites.by_handle == {}
    no_errors(event)


def test_a_threshold_above_the_signers_is_refused(event: SigningEvent) -> None:
    with pytest.raises(UsageError, match=r"threshold 4 for root .* \(3\)"):
        configure_role(event, ROOT, RoleChange(threshold=4), user="@alice", user_key=None)
    result = configure_role(event, ROOT, RoleChange(threshold=3), user="@alice", user_key=None)
    assert result.changed == [ROOT]
    assert root_of(event).roles[ROOT].threshold == 3
    no_errors(event)


def test_root_periods_change_alone(event: SigningEvent) -> None:
    result = configure_role(
        event, ROOT, RoleChange(expiry=100, signing_period=10), user="@alice", user_key=None
    )
    assert result.changed == [ROOT]
    root = root_of(event)
    assert root.unrecognized_fields[EXPIRY_PERIOD] == 100
    assert root.unrecognized_fields[SIGNING_PERIOD] == 10
    no_errors(event)


def test_targets_periods_change_without_a_new_delegation(event: SigningEvent) -> None:
    result = configure_role(event, TARGETS, RoleChange(expiry=100), user="@alice", user_key=None)
    assert result.changed == [TARGETS]
    assert fields.get_periods(None, TARGETS, targets_of(event)) == fields.Periods(100, 60)
    no_errors(event)


def test_nothing_to_change_changes_nothing(event: SigningEvent) -> None:
    result = configure_role(event, TARGETS, RoleChange(), user="@alice", user_key=None)
    assert result.changed == []
    assert overlay(event).effective_changes() == {}


@pytest.mark.parametrize(
    "change",
    [RoleChange(paths=["x/*"]), RoleChange(terminating=True), RoleChange(online_key=ONLINE_KEY)],
)
def test_delegation_options_do_not_apply_to_top_level_roles(
    event: SigningEvent, change: RoleChange
) -> None:
    with pytest.raises(UsageError, match="do not apply to root"):
        configure_role(event, ROOT, change, user="@alice", user_key=None)


def test_online_roles_take_periods_and_an_online_key(event: SigningEvent) -> None:
    new_online = fields.online_key(new_signer("editing online 2").public_key, "gcpkms:k")
    result = configure_role(
        event, TIMESTAMP, RoleChange(expiry=7, online_key=new_online), user="@a", user_key=None
    )
    assert result.changed == [ROOT]
    root = root_of(event)
    assert fields.get_periods(root, TIMESTAMP, None) == fields.Periods(7, 1)
    assert root.roles[TIMESTAMP].keyids == root.roles[SNAPSHOT].keyids == [new_online.keyid]
    no_errors(event)
    with pytest.raises(UsageError, match="timestamp is signed online"):
        configure_role(event, TIMESTAMP, RoleChange(signers=["@a"]), user="@a", user_key=None)


def test_online_roles_without_a_change_change_nothing(event: SigningEvent) -> None:
    assert configure_role(event, SNAPSHOT, RoleChange(), user="@a", user_key=None).changed == []


def test_delegate_needs_a_repository() -> None:
    with pytest.raises(RejectedError, match="no TUF repository on this event yet"):
        configure_role(new_event(), TARGETS, RoleChange(), user="@a", user_key=None)


# --- delegate: delegated roles --------------------------------------------------------


def test_a_new_delegation_uses_known_keys_and_default_paths(event: SigningEvent) -> None:
    result = configure_role(
        event, "releases", RoleChange(signers=["@carol", "@bob"]), user="@alice", user_key=None
    )
    assert result.changed == [TARGETS, "releases"]
    assert result.invited == {}
    targets = targets_of(event)
    assert targets.delegations is not None
    assert targets.delegations.roles is not None
    role = targets.delegations.roles["releases"]
    assert owners(targets.delegations.keys, role.keyids) == ["@bob", "@carol"]
    assert role.threshold == 1
    assert role.terminating
    assert role.paths == default_paths("releases")
    releases = targets_of(event, "releases")
    assert releases.version == 1
    assert fields.get_periods(None, "releases", releases) == fields.Periods(365, 60)
    no_errors(event)


def test_a_new_delegation_defaults_to_the_user(event: SigningEvent) -> None:
    result = configure_role(event, "mine", RoleChange(), user="@erin", user_key=ERIN_KEY)
    targets = targets_of(event)
    assert targets.delegations is not None
    assert targets.delegations.roles is not None
    keyids = targets.delegations.roles["mine"].keyids
    assert owners(targets.delegations.keys, keyids) == ["@erin"]
    assert result.invited == {}
    # without a key the user is invited instead
    other = configure_role(event, "theirs", RoleChange(), user="@frank", user_key=None)
    assert other.invited == {"@frank": ["theirs"]}
    assert event.invites.handles_for("theirs") == ["@frank"]


def test_changing_a_delegation_gives_the_role_a_new_version(event: SigningEvent) -> None:
    result = configure_role(
        event,
        DELEGATED,
        RoleChange(signers=["@bob", "@carol"], threshold=2, paths=["delegated/sub/*"]),
        user="@alice",
        user_key=None,
    )
    assert result.changed == [TARGETS, DELEGATED]
    assert targets_of(event, DELEGATED).version == 2  # #95
    assert APP in targets_of(event, DELEGATED).targets
    no_errors(event)


def test_a_delegated_threshold_alone(event: SigningEvent) -> None:
    with pytest.raises(UsageError, match="threshold 2 for delegated"):
        configure_role(event, DELEGATED, RoleChange(threshold=2), user="@a", user_key=None)
    result = configure_role(
        event, DELEGATED, RoleChange(terminating=False), user="@a", user_key=None
    )
    assert result.changed == [TARGETS, DELEGATED]
    assert targets_of(event, DELEGATED).version == 2


def test_a_delegated_role_can_be_signed_online(event: SigningEvent) -> None:
    configure_role(event, "bot", RoleChange(online_key=ONLINE_KEY), user="@a", user_key=None)
    targets = targets_of(event)
    assert targets.delegations is not None
    assert targets.delegations.roles is not None
    assert targets.delegations.roles["bot"].keyids == [ONLINE_KEY.keyid]
    with pytest.raises(UsageError, match="either --online-key or --signer"):
        configure_role(
            event,
            "bot",
            RoleChange(online_key=ONLINE_KEY, signers=["@a"]),
            user="@a",
            user_key=None,
        )


@pytest.mark.parametrize("name", ["../evil", ".hidden", "a/b", "", "a" * 101, "x."])
def test_role_names_that_cannot_be_files_are_refused(event: SigningEvent, name: str) -> None:
    with pytest.raises(UsageError, match="is not a valid role name"):
        configure_role(event, name, RoleChange(), user="@a", user_key=None)


@pytest.mark.parametrize("name", ["Root", DELEGATED.upper()])
def test_role_names_that_collide_by_case_are_refused(event: SigningEvent, name: str) -> None:
    with pytest.raises(UsageError, match="only by case"):
        configure_role(event, name, RoleChange(), user="@alice", user_key=ALICE_KEY)


def test_periods_of_a_delegated_role(event: SigningEvent) -> None:
    with pytest.raises(UsageError, match="delegated: signing period 60 must be"):
        configure_role(event, DELEGATED, RoleChange(expiry=30), user="@a", user_key=None)
    configure_role(
        event, DELEGATED, RoleChange(expiry=30, signing_period=5), user="@a", user_key=None
    )
    assert fields.get_periods(None, DELEGATED, targets_of(event, DELEGATED)) == fields.Periods(
        30, 5
    )
    no_errors(event)


# --- remove -----------------------------------------------------------------------------


def test_removing_a_delegation_removes_its_keys_and_file(
    sim: RepositorySimulator, event: SigningEvent
) -> None:
    assert remove_delegation(event, DELEGATED).changed == [TARGETS, DELEGATED]
    assert targets_of(event).delegations is None
    assert event.store.read(f"metadata/{DELEGATED}.json") is None
    assert targets_of(event).version == 2
    event.store.delete(f"targets/{APP}")
    no_errors(event)


@pytest.mark.parametrize(
    ("role", "error"),
    [(TARGETS, "targets is a top-level role"), ("ghost", "there is no delegation 'ghost'")],
)
def test_removing_what_is_not_a_delegation_is_refused(
    event: SigningEvent, role: str, error: str
) -> None:
    with pytest.raises(UsageError, match=error):
        remove_delegation(event, role)


# --- invitations ------------------------------------------------------------------------


def test_an_accepted_invitation_enrols_the_key_and_asks_for_a_signature(
    event: SigningEvent,
) -> None:
    configure_role(event, DELEGATED, RoleChange(signers=["@bob", "@erin"], threshold=2),
                   user="@alice", user_key=None)  # fmt: skip
    assert event.invites.by_handle == {"@erin": [DELEGATED]}
    assert needs_user_key(event, {DELEGATED: RoleChange(signers=["@erin"])}, "@erin")
    assert not needs_user_key(event, {DELEGATED: RoleChange(signers=["@bob"])}, "@bob")
    version = targets_of(event, DELEGATED).version
    assert accept_invites(event, "@erin", ERIN_KEY) == [DELEGATED]
    assert event.invites.by_handle == {}
    assert event.store.read(EVENT_STATE_FILE) is None
    targets = targets_of(event)
    assert targets.delegations is not None
    assert targets.delegations.roles is not None
    keyids = targets.delegations.roles[DELEGATED].keyids
    assert owners(targets.delegations.keys, keyids) == ["@bob", "@erin"]
    assert targets_of(event, DELEGATED).version == version  # already new in this event
    assert event.roles_needing_signature("@erin") == [DELEGATED]  # targets is alice's
    no_errors(event)


def test_an_accepted_root_invitation(event: SigningEvent) -> None:
    configure_role(
        event, TARGETS, RoleChange(signers=["@alice", "@erin"]), user="@a", user_key=None
    )
    assert accept_invites(event, "@erin", ERIN_KEY) == [TARGETS]
    root = root_of(event)
    assert owners(root.keys, root.roles[TARGETS].keyids) == ["@alice", "@erin"]
    no_errors(event)
    assert accept_invites(event, "@nobody", ERIN_KEY) == []
