"""A throwaway PostgreSQL cluster for the test session.

``postgres_server`` (session) runs initdb in a temporary directory, starts the server on a free port on
127.0.0.1 (unix socket inside the same directory, fsync off) and removes everything at the end.
``postgres_dsn`` (per test) yields a DSN on a fresh, empty schema of the session's database.

The server binaries are required: without them the fixtures fail (they never skip) and say what to install.
When the tests run as root the cluster runs as the ``postgres`` system user, since initdb refuses root.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found via `pg_config --bindir` or in "
    "/usr/lib/postgresql/*/bin: install the PostgreSQL server to run these tests "
    "(Debian/Ubuntu: `apt-get install postgresql`), or point WEIR_PG_BINDIR at its bin directory"
)
_SERVER_USER = "postgres"
_BINARIES = ("initdb", "pg_ctl", "postgres")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    database: str  # an empty database created at start-up
    pg_ctl: tuple[str, ...] = ()  # how to stop and start it again (outage tests)
    options: str = ""

    def stop(self) -> None:
        assert _run([*self.pg_ctl, "-m", "fast", "-w", "stop"], Path(os.devnull)) == 0

    def start(self) -> None:
        assert _run([*self.pg_ctl, "-w", "-t", "60", "-o", self.options, "start"], Path(os.devnull)) == 0

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.database)


def find_bindir() -> Path | None:
    """The dir holding initdb/pg_ctl/postgres: $WEIR_PG_BINDIR, pg_config, then the newest Debian one."""
    candidates: list[Path] = []
    if env := os.environ.get("WEIR_PG_BINDIR"):
        candidates.append(Path(env))
    if pg_config := shutil.which("pg_config"):
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.strip():
            candidates.append(Path(result.stdout.strip()))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    for candidate in candidates:
        if all(os.access(candidate / name, os.X_OK) for name in _BINARIES):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as_prefix(owner: Path) -> list[str]:
    """Command prefix to run server programs unprivileged; chowns ``owner`` to that user when root."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam(_SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVER_USER],
            check=True,
            capture_output=True,
        )
        user = pwd.getpwnam(_SERVER_USER)
    os.chown(owner, user.pw_uid, user.pw_gid)
    if shutil.which("runuser"):
        return ["runuser", "-u", _SERVER_USER, "--"]
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--"]


def _run(command: list[str], log: Path) -> int:
    with log.open("ab") as out:  # a file, not a pipe: the forked postmaster must not hold our pipe open
        return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=120).returncode


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def throwaway_cluster(bindir: Path) -> Iterator[PostgresServer]:
    """initdb + start on a free port; stop and delete on exit."""
    root = Path(tempfile.mkdtemp(prefix="weir-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    try:
        prefix = _run_as_prefix(root)
        (sockets).mkdir()
        if prefix:
            shutil.chown(sockets, _SERVER_USER, _SERVER_USER)
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", _SERVER_USER, "--auth=trust"]
        if _run([*prefix, *initdb, "--no-locale", "--encoding=UTF8", "--no-sync"], root / "initdb.log") != 0:
            pytest.fail(f"initdb failed:\n{_tail(root / 'initdb.log')}", pytrace=False)
        pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
        port = 0
        for _attempt in range(3):  # the free port may be taken between choosing and binding it
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {shlex.quote(str(sockets))} -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            if _run([*pg_ctl, "-l", str(log), "-w", "-t", "60", "-o", options, "start"], root / "ctl.log") == 0:
                break
        else:
            pytest.fail(f"could not start PostgreSQL:\n{_tail(root / 'ctl.log')}\n{_tail(log)}", pytrace=False)
        try:
            server = PostgresServer("127.0.0.1", port, _SERVER_USER, "weir", (*pg_ctl, "-l", str(log)), options)
            createdb = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", _SERVER_USER]
            if _run([*createdb, server.database], root / "createdb.log") != 0:
                pytest.fail(f"createdb failed:\n{_tail(root / 'createdb.log')}", pytrace=False)
            yield server
        finally:
            _run([*pg_ctl, "-m", "immediate", "-w", "stop"], root / "ctl.log")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running throwaway cluster for the whole session (fails, never skips, without the binaries)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    with throwaway_cluster(bindir) as server:
        yield server


_schemas = itertools.count(1)


@pytest.fixture
async def postgres_dsn(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A DSN whose search_path is a fresh, empty schema of its own: as isolated as a new database for
    unqualified names, at a fraction of CREATE DATABASE's cost. The schema is dropped afterwards."""
    schema = f"test_{os.getpid()}_{next(_schemas)}"
    admin = await asyncpg.connect(postgres_server.dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield f"{postgres_server.dsn}?search_path={schema}"
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.close()
