"""A TUF client's view of a published repository, through python-tuf's ngclient.

:func:`run_checks` is the smoke test behind ``tufrepo test-client``: refresh
from a trusted root (or, said so, trust on first use of ``1.root.json``),
optionally first from the currently deployed repository, check that the
repository stays valid some days ahead, and download expected artifacts.
:func:`download` is the consumer side (``tufrepo download``).
:class:`DirectoryFetcher` lets the same client read a directory (``publish``
checks its staged result with it before anything is written to the output).

Not for: printing or exit codes (results come back as :class:`Check` objects).
"""

from __future__ import annotations

import tempfile
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from tuf.api.exceptions import (
    DownloadError,
    DownloadHTTPError,
    ExpiredMetadataError,
    RepositoryError,
)
from tuf.api.metadata import Metadata, Root
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

from tufrepo.errors import RejectedError

if TYPE_CHECKING:
    from collections.abc import Iterator

CLIENT_ERRORS = (RepositoryError, DownloadError, ValueError, OSError)


@dataclass(frozen=True)
class Check:
    """One client check: what was checked, whether it passed, and why not."""

    name: str
    ok: bool
    detail: str = ""


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


def set_reference_time(updater: Updater, when: datetime) -> None:
    """Make the updater judge expiry at ``when`` instead of now.

    python-tuf has no public option for this; it reads the private
    ``_trusted_set.reference_time``.  This is the only place that touches it,
    and tests/test_client_lib.py fails loudly if python-tuf changes it.
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
    """An ngclient Updater with its own cache under ``work_dir``, judging expiry at ``now``."""
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
    """``…/metadata`` -> ``…/targets``; otherwise ``targets`` beside the metadata URL."""
    base = metadata_url.rstrip("/")
    head, _, last = base.rpartition("/")
    return f"{head}/targets" if last == "metadata" else f"{base}/targets"


def fetch_first_root(metadata_url: str) -> bytes:
    """Download ``<metadata_url>/1.root.json`` (trust on first use).

    Raises:
        RejectedError: it cannot be downloaded or parsed as root.
    """
    url = metadata_url.rstrip("/") + "/1.root.json"
    if urlparse(url).scheme not in ("http", "https"):
        raise RejectedError(f"{url} is not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - scheme checked
            data = bytes(response.read(512_001))
        Metadata[Root].from_bytes(data)
    except (OSError, ValueError) as e:
        raise RejectedError(f"cannot get the first root from {url}: {e}") from e
    return data


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def run_checks(
    metadata_url: str,
    *,
    targets_url: str | None,
    root: bytes | None,
    update_from: str | None = None,
    targets: list[str] | tuple[str, ...] = (),
    valid_days: int = 0,
    offline_valid_days: int = 0,
    now: datetime,
) -> list[Check]:
    """The smoke test of a published repository; stops at the first failure."""
    checks: list[Check] = []
    targets_url = targets_url or default_targets_url(metadata_url)
    if root is None:
        try:
            root = fetch_first_root(metadata_url)
        except RejectedError as e:
            return [Check("trusted root", ok=False, detail=str(e))]
        checks.append(Check("trusted root: 1.root.json (trust on first use, not pinned)", ok=True))
    else:
        version = Metadata[Root].from_bytes(root).signed.version
        checks.append(Check(f"trusted root: version {version} (pinned)", ok=True))
    with tempfile.TemporaryDirectory(prefix="tufrepo-client-") as tmp:
        work = Path(tmp)
        if update_from:
            checks.append(_refresh_deployed(update_from, root, work / "cache", now))
            if not checks[-1].ok:
                return checks
        try:
            updater = new_updater(metadata_url, targets_url, root, work / "cache", now=now)
            updater.refresh()
            checks.append(Check(f"refresh from {metadata_url}", ok=True))
        except CLIENT_ERRORS as e:
            return [*checks, Check(f"refresh from {metadata_url}", ok=False, detail=_describe(e))]
        checks += _freshness(updater, metadata_url, targets_url, root, work, now,
                             valid_days, offline_valid_days)  # fmt: skip
        if not checks[-1].ok:
            return checks
        for path in targets:
            try:
                _fetch_target(updater, path, work / "download")
                checks.append(Check(f"download {path} (length and hashes verified)", ok=True))
            except (*CLIENT_ERRORS, RejectedError) as e:
                return [*checks, Check(f"download {path}", ok=False, detail=_describe(e))]
    return checks


def _refresh_deployed(url: str, root: bytes, cache: Path, now: datetime) -> Check:
    """Refresh from the repository clients use today, so the new one is an update of it.

    Expired metadata there is what a new deployment fixes: noted, not a failure.
    """
    name = f"refresh from the deployed repository {url}"
    try:
        new_updater(url, None, root, cache, now=now).refresh()
    except ExpiredMetadataError as e:
        return Check(name, ok=True, detail=f"expired there, as a new deployment would fix: {e}")
    except CLIENT_ERRORS as e:
        return Check(name, ok=False, detail=_describe(e))
    return Check(name, ok=True)


def _freshness(
    updater: Updater,
    metadata_url: str,
    targets_url: str,
    root: bytes,
    work: Path,
    now: datetime,
    valid_days: int,
    offline_valid_days: int,
) -> list[Check]:
    """Valid N days ahead (a whole refresh then), root and targets valid M days ahead."""
    checks: list[Check] = []
    if valid_days:
        name = f"whole repository valid {valid_days} days ahead"
        try:
            ahead = now + timedelta(days=valid_days)
            new_updater(metadata_url, targets_url, root, work / "ahead", now=ahead).refresh()
        except CLIENT_ERRORS as e:
            return [Check(name, ok=False, detail=_describe(e))]
        checks.append(Check(name, ok=True))
    if offline_valid_days:
        trusted = updater._trusted_set  # noqa: SLF001 - read-only look at what was trusted
        ahead = now + timedelta(days=offline_valid_days)
        for role, signed in (("root", trusted.root), ("targets", trusted.targets)):
            ok = signed is not None and signed.expires >= ahead
            expires = f"{signed.expires:%Y-%m-%d}" if signed is not None else "never loaded"
            checks.append(Check(f"{role} valid {offline_valid_days} days ahead", ok=ok,
                                detail=f"{role} expires {expires}"))  # fmt: skip
            if not ok:
                return checks
    return checks


def _fetch_target(updater: Updater, path: str, directory: Path) -> str:
    info = updater.get_targetinfo(path)
    if info is None:
        raise RejectedError(f"{path} is not in the repository")
    directory.mkdir(parents=True, exist_ok=True)
    return updater.download_target(info, str(directory / path.replace("/", "_")))


def download(
    metadata_url: str, targets_url: str | None, root: bytes, target_path: str, *, now: datetime
) -> bytes:
    """Refresh from a pinned root and return one verified target's bytes.

    Raises:
        RejectedError: anything does not verify (expired, bad signature,
            wrong hash) or the target does not exist.
    """
    with tempfile.TemporaryDirectory(prefix="tufrepo-download-") as tmp:
        updater = new_updater(
            metadata_url,
            targets_url or default_targets_url(metadata_url),
            root,
            Path(tmp),
            now=now,
        )
        try:
            updater.refresh()
            path = _fetch_target(updater, target_path, Path(tmp) / "download")
        except CLIENT_ERRORS as e:
            raise RejectedError(f"{target_path} does not verify: {_describe(e)}") from e
        return Path(path).read_bytes()
