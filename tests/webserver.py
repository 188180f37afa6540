"""The one HTTP server of the tests: 127.0.0.1, a free port, and a shutdown that is instant.

``socketserver``'s ``serve_forever`` polls every 0.5 s by default and
``shutdown()`` waits for the poll to notice, so every server used to cost half
a second of teardown.  Here the loop polls every 10 ms and request threads are
daemons (a client that hangs never blocks the shutdown)::

    with serve_directory(site) as url:           # a published site
        download(f"{url}/metadata", ...)

    with Served(MyHandler) as server:            # any request handler
        call(server.url)

The ``serve_dir`` fixture in ``conftest.py`` serves directories until the test ends.
"""

from __future__ import annotations

import contextlib
import functools
import socketserver
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from socketserver import BaseRequestHandler
    from types import TracebackType

POLL_INTERVAL = 0.01
"""Seconds between the serve loop's checks for shutdown (socketserver's default is 0.5)."""


class Server(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` on a free port of 127.0.0.1 whose request threads are daemons."""

    daemon_threads = True

    def __init__(self, handler: Callable[..., BaseRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.server_address[1]}"


class Served:
    """A :class:`Server` run from a daemon thread between :meth:`start` and :meth:`stop`.

    Args:
        handler: the request handler class (or a partial of one).
        server: a server to run instead of a new :class:`Server` (a subclass
            carrying state for its handler, or a plain TCP server).
    """

    def __init__(
        self,
        handler: Callable[..., BaseRequestHandler] | None = None,
        *,
        server: socketserver.BaseServer | None = None,
    ) -> None:
        if server is None:
            if handler is None:
                raise TypeError("pass a handler or a server")
            server = Server(handler)
        if isinstance(server, socketserver.ThreadingMixIn):
            server.daemon_threads = True  # a hanging client never blocks the shutdown
        self.server = server
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        address = self.server.server_address
        assert isinstance(address, tuple)  # an IPv4 (host, port)
        return f"http://{address[0]!s}:{address[1]}"

    def start(self) -> Self:
        """Serve from a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("already serving")
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(POLL_INTERVAL,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (a no-op when not serving)."""
        if self._thread is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class QuietFiles(SimpleHTTPRequestHandler):
    """Serves files without logging every request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve_directory(
    site: Path, handler: type[SimpleHTTPRequestHandler] = QuietFiles
) -> Iterator[str]:
    """Serve ``site`` while the block runs; yields the base URL (no trailing slash)."""
    with Served(functools.partial(handler, directory=str(site))) as served:
        yield served.url
