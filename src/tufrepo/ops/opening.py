"""Opening a signing event from another project's release CI: ``tufrepo open-event``.

:func:`open_event` opens the event (in the caller's checkout, or in a
temporary shallow clone of a remote URL), stages the artifacts as
:func:`~tufrepo.ops.release.stage_artifacts` does, commits and pushes.  It
can push the event but never sign or merge::

    result = open_event("sign/release-1-0-7", {"app/v1.0.json": data}, [], git=git, now=now)
    result.roles  # ("targets",)

Not for: reading the caller's files (bytes come in), printing (handlers come in).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tufrepo.core.artifacts import check_target_path
from tufrepo.core.constants import DEFAULT_REMOTE, ROOT
from tufrepo.errors import RejectedError, UsageError
from tufrepo.gitrepo import GitRepo, redact
from tufrepo.ops.handlers import Handlers
from tufrepo.ops.release import stage_artifacts
from tufrepo.ops.session import EventSession

if TYPE_CHECKING:
    from datetime import datetime


@dataclass(frozen=True)
class OpenEventResult:
    """What one :func:`open_event` run did.

    Attributes:
        event: the event's branch name.
        changed: False when the event already had this content (nothing committed).
        roles: the targets roles that got a new unsigned version.
        commit: the new commit, or None when nothing changed.
        pushed: the event went to the remote.
        where: where it went (``origin/sign/x``, ``local branch sign/x``), or
            None when nothing changed or the commit was discarded with a clone.
    """

    event: str
    changed: bool = False
    roles: tuple[str, ...] = ()
    commit: str | None = None
    pushed: bool = False
    where: str | None = None

    @property
    def commit_short(self) -> str:
        """The new commit's short sha ("" when nothing changed)."""
        return (self.commit or "")[:7]


def open_event(
    event: str,
    adds: dict[str, bytes],
    removes: list[str],
    *,
    now: datetime,
    git: GitRepo | None = None,
    remote_url: str | None = None,
    message: str | None = None,
    replace: bool = False,
    push: bool = True,
    handlers: Handlers | None = None,
) -> OpenEventResult:
    """Add or remove artifacts on the signing event ``event``, and push it.

    The targets roles that own the artifacts get a new, unsigned version, as
    ``update-targets`` would give them; running it again with the same
    content does nothing.  It can push the event but never sign or merge.

    Args:
        event: the event branch, ``sign/<name>``.
        adds: target path -> new content.
        removes: target paths to remove.
        now: the current time.
        git: the checkout to work in (its work tree is not touched); or
        remote_url: a repository URL to work on through a temporary shallow
            clone (exactly one of ``git`` and ``remote_url``).
        message: the commit message (default: names the artifacts).
        replace: allow changing an artifact that is already released on main.
        push: push the event (without a push, a clone's commit is discarded).
        handlers: progress.

    Raises:
        UsageError: nothing to add or remove, or not exactly one of ``git``/``remote_url``.
        RejectedError: an unsafe target path, no repository yet, a released
            artifact changed without ``replace``, or an event that fails the checks.
        GitStateError: clone, fetch or push failed.
    """
    handlers = handlers or Handlers()
    if (git is None) == (remote_url is None):
        raise UsageError("give either a checkout or a remote URL")
    if not adds and not removes:
        raise UsageError("nothing to do: give --add SRC=TARGET_PATH or --remove TARGET_PATH")
    for path in [*adds, *removes]:
        check_target_path(path)
    if git is not None:
        return _open_event(git, event, adds, removes, message, now, handlers,
                           replace=replace, push=push, local=True)  # fmt: skip
    assert remote_url is not None  # noqa: S101 - checked above
    with tempfile.TemporaryDirectory(prefix="tufrepo-open-event-") as tmp:
        handlers.say(f"Cloning {redact(remote_url)}")
        with GitRepo.clone_shallow(remote_url, Path(tmp) / "repo") as clone:
            return _open_event(clone, event, adds, removes, message, now, handlers,
                               replace=replace, push=push, local=False)  # fmt: skip


def _open_event(
    git: GitRepo,
    event: str,
    adds: dict[str, bytes],
    removes: list[str],
    message: str | None,
    now: datetime,
    handlers: Handlers,
    *,
    replace: bool,
    push: bool,
    local: bool,
) -> OpenEventResult:
    session = EventSession(
        git, event, pull_remote=DEFAULT_REMOTE, push_remote=DEFAULT_REMOTE, now=now
    )
    handlers.say(f"{'New' if session.is_new else 'Existing'} signing event {event}")
    if not session.event.repo.exists(ROOT):
        raise RejectedError("the repository has no metadata/root.json yet")
    roles = stage_artifacts(session.event, session.store, adds, removes, replace=replace)
    default = "Add " + ", ".join(adds) if adds else "Remove " + ", ".join(removes)
    sha = session.commit(message or default)
    if sha is None:
        return OpenEventResult(event)
    handlers.say(
        f"Updated {', '.join(roles) or 'artifacts'}: new unsigned version(s) for signing."
    )
    where = session.publish(push=True) if push else session.publish(push=False) if local else None
    return OpenEventResult(
        event, changed=True, roles=tuple(roles), commit=sha, pushed=push, where=where
    )


__all__ = ["OpenEventResult", "open_event"]
