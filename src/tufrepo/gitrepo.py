"""The only module that talks to git (through GitPython).

It returns plain data (shas, bytes, paths), never GitPython objects, and turns
every git failure into :class:`~tufrepo.errors.GitStateError`.  Commits made on
an event branch without a checkout go through a temporary index file, so the
user's branch, work tree and untracked files are never touched.

Not for: deciding what to commit or where to push (the commands do that).
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Self

import git
from git.exc import BadName, GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from tufrepo.core.constants import BOT_EMAIL, BOT_NAME
from tufrepo.core.store import FileEntry, FileKind
from tufrepo.errors import GitStateError, PushRejectedError, RefLockError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

_CREDENTIALS = re.compile(r"(\w+://)[^/@\s]+@")
_REJECTED = (
    "non-fast-forward",
    "fetch first",
    "[rejected]",
    "stale info",
    "Updates were rejected",
)
# A concurrent push to the same branch: the ref was locked or moved while the
# remote was updating it (issue #13 item 5). Trying again on the new tip works.
_LOCKED = (
    "cannot lock ref",
    "failed to lock",
    "failed to update ref",
    "could not lock",
)
_MODE_FILE = (0o100644, 0o100755)
# Attributes that make a checkout write other bytes than the blob (text alone
# does not, on a checkout with LF line endings: core.eol/autocrlf are checked too).
_CONVERTING = ("eol", "working-tree-encoding", "ident", "filter")
_CACHED_BLOB_BYTES = 1024 * 1024
_CACHED_BLOBS = 4096
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}  # fail instead of asking for a password
_NO_REPLACE = {"GIT_NO_REPLACE_OBJECTS": "1"}
# git commands tufrepo runs that change files in the work tree
_WORKTREE_WRITERS = frozenset({"checkout", "switch", "merge", "reset", "rm", "restore", "pull"})
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def is_valid_branch_name(name: str) -> bool:
    """True when git itself accepts ``name`` as a branch name (``git check-ref-format --branch``).

    git's rules reject ``.hidden`` components, ``.lock`` endings, control
    characters and more; asking git keeps us from drifting from them.
    """
    if not name or any(ord(c) < 0x20 or c == "\x7f" for c in name) or name.startswith("-"):
        return False
    try:
        git.Git().execute(["git", "check-ref-format", "--branch", name])
    except GitCommandError:
        return False
    return True


def redact(text: str) -> str:
    """Remove credentials embedded in URLs (``https://user:token@host``) from text."""
    return _CREDENTIALS.sub(r"\1***@", text)


def _repository_key(url: str, top: Path) -> str:
    """One spelling per repository: ``host/path`` for network URLs, a resolved local path."""
    if "://" in url and not url.startswith("file://"):
        rest = url.split("://", 1)[1]
        host, _, path = rest.partition("/")
        host = host.rpartition("@")[2].split(":")[0]  # no user, no port
    elif re.match(r"^[^/:]+@?[^/:]*:(?!//)", url) and not Path(url).exists():
        host, _, path = url.partition(":")  # scp-style user@host:path
        host = host.rpartition("@")[2]
    else:
        local = Path(url.removeprefix("file://"))
        return str((top / local).resolve()).lower()
    return f"{host}/{path.strip('/').removesuffix('.git')}".lower()


def _error_text(error: GitCommandError) -> str:
    stderr = error.stderr if isinstance(error.stderr, str) else str(error.stderr)
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    lines = [ln.removeprefix("stderr: ") for ln in lines]
    lines = [ln.strip("'") for ln in lines]
    return redact(" / ".join(ln for ln in lines if ln) or str(error))


class GitRepo:
    """A git checkout, opened with :meth:`discover` and closed with :meth:`close`."""

    def __init__(self, top: Path) -> None:
        try:
            self._repo = git.Repo(top)
        except (InvalidGitRepositoryError, NoSuchPathError) as e:
            raise GitStateError(f"{top} is not a git repository") from e
        self.top = top
        # Attack: refs/replace/* (or grafts) would make git show other objects
        # than the ids compared and the commits named; every git process
        # tufrepo runs, GitPython's object readers included, ignores them.
        self._repo.git.update_environment(**_NO_REPLACE)
        self._env = {**self._identity_env(), **_NO_REPLACE}
        self._blob_cache: dict[str, bytes] = {}  # blob sha -> content (small blobs only)
        self._trees: dict[tuple[str, str], dict[str, str]] = {}  # (commit id, dir) -> listing
        self._not_converting: set[str] = set()  # paths check-attr found plain (_checkout_converts)

    @classmethod
    def discover(cls, path: Path) -> GitRepo:
        """Open the git repository containing ``path`` at its top level.

        Raises:
            GitStateError: ``path`` is not inside a git work tree.
        """
        try:
            repo = git.Repo(path, search_parent_directories=True)
        except (InvalidGitRepositoryError, NoSuchPathError) as e:
            raise GitStateError(
                f"{path} is not inside a git repository",
                hint="run the command inside a clone of your TUF repository, or pass -C DIR",
            ) from e
        top = repo.working_tree_dir
        repo.close()
        if top is None:
            raise GitStateError(f"{path} is a bare git repository, not a checkout")
        return cls(Path(top))

    @classmethod
    def clone_shallow(cls, url: str, path: Path, *, depth: int = 1) -> GitRepo:
        """Clone ``url`` into ``path`` with little history (for one-off jobs such as open-event).

        Raises:
            GitStateError: the clone failed (the URL's credentials are never shown).
        """
        try:
            git.Repo.clone_from(
                url, path, depth=depth, no_single_branch=True, env=_NO_PROMPT
            ).close()
        except GitCommandError as e:
            raise GitStateError(
                f"cannot clone {redact(url)}: {_error_text(e)}",
                hint="check the URL and that the token in it (or the credential helper) may read it",
            ) from e
        return cls(path)

    @classmethod
    def clone(cls, url: str, path: Path) -> GitRepo:
        """Clone ``url`` (a URL or a local path) into ``path`` with its whole history.

        Raises:
            GitStateError: the clone failed.
        """
        try:
            git.Repo.clone_from(url, path, env=_NO_PROMPT).close()
        except GitCommandError as e:
            raise GitStateError(f"cannot clone {redact(url)}: {_error_text(e)}") from e
        return cls(path)

    @staticmethod
    def init_bare(path: Path, *, branch: str) -> None:
        """Create an empty bare repository at ``path`` whose first branch is ``branch``.

        Raises:
            GitStateError: git refused (the path exists and is not empty, ...).
        """
        try:
            git.Repo.init(path, bare=True, initial_branch=branch).close()
        except (GitCommandError, OSError) as e:
            raise GitStateError(f"cannot create a bare repository at {path}: {e}") from e

    def is_shallow(self) -> bool:
        """True for a shallow clone (history cut off)."""
        return self._git("rev-parse", "--is-shallow-repository").strip() == "true"

    def unshallow(self, remote: str) -> None:
        """Fetch the whole history of a shallow clone."""
        if self.is_shallow():
            self._git("fetch", "--quiet", "--unshallow", remote)

    def close(self) -> None:
        """Release GitPython's helper processes."""
        self._repo.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- identity -------------------------------------------------------------

    def _config(self, key: str) -> str | None:
        try:
            value = self._repo.git.config("--get", key)
        except GitCommandError:
            return None
        return str(value) or None

    def _identity_env(self) -> dict[str, str]:
        """Use the configured identity; where none is configured (CI), use the bot's."""
        env: dict[str, str] = dict(_NO_PROMPT)
        for role in ("AUTHOR", "COMMITTER"):
            if not (os.environ.get(f"GIT_{role}_NAME") or self._config("user.name")):
                env[f"GIT_{role}_NAME"] = BOT_NAME
            if not (os.environ.get(f"GIT_{role}_EMAIL") or self._config("user.email")):
                env[f"GIT_{role}_EMAIL"] = BOT_EMAIL
        return env

    def _git(self, *args: str, env: dict[str, str] | None = None) -> str:
        if args[0] in _WORKTREE_WRITERS:
            self._not_converting.clear()  # another branch may bring other .gitattributes
        try:
            return str(self._repo.git.execute(["git", *args], env={**self._env, **(env or {})}))
        except GitCommandError as e:
            raise GitStateError(f"git {args[0]} failed: {_error_text(e)}") from e

    # --- reading ----------------------------------------------------------------

    def rev(self, ref: str) -> str | None:
        """The commit sha ``ref`` points to, or None when it does not exist."""
        try:
            return str(self._repo.rev_parse(f"{ref}^{{commit}}").hexsha)
        except (BadName, ValueError, GitCommandError):
            return None

    def head(self) -> str | None:
        """The commit sha of HEAD, or None in an empty repository."""
        return self.rev("HEAD")

    def current_branch(self) -> str | None:
        """The checked-out branch name, or None when HEAD is detached."""
        try:
            return str(self._repo.active_branch.name)
        except TypeError:
            return None

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits, or None."""
        try:
            out = self._repo.git.merge_base(a, b)
        except GitCommandError:
            return None
        return str(out).strip() or None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is reachable from ``descendant``."""
        try:
            self._repo.git.merge_base("--is-ancestor", ancestor, descendant)
        except GitCommandError:
            return False
        return True

    def read_blob(self, rev: str, path: str) -> bytes | None:
        """The bytes of a regular file at ``rev``, or None (missing, symlink, directory)."""
        try:
            obj = self._repo.commit(rev).tree / path
        except (KeyError, BadName, ValueError):
            return None
        if obj.type != "blob" or obj.mode not in _MODE_FILE:
            return None
        return bytes(obj.data_stream.read())

    def list_files(self, rev: str, directory: str) -> dict[str, str]:
        """Path -> blob sha of every regular file below ``directory`` at ``rev`` (one git call)."""
        files = {}
        for path, meta in self.tree_entries(rev, directory).items():
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob" and int(parts[0], 8) in _MODE_FILE:
                files[path] = parts[2]
        return files

    def worktree_blobs(self, directory: str) -> dict[str, str]:
        """Path -> blob sha of the files below ``directory`` whose work-tree content is that blob.

        For #14 (read only what changed).  The blob of a tracked file is its index entry; files the work tree
        changed since (``git status``, which checks content when the stat data
        cannot tell) and untracked files are left out: callers read those.
        """
        try:
            staged = self._git("ls-files", "--stage", "-z", "--", directory)
            dirty = self._git(
                "status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames",
                "--", directory,
            )  # fmt: skip
        except GitStateError:
            return {}
        changed = {rec[3:] for rec in dirty.split("\0") if len(rec) > 3 and rec[1] != " "}
        blobs: dict[str, str] = {}
        paths = [r.partition("\t")[2] for r in staged.split("\0") if "\t" in r]
        if self._checkout_converts(paths):
            return blobs  # the work tree need not hold the blob's bytes: read everything
        for record in staged.split("\0"):
            meta, _, path = record.partition("\t")
            parts = meta.split()
            # stage 0 only: a file with a merge conflict has no single blob
            if (
                len(parts) == 3
                and parts[2] == "0"
                and int(parts[0], 8) in _MODE_FILE
                and path not in changed
            ):
                blobs[path] = parts[1]
        return blobs

    def worktree_pristine(self, *directories: str) -> bool:
        """True when the work tree below ``directories`` is HEAD's files, byte for byte.

        Nothing staged or changed, no untracked or ignored file, and nothing
        that makes a checkout write other bytes than the blob
        (:meth:`_checkout_converts`).  Then HEAD's blob and tree ids describe
        the work tree exactly (#14: judging main by what changed).
        """
        try:
            out = self._git(
                "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching",
                "--no-renames", "--", *directories,
            )  # fmt: skip
            listed = self._git("ls-files", "-z", "--", *directories)
        except GitStateError:
            return False
        if out.strip("\0"):
            return False
        return not self._checkout_converts([p for p in listed.split("\0") if p])

    def tree_entries(self, rev: str, directory: str) -> dict[str, str]:
        """Path -> "mode type id" of every entry below ``directory`` at ``rev``.

        Every kind of entry (files, symlinks, submodules): equal listings mean
        equal content, whatever reads it.
        """
        key = (rev, directory)
        if key not in self._trees:
            try:
                out = self._git("ls-tree", "-r", "-z", "--full-tree", rev, "--", directory)
            except GitStateError:
                return {}
            records = (record.partition("\t") for record in out.split("\0"))
            listing = {path: meta for meta, _, path in records if path}
            if not _FULL_SHA.fullmatch(rev):
                return listing
            # a commit id names the same tree forever (a ref may move): a walk
            # of main's history lists each state's metadata once (#14)
            self._trees[key] = listing
        return dict(self._trees[key])

    def tree_id(self, rev: str, directory: str) -> str | None:
        """The git object id of ``directory`` at ``rev`` (equal ids: equal content), or None."""
        try:
            return (
                self._git("rev-parse", "--verify", "--quiet", f"{rev}:{directory}").strip() or None
            )
        except GitStateError:
            return None

    def _checkout_converts(self, paths: list[str]) -> bool:
        """True when a checkout may write other bytes than the blob for any of ``paths``.

        Attack: a ``.gitattributes`` pushed to main (``eol=crlf``,
        ``working-tree-encoding``, ``ident``, a ``filter``) changes the checked-out
        bytes of an artifact whose blob, and so ``git status``, stays the same:
        an unchanged blob is then no proof of unchanged content (#14 red team).
        ``core.autocrlf``/``core.eol`` do the same for every text file.
        """
        config = self._repo.config_reader()
        autocrlf = str(config.get_value("core", "autocrlf", "false")).lower()
        eol = str(config.get_value("core", "eol", "native")).lower()
        if autocrlf == "true" or eol == "crlf":
            return True
        if not paths or self._not_converting.issuperset(paths):
            return False
        # one process for every path (#14): paths on stdin, NUL-separated
        with tempfile.TemporaryFile(prefix="tufrepo-attr-") as f:
            # git's own bytes back: a name that is not UTF-8 came as surrogates
            f.write("\0".join(paths).encode("utf-8", "surrogateescape") + b"\0")
            f.seek(0)
            try:
                out = str(
                    self._repo.git.execute(
                        ["git", "check-attr", "--stdin", "-z", *_CONVERTING],
                        env=self._env,
                        istream=f,
                    )
                )
            except GitCommandError as e:
                raise GitStateError(f"git check-attr failed: {_error_text(e)}") from e
        values = out.split("\0")[2::3]  # path, attribute, value, ...
        converts = any(v != "unspecified" for v in values)
        if not converts:
            # tufrepo never writes .gitattributes: asked again, the answer is the same
            self._not_converting.update(paths)
        return converts

    def read_blob_by_sha(self, sha: str) -> bytes:
        """A blob's content; blobs up to 1 MB are cached (history walks reread them)."""
        cached = self._blob_cache.get(sha)
        if cached is not None:
            return cached
        data = bytes(self._repo.odb.stream(bytes.fromhex(sha)).read())
        if len(data) <= _CACHED_BLOB_BYTES and len(self._blob_cache) < _CACHED_BLOBS:
            self._blob_cache[sha] = data
        return data

    def walk_tree(self, rev: str, directory: str) -> Iterator[FileEntry]:
        """Yield every file below ``directory`` at ``rev`` with its kind, sorted by path."""
        try:
            tree = self._repo.commit(rev).tree / directory
        except (KeyError, BadName, ValueError):
            return
        if not isinstance(tree, git.Tree):
            return
        entries = []
        for item in tree.traverse():
            if not isinstance(item, git.Blob):
                continue  # trees are descended; submodules are not files
            mode = int(item.mode)
            kind: FileKind = (
                "file" if mode in _MODE_FILE else "symlink" if stat.S_ISLNK(mode) else "other"
            )
            entries.append(FileEntry(str(item.path), kind))
        yield from sorted(entries, key=lambda e: e.path)

    def refs(self, *prefixes: str) -> dict[str, str]:
        """Ref name -> commit sha for every ref under the given prefixes (``refs/heads/sign``)."""
        out = self._git("for-each-ref", "--format=%(refname) %(objectname)", *prefixes)
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    def first_parent_log(self, rev: str) -> list[tuple[str, str]]:
        """(sha, subject) of ``rev``'s first-parent history, oldest first."""
        out = self._git("log", "--first-parent", "--reverse", "--format=%H %s", rev)
        return [(ln[:40], ln[41:]) for ln in out.splitlines() if ln]

    def first_parent_changes(self, rev: str, path: str) -> list[tuple[str, int]]:
        """(sha, commit time) of the first-parent commits of ``rev`` that changed ``path``, oldest first."""
        out = self._git("log", "--first-parent", "--reverse", "--format=%H %ct", rev, "--", path)
        return [(ln[:40], int(ln[41:])) for ln in out.splitlines() if ln]

    def all_changes(self, rev: str, path: str) -> list[str]:
        """Every commit reachable from ``rev`` (all parents) that changed ``path``."""
        out = self._git("log", "--full-history", "--format=%H", rev, "--", path)
        return [ln for ln in out.splitlines() if ln]

    def first_parent_chain(self, rev: str) -> set[str]:
        """Every commit on ``rev``'s first-parent chain."""
        return set(self._git("rev-list", "--first-parent", rev).split())

    def commit_time(self, rev: str) -> int:
        """The committer time of ``rev`` (seconds since the epoch)."""
        return int(self._git("log", "-1", "--format=%ct", rev).strip())

    def changed_paths(self, a: str, b: str) -> list[str]:
        """Paths that differ between two commits."""
        out = self._git("diff", "--name-only", "--no-renames", "-z", a, b)
        return [p for p in out.split("\0") if p]

    def remote_url(self, remote: str) -> str | None:
        """The configured URL of a remote, or None."""
        return self._config(f"remote.{remote}.url")

    def same_repository(self, push_remote: str, pull_remote: str) -> bool:
        """True when ``push_remote`` pushes to the repository ``pull_remote`` fetches from.

        Compared on the URLs git would use (``insteadOf`` and ``pushInsteadOf``
        applied), with spellings of one repository made equal: ``file://``,
        trailing slashes, ``.git``, scp-style and HTTPS URLs of one host and
        path, letter case.  When unsure (a URL git cannot report) it answers
        True: callers use it to decide whether a push may replace a branch.
        """
        try:
            push = self._git("remote", "get-url", "--push", push_remote).strip()
            pull = self._git("remote", "get-url", pull_remote).strip()
        except GitStateError:
            return True
        return _repository_key(push, self.top) == _repository_key(pull, self.top)

    def has_remote(self, remote: str) -> bool:
        """True when a remote of that name is configured."""
        return self.remote_url(remote) is not None

    def is_dirty(self, paths: list[str]) -> bool:
        """True when tracked files under ``paths`` (all, if empty) have uncommitted changes."""
        return bool(
            self._git("status", "--porcelain", "--untracked-files=no", "--", *paths).strip()
        )

    # --- remotes ----------------------------------------------------------------

    def fetch(self, remote: str) -> None:
        """Fetch every branch of ``remote`` into ``refs/remotes/<remote>/``.

        Raises:
            GitStateError: the remote is missing or unreachable.
        """
        if not self.has_remote(remote):
            raise GitStateError(
                f"git remote '{remote}' is not configured",
                hint=f"add it with: git remote add {remote} URL (or set pull-remote in settings)",
            )
        self._git("fetch", "--prune", "--quiet", remote)

    def push(self, remote: str, sha: str, branch: str, *, replace: bool = False) -> None:
        """Push ``sha`` to ``refs/heads/<branch>`` on ``remote``.

        Never forced, except with ``replace`` (a signer's own fork: see
        :meth:`tufrepo.ops.session.EventSession.publish`).

        Raises:
            PushRejectedError: the remote branch moved (not a fast-forward).
            RefLockError: the remote could not lock or update the branch
                (a concurrent push); both are :class:`TransientGitError`.
            GitStateError: any other push failure.
        """
        try:
            self._repo.git.execute(
                [
                    "git",
                    "push",
                    "--porcelain",
                    remote,
                    f"{'+' if replace else ''}{sha}:refs/heads/{branch}",
                ],
                env=self._env,
            )
        except GitCommandError as e:
            text = _error_text(e)
            said = f"{text} {e.stdout}"
            if any(marker in said for marker in _REJECTED):
                raise PushRejectedError(
                    f"push of {branch} to {remote} was refused: the branch moved",
                    hint="someone pushed in the meantime; run the command again",
                ) from e
            if any(marker in said for marker in _LOCKED):
                raise RefLockError(
                    f"push of {branch} to {remote} failed: another push was updating it ({text})",
                    hint="someone pushed at the same moment; run the command again",
                ) from e
            raise GitStateError(
                f"push of {branch} to {remote} failed: {text}",
                hint="check that the remote exists and that you may push to it",
            ) from e

    # --- writing ----------------------------------------------------------------

    def commit_changes(
        self, parent: str | None, changes: dict[str, bytes | None], msg: str
    ) -> str:
        """Create a commit on top of ``parent`` with ``changes``; the work tree is untouched.

        Args:
            parent: the parent commit, or None for a first commit.
            changes: path -> new bytes, or None to delete the path.
            msg: the commit message.

        Returns:
            The new commit's sha (no branch is moved).
        """
        with tempfile.TemporaryDirectory(prefix="tufrepo-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self._git("read-tree", parent, env=env)
            lines = []
            for path, data in sorted(changes.items()):
                if data is None:
                    lines.append(f"0 {'0' * 40}\t{path}")
                else:
                    blob = self._hash_object(data)
                    lines.append(f"100644 {blob}\t{path}")
            self._update_index(lines, env)
            tree = self._git("write-tree", env=env).strip()
            args = ["commit-tree", tree, "-m", msg]
            if parent:
                args += ["-p", parent]
            return self._git(*args, env=env).strip()

    def _hash_object(self, data: bytes) -> str:
        with tempfile.NamedTemporaryFile(prefix="tufrepo-blob-") as f:
            f.write(data)
            f.flush()
            return self._git("hash-object", "-w", "--", f.name).strip()

    def _update_index(self, lines: list[str], env: dict[str, str]) -> None:
        if not lines:
            return
        with tempfile.NamedTemporaryFile("w", prefix="tufrepo-idx-", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            with Path(f.name).open("rb") as stdin:
                try:
                    self._repo.git.execute(
                        ["git", "update-index", "--index-info"],
                        env={**self._env, **env},
                        istream=stdin,
                    )
                except GitCommandError as e:
                    raise GitStateError(f"git update-index failed: {_error_text(e)}") from e

    def set_branch(self, branch: str, sha: str) -> None:
        """Point local ``refs/heads/<branch>`` at ``sha`` (the branch must not be checked out).

        Raises:
            GitStateError: the branch is checked out in the work tree.
        """
        if self.current_branch() == branch:
            raise GitStateError(
                f"branch {branch} is checked out here; refusing to move it under your work tree",
                hint="switch to another branch (git switch main) and run the command again",
            )
        self._git("update-ref", f"refs/heads/{branch}", sha)

    def commit_worktree(self, paths: list[str], msg: str) -> str | None:
        """Stage ``paths`` in the work tree and commit them; None when nothing changed."""
        self._git("add", "--all", "--", *paths)
        try:
            self._repo.git.execute(["git", "diff", "--cached", "--quiet"], env=self._env)
        except GitCommandError:
            self._git("commit", "--quiet", "-m", msg)
            return self.head()
        return None

    def restore(self, paths: list[str]) -> None:
        """Put tracked ``paths`` back to HEAD in the index and work tree; remove new ones."""
        if not paths:
            return
        tracked = [p for p in paths if self.read_blob("HEAD", p) is not None]
        if tracked:
            self._git("checkout", "HEAD", "--", *tracked)
        for path in set(paths) - set(tracked):
            self._git("rm", "-q", "--cached", "--ignore-unmatch", "--", path)
            (self.top / path).unlink(missing_ok=True)

    def checkout_branch(self, branch: str, start: str) -> None:
        """Check out ``branch``, created or reset at ``start`` (``git checkout -B``)."""
        self._git("checkout", "--quiet", "-B", branch, start)

    def switch(self, branch: str) -> None:
        """Check out the existing local ``branch``."""
        self._git("switch", "--quiet", branch)

    def merge(self, rev: str, msg: str) -> str | None:
        """Merge ``rev`` into the checked-out branch with a merge commit (``--no-ff``)."""
        self._git("merge", "--quiet", "--no-ff", "-m", msg, rev)
        return self.head()

    def reset_hard(self, sha: str) -> None:
        """Move the checked-out branch and work tree to ``sha`` (used after a refused push)."""
        self._git("reset", "--quiet", "--hard", sha)


class GitTreeStore:
    """A read-only store over the files of one git commit."""

    def __init__(self, repo: GitRepo, rev: str) -> None:
        self.repo = repo
        self.rev = rev
        self._listings: dict[str, dict[str, str]] = {}

    def read(self, path: str) -> bytes | None:
        """Return the bytes of a regular file at this commit, or None."""
        directory = path.split("/", 1)[0]
        if directory not in self._listings:
            # One ls-tree per top-level directory, then blobs by sha: reading
            # many files (a history walk) costs no tree traversal per file.
            self._listings[directory] = self.repo.list_files(self.rev, directory)
        sha = self._listings[directory].get(path)
        return None if sha is None else self.repo.read_blob_by_sha(sha)

    def walk(self, directory: str) -> Iterator[FileEntry]:
        """Yield every file below ``directory`` at this commit."""
        return self.repo.walk_tree(self.rev, directory)
