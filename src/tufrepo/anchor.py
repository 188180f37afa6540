"""Known good for main: the state clients already trust (DESIGN §3).

``online-sign``, ``publish`` and ``verify`` judge main as a transition from an
*anchor*, never as a state on its own: a commit that merely looks
online-signed is no anchor, since whoever can push to main can forge one with
a root of their own.  The anchor is, in order of preference:

1. **the published metadata** — the deployed site's metadata URL, or a
   directory holding a previous publish output: what clients have.  Read as
   published (``timestamp.json``, ``<N>.snapshot.json``, every
   ``<N>.root.json``, ``<N>.<role>.json``); nothing published yet
   (no ``timestamp.json``) falls back to 2.
2. **main's first-parent history** — its first online-signed state is the
   anchor, and every later online-signed state (each one was publishable) is
   judged from the one before it; then HEAD from the last one.

Not for: the rules themselves (:mod:`tufrepo.checks`).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tuf.api.metadata import Root

from tufrepo import fields, layout
from tufrepo.checks import Finding, Severity, errors, judge_main, warnings
from tufrepo.constants import ROOT, SNAPSHOT, TIMESTAMP
from tufrepo.errors import GitStateError, MetadataError, RejectedError, UsageError
from tufrepo.gitrepo import GitTreeStore
from tufrepo.repository import MAX_METADATA_BYTES, TufRepository, parse_metadata
from tufrepo.store import OverlayStore

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from tufrepo.gitrepo import GitRepo
    from tufrepo.store import Store

MAX_ROOT_VERSIONS = 10_000
FETCH_TIMEOUT = 30.0


@dataclass(frozen=True)
class MainVerdict:
    """Main judged from its anchor: the findings and where the anchor came from."""

    findings: list[Finding]
    anchor: str


def published_store(source: str, *, timeout: float = FETCH_TIMEOUT) -> OverlayStore | None:
    """The published metadata at ``source`` (URL or directory), as a checkout-layout store.

    Returns:
        None when nothing is published there yet (no ``timestamp.json``).

    Raises:
        GitStateError: the site cannot be reached (not a missing file).
        MetadataError: published metadata does not parse.
    """
    get = _url_reader(source, timeout) if "://" in source else _dir_reader(Path(source))
    timestamp = get("timestamp.json")
    if timestamp is None:
        return None
    store = OverlayStore()
    store.write(layout.role_path(TIMESTAMP), timestamp)
    ts = parse_metadata(timestamp, f"{source}/timestamp.json", TIMESTAMP)
    version = 0
    for version in range(1, MAX_ROOT_VERSIONS):
        data = get(f"{version}.root.json")
        if data is None:
            break
        store.write(layout.root_history_path(version), data)
        store.write(layout.role_path(ROOT), data)
    if version <= 1:
        raise MetadataError(f"{source}: timestamp.json is published but 1.root.json is not")
    snapshot_name = f"{ts.signed.snapshot_meta.version}.snapshot.json"
    snapshot = get(snapshot_name)
    if snapshot is None:
        raise MetadataError(f"{source}: {snapshot_name} is missing")
    store.write(layout.role_path(SNAPSHOT), snapshot)
    sn = parse_metadata(snapshot, f"{source}/{snapshot_name}", SNAPSHOT)
    for name, meta in sn.signed.meta.items():
        role = name.removesuffix(".json")
        if not layout.is_safe_role_name(role):
            raise MetadataError(f"{source}: snapshot lists an unsafe role name {role!r}")
        data = get(f"{meta.version}.{name}")
        if data is not None:
            store.write(layout.role_path(role), data)
    return store


def _dir_reader(directory: Path) -> Callable[[str], bytes | None]:
    if (directory / "metadata" / "timestamp.json").is_file():
        directory = directory / "metadata"  # a publish OUT directory
    if not directory.is_dir():
        raise UsageError(f"--anchor {directory}: no such directory")

    def read(name: str) -> bytes | None:
        path = directory / name
        return path.read_bytes() if path.is_file() else None

    return read


def _url_reader(base: str, timeout: float) -> Callable[[str], bytes | None]:
    if not base.startswith(("https://", "http://")):
        raise UsageError(f"--anchor {base}: only http(s) URLs and directories are supported")
    base = base.rstrip("/")

    def read(name: str) -> bytes | None:
        try:
            with urllib.request.urlopen(f"{base}/{name}", timeout=timeout) as response:  # noqa: S310 - scheme checked above
                data = bytes(response.read(MAX_METADATA_BYTES + 1))
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise GitStateError(
                f"cannot read the published metadata {base}/{name}: HTTP {e.code}"
            ) from e
        except (urllib.error.URLError, OSError) as e:
            raise GitStateError(
                f"cannot reach the published metadata at {base}: {e}",
                hint="check the URL, or judge main from its history without --anchor",
            ) from e
        if len(data) > MAX_METADATA_BYTES:
            raise MetadataError(f"{base}/{name} is larger than {MAX_METADATA_BYTES} bytes")
        return data

    return read


def judge_main_state(
    repo: TufRepository,
    files: Store | None,
    *,
    git: GitRepo,
    rev: str | None,
    anchor_source: str | None,
    now: datetime,
) -> MainVerdict:
    """Judge main (``repo`` over ``files``, at commit ``rev``) from its anchor.

    Args:
        repo: main's metadata as it is now (work tree or commit).
        files: main's files (None: metadata only).
        git: the checkout, for the history anchor.
        rev: main's commit (the history walked is its first-parent history), or
            None in a checkout without commits.
        anchor_source: published metadata (URL or directory), or None for history.
        now: the time of the judgement.
    """
    if anchor_source is not None:
        published = published_store(anchor_source)
        if published is not None:
            head = TufRepository(OverlayStore(repo.store), now=now, known_good=published)
            return MainVerdict(
                judge_main(head, files, published, now=now),
                f"published metadata at {anchor_source}",
            )
    findings: list[Finding] = []
    previous: Store | None = None
    last = None
    before_format = []
    checkpoints = git.first_parent_changes(rev, layout.role_path(TIMESTAMP)) if rev else []
    for sha, _ in checkpoints:
        state = GitTreeStore(git, sha)
        if state.read(layout.role_path(TIMESTAMP)) is None:
            continue  # timestamp removed: nothing published from here
        if previous is None and not _in_format(state):
            # The era before the repository adopted this format (an import
            # into tuf-on-ci): other tools' rules applied; history, not judged.
            before_format.append(sha)
            continue
        # Expiry bounds are judged at ``now``: never earlier than the commit,
        # so lenient for the past while still catching an expiry of 2099.
        checkpoint = TufRepository(OverlayStore(state), now=now, known_good=previous)
        findings += [
            _at(f, sha) for f in judge_main(checkpoint, None, previous, now=now) if _blocking(f)
        ]
        previous, last = state, sha
    if before_format:
        findings.append(
            Finding(
                "",
                "before-format",
                f"{len(before_format)} online-signed state(s) up to commit "
                f"{before_format[-1][:7]} predate this repository's tuf-on-ci format "
                "(no online signer URI in root) and are not judged",
                Severity.WARNING,
            )
        )
    head = TufRepository(OverlayStore(repo.store), now=now, known_good=previous)
    findings += judge_main(head, files, previous, now=now)
    source = (
        f"main's history from commit {last[:7]}"
        if last
        else "main's first state (never online-signed)"
    )
    return MainVerdict(findings, source)


def _in_format(state: Store) -> bool:
    """True when the state's root names an online signer URI for timestamp (tuf-on-ci format)."""
    data = state.read(layout.role_path(ROOT))
    try:
        root = parse_metadata(data, layout.role_path(ROOT), ROOT).signed if data else None
    except MetadataError:
        return False
    if not isinstance(root, Root) or TIMESTAMP not in root.roles:
        return False
    keys = [root.keys.get(k) for k in root.roles[TIMESTAMP].keyids]
    return bool(keys) and all(k is not None and fields.online_uri(k) for k in keys)


def require_main(verdict: MainVerdict, action: str) -> list[Finding]:
    """Raise when main fails its judgement; return the warnings to show.

    Raises:
        RejectedError: any error finding (exit 4): nothing may be signed,
            pushed or written.
    """
    failed = errors(verdict.findings)
    if failed:
        listed = "; ".join(str(f) for f in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        raise RejectedError(
            f"refusing to {action}: main is not a valid successor of {verdict.anchor}: "
            f"{listed}{more}",
            hint="fix main with a signing event; `tufrepo verify` lists every finding",
        )
    return warnings(verdict.findings)


def _blocking(finding: Finding) -> bool:
    # The past states' warnings (expired then, legacy keyids) were seen then.
    return finding.severity.value == "error"


def _at(finding: Finding, sha: str) -> Finding:
    return Finding(
        finding.role, finding.code, f"at commit {sha[:7]}: {finding.message}", finding.severity
    )
