"""Helpers shared by commands: settings, keys, signers, summaries."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from tufrepo import signers
from tufrepo.core import fields
from tufrepo.errors import GitStateError, RejectedError, SignerUnavailableError, UsageError
from tufrepo.ops.session import EventSession
from tufrepo.ops.signing import sign_roles
from tufrepo.ops.status import Change, RoleStatus
from tufrepo.ops.summary import Change as SummaryChange
from tufrepo.ops.summary import Kind as SummaryKind
from tufrepo.ops.summary import RoleSummary, summarize_event_role
from tufrepo.settings import Settings, load_settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from securesystemslib.signer import Key, Signer

    from tufrepo.cli.app import App
    from tufrepo.gitrepo import GitRepo

PATH_PREFIX_ENV = "CRYPTO_SIGNER_PATH_PREFIX"

push_option = click.option(
    "--push/--no-push",
    default=True,
    show_default=True,
    help="Push the event to the push remote, or only update a local branch of that name.",
)
key_option = click.option(
    "--key",
    "key_uri",
    metavar="URI",
    help="Your signing key as a signer URI (e.g. file2:path/key.pem). Enrols it when you "
    "become a signer; selects it when signing.",
)
user_option = click.option(
    "--user",
    metavar="@HANDLE",
    help="Act as this user instead of the settings file's user-name.",
)


def editor_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by commands that edit an event: Sigstore identity, key, user, push."""
    for option in reversed(
        [
            click.option(
                "--sigstore-identity",
                metavar="IDENTITY",
                help="With --online-key sigstore: the CI identity that signs (default: this "
                "repository's online-sign workflow on GitHub, from the remote URL).",
            ),
            click.option(
                "--sigstore-issuer",
                metavar="URL",
                help="With --online-key sigstore: the OIDC issuer (default: GitHub Actions, or the "
                "GitLab instance for a GitLab pipeline identity).",
            ),
            key_option,
            user_option,
            push_option,
        ]
    ):
        function = option(function)
    return function


def settings_for(app: App, user: str | None) -> Settings:
    """The invoking user's settings (the settings file, or --user)."""
    return load_settings(app.git().top, user_override=user)


def open_session(
    app: App, event: str, settings: Settings, *, must_exist: bool = False
) -> EventSession:
    """Fetch and open an event branch without touching the work tree.

    Raises:
        GitStateError: ``must_exist`` and the event is on neither the pull
            remote nor a local branch (a mistyped name must not be "nothing to do").
    """
    session = EventSession(
        app.git(),
        event,
        pull_remote=settings.pull_remote,
        push_remote=settings.push_remote,
        now=app.now(),
    )
    if session.is_new and must_exist:
        raise GitStateError(
            f"there is no signing event {event} on {settings.pull_remote}",
            hint=f"check the name: git ls-remote --heads {settings.pull_remote} 'sign/*'",
        )
    if session.is_new:
        app.say(f"Event {event} does not exist yet: starting it from {settings.pull_remote}/main")
    else:
        app.say(f"Signing event {event} (commit {session.short_base})")
    return session


SIGSTORE_TOKEN_ENV = "SIGSTORE_IDENTITY_TOKEN"  # noqa: S105 - a variable name, not a secret


def pykcs11lib(app: App, settings: Settings | None = None) -> str | None:
    """The PKCS#11 module: the settings file's pykcs11lib, else PYKCS11LIB (else probed)."""
    return (settings.pykcs11lib if settings else None) or app.env("PYKCS11LIB")


def import_key(app: App, uri: str, settings: Settings | None = None) -> Key:
    """The public key of a signer URI (relative file2: paths use CRYPTO_SIGNER_PATH_PREFIX)."""
    return signers.import_key(
        uri, path_prefix=app.env(PATH_PREFIX_ENV), pykcs11lib=pykcs11lib(app, settings)
    )


def user_key(app: App, key_uri: str | None, settings: Settings | None = None) -> Key:
    """The user's public key from --key, or asked for on a terminal.

    ``--key sigstore`` enrols the user's Sigstore identity: from
    SIGSTORE_IDENTITY_TOKEN when set, else through a browser sign-in.
    """
    uri = key_uri or app.prompt(
        "Signer URI of your key (e.g. file2:key.pem, hsm, sigstore)", missing="--key URI"
    )
    if uri in ("sigstore", "sigstore:?ambient=false"):
        from tufrepo.signers import sigstore  # noqa: PLC0415 - sigstore loads only when used

        return sigstore.enrol_person(app.env(SIGSTORE_TOKEN_ENV))[1]
    return import_key(app, uri, settings)


def online_key_from(
    app: App,
    uri: str,
    identity: str | None = None,
    issuer: str | None = None,
    *,
    remote: str = "origin",
) -> Key:
    """The online key for ``--online-key URI``, tagged with its URI for CI.

    ``sigstore`` means this repository's online-sign workflow identity on GitHub
    Actions (derived from the pull remote's URL, or --sigstore-identity/-issuer).
    """
    if uri in ("sigstore", "sigstore:"):
        from tufrepo.signers import sigstore  # noqa: PLC0415 - sigstore loads only when used

        if identity is None:
            identity = sigstore.workflow_identity(app.git().remote_url(remote))
        signer_uri, key = sigstore.enrol_workflow(identity, issuer)
        return fields.online_key(key, signer_uri)
    return fields.online_key(import_key(app, uri), uri)


def secrets_handler(app: App) -> Callable[[str], str]:
    """Asks for PINs and passphrases on the terminal; without one, reads a line from stdin.

    Reading stdin when it is not a terminal lets scripts and tests pipe a PIN
    (as tuf-on-ci-sign does); with nothing on stdin the error says what to do.
    """
    answers: dict[str, str] = {}

    def ask(secret: str) -> str:
        if app.interactive:  # asked each time, so a retry can take a corrected PIN
            return str(
                click.prompt(
                    f"Enter {secret} to sign (touch the key if it blinks)", hide_input=True
                )
            )
        if secret not in answers:  # stdin holds one answer per secret
            line = sys.stdin.readline()
            if not line:
                raise SignerUnavailableError(
                    f"the signer needs a {secret} but there is no terminal to ask on",
                    hint=f"run the command in a terminal, or pipe the {secret} on stdin",
                )
            answers[secret] = line.rstrip("\n")
        return answers[secret]

    return ask


def sign_with_retry(app: App, sign: Callable[[], list[Any]]) -> list[Any]:
    """Run a signing step; on a terminal, offer to retry after a failed touch or PIN."""
    while True:
        try:
            return sign()
        except SignerUnavailableError as e:
            if not app.interactive:
                raise
            app.warn(str(e) + (f" ({e.hint})" if e.hint else ""))
            if not click.confirm("Try again?", default=True):
                raise


def signer_provider(app: App, settings: Settings, key_uri: str | None) -> Callable[[Key], Signer]:
    """Returns the signer for one of the user's keys: --key, then [signing-keys], then a prompt."""
    cache: dict[str, Signer] = {}
    prefix = app.env(PATH_PREFIX_ENV)
    handler = secrets_handler(app)  # one per run: a piped PIN is read once

    def signer_for(key: Key) -> Signer:
        if key.keyid in cache:
            return cache[key.keyid]
        configured = settings.signing_keys.get(key.keyid)
        candidates = [u for u in (key_uri, configured) if u]
        if not candidates and key.keytype == "sigstore-oidc":
            candidates = ["sigstore"]  # the key says who signs: sign in as that identity
        if not candidates:
            candidates = [
                app.prompt(f"Signer URI for your key {key.keyid[:8]}", missing="--key URI")
            ]
        error: SignerUnavailableError | None = None
        for candidate in candidates:
            uri = "sigstore:?ambient=false" if candidate == "sigstore" else candidate
            try:
                signer = signers.load_signer(
                    uri, key, handler, path_prefix=prefix,
                    pykcs11lib=pykcs11lib(app, settings), sigstore_token=app.env(SIGSTORE_TOKEN_ENV),
                )  # fmt: skip
            except SignerUnavailableError as e:
                error = error or e
                continue
            cache[key.keyid] = signer
            return signer
        assert error is not None  # noqa: S101 - candidates is never empty
        raise error

    return signer_for


def parse_role_values(
    values: tuple[str, ...], option: str, roles: tuple[str, ...]
) -> dict[str, list[str]]:
    """Parse repeated ``ROLE=VALUE`` options into role -> values."""
    result: dict[str, list[str]] = {}
    for item in values:
        role, sep, value = item.partition("=")
        if not sep or not value:
            raise UsageError(f"{option} {item!r} is not ROLE=VALUE")
        if role not in roles:
            raise UsageError(
                f"{option}: unknown role {role!r}", hint=f"choose one of {', '.join(roles)}"
            )
        result.setdefault(role, []).append(value)
    return result


def parse_int(value: str, option: str) -> int:
    """An integer option value, or a usage error naming the option."""
    try:
        return int(value)
    except ValueError as e:
        raise UsageError(f"{option}: {value!r} is not a whole number") from e


def _date(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else "-"


def summary_lines(status: RoleSummary | RoleStatus) -> list[str]:
    """A human summary of one role's change, shown before signing: one line per change.

    Given a :class:`~tufrepo.ops.summary.RoleSummary` (what ``repo-sign`` shows) it lists
    every change the signer vouches for, grouped by the role it concerns.  A
    :class:`~tufrepo.ops.status.RoleStatus` gives the shorter status view.
    """
    if isinstance(status, RoleSummary):
        return role_summary_lines(status)
    if status.removed:
        return [f"{status.role}: removed"]
    head = f"{status.role} v{status.version}"
    if status.known_good_version:
        head += f" (known good: v{status.known_good_version})"
    else:
        head += " (new)"
    lines = [head]
    if status.expires != status.known_good_expires:
        lines.append(
            f" * expires {_date(status.expires)} (currently {_date(status.known_good_expires)})"
        )
    if status.periods and status.periods != status.known_good_periods:
        text = f" * expiry period {status.periods.expiry} days, signing period {status.periods.signing} days"
        if status.known_good_periods:
            old = status.known_good_periods
            text += f" (was {old.expiry} / {old.signing})"
        lines.append(text)
    for d in status.delegation_changes:
        if d.change is Change.REMOVED:
            lines.append(f" * removed delegation {d.role}")
            continue
        text = f" * {'new' if d.change is Change.ADDED else 'changed'} delegation {d.role}: "
        text += f"{', '.join(d.signers) or 'no signers yet'} ({d.threshold} required)"
        if d.change is Change.MODIFIED:
            if (d.old_signers, d.old_threshold) != (d.signers, d.threshold):
                text += f" (was: {', '.join(d.old_signers)} ({d.old_threshold} required))"
            else:  # never "(was: X)" equal to X: something else changed
                text += " (signers and threshold unchanged; other settings changed)"
        lines.append(text)
    lines.extend(f" * {c.change.value} artifact '{c.path}'" for c in status.target_changes)
    return lines


def role_summary_lines(summary: RoleSummary) -> list[str]:
    """``targets v3 (known good: v2)`` then `` * <change>`` for every change, grouped by role.

    Changes about the role itself come first, then those about each role it
    delegates (prefixed ``<role>:``), then artifacts.
    """
    if summary.removed:
        return [f"{summary.role}: removed (known good: v{summary.known_good_version})"]
    head = f"{summary.role} v{summary.version}"
    head += " (new)" if summary.is_new else f" (known good: v{summary.known_good_version})"
    changes = [c for c in summary.changes if c.kind is not SummaryKind.VERSION]
    if not changes:
        return [head, " * no change besides the version"]
    return [head, *(f" * {c.text}" for c in _grouped(changes))]


def _grouped(changes: list[SummaryChange]) -> list[SummaryChange]:
    """Changes of the role itself first, then each subject's together, in first-seen order."""
    order: dict[str | None, int] = {None: 0}
    for c in changes:
        order.setdefault(c.subject, len(order))
    artifact = {
        SummaryKind.ARTIFACT_ADDED,
        SummaryKind.ARTIFACT_MODIFIED,
        SummaryKind.ARTIFACT_REMOVED,
    }
    return sorted(
        changes, key=lambda c: (c.kind in artifact, order[c.subject] if c.subject else 0)
    )


def signer_count(status: RoleStatus) -> str:
    """``1/2 (2/2)``: known-good root count first for root, as tuf-on-ci shows it."""
    if status.signers is None:
        return "0/?"
    new = f"{len(status.signers.signed)}/{status.signers.threshold}"
    if status.known_good_signers is not None:
        kg = status.known_good_signers
        return f"{len(kg.signed)}/{kg.threshold} ({new})"
    return new


anchor_option = click.option(
    "--anchor",
    metavar="URL|DIR",
    envvar="TUFREPO_ANCHOR",
    help="Known good for main: the published metadata clients already trust (the site's "
    "metadata URL, or a directory with a previous publish output) [env TUFREPO_ANCHOR]. "
    "Default, or when nothing is published there yet: main's first-parent history, judged "
    "from its first online-signed state.",
)


def judge_main_checkout(app: App, anchor: str | None, action: str) -> None:
    """Judge the checkout (main) from its anchor; refuse (exit 4) on any error, show warnings."""
    from tufrepo.core.repository import TufRepository  # noqa: PLC0415
    from tufrepo.core.store import WorktreeStore  # noqa: PLC0415
    from tufrepo.ops.anchor import judge_main_state, require_main  # noqa: PLC0415

    git = app.git()
    head = git.head()  # None: no history yet, the work tree is the first state
    store = WorktreeStore(git.top)
    repo = TufRepository(store, now=app.now())
    verdict = judge_main_state(repo, store, git=git, rev=head, anchor_source=anchor, now=app.now())
    for finding in require_main(verdict, action):
        app.warn(str(finding))
    app.say(f"Main is a valid successor of {verdict.anchor}.")


remote_option = click.option(
    "--remote",
    default="origin",
    show_default=True,
    help="The remote whose main branch is known good.",
)


def checkout_known_good(app: App, remote: str) -> str | None:
    """The known-good commit of the checked-out event: merge-base of HEAD and <remote>/main.

    None only for a new repository (main has no metadata yet).

    Raises:
        GitStateError: no main to compare with, or a shallow checkout that
            cannot be deepened (a shallow history can hide the real merge-base).
        RejectedError: the event shares no history with a main that has metadata.
    """
    git = app.git()
    main = git.rev(f"refs/remotes/{remote}/main") or None
    head = git.head()
    if head is None:
        raise GitStateError("this checkout has no commits yet")
    if main is None:
        raise GitStateError(
            f"no {remote}/main to compare with",
            hint=f"fetch it first: git fetch {remote} main (in CI: fetch-depth: 0)",
        )
    return known_good_of(git, remote, main, head)


def known_good_of(git: GitRepo, remote: str, main: str, head: str) -> str | None:
    """Known good for an event at ``head``: its merge-base with ``main``, established or refused."""
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
        main = git.rev(f"refs/remotes/{remote}/main") or main
    base = git.merge_base(main, head)
    if base is None and git.read_blob(main, "metadata/root.json") is not None:
        # Attack: a complete repository signed by an outsider, pushed as an
        # event with no history in common with main.
        raise RejectedError(
            "the event shares no history with main, which already holds a repository",
            hint="start the event from main: git switch -c sign/<name> origin/main",
        )
    return base


def sign_what_i_owe(
    app: App, session: EventSession, settings: Settings, key_uri: str | None
) -> list[str]:
    """After an edit, sign the roles the user owes, when a key is at hand.

    Without --key, a [signing-keys] entry or a terminal to ask on, the change
    is still published and the user is told how to sign it later.
    """
    me = settings.user_name
    owed = session.event.roles_needing_signature(me)
    if not owed:
        return []
    keyids = {
        k.keyid
        for role in owed
        for k in session.event.repo.expected_keys(role).values()
        if fields.keyowner(k) == me and k.keytype != "sigstore-oidc"  # those name their signer
    }
    if not (key_uri or app.interactive or keyids <= settings.signing_keys.keys()):
        app.warn(
            f"not signing {', '.join(owed)}: no key given; sign later with "
            f"`repo-sign {session.name} --key URI`"
        )
        return []
    for role in owed:
        for line in summary_lines(summarize_event_role(session.event, role)):
            app.say(line)
    provider = signer_provider(app, settings, key_uri)
    sign_with_retry(app, lambda: sign_roles(session.event, me, provider))
    session.commit(f"Signature from {me}")
    app.say(f"Signed {', '.join(owed)} as {me}.")
    return owed
