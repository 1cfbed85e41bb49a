"""`weir serve`'s own process: claim the listening address, raise the file-descriptor limit, start granian with
Weir's connection limits and timeouts.

granian's listeners set SO_REUSEPORT (each worker binds its own socket), so a second granian on the same port would
start without an error and the kernel would split the connections between the two. Before starting, Weir binds the
address once without SO_REUSEPORT, which fails when anything listens there, and holds a lock named after the address
(an abstract Unix socket, gone with the process) so that two `weir serve` starting at the same moment cannot both
pass that check.
"""

from __future__ import annotations

import errno
import math
import resource
import socket
import sys

from weir.config import Config

# Each call in flight may hold an upstream connection as well as its client's: connections get at most this share
# of the file-descriptor limit, the rest is for upstreams, the store and the process itself.
CONNECTION_SHARE = 0.5


class AddressInUse(Exception):
    pass


def claim_address(host: str, port: int) -> socket.socket | None:
    """Refuse (AddressInUse) when something listens on host:port already; return the lock to hold while serving."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lock = None
    if sys.platform == "linux":
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lock.bind(f"\0weir-serve {where}")
        except OSError as exc:
            lock.close()
            raise AddressInUse(f"cannot listen on {where}: address already in use (another weir serve)") from exc
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT do not count
        try:
            probe.bind((host, port))
        except OSError as exc:
            if lock is not None:
                lock.close()
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(
                    f"cannot listen on {where}: address already in use (another weir serve or another program "
                    "listens there; stop it or choose another --port)"
                ) from exc
            raise AddressInUse(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    return lock


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (the workers inherit it); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(wanted: int, fd_limit: int) -> int:
    """`server.max_connections`, lowered to what the file-descriptor limit can hold: a worker that runs out of
    descriptors cannot accept, and granian's accept loop would spin on the error."""
    return max(16, min(wanted, int(fd_limit * CONNECTION_SHARE)))


def serve(config: Config) -> None:
    """Run granian until it is stopped; the address must have been claimed (claim_address) first."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops, TaskImpl
    from granian.http import HTTP1Settings

    s = config.server
    fd_limit = raise_fd_limit()
    cap = connection_cap(s.max_connections, fd_limit)
    if cap < s.max_connections:
        sys.stderr.write(
            f"weir: server.max_connections lowered to {cap} per worker: the file-descriptor limit is {fd_limit} "
            "(raise it with `ulimit -n` or LimitNOFILE=)\n"
        )
    server = Granian(
        "weir.app:create_app",
        factory=True,
        address=s.host,
        port=s.port,
        workers=s.workers,
        interface=Interfaces.ASGI,
        loop=Loops(s.loop),
        task_impl=TaskImpl(s.task_impl),
        http=HTTPModes(s.http),
        backlog=s.backlog,
        backpressure=cap,
        http1_settings=HTTP1Settings(header_read_timeout=round(s.idle_timeout_seconds * 1000)),
        workers_kill_timeout=max(1, math.ceil(s.shutdown_timeout_seconds)),
        log_access=False,  # granian's line cannot carry Weir's request id; Weir writes its own (weir.http.access)
    )
    server.serve()
