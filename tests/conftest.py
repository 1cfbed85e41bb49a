"""Session-wide test setup. Fixtures live in tests/support/ and are exposed here as plugins;
add yours to ``pytest_plugins``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# `tests.support...` imports need the project root; `weir` comes from python/ unless it is installed.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if importlib.util.find_spec("weir") is None:
    sys.path.insert(0, str(ROOT / "python"))

pytest_plugins = [
    "tests.support.postgres",  # postgres_server (session), postgres_dsn (fresh database per test)
    "tests.support.redis",  # redis_server (session), redis_url (flushed per test), redis_factory (outages)
    "tests.support.stores",  # store / unmigrated_store (both backends), sqlite_store, postgres_store
]
