"""The application object shared by every command: output, options, environment.

Commands get an :class:`App` from the click context.  It is the only place that
writes to stdout/stderr, reads environment variables, and writes the GitHub
Actions output files.  It also routes the library's log records (module
loggers under ``tufrepo``, and third-party ones) to stderr: ``warning: …``
lines by default, every level with the logger's name under ``-v``.

With ``--json`` stdout carries exactly one JSON document per run, printed when
the command ends (:meth:`App.finish`): the command's result, and on failure
also ``error``, ``hint`` and ``exit_code``.

Long work (hashing artifacts, judging history) announces progress through
:mod:`tufrepo.progress`; :meth:`App.show_progress` draws it on one
overwritten stderr line when stderr is a terminal, and stays silent when it
is not (CI logs) unless ``-v`` asks for occasional ``progress:`` lines.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tufrepo import ci_output, progress
from tufrepo.errors import UsageError, cause_chain

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from tufrepo.gitrepo import GitRepo

PROGRESS_INTERVAL_TTY = 0.1
"""Seconds between redraws of the progress line on a terminal."""
PROGRESS_INTERVAL_LOG = 5.0
"""Seconds between ``progress:`` lines with -v when stderr is not a terminal."""

_R = TypeVar("_R")
_LEVEL_COLORS = {logging.WARNING: "yellow", logging.ERROR: "red", logging.CRITICAL: "red"}


class LogLines(logging.Handler):
    """Log records as ``level: message`` lines on stderr.

    Each record is one line (a message's line breaks become spaces); with
    ``verbose`` the line names the logger (``debug: tufrepo.client: …``) and a
    record's exception follows as a traceback.  Lines go through click, so they
    reach whatever ``sys.stderr`` is when they are written (CliRunner's too).
    """

    def __init__(self, *, verbose: int = 0, color: bool = False) -> None:
        super().__init__()
        self.verbose = verbose
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line, plus its traceback under ``verbose``."""
        message = " ".join(line.strip() for line in record.getMessage().splitlines())
        where = f"{record.name}: " if self.verbose else ""
        text = f"{record.levelname.lower()}: {where}{message}"
        fg = _LEVEL_COLORS.get(record.levelno)
        if self.color and fg:
            text = click.style(text, fg=fg)
        if self.verbose and record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(record.exc_info[1])).rstrip()
        return text

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record to stderr."""
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # noqa: BLE001 - logging must never break the command
            self.handleError(record)


def configure_logging(verbose: int, *, color: bool = False) -> Callable[[], None]:
    """Send log records to stderr as :class:`LogLines`, for this run.

    Without ``-v`` only warnings and errors show (``warning: …``); ``-v``
    adds tufrepo's own debug and everyone's info records, ``-vv`` everyone's
    debug records.  Any logger a module creates with
    ``logging.getLogger(__name__)`` is covered; no module needs to register.

    Returns:
        A function that restores the previous configuration (a nested run,
        such as the demo driving commands, leaves the outer one as it was).
    """
    root = logging.getLogger()
    package = logging.getLogger("tufrepo")
    before = root.level, package.level
    replaced = [h for h in root.handlers if isinstance(h, LogLines)]
    for old in replaced:
        root.removeHandler(old)
    handler = LogLines(verbose=verbose, color=color)
    root.addHandler(handler)
    root.setLevel(
        logging.WARNING if not verbose else logging.INFO if verbose == 1 else logging.DEBUG
    )
    package.setLevel(logging.DEBUG if verbose else logging.NOTSET)

    def restore() -> None:
        root.removeHandler(handler)
        for old in replaced:
            root.addHandler(old)
        root.setLevel(before[0])
        package.setLevel(before[1])

    return restore


@dataclass
class App:
    """Global options and output helpers."""

    repo_dir: Path | None = None
    verbose: int = 0
    json_output: bool = False
    color: bool = True
    now_override: datetime | None = None
    _git: GitRepo | None = field(default=None, repr=False)
    _result: dict[str, Any] | None = field(default=None, repr=False)
    _finished: bool = field(default=False, repr=False)
    _restore_logging: Callable[[], None] | None = field(default=None, repr=False)
    _progress_drawn: bool = field(default=False, repr=False)
    _progress_at: float | None = field(default=None, repr=False)
    _setup: list[Callable[[], None]] = field(default_factory=list, repr=False)

    # --- set-up that --help and --version skip -------------------------------------------

    def before_command(self, step: Callable[[], None]) -> None:
        """Run ``step`` just before the command itself runs (not for --help or --version).

        #14: process-wide set-up that loads heavy modules (the Sigstore
        verifier) happens only when a command really runs.
        """
        self._setup.append(step)

    def ready(self) -> None:
        """Run the pending set-up steps, once (every command's :func:`pass_app` does)."""
        while self._setup:
            self._setup.pop(0)()

    # --- time and environment -----------------------------------------------------

    def now(self) -> datetime:
        """The current time, or the --now override."""
        return (self.now_override or datetime.now(UTC)).replace(microsecond=0)

    @staticmethod
    def env(name: str) -> str | None:
        """An environment variable (the CLI is the only layer that reads them)."""
        value = os.environ.get(name)
        return value or None

    @property
    def interactive(self) -> bool:
        """True when both stdin and stdout are terminals (prompting is allowed)."""
        return sys.stdin.isatty() and sys.stdout.isatty()

    # --- git ---------------------------------------------------------------------------

    def git(self) -> GitRepo:
        """The git checkout the command works on (-C DIR or the working directory)."""
        if self._git is None:
            from tufrepo.gitrepo import GitRepo

            self._git = GitRepo.discover(self.repo_dir or Path.cwd())
        return self._git

    def close(self) -> None:
        """Release resources at exit, and restore the logging configuration."""
        self.end_progress()
        if self._git is not None:
            self._git.close()
            self._git = None
        if self._restore_logging is not None:
            self._restore_logging()
            self._restore_logging = None

    def start_logging(self) -> None:
        """Show log records on stderr for this run, as -v asks (see :func:`configure_logging`)."""
        if self._restore_logging is None:
            self._restore_logging = configure_logging(self.verbose, color=self.color)

    # --- progress ----------------------------------------------------------------------

    def progress_reporting(self) -> AbstractContextManager[None]:
        """Receive the library's progress (:mod:`tufrepo.progress`) while the block runs."""
        return progress.reporting(self.show_progress)

    def show_progress(self, task: str, done: int, total: int | None) -> None:
        """Draw progress: a terminal line, else (with -v) a line now and then, else nothing."""
        tty = sys.stderr.isatty()
        if not tty and not self.verbose:
            return  # CI logs: a line per artifact would drown the log
        now = time.monotonic()
        interval = PROGRESS_INTERVAL_TTY if tty else PROGRESS_INTERVAL_LOG
        finished = total is not None and done >= total
        if self._progress_at is not None and now - self._progress_at < interval and not finished:
            return
        self._progress_at = now
        count = f"{done}/{total}" if total else str(done)
        if tty:
            click.echo(f"\r\x1b[K{task}: {count}", err=True, nl=False)
            self._progress_drawn = True
        else:
            click.echo(f"progress: {task}: {count}", err=True)

    def end_progress(self) -> None:
        """Clear the terminal's progress line before other output, or at the end."""
        if self._progress_drawn:
            click.echo("\r\x1b[K", err=True, nl=False)
            self._progress_drawn = False

    # --- output ------------------------------------------------------------------------

    def say(self, text: str = "", *, fg: str | None = None, bold: bool = False) -> None:
        """Human output: to stdout normally, to stderr when --json owns stdout."""
        styled = click.style(text, fg=fg, bold=bold) if self.color and (fg or bold) else text
        self.end_progress()
        click.echo(styled, err=self.json_output)

    def info(self, text: str) -> None:
        """Verbose-only detail, on stderr."""
        if self.verbose:
            click.echo(text, err=True)

    def warn(self, text: str) -> None:
        """A warning line on stderr."""
        click.echo(
            click.style(f"warning: {text}", fg="yellow") if self.color else f"warning: {text}",
            err=True,
        )

    def result(self, data: dict[str, Any]) -> None:
        """The command's result: CI outputs now; with --json, stdout when the command ends.

        CI outputs are ``$GITHUB_OUTPUT`` (GitHub Actions) and
        ``$TUFREPO_DOTENV`` (a GitLab dotenv report), whichever are set.

        The JSON document is printed once, by :meth:`finish`, so that a
        command failing after its result still prints one document (the
        result with the error).  A second call adds to the first.
        """
        if self.json_output:
            self._result = {**(self._result or {}), **data}
        # Also $TUFREPO_DOTENV (a GitLab dotenv report): see tufrepo.ci_output.
        ci_output.write(data, os.environ)

    def finish(self) -> None:
        """Print the --json result, if the command gave one; the document is printed once."""
        if self.json_output and not self._finished and self._result is not None:
            self._finished = True
            click.echo(json.dumps(self._result, sort_keys=True))

    def fail(
        self,
        message: str,
        *,
        hint: str | None,
        exit_code: int,
        error: BaseException | None = None,
        lines: bool = True,
    ) -> None:
        """Report a failure: ``error:`` and ``hint:`` lines on stderr, and the --json document.

        With -v, the chain of causes and the traceback of ``error`` follow
        the two lines.  With --json, stdout gets one document: the result
        the command gave so far (if any) with ``error``, ``hint`` and
        ``exit_code``; nothing is printed when the document was already out.
        ``lines=False`` prints only the document (click reports its own
        usage errors on stderr).
        """
        self.end_progress()
        if lines:
            click.echo(f"error: {message}", err=True)
            if hint:
                click.echo(f"hint: {hint}", err=True)
        if lines and self.verbose and error is not None:
            for cause in list(cause_chain(error))[1:]:
                click.echo(f"caused by: {type(cause).__name__}: {cause}", err=True)
            click.echo("".join(traceback.format_exception(error)).rstrip(), err=True)
        if self.json_output and not self._finished:
            self._finished = True
            document = {
                **(self._result or {}),
                "error": message,
                "hint": hint,
                "exit_code": exit_code,
            }
            click.echo(json.dumps(document, sort_keys=True))

    def step_summary(self, markdown: str) -> None:
        """Append Markdown to $GITHUB_STEP_SUMMARY when it is set."""
        path = self.env("GITHUB_STEP_SUMMARY")
        if path:
            with Path(path).open("a", encoding="utf-8") as f:
                f.write(markdown.rstrip() + "\n")

    # --- prompting -------------------------------------------------------------------

    def prompt(self, text: str, *, hide: bool = False, missing: str) -> str:
        """Ask on a terminal; elsewhere fail with a usage error naming the flag to pass."""
        if not self.interactive:
            raise UsageError(
                f"{missing} is required", hint=f"pass {missing} (no terminal to ask on)"
            )
        return str(click.prompt(text, hide_input=hide))

    def confirm(self, text: str, *, default: bool = True) -> bool:
        """Ask yes/no on a terminal; elsewhere assume ``default``."""
        if not self.interactive:
            return default
        return bool(click.confirm(text, default=default))


def pass_app(command: Callable[..., _R]) -> Callable[..., _R]:
    """Pass the run's :class:`App` as the first argument, after its set-up has run.

    As ``click.make_pass_decorator(App)``, plus :meth:`App.ready`: the
    set-up is done here, not in the group's callback, because click runs that
    callback before a subcommand's ``--help`` is handled (#14).
    """

    def with_app(*args: Any, **kwargs: Any) -> _R:
        ctx = click.get_current_context()
        app = ctx.find_object(App)
        if app is None:  # pragma: no cover - the group always creates one
            raise RuntimeError("no App in the click context")
        app.ready()
        return ctx.invoke(command, app, *args, **kwargs)

    return functools.update_wrapper(with_app, command)
