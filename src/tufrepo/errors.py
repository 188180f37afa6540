"""One exception hierarchy for tufrepo, each error carrying optional advice.

Every failure a user can act on is a subclass of :class:`TufRepoError` with an
``exit_code``; ``tufrepo.cli`` maps them to process exit codes in one place.
An error carries the advice its raiser knew (``hint``) and what caused it
(``__cause__``, set by ``raise ... from e``); :func:`tufrepo.advice.advise`
turns both into the one line of advice the user sees.  This module imports
nothing from click and never prints.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


class ExitCode(enum.IntEnum):
    """Process exit codes (DESIGN §5)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    NOT_READY = 3
    REJECTED = 4
    GIT = 5
    SIGNER = 6


class TufRepoError(Exception):
    """Base of every error tufrepo raises on purpose.

    Args:
        message: what failed, in one line.
        hint: advice for the user, when the raiser knows better than the cause.
        cause: what caused it (the same as ``raise ... from cause``).

    Attributes:
        hint: the raiser's advice, or None; :func:`tufrepo.advice.advise`
            derives advice from the causes when it is None.
    """

    exit_code = ExitCode.INTERNAL

    def __init__(
        self, message: str, hint: str | None = None, *, cause: BaseException | None = None
    ) -> None:
        super().__init__(message)
        self.hint = hint
        if cause is not None:
            self.__cause__ = cause

    @property
    def cause(self) -> BaseException | None:
        """The exception this one was raised from, or None."""
        return self.__cause__


def cause_chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, then what caused it, and so on, as Python's tracebacks show the chain.

    Follows ``__cause__`` (``raise ... from e``), else ``__context__`` (an
    exception raised while handling another) unless ``raise ... from None``
    suppressed it; stops at a loop.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__


class UsageError(TufRepoError):
    """The command line asked for something impossible (bad role, threshold)."""

    exit_code = ExitCode.USAGE


class RejectedError(TufRepoError):
    """Invalid or hostile metadata, repository state or input."""

    exit_code = ExitCode.REJECTED


class MetadataError(RejectedError):
    """A metadata file is missing, malformed or of the wrong type."""


class UnsupportedKeyError(MetadataError):
    """Metadata lists a key of a type or scheme that cannot be verified."""


class ConfigError(UsageError):
    """The user's own configuration (the signer settings file) is missing, garbled or incomplete.

    A usage error (exit 2, DESIGN §5): the repository is not at fault, the
    person running the command fixes their setup and runs it again.
    """


class NotReadyError(TufRepoError):
    """The signing event waits for signatures or invites."""

    exit_code = ExitCode.NOT_READY


class GitStateError(TufRepoError):
    """A git or remote operation failed (not a repository, fetch or push refused)."""

    exit_code = ExitCode.GIT


class TransientGitError(GitStateError):
    """A push lost a race with another push; trying again on the new tip can succeed.

    Operations with a retry policy (``sign_event``, ``online_sign``) fetch
    again, validate the new tip and redo their change on it; nothing is ever
    force-pushed.
    """


class PushRejectedError(TransientGitError):
    """The remote refused a push because the branch moved (not a fast-forward)."""


class RefLockError(TransientGitError):
    """The remote could not lock or update the branch: another push held it (issue #13).

    git reports this as ``cannot lock ref``, ``failed to update ref`` or
    ``[remote rejected] ... (failed to lock)`` when two pushes to one branch overlap.
    """


class SignerUnavailableError(TufRepoError):
    """No signer could be obtained or signing failed (wrong key, PIN, OIDC, KMS)."""

    exit_code = ExitCode.SIGNER


class DemoError(TufRepoError):
    """A step of ``tufrepo demo`` did not end as expected."""
