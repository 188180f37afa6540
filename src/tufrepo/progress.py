"""Progress of long work, announced by the library and shown (or not) by the caller.

Hashing thousands of artifacts (``update-targets``, ``publish``) or judging
a long history (``verify --history``) takes a while; the loops doing it call
:func:`advance`.  The library never decides whether or how progress is
shown: the caller installs a callback for the duration of its call, and
without one :func:`advance` does nothing::

    def show(task: str, done: int, total: int | None) -> None:
        print(f"{task}: {done}/{total or '?'}")

    with progress.reporting(show):
        update_targets(repo, files)

The callback lives in a context variable, so loops deep inside an operation
report without every function in between passing it on, and a nested or
concurrent run (tests, the demo) has its own.

Not for: printing, terminals, throttling (the CLI's renderer decides all three).
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# ``callback(task, done, total)``: ``done`` items of ``task`` so far, of ``total`` (None: unknown).
_callback: ContextVar[Callable[[str, int, int | None], None] | None] = ContextVar(
    "tufrepo_progress", default=None
)


@contextlib.contextmanager
def reporting(callback: Callable[[str, int, int | None], None]) -> Iterator[None]:
    """Send progress to ``callback`` until the block ends (then to the previous one, if any)."""
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)


def advance(task: str, done: int, total: int | None = None) -> None:
    """Announce that ``done`` items of ``task`` are finished (a no-op without a callback).

    Args:
        task: what is being done, for humans ("hashing artifacts").
        done: items finished so far (counting from 1).
        total: how many there are, when known.
    """
    callback = _callback.get()
    if callback is not None:
        callback(task, done, total)
