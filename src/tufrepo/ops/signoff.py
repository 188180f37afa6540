"""A signer's sign-off on a signing event: the operation behind ``repo-sign EVENT``.

:func:`sign_event` fetches the event, refuses an invalid one, accepts the
user's invitations, shows what changed in every role the user signs, asks
(through :class:`~tufrepo.ops.handlers.Handlers`) whether to go on, signs,
verifies each new signature and pushes.  When the push loses a race with
another signer's push (the branch moved, or its ref was locked by a
concurrent push, see :class:`~tufrepo.errors.TransientGitError`) it fetches
again, validates the new tip and carries its signatures over, under a
:class:`~tufrepo.ops.handlers.RetryPolicy`; it never force-pushes and never
signs content the user has not seen::

    from tufrepo.gitrepo import GitRepo
    from tufrepo.ops.keys import UserSigners
    from tufrepo.settings import load_settings

    with GitRepo.discover(Path.cwd()) as git:
        settings = load_settings(git.top)
        signers = UserSigners(settings, key_uri="file2:/home/alice/alice.pem")
        result = sign_event(git, "sign/add-release", settings, signers, now=now)
    result.signed  # ("targets",)

:func:`sign_owed` is the signing step the maintainers' edits share.

Not for: prompting or printing (handlers come in), loading keys (see ``keys``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tufrepo.core import fields
from tufrepo.core.constants import ROOT
from tufrepo.errors import GitStateError, PushRejectedError, RejectedError
from tufrepo.gitrepo import GitTreeStore
from tufrepo.ops.editing import accept_invites
from tufrepo.ops.forge import ReviewLink, review_link
from tufrepo.ops.handlers import Handlers, RetryPolicy, sign_with_retry
from tufrepo.ops.session import EventSession, open_session
from tufrepo.ops.signing import SignResult, reapply, sign_roles
from tufrepo.ops.status import EventState, event_status
from tufrepo.ops.summary import summarize_event_role

if TYPE_CHECKING:
    from datetime import datetime

    from tufrepo.gitrepo import GitRepo
    from tufrepo.ops.keys import UserSigners
    from tufrepo.settings import Settings

MAX_FINDINGS = 3


@dataclass(frozen=True)
class SignEventResult:
    """What one :func:`sign_event` run did.

    Attributes:
        event: the event's branch name.
        signed: roles signed, in signing order (empty when nothing was owed or declined).
        accepted: roles whose invitation the user accepted.
        commit: the event's tip after the run (what was pushed or saved).
        pushed: the result went to the push remote (False: a local branch, or nothing).
        declined: the user answered no; nothing was saved or pushed.
        where: where the result went (``origin/sign/x``, ``local branch sign/x``), or None.
        review: the page that proposes the event upstream, after a push to a fork.
        signatures: every signature made.
    """

    event: str
    signed: tuple[str, ...] = ()
    accepted: tuple[str, ...] = ()
    commit: str | None = None
    pushed: bool = False
    declined: bool = False
    where: str | None = None
    review: ReviewLink | None = None
    signatures: tuple[SignResult, ...] = ()


def require_valid(
    session: EventSession, handlers: Handlers, *, show_warnings: bool = True
) -> None:
    """Validate the event as ``status`` does; refuse to sign an invalid one.

    Raises:
        RejectedError: the event has errors; the first few are named.
    """
    git, known_good = session.git, session.known_good_rev
    status = event_status(
        session.event,
        changed_files=git.changed_paths(known_good, session.base) if known_good else None,
        main=GitTreeStore(git, session.main) if session.main else None,
    )
    if show_warnings:
        for warning in status.warnings:
            handlers.warn(warning)
    if status.state is not EventState.INVALID:
        return
    errors = status.errors
    shown = "; ".join(str(f.message) for f in errors[:MAX_FINDINGS])
    more = f" (and {len(errors) - MAX_FINDINGS} more)" if len(errors) > MAX_FINDINGS else ""
    handlers.say(f"{session.name} is invalid; refusing to sign it.")
    raise RejectedError(
        shown + more,
        hint="nothing was signed or pushed; `tufrepo status` in a checkout of the event "
        "lists all findings",
    )


def _open(
    git: GitRepo, event: str, settings: Settings, now: datetime, handlers: Handlers
) -> EventSession:
    return open_session(
        git, event, pull_remote=settings.pull_remote, push_remote=settings.push_remote,
        now=now, must_exist=True, say=handlers.say,
    )  # fmt: skip


def sign_event(
    git: GitRepo,
    event: str,
    settings: Settings,
    signers: UserSigners,
    *,
    now: datetime,
    push: bool = True,
    handlers: Handlers | None = None,
    retry: RetryPolicy | None = None,
) -> SignEventResult:
    """Sign what ``settings.user_name`` owes on ``event``, and push it (see the module docstring).

    Args:
        git: the user's checkout (its branch and work tree are not touched).
        event: the event branch, ``sign/<name>``; it must exist on the pull remote.
        settings: the user's settings (user name, remotes).
        signers: the user's key and signers.
        now: the current time.
        push: push to the push remote; else store the result as a local branch.
        handlers: progress, warnings, the "Sign and push?" question and the
            signer-retry question (defaults: log, yes, no retry).
        retry: how often to carry the signatures onto a new tip after a push
            lost a race (default: 3 pushes in all).

    Raises:
        UsageError: ``event`` is not a signing-event name.
        GitStateError: the event does not exist, a fetch failed, a push failed
            (also after the last retry), or signed content changed meanwhile.
        RejectedError: no repository on the event, or the event (or the tip it
            was carried onto) is invalid.
        SignerUnavailableError: signing failed and was not retried.
    """
    handlers = handlers or Handlers()
    retry = retry or RetryPolicy()
    me = settings.user_name
    session = _open(git, event, settings, now, handlers)
    evt = session.event
    if not evt.repo.exists(ROOT):
        raise RejectedError(
            f"no TUF repository on {event}", hint="create one with `tufrepo init sign/init`"
        )
    require_valid(session, handlers)
    accepted: list[str] = []
    if evt.invites.roles_for(me):
        handlers.say(f"You have been invited to sign {', '.join(evt.invites.roles_for(me))}.")
        accepted = accept_invites(evt, me, signers.public_key())
        session.commit(f"{me} accepted invitation")
    owed = session.event.roles_needing_signature(me)
    if not owed:
        handlers.say("Nothing to do." if not accepted else "")
        if not accepted:
            return SignEventResult(event)
        where = session.publish(push=push)
        return SignEventResult(
            event, accepted=tuple(accepted), commit=session.base, pushed=push, where=where,
            review=_review(session, settings) if push else None,
        )  # fmt: skip
    for role in owed:
        handlers.show_summary(summarize_event_role(session.event, role))
    question = "Sign and push?" if push else "Sign (and keep the result local)?"
    if not handlers.confirm(question):
        return SignEventResult(event, declined=True)
    results: list[SignResult] = []

    def sign_all() -> list[SignResult]:
        # Roles already signed verify now and are skipped when retrying.
        results.extend(sign_roles(session.event, me, signers.signer_for))
        return results

    sign_with_retry(handlers, sign_all)
    session.commit(f"Signature from {me}")
    signed = tuple(dict.fromkeys(r.role for r in results))
    handlers.say(f"Signed {', '.join(signed)} as {me}.")
    session, where = _publish(
        session, settings, results, now=now, push=push, accepted=bool(accepted),
        handlers=handlers, retry=retry,
    )  # fmt: skip
    return SignEventResult(
        event, signed=signed, accepted=tuple(accepted), commit=session.base, pushed=push,
        where=where, review=_review(session, settings) if push else None,
        signatures=tuple(results),
    )  # fmt: skip


def _review(session: EventSession, settings: Settings) -> ReviewLink | None:
    """The pull-request page, when the event went to a fork rather than the pull remote."""
    if settings.push_remote == settings.pull_remote:
        return None
    git = session.git
    return review_link(
        git.remote_url(settings.pull_remote), git.remote_url(settings.push_remote), session.name
    )


def _publish(
    session: EventSession,
    settings: Settings,
    results: list[SignResult],
    *,
    now: datetime,
    push: bool,
    accepted: bool,
    handlers: Handlers,
    retry: RetryPolicy,
) -> tuple[EventSession, str]:
    """Push; when another signer's push won the race, carry our signatures onto the new tip.

    An event where we also accepted an invitation is not carried over: the
    acceptance edited metadata, which only a fresh run redoes safely.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return session, session.publish(push=push)
        except GitStateError as e:
            if not push or accepted or not retry.should_retry(e, attempt):
                raise
            if isinstance(e, PushRejectedError):
                handlers.warn(
                    "someone pushed to the event meanwhile; adding your signatures to their tip"
                )
            else:
                handlers.warn(
                    "another push to the event was in progress; adding your signatures to "
                    "the event's current tip"
                )
        session = _open(session.git, session.name, settings, now, handlers)
        require_valid(session, handlers, show_warnings=False)  # their tip is validated too
        changed = reapply(session.event, results)
        if changed:
            raise GitStateError(
                f"{', '.join(changed)} changed while you were signing",
                hint=f"review and sign again: repo-sign {session.name}",
            )
        session.commit(f"Signature from {settings.user_name}")


def sign_owed(
    session: EventSession, user: str, signers: UserSigners, handlers: Handlers
) -> list[str]:
    """After an edit, sign the roles ``user`` owes, when a key is at hand.

    Without a key URI, a ``[signing-keys]`` entry or someone to ask, the
    change is still published and the user is told how to sign it later.

    Returns:
        The roles signed (empty when none was owed or no key was at hand).
    """
    owed = session.event.roles_needing_signature(user)
    if not owed:
        return []
    keyids = {
        k.keyid
        for role in owed
        for k in session.event.repo.expected_keys(role).values()
        if fields.keyowner(k) == user and k.keytype != "sigstore-oidc"  # those name their signer
    }
    if not signers.can_sign(keyids):
        handlers.warn(
            f"not signing {', '.join(owed)}: no key given; sign later with "
            f"`repo-sign {session.name} --key URI`"
        )
        return []
    for role in owed:
        handlers.show_summary(summarize_event_role(session.event, role))
    sign_with_retry(handlers, lambda: sign_roles(session.event, user, signers.signer_for))
    session.commit(f"Signature from {user}")
    handlers.say(f"Signed {', '.join(owed)} as {user}.")
    return owed


__all__ = ["SignEventResult", "require_valid", "sign_event", "sign_owed"]
