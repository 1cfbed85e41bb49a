"""Make files unwritable under a process that has them open, as root: `chattr +i` (the immutable attribute).

chmod cannot do it (root ignores modes, and an open descriptor keeps its access), and a read-only bind mount does
not reach descriptors opened before it. With SQLite in WAL mode the file to freeze is the `-wal`: every commit then
fails with "disk I/O error" (the database file alone only fails at checkpoint; freezing the `-shm`, which SQLite
maps into memory, kills the process with SIGBUS).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _chattr(flag: str, paths: tuple[Path, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)


@contextmanager
def frozen(*paths: Path) -> Iterator[None]:
    """`paths` immutable inside the block (skips the test where that cannot be done: not root, no chattr, or a
    file system without the attribute)."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("making an open file unwritable needs root and chattr (CAP_LINUX_IMMUTABLE)")
    done = _chattr("+i", paths)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.strip()}")
    try:
        yield
    finally:
        _chattr("-i", paths)
