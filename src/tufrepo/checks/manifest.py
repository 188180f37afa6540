"""Rules for artifact manifests (artifacts kept out of git, see ``ops.manifest``).

Every problem of a manifest line is an error with its own code
(``manifest-malformed``, ``manifest-bad-path``, ``manifest-bad-length``,
``manifest-bad-hash``, ``manifest-bad-custom``, ``manifest-duplicate``,
``manifest-role``, ``manifest-name``): signers vouch for these entries
without any file to compare them with, so nothing ambiguous may pass.  An
entry whose metadata differs only in custom fields waits for
``update-targets`` on an event (an error on main); length and hash
differences are reported by ``checks.rules`` like those of files.

Pure: stores in, findings out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufrepo.checks.findings import Finding, Severity
from tufrepo.core import layout
from tufrepo.core.artifacts import is_artifact_path
from tufrepo.core.constants import TARGETS_DIR
from tufrepo.ops.bins import is_bin_of
from tufrepo.ops.manifest import ManifestEntry, as_written, conflicts, read_manifests
from tufrepo.ops.targets import owner_of

if TYPE_CHECKING:
    from tuf.api.metadata import TargetFile

    from tufrepo.core.artifacts import KnownArtifacts
    from tufrepo.core.repository import TufRepository
    from tufrepo.core.store import Store


def checked_manifests(
    repo: TufRepository, files: Store, mismatch: Severity, known: KnownArtifacts | None = None
) -> tuple[list[Finding], list[ManifestEntry] | None]:
    """Every manifest line valid, owned by its manifest's role, and listed as written.

    Returns the findings, and the manifests' entries when they have no problem.

    The entries (shared, not to be modified) let the artifact rules place
    them without reading and checking every manifest a second time (#14);
    None when any line has a problem (then the artifact rules read them
    again and refuse, as update-targets would).
    """
    manifests = read_manifests(files, private=False)  # read only
    if not manifests.entries and not manifests.problems:
        return [], []
    prefix = f"{TARGETS_DIR}/"
    file_paths = [
        e.path[len(prefix) :]
        for e in files.walk(TARGETS_DIR)
        if is_artifact_path(e.path[len(prefix) :])
    ]
    problems = manifests.problems + conflicts(
        manifests,
        file_paths,
        lambda p: owner_of(repo, p),
        lambda r, p: is_bin_of(repo, r, p),
    )
    findings = [Finding(manifest_role(p.manifest), p.code, str(p)) for p in problems]
    refused = {(p.manifest, p.line) for p in problems}
    # the files of the trusted state known good's entries describe (the
    # verified commit on main, whose files may be anywhere but a published site)
    base_files = (
        {p for p in known.known_good if is_artifact_path(p)}
        if known is not None
        else _artifact_files(repo.known_good)
        if repo.known_good is not None
        else set()
    )
    for entry in manifests.entries:
        if (entry.manifest, entry.line) in refused:
            continue
        role = owner_of(repo, entry.path)
        if entry.path in base_files:
            findings += moved_out_of_git(repo, role, entry.path, entry.manifest)
        md = repo.read_targets(role)
        listed = md.signed.targets.get(entry.path) if md is not None else None
        findings += not_as_written(role, listed, entry.target, entry.manifest, mismatch)
    return findings, None if problems else manifests.entries


def not_as_written(
    role: str, listed: TargetFile | None, line: TargetFile, manifest: str, mismatch: Severity
) -> list[Finding]:
    """A manifest artifact's entry that matches the hashes it lists but is not the line exactly.

    Attack: custom fields (what clients act on, e.g. a status) other than
    the manifest the signers reviewed, or a hash of the line dropped to make
    room for them.  Other lengths and hashes are the artifact rules' finding.
    """
    if listed is None or as_written(listed, line):
        return []
    if listed.length != line.length or any(
        line.hashes.get(algorithm) != digest for algorithm, digest in listed.hashes.items()
    ):
        return []  # reported as other length or hashes (checks.rules)
    problem = f"{role} lists {line.path!r} with other hashes or custom fields than {manifest}"
    if mismatch is Severity.WAITING:
        problem += " (run update-targets)"
    return [Finding(role, "targets-mismatch", problem, mismatch)]


def moved_out_of_git(repo: TufRepository, role: str, path: str, manifest: str) -> list[Finding]:
    """A manifest line for ``path``, a file in git in known good, under a role that did not change.

    Attack: whoever can push (to main or an event) deletes a signed artifact
    from git and lists it, with the same length and hashes, in a manifest:
    every entry still matches, and publish stops serving the file without
    any signer having seen the change.  Moving an artifact out of git needs
    a new version of its role, which its signers sign.
    """
    where = layout.role_path(role)
    if repo.known_good is None or repo.store.read(where) != repo.known_good.read(where):
        return []
    return [
        Finding(
            role,
            "artifact-moved",
            f"{path!r} is a file under targets/ in known good and now a line of {manifest}, "
            f"but {role} did not change: moving an artifact out of git needs a new version "
            f"of {role} that its signers sign",
        )
    ]


def _artifact_files(store: Store) -> set[str]:
    prefix = f"{TARGETS_DIR}/"
    return {
        e.path[len(prefix) :]
        for e in store.walk(TARGETS_DIR)
        if e.kind == "file" and is_artifact_path(e.path[len(prefix) :])
    }


def manifest_role(manifest: str) -> str:
    """The role a manifest's file name names ("" for a file that is not a manifest)."""
    name = manifest.rsplit("/", 1)[-1]
    return name.removesuffix(".jsonl") if name.endswith(".jsonl") else ""


__all__ = ["checked_manifests", "manifest_role", "moved_out_of_git", "not_as_written"]
