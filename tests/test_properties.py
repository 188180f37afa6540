"""Property tests: mutated metadata gives a clear verdict, never an escaping exception.

A small signed repository is built in memory; hypothesis removes fields,
changes types, swaps values and reorders or duplicates signatures in one role
of a signing event, and the validation engine must either reject the event,
leave it waiting, or (only if the result really is valid) call it ready.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from securesystemslib.signer import CryptoSigner, SSlibKey

from tufrepo.checks.rules import signed_rule
from tufrepo.core import fields, layout
from tufrepo.core.store import OverlayStore
from tufrepo.ops.editing import RoleChange, init_repository
from tufrepo.ops.event import SigningEvent
from tufrepo.ops.status import EventState, event_status

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
USER = CryptoSigner.generate_ed25519()
ONLINE = CryptoSigner.generate_ed25519()


def _signed_repository() -> OverlayStore:
    store = OverlayStore()
    event = SigningEvent(store, None, now=NOW)
    online = fields.online_key(ONLINE.public_key, "file2:online.pem")
    init_repository(
        event,
        {"timestamp": RoleChange(online_key=online)},
        user="@alice",
        user_key=USER.public_key,
    )
    owned = fields.owned_key(USER.public_key, "@alice")
    assert isinstance(owned, SSlibKey)
    signer = CryptoSigner(USER._private_key, owned)
    for role in ("root", "targets"):
        event.repo.add_signature(role, signer)
    return store


BASE = _signed_repository()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


REPLACEMENTS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=5), st.just([]), st.just({}),
    st.just("2020-01-01T00:00:00Z"), st.just("../../etc/passwd"),
)  # fmt: skip


@st.composite
def mutation(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    role = draw(st.sampled_from(["root", "targets"]))
    data = json.loads(BASE.read(layout.role_path(role)) or b"{}")
    paths = _paths(data)
    kind = draw(st.sampled_from(["remove", "replace", "swap", "signatures"]))
    if kind == "signatures":
        sigs = data["signatures"]
        data["signatures"] = draw(st.permutations(sigs + sigs[: draw(st.integers(0, len(sigs)))]))
        return role, data
    path = draw(st.sampled_from(paths))
    parent, key = _get(data, path[:-1]), path[-1]
    if kind == "remove":
        del parent[key]
    elif kind == "replace":
        parent[key] = draw(REPLACEMENTS)
    else:
        other = draw(st.sampled_from(paths))
        try:
            value = copy.deepcopy(_get(data, other))
        except (KeyError, IndexError, TypeError):
            value = None
        parent[key] = value
    return role, data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutation())
def test_mutated_metadata_gets_a_clear_verdict(case: tuple[str, dict[str, Any]]) -> None:
    role, data = case
    known_good = OverlayStore(BASE)
    event_store = OverlayStore(BASE)
    event_store.write(layout.role_path(role), json.dumps(data, indent=1).encode())
    if role == "root":
        version = (
            data.get("signed", {}).get("version") if isinstance(data.get("signed"), dict) else None
        )
        if isinstance(version, int) and version > 0:
            event_store.write(
                layout.root_history_path(version), json.dumps(data, indent=1).encode()
            )
    try:
        event = SigningEvent(event_store, known_good, now=NOW)
    except Exception as e:
        raise AssertionError(f"building the event raised {e!r}") from e
    status = event_status(event)  # must not raise
    if status.state is EventState.READY:
        # a ready event really verifies: every offline role under its threshold
        for ready_role in ["root", *event.repo.targets_roles()]:
            md = event.repo.read(ready_role)
            assert md is not None
            assert signed_rule(event.repo, ready_role, md) == []
