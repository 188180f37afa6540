"""Helpers shared by commands: options, settings, handlers, signer chains, summaries.

The operations live in :mod:`tufrepo.ops`; this module builds what they need
from the command line and the terminal (:func:`cli_handlers`,
:func:`user_signers`, :func:`secrets_handler`) and renders summaries.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from tufrepo.errors import GitStateError, SignerUnavailableError, UsageError
from tufrepo.settings import Settings, load_settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from tufrepo.cli.app import App
    from tufrepo.ops.handlers import Handlers
    from tufrepo.ops.keys import SignerEnv, UserSigners
    from tufrepo.ops.status import RoleStatus
    from tufrepo.ops.summary import Change as SummaryChange
    from tufrepo.ops.summary import RoleSummary

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


SIGSTORE_TOKEN_ENV = "SIGSTORE_IDENTITY_TOKEN"  # noqa: S105 - a variable name, not a secret


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


def signer_env(app: App, settings: Settings | None = None) -> SignerEnv:
    """What the environment (and the settings file) say about signers."""
    from tufrepo.ops.keys import SignerEnv

    return SignerEnv(
        path_prefix=app.env(PATH_PREFIX_ENV),
        pykcs11lib=(settings.pykcs11lib if settings else None) or app.env("PYKCS11LIB"),
        sigstore_token=app.env(SIGSTORE_TOKEN_ENV),
    )


def user_signers(app: App, settings: Settings, key_uri: str | None) -> UserSigners:
    """The user's signer chain: --key, then [signing-keys], then asking on a terminal."""
    from tufrepo.ops.keys import UserSigners

    return UserSigners(
        settings,
        key_uri,
        env=signer_env(app),
        secrets=secrets_handler(app),  # one per run: a piped PIN is read once
        ask=(lambda question: app.prompt(question, missing="--key URI"))
        if app.interactive
        else None,
    )


def cli_handlers(app: App, *, yes: bool = False) -> Handlers:
    """Handlers that print through ``app`` and ask on a terminal (``yes``: never ask to confirm).

    Without a terminal nothing is asked: questions are answered yes and a
    failed signer is not retried.
    """
    from tufrepo.ops.handlers import Handlers

    def confirm(question: str) -> bool:
        # On stderr with --json, like the rest of the human output: stdout is the result.
        return yes or not app.interactive or click.confirm(question, err=app.json_output)

    def retry_signer(error: SignerUnavailableError) -> bool:
        if not app.interactive:
            return False
        app.warn(str(error) + (f" ({error.hint})" if error.hint else ""))
        return bool(click.confirm("Try again?", default=True))

    def show_summary(summary: RoleSummary) -> None:
        for line in summary_lines(summary):
            app.say(line)

    return Handlers(
        say=app.say, warn=app.warn, confirm=confirm, retry_signer=retry_signer,
        show_summary=show_summary,
    )  # fmt: skip


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
    from tufrepo.ops.status import Change
    from tufrepo.ops.summary import RoleSummary

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
    from tufrepo.ops.summary import Kind as SummaryKind

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
    from tufrepo.ops.summary import Kind as SummaryKind

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
    from tufrepo.ops.online import judge_checkout

    judge_checkout(app.git(), anchor, action, now=app.now(), handlers=cli_handlers(app))


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
    from tufrepo.ops.session import known_good_of

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
