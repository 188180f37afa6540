"""Where things live in a repository checkout (DESIGN §3).

Paths are POSIX strings relative to the checkout's top level, the same
strings git uses, so that the work tree and git trees are addressed alike.
"""

from __future__ import annotations

import re

from tufrepo.core.constants import METADATA_DIR, ROOT, ROOT_HISTORY_DIR

# Role names become file names: keep them to a conservative, portable set.
_SAFE_ROLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ROOT_HISTORY_NAME = re.compile(r"^([1-9][0-9]{0,9})\.root\.json$")


def role_path(role: str) -> str:
    """``metadata/<role>.json``."""
    return f"{METADATA_DIR}/{role}.json"


def root_history_path(version: int) -> str:
    """``metadata/root_history/<version>.root.json``."""
    return f"{ROOT_HISTORY_DIR}/{version}.{ROOT}.json"


def root_history_version(name: str) -> int | None:
    """The version in a root_history file name, or None when the name is not one."""
    match = _ROOT_HISTORY_NAME.match(name)
    return int(match.group(1)) if match else None


def is_safe_role_name(name: str) -> bool:
    """True when ``name`` can be a role and a metadata file name on every platform.

    Rejects path separators, ``..``, leading dots and anything outside
    ``[A-Za-z0-9._-]``: a role name must never let a file escape ``metadata/``.
    """
    return bool(_SAFE_ROLE.fullmatch(name)) and ".." not in name and not name.endswith(".")


def role_from_metadata_path(path: str) -> str | None:
    """``metadata/<role>.json`` -> role; None for anything else (root_history, state)."""
    prefix = f"{METADATA_DIR}/"
    if not path.startswith(prefix) or not path.endswith(".json"):
        return None
    name = path[len(prefix) : -len(".json")]
    return name if name and "/" not in name and not name.startswith(".") else None
