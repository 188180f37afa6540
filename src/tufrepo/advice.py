"""Advice for a failure, derived in one place from the error and its chain of causes.

An error names what failed; what the user should do often depends on why,
which the exception it was raised from knows (a TUF client's expired
metadata, git's lock file, a KMS refusal, a missing PKCS#11 module, a file
permission).  :func:`advise` walks the chain from the outermost error inward
and returns the first advice found: a :class:`~tufrepo.errors.TufRepoError`'s
own ``hint`` (its raiser knew the context best), else what the kind of that
exception suggests.  A generic wrapper's advice (python-tuf's DownloadError
"could not be reached, or sent too much or too slowly") counts only when no
deeper cause is more specific (a refused connection, a TLS failure)::

    try:
        download_target(url, None, root, "app.json", now=now)
    except RejectedError as e:
        print(f"error: {e}")
        if advice := advise(e):  # e.g. the expiry advice of a tuf ExpiredMetadataError
            print(f"hint: {advice}")

Third-party exceptions that would be slow to import (GitPython, the cloud
SDKs, python-pkcs11) are recognised by class name, so asking for advice loads
none of them.

Not for: printing (the CLI does that) or exit codes (``ExitCode`` in errors).
"""

from __future__ import annotations

import errno
import logging
import re
from typing import TYPE_CHECKING

from tuf.api.exceptions import (
    BadVersionNumberError,
    DownloadError,
    DownloadHTTPError,
    ExpiredMetadataError,
    LengthOrHashMismatchError,
    SlowRetrievalError,
    UnsignedMetadataError,
)

from tufrepo.errors import TufRepoError, cause_chain

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

EXPIRED = (
    "metadata expires before the checked time: run `tufrepo online-sign` "
    "(snapshot, timestamp) or sign the event `tufrepo bump-expiring` opens "
    "(root, targets), then publish again"
)
UNSIGNED = (
    "a signature does not verify with the keys its delegator lists: a tampered "
    "file, a broken root chain (metadata/N.root.json) or another repository's root"
)
ROLLBACK = (
    "the server offers other versions than the client already trusts "
    "(a rollback, or a published version skipped)"
)
MISMATCH = (
    "a file served differs from what signed metadata lists: deploy the published "
    "site as a whole, and if it was, treat it as tampering"
)
NOT_SERVED = "the server does not have this file: is the whole published site deployed there?"
DOWNLOAD = "the server could not be reached, or sent too much or too slowly"
SLOW = (
    "the server sends too slowly or stopped sending; check it, or allow the whole "
    "run more time with --timeout SECONDS"
)
GIT_LOCK = (
    "another git process is using this repository, or one stopped and left its lock "
    "behind: wait for it, or delete the .lock file git names if no git is running"
)
GIT_MOVED = "the remote branch moved since it was fetched: run the command again"
GIT_REFUSED = (
    "the remote refused the push (a server hook or branch protection): read git's "
    "message, and check that you may push to this branch"
)
GIT_AUTH = (
    "git could not authenticate to the remote: check your SSH key, or the token "
    "(credential helper), and that it may access the repository"
)
GIT_NETWORK = (
    "the remote cannot be reached: check the network and the remote's URL (git remote -v)"
)
GIT_NO_REPO = "run the command inside a clone of your TUF repository, or pass -C DIR"
PKCS11_LIBRARY = (
    "set pykcs11lib in .tuf-on-ci-sign.ini (or the PYKCS11LIB environment variable) "
    "to the PKCS#11 module of your key, e.g. libykcs11.so from the ykcs11 package"
)
PIN_INCORRECT = "try again; a PIV PIN locks after 3 wrong attempts"
PIN_LOCKED = "the PIN is locked: unblock it with the PUK (ykman piv access unblock-pin)"
TOKEN_MISSING = "insert your hardware key and try again"  # noqa: S105 - advice, not a secret
KMS_CREDENTIALS = (
    "no usable credentials for the key service: log in (gcloud auth application-default "
    "login, AWS_PROFILE, az login, VAULT_TOKEN) or give this job its credentials"
)
KMS_PERMISSION = (
    "the key service refused: the identity this runs as may not use the key; grant it "
    "the key's read and sign permissions (roles/cloudkms.signer, kms:Sign, the Key Vault "
    "Crypto User role, update on transit/sign/<name>)"
)
TLS = (
    "the server's TLS certificate does not verify: check the URL, the system's CA "
    "certificates (SSL_CERT_FILE), or a proxy that intercepts TLS"
)
CONNECTION = (
    "could not connect: check the network, the URL and any proxy (HTTPS_PROXY), then try again"
)
TIMEOUT = "the server did not answer in time: check the network and the server, then try again"
DISK_FULL = "the disk is full: free some space and run the command again"
READ_ONLY = "the file system is read-only: work in a writable checkout or directory"

# Modules the optional extras install, by the top-level name a failed import reports.
_EXTRAS = {
    "pkcs11": "hsm",
    "google": "gcpkms",
    "boto3": "awskms",
    "botocore": "awskms",
    "azure": "azurekms",
    "hvac": "vault",
    "sigstore": "sigstore",
}
# securesystemslib's UnsupportedLibraryError messages, by a word they contain.
_LIBRARY_MESSAGES = {
    "pkcs11": "hsm",
    "google-cloud-kms": "gcpkms",
    "aws": "awskms",
    "azure": "azurekms",
    "hvac": "vault",
    "sigstore": "sigstore",
}
_GIT_PATTERNS = (
    (
        re.compile(r"\.lock'?: File exists|Unable to create '[^']*\.lock'|cannot lock ref"),
        GIT_LOCK,
    ),
    (re.compile(r"\[remote rejected\]|hook declined|protected branch|GH006"), GIT_REFUSED),
    (
        re.compile(r"\[rejected\]|non-fast-forward|fetch first|Updates were rejected|stale info"),
        GIT_MOVED,
    ),
    (
        re.compile(
            r"Permission denied \(publickey|Authentication failed|could not read Username"
            r"|terminal prompts disabled|returned error: 40[13]"
        ),
        GIT_AUTH,
    ),
    (
        re.compile(
            r"Could not resolve host|Connection refused|Connection timed out|Failed to connect"
        ),
        GIT_NETWORK,
    ),
    (re.compile(r"not a git repository"), GIT_NO_REPO),
)
_KMS_CREDENTIALS = {
    "DefaultCredentialsError",  # google.auth
    "RefreshError",  # google.auth: expired or revoked credentials
    "Unauthenticated",  # google.api_core, HTTP 401
    "NoCredentialsError",  # botocore
    "PartialCredentialsError",
    "NoRegionError",
    "CredentialUnavailableError",  # azure.identity
    "ClientAuthenticationError",  # azure.core
    "Unauthorized",  # hvac, HTTP 401
}
_KMS_PERMISSION = {"PermissionDenied", "Forbidden", "AccessDeniedException", "AccessDenied"}
_AWS_PERMISSION_CODES = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"}
_AWS_CREDENTIAL_CODES = {"UnrecognizedClientException", "InvalidSignatureException",
                         "ExpiredTokenException"}  # fmt: skip


def advise(error: BaseException) -> str | None:
    """The advice for ``error``: its own hint, else the first its causes suggest.

    Args:
        error: any exception; its ``__cause__``/``__context__`` chain is followed.

    Returns:
        One line of advice, or None when nothing specific is known.
    """
    fallback = None
    for link in cause_chain(error):
        advice = link.hint if isinstance(link, TufRepoError) else None
        if not advice:
            advice = next((a for rule in _RULES if (a := rule(link))), None)
        if advice in _GENERIC:  # a wrapper's guess: a deeper cause may say more
            fallback = fallback or advice
        elif advice:
            if link is not error:
                logger.debug("advice for %s comes from its cause %s", _name(error), _name(link))
            return advice
    return fallback


def _name(error: BaseException) -> str:
    return type(error).__name__


def _names(error: BaseException) -> set[str]:
    """The class names of ``error``'s type and its bases (matches without importing SDKs)."""
    return {cls.__name__ for cls in type(error).__mro__}


def _tuf_client(error: BaseException) -> str | None:
    """What python-tuf's ngclient raises: expiry, signatures, rollback, hashes, HTTP."""
    if isinstance(error, ExpiredMetadataError):
        return EXPIRED
    if isinstance(error, UnsignedMetadataError):
        return UNSIGNED
    if isinstance(error, BadVersionNumberError):
        return ROLLBACK
    if isinstance(error, LengthOrHashMismatchError):
        return MISMATCH
    if isinstance(error, DownloadHTTPError):
        code = error.status_code
        if code in (401, 403):
            return f"the server refuses this file (HTTP {code}): check its access rules"
        if code >= 500:
            return f"the server failed (HTTP {code}): check it, or try again later"
        return NOT_SERVED
    if isinstance(error, SlowRetrievalError):
        timeout = getattr(error, "timeout", None)  # tufrepo.client.ClientTimeoutError
        if isinstance(timeout, int | float):
            return (
                "the server sends too slowly or stopped sending; check it, or allow the "
                f"whole run more time with --timeout SECONDS (now {timeout:g})"
            )
        return SLOW  # python-tuf also says so for a refused connection
    if isinstance(error, DownloadError):
        return DOWNLOAD
    return None


def _git(error: BaseException) -> str | None:
    """GitPython's GitCommandError, by what git wrote on stderr."""
    if "GitCommandError" not in _names(error):
        return None
    text = f"{getattr(error, 'stderr', '')}\n{error}"
    return next((advice for pattern, advice in _GIT_PATTERNS if pattern.search(text)), None)


def _extra(error: BaseException) -> str | None:
    """A backend's optional dependency is not installed."""
    extra = None
    if isinstance(error, ImportError) and error.name:
        extra = _EXTRAS.get(error.name.split(".")[0])
    elif "UnsupportedLibraryError" in _names(error):  # securesystemslib
        message = str(error).lower()
        extra = next((e for word, e in _LIBRARY_MESSAGES.items() if word in message), None)
    return f"pip install 'tufrepo[{extra}]'" if extra else None


def _pkcs11(error: BaseException) -> str | None:
    """python-pkcs11's failures: the module does not load, the PIN, the token."""
    names = _names(error)
    if "PKCS11Error" not in names:
        return None
    if "while loading" in str(error):  # pkcs11.lib(): not a PKCS#11 module, or missing
        return PKCS11_LIBRARY
    if "PinIncorrect" in names:
        return PIN_INCORRECT
    if "PinLocked" in names:
        return PIN_LOCKED
    if names & {"TokenNotPresent", "TokenNotRecognised", "DeviceRemoved", "NoSuchToken"}:
        return TOKEN_MISSING
    return None


def _kms(error: BaseException) -> str | None:
    """A cloud KMS or Vault refused: no credentials, or no permission for the key."""
    names = _names(error)
    code = None
    response = getattr(error, "response", None)
    if "ClientError" in names and isinstance(response, dict):  # botocore: the code says
        code = response.get("Error", {}).get("Code")
    status = getattr(error, "status_code", None)
    if names & _KMS_CREDENTIALS or code in _AWS_CREDENTIAL_CODES:
        return KMS_CREDENTIALS
    if (
        names & _KMS_PERMISSION
        or code in _AWS_PERMISSION_CODES
        or ("HttpResponseError" in names and status == 403)  # azure.core
    ):
        return KMS_PERMISSION
    return None


def _network(error: BaseException) -> str | None:
    """Connections refused or timed out: the standard library's, urllib3's, requests'."""
    names = _names(error)
    if names & {"SSLCertVerificationError", "SSLError"}:
        return TLS
    if names & {"NameResolutionError", "NewConnectionError", "ConnectionError", "MaxRetryError"}:
        return CONNECTION
    if names & {"TimeoutError", "Timeout"}:
        return TIMEOUT
    return None


def _file(error: BaseException) -> str | None:
    """Files: permissions, missing paths, a full or read-only disk."""
    if not isinstance(error, OSError):
        return None
    where = f" {error.filename}" if error.filename else ""
    if isinstance(error, PermissionError):
        return f"no permission to use{where}: check its owner and mode, or work where you may"
    if isinstance(error, FileNotFoundError):
        return f"no such file{where}: check the path (or, for a program, that it is installed)"
    if isinstance(error, IsADirectoryError):
        return f"{where.strip() or 'the path'} is a directory: give the path of a file"
    if isinstance(error, NotADirectoryError):
        return f"a part of{where or ' the path'} is not a directory: check the path"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL
    if error.errno == errno.EROFS:
        return READ_ONLY
    return None


# What python-tuf's wrappers suggest: used only when no deeper cause says more.
_GENERIC = frozenset({DOWNLOAD, SLOW})

# Tried in this order on each link of the chain; the first advice wins.
_RULES: tuple[Callable[[BaseException], str | None], ...] = (
    _tuf_client,
    _git,
    _extra,
    _pkcs11,
    _kms,
    _network,
    _file,
)
