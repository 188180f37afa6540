"""Build the static consistent-snapshot repository that clients download (DESIGN §4).

::

    <out>/metadata/<N>.root.json (every version), timestamp.json, <N>.snapshot.json,
    <out>/metadata/<N>.<role>.json (roles reachable in the delegation tree), index.html
    <out>/targets/<dir>/<sha256>.<name>

Everything is first written to a staging directory next to OUT.  Staging
checks every artifact's length and sha256 against its metadata; the staged
result is checked against the default client size limits and refreshed with
python-tuf's ngclient from 1.root.json (every target resolved through the
delegations, the first DOWNLOAD_SAMPLE downloaded); only then does it
replace OUT.  A failure leaves OUT as it was.

Not for: validation of the signing rules (callers run the validation engine
first), git, printing.
"""

from __future__ import annotations

import functools
import html
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from tuf.api.metadata import TargetFile, Targets
from tuf.ngclient.config import UpdaterConfig

from tufrepo import __version__
from tufrepo.checks.history import chain_start
from tufrepo.client import CLIENT_ERRORS, DirectoryFetcher, new_updater
from tufrepo.core import fields, layout
from tufrepo.core.constants import ROOT, ROOT_HISTORY_DIR, SNAPSHOT, TARGETS_DIR, TIMESTAMP
from tufrepo.core.delegations import delegated_keys
from tufrepo.errors import RejectedError
from tufrepo.ops.release import check_target_path
from tufrepo.ops.targets import entry_matches

if TYPE_CHECKING:
    from datetime import datetime

    from tufrepo.core.repository import TufRepository
    from tufrepo.core.store import Store

_HEX = re.compile(r"[0-9a-f]{32,128}")

# The default download limits of python-tuf's ngclient (tuf-js has the same),
# in bytes; snapshot is held to 1 MiB, below ngclient's 2 MB, to fit stricter clients.
_CLIENT_DEFAULTS = UpdaterConfig()
SNAPSHOT_SIZE_LIMIT = min(_CLIENT_DEFAULTS.snapshot_max_length, 1_048_576)
SIZE_LIMITS = {
    ROOT: _CLIENT_DEFAULTS.root_max_length,
    TIMESTAMP: _CLIENT_DEFAULTS.timestamp_max_length,
    SNAPSHOT: SNAPSHOT_SIZE_LIMIT,
}
TARGETS_SIZE_LIMIT = _CLIENT_DEFAULTS.targets_max_length
DOWNLOAD_SAMPLE = 50  # artifacts the publish-time client downloads (all resolve)


@dataclass(frozen=True)
class PublishResult:
    """What was published: where, the role versions, the number of artifacts."""

    out: Path
    roles: dict[str, int]
    artifacts: int


def build_site(
    repo: TufRepository,
    files: Store,
    out: Path,
    *,
    now: datetime,
    metadata_path: str = "metadata",
    targets_path: str = "targets",
    include_targets: bool = True,
) -> PublishResult:
    """Stage, check and then publish the repository into ``out``.

    Args:
        repo: the repository state to publish (online-signed: snapshot and
            timestamp must exist).
        files: the same checkout's files (``metadata/root_history/``, ``targets/``).
        out: the site directory; replaced as a whole, only after every check passed.
        now: the reference time of the client check and the index page's date.
        metadata_path: where metadata goes inside ``out``.
        targets_path: where artifacts go inside ``out``.
        include_targets: copy the artifacts (hash-prefixed) and have the client
            download them; False publishes metadata only.

    Returns:
        The published role versions (snapshot and targets roles), the number
        of artifacts and the resolved ``out``.

    Raises:
        RejectedError: the repository is not online-signed yet, an artifact
            does not match its metadata, a metadata file is over a client
            size limit, or a TUF client rejects the staged result.
    """
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        result = _stage(repo, files, staging, metadata_path, targets_path, include_targets, now)
        _check_sizes(staging / metadata_path)
        _check_with_client(repo, staging, metadata_path, targets_path, include_targets, now)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PublishResult(out, result.roles, result.artifacts)


def _stage(
    repo: TufRepository,
    files: Store,
    site: Path,
    metadata_path: str,
    targets_path: str,
    include_targets: bool,
    now: datetime,
) -> PublishResult:
    meta = site / metadata_path
    meta.mkdir(parents=True, exist_ok=True)
    for role in (SNAPSHOT, TIMESTAMP):
        if not repo.exists(role):
            raise RejectedError(
                f"metadata/{role}.json does not exist", hint="run `tufrepo online-sign` first"
            )
    for entry in files.walk(ROOT_HISTORY_DIR):
        name = entry.path.rsplit("/", 1)[-1]
        if layout.root_history_version(name) is not None:
            (meta / name).write_bytes(files.read(entry.path) or b"")
    _copy(files, layout.role_path(TIMESTAMP), meta / "timestamp.json")
    roles: dict[str, int] = {}
    for role in [SNAPSHOT, *repo.targets_roles()]:
        md = repo.read(role)
        if md is None:
            raise RejectedError(f"metadata/{role}.json is delegated but missing")
        roles[role] = md.signed.version
        _copy(files, layout.role_path(role), meta / f"{md.signed.version}.{role}.json")
    artifacts = _stage_artifacts(repo, files, site / targets_path) if include_targets else 0
    (meta / "index.html").write_text(render_index(repo, now), encoding="utf-8")
    return PublishResult(site, roles, artifacts)


def _copy(files: Store, path: str, dest: Path) -> None:
    data = files.read(path)
    if data is None:
        raise RejectedError(f"{path} is missing")
    dest.write_bytes(data)


def _stage_artifacts(repo: TufRepository, files: Store, dest: Path) -> int:
    count = 0
    for role in repo.targets_roles():
        md = repo.read_targets(role)
        for target_path, info in (md.signed.targets if md else {}).items():
            # Attack: a path or hash value in metadata that would write outside OUT.
            check_target_path(target_path)
            if not all(_HEX.fullmatch(v) for v in info.hashes.values()):
                raise RejectedError(f"{target_path} has a hash that is not hexadecimal")
            data = files.read(f"{TARGETS_DIR}/{target_path}")
            # Attack: metadata and artifact disagree; never publish a file clients would reject.
            if data is None:
                raise RejectedError(f"targets/{target_path} listed in {role} does not exist")
            actual = TargetFile.from_data(target_path, data, ["sha256"])
            why = entry_matches(info, actual, functools.partial(bytes, data))
            if why is not None:
                raise RejectedError(f"{role} lists targets/{target_path} with {why}")
            # <dir>/<hash>.<name> for each hash, the names clients download
            for prefixed in info.get_prefixed_paths():
                (dest / prefixed).parent.mkdir(parents=True, exist_ok=True)
                (dest / prefixed).write_bytes(data)
            count += 1
    return count


def _check_sizes(meta: Path) -> None:
    for path in sorted(meta.glob("*.json")):
        role = path.name.split(".")[-2]
        limit = SIZE_LIMITS.get(role, TARGETS_SIZE_LIMIT)
        size = path.stat().st_size
        if size > limit:
            hint = (
                "split the artifacts over delegated roles (tufrepo delegate EVENT ROLE)"
                if limit == TARGETS_SIZE_LIMIT
                else "fewer keys or roles; clients refuse larger files"
            )
            raise RejectedError(
                f"{path.name} is {size} bytes, over the {limit} bytes TUF clients download by default",
                hint=hint,
            )


def _check_with_client(
    repo: TufRepository,
    site: Path,
    metadata_path: str,
    targets_path: str,
    include_targets: bool,
    now: datetime,
) -> None:
    # Clients start at the first root of the verified chain (1, unless the
    # history begins with legacy roots python-tuf cannot read).
    first_root = (site / metadata_path / f"{chain_start(repo.store)}.root.json").read_bytes()
    base = DirectoryFetcher.BASE
    with tempfile.TemporaryDirectory(prefix="tufrepo-publish-check-") as tmp:
        try:
            updater = new_updater(
                base + metadata_path.strip("/"),
                base + targets_path.strip("/"),
                first_root,
                Path(tmp),
                now=now,
                fetcher=DirectoryFetcher(site),
            )
            updater.refresh()
            if include_targets:
                # Every artifact must resolve through the delegation tree; lengths
                # and hashes were checked when staging, so downloading a sample
                # checks the hash-prefixed layout without hashing everything twice.
                downloaded = 0
                for role in repo.targets_roles():
                    md = repo.read_targets(role)
                    for target_path in md.signed.targets if md else {}:
                        info = updater.get_targetinfo(target_path)
                        if info is None:
                            raise RejectedError(f"a client cannot find {target_path}")
                        if downloaded < DOWNLOAD_SAMPLE:
                            updater.download_target(info, str(Path(tmp) / "download"))
                            downloaded += 1
        except CLIENT_ERRORS as e:
            raise RejectedError(
                f"a TUF client rejects the result: {type(e).__name__}: {e}",
                hint="run `tufrepo verify` to see which invariant is broken",
            ) from e


def _replace(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{staging.name[-8:]}")
    out.rename(old)
    try:
        staging.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def render_index(repo: TufRepository, now: datetime) -> str:
    """The status page: roles, versions, signers, dates and the artifact list.

    Every value taken from metadata is HTML-escaped; the page has no scripts.

    Args:
        repo: the repository state shown.
        now: the "generated at" time.

    Returns:
        The page (``resources/index.html`` filled in).
    """
    rows = []
    artifacts = []
    root = repo.root()
    for role in [ROOT, TIMESTAMP, SNAPSHOT, *repo.targets_roles()]:
        md = repo.read(role)
        delegator = repo.delegator(role)
        if md is None or delegator is None:
            continue
        keys = delegated_keys(delegator, role)
        threshold = delegator.get_delegated_role(role).threshold
        signers = ", ".join(sorted(fields.key_label(k) for k in keys))
        try:
            periods = fields.get_periods(root, role, md.signed)
            starts = f"{md.signed.expires - timedelta(days=periods.signing):%Y-%m-%d}"
        except RejectedError:
            starts = "-"
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    role,
                    md.signed.version,
                    f"{signers} ({threshold} of {len(keys)} required)",
                    starts,
                    f"{md.signed.expires:%Y-%m-%d %H:%M} UTC",
                )
            )
            + "</tr>"
        )
        for path, info in (
            sorted(md.signed.targets.items()) if isinstance(md.signed, Targets) else []
        ):
            artifacts.append(
                "<tr>"
                f"<td><code>{html.escape(path)}</code></td><td>{html.escape(role)}</td>"
                f"<td>{info.length}</td><td><code>{html.escape(info.hashes.get('sha256', '-'))}</code></td>"
                "</tr>"
            )
    template = Template(
        resources.files("tufrepo").joinpath("resources/index.html").read_text("utf-8")
    )
    return template.substitute(
        roles="\n".join(rows),
        artifacts="\n".join(artifacts) or '<tr><td colspan="4">none</td></tr>',
        generated=html.escape(f"{now:%Y-%m-%d %H:%M} UTC"),
        version=html.escape(__version__),
    )
