"""A TUF client's view of a published repository, through python-tuf's ngclient.

:func:`run_client_checks` is the smoke test behind ``tufrepo test-client``:
refresh from a trusted root (or, said so, trust on first use of
``1.root.json``), optionally first from the currently deployed repository,
check that the online roles were re-signed in time (:func:`resign_margin`) or
that the repository stays valid some days ahead, and download expected
artifacts.  :func:`download_target` is the consumer side (``tufrepo download``).
:class:`DirectoryFetcher` lets the same client read a directory (``publish``
checks its staged result with it before anything is written to the output).
Over HTTP(S), :class:`DeadlineFetcher` bounds a whole run (``timeout`` seconds,
300 by default): a server that trickles bytes fails the run instead of hanging it::

    report = run_client_checks(
        "https://example.org/metadata", targets_url=None, root_bytes=None,
        targets=["app.json"], now=datetime.now(UTC),
    )
    report.require_ok()  # RejectedError naming the first failed check

Not for: printing or exit codes (results come back as :class:`Check`
objects), implementing TUF (python-tuf's ngclient does the verification).
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import urllib3
from tuf.api.exceptions import (
    DownloadError,
    DownloadHTTPError,
    ExpiredMetadataError,
    RepositoryError,
    SlowRetrievalError,
)
from tuf.api.metadata import Metadata, Root
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

from tufrepo.advice import advise
from tufrepo.core import fields
from tufrepo.core.constants import DOWNLOAD_TIMEOUT, SNAPSHOT, TIMESTAMP
from tufrepo.errors import RejectedError, TufRepoError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from urllib3.response import BaseHTTPResponse

    Clock = Callable[[], float]

logger = logging.getLogger(__name__)

# What ngclient raises for a repository it refuses (ValueError: unparsable
# metadata; OSError: the local cache or a socket).
CLIENT_ERRORS = (RepositoryError, DownloadError, ValueError, OSError)

# Seconds a whole test-client or download run may take (option --timeout).
DEFAULT_TIMEOUT = DOWNLOAD_TIMEOUT
# The largest first root downloaded for trust on first use (python-tuf's root limit).
MAX_ROOT_BYTES = 512_000


@dataclass(frozen=True)
class Check:
    """One client check: what was checked, whether it passed, why not and what to do."""

    name: str
    ok: bool
    detail: str = ""
    hint: str | None = None


@dataclass(frozen=True)
class ClientReport:
    """Every check that ran, in order; checking stops at the first failure."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(check.ok for check in self.checks)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def failure(self) -> Check | None:
        """The check that failed, or None."""
        return next((check for check in self.checks if not check.ok), None)

    def require_ok(self) -> None:
        """Raise unless every check passed.

        Raises:
            RejectedError: naming the failed check, its reason and advice.
        """
        failed = self.failure
        if failed is not None:
            raise RejectedError(f"{failed.name}: {failed.detail}", hint=failed.hint)


def _failed(name: str, error: BaseException) -> Check:
    logger.debug("%s failed", name, exc_info=error)
    return Check(name, ok=False, detail=_describe(error), hint=advise(error))


class DirectoryFetcher(FetcherInterface):
    """Serves ``http://local/<path>`` from a directory, for checking a site before deploying."""

    BASE = "http://local/"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _fetch(self, url: str) -> Iterator[bytes]:
        if not url.startswith(self.BASE):
            raise DownloadHTTPError(f"not a local URL: {url}", 404)
        path = (self.root / unquote(url[len(self.BASE) :])).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise DownloadHTTPError(f"not found: {url}", 404)
        return iter([path.read_bytes()])


class ClientTimeoutError(SlowRetrievalError):
    """A client run went past its deadline (``--timeout``).

    Attributes:
        timeout: the seconds the whole run was allowed.
        url: what was being downloaded when time ran out.
    """

    def __init__(self, timeout: float, url: str) -> None:
        super().__init__(f"gave up on {url}: the client run took longer than {timeout:g} seconds")
        self.timeout = timeout
        self.url = url


class DeadlineFetcher(Urllib3Fetcher):
    """python-tuf's HTTP(S) fetcher with one deadline for every download of a run.

    python-tuf bounds each socket wait (30 s), not a download: a server that
    sends one byte every few seconds keeps a client waiting for days.  This
    fetcher reads whatever has arrived (``read1``) and checks ``clock()``
    against the deadline before each request and after each read; a request
    waits on a silent socket no longer than the time left when it starts
    (rounded up to whole seconds, at most 30 s, once per urllib3 retry), so a
    run ends soon after its deadline, whatever the server does.

    Args:
        timeout: seconds from now (by ``clock``) until the deadline.
        clock: monotonic seconds; tests pass a fake one.
        read_size: the most bytes one read returns.
    """

    def __init__(
        self, timeout: float, *, clock: Clock | None = None, read_size: int = 64 * 1024
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self.clock = clock or monotonic
        self.deadline = self.clock() + timeout
        self.read_size = read_size
        self._longest_wait = self.socket_timeout

    def _time_left(self, url: str) -> float:
        left = self.deadline - self.clock()
        if left <= 0:
            raise ClientTimeoutError(self.timeout, url)
        return left

    def _fetch(self, url: str) -> Iterator[bytes]:
        left = self._time_left(url)
        logger.debug("fetching %s (%.0f of %g seconds left)", url, left, self.timeout)
        self.socket_timeout = max(1, min(self._longest_wait, math.ceil(left)))
        try:
            chunks = super()._fetch(url)
        except SlowRetrievalError:
            self._time_left(url)  # the deadline passed while waiting: say so
            raise
        return self._until_deadline(url, chunks)

    def _until_deadline(self, url: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        try:
            for chunk in chunks:
                self._time_left(url)
                yield chunk
        except SlowRetrievalError as e:
            if not isinstance(e, ClientTimeoutError):
                self._time_left(url)  # the deadline passed while waiting: say so
            raise

    def _chunks(self, response: BaseHTTPResponse) -> Iterator[bytes]:
        # Urllib3Fetcher streams fixed-size chunks, and one chunk blocks until
        # it is full: a trickle would never reach a deadline check.
        try:
            while chunk := response.read1(self.read_size):
                yield chunk
        except urllib3.exceptions.TimeoutError as e:
            raise SlowRetrievalError from e
        except urllib3.exceptions.HTTPError as e:  # e.g. the connection closed too early
            raise DownloadError(f"download interrupted: {e}") from e
        finally:
            response.release_conn()


def set_reference_time(updater: Updater, when: datetime) -> None:
    """Make the updater judge expiry at ``when`` instead of now.

    python-tuf has no public option for this; it reads the private
    ``_trusted_set.reference_time``.  This is the only place that sets it,
    and tests/test_client.py fails loudly if python-tuf changes it.

    Raises:
        RuntimeError: python-tuf no longer has the attribute (upgrade needed here).
    """
    trusted = updater._trusted_set  # noqa: SLF001 - see docstring
    if not hasattr(trusted, "reference_time"):
        raise RuntimeError("python-tuf no longer has TrustedMetadataSet.reference_time")
    trusted.reference_time = when


def new_updater(
    metadata_url: str,
    targets_url: str | None,
    root: bytes,
    work_dir: Path,
    *,
    now: datetime,
    fetcher: FetcherInterface | None = None,
) -> Updater:
    """An ngclient Updater with its own cache under ``work_dir``, judging expiry at ``now``.

    Args:
        metadata_url: base URL of the metadata (``N.root.json`` etc. below it).
        targets_url: base URL of the artifacts, or None when none are downloaded.
        root: the trusted root the client starts from.
        work_dir: the client's metadata and download cache.
        now: the reference time expiry is judged at.
        fetcher: how files are fetched (default: HTTP(S) with urllib3).

    Raises:
        ValueError, RepositoryError: ``root`` is not a valid root.
    """
    metadata_dir = work_dir / "metadata"
    target_dir = work_dir / "targets"
    metadata_dir.mkdir(parents=True, exist_ok=True)
    target_dir.mkdir(parents=True, exist_ok=True)
    updater = Updater(
        str(metadata_dir),
        metadata_url.rstrip("/") + "/",
        str(target_dir),
        targets_url.rstrip("/") + "/" if targets_url else None,
        fetcher=fetcher,
        config=UpdaterConfig(max_root_rotations=256),
        bootstrap=root,
    )
    set_reference_time(updater, now)
    return updater


def default_targets_url(metadata_url: str) -> str:
    """The artifacts URL that goes with a metadata URL.

    ``…/metadata`` becomes ``…/targets``; any other URL gets ``/targets`` appended.
    """
    base = metadata_url.rstrip("/")
    head, _, last = base.rpartition("/")
    return f"{head}/targets" if last == "metadata" else f"{base}/targets"


def parse_root(data: bytes) -> Root:
    """The root in ``data``.

    Raises:
        RejectedError: ``data`` is not root metadata.
    """
    try:
        signed = Metadata.from_bytes(data).signed
    except (RepositoryError, ValueError) as e:  # DeserializationError is a RepositoryError
        cause = e.__cause__ or e
        problem = f"missing {cause}" if isinstance(cause, KeyError) else str(cause)
        raise RejectedError(f"not TUF metadata ({problem})") from e
    if not isinstance(signed, Root):
        raise RejectedError(f"{signed.type} metadata, not root")
    return signed


def fetch_first_root(metadata_url: str, fetcher: FetcherInterface | None = None) -> bytes:
    """Download ``<metadata_url>/1.root.json`` (trust on first use).

    Args:
        metadata_url: where the repository's metadata is published.
        fetcher: how to download (default: a :class:`DeadlineFetcher` of DEFAULT_TIMEOUT).

    Raises:
        RejectedError: it cannot be downloaded in time or parsed as root.
    """
    url = metadata_url.rstrip("/") + "/1.root.json"
    if urlparse(url).scheme not in ("http", "https"):
        raise RejectedError(f"{url} is not an http(s) URL")
    fetcher = fetcher or DeadlineFetcher(DEFAULT_TIMEOUT)
    try:
        data = fetcher.download_bytes(url, MAX_ROOT_BYTES)
        parse_root(data)
    except (DownloadError, OSError, RejectedError) as e:
        raise RejectedError(
            f"cannot get the first root from {url}: {_describe_short(e)}", hint=advise(e)
        ) from e
    return data


def _describe(error: BaseException) -> str:
    if isinstance(error, TufRepoError | ClientTimeoutError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _describe_short(error: BaseException) -> str:
    return str(error) or type(error).__name__


@contextlib.contextmanager
def _work_area(work_dir: Path | None, prefix: str) -> Iterator[Path]:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        yield work_dir
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def run_client_checks(
    metadata_url: str,
    *,
    targets_url: str | None = None,
    root_bytes: bytes | None = None,
    update_from_url: str | None = None,
    targets: Sequence[str] = (),
    valid_days: int | None = None,
    offline_valid_days: int = 0,
    now: datetime,
    work_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock | None = None,
) -> ClientReport:
    """The smoke test of a published repository; stops at the first failure.

    Args:
        metadata_url: where the repository's metadata is published.
        targets_url: where its artifacts are (default: :func:`default_targets_url`).
        root_bytes: the root to trust; None trusts ``<metadata_url>/1.root.json``
            on first use (and the report says so).
        update_from_url: the metadata URL clients use today: refresh from it
            first, then update to ``metadata_url`` with the same cache.
        targets: artifacts that must resolve, download and verify.
        valid_days: the whole repository must still refresh this many days
            after ``now`` (0: no look ahead); None (the default): each online
            role must have the margin :func:`resign_margin` derives from its
            own signing period.
        offline_valid_days: root and top-level targets must not expire within this many days.
        now: the reference time of the refresh.
        work_dir: the client caches (fresh and empty; a temporary directory when None).
        timeout: seconds every download of the run together may take; a check
            still downloading then fails (:class:`ClientTimeoutError`).
        clock: monotonic seconds for that deadline (default: the real clock).

    Returns:
        One :class:`Check` per step that ran.
    """
    checks: list[Check] = []
    targets_url = targets_url or default_targets_url(metadata_url)
    fetcher = DeadlineFetcher(timeout, clock=clock)
    if root_bytes is None:
        try:
            root_bytes = fetch_first_root(metadata_url, fetcher)
        except RejectedError as e:
            return ClientReport((_failed("trusted root: 1.root.json (trust on first use)", e),))
        checks.append(Check("trusted root: 1.root.json (trust on first use, not pinned)", ok=True))
    else:
        try:
            version = parse_root(root_bytes).version
        except RejectedError as e:
            return ClientReport(
                (Check("trusted root", ok=False, detail=str(e),
                       hint="pass the root.json you trust with --root"),)
            )  # fmt: skip
        checks.append(Check(f"trusted root: version {version} (pinned)", ok=True))
    with _work_area(work_dir, "tufrepo-client-") as work:
        if update_from_url:
            checks.append(
                _refresh_deployed(update_from_url, root_bytes, work / "cache", now, fetcher)
            )
            if not checks[-1].ok:
                return ClientReport(tuple(checks))
        name = f"refresh from {metadata_url}"
        try:
            updater = new_updater(
                metadata_url, targets_url, root_bytes, work / "cache", now=now, fetcher=fetcher
            )
            updater.refresh()
        except CLIENT_ERRORS as e:
            return ClientReport((*checks, _failed(name, e)))
        checks.append(Check(name, ok=True))
        checks += _freshness(updater, metadata_url, targets_url, root_bytes, work, now,
                             valid_days, offline_valid_days, fetcher)  # fmt: skip
        if not checks[-1].ok:
            return ClientReport(tuple(checks))
        for path in targets:
            try:
                _fetch_target(updater, path, work / "download")
            except (*CLIENT_ERRORS, RejectedError) as e:
                return ClientReport((*checks, _failed(f"download {path}", e)))
            checks.append(Check(f"download {path} (length and hashes verified)", ok=True))
    return ClientReport(tuple(checks))


def _refresh_deployed(
    url: str, root: bytes, cache: Path, now: datetime, fetcher: FetcherInterface
) -> Check:
    """Refresh from the repository clients use today, so the new one is an update of it.

    Expired metadata there is what a new deployment fixes: noted, not a failure.
    """
    name = f"refresh from the deployed repository {url}"
    try:
        new_updater(url, None, root, cache, now=now, fetcher=fetcher).refresh()
    except ExpiredMetadataError as e:
        logger.info("the deployed repository %s has expired metadata: %s", url, e)
        return Check(name, ok=True, detail=f"expired there, as a new deployment would fix: {e}")
    except CLIENT_ERRORS as e:
        return _failed(name, e)
    return Check(name, ok=True)


def _freshness(
    updater: Updater,
    metadata_url: str,
    targets_url: str,
    root: bytes,
    work: Path,
    now: datetime,
    valid_days: int | None,
    offline_valid_days: int,
    fetcher: FetcherInterface,
) -> list[Check]:
    """Re-signed in time (or valid N days ahead), root and targets valid M days ahead."""
    checks: list[Check] = []
    if valid_days is None:
        checks += _resigned_in_time(updater, now)
        if not checks[-1].ok:
            return checks
    elif valid_days:
        name = f"whole repository valid {valid_days} days ahead"
        try:
            ahead = now + timedelta(days=valid_days)
            new_updater(
                metadata_url, targets_url, root, work / "ahead", now=ahead, fetcher=fetcher
            ).refresh()
        except CLIENT_ERRORS as e:
            return [_failed(name, e)]
        checks.append(Check(name, ok=True))
    if offline_valid_days:
        trusted = updater._trusted_set  # noqa: SLF001 - read-only look at what was trusted
        ahead = now + timedelta(days=offline_valid_days)
        for role, signed in (("root", trusted.root), ("targets", trusted.targets)):
            ok = signed is not None and signed.expires >= ahead
            expires = f"{signed.expires:%Y-%m-%d}" if signed is not None else "never loaded"
            hint = None if ok else f"sign the {role} event `tufrepo bump-expiring` opens"
            checks.append(Check(f"{role} valid {offline_valid_days} days ahead", ok=ok,
                                detail=f"{role} expires {expires}", hint=hint))  # fmt: skip
            if not ok:
                return checks
    return checks


def resign_margin(periods: fields.Periods) -> timedelta:
    """How long an online role must still be valid: half its signing period.

    ``online-sign`` re-signs a role once it is inside its signing period (the
    last ``signing`` days before it expires) and runs every few hours (every
    6 h in the shipped workflows), so in normal operation a role has between
    its whole expiry period and its signing period minus one run interval
    (plus the scheduler's delay) left.  Requiring half the signing period
    fails only when re-signing is overdue by half of it, which no normal
    delay reaches (the shortest signing period is a day: 12 h, two missed
    runs), and still leaves the other half before clients fail.  A fixed
    number of days cannot do both: with the shipped timestamp (expiry 2 days,
    signing period 1 day), 2 days fails right after a publish and 1 day
    whenever a scheduled run starts late.
    """
    return timedelta(days=periods.signing) / 2


def _resigned_in_time(updater: Updater, now: datetime) -> list[Check]:
    """Timestamp and snapshot each valid for at least :func:`resign_margin` after ``now``."""
    trusted = updater._trusted_set  # noqa: SLF001 - read-only look at what was trusted
    checks: list[Check] = []
    for role in (TIMESTAMP, SNAPSHOT):
        name = f"{role} re-signed in time"
        try:
            signed = trusted[role]
            periods = fields.get_periods(trusted.root, role, signed)
        except KeyError:  # refresh() loads both; only a broken python-tuf would not
            return [*checks, Check(name, ok=False, detail=f"{role} was not loaded")]
        except RejectedError as e:
            return [*checks, _failed(name, e)]
        need, left = resign_margin(periods), signed.expires - now
        ok = left >= need
        hint = (
            None
            if ok
            else f"online-sign has not re-signed {role} in time: check that the online-sign "
            "workflow runs and succeeds, and that the online key is available"
        )
        detail = (
            f"expires {signed.expires:%Y-%m-%d %H:%M} UTC, {_duration(left)} left, at least "
            f"{_duration(need)} required (half its {periods.signing}-day signing period)"
        )
        checks.append(Check(name, ok=ok, detail=detail, hint=hint))
        if not ok:
            return checks
    return checks


def _duration(span: timedelta) -> str:
    if span < timedelta(days=3):
        return f"{span.total_seconds() / 3600:.1f} h"
    return f"{span.total_seconds() / 86400:.1f} days"


def _fetch_target(updater: Updater, path: str, directory: Path) -> str:
    info = updater.get_targetinfo(path)
    if info is None:
        raise RejectedError(
            f"{path} is not in the repository",
            hint="no targets role that delegates this path lists it",
        )
    directory.mkdir(parents=True, exist_ok=True)
    return updater.download_target(info, str(directory / path.replace("/", "_")))


def download_target(
    metadata_url: str,
    targets_url: str | None,
    root_bytes: bytes,
    target_path: str,
    *,
    now: datetime,
    work_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock | None = None,
) -> bytes:
    """Refresh from a pinned root and return one verified target's bytes.

    Args:
        metadata_url: where the repository's metadata is published.
        targets_url: where its artifacts are (default: :func:`default_targets_url`).
        root_bytes: the root the caller trusts (pinned, not downloaded).
        target_path: the artifact's target path (``dir/name``).
        now: the reference time of the refresh.
        work_dir: the client cache (a temporary directory when None).
        timeout: seconds the refresh and the download together may take.
        clock: monotonic seconds for that deadline (default: the real clock).

    Returns:
        The artifact's bytes, after its length and hashes matched signed metadata.

    Raises:
        RejectedError: anything does not verify (expired, bad signature,
            rollback, wrong length or hash), the target does not exist, or the
            server did not send everything within ``timeout``.
    """
    fetcher = DeadlineFetcher(timeout, clock=clock)
    with _work_area(work_dir, "tufrepo-download-") as work:
        try:
            updater = new_updater(
                metadata_url,
                targets_url or default_targets_url(metadata_url),
                root_bytes,
                work,
                now=now,
                fetcher=fetcher,
            )
            updater.refresh()
            path = _fetch_target(updater, target_path, work / "download")
        except (*CLIENT_ERRORS, RejectedError) as e:
            raise RejectedError(
                f"{target_path} does not verify: {_describe(e)}", hint=advise(e)
            ) from e
        return Path(path).read_bytes()
