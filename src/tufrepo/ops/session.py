"""Working on a signing-event branch without checking it out.

An :class:`EventSession` fetches the pull remote, picks the event's tip (or
main, for a new event), reads it through git objects, collects edits in an
in-memory overlay, and commits them on top of the tip with a temporary index.
The user's current branch, work tree and untracked files are never touched.
Publishing is a push of the new commit to ``refs/heads/<event>`` on the push
remote, or with ``push=False`` a local branch ``<event>``.

Not for: deciding what to edit or sign (the operations do), prompting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufrepo.checks import Finding, errors, judge_event
from tufrepo.core import layout
from tufrepo.core.constants import EVENT_BRANCH_PREFIX, MAIN_BRANCH, METADATA_DIR
from tufrepo.core.parsing import role_type
from tufrepo.core.store import OverlayStore
from tufrepo.errors import GitStateError, MetadataError, RejectedError, UsageError
from tufrepo.gitrepo import GitRepo, GitTreeStore, is_valid_branch_name
from tufrepo.ops import artifacts
from tufrepo.ops.anchor import vouched_state
from tufrepo.ops.event import SigningEvent

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from tufrepo.core.artifacts import KnownArtifacts


def check_event_name(event: str) -> None:
    """Event branches are ``sign/<name>``, and names git accepts as branches.

    Raises:
        UsageError: the name does not start with ``sign/`` or git refuses it
            as a branch name (``git check-ref-format --branch``).
    """
    if (
        not event.startswith(EVENT_BRANCH_PREFIX)
        or not event[len(EVENT_BRANCH_PREFIX) :]
        or not is_valid_branch_name(event)
    ):
        raise UsageError(
            f"{event!r} is not a signing-event branch name",
            hint="signing events are branches named sign/<something>, e.g. sign/add-release",
        )


class EventSession:
    """One command's work on an event branch.

    Args:
        git: the user's checkout.
        event_name: ``sign/<name>``.
        pull_remote: where the event and main are fetched from.
        push_remote: where the event is pushed to.
        now: the current time.
        fetch: fetch the pull remote first (False for tests working offline).
    """

    def __init__(
        self,
        git: GitRepo,
        event_name: str,
        *,
        pull_remote: str,
        push_remote: str,
        now: datetime,
        fetch: bool = True,
    ) -> None:
        check_event_name(event_name)
        self.git = git
        self.name = event_name
        self.pull_remote = pull_remote
        self.push_remote = push_remote
        self.now = now
        if fetch:
            git.fetch(pull_remote)
        self.main = git.rev(f"refs/remotes/{pull_remote}/{MAIN_BRANCH}")
        if self.main is None:
            raise GitStateError(
                f"{pull_remote} has no {MAIN_BRANCH} branch",
                hint=f"push an initial commit to {MAIN_BRANCH} first",
            )
        self.base, self.is_new = self._pick_base()
        self._start = self.base
        self._judged: bool | None = None  # known good vouched for by online-sign, once asked
        self.known_good_rev = git.merge_base(self.main, self.base)
        if git.is_shallow():
            git.unshallow(pull_remote)  # a shallow clone may not reach the real merge-base
            self.known_good_rev = git.merge_base(self.main, self.base)
        if self.known_good_rev is None and git.read_blob(self.main, "metadata/root.json"):
            # Attack: an event with no history in common with a main that holds
            # a repository would otherwise be judged as a new repository.
            raise RejectedError(
                f"{event_name} shares no history with {pull_remote}/{MAIN_BRANCH}, which "
                "already holds a repository",
                hint="signing events start from main",
            )
        self._load()

    def _pick_base(self) -> tuple[str, bool]:
        remote = self.git.rev(f"refs/remotes/{self.pull_remote}/{self.name}")
        local = self.git.rev(f"refs/heads/{self.name}")
        if local and remote and local != remote:
            if self.git.is_ancestor(remote, local):
                return local, False  # unpushed local work (--no-push) on top of the remote
            if not self.git.is_ancestor(local, remote):
                raise GitStateError(
                    f"local branch {self.name} and {self.pull_remote}/{self.name} have diverged",
                    hint=f"delete or reset the local branch: git branch -D {self.name}",
                )
        if remote:
            return remote, False
        if local:
            return local, False
        assert self.main is not None  # noqa: S101 - checked in __init__
        return self.main, True

    def _load(self, known: KnownArtifacts | None = None) -> None:
        self.store = OverlayStore(GitTreeStore(self.git, self.base))
        known_good = GitTreeStore(self.git, self.known_good_rev) if self.known_good_rev else None
        self.event = SigningEvent(self.store, known_good, now=self.now)
        self.event.known_good_judged = self._known_good_judged()
        # #14: files unchanged since known good are not read again
        self.event.known_artifacts = artifacts.after_metadata_commit(
            known, self.store
        ) or artifacts.for_event(
            self.git,
            self.known_good_rev,
            self.event.repo.known_good_repo(),
            rev=self.base,
            overlay=self.store,
        )

    def _known_good_judged(self) -> bool:
        if self.known_good_rev is None:
            return False
        if self._judged is None:
            self._judged = vouched_state(self.git, self.known_good_rev, now=self.now)
        return self._judged

    @property
    def short_base(self) -> str:
        """The event tip's short sha."""
        return self.base[:7]

    def commit(self, message: str) -> str | None:
        """Commit the overlay's changes on top of the event tip; None when nothing changed."""
        changes = self.store.effective_changes()
        if not changes:
            return None
        # Signatures leave what tree_rules judges (signed content, files) as it
        # was: its findings are carried to the new tip, not judged twice (#14).
        tree = self.event.tree_findings if self._signatures_only(changes) else None
        sha = self.git.commit_changes(self.base, changes, message)
        self.base = sha
        # Signatures and other metadata edits leave every artifact's blob as it
        # was: what known good says of the unchanged ones still holds (#14).
        metadata_only = all(p.startswith(f"{METADATA_DIR}/") for p in changes)
        self._load(self.event.known_artifacts if metadata_only else None)
        self.event.tree_findings = tree
        return sha

    def _signatures_only(self, changes: dict[str, bytes | None]) -> bool:
        """True when every change is a role file whose signed part (canonical bytes) is unchanged.

        Both sides come from the bytes themselves (the tip's, and what is
        committed), never from the repository's cache of what it wrote.
        """
        parsed, base = self.event.repo.parsed, self.store.base
        for path, data in changes.items():
            role = layout.role_from_metadata_path(path)
            before = base.read(path) if base is not None else None
            if role is None or data is None or before is None:
                return False
            try:
                old, new = (
                    parsed.canonical(parsed.parse(b, path, role_type(role)))
                    for b in (before, data)
                )
            except MetadataError:
                return False
            if old != new:
                return False
        return True

    def findings(self) -> list[Finding]:
        """The event judged against known good (:func:`tufrepo.checks.judge_event`)."""
        changed = (
            self.git.changed_paths(self.known_good_rev, self.base) if self.known_good_rev else None
        )
        assert self.main is not None  # noqa: S101 - checked in __init__
        return judge_event(
            self.event, changed_files=changed, main=GitTreeStore(self.git, self.main)
        )

    def publish(self, *, push: bool) -> str:
        """Push the event tip to the push remote, or store it as a local branch.

        Returns:
            Where the event went, for the user ("origin/sign/x" or "local branch sign/x").

        Raises:
            RejectedError: the event, as it would be pushed, fails the checks:
                no command pushes an event with errors.
        """
        failed = errors(self.findings())
        if failed:
            listed = "; ".join(str(f) for f in failed[:3])
            raise RejectedError(
                f"not pushing {self.name}: it fails the checks: {listed}"
                + (f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""),
                hint=f"`tufrepo status` on {self.name} lists every finding",
            )
        if push:
            # A fork (push remote other than the pull remote) is the signer's own:
            # its copy of the event is replaced by the event's tip plus these
            # signatures (as tuf-on-ci does); an older copy there was either
            # merged upstream already or is superseded by this push. The pull
            # remote's branch is never forced.
            # Attack/accident: two names for one repository must never force it
            # (a concurrent signer's push would be lost): compared by URL.
            fork = self.push_remote != self.pull_remote and not self.git.same_repository(
                self.push_remote, self.pull_remote
            )
            self.git.push(self.push_remote, self.base, self.name, replace=fork)
            return f"{self.push_remote}/{self.name}"
        self.git.set_branch(self.name, self.base)
        return f"local branch {self.name}"


def open_session(
    git: GitRepo,
    event: str,
    *,
    pull_remote: str,
    push_remote: str,
    now: datetime,
    must_exist: bool = False,
    say: Callable[[str], None] | None = None,
) -> EventSession:
    """Fetch and open an event branch without touching the work tree.

    Args:
        git: the user's checkout.
        event: ``sign/<name>``.
        pull_remote: where the event and main are fetched from.
        push_remote: where the event is pushed to.
        now: the current time.
        must_exist: the event must already exist (signing it, not starting it).
        say: told which commit was opened, or that the event starts from main.

    Raises:
        GitStateError: ``must_exist`` and the event is on neither the pull
            remote nor a local branch (a mistyped name must not be "nothing to do").
    """
    session = EventSession(git, event, pull_remote=pull_remote, push_remote=push_remote, now=now)
    if session.is_new and must_exist:
        raise GitStateError(
            f"there is no signing event {event} on {pull_remote}",
            hint=f"check the name: git ls-remote --heads {pull_remote} 'sign/*'",
        )
    if say is not None:
        if session.is_new:
            say(f"Event {event} does not exist yet: starting it from {pull_remote}/{MAIN_BRANCH}")
        else:
            say(f"Signing event {event} (commit {session.short_base})")
    return session


def known_good_of(git: GitRepo, remote: str, main: str, head: str) -> str | None:
    """Known good for an event at ``head``: its merge-base with ``main``, established or refused.

    Returns:
        The merge-base, or None for a new repository (main has no metadata).

    Raises:
        GitStateError: a shallow checkout that cannot be deepened (a shallow
            history can hide the real merge-base).
        RejectedError: the event shares no history with a main that has metadata.
    """
    if git.is_shallow():
        # Attack: in a shallow clone the merge-base may be missing or wrong,
        # and an event would be judged as "a new repository".
        try:
            git.unshallow(remote)
        except GitStateError as e:
            raise GitStateError(
                "this checkout is shallow and could not be deepened to find known good",
                hint="check out with full history (actions/checkout: fetch-depth: 0)",
            ) from e
        main = git.rev(f"refs/remotes/{remote}/{MAIN_BRANCH}") or main
    base = git.merge_base(main, head)
    if base is None and git.read_blob(main, "metadata/root.json") is not None:
        # Attack: a complete repository signed by an outsider, pushed as an
        # event with no history in common with main.
        raise RejectedError(
            "the event shares no history with main, which already holds a repository",
            hint="start the event from main: git switch -c sign/<name> origin/main",
        )
    return base
