"""``tufrepo.core.fields``: periods, signer handles and spec keyids."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from securesystemslib.signer import SSlibKey
from simulator import ONLINE, ONLINE_KEY_URI, RepositorySimulator, new_signer
from tuf.api.metadata import Targets

from tufrepo.core import fields
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
from tufrepo.core.fields import Periods
from tufrepo.errors import MetadataError, UsageError

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


# --- handles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("@octocat", "@octocat"),
        ("octocat", "@octocat"),
        ("  @OctoCat ", "@octocat"),
        ("@a", "@a"),
        ("@a-b-1", "@a-b-1"),
        ("@" + "a" * 39, "@" + "a" * 39),
    ],
)
def test_handles_are_normalised(given: str, normal: str) -> None:
    assert fields.normalize_handle(given) == normal


@pytest.mark.parametrize(
    "bad", ["", "@", "@-a", "@a_b", "@a b", "@" + "a" * 40, "@@a", "@a\nb", "@é"]
)
def test_invalid_handles_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="is not a valid signer handle") as caught:
        fields.normalize_handle(bad)
    assert caught.value.hint == "use a GitHub user name such as @octocat"


# --- periods ------------------------------------------------------------------------


def test_periods_of_offline_roles_live_in_their_metadata() -> None:
    sim = RepositorySimulator(NOW)
    targets = sim.targets()
    assert fields.get_periods(sim.root, TARGETS, targets) == Periods(365, 60)
    fields.set_periods(sim.root, TARGETS, targets, Periods(100, 10))
    assert targets.unrecognized_fields[EXPIRY_PERIOD] == 100
    assert targets.unrecognized_fields[SIGNING_PERIOD] == 10
    assert fields.get_periods(None, TARGETS, targets) == Periods(100, 10)
    assert fields.get_periods(sim.root, ROOT, sim.root) == Periods(365, 60)


def test_periods_of_online_roles_live_in_roots_role_entries() -> None:
    sim = RepositorySimulator(NOW)
    assert fields.get_periods(sim.root, TIMESTAMP, None) == Periods(2, 1)
    assert fields.get_periods(sim.root, SNAPSHOT, None) == Periods(365, 60)
    fields.set_periods(sim.root, TIMESTAMP, None, Periods(7, 3))
    assert sim.root.roles[TIMESTAMP].unrecognized_fields == {
        EXPIRY_PERIOD: 7,
        SIGNING_PERIOD: 3,
    }
    assert fields.get_periods(sim.root, ROOT, sim.root) == Periods(365, 60)  # root's own
    with pytest.raises(MetadataError, match="no root to read the timestamp periods from"):
        fields.get_periods(None, TIMESTAMP, None)
    with pytest.raises(MetadataError, match="no metadata to read the targets periods from"):
        fields.get_periods(sim.root, TARGETS, None)


@pytest.mark.parametrize(
    ("role", "stored", "periods"),
    [
        (TARGETS, {}, Periods(365, 182)),  # default expiry, half of it to sign
        ("releases", {}, Periods(365, 182)),
        (TARGETS, {EXPIRY_PERIOD: 30}, Periods(30, 15)),
        (TARGETS, {EXPIRY_PERIOD: 1}, Periods(1, 0)),  # the checks refuse a 0 signing period
        (TARGETS, {SIGNING_PERIOD: 7}, Periods(365, 7)),
        (TARGETS, {EXPIRY_PERIOD: 3660, SIGNING_PERIOD: 3660}, Periods(3660, 3660)),
    ],
)
def test_missing_periods_fall_back_like_tuf_on_ci(
    role: str, stored: dict[str, int], periods: Periods
) -> None:
    assert fields.get_periods(None, role, Targets(unrecognized_fields=dict(stored))) == periods


def test_online_roles_fall_back_to_their_defaults() -> None:
    sim = RepositorySimulator(NOW)
    sim.root.roles[TIMESTAMP].unrecognized_fields.clear()
    assert fields.get_periods(sim.root, TIMESTAMP, None) == Periods(2, 1)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (-1, "-1"),
        (3661, "3661"),
        (1.5, "1.5"),
        ("365", '"365"'),
        (True, "true"),
        (None, "null"),
        ([1], "[1]"),
        (10**30, "1e+30"),
        (10**400, "a number over 1e+300"),
        ("x" * 100, '"' + "x" * 39 + "…"),
    ],
)
def test_a_period_out_of_bounds_names_role_field_and_value(value: object, shown: str) -> None:
    targets = Targets(unrecognized_fields={EXPIRY_PERIOD: value})
    with pytest.raises(MetadataError) as caught:
        fields.get_periods(None, TARGETS, targets)
    assert str(caught.value) == (
        f"targets: {EXPIRY_PERIOD} must be a whole number of days between 1 and 3660, "
        f"found {shown}"
    )
    signing = Targets(unrecognized_fields={EXPIRY_PERIOD: 30, SIGNING_PERIOD: value})
    with pytest.raises(MetadataError, match=f"targets: {SIGNING_PERIOD} must be"):
        fields.get_periods(None, TARGETS, signing)


# --- keys ---------------------------------------------------------------------------


def test_keyowner_and_online_uri_are_read_from_custom_fields() -> None:
    sim = RepositorySimulator(NOW)
    alice, online = sim.key("alice"), sim.key(ONLINE)
    assert fields.keyowner(alice) == "@alice"
    assert fields.online_uri(alice) is None
    assert fields.keyowner(online) is None
    assert fields.online_uri(online) == ONLINE_KEY_URI
    assert fields.key_label(alice) == "@alice"
    assert fields.key_label(online) == "online key (file2)"
    plain = new_signer("plain").public_key
    assert fields.key_label(plain) == f"key {plain.keyid[:8]}"
    odd = SSlibKey(plain.keyid, plain.keytype, plain.scheme, plain.keyval, {KEYOWNER: 7})
    assert fields.keyowner(odd) is None
    odd.unrecognized_fields = {ONLINE_URI: ["x"]}
    assert fields.online_uri(odd) is None


def test_spec_keyid_is_the_hash_of_the_canonical_key_with_custom_fields() -> None:
    key = new_signer("spec", **{KEYOWNER: "@alice"}).public_key
    canonical = json.dumps(key.to_dict(), sort_keys=True, separators=(",", ":"))
    assert fields.spec_keyid(key) == hashlib.sha256(canonical.encode()).hexdigest()
    assert fields.spec_keyid(key) == key.keyid


def test_tagging_a_key_recomputes_its_keyid() -> None:
    plain = new_signer("tagged").public_key
    owned = fields.owned_key(plain, "@bob")
    assert fields.keyowner(owned) == "@bob"
    assert owned.keyid == fields.spec_keyid(owned) != plain.keyid
    assert owned.keyval == plain.keyval
    assert plain.unrecognized_fields == {}  # the original is not changed
    online = fields.online_key(plain, "gcpkms:projects/p/key")
    assert fields.online_uri(online) == "gcpkms:projects/p/key"
    assert online.keyid == fields.spec_keyid(online) not in (plain.keyid, owned.keyid)
    again = fields.with_field(owned, KEYOWNER, "@bob")
    assert again.keyid == owned.keyid
