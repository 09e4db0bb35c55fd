"""Serving the web view with uvicorn on a socket bound here, so a port in use is one line, not a traceback."""

from __future__ import annotations

import socket
from collections.abc import Callable

from repropack.errors import CannotRun
from repropack.repository.location import RepositoryLocation
from repropack.repository.web.app import create_app


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: any free port); CannotRun, one line, when it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as error:
        raise CannotRun(f"cannot listen on {host}:{port}: {error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise CannotRun(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def serve(location: RepositoryLocation, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve ``location`` read-only until interrupted; ``on_ready`` gets the URL once the socket listens."""
    import uvicorn

    app = create_app(location)  # opens the catalog first: a catalog that cannot be read fails before listening
    sock = listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    config = uvicorn.Config(app, log_level="warning", server_header=False, proxy_headers=False, lifespan="on")
    with sock:
        on_ready(f"http://{shown}:{bound_port}/")
        uvicorn.Server(config).run(sockets=[sock])
