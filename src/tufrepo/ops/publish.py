"""Build the static consistent-snapshot repository that clients download (DESIGN §4).

::

    <out>/index.html                      the status page (ops.site_page)
    <out>/.tufrepo-site                   marker: what this publish wrote (see below)
    <out>/metadata/<N>.root.json (every version), timestamp.json, <N>.snapshot.json,
    <out>/metadata/<N>.<role>.json (roles reachable in the delegation tree)
    <out>/metadata/index.html             a redirect to ../index.html (old bookmarks)
    <out>/targets/<dir>/<sha256>.<name>

:func:`publish_site` is the operation behind ``tufrepo publish``: judge main
from its anchor, then :func:`build_site`.  Everything is first written to a
staging directory next to OUT.  Staging checks every artifact's length and
sha256 against its metadata; the staged result is checked against the default
client size limits and refreshed with python-tuf's ngclient from the first
root (targets resolved through the delegations: every one of a role changed
since the site main was judged from, BIN_SAMPLE of each hash bin; the first
DOWNLOAD_SAMPLE downloaded); only then does it replace OUT, by renames.  A
failure, including a full disk, leaves OUT as it was.

Publish never deletes what it did not write (issue #13).  OUT must be new,
an empty directory, or a site an earlier publish wrote: its ``.tufrepo-site``
marker (JSON: ``format``, the paths options, and ``files``, every file that
publish wrote) accounts for everything in it.  Anything else in OUT (a file
someone added, a directory that is not a site) is refused, unless ``force``.
OUT is never the checkout, a directory holding it, inside a ``.git``
directory, or inside the checkout's ``metadata/`` or ``targets/``, force or
not.  Directories are written 0755 and files 0644 whatever the umask (GitHub
Pages' artifact upload fails on the 0700 of a fresh temporary directory).

Not for: the signing rules themselves (``checks``), printing.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Snapshot, TargetFile, Targets
from tuf.ngclient.config import UpdaterConfig

from tufrepo import __version__, progress
from tufrepo.checks.history import chain_start
from tufrepo.client import CLIENT_ERRORS, DirectoryFetcher, new_updater
from tufrepo.core import layout
from tufrepo.core.artifacts import check_target_path, is_artifact_path
from tufrepo.core.constants import (
    METADATA_DIR,
    ROOT,
    ROOT_HISTORY_DIR,
    SITE_MARKER,
    SNAPSHOT,
    TARGETS_DIR,
    TIMESTAMP,
)
from tufrepo.core.parsing import ParseCache, canonical_bytes, parse_typed
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import WorktreeStore
from tufrepo.errors import MetadataError, RejectedError, UsageError
from tufrepo.ops.anchor import judge_main_state, require_main
from tufrepo.ops.manifest import listed_in_manifests
from tufrepo.ops.site_page import SiteLinks, render_redirect, render_status_page
from tufrepo.ops.targets import entry_matches

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

    from tufrepo.core.store import Store
    from tufrepo.gitrepo import GitRepo

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
# Artifacts of one hash bin the client resolves: placement in a bin is python-tuf's
# own rule (``DelegatedRole.is_delegated_path``), already applied to every entry
# by checks.bins; the client checks that each bin is reached and trusted (#14:
# a client walk per artifact costs one hash per bin, 10^6 x 512 at a million).
BIN_SAMPLE = 2

# SITE_MARKER (tufrepo.core.constants): the file at the top of OUT listing what publish wrote there.
SITE_FORMAT = 1
"""The marker's format version; a marker of another version is not understood (refused)."""
DIR_MODE = 0o755
FILE_MODE = 0o644

# Errors of the file system under OUT, not bugs: reported as a refusal (exit 4)
# with the cause's advice (tufrepo.advice), OUT untouched.
_WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EMFILE}
)
# An option path inside OUT: plain segments, no "..", nothing hidden.
_SITE_SEGMENT = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*")


@dataclass(frozen=True)
class PublishResult:
    """What was published.

    Attributes:
        out: the site directory (resolved).
        roles: the published version of snapshot and every targets role.
        artifacts: how many artifacts were published.
        previous: what OUT was before: ``new``, ``empty``, ``site`` (an
            earlier publish) or ``forced`` (anything else, replaced on request).
        anchor: what main was judged from (:func:`publish_site` only).
        warnings: findings of that judgement that do not block publishing.
    """

    out: Path
    roles: dict[str, int]
    artifacts: int
    previous: str = "new"
    anchor: str | None = None
    warnings: tuple[str, ...] = ()


def publish_site(
    git: GitRepo,
    out: Path,
    *,
    now: datetime,
    anchor: str | None = None,
    metadata_path: str = "metadata",
    targets_path: str = "targets",
    include_targets: bool = True,
    force: bool = False,
) -> PublishResult:
    """Judge main (the checkout) from its anchor, then build and check the site in ``out``.

    Args:
        git: the checkout of main to publish.
        out: the site directory (see the module docstring for what it may be).
        now: the time of the judgement, the client check and the status page.
        anchor: published metadata (URL or directory) main is judged from;
            None: ``out``'s metadata when it holds an earlier publish, else
            main's history.
        metadata_path: where metadata goes inside ``out`` (``.``: the top).
        targets_path: where artifacts go inside ``out``.
        include_targets: publish the artifacts; False publishes metadata only.
        force: replace ``out`` even when it holds files publish did not write.

    Returns:
        The result, with the anchor and the judgement's warnings.

    Raises:
        UsageError: a path option leaves ``out`` or is not a plain relative path.
        RejectedError: ``out`` is not a place to publish to (see
            :func:`check_out`), main is not a valid successor of its anchor,
            or :func:`build_site` refuses.
        GitStateError: the checkout's history cannot be read.
    """
    paths = SiteLinks(
        site_path(metadata_path, "--metadata-path"), site_path(targets_path, "--targets-path")
    )
    out = _absolute(out)
    check_out(out, checkout=git.top, force=force)
    if anchor is None and (out / paths.metadata_path / "timestamp.json").is_file():
        anchor = str(out / paths.metadata_path)  # the previous publish output: what clients have
    store = WorktreeStore(git.top)
    head = git.head()
    parsed = ParseCache()
    repo = TufRepository(store, now=now, parsed=parsed)
    verdict = judge_main_state(
        repo, store, git=git, rev=head, anchor_source=anchor, now=now, parsed=parsed
    )
    warnings = tuple(str(f) for f in require_main(verdict, "publish"))
    if verdict.judged_base is not None:
        # #14: main was judged by what changed since a state judged in full,
        # which main's snapshot vouches for: roles unchanged since are not
        # parsed again to be published (their versions are the snapshot's).
        repo = TufRepository(store, now=now, parsed=parsed, known_good=verdict.judged_base)
        repo.known_good_judged = repo.versions_from_snapshot = True
    result = build_site(
        repo, store, out, now=now, metadata_path=paths.metadata_path,
        targets_path=str(paths.targets_path), include_targets=include_targets,
        force=force, checkout=git.top, source_commit=head, published=verdict.published,
    )  # fmt: skip
    return PublishResult(
        result.out, result.roles, result.artifacts, result.previous, verdict.anchor, warnings
    )


def site_path(value: str, option: str) -> str:
    """A path option naming a directory inside OUT, normalised (``.`` for OUT itself).

    Raises:
        UsageError: absolute, ``..``, empty or hidden segments, or characters
            other than letters, digits and ``._~-``: the path would leave OUT
            or not survive as a URL path.
    """
    path = value.strip()
    if path in ("", ".", "./"):
        return "."
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise UsageError(
            f"{option} {value!r} is absolute", hint="give a path inside OUT, e.g. metadata"
        )
    segments = path.removeprefix("./").rstrip("/").split("/")
    if ".." in segments:
        raise UsageError(
            f"{option} {value!r} leaves OUT", hint="give a path inside OUT, e.g. metadata"
        )
    if not all(_SITE_SEGMENT.fullmatch(seg) for seg in segments):
        raise UsageError(
            f"{option} {value!r} is not a plain relative path",
            hint="use letters, digits and ._~- in each segment, none starting with a dot",
        )
    return "/".join(segments)


def _absolute(out: Path) -> Path:
    # resolve() follows a symlinked OUT: the checks below see where files really go.
    return out.resolve()


def check_out(out: Path, *, checkout: Path | None, force: bool) -> str:
    """Whether publishing may replace ``out``, and what it is.

    Args:
        out: the resolved site directory.
        checkout: the checkout being published (None: not known).
        force: accept a directory holding files publish did not write.

    Returns:
        ``new``, ``empty``, ``site`` or ``forced``.

    Raises:
        RejectedError: ``out`` is or holds the checkout, is inside a ``.git``
            directory or the checkout's metadata/targets, is not a directory,
            or holds anything an earlier publish did not write (unless ``force``).
    """
    if ".git" in out.parts:
        raise RejectedError(f"{out} is inside a .git directory", hint=_ELSEWHERE)
    if checkout is not None:
        top = checkout.resolve()
        if top.is_relative_to(out):
            what = "is the checkout" if top == out else "contains the checkout"
            raise RejectedError(
                f"{out} {what} {top}: publishing would replace it", hint=_ELSEWHERE
            )
        for source in (METADATA_DIR, TARGETS_DIR):
            if out.is_relative_to(top / source):
                raise RejectedError(f"{out} is inside the checkout's {source}/", hint=_ELSEWHERE)
    if not out.exists() and not out.is_symlink():
        return "new"
    if not out.is_dir():
        raise RejectedError(f"{out} exists and is not a directory", hint=_ELSEWHERE)
    foreign = _foreign_entries(out)
    if foreign is None:
        return "empty"
    if not foreign:
        return "site"
    if force:
        return "forced"
    shown = ", ".join(foreign[:5]) + (
        f" (and {len(foreign) - 5} more)" if len(foreign) > 5 else ""
    )
    raise RejectedError(
        f"{out} holds files publish did not write: {shown}",
        hint="publish into a new or empty directory, move those files away, "
        "or pass --force to replace everything in it",
    )


_ELSEWHERE = "publish into a directory of its own, e.g. build/site or $RUNNER_TEMP/site"


def _foreign_entries(out: Path) -> list[str] | None:
    """What in ``out`` an earlier publish did not write; None when ``out`` is empty."""
    found = list(_walk(out))
    if not found:
        return None
    written = _marker_files(out)
    if written is None:
        return sorted(path for path, _ in found if "/" not in path) or ["(unreadable)"]
    known_dirs = {"."}
    for p in written:
        parts = p.split("/")
        known_dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    foreign = []
    for path, is_dir in found:
        if is_dir and path not in known_dirs:
            foreign.append(path + "/")
        elif not is_dir and path not in written and path != SITE_MARKER:
            foreign.append(path)
    return sorted(foreign)


def _walk(top: Path) -> Iterator[tuple[str, bool]]:
    """(relative path, is a real directory) of everything below ``top``; never follows links."""
    for directory, dirs, files in os.walk(top):
        base = Path(directory).relative_to(top).as_posix()
        prefix = "" if base == "." else f"{base}/"
        for name in dirs:
            yield f"{prefix}{name}", not (Path(directory) / name).is_symlink()
        for name in files:
            yield f"{prefix}{name}", False


def _marker_files(out: Path) -> set[str] | None:
    """The files the marker says publish wrote, or None without a marker it understands."""
    marker = out / SITE_MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != SITE_FORMAT:
        return None
    files = data.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    # Only regular files count as written: a symlink in its place was not.
    directories: dict[str, bool] = {}  # each directory checked once (#14: 40,000 files)
    return {f for f in files if _written_file_inside(out, f, directories)}


def _written_file_inside(
    out: Path, listed: str, directories: dict[str, bool] | None = None
) -> bool:
    """Whether a marker entry names a regular file inside ``out``, reached without links.

    Attack: a marker planted in OUT (a reused or restored directory) listing
    ``../x``, an absolute path, or a path through a symlinked directory would
    make publish delete files it never wrote, outside OUT.  Every step below
    ``out`` is a real directory (not a link) and the last a regular file, so
    the path stays inside ``out``.

    Args:
        out: the site directory.
        listed: the marker's entry.
        directories: what was found of the directories checked before.
    """
    parts = listed.split("/")
    if not listed or "\\" in listed or any(part in ("", ".", "..") for part in parts):
        return False
    known = {} if directories is None else directories
    for depth in range(1, len(parts)):
        step = "/".join(parts[:depth])
        if step not in known:
            known[step] = _is_real(out / step, stat.S_ISDIR)
        if not known[step]:
            return False
    return _is_real(out / listed, stat.S_ISREG)


def _is_real(path: Path, kind: Callable[[int], bool]) -> bool:
    """True when ``path`` itself (not a link's target) is of ``kind``."""
    try:
        return kind(os.lstat(path).st_mode)
    except OSError:
        return False


def build_site(
    repo: TufRepository,
    files: Store,
    out: Path,
    *,
    now: datetime,
    metadata_path: str = "metadata",
    targets_path: str = "targets",
    include_targets: bool = True,
    force: bool = False,
    checkout: Path | None = None,
    source_commit: str | None = None,
    published: Store | None = None,
) -> PublishResult:
    """Stage, check and then publish the repository into ``out``.

    Args:
        repo: the repository state to publish (online-signed: snapshot and
            timestamp must exist).
        files: the same checkout's files (``metadata/root_history/``, ``targets/``).
        out: the site directory: new, empty or an earlier site (see
            :func:`check_out`); replaced as a whole, only after every check passed.
        now: the reference time of the client check and the status page.
        metadata_path: where metadata goes inside ``out``.
        targets_path: where artifacts go inside ``out``.
        include_targets: copy the artifacts (hash-prefixed) and have the client
            download them; False publishes metadata only.
        force: replace ``out`` even when it holds files publish did not write.
        checkout: the checkout published (default: ``files``' top, for a work tree).
        source_commit: the commit shown on the status page.
        published: the published metadata main was judged from: the client
            check skips what it resolved then (:func:`resolved_before`).

    Returns:
        The published role versions (snapshot and targets roles), the number
        of artifacts, the resolved ``out`` and what it was before.

    Raises:
        UsageError: a path option leaves ``out``.
        RejectedError: ``out`` may not be replaced, the repository is not
            online-signed yet, an artifact does not match its metadata, a
            metadata file is over a client size limit, a TUF client rejects
            the staged result, or the file system refuses to write the site
            (full, read-only, no permission: ``out`` unchanged).
    """
    links = SiteLinks(
        site_path(metadata_path, "--metadata-path"),
        site_path(targets_path, "--targets-path") if include_targets else None,
    )
    out = _absolute(out)
    if checkout is None and isinstance(files, WorktreeStore):
        checkout = files.top
    previous = check_out(out, checkout=checkout, force=force)
    with _writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
        try:
            roles, artifacts = _stage(repo, files, staging, links, include_targets)
            _check_sizes(staging / links.metadata_path)
            _check_with_client(
                repo, staging, links, now, resolved=resolved_before(repo, published)
            )
            (staging / "index.html").write_text(
                render_status_page(repo, now, links=links, source_commit=source_commit),
                encoding="utf-8",
            )
            if links.metadata_path != ".":
                up = "../" * len(links.metadata_path.split("/"))
                (staging / links.metadata_path / "index.html").write_text(
                    render_redirect(up), encoding="utf-8"
                )
            _write_marker(staging, links)
            _set_modes(staging)
            _replace(staging, out, force=previous == "forced")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return PublishResult(out, roles, artifacts, previous)


@contextlib.contextmanager
def _writing(out: Path) -> Iterator[None]:
    """Turn the file system's refusals into a RejectedError naming OUT."""
    try:
        yield
    except OSError as e:
        if e.errno not in _WRITE_ERRNOS:
            raise
        raise RejectedError(f"cannot write the site {out}: {e.strerror or e}", cause=e) from e


def _stage(
    repo: TufRepository,
    files: Store,
    site: Path,
    links: SiteLinks,
    include_targets: bool,
) -> tuple[dict[str, int], int]:
    meta = site / links.metadata_path
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
    versions = repo.targets_infos  # #14: from the snapshot for roles unchanged since judged
    snapshot = repo.read_snapshot()
    for role in [SNAPSHOT, *repo.targets_roles()]:
        info = versions.get(f"{role}.json")
        version = snapshot.signed.version if role == SNAPSHOT and snapshot else None
        version = info.version if info is not None else version
        if version is None:
            raise RejectedError(f"metadata/{role}.json is delegated but missing")
        roles[role] = version
        _copy(files, layout.role_path(role), meta / f"{version}.{role}.json")
    artifacts = 0
    if include_targets and links.targets_path is not None:
        artifacts = _stage_artifacts(repo, files, site / links.targets_path)
    return roles, artifacts


def _copy(files: Store, path: str, dest: Path) -> None:
    data = files.read(path)
    if data is None:
        raise RejectedError(f"{path} is missing")
    dest.write_bytes(data)


def _stage_artifacts(repo: TufRepository, files: Store, dest: Path) -> int:
    count = 0
    # #14: a role unchanged since the state main was judged against, owning
    # no file in git, lists only manifest artifacts (metadata only, no file
    # here) that were checked then: it is not read.
    prefix = f"{TARGETS_DIR}/"
    present = {e.path[len(prefix) :] for e in files.walk(TARGETS_DIR)}
    owning = {repo.owner_of(p) for p in present if is_artifact_path(p)}
    roles = [r for r in repo.targets_roles() if r in owning or not repo.unchanged_since_judged(r)]
    listings = {r: md.signed.targets for r in roles if (md := repo.read_targets(r)) is not None}
    external = listed_in_manifests(
        files, [p for listed in listings.values() for p in listed if p not in present]
    )
    for role, listed in listings.items():
        for target_path, info in listed.items():
            # Attack: a path or hash value in metadata that would write outside OUT.
            check_target_path(target_path)
            if not all(_HEX.fullmatch(v) for v in info.hashes.values()):
                raise RejectedError(f"{target_path} has a hash that is not hexadecimal")
            if target_path in external:
                continue  # manifest artifacts: metadata only, no file here
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
            progress.advance("checking and copying artifacts", count)
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


def resolved_before(repo: TufRepository, published: Store | None) -> set[str]:
    """Targets roles whose every artifact a client already resolved when they were published.

    #14: publishing one more artifact into a site of 100,000 must not walk
    the delegation tree 100,000 times.  ``published`` is the site main was
    just judged from (the previous output, or ``--anchor``): it passed this
    same check when it was published.  A role qualifies when it is published
    there at the same version, under the same root, and no role whose
    version changed changed its delegations: then the tree a client walks,
    and what each unchanged role lists, are as they were.  Anything
    unexpected (a role missing, unparsable, a published snapshot the online
    key did not sign, a role whose file, main's snapshot and the published
    snapshot disagree on its version) means no role qualifies and every
    artifact is resolved again.

    Args:
        repo: the repository being published.
        published: the published metadata in checkout layout, or None.
    """
    if published is None:
        return set()
    try:
        if published.read(layout.role_path(ROOT)) != repo.store.read(layout.role_path(ROOT)):
            return set()  # keys may differ: a client walks with other keys
        data = published.read(layout.role_path(SNAPSHOT))
        snapshot = repo.read_snapshot()
        if data is None or snapshot is None:
            return set()
        before_snapshot = parse_typed(data, "published snapshot", Snapshot)
        # Red team: a mirror serving a snapshot of its own would choose what
        # is skipped; only one the online key signed counts.
        repo.root().verify_delegate(
            SNAPSHOT, canonical_bytes(before_snapshot.signed), before_snapshot.signatures
        )
        meta, now_listed = before_snapshot.signed.meta, snapshot.signed.meta
        unchanged = set()
        versions = repo.targets_infos  # #14: unchanged roles' from the snapshot vouching for them
        for role in repo.targets_roles():
            info = versions.get(f"{role}.json")
            before = meta.get(f"{role}.json")
            listed = now_listed.get(f"{role}.json")
            if info is None or before is None or listed is None:
                return set()  # a role added or removed: its delegator changed too
            if before.version == info.version == listed.version:
                # published before, and what main's snapshot publishes now
                # (red team: a role file behind its snapshot is resolved again)
                unchanged.add(role)
                continue
            data = published.read(layout.role_path(role))
            if data is None:
                return set()
            old = parse_typed(data, f"published {role}", Targets).signed
            md = repo.read_targets(role)
            if md is None or old.version != before.version:
                return set()
            new = md.signed.delegations
            if (old.delegations.to_dict() if old.delegations else None) != (
                new.to_dict() if new else None
            ):
                return set()  # the tree changed: every path may resolve elsewhere
    except (MetadataError, UnsignedMetadataError):
        return set()
    return unchanged


def _check_with_client(
    repo: TufRepository, site: Path, links: SiteLinks, now: datetime, *, resolved: set[str]
) -> None:
    # Clients start at the first root of the verified chain (1, unless the
    # history begins with legacy roots python-tuf cannot read).
    first_root = (site / links.metadata_path / f"{chain_start(repo.store)}.root.json").read_bytes()
    base = DirectoryFetcher.BASE
    metadata_url = base + ("" if links.metadata_path == "." else links.metadata_path)
    targets_url = None
    if links.targets_path is not None:
        targets_url = base + ("" if links.targets_path == "." else links.targets_path)
    with tempfile.TemporaryDirectory(prefix="tufrepo-publish-check-") as tmp:
        try:
            updater = new_updater(
                metadata_url,
                targets_url,
                first_root,
                Path(tmp),
                now=now,
                fetcher=DirectoryFetcher(site),
            )
            updater.refresh()
            if links.targets_path is not None:
                # Every artifact must resolve through the delegation tree; lengths
                # and hashes were checked when staging, so downloading a sample
                # checks the hash-prefixed layout without hashing everything twice.
                downloaded = 0
                bins = {c.name for _, c in repo.delegations() if c.path_hash_prefixes is not None}
                for role in repo.targets_roles():
                    if role in resolved:
                        continue  # the previous site's client check covered it
                    md = repo.read_targets(role)
                    paths = list(md.signed.targets) if md else []
                    for target_path in paths[:BIN_SAMPLE] if role in bins else paths:
                        info = updater.get_targetinfo(target_path)
                        if info is None:
                            raise RejectedError(f"a client cannot find {target_path}")
                        # manifest artifacts are served by the artifact store, not the site
                        if downloaded < DOWNLOAD_SAMPLE and _in_site(site, links, info):
                            updater.download_target(info, str(Path(tmp) / "download"))
                            downloaded += 1
        except OSError as e:
            if e.errno in _WRITE_ERRNOS:  # the file system, not the repository
                raise
            raise _client_rejects(e) from e
        except CLIENT_ERRORS as e:
            raise _client_rejects(e) from e


def _in_site(site: Path, links: SiteLinks, info: TargetFile) -> bool:
    """True when the staged site holds the artifact under the name clients download."""
    if links.targets_path is None:
        return False
    return (site / links.targets_path / info.get_prefixed_paths()[0]).is_file()


def _client_rejects(error: BaseException) -> RejectedError:
    return RejectedError(
        f"a TUF client rejects the result: {type(error).__name__}: {error}",
        hint="run `tufrepo verify` to see which invariant is broken",
    )


def _write_marker(site: Path, links: SiteLinks) -> None:
    written = sorted(path for path, is_dir in _walk(site) if not is_dir)
    marker = {
        "format": SITE_FORMAT,
        "generator": f"tufrepo {__version__}",
        "metadata_path": links.metadata_path,
        "targets_path": links.targets_path,
        "files": written,
    }
    (site / SITE_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")


def _set_modes(site: Path) -> None:
    site.chmod(DIR_MODE)
    for directory, dirs, files in os.walk(site):
        for name in dirs:
            (Path(directory) / name).chmod(DIR_MODE)
        for name in files:
            (Path(directory) / name).chmod(FILE_MODE)


def _replace(staging: Path, out: Path, *, force: bool) -> None:
    """Put ``staging`` in the place of ``out`` by renames; remove the old site after."""
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
    if force:
        shutil.rmtree(old, ignore_errors=True)
    else:
        _remove_written(old)


def _remove_written(old: Path) -> None:
    """Remove an earlier site: only the files its marker lists, then directories left empty.

    Whatever appeared there since :func:`check_out` looked stays (with the
    directory holding it): publish never deletes what it did not write.
    """
    for path in sorted(_marker_files(old) or ()):
        if _written_file_inside(old, path):  # checked again just before deleting
            (old / path).unlink(missing_ok=True)
    (old / SITE_MARKER).unlink(missing_ok=True)
    for directory, _, _ in sorted(os.walk(old), key=lambda w: -len(Path(w[0]).parts)):
        with contextlib.suppress(OSError):  # not empty: something publish did not write
            Path(directory).rmdir()
