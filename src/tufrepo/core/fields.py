"""Typed access to tufrepo's custom metadata fields and to key identities.

Policy lives in the metadata itself (DESIGN §3): expiry and signing periods on
``signed`` of root/targets/delegated roles and on root's timestamp/snapshot
role entries; the owner handle on offline keys; the signer URI on online keys.
Keyids are spec-compliant: sha256 of the canonical key *including* custom fields.
This module reads and writes those fields; it does not decide policy.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from tufrepo.core.constants import (
    DEFAULT_PERIODS,
    DELEGATED_DEFAULT_PERIODS,
    EXPIRY_PERIOD,
    KEYOWNER,
    ONLINE_ROLES,
    ONLINE_URI,
    SIGNING_PERIOD,
)
from tufrepo.errors import MetadataError, UsageError

if TYPE_CHECKING:
    from securesystemslib.signer import Key
    from tuf.api.metadata import Root, Signed

# securesystemslib.signer loads every installed KMS SDK: it is imported where a
# key is built, not here, so that settings and --help stay light (#14).

_HANDLE = re.compile(r"^@[0-9a-z](?:[0-9a-z-]{0,38})$")

MAX_PERIOD_DAYS: Final = 3660
"""The longest expiry or signing period, in days: 10 years; policy bounds per role
are checked by the checks layer.  This bound only keeps date arithmetic sane: a
period of 10**8 days is past year 9999 and one of 10**30 overflows ``timedelta``."""


def normalize_handle(handle: str) -> str:
    """Return a GitHub-style handle as ``@lowercase``.

    Raises:
        UsageError: the handle is not a valid GitHub user name.
    """
    value = handle.strip().lower()
    if not value.startswith("@"):
        value = "@" + value
    if not _HANDLE.match(value):
        raise UsageError(
            f"'{handle}' is not a valid signer handle",
            hint="use a GitHub user name such as @octocat",
        )
    return value


@dataclass(frozen=True)
class Periods:
    """Expiry period and signing period of a role, in days."""

    expiry: int
    signing: int


def _fields_for(root: Root | None, role: str, signed: Signed | None) -> dict[str, Any]:
    if role in ONLINE_ROLES:
        if root is None:
            raise MetadataError(f"no root to read the {role} periods from")
        return root.roles[role].unrecognized_fields
    if signed is None:
        raise MetadataError(f"no metadata to read the {role} periods from")
    return signed.unrecognized_fields


def _default_periods(role: str) -> tuple[int, int]:
    return DEFAULT_PERIODS.get(role, DELEGATED_DEFAULT_PERIODS)


def get_periods(root: Root | None, role: str, signed: Signed | None) -> Periods:
    """Read a role's periods, falling back as tuf-on-ci does.

    A missing expiry period means the default for the role; a missing signing
    period means half the expiry period.  A period that is present must be a
    whole number of days (a JSON integer: not a float, a string or a boolean)
    between 1 and :data:`MAX_PERIOD_DAYS`.

    Raises:
        MetadataError: a period is present but out of those bounds, naming the
            role and the field.
    """
    fields = _fields_for(root, role, signed)
    default_expiry = _default_periods(role)[0]
    expiry = _period(role, EXPIRY_PERIOD, fields.get(EXPIRY_PERIOD, default_expiry))
    if SIGNING_PERIOD not in fields:
        return Periods(expiry, expiry // 2)
    return Periods(expiry, _period(role, SIGNING_PERIOD, fields[SIGNING_PERIOD]))


def _period(role: str, field: str, value: object) -> int:
    """``value`` as a period in days, or a MetadataError naming the role and field."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PERIOD_DAYS:
        return value
    raise MetadataError(
        f"{role}: {field} must be a whole number of days between 1 and {MAX_PERIOD_DAYS}, "
        f"found {_shown(value)}"
    )


def _shown(value: object) -> str:
    """A period value as found in the metadata, kept short (a hostile one may be huge)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**12:
        # repr() of a huge int is long, and refused beyond 4300 digits
        text = f"{float(value):g}" if abs(value) < 10**300 else "a number over 1e+300"
    elif isinstance(value, str | bool) or value is None:
        text = json.dumps(value)
    else:
        text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def set_periods(root: Root | None, role: str, signed: Signed | None, periods: Periods) -> None:
    """Store a role's periods in the right place (root's role entry for online roles)."""
    fields = _fields_for(root, role, signed)
    fields[EXPIRY_PERIOD] = periods.expiry
    fields[SIGNING_PERIOD] = periods.signing


def keyowner(key: Key) -> str | None:
    """The ``@handle`` owning an offline key, or None."""
    value = key.unrecognized_fields.get(KEYOWNER)
    return value if isinstance(value, str) else None


def online_uri(key: Key) -> str | None:
    """The signer URI of an online key, or None."""
    value = key.unrecognized_fields.get(ONLINE_URI)
    return value if isinstance(value, str) else None


def key_label(key: Key) -> str:
    """How a key is named to humans: its owner, its online URI scheme, or its keyid."""
    owner = keyowner(key)
    if owner:
        return owner
    uri = online_uri(key)
    if uri:
        return f"online key ({uri.split(':', 1)[0]})"
    return f"key {key.keyid[:8]}"


def spec_keyid(key: Key) -> str:
    """The spec-compliant keyid: sha256 of the canonical JSON of the key with all its fields."""
    from securesystemslib.formats import encode_canonical  # noqa: PLC0415 - see imports

    data = encode_canonical(key.to_dict())
    if not isinstance(data, str):  # encode_canonical returns str unless given an output callable
        raise TypeError("canonical encoding failed")
    return hashlib.sha256(data.encode()).hexdigest()


def with_field(key: Key, field: str, value: str) -> Key:
    """Return a copy of ``key`` with a custom field set and its keyid recomputed."""
    from securesystemslib.signer import Key  # noqa: PLC0415 - see imports

    data = key.to_dict()
    data[field] = value
    tmp = Key.from_dict("tmp", dict(data))
    return Key.from_dict(spec_keyid(tmp), data)


def owned_key(key: Key, handle: str) -> Key:
    """``key`` tagged as belonging to ``handle`` (an offline signer)."""
    return with_field(key, KEYOWNER, handle)


def online_key(key: Key, uri: str) -> Key:
    """``key`` tagged with the signer URI CI uses (an online signer)."""
    return with_field(key, ONLINE_URI, uri)
