"""Reading and writing repository files through one small interface.

A *store* maps checkout-relative POSIX paths (``metadata/root.json``) to bytes.
The same code reads the signing event from the work tree, the known-good state
from a git revision (see :class:`tufrepo.gitrepo.GitTreeStore`), or an
in-memory overlay that is later committed without touching the work tree.

Not for: deciding what files mean (see ``repository``/``event``), git plumbing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

FileKind = Literal["file", "symlink", "other"]


@dataclass(frozen=True)
class FileEntry:
    """One entry found under a directory: its path and what kind of file it is."""

    path: str
    kind: FileKind


class Store(Protocol):
    """Read access to repository files."""

    def read(self, path: str) -> bytes | None:
        """Return the file's bytes, or None when there is no regular file at ``path``."""

    def walk(self, directory: str) -> Iterator[FileEntry]:
        """Yield every non-directory entry below ``directory``, recursively, sorted."""


class WritableStore(Store, Protocol):
    """A store that can also change files."""

    def write(self, path: str, data: bytes) -> None:
        """Replace the file at ``path`` with ``data``."""

    def delete(self, path: str) -> None:
        """Remove the file at ``path`` if it exists."""


_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class WorktreeStore:
    """Files in a checkout on disk; writes are atomic (temp file + rename)."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self._top = str(top)
        self._walks: dict[str, list[FileEntry]] = {}  # listings, dropped on every change

    def _abs(self, path: str) -> Path:
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"path escapes the checkout: {path}")
        return self.top / path

    def read(self, path: str) -> bytes | None:
        """Return the bytes of a regular file (never following a symlink), or None."""
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"path escapes the checkout: {path}")
        target = f"{self._top}/{path}"
        # One open that refuses a symlink (O_NOFOLLOW) and never blocks on a
        # FIFO (O_NONBLOCK), then fstat: what is read is what was checked, and
        # no pathlib work per file (#14: a scan reads every artifact).
        try:
            fd = os.open(target, _READ_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:
                return None  # a symlink
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            # One read of the size fstat gave, plus one byte to notice growth;
            # os.read, not a buffered file object: half the cost per small file.
            data = os.read(fd, info.st_size + 1)
            if len(data) != info.st_size:
                # changed while read, or larger than one read() returns (2 GiB):
                # read on to the end
                parts = [data]
                while chunk := os.read(fd, 1 << 24):
                    parts.append(chunk)
                data = b"".join(parts)
            return data
        finally:
            os.close(fd)

    def walk(self, directory: str) -> Iterator[FileEntry]:
        """Yield files below ``directory``; symlinks and special files are reported, not followed."""
        if directory not in self._walks:
            base = self._abs(directory)
            entries: list[FileEntry] = []
            if base.is_dir() and not base.is_symlink():
                self._scan(str(base), directory.rstrip("/"), entries)
            self._walks[directory] = sorted(entries, key=lambda e: e.path)
        yield from self._walks[directory]

    def _scan(self, absolute: str, relative: str, entries: list[FileEntry]) -> None:
        with os.scandir(absolute) as found:
            for entry in found:
                path = f"{relative}/{entry.name}"
                if entry.is_symlink():
                    entries.append(FileEntry(path, "symlink"))  # never followed
                elif entry.is_dir(follow_symlinks=False):
                    self._scan(entry.path, path, entries)
                elif entry.is_file(follow_symlinks=False):
                    entries.append(FileEntry(path, "file"))
                else:
                    entries.append(FileEntry(path, "other"))

    def write(self, path: str, data: bytes) -> None:
        """Write ``data`` to a temp file in the same directory, fsync, then rename over ``path``."""
        target = self._abs(path)
        self._walks.clear()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            Path(tmp).replace(target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp).unlink()
            raise

    def delete(self, path: str) -> None:
        """Remove a file; a missing file is not an error."""
        self._walks.clear()
        with contextlib.suppress(FileNotFoundError):
            self._abs(path).unlink()


class OverlayStore:
    """In-memory changes on top of another store; ``changes`` is what to commit.

    A value of None in ``changes`` marks a deleted file.
    """

    def __init__(self, base: Store | None = None) -> None:
        self.base = base
        self.changes: dict[str, bytes | None] = {}

    def read(self, path: str) -> bytes | None:
        """Return the overlaid bytes, falling through to the base store."""
        if path in self.changes:
            return self.changes[path]
        return self.base.read(path) if self.base else None

    def walk(self, directory: str) -> Iterator[FileEntry]:
        """Yield the base store's entries merged with the overlay's."""
        prefix = directory.rstrip("/") + "/"
        entries = {e.path: e for e in self.base.walk(directory)} if self.base else {}
        for path, data in self.changes.items():
            if not path.startswith(prefix):
                continue
            if data is None:
                entries.pop(path, None)
            else:
                entries[path] = FileEntry(path, "file")
        yield from (entries[p] for p in sorted(entries))

    def write(self, path: str, data: bytes) -> None:
        """Record new content for ``path``."""
        self.changes[path] = data

    def delete(self, path: str) -> None:
        """Record that ``path`` is removed."""
        self.changes[path] = None

    def effective_changes(self) -> dict[str, bytes | None]:
        """The changes that differ from the base store (no-op writes dropped)."""
        result: dict[str, bytes | None] = {}
        for path, data in self.changes.items():
            before = self.base.read(path) if self.base else None
            if before != data:
                result[path] = data
        return result


def apply_overlay(overlay: OverlayStore, target: WorktreeStore) -> list[str]:
    """Write an overlay's changes into a work tree, all or nothing.

    Each file is replaced atomically; if any write fails, the files already
    written are restored, so a failure never leaves a half-applied change.

    Returns:
        The paths changed.
    """
    changes = overlay.effective_changes()
    originals = {path: target.read(path) for path in changes}
    done: list[str] = []
    try:
        for path, data in sorted(changes.items()):
            if data is None:
                target.delete(path)
            else:
                target.write(path, data)
            done.append(path)
    except BaseException:
        for path in reversed(done):
            before = originals[path]
            if before is None:
                target.delete(path)
            else:
                target.write(path, before)
        raise
    return sorted(changes)
