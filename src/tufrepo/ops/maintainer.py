"""What a maintainer does on a signing event: create the repository, change a role.

:func:`init_repository` (``tufrepo init``) and :func:`change_delegation`
(``tufrepo delegate``) each open the event branch without touching the work
tree, apply the edit (:mod:`tufrepo.ops.editing`), invite handles without a
key, sign what the maintainer owes when a key is at hand
(:func:`~tufrepo.ops.signoff.sign_owed`) and push::

    signers = UserSigners(settings, key_uri="file2:alice.pem")
    result = change_delegation(
        git, "sign/add-releases", ["releases"], RoleChange(signers=["@alice", "@bob"]),
        settings=settings, signers=signers, now=now,
    )
    result.invited  # {"@bob": ["releases"]}

Not for: parsing options or prompting (the CLI does; handlers come in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tufrepo.core.constants import ROOT, TARGETS, TIMESTAMP
from tufrepo.errors import UsageError
from tufrepo.ops import editing
from tufrepo.ops.editing import RoleChange, configure_role, needs_user_key, remove_delegation
from tufrepo.ops.handlers import Handlers
from tufrepo.ops.keys import SignerEnv, online_key
from tufrepo.ops.session import EventSession, open_session
from tufrepo.ops.signoff import sign_owed

if TYPE_CHECKING:
    from datetime import datetime

    from securesystemslib.signer import Key

    from tufrepo.gitrepo import GitRepo
    from tufrepo.ops.keys import UserSigners
    from tufrepo.settings import Settings

# The templates a new repository's main may carry; the first event removes them.
TEMPLATE_READMES = ("metadata/README.md", "targets/README.md")


@dataclass(frozen=True)
class OnlineKeySpec:
    """An online key to enrol: its signer URI, and for ``sigstore`` the CI identity."""

    uri: str
    identity: str | None = None
    issuer: str | None = None


@dataclass(frozen=True)
class EventEditResult:
    """What an edit of an event did.

    Attributes:
        event: the event's branch name.
        changed: False when the edit changed nothing (nothing was committed or pushed).
        commit: the event's tip after the run.
        signed: roles the maintainer signed.
        invited: handle -> roles they were invited to.
        pushed: the result went to the push remote.
        where: where the result went, or None when nothing changed.
    """

    event: str
    changed: bool = True
    commit: str | None = None
    signed: tuple[str, ...] = ()
    invited: dict[str, list[str]] = field(default_factory=dict)
    pushed: bool = False
    where: str | None = None


def _open(
    git: GitRepo, event: str, settings: Settings, now: datetime, handlers: Handlers
) -> EventSession:
    return open_session(
        git, event, pull_remote=settings.pull_remote, push_remote=settings.push_remote,
        now=now, say=handlers.say,
    )  # fmt: skip


def _online_key(git: GitRepo, spec: OnlineKeySpec, settings: Settings, env: SignerEnv) -> Key:
    sigstore = spec.uri.startswith("sigstore")
    return online_key(
        spec.uri, env=env, identity=spec.identity, issuer=spec.issuer,
        remote_url=git.remote_url(settings.pull_remote) if sigstore else None,
    )  # fmt: skip


def init_repository(
    git: GitRepo,
    event: str,
    *,
    settings: Settings,
    signers: UserSigners,
    changes: dict[str, RoleChange],
    online: OnlineKeySpec,
    now: datetime,
    push: bool = True,
    handlers: Handlers | None = None,
) -> EventEditResult:
    """Create a new repository (root and targets v1) on ``event`` and push it.

    Args:
        git: the maintainer's checkout (not touched).
        event: the event branch, ``sign/<name>``.
        settings: the maintainer's settings.
        signers: the maintainer's key and signers.
        changes: per top-level role settings; root and targets are signed by
            the maintainer unless ``signers`` is given for them.
        online: the online key of snapshot and timestamp.
        now: the current time.
        push: push to the push remote; else a local branch.
        handlers: progress, warnings and questions.

    Raises:
        UsageError: invalid settings (threshold, periods, roles).
        RejectedError: the event already has a repository.
        GitStateError: fetch or push failed.
        SignerUnavailableError: a key could not be read or signing failed.
    """
    handlers = handlers or Handlers()
    me = settings.user_name
    changes = {role: RoleChange(**vars(change)) for role, change in changes.items()}
    for role in (ROOT, TARGETS):  # default signer: the invoking user
        change = changes.setdefault(role, RoleChange())
        change.signers = change.signers or [me]
    key = _online_key(git, online, settings, signers.env)
    changes.setdefault(TIMESTAMP, RoleChange()).online_key = key
    session = _open(git, event, settings, now, handlers)
    evt = session.event
    my_key = signers.public_key() if needs_user_key(evt, changes, me) else None
    result = editing.init_repository(evt, changes, user=me, user_key=my_key)
    for path in TEMPLATE_READMES:
        session.store.delete(path)
    session.commit("Initial root and targets")
    handlers.say("Created root and targets.")
    for handle, roles in sorted(result.invited.items()):
        handlers.say(f"Invited {handle} to sign {', '.join(roles)}")
    signed = sign_owed(session, me, signers, handlers)
    where = session.publish(push=push)
    return EventEditResult(
        event, commit=session.base, signed=tuple(signed), invited=result.invited,
        pushed=push, where=where,
    )  # fmt: skip


def change_delegation(
    git: GitRepo,
    event: str,
    roles: list[str],
    change: RoleChange,
    *,
    settings: Settings,
    signers: UserSigners,
    now: datetime,
    online: OnlineKeySpec | None = None,
    remove: bool = False,
    push: bool = True,
    handlers: Handlers | None = None,
) -> EventEditResult:
    """Change ``roles`` (or remove delegations) on ``event`` the same way, and push it.

    A role that does not exist is created as a delegation from targets
    covering ``ROLE/...``, signed by the maintainer unless ``change.signers``
    says otherwise; handles without a key are invited.

    Args:
        git: the maintainer's checkout (not touched).
        event: the event branch, ``sign/<name>``.
        roles: the roles to change (at least one).
        change: the settings to apply (None fields are left as they are).
        settings: the maintainer's settings.
        signers: the maintainer's key and signers.
        now: the current time.
        online: an online key for the roles (timestamp, snapshot, an online delegation).
        remove: remove the delegated roles instead (``change`` must be empty).
        push: push to the push remote; else a local branch.
        handlers: progress, warnings and questions.

    Raises:
        UsageError: no role, ``remove`` with settings, or invalid settings.
        RejectedError: no repository on the event yet.
        GitStateError: fetch or push failed.
        SignerUnavailableError: a key could not be read or signing failed.
    """
    handlers = handlers or Handlers()
    names = list(dict.fromkeys(roles))
    if not names:
        raise UsageError("ROLE is required", hint="name the role to change")
    settings_given = online is not None or any(
        value is not None for name, value in vars(change).items() if name != "terminating"
    )
    if remove and settings_given:
        raise UsageError("--remove takes no other role settings")
    change = RoleChange(**vars(change))
    if online is not None:
        change.online_key = _online_key(git, online, settings, signers.env)
    me = settings.user_name
    session = _open(git, event, settings, now, handlers)
    evt = session.event
    is_new_role = any(not evt.repo.exists(n) and evt.repo.delegator_name(n) is None for n in names)
    wants_me = needs_user_key(evt, dict.fromkeys(names, change), me) or (
        is_new_role
        and change.signers is None
        and change.online_key is None
        and me not in evt.known_handles()
    )
    my_key = signers.public_key() if wants_me else None
    invited: dict[str, list[str]] = {}
    for name in names:
        result = (
            remove_delegation(evt, name)
            if remove
            else configure_role(evt, name, change, user=me, user_key=my_key)
        )
        for handle, invited_roles in result.invited.items():
            invited.setdefault(handle, []).extend(invited_roles)
    message = f"Remove {', '.join(names)}" if remove else f"Change {', '.join(names)}"
    if session.commit(message) is None:
        handlers.say("Nothing to do.")
        return EventEditResult(event, changed=False)
    for handle, invited_roles in sorted(invited.items()):
        handlers.say(f"Invited {handle} to sign {', '.join(invited_roles)}")
    signed = sign_owed(session, me, signers, handlers)
    where = session.publish(push=push)
    return EventEditResult(
        event, commit=session.base, signed=tuple(signed), invited=invited, pushed=push,
        where=where,
    )  # fmt: skip


__all__ = [
    "TEMPLATE_READMES",
    "EventEditResult",
    "OnlineKeySpec",
    "change_delegation",
    "init_repository",
]
