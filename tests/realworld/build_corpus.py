"""Build the real-world corpus: metadata of public tuf-on-ci repositories at real signing events.

Given bare git mirrors (full history, no work tree) of public tuf-on-ci repositories, this
finds every signing event merged into ``main``:

* merge commits whose second parent is the tip of a ``sign/*`` branch (GitHub's
  "Merge pull request #N from owner/sign/..." or git's "Merge branch 'sign/...'");
* squash or fast-forward merges identified from GitHub's "... (#N)" subject, when the
  commit changes offline-signed metadata (root, targets, delegated roles).

For each selected event it writes ``fixtures/<repo>-<short name>/`` with

* ``known_good/{metadata,targets}``: the merge-base of the event head and main at merge
  time (what tuf-on-ci's status calls known good; for GitHub merges this is the branch
  point, not the merge's first parent, which also carries later online-sign commits),
* ``event/{metadata,targets}``: the event head (the merge's second parent),
* changed ``.github/`` files on both sides when the selection asks for them,
* ``case.json``: source repository, commits, merge time (committer date of the merge,
  ISO 8601), the classes of behaviour the event covers (computed from the metadata) and
  the expected verdict ("ready": these events were merged and served to real clients).

It also saves the head of ``main`` as ``fixtures/<repo>-head/{metadata,targets}`` for
verify, publish and test-client.

Target files keep their real bytes (metadata hashes them): an event with a target file
larger than ``MAX_TARGET_BYTES`` is refused rather than truncated; pick another event.

Usage::

    python tests/realworld/build_corpus.py --list /work/.mirror/sigstore+root-signing/repo
    python tests/realworld/build_corpus.py /work/.mirror/sigstore+root-signing/repo \\
        /work/.mirror/sigstore+root-signing-staging/repo /work/.mirror/jku+tuf-demo/repo

A mirror is given as ``PATH`` (``.../<owner>+<name>/repo``, the layout of the mirrors this
was built from) or as ``owner/name=PATH``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.formats import encode_canonical

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MAX_TARGET_BYTES = 256 * 1024
ONLINE_FILES = ("metadata/timestamp.json", "metadata/snapshot.json")
TUF_EXPIRES = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

_GITHUB_MERGE = re.compile(r"^Merge pull request #(\d+) from ([^/\s]+)/(\S+)")
_GIT_MERGE = re.compile(r"^Merge (?:remote-tracking )?branch '(?:origin/)?(sign/[^']+)'")
_SQUASH = re.compile(r"\(#(\d+)\)$")

# The selection: (repository, event branch, short name, why it is in the corpus).
# Which classes each event covers is computed from its metadata (see ``classify``) and
# written to case.json; the notes say why the event was picked.  Changed .github/ files
# are copied into the fixture only for the events in WITH_GITHUB_FILES (small diffs).
SELECTION: list[tuple[str, str, str, str]] = [
    (
        "sigstore/root-signing",
        "sign/migration-take-two",
        "migration",
        (
            "Import into tuf-on-ci: root v9 (pre-tuf-on-ci keys, signatures with sha512 "
            "beside sha256 target hashes) to v10 (new keyholder keys, root signed by keys it "
            "no longer lists), the npm delegation's key replaced; the event also rewrote "
            ".github/workflows (the workflow files are not in the fixture: too big)."
        ),
    ),
    (
        "sigstore/root-signing",
        "sign/root-v11",
        "root-v11",
        (
            "Root rotation with changed expiry policy; the online key's custom field "
            "x-tuf-on-ci-online-uri changed but its keyid was kept (keyid no longer matches "
            "the key); targets regenerated (sha512 hashes dropped), artifacts changed."
        ),
    ),
    (
        "sigstore/root-signing",
        "sign/root-v12",
        "root-v12",
        (
            "The online key gets a spec-compliant keyid (same public key, 7247f0db -> "
            "0c87432c): root changes the signers of snapshot and timestamp without "
            "re-versioning them (they are re-signed on main after the merge, still under the "
            "old keyid at the event head); the event also touches "
            ".github/workflows/custom-test.yml (included)."
        ),
    ),
    (
        "sigstore/root-signing",
        "sign/root-v13",
        "root-v13",
        (
            "Keyholder rotation (@dlorenc out, @lance in): root and targets carry an empty "
            "signature slot of the removed key, which they no longer list; new artifacts."
        ),
    ),
    (
        "sigstore/root-signing",
        "sign/rekorv2",
        "rekorv2",
        "Ordinary targets change: trusted_root.json updated, targets re-signed.",
    ),
    (
        "sigstore/root-signing",
        "sign/registry.npmjs.org-v8",
        "npm-v8",
        "Periodic bump of the online-keyed delegated role registry.npmjs.org.",
    ),
    (
        "sigstore/root-signing-staging",
        "sign/import-v2",
        "import-v2",
        (
            "Import of a pre-tuf-on-ci repository: a root key with keytype "
            "ecdsa-sha2-nistp256 (legacy naming) and keyids computed without custom fields; "
            "the npm delegated role carries a signature from a key it no longer lists."
        ),
    ),
    (
        "sigstore/root-signing-staging",
        "sign/add-operator",
        "add-operator",
        (
            "Artifacts changed; targets version skipped (13 -> 15) as tuf-on-ci's "
            "update-targets does when it runs twice in one event."
        ),
    ),
    (
        "jku/tuf-demo",
        "sign/keyid-fix",
        "keyid-fix",
        (
            "Keys whose keyids were computed without custom fields (early tuf-on-ci) get "
            "spec-compliant keyids: same public keys under new keyids, root v3 signed under "
            "the old keyids; delegations re-keyed and re-versioned."
        ),
    ),
    (
        "jku/tuf-demo",
        "sign/test-2-non-maintainer-flow",
        "non-maintainer-artifact",
        (
            "Ordinary artifact change in a delegated role, with keys carried from known good "
            "whose keyids were computed without custom fields."
        ),
    ),
]

WITH_GITHUB_FILES = {("sigstore/root-signing", "sign/root-v12")}
HEADS = ["sigstore/root-signing", "sigstore/root-signing-staging", "jku/tuf-demo"]


# --- git ------------------------------------------------------------------------------


def git(git_dir: Path, *args: str) -> str:
    """Run git on a bare mirror and return stdout as text."""
    return git_bytes(git_dir, *args).decode()


def git_bytes(git_dir: Path, *args: str) -> bytes:
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.decode().strip()}")
    return done.stdout


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    sha: str
    size: int
    path: str


def list_tree(git_dir: Path, rev: str, *prefixes: str) -> list[TreeEntry]:
    """Every entry below ``prefixes`` at ``rev`` (recursive)."""
    out = git_bytes(git_dir, "ls-tree", "-r", "-l", "-z", "--full-tree", rev, "--", *prefixes)
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, path = record.decode().split("\t", 1)
        mode, kind, sha, size = meta.split()
        entries.append(TreeEntry(mode, kind, sha, 0 if size == "-" else int(size), path))
    return entries


def read_json(git_dir: Path, rev: str, path: str) -> Any:
    """JSON of ``path`` at ``rev``, or None when it does not exist there."""
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{rev}:{path}"],
        capture_output=True,
        check=False,
    )
    return json.loads(done.stdout) if done.returncode == 0 else None


def export_tree(git_dir: Path, rev: str, dest: Path, *prefixes: str) -> int:
    """Write the files below ``prefixes`` at ``rev`` into ``dest``; returns the bytes written."""
    total = 0
    for entry in list_tree(git_dir, rev, *prefixes):
        if entry.kind != "blob" or entry.mode not in ("100644", "100755"):
            raise ValueError(f"{rev}:{entry.path} is a {entry.kind} (mode {entry.mode})")
        target = dest / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = git_bytes(git_dir, "cat-file", "blob", entry.sha)
        target.write_bytes(data)
        target.chmod(0o755 if entry.mode == "100755" else 0o644)
        total += len(data)
    return total


def changed(git_dir: Path, a: str, b: str, *prefixes: str) -> list[str]:
    out = git(git_dir, "diff", "--no-renames", "--name-only", "-z", a, b, "--", *prefixes)
    return [p for p in out.split("\0") if p]


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    repo: str
    branch: str
    pull_request: int | None
    kind: str  # "merge" or "squash"
    merge_commit: str
    main_at_merge: str  # the merge's first parent
    head: str  # the event head (the merge's second parent; the squash commit itself)
    known_good: str  # merge-base of head and main_at_merge
    merge_time: str  # committer date of the merge commit, ISO 8601


def repo_name(mirror: str) -> tuple[str, Path]:
    """``owner/name=PATH`` or ``.../owner+name/repo`` -> (owner/name, PATH)."""
    if "=" in mirror:
        name, location = mirror.split("=", 1)
        return name, Path(location)
    path = Path(mirror)
    for part in reversed(path.parts):
        if "+" in part:
            return part.replace("+", "/", 1), path
    raise ValueError(f"cannot tell the repository name of {mirror}; use owner/name=PATH")


def _touches_offline_metadata(git_dir: Path, a: str, b: str) -> bool:
    return any(
        p.endswith(".json") and p not in ONLINE_FILES for p in changed(git_dir, a, b, "metadata")
    )


def find_events(git_dir: Path, repo: str, main: str = "main") -> list[Event]:
    """Signing events merged into ``main``, oldest first."""
    log = git(git_dir, "log", "--first-parent", "--format=%H%x00%P%x00%cI%x00%s", main)
    events = []
    for line in reversed(log.splitlines()):
        commit, parents_text, when, subject = line.split("\0", 3)
        parents = parents_text.split()
        if len(parents) == 2:
            pull: int | None = None
            if m := _GITHUB_MERGE.match(subject):
                pull, branch = int(m.group(1)), m.group(3)
            elif m := _GIT_MERGE.match(subject):
                branch = m.group(1)
            else:
                continue
            if not branch.startswith("sign/"):
                continue
            base = git(git_dir, "merge-base", parents[0], parents[1]).strip()
            events.append(
                Event(repo, branch, pull, "merge", commit, parents[0], parents[1], base, when)
            )
        elif len(parents) == 1 and (m := _SQUASH.search(subject)):
            # A squash or fast-forward merge of a pull request: an event only if it
            # changes offline-signed metadata.  Its branch name is not recorded; the
            # corpus names it after the pull request.
            if not _touches_offline_metadata(git_dir, parents[0], commit):
                continue
            pull = int(m.group(1))
            events.append(
                Event(
                    repo,
                    f"sign/pr-{pull}",
                    pull,
                    "squash",
                    commit,
                    parents[0],
                    commit,
                    parents[0],
                    when,
                )
            )
    return events


# --- classes of behaviour --------------------------------------------------------------


def _keyid(key: dict[str, Any]) -> str:
    canonical = encode_canonical(key)
    assert canonical is not None
    return hashlib.sha256(canonical.encode()).hexdigest()


def _roles(git_dir: Path, rev: str) -> dict[str, Any]:
    out = {}
    for entry in list_tree(git_dir, rev, "metadata"):
        name = entry.path.removeprefix("metadata/")
        if "/" not in name and name.endswith(".json"):
            out[name.removesuffix(".json")] = read_json(git_dir, rev, entry.path)
    return out


def _delegations(roles: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """role name -> (its entry in the delegator, the delegator's key dict)."""
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    root = roles.get("root")
    if root is None:
        return out
    for name, entry in root["signed"]["roles"].items():
        out[name] = (entry, root["signed"]["keys"])
    for name, md in roles.items():
        if name in ("root", "timestamp", "snapshot") or md is None:
            continue
        delegations = md["signed"].get("delegations") or {}
        for entry in delegations.get("roles", []):
            out[entry["name"]] = (entry, delegations.get("keys", {}))
    return out


def _all_keys(roles: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys: dict[str, dict[str, Any]] = {}
    for _entry, keydict in _delegations(roles).values():
        keys.update(keydict)
    return keys


def classify(git_dir: Path, known_good: str, head: str) -> dict[str, list[str]]:
    """The classes of behaviour an event exercises (class -> where), from its metadata."""
    found: dict[str, set[str]] = {}

    def add(cls: str, where: str) -> None:
        found.setdefault(cls, set()).add(where)

    before, after = _roles(git_dir, known_good), _roles(git_dir, head)
    if "root" not in before:
        return {"new-repository": []}
    first_root = read_json(git_dir, head, "metadata/root_history/1.root.json")
    if first_root and not TUF_EXPIRES.match(first_root["signed"]["expires"]):
        add("prespec-expires-in-root-history", f"1.root.json: {first_root['signed']['expires']}")
    for item in list_tree(git_dir, head, "metadata/root_history"):
        md = read_json(git_dir, head, item.path)
        if any(k["keytype"] == "ecdsa-sha2-nistp256" for k in md["signed"]["keys"].values()):
            add("legacy-keytype-in-root-history", item.path.rsplit("/", 1)[1])
    for label, side in (("known_good", before), ("event", after)):
        for keyid, key in _all_keys(side).items():
            where = f"{label} {keyid[:8]}"
            if key["keytype"] == "ecdsa-sha2-nistp256":
                add("legacy-keytype", where)
            if key["keytype"].startswith("sigstore"):
                add("sigstore-keys", where)
            if _keyid(key) != keyid:
                bare = {k: v for k, v in key.items() if not k.startswith("x-")}
                cls = "keyid-without-custom-fields" if _keyid(bare) == keyid else "keyid-mismatch"
                add(cls, where)
        for name, md in side.items():
            if name in ("root", "timestamp", "snapshot") or md is None:
                continue
            if any("sha512" in t["hashes"] for t in md["signed"].get("targets", {}).values()):
                add("sha512-beside-sha256", f"{label} {name}")
    # Public keys that appear under a new keyid.
    old_by_value = {
        json.dumps(k["keyval"], sort_keys=True): i for i, k in _all_keys(before).items()
    }
    for keyid, key in _all_keys(after).items():
        old = old_by_value.get(json.dumps(key["keyval"], sort_keys=True))
        if old is not None and old != keyid:
            add("keyid-renamed", f"{old[:8]} -> {keyid[:8]}")
    delegations_before, delegations_after = _delegations(before), _delegations(after)
    for name, md in after.items():
        if md is None:
            continue
        entry = delegations_after.get(name)
        listed = set(entry[0]["keyids"]) if entry else set()
        unlisted = sorted(s["keyid"][:8] for s in md["signatures"] if s["keyid"] not in listed)
        if unlisted and name == "root":
            add("root-signed-by-keys-it-no-longer-lists", ", ".join(unlisted))
        elif unlisted and name not in ("timestamp", "snapshot"):
            add("signature-from-unlisted-key", f"{name}: {', '.join(unlisted)}")
        old = before.get(name)
        if old is None:
            add("new-role", name)
            continue
        v0, v1 = old["signed"]["version"], md["signed"]["version"]
        if name == "root" and v1 == v0 + 1:
            r0, r1 = old["signed"]["roles"], md["signed"]["roles"]
            signers = [
                n
                for n in r1
                if r0.get(n, {}).get("keyids") != r1[n]["keyids"]
                or r0.get(n, {}).get("threshold") != r1[n]["threshold"]
            ]
            if signers:
                add("root-rotation", f"v{v0} -> v{v1}, signers of {', '.join(signers)}")
            else:
                add("root-bump", f"v{v0} -> v{v1}")
        elif name not in ("root", "timestamp", "snapshot") and v1 > v0 + 1:
            add("version-skip", f"{name} v{v0} -> v{v1}")
        elif name == "targets" and v1 == v0 + 1:
            add("targets-change", f"v{v0} -> v{v1}")
        elif name not in ("root", "timestamp", "snapshot") and v1 == v0 + 1:
            add("delegated-role-change", f"{name} v{v0} -> v{v1}")
        if name in delegations_before and name in delegations_after and v1 == v0:
            e0, e1 = delegations_before[name][0], delegations_after[name][0]
            if e0["keyids"] != e1["keyids"] or e0["threshold"] != e1["threshold"]:
                add("delegation-change-without-reversion", f"{name} stays v{v1}")
    if paths := changed(git_dir, known_good, head, "targets"):
        add("artifacts-change", f"{len(paths)} file(s)")
    if paths := changed(git_dir, known_good, head, ".github"):
        add("touches-github-workflows", f"{len(paths)} file(s)")
    return {cls: sorted(where) for cls, where in sorted(found.items())}


# --- fixtures -------------------------------------------------------------------------


def _check_targets_small(git_dir: Path, rev: str) -> None:
    for entry in list_tree(git_dir, rev, "targets"):
        if entry.size > MAX_TARGET_BYTES:
            raise ValueError(
                f"{rev}:{entry.path} has {entry.size} bytes (> {MAX_TARGET_BYTES}): "
                "select another event rather than truncating artifacts"
            )


def short_repo(repo: str) -> str:
    return repo.split("/", 1)[1]


def write_event(git_dir: Path, event: Event, name: str, notes: str, out: Path) -> Path:
    """Write one event fixture; returns its directory."""
    for rev in (event.known_good, event.head):
        _check_targets_small(git_dir, rev)
    case_dir = out / f"{short_repo(event.repo)}-{name}"
    shutil.rmtree(case_dir, ignore_errors=True)
    export_tree(git_dir, event.known_good, case_dir / "known_good", "metadata", "targets")
    export_tree(git_dir, event.head, case_dir / "event", "metadata", "targets")
    covers = classify(git_dir, event.known_good, event.head)
    github = changed(git_dir, event.known_good, event.head, ".github")
    github_included: list[str] = []
    if github and (event.repo, event.branch) in WITH_GITHUB_FILES:
        for side, rev in (("known_good", event.known_good), ("event", event.head)):
            present = {e.path for e in list_tree(git_dir, rev, *github)}
            if present:
                export_tree(git_dir, rev, case_dir / side, *sorted(present))
        github_included = github
    case = {
        "source": f"https://github.com/{event.repo}",
        "repo": event.repo,
        "event": event.branch,
        "pull_request": event.pull_request,
        "merge_kind": event.kind,
        "merge_commit": event.merge_commit,
        "main_at_merge": event.main_at_merge,
        "known_good_commit": event.known_good,
        "event_commit": event.head,
        "merge_time": event.merge_time,
        "covers": sorted(covers),
        "covers_where": covers,
        "notes": notes,
        "github_files_changed": github,
        "github_files_included": github_included,
        "expected": "ready",
    }
    (case_dir / "case.json").write_text(json.dumps(case, indent=1) + "\n")
    return case_dir


def client_root(git_dir: Path, rev: str) -> int:
    """The first root version a TUF client can start from and update to the newest.

    Early roots of some repositories do not parse (pre-spec expiry format) or do not
    verify with python-tuf (root-signing's v4 is not signed by its own threshold over
    canonical JSON; sigstore's own clients start from 5.root.json).
    """
    from tuf.api.metadata import Metadata, Root  # noqa: PLC0415 - only for heads
    from tuf.api.serialization import DeserializationError  # noqa: PLC0415

    versions = sorted(
        int(e.path.rsplit("/", 1)[1].split(".", 1)[0])
        for e in list_tree(git_dir, rev, "metadata/root_history")
    )
    roots: dict[int, Metadata[Root] | None] = {}
    for version in versions:
        data = git_bytes(git_dir, "show", f"{rev}:metadata/root_history/{version}.root.json")
        try:
            roots[version] = Metadata[Root].from_bytes(data)
        except DeserializationError:
            roots[version] = None

    def verifies(trusted: Metadata[Root], new: Metadata[Root]) -> bool:
        try:
            trusted.signed.verify_delegate(Root.type, new.signed_bytes, new.signatures)
        except Exception:  # noqa: BLE001 - any failure means "not from here"
            return False
        return True

    for start in versions:
        chain = [roots[v] for v in versions if v >= start]
        if any(md is None for md in chain):
            continue
        steps = [md for md in chain if md is not None]
        if verifies(steps[0], steps[0]) and all(
            verifies(a, b) and verifies(b, b) for a, b in itertools.pairwise(steps)
        ):
            return start
    return versions[-1]


def write_head(git_dir: Path, repo: str, out: Path, main: str = "main") -> Path:
    commit = git(git_dir, "rev-parse", main).strip()
    _check_targets_small(git_dir, commit)
    case_dir = out / f"{short_repo(repo)}-head"
    shutil.rmtree(case_dir, ignore_errors=True)
    export_tree(git_dir, commit, case_dir, "metadata", "targets")
    case = {
        "source": f"https://github.com/{repo}",
        "repo": repo,
        "commit": commit,
        "commit_time": git(git_dir, "log", "-1", "--format=%cI", commit).strip(),
        "client_root": client_root(git_dir, commit),
        "expected": "valid",
    }
    (case_dir / "case.json").write_text(json.dumps(case, indent=1) + "\n")
    return case_dir


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("mirrors", nargs="+", help="PATH or owner/name=PATH of a bare mirror")
    parser.add_argument("--out", type=Path, default=FIXTURES)
    parser.add_argument("--list", action="store_true", help="list events and their classes")
    args = parser.parse_args(argv)
    mirrors = dict(repo_name(m) for m in args.mirrors)
    for repo, git_dir in mirrors.items():
        events = find_events(git_dir, repo)
        if args.list:
            for event in events:
                classes = classify(git_dir, event.known_good, event.head)
                print(
                    f"{repo} {event.branch} {event.merge_time} {event.head[:8]} {sorted(classes)}"
                )
            continue
        by_branch = {e.branch: e for e in events}
        for sel_repo, branch, name, notes in SELECTION:
            if sel_repo != repo:
                continue
            case_dir = write_event(git_dir, by_branch[branch], name, notes, args.out)
            print(f"{case_dir.name}: {_size(case_dir)} bytes")
        if repo in HEADS:
            case_dir = write_head(git_dir, repo, args.out)
            print(f"{case_dir.name}: {_size(case_dir)} bytes")
    if not args.list and args.out.exists():
        print(f"total: {_size(args.out)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
