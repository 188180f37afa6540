"""Artifacts added to or removed from a signing event by another project's CI.

:func:`check_target_path` is the gate for paths that come from outside: a
target path must stay inside ``targets/`` whatever the file system or git
does with it.  :func:`stage_artifacts` writes the files into an event's
store and updates the affected targets roles exactly as ``update-targets``
does (known-good version + 1, fresh expiry, placeholder signatures).

Not for: git (see ``session`` and ``opening``), reading the caller's files (bytes come in).
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from tufrepo.core.artifacts import is_artifact_path
from tufrepo.core.constants import EVENT_BRANCH_PREFIX, TARGETS_DIR
from tufrepo.errors import RejectedError, UsageError
from tufrepo.ops.targets import update_targets

if TYPE_CHECKING:
    from tufrepo.core.store import WritableStore
    from tufrepo.ops.event import SigningEvent

MAX_TARGET_PATH = 512
# Paths made only of these characters need no Unicode checks (the common case).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._+@~-]+(?:/[A-Za-z0-9._+@~-]+)*")
_RELEASE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# Characters with a meaning in a URL that clients do not escape in target paths.
_URL_SPECIAL = frozenset("#?%")


def check_target_path(path: str) -> str:
    """Return ``path`` if it is a safe target path, else refuse it.

    A target path is also a URL path: python-tuf and tuf-js put it into the
    download URL as it is (``base + path``), and only percent-encode what
    URLs cannot hold (spaces, non-ASCII), which every static server decodes
    back.  So ordinary names with spaces or Unicode letters are fine, while
    ``#`` (a fragment), ``?`` (a query) and ``%`` (``dir/%2e%2e/app.json``
    is ``dir/../app.json`` to a URL parser or a server) would make clients
    fetch another file, and whitespace at either end of a segment is trimmed
    or invisible.  Refused here, so that status and open-event reject them
    instead of publish or the clients.

    Raises:
        RejectedError: absolute, ``..``/``.``/empty segments, backslashes,
            control or format characters, not NFC-normalised, or too long:
            each could make the file land outside ``targets/`` or under
            another name; ``#``, ``?``, ``%``, whitespace other than a plain
            space, or a segment starting or ending with whitespace: clients
            would download another URL than the file's.
    """
    if (
        len(path) <= MAX_TARGET_PATH
        and _PLAIN_PATH.fullmatch(path)
        and not any(seg in (".", "..") for seg in path.split("/"))
    ):
        return path
    problem = None
    if not path or len(path) > MAX_TARGET_PATH:
        problem = "is empty or too long"
    elif path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        problem = "is absolute"
    elif "\\" in path:
        problem = "contains a backslash"
    elif any(seg in ("", ".", "..") for seg in path.split("/")):
        problem = "has an empty, '.' or '..' segment"
    elif any(unicodedata.category(c).startswith("C") for c in path):
        problem = "contains control characters"
    elif unicodedata.normalize("NFC", path) != path:
        problem = "is not in Unicode normal form C"
    elif any(c in _URL_SPECIAL for c in path):
        # Attack: dir/%2e%2e/app.json signs one file and serves another.
        problem = "contains '#', '?' or '%', which change the URL clients download"
    elif any(c.isspace() and c != " " for c in path):
        problem = "contains whitespace other than a plain space"
    elif any(seg != seg.strip() for seg in path.split("/")):
        problem = "has a segment that starts or ends with whitespace"
    if problem:
        raise RejectedError(
            f"target path {path!r} {problem}",
            hint="use a relative path below targets/ such as app/releases/v1.0.json",
        )
    return path


def release_event_name(version: str, run_id: str) -> str:
    """``sign/release-<version with dots as hyphens>-<run id>``.

    A tag's leading ``v`` is dropped (``v1.4.2-rc`` and ``1.4.2-rc`` name
    the same release), as tuf-on-ci does.

    Raises:
        UsageError: the version or run id has characters a branch name cannot hold.
    """
    for value, what in ((version, "--release"), (run_id, "--run-id")):
        if not _RELEASE_PART.match(value):
            raise UsageError(f"{what} {value!r} has characters not allowed in a branch name")
    if version[:1] in "vV" and version[1:2].isdigit():
        version = version[1:]
    return f"{EVENT_BRANCH_PREFIX}release-{version.replace('.', '-')}-{run_id}"


def _symlinked_parent(store: WritableStore, path: str) -> str | None:
    """The first ancestor directory of ``targets/<path>`` that is a symlink, if any."""
    links = {e.path for e in store.walk(TARGETS_DIR) if e.kind == "symlink"}
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        candidate = f"{TARGETS_DIR}/{'/'.join(parts[:depth])}"
        if candidate in links:
            return candidate
    return None


def stage_artifacts(
    event: SigningEvent,
    store: WritableStore,
    adds: dict[str, bytes],
    removes: list[str],
    *,
    replace: bool = False,
) -> list[str]:
    """Write and remove artifacts in ``store``; return the targets roles that changed.

    Args:
        event: the signing event (its known good tells what is released).
        store: the event's files.
        adds: target path -> new content.
        removes: target paths to remove.
        replace: allow changing an artifact that is already released on main.

    Raises:
        RejectedError: an unsafe target path, a path through a symlink, a
            path that is a directory, removing a file that does not exist, or
            changing a released artifact without ``replace``.
    """
    existing = {e.path for e in store.walk(TARGETS_DIR)}
    for path in [*adds, *removes]:
        check_target_path(path)
        if not is_artifact_path(path):
            # Attack: a release token adding .gitattributes (or any dotfile)
            # beside its artifact: not an artifact, so no signer is shown it.
            raise RejectedError(
                f"target path {path!r} is a dotfile or inside a dot-directory: not an artifact",
                hint="artifacts are regular files whose path has no component starting with '.'",
            )
        link = _symlinked_parent(store, path)
        if link is not None:
            raise RejectedError(f"target path {path!r} goes through the symlink {link}")
        if any(e.startswith(f"{TARGETS_DIR}/{path}/") for e in existing):
            raise RejectedError(f"target path {path!r} is a directory")
    for path, data in adds.items():
        released = event.known_good.read(f"{TARGETS_DIR}/{path}") if event.known_good else None
        if released is not None and released != data and not replace:
            # Attack: a release job rewriting another release's published file.
            raise RejectedError(
                f"{path} is already released with other content",
                hint="pass --replace if changing a released artifact is intended",
            )
        store.write(f"{TARGETS_DIR}/{path}", data)
    for path in removes:
        if f"{TARGETS_DIR}/{path}" not in existing:
            raise RejectedError(f"cannot remove {path!r}: there is no such artifact")
        store.delete(f"{TARGETS_DIR}/{path}")
    return update_targets(event.repo, store)
