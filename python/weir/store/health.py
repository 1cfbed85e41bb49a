"""Whether the store can write now, for /healthz.

A database can answer `SELECT 1` and still refuse every commit (a full disk, a WAL file that cannot be written, a
read-only standby), so health is judged by writes. Every usage commit reports its outcome here, and when nothing
has been written for `window` seconds a health check commits one small write of its own (`Store.probe_write`). A
failed commit or probe in the last `window` seconds, or a last write that failed, makes the store unhealthy, with
that failure as the reason.
"""

from __future__ import annotations

import asyncio
import time

from weir.store.base import Store, StoreError

WINDOW_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 2.0


class WriteHealth:
    def __init__(
        self, store: Store, *, window: float = WINDOW_SECONDS, probe_timeout: float = PROBE_TIMEOUT_SECONDS
    ) -> None:
        self.store = store
        self.window = window
        self.probe_timeout = probe_timeout
        self.ok_at: float | None = None  # time.monotonic() of the last write that succeeded
        self.failed_at: float | None = None  # ... and of the last that failed
        self.reason = ""  # what the last failure said
        self._probe: asyncio.Task[None] | None = None

    def succeeded(self) -> None:
        self.ok_at = time.monotonic()

    def failed(self, reason: str) -> None:
        self.failed_at = time.monotonic()
        self.reason = reason

    def problem(self) -> str | None:
        """Why the store cannot be trusted to write now, or None."""
        if self.failed_at is None:
            return None
        ago = time.monotonic() - self.failed_at
        if (self.ok_at is not None and self.ok_at > self.failed_at) and ago >= self.window:
            return None
        return f"a database write failed {ago:.1f}s ago: {self.reason}"

    async def check(self) -> tuple[bool, str | None]:
        """(whether the database answers a query, `problem()`). Probes first when nothing was written for
        `window` seconds, or when the database does not answer and no failure says why yet. Concurrent checks
        share one probe."""
        db_ok = await self.store.ping()
        now = time.monotonic()
        stale = now - max(self.ok_at or 0.0, self.failed_at or 0.0) >= self.window
        failing = self.failed_at is not None and (self.ok_at is None or self.failed_at > self.ok_at)
        explained = failing and self.failed_at is not None and now - self.failed_at < self.window
        unexplained = not db_ok and not explained
        if stale or unexplained:
            if self._probe is None:
                self._probe = asyncio.ensure_future(self._run_probe())
            await asyncio.shield(self._probe)
        return db_ok, self.problem()

    async def _run_probe(self) -> None:
        try:
            await asyncio.wait_for(self.store.probe_write(), self.probe_timeout)
        except StoreError as exc:
            self.failed(str(exc))
        except TimeoutError:
            self.failed(f"a write probe did not finish within {self.probe_timeout:g}s")
        else:
            self.succeeded()
        finally:
            self._probe = None
