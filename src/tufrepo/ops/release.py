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
from typing import TYPE_CHECKING

from tufrepo.core.artifacts import check_target_path, is_artifact_path
from tufrepo.core.constants import EVENT_BRANCH_PREFIX, TARGETS_DIR
from tufrepo.errors import RejectedError, UsageError
from tufrepo.ops.targets import update_targets

if TYPE_CHECKING:
    from tufrepo.core.store import WritableStore
    from tufrepo.ops.event import SigningEvent

_RELEASE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


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
