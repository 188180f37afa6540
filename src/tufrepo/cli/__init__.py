"""tufrepo's command line: one click group; errors mapped to exit codes in one place."""

from __future__ import annotations

import importlib
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from tufrepo import __version__
from tufrepo.cli.app import App
from tufrepo.cli.commands import COMMANDS
from tufrepo.errors import ExitCode, TufRepoError

if TYPE_CHECKING:
    from collections.abc import Callable

TRUST_CONFIG_ENV = "TUFREPO_SIGSTORE_TRUST_CONFIG"
# Named only to say in --help that it is ignored: the tree under judgement never
# chooses the Sigstore instance that judges its signatures.
TRUST_CONFIG_FILE = "sigstore-trust-config.json"


def _parse_now(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise click.BadParameter(f"not an ISO 8601 time: {value}") from e
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class _Group(click.Group):
    """The root group: keeps --help in listing order and maps errors to exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; failures are mapped to exit codes by :func:`_invoke_mapped`."""
        return _invoke_mapped(ctx, lambda: super(_Group, self).invoke(ctx))


def _invoke_mapped(ctx: click.Context, run: Callable[[], object]) -> object:
    """Run a command; map every failure to its exit code here, and nowhere else.

    A failure prints ``error:`` (and ``hint:`` when there is advice), with
    -v also its causes and traceback, and with --json one JSON document
    (see :meth:`App.fail`).  ``tufrepo`` and ``repo-sign`` both run through it.
    """
    try:
        value = run()
    except TufRepoError as e:
        _fail(ctx, str(e), _advise(e), e.exit_code, e)
    except click.exceptions.Exit:  # ctx.exit(code): the command chose its code
        _app(ctx).finish()
        raise
    except click.ClickException as e:  # usage errors: click prints them on stderr
        _app(ctx).fail(e.format_message(), hint=None, exit_code=e.exit_code, lines=False)
        raise
    except click.Abort:  # click prints "Aborted!" and exits 1
        _app(ctx).fail("aborted", hint=None, exit_code=ExitCode.INTERNAL, lines=False)
        raise
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        _app(ctx).fail("interrupted", hint=None, exit_code=130, lines=False)
        ctx.exit(130)
    except Exception as e:  # noqa: BLE001 - the one place that reports bugs
        # A bug: say so in one line; the traceback is for -v.
        hint = _advise(e) or (None if _app(ctx).verbose else "run again with -v for details")
        _fail(ctx, f"internal error: {type(e).__name__}: {e}", hint, ExitCode.INTERNAL, e)
    _app(ctx).finish()
    return value


def _advise(error: BaseException) -> str | None:
    # imported on failure only: tufrepo.advice loads python-tuf (#14: --help stays light)
    from tufrepo.advice import advise

    return advise(error)


def _app(ctx: click.Context) -> App:
    """The run's App; a bare one from the global options when the failure came first."""
    if isinstance(ctx.obj, App):
        return ctx.obj
    return App(
        verbose=int(ctx.params.get("verbose") or 0),
        json_output=bool(ctx.params.get("json_output")),
    )


def _fail(
    ctx: click.Context,
    message: str,
    hint: str | None,
    code: int,
    error: BaseException | None = None,
) -> NoReturn:
    _app(ctx).fail(message, hint=hint, exit_code=int(code), error=error)
    ctx.exit(int(code))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tufrepo")
@click.option(
    "-C",
    "--repo",
    "repo_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Work in this checkout instead of the current directory.",
)
@click.option("-v", "--verbose", count=True, help="More detail; tracebacks on errors.")
@click.option(
    "--json",
    "json_output",
    is_flag=True,
    help="Print one JSON object on stdout: the result; on failure also error, hint, exit_code.",
)
@click.option("--no-color", is_flag=True, help="Plain output without colours.")
@click.option(
    "--now",
    callback=_parse_now,
    metavar="ISO8601",
    help="Act as if the current time were this (dry runs of expiry; tests).",
)
@click.option(
    "--sigstore-trust-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The Sigstore instance (a ClientTrustConfig JSON file) for signing and every "
    f"verification [env {TRUST_CONFIG_ENV}; else production]. A {TRUST_CONFIG_FILE} in the "
    "checkout is never used: whoever can push to the repository could point it at their own "
    "Fulcio and Rekor and make forged signatures count.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    repo_dir: Path | None,
    verbose: int,
    json_output: bool,
    no_color: bool,
    now: datetime | None,
    sigstore_trust_config: Path | None,
) -> None:
    """Manage a TUF repository kept in git, with signing events.

    Metadata lives in metadata/, artifacts in targets/. Changes to root,
    targets and delegated roles happen on signing-event branches (sign/*),
    which signers sign with `repo-sign sign/<event>`; CI online-signs
    snapshot and timestamp on main and publishes the result.

    Exit codes: 0 success (including nothing to do), 1 internal error,
    2 usage, 3 waiting for signatures, 4 rejected input or metadata,
    5 git/remote failure, 6 signer failure.
    """
    from tufrepo.core import sizes

    app = App(
        repo_dir=repo_dir,
        verbose=verbose,
        json_output=json_output,
        color=not no_color and App.env("NO_COLOR") is None,
        now_override=now,
    )
    ctx.obj = app
    ctx.call_on_close(app.close)
    app.start_logging()
    ctx.with_resource(app.progress_reporting())
    # One Sigstore instance for the whole process, chosen before any metadata is
    # parsed; registered when the command runs, so --help never loads it (#14).
    trust_config = _trust_config(sigstore_trust_config)
    app.before_command(lambda: _register_sigstore(trust_config))
    # The size budget of targets roles: TUFREPO_SIZE_BUDGET (bytes) can only lower it.
    sizes.configure(App.env(sizes.ENV_VAR))


def _register_sigstore(trust_config: Path | None) -> None:
    # placeholders: Sigstore support itself loads with the first Sigstore key (#14)
    from tufrepo.signers import sigstore_lazy

    sigstore_lazy.register(trust_config)


def _trust_config(option: Path | None) -> Path | None:
    """--sigstore-trust-config, else $TUFREPO_SIGSTORE_TRUST_CONFIG, else None (production).

    Never a file from the checkout: the verifier chooses the instance, not the
    tree being verified (see TRUST_CONFIG_FILE).
    """
    if option is not None:
        return option
    env = App.env(TRUST_CONFIG_ENV)
    return Path(env) if env else None


def main() -> None:
    """Entry point of the ``tufrepo`` console script."""
    _printable_output()
    cli.main(prog_name="tufrepo")


def _printable_output() -> None:
    """Write what the terminal cannot encode as escapes, never crash on it.

    A file name that is not UTF-8 reaches Python as lone surrogates, and a
    finding naming it would make stdout (strict, unlike stderr) raise: a
    hostile tree must be judged, not crash the tool (red team, #14).
    """
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


class _RepoSign(click.Command):
    """``repo-sign``: ``tufrepo sign`` as a command of its own, with tufrepo's global options.

    Its usage reads ``repo-sign [OPTIONS] EVENT``; the global options (-C,
    --json, -v, --now, ...) go anywhere before or after EVENT; failures are
    mapped to exit codes exactly as for ``tufrepo sign``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # click's parser consumes the list
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as e:
            if "--json" in given:  # one JSON document even for a usage error
                App(json_output=True).fail(
                    e.format_message(), hint=None, exit_code=e.exit_code, lines=False
                )
            raise

    def invoke(self, ctx: click.Context) -> object:
        return _invoke_mapped(ctx, lambda: super(_RepoSign, self).invoke(ctx))


def repo_sign_command() -> click.Command:
    """The ``repo-sign`` command: the group's global options plus ``sign``'s own."""
    from tufrepo.cli.sign import sign_command

    global_names = [p.name for p in cli.params if p.name != "version"]

    @click.pass_context
    def callback(ctx: click.Context, /, **values: object) -> object:
        ctx.invoke(cli.callback, **{n: values.pop(n) for n in global_names})  # type: ignore[arg-type]
        if sign_command.callback is None:  # pragma: no cover - a click command always has one
            raise TypeError("sign has no callback")
        return ctx.invoke(sign_command.callback, **values)

    version = click.version_option(__version__, prog_name="repo-sign")
    command = _RepoSign(
        "repo-sign",
        params=[p for p in cli.params if p.name != "version"] + list(sign_command.params),
        callback=callback,
        help=sign_command.help,
        short_help=sign_command.short_help,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    return version(command)


def sign_main() -> None:
    """Entry point of ``repo-sign``: the same as ``tufrepo sign``, with the global options."""
    _printable_output()
    repo_sign_command().main(args=sys.argv[1:], prog_name="repo-sign")
