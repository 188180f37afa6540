"""``tufrepo.core.store``: overlays, atomic work-tree writes, and walks that never follow links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tufrepo.core.store import FileEntry, OverlayStore, WorktreeStore, apply_overlay


def base_store() -> OverlayStore:
    store = OverlayStore()
    store.changes |= {"metadata/a.json": b"a", "metadata/b.json": b"b", "targets/x": b"x"}
    return store


# --- OverlayStore -------------------------------------------------------------------


def test_an_overlay_reads_its_changes_then_its_base() -> None:
    overlay = OverlayStore(base_store())
    overlay.write("metadata/a.json", b"A")
    overlay.delete("metadata/b.json")
    assert overlay.read("metadata/a.json") == b"A"
    assert overlay.read("metadata/b.json") is None
    assert overlay.read("targets/x") == b"x"
    assert overlay.read("missing") is None
    assert OverlayStore().read("metadata/a.json") is None


def test_an_overlay_walk_merges_additions_and_deletions() -> None:
    overlay = OverlayStore(base_store())
    overlay.write("metadata/c.json", b"c")
    overlay.write("metadataX/d.json", b"d")  # another directory with the same prefix
    overlay.delete("metadata/a.json")
    assert list(overlay.walk("metadata")) == [
        FileEntry("metadata/b.json", "file"),
        FileEntry("metadata/c.json", "file"),
    ]
    assert list(overlay.walk("metadata/")) == list(overlay.walk("metadata"))
    assert list(OverlayStore().walk("metadata")) == []


def test_effective_changes_drop_writes_that_change_nothing() -> None:
    overlay = OverlayStore(base_store())
    overlay.write("metadata/a.json", b"a")  # same as the base
    overlay.write("metadata/b.json", b"B")
    overlay.delete("targets/x")
    overlay.delete("never-there")  # deleting nothing changes nothing
    overlay.write("new", b"n")
    assert overlay.effective_changes() == {
        "metadata/b.json": b"B",
        "targets/x": None,
        "new": b"n",
    }
    bare = OverlayStore()
    bare.write("a", b"1")
    bare.delete("b")
    assert bare.effective_changes() == {"a": b"1"}


# --- WorktreeStore ------------------------------------------------------------------


@pytest.fixture
def top(tmp_path: Path) -> Path:
    """A checkout directory of its own (tmp_path also holds the test's HOME)."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    return checkout


def test_a_worktree_write_is_atomic_and_leaves_no_temporary_file(top: Path) -> None:
    store = WorktreeStore(top)
    store.write("metadata/deep/a.json", b"one")
    store.write("metadata/deep/a.json", b"two")
    assert (top / "metadata" / "deep" / "a.json").read_bytes() == b"two"
    assert [p.name for p in (top / "metadata" / "deep").iterdir()] == ["a.json"]
    assert store.read("metadata/deep/a.json") == b"two"


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(
    top: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = WorktreeStore(top)
    store.write("a.json", b"old")

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left"):
        store.write("a.json", b"new")
    assert (top / "a.json").read_bytes() == b"old"
    assert [p.name for p in top.iterdir()] == ["a.json"]


def test_a_worktree_read_never_follows_a_symlink(top: Path) -> None:
    (top / "real").write_bytes(b"secret")
    (top / "link").symlink_to(top / "real")
    (top / "dir").mkdir()
    (top / "file").write_bytes(b"f")
    store = WorktreeStore(top)
    assert store.read("real") == b"secret"
    assert store.read("link") is None
    assert store.read("dir") is None
    assert store.read("missing") is None
    assert store.read("file/below") is None  # a file where a directory should be


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside", "a/../../b"])
def test_a_worktree_path_cannot_escape_the_checkout(tmp_path: Path, path: str) -> None:
    store = WorktreeStore(tmp_path / "top")
    for call in (store.read, store.delete, lambda p: store.write(p, b"x")):
        with pytest.raises(ValueError, match="path escapes the checkout"):
            call(path)
    assert not (tmp_path / "outside").exists()


def test_a_worktree_walk_reports_links_and_special_files(top: Path) -> None:
    (top / "targets" / "sub").mkdir(parents=True)
    (top / "targets" / "sub" / "b.txt").write_bytes(b"b")
    (top / "targets" / "a.txt").write_bytes(b"a")
    (top / "targets" / "link").symlink_to("/etc")
    os.mkfifo(top / "targets" / "fifo")
    store = WorktreeStore(top)
    assert list(store.walk("targets")) == [
        FileEntry("targets/a.txt", "file"),
        FileEntry("targets/fifo", "other"),
        FileEntry("targets/link", "symlink"),
        FileEntry("targets/sub/b.txt", "file"),
    ]
    assert list(store.walk("missing")) == []
    (top / "linked").symlink_to(top / "targets")
    assert list(store.walk("linked")) == []  # a symlinked directory is not walked


def test_a_worktree_walk_sees_its_own_changes(top: Path) -> None:
    store = WorktreeStore(top)
    store.write("metadata/a.json", b"a")
    assert [e.path for e in store.walk("metadata")] == ["metadata/a.json"]
    store.write("metadata/b.json", b"b")
    assert [e.path for e in store.walk("metadata")] == ["metadata/a.json", "metadata/b.json"]
    store.delete("metadata/a.json")
    store.delete("metadata/a.json")  # a missing file is not an error
    assert [e.path for e in store.walk("metadata")] == ["metadata/b.json"]


# --- apply_overlay ------------------------------------------------------------------


def test_apply_overlay_writes_and_deletes(top: Path) -> None:
    target = WorktreeStore(top)
    target.write("keep", b"k")
    target.write("gone", b"g")
    target.write("same", b"s")
    overlay = OverlayStore(target)
    overlay.write("new/file", b"n")
    overlay.delete("gone")
    overlay.write("same", b"s")
    assert apply_overlay(overlay, target) == ["gone", "new/file"]
    assert sorted(p.name for p in top.rglob("*") if p.is_file()) == ["file", "keep", "same"]


def test_apply_overlay_is_all_or_nothing(top: Path) -> None:
    target = WorktreeStore(top)
    target.write("a", b"old a")
    target.write("c", b"old c")
    target.write("z", b"a file where a directory is needed")
    overlay = OverlayStore(target)
    overlay.delete("a")  # applied in path order: a, c, new, then z/x fails
    overlay.write("c", b"new c")
    overlay.write("new", b"new")
    overlay.write("z/x", b"x")
    with pytest.raises(OSError):
        apply_overlay(overlay, target)
    assert (top / "a").read_bytes() == b"old a"
    assert (top / "c").read_bytes() == b"old c"
    assert sorted(p.name for p in top.iterdir()) == ["a", "c", "z"]
