"""The application object shared by every command: output, options, environment.

Commands get an :class:`App` from the click context.  It is the only place that
writes to stdout/stderr, reads environment variables, and writes the GitHub
Actions output files.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tufrepo.errors import UsageError

if TYPE_CHECKING:
    from tufrepo.gitrepo import GitRepo


@dataclass
class App:
    """Global options and output helpers."""

    repo_dir: Path | None = None
    verbose: int = 0
    json_output: bool = False
    color: bool = True
    now_override: datetime | None = None
    _git: GitRepo | None = field(default=None, repr=False)

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
            from tufrepo.gitrepo import GitRepo  # noqa: PLC0415 - GitPython loads only when needed

            self._git = GitRepo.discover(self.repo_dir or Path.cwd())
        return self._git

    def close(self) -> None:
        """Release resources at exit."""
        if self._git is not None:
            self._git.close()
            self._git = None

    # --- output ------------------------------------------------------------------------

    def say(self, text: str = "", *, fg: str | None = None, bold: bool = False) -> None:
        """Human output: to stdout normally, to stderr when --json owns stdout."""
        styled = click.style(text, fg=fg, bold=bold) if self.color and (fg or bold) else text
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
        """The command's result: one JSON object on stdout with --json; $GITHUB_OUTPUT always."""
        if self.json_output:
            click.echo(json.dumps(data, sort_keys=True))
        github_output = self.env("GITHUB_OUTPUT")
        if github_output:
            with Path(github_output).open("a", encoding="utf-8") as f:
                for key, value in data.items():
                    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                    if "\n" in text:
                        f.write(f"{key}<<TUFREPO_EOF\n{text}\nTUFREPO_EOF\n")
                    else:
                        f.write(f"{key}={text}\n")

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


pass_app = click.make_pass_decorator(App)
