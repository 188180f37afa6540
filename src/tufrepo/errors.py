"""One exception hierarchy for tufrepo, each error carrying optional advice.

Every failure a user can act on is a subclass of :class:`TufRepoError` with an
``exit_code``; ``tufrepo.cli`` maps them to process exit codes in one place.
This module imports nothing from click and never prints.
"""

from __future__ import annotations

import enum


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

    Attributes:
        hint: advice for the user, or None.
    """

    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


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


class ConfigError(RejectedError):
    """The signer settings file is missing or incomplete."""


class NotReadyError(TufRepoError):
    """The signing event waits for signatures or invites."""

    exit_code = ExitCode.NOT_READY


class GitStateError(TufRepoError):
    """A git or remote operation failed (not a repository, fetch or push refused)."""

    exit_code = ExitCode.GIT


class PushRejectedError(GitStateError):
    """The remote refused a push because the branch moved (not a fast-forward)."""


class SignerUnavailableError(TufRepoError):
    """No signer could be obtained or signing failed (wrong key, PIN, OIDC, KMS)."""

    exit_code = ExitCode.SIGNER
