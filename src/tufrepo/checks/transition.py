"""The one trust model: judge a transition ``known good -> candidate``.

Every command that decides anything asks here: ``status``, ``sign``,
``delegate``, ``update-targets`` and ``open-event`` judge a signing event
(:func:`judge_event`); ``online-sign``, ``publish`` and ``verify`` judge main
from its anchor (:func:`judge_main`).  Both apply the same rules
(:mod:`tufrepo.checks.rules`, :mod:`tufrepo.checks.history`,
:mod:`tufrepo.checks.keys`); they differ only where the paths differ:

=====================================  =========================  ============================
rule                                   signing event              main
=====================================  =========================  ============================
snapshot/timestamp                     must not change            changed ones verify with the
                                                                  online key
offline roles' signatures              counted by ``status``      threshold met, else error
                                       (waiting)
root version                           known good + 1             any chain of +1 steps
artifacts differ from their entries    waiting (update-targets)   error
an offline role expired                error                      warning (renew it)
files outside metadata/ and targets/   warning (or error, opt-in) not judged
=====================================  =========================  ============================

Pure: stores and time come in, findings come out.

Not for: where known good comes from (``session``, ``anchor``), rendering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuf.api.metadata import Root

from tufrepo.checks.budget import budget_rule
from tufrepo.checks.findings import Finding, Severity, unique
from tufrepo.checks.history import check_history
from tufrepo.checks.rules import (
    delegations_rule,
    expiry_rule,
    guard,
    online_signed_rule,
    periods_rule,
    root_rules,
    same_signed,
    signed_rule,
    stray_signatures_rule,
    tree_rules,
    version_rule,
)
from tufrepo.core import layout
from tufrepo.core.artifacts import is_artifact_path
from tufrepo.core.constants import (
    METADATA_DIR,
    ONLINE_ROLES,
    ROOT,
    TARGETS,
    TARGETS_DIR,
    TOP_LEVEL_ROLES,
)
from tufrepo.errors import MetadataError
from tufrepo.ops.manifest import is_manifest_path

if TYPE_CHECKING:
    from datetime import datetime

    from tufrepo.core.artifacts import KnownArtifacts
    from tufrepo.core.parsing import AnyMetadata
    from tufrepo.core.repository import TufRepository
    from tufrepo.core.store import Store
    from tufrepo.ops.event import SigningEvent


def judge_event(
    event: SigningEvent,
    *,
    changed_files: list[str] | None = None,
    main: Store | None = None,
    refuse_outside: bool = False,
) -> list[Finding]:
    """Every finding for a signing event against its known good.

    Args:
        event: the event beside its known-good state.
        changed_files: paths the event's commits changed since known good
            (None when unknown: files outside metadata/ and targets/ are not judged).
        main: the current main, to find a stale event (None: skipped).
        refuse_outside: changes outside metadata/ and targets/ are errors, not warnings.
    """
    repo, now = event.repo, event.now
    findings: list[Finding] = []
    for role in ONLINE_ROLES:
        findings += guard(role, _online_unchanged, event, role)
    findings += check_history(event.known_good, event.store, final_pending=True)
    findings += _top_level_kept(event.known_good, event.store, (ROOT, TARGETS))
    if changed_files is not None:
        findings += _outside_changes(changed_files, refuse=refuse_outside)
    for role in event.changed_roles():
        if role not in ONLINE_ROLES:
            findings += guard(role, _offline_role, repo, role, now, Severity.ERROR)
    if event.tree_findings is None:
        event.tree_findings = guard(
            "",
            tree_rules,
            repo,
            event.store,
            mismatch=Severity.WAITING,
            known=event.known_artifacts,
        )
    findings += event.tree_findings
    findings += guard("", delegations_rule, repo, not_verifying=Severity.WAITING)
    findings += guard("", budget_rule, repo)
    if main is not None and event.known_good is not None:
        findings += _stale(event, main)
    return unique(findings)


def judge_main(
    repo: TufRepository,
    files: Store | None,
    anchor: Store | None,
    *,
    now: datetime,
    known: KnownArtifacts | None = None,
    offline_judged: bool = False,
) -> list[Finding]:
    """Every finding for main (``repo``) against its anchor.

    Args:
        repo: main's metadata, with ``known_good`` set to the anchor.
        files: main's files, to check artifacts against metadata (None: metadata only,
            as for the intermediate states of main's history).
        anchor: the state clients already trust (None: ``repo`` is the anchor
            itself, the first state of main's history).
        now: the time of the judgement.
        known: entries of a trusted earlier state for files unchanged since
            (see :class:`tufrepo.core.artifacts.KnownArtifacts`).
        offline_judged: the targets roles are byte-identical to a state
            judged in full (#14: a refresh in main's history, or a state
            online-sign judged and vouched for): their signatures,
            artifacts, delegations and sizes are not judged again; root,
            its history and the changed online roles are.
    """
    findings = check_history(anchor, repo.store)
    if any(f.code == "malformed" for f in findings):
        return findings
    findings += guard(ROOT, _root_state, repo)
    findings += _top_level_kept(anchor, repo.store, TOP_LEVEL_ROLES if anchor else (ROOT, TARGETS))
    changed = _changed_roles(repo, anchor)
    for role in ONLINE_ROLES:
        if role in changed:
            findings += guard(role, _online_role, repo, role, now)
    for role in [ROOT] if offline_judged else [ROOT, *_targets_roles(repo, findings)]:
        if role in changed:
            findings += guard(role, _offline_role, repo, role, now, Severity.WARNING)
        if _verified_before(repo, role):
            continue
        md = _read(repo, role, findings)
        if md is not None:
            findings += guard(role, signed_rule, repo, role, md)
    if offline_judged:
        return unique(findings)
    findings += guard("", tree_rules, repo, files, mismatch=Severity.ERROR, known=known)
    findings += guard("", delegations_rule, repo, not_verifying=Severity.ERROR)
    findings += guard("", budget_rule, repo)
    return unique(findings)


# --- helpers ---------------------------------------------------------------------


def _verified_before(repo: TufRepository, role: str) -> bool:
    """True when the role and its delegator are byte-identical to a known good judged in full.

    The same signatures over the same bytes, under the same keys and
    threshold: they verified when known good was judged (#14: one bin
    changed does not verify sixty-four).
    """
    if not repo.unchanged_since_judged(role):
        return False
    if role == ROOT:
        return True
    delegator = repo.delegator_name(role)
    return delegator is not None and repo.unchanged_since_judged(delegator)


def _read(repo: TufRepository, role: str, findings: list[Finding]) -> AnyMetadata | None:
    try:
        return repo.read(role)
    except MetadataError as e:
        findings.append(Finding(role, "malformed", str(e)))
        return None


def _targets_roles(repo: TufRepository, findings: list[Finding]) -> list[str]:
    try:
        return repo.targets_roles()
    except MetadataError as e:
        findings.append(Finding("", "malformed", str(e)))
        return []


def _changed_roles(repo: TufRepository, anchor: Store | None) -> set[str]:
    """Roles whose metadata file differs from the anchor (every role without one)."""
    changed = set()
    for entry in repo.store.walk(METADATA_DIR):
        role = layout.role_from_metadata_path(entry.path)
        if role and (anchor is None or anchor.read(entry.path) != repo.store.read(entry.path)):
            changed.add(role)
    return changed


def _top_level_kept(
    known_good: Store | None, store: Store, roles: tuple[str, ...]
) -> list[Finding]:
    # Attack: deleting a top-level role file. A removed role needs nobody's
    # signature, yet root still delegates it: status would say ready, and
    # online-sign would recreate snapshot/timestamp from version 1 (a rollback).
    findings = []
    for role in roles:
        path = layout.role_path(role)
        if store.read(path) is None and (known_good is None or known_good.read(path) is not None):
            findings.append(
                Finding(role, "role-removed", f"{path} is missing: top-level roles stay")
            )
    return findings


def _root_state(repo: TufRepository) -> list[Finding]:
    root = repo.read_root()
    if root is None:
        return [Finding(ROOT, "malformed", "metadata/root.json is missing")]
    return root_rules(root.signed)


def _offline_role(
    repo: TufRepository, role: str, now: datetime, expired: Severity
) -> list[Finding]:
    """The rules for one changed offline role (root, targets, delegated)."""
    md = repo.read(role)
    if md is None:
        return []  # a removed role: its delegator's change is what gets judged
    kg = repo.read_known_good(role)
    findings = version_rule(role, md, kg, exact_root=expired is Severity.ERROR)
    # read() parsed the file as the role's type: only root's metadata is a Root
    root = md.signed if isinstance(md.signed, Root) else repo.root_or_none()
    findings += periods_rule(role, root, md)
    if not same_signed(md, kg):
        findings += expiry_rule(role, md, root, now, expired=expired)
    findings += stray_signatures_rule(role, md, set(repo.expected_keys(role)))
    if isinstance(md.signed, Root):
        findings += root_rules(md.signed)
    elif repo.delegator(role) is None:
        # Attack: a role file nobody delegates to would be signed but never trusted.
        findings.append(Finding(role, "not-delegated", f"no role delegates to {role}"))
    return findings


def _online_role(repo: TufRepository, role: str, now: datetime) -> list[Finding]:
    """Snapshot and timestamp changed on main: signed by the online key, within policy."""
    md = repo.read(role)
    if md is None:
        return [Finding(role, "online-missing", f"metadata/{role}.json was removed")]
    kg = repo.read_known_good(role)
    findings = version_rule(role, md, kg, exact_root=False)
    findings += online_signed_rule(repo, role, md)
    findings += expiry_rule(role, md, repo.root_or_none(), now, expired=None)
    return findings


def _online_unchanged(event: SigningEvent, role: str) -> list[Finding]:
    # Attack: a signing-event branch smuggling in snapshot/timestamp content,
    # which only the online key on main may produce.
    path = layout.role_path(role)
    before = event.known_good.read(path) if event.known_good else None
    if event.store.read(path) != before:
        return [Finding(role, "online-role-changed", f"{path} must not change in a signing event")]
    return []


def _outside_changes(changed_files: list[str], *, refuse: bool) -> list[Finding]:
    # Attack: an event that also edits workflows or code (.github/, Makefile)
    # rides on the signers' approval of the metadata change.  Real events do
    # this (a workflow update beside a key change), so by default signers are
    # warned prominently instead.
    outside = sorted(
        p
        for p in changed_files
        if not p.startswith((f"{METADATA_DIR}/", f"{TARGETS_DIR}/"))
        # dotfiles under targets/ are not artifacts: nobody signs them (.gitattributes
        # can still change how every artifact is checked out)
        or (
            p.startswith(f"{TARGETS_DIR}/")
            and not is_artifact_path(p[len(TARGETS_DIR) + 1 :])
            and not is_manifest_path(p)  # manifests are judged line by line (checks.manifest)
        )
    )
    if not outside:
        return []
    shown = ", ".join(outside[:5]) + (" …" if len(outside) > 5 else "")
    return [
        Finding(
            "",
            "outside-change",
            f"the event also changes files that are not metadata or artifacts: {shown}; "
            "review them: signing vouches only for metadata",
            Severity.ERROR if refuse else Severity.WARNING,
        )
    ]


def _stale(event: SigningEvent, main: Store) -> list[Finding]:
    # Attack/mistake: main changed a role after this event branched; merging
    # the event would silently roll that change back.
    assert event.known_good is not None  # noqa: S101 - checked by the caller
    findings = []
    for role in event.changed_roles():
        path = layout.role_path(role)
        if main.read(path) != event.known_good.read(path):
            findings.append(
                Finding(
                    role,
                    "stale-event",
                    f"main changed {role} since this event branched; start the event again from main",
                )
            )
    return findings
