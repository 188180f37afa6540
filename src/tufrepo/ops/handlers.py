"""How an operation reaches its caller: progress, warnings, questions, retry policy.

Operations under :mod:`tufrepo.ops` never print, prompt or read stdin (issue
#12): whatever they have to say or ask goes through a :class:`Handlers` the
caller passes in.  The command line passes handlers that print and ask on the
terminal; a Python caller can pass nothing and get the defaults: progress
and warnings go to this module's logger, every question is answered yes, a
failed signer is not retried::

    result = sign_event(git, "sign/x", settings, signers, now=now)  # no handlers: defaults

:class:`RetryPolicy` says how often an operation tries again after a push
lost a race with another push (:class:`~tufrepo.errors.TransientGitError`).

Not for: deciding what to do (the operations do), rendering results (the CLI does).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from tufrepo.errors import SignerUnavailableError, TransientGitError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tufrepo.ops.summary import RoleSummary

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _log_info(text: str) -> None:
    logger.info("%s", text)


def _log_warning(text: str) -> None:
    logger.warning("%s", text)


def _yes(_question: str) -> bool:
    return True


def _give_up(_error: SignerUnavailableError) -> bool:
    return False


def _log_summary(summary: RoleSummary) -> None:
    logger.info("%s: %d change(s) to sign", summary.role, len(summary.changes))


@dataclass(frozen=True)
class Handlers:
    """The callbacks an operation uses to talk to its caller.

    Attributes:
        say: progress for the user, one line at a time.
        warn: something the user should know that does not stop the operation.
        confirm: a yes/no question (``"Sign and push?"``); False stops the operation.
        retry_signer: called when a signer failed (a touch timed out, a wrong
            PIN); True tries again, False lets the error propagate.
        show_summary: a role's changes, shown before they are signed.
    """

    say: Callable[[str], None] = _log_info
    warn: Callable[[str], None] = _log_warning
    confirm: Callable[[str], bool] = _yes
    retry_signer: Callable[[SignerUnavailableError], bool] = _give_up
    show_summary: Callable[[RoleSummary], None] = _log_summary


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try again when a push lost a race with another push.

    Attributes:
        attempts: pushes in all (the first one included); at least 1.
    """

    attempts: int = 3

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """True when ``error`` on push number ``attempt`` (from 1) is worth another try."""
        return isinstance(error, TransientGitError) and attempt < self.attempts


def sign_with_retry(handlers: Handlers, sign: Callable[[], T]) -> T:
    """Run a signing step; when the signer fails, ask ``handlers.retry_signer`` whether to retry.

    Raises:
        SignerUnavailableError: the signer failed and the caller chose not to retry.
    """
    while True:
        try:
            return sign()
        except SignerUnavailableError as e:
            if not handlers.retry_signer(e):
                raise


__all__ = ["Handlers", "RetryPolicy", "sign_with_retry"]
