"""Typed access to tufrepo's custom metadata fields and to key identities.

Policy lives in the metadata itself (DESIGN §3): expiry and signing periods on
``signed`` of root/targets/delegated roles and on root's timestamp/snapshot
role entries; the owner handle on offline keys; the signer URI on online keys.
Keyids are spec-compliant: sha256 of the canonical key *including* custom fields.
This module reads and writes those fields; it does not decide policy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Key

from tufrepo.constants import (
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
    from tuf.api.metadata import Root, Signed

_HANDLE = re.compile(r"^@[0-9a-z](?:[0-9a-z-]{0,38})$")


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
    period means half the expiry period.

    Raises:
        MetadataError: a period is present but not a positive integer.
    """
    fields = _fields_for(root, role, signed)
    raw_expiry = fields.get(EXPIRY_PERIOD, _default_periods(role)[0])
    if not _is_positive_int(raw_expiry):
        raise MetadataError(f"{role}: expiry period {raw_expiry!r} is not a positive integer")
    raw_signing = fields.get(SIGNING_PERIOD, raw_expiry // 2)
    if not isinstance(raw_signing, int) or isinstance(raw_signing, bool) or raw_signing < 0:
        raise MetadataError(f"{role}: signing period {raw_signing!r} is not an integer >= 0")
    return Periods(raw_expiry, raw_signing)


def set_periods(root: Root | None, role: str, signed: Signed | None, periods: Periods) -> None:
    """Store a role's periods in the right place (root's role entry for online roles)."""
    fields = _fields_for(root, role, signed)
    fields[EXPIRY_PERIOD] = periods.expiry
    fields[SIGNING_PERIOD] = periods.signing


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


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
    data = encode_canonical(key.to_dict())
    if not isinstance(data, str):  # encode_canonical returns str unless given an output callable
        raise TypeError("canonical encoding failed")
    return hashlib.sha256(data.encode()).hexdigest()


def with_field(key: Key, field: str, value: str) -> Key:
    """Return a copy of ``key`` with a custom field set and its keyid recomputed."""
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
