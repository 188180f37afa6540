"""Invariants of a repository state, checked one by one (``tufrepo verify``).

* every metadata file parses as the type its name says;
* ``root_history/`` holds every root version from 1 without gaps, each
  signed by its predecessor's and its own root threshold, and the last one
  is byte-identical to ``root.json``;
* every role verifies with its delegator's threshold;
* on main: snapshot lists the current version of every targets role and
  timestamp the current snapshot version;
* every targets role lists exactly the files under ``targets/`` it owns.

Pure over stores: no git, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuf.api.metadata import Root

from tufrepo import layout
from tufrepo.constants import METADATA_DIR, ROOT, ROOT_HISTORY_DIR, SNAPSHOT, TIMESTAMP
from tufrepo.errors import MetadataError, RejectedError
from tufrepo.repository import parse_metadata, role_type
from tufrepo.targets import desired_targets
from tufrepo.validation import check_repository

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata

    from tufrepo.repository import TufRepository
    from tufrepo.store import Store


@dataclass(frozen=True)
class Check:
    """One invariant: its name, whether it holds, and why not."""

    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def verify_repository(repo: TufRepository, files: Store, *, on_main: bool) -> list[Check]:
    """Check every invariant; a broken one never stops the others from being checked."""
    checks = [_parse_all(files)]
    if not checks[0].ok:
        return checks
    checks.append(_root_chain(files))
    checks += _signatures(repo, on_main=on_main)
    if on_main:
        checks += _online_consistency(repo)
    checks.append(_targets_match(repo, files))
    return checks


def _parse_all(files: Store) -> Check:
    for entry in files.walk(METADATA_DIR):
        if not entry.path.endswith(".json"):
            continue
        if entry.path.startswith(ROOT_HISTORY_DIR + "/"):
            expected = ROOT
        else:
            role = layout.role_from_metadata_path(entry.path)
            if role is None:
                return Check("metadata parses", ok=False, detail=f"unexpected file {entry.path}")
            expected = role_type(role)
        data = files.read(entry.path)
        if data is None:
            return Check("metadata parses", ok=False, detail=f"{entry.path} is not a regular file")
        try:
            parse_metadata(data, entry.path, expected)
        except MetadataError as e:
            return Check("metadata parses", ok=False, detail=str(e))
    return Check("metadata parses", ok=True)


def _root_chain(files: Store) -> Check:
    name = "root chain in root_history verifies from version 1"
    versions: dict[int, str] = {}
    for entry in files.walk(ROOT_HISTORY_DIR):
        version = layout.root_history_version(entry.path.rsplit("/", 1)[-1])
        if version is None:
            return Check(name, ok=False, detail=f"unexpected file {entry.path}")
        versions[version] = entry.path
    if not versions:
        return Check(name, ok=False, detail="root_history is empty")
    latest = max(versions)
    missing = sorted(set(range(1, latest + 1)) - set(versions))
    if missing:
        return Check(name, ok=False, detail=f"root versions missing: {missing}")
    previous: Root | None = None
    for version in range(1, latest + 1):
        data = files.read(versions[version]) or b""
        md = parse_metadata(data, versions[version], ROOT)
        signed = md.signed
        if not isinstance(signed, Root) or signed.version != version:
            return Check(
                name, ok=False, detail=f"{versions[version]} has version {md.signed.version}"
            )
        result = signed.get_root_verification_result(previous, md.signed_bytes, md.signatures)
        if not result.verified:
            who = "its predecessor's" if previous and not result.first.verified else "its own"
            return Check(
                name, ok=False, detail=f"root v{version} is not signed by {who} threshold"
            )
        previous = signed
    if files.read(versions[latest]) != files.read(layout.role_path(ROOT)):
        return Check(name, ok=False, detail=f"root.json differs from {versions[latest]}")
    return Check(name, ok=True, detail=f"{latest} version(s)")


def _signatures(repo: TufRepository, *, on_main: bool) -> list[Check]:
    checks = []
    roles = [ROOT, *repo.targets_roles(), SNAPSHOT, TIMESTAMP]
    for role in roles:
        name = f"{role} verifies with its delegator's threshold"
        md = repo.read(role)
        if md is None and role in (SNAPSHOT, TIMESTAMP) and not on_main:
            continue  # not online-signed yet: fine outside main's tip
        delegator = repo.delegator(role)
        if md is None:
            checks.append(Check(name, ok=False, detail=f"metadata/{role}.json is missing"))
            continue
        if delegator is None:
            checks.append(Check(name, ok=False, detail="no delegator"))
            continue
        result = delegator.get_verification_result(role, md.signed_bytes, md.signatures)
        detail = f"{len(result.signed)} of {result.threshold}"
        checks.append(Check(name, ok=result.verified, detail=detail))
    return checks


def _online_consistency(repo: TufRepository) -> list[Check]:
    snapshot = repo.read(SNAPSHOT)
    timestamp = repo.read(TIMESTAMP)
    if snapshot is None or timestamp is None:
        return [
            Check("snapshot and timestamp are current", ok=False, detail="not online-signed yet")
        ]
    checks = []
    stale = [
        f"{role} (v{info.version}, snapshot lists {_listed(snapshot, role)})"
        for role, info in ((k[: -len(".json")], v) for k, v in repo.targets_infos.items())
        if _listed(snapshot, role) != info.version
    ]
    checks.append(
        Check("snapshot lists the current targets versions", ok=not stale, detail=", ".join(stale))
    )
    ts_version = timestamp.signed.snapshot_meta.version
    checks.append(
        Check(
            "timestamp lists the current snapshot version",
            ok=ts_version == snapshot.signed.version,
            detail=f"timestamp lists v{ts_version}, snapshot is v{snapshot.signed.version}",
        )
    )
    return checks


def _listed(snapshot: Metadata[Any], role: str) -> int | None:
    meta = snapshot.signed.meta.get(f"{role}.json")
    return meta.version if meta is not None else None


def _targets_match(repo: TufRepository, files: Store) -> Check:
    name = "targets metadata matches the files under targets/"
    try:
        wanted = desired_targets(repo, files)
    except RejectedError as e:
        return Check(name, ok=False, detail=str(e))
    problems = []
    for role, entries in wanted.items():
        md = repo.read(role)
        listed = md.signed.targets if md is not None else {}
        for path in sorted(set(entries) | set(listed)):
            if path not in listed:
                problems.append(f"{path} is not in {role}")
            elif path not in entries:
                problems.append(f"{path} is listed in {role} but missing")
            elif (listed[path].length, listed[path].hashes) != (
                entries[path].length,
                entries[path].hashes,
            ):
                problems.append(f"{path} does not match {role}'s length or hash")
    return Check(name, ok=not problems, detail="; ".join(problems[:10]))


def verify_state(repo: TufRepository, files: Store, *, on_main: bool) -> list[Check]:
    """verify_repository plus the validation engine's findings as checks."""
    checks = verify_repository(repo, files, on_main=on_main)
    if checks and checks[0].ok:
        findings = check_repository(repo, files)
        checks.append(
            Check(
                "validation rules hold",
                ok=not findings,
                detail="; ".join(f"{f.role or 'repository'}: {f.message}" for f in findings[:5]),
            )
        )
    return checks


def compare_versions(before: TufRepository, after: TufRepository) -> list[Check]:
    """Between two consecutive states of main: no role's version goes down, history is append-only."""
    problems = []
    for role in [ROOT, *before.targets_roles(), SNAPSHOT, TIMESTAMP]:
        old, new = before.read(role), after.read(role)
        if old is not None and new is not None and new.signed.version < old.signed.version:
            problems.append(f"{role} went from v{old.signed.version} to v{new.signed.version}")
    for entry in before.store.walk(ROOT_HISTORY_DIR):
        if after.store.read(entry.path) != before.store.read(entry.path):
            problems.append(f"{entry.path} was modified or removed")
    return [
        Check(
            "no version goes down and root_history only grows",
            ok=not problems,
            detail="; ".join(problems),
        )
    ]
