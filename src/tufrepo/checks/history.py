"""Root history: append-only, contiguous, equal to ``root.json``, one verified chain.

Clients walk ``root_history`` (published as ``N.root.json``) from the root
they trust to the newest, so every rule here protects that walk:

* every entry known good holds is unchanged (history is never rewritten);
* versions run from 1 to the current root without gaps;
* the newest entry is byte-identical to ``metadata/root.json``;
* every root newer than known good is signed by its predecessor's threshold
  and by its own; without known good, the chain starts at the first root that
  python-tuf can parse (older entries are legacy: published as they are);
* entries python-tuf cannot parse are legacy when known good already held
  them (a warning), and errors when new.

Not for: the signatures of a root a signing event is still collecting
(``final_pending``: status counts those and makes the event wait).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from tuf.api.metadata import Root

from tufrepo.checks.findings import Finding, Severity
from tufrepo.core import layout
from tufrepo.core.constants import ROOT, ROOT_HISTORY_DIR
from tufrepo.core.parsing import canonical_bytes, parse_typed
from tufrepo.errors import MetadataError

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata

    from tufrepo.core.store import Store


@functools.lru_cache(maxsize=512)
def _parse_root(data: bytes, path: str) -> Metadata[Root]:
    # History walks judge the same roots at every step: parse each once.
    # Read-only use only: the result is shared.
    return parse_typed(data, path, Root)


def history_versions(store: Store) -> tuple[dict[int, str], list[str]]:
    """Version -> path of every root_history entry, and the names that are not entries."""
    versions: dict[int, str] = {}
    strays = []
    for entry in store.walk(ROOT_HISTORY_DIR):
        version = layout.root_history_version(entry.path.rsplit("/", 1)[-1])
        if version is None or entry.kind != "file":
            strays.append(entry.path)
        else:
            versions[version] = entry.path
    return versions, strays


def check_history(
    known_good: Store | None, store: Store, *, final_pending: bool = False
) -> list[Finding]:
    """Findings about ``root_history`` in ``store`` beside known good (see module docstring).

    Args:
        known_good: the trusted state (None: a new repository, or the first
            state of main's history, which is the anchor itself).
        store: the candidate state.
        final_pending: the newest root is still collecting signatures (an
            event): its signatures are not judged here.
    """
    findings: list[Finding] = []
    kg_versions: dict[int, str] = {}
    if known_good is not None:
        kg_versions, _ = history_versions(known_good)
        for _, path in sorted(kg_versions.items()):
            # Attack (#164): rewriting or deleting roots clients walk through.
            if store.read(path) != known_good.read(path):
                findings.append(Finding(ROOT, "root-history", f"{path} was modified or removed"))
    versions, strays = history_versions(store)
    findings += [
        Finding(ROOT, "root-history", f"{path} is not a root_history entry") for path in strays
    ]
    current = store.read(layout.role_path(ROOT))
    if current is None:
        if versions:
            findings.append(Finding(ROOT, "root-history", "metadata/root.json is missing"))
        return findings
    try:
        newest = parse_typed(current, layout.role_path(ROOT), Root)
    except MetadataError as e:
        return [*findings, Finding(ROOT, "malformed", str(e))]
    top = newest.signed.version
    if sorted(versions) != list(range(1, top + 1)):
        # Attack: a gap breaks the chain clients walk, or an extra entry above
        # root.json offers clients a root nobody reviewed here.
        findings.append(
            Finding(
                ROOT,
                "root-history",
                f"root_history must hold versions 1..{top}, found {_ranges(sorted(versions))}",
            )
        )
        return findings
    if store.read(versions[top]) != current:
        findings.append(
            Finding(ROOT, "root-history", f"{versions[top]} differs from metadata/root.json")
        )
    kg_top = max(kg_versions) if kg_versions else 0
    findings += _chain(store, versions, kg_top, top, final_pending=final_pending)
    return findings


def _chain(
    store: Store, versions: dict[int, str], kg_top: int, top: int, *, final_pending: bool
) -> list[Finding]:
    findings: list[Finding] = []
    previous: Root | None = None
    for version in range(1, top + 1):
        path = versions[version]
        # Without known good (a new repository, or the first state of main's
        # history, which is itself the anchor) nothing before the newest
        # verifiable chain is trusted by anyone: such roots are legacy.
        legacy_ok = version <= kg_top or (kg_top == 0 and version < top)
        try:
            md = _parse_root(store.read(path) or b"", path)
        except MetadataError as e:
            if not legacy_ok:
                return [*findings, Finding(ROOT, "malformed", str(e))]
            findings.append(_legacy(f"{e}"))
            previous = None
            continue
        if not isinstance(md.signed, Root) or md.signed.version != version:
            findings.append(
                Finding(ROOT, "root-history", f"{path} holds root version {md.signed.version}")
            )
            return findings
        if version > kg_top and not (final_pending and version == top):
            problem = _root_signed(md, previous)
            # The chain restarts here when this root stands on its own.
            restart = problem and kg_top == 0 and previous is not None
            if restart and _root_signed(md, None) is None:
                findings.append(_legacy(f"root v{version} {problem}: the chain starts here"))
                problem = None
            if problem and legacy_ok and kg_top == 0:
                findings.append(_legacy(f"root v{version} {problem}"))
                previous = None
                continue
            if problem:
                findings.append(Finding(ROOT, "root-chain", f"root v{version} {problem}"))
                return findings
        previous = md.signed
    return findings


def _legacy(message: str) -> Finding:
    return Finding(
        ROOT, "legacy-root", f"{message} (legacy history before the first root clients "
        "can start from; published as it is)", Severity.WARNING,
    )  # fmt: skip


def _root_signed(md: Metadata[Root], previous: Root | None) -> str | None:
    # Attack: a root signed only by its own new keys (a takeover), or by the
    # old keys only (a root its new holders never accepted).
    result = md.signed.get_root_verification_result(
        previous, canonical_bytes(md.signed), md.signatures
    )
    if previous is not None and not result.first.verified:
        return (
            f"is not signed by the previous root's threshold "
            f"({len(result.first.signed)} of {result.first.threshold})"
        )
    if not result.second.verified:
        return (
            f"is not signed by its own threshold "
            f"({len(result.second.signed)} of {result.second.threshold})"
        )
    return None


def _ranges(values: list[int]) -> str:
    if not values:
        return "none"
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(map(str, values[:20])) + (" …" if len(values) > 20 else "")


def chain_start(store: Store) -> int:
    """The first root version clients can start from: the start of the verified chain.

    Older entries are legacy (unparseable, or not signed the way python-tuf
    checks), as in sigstore/root-signing, whose clients start from root v5.
    1 for every repository tufrepo or tuf-on-ci created.
    """
    versions, _ = history_versions(store)
    start, previous = 1, None
    for version in sorted(versions):
        try:
            md = parse_typed(store.read(versions[version]) or b"", versions[version], Root)
        except MetadataError:
            start, previous = version + 1, None
            continue
        if _root_signed(md, previous) is not None:
            start = version if _root_signed(md, None) is None else version + 1
        previous = md.signed if start <= version else None
    return start
