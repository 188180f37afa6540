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

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tuf.api.exceptions import DownloadError, DownloadHTTPError, DownloadLengthMismatchError
from tuf.api.metadata import Root, Snapshot, Timestamp

from tufrepo import progress
from tufrepo.checks import Finding, Severity, errors, judge_main, warnings
from tufrepo.checks.findings import unique
from tufrepo.core import fields, layout
from tufrepo.core.constants import (
    METADATA_DIR,
    ROOT,
    ROOT_HISTORY_DIR,
    SNAPSHOT,
    TARGETS_DIR,
    TIMESTAMP,
)
from tufrepo.core.parsing import MAX_METADATA_BYTES, ParseCache, parse_typed
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import OverlayStore, WorktreeStore
from tufrepo.errors import GitStateError, MetadataError, RejectedError, UsageError
from tufrepo.gitrepo import GitTreeStore
from tufrepo.ops import artifacts

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from tufrepo.core.artifacts import KnownArtifacts
    from tufrepo.core.store import Store
    from tufrepo.gitrepo import GitRepo

MAX_ROOT_VERSIONS = 10_000
FETCH_TIMEOUT = 120.0  # seconds for reading the whole published anchor


@dataclass(frozen=True)
class MainVerdict:
    """Main judged from its anchor.

    The findings, where the anchor came from, and the published metadata
    when that was the anchor (checkout layout).
    """

    findings: list[Finding]
    anchor: str
    published: Store | None = None
    # The state main's work tree was judged against by what changed (#14):
    # judged in full, with every artifact, by the online-sign whose signed
    # snapshot main still carries.  None when main was judged in full.
    judged_base: Store | None = None


def published_store(
    source: str, *, timeout: float = FETCH_TIMEOUT, clock: Callable[[], float] | None = None
) -> OverlayStore | None:
    """The published metadata at ``source`` (URL or directory), as a checkout-layout store.

    Returns:
        None when nothing is published there yet (no ``timestamp.json``).

    Raises:
        GitStateError: the site cannot be reached (not a missing file).
        MetadataError: published metadata does not parse.
    """
    get = _url_reader(source, timeout, clock) if "://" in source else _dir_reader(Path(source))
    timestamp = get("timestamp.json")
    if timestamp is None:
        return None
    store = OverlayStore()
    store.write(layout.role_path(TIMESTAMP), timestamp)
    ts = parse_typed(timestamp, f"{source}/timestamp.json", Timestamp)
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
    sn = parse_typed(snapshot, f"{source}/{snapshot_name}", Snapshot)
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


def _url_reader(
    base: str, timeout: float, clock: Callable[[], float] | None
) -> Callable[[str], bytes | None]:
    if not base.startswith(("https://", "http://")):
        raise UsageError(f"--anchor {base}: only http(s) URLs and directories are supported")
    base = base.rstrip("/")
    # urllib3 and python-tuf's client load only for a URL anchor (#14: start-up)
    from tufrepo.client import DeadlineFetcher  # noqa: PLC0415

    # One deadline for the whole read: a mirror trickling bytes must not hang CI.
    fetcher = DeadlineFetcher(timeout, clock=clock)

    def read(name: str) -> bytes | None:
        try:
            return fetcher.download_bytes(f"{base}/{name}", MAX_METADATA_BYTES)
        except DownloadHTTPError as e:
            if e.status_code == 404:
                return None
            raise GitStateError(
                f"cannot read the published metadata {base}/{name}: HTTP {e.status_code}"
            ) from e
        except DownloadLengthMismatchError as e:
            raise MetadataError(f"{base}/{name} is larger than {MAX_METADATA_BYTES} bytes") from e
        except (DownloadError, OSError) as e:
            raise GitStateError(
                f"cannot read the published metadata at {base}: {e}",
                hint="check the URL and the site; --anchor-timeout allows more time",
            ) from e

    return read


def judge_main_state(
    repo: TufRepository,
    files: Store | None,
    *,
    git: GitRepo,
    rev: str | None,
    anchor_source: str | None,
    now: datetime,
    by_change: bool = True,
    parsed: ParseCache | None = None,
    pristine: bool | None = None,
) -> MainVerdict:
    """Judge main (``repo`` over ``files``, at commit ``rev``) from its anchor.

    With published metadata, main is judged from it *and* from its history: the
    published anchor catches a rewritten history, the history catches a
    hostile mirror; both must hold.

    Args:
        repo: main's metadata as it is now (work tree or commit).
        files: main's files (None: metadata only).
        git: the checkout, for the history anchor.
        rev: main's commit (the history walked is its first-parent history), or
            None in a checkout without commits.
        anchor_source: published metadata (URL or directory), or None for history.
        now: the time of the judgement.
        by_change: judge only what changed since the commit main's
            online-signed snapshot vouches for (#14); False re-reads every
            artifact (``tufrepo verify``, an audit).
        parsed: metadata parsed once per content, shared with the caller's
            later work on the same state (online-sign's signing).
        pristine: :meth:`~tufrepo.gitrepo.GitRepo.worktree_pristine` of the
            checkout for metadata/ and targets/, when the caller asked it
            already (None: asked here when needed).
    """
    published = published_store(anchor_source) if anchor_source is not None else None
    findings, history, base = _judge_history(
        repo, files, git=git, rev=rev, now=now, published=published, by_change=by_change,
        parsed=parsed or ParseCache(), pristine=pristine,
    )  # fmt: skip
    source = f"published metadata at {anchor_source} ({history})" if published else history
    return MainVerdict(unique(findings), source, published, base)


def _judge_history(
    repo: TufRepository,
    files: Store | None,
    *,
    git: GitRepo,
    rev: str | None,
    now: datetime,
    published: Store | None,
    by_change: bool,
    parsed: ParseCache,
    pristine: bool | None,
) -> tuple[list[Finding], str, Store | None]:
    """Walk main's online-signed states from the anchor, then judge the work tree.

    Returns the findings, where the anchor came from, and the state the
    work tree was judged against by what changed (None: judged in full).

    The anchor is the published state when there is one, which must be one of
    main's online-signed states (attack: a hostile mirror serving metadata of
    its own, or a main rewritten after publishing); else main's first
    online-signed state in this format.
    """
    findings: list[Finding] = []
    # ``parsed``: each state shares most roles with the one before (#14)
    checkpoints = [
        sha
        for sha, _ in (git.first_parent_changes(rev, layout.role_path(TIMESTAMP)) if rev else [])
    ]
    previous: Store | None = None
    last = None
    if published is not None:
        stamp = published.read(layout.role_path(TIMESTAMP))
        start = next(
            (
                i
                # the earliest: a later commit can copy the published timestamp's
                # bytes beside other metadata, and must then be judged (red team)
                for i in range(len(checkpoints))
                if GitTreeStore(git, checkpoints[i]).read(layout.role_path(TIMESTAMP)) == stamp
            ),
            None,
        )
        previous = published
        if start is None:
            findings.append(
                Finding(
                    TIMESTAMP,
                    "published-not-in-history",
                    "the published timestamp.json is not an online-signed state of main: "
                    "main was rewritten after publishing, or the site is not this repository's",
                )
            )
            checkpoints = []
        else:
            last = checkpoints[start]
            checkpoints = checkpoints[start + 1 :]
    before_format = []
    # The offline metadata of the last state judged in full, in this walk or,
    # for the published anchor's state, by the online-sign its snapshot
    # vouches for (then publishing the same state again judges no artifact).
    judged_offline: dict[str, str] | None = None
    if by_change and last is not None and published is not None:
        offline = _vouched_offline(git, last, now=now, parsed=parsed)
        if offline is not None and _is_published(git, last, offline, published):
            judged_offline = offline
    for done, sha in enumerate(checkpoints, 1):
        progress.advance("judging main's history", done, len(checkpoints))
        state = GitTreeStore(git, sha)
        if state.read(layout.role_path(TIMESTAMP)) is None:
            continue  # timestamp removed: nothing published from here
        if previous is None and not _in_format(state):
            # The era before the repository adopted this format (an import
            # into tuf-on-ci): other tools' rules applied; history, not judged.
            before_format.append(sha)
            continue
        offline = _offline_metadata(git, sha)
        # Expiry bounds are judged at ``now``: never earlier than the commit,
        # so lenient for the past while still catching an expiry of 2099.
        checkpoint = TufRepository(
            OverlayStore(state), now=now, known_good=previous, parsed=parsed
        )
        as_judged = by_change and (
            offline == judged_offline
            or (last is not None and _vouched(git, checkpoint, offline, last))
        )
        verdict = judge_main(checkpoint, None, previous, now=now, offline_judged=as_judged)
        findings += [_at(f, sha) for f in verdict if _blocking(f)]
        previous, last, judged_offline = state, sha, offline
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
    if rev is not None:
        findings += _merged_histories(git, rev, repo.store)
    head = TufRepository(OverlayStore(repo.store), now=now, known_good=previous, parsed=parsed)
    known, offline_judged = None, False
    if by_change and isinstance(files, WorktreeStore) and files.top.resolve() == git.top.resolve():
        known, offline_judged = _by_change(
            git, head, rev, last, judged_offline, now, parsed, pristine
        )
    if previous is published:
        # Red team: a published store is a mirror's files, beside stale role
        # files its snapshot still names; it is the anchor of the rules, never
        # a state judged in full whose bytes may be taken as judged.
        head.known_good_judged = False
    findings += judge_main(
        head, files, previous, now=now, known=known, offline_judged=offline_judged
    )
    source = (
        f"main's history from commit {last[:7]}"
        if last
        else "main's first state (never online-signed)"
    )
    return findings, source, previous if head.known_good_judged else None


def _merged_histories(git: GitRepo, rev: str, head: Store) -> list[Finding]:
    """Online-signed states off the first-parent chain must share main's root history.

    Attack: with push rights (no force push), a history of the attacker's own
    becomes main's first-parent chain by merging the real main into it as a
    second parent (``git merge -s ours``); the real online-signed states are
    then off the chain the history anchor walks.  Honest histories have such
    states too (main merged into an event branch), but their root history is
    always a prefix of main's.
    """
    chain = git.first_parent_chain(rev)
    findings = []
    for sha in git.all_changes(rev, layout.role_path(TIMESTAMP)):
        if sha in chain:
            continue
        state = GitTreeStore(git, sha)
        if not _in_format(state):
            continue
        for entry in state.walk(ROOT_HISTORY_DIR):
            if head.read(entry.path) != state.read(entry.path):
                findings.append(
                    Finding(
                        ROOT,
                        "history-merged",
                        f"main's history holds the online-signed state {sha[:7]} whose "
                        f"{entry.path} differs from main's: another repository's history "
                        "was merged into main",
                    )
                )
                break
    return findings


def _by_change(
    git: GitRepo,
    head: TufRepository,
    rev: str | None,
    last: str | None,
    judged_offline: dict[str, str] | None,
    now: datetime,
    parsed: ParseCache,
    pristine: bool | None,
) -> tuple[KnownArtifacts | None, bool]:
    """What HEAD's judgement may take as judged (#14): known entries, or all of it.

    Judged is what changed since the commit main's online-signed snapshot
    vouches for, checked against the root of the last judged state
    (``ops.artifacts.verified_commit`` says why that is safe).

    When that commit's offline metadata is also the last judged state's
    (``judged_offline``, HEAD's known good), that state's metadata was
    judged then against the commit's artifacts: HEAD is judged by what
    changed since (``head.known_good_judged``, #14), its artifacts against
    the commit's files.

    Returns:
        The entries of that commit for unchanged artifacts, and whether HEAD's
        offline metadata and artifacts are that commit's (:func:`_as_verified`).
    """
    trusted = (
        TufRepository(OverlayStore(GitTreeStore(git, last)), now=now, parsed=parsed).read_root()
        if last
        else None
    )
    commit = artifacts.verified_commit(git, head, trusted.signed if trusted else None)
    # Red team: the last state's files must be the commit's too (a state
    # whose metadata looks online-signed may carry other manifests, which
    # would become the base of what changed)
    head.known_good_judged = (
        commit is not None
        and last is not None
        and judged_offline is not None
        and _offline_metadata(git, commit) == judged_offline
        and git.tree_id(last, TARGETS_DIR) == git.tree_id(commit, TARGETS_DIR)
    )
    if (
        commit is not None
        and rev is not None
        and judged_offline is not None
        and _as_verified(git, commit, rev, judged_offline, pristine)
    ):
        return None, True
    return artifacts.for_main(git, commit, now=now, parsed=parsed), False


def _as_verified(
    git: GitRepo, commit: str, rev: str, judged_offline: dict[str, str], pristine: bool | None
) -> bool:
    """True when the work tree's offline metadata and artifacts are ``commit``'s, and judged.

    ``commit`` was judged in full, every artifact read, by the online-sign
    whose signed snapshot names it; ``judged_offline`` is the offline
    metadata of the last state judged in full in this walk.  When HEAD
    (``rev``) holds the same artifacts tree and offline metadata as both, and
    the work tree is exactly HEAD's, judging them again would find the same:
    only the online roles are left to judge (a cron's online-sign, a
    re-publish).  Compared by git object ids, without reading a file.
    """
    if git.tree_id(rev, TARGETS_DIR) != git.tree_id(commit, TARGETS_DIR):
        return False
    offline = _offline_metadata(git, rev)
    if not offline == judged_offline == _offline_metadata(git, commit):
        return False
    # attack: a dirty or converting work tree is not HEAD's bytes (checked
    # last: it asks git about every file)
    return pristine if pristine is not None else git.worktree_pristine(METADATA_DIR, TARGETS_DIR)


def _vouched(git: GitRepo, checkpoint: TufRepository, offline: dict[str, str], last: str) -> bool:
    """True when the state's online-signed snapshot vouches for its offline metadata.

    The snapshot names the commit its online-sign judged in full
    (:func:`tufrepo.ops.artifacts.verified_commit`); when that commit's
    offline metadata is this state's, byte for byte, the state was judged
    then, and its targets roles need not be judged again (#14: a history of
    many releases costs a parse of none of them).  Root, its history and the
    online roles are still judged for every state: the signature is checked
    with the state's own root, which the walk judges as a successor of the
    one before, and the snapshot's version must rise from state to state,
    so a replayed older snapshot (a rollback to what an old one vouched for)
    is refused by the online roles' version rule.  The snapshot must also be
    new in this state, and name a commit that descends from ``last``, the
    state judged before (red team: an unchanged snapshot kept beside older
    offline metadata it once vouched for would be a rollback no rule sees).
    """
    snapshot = layout.role_path(SNAPSHOT)
    if checkpoint.store.read(snapshot) == GitTreeStore(git, last).read(snapshot):
        return False
    commit = _vouching_commit(git, checkpoint, offline)
    return commit is not None and git.is_ancestor(last, commit)


def _is_published(git: GitRepo, sha: str, offline: dict[str, str], published: Store) -> bool:
    """True when the published metadata is exactly the state at ``sha`` (but timestamp).

    Only then may the walk take the state's own judgement for the published
    one: the anchor matched by its timestamp alone could carry other
    metadata beside a copied timestamp (red team: a rollback that skipped
    the judgement against what clients have).
    """
    state = GitTreeStore(git, sha)
    paths = [layout.role_path(SNAPSHOT)] + [
        p for p in offline if layout.role_from_metadata_path(p) is not None
    ]
    return all(published.read(p) == state.read(p) for p in paths)


def vouched_state(git: GitRepo, sha: str, *, now: datetime) -> bool:
    """True when the state at ``sha`` is one online-sign judged in full (its snapshot vouches).

    A signing event's merge-base with main is usually such a state (an
    online-sign commit); when it is not (an unmerged commit of main, a push
    without keys, an intermediate commit of a merged event, files pushed
    without metadata), what did not change since it is judged again (#14 red
    team): the state's offline metadata and its targets/ tree must both be
    the commit's its snapshot names.
    """
    state = TufRepository(OverlayStore(GitTreeStore(git, sha)), now=now)
    commit = _vouching_commit(git, state, _offline_metadata(git, sha))
    # Red team: files pushed to main after the commit online-sign judged
    # (without metadata) were never judged; the state's files must be its.
    return commit is not None and git.tree_id(sha, TARGETS_DIR) == git.tree_id(commit, TARGETS_DIR)


def _vouched_offline(
    git: GitRepo, sha: str, *, now: datetime, parsed: ParseCache | None = None
) -> dict[str, str] | None:
    """The state's offline metadata (:func:`_offline_metadata`) when its snapshot vouches for it."""
    state = TufRepository(OverlayStore(GitTreeStore(git, sha)), now=now, parsed=parsed)
    offline = _offline_metadata(git, sha)
    return offline if _vouching_commit(git, state, offline) is not None else None


def _vouching_commit(git: GitRepo, state: TufRepository, offline: dict[str, str]) -> str | None:
    """The commit the state's snapshot names, when it vouches for the state's offline metadata.

    That is: the snapshot's signature verifies with the state's own root,
    and the commit it names holds the same offline metadata (git ids).
    """
    try:
        root = state.read_root()
        commit = artifacts.verified_commit(git, state, root.signed if root else None)
    except MetadataError:
        return None  # judged in full, which reports it
    if commit is None or _offline_metadata(git, commit) != offline:
        return None
    return commit


def _offline_metadata(git: GitRepo, rev: str) -> dict[str, str]:
    """Blob ids of every metadata file but the online roles' (#14: refreshes cost O(1)).

    Most of main's online-signed states only refresh snapshot and timestamp:
    when the rest is byte-identical to a state judged in full, re-judging it
    would find the same, and cost a parse of every targets role per state.
    """
    online = {layout.role_path(SNAPSHOT), layout.role_path(TIMESTAMP)}
    # every entry, symlinks and submodules too (red team: a symlink added
    # under metadata/ is no regular file, yet the full judgement reports it)
    entries = git.tree_entries(rev, METADATA_DIR)
    return {p: e for p, e in entries.items() if p not in online}


def _in_format(state: Store) -> bool:
    """True when the state's root names an online signer URI for timestamp (tuf-on-ci format)."""
    data = state.read(layout.role_path(ROOT))
    try:
        root = parse_typed(data, layout.role_path(ROOT), Root).signed if data else None
    except MetadataError:
        return False
    if root is None or TIMESTAMP not in root.roles:
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
    return finding.severity is Severity.ERROR


def _at(finding: Finding, sha: str) -> Finding:
    return Finding(
        finding.role, finding.code, f"at commit {sha[:7]}: {finding.message}", finding.severity
    )
